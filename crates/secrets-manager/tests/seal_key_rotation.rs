//! Rotating the record seal key (`SecretsManager::rotate_record_seal_key`): afterwards every
//! record is sealed under the new key and a seal under the old one is refused; an interrupted
//! rotation leaves every record readable and finishes when run again; a tampered record stops
//! it without being sealed anew; writes made meanwhile are sealed under the new key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use secret_crypto::{Kms, LocalKms, MemoryKeyring, RecordSealKey, RootKey};
use secret_model::VersionId;
use secret_model::{Description, ErrorCode, SecretName};
use secret_storage::{
    RecordSeal, SecretRecord, Snapshot, Storage, StorageError, Update, sealed_bytes,
};
use secret_storage_sled::SledStorage;
use secrets_manager::{
    CreateSecretRequest, DeleteSecretRequest, DescribeSecretRequest, Error, GetSecretValueRequest,
    ListSecretsRequest, PutSecretValueRequest, RestoreSecretRequest, SealKeyRotation,
    SecretsManager, UpdateSecretRequest,
};

const ROOT: [u8; 32] = [0x3c; 32];

/// A sled store and a keyring that outlive any one manager and KMS, as files do a process.
struct World {
    storage: Arc<SledStorage>,
    keyring: Arc<MemoryKeyring>,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        World {
            storage: Arc::new(SledStorage::open(dir.path().join("data")).unwrap()),
            keyring: Arc::new(MemoryKeyring::new()),
            _dir: dir,
        }
    }

    /// The keyring as a newly started process opens it.
    fn kms(&self) -> Arc<LocalKms> {
        Arc::new(
            LocalKms::open(
                RootKey::from_bytes(ROOT),
                Box::new(Arc::clone(&self.keyring)),
            )
            .unwrap(),
        )
    }

    /// A manager as a newly started process builds it.
    fn manager(&self) -> SecretsManager {
        self.manager_on(self.kms(), false)
    }

    fn manager_on(&self, kms: Arc<LocalKms>, accept_unsealed: bool) -> SecretsManager {
        SecretsManager::builder(self.storage.clone(), kms)
            .accept_unsealed_records(accept_unsealed)
            .build()
    }

    fn record(&self, name: &str) -> SecretRecord {
        self.storage.read(&secret(name)).unwrap().unwrap()
    }

    /// Stores `record` as it is, seal and all, past the facade: what whoever can write the
    /// storage can do.
    fn store_raw(&self, record: SecretRecord) {
        self.storage
            .update(&record.name.clone(), &mut |_| Update::Write {
                record: record.clone(),
                put_payloads: vec![],
                delete_payloads: vec![],
            })
            .unwrap();
    }

    /// Gives `name` the description `text`, sealed under `key`: a forgery when `key` is one the
    /// store no longer uses.
    fn forge(&self, name: &str, key: &RecordSealKey, text: &str) {
        let mut record = self.record(name);
        record.description = Some(Description::parse(text).unwrap());
        record.seal = Some(RecordSeal(key.seal(&sealed_bytes(&record))));
        self.store_raw(record);
    }
}

fn secret(name: &str) -> SecretName {
    SecretName::parse(name).unwrap()
}

fn create(store: &SecretsManager, name: &str) {
    store
        .create_secret(CreateSecretRequest {
            secret_name: name.into(),
            secret_data: format!("value-of-{name}").as_str().into(),
            version_id: "v1".into(),
            ..Default::default()
        })
        .unwrap();
}

fn describe(store: &SecretsManager, name: &str) -> Result<String, Error> {
    store
        .describe_secret(DescribeSecretRequest {
            secret_name: name.into(),
            ..Default::default()
        })
        .map(|d| d.description)
}

fn value(store: &SecretsManager, name: &str, version: &str) -> Vec<u8> {
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

fn is_internal_failure(result: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(ref e) if e.code() == ErrorCode::InternalFailure)
}

/// `a` (versions v1, v2), `b`, and `c` in its recovery window.
fn three_secrets(world: &World) {
    let store = world.manager();
    for name in ["a", "b", "c"] {
        create(&store, name);
    }
    store
        .put_secret_value(PutSecretValueRequest {
            secret_name: "a".into(),
            version_id: "v2".into(),
            secret_data: "value-of-a-v2".into(),
            ..Default::default()
        })
        .unwrap();
    store
        .delete_secret(DeleteSecretRequest {
            secret_name: "c".into(),
            ..Default::default()
        })
        .unwrap();
}

/// Every secret of [`three_secrets`] reads as it was written.
fn all_readable(store: &SecretsManager) {
    assert_eq!(value(store, "a", "v1"), b"value-of-a");
    assert_eq!(value(store, "a", "v2"), b"value-of-a-v2");
    assert_eq!(value(store, "b", "v1"), b"value-of-b");
    assert!(
        describe(store, "c").is_ok(),
        "the secret in its recovery window"
    );
    let listed = store
        .list_secrets(ListSecretsRequest::default())
        .unwrap()
        .secret_list
        .len();
    assert_eq!(listed, 3, "a listing checks every record (c's too)");
}

#[test]
fn after_a_rotation_every_record_is_under_the_new_key_and_the_old_key_forges_nothing() {
    let world = World::new();
    three_secrets(&world);
    let kms = world.kms();
    let old = kms.record_seal_key().unwrap();
    // The forgery is sound: under the key in use, the store takes it.
    world.forge("a", &old, "forged before");
    let store = world.manager_on(kms, false);
    assert_eq!(describe(&store, "a").unwrap(), "forged before");

    let done = store.rotate_record_seal_key().unwrap();
    assert_eq!(
        done,
        SealKeyRotation {
            records_checked: 3,
            records_resealed: 3
        }
    );
    all_readable(&store);
    assert_eq!(
        describe(&store, "a").unwrap(),
        "forged before",
        "kept, not changed"
    );
    for name in ["a", "b", "c"] {
        let seal = world.record(name).seal.unwrap().0;
        assert!(
            !old.verify(&sealed_bytes(&world.record(name)), &seal),
            "{name}"
        );
    }

    world.forge("a", &old, "forged after");
    assert!(
        is_internal_failure(describe(&store, "a")),
        "this manager refuses it"
    );
    let restarted = world.manager();
    assert!(
        is_internal_failure(describe(&restarted, "a")),
        "and so does a restarted one"
    );
    assert!(is_internal_failure(
        restarted.list_secrets(ListSecretsRequest::default())
    ));

    // Every rotation draws a new key.
    world.forge("a", &world.kms().record_seal_key().unwrap(), "mended");
    let middle = world.kms().record_seal_key().unwrap();
    assert_eq!(
        restarted.rotate_record_seal_key().unwrap().records_resealed,
        3
    );
    world.forge("a", &middle, "forged under the second key");
    assert!(is_internal_failure(describe(&world.manager(), "a")));
}

#[test]
fn an_interrupted_rotation_leaves_every_record_readable_and_running_it_again_finishes_it() {
    let world = World::new();
    three_secrets(&world);
    let kms = world.kms();
    let old = kms.record_seal_key().unwrap();
    // A rotation that began, sealed one record under the new key, and stopped.
    let new = kms.begin_record_seal_key_rotation().unwrap();
    let store = world.manager_on(kms, false);
    store
        .update_secret(UpdateSecretRequest {
            secret_name: "b".into(),
            description: Some("written mid-rotation".into()),
        })
        .unwrap();
    drop(store);

    let restarted = world.manager();
    all_readable(&restarted);
    assert_eq!(describe(&restarted, "b").unwrap(), "written mid-rotation");

    let done = restarted.rotate_record_seal_key().unwrap();
    assert_eq!(
        done,
        SealKeyRotation {
            records_checked: 3,
            records_resealed: 2
        },
        "b was already under the new key"
    );
    let now = world.kms().record_seal_key().unwrap();
    assert!(!now.is_rotating());
    assert!(
        now.same_current_key(&new),
        "resumed under the key the first run drew"
    );
    all_readable(&world.manager());
    world.forge("b", &old, "forged");
    assert!(is_internal_failure(describe(&world.manager(), "b")));
}

#[test]
fn a_record_failing_its_check_stops_the_rotation_and_is_not_sealed_anew() {
    let world = World::new();
    three_secrets(&world);
    let genuine = world.record("b");
    let stranger = LocalKms::in_memory(RootKey::from_bytes(ROOT))
        .record_seal_key()
        .unwrap();
    world.forge("b", &stranger, "forged by a stranger");
    let tampered = world.record("b");

    let store = world.manager();
    assert!(is_internal_failure(store.rotate_record_seal_key()));
    assert_eq!(
        world.record("b"),
        tampered,
        "the tampered record keeps its bad seal"
    );
    assert!(
        world.kms().record_seal_key().unwrap().is_rotating(),
        "the rotation stays unfinished: the old key still opens a and c"
    );
    all_readable_but_b(&store);

    world.store_raw(genuine);
    let done = store.rotate_record_seal_key().unwrap();
    assert_eq!(done.records_checked, 3);
    assert!(!world.kms().record_seal_key().unwrap().is_rotating());
    all_readable(&world.manager());
}

fn all_readable_but_b(store: &SecretsManager) {
    assert_eq!(value(store, "a", "v2"), b"value-of-a-v2");
    assert!(describe(store, "c").is_ok());
    assert!(is_internal_failure(describe(store, "b")));
}

#[test]
fn records_accepted_unsealed_are_sealed_by_a_rotation() {
    let world = World::new();
    three_secrets(&world);
    for name in ["a", "b", "c"] {
        let mut record = world.record(name);
        record.seal = None;
        world.store_raw(record);
    }
    assert!(is_internal_failure(describe(&world.manager(), "a")));

    let accepting = world.manager_on(world.kms(), true);
    let done = accepting.rotate_record_seal_key().unwrap();
    assert_eq!(done.records_resealed, 3);
    all_readable(&world.manager());
}

#[test]
fn writes_made_during_a_rotation_are_all_sealed_under_the_new_key() {
    let world = World::new();
    let store = world.manager();
    let names: Vec<String> = (0..400).map(|i| format!("s{i:03}")).collect();
    for name in &names {
        create(&store, name);
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for worker in 0..3 {
            let (store, names, stop) = (&store, &names, &stop);
            scope.spawn(move || {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    for name in names.iter().skip(worker).step_by(3) {
                        store
                            .update_secret(UpdateSecretRequest {
                                secret_name: name.clone(),
                                description: Some(format!("round {round}")),
                            })
                            .unwrap();
                    }
                    round += 1;
                }
            });
        }
        for _ in 0..3 {
            store.rotate_record_seal_key().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    // A restarted process knows only the final key: every record must be under it.
    let restarted = world.manager();
    for name in &names {
        describe(&restarted, name).unwrap();
    }
}

#[test]
fn restoring_a_secret_after_a_rotation_works() {
    let world = World::new();
    three_secrets(&world);
    let store = world.manager();
    store.rotate_record_seal_key().unwrap();
    store
        .restore_secret(RestoreSecretRequest {
            secret_name: "c".into(),
        })
        .unwrap();
    assert_eq!(value(&world.manager(), "c", "v1"), b"value-of-c");
}

/// A hook a test hands to a wrapper: run once, on the thread that reaches it.
type Hook = Mutex<Option<Box<dyn FnOnce() + Send>>>;

fn hook(f: impl FnOnce() + Send + 'static) -> Hook {
    Mutex::new(Some(Box::new(f)))
}

fn no_hook() -> Hook {
    Mutex::new(None)
}

fn run(hook: &Hook) {
    let f = hook.lock().unwrap().take();
    if let Some(f) = f {
        f();
    }
}

/// A hook that tells the test it was reached, then waits to be told to go on (or a second).
fn pause() -> (Hook, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (reached_tx, reached) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let h = hook(move || {
        reached_tx.send(()).unwrap();
        let _ = go_rx.recv_timeout(Duration::from_secs(1));
    });
    (h, reached, go)
}

/// The world's sled storage, with hooks inside the reads and writes of secret `a`, and pages
/// of at most `page_cap` records.
struct Hooked {
    inner: Arc<SledStorage>,
    /// Between reading `a` and handing it to the facade to check.
    after_read_of_a: Hook,
    /// Between the facade's decision (and seal) for `a` and the write of it.
    before_write_of_a: Hook,
    page_cap: usize,
}

impl Hooked {
    fn new(world: &World) -> Hooked {
        Hooked {
            inner: world.storage.clone(),
            after_read_of_a: no_hook(),
            before_write_of_a: no_hook(),
            page_cap: usize::MAX,
        }
    }
}

impl Storage for Hooked {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        let record = self.inner.read(name);
        if name.as_str() == "a" {
            run(&self.after_read_of_a);
        }
        record
    }
    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.read_payload(name, version_id)
    }
    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        self.inner.snapshot(name)
    }
    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), StorageError> {
        if name.as_str() != "a" || self.before_write_of_a.lock().unwrap().is_none() {
            return self.inner.update(name, f);
        }
        // Decide (and seal) now, as of the record now, and write after the hook.
        let decided = f(self.inner.read(name)?.as_ref());
        run(&self.before_write_of_a);
        let mut decided = Some(decided);
        self.inner
            .update(name, &mut |_| decided.take().unwrap_or(Update::Keep))
    }
    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        self.inner.list(after, limit.min(self.page_cap))
    }
}

/// The world's KMS, with hooks just before every finish of a rotation and just after the next.
struct HookedKms {
    inner: Arc<LocalKms>,
    before_finish: Box<dyn Fn() + Send + Sync>,
    after_finish: Hook,
}

impl Kms for HookedKms {
    fn generate_data_key(
        &self,
        key_id: &secret_model::KeyId,
        context: &[u8],
    ) -> Result<secret_crypto::DataKey, secret_crypto::KmsError> {
        self.inner.generate_data_key(key_id, context)
    }
    fn decrypt_data_key(
        &self,
        wrapped: &secret_crypto::WrappedDataKey,
        context: &[u8],
    ) -> Result<secret_crypto::DataKeyBytes, secret_crypto::KmsError> {
        self.inner.decrypt_data_key(wrapped, context)
    }
    fn describe_key(
        &self,
        key_id: &secret_model::KeyId,
    ) -> Result<secret_crypto::KeyMetadata, secret_crypto::KmsError> {
        self.inner.describe_key(key_id)
    }
    fn default_key(&self) -> Result<secret_model::KeyId, secret_crypto::KmsError> {
        self.inner.default_key()
    }
    fn record_seal_key(&self) -> Result<RecordSealKey, secret_crypto::KmsError> {
        self.inner.record_seal_key()
    }
    fn begin_record_seal_key_rotation(&self) -> Result<RecordSealKey, secret_crypto::KmsError> {
        self.inner.begin_record_seal_key_rotation()
    }
    fn finish_record_seal_key_rotation(
        &self,
        rotated_to: &RecordSealKey,
    ) -> Result<RecordSealKey, secret_crypto::KmsError> {
        (self.before_finish)();
        let finished = self.inner.finish_record_seal_key_rotation(rotated_to);
        run(&self.after_finish);
        finished
    }
}

/// A write that has sealed `a` under the old key, and not yet written it, when the rotation
/// begins: the rotation waits for it (else it would re-seal `a`, finish, and the write would
/// then land under a key no longer accepted).
#[test]
fn a_rotation_waits_for_a_write_already_sealing_under_the_old_key() {
    let world = World::new();
    three_secrets(&world);
    let (held, entered, go) = pause();
    let storage = Arc::new(Hooked {
        before_write_of_a: held,
        ..Hooked::new(&world)
    });
    let store = SecretsManager::builder(storage, world.kms()).build();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            store
                .update_secret(UpdateSecretRequest {
                    secret_name: "a".into(),
                    description: Some("sealed before the rotation began".into()),
                })
                .unwrap();
        });
        entered.recv().unwrap();
        store.rotate_record_seal_key().unwrap();
        let _ = go.send(());
        writer.join().unwrap();
    });
    let restarted = world.manager();
    assert_eq!(
        describe(&restarted, "a").unwrap(),
        "sealed before the rotation began"
    );
    all_readable(&restarted);
}

/// Two rotations of one manager at once (two admin calls, or one through a `for_principal`
/// handle), the second begun while the first has finished in the KMS and not yet installed
/// its key: the manager must end on the keyring's current key, neither refusing the records
/// it has nor writing records every process started after refuses.
#[test]
fn two_rotations_at_once_leave_the_manager_on_the_keyring_s_current_key() {
    let world = World::new();
    three_secrets(&world);
    let (after_finish, finished, go) = pause();
    let kms = Arc::new(HookedKms {
        inner: world.kms(),
        before_finish: Box::new(|| {}),
        after_finish,
    });
    let store = SecretsManager::builder(world.storage.clone(), kms).build();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| store.rotate_record_seal_key().unwrap());
        finished
            .recv_timeout(Duration::from_secs(10))
            .expect("the first rotation reaches its finish");
        let admin = store.for_principal(secrets_manager::Principal::new("admin"));
        admin.rotate_record_seal_key().unwrap();
        let _ = go.send(());
        first.join().unwrap();
    });
    // What the manager has must stay readable...
    all_readable(&store);
    // ...and what it writes now must be readable after a restart.
    create(&store, "d");
    assert!(
        describe(&world.manager(), "d").is_ok(),
        "a restarted process refuses a secret written after both rotations returned"
    );
}

/// A read that fetched `a` while it was still sealed under the old key, and checks it after
/// the rotation would have finished, must not find a genuine record refused as tampered with.
#[test]
fn a_read_overlapping_the_end_of_a_rotation_is_not_refused_as_tampered() {
    let world = World::new();
    three_secrets(&world);
    let (after_read, fetched, go) = pause();
    let storage = Arc::new(Hooked {
        after_read_of_a: after_read,
        ..Hooked::new(&world)
    });
    let store = SecretsManager::builder(storage, world.kms()).build();
    let read = std::thread::scope(|scope| {
        let reader = scope.spawn(|| describe(&store, "a"));
        fetched
            .recv_timeout(Duration::from_secs(10))
            .expect("the read fetches a");
        store.rotate_record_seal_key().unwrap();
        let _ = go.send(());
        reader.join().unwrap()
    });
    assert!(
        read.is_ok(),
        "a genuine record read during a rotation: {read:?}"
    );
}

/// `Storage::list` promises "up to `limit` records" (ListSecrets and purge_expired_secrets walk
/// on until an empty page): a backend with pages of 100 must not end the walk early, so that
/// the rotation would finish and forget the key the records past it are still sealed under.
#[test]
fn a_rotation_over_a_backend_with_short_pages_reseals_every_record() {
    let world = World::new();
    let store = world.manager();
    let names: Vec<String> = (0..150).map(|i| format!("s{i:03}")).collect();
    for name in &names {
        create(&store, name);
    }
    drop(store);
    let short = Arc::new(Hooked {
        page_cap: 100,
        ..Hooked::new(&world)
    });
    let done = SecretsManager::builder(short, world.kms())
        .build()
        .rotate_record_seal_key()
        .unwrap();
    assert_eq!(done.records_checked, 150, "{done:?}");
    let restarted = world.manager();
    for name in &names {
        assert!(describe(&restarted, name).is_ok(), "{name}");
    }
}

/// Another store finishes this rotation before this one does, then begins one of its own and
/// stops part way: this rotation does not drop the newer one's retiring key, but seals every
/// record under the newer key and finishes that rotation too.
#[test]
fn a_rotation_begun_by_another_store_meanwhile_is_finished_not_cut_short() {
    let world = World::new();
    three_secrets(&world);
    let kms = world.kms();
    let other = world.manager_on(Arc::clone(&kms), false);
    let newest = Arc::new(Mutex::new(None));
    let before_finish = {
        let (kms, newest) = (Arc::clone(&kms), Arc::clone(&newest));
        let once = AtomicBool::new(true);
        Box::new(move || {
            if once.swap(false, Ordering::SeqCst) {
                other.rotate_record_seal_key().unwrap();
                *newest.lock().unwrap() = Some(kms.begin_record_seal_key_rotation().unwrap());
                // Stopped here: no record is sealed under the newest key yet.
            }
        })
    };
    let this = SecretsManager::builder(
        world.storage.clone(),
        Arc::new(HookedKms {
            inner: Arc::clone(&kms),
            before_finish,
            after_finish: no_hook(),
        }),
    )
    .build();

    let done = this.rotate_record_seal_key().unwrap();
    assert_eq!(
        done.records_checked, 6,
        "two walks: its own, and the other's rotation"
    );
    let now = kms.record_seal_key().unwrap();
    assert!(!now.is_rotating(), "finished");
    let newest = newest.lock().unwrap().take().unwrap();
    assert!(now.same_current_key(&newest), "under the newest key");
    all_readable(&world.manager());
    all_readable(&this);
}

/// A rotation that gives up after `ROTATION_ROUNDS` rounds of rotations begun elsewhere must
/// still leave the manager on the keyring's current key, as it does when it finds the key
/// changed (`two_rotations_at_once_leave_the_manager_on_the_keyring_s_current_key`): else it
/// refuses, as tampered with, every record sealed under that key — by a process started after,
/// or by the other store as it walks — until it is restarted.
#[test]
fn a_rotation_that_gives_up_on_rotations_begun_elsewhere_is_left_on_the_keyring_s_current_key() {
    let world = World::new();
    three_secrets(&world);
    let kms = world.kms();
    // Another store that, each time this one is about to finish, finishes the rotation under
    // way (this one has just sealed every record under its key) and begins one of its own.
    let other = Arc::clone(&kms);
    let this = SecretsManager::builder(
        world.storage.clone(),
        Arc::new(HookedKms {
            inner: Arc::clone(&kms),
            before_finish: Box::new(move || {
                let current = other.record_seal_key().unwrap();
                other.finish_record_seal_key_rotation(&current).unwrap();
                other.begin_record_seal_key_rotation().unwrap();
            }),
            after_finish: no_hook(),
        }),
    )
    .build();
    assert!(
        is_internal_failure(this.rotate_record_seal_key()),
        "gives up: other rotations kept beginning"
    );
    assert!(
        kms.record_seal_key().unwrap().is_rotating(),
        "another store's rotation is under way"
    );
    all_readable(&world.manager());

    // A process started now seals under the keyring's current key.
    create(&world.manager(), "d");
    let read = describe(&this, "d");
    assert!(
        read.is_ok(),
        "a record sealed under the keyring's current key is refused as tampered: {read:?}"
    );
}
