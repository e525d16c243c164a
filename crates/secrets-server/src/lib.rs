//! The HTTP endpoint of the secrets store, speaking Alibaba Cloud KMS's RPC protocol
//! (API 2016-01-20) so Alibaba's own SDKs work against it unchanged.
//!
//! - One path, `/`, GET or POST; parameters from the query string and an
//!   `application/x-www-form-urlencoded` body; the action from `x-acs-action` or `Action`.
//! - Every request is signed — [`signature::v3`] (`ACS3-HMAC-SHA256`) or [`signature::v1`]
//!   (`HMAC-SHA1`) — by an access key of the [`AccessKeys`] file, within 15 minutes of the
//!   server's clock, with a nonce not seen before. There is no anonymous access.
//! - Each access key's RAM-style [`Policy`] is enforced by the store's [`secrets_manager::Authorizer`]:
//!   build the store with the same [`AccessKeys`] as its authorizer.
//! - Responses are the JSON of [`secrets_wire`]; errors carry the real HTTP status and
//!   Alibaba's error body, always with a `RequestId`.
//! - HTTPS with rustls when [`ServerConfig::tls`] names PEM files; graceful shutdown on
//!   SIGINT/SIGTERM; one `tracing` line per request (target `secrets_server::request`: action,
//!   AccessKeyId, status, code, latency, request id — never a value, a signature or a secret).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use secrets_server::client::{Client, Credentials, SignatureVersion};
//! use secrets_server::{AccessKeys, Server, ServerConfig};
//!
//! let keys = Arc::new(AccessKeys::from_json(br#"{"app": {"secret": "app-secret",
//!     "policy": {"Version": "1", "Statement": [
//!         {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}}}"#)?);
//! let store = secrets_manager::SecretsManager::builder(
//!     Arc::new(secrets_manager::storage::MemoryStorage::new()),
//!     Arc::new(secrets_manager::crypto::LocalKms::in_memory(
//!         secrets_manager::crypto::RootKey::generate()?,
//!     )),
//! )
//! .authorizer(keys.clone())
//! .build();
//! let server = Server::bind(ServerConfig::new("127.0.0.1:0".parse()?, keys), store).await?;
//! let addr = server.local_addr();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.run_until(async { let _ = stopped.await; }));
//!
//! let mut client =
//!     Client::connect(addr, Credentials::new("app", "app-secret"), SignatureVersion::V3).await?;
//! let created = client
//!     .call("CreateSecret", &[("SecretName", "db"), ("VersionId", "v1"), ("SecretData", "pw")])
//!     .await?;
//! assert_eq!(created.status, 200);
//! let got = client.call("GetSecretValue", &[("SecretName", "db")]).await?;
//! assert_eq!(got.body["SecretData"], "pw");
//!
//! drop(client);
//! let _ = stop.send(());
//! running.await??;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access_keys;
mod auth;
mod body;
pub mod client;
mod config;
mod error;
mod form;
#[doc(hidden)]
pub mod fuzzing;
pub mod logging;
mod nonce;
mod nonce_log;
mod offload;
mod policy;
mod pools;
mod server;
mod service;
mod shared_nonces;
pub mod signature;
mod stall;
mod tls;

pub use access_keys::{AccessKeys, AccessKeysError};
pub use config::{
    DEFAULT_BODY_BUDGET, DEFAULT_BODY_LIMIT, DEFAULT_MAX_CONNECTIONS, DEFAULT_NONCE_CAPACITY,
    DEFAULT_PURGE_INTERVAL, ServerConfig, TlsFiles,
};
pub use error::ServerError;
pub use policy::{Policy, PolicyError};
pub use server::{Server, run, serve, shutdown_signal};
pub use shared_nonces::SharedNonces;
