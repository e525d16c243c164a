//! SPEC §2's validation rules, restated for the model, and the parameter-checking phase of
//! decisions.md 1 (every parameter is checked before anything else happens).

use secret_model::{ErrorCode, SecretDataType};

use crate::common::{ACCOUNT, REGION};

/// decisions.md 12.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// Whether a planned delete time `planned` has passed at `now`: the secret is gone from the
/// second its planned delete time is reached.
pub fn is_past(planned: i64, now: i64) -> bool {
    now >= planned
}

pub fn is_secret_name(s: &str) -> bool {
    (1..=192).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_/+=.@-".contains(c))
        && !s.starts_with("acs/")
}

pub fn is_version_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

pub fn is_label(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn is_tag_part(s: &str) -> bool {
    (1..=128).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/\\_.+=:@ -".contains(c))
}

pub fn is_tag_key(s: &str) -> bool {
    is_tag_part(s) && !s.starts_with("aliyun") && !s.starts_with("acs:")
}

/// What a `SecretName` parameter names once it is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A secret of this store.
    Local(String),
    /// An ARN of another region or account: "not found".
    Foreign,
}

/// The parameter errors of one request, collected in no particular order: SPEC does not say
/// which of two bad parameters is reported, so the model accepts the code of any of them.
#[derive(Default)]
pub struct Params(Vec<ErrorCode>);

impl Params {
    pub fn check(&mut self, ok: bool, code: ErrorCode) {
        if !ok {
            self.0.push(code);
        }
    }

    pub fn finish(mut self) -> Result<(), Vec<ErrorCode>> {
        self.0.dedup();
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    /// A required text parameter: `""` is missing (decisions.md 2).
    pub fn required(&mut self, s: &str, valid: fn(&str) -> bool) -> Option<String> {
        if s.is_empty() {
            self.check(false, ErrorCode::MissingParameter);
            None
        } else if !valid(s) {
            self.check(false, ErrorCode::InvalidParameter);
            None
        } else {
            Some(s.to_owned())
        }
    }

    /// An optional text parameter: `""` counts as not given (decisions.md 2). `None` when it
    /// is invalid; `Some(None)` when not given.
    pub fn optional(
        &mut self,
        s: &Option<String>,
        valid: fn(&str) -> bool,
    ) -> Option<Option<String>> {
        match s.as_deref() {
            None | Some("") => Some(None),
            Some(s) if valid(s) => Some(Some(s.to_owned())),
            Some(_) => {
                self.check(false, ErrorCode::InvalidParameter);
                None
            }
        }
    }

    /// `SecretName`: a name, or an ARN (this store's names the secret, another's is unknown).
    pub fn name(&mut self, s: &str) -> Option<Target> {
        if let Some(rest) = s.strip_prefix("acs:kms:") {
            let parts: Vec<&str> = rest.splitn(3, ':').collect();
            let [region, account, resource] = parts[..] else {
                self.check(false, ErrorCode::InvalidParameter);
                return None;
            };
            let name = resource
                .strip_prefix("secret/")
                .filter(|n| is_secret_name(n));
            let Some(name) = name else {
                self.check(false, ErrorCode::InvalidParameter);
                return None;
            };
            if region == REGION && account == ACCOUNT {
                return Some(Target::Local(name.to_owned()));
            }
            // SPEC §1 makes another store's ARN "not found" without placing that check in the
            // order of decisions.md 1; the facade answers it while reading `SecretName`, so
            // it may win over any other parameter's error.
            self.check(false, ErrorCode::ResourceNotFound);
            return Some(Target::Foreign);
        }
        self.required(s, is_secret_name).map(Target::Local)
    }

    /// `SecretData` with its `SecretDataType`.
    pub fn data(&mut self, value: &[u8], data_type: SecretDataType) {
        if value.is_empty() {
            self.check(false, ErrorCode::MissingParameter);
        } else {
            self.check(value.len() <= 30_720, ErrorCode::InvalidParameter);
            self.check(
                data_type == SecretDataType::Binary || std::str::from_utf8(value).is_ok(),
                ErrorCode::InvalidParameter,
            );
        }
    }

    pub fn description(&mut self, d: &Option<String>) {
        if let Some(d) = d {
            self.check(d.chars().count() <= 1_024, ErrorCode::InvalidParameter);
        }
    }

    /// A `Tags` parameter: at most 20, each valid, keys unique; `required` makes none missing.
    pub fn tags(&mut self, tags: &[(String, String)], required: bool) {
        if tags.is_empty() {
            self.check(!required, ErrorCode::MissingParameter);
        }
        self.check(tags.len() <= 20, ErrorCode::InvalidParameter);
        for (i, (k, v)) in tags.iter().enumerate() {
            self.check(is_tag_key(k) && is_tag_part(v), ErrorCode::InvalidParameter);
            self.check(
                !tags[..i].iter().any(|(other, _)| other == k),
                ErrorCode::InvalidParameter,
            );
        }
    }

    /// A `TagKeys` parameter.
    pub fn tag_keys(&mut self, keys: &[String], required: bool) {
        if keys.is_empty() {
            self.check(!required, ErrorCode::MissingParameter);
        }
        for k in keys {
            self.check(is_tag_key(k), ErrorCode::InvalidParameter);
        }
    }

    /// `PageNumber` (≥ 1, default 1) and `PageSize` (1–100, default `default_size`).
    pub fn paging(
        &mut self,
        number: Option<u32>,
        size: Option<u32>,
        default_size: u32,
    ) -> (u32, u32) {
        let number = number.unwrap_or(1);
        let size = size.unwrap_or(default_size);
        self.check(number >= 1, ErrorCode::InvalidParameter);
        self.check((1..=100).contains(&size), ErrorCode::InvalidParameter);
        (number, size)
    }
}
