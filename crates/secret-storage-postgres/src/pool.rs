//! The connection pool: r2d2 over `postgres::Client`s, plain or TLS (rustls), each connection
//! keeping the statements it has prepared.

use std::fs::File;
use std::io::BufReader;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use postgres::config::SslMode;
use postgres::{Client, NoTls};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secret_storage::StorageError;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::PostgresConfig;
use crate::error::{Failed, classify};
use crate::statements::Statements;

/// How connections are made: over plain TCP, or over TLS with a rustls configuration.
#[derive(Clone)]
enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

/// Opens connections for r2d2.
pub(crate) struct Manager {
    config: postgres::Config,
    tls: Tls,
    /// The set-up every new connection runs: search path, durability.
    session_setup: String,
    /// Whether this pool's commits may skip waiting for the WAL flush
    /// (`synchronous_commit = off`): only for the nonce table's connections, never the store's.
    relaxed_commit: bool,
    /// Why the last attempt to open a connection failed (`None` once one succeeds): r2d2's
    /// own error says only that a checkout timed out.
    last_connect_error: Arc<Mutex<Option<ConnectError>>>,
}

/// Why opening a connection failed, as [`classify`] judged it.
#[derive(Clone)]
struct ConnectError {
    message: String,
    retryable: bool,
}

impl ConnectError {
    fn of(e: &postgres::Error) -> Self {
        let (message, retryable) = classify("connecting", e);
        ConnectError { message, retryable }
    }

    /// What a caller that got no connection is told.
    fn into_storage(self) -> StorageError {
        StorageError::Backend {
            message: format!("no PostgreSQL connection could be had: {}", self.message),
            retryable: self.retryable,
        }
    }
}

/// One pooled connection and the statements prepared on it.
pub(crate) struct Conn {
    client: Client,
    statements: Option<Statements>,
}

impl Conn {
    /// The client and this connection's prepared statements, prepared on first use (after
    /// the schema exists).
    pub(crate) fn parts(&mut self) -> Result<(&mut Client, &Statements), postgres::Error> {
        let statements = match self.statements.take() {
            Some(s) => s,
            None => Statements::prepare(&mut self.client)?,
        };
        let statements = self.statements.insert(statements);
        Ok((&mut self.client, statements))
    }

    /// The client, for statements that are not prepared (migrations).
    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// What the `postgres` crate found wrong in a connection string, fit to show: it names an
/// option, never a value — except that a word it took for an unknown option may be the rest
/// of a value with an unquoted space (`password=two words=x`), so an "option" that is not a
/// keyword is not repeated.
fn shown_cause(cause: &(dyn std::error::Error + 'static)) -> String {
    let cause = cause.to_string();
    match cause
        .strip_prefix("unknown option `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        Some(option) if !option.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
            "a word that is not an option (not repeated: it may be part of a value with an \
             unquoted space)"
                .to_owned()
        }
        _ => cause,
    }
}

impl Manager {
    /// Parses the connection string and sets up TLS as `config` asks.
    /// Errors: `Backend` (not retryable) for a malformed string or an unreadable root file.
    pub(crate) fn new(config: &PostgresConfig) -> Result<Self, StorageError> {
        let schema = config.checked_schema()?;
        let parsed =
            postgres::Config::from_str(&config.connection).map_err(|e| StorageError::Backend {
                // The cause names the option at fault (`unknown option `sslcert``, `invalid
                // value for option `port``), never a value: the string may hold a password.
                message: format!(
                    "the PostgreSQL connection string is invalid: {}",
                    std::error::Error::source(&e).map_or_else(|| e.to_string(), shown_cause)
                ),
                retryable: false,
            })?;
        let tls = if config.require_tls || parsed.get_ssl_mode() == SslMode::Require {
            Tls::Rustls(rustls_connector(config)?)
        } else {
            Tls::Plain
        };
        let mut parsed = parsed;
        // The choice was made above: with a connector, TLS is required, never "preferred".
        parsed.ssl_mode(match tls {
            Tls::Plain => SslMode::Disable,
            Tls::Rustls(_) => SslMode::Require,
        });
        if parsed.get_application_name().is_none() {
            parsed.application_name("secret-storage-postgres");
        }
        Ok(Manager {
            config: parsed,
            tls,
            // `schema` is checked to be [a-z0-9_]+, so quoting it is enough. pg_catalog stays
            // searched first, as always; nothing else is on the path.
            session_setup: format!("SET search_path TO \"{schema}\""),
            relaxed_commit: false,
            last_connect_error: Arc::default(),
        })
    }

    /// This manager for connections whose commits do not wait for the WAL flush
    /// (`synchronous_commit = off`): the nonce table's, which may forget its last moments in a
    /// crash of PostgreSQL, never the store's.
    pub(crate) fn relaxed(mut self) -> Self {
        self.relaxed_commit = true;
        self
    }

    /// Whether connections use TLS.
    pub(crate) fn uses_tls(&self) -> bool {
        matches!(self.tls, Tls::Rustls(_))
    }
}

impl Manager {
    fn open_connection(&self) -> Result<Conn, postgres::Error> {
        let mut client = match &self.tls {
            Tls::Plain => self.config.connect(NoTls)?,
            Tls::Rustls(tls) => self.config.connect(tls.clone())?,
        };
        client.batch_execute(&self.session_setup)?;
        if self.relaxed_commit {
            client.batch_execute("SET synchronous_commit TO off")?;
        } else {
            // A write is acknowledged only once durable: never let a server default of
            // `synchronous_commit = off` weaken that. (`local`, `remote_write`, `remote_apply`
            // and `on` are all at least locally durable and are left as the operator set them.)
            let sync = client.query_one("SHOW synchronous_commit", &[])?;
            if sync.try_get::<_, &str>(0)? == "off" {
                client.batch_execute("SET synchronous_commit TO on")?;
            }
        }
        Ok(Conn {
            client,
            statements: None,
        })
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        let result = self.open_connection();
        *self
            .last_connect_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = result.as_ref().err().map(ConnectError::of);
        result
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

/// A rustls client configuration (ring provider) trusting `sslrootcert` if given, else the
/// Mozilla roots. Errors: `Backend` (not retryable) when the root file cannot be read or holds
/// no certificate.
fn rustls_connector(config: &PostgresConfig) -> Result<MakeRustlsConnect, StorageError> {
    let bad = |message: String| StorageError::Backend {
        message,
        retryable: false,
    };
    let mut roots = RootCertStore::empty();
    match &config.root_cert {
        Some(path) => {
            let file = File::open(path)
                .map_err(|e| bad(format!("cannot open sslrootcert {}: {e}", path.display())))?;
            for cert in CertificateDer::pem_reader_iter(BufReader::new(file)) {
                let cert = cert
                    .map_err(|e| bad(format!("cannot read sslrootcert {}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| {
                    bad(format!(
                        "sslrootcert {} holds an unusable certificate: {e}",
                        path.display()
                    ))
                })?;
            }
            if roots.is_empty() {
                return Err(bad(format!(
                    "sslrootcert {} holds no PEM certificate",
                    path.display()
                )));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(client))
}

/// The connection pool, and why its last attempt to connect failed.
#[derive(Clone)]
pub(crate) struct Pool {
    pool: r2d2::Pool<Manager>,
    last_connect_error: Arc<Mutex<Option<ConnectError>>>,
}

impl Pool {
    /// A pooled connection. Errors: `Backend` when none could be had within the checkout
    /// timeout, with PostgreSQL's reason when a new connection was refused (not retryable for
    /// a refusal that will recur: an unknown database or role, a wrong password), else
    /// retryable.
    pub(crate) fn get(&self) -> Result<r2d2::PooledConnection<Manager>, StorageError> {
        self.pool.get().map_err(|e| {
            let last = self
                .last_connect_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match last {
                Some(refused) => refused.into_storage(),
                None => StorageError::Backend {
                    message: format!("no PostgreSQL connection could be had: {e}"),
                    retryable: true,
                },
            }
        })
    }

    /// The most connections the pool holds.
    pub(crate) fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// How many connections a call tries when it keeps finding them closed: every one the pool
    /// may hold, and then a new one. After a restart or a failover every idle connection is
    /// dead (they are not tested when taken, which would cost a round trip each time), and each
    /// is discarded as it is found so; a call must not give up while the server is up.
    pub(crate) fn stale_attempts(&self) -> u32 {
        self.max_size().saturating_add(1)
    }
}

/// Builds the pool, after opening one connection outside it, so that a refusal that will
/// recur (a bad database, role or password) is reported at once, not after the checkout
/// timeout.
pub(crate) fn build(config: &PostgresConfig, manager: Manager) -> Result<Pool, StorageError> {
    drop(
        manager
            .open_connection()
            .map_err(|e| ConnectError::of(&e).into_storage())?,
    );
    let last_connect_error = Arc::clone(&manager.last_connect_error);
    let pool = r2d2::Pool::builder()
        .max_size(config.pool_size)
        .min_idle(Some(0))
        .connection_timeout(config.checkout_timeout)
        .test_on_check_out(false)
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(manager)
        .map_err(|e| StorageError::Backend {
            message: format!("cannot set up the PostgreSQL connection pool: {e}"),
            retryable: true,
        })?;
    Ok(Pool {
        pool,
        last_connect_error,
    })
}

/// Runs `f` on a pooled connection. Errors: `Backend` (retryable) when no connection can be
/// had; whatever `f` fails with, PostgreSQL errors mapped by [`crate::error::from_postgres`].
/// Work that finds its connection closed (dropped by the server while idle in the pool) runs
/// again on another one, a few times at most: so `f` must be safe to repeat, as reads and
/// single transactions are.
pub(crate) fn with_conn<T>(
    pool: &Pool,
    context: &str,
    mut f: impl FnMut(&mut Conn) -> Result<T, Failed>,
) -> Result<T, StorageError> {
    let mut attempt = 1;
    loop {
        let mut conn = pool.get()?;
        match f(&mut conn) {
            Ok(out) => return Ok(out),
            // The closed connection is discarded when `conn` goes back to the pool.
            Err(e) if e.is_stale_connection() && attempt < pool.stale_attempts() => attempt += 1,
            Err(e) => return Err(e.into_storage(context)),
        }
    }
}
