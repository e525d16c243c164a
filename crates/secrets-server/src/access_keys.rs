//! The access-keys file: each AccessKeyId's secret and policy, and the [`Authorizer`] that
//! enforces the policies.
//!
//! ```json
//! {
//!   "app-reader": {
//!     "secret": "a long random string",
//!     "policy": {"Version":"1","Statement":[{"Effect":"Allow",
//!       "Action":["kms:GetSecretValue","kms:Decrypt"],
//!       "Resource":["acs:kms:*:*:secret/app/*","acs:kms:*:*:key/*"]}]}
//!   }
//! }
//! ```
//!
//! Nothing read from the file is ever logged or printed: [`AccessKeys`]'s `Debug` shows the
//! ids only, and a parse error names a line and column, never the text there.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use ring::hmac;
use secrets_manager::{Action, Authorizer, Principal};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::policy::{Policy, PolicyError};
use crate::signature::{v1, v3};

/// The largest access-keys file read (a guard against pointing at the wrong file).
const FILE_LIMIT: u64 = 4 << 20;
/// The longest AccessKeyId accepted.
const ID_MAX: usize = 128;

/// One access key: the HMAC keys derived from its secret, and its policy.
pub(crate) struct AccessKey {
    pub(crate) v3: hmac::Key,
    pub(crate) v1: hmac::Key,
    pub(crate) policy: Policy,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("secret", &"[REDACTED]")
            .field("policy", &self.policy)
            .finish()
    }
}

/// The server's access keys: AccessKeyId → secret and policy. Also the [`Authorizer`] of the
/// store the server serves: the principal's name is the AccessKeyId, an unknown principal is
/// denied everything.
pub struct AccessKeys {
    keys: HashMap<String, AccessKey>,
}

impl fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("AccessKeys")
            .field("ids", &ids)
            .field("secrets", &"[REDACTED]")
            .finish()
    }
}

/// Why the access keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessKeysError {
    /// The file could not be read.
    #[error("cannot read the access-keys file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file may be read by other users (Unix mode bits other than owner).
    #[error("the access-keys file {path} is readable by other users; make it private (chmod 600)")]
    Permissions {
        /// The file.
        path: PathBuf,
    },
    /// The file is not the expected JSON; where, not what (the text may be a secret).
    #[error("the access-keys file is not valid: {0}")]
    Format(String),
    /// An access key's policy document was refused.
    #[error("the policy of access key {id:?} is refused: {source}")]
    Policy {
        /// The AccessKeyId.
        id: String,
        /// Why.
        source: PolicyError,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    secret: SecretText,
    policy: serde_json::Value,
}

/// A string read straight into zeroizing memory.
struct SecretText(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SecretText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretText, E> {
                Ok(SecretText(Zeroizing::new(v.to_owned())))
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl AccessKeys {
    /// Reads the access-keys file. On Unix the file must not be readable by group or others.
    ///
    /// Errors: [`AccessKeysError`]; messages never contain the file's text.
    pub fn from_file(path: impl AsRef<Path>) -> Result<AccessKeys, AccessKeysError> {
        let path = path.as_ref();
        let io = |source| AccessKeysError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = file.metadata().map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(AccessKeysError::Permissions {
                    path: path.to_owned(),
                });
            }
        }
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(FILE_LIMIT).read_to_end(&mut bytes).map_err(io)?;
        AccessKeys::from_json(&bytes)
    }

    /// Parses the access-keys JSON: an object mapping each AccessKeyId to
    /// `{"secret": "…", "policy": {…}}`.
    pub fn from_json(json: &[u8]) -> Result<AccessKeys, AccessKeysError> {
        let entries: HashMap<String, Entry> = serde_json::from_slice(json).map_err(|e| {
            AccessKeysError::Format(format!(
                "expected {{\"<AccessKeyId>\": {{\"secret\": \"…\", \"policy\": {{…}}}}}}; \
                 the error is at line {} column {} ({:?})",
                e.line(),
                e.column(),
                e.classify()
            ))
        })?;
        let mut keys = HashMap::with_capacity(entries.len());
        for (id, entry) in entries {
            if id.is_empty() || id.len() > ID_MAX || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(AccessKeysError::Format(format!(
                    "an AccessKeyId must be 1-{ID_MAX} printable ASCII characters without spaces"
                )));
            }
            if entry.secret.0.is_empty() {
                return Err(AccessKeysError::Format(format!(
                    "the secret of access key {id:?} is empty"
                )));
            }
            let policy =
                Policy::from_json(entry.policy).map_err(|source| AccessKeysError::Policy {
                    id: id.clone(),
                    source,
                })?;
            let key = AccessKey {
                v3: v3::key(&entry.secret.0),
                v1: v1::key(&entry.secret.0),
                policy,
            };
            keys.insert(id, key);
        }
        Ok(AccessKeys { keys })
    }

    /// The access key with this id.
    pub(crate) fn get(&self, access_key_id: &str) -> Option<&AccessKey> {
        self.keys.get(access_key_id)
    }

    /// The ids of the access keys.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// How many access keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none (the server then answers every request with
    /// `InvalidAccessKeyId.NotFound`).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Authorizer for AccessKeys {
    fn is_allowed(&self, principal: &Principal, action: Action, resource: &str) -> bool {
        self.keys
            .get(principal.name())
            .is_some_and(|k| k.policy.is_allowed(action.as_str(), resource))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
        "reader": {"secret": "reader-secret-value", "policy": {"Version":"1","Statement":[
            {"Effect":"Allow","Action":["kms:GetSecretValue"],
             "Resource":["acs:kms:*:*:secret/app/*"]}]}},
        "admin": {"secret": "admin-secret-value", "policy": {"Version":"1","Statement":[
            {"Effect":"Allow","Action":"kms:*","Resource":"*"}]}}
    }"#;

    #[test]
    fn policies_are_enforced_per_access_key() {
        let keys = AccessKeys::from_json(FILE.as_bytes()).unwrap();
        let arn = "acs:kms:r:1:secret/app/db";
        let reader = Principal::new("reader");
        assert!(keys.is_allowed(&reader, Action::GetSecretValue, arn));
        assert!(!keys.is_allowed(&reader, Action::PutSecretValue, arn));
        assert!(keys.is_allowed(&Principal::new("admin"), Action::DeleteSecret, arn));
        assert!(!keys.is_allowed(&Principal::new("nobody"), Action::GetSecretValue, arn));
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let keys = AccessKeys::from_json(FILE.as_bytes()).unwrap();
        let shown = format!("{keys:?} {:?}", keys.get("reader").unwrap());
        assert!(!shown.contains("reader-secret-value") && !shown.contains("admin-secret"));
        assert!(shown.contains("reader") && shown.contains("[REDACTED]"));
    }

    #[test]
    fn parse_errors_do_not_quote_the_file() {
        let bad = br#"{"k": {"secret": "hunter2-very-secret", "policy": 1, "extra": true}}"#;
        let e = AccessKeys::from_json(bad).unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let wrong_type = br#"{"k": {"secret": 5, "policy": {}}}"#;
        assert!(AccessKeys::from_json(wrong_type).is_err());
        let bad_policy = br#"{"k": {"secret": "s", "policy": {"Version":"1"}}}"#;
        assert!(matches!(
            AccessKeys::from_json(bad_policy),
            Err(AccessKeysError::Policy { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            AccessKeys::from_file(&path),
            Err(AccessKeysError::Permissions { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(AccessKeys::from_file(&path).unwrap().len(), 2);
    }
}
