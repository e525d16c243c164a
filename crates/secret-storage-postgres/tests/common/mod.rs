//! What every PostgreSQL test shares: where the database is (or why the test does not run),
//! and stores in schemas of their own that are dropped afterwards.

#![allow(dead_code, unreachable_pub)] // each test binary uses its own part of this module

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use secret_storage::testkit::Guarded;
use secret_storage_postgres::{PostgresConfig, PostgresStorage};

/// The variable naming the test database.
pub const URL_VAR: &str = "SECRETS_TEST_POSTGRES_URL";

/// The connection string of the test database, or `None` after printing why the test is
/// skipped. Never skips silently: with `CI=true` a missing database fails the test.
pub fn url_or_skip() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "{URL_VAR} is not set and CI=true: the PostgreSQL tests must run in CI \
             (scripts/test.sh starts a cluster with scripts/postgres.sh)"
        ),
        _ => {
            // Written past libtest's output capture, so that it shows for a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: set {URL_VAR} to run the PostgreSQL tests \
                 (scripts/postgres.sh run cargo test -p secret-storage-postgres)"
            );
            None
        }
    }
}

/// A schema name no other test (in this or another process) uses.
pub fn unique_schema(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "t_{tag}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops `schema` and everything in it.
pub fn drop_schema(url: &str, schema: &str) {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to drop {schema}: {e}"));
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .unwrap_or_else(|e| panic!("dropping {schema}: {e}"));
}

/// A plain client on the test database, for looking under the store.
pub fn raw_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("the test database accepts a client")
}

/// A store in a fresh schema of its own; the schema is dropped after the store.
pub type TempStore = Guarded<PostgresStorage, DroppedSchema>;

/// Drops a schema when dropped (unless a test is failing, to leave it for a look).
pub struct DroppedSchema {
    url: String,
    schema: String,
}

impl Drop for DroppedSchema {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            drop_schema(&self.url, &self.schema);
        }
    }
}

/// A store in a new schema, with a pool large enough for the racing cases.
pub fn temp_store(url: &str) -> TempStore {
    let config = PostgresConfig::new(url)
        .schema(&unique_schema("s"))
        .pool_size(12);
    temp_store_with(url, &config)
}

/// A store opened with `config` (whose schema is dropped after it).
pub fn temp_store_with(url: &str, config: &PostgresConfig) -> TempStore {
    let store =
        PostgresStorage::open(config).unwrap_or_else(|e| panic!("opening a PostgreSQL store: {e}"));
    Guarded {
        guard: DroppedSchema {
            url: url.to_owned(),
            schema: store.schema().to_owned(),
        },
        store,
    }
}

/// Writes the secret `name` (a sample record, version `v1`, payload `p`).
pub fn write_sample(store: &dyn secret_storage::Storage, name: &str) {
    let record = secret_storage::testkit::sample_record(name, &["v1"]);
    store
        .update(&record.name.clone(), &mut |_| {
            secret_storage::Update::Write {
                record: record.clone(),
                put_payloads: vec![(record.versions[0].version_id.clone(), b"p".to_vec().into())],
                delete_payloads: vec![],
            }
        })
        .unwrap();
}
