//! ARNs (`acs:kms:{region}:{account_id}:secret/{name}`) and the store's place in them.

use std::fmt;

use crate::error::ValidationError;
use crate::names::{SecretName, check_text};

/// Where a store sits: its region and account id, which its ARNs carry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreLocation {
    region: String,
    account_id: String,
}

fn is_location_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// What a `SecretName` parameter (a plain name or an ARN) refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// A secret of this store.
    Local(SecretName),
    /// A well-formed ARN of another region or account: "not found" here.
    Foreign,
}

impl StoreLocation {
    /// Validates a region id (such as `cn-hangzhou`) and an account id: 1–64 characters of
    /// `[A-Za-z0-9-]` each. Errors: `InvalidParameter` naming `RegionId` or `AccountId`.
    pub fn new(region: &str, account_id: &str) -> Result<Self, ValidationError> {
        check_text(
            "RegionId",
            region,
            64,
            is_location_char,
            "letters, digits and -",
        )?;
        check_text(
            "AccountId",
            account_id,
            64,
            is_location_char,
            "letters, digits and -",
        )?;
        Ok(StoreLocation {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
        })
    }

    /// The region id.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The ARN of a secret of this store.
    ///
    /// ```
    /// # use secret_model::{SecretName, StoreLocation};
    /// let at = StoreLocation::new("cn-hangzhou", "1234567890").unwrap();
    /// let name = SecretName::parse("db").unwrap();
    /// assert_eq!(at.secret_arn(&name).to_string(), "acs:kms:cn-hangzhou:1234567890:secret/db");
    /// ```
    pub fn secret_arn(&self, name: &SecretName) -> SecretArn {
        SecretArn {
            location: self.clone(),
            name: name.clone(),
        }
    }

    /// The text of [`StoreLocation::secret_arn`], built in one allocation (it is formatted for
    /// every response and authorization that names a secret).
    pub fn secret_arn_text(&self, name: &SecretName) -> String {
        let mut out = String::with_capacity(
            "acs:kms:::secret/".len()
                + self.region.len()
                + self.account_id.len()
                + name.as_str().len(),
        );
        write_secret_arn(&mut out, &self.region, &self.account_id, name)
            .expect("writing to a String cannot fail");
        out
    }

    /// Resolves a `SecretName` parameter: a plain name, or an ARN of any store.
    /// Errors: `InvalidParameter` naming `SecretName` for a malformed name or ARN.
    pub fn resolve_secret(&self, s: &str) -> Result<SecretRef, ValidationError> {
        if !s.starts_with("acs:") {
            return SecretName::parse(s).map(SecretRef::Local);
        }
        let arn = SecretArn::parse(s)?;
        if arn.location == *self {
            Ok(SecretRef::Local(arn.name))
        } else {
            Ok(SecretRef::Foreign)
        }
    }
}

/// The ARN of a secret: `acs:kms:{region}:{account_id}:secret/{name}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretArn {
    location: StoreLocation,
    name: SecretName,
}

impl SecretArn {
    /// Parses an ARN. Errors: `InvalidParameter` naming `SecretName`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = || {
            ValidationError::invalid(
                "SecretName",
                "is not a secret ARN of the form acs:kms:{region}:{account_id}:secret/{name}",
            )
        };
        let rest = s.strip_prefix("acs:kms:").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, ':');
        let (region, account, resource) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let name = resource.strip_prefix("secret/").ok_or_else(bad)?;
        let location = StoreLocation::new(region, account).map_err(|_| bad())?;
        Ok(SecretArn {
            location,
            name: SecretName::parse(name)?,
        })
    }

    /// The store the secret belongs to.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The secret's name.
    pub fn name(&self) -> &SecretName {
        &self.name
    }
}

impl fmt::Display for SecretArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_secret_arn(
            f,
            &self.location.region,
            &self.location.account_id,
            &self.name,
        )
    }
}

fn write_secret_arn(
    out: &mut impl fmt::Write,
    region: &str,
    account_id: &str,
    name: &SecretName,
) -> fmt::Result {
    write!(out, "acs:kms:{region}:{account_id}:secret/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> StoreLocation {
        StoreLocation::new("cn-hangzhou", "123").unwrap()
    }

    #[test]
    fn arn_roundtrips() {
        let n = SecretName::parse("a/b").unwrap();
        let arn = here().secret_arn(&n);
        assert_eq!(SecretArn::parse(&arn.to_string()).unwrap(), arn);
        assert_eq!(here().secret_arn_text(&n), arn.to_string());
        assert_eq!(
            here().secret_arn_text(&n),
            "acs:kms:cn-hangzhou:123:secret/a/b"
        );
    }

    #[test]
    fn resolve_accepts_names_and_own_arns_only() {
        let n = SecretName::parse("db").unwrap();
        assert_eq!(
            here().resolve_secret("db").unwrap(),
            SecretRef::Local(n.clone())
        );
        assert_eq!(
            here()
                .resolve_secret("acs:kms:cn-hangzhou:123:secret/db")
                .unwrap(),
            SecretRef::Local(n)
        );
        assert_eq!(
            here()
                .resolve_secret("acs:kms:cn-beijing:123:secret/db")
                .unwrap(),
            SecretRef::Foreign
        );
        assert_eq!(
            here()
                .resolve_secret("acs:kms:cn-hangzhou:999:secret/db")
                .unwrap(),
            SecretRef::Foreign
        );
        for bad in [
            "acs:kms:cn-hangzhou:123:key/db",
            "acs:kms:cn-hangzhou",
            "acs:kms::123:secret/db",
            "acs:kms:r:1:secret/a#b",
        ] {
            assert_eq!(
                here().resolve_secret(bad).unwrap_err().parameter(),
                "SecretName",
                "{bad}"
            );
        }
    }
}
