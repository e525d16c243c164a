//! `NonceTable`: the replay guard that servers on one PostgreSQL store share.

mod common;

use common::{raw_client, temp_store, url_or_skip};
use secret_storage_postgres::{PostgresConfig, PostgresStorage, SCHEMA_VERSION};

fn rows(url: &str, schema: &str) -> i64 {
    raw_client(url)
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".request_nonces"),
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_nonce_is_fresh_once_per_key_until_it_expires() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let table = store.store.nonce_table();
    // Digests use all 64 bits; the high ones must survive the trip through bigint.
    let (key, other_key, nonce) = (u64::MAX - 1, 7, 1 << 63);
    assert!(table.record(key, nonce, 1_100, 1_000).unwrap());
    assert!(!table.record(key, nonce, 1_100, 1_050).unwrap(), "a replay");
    assert!(
        !table.record(key, nonce, 1_200, 1_099).unwrap(),
        "still a replay"
    );
    assert!(
        table.record(other_key, nonce, 1_100, 1_050).unwrap(),
        "another key's"
    );
    // Once its expiry has passed, the nonce may be used again, and is remembered anew.
    assert!(table.record(key, nonce, 1_300, 1_100).unwrap());
    assert!(!table.record(key, nonce, 1_300, 1_200).unwrap());
}

#[test]
fn servers_racing_with_one_nonce_accept_it_once() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    for round in 0..20u64 {
        let fresh: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    // A handle each, as separate servers would have.
                    let table = store.store.nonce_table();
                    scope.spawn(move || table.record(1, round, 2_000, 1_000).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            fresh.iter().filter(|f| **f).count(),
            1,
            "round {round}: {fresh:?}"
        );
    }
}

#[test]
fn expired_nonces_are_deleted_about_every_minute() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let schema = store.store.schema().to_owned();
    let table = store.store.nonce_table();
    for n in 0..10 {
        table.record(1, n, 1_010, 1_000).unwrap(); // the first record sweeps (nothing yet)
    }
    table.record(1, 100, 5_000, 1_030).unwrap();
    assert_eq!(rows(&url, &schema), 11, "no sweep within the minute");
    table.record(1, 101, 5_000, 1_070).unwrap();
    assert_eq!(rows(&url, &schema), 2, "the ten expired at 1,010 are gone");
}

/// A store of schema version 1 (before the nonce table) is migrated on open, its secrets kept.
#[test]
fn a_version_1_schema_gains_the_nonce_table() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let schema = store.store.schema().to_owned();
    raw_client(&url)
        .batch_execute(&format!(
            "DROP TABLE \"{schema}\".request_nonces; \
             UPDATE \"{schema}\".schema_version SET version = 1"
        ))
        .unwrap();
    let reopened = PostgresStorage::open(&PostgresConfig::new(&url).schema(&schema)).unwrap();
    let version: i32 = raw_client(&url)
        .query_one(
            &format!("SELECT version FROM \"{schema}\".schema_version"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
    assert!(reopened.nonce_table().record(1, 2, 3, 0).unwrap());
    assert_eq!(rows(&url, &schema), 1);
    drop(reopened);
}
