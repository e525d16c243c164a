//! [`SharedNonces`]: a replay guard several servers share, so that a request one of them
//! accepted is refused as a replay by all.

use std::fmt;

/// A replay guard shared by the servers that serve one store (instances behind a load
/// balancer on one PostgreSQL store, say): without it each server refuses only the replays
/// of requests it accepted itself.
///
/// The server asks it after its own guard accepted the nonce, on a blocking thread, before
/// the operation runs; a request it refuses gets `SignatureNonceUsed` (400), and one it
/// cannot record `ServiceUnavailableTemporary` (503). Nonces arrive as digests: `access_key`
/// is the first 8 bytes of SHA-256 of the AccessKeyId, `nonce` of SHA-256 of the id's length
/// (8 bytes, big-endian), the id and the nonce, both read little-endian.
///
/// `secret_storage_postgres::NonceTable` keeps them in the store's database; `secrets serve`
/// uses it on a PostgreSQL store.
pub trait SharedNonces: Send + Sync + fmt::Debug {
    /// Records the nonce, seen at `seen_at` (unix seconds: the later of the request's time and
    /// the server's clock), for a server whose window (`max_clock_skew`) is `window` seconds,
    /// at unix time `now`: `Ok(true)` if no server recorded it, or only so long ago that
    /// `seen_at + window < now` for the one recorded; `Ok(false)` for a replay. Through the
    /// window's last second a nonce is remembered, since the timestamp check still accepts a
    /// request exactly `window` seconds off. Must be atomic across the servers: of two
    /// recording one nonce at once, one gets `false`.
    ///
    /// Errors: why it could not be recorded, for the log (never shown to the caller).
    fn record(
        &self,
        access_key: u64,
        nonce: u64,
        seen_at: i64,
        window: i64,
        now: i64,
    ) -> Result<bool, String>;
}
