//! The PostgreSQL backend of the secrets store, for deployments that outgrow one machine:
//! several instances of a service share one (replicated) PostgreSQL instead of one sled file.
//!
//! - [`PostgresStorage`]: a [`Storage`] in two tables, `secrets` (one row per secret, the record
//!   in the versioned format of [`secret_storage::codec`], the same bytes sled stores) and
//!   `secret_payloads` (one row per version envelope), with each record's version ids and
//!   labels mirrored into `secret_versions` and `secret_stages`, whose unique keys back the
//!   facade's "a version id once, a label on one version". Every [`Storage::update`] is one
//!   transaction that locks the secret's row, so updates of one secret are linearizable across
//!   every process sharing the database; conflicts are retried with bounded backoff.
//! - [`PostgresKeyring`]: a [`secret_crypto::KeyringStore`] in the same database, so every
//!   instance's `LocalKms` shares the same master keys; [`SharedKeyringKms`] wraps a
//!   `LocalKms` on it and reloads the keyring when another instance changed it.
//! - [`NonceTable`]: the nonces of signed requests, so that servers sharing the store refuse
//!   each other's replays.
//! - The schema is created or migrated on open ([`SCHEMA_VERSION`]), safely when instances
//!   start at once; a schema from a newer release is refused.
//!
//! Connections come from a pool configured by a libpq-style connection string
//! ([`PostgresConfig`]), over TLS (rustls) when it says `sslmode=require`.
//! `docs/operations.md` covers deployment, high availability, backups and consistency.
//!
//! ```no_run
//! use secret_storage::{Storage, Update, testkit::sample_record};
//! use secret_storage_postgres::{PostgresConfig, PostgresStorage};
//!
//! let config = PostgresConfig::new("postgresql://app@db.internal/secrets?sslmode=require");
//! let store = PostgresStorage::open(&config)?;
//! let record = sample_record("prod/db", &["v1"]);
//! store.update(&record.name, &mut |_| Update::Write {
//!     record: record.clone(),
//!     put_payloads: vec![(record.versions[0].version_id.clone(), b"envelope"[..].into())],
//!     delete_payloads: vec![],
//! })?;
//! assert_eq!(store.read(&record.name)?, Some(record));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod keyring;
mod nonces;
mod pool;
mod schema;
mod shared_kms;
mod statements;
mod update;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use postgres::Row;
use secret_model::{SecretName, VersionId};
use secret_storage::{SecretRecord, Snapshot, Storage, StorageError, decode_record_of};

pub use config::{DEFAULT_SCHEMA, KeyValueWord, PostgresConfig, key_value_words};
pub use keyring::{DEFAULT_KEYRING, PostgresKeyring};
pub use nonces::NonceTable;
pub use schema::SCHEMA_VERSION;
pub use shared_kms::{DEFAULT_KEYRING_REFRESH, SharedKeyringKms};

use error::Failed;
use pool::{Manager, with_conn};

/// A [`Storage`] kept in PostgreSQL.
///
/// Cheap to clone (clones share one connection pool) and safe to share between threads; any
/// number of processes may open the same schema at once.
///
/// Every method can fail with [`StorageError::Backend`]: `retryable` when no connection could
/// be had, the connection broke, the server is shutting down or overloaded, a statement was
/// cancelled on a timeout (`statement_timeout`, `lock_timeout`), or an update kept meeting
/// conflicts; not retryable for errors that will recur (a refused privilege, a bad
/// configuration, a table altered so that a column no longer has the type this release
/// reads). A stored record that does not decode, or names another secret, is
/// [`StorageError::Corrupt`].
#[derive(Clone)]
pub struct PostgresStorage {
    pool: pool::Pool,
    /// What the store was opened with, for the nonce table's own pool.
    config: Arc<PostgresConfig>,
    schema: String,
    tls: bool,
    max_attempts: u32,
    first_backoff: Duration,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("schema", &self.schema)
            .field("tls", &self.tls)
            .field("pool_size", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connects, then creates the schema and tables if missing or migrates them to
    /// [`SCHEMA_VERSION`] (under an advisory lock: instances opening at once take turns).
    ///
    /// Errors: `Backend` for a malformed connection string, an unreadable `sslrootcert`, a
    /// schema name outside `[a-z0-9_]`, or PostgreSQL refusing (retryable when it could not be
    /// reached); `Corrupt` when the schema was written by a newer release.
    pub fn open(config: &PostgresConfig) -> Result<Self, StorageError> {
        Self::open_with(config, true)?
            .ok_or_else(|| StorageError::Corrupt("the schema was neither found nor created".into()))
    }

    /// [`PostgresStorage::open`] for a store that must exist already: nothing is created where
    /// there is none (for maintenance, where a mistyped schema name must not make a new, empty
    /// store). Returns `None` for a schema that does not exist or holds no store's tables; a
    /// store is migrated as by `open`.
    ///
    /// Errors: as for `open`.
    pub fn open_existing(config: &PostgresConfig) -> Result<Option<Self>, StorageError> {
        Self::open_with(config, false)
    }

    fn open_with(config: &PostgresConfig, create: bool) -> Result<Option<Self>, StorageError> {
        let manager = Manager::new(config)?;
        let tls = manager.uses_tls();
        let schema = config.checked_schema()?.to_owned();
        let pool = pool::build(config, manager)?;
        let found = with_conn(&pool, "creating or migrating the schema", |conn| {
            schema::migrate(conn.client(), &schema, create)
        })?;
        if found.is_none() {
            return Ok(None);
        }
        Ok(Some(PostgresStorage {
            pool,
            config: Arc::new(config.clone()),
            schema,
            tls,
            max_attempts: config.max_attempts,
            first_backoff: config.first_backoff,
        }))
    }

    /// [`PostgresStorage::open`] with [`PostgresConfig::new`]`(connection_string)`.
    /// Errors: as for `open`.
    pub fn connect(connection_string: &str) -> Result<Self, StorageError> {
        Self::open(&PostgresConfig::new(connection_string))
    }

    /// The schema the store's tables are in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Whether connections use TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls
    }

    /// The keyring called `name` in this store's schema, sharing its connection pool.
    pub fn keyring(&self, name: &str) -> PostgresKeyring {
        PostgresKeyring::new(self.clone(), name)
    }

    /// The table of request nonces in this store's schema: the replay guard that servers on
    /// one store share. It has a pool of its own (up to the store's `pool_size` connections,
    /// opened as needed), whose commits do not wait for the WAL flush.
    ///
    /// Errors: `Backend` when no connection can be opened (as for [`PostgresStorage::open`]).
    pub fn nonce_table(&self) -> Result<NonceTable, StorageError> {
        let manager = Manager::new(&self.config)?.relaxed();
        let pool = pool::build(&self.config, manager)?;
        Ok(NonceTable::new(pool, self.schema.clone()))
    }
}

/// The secret name in a `name` column. Errors: `Corrupt` for a name that does not validate.
fn stored_name(row: &Row) -> Result<SecretName, Failed> {
    let text: &str = row.try_get(0)?;
    SecretName::parse(text).map_err(|e| {
        Failed::Storage(StorageError::Corrupt(format!(
            "the secrets table holds an invalid name {text:?}: {e}"
        )))
    })
}

/// The version id in a `version_id` column. Errors: `Corrupt` for one that does not validate.
fn stored_version_id(name: &SecretName, text: &str) -> Result<VersionId, Failed> {
    VersionId::parse(text).map_err(|e| {
        Failed::Storage(StorageError::Corrupt(format!(
            "a payload of {name} has an invalid version id {text:?}: {e}"
        )))
    })
}

impl Storage for PostgresStorage {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        with_conn(&self.pool, "reading a record", |conn| {
            let (client, st) = conn.parts()?;
            match client.query_opt(&st.read_record, &[&name.as_str()])? {
                None => Ok(None),
                Some(row) => Ok(Some(decode_record_of(name, row.try_get(0)?)?)),
            }
        })
    }

    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        with_conn(&self.pool, "reading a payload", |conn| {
            let (client, st) = conn.parts()?;
            let row =
                client.query_opt(&st.read_payload, &[&name.as_str(), &version_id.as_str()])?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    /// One statement (a join of the record and its payloads), so one snapshot of the
    /// database: never half of an update, and it does not block writers.
    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        with_conn(&self.pool, "reading a snapshot", |conn| {
            let (client, st) = conn.parts()?;
            let rows = client.query(&st.snapshot, &[&name.as_str()])?;
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            let record = decode_record_of(name, first.try_get(0)?)?;
            let mut payloads = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: Option<&str> = row.try_get(1)?;
                let bytes: Option<Vec<u8>> = row.try_get(2)?;
                if let (Some(id), Some(bytes)) = (id, bytes) {
                    payloads.push((stored_version_id(name, id)?, bytes));
                }
            }
            Ok(Some(Snapshot { record, payloads }))
        })
    }

    /// One READ COMMITTED transaction that locks the secret's row (or, for a secret not yet
    /// created, an advisory lock on its name) before calling `f`; retried after serialization
    /// failures, deadlocks and racing creates, at most [`PostgresConfig::max_attempts`] times,
    /// then a retryable `Backend` error. `Keep` writes nothing. Acknowledged once committed,
    /// so as durable as the server's `synchronous_commit` (never `off` on our connections).
    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> secret_storage::Update<'a>,
    ) -> Result<(), StorageError> {
        update::update(self, name, f)
    }

    /// In byte order of names (the column's collation is "C"), from the primary key's index.
    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        with_conn(&self.pool, "listing records", |conn| {
            let (client, st) = conn.parts()?;
            let rows = match after {
                None => client.query(&st.list_first, &[&limit])?,
                Some(after) => client.query(&st.list_after, &[&after.as_str(), &limit])?,
            };
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let name = stored_name(row)?;
                out.push(decode_record_of(&name, row.try_get(1)?)?);
            }
            Ok(out)
        })
    }
}
