//! Request parameters as they arrive on the wire: a flat map of names to strings.

use std::collections::BTreeMap;

use secret_model::{ValidationError, WireTag, parse_json_string_list};

/// The parameters of one request, merged from the query string and the form body (or from
/// the command line). Names are Alibaba's (`SecretName`, `Tag.1.Key`, …).
///
/// A `SecretData` value is a secret: `Debug` shows it as `[REDACTED]`, and every value is
/// zeroized when the parameters are dropped.
///
/// ```
/// let mut params = secrets_wire::Params::new();
/// params.insert("SecretName", "db");
/// params.insert("SecretData", "hunter2");
/// assert_eq!(
///     format!("{params:?}"),
///     r#"Params {"SecretData": [REDACTED], "SecretName": "db"}"#
/// );
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

/// The parameter whose value is never shown.
const SECRET: &str = "SecretData";

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Redacted;
        impl std::fmt::Debug for Redacted {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[REDACTED]")
            }
        }
        f.write_str("Params ")?;
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown: &dyn std::fmt::Debug = if name == SECRET { &Redacted } else { value };
                (name, shown)
            }))
            .finish()
    }
}

impl Drop for Params {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            zeroize::Zeroize::zeroize(value);
        }
    }
}

/// The most entries a flattened list (`ResourceId.N`, `Tag.N.Key`) may have.
const FLAT_MAX: usize = 200;

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Params::default()
    }

    /// Sets a parameter, replacing an earlier value of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        if let Some(mut replaced) = self.0.insert(name.into(), value.into()) {
            zeroize::Zeroize::zeroize(&mut replaced);
        }
    }

    /// The value of a parameter, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every parameter, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A text parameter; `""` when absent.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// An optional text parameter.
    pub(crate) fn opt(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// A boolean: `true` / `false` in any case (the Python SDK sends `True`). Absent: `false`.
    pub(crate) fn boolean(&self, name: &'static str) -> Result<bool, ValidationError> {
        Ok(self.opt_boolean(name)?.unwrap_or(false))
    }

    /// An optional boolean.
    pub(crate) fn opt_boolean(&self, name: &'static str) -> Result<Option<bool>, ValidationError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ValidationError::invalid(name, "must be true or false")),
        }
    }

    /// An optional non-negative integer.
    pub(crate) fn number(&self, name: &'static str) -> Result<Option<u32>, ValidationError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v.trim().parse::<u32>().map(Some).map_err(|_| {
                ValidationError::invalid(name, "must be a whole number from 0 to 4294967295")
            }),
        }
    }

    /// A JSON array of strings (`VersionStages`, `TagKeys`).
    pub(crate) fn json_list(
        &self,
        name: &'static str,
    ) -> Result<Option<Vec<String>>, ValidationError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(json) => parse_json_string_list(name, json).map(Some),
        }
    }

    /// The `Tags` JSON form, `[{"TagKey":"k","TagValue":"v"}]`.
    pub(crate) fn json_tags(&self, name: &'static str) -> Result<Vec<WireTag>, ValidationError> {
        match self.get(name) {
            None | Some("") => Ok(Vec::new()),
            Some(json) => {
                if json.len() > secret_model::limits::JSON_PARAMETER_MAX {
                    return Err(ValidationError::invalid(name, "is too long"));
                }
                serde_json::from_str(json).map_err(|_| {
                    ValidationError::invalid(
                        name,
                        "must be a JSON array of {\"TagKey\":…,\"TagValue\":…} objects",
                    )
                })
            }
        }
    }

    /// A flattened list: `prefix.1`, `prefix.2`, … in numeric order.
    pub(crate) fn flat_list(&self, prefix: &'static str) -> Result<Vec<String>, ValidationError> {
        let mut items: Vec<(usize, String)> = Vec::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let n = index(prefix, rest)?;
            items.push((n, v.clone()));
        }
        if items.len() > FLAT_MAX {
            return Err(ValidationError::invalid(prefix, "too many entries"));
        }
        items.sort_by_key(|(n, _)| *n);
        Ok(items.into_iter().map(|(_, v)| v).collect())
    }

    /// Flattened tags: `Tag.N.Key` and `Tag.N.Value`, in numeric order of N.
    pub(crate) fn flat_tags(&self) -> Result<Vec<WireTag>, ValidationError> {
        let mut tags: BTreeMap<usize, WireTag> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix("Tag.") else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                return Err(ValidationError::invalid(
                    "Tag",
                    "expected Tag.N.Key or Tag.N.Value",
                ));
            };
            let entry = tags.entry(index("Tag", n)?).or_insert_with(|| WireTag {
                tag_key: String::new(),
                tag_value: String::new(),
            });
            match field {
                "Key" => entry.tag_key.clone_from(v),
                "Value" => entry.tag_value.clone_from(v),
                _ => {
                    return Err(ValidationError::invalid(
                        "Tag",
                        "expected Tag.N.Key or Tag.N.Value",
                    ));
                }
            }
            if tags.len() > FLAT_MAX {
                return Err(ValidationError::invalid("Tag", "too many entries"));
            }
        }
        Ok(tags.into_values().collect())
    }
}

/// The N of `Prefix.N`, spelled in decimal digits without a leading zero or sign: one N has
/// one spelling, so `Tag.1` and `Tag.01` (or `Tag.+1`) cannot name one entry twice.
fn index(prefix: &'static str, s: &str) -> Result<usize, ValidationError> {
    let canonical = s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0');
    match s.parse::<usize>() {
        Ok(n) if canonical && (1..=FLAT_MAX).contains(&n) => Ok(n),
        _ => Err(ValidationError::invalid(
            prefix,
            format!("expected {prefix}.N with N from 1 to {FLAT_MAX}"),
        )),
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Params(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flattened_index_has_one_spelling() {
        for bad in ["01", "+1", "-1", " 1", "1 ", "0", "", "1_0"] {
            assert_eq!(index("Tag", bad).unwrap_err().parameter(), "Tag", "{bad:?}");
        }
        assert_eq!(index("Tag", "1").unwrap(), 1);
        assert_eq!(index("Tag", "10").unwrap(), 10);
    }

    #[test]
    fn booleans_are_case_insensitive() {
        let p: Params = [("A", "True"), ("B", "false"), ("C", "yes")]
            .into_iter()
            .collect();
        assert!(p.boolean("A").unwrap());
        assert!(!p.boolean("B").unwrap());
        assert_eq!(p.boolean("C").unwrap_err().parameter(), "C");
        assert!(!p.boolean("D").unwrap());
    }

    #[test]
    fn flattened_lists_come_in_numeric_order() {
        let p: Params = [
            ("ResourceId.10", "j"),
            ("ResourceId.2", "b"),
            ("ResourceId.1", "a"),
        ]
        .into_iter()
        .collect();
        assert_eq!(p.flat_list("ResourceId").unwrap(), ["a", "b", "j"]);
        let bad: Params = [("ResourceId.0", "x")].into_iter().collect();
        assert!(bad.flat_list("ResourceId").is_err());
        let tags: Params = [
            ("Tag.1.Key", "k"),
            ("Tag.1.Value", "v"),
            ("Tag.2.Key", "k2"),
            ("Tag.2.Value", "v2"),
        ]
        .into_iter()
        .collect();
        let t = tags.flat_tags().unwrap();
        assert_eq!(
            (t[1].tag_key.as_str(), t[1].tag_value.as_str()),
            ("k2", "v2")
        );
    }
}
