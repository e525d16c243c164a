//! Every SQL statement the store runs after opening, prepared once per connection.
//!
//! Table names are unqualified: each connection's `search_path` is the store's schema.

use postgres::{Client, Statement};

/// The prepared statements of one connection.
pub(crate) struct Statements {
    /// `$1` name → record.
    pub(crate) read_record: Statement,
    /// `$1` name → record, locking the row until the transaction ends.
    pub(crate) lock_record: Statement,
    /// `$1` lock key: a transaction-scoped advisory lock.
    pub(crate) lock_key: Statement,
    /// `$1` name, `$2` record.
    pub(crate) insert_record: Statement,
    /// `$1` name, `$2` record.
    pub(crate) update_record: Statement,
    /// `$1` name; its payloads go with it (`ON DELETE CASCADE`).
    pub(crate) delete_record: Statement,
    /// `$1` name, `$2` version id, `$3` payload: insert or replace.
    pub(crate) put_payload: Statement,
    /// `$1` name, `$2` version ids.
    pub(crate) delete_payloads: Statement,
    /// `$1` name: forgets the version ids and labels mirrored from its record.
    pub(crate) clear_versions: Statement,
    /// `$1` name, `$2` version ids.
    pub(crate) insert_versions: Statement,
    /// `$1` name, `$2` labels, `$3` the version id holding each.
    pub(crate) insert_stages: Statement,
    /// `$1` name, `$2` version id → payload.
    pub(crate) read_payload: Statement,
    /// `$1` name → (record, version id, payload) per payload, or one row with nulls if it has
    /// none: one statement, so one snapshot of the database.
    pub(crate) snapshot: Statement,
    /// `$1` limit → (name, record) in byte order of names.
    pub(crate) list_first: Statement,
    /// `$1` after, `$2` limit → (name, record) in byte order of names.
    pub(crate) list_after: Statement,
    /// `$1` keyring name → (generation, blob).
    pub(crate) keyring_load: Statement,
    /// `$1` keyring name → generation, locking the row.
    pub(crate) keyring_lock: Statement,
    /// `$1` keyring name, `$2` blob: the first generation; nothing if it exists.
    pub(crate) keyring_insert: Statement,
    /// `$1` keyring name, `$2` blob, `$3` generation expected → the new generation.
    pub(crate) keyring_update: Statement,
    /// `$1` access key digest, `$2` nonce digest, `$3` seen at, `$4` call number, `$5` the
    /// second before which a nonce is forgotten: inserts the nonce, or takes over its row if it
    /// is forgotten or this call's own; one row affected if so.
    pub(crate) nonce_record: Statement,
    /// `$1` a unix second: deletes the request nonces seen before it.
    pub(crate) nonce_sweep: Statement,
}

impl Statements {
    /// Prepares every statement on `client`.
    pub(crate) fn prepare(client: &mut Client) -> Result<Self, postgres::Error> {
        Ok(Statements {
            read_record: client.prepare("SELECT record FROM secrets WHERE name = $1")?,
            lock_record: client.prepare("SELECT record FROM secrets WHERE name = $1 FOR UPDATE")?,
            lock_key: client.prepare("SELECT pg_advisory_xact_lock($1)")?,
            insert_record: client.prepare("INSERT INTO secrets (name, record) VALUES ($1, $2)")?,
            update_record: client
                .prepare("UPDATE secrets SET record = $2, updated_at = now() WHERE name = $1")?,
            delete_record: client.prepare("DELETE FROM secrets WHERE name = $1")?,
            put_payload: client.prepare(
                "INSERT INTO secret_payloads (name, version_id, payload) VALUES ($1, $2, $3) \
                 ON CONFLICT (name, version_id) DO UPDATE SET payload = EXCLUDED.payload",
            )?,
            delete_payloads: client
                .prepare("DELETE FROM secret_payloads WHERE name = $1 AND version_id = ANY($2)")?,
            clear_versions: client.prepare("DELETE FROM secret_versions WHERE name = $1")?,
            insert_versions: client.prepare(
                "INSERT INTO secret_versions (name, version_id) \
                 SELECT $1, v FROM unnest($2::text[]) AS v",
            )?,
            insert_stages: client.prepare(
                "INSERT INTO secret_stages (name, stage, version_id) \
                 SELECT $1, s, v FROM unnest($2::text[], $3::text[]) AS t (s, v)",
            )?,
            read_payload: client.prepare(
                "SELECT payload FROM secret_payloads WHERE name = $1 AND version_id = $2",
            )?,
            snapshot: client.prepare(
                "SELECT s.record, p.version_id, p.payload FROM secrets s \
                 LEFT JOIN secret_payloads p ON p.name = s.name WHERE s.name = $1",
            )?,
            list_first: client
                .prepare("SELECT name, record FROM secrets ORDER BY name LIMIT $1")?,
            list_after: client.prepare(
                "SELECT name, record FROM secrets WHERE name > $1 ORDER BY name LIMIT $2",
            )?,
            keyring_load: client
                .prepare("SELECT generation, blob FROM keyrings WHERE name = $1")?,
            keyring_lock: client
                .prepare("SELECT generation FROM keyrings WHERE name = $1 FOR UPDATE")?,
            keyring_insert: client.prepare(
                "INSERT INTO keyrings (name, generation, blob) VALUES ($1, 1, $2) \
                 ON CONFLICT (name) DO NOTHING",
            )?,
            keyring_update: client.prepare(
                "UPDATE keyrings SET blob = $2, generation = generation + 1, updated_at = now() \
                 WHERE name = $1 AND generation = $3 RETURNING generation",
            )?,
            nonce_record: client.prepare(
                "INSERT INTO request_nonces (access_key, nonce, seen_at, recorded_by) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (access_key, nonce) DO UPDATE \
                 SET seen_at = EXCLUDED.seen_at, recorded_by = EXCLUDED.recorded_by \
                 WHERE request_nonces.seen_at < $5 OR request_nonces.recorded_by = $4",
            )?,
            nonce_sweep: client.prepare("DELETE FROM request_nonces WHERE seen_at < $1")?,
        })
    }
}
