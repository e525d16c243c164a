//! A server in the test's own runtime, on a loopback port, with two access keys.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::Arc;

use secret_crypto::{LocalKms, RootKey};
use secret_model::{SecretName, VersionId};
use secret_storage::{MemoryStorage, SecretRecord, Snapshot, Storage, StorageError, Update};
use secrets_manager::SecretsManager;
use secrets_server::client::{Client, Credentials, SignatureVersion};
use secrets_server::{AccessKeys, Server, ServerConfig, ServerError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// May do everything.
pub const ADMIN: (&str, &str) = ("admin-key", "admin-secret-0123456789");
/// May only read secrets under `app/`.
pub const READER: (&str, &str) = ("reader-key", "reader-secret-0123456789");

pub const KEYS: &str = r#"{
  "admin-key": {"secret": "admin-secret-0123456789", "policy": {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}},
  "reader-key": {"secret": "reader-secret-0123456789", "policy": {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["kms:GetSecretValue", "kms:Decrypt"],
     "Resource": ["acs:kms:*:*:secret/app/*", "acs:kms:*:*:key/*"]}]}}
}"#;

pub fn keys() -> Arc<AccessKeys> {
    Arc::new(AccessKeys::from_json(KEYS.as_bytes()).expect("the test keys parse"))
}

pub fn memory_storage() -> Arc<dyn Storage> {
    Arc::new(MemoryStorage::new())
}

/// A store on `storage` whose authorizer is `keys`.
pub fn store(storage: Arc<dyn Storage>, keys: &Arc<AccessKeys>) -> SecretsManager {
    let kms = LocalKms::in_memory(RootKey::generate().expect("the OS random generator works"));
    SecretsManager::builder(storage, Arc::new(kms))
        .authorizer(keys.clone())
        .build()
}

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

/// A server on a memory store with the defaults.
pub async fn start() -> TestServer {
    start_with(memory_storage(), |_| {}).await
}

/// A server on `storage`, its config adjusted by `tweak`.
pub async fn start_with(
    storage: Arc<dyn Storage>,
    tweak: impl FnOnce(&mut ServerConfig),
) -> TestServer {
    let keys = keys();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), keys.clone());
    tweak(&mut config);
    let server = Server::bind(config, store(storage, &keys)).await.unwrap();
    run(server)
}

pub fn run(server: Server) -> TestServer {
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        stop: Some(stop),
        task,
    }
}

impl TestServer {
    pub async fn client(&self, who: (&str, &str), version: SignatureVersion) -> Client {
        Client::connect(self.addr, Credentials::new(who.0, who.1), version)
            .await
            .unwrap()
    }

    /// Asks the server to stop; returns the task that finishes when it has.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn stop(mut self) {
        self.begin_stop();
        self.task.await.unwrap().unwrap();
    }

    pub async fn stopped(self) -> Result<(), ServerError> {
        self.task.await.unwrap()
    }
}

/// Sends one hand-built request on a fresh connection: the status, the headers, the JSON body.
pub async fn send_raw<B>(
    addr: SocketAddr,
    request: hyper::Request<B>,
) -> (u16, hyper::HeaderMap, serde_json::Value)
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt as _;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

/// A log sink for a `tracing_subscriber` in a test: every line written, kept in memory.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// A subscriber writing every event, at every level, without colours, into this sink.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Whether a store made with [`Tuned::dropping_like_postgres`] has been dropped, and whether
/// that drop happened where a blocking PostgreSQL client's drop panics (an async worker).
pub static DROPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
pub static DROPPED_ON_ASYNC_WORKER: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Does, when dropped, what `postgres::Client`'s drop does (it blocks on a runtime of its own
/// to close the connection), recording whether that panicked.
pub struct DropProbe;

impl Drop for DropProbe {
    fn drop(&mut self) {
        let panicked = std::panic::catch_unwind(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {});
        })
        .is_err();
        DROPPED_ON_ASYNC_WORKER.store(panicked, std::sync::atomic::Ordering::SeqCst);
        DROPPED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Memory storage tuned as a test needs: writes that take `write_delay`; listings that take
/// `page_delay` a page and return at most `page_cap` records (`listed` is set once one has
/// begun); a [`DropProbe`] dropped with it.
pub struct Tuned {
    pub inner: MemoryStorage,
    pub write_delay: std::time::Duration,
    pub page_delay: std::time::Duration,
    pub page_cap: usize,
    pub listed: std::sync::atomic::AtomicBool,
    pub probe: Option<DropProbe>,
}

impl Tuned {
    fn new() -> Tuned {
        Tuned {
            inner: MemoryStorage::new(),
            write_delay: std::time::Duration::ZERO,
            page_delay: std::time::Duration::ZERO,
            page_cap: usize::MAX,
            listed: std::sync::atomic::AtomicBool::new(false),
            probe: None,
        }
    }

    /// Writes that take a while, so a request is surely in flight.
    pub fn slow_writes(delay: std::time::Duration) -> Tuned {
        Tuned {
            write_delay: delay,
            ..Tuned::new()
        }
    }

    /// A scan as slow as a large store's: one record a page, each taking `delay`.
    pub fn slow_scan(delay: std::time::Duration) -> Tuned {
        Tuned {
            page_delay: delay,
            page_cap: 1,
            ..Tuned::new()
        }
    }

    /// A store whose drop is checked as a PostgreSQL store's would be ([`DROPPED`]).
    pub fn dropping_like_postgres() -> Tuned {
        Tuned {
            probe: Some(DropProbe),
            ..Tuned::new()
        }
    }
}

impl Storage for Tuned {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        self.inner.read(name)
    }
    fn read_payload(
        &self,
        name: &SecretName,
        v: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.read_payload(name, v)
    }
    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        self.inner.snapshot(name)
    }
    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), StorageError> {
        std::thread::sleep(self.write_delay);
        self.inner.update(name, f)
    }
    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        self.listed.store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(self.page_delay);
        self.inner.list(after, limit.min(self.page_cap))
    }
    fn records_leave_the_process(&self) -> bool {
        self.inner.records_leave_the_process()
    }
}

/// Waits (up to 5 s) for the [`Tuned::dropping_like_postgres`] store to be dropped, and checks that it was
/// not dropped on an async worker.
pub async fn store_dropped_off_the_runtime() {
    use std::sync::atomic::Ordering::SeqCst;
    for _ in 0..100 {
        if DROPPED.load(SeqCst) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(DROPPED.load(SeqCst), "5 s on, the store was never dropped");
    assert!(
        !DROPPED_ON_ASYNC_WORKER.load(SeqCst),
        "the store was dropped on an async worker: a PostgreSQL store's clients panic there"
    );
}
