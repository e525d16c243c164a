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
    let barrier = Barrier::new(4);
    let seals: Vec<[u8; 32]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let kms =
                        SharedKeyringKms::open(store.store.keyring(DEFAULT_KEYRING), root).unwrap();
                    barrier.wait();
                    kms.record_seal_key().unwrap().seal(b"record")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(seals.windows(2).all(|w| w[0] == w[1]), "one key for all");
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
