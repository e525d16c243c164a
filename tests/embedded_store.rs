//! The embedded default end to end: sled storage and a file keyring under a root key, closed
//! and reopened, as an application links them.

use std::path::Path;
use std::sync::Arc;

use secret_crypto::{FileKeyring, KmsError, LocalKms, RootKey};
use secret_model::ErrorCode;
use secret_storage_sled::SledStorage;
use secrets_manager::{CreateSecretRequest, GetSecretValueRequest, SecretsManager};

fn open(dir: &Path, root: RootKey) -> Result<SecretsManager, KmsError> {
    let kms = LocalKms::open(root, Box::new(FileKeyring::new(dir.join("keyring"))))?;
    let storage = SledStorage::open(dir.join("data")).expect("the sled store opens");
    Ok(SecretsManager::builder(Arc::new(storage), Arc::new(kms)).build())
}

fn get(name: &str) -> GetSecretValueRequest {
    GetSecretValueRequest {
        secret_name: name.into(),
        ..Default::default()
    }
}

#[test]
fn a_reopened_store_with_the_same_root_key_reads_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let root = [42u8; 32];
    {
        let store = open(dir.path(), RootKey::from_bytes(root)).unwrap();
        for i in 0..5 {
            store
                .create_secret(CreateSecretRequest {
                    secret_name: format!("app/{i}"),
                    secret_data: format!("value {i}").as_str().into(),
                    version_id: "v1".into(),
                    ..Default::default()
                })
                .unwrap();
        }
    }
    let store = open(dir.path(), RootKey::from_bytes(root)).unwrap();
    for i in 0..5 {
        let got = store.get_secret_value(get(&format!("app/{i}"))).unwrap();
        assert_eq!(got.secret_data.expose(), format!("value {i}").as_bytes());
    }
}

#[test]
fn a_wrong_root_key_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), RootKey::from_bytes([1u8; 32])).unwrap();
        store
            .create_secret(CreateSecretRequest {
                secret_name: "db".into(),
                secret_data: "x".into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .unwrap();
    }
    let err = open(dir.path(), RootKey::from_bytes([2u8; 32])).unwrap_err();
    assert!(matches!(err, KmsError::WrongRootKey), "{err:?}");
    assert!(err.to_string().contains("root key"), "{err}");
}

#[test]
fn the_root_key_is_not_stored_beside_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let root = [0x5au8; 32];
    let store = open(dir.path(), RootKey::from_bytes(root)).unwrap();
    store
        .create_secret(CreateSecretRequest {
            secret_name: "db".into(),
            secret_data: "x".into(),
            version_id: "v1".into(),
            ..Default::default()
        })
        .unwrap();
    drop(store);
    let hex: String = root.iter().map(|b| format!("{b:02x}")).collect();
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == root),
            "raw root key in {entry:?}"
        );
        assert!(
            !bytes.windows(64).any(|w| w == hex.as_bytes()),
            "hex root key in {entry:?}"
        );
    }
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.key");
    RootKey::write_new_file(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(RootKey::from_file(&path).is_ok());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = RootKey::from_file(&path).unwrap_err();
    assert!(err.to_string().contains("root.key"), "{err}");
}

#[test]
fn errors_from_the_embedded_store_carry_alibaba_codes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), RootKey::from_bytes([3u8; 32])).unwrap();
    let e = store.get_secret_value(get("missing")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ResourceNotFound);
    assert_eq!(e.http_status(), 404);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// docs/security.md (storage operator): values exist only as ciphertext — no file of the
/// store directory (sled's files, its write journal, its value log, the keyring) holds a value's
/// bytes, small or large, current or replaced, while the store is open or after it closed.
#[test]
fn no_file_of_the_store_directory_holds_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), RootKey::from_bytes([7u8; 32])).unwrap();
    let small = "small-canary-6d1e0b";
    let large_canary = "large-canary-93af27";
    // Near the 30 KiB limit on a value.
    let large: String = std::iter::once(large_canary.to_owned())
        .chain((0..1_000).map(|i| format!("{large_canary}{i:08}")))
        .collect();
    let replaced = "replaced-canary-b7c4";
    for (name, value) in [
        ("small", small),
        ("large", large.as_str()),
        ("db-name-canary-41", replaced),
    ] {
        store
            .create_secret(CreateSecretRequest {
                secret_name: name.into(),
                secret_data: value.into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .unwrap();
    }
    store
        .put_secret_value(secrets_manager::PutSecretValueRequest {
            secret_name: "db-name-canary-41".into(),
            version_id: "v2".into(),
            secret_data: "after".into(),
            ..Default::default()
        })
        .unwrap();
    let check = |when: &str| {
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            for canary in [small, large_canary, replaced] {
                assert!(
                    !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                    "{when}: {canary} in {entry:?}"
                );
            }
        }
    };
    check("open");
    assert_eq!(
        store
            .get_secret_value(get("large"))
            .unwrap()
            .secret_data
            .expose(),
        large.as_bytes()
    );
    drop(store);
    check("closed");
    // The scan sees what is on disk: names are metadata, stored in the clear.
    assert!(walk(dir.path()).iter().any(|entry| {
        let bytes = std::fs::read(entry).unwrap();
        bytes.windows(17).any(|w| w == b"db-name-canary-41")
    }));
    // The values are there: the store reads them back.
    let store = open(dir.path(), RootKey::from_bytes([7u8; 32])).unwrap();
    assert_eq!(
        store
            .get_secret_value(get("small"))
            .unwrap()
            .secret_data
            .expose(),
        small.as_bytes()
    );
}
