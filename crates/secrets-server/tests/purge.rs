//! The server purges secrets whose recovery window has ended — record and ciphertexts — once it
//! serves and then every `purge_interval`, whether anyone asks for them or not.

mod common;

use std::sync::Arc;
use std::time::Duration;

use secret_crypto::{LocalKms, RootKey};
use secret_model::{SecretName, Timestamp};
use secret_storage::{MemoryStorage, Storage};
use secrets_manager::{CreateSecretRequest, DeleteSecretRequest, ManualClock, SecretsManager};
use secrets_server::{Server, ServerConfig};

/// A store on `storage` with `clock`, where `gone` was deleted with a 7-day recovery window
/// and `kept` was not; the clock then moves 8 days on.
fn store_past_a_recovery_window(storage: &Arc<MemoryStorage>) -> SecretsManager {
    let clock = ManualClock::new(Timestamp::from_unix(1_750_000_000));
    let kms = LocalKms::in_memory(RootKey::from_bytes([9; 32]));
    let store = SecretsManager::builder(storage.clone(), Arc::new(kms))
        .clock(Arc::new(clock.clone()))
        .authorizer(common::keys())
        .build();
    let admin = store.for_principal(secrets_manager::Principal::new(common::ADMIN.0));
    for name in ["gone", "kept"] {
        admin
            .create_secret(CreateSecretRequest {
                secret_name: name.into(),
                secret_data: "value".into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .unwrap();
    }
    admin
        .delete_secret(DeleteSecretRequest {
            secret_name: "gone".into(),
            recovery_window_in_days: Some(7),
            ..Default::default()
        })
        .unwrap();
    clock.advance(8 * 86_400);
    store
}

fn stored(storage: &MemoryStorage, name: &str) -> bool {
    storage
        .read(&SecretName::parse(name).unwrap())
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_past_its_recovery_window_is_purged_without_being_asked_for() {
    let storage = Arc::new(MemoryStorage::new());
    let store = store_past_a_recovery_window(&storage);
    assert!(
        stored(&storage, "gone"),
        "it lingers until something purges it"
    );

    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), common::keys());
    config.purge_interval = Some(Duration::from_millis(20));
    let server = common::run(Server::bind(config, store).await.unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stored(&storage, "gone") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still stored 10 s after the server started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stored(&storage, "kept"), "only what expired is purged");
    server.stop().await;
}

/// SIGTERM while the server purges a large store (as it does each time it starts): `secrets
/// serve` (`secrets_server::run`) returns from `run_until` and drops its runtime, and the
/// process should be gone within the grace period. The purge is left running on the blocking
/// pool ("a purge under way finishes"), `run_until` returns while it still holds the store, and
/// the runtime's drop waits for every blocking task: the process exits only once the whole store
/// has been scanned, however long that takes (here 6 s against a 100 ms grace period).
#[test]
fn a_shutdown_during_a_purge_of_a_large_store_ends_within_the_grace_period() {
    // Each page of a listing takes 200 ms and holds one record.
    let storage = Arc::new(common::Tuned::slow_scan(Duration::from_millis(200)));
    let kms = LocalKms::in_memory(RootKey::from_bytes([9; 32]));
    let store = SecretsManager::builder(storage.clone(), Arc::new(kms))
        .authorizer(common::keys())
        .build();
    let admin = store.for_principal(secrets_manager::Principal::new(common::ADMIN.0));
    for i in 0..30 {
        admin
            .create_secret(CreateSecretRequest {
                secret_name: format!("s{i:02}"),
                secret_data: "value".into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .unwrap();
    }

    // As `secrets_server::run` does: a runtime of its own, dropped once `run_until` returns.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let signalled = Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
    let at = Arc::clone(&signalled);
    let scanning = Arc::clone(&storage);
    runtime.block_on(async move {
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), common::keys());
        config.shutdown_grace = Duration::from_millis(100);
        let server = Server::bind(config, store).await.unwrap();
        server
            .run_until(async move {
                // SIGTERM, once the purge at start is scanning.
                while !scanning.listed.load(std::sync::atomic::Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                *at.lock().unwrap() = Some(std::time::Instant::now());
            })
            .await
            .unwrap();
    });
    drop(runtime);
    let took = signalled.lock().unwrap().expect("signalled").elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the server took {took:?} from SIGTERM to exit with a 100 ms grace period: it waited \
         for the purge to scan the whole store"
    );
}

/// A `run_until` future dropped before it completes (the server's task aborted, or it lost a
/// `select!`) stops the server: its listener, its connections and its state go with it. The
/// purge task it spawned does not: detached, it keeps the store (and on sled the directory's
/// lock, on PostgreSQL its pool) for as long as the runtime lives, and goes on purging every
/// interval a store its owner believes closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_dropped_before_it_stopped_leaves_no_purge_task_holding_the_store() {
    let storage = Arc::new(MemoryStorage::new());
    let store = store_past_a_recovery_window(&storage);
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), common::keys());
    config.purge_interval = Some(Duration::from_millis(20));
    let server = Server::bind(config, store).await.unwrap();
    let task = tokio::spawn(server.run_until(std::future::pending()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.abort();
    let _ = task.await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while Arc::strong_count(&storage) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        Arc::strong_count(&storage),
        1,
        "5 s after the server's task was aborted, something still holds its store"
    );
}

/// A `run_until` future dropped early now lets go of its store (the purge task no longer keeps
/// it), but the last reference goes where the future or the aborted purge task is dropped: on
/// an async worker. A normal stop drops the state on the blocking pool because a PostgreSQL
/// store's blocking clients panic when dropped there (with two idle pooled connections, the
/// second would panic while unwinding, which aborts the process). With the purge on (the default), the early drop
/// used to leak the state instead; now it is released on an async worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_dropped_before_it_stopped_does_not_drop_its_store_on_an_async_worker() {
    let storage: Arc<dyn Storage> = Arc::new(common::Tuned::dropping_like_postgres());
    let kms = LocalKms::in_memory(RootKey::from_bytes([9; 32]));
    let store = SecretsManager::builder(storage, Arc::new(kms))
        .authorizer(common::keys())
        .build();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), common::keys());
    // The default: one purge at start, then an hour idle.
    config.purge_interval = Some(Duration::from_secs(3600));
    let server = Server::bind(config, store).await.unwrap();
    let task = tokio::spawn(server.run_until(std::future::pending()));
    // The purge at start has run on the empty store; the purge task now waits for its tick.
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort();
    let _ = task.await;
    common::store_dropped_off_the_runtime().await;
}
