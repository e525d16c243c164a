//! Where the store goes when the server never starts.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use secret_crypto::{LocalKms, RootKey};
use secret_storage::Storage;
use secrets_manager::SecretsManager;
use secrets_server::{ServerConfig, ServerError};

/// A server that cannot bind (the port is taken — a common operator mistake) drops the store
/// it was given outside the runtime, as it does when it stops: a PostgreSQL store's blocking
/// clients panic when dropped inside one (and a second panic while the first unwinds aborts
/// the process), so the operator gets "address in use", not a crash.
#[test]
fn a_server_that_cannot_bind_does_not_drop_its_store_inside_the_runtime() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let storage: Arc<dyn Storage> = Arc::new(common::Tuned::dropping_like_postgres());
    let kms = LocalKms::in_memory(RootKey::from_bytes([9; 32]));
    let store = SecretsManager::builder(storage, Arc::new(kms))
        .authorizer(common::keys())
        .build();
    let config = ServerConfig::new(taken.local_addr().unwrap(), common::keys());
    let result = secrets_server::run(config, store, |_, _| {});
    assert!(
        matches!(result, Err(ServerError::Bind { .. })),
        "the port is taken: {result:?}"
    );
    assert!(common::DROPPED.load(SeqCst), "the store was never dropped");
    assert!(
        !common::DROPPED_ON_ASYNC_WORKER.load(SeqCst),
        "a server that could not bind dropped its store inside the runtime, where a \
         PostgreSQL store's clients panic"
    );
}
