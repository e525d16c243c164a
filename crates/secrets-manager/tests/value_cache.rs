//! The opt-in decrypted-value cache: it serves repeated reads, never a stale or unauthorized
//! value, and forgets what is deleted, purged or evicted.

use std::sync::{Arc, Mutex, OnceLock};

use secret_crypto::{
    DataKey, DataKeyBytes, KeyMetadata, Kms, KmsError, LocalKms, RecordSealKey, RootKey,
    WrappedDataKey,
};
use secret_model::{ErrorCode, KeyId, Timestamp};
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

fn get_version(store: &SecretsManager, name: &str, version: &str) -> Vec<u8> {
    store
        .get_secret_value(GetSecretValueRequest {
            secret_name: name.into(),
            version_id: Some(version.into()),
            ..Default::default()
        })
        .unwrap()
        .secret_data
        .expose()
        .to_vec()
}

/// Two instances on one storage (as several share one PostgreSQL store): the cache of one
/// never hears that the other evicted a version and wrote its id again, and must still not
/// serve the old value.
#[test]
fn an_evicted_version_id_written_again_elsewhere_is_not_served_from_the_cache() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = Arc::new(LocalKms::in_memory(RootKey::from_bytes([5; 32])));
    let clock = ManualClock::new(Timestamp::from_unix(1_704_067_200));
    let build = |cache: bool| {
        let b =
            SecretsManager::builder(storage.clone(), kms.clone()).clock(Arc::new(clock.clone()));
        if cache {
            b.value_cache(CacheConfig::default())
        } else {
            b
        }
        .build()
    };
    let (a, b) = (build(true), build(false));
    create(&a, "db", "v1", "old");
    assert_eq!(get_version(&a, "db", "v1"), b"old");
    assert_eq!(get_version(&a, "db", "v1"), b"old");
    assert_eq!(
        a.cache_stats().unwrap().hits,
        1,
        "the value is cached in `a`"
    );
    // All in the same second: v1 loses its label and is evicted, then v1 is written again.
    for i in 2..=12 {
        put(&b, "db", &format!("v{i}"), "filler");
    }
    put(&b, "db", "v1", "new");
    assert_eq!(get_version(&b, "db", "v1"), b"new");
    assert_eq!(get_version(&a, "db", "v1"), b"new");
    assert_eq!(
        get_version(&a, "db", "v1"),
        b"new",
        "and now that one is cached"
    );
}

/// A KMS that runs a hook once, the next time a data key is unwrapped: while a read is between
/// reading its payload and caching the value.
struct HookKms {
    inner: LocalKms,
    hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Kms for HookKms {
    fn generate_data_key(&self, key_id: &KeyId, context: &[u8]) -> Result<DataKey, KmsError> {
        self.inner.generate_data_key(key_id, context)
    }
    fn decrypt_data_key(
        &self,
        wrapped: &WrappedDataKey,
        context: &[u8],
    ) -> Result<DataKeyBytes, KmsError> {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.inner.decrypt_data_key(wrapped, context)
    }
    fn describe_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.inner.describe_key(key_id)
    }
    fn default_key(&self) -> Result<KeyId, KmsError> {
        self.inner.default_key()
    }
    fn record_seal_key(&self) -> Result<RecordSealKey, KmsError> {
        self.inner.record_seal_key()
    }
}

/// One instance: a read that races with the eviction of the version it reads caches the old
/// value after the eviction dropped it; the version id written again must not be served it.
#[test]
fn a_read_racing_an_eviction_does_not_leave_the_old_value_for_the_new_writing() {
    let kms = Arc::new(HookKms {
        inner: LocalKms::in_memory(RootKey::from_bytes([5; 32])),
        hook: Mutex::new(None),
    });
    let s = SecretsManager::builder(Arc::new(MemoryStorage::new()), kms.clone())
        .value_cache(CacheConfig::default())
        .build();
    create(&s, "db", "v1", "old");
    for i in 2..=10 {
        put(&s, "db", &format!("v{i}"), "filler");
    }
    let handle: Arc<OnceLock<SecretsManager>> = Arc::new(OnceLock::new());
    handle.set(s.clone()).unwrap_or_else(|_| unreachable!());
    let h = handle.clone();
    *kms.hook.lock().unwrap() = Some(Box::new(move || {
        let s = h.get().unwrap();
        put(s, "db", "v11", "filler"); // the 11th version: v1 is evicted
        put(s, "db", "v1", "new");
    }));
    // The racing read itself returns the value it read.
    assert_eq!(get_version(&s, "db", "v1"), b"old");
    assert_eq!(get_version(&s, "db", "v1"), b"new");
    assert_eq!(get_version(&s, "db", "v1"), b"new");
}
