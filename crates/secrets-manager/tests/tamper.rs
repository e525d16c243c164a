//! Tampering with what sled stores: any changed byte of a ciphertext, payloads swapped between
//! versions or secrets, records swapped between secrets, and any changed byte of a record give
//! an error or the secret's own value — never another secret's value, never a panic.

use std::sync::Arc;

use secret_crypto::{LocalKms, RootKey};
use secrets_manager::{
    CreateSecretRequest, Error, GetSecretValueRequest, PutSecretValueRequest, SecretsManager,
};

struct Tampered {
    store: SecretsManager,
    /// The tree `SledStorage` keeps its keys in (see docs/formats.md).
    db: sled::Tree,
    _dir: tempfile::TempDir,
}

/// A sled store with secrets `a` (versions v1, v2) and `b` (v1), values naming themselves.
fn setup() -> Tampered {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("data")).unwrap();
    let storage = secret_storage_sled::SledStorage::from_db(db.clone()).unwrap();
    let kms = LocalKms::in_memory(RootKey::from_bytes([4; 32]));
    let store = SecretsManager::builder(Arc::new(storage), Arc::new(kms)).build();
    for name in ["a", "b"] {
        store
            .create_secret(CreateSecretRequest {
                secret_name: name.into(),
                secret_data: format!("value-of-{name}-v1").as_str().into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .unwrap();
    }
    store
        .put_secret_value(PutSecretValueRequest {
            secret_name: "a".into(),
            version_id: "v2".into(),
            secret_data: "value-of-a-v2".into(),
            ..Default::default()
        })
        .unwrap();
    let tree = db.open_tree("secrets").unwrap();
    Tampered {
        store,
        db: tree,
        _dir: dir,
    }
}

fn payload_key(name: &str, version: &str) -> Vec<u8> {
    [b"p/".as_slice(), name.as_bytes(), &[0], version.as_bytes()].concat()
}

fn record_key(name: &str) -> Vec<u8> {
    [b"r/".as_slice(), name.as_bytes()].concat()
}

fn get(store: &SecretsManager, name: &str, version: Option<&str>) -> Result<Vec<u8>, Error> {
    store
        .get_secret_value(GetSecretValueRequest {
            secret_name: name.into(),
            version_id: version.map(Into::into),
            version_stage: None,
        })
        .map(|r| r.secret_data.expose().to_vec())
}

/// What reading `name`'s `version` may give once its stored bytes were tampered with: an error,
/// or exactly its own value.
fn own_value_or_error(store: &SecretsManager, name: &str, version: &str) {
    match get(store, name, Some(version)) {
        Err(_) => {}
        Ok(v) => assert_eq!(
            v,
            format!("value-of-{name}-{version}").into_bytes(),
            "{name}/{version}"
        ),
    }
}

#[test]
fn every_changed_ciphertext_byte_is_an_internal_failure() {
    let t = setup();
    let key = payload_key("a", "v1");
    let original = t.db.get(&key).unwrap().unwrap().to_vec();
    for i in 0..original.len() {
        let mut bad = original.clone();
        bad[i] ^= 0x80;
        t.db.insert(&key, bad).unwrap();
        let e = get(&t.store, "a", Some("v1")).unwrap_err();
        assert_eq!(
            e.code(),
            secret_model::ErrorCode::InternalFailure,
            "byte {i}"
        );
    }
    for len in 0..original.len() {
        t.db.insert(&key, &original[..len]).unwrap();
        assert!(
            get(&t.store, "a", Some("v1")).is_err(),
            "truncated to {len}"
        );
    }
}

#[test]
fn swapped_version_payloads_fail_to_decrypt() {
    let t = setup();
    let (k1, k2) = (payload_key("a", "v1"), payload_key("a", "v2"));
    let (p1, p2) = (
        t.db.get(&k1).unwrap().unwrap(),
        t.db.get(&k2).unwrap().unwrap(),
    );
    t.db.insert(&k1, p2).unwrap();
    t.db.insert(&k2, p1).unwrap();
    assert!(get(&t.store, "a", Some("v1")).is_err());
    assert!(get(&t.store, "a", Some("v2")).is_err());
}

#[test]
fn a_payload_moved_to_another_secret_fails_to_decrypt() {
    let t = setup();
    let pa = t.db.get(payload_key("a", "v1")).unwrap().unwrap();
    t.db.insert(payload_key("b", "v1"), pa).unwrap();
    let e = get(&t.store, "b", Some("v1")).unwrap_err();
    assert_eq!(e.code(), secret_model::ErrorCode::InternalFailure);
}

#[test]
fn swapped_records_never_return_another_secrets_value() {
    let t = setup();
    let (ra, rb) = (
        t.db.get(record_key("a")).unwrap().unwrap(),
        t.db.get(record_key("b")).unwrap().unwrap(),
    );
    t.db.insert(record_key("a"), rb).unwrap();
    t.db.insert(record_key("b"), ra).unwrap();
    for (name, versions) in [("a", ["v1", "v2"].as_slice()), ("b", ["v1"].as_slice())] {
        for v in versions {
            own_value_or_error(&t.store, name, v);
        }
        assert!(
            get(&t.store, name, None).is_err(),
            "a misplaced record is refused"
        );
    }
}

#[test]
fn every_changed_record_byte_gives_an_error_or_the_secrets_own_value() {
    let t = setup();
    let key = record_key("a");
    let original = t.db.get(&key).unwrap().unwrap().to_vec();
    for i in 0..original.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = original.clone();
            bad[i] ^= flip;
            t.db.insert(&key, bad).unwrap();
            for v in ["v1", "v2"] {
                own_value_or_error(&t.store, "a", v);
            }
            if let Ok(current) = get(&t.store, "a", None) {
                assert!(current.starts_with(b"value-of-a-"), "byte {i}");
            }
        }
    }
    t.db.insert(&key, original).unwrap();
    assert_eq!(get(&t.store, "a", None).unwrap(), b"value-of-a-v2");
}
