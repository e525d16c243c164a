//! The parameters of GetRandomPassword, and the character pools they leave.

use crate::error::ValidationError;

/// Alibaba's punctuation set for random passwords.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// A validated password request: the length and the pools of characters of each included type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordSpec {
    length: usize,
    pools: Vec<Vec<char>>,
    require_each: bool,
}

/// The options of GetRandomPassword.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordOptions {
    /// 8–128, default 32.
    pub password_length: Option<u32>,
    /// Characters never to use.
    pub exclude_characters: Option<String>,
    /// No `a`–`z`.
    pub exclude_lowercase: bool,
    /// No `A`–`Z`.
    pub exclude_uppercase: bool,
    /// No `0`–`9`.
    pub exclude_numbers: bool,
    /// No punctuation.
    pub exclude_punctuation: bool,
    /// At least one character of each included type (default true).
    pub require_each_included_type: Option<bool>,
}

impl PasswordSpec {
    /// Validates the options. Errors: `InvalidParameter` naming `PasswordLength`,
    /// `ExcludeCharacters` or the exclusions that leave no character to choose from.
    pub fn new(o: &PasswordOptions) -> Result<Self, ValidationError> {
        let length = o.password_length.unwrap_or(32);
        if !(8..=128).contains(&length) {
            return Err(ValidationError::invalid(
                "PasswordLength",
                format!("must be from 8 to 128, got {length}"),
            ));
        }
        let excluded = o.exclude_characters.as_deref().unwrap_or("");
        if excluded.chars().count() > 256 {
            return Err(ValidationError::invalid(
                "ExcludeCharacters",
                "must be at most 256 characters",
            ));
        }
        let types: [(bool, Vec<char>); 4] = [
            (o.exclude_lowercase, ('a'..='z').collect()),
            (o.exclude_uppercase, ('A'..='Z').collect()),
            (o.exclude_numbers, ('0'..='9').collect()),
            (o.exclude_punctuation, PUNCTUATION.chars().collect()),
        ];
        let pools: Vec<Vec<char>> = types
            .into_iter()
            .filter(|(skip, _)| !skip)
            .map(|(_, chars)| {
                chars
                    .into_iter()
                    .filter(|c| !excluded.contains(*c))
                    .collect()
            })
            .filter(|pool: &Vec<char>| !pool.is_empty())
            .collect();
        if pools.is_empty() {
            return Err(ValidationError::invalid(
                "ExcludeCharacters",
                "the exclusions leave no character to build a password from",
            ));
        }
        Ok(PasswordSpec {
            length: length as usize,
            pools,
            require_each: o.require_each_included_type.unwrap_or(true),
        })
    }

    /// The password's length.
    pub fn length(&self) -> usize {
        self.length
    }

    /// Every allowed character, each once.
    pub fn alphabet(&self) -> Vec<char> {
        self.pools.iter().flatten().copied().collect()
    }

    /// Whether `password` satisfies the "one of each included type" rule (if it applies).
    pub fn accepts(&self, password: &[char]) -> bool {
        !self.require_each
            || self
                .pools
                .iter()
                .all(|pool| password.iter().any(|c| pool.contains(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_and_exclusions() {
        let opts = |len| PasswordOptions {
            password_length: Some(len),
            ..Default::default()
        };
        assert!(PasswordSpec::new(&opts(8)).is_ok());
        assert!(PasswordSpec::new(&opts(128)).is_ok());
        assert_eq!(
            PasswordSpec::new(&opts(7)).unwrap_err().parameter(),
            "PasswordLength"
        );
        assert_eq!(
            PasswordSpec::new(&opts(129)).unwrap_err().parameter(),
            "PasswordLength"
        );
        let all_out = PasswordOptions {
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_numbers: true,
            exclude_punctuation: true,
            ..Default::default()
        };
        assert!(PasswordSpec::new(&all_out).is_err());
        let spec = PasswordSpec::new(&PasswordOptions {
            exclude_characters: Some("abc".into()),
            exclude_punctuation: true,
            ..Default::default()
        })
        .unwrap();
        let alphabet = spec.alphabet();
        assert_eq!(alphabet.len(), 26 - 3 + 26 + 10);
        assert!(!alphabet.contains(&'a') && !alphabet.contains(&'!'));
    }
}
