//! [`NonceTable`]: the signed-request nonces a server accepted, shared by every server on one
//! PostgreSQL store, so that a request accepted by one instance is refused as a replay by all.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use postgres::SimpleQueryMessage;
use secret_storage::StorageError;

use crate::PostgresStorage;
use crate::error::Failed;
use crate::pool::with_conn;

/// How often (seconds) a table handle deletes the expired nonces.
const SWEEP_EVERY: i64 = 60;

/// The `request_nonces` table of a [`PostgresStorage`]'s schema, sharing its connection pool
/// (from [`PostgresStorage::nonce_table`]).
///
/// Each nonce is kept as two 64-bit digests (of the access key id, and of the key id with the
/// nonce; the caller computes them) and the unix second it may be forgotten at. Recording is
/// one statement: a nonce not in the table, or in it with an expiry that has passed, is
/// (re)inserted and reported fresh; one in it unexpired is reported used. So two servers that
/// get the same request at once cannot both accept it.
///
/// Written with `synchronous_commit` off, for that transaction only: a nonce's row is not
/// waited for on disk (a server crash of PostgreSQL may forget the last moments' nonces, as
/// the file log of `secrets-server` forgets them on a power loss), so a request pays one round
/// trip, not a WAL flush. Every minute a handle also deletes the expired rows.
#[derive(Clone)]
pub struct NonceTable {
    storage: PostgresStorage,
    /// The unix second of this handle's last sweep.
    swept_at: Arc<AtomicI64>,
}

impl fmt::Debug for NonceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceTable")
            .field("schema", &self.storage.schema())
            .finish_non_exhaustive()
    }
}

impl NonceTable {
    pub(crate) fn new(storage: PostgresStorage) -> Self {
        NonceTable {
            storage,
            swept_at: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// Records the nonce digest `nonce` of the access key digest `access_key` until
    /// `expires_at`, at unix time `now`: `Ok(true)` if it was not recorded (or only with an
    /// expiry at or before `now`), `Ok(false)` if it was — a replay.
    ///
    /// Errors: `Backend` when PostgreSQL cannot be reached or refuses (the caller must then not
    /// accept the request).
    pub fn record(
        &self,
        access_key: u64,
        nonce: u64,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        // Digests are stored as PostgreSQL's signed bigint, bit for bit.
        let (key, id) = (as_bigint(access_key), as_bigint(nonce));
        // One round trip: a simple query may carry several statements, but no parameters; all
        // four values are integers, formatted as such.
        let sql = format!(
            "BEGIN; SET LOCAL synchronous_commit TO off; \
             INSERT INTO request_nonces (access_key, nonce, expires_at) \
             VALUES ({key}, {id}, {expires_at}) \
             ON CONFLICT (access_key, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at \
             WHERE request_nonces.expires_at <= {now}; COMMIT"
        );
        let fresh = with_conn(&self.storage.pool, "recording a request nonce", |conn| {
            let client = conn.client();
            let messages = match client.simple_query(&sql) {
                Ok(messages) => messages,
                Err(e) => {
                    // A statement that failed leaves the transaction open and aborted: end it
                    // before the connection goes back to the pool (if the connection broke,
                    // the pool drops it anyway).
                    let _ = client.batch_execute("ROLLBACK");
                    return Err(Failed::Postgres(e));
                }
            };
            let counts: Vec<u64> = messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::CommandComplete(rows) => Some(*rows),
                    _ => None,
                })
                .collect();
            // BEGIN, SET, INSERT, COMMIT.
            match counts.as_slice() {
                [_, _, inserted, _] => Ok(*inserted == 1),
                other => Err(Failed::Storage(StorageError::Backend {
                    message: format!(
                        "recording a request nonce: PostgreSQL answered {} statements, not 4",
                        other.len()
                    ),
                    retryable: false,
                })),
            }
        })?;
        self.sweep(now);
        Ok(fresh)
    }

    /// Deletes the expired rows, if this handle has not done so in the last minute. Best
    /// effort: a failure leaves them for the next sweep (they refuse nothing once expired).
    fn sweep(&self, now: i64) {
        let last = self.swept_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < SWEEP_EVERY
            || self
                .swept_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let _ = with_conn(
            &self.storage.pool,
            "deleting expired request nonces",
            |conn| {
                let (client, st) = conn.parts()?;
                client.execute(&st.nonce_sweep, &[&now])?;
                Ok(())
            },
        );
    }
}

/// `n`'s bits as a signed 64-bit integer.
fn as_bigint(n: u64) -> i64 {
    i64::from_ne_bytes(n.to_ne_bytes())
}
