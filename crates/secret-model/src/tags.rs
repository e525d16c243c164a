//! Tags: key/value pairs attached to a secret, and the JSON forms they arrive in.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::limits;
use crate::names::check_text;

/// The characters a tag key or value may hold: `[A-Za-z0-9/\_.+=:@ -]`.
pub fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/\\_.+=:@ -".contains(c)
}

const TAG_ALPHABET: &str = "letters, digits, space and /\\_.+=:@-";

/// A validated tag: key and value of 1–128 characters of `[A-Za-z0-9/\_.+=:@ -]`; the key does
/// not start with `aliyun` or `acs:`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    key: String,
    value: String,
}

impl Tag {
    /// Validates one tag. Errors: `InvalidParameter` naming `TagKey` or `TagValue`.
    pub fn new(key: &str, value: &str) -> Result<Self, ValidationError> {
        Ok(Tag {
            key: parse_tag_key(key)?,
            value: parse_tag_value(value)?,
        })
    }

    /// The tag's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The tag's value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Validates a tag key. Errors: `InvalidParameter` naming `TagKey`.
pub fn parse_tag_key(key: &str) -> Result<String, ValidationError> {
    check_text(
        "TagKey",
        key,
        limits::TAG_PART_MAX,
        is_tag_char,
        TAG_ALPHABET,
    )?;
    if key.starts_with("aliyun") || key.starts_with("acs:") {
        return Err(ValidationError::invalid(
            "TagKey",
            "must not start with \"aliyun\" or \"acs:\" (reserved)",
        ));
    }
    Ok(key.to_owned())
}

/// Validates a tag value. Errors: `InvalidParameter` naming `TagValue`.
pub fn parse_tag_value(value: &str) -> Result<String, ValidationError> {
    check_text(
        "TagValue",
        value,
        limits::TAG_PART_MAX,
        is_tag_char,
        TAG_ALPHABET,
    )?;
    Ok(value.to_owned())
}

/// The tags given in one request: at most 20, no key twice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagSet(Vec<Tag>);

/// One element of the `Tags` JSON parameter, as Alibaba spells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTag {
    /// The tag key.
    #[serde(rename = "TagKey")]
    pub tag_key: String,
    /// The tag value.
    #[serde(rename = "TagValue")]
    pub tag_value: String,
}

impl TagSet {
    /// Validates the tags of one request. Errors: `InvalidParameter` naming `Tags` for more than
    /// 20 tags or a key given twice, or `TagKey` / `TagValue` for a malformed tag.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ValidationError> {
        Self::new_as("Tags", pairs)
    }

    /// [`TagSet::new`] for tags given as `parameter` (the batch operations' `Tag.N.Key` and
    /// `Tag.N.Value` are named `Tag`): the errors about the whole set name it.
    pub fn new_as<K: AsRef<str>, V: AsRef<str>>(
        parameter: &'static str,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ValidationError> {
        let mut tags: Vec<Tag> = Vec::new();
        for (k, v) in pairs {
            if tags.len() == limits::TAGS_PER_SECRET_MAX {
                return Err(ValidationError::invalid(
                    parameter,
                    format!("at most {} tags may be given", limits::TAGS_PER_SECRET_MAX),
                ));
            }
            let tag = Tag::new(k.as_ref(), v.as_ref())?;
            if tags.iter().any(|t| t.key == tag.key) {
                return Err(ValidationError::invalid(
                    parameter,
                    format!("the tag key {:?} is given more than once", tag.key),
                ));
            }
            tags.push(tag);
        }
        Ok(TagSet(tags))
    }

    /// Parses the `Tags` parameter's JSON form, `[{"TagKey":"k","TagValue":"v"}]`.
    /// Errors: `InvalidParameter` naming `Tags` (or the tag part at fault).
    pub fn from_json(json: &str) -> Result<Self, ValidationError> {
        let wire: Vec<WireTag> = parse_json("Tags", json)?;
        Self::new(
            wire.iter()
                .map(|t| (t.tag_key.as_str(), t.tag_value.as_str())),
        )
    }

    /// The tags, in the order given.
    pub fn tags(&self) -> &[Tag] {
        &self.0
    }

    /// Whether no tag was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tags, in the order given.
    pub fn into_vec(self) -> Vec<Tag> {
        self.0
    }
}

/// Parses a JSON parameter, bounding its size before parsing.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    parameter: &'static str,
    json: &str,
) -> Result<T, ValidationError> {
    if json.len() > limits::JSON_PARAMETER_MAX {
        return Err(ValidationError::invalid(
            parameter,
            format!(
                "must be at most {} bytes of JSON",
                limits::JSON_PARAMETER_MAX
            ),
        ));
    }
    serde_json::from_str(json).map_err(|e| {
        ValidationError::invalid(
            parameter,
            format!(
                "is not valid JSON of the expected shape (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Parses a JSON array of strings such as the `TagKeys` or `VersionStages` parameters.
/// Errors: `InvalidParameter` naming `parameter`.
pub fn parse_json_string_list(
    parameter: &'static str,
    json: &str,
) -> Result<Vec<String>, ValidationError> {
    parse_json(parameter, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_json_form() {
        let t = TagSet::from_json(
            r#"[{"TagKey":"env","TagValue":"prod"},{"TagKey":"team","TagValue":"a b"}]"#,
        )
        .unwrap();
        assert_eq!(t.tags().len(), 2);
        assert_eq!(t.tags()[1].value(), "a b");
    }

    #[test]
    fn duplicate_keys_in_one_request_are_rejected() {
        let e = TagSet::new([("k", "1"), ("k", "2")]).unwrap_err();
        assert_eq!(e.parameter(), "Tags");
    }

    #[test]
    fn more_than_twenty_tags_are_rejected() {
        let keys: Vec<String> = (0..21).map(|i| format!("k{i}")).collect();
        let e = TagSet::new(keys.iter().map(|k| (k.as_str(), "v"))).unwrap_err();
        assert_eq!(e.parameter(), "Tags");
        assert!(TagSet::new(keys[..20].iter().map(|k| (k.as_str(), "v"))).is_ok());
    }

    #[test]
    fn reserved_key_prefixes_are_rejected() {
        assert_eq!(Tag::new("aliyun-x", "v").unwrap_err().parameter(), "TagKey");
        assert_eq!(Tag::new("acs:x", "v").unwrap_err().parameter(), "TagKey");
        assert!(Tag::new("acs-x", "v").is_ok());
    }

    #[test]
    fn malformed_json_names_the_parameter() {
        assert_eq!(TagSet::from_json("[{").unwrap_err().parameter(), "Tags");
        assert_eq!(
            TagSet::from_json(r#"{"TagKey":"a"}"#)
                .unwrap_err()
                .parameter(),
            "Tags"
        );
        assert_eq!(
            TagSet::from_json(r#"[{"TagKey":"a"}]"#)
                .unwrap_err()
                .parameter(),
            "Tags"
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(TagSet::from_json(&deep).unwrap_err().parameter(), "Tags");
    }

    #[test]
    fn string_lists_parse() {
        assert_eq!(
            parse_json_string_list("TagKeys", r#"["a","b"]"#).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(
            parse_json_string_list("TagKeys", "[1]")
                .unwrap_err()
                .parameter(),
            "TagKeys"
        );
    }
}
