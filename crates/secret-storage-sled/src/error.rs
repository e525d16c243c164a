//! How sled's errors become [`StorageError`]s.

use std::io::ErrorKind;

use secret_storage::StorageError;
use sled::transaction::TransactionError;

/// Maps a sled error: reported corruption is `Corrupt`, everything else `Backend`, retryable
/// only for I/O errors that say so (interrupted, would block, timed out).
pub(crate) fn from_sled(context: &str, error: sled::Error) -> StorageError {
    match error {
        sled::Error::Corruption { .. } => {
            StorageError::Corrupt(format!("{context}: sled reports corruption: {error}"))
        }
        sled::Error::Io(io) => StorageError::Backend {
            retryable: matches!(
                io.kind(),
                ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
            ),
            message: format!("{context}: I/O error: {io}"),
        },
        other => StorageError::Backend {
            message: format!("{context}: {other}"),
            retryable: false,
        },
    }
}

/// Maps an I/O error of the store's own files (the journal, the value log) as sled's are.
pub(crate) fn io(context: &str, error: &std::io::Error) -> StorageError {
    from_sled(
        context,
        sled::Error::Io(std::io::Error::new(error.kind(), error.to_string())),
    )
}

/// Maps the outcome of a sled transaction: an abort carries our own error.
pub(crate) fn from_transaction(
    context: &str,
    error: TransactionError<StorageError>,
) -> StorageError {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => from_sled(context, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_retryable_only_when_transient() {
        let transient = from_sled("x", sled::Error::Io(ErrorKind::Interrupted.into()));
        assert!(matches!(
            transient,
            StorageError::Backend {
                retryable: true,
                ..
            }
        ));
        let fatal = from_sled("x", sled::Error::Io(ErrorKind::PermissionDenied.into()));
        assert!(matches!(
            fatal,
            StorageError::Backend {
                retryable: false,
                ..
            }
        ));
        let unsupported = from_sled("x", sled::Error::Unsupported("no".into()));
        assert!(matches!(
            unsupported,
            StorageError::Backend {
                retryable: false,
                ..
            }
        ));
    }

    #[test]
    fn aborts_pass_our_error_through() {
        let e = from_transaction("x", TransactionError::Abort(StorageError::NameMismatch));
        assert!(matches!(e, StorageError::NameMismatch));
    }
}
