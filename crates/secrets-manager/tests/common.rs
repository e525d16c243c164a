//! The fixture every facade test runs on: the store on each backend, a manual clock, and
//! handles to the storage and KMS underneath.

#![allow(dead_code, unreachable_pub, missing_docs)] // a test helper module shared by several test crates

use std::sync::{Arc, Mutex};

use secret_crypto::{Kms, LocalKms, RootKey};
use secret_model::{ErrorCode, SecretName, StoreLocation, Timestamp, VersionId};
use secret_storage::{
    MemoryStorage, RecordSeal, SecretRecord, Snapshot, Storage, Update, sealed_bytes,
};
use secret_storage_sled::SledStorage;
use secrets_manager::{
    Action, Authorizer, Builder, CreateSecretRequest, DeleteSecretRequest, Error, ManualClock,
    Principal, PutSecretValueRequest, RestoreSecretRequest, SecretsManager,
};

// A path, so that it resolves the same when cargo builds this file as a test of its own.
#[path = "common/constants.rs"]
mod constants;
pub use constants::{ACCOUNT, REGION, START};

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

    /// Allows everything again.
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
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

fn build(
    storage: Arc<dyn Storage>,
    dir: Option<tempfile::TempDir>,
    configure: impl FnOnce(Builder) -> Builder,
) -> Fixture {
    let kms = Arc::new(LocalKms::in_memory(RootKey::generate().unwrap()));
    let clock = ManualClock::new(Timestamp::from_unix(START));
    let denials = Arc::new(Denials::default());
    let builder = SecretsManager::builder(Arc::clone(&storage), kms.clone())
        .location(StoreLocation::new(REGION, ACCOUNT).unwrap())
        .clock(Arc::new(clock.clone()))
        .authorizer(denials.clone());
    let store = configure(builder).build();
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
    memory_with(|b| b)
}

pub fn sled() -> Fixture {
    sled_with(|b| b)
}

/// The memory fixture, with `configure` applied to the store's builder last (an audit sink…).
pub fn memory_with(configure: impl FnOnce(Builder) -> Builder) -> Fixture {
    build(Arc::new(MemoryStorage::new()), None, configure)
}

/// The sled fixture, with `configure` applied to the store's builder last.
pub fn sled_with(configure: impl FnOnce(Builder) -> Builder) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = SledStorage::open(dir.path().join("data")).unwrap();
    build(Arc::new(storage), Some(dir), configure)
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

    /// Rewrites a stored record directly, bypassing the facade's rules, and seals it again
    /// (as the facade would) if it was sealed.
    pub fn rewrite(&self, name: &str, change: impl Fn(&mut SecretRecord)) {
        let key = self.kms.record_seal_key().unwrap();
        self.storage
            .update(&SecretName::parse(name).unwrap(), &mut |current| {
                let mut record = current.expect("the secret exists").clone();
                change(&mut record);
                if record.seal.is_some() {
                    record.seal = Some(RecordSeal(key.seal(&sealed_bytes(&record))));
                }
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![],
                }
            })
            .unwrap();
    }

    /// Creates `name` with a first version `version` holding `data`.
    pub fn create(&self, name: &str, version: &str, data: &str) {
        self.store
            .create_secret(create_request(name, version, data))
            .unwrap();
    }

    /// Puts version `version` holding `data` with the default stages.
    pub fn put(&self, name: &str, version: &str, data: &str) {
        self.store
            .put_secret_value(put_request(name, version, data))
            .unwrap();
    }

    /// The stored ciphertext of one version, if any.
    pub fn payload(&self, name: &str, version: &str) -> Option<Vec<u8>> {
        self.storage
            .read_payload(
                &SecretName::parse(name).unwrap(),
                &VersionId::parse(version).unwrap(),
            )
            .unwrap()
    }

    /// The record and every ciphertext of `name`, read at once.
    pub fn snapshot(&self, name: &str) -> Option<Snapshot> {
        self.storage
            .snapshot(&SecretName::parse(name).unwrap())
            .unwrap()
    }

    /// Each version of `name`, oldest first, with its labels sorted.
    pub fn stages(&self, name: &str) -> Vec<(String, Vec<String>)> {
        self.record(name)
            .expect("the secret exists")
            .versions
            .iter()
            .map(|v| {
                let mut labels: Vec<String> = v.stages.iter().map(ToString::to_string).collect();
                labels.sort();
                (v.version_id.to_string(), labels)
            })
            .collect()
    }
}

pub fn create_request(name: &str, version: &str, data: &str) -> CreateSecretRequest {
    CreateSecretRequest {
        secret_name: name.into(),
        secret_data: data.into(),
        version_id: version.into(),
        ..Default::default()
    }
}

pub fn put_request(name: &str, version: &str, data: &str) -> PutSecretValueRequest {
    PutSecretValueRequest {
        secret_name: name.into(),
        version_id: version.into(),
        secret_data: data.into(),
        ..Default::default()
    }
}

/// DeleteSecret of `name` with a recovery window of `days` (default 30 when `None`).
pub fn delete(name: &str, days: Option<u32>) -> DeleteSecretRequest {
    DeleteSecretRequest {
        secret_name: name.into(),
        recovery_window_in_days: days,
        force_delete_without_recovery: false,
    }
}

/// DeleteSecret of `name` at once, without a recovery window.
pub fn force_delete(name: &str) -> DeleteSecretRequest {
    DeleteSecretRequest {
        secret_name: name.into(),
        recovery_window_in_days: None,
        force_delete_without_recovery: true,
    }
}

/// RestoreSecret of `name`.
pub fn restore(name: &str) -> RestoreSecretRequest {
    RestoreSecretRequest {
        secret_name: name.into(),
    }
}

/// This store's ARN of secret `name`.
pub fn secret_arn(name: &str) -> String {
    format!("acs:kms:{REGION}:{ACCOUNT}:secret/{name}")
}

/// The code of a result that must be an error.
pub fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorCode {
    r.expect_err("the operation must fail").code()
}

/// The parameter an `InvalidParameter` or `MissingParameter` error names.
pub fn parameter<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    match r.expect_err("the operation must fail") {
        Error::InvalidParameter(e) | Error::MissingParameter(e) => e.parameter(),
        other => panic!("expected a parameter error, got {other:?}"),
    }
}

/// Versions and their labels as [`Fixture::stages`] returns them (labels sorted).
pub fn stage_table(rows: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    rows.iter()
        .map(|(id, labels)| {
            let mut labels: Vec<String> = labels.iter().map(|s| (*s).to_owned()).collect();
            labels.sort();
            ((*id).to_owned(), labels)
        })
        .collect()
}
