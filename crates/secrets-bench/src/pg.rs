//! PostgreSQL, when a database is given (`--postgres URL`, or `$SECRETS_TEST_POSTGRES_URL`):
//! the facade on `PostgresStorage` beside raw single-row statements on the same database.
//!
//! Everything lives in two fresh schemas (`secrets_bench_<pid>` for the store and
//! `secrets_bench_<pid>_raw` for the floors), dropped when [`Pg`] is dropped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use postgres::{Client, NoTls, Statement};
use secret_storage_postgres::{PostgresConfig, PostgresStorage};

use crate::facade::Facade;

/// Floors `KEYS` names round, as the other floors do.
const KEYS: u64 = 1 << 14;

/// One connection with its prepared statements.
struct Conn {
    client: Client,
    insert: Statement,
    select: Statement,
}

/// The raw floors and the facade's store on one database.
pub(crate) struct Pg {
    url: String,
    schema: String,
    /// Connection `i` serves thread `i` of the concurrent floor (and 0 the single ones).
    conns: Vec<Mutex<Conn>>,
    next: AtomicU64,
}

impl Pg {
    /// Connects `callers` raw clients and makes the raw table; panics with the reason if the
    /// database cannot be used (the bench was asked to measure it).
    pub(crate) fn open(url: &str, callers: usize) -> Self {
        let schema = format!("secrets_bench_{}", std::process::id());
        let raw = format!("{schema}_raw");
        let mut admin = Client::connect(url, NoTls)
            .unwrap_or_else(|e| panic!("secrets-bench: cannot connect to PostgreSQL: {e}"));
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{raw}\" CASCADE; CREATE SCHEMA \"{raw}\";
                 CREATE TABLE \"{raw}\".raw (name text COLLATE \"C\" PRIMARY KEY, payload bytea NOT NULL)"
            ))
            .expect("the raw table can be made");
        let conns = (0..callers.max(1))
            .map(|_| {
                let mut client = Client::connect(url, NoTls).expect("a raw client connects");
                let insert = client
                    .prepare(&format!(
                        "INSERT INTO \"{raw}\".raw (name, payload) VALUES ($1, $2)
                         ON CONFLICT (name) DO UPDATE SET payload = EXCLUDED.payload"
                    ))
                    .expect("the insert prepares");
                let select = client
                    .prepare(&format!(
                        "SELECT payload FROM \"{raw}\".raw WHERE name = $1"
                    ))
                    .expect("the select prepares");
                Mutex::new(Conn {
                    client,
                    insert,
                    select,
                })
            })
            .collect();
        Pg {
            url: url.to_owned(),
            schema,
            conns,
            next: AtomicU64::new(0),
        }
    }

    /// The facade on a `PostgresStorage` in this run's schema, with a pool for every caller.
    pub(crate) fn facade(&self, callers: usize) -> Facade {
        let config = PostgresConfig::new(&self.url)
            .schema(&self.schema)
            .pool_size(u32::try_from(callers + 2).unwrap_or(u32::MAX));
        let storage = PostgresStorage::open(&config)
            .unwrap_or_else(|e| panic!("secrets-bench: cannot open the PostgreSQL store: {e}"));
        Facade::on_storage(std::sync::Arc::new(storage))
    }

    /// One autocommitted upsert of `bytes` under a name of its own, on connection `conn`: one
    /// round trip and one WAL flush (`synchronous_commit` on), the floor of a durable write.
    pub(crate) fn insert(&self, conn: usize, bytes: &[u8]) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.upsert(conn, &format!("floor/{}", n % KEYS), bytes);
    }

    /// The bytes under `name`, read with one prepared SELECT.
    pub(crate) fn select(&self, name: &str) -> Vec<u8> {
        let mut c = self.conns[0]
            .lock()
            .expect("no thread panics holding a connection");
        let Conn { client, select, .. } = &mut *c;
        client
            .query_opt(&*select, &[&name])
            .expect("the raw select succeeds")
            .map(|row| row.get(0))
            .unwrap_or_default()
    }

    /// Stores `bytes` under `name` (to set up a read).
    pub(crate) fn insert_as(&self, name: &str, bytes: &[u8]) {
        self.upsert(0, name, bytes);
    }

    fn upsert(&self, conn: usize, name: &str, bytes: &[u8]) {
        let mut c = self.conns[conn % self.conns.len()]
            .lock()
            .expect("no thread panics holding a connection");
        let Conn { client, insert, .. } = &mut *c;
        client
            .execute(&*insert, &[&name, &bytes])
            .expect("the raw insert succeeds");
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&self.url, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{0}\" CASCADE; DROP SCHEMA IF EXISTS \"{0}_raw\" CASCADE",
                self.schema
            ));
        }
    }
}
