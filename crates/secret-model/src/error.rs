//! The error codes of the Alibaba API (SPEC §4) and the validation error every parser returns.

use std::fmt;

/// One of the error codes the Alibaba KMS Secrets Manager API answers with.
///
/// Every error the store reports maps to exactly one of these; the server puts
/// [`ErrorCode::as_str`] in the `Code` field and [`ErrorCode::http_status`] on the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `InvalidParameter` (400): a parameter is malformed or out of range.
    InvalidParameter,
    /// `MissingParameter` (400): a required parameter is absent.
    MissingParameter,
    /// `Rejected.LimitExceeded` (400): a quota (versions, labels, tags) would be exceeded.
    LimitExceeded,
    /// `Forbidden.NoPermission` (403): the authorizer denied the action.
    NoPermission,
    /// `Forbidden.ResourceNotFound` (404): the secret, version or stage does not exist.
    ResourceNotFound,
    /// `Forbidden.KeyNotFound` (404): the encryption key does not exist.
    KeyNotFound,
    /// `Rejected.ResourceExist` (409): the secret or version already exists.
    ResourceExist,
    /// `Rejected.ResourceInDeleteWindow` (409): the secret is pending deletion.
    ResourceInDeleteWindow,
    /// `Rejected.Disabled` (409): the encryption key is disabled.
    KeyDisabled,
    /// `Rejected.Throttling` (429): too many requests.
    Throttling,
    /// `InternalFailure` (500): storage or cryptographic failure inside the store.
    InternalFailure,
    /// `ServiceUnavailableTemporary` (503): a transient failure; retrying may help.
    ServiceUnavailableTemporary,
}

impl ErrorCode {
    /// Every code, in the order of SPEC §4.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidParameter,
        ErrorCode::MissingParameter,
        ErrorCode::LimitExceeded,
        ErrorCode::NoPermission,
        ErrorCode::ResourceNotFound,
        ErrorCode::KeyNotFound,
        ErrorCode::ResourceExist,
        ErrorCode::ResourceInDeleteWindow,
        ErrorCode::KeyDisabled,
        ErrorCode::Throttling,
        ErrorCode::InternalFailure,
        ErrorCode::ServiceUnavailableTemporary,
    ];

    /// The code exactly as it appears in Alibaba's `Code` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameter => "InvalidParameter",
            ErrorCode::MissingParameter => "MissingParameter",
            ErrorCode::LimitExceeded => "Rejected.LimitExceeded",
            ErrorCode::NoPermission => "Forbidden.NoPermission",
            ErrorCode::ResourceNotFound => "Forbidden.ResourceNotFound",
            ErrorCode::KeyNotFound => "Forbidden.KeyNotFound",
            ErrorCode::ResourceExist => "Rejected.ResourceExist",
            ErrorCode::ResourceInDeleteWindow => "Rejected.ResourceInDeleteWindow",
            ErrorCode::KeyDisabled => "Rejected.Disabled",
            ErrorCode::Throttling => "Rejected.Throttling",
            ErrorCode::InternalFailure => "InternalFailure",
            ErrorCode::ServiceUnavailableTemporary => "ServiceUnavailableTemporary",
        }
    }

    /// The HTTP status the server answers with for this code.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidParameter
            | ErrorCode::MissingParameter
            | ErrorCode::LimitExceeded => 400,
            ErrorCode::NoPermission => 403,
            ErrorCode::ResourceNotFound | ErrorCode::KeyNotFound => 404,
            ErrorCode::ResourceExist
            | ErrorCode::ResourceInDeleteWindow
            | ErrorCode::KeyDisabled => 409,
            ErrorCode::Throttling => 429,
            ErrorCode::InternalFailure => 500,
            ErrorCode::ServiceUnavailableTemporary => 503,
        }
    }

    /// Alibaba's default message for the code.
    pub const fn default_message(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameter => "The specified parameter is invalid.",
            ErrorCode::MissingParameter => "A required parameter is needed but not provided.",
            ErrorCode::LimitExceeded => "A quota is exceeded.",
            ErrorCode::NoPermission => "You are not authorized to perform the operation.",
            ErrorCode::ResourceNotFound => "The resource is not found.",
            ErrorCode::KeyNotFound => "The specified Key is not found.",
            ErrorCode::ResourceExist => "The resource already exists.",
            ErrorCode::ResourceInDeleteWindow => "The secret is planned to be deleted.",
            ErrorCode::KeyDisabled => "The request was rejected because the key state is Disabled.",
            ErrorCode::Throttling => "The QPS upper limit is exceeded.",
            ErrorCode::InternalFailure => "An internal error occurred.",
            ErrorCode::ServiceUnavailableTemporary => "Service Unavailable Temporary.",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parameter failed validation: the `InvalidParameter` (or `MissingParameter`) of the API.
///
/// The message names the parameter (with Alibaba's spelling, such as `SecretName`) and says what
/// rule it broke. It never repeats a secret value, and repeats other input only in short,
/// printable form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct ValidationError {
    parameter: &'static str,
    kind: ValidationKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ValidationKind {
    Missing,
    Invalid(String),
}

impl ValidationError {
    /// The parameter `parameter` is invalid because of `reason`.
    pub fn invalid(parameter: &'static str, reason: impl Into<String>) -> Self {
        ValidationError {
            parameter,
            kind: ValidationKind::Invalid(reason.into()),
        }
    }

    /// The required parameter `parameter` was not given.
    pub fn missing(parameter: &'static str) -> Self {
        ValidationError {
            parameter,
            kind: ValidationKind::Missing,
        }
    }

    /// The same error, for the parameter `parameter`: a value parsed as one kind (a secret
    /// name, say) that the request gave under another parameter (`ResourceId.N`).
    ///
    /// ```
    /// use secret_model::{SecretName, ValidationError};
    /// let e = SecretName::parse("bad name").unwrap_err().for_parameter("ResourceId");
    /// assert_eq!(e.parameter(), "ResourceId");
    /// assert!(e.message().contains("\"ResourceId\""));
    /// ```
    #[must_use]
    pub fn for_parameter(self, parameter: &'static str) -> Self {
        ValidationError { parameter, ..self }
    }

    /// The parameter at fault, spelled as in Alibaba's API (`SecretName`, `Tags`, …).
    pub fn parameter(&self) -> &'static str {
        self.parameter
    }

    /// `InvalidParameter` or `MissingParameter`.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            ValidationKind::Missing => ErrorCode::MissingParameter,
            ValidationKind::Invalid(_) => ErrorCode::InvalidParameter,
        }
    }

    /// The human-readable message, naming the parameter and the rule it broke.
    pub fn message(&self) -> String {
        match &self.kind {
            ValidationKind::Missing => {
                format!(
                    "The parameter \"{}\" is needed but not provided.",
                    self.parameter
                )
            }
            ValidationKind::Invalid(reason) => {
                format!(
                    "The specified parameter \"{}\" is invalid: {reason}",
                    self.parameter
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_status_and_message() {
        let mut names = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(names.insert(code.as_str()), "duplicate code {code}");
            assert!((400..600).contains(&code.http_status()));
            assert!(code.default_message().ends_with('.'));
            assert_eq!(code.to_string(), code.as_str());
        }
    }

    #[test]
    fn statuses_follow_the_spec_table() {
        assert_eq!(ErrorCode::InvalidParameter.http_status(), 400);
        assert_eq!(ErrorCode::NoPermission.http_status(), 403);
        assert_eq!(ErrorCode::KeyNotFound.http_status(), 404);
        assert_eq!(ErrorCode::ResourceInDeleteWindow.http_status(), 409);
        assert_eq!(ErrorCode::KeyDisabled.as_str(), "Rejected.Disabled");
        assert_eq!(ErrorCode::Throttling.http_status(), 429);
        assert_eq!(ErrorCode::ServiceUnavailableTemporary.http_status(), 503);
    }

    #[test]
    fn validation_errors_name_the_parameter() {
        let e = ValidationError::invalid("SecretName", "too long");
        assert_eq!(e.code(), ErrorCode::InvalidParameter);
        assert!(e.to_string().contains("\"SecretName\""));
        let m = ValidationError::missing("VersionId");
        assert_eq!(m.code(), ErrorCode::MissingParameter);
        assert_eq!(
            m.to_string(),
            "The parameter \"VersionId\" is needed but not provided."
        );
    }
}
