//! Secret names, version ids, stage labels and descriptions.

use std::fmt;

use crate::error::ValidationError;
use crate::limits;

/// Checks that `value` has `min..=max` characters, each accepted by `allowed`.
///
/// The message names `parameter`, states the rule (`alphabet` describes the allowed characters)
/// and, for a bad character, its position; it never echoes the whole input.
pub(crate) fn check_text(
    parameter: &'static str,
    value: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    alphabet: &str,
) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if len == 0 {
        return Err(ValidationError::invalid(parameter, "must not be empty"));
    }
    if len > max {
        return Err(ValidationError::invalid(
            parameter,
            format!("must be at most {max} characters long, got {len}"),
        ));
    }
    if let Some((pos, c)) = value.chars().enumerate().find(|(_, c)| !allowed(*c)) {
        return Err(ValidationError::invalid(
            parameter,
            format!(
                // Escaped once, in quotes: a tab reads "\t", `é` "\u{e9}".
                "character \"{}\" at position {pos} is not allowed; allowed are {alphabet}",
                c.escape_default()
            ),
        ));
    }
    Ok(())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, ValidationError> {
                Self::parse(s)
            }
        }
    };
}

text_type!(
    /// A secret's name: 1–192 characters of `[A-Za-z0-9_/+=.@-]`, not starting with `acs/`.
    ///
    /// ```
    /// use secret_model::SecretName;
    /// assert!(SecretName::parse("prod/db-password").is_ok());
    /// assert!(SecretName::parse("acs/ram/user").is_err());
    /// ```
    SecretName
);

/// The characters a secret name may hold.
pub fn is_secret_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_/+=.@-".contains(c)
}

impl SecretName {
    /// Validates a plain secret name. Errors: `InvalidParameter` naming `SecretName`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        check_text(
            "SecretName",
            s,
            limits::SECRET_NAME_MAX,
            is_secret_name_char,
            "letters, digits and _/+=.@-",
        )?;
        if s.starts_with("acs/") {
            return Err(ValidationError::invalid(
                "SecretName",
                "must not start with \"acs/\" (reserved for Alibaba-managed secrets)",
            ));
        }
        Ok(SecretName(s.to_owned()))
    }
}

text_type!(
    /// A version id chosen by the caller: 1–64 printable ASCII characters without whitespace.
    VersionId
);

/// The characters a version id may hold (printable ASCII, no space).
pub fn is_version_id_char(c: char) -> bool {
    c.is_ascii_graphic()
}

impl VersionId {
    /// Validates a version id. Errors: `InvalidParameter` naming `VersionId`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::parse_as("VersionId", s)
    }

    /// Validates a version id given under another parameter name (`MoveToVersion`, …).
    pub fn parse_as(parameter: &'static str, s: &str) -> Result<Self, ValidationError> {
        check_text(
            parameter,
            s,
            limits::VERSION_ID_MAX,
            is_version_id_char,
            "printable ASCII characters without whitespace",
        )?;
        Ok(VersionId(s.to_owned()))
    }
}

text_type!(
    /// A stage label: 1–64 characters of `[A-Za-z0-9_.-]`; `ACSCurrent` and `ACSPrevious` are
    /// the built-ins.
    StageLabel
);

/// The characters a stage label may hold.
pub fn is_stage_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.-".contains(c)
}

impl StageLabel {
    /// The label of the version that is read by default.
    pub const ACS_CURRENT: &'static str = "ACSCurrent";
    /// The label of the version that held `ACSCurrent` before it.
    pub const ACS_PREVIOUS: &'static str = "ACSPrevious";

    /// Validates a stage label. Errors: `InvalidParameter` naming `VersionStage`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::parse_as("VersionStage", s)
    }

    /// Validates a stage label given under another parameter name (`VersionStages`).
    pub fn parse_as(parameter: &'static str, s: &str) -> Result<Self, ValidationError> {
        check_text(
            parameter,
            s,
            limits::STAGE_LABEL_MAX,
            is_stage_label_char,
            "letters, digits and _.-",
        )?;
        Ok(StageLabel(s.to_owned()))
    }

    /// `ACSCurrent`.
    pub fn current() -> Self {
        StageLabel(Self::ACS_CURRENT.to_owned())
    }

    /// `ACSPrevious`.
    pub fn previous() -> Self {
        StageLabel(Self::ACS_PREVIOUS.to_owned())
    }

    /// Whether this is `ACSCurrent` or `ACSPrevious`.
    pub fn is_builtin(&self) -> bool {
        self.0 == Self::ACS_CURRENT || self.0 == Self::ACS_PREVIOUS
    }

    /// Whether this is `ACSCurrent`.
    pub fn is_current(&self) -> bool {
        self.0 == Self::ACS_CURRENT
    }
}

text_type!(
    /// A secret's description: at most 1,024 characters (may be empty).
    Description
);

impl Description {
    /// Validates a description. Errors: `InvalidParameter` naming `Description`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let len = s.chars().count();
        if len > limits::DESCRIPTION_MAX {
            return Err(ValidationError::invalid(
                "Description",
                format!(
                    "must be at most {} characters long, got {len}",
                    limits::DESCRIPTION_MAX
                ),
            ));
        }
        Ok(Description(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_name_rejects_reserved_prefix_and_names_the_parameter() {
        let e = SecretName::parse("acs/x").unwrap_err();
        assert_eq!(e.parameter(), "SecretName");
        assert!(SecretName::parse("acsx/ok").is_ok());
        assert!(SecretName::parse("x/acs/").is_ok());
    }

    #[test]
    fn bad_character_message_says_where() {
        let e = SecretName::parse("ab#c").unwrap_err();
        assert!(e.to_string().contains("position 2"), "{e}");
    }

    #[test]
    fn builtin_labels() {
        assert!(StageLabel::current().is_builtin());
        assert!(StageLabel::previous().is_builtin());
        assert!(!StageLabel::parse("custom").unwrap().is_builtin());
    }

    #[test]
    fn description_may_be_empty_but_not_too_long() {
        assert!(Description::parse("").is_ok());
        assert!(Description::parse(&"d".repeat(1024)).is_ok());
        assert_eq!(
            Description::parse(&"d".repeat(1025))
                .unwrap_err()
                .parameter(),
            "Description"
        );
    }
}
