//! [`NonceTable`]: the signed-request nonces a server accepted, shared by every server on one
//! PostgreSQL store, so that a request accepted by one instance is refused as a replay by all.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use secret_storage::StorageError;

use crate::pool::{Pool, with_conn};

/// How often (seconds) a table handle deletes the nonces no server needs any more.
const SWEEP_EVERY: i64 = 60;

/// How much longer than two of its own windows a sweeping server keeps a nonce (seconds):
/// room for servers whose clocks run behind its own, or whose windows are wider. A row past
/// every window refuses nothing.
const SWEEP_MARGIN: i64 = 600;

/// The `request_nonces` table of a [`PostgresStorage`](crate::PostgresStorage)'s schema (from
/// [`PostgresStorage::nonce_table`](crate::PostgresStorage::nonce_table)).
///
/// Each nonce is kept as two 64-bit digests (of the access key id, and of the key id with the
/// nonce; the caller computes them), the unix second its window runs from (`seen_at`: the
/// later of the request's time and the recording server's clock), and which call recorded it.
/// Recording is one prepared statement: a nonce not in the table, or in it but past the asking
/// server's window, is (re)inserted and reported fresh; one in it within the window is
/// reported used. So of two servers that get the same request, only one accepts it; each
/// applies its own window (its `max_clock_skew`) to when the nonce was seen, so a server with
/// a wider window remembers longer. A call that retries on a new connection after the first
/// one broke (its insert may have committed) recognises its own row, and is not told its
/// request is a replay.
///
/// The table has connections of its own, with `synchronous_commit` off: a nonce's row is not
/// waited for on disk (a crash of PostgreSQL may forget the last moments' nonces, as the file
/// log of `secrets-server` forgets them on a power loss), so a request pays one round trip,
/// not a WAL flush. About once a minute a handle deletes the rows seen more than two of its
/// windows and ten minutes ago.
#[derive(Clone)]
pub struct NonceTable {
    pool: Pool,
    schema: String,
    /// The unix second of this handle's last sweep.
    swept_at: Arc<AtomicI64>,
}

impl fmt::Debug for NonceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceTable")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl NonceTable {
    pub(crate) fn new(pool: Pool, schema: String) -> Self {
        NonceTable {
            pool,
            schema,
            swept_at: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// Records the nonce digest `nonce` of the access key digest `access_key`, seen at unix
    /// second `seen_at`, for a server with a window of `window` seconds, at unix time `now`:
    /// `Ok(true)` if no call recorded it, or only longer ago than the window (`seen_at +
    /// window < now`), `Ok(false)` if one did — a replay. Through the window's last second a
    /// nonce is remembered, as the timestamp check still accepts the request then.
    ///
    /// Errors: `Backend` when PostgreSQL cannot be reached or refuses (the caller must then not
    /// accept the request).
    pub fn record(
        &self,
        access_key: u64,
        nonce: u64,
        seen_at: i64,
        window: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        // Digests are stored as PostgreSQL's signed bigint, bit for bit.
        let (key, id) = (as_bigint(access_key), as_bigint(nonce));
        let call = as_bigint(next_call());
        let since = now.saturating_sub(window);
        let fresh = with_conn(&self.pool, "recording a request nonce", |conn| {
            let (client, st) = conn.parts()?;
            let rows = client.execute(&st.nonce_record, &[&key, &id, &seen_at, &call, &since])?;
            Ok(rows == 1)
        })?;
        self.sweep(window, now);
        Ok(fresh)
    }

    /// Deletes the rows seen more than two windows and [`SWEEP_MARGIN`] before `now`, if this
    /// handle has not done so in the last minute. Best effort: a failure leaves them for the
    /// next sweep (a row past every window refuses nothing).
    fn sweep(&self, window: i64, now: i64) {
        let last = self.swept_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < SWEEP_EVERY
            || self
                .swept_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let before = now
            .saturating_sub(window.saturating_mul(2))
            .saturating_sub(SWEEP_MARGIN);
        let _ = with_conn(&self.pool, "deleting old request nonces", |conn| {
            let (client, st) = conn.parts()?;
            client.execute(&st.nonce_sweep, &[&before])?;
            Ok(())
        });
    }
}

/// A number for a call of [`NonceTable::record`] that no other call shares: this process's
/// calls count up from a start another process will not share. (Two calls recording one nonce
/// with the same number would each take the other's row for its own; with 64-bit numbers
/// started apart, that needs some 2^63 calls in between.)
fn next_call() -> u64 {
    static START: OnceLock<u64> = OnceLock::new();
    static CALLS: AtomicU64 = AtomicU64::new(0);
    START
        .get_or_init(random_start)
        .wrapping_add(CALLS.fetch_add(1, Ordering::Relaxed))
}

/// The clock's nanoseconds and the process id, mixed.
fn random_start() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32);
    // splitmix64's finaliser, so that close starts land far apart.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `n`'s bits as a signed 64-bit integer.
fn as_bigint(n: u64) -> i64 {
    i64::from_ne_bytes(n.to_ne_bytes())
}
