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
/// cannot-connect-now, 08 connection exceptions, 40 transaction rollbacks). Everything else is
/// not retryable. The message names the SQLSTATE; it never holds a payload (PostgreSQL does
/// not echo bytea parameters in its errors).
pub(crate) fn from_postgres(context: &str, error: &postgres::Error) -> StorageError {
    match error.as_db_error() {
        None => StorageError::Backend {
            // No database error: the connection failed, closed, or timed out.
            message: format!("{context}: PostgreSQL connection failed: {error}"),
            retryable: true,
        },
        Some(db) => {
            let code = db.code().code();
            let retryable = is_conflict(error)
                || code.starts_with("08")
                || code.starts_with("40")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03");
            StorageError::Backend {
                message: format!("{context}: PostgreSQL error {code}: {}", db.message()),
                retryable,
            }
        }
    }
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

/// Commits `tx`. A refusal that means nothing was applied (class 23, a deferred constraint;
/// class 40, a rollback such as a serialization failure) is [`Failed::Postgres`]; anything
/// else — a lost connection, the session terminated while committing — leaves the outcome
/// unknown: [`Failed::CommitUnknown`].
pub(crate) fn commit(tx: Transaction<'_>) -> Result<(), Failed> {
    tx.commit().map_err(|e| {
        let rolled_back = e
            .as_db_error()
            .is_some_and(|db| matches!(db.code().code().get(..2), Some("23" | "40")));
        if rolled_back {
            Failed::Postgres(e)
        } else {
            Failed::CommitUnknown(e)
        }
    })
}
