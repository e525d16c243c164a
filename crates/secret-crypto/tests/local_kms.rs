//! Behaviour of LocalKms: key lifecycle, data-key wrapping, persistence, wrap counting.

mod common;

use std::sync::Arc;

use common::CountingStore;
use secret_crypto::{
    DEFAULT_KEY_DESCRIPTION, FileKeyring, KeyState, KeyringStore, Kms, KmsError, LocalKms,
    MemoryKeyring, RootKey, WrappedDataKey,
};
use secret_model::{KeyId, Uuid};

fn root() -> RootKey {
    RootKey::from_bytes([0x5a; 32])
}

fn kms() -> LocalKms {
    LocalKms::in_memory(root())
}

fn unknown_id() -> KeyId {
    KeyId::new(Uuid::new_v4([0xee; 16]))
}

#[test]
fn local_kms_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LocalKms>();
}

#[test]
fn create_key_returns_an_enabled_key_with_a_uuid_v4_id_and_version_1() {
    let kms = kms();
    let meta = kms.create_key("payments").unwrap();
    assert_eq!(meta.state, KeyState::Enabled);
    assert_eq!(meta.primary_key_version, 1);
    assert_eq!(meta.description, "payments");
    let text = meta.key_id.to_string();
    assert_eq!(text.len(), 36);
    assert_eq!(&text[14..15], "4", "version nibble of a UUID v4");
    assert!(meta.creation_date.unix() > 1_600_000_000);
    assert_eq!(kms.describe_key(&meta.key_id).unwrap(), meta);
}

#[test]
fn list_keys_returns_every_key_in_creation_order() {
    let kms = kms();
    let a = kms.create_key("a").unwrap();
    let b = kms.create_key("b").unwrap();
    assert_ne!(a.key_id, b.key_id);
    let listed: Vec<_> = kms
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|m| m.key_id)
        .collect();
    assert_eq!(listed, [a.key_id, b.key_id]);
}

#[test]
fn unknown_key_is_key_not_found_everywhere() {
    let kms = kms();
    let id = unknown_id();
    let not_found = |e: KmsError| assert!(matches!(e, KmsError::KeyNotFound(k) if k == id), "{e}");
    not_found(kms.describe_key(&id).unwrap_err());
    not_found(kms.generate_data_key(&id, b"").unwrap_err());
    not_found(kms.enable_key(&id).unwrap_err());
    not_found(kms.disable_key(&id).unwrap_err());
    not_found(kms.rotate_key(&id).unwrap_err());
    let wrapped = WrappedDataKey {
        key_id: id,
        key_version: 1,
        ciphertext: vec![0; 60],
    };
    not_found(kms.decrypt_data_key(&wrapped, b"").unwrap_err());
}

#[test]
fn data_key_unwraps_to_the_same_bytes_under_the_same_context() {
    let kms = kms();
    let key = kms.create_key("k").unwrap().key_id;
    let dk = kms.generate_data_key(&key, b"ctx").unwrap();
    assert_eq!(dk.wrapped.key_id, key);
    assert_eq!(dk.wrapped.key_version, 1);
    assert_eq!(dk.wrapped.ciphertext.len(), 12 + 32 + 16);
    let back = kms.decrypt_data_key(&dk.wrapped, b"ctx").unwrap();
    assert_eq!(*back.0, *dk.plaintext.0);
    let other = kms.generate_data_key(&key, b"ctx").unwrap();
    assert_ne!(
        *other.plaintext.0, *dk.plaintext.0,
        "each data key is fresh"
    );
}

#[test]
fn wrapped_key_fails_opaquely_under_another_context_version_key_or_after_tampering() {
    let kms = kms();
    let key = kms.create_key("k").unwrap().key_id;
    let other_key = kms.create_key("other").unwrap().key_id;
    let dk = kms.generate_data_key(&key, b"ctx").unwrap();
    let fails = |w: &WrappedDataKey, ctx: &[u8]| {
        assert!(matches!(
            kms.decrypt_data_key(w, ctx),
            Err(KmsError::DecryptionFailed)
        ));
    };
    fails(&dk.wrapped, b"ctx2");
    fails(&dk.wrapped, b"");
    fails(
        &WrappedDataKey {
            key_version: 2,
            ..dk.wrapped.clone()
        },
        b"ctx",
    );
    fails(
        &WrappedDataKey {
            key_version: 0,
            ..dk.wrapped.clone()
        },
        b"ctx",
    );
    fails(
        &WrappedDataKey {
            key_id: other_key,
            ..dk.wrapped.clone()
        },
        b"ctx",
    );
    for i in 0..dk.wrapped.ciphertext.len() {
        let mut w = dk.wrapped.clone();
        w.ciphertext[i] ^= 0x01;
        fails(&w, b"ctx");
    }
    for len in 0..dk.wrapped.ciphertext.len() {
        let mut w = dk.wrapped.clone();
        w.ciphertext.truncate(len);
        fails(&w, b"ctx");
    }
}

#[test]
fn disabled_key_refuses_both_directions_until_enabled_again() {
    let kms = kms();
    let key = kms.create_key("k").unwrap().key_id;
    let dk = kms.generate_data_key(&key, b"").unwrap();
    kms.disable_key(&key).unwrap();
    kms.disable_key(&key).unwrap();
    assert_eq!(kms.describe_key(&key).unwrap().state, KeyState::Disabled);
    assert!(matches!(kms.generate_data_key(&key, b""), Err(KmsError::KeyDisabled(k)) if k == key));
    assert!(matches!(
        kms.decrypt_data_key(&dk.wrapped, b""),
        Err(KmsError::KeyDisabled(_))
    ));
    assert!(matches!(
        kms.rotate_key(&key),
        Err(KmsError::KeyDisabled(_))
    ));
    kms.enable_key(&key).unwrap();
    assert!(kms.decrypt_data_key(&dk.wrapped, b"").is_ok());
}

#[test]
fn rotation_makes_a_new_primary_version_and_old_data_keys_still_decrypt() {
    let kms = kms();
    let key = kms.create_key("k").unwrap().key_id;
    let old = kms.generate_data_key(&key, b"c").unwrap();
    assert_eq!(kms.rotate_key(&key).unwrap(), 2);
    assert_eq!(kms.rotate_key(&key).unwrap(), 3);
    assert_eq!(kms.describe_key(&key).unwrap().primary_key_version, 3);
    let new = kms.generate_data_key(&key, b"c").unwrap();
    assert_eq!(new.wrapped.key_version, 3);
    assert_eq!(
        *kms.decrypt_data_key(&old.wrapped, b"c").unwrap().0,
        *old.plaintext.0
    );
    assert_eq!(
        *kms.decrypt_data_key(&new.wrapped, b"c").unwrap().0,
        *new.plaintext.0
    );
    // Version 1's wrap is not accepted as version 3's.
    let relabelled = WrappedDataKey {
        key_version: 3,
        ..old.wrapped.clone()
    };
    assert!(kms.decrypt_data_key(&relabelled, b"c").is_err());
}

#[test]
fn default_key_is_created_once_with_its_description() {
    let kms = kms();
    let id = kms.default_key().unwrap();
    assert_eq!(kms.default_key().unwrap(), id);
    assert_eq!(
        kms.describe_key(&id).unwrap().description,
        DEFAULT_KEY_DESCRIPTION
    );
    assert_eq!(kms.list_keys().unwrap().len(), 1);
}

#[test]
fn keys_and_the_default_key_survive_reopening_a_file_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let open = || LocalKms::open(root(), Box::new(FileKeyring::new(&path))).unwrap();

    let kms = open();
    let default = kms.default_key().unwrap();
    let other = kms.create_key("other").unwrap().key_id;
    kms.rotate_key(&other).unwrap();
    kms.disable_key(&default).unwrap();
    let dk = kms.generate_data_key(&other, b"x").unwrap();
    let before = kms.list_keys().unwrap();
    drop(kms);

    let kms = open();
    assert_eq!(kms.default_key().unwrap(), default);
    assert_eq!(kms.list_keys().unwrap(), before);
    assert_eq!(
        *kms.decrypt_data_key(&dk.wrapped, b"x").unwrap().0,
        *dk.plaintext.0
    );
}

#[cfg(unix)]
#[test]
fn keyring_file_is_private_and_holds_no_data_key_in_the_clear() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let kms = LocalKms::open(root(), Box::new(FileKeyring::new(&path))).unwrap();
    let key = kms.default_key().unwrap();
    let dk = kms.generate_data_key(&key, b"").unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(32).any(|w| w == &dk.plaintext.0[..]));
}

#[test]
fn reopening_with_another_root_key_is_wrong_root_key() {
    let store = Arc::new(MemoryKeyring::new());
    let kms = LocalKms::open(root(), Box::new(store.clone())).unwrap();
    kms.default_key().unwrap();
    let err = LocalKms::open(RootKey::from_bytes([0x5b; 32]), Box::new(store)).unwrap_err();
    assert!(matches!(err, KmsError::WrongRootKey), "{err}");
    assert!(err.to_string().contains("root key"));
}

#[test]
fn a_damaged_keyring_never_opens_as_a_keyring() {
    let store = Arc::new(MemoryKeyring::new());
    LocalKms::open(root(), Box::new(store.clone()))
        .unwrap()
        .default_key()
        .unwrap();
    let blob = store.bytes().unwrap();
    for i in 0..blob.len() {
        let mut damaged = blob.clone();
        damaged[i] ^= 0x80;
        let result = LocalKms::open(root(), Box::new(MemoryKeyring::from_bytes(damaged)));
        assert!(
            matches!(result, Err(KmsError::WrongRootKey | KmsError::Keyring(_))),
            "byte {i}"
        );
    }
    for len in 0..blob.len() {
        let result = LocalKms::open(
            root(),
            Box::new(MemoryKeyring::from_bytes(blob[..len].to_vec())),
        );
        assert!(result.is_err(), "length {len}");
    }
}

#[test]
fn every_change_is_saved_before_it_returns() {
    let store = CountingStore::shared();
    let kms = LocalKms::open(root(), Box::new(store.clone())).unwrap();
    let reopen = || {
        LocalKms::open(
            root(),
            Box::new(MemoryKeyring::from_bytes(store.inner.bytes().unwrap())),
        )
        .unwrap()
    };

    let key = kms.create_key("k").unwrap().key_id;
    assert_eq!(reopen().describe_key(&key).unwrap().description, "k");
    kms.disable_key(&key).unwrap();
    assert_eq!(
        reopen().describe_key(&key).unwrap().state,
        KeyState::Disabled
    );
    kms.enable_key(&key).unwrap();
    assert_eq!(
        reopen().describe_key(&key).unwrap().state,
        KeyState::Enabled
    );
    kms.rotate_key(&key).unwrap();
    assert_eq!(reopen().describe_key(&key).unwrap().primary_key_version, 2);
    let default = kms.default_key().unwrap();
    assert_eq!(reopen().default_key().unwrap(), default);
}

#[test]
fn the_record_seal_key_is_made_once_saved_first_and_survives_reopening_and_a_root_key_change() {
    let store = CountingStore::shared();
    let kms = LocalKms::open(root(), Box::new(store.clone())).unwrap();
    store.set_failing(true);
    assert!(
        matches!(kms.record_seal_key(), Err(KmsError::Keyring(_))),
        "an unsaved key is never handed out"
    );
    store.set_failing(false);
    let seal = kms.record_seal_key().unwrap().seal(b"record");
    let saves = store.saves();
    assert_eq!(kms.record_seal_key().unwrap().seal(b"record"), seal);
    assert_eq!(store.saves(), saves, "made once");

    let reopened = LocalKms::open(root(), Box::new(store.clone())).unwrap();
    assert_eq!(reopened.record_seal_key().unwrap().seal(b"record"), seal);

    let new_root = RootKey::from_bytes([0x77; 32]);
    LocalKms::change_root_key(&*store, &root(), &new_root).unwrap();
    let rerooted = LocalKms::open(new_root, Box::new(store.clone())).unwrap();
    assert_eq!(rerooted.record_seal_key().unwrap().seal(b"record"), seal);

    let other_store = LocalKms::in_memory(root());
    assert_ne!(
        other_store.record_seal_key().unwrap().seal(b"record"),
        seal,
        "every keyring has its own"
    );
}

#[test]
fn a_record_seal_key_rotation_accepts_both_keys_until_finished_and_resumes_after_a_reopen() {
    let store = CountingStore::shared();
    let kms = LocalKms::open(root(), Box::new(store.clone())).unwrap();
    let reopen = || LocalKms::open(root(), Box::new(store.clone())).unwrap();
    let format = || store.inner.load().unwrap().unwrap()[8];
    let old_seal = kms.record_seal_key().unwrap().seal(b"record");
    assert_eq!(format(), 2);

    store.set_failing(true);
    assert!(matches!(
        kms.begin_record_seal_key_rotation(),
        Err(KmsError::Keyring(_))
    ));
    assert!(
        !kms.record_seal_key().unwrap().is_rotating(),
        "a rotation whose save failed has not begun"
    );
    store.set_failing(false);

    let rotating = kms.begin_record_seal_key_rotation().unwrap();
    assert!(rotating.is_rotating());
    let new_seal = rotating.seal(b"record");
    assert_ne!(new_seal, old_seal, "seals use a fresh key");
    assert!(
        rotating.verify(b"record", &old_seal),
        "the old key still verifies"
    );
    assert_eq!(format(), 3, "a keyring mid-rotation is format 3");

    // Interrupted here: a reopened keyring resumes the same rotation, and beginning again
    // does not draw a third key (records sealed under the new one must stay readable).
    let resumed = reopen();
    let again = resumed.begin_record_seal_key_rotation().unwrap();
    assert_eq!(again.seal(b"record"), new_seal);
    assert!(again.verify(b"record", &old_seal));
    assert!(
        resumed
            .record_seal_key()
            .unwrap()
            .verify(b"record", &old_seal)
    );

    let done = resumed.finish_record_seal_key_rotation(&again).unwrap();
    assert!(!done.is_rotating());
    assert_eq!(done.seal(b"record"), new_seal);
    assert!(!done.verify(b"record", &old_seal), "the old key is gone");
    assert_eq!(format(), 2, "a finished rotation leaves a format-2 keyring");
    let after = reopen().record_seal_key().unwrap();
    assert!(after.verify(b"record", &new_seal) && !after.verify(b"record", &old_seal));
    let saves = store.saves();
    resumed.finish_record_seal_key_rotation(&again).unwrap();
    assert_eq!(store.saves(), saves, "finishing twice changes nothing");

    // A finish for a rotation that another one has since replaced leaves the newer one's
    // retiring key alone: records not yet sealed again under its key still need it.
    let newer = resumed.begin_record_seal_key_rotation().unwrap();
    let saves = store.saves();
    let left = resumed.finish_record_seal_key_rotation(&again).unwrap();
    assert!(left.is_rotating() && left.same_current_key(&newer));
    assert!(
        left.verify(b"record", &new_seal),
        "the newer rotation's retiring key stays"
    );
    assert_eq!(store.saves(), saves, "nothing saved");
}

#[test]
fn a_kms_that_cannot_rotate_the_record_seal_key_says_so() {
    struct Fixed(LocalKms);
    impl Kms for Fixed {
        fn generate_data_key(
            &self,
            key_id: &KeyId,
            context: &[u8],
        ) -> Result<secret_crypto::DataKey, KmsError> {
            self.0.generate_data_key(key_id, context)
        }
        fn decrypt_data_key(
            &self,
            wrapped: &WrappedDataKey,
            context: &[u8],
        ) -> Result<secret_crypto::DataKeyBytes, KmsError> {
            self.0.decrypt_data_key(wrapped, context)
        }
        fn describe_key(&self, key_id: &KeyId) -> Result<secret_crypto::KeyMetadata, KmsError> {
            self.0.describe_key(key_id)
        }
        fn default_key(&self) -> Result<KeyId, KmsError> {
            self.0.default_key()
        }
        fn record_seal_key(&self) -> Result<secret_crypto::RecordSealKey, KmsError> {
            self.0.record_seal_key()
        }
    }
    let kms = Fixed(kms());
    let err = kms.begin_record_seal_key_rotation().unwrap_err();
    assert!(matches!(err, KmsError::Unsupported(_)));
    assert_eq!(
        err.to_string(),
        "this KMS cannot rotate the record seal key"
    );
    assert!(matches!(
        kms.finish_record_seal_key_rotation(&kms.record_seal_key().unwrap()),
        Err(KmsError::Unsupported(_))
    ));
}

#[test]
fn a_failed_save_changes_nothing() {
    let store = CountingStore::shared();
    let kms = LocalKms::open(root(), Box::new(store.clone())).unwrap();
    let key = kms.create_key("k").unwrap().key_id;
    store.set_failing(true);
    assert!(matches!(kms.create_key("x"), Err(KmsError::Keyring(_))));
    assert!(matches!(kms.rotate_key(&key), Err(KmsError::Keyring(_))));
    assert!(matches!(kms.disable_key(&key), Err(KmsError::Keyring(_))));
    assert!(matches!(kms.default_key(), Err(KmsError::Keyring(_))));
    // The first wrap needs a reservation, which needs a save.
    assert!(matches!(
        kms.generate_data_key(&key, b""),
        Err(KmsError::Keyring(_))
    ));
    let keys = kms.list_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].state, KeyState::Enabled);
    assert_eq!(keys[0].primary_key_version, 1);
    store.set_failing(false);
    assert!(kms.generate_data_key(&key, b"").is_ok());
}

#[test]
fn key_rotates_by_itself_when_a_version_reaches_the_wrap_limit() {
    let kms = kms().with_wrap_policy(5, 2);
    let key = kms.create_key("k").unwrap().key_id;
    let keys: Vec<_> = (0..11)
        .map(|_| kms.generate_data_key(&key, b"c").unwrap())
        .collect();
    let versions: Vec<u32> = keys.iter().map(|k| k.wrapped.key_version).collect();
    assert_eq!(versions, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3]);
    assert_eq!(kms.describe_key(&key).unwrap().primary_key_version, 3);
    for dk in &keys {
        assert_eq!(
            *kms.decrypt_data_key(&dk.wrapped, b"c").unwrap().0,
            *dk.plaintext.0
        );
    }
}

#[test]
fn wrap_counting_persists_one_reservation_per_block() {
    let store = CountingStore::shared();
    let kms = LocalKms::open(root(), Box::new(store.clone()))
        .unwrap()
        .with_wrap_policy(1 << 30, 4);
    let key = kms.create_key("k").unwrap().key_id;
    assert_eq!(store.saves(), 1);
    for _ in 0..8 {
        kms.generate_data_key(&key, b"").unwrap();
    }
    assert_eq!(store.saves(), 3, "one save per 4 wraps");
    kms.generate_data_key(&key, b"").unwrap();
    assert_eq!(store.saves(), 4);
}

#[test]
fn after_reopening_the_wrap_count_resumes_from_the_persisted_reservation() {
    let store = CountingStore::shared();
    let kms = LocalKms::open(root(), Box::new(store.clone()))
        .unwrap()
        .with_wrap_policy(10, 4);
    let key = kms.create_key("k").unwrap().key_id;
    let first: Vec<_> = (0..3)
        .map(|_| kms.generate_data_key(&key, b"").unwrap())
        .collect();
    drop(kms);

    // 3 wraps were made but 4 reserved: the reopened KMS counts from 4, so version 1 has
    // 6 wraps left before the limit of 10.
    let kms = LocalKms::open(root(), Box::new(store.clone()))
        .unwrap()
        .with_wrap_policy(10, 4);
    let versions: Vec<u32> = (0..7)
        .map(|_| {
            kms.generate_data_key(&key, b"")
                .unwrap()
                .wrapped
                .key_version
        })
        .collect();
    assert_eq!(versions, [1, 1, 1, 1, 1, 1, 2]);
    for dk in &first {
        assert_eq!(
            *kms.decrypt_data_key(&dk.wrapped, b"").unwrap().0,
            *dk.plaintext.0
        );
    }
}

#[test]
fn concurrent_wraps_from_many_threads_all_decrypt() {
    let kms = Arc::new(kms().with_wrap_policy(50, 8));
    let key = kms.create_key("k").unwrap().key_id;
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let kms = Arc::clone(&kms);
            std::thread::spawn(move || {
                (0..40)
                    .map(|_| kms.generate_data_key(&key, &[t]).unwrap())
                    .map(|dk| (t, dk))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all.len(), 160);
    for (t, dk) in &all {
        assert_eq!(
            *kms.decrypt_data_key(&dk.wrapped, &[*t]).unwrap().0,
            *dk.plaintext.0
        );
    }
    // 160 wraps at 50 per version: versions 1 to 4 were used.
    assert_eq!(kms.describe_key(&key).unwrap().primary_key_version, 4);
}

#[test]
fn root_key_rotation_keeps_every_data_key_and_refuses_the_old_root() {
    let store = std::sync::Arc::new(secret_crypto::MemoryKeyring::new());
    let (old, new) = ([1u8; 32], [2u8; 32]);
    let kms = LocalKms::open(RootKey::from_bytes(old), Box::new(store.clone())).unwrap();
    let key = kms.create_key("app").unwrap().key_id;
    let dk = kms.generate_data_key(&key, b"ctx").unwrap();
    drop(kms);

    let wrong = LocalKms::change_root_key(
        &*store,
        &RootKey::from_bytes([9; 32]),
        &RootKey::from_bytes(new),
    );
    assert!(matches!(wrong, Err(secret_crypto::KmsError::WrongRootKey)));
    assert!(
        LocalKms::open(RootKey::from_bytes(old), Box::new(store.clone())).is_ok(),
        "unchanged"
    );

    LocalKms::change_root_key(
        &*store,
        &RootKey::from_bytes(old),
        &RootKey::from_bytes(new),
    )
    .unwrap();
    let kms = LocalKms::open(RootKey::from_bytes(new), Box::new(store.clone())).unwrap();
    let again = kms.decrypt_data_key(&dk.wrapped, b"ctx").unwrap();
    assert_eq!(*again.0, *dk.plaintext.0);
    assert!(matches!(
        LocalKms::open(RootKey::from_bytes(old), Box::new(store)),
        Err(secret_crypto::KmsError::WrongRootKey)
    ));
}

#[test]
fn root_key_rotation_without_a_keyring_is_a_clear_error() {
    let store = secret_crypto::MemoryKeyring::new();
    let e = LocalKms::change_root_key(
        &store,
        &RootKey::from_bytes([1; 32]),
        &RootKey::from_bytes([2; 32]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no keyring"), "{e}");
}
