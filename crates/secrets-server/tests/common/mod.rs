//! A server in the test's own runtime, on a loopback port, with two access keys.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::Arc;

use secret_crypto::{LocalKms, RootKey};
use secret_storage::{MemoryStorage, Storage};
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
