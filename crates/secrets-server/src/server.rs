//! Listening, accepting (HTTP or HTTPS), and shutting down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use secrets_manager::SecretsManager;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::auth::Authenticator;
use crate::body::BodyBudget;
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::offload::DropOutsideRuntime;
use crate::pools::Pools;
use crate::service::{State, handle};
use crate::stall::WriteDeadline;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound server, not yet serving: learn its address with [`Server::local_addr`], then
/// [`Server::run_until`].
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    read_timeout: Duration,
    shutdown_grace: Duration,
    purge_interval: Option<Duration>,
    /// One permit per connection being served.
    connections: Arc<Semaphore>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listening socket and loads the TLS files, if any. `store` must have been
    /// built with `config.access_keys` as its authorizer.
    ///
    /// Errors: [`ServerError::Bind`], [`ServerError::Tls`], [`ServerError::NonceLog`].
    pub async fn bind(
        mut config: ServerConfig,
        store: SecretsManager,
    ) -> Result<Server, ServerError> {
        // Wrapped first, so that a bind that fails drops them outside the runtime too.
        let store = DropOutsideRuntime::new(store);
        let shared_nonces = config.shared_nonces.take().map(DropOutsideRuntime::new);
        let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let bind_error = |source| ServerError::Bind {
            address: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let skew = i64::try_from(config.max_clock_skew.as_secs()).unwrap_or(i64::MAX / 2);
        let state = Arc::new(State {
            auth: Authenticator::new(
                config.access_keys,
                config.clock,
                skew,
                config.nonce_capacity,
                config.nonce_log.as_deref(),
            )
            .map_err(|source| ServerError::NonceLog {
                dir: config.nonce_log.clone().unwrap_or_default(),
                source,
            })?,
            store,
            body_limit: config.body_limit,
            // A body the budget can never hold would be refused as busy forever.
            body_budget: BodyBudget::new(config.body_budget.max(config.body_limit)),
            body_timeout: config.read_timeout,
            host_id: config.host_id.unwrap_or_else(|| local_addr.to_string()),
            pools: Pools::new(config.read_threads).map_err(ServerError::Runtime)?,
            shared_nonces,
        });
        Ok(Server {
            listener,
            local_addr,
            tls,
            state,
            read_timeout: config.read_timeout,
            shutdown_grace: config.shutdown_grace,
            purge_interval: config.purge_interval,
            connections: Arc::new(Semaphore::new(
                config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
        })
    }

    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (up to the configured grace period) and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.read_timeout)
            .keep_alive(true);
        let graceful = GracefulShutdown::new();
        // Every connection task, so that those still open when the grace period ends are
        // cancelled and gone (each holds the state) before the state's last reference is
        // dropped below.
        let mut tasks = tokio::task::JoinSet::new();
        // Dropped with this future if it is dropped before it ends: the purge stops too.
        let purger = self
            .purge_interval
            .map(|every| Purger::start(every, Arc::clone(&self.state)));
        tokio::pin!(shutdown);
        loop {
            // Finished connections are reaped as new ones come, so the set stays small.
            while tasks.try_join_next().is_some() {}
            // At the cap, stop accepting: new connections wait in the kernel's backlog (and
            // beyond it are refused by the kernel) rather than each costing a task and buffers
            // here. Accepting only to close them would cost as much, and tell a client less.
            let slot = tokio::select! {
                slot = Arc::clone(&self.connections).acquire_owned() => {
                    slot.expect("the connection semaphore is never closed")
                }
                () = &mut shutdown => break,
            };
            let (stream, remote) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            // A client that stops reading its answers loses the connection (and gives back
            // its slot) after `read_timeout` too: hyper times reads of a head, not writes.
            let stream = WriteDeadline::new(stream, self.read_timeout);
            let watcher = graceful.watcher();
            let state = Arc::clone(&self.state);
            let tls = self.tls.clone();
            let http = http.clone();
            tasks.spawn(async move {
                let _slot = slot;
                let service = service_fn(move |req| handle(Arc::clone(&state), req));
                let result = match tls {
                    None => {
                        watcher
                            .watch(http.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                    Some(acceptor) => match handshake(&acceptor, stream).await {
                        Some(tls) => {
                            watcher
                                .watch(http.serve_connection(TokioIo::new(tls), service))
                                .await
                        }
                        None => return,
                    },
                };
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        if let Some(purger) = purger {
            // A purge under way stops at its next secret; none starts after this.
            purger.stop().await;
        }
        tracing::info!("shutting down: waiting for in-flight requests");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = tokio::time::sleep(self.shutdown_grace) => {
                tracing::warn!("shutdown grace period over; dropping the remaining connections");
            }
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        // The store and the shared replay guard may hold blocking clients (PostgreSQL's), whose
        // drop runs a runtime of their own and so must not happen on an async worker: the last
        // reference goes on the blocking pool, where their calls run too.
        let state = self.state;
        let _ = tokio::task::spawn_blocking(move || drop(state)).await;
        Ok(())
    }
}

/// The background purge of secrets past their recovery window ([`purge_every`]). Stopping it
/// ends a purge under way at its next secret; so does dropping it, without waiting.
struct Purger {
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
    task: Option<JoinHandle<()>>,
}

impl Purger {
    fn start(every: Duration, state: Arc<State>) -> Purger {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(purge_every(
            every,
            state,
            Arc::clone(&stop),
            Arc::clone(&wake),
        ));
        Purger {
            stop,
            wake,
            task: Some(task),
        }
    }

    /// Stops the purge and waits until a purge under way has ended (at its next secret), so
    /// that it no longer holds the store.
    async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Purger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Purges the secrets past their recovery window now and then every `every`, on the blocking
/// pool (the storage's calls block), logging what it purged or why it could not; ends when
/// `stop` is set (and `wake` notified), a purge under way at its next secret.
async fn purge_every(every: Duration, state: Arc<State>, stop: Arc<AtomicBool>, wake: Arc<Notify>) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = wake.notified() => return,
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let (state, stopping) = (Arc::clone(&state), Arc::clone(&stop));
        let purge = move || state.store.purge_expired_secrets_until(&stopping);
        match tokio::task::spawn_blocking(purge).await {
            Ok(Ok(purged)) if stop.load(Ordering::SeqCst) => {
                tracing::info!(purged, "purge of expired secrets stopped by the shutdown");
            }
            Ok(Ok(0)) => {}
            Ok(Ok(purged)) => {
                tracing::info!(purged, "purged secrets whose recovery window had ended");
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, code = e.code().as_str(),
                    "purging secrets whose recovery window had ended failed; trying again later");
            }
            Err(e) => tracing::error!(error = %e, "the purge of expired secrets panicked"),
        }
    }
}

async fn handshake(
    acceptor: &TlsAcceptor,
    stream: WriteDeadline<TcpStream>,
) -> Option<tokio_rustls::server::TlsStream<WriteDeadline<TcpStream>>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// Binds and serves until SIGINT or SIGTERM (Ctrl-C elsewhere), then shuts down gracefully.
///
/// Errors: as [`Server::bind`].
pub async fn serve(config: ServerConfig, store: SecretsManager) -> Result<(), ServerError> {
    let server = Server::bind(config, store).await?;
    tracing::info!(address = %server.local_addr(), tls = server.is_tls(), "listening");
    server.run_until(shutdown_signal()).await
}

/// Runs [`serve`] on a new multi-threaded runtime, blocking the calling thread; calls
/// `on_listening` with the bound address (and whether it is HTTPS) once the socket is bound.
/// For programs without a runtime of their own, such as the `secrets` CLI.
///
/// Errors: as [`Server::bind`], and [`ServerError::Runtime`].
pub fn run(
    config: ServerConfig,
    store: SecretsManager,
    on_listening: impl FnOnce(SocketAddr, bool),
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("secrets-server")
        .build()
        .map_err(ServerError::Runtime)?;
    runtime.block_on(async move {
        let server = Server::bind(config, store).await?;
        on_listening(server.local_addr(), server.is_tls());
        server.run_until(shutdown_signal()).await
    })
}

/// Completes on SIGINT or SIGTERM (on other platforms, Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
                return;
            }
            _ => tracing::warn!("cannot install signal handlers; falling back to Ctrl-C"),
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No way to be told to stop: serve until the process is killed.
        std::future::pending::<()>().await;
    }
}
