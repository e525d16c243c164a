//! Printing responses and errors, and the exit codes.

use std::io::{IsTerminal, Write};

use serde_json::Value;

/// Exit code for success.
pub(crate) const EXIT_OK: u8 = 0;
const EXIT_INTERNAL: u8 = 1;
const EXIT_INVALID: u8 = 2;
/// Exit code for a command line that is not a command (the same as for invalid parameters).
pub(crate) const EXIT_USAGE: u8 = EXIT_INVALID;
const EXIT_NOT_FOUND: u8 = 3;
const EXIT_CONFLICT: u8 = 4;
const EXIT_PERMISSION: u8 = 5;

/// A failed command: the error JSON for stderr and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) body: Value,
    pub(crate) exit: u8,
}

impl Failure {
    /// An error with an Alibaba code, HTTP status and message.
    pub(crate) fn api(code: &str, status: u16, message: String) -> Self {
        let exit = match status {
            400 => EXIT_INVALID,
            403 => EXIT_PERMISSION,
            404 => EXIT_NOT_FOUND,
            409 => EXIT_CONFLICT,
            _ => EXIT_INTERNAL,
        };
        Failure {
            body: serde_json::json!({
                "RequestId": secrets_wire::new_request_id(),
                "HostId": "secrets-cli",
                "Code": code,
                "Message": message,
                "Recommend": "",
            }),
            exit,
        }
    }

    /// Bad usage of the command line itself.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::api("InvalidParameter", 400, message.into())
    }

    /// The store could not be opened or used.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::api("InternalFailure", 500, message.into())
    }
}

impl From<secrets_wire::CallError> for Failure {
    fn from(e: secrets_wire::CallError) -> Self {
        Failure::api(e.code(), e.http_status(), e.message())
    }
}

impl From<secrets_manager::Error> for Failure {
    fn from(e: secrets_manager::Error) -> Self {
        Failure::api(e.code().as_str(), e.http_status(), e.to_string())
    }
}

fn render(value: &Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.unwrap_or_else(|_| "{}".to_owned())
}

/// Prints a response on stdout: pretty on a terminal, one line otherwise. If it cannot be
/// written, says so on stderr (exit 1).
pub(crate) fn print_response(value: &Value) -> u8 {
    let mut out = std::io::stdout().lock();
    let pretty = out.is_terminal();
    match writeln!(out, "{}", render(value, pretty)).and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        // The operation was carried out; only its answer is lost: say so where errors go.
        Err(e) => print_failure(&Failure::internal(format!(
            "the command was carried out, but its answer could not be written to standard \
             output: {e}"
        ))),
    }
}

/// Prints a failure's error JSON on stderr and gives its exit code.
pub(crate) fn print_failure(failure: &Failure) -> u8 {
    let mut err = std::io::stderr().lock();
    let pretty = err.is_terminal();
    let _ = writeln!(err, "{}", render(&failure.body, pretty));
    failure.exit
}
