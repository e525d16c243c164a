//! Throughput of the facade on PostgreSQL at 1, 8 and 32 concurrent callers: CreateSecret and
//! GetSecretValue with 1 KiB values, beside raw single-row INSERTs of the same bytes by as
//! many callers (each with its own connection). Prints operations per second.
//!
//! ```text
//! scripts/postgres.sh run cargo run --release -p secret-storage-postgres \
//!     --example postgres_throughput
//! ```
//!
//! `THROUGHPUT_SECS` sets each measurement's length (default 3).

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secret_crypto::RootKey;
use secret_storage_postgres::{DEFAULT_KEYRING, PostgresConfig, PostgresStorage, SharedKeyringKms};
use secrets_manager::{CreateSecretRequest, GetSecretValueRequest, SecretsManager};

const CALLERS: [usize; 3] = [1, 8, 32];
const READ_SET: u64 = 256;

/// Runs `op(caller, n)` from `callers` threads for `secs`; returns operations per second.
fn measure(callers: usize, secs: f64, op: &(dyn Fn(usize, u64) + Sync)) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for caller in 0..callers {
            let (stop, done) = (&stop, &done);
            scope.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    op(caller, n);
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("SECRETS_TEST_POSTGRES_URL") else {
        eprintln!("skipped: set SECRETS_TEST_POSTGRES_URL (scripts/postgres.sh run ...)");
        return Ok(());
    };
    let secs: f64 = std::env::var("THROUGHPUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let schema = format!("throughput_{}", std::process::id());
    let storage = PostgresStorage::open(&PostgresConfig::new(&url).schema(&schema).pool_size(32))?;
    let kms = SharedKeyringKms::open(storage.keyring(DEFAULT_KEYRING), || {
        Ok::<_, Infallible>(RootKey::from_bytes([0x22; 32]))
    })?;
    let store = SecretsManager::builder(Arc::new(storage), Arc::new(kms)).build();
    let data: Vec<u8> = (0..1024).map(|i| b'a' + (i % 26) as u8).collect();
    for n in 0..READ_SET {
        store.create_secret(CreateSecretRequest {
            secret_name: format!("read/{n}"),
            secret_data: data.clone().into(),
            version_id: "v1".into(),
            ..Default::default()
        })?;
    }
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)?;
    admin.batch_execute(&format!(
        "CREATE TABLE \"{schema}\".raw (name text COLLATE \"C\" PRIMARY KEY, payload bytea NOT NULL)"
    ))?;

    println!("callers  create/s  get/s  raw-insert/s  (1 KiB values, {secs} s each)");
    for callers in CALLERS {
        let round = callers;
        let create = measure(callers, secs, &|caller, n| {
            store
                .create_secret(CreateSecretRequest {
                    secret_name: format!("c{round}/{caller}/{n}"),
                    secret_data: data.clone().into(),
                    version_id: "v1".into(),
                    ..Default::default()
                })
                .expect("create");
        });
        let get = measure(callers, secs, &|caller, n| {
            let which = (caller as u64 * 7919 + n) % READ_SET;
            store
                .get_secret_value(GetSecretValueRequest {
                    secret_name: format!("read/{which}"),
                    ..Default::default()
                })
                .expect("get");
        });
        let insert = format!("INSERT INTO \"{schema}\".raw (name, payload) VALUES ($1, $2)");
        let mut clients = Vec::with_capacity(callers);
        for _ in 0..callers {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
            let statement = client.prepare(&insert)?;
            clients.push(Mutex::new((client, statement)));
        }
        let raw = measure(callers, secs, &|caller, n| {
            let mut guard = clients[caller].lock().expect("one thread per client");
            let (client, statement) = &mut *guard;
            client
                .execute(&*statement, &[&format!("r{round}/{caller}/{n}"), &data])
                .expect("insert");
        });
        println!("{callers:>7}  {create:>8.0}  {get:>5.0}  {raw:>12.0}");
    }
    admin.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))?;
    Ok(())
}
