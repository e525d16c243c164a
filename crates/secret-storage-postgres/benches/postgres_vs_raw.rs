//! CreateSecret and GetSecretValue with 1 KiB values through the facade on PostgreSQL, beside a
//! raw single-row INSERT and SELECT of the same 1 KiB on the same database, in the same run:
//! the ratio is what the facade (encryption, record codec, row lock, payload table) costs
//! over the least a PostgreSQL round trip can do. `docs/benchmarks-postgres.md` reports it.
//!
//! Needs `SECRETS_TEST_POSTGRES_URL` (`scripts/postgres.sh run cargo bench -p
//! secret-storage-postgres`); without it, it says so and measures nothing.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use secret_crypto::RootKey;
use secret_storage_postgres::{DEFAULT_KEYRING, PostgresConfig, PostgresStorage, SharedKeyringKms};
use secrets_manager::{CreateSecretRequest, GetSecretValueRequest, SecretsManager};

const VALUE_LEN: usize = 1024;

fn value() -> Vec<u8> {
    (0..VALUE_LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

fn url() -> Option<String> {
    let url = std::env::var("SECRETS_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        eprintln!("skipped: set SECRETS_TEST_POSTGRES_URL to run the PostgreSQL benchmarks");
    }
    url
}

/// A schema of this run's own, so that runs never see each other's rows.
fn schema() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("bench_{}_{secs}", std::process::id())
}

fn raw(c: &mut Criterion, url: &str, schema: &str) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
             CREATE TABLE \"{schema}\".raw (name text COLLATE \"C\" PRIMARY KEY, payload bytea NOT NULL)"
        ))
        .unwrap();
    let insert = client
        .prepare(&format!(
            "INSERT INTO \"{schema}\".raw (name, payload) VALUES ($1, $2)"
        ))
        .unwrap();
    let select = client
        .prepare(&format!(
            "SELECT payload FROM \"{schema}\".raw WHERE name = $1"
        ))
        .unwrap();
    let data = value();
    let mut n = 0u64;
    c.bench_function("raw/insert_1KiB", |b| {
        b.iter(|| {
            n += 1;
            client
                .execute(&insert, &[&format!("raw/{n}"), &data])
                .unwrap()
        })
    });
    client.execute(&insert, &[&"raw-read", &data]).unwrap();
    c.bench_function("raw/select_1KiB", |b| {
        b.iter(|| {
            let row = client.query_one(&select, &[&"raw-read"]).unwrap();
            black_box(row.get::<_, Vec<u8>>(0))
        })
    });
}

fn facade(c: &mut Criterion, url: &str, schema: &str) {
    let storage = PostgresStorage::open(&PostgresConfig::new(url).schema(schema)).unwrap();
    let root = [0x11u8; 32];
    let kms = SharedKeyringKms::open(storage.keyring(DEFAULT_KEYRING), move || {
        Ok::<_, std::convert::Infallible>(RootKey::from_bytes(root))
    })
    .unwrap();
    let store = SecretsManager::builder(Arc::new(storage), Arc::new(kms)).build();
    let data = value();
    let counter = AtomicU64::new(0);
    c.bench_function("postgres/create_secret_1KiB", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            store
                .create_secret(CreateSecretRequest {
                    secret_name: format!("bench/{n}"),
                    secret_data: data.clone().into(),
                    version_id: "v1".into(),
                    ..Default::default()
                })
                .unwrap()
        })
    });
    store
        .create_secret(CreateSecretRequest {
            secret_name: "bench-read".into(),
            secret_data: data.clone().into(),
            version_id: "v1".into(),
            ..Default::default()
        })
        .unwrap();
    c.bench_function("postgres/get_secret_value_1KiB", |b| {
        b.iter(|| {
            store
                .get_secret_value(GetSecretValueRequest {
                    secret_name: "bench-read".into(),
                    ..Default::default()
                })
                .unwrap()
        })
    });
}

fn postgres(c: &mut Criterion) {
    let Some(url) = url() else { return };
    let schema = schema();
    raw(c, &url, &schema);
    facade(c, &url, &schema);
    if let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) {
        // Best effort: a leftover schema only takes space in a throwaway database.
        let _ = client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = postgres
}
criterion_main!(benches);
