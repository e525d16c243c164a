//! The vocabulary of the secrets store: validated names, version ids, stage labels, tags,
//! descriptions, values, ARNs, key ids, timestamps, the limits of the API and its error codes.
//!
//! Every input is validated here, once, at the edge: a value of one of these types is known
//! to satisfy the rules of Alibaba's KMS Secrets Manager API (see `SPEC.md` §2), and every
//! rejection is a [`ValidationError`] whose message names the parameter at fault.
//! This crate does no cryptography and no I/O.
//!
//! ```
//! use secret_model::{SecretName, SecretValue, SecretDataType, TagSet};
//!
//! let name = SecretName::parse("prod/db/password")?;
//! let value = SecretValue::new(SecretDataType::Text, "s3cr3t".into())?;
//! let tags = TagSet::from_json(r#"[{"TagKey":"env","TagValue":"prod"}]"#)?;
//! assert_eq!(name.as_str(), "prod/db/password");
//! assert_eq!(format!("{value:?}"), "SecretValue { data_type: Text, bytes: [REDACTED] }");
//! assert_eq!(tags.tags()[0].key(), "env");
//!
//! let err = SecretName::parse("").unwrap_err();
//! assert_eq!(err.parameter(), "SecretName");
//! # Ok::<(), secret_model::ValidationError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod arn;
mod error;
mod filters;
pub mod limits;
mod names;
mod paging;
mod password;
mod tags;
mod time;
mod uuid;
mod value;

pub use arn::{SecretArn, SecretRef, StoreLocation};
pub use error::{ErrorCode, ValidationError};
pub use filters::{FILTER_VALUES_MAX, FILTERS_MAX, Filter, FilterKey, Filters};
pub use names::{
    Description, SecretName, StageLabel, VersionId, is_secret_name_char, is_stage_label_char,
    is_version_id_char,
};
pub use paging::{PageRequest, recovery_window_days};
pub use password::{PUNCTUATION, PasswordOptions, PasswordSpec};
pub use tags::{
    Tag, TagSet, WireTag, is_tag_char, parse_json_string_list, parse_tag_key, parse_tag_value,
};
pub use time::Timestamp;
pub use uuid::{KeyId, Uuid};
pub use value::{SecretBytes, SecretDataType, SecretValue, constant_time_eq, wipe};

/// The type of a secret. Only `Generic` is in scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SecretType {
    /// A generic secret: values are whatever the caller stores.
    #[default]
    Generic,
}

impl SecretType {
    /// `Generic`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretType::Generic => "Generic",
        }
    }
}
