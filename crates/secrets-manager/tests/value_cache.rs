//! The opt-in decrypted-value cache: it serves repeated reads, never a stale or unauthorized
//! value, and forgets what is deleted, purged or evicted.

use std::sync::Arc;

use secret_crypto::{LocalKms, RootKey};
use secret_model::{ErrorCode, Timestamp};
use secret_storage::MemoryStorage;
use secrets_manager::{
    CacheConfig, CreateSecretRequest, DeleteSecretRequest, GetSecretValueRequest, ManualClock,
    PutSecretValueRequest, SecretsManager,
};

fn store() -> (SecretsManager, Arc<LocalKms>, ManualClock) {
    let kms = Arc::new(LocalKms::in_memory(RootKey::from_bytes([5; 32])));
    let clock = ManualClock::new(Timestamp::from_unix(1_704_067_200));
    let store = SecretsManager::builder(Arc::new(MemoryStorage::new()), kms.clone())
        .clock(Arc::new(clock.clone()))
        .value_cache(CacheConfig {
            max_entries: 100,
            max_bytes: 1 << 20,
        })
        .build();
    (store, kms, clock)
}

fn create(store: &SecretsManager, name: &str, version: &str, data: &str) {
    store
        .create_secret(CreateSecretRequest {
            secret_name: name.into(),
            secret_data: data.into(),
            version_id: version.into(),
            ..Default::default()
        })
        .unwrap();
}

fn put(store: &SecretsManager, name: &str, version: &str, data: &str) {
    store
        .put_secret_value(PutSecretValueRequest {
            secret_name: name.into(),
            version_id: version.into(),
            secret_data: data.into(),
            ..Default::default()
        })
        .unwrap();
}

fn get(store: &SecretsManager, name: &str) -> Result<Vec<u8>, secrets_manager::Error> {
    store
        .get_secret_value(GetSecretValueRequest {
            secret_name: name.into(),
            ..Default::default()
        })
        .map(|r| r.secret_data.expose().to_vec())
}

#[test]
fn repeated_reads_are_served_from_the_cache() {
    let (s, _, _) = store();
    create(&s, "db", "v1", "one");
    for _ in 0..5 {
        assert_eq!(get(&s, "db").unwrap(), b"one");
    }
    let stats = s.cache_stats().unwrap();
    assert_eq!(
        (stats.misses, stats.hits, stats.entries, stats.bytes),
        (1, 4, 1, 3)
    );
}

#[test]
fn stage_resolution_reads_current_metadata() {
    let (s, _, _) = store();
    create(&s, "db", "v1", "one");
    assert_eq!(get(&s, "db").unwrap(), b"one");
    put(&s, "db", "v2", "two");
    assert_eq!(get(&s, "db").unwrap(), b"two");
}

#[test]
fn a_recreated_secret_never_gets_the_old_value() {
    let (s, _, clock) = store();
    create(&s, "db", "v1", "old");
    assert_eq!(get(&s, "db").unwrap(), b"old");
    s.delete_secret(DeleteSecretRequest {
        secret_name: "db".into(),
        force_delete_without_recovery: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        s.cache_stats().unwrap().entries,
        0,
        "a deleted secret's values are dropped"
    );
    clock.advance(1);
    create(&s, "db", "v1", "new");
    assert_eq!(get(&s, "db").unwrap(), b"new");
}

#[test]
fn a_disabled_key_refuses_cached_values_too() {
    let (s, kms, _) = store();
    create(&s, "db", "v1", "one");
    get(&s, "db").unwrap();
    let key = kms.list_keys().unwrap()[0].key_id;
    kms.disable_key(&key).unwrap();
    assert_eq!(get(&s, "db").unwrap_err().code(), ErrorCode::KeyDisabled);
}

#[test]
fn pending_deletion_refuses_cached_values_too() {
    let (s, _, _) = store();
    create(&s, "db", "v1", "one");
    get(&s, "db").unwrap();
    s.delete_secret(DeleteSecretRequest {
        secret_name: "db".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        get(&s, "db").unwrap_err().code(),
        ErrorCode::ResourceInDeleteWindow
    );
}

#[test]
fn evicted_versions_are_dropped_from_the_cache() {
    let (s, _, _) = store();
    create(&s, "db", "v0", "zero");
    for i in 1..10 {
        put(&s, "db", &format!("v{i}"), &format!("value {i}"));
        // Read every version once so the cache holds it.
        s.get_secret_value(GetSecretValueRequest {
            secret_name: "db".into(),
            version_id: Some(format!("v{i}")),
            ..Default::default()
        })
        .unwrap();
    }
    let before = s.cache_stats().unwrap().entries;
    put(&s, "db", "v10", "ten"); // evicts v0, the oldest version without labels
    put(&s, "db", "v11", "eleven"); // evicts v1, which was cached
    assert_eq!(s.cache_stats().unwrap().entries, before - 1);
}

#[test]
fn the_cache_is_off_by_default() {
    assert!(
        secrets_manager::testing::memory_store()
            .cache_stats()
            .is_none()
    );
}
