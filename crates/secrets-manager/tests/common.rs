//! The fixture every facade test runs on: the store on each backend, a manual clock, and
//! handles to the storage and KMS underneath.

#![allow(dead_code, unreachable_pub, missing_docs)] // a test helper module shared by several test crates

use std::sync::{Arc, Mutex};

use secret_crypto::{LocalKms, RootKey};
use secret_model::{SecretName, StoreLocation, Timestamp};
use secret_storage::{MemoryStorage, SecretRecord, Storage, Update};
use secret_storage_sled::SledStorage;
use secrets_manager::{Action, Authorizer, ManualClock, Principal, SecretsManager};

pub const REGION: &str = "cn-hangzhou";
pub const ACCOUNT: &str = "1234567890";
pub const START: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

pub struct Fixture {
    pub store: SecretsManager,
    pub storage: Arc<dyn Storage>,
    pub kms: Arc<LocalKms>,
    pub clock: ManualClock,
    pub denials: Arc<Denials>,
    _dir: Option<tempfile::TempDir>,
}

/// An authorizer that denies what a test lists and allows the rest.
#[derive(Default)]
pub struct Denials(Mutex<Vec<(Action, String)>>);

impl Denials {
    pub fn deny(&self, action: Action, resource: impl Into<String>) {
        self.0.lock().unwrap().push((action, resource.into()));
    }
}

impl Authorizer for Denials {
    fn is_allowed(&self, _: &Principal, action: Action, resource: &str) -> bool {
        !self
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|(a, r)| *a == action && r == resource)
    }
}

fn build(storage: Arc<dyn Storage>, dir: Option<tempfile::TempDir>) -> Fixture {
    let kms = Arc::new(LocalKms::in_memory(RootKey::generate().unwrap()));
    let clock = ManualClock::new(Timestamp::from_unix(START));
    let denials = Arc::new(Denials::default());
    let store = SecretsManager::builder(Arc::clone(&storage), kms.clone())
        .location(StoreLocation::new(REGION, ACCOUNT).unwrap())
        .clock(Arc::new(clock.clone()))
        .authorizer(denials.clone())
        .build();
    Fixture {
        store,
        storage,
        kms,
        clock,
        denials,
        _dir: dir,
    }
}

pub fn memory() -> Fixture {
    build(Arc::new(MemoryStorage::new()), None)
}

pub fn sled() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = SledStorage::open(dir.path().join("data")).unwrap();
    build(Arc::new(storage), Some(dir))
}

/// Runs `test` on every backend.
pub fn on_every_backend(test: impl Fn(Fixture)) {
    test(memory());
    test(sled());
}

impl Fixture {
    pub fn record(&self, name: &str) -> Option<SecretRecord> {
        self.storage
            .read(&SecretName::parse(name).unwrap())
            .unwrap()
    }

    /// Rewrites a stored record directly, bypassing the facade's rules.
    pub fn rewrite(&self, name: &str, change: impl Fn(&mut SecretRecord)) {
        self.storage
            .update(&SecretName::parse(name).unwrap(), &mut |current| {
                let mut record = current.expect("the secret exists").clone();
                change(&mut record);
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![],
                }
            })
            .unwrap();
    }
}
