//! Fault injection: storage that fails before, inside or after its atomic step (and on reads),
//! and a KMS that fails, at every point an operation reaches. Every operation either happens
//! completely or leaves no trace, and its error says whether a retry can help; after a failure
//! that struck once the write was durable, a retry converges to the same state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secret_crypto::{
    DataKey, DataKeyBytes, KeyMetadata, Kms, KmsError, LocalKms, RecordSealKey, RootKey,
    WrappedDataKey,
};
use secret_model::{KeyId, SecretName, Timestamp, VersionId, WireTag};
use secret_storage::{MemoryStorage, SecretRecord, Snapshot, Storage, StorageError, Update};
use secrets_manager::{
    CreateSecretRequest, DeleteSecretRequest, Error, GetSecretValueRequest, ManualClock,
    PutSecretValueRequest, SecretsManager, TagResourceRequest, UpdateSecretVersionStageRequest,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The call fails before it reaches the backend.
    Before,
    /// `update` runs the closure, then fails without applying its decision.
    Inside,
    /// `update` applies the decision durably, then fails (the acknowledgement is lost).
    After,
}

/// Storage that fails its `fail_at`-th call (counting every method) in the given mode.
struct FailingStorage {
    inner: MemoryStorage,
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    mode: Mode,
    retryable: bool,
}

impl FailingStorage {
    fn arm(&self, fail_at: usize) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(fail_at, Ordering::SeqCst);
    }

    fn strike(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst) == self.fail_at.load(Ordering::SeqCst)
    }

    fn error(&self) -> StorageError {
        StorageError::Backend {
            message: "injected failure".into(),
            retryable: self.retryable,
        }
    }
}

impl Storage for FailingStorage {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        if self.strike() {
            return Err(self.error());
        }
        self.inner.read(name)
    }

    fn read_payload(
        &self,
        name: &SecretName,
        v: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        if self.strike() {
            return Err(self.error());
        }
        self.inner.read_payload(name, v)
    }

    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        if self.strike() {
            return Err(self.error());
        }
        self.inner.snapshot(name)
    }

    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), StorageError> {
        if !self.strike() {
            return self.inner.update(name, f);
        }
        match self.mode {
            Mode::Before => Err(self.error()),
            Mode::Inside => {
                self.inner.update(name, &mut |current| {
                    let _decision = f(current);
                    Update::Keep
                })?;
                Err(self.error())
            }
            Mode::After => {
                self.inner.update(name, f)?;
                Err(self.error())
            }
        }
    }

    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        if self.strike() {
            return Err(self.error());
        }
        self.inner.list(after, limit)
    }
}

/// A KMS that fails its `fail_at`-th call.
struct FailingKms {
    inner: LocalKms,
    calls: AtomicUsize,
    fail_at: AtomicUsize,
}

impl FailingKms {
    fn arm(&self, fail_at: usize) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(fail_at, Ordering::SeqCst);
    }

    fn strike(&self) -> Result<(), KmsError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.fail_at.load(Ordering::SeqCst) {
            return Err(KmsError::Keyring("injected failure".into()));
        }
        Ok(())
    }
}

impl Kms for FailingKms {
    fn generate_data_key(&self, key_id: &KeyId, context: &[u8]) -> Result<DataKey, KmsError> {
        self.strike()?;
        self.inner.generate_data_key(key_id, context)
    }
    fn decrypt_data_key(
        &self,
        w: &WrappedDataKey,
        context: &[u8],
    ) -> Result<DataKeyBytes, KmsError> {
        self.strike()?;
        self.inner.decrypt_data_key(w, context)
    }
    fn describe_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.strike()?;
        self.inner.describe_key(key_id)
    }
    fn default_key(&self) -> Result<KeyId, KmsError> {
        self.strike()?;
        self.inner.default_key()
    }
    fn record_seal_key(&self) -> Result<RecordSealKey, KmsError> {
        self.strike()?;
        self.inner.record_seal_key()
    }
}

type Op = fn(&SecretsManager) -> Result<(), Error>;

/// The operations whose exact retry succeeds once the first attempt took effect.
const IDEMPOTENT: &[&str] = &[
    "create_secret",
    "put_secret_value",
    "tag_resource",
    "get_secret_value",
];

fn create(name: &str, version: &str, data: &str) -> CreateSecretRequest {
    CreateSecretRequest {
        secret_name: name.into(),
        secret_data: data.into(),
        version_id: version.into(),
        ..Default::default()
    }
}

const OPS: &[(&str, Op)] = &[
    ("create_secret", |s| {
        s.create_secret(create("new", "v1", "fresh")).map(drop)
    }),
    ("put_secret_value", |s| {
        s.put_secret_value(PutSecretValueRequest {
            secret_name: "db".into(),
            version_id: "v3".into(),
            secret_data: "three".into(),
            ..Default::default()
        })
        .map(drop)
    }),
    ("update_secret_version_stage", |s| {
        s.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_name: "db".into(),
            version_stage: "ACSCurrent".into(),
            remove_from_version: Some("v2".into()),
            move_to_version: Some("v1".into()),
        })
        .map(drop)
    }),
    ("tag_resource", |s| {
        s.tag_resource(TagResourceRequest {
            secret_name: "db".into(),
            tags: vec![WireTag {
                tag_key: "team".into(),
                tag_value: "a".into(),
            }],
        })
        .map(drop)
    }),
    ("delete_secret", |s| {
        s.delete_secret(DeleteSecretRequest {
            secret_name: "db".into(),
            ..Default::default()
        })
        .map(drop)
    }),
    ("force_delete_secret", |s| {
        s.delete_secret(DeleteSecretRequest {
            secret_name: "db".into(),
            force_delete_without_recovery: true,
            ..Default::default()
        })
        .map(drop)
    }),
    ("get_secret_value", |s| {
        s.get_secret_value(GetSecretValueRequest {
            secret_name: "db".into(),
            ..Default::default()
        })
        .map(drop)
    }),
];

/// Everything stored, with payloads reduced to which versions have one (their bytes are
/// random per seal) and the key id left out (each world makes its own default key).
type State = BTreeMap<String, (SecretRecord, Vec<String>)>;

fn state(storage: &dyn Storage) -> State {
    let mut out = BTreeMap::new();
    for record in storage.list(None, 1000).unwrap() {
        let mut snap = storage.snapshot(&record.name).unwrap().unwrap();
        snap.record.encryption_key_id = KeyId::new(secret_model::Uuid::from_bytes([0; 16]));
        // Every world has a keyring, and so a record seal key, of its own: compare that each
        // record is sealed, not the seals.
        assert!(
            snap.record.seal.take().is_some(),
            "{} is sealed",
            record.name
        );
        // Payloads are sealed under fresh data keys in each world: compare that each version
        // names its own payload's tag, not the tags.
        for version in &mut snap.record.versions {
            let payload = snap.payloads.iter().find(|(v, _)| *v == version.version_id);
            assert_eq!(
                payload.and_then(|(_, p)| secret_storage::PayloadTag::of(p)),
                version.payload_tag.take(),
                "{} {}: the record names its payload",
                record.name,
                version.version_id
            );
        }
        let payloads = snap.payloads.iter().map(|(v, _)| v.to_string()).collect();
        out.insert(record.name.to_string(), (snap.record, payloads));
    }
    out
}

struct World {
    store: SecretsManager,
    storage: Arc<FailingStorage>,
}

/// A store holding `db` (v1 ACSPrevious, v2 ACSCurrent), whose `fail_at`-th storage call after
/// setup fails in `mode`, and whose `kms_fail_at`-th KMS call after setup fails.
fn world(fail_at: usize, mode: Mode, retryable: bool, kms_fail_at: usize) -> World {
    let kms = Arc::new(FailingKms {
        inner: LocalKms::in_memory(RootKey::from_bytes([9; 32])),
        calls: AtomicUsize::new(0),
        fail_at: AtomicUsize::new(usize::MAX),
    });
    let storage = Arc::new(FailingStorage {
        inner: MemoryStorage::new(),
        calls: AtomicUsize::new(0),
        fail_at: AtomicUsize::new(usize::MAX),
        mode,
        retryable,
    });
    let store = SecretsManager::builder(storage.clone(), kms.clone())
        .clock(Arc::new(ManualClock::new(Timestamp::from_unix(
            1_704_067_200,
        ))))
        .build();
    store.create_secret(create("db", "v1", "one")).unwrap();
    store
        .put_secret_value(PutSecretValueRequest {
            secret_name: "db".into(),
            version_id: "v2".into(),
            secret_data: "two".into(),
            ..Default::default()
        })
        .unwrap();
    storage.arm(fail_at);
    kms.arm(kms_fail_at);
    World { store, storage }
}

#[test]
fn every_storage_failure_leaves_no_trace_or_a_state_a_retry_completes() {
    for (name, op) in OPS {
        let clean = world(usize::MAX, Mode::Before, true, usize::MAX);
        op(&clean.store).unwrap_or_else(|e| panic!("{name} succeeds without faults: {e}"));
        let done = state(&clean.storage.inner);

        for mode in [Mode::Before, Mode::Inside, Mode::After] {
            for retryable in [true, false] {
                let mut struck = 0;
                for fail_at in 0.. {
                    let w = world(fail_at, mode, retryable, usize::MAX);
                    let before = state(&w.storage.inner);
                    let result = op(&w.store);
                    let calls = w.storage.calls.load(Ordering::SeqCst);
                    let after = state(&w.storage.inner);
                    match result {
                        Ok(()) => {
                            assert!(
                                calls <= fail_at,
                                "{name}: the fault struck but it succeeded"
                            );
                            assert_eq!(after, done, "{name}: success must be complete");
                            break;
                        }
                        Err(e) => {
                            struck += 1;
                            assert_eq!(
                                e.is_retryable(),
                                retryable,
                                "{name} {mode:?} #{fail_at}: {e}"
                            );
                            if after == before {
                                // No trace: the same request, retried, completes.
                                op(&w.store)
                                    .unwrap_or_else(|e| panic!("{name}: retry failed: {e}"));
                                assert_eq!(
                                    state(&w.storage.inner),
                                    done,
                                    "{name}: retry completes"
                                );
                            } else {
                                // Only a fault after the durable write may leave an effect, and
                                // then the whole effect.
                                assert_eq!(
                                    after, done,
                                    "{name} {mode:?} #{fail_at}: half an effect"
                                );
                                assert_eq!(mode, Mode::After, "{name} #{fail_at}");
                                // A retry must converge: succeed for the idempotent operations;
                                // for stage moves and deletes (not idempotent in Alibaba's API
                                // either) answer a definitive error. Nothing is applied twice.
                                let retried = op(&w.store);
                                if IDEMPOTENT.contains(name) {
                                    assert!(
                                        retried.is_ok(),
                                        "{name}: retry after a lost ack: {retried:?}"
                                    );
                                } else if let Err(e) = &retried {
                                    assert!(!e.is_retryable(), "{name}: {e}");
                                }
                                assert_eq!(state(&w.storage.inner), done, "{name}: applied twice");
                            }
                        }
                    }
                }
                // Every operation reaches the storage at least once, and each point was struck.
                assert!(struck >= 1, "{name} {mode:?}: no fault struck");
            }
        }
    }
}

#[test]
fn every_kms_failure_leaves_no_trace_and_is_an_internal_failure() {
    for (name, op) in OPS {
        let clean = world(usize::MAX, Mode::Before, true, usize::MAX);
        op(&clean.store).unwrap();
        let done = state(&clean.storage.inner);
        for kms_fail_at in 0.. {
            let w = world(usize::MAX, Mode::Before, true, kms_fail_at);
            let before = state(&w.storage.inner);
            match op(&w.store) {
                Ok(()) => {
                    assert_eq!(state(&w.storage.inner), done);
                    break;
                }
                Err(e) => {
                    assert_eq!(
                        e.code(),
                        secret_model::ErrorCode::InternalFailure,
                        "{name}: {e}"
                    );
                    assert_eq!(
                        state(&w.storage.inner),
                        before,
                        "{name}: a KMS failure left a trace"
                    );
                }
            }
        }
    }
}
