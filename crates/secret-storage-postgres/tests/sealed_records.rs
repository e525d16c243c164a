//! Records in PostgreSQL are sealed by the facade: a record row edited in the database is
//! refused on every instance, and instances that share a keyring share the record seal key.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Barrier};

use common::{TempStore, raw_client, temp_store, url_or_skip};
use secret_crypto::{Kms, RootKey};
use secret_model::ErrorCode;
use secret_storage::{decode_record, encode_record};
use secret_storage_postgres::{DEFAULT_KEYRING, SharedKeyringKms};
use secrets_manager::{
    CreateSecretRequest, GetSecretValueRequest, PutSecretValueRequest, SecretsManager,
};

fn root() -> Result<RootKey, Infallible> {
    Ok(RootKey::from_bytes([0x33; 32]))
}

fn facade(store: &TempStore) -> SecretsManager {
    let kms = SharedKeyringKms::open(store.store.keyring(DEFAULT_KEYRING), root).unwrap();
    SecretsManager::builder(Arc::new(store.store.clone()), Arc::new(kms)).build()
}

fn get(store: &SecretsManager, name: &str) -> Result<Vec<u8>, secrets_manager::Error> {
    store
        .get_secret_value(GetSecretValueRequest {
            secret_name: name.into(),
            ..Default::default()
        })
        .map(|r| r.secret_data.expose().to_vec())
}

#[test]
fn racing_instances_agree_on_one_record_seal_key() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let seals = racing_instances(&store, |kms| kms.record_seal_key().unwrap().seal(b"record"));
    assert!(seals.windows(2).all(|w| w[0] == w[1]), "one key for all");
}

/// What `f` gives on each of four instances of the store's keyring, started together.
fn racing_instances(
    store: &TempStore,
    f: impl Fn(&SharedKeyringKms) -> [u8; 32] + Sync,
) -> Vec<[u8; 32]> {
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let kms =
                        SharedKeyringKms::open(store.store.keyring(DEFAULT_KEYRING), root).unwrap();
                    barrier.wait();
                    f(&kms)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn a_record_row_edited_in_the_database_is_refused_by_every_instance() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let (a, b) = (facade(&store), facade(&store));
    a.create_secret(CreateSecretRequest {
        secret_name: "db".into(),
        secret_data: "one".into(),
        version_id: "v1".into(),
        ..Default::default()
    })
    .unwrap();
    b.put_secret_value(PutSecretValueRequest {
        secret_name: "db".into(),
        version_id: "v2".into(),
        secret_data: "two".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(get(&a, "db").unwrap(), b"two", "b's seal checks out on a");

    // Move ACSCurrent back to v1 in the row, keeping the row's seal.
    let mut client = raw_client(&url);
    let table = format!("\"{}\".secrets", store.store.schema());
    let row = client
        .query_one(
            &format!("SELECT record FROM {table} WHERE name = 'db'"),
            &[],
        )
        .unwrap();
    let bytes: Vec<u8> = row.get(0);
    assert_eq!(
        bytes[0],
        secret_storage::RECORD_FORMAT_VERSION,
        "the row holds a sealed record with payload tags"
    );
    let mut record = decode_record(&bytes).unwrap();
    let stages: Vec<_> = record.versions.iter().map(|v| v.stages.clone()).collect();
    record.versions[0].stages = stages[1].clone();
    record.versions[1].stages = stages[0].clone();
    let edited = encode_record(&record);
    client
        .execute(
            &format!("UPDATE {table} SET record = $1 WHERE name = 'db'"),
            &[&edited],
        )
        .unwrap();

    for instance in [&a, &b] {
        let e = get(instance, "db").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InternalFailure);
    }
    client
        .execute(
            &format!("UPDATE {table} SET record = $1 WHERE name = 'db'"),
            &[&bytes],
        )
        .unwrap();
    assert_eq!(get(&b, "db").unwrap(), b"two");
}

#[test]
fn racing_instances_that_begin_a_seal_key_rotation_begin_one() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let old = SharedKeyringKms::open(store.store.keyring(DEFAULT_KEYRING), root)
        .unwrap()
        .record_seal_key()
        .unwrap()
        .seal(b"record");
    let seals = racing_instances(&store, |kms| {
        let key = kms.begin_record_seal_key_rotation().unwrap();
        assert!(
            key.verify(b"record", &old),
            "the old key is kept as retiring"
        );
        key.seal(b"record")
    });
    assert!(
        seals.windows(2).all(|w| w[0] == w[1]),
        "one new key for all"
    );
    assert_ne!(seals[0], old);
}

#[test]
fn a_rotated_record_seal_key_holds_on_every_instance_started_after() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let a = facade(&store);
    for name in ["db", "api"] {
        a.create_secret(CreateSecretRequest {
            secret_name: name.into(),
            secret_data: "value".into(),
            version_id: "v1".into(),
            ..Default::default()
        })
        .unwrap();
    }
    let mut client = raw_client(&url);
    let table = format!("\"{}\".secrets", store.store.schema());
    let row_of = |client: &mut postgres::Client| -> Vec<u8> {
        client
            .query_one(
                &format!("SELECT record FROM {table} WHERE name = 'db'"),
                &[],
            )
            .unwrap()
            .get(0)
    };
    let sealed_under_old_key = row_of(&mut client);

    let done = a.rotate_record_seal_key().unwrap();
    assert_eq!((done.records_checked, done.records_resealed), (2, 2));
    let b = facade(&store);
    assert_eq!(get(&b, "db").unwrap(), b"value");
    assert_eq!(get(&b, "api").unwrap(), b"value");

    // The row as the old key sealed it (a backup's, say) is refused now, on every instance.
    client
        .execute(
            &format!("UPDATE {table} SET record = $1 WHERE name = 'db'"),
            &[&sealed_under_old_key],
        )
        .unwrap();
    for instance in [&a, &b, &facade(&store)] {
        let err = get(instance, "db").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InternalFailure);
        assert_eq!(get(instance, "api").unwrap(), b"value");
    }
}
