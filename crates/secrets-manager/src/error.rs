//! The one error type of the facade: each variant is exactly one Alibaba error code.

use secret_model::{ErrorCode, ValidationError};

use crate::auth::Action;

/// Everything an operation of [`crate::SecretsManager`] can fail with.
///
/// Each variant maps to exactly one code of SPEC §4 ([`Error::code`]) and HTTP status
/// ([`Error::http_status`]). Messages name the parameter or resource at fault and never contain
/// a secret value; cryptographic failures are deliberately opaque.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `InvalidParameter`: a parameter is malformed, out of range, or contradicts another.
    #[error("{0}")]
    InvalidParameter(ValidationError),
    /// `MissingParameter`: a required parameter was not given.
    #[error("{0}")]
    MissingParameter(ValidationError),
    /// `Rejected.LimitExceeded`: the operation would exceed a quota, named in the message.
    #[error("{0}")]
    LimitExceeded(String),
    /// `Forbidden.NoPermission`: the authorizer denied `action` on `resource`.
    #[error("You are not authorized to perform {action} on {resource}.")]
    NoPermission {
        /// The action that was denied.
        action: Action,
        /// The ARN it was denied on.
        resource: String,
    },
    /// `Forbidden.ResourceNotFound`: the secret, version or stage does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// `Forbidden.KeyNotFound`: the encryption key does not exist.
    #[error("The specified Key is not found: {0}.")]
    KeyNotFound(String),
    /// `Rejected.ResourceExist`: the secret or version already exists.
    #[error("{0}")]
    ResourceExist(String),
    /// `Rejected.ResourceInDeleteWindow`: the secret is pending deletion.
    #[error("The secret \"{0}\" is planned to be deleted.")]
    ResourceInDeleteWindow(String),
    /// `Rejected.Disabled`: the encryption key is disabled.
    #[error("The request was rejected because the key {0} is Disabled.")]
    KeyDisabled(String),
    /// `InternalFailure`: storage or decryption failed in a way a retry will not fix.
    /// The message is opaque; details go to the log, never to the caller.
    #[error("An internal error occurred.")]
    InternalFailure,
    /// `ServiceUnavailableTemporary`: a transient failure (storage busy, connection lost);
    /// retrying may help. Usually nothing was changed; but a write whose commit was lost in
    /// flight (a PostgreSQL connection dropped during `COMMIT`) may have been applied, so retry
    /// with the same arguments (the writes are idempotent) or read the secret back.
    #[error("Service Unavailable Temporary: {0}")]
    ServiceUnavailable(String),
}

impl Error {
    /// The Alibaba error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidParameter(_) => ErrorCode::InvalidParameter,
            Error::MissingParameter(_) => ErrorCode::MissingParameter,
            Error::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Error::NoPermission { .. } => ErrorCode::NoPermission,
            Error::ResourceNotFound(_) => ErrorCode::ResourceNotFound,
            Error::KeyNotFound(_) => ErrorCode::KeyNotFound,
            Error::ResourceExist(_) => ErrorCode::ResourceExist,
            Error::ResourceInDeleteWindow(_) => ErrorCode::ResourceInDeleteWindow,
            Error::KeyDisabled(_) => ErrorCode::KeyDisabled,
            Error::InternalFailure => ErrorCode::InternalFailure,
            Error::ServiceUnavailable(_) => ErrorCode::ServiceUnavailableTemporary,
        }
    }

    /// The HTTP status of [`Error::code`].
    pub fn http_status(&self) -> u16 {
        self.code().http_status()
    }

    /// Whether the same request may succeed if retried unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::ServiceUnavailable(_))
    }

    /// An `InvalidParameter` about `parameter`.
    pub(crate) fn invalid(parameter: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter(ValidationError::invalid(parameter, reason))
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        match e.code() {
            ErrorCode::MissingParameter => Error::MissingParameter(e),
            _ => Error::InvalidParameter(e),
        }
    }
}

impl From<secret_storage::StorageError> for Error {
    fn from(e: secret_storage::StorageError) -> Self {
        use secret_storage::StorageError;
        match e {
            StorageError::Backend {
                ref message,
                retryable: true,
            } => {
                tracing::warn!(error = %message, "storage failed transiently");
                Error::ServiceUnavailable("the storage backend is busy or unreachable".into())
            }
            other => {
                tracing::error!(error = %other, "storage failed");
                Error::InternalFailure
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_formats_and_maps_to_one_code() {
        let all = [
            Error::from(ValidationError::invalid("SecretName", "bad")),
            Error::from(ValidationError::missing("VersionId")),
            Error::LimitExceeded("at most 10 versions".into()),
            Error::NoPermission {
                action: Action::GetSecretValue,
                resource: "acs:kms:r:1:secret/a".into(),
            },
            Error::ResourceNotFound("The secret \"a\" is not found.".into()),
            Error::KeyNotFound("k".into()),
            Error::ResourceExist("The secret \"a\" already exists.".into()),
            Error::ResourceInDeleteWindow("a".into()),
            Error::KeyDisabled("k".into()),
            Error::InternalFailure,
            Error::ServiceUnavailable("busy".into()),
        ];
        let mut codes = std::collections::HashSet::new();
        for e in &all {
            assert!(!e.to_string().is_empty());
            assert!(codes.insert(e.code()), "two variants share {}", e.code());
            assert_eq!(e.http_status(), e.code().http_status());
        }
        assert_eq!(all[1].code(), ErrorCode::MissingParameter);
        assert!(all[10].is_retryable() && !all[9].is_retryable());
    }
}
