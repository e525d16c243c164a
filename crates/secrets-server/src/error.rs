//! Errors: [`Rejection`], a request refused by the gateway (authentication, framing) with
//! its Alibaba code, and [`ServerError`], why the server could not start.

use std::path::PathBuf;

use secrets_wire::CallError;

use crate::access_keys::AccessKeysError;

/// A refused request: the Alibaba code, the HTTP status and the message for the caller.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) code: &'static str,
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl Rejection {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Rejection {
            code,
            status,
            message: message.into(),
        }
    }

    /// `IncompleteSignature`: the signature's parts are missing or malformed.
    pub(crate) fn incomplete_signature(why: impl Into<String>) -> Self {
        Rejection::new("IncompleteSignature", 400, why)
    }

    /// `InvalidSignatureMethod`: an algorithm this server does not verify.
    pub(crate) fn signature_method(why: impl Into<String>) -> Self {
        Rejection::new("InvalidSignatureMethod", 400, why)
    }

    /// `InvalidAccessKeyId.NotFound`.
    pub(crate) fn access_key_not_found() -> Self {
        Rejection::new(
            "InvalidAccessKeyId.NotFound",
            404,
            "Specified access key is not found.",
        )
    }

    /// `InvalidTimeStamp.Format`.
    pub(crate) fn timestamp_format(name: &str) -> Self {
        Rejection::new(
            "InvalidTimeStamp.Format",
            400,
            format!("Specified {name} is not valid: expected YYYY-MM-DDTHH:MM:SSZ (UTC)."),
        )
    }

    /// `InvalidTimeStamp.Expired`: `given` is more than `window_secs` from `server_time`.
    pub(crate) fn timestamp_expired(given: &str, server_time: &str, window_secs: i64) -> Self {
        Rejection::new(
            "InvalidTimeStamp.Expired",
            400,
            format!(
                "Specified time stamp or date value is expired: {given} is more than {} \
                 from the server time {server_time}.",
                describe_window(window_secs)
            ),
        )
    }

    /// `SignatureNonceUsed`.
    pub(crate) fn nonce_used() -> Self {
        Rejection::new(
            "SignatureNonceUsed",
            400,
            "Specified signature nonce was used already.",
        )
    }

    /// `SignatureDoesNotMatch`; the message ends with the server's string to sign, which the
    /// old Python SDK compares with its own.
    pub(crate) fn signature_mismatch(why: &str, string_to_sign: &str) -> Self {
        Rejection::new(
            "SignatureDoesNotMatch",
            400,
            format!("{why} server string to sign is:{string_to_sign}"),
        )
    }

    /// `MissingParameter`.
    pub(crate) fn missing(name: &str) -> Self {
        Rejection::new(
            "MissingParameter",
            400,
            format!("The parameter \"{name}\" is needed but not provided."),
        )
    }

    /// `InvalidParameter`.
    pub(crate) fn invalid(name: &str, why: &str) -> Self {
        Rejection::new(
            "InvalidParameter",
            400,
            format!("The specified parameter \"{name}\" is invalid: {why}."),
        )
    }

    /// The body is larger than the limit: `Rejected.LimitExceeded`, with its status in SPEC §4
    /// (400, not HTTP's 413: a code has one status).
    pub(crate) fn too_large(limit: usize) -> Self {
        Rejection::new(
            "Rejected.LimitExceeded",
            400,
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    /// `InvalidApi.NotFound` for a path other than `/` or a method other than GET and POST.
    pub(crate) fn no_such_api(method: &str, path: &str) -> Self {
        let shown: String = path
            .chars()
            .take(64)
            .flat_map(char::escape_default)
            .collect();
        Rejection::new(
            "InvalidApi.NotFound",
            404,
            format!(
                "The specified api is not found: {} {shown}; use GET or POST on /.",
                method.escape_default()
            ),
        )
    }

    /// `Rejected.Throttling`: the replay guard is full.
    pub(crate) fn throttled() -> Self {
        Rejection::new(
            "Rejected.Throttling",
            429,
            "The QPS upper limit is exceeded: too many requests within the replay window.",
        )
    }

    /// `ServiceUnavailableTemporary` (503): the server already holds as many request bodies as
    /// its budget allows. Retryable, as that code is everywhere else.
    pub(crate) fn bodies_over_budget() -> Self {
        Rejection::new(
            "ServiceUnavailableTemporary",
            503,
            "Service Unavailable Temporary: the server is holding as many request bodies as its \
             memory budget allows; retry shortly.",
        )
    }

    /// `ServiceUnavailableTemporary` (503): the replay guard could not write the nonce to its
    /// log (a full disk, say), so the request is not accepted.
    pub(crate) fn nonce_log_failed() -> Self {
        Rejection::new(
            "ServiceUnavailableTemporary",
            503,
            "Service Unavailable Temporary: the server could not record the request's nonce; \
             retry shortly.",
        )
    }

    /// The body did not arrive in time: `InvalidParameter`, with its status in SPEC §4 (400,
    /// not HTTP's 408).
    pub(crate) fn body_timeout() -> Self {
        Rejection::new(
            "InvalidParameter",
            400,
            "The request body did not arrive in time.",
        )
    }

    /// `InternalFailure`, with the details kept for the log.
    pub(crate) fn internal() -> Self {
        Rejection::new("InternalFailure", 500, "An internal error occurred.")
    }
}

impl From<CallError> for Rejection {
    fn from(e: CallError) -> Self {
        Rejection {
            code: e.code(),
            status: e.http_status(),
            message: e.message(),
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("cannot use the TLS certificate {cert} and key {key}: {reason}")]
    Tls {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        reason: String,
    },
    /// The access keys could not be loaded.
    #[error(transparent)]
    AccessKeys(#[from] AccessKeysError),
    /// The replay guard's nonce log could not be opened (another server uses it, or a file
    /// in it is not a segment of the log).
    #[error("cannot open the nonce log {dir}: {source}")]
    NonceLog {
        /// The log's directory.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The async runtime could not be started or waited on.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// A window in words: "15 minutes", "90 seconds", "1 minute".
fn describe_window(secs: i64) -> String {
    let (n, unit) = if secs % 60 == 0 && secs != 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
