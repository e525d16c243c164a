//! [`ServerConfig`]: where to listen, who may call, and the limits.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrets_manager::{Clock, SystemClock};

use crate::access_keys::AccessKeys;
use crate::shared_nonces::SharedNonces;

/// The default request-body limit: 1 MiB (a secret value is at most 30 KiB).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The default budget of request-body bytes held at once, across all connections: 64 MiB.
pub const DEFAULT_BODY_BUDGET: usize = 64 << 20;

/// The default cap on connections served at once: 512.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// The default capacity of the replay guard, in nonces: a nonce is kept for the 15-minute
/// window of its timestamp, so this sustains about 17,800 signed requests/s. Each nonce costs
/// about 10–20 bytes (160–320 MB when full).
pub const DEFAULT_NONCE_CAPACITY: usize = 16_000_000;

/// How often, by default, the server purges the secrets whose recovery window has ended: every
/// hour (and once at start).
pub const DEFAULT_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// How the server runs. Build with [`ServerConfig::new`] and adjust the public fields.
///
/// The [`secrets_manager::SecretsManager`] given to [`crate::serve`] must be built with
/// [`ServerConfig::access_keys`] as its authorizer
/// (`SecretsManager::builder(..).authorizer(keys.clone())`), or the policies are not enforced.
pub struct ServerConfig {
    /// The address to listen on; port 0 picks a free port ([`crate::Server::local_addr`]).
    pub listen: SocketAddr,
    /// The access keys that may sign requests, and their policies.
    pub access_keys: Arc<AccessKeys>,
    /// Serve HTTPS with this certificate chain and key (PEM files) instead of HTTP.
    pub tls: Option<TlsFiles>,
    /// The largest request body accepted; a larger one gets `Rejected.LimitExceeded` (400). Default
    /// [`DEFAULT_BODY_LIMIT`].
    pub body_limit: usize,
    /// How many bytes of request bodies the server holds at once, across all connections. A
    /// body is read before its signature can be checked, so this is what bounds the memory
    /// unauthenticated clients can take. A declared `Content-Length` is drawn from it before
    /// the body is read, a body without one as it arrives; the share is given back when the
    /// request ends. A request whose body does not fit gets `ServiceUnavailableTemporary` (503)
    /// at once. Raised to `body_limit` if smaller. Default [`DEFAULT_BODY_BUDGET`].
    pub body_budget: usize,
    /// How many connections are served at once (plain or TLS, in a handshake or idle between
    /// requests). At the cap the server stops accepting, and new connections wait in the
    /// kernel's listen backlog until one closes; an idle connection is closed after
    /// `read_timeout`, and so is one whose client reads nothing of its answers for that long.
    /// Each connection may hold a request head of up to about 408 KiB (hyper's
    /// read buffer), so this bounds that memory as `body_budget` bounds the bodies'. Raised
    /// to 1 if 0. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// How long a request's body may take to arrive, a client to send its headers, and a
    /// response to make any progress being written (a client that reads nothing of it loses
    /// the connection). Default 30 s.
    pub read_timeout: Duration,
    /// The largest accepted distance between a request's timestamp and the server's clock;
    /// a nonce is remembered that long after it is seen (longer for a request timed ahead of
    /// the server: until its time leaves the window). Default 15 minutes (SPEC §5).
    pub max_clock_skew: Duration,
    /// How many nonces the replay guard holds, for all access keys together; with more than
    /// one key, no key's may hold more than half. When the guard or a key's half is full,
    /// requests get `Rejected.Throttling` until old nonces expire. The sustained request rate
    /// allowed is the nonces held divided by the seconds of `max_clock_skew` (plus up to a
    /// minute). Default [`DEFAULT_NONCE_CAPACITY`].
    pub nonce_capacity: usize,
    /// A directory where the replay guard writes every nonce it accepts, before the request
    /// runs, so that a server started again refuses the replays of requests its earlier run
    /// accepted within their window. `None` (the default): nonces are kept in memory only,
    /// and a captured request can be replayed once after a restart. One server at a time
    /// may use a directory; it holds at most the nonces of about two windows (24 bytes each).
    /// Written without a sync: the log survives the process dying, not the machine.
    pub nonce_log: Option<PathBuf>,
    /// A replay guard shared with the other servers on the same store, asked after this
    /// server's own for every request, so that a request one server accepted is refused by
    /// all ([`SharedNonces`]). `None` (the default): each server refuses only replays of what
    /// it accepted itself.
    pub shared_nonces: Option<Arc<dyn SharedNonces>>,
    /// The server's clock, for timestamp checks (injectable for tests).
    pub clock: Arc<dyn Clock>,
    /// The `HostId` of error bodies. `None` (the default): the bound address.
    pub host_id: Option<String>,
    /// On shutdown, how long in-flight requests may take to finish. Default 30 s.
    pub shutdown_grace: Duration,
    /// How many threads run reading operations (GetSecretValue, Describe…, List…). Few
    /// threads that stay busy serve reads with less CPU than many that sleep and wake;
    /// writes use the runtime's blocking pool. Default: twice the number of CPUs, at least 4.
    pub read_threads: usize,
    /// How often the server purges the secrets whose recovery window has ended
    /// ([`secrets_manager::SecretsManager::purge_expired_secrets`]: record and ciphertexts),
    /// starting once it serves. A secret past its planned delete time already behaves as
    /// absent, and a request that names it purges it; this bounds how long the ciphertexts of
    /// one nobody asks for stay stored. Stopping the server ends a purge under way at its next
    /// secret (a storage's space reclamation that ends a purge, such as the sled value log's
    /// collection, runs to its end). `None`: never (purge some other way). Default
    /// [`DEFAULT_PURGE_INTERVAL`].
    pub purge_interval: Option<Duration>,
}

/// A certificate chain and its private key, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl ServerConfig {
    /// A plain-HTTP server on `listen` with the defaults.
    pub fn new(listen: SocketAddr, access_keys: Arc<AccessKeys>) -> Self {
        ServerConfig {
            listen,
            access_keys,
            tls: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_budget: DEFAULT_BODY_BUDGET,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_timeout: Duration::from_secs(30),
            max_clock_skew: Duration::from_secs(15 * 60),
            nonce_capacity: DEFAULT_NONCE_CAPACITY,
            nonce_log: None,
            shared_nonces: None,
            clock: Arc::new(SystemClock),
            host_id: None,
            shutdown_grace: Duration::from_secs(30),
            read_threads: std::thread::available_parallelism()
                .map_or(4, |n| n.get() * 2)
                .max(4),
            purge_interval: Some(DEFAULT_PURGE_INTERVAL),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("access_keys", &self.access_keys)
            .field("tls", &self.tls)
            .field("body_limit", &self.body_limit)
            .field("body_budget", &self.body_budget)
            .field("max_connections", &self.max_connections)
            .field("read_timeout", &self.read_timeout)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("nonce_capacity", &self.nonce_capacity)
            .field("nonce_log", &self.nonce_log)
            .field("shared_nonces", &self.shared_nonces)
            .field("host_id", &self.host_id)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("read_threads", &self.read_threads)
            .field("purge_interval", &self.purge_interval)
            .finish_non_exhaustive()
    }
}
