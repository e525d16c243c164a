//! PostgresKeyring and SharedKeyringKms: one keyring shared by several instances, never
//! overwritten by an instance holding an old copy, and followed by every instance.

mod common;

use std::convert::Infallible;
use std::sync::Barrier;
use std::time::Duration;

use common::{TempStore, temp_store, url_or_skip};
use secret_crypto::{KeyringStore, Kms, KmsError, LocalKms, RootKey};
use secret_storage_postgres::{
    DEFAULT_KEYRING, DEFAULT_KEYRING_REFRESH, PostgresKeyring, SharedKeyringKms,
};

const ROOT: [u8; 32] = [0x42; 32];

fn root() -> Result<RootKey, Infallible> {
    Ok(RootKey::from_bytes(ROOT))
}

fn shared(store: &TempStore) -> SharedKeyringKms {
    SharedKeyringKms::open(store.store.keyring(DEFAULT_KEYRING), root).unwrap()
}

#[test]
fn an_empty_keyring_loads_as_none_and_keeps_what_is_saved() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let keyring = store.store.keyring("k");
    assert_eq!(keyring.load().unwrap(), None);
    keyring.save(b"one").unwrap();
    keyring.save(b"two").unwrap();
    assert_eq!(keyring.load().unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(keyring.stored_generation().unwrap(), Some(2));
    // Keyrings are kept apart by name.
    assert_eq!(store.store.keyring("other").load().unwrap(), None);
}

#[test]
fn a_save_from_a_handle_that_missed_another_save_is_refused() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let a = store.store.keyring("k");
    let b = PostgresKeyring::new(store.store.clone(), "k");
    assert_eq!(a.load().unwrap(), None);
    assert_eq!(b.load().unwrap(), None);
    a.save(b"from a").unwrap();
    match b.save(b"from b") {
        Err(KmsError::Keyring(why)) => assert!(why.contains("another instance"), "{why}"),
        other => panic!("a stale save went through: {other:?}"),
    }
    assert!(b.refused_a_save());
    assert_eq!(b.load().unwrap().as_deref(), Some(&b"from a"[..]));
    b.save(b"from b, after loading").unwrap();
    assert!(a.save(b"a is stale now").is_err());
    assert_eq!(
        a.load().unwrap().as_deref(),
        Some(&b"from b, after loading"[..])
    );
}

#[test]
fn local_kms_keys_survive_a_reopen_from_postgres() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let keyring = || Box::new(store.store.keyring(DEFAULT_KEYRING));
    let kms = LocalKms::open(RootKey::from_bytes(ROOT), keyring()).unwrap();
    let key = kms.default_key().unwrap();
    let dk = kms.generate_data_key(&key, b"ctx").unwrap();
    drop(kms);
    let reopened = LocalKms::open(RootKey::from_bytes(ROOT), keyring()).unwrap();
    assert_eq!(reopened.default_key().unwrap(), key);
    let again = reopened.decrypt_data_key(&dk.wrapped, b"ctx").unwrap();
    assert_eq!(*again.0, *dk.plaintext.0);
    assert!(matches!(
        LocalKms::open(RootKey::from_bytes([1; 32]), keyring()),
        Err(KmsError::WrongRootKey)
    ));
}

#[test]
fn shared_kms_uses_a_key_created_by_another_instance() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let a = shared(&store);
    let b = shared(&store);
    let key = a.create_key("made by a").unwrap();
    let dk = b.generate_data_key(&key.key_id, b"ctx").unwrap();
    let back = a.decrypt_data_key(&dk.wrapped, b"ctx").unwrap();
    assert_eq!(*back.0, *dk.plaintext.0);
    assert_eq!(
        b.describe_key(&key.key_id).unwrap().description,
        "made by a"
    );
}

#[test]
fn shared_kms_decrypts_under_a_key_version_rotated_by_another_instance() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let a = shared(&store);
    let b = shared(&store);
    let key = a.default_key().unwrap();
    assert_eq!(b.default_key().unwrap(), key);
    assert_eq!(a.rotate_key(&key).unwrap(), 2);
    let dk = a.generate_data_key(&key, b"ctx").unwrap();
    assert_eq!(dk.wrapped.key_version, 2);
    let back = b.decrypt_data_key(&dk.wrapped, b"ctx").unwrap();
    assert_eq!(*back.0, *dk.plaintext.0);
}

#[test]
fn shared_kms_instances_keep_every_key_any_of_them_creates() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let instances: Vec<SharedKeyringKms> = (0..4).map(|_| shared(&store)).collect();
    let barrier = Barrier::new(instances.len());
    let (defaults, created): (Vec<_>, Vec<_>) = std::thread::scope(|scope| {
        let handles: Vec<_> = instances
            .iter()
            .enumerate()
            .map(|(i, kms)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let default = kms.default_key().unwrap();
                    let mine = kms.create_key(&format!("key of {i}")).unwrap().key_id;
                    for _ in 0..3 {
                        kms.generate_data_key(&default, b"ctx").unwrap();
                        kms.generate_data_key(&mine, b"ctx").unwrap();
                    }
                    (default, mine)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).unzip()
    });
    assert!(
        defaults.iter().all(|d| *d == defaults[0]),
        "instances disagree on the default key: {defaults:?}"
    );
    let fresh = LocalKms::open(
        RootKey::from_bytes(ROOT),
        Box::new(store.store.keyring(DEFAULT_KEYRING)),
    )
    .unwrap();
    let stored: Vec<_> = fresh
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    assert_eq!(
        stored.len(),
        1 + created.len(),
        "keys were lost or duplicated"
    );
    for key in created.iter().chain([&defaults[0]]) {
        assert!(stored.contains(key), "key {key} was lost");
    }
}

#[test]
fn shared_kms_reports_an_unknown_key_as_not_found() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let kms = shared(&store);
    kms.default_key().unwrap();
    let unknown = secret_model::KeyId::new(secret_model::Uuid::from_bytes([9; 16]));
    assert!(matches!(
        kms.generate_data_key(&unknown, b"ctx"),
        Err(KmsError::KeyNotFound(_))
    ));
}

/// docs/operations.md, "Sharing master keys between instances": a key rotated on one instance
/// wraps the data keys every other instance makes from then on under its new version within
/// the refresh interval (1 s by default; at once with `Duration::ZERO`) — what "After a key
/// may have leaked" relies on ("rotate that key, then put a new version of each secret under
/// it") while servers that already wrapped under the old version keep running. A key disabled
/// elsewhere is refused within the same interval.
#[test]
fn shared_kms_wraps_under_a_key_version_rotated_by_another_instance() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let checking = shared(&store).with_refresh_interval(Duration::ZERO);
    let serving = shared(&store);
    let admin = shared(&store);
    let key = serving.default_key().unwrap();
    for kms in [&checking, &serving] {
        assert_eq!(
            kms.generate_data_key(&key, b"ctx")
                .unwrap()
                .wrapped
                .key_version,
            1
        );
    }
    assert_eq!(admin.rotate_key(&key).unwrap(), 2);
    assert_eq!(
        checking
            .generate_data_key(&key, b"ctx")
            .unwrap()
            .wrapped
            .key_version,
        2,
        "with no refresh interval, the next data key is under the new version"
    );
    std::thread::sleep(DEFAULT_KEYRING_REFRESH + Duration::from_millis(100));
    assert_eq!(
        serving
            .generate_data_key(&key, b"ctx")
            .unwrap()
            .wrapped
            .key_version,
        2,
        "past the default refresh interval, data keys are under the new version"
    );
    admin.disable_key(&key).unwrap();
    assert!(matches!(
        checking.generate_data_key(&key, b"ctx"),
        Err(KmsError::KeyDisabled(_))
    ));
}

/// `SharedKeyringKms`'s refresh is "one small query" per interval (docs of
/// `with_refresh_interval`: `Duration::ZERO` "checks before every one (a query each)"), and a
/// `LocalKms` counts wraps by reserving a block of `WRAP_RESERVATION` (65,536) at a time, "so
/// that counting costs one keyring write per this many data keys". Two instances making data
/// keys in turn must therefore share the keyring with a handful of saves, not one per data
/// key: a refresh that finds only another instance's reservation keeps this instance's own
/// (a reloaded copy would count every reserved wrap as used, burn a whole block of the key
/// version's 2^30 wraps and write the keyring — every second for busy instances, rotating a
/// key by itself every couple of hours and growing the keyring for good).
#[test]
fn instances_taking_turns_at_data_keys_do_not_write_the_keyring_for_each() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let a = shared(&store).with_refresh_interval(Duration::ZERO);
    let b = shared(&store).with_refresh_interval(Duration::ZERO);
    let key = a.default_key().unwrap();
    // Each instance reserves its first block.
    a.generate_data_key(&key, b"ctx").unwrap();
    b.generate_data_key(&key, b"ctx").unwrap();
    let keyring = store.store.keyring(DEFAULT_KEYRING);
    let before = keyring.stored_generation().unwrap().unwrap();
    for _ in 0..10 {
        a.generate_data_key(&key, b"ctx").unwrap();
        b.generate_data_key(&key, b"ctx").unwrap();
    }
    let after = keyring.stored_generation().unwrap().unwrap();
    assert!(
        after - before <= 2,
        "20 data keys within two reservations wrote the keyring {} times",
        after - before
    );
}
