//! Known-answer tests: checked-in bytes that pin the envelope and keyring formats, so that
//! neither can change silently. `generate_vectors` (ignored) prints fresh ones; regenerating
//! is only right together with a new format version.

mod common;

use std::sync::Arc;

use common::{hex, name, unhex, version};
use secret_crypto::envelope::{self, EnvelopeContext};
use secret_crypto::{
    DEFAULT_KEY_DESCRIPTION, DataKeyBytes, KeyState, Kms, KmsError, LocalKms, MemoryKeyring,
    RootKey, WrappedDataKey,
};
use secret_model::{KeyId, SecretDataType, Timestamp};
use zeroize::Zeroizing;

/// The root key every checked-in keyring was written under: bytes 0x80, 0x81, …, 0x9f.
fn vector_root_key() -> RootKey {
    RootKey::from_bytes(std::array::from_fn(|i| 0x80 + i as u8))
}

const KAT_KEY_ID: &str = "0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0";
const KAT_PLAINTEXT: &[u8] = b"known answer";

/// The inputs of the deterministic envelope: data key 0x01..=0x20, nonce 0x00..=0x0b, a
/// stand-in wrapped key of 60 bytes 0xa0..=0xdb under key version 7.
fn kat_inputs() -> (WrappedDataKey, DataKeyBytes, [u8; 12]) {
    let wrapped = WrappedDataKey {
        key_id: KeyId::parse(KAT_KEY_ID).unwrap(),
        key_version: 7,
        ciphertext: (0xa0..0xa0 + 60).collect(),
    };
    let dek = DataKeyBytes(Zeroizing::new(std::array::from_fn(|i| i as u8 + 1)));
    let nonce = std::array::from_fn(|i| i as u8);
    (wrapped, dek, nonce)
}

fn with_ctx<T>(f: impl FnOnce(&EnvelopeContext<'_>) -> T) -> T {
    let (n, v) = (name("kat/secret"), version("v1"));
    f(&EnvelopeContext {
        secret_name: &n,
        version_id: &v,
        data_type: SecretDataType::Text,
    })
}

#[test]
fn envelope_v1_bytes_are_pinned_by_a_known_answer() {
    let (wrapped, dek, nonce) = kat_inputs();
    let sealed =
        with_ctx(|ctx| envelope::seal_with(&wrapped, &dek, nonce, ctx, KAT_PLAINTEXT)).unwrap();
    let expected = unhex(include_str!("vectors/envelope_v1_kat.hex"));
    assert_eq!(hex(&sealed), hex(&expected));

    let env = envelope::parse(&expected).unwrap();
    assert_eq!(env.key_id().to_string(), KAT_KEY_ID);
    assert_eq!(env.key_version(), 7);
    let opened = with_ctx(|ctx| envelope::open_with(&env, &dek, ctx)).unwrap();
    assert_eq!(opened.expose(), KAT_PLAINTEXT);
}

#[test]
fn checked_in_keyring_and_envelopes_still_open() {
    let keyring = unhex(include_str!("vectors/keyring_v1.hex"));
    let kms = LocalKms::open(
        vector_root_key(),
        Box::new(MemoryKeyring::from_bytes(keyring)),
    )
    .unwrap();

    let key = kms.default_key().unwrap();
    assert_eq!(
        key.to_string(),
        include_str!("vectors/keyring_v1_key_id.txt").trim()
    );
    let keys = kms.list_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, key);
    assert_eq!(keys[0].state, KeyState::Enabled);
    assert_eq!(keys[0].primary_key_version, 2);
    assert_eq!(keys[0].description, DEFAULT_KEY_DESCRIPTION);
    assert_eq!(
        keys[0].creation_date,
        Timestamp::parse(include_str!("vectors/keyring_v1_created.txt").trim()).unwrap()
    );

    for (file, key_version, plaintext) in [
        (
            include_str!("vectors/envelope_v1_key_version_1.hex"),
            1,
            &b"sealed under version 1"[..],
        ),
        (
            include_str!("vectors/envelope_v1_key_version_2.hex"),
            2,
            &b"sealed under version 2"[..],
        ),
    ] {
        let sealed = unhex(file);
        assert_eq!(envelope::parse(&sealed).unwrap().key_version(), key_version);
        let opened = with_ctx(|ctx| envelope::open(&kms, &sealed, ctx)).unwrap();
        assert_eq!(opened.expose(), plaintext);
    }
}

#[test]
fn a_format_1_keyring_gains_a_record_seal_key_and_keeps_its_master_keys() {
    let store = Arc::new(MemoryKeyring::from_bytes(unhex(include_str!(
        "vectors/keyring_v1.hex"
    ))));
    let kms = LocalKms::open(vector_root_key(), Box::new(store.clone())).unwrap();
    let seal = kms.record_seal_key().unwrap().seal(b"record");
    let upgraded = store.bytes().unwrap();
    assert_eq!(upgraded[8], 2, "saved in keyring format 2");

    let reopened = LocalKms::open(vector_root_key(), Box::new(store)).unwrap();
    assert_eq!(reopened.record_seal_key().unwrap().seal(b"record"), seal);
    assert_eq!(
        reopened.default_key().unwrap().to_string(),
        include_str!("vectors/keyring_v1_key_id.txt").trim()
    );
    let sealed = unhex(include_str!("vectors/envelope_v1_key_version_1.hex"));
    let opened = with_ctx(|ctx| envelope::open(&reopened, &sealed, ctx)).unwrap();
    assert_eq!(opened.expose(), b"sealed under version 1");
}

#[test]
fn checked_in_keyring_refuses_another_root_key() {
    let keyring = unhex(include_str!("vectors/keyring_v1.hex"));
    let err = LocalKms::open(
        RootKey::from_bytes([0x80; 32]),
        Box::new(MemoryKeyring::from_bytes(keyring)),
    )
    .unwrap_err();
    assert!(matches!(err, KmsError::WrongRootKey), "{err}");
}

#[test]
fn checked_in_keyring_v2_and_its_record_seal_still_open() {
    let blob = unhex(include_str!("vectors/keyring_v2.hex"));
    assert_eq!(&blob[..9], b"SSKEYRNG\x02", "a keyring format 2 blob");
    let kms = LocalKms::open(vector_root_key(), Box::new(MemoryKeyring::from_bytes(blob))).unwrap();
    assert_eq!(
        kms.default_key().unwrap().to_string(),
        include_str!("vectors/keyring_v2_key_id.txt").trim()
    );
    let seal = kms.record_seal_key().unwrap().seal(KAT_RECORD);
    assert_eq!(
        hex(&seal),
        include_str!("vectors/keyring_v2_record_seal.txt").trim()
    );
}

#[test]
fn checked_in_keyring_v3_accepts_both_seal_keys_until_its_rotation_finishes() {
    let blob = unhex(include_str!("vectors/keyring_v3.hex"));
    assert_eq!(&blob[..9], b"SSKEYRNG\x03", "a keyring format 3 blob");
    let store = Arc::new(MemoryKeyring::from_bytes(blob));
    let kms = LocalKms::open(vector_root_key(), Box::new(store.clone())).unwrap();
    let old_seal = unhex(include_str!("vectors/keyring_v2_record_seal.txt"));
    let new_seal = unhex(include_str!("vectors/keyring_v3_record_seal.txt"));
    let (old_seal, new_seal): ([u8; 32], [u8; 32]) =
        (old_seal.try_into().unwrap(), new_seal.try_into().unwrap());
    let key = kms.record_seal_key().unwrap();
    assert_eq!(key.seal(KAT_RECORD), new_seal, "seals use the new key");
    assert!(
        key.verify(KAT_RECORD, &old_seal),
        "and accept the retiring one"
    );
    assert_eq!(
        kms.default_key().unwrap().to_string(),
        include_str!("vectors/keyring_v2_key_id.txt").trim(),
        "the master keys are the format-2 vector's"
    );
    let done = kms.finish_record_seal_key_rotation(&key).unwrap();
    assert_eq!(store.bytes().unwrap()[8], 2, "finished: format 2 again");
    assert!(done.verify(KAT_RECORD, &new_seal) && !done.verify(KAT_RECORD, &old_seal));
}

/// The bytes whose seal under the checked-in format-2 keyring is pinned.
const KAT_RECORD: &[u8] = b"a record, as sealed_bytes gives it";

/// Prints fresh vectors. Run with
/// `cargo test -p secret-crypto --test known_answers -- --ignored --nocapture generate_vectors`
/// and copy each block into `tests/vectors/`.
#[test]
#[ignore = "generates vectors; run by hand only when a new format version is introduced"]
fn generate_vectors() {
    let (wrapped, dek, nonce) = kat_inputs();
    let kat =
        with_ctx(|ctx| envelope::seal_with(&wrapped, &dek, nonce, ctx, KAT_PLAINTEXT)).unwrap();
    println!("== envelope_v1_kat.hex\n{}", hex(&kat));

    let store = Arc::new(MemoryKeyring::new());
    let kms = LocalKms::open(vector_root_key(), Box::new(store.clone())).unwrap();
    let key = kms.default_key().unwrap();
    let v1 = with_ctx(|ctx| envelope::seal(&kms, &key, ctx, b"sealed under version 1")).unwrap();
    kms.rotate_key(&key).unwrap();
    let v2 = with_ctx(|ctx| envelope::seal(&kms, &key, ctx, b"sealed under version 2")).unwrap();
    let created = kms.describe_key(&key).unwrap().creation_date;
    println!("== keyring_v1_key_id.txt\n{key}");
    println!("== keyring_v1_created.txt\n{created}");
    println!("== envelope_v1_key_version_1.hex\n{}", hex(&v1));
    println!("== envelope_v1_key_version_2.hex\n{}", hex(&v2));
    println!("== keyring_v1.hex\n{}", hex(&store.bytes().unwrap()));

    let store = Arc::new(MemoryKeyring::new());
    let kms = LocalKms::open(vector_root_key(), Box::new(store.clone())).unwrap();
    let key = kms.default_key().unwrap();
    let seal = kms.record_seal_key().unwrap().seal(KAT_RECORD);
    println!("== keyring_v2_key_id.txt\n{key}");
    println!("== keyring_v2_record_seal.txt\n{}", hex(&seal));
    println!("== keyring_v2.hex\n{}", hex(&store.bytes().unwrap()));
}

/// Prints the format-3 vector: the checked-in format-2 keyring with a rotation of its record
/// seal key begun. Run as [`generate_vectors`], with `generate_keyring_v3`.
#[test]
#[ignore = "generates vectors; run by hand only when a new format version is introduced"]
fn generate_keyring_v3() {
    let store = Arc::new(MemoryKeyring::from_bytes(unhex(include_str!(
        "vectors/keyring_v2.hex"
    ))));
    let kms = LocalKms::open(vector_root_key(), Box::new(store.clone())).unwrap();
    let seal = kms
        .begin_record_seal_key_rotation()
        .unwrap()
        .seal(KAT_RECORD);
    println!("== keyring_v3_record_seal.txt\n{}", hex(&seal));
    println!("== keyring_v3.hex\n{}", hex(&store.bytes().unwrap()));
}
