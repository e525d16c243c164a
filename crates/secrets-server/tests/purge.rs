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
