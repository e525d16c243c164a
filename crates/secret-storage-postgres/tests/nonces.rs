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

/// The window the servers in these tests have (`max_clock_skew`).
const WINDOW: i64 = 900;

#[test]
fn a_nonce_is_fresh_once_per_key_through_its_window() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let table = store.store.nonce_table().unwrap();
    // Digests use all 64 bits; the high ones must survive the trip through bigint.
    let (key, other_key, nonce, t) = (u64::MAX - 1, 7, 1 << 63, 1_000_000);
    assert!(table.record(key, nonce, t, WINDOW, t).unwrap());
    assert!(
        !table.record(key, nonce, t + 50, WINDOW, t + 50).unwrap(),
        "a replay"
    );
    assert!(
        table.record(other_key, nonce, t, WINDOW, t).unwrap(),
        "another key's"
    );
    // The window's last second: the timestamp check still accepts the request, so the table
    // must still refuse its replay.
    let last = t + WINDOW;
    assert!(!table.record(key, nonce, last, WINDOW, last).unwrap());
    // Past the window the nonce may be used again, and is remembered anew.
    let past = last + 1;
    assert!(table.record(key, nonce, past, WINDOW, past).unwrap());
    assert!(!table.record(key, nonce, past, WINDOW, past + 10).unwrap());
}

/// Each server applies its own window to when a nonce was seen: one with a wider window (or
/// one restarted with a wider window) refuses a replay the recording server would no longer.
#[test]
fn a_server_with_a_wider_window_remembers_longer() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let t = 1_000_000;
    let narrow = store.store.nonce_table().unwrap();
    assert!(narrow.record(5, 6, t, 300, t).unwrap());
    let wide = store.store.nonce_table().unwrap();
    assert!(!wide.record(5, 6, t + 600, 900, t + 600).unwrap());
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
                    let table = store.store.nonce_table().unwrap();
                    scope.spawn(move || table.record(1, round, 1_000, WINDOW, 1_000).unwrap())
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

/// About once a minute a handle deletes the rows no server can need: seen more than two of its
/// windows and ten minutes ago. A server whose clock runs ahead of the others' must not delete rows
/// they still need.
#[test]
fn old_nonces_are_deleted_but_none_another_server_still_needs() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let schema = store.store.schema().to_owned();
    let t = 1_000_000;
    let a = store.store.nonce_table().unwrap();
    for n in 0..10 {
        a.record(1, n, t, WINDOW, t).unwrap(); // the first record sweeps (nothing yet)
    }
    // Another server, its clock 5 s ahead, near the end of the window: it sweeps, and the
    // replay of a request A accepted must still be refused by a third server.
    let fast = store.store.nonce_table().unwrap();
    let now_fast = t + WINDOW - 3 + 5;
    assert!(fast.record(1, 100, now_fast, WINDOW, now_fast).unwrap());
    let third = store.store.nonce_table().unwrap();
    let now = t + WINDOW - 3;
    assert!(!third.record(1, 0, now, WINDOW, now).unwrap());
    assert_eq!(rows(&url, &schema), 11);
    // Two windows and ten minutes later, a sweep deletes the ten (and no newer row).
    let later = t + 2 * WINDOW + 600 + 1;
    let sweeper = store.store.nonce_table().unwrap();
    sweeper.record(1, 101, later, WINDOW, later).unwrap();
    assert_eq!(rows(&url, &schema), 2, "the row of 100 and of 101 are left");
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
    assert!(
        reopened
            .nonce_table()
            .unwrap()
            .record(1, 2, 3, WINDOW, 3)
            .unwrap()
    );
    assert_eq!(rows(&url, &schema), 1);
    drop(reopened);
}
