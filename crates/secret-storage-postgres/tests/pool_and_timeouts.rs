//! The PostgreSQL backend through a server restart or failover, a pool full of dead
//! connections, a quoted key=value connection string with TLS options, and statements the
//! server cancels on a timeout.
//!
//! Like the other PostgreSQL tests, every test here skips (saying so) when
//! `SECRETS_TEST_POSTGRES_URL` is not set: `scripts/postgres.sh run cargo test -p
//! secret-storage-postgres --test review_h4`.

mod common;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{raw_client, temp_store_with, unique_schema, url_or_skip, write_sample};
use secret_storage::testkit::{sample_record, secret_name};
use secret_storage::{Storage, StorageError, Update};
use secret_storage_postgres::{PostgresConfig, PostgresStorage};

/// Terminates every backend whose `application_name` is `app`; returns how many.
fn terminate(url: &str, app: &str) -> usize {
    let killed = raw_client(url)
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .unwrap();
    // Let the server finish closing them.
    std::thread::sleep(Duration::from_millis(200));
    killed.len()
}

/// An update that finds its pooled connection closed by the server (a restart, a
/// failover, an administrator's `pg_terminate_backend`) while it sat idle runs again on a new
/// connection, as `update.rs` intends ("run on another connection (this one is discarded when
/// it goes back to the pool)") and as `docs/operations.md` promises ("broken connections are
/// dropped from the pool and new ones are made"). Reads already do this (`with_conn`).
#[test]
fn an_update_on_a_dead_pooled_connection_reconnects_even_when_the_pool_is_full() {
    let Some(url) = url_or_skip() else { return };
    let app = unique_schema("h4dead1");
    let config = PostgresConfig::new(&format!("{url}?application_name={app}"))
        .schema(&app)
        .pool_size(1)
        .checkout_timeout(Duration::from_secs(3));
    let store = temp_store_with(&url, &config);
    write_sample(&store, "before");
    assert!(
        terminate(&url, &app) >= 1,
        "the pooled connection was not found"
    );

    let started = Instant::now();
    let record = sample_record("after", &["v1"]);
    let result = store.update(&record.name.clone(), &mut |_| Update::Write {
        record: record.clone(),
        put_payloads: vec![],
        delete_payloads: vec![],
    });
    let took = started.elapsed();
    assert!(
        result.is_ok(),
        "the update failed after {took:?} although the server is up: {result:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "the update waited {took:?}, the whole checkout timeout"
    );
    assert!(store.read(&secret_name("after")).unwrap().is_some());
}

/// Once the server is back after dropping every connection (a restart or a failover
/// while the instance was idle), a call made afterwards succeeds: `docs/operations.md` says
/// "broken connections are dropped from the pool and new ones are made", and `pool.rs` says
/// work "that finds its connection closed (dropped by the server while idle in the pool) runs
/// again on another one". Only statements *in flight* at the failover are promised to fail.
#[test]
fn calls_after_the_server_dropped_a_full_pool_of_idle_connections_succeed() {
    let Some(url) = url_or_skip() else { return };
    const POOL: usize = 8;
    let app = unique_schema("h4dead8");
    let config = PostgresConfig::new(&format!("{url}?application_name={app}"))
        .schema(&app)
        .pool_size(POOL as u32);
    let store = temp_store_with(&url, &config);
    write_sample(&store, "before");
    // Fill the pool: POOL updates that all hold their connection at once.
    let barrier = Barrier::new(POOL);
    std::thread::scope(|scope| {
        for i in 0..POOL {
            let (store, barrier) = (&store, &barrier);
            scope.spawn(move || {
                let record = sample_record(&format!("fill-{i}"), &["v1"]);
                store
                    .update(&record.name.clone(), &mut |_| {
                        barrier.wait();
                        Update::Write {
                            record: record.clone(),
                            put_payloads: vec![],
                            delete_payloads: vec![],
                        }
                    })
                    .unwrap();
            });
        }
    });
    assert_eq!(
        terminate(&url, &app),
        POOL,
        "the pool did not hold {POOL} connections"
    );

    // The server is up; every call from now on should succeed.
    for i in 0..3 {
        let result = store.read(&secret_name("before"));
        assert!(
            matches!(result, Ok(Some(_))),
            "read {i} after the server dropped the idle connections failed: {result:?}"
        );
    }
}

/// `docs/operations.md` ("Connecting") accepts a libpq `key=value` connection string
/// as well as a URL, with `sslmode=verify-full` and `sslrootcert=PATH` verifying the server
/// against that CA. A password with a space (or a quote) must be quoted in the key=value form
/// (`password='a b'`); quoting a value must not change what the TLS options mean.
#[test]
fn a_key_value_string_with_a_quoted_password_keeps_its_tls_options() {
    let Some(url) = url_or_skip() else { return };
    let Ok(ca) = std::env::var("SECRETS_TEST_POSTGRES_CA") else {
        eprintln!("skipped: set SECRETS_TEST_POSTGRES_CA to run the TLS tests");
        return;
    };
    // postgresql://USER@HOST:PORT/DB, as scripts/postgres.sh exports it.
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let (user, rest) = rest.split_once('@').expect("the test URL names a user");
    let (hostport, db) = rest.split_once('/').expect("the test URL names a database");
    let db = db.split('?').next().unwrap();
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    let app = unique_schema("h4quoted");
    // The test cluster trusts loopback, so the password is not checked; only its quoting
    // matters here.
    let key_value = format!(
        "host={host} port={port} user={user} dbname={db} password='two words' \
         application_name={app} sslmode=verify-full sslrootcert={ca}"
    );
    let config = PostgresConfig::new(&key_value).schema(&app);
    match PostgresStorage::open(&config) {
        Ok(store) => {
            assert!(store.uses_tls(), "sslmode=verify-full did not give TLS");
            common::drop_schema(&url, &app);
        }
        Err(e) => panic!("a valid key=value string with a quoted password was refused: {e}"),
    }
}

/// A statement that the server cancels because it ran past the operator's
/// `statement_timeout` (or `lock_timeout`) while waiting for a row lock held by another
/// session is a *retryable* `Backend` error: nothing was applied, and the same update succeeds
/// once the other session lets go. `PostgresStorage`'s documentation keeps `retryable: false`
/// for "errors that will recur (a refused privilege, a bad configuration, …)" and promises
/// `true` when the server is "overloaded"; the facade turns `false` into `InternalFailure`
/// (500) instead of `ServiceUnavailableTemporary` (503), so clients do not retry.
#[test]
fn an_update_cancelled_by_a_timeout_while_waiting_for_a_lock_is_retryable() {
    let Some(url) = url_or_skip() else { return };
    for setting in ["statement_timeout", "lock_timeout"] {
        let app = unique_schema("h4timeout");
        let config = PostgresConfig::new(&format!(
            "{url}?application_name={app}&options=-c%20{setting}%3D300"
        ))
        .schema(&app);
        let store = temp_store_with(&url, &config);
        write_sample(&store, "locked");

        // Another session (a slow instance, an operator's psql) holds the secret's row.
        let mut holder = raw_client(&url);
        let mut tx = holder.transaction().unwrap();
        tx.query(
            &format!("SELECT record FROM \"{app}\".secrets WHERE name = 'locked' FOR UPDATE"),
            &[],
        )
        .unwrap();

        let record = sample_record("locked", &["v1", "v2"]);
        let result = store.update(&record.name.clone(), &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: vec![],
            delete_payloads: vec![],
        });
        tx.rollback().unwrap();
        match result {
            Err(StorageError::Backend {
                retryable: true, ..
            }) => {}
            other => panic!(
                "{setting}: an update cancelled while waiting for a lock should be a retryable \
                 backend error, got {other:?}"
            ),
        }
        // And indeed the same update succeeds now.
        store
            .update(&record.name.clone(), &mut |_| Update::Write {
                record: record.clone(),
                put_payloads: vec![],
                delete_payloads: vec![],
            })
            .unwrap();
        drop(store);
    }
}
