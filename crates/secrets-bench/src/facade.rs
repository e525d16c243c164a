//! The operations through the whole facade: validation, authorization, audit event, request
//! id, data-key generation and wrap, envelope, storage.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use secret_crypto::{LocalKms, RootKey};
use secret_storage::{MemoryStorage, Storage};
use secret_storage_sled::{SledOptions, SledStorage};
use secrets_manager::{
    CacheConfig, CreateSecretRequest, GetSecretValueRequest, PutSecretValueRequest, SecretsManager,
};

use crate::value;

/// The secret every get reads.
const READ_NAME: &str = "bench/read";
/// Puts go round these secrets (each keeps at most 10 versions, evicting the oldest).
const PUT_SECRETS: u64 = 16;

/// A store on one backend, with a second manager on the same storage that caches values.
pub(crate) struct Facade {
    /// The sled storage, when on sled, for its flush count.
    sled: Option<SledStorage>,
    plain: SecretsManager,
    cached: SecretsManager,
    data: Vec<u8>,
    next: AtomicU64,
}

impl Facade {
    /// A store on a fresh `MemoryStorage`.
    pub(crate) fn memory() -> Self {
        Self::on(Arc::new(MemoryStorage::new()), None)
    }

    /// A durable store on a fresh sled directory `path`, opened with `options`.
    pub(crate) fn sled(path: &Path, options: SledOptions) -> Self {
        let storage = SledStorage::open_with(path, options).expect("a fresh sled directory opens");
        Self::on(Arc::new(storage.clone()), Some(storage))
    }

    /// A store on `storage` (a PostgreSQL one, say), set up like the others.
    pub(crate) fn on_storage(storage: Arc<dyn Storage>) -> Self {
        Self::on(storage, None)
    }

    fn on(storage: Arc<dyn Storage>, sled: Option<SledStorage>) -> Self {
        let kms = Arc::new(LocalKms::in_memory(
            RootKey::generate().expect("the OS random number generator works"),
        ));
        let plain = SecretsManager::builder(Arc::clone(&storage), kms.clone()).build();
        let cached = SecretsManager::builder(storage, kms)
            .value_cache(CacheConfig::default())
            .build();
        let facade = Facade {
            sled,
            plain,
            cached,
            data: value(),
            next: AtomicU64::new(0),
        };
        facade.create_named(READ_NAME.into());
        for k in 0..PUT_SECRETS {
            facade.create_named(format!("bench/put/{k}"));
        }
        facade
    }

    fn create_named(&self, secret_name: String) {
        self.plain
            .create_secret(CreateSecretRequest {
                secret_name,
                secret_data: self.data.clone().into(),
                version_id: "v0".into(),
                ..Default::default()
            })
            .expect("create_secret of a new name succeeds");
    }

    /// CreateSecret of a new secret (a name never used before in this store).
    pub(crate) fn create(&self) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.create_named(format!("bench/new/{n}"));
    }

    /// Creates `bench/scale/{n}`, for the scale runs.
    pub(crate) fn create_numbered(&self, n: u64) {
        self.create_named(scale_name(n));
    }

    /// GetSecretValue of `bench/scale/{n}`; returns the value's length.
    pub(crate) fn get_numbered(&self, n: u64) -> usize {
        self.get_by(&self.plain, scale_name(n))
    }

    /// GetSecretValue of one secret's `ACSCurrent` version, without the value cache.
    pub(crate) fn get(&self) -> usize {
        self.get_by(&self.plain, READ_NAME.into())
    }

    /// GetSecretValue of the same, through the manager with the value cache.
    pub(crate) fn get_cached(&self) -> usize {
        self.get_by(&self.cached, READ_NAME.into())
    }

    fn get_by(&self, manager: &SecretsManager, secret_name: String) -> usize {
        manager
            .get_secret_value(GetSecretValueRequest {
                secret_name,
                ..Default::default()
            })
            .expect("get_secret_value of an existing secret succeeds")
            .secret_data
            .expose()
            .len()
    }

    /// PutSecretValue of a new version (new id) into one of a few secrets, in turn.
    pub(crate) fn put(&self) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.plain
            .put_secret_value(PutSecretValueRequest {
                secret_name: format!("bench/put/{}", n % PUT_SECRETS),
                version_id: format!("v{}", n + 1),
                secret_data: self.data.clone().into(),
                ..Default::default()
            })
            .expect("put_secret_value of a new version succeeds");
    }

    /// The writes (creates and puts, set-up included) and flushes so far, on sled.
    pub(crate) fn writes_and_flushes(&self) -> Option<(u64, u64)> {
        let sled = self.sled.as_ref()?;
        let writes = self.next.load(Ordering::Relaxed) + 1 + PUT_SECRETS;
        Some((writes, sled.flush_count()))
    }

    /// The value cache's hits and misses so far.
    pub(crate) fn cache_hits_and_misses(&self) -> (u64, u64) {
        let stats = self.cached.cache_stats().unwrap_or_default();
        (stats.hits, stats.misses)
    }
}

fn scale_name(n: u64) -> String {
    format!("bench/scale/{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_runs_on_both_backends() {
        let dir = tempfile::tempdir().unwrap();
        for facade in [
            Facade::memory(),
            Facade::sled(dir.path(), SledOptions::default()),
        ] {
            facade.create();
            facade.put();
            facade.create_numbered(7);
            assert_eq!(facade.get_numbered(7), 1024);
            assert_eq!(facade.get(), 1024);
            assert_eq!(facade.get_cached(), 1024);
            assert_eq!(facade.get_cached(), 1024);
            assert_eq!(facade.cache_hits_and_misses(), (1, 1));
            if let Some((writes, flushes)) = facade.writes_and_flushes() {
                // 17 set-up writes, a create and a put; one flush each, and one more for
                // `create_numbered`, which the write count leaves out (scale runs only).
                assert_eq!((writes, flushes), (19, 20));
            }
        }
    }
}
