//! How PostgreSQL's errors become [`StorageError`]s, and which of them an update retries.

use postgres::Transaction;
use postgres::error::SqlState;
use secret_storage::StorageError;

/// Whether an update that failed with `error` should be run again from the start: a
/// serialization failure (40001), a deadlock (40P01), or a unique violation (23505) on the
/// secrets table's key, which a create racing another create of the same name can meet.
pub(crate) fn is_conflict(error: &postgres::Error) -> bool {
    let Some(db) = error.as_db_error() else {
        return false;
    };
    let code = db.code();
    code == &SqlState::T_R_SERIALIZATION_FAILURE
        || code == &SqlState::T_R_DEADLOCK_DETECTED
        || (code == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("secrets_pkey"))
}

/// Maps a PostgreSQL error met while `context`.
///
/// Retryable: lost or refused connections, conflicts ([`is_conflict`]), and the classes that
/// say the server is busy or going away (53 insufficient resources, 57P01–57P03 shutdown and
/// cannot-connect-now, 08 connection exceptions, 40 transaction rollbacks). Not retryable:
/// every other database error, and the client's own refusals that will recur on any
/// connection ([`is_permanent_client_error`]: a column of another type, an unexpected row
/// count, a bad configuration). The message names the SQLSTATE or the client's reason; it
/// never holds a payload (PostgreSQL does not echo bytea parameters in its errors, and the
/// client's reasons name types and positions, not values).
pub(crate) fn from_postgres(context: &str, error: &postgres::Error) -> StorageError {
    let (message, retryable) = classify(context, error);
    StorageError::Backend { message, retryable }
}

/// [`from_postgres`]'s message and whether the failure is retryable.
pub(crate) fn classify(context: &str, error: &postgres::Error) -> (String, bool) {
    match error.as_db_error() {
        None if is_permanent_client_error(error) => (
            format!("{context}: PostgreSQL client error: {}", with_causes(error)),
            false,
        ),
        // No database error: the connection failed, closed, or timed out.
        None => (
            format!(
                "{context}: PostgreSQL connection failed: {}",
                with_causes(error)
            ),
            true,
        ),
        Some(db) => {
            let code = db.code().code();
            // 57014 (a statement cancelled, as by `statement_timeout`) and 55P03 (a lock not
            // had in time, `lock_timeout`): nothing was applied, and the same call succeeds
            // once the contention is over.
            let retryable = is_conflict(error)
                || code.starts_with("08")
                || code.starts_with("40")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03" | "57014" | "55P03");
            (
                format!("{context}: PostgreSQL error {code}: {}", db.message()),
                retryable,
            )
        }
    }
}

/// Whether `error`, which is not PostgreSQL's own, is one the client raised about the query
/// or its configuration rather than about the connection, so that it would recur on any
/// connection: a parameter or column that does not convert, an unknown column, an
/// unexpected number of rows, columns or parameters, a message that cannot be encoded, a
/// client-side authentication failure (no password given), a bad connection string.
///
/// tokio-postgres does not expose its error kinds; they are told apart by the fixed
/// descriptions its `Display` writes for each (the PostgreSQL tests pin the ones a store
/// can meet). Anything not listed — I/O, a closed connection, TLS, a timeout, a protocol
/// message out of place — is taken as the connection's fault.
fn is_permanent_client_error(error: &postgres::Error) -> bool {
    const PERMANENT: [&str; 9] = [
        "error serializing parameter",
        "error deserializing column",
        "invalid column",
        "query returned an unexpected number of",
        "expected ",
        "error encoding message",
        "authentication error",
        "invalid connection string",
        "invalid configuration",
    ];
    let text = error.to_string();
    PERMANENT.iter().any(|p| text.starts_with(p))
}

/// `error`'s description followed by its causes' (tokio-postgres leaves them out of its
/// `Display`: "error deserializing column 0" says nothing of the types).
fn with_causes(error: &postgres::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The error an update surfaces after `attempts` tries all met a conflict, the last `last`.
pub(crate) fn gave_up(context: &str, attempts: u32, last: &postgres::Error) -> StorageError {
    let what = match last.code() {
        Some(c) if c == &SqlState::T_R_DEADLOCK_DETECTED => "a deadlock",
        Some(c) if c == &SqlState::UNIQUE_VIOLATION => "a racing create of the same name",
        _ => "a serialization failure",
    };
    StorageError::Backend {
        message: format!(
            "{context}: gave up after {attempts} attempts, each ending in {what} under \
             concurrent updates of the same secret; retry the operation"
        ),
        retryable: true,
    }
}

/// What a unit of work against PostgreSQL can fail with: PostgreSQL's own error (mapped to a
/// [`StorageError`] with the context it happened in), or a storage error already decided, such
/// as a record that does not decode.
#[derive(Debug)]
pub(crate) enum Failed {
    /// PostgreSQL or the connection failed.
    Postgres(postgres::Error),
    /// The work itself failed.
    Storage(StorageError),
    /// `COMMIT` was sent but no answer came back: the transaction may or may not have been
    /// applied, so it must not be retried blindly.
    CommitUnknown(postgres::Error),
}

impl From<postgres::Error> for Failed {
    fn from(e: postgres::Error) -> Self {
        Failed::Postgres(e)
    }
}

impl From<StorageError> for Failed {
    fn from(e: StorageError) -> Self {
        Failed::Storage(e)
    }
}

impl Failed {
    /// The storage error to report for a failure while `context`.
    pub(crate) fn into_storage(self, context: &str) -> StorageError {
        match self {
            Failed::Postgres(e) => from_postgres(context, &e),
            Failed::Storage(e) => e,
            Failed::CommitUnknown(e) => StorageError::Backend {
                message: format!(
                    "{context}: the connection failed during COMMIT, so whether the update was \
                     applied is unknown (read it back, or repeat it if it is idempotent): {e}"
                ),
                retryable: true,
            },
        }
    }

    /// Whether the connection was found closed before anything could have been committed:
    /// typically a pooled connection that the server dropped (a restart or a failover) while
    /// it sat idle. The work can run again on another connection.
    pub(crate) fn is_stale_connection(&self) -> bool {
        let Failed::Postgres(e) = self else {
            return false;
        };
        // A server that ends a session says why first (57P01 admin shutdown, 57P02 crash
        // shutdown); the client may read that message or find the socket closed.
        e.is_closed()
            || e.code()
                .is_some_and(|c| c == &SqlState::ADMIN_SHUTDOWN || c == &SqlState::CRASH_SHUTDOWN)
    }
}

/// Commits `tx`. A refusal that means nothing was applied ([`rolled_back`]: a deferred
/// constraint, a rollback such as a serialization failure) is [`Failed::Postgres`]; anything
/// else — a lost connection, the session terminated while committing, 40003 — leaves the
/// outcome unknown: [`Failed::CommitUnknown`].
pub(crate) fn commit(tx: Transaction<'_>) -> Result<(), Failed> {
    tx.commit().map_err(|e| {
        if e.code().is_some_and(|c| rolled_back(c.code())) {
            Failed::Postgres(e)
        } else {
            Failed::CommitUnknown(e)
        }
    })
}

/// Whether a `COMMIT` refused with SQLSTATE `code` applied nothing: class 23 (a deferred
/// constraint) and class 40 (a rollback), except 40003 `statement_completion_unknown`,
/// which says the opposite: the outcome is not known.
fn rolled_back(code: &str) -> bool {
    code != "40003" && matches!(code.get(..2), Some("23" | "40"))
}

#[cfg(test)]
mod tests {
    use super::rolled_back;

    #[test]
    fn only_refusals_that_applied_nothing_count_as_rolled_back() {
        for code in ["23505", "23503", "40001", "40P01", "40002", "40000"] {
            assert!(rolled_back(code), "{code}");
        }
        // 40003 statement_completion_unknown: the server does not know whether it committed.
        for code in ["40003", "08006", "57P01", "XX000", "", "4"] {
            assert!(!rolled_back(code), "{code}");
        }
    }
}
