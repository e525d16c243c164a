//! The `Filters` of ListSecrets.

use serde::Deserialize;

use crate::error::ValidationError;
use crate::tags::parse_json;

/// What a filter looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterKey {
    /// The secret's name, matched by substring.
    SecretName,
    /// The secret's description, matched by substring.
    Description,
    /// A tag key, matched exactly.
    TagKey,
    /// A tag value, matched exactly.
    TagValue,
    /// The secret type, matched exactly.
    SecretType,
}

impl FilterKey {
    /// Parses a filter key. Errors: `InvalidParameter` naming `Filters`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Ok(match s {
            "SecretName" => FilterKey::SecretName,
            "Description" => FilterKey::Description,
            "TagKey" => FilterKey::TagKey,
            "TagValue" => FilterKey::TagValue,
            "SecretType" => FilterKey::SecretType,
            _ => {
                return Err(ValidationError::invalid(
                    "Filters",
                    "a filter Key must be SecretName, Description, TagKey, TagValue or SecretType",
                ));
            }
        })
    }
}

/// One filter: the secret matches if any of the values matches (OR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// What it looks at.
    pub key: FilterKey,
    /// The values, OR-ed.
    pub values: Vec<String>,
}

/// The filters of one ListSecrets request: at most 10 given, each with 1–10 values. Filters
/// given with the same key are merged into one (values of one key are OR-ed, SPEC §2), so each
/// key appears once; a secret must match every filter (AND).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters(Vec<Filter>);

/// The most filters in one request.
pub const FILTERS_MAX: usize = 10;
/// The most values in one filter.
pub const FILTER_VALUES_MAX: usize = 10;

#[derive(Deserialize)]
struct WireFilter {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Values")]
    values: Vec<String>,
}

impl Filters {
    /// Validates filters given as (key, values) pairs. Errors: `InvalidParameter` naming
    /// `Filters`.
    pub fn new<K: AsRef<str>>(
        filters: impl IntoIterator<Item = (K, Vec<String>)>,
    ) -> Result<Self, ValidationError> {
        let mut out: Vec<Filter> = Vec::new();
        for (given, (key, values)) in filters.into_iter().enumerate() {
            if given == FILTERS_MAX {
                return Err(ValidationError::invalid(
                    "Filters",
                    format!("at most {FILTERS_MAX} filters may be given"),
                ));
            }
            let key = FilterKey::parse(key.as_ref())?;
            if values.is_empty() || values.len() > FILTER_VALUES_MAX {
                return Err(ValidationError::invalid(
                    "Filters",
                    format!("each filter must have 1 to {FILTER_VALUES_MAX} values"),
                ));
            }
            if values.iter().any(|v| v.chars().count() > 1024) {
                return Err(ValidationError::invalid(
                    "Filters",
                    "a filter value must be at most 1024 characters",
                ));
            }
            match out.iter_mut().find(|f: &&mut Filter| f.key == key) {
                Some(same_key) => same_key.values.extend(values),
                None => out.push(Filter { key, values }),
            }
        }
        Ok(Filters(out))
    }

    /// Parses the JSON form `[{"Key":"SecretName","Values":["db"]}]`.
    /// Errors: `InvalidParameter` naming `Filters`.
    pub fn from_json(json: &str) -> Result<Self, ValidationError> {
        let wire: Vec<WireFilter> = parse_json("Filters", json)?;
        Self::new(wire.into_iter().map(|f| (f.key, f.values)))
    }

    /// The filters, one per key, in the order each key was first given.
    pub fn filters(&self) -> &[Filter] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds_filters() {
        let f = Filters::from_json(r#"[{"Key":"SecretName","Values":["db","api"]}]"#).unwrap();
        assert_eq!(f.filters()[0].key, FilterKey::SecretName);
        assert_eq!(
            Filters::from_json(r#"[{"Key":"Nope","Values":["x"]}]"#)
                .unwrap_err()
                .parameter(),
            "Filters"
        );
        assert!(Filters::from_json(r#"[{"Key":"TagKey","Values":[]}]"#).is_err());
        let eleven = (0..11).map(|_| ("TagKey", vec!["x".to_owned()]));
        assert!(Filters::new(eleven).is_err());
        let many_values = vec!["v".to_owned(); 11];
        assert!(Filters::new([("TagKey", many_values)]).is_err());
    }

    #[test]
    fn filters_of_one_key_are_merged_so_their_values_are_or_ed() {
        let f = Filters::from_json(
            r#"[{"Key":"SecretName","Values":["db"]},{"Key":"TagKey","Values":["t"]},
                {"Key":"SecretName","Values":["api","web"]}]"#,
        )
        .unwrap();
        assert_eq!(
            f.filters(),
            [
                Filter {
                    key: FilterKey::SecretName,
                    values: vec!["db".into(), "api".into(), "web".into()],
                },
                Filter {
                    key: FilterKey::TagKey,
                    values: vec!["t".into()],
                },
            ]
        );
        // The limit counts filters as given, before merging.
        let eleven_same = (0..11).map(|_| ("SecretName", vec!["x".to_owned()]));
        assert!(Filters::new(eleven_same).is_err());
    }
}
