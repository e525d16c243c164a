//! The tables, and their migration to this release's schema version on open.
//!
//! Migrations run in one transaction under a transaction-scoped advisory lock keyed on the
//! schema name, so instances that start at the same moment take turns: the first creates or
//! migrates, the others find the work done. A schema written by a newer release is refused.

use postgres::Client;
use secret_storage::StorageError;

use crate::error::Failed;

/// The schema version this release creates and reads.
pub const SCHEMA_VERSION: i32 = 2;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the secrets, their payloads, and the keyrings of `PostgresKeyring`;
    // `secret_versions` and `secret_stages` mirror each record's version ids and labels, so
    // that unique keys back "a version id once per secret" and "a label on one version".
    // Names are compared in the "C" collation, so listing is in byte order (as in sled) and
    // `name > $1` can use the primary key's index.
    r#"
    CREATE TABLE secrets (
        name text COLLATE "C" PRIMARY KEY,
        record bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE secret_payloads (
        name text COLLATE "C" NOT NULL REFERENCES secrets (name) ON DELETE CASCADE,
        version_id text COLLATE "C" NOT NULL,
        payload bytea NOT NULL,
        PRIMARY KEY (name, version_id)
    );
    CREATE TABLE secret_versions (
        name text COLLATE "C" NOT NULL REFERENCES secrets (name) ON DELETE CASCADE,
        version_id text COLLATE "C" NOT NULL,
        PRIMARY KEY (name, version_id)
    );
    CREATE TABLE secret_stages (
        name text COLLATE "C" NOT NULL,
        stage text COLLATE "C" NOT NULL,
        version_id text COLLATE "C" NOT NULL,
        PRIMARY KEY (name, stage),
        FOREIGN KEY (name, version_id) REFERENCES secret_versions (name, version_id)
            ON DELETE CASCADE
    );
    CREATE TABLE keyrings (
        name text COLLATE "C" PRIMARY KEY,
        generation bigint NOT NULL,
        blob bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    "#,
    // 1 → 2: the nonces of signed requests servers on this store accepted (`NonceTable`),
    // by digest, with the unix second each one's window runs from and the recording call.
    r#"
    CREATE TABLE request_nonces (
        access_key bigint NOT NULL,
        nonce bigint NOT NULL,
        seen_at bigint NOT NULL,
        recorded_by bigint NOT NULL,
        PRIMARY KEY (access_key, nonce)
    );
    CREATE INDEX request_nonces_seen_at ON request_nonces (seen_at);
    "#,
];

/// A 64-bit key for PostgreSQL's advisory locks: FNV-1a over the parts, each followed by a
/// zero byte. Two different inputs may share a key; that only makes them wait for each other.
pub(crate) fn lock_key(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// Creates `schema` and its tables if missing, or migrates them to [`SCHEMA_VERSION`].
/// Returns the version found before migrating (0 for a new store), or `None` when `create` is
/// false and there is no store: no schema, or one without the store's tables (nothing is
/// created then).
///
/// Errors: `Corrupt` for a schema version newer than this release's; `Backend` when
/// PostgreSQL refuses (for example without the privilege to create the schema).
pub(crate) fn migrate(
    client: &mut Client,
    schema: &str,
    create: bool,
) -> Result<Option<i32>, Failed> {
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key(&["secret-storage-postgres", "migrate", schema])],
    )?;
    // Checked first so that a schema created beforehand by an administrator needs no CREATE
    // privilege on the database.
    let exists = tx
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])?
        .is_some();
    if !exists && !create {
        return Ok(None);
    }
    if !exists {
        // `schema` was checked to be [a-z0-9_]+.
        tx.batch_execute(&format!("CREATE SCHEMA \"{schema}\""))?;
    } else {
        // Without USAGE the schema's tables are invisible to this role, and what follows
        // would fail as if none existed ("no schema has been selected to create in").
        let usable = tx
            .query_one("SELECT has_schema_privilege($1, 'USAGE')", &[&schema])?
            .try_get::<_, bool>(0)?;
        if !usable {
            return Err(StorageError::Backend {
                message: format!(
                    "permission denied: this role lacks USAGE on the PostgreSQL schema \
                     {schema} (GRANT USAGE ON SCHEMA {schema} TO the role; \
                     docs/operations.md, \"Privileges\")"
                ),
                retryable: false,
            }
            .into());
        }
    }
    // The session's search path named the schema before it existed; setting it again makes
    // PostgreSQL resolve it now (it reverts at commit to the same value).
    tx.batch_execute(&format!("SET LOCAL search_path TO \"{schema}\""))?;
    // Looked up before it is created, so that a role without `CREATE` on the schema opens a
    // store that is already at this release's version (`CREATE TABLE IF NOT EXISTS` needs the
    // privilege even when the table exists).
    let versioned = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .try_get::<_, bool>(0)?;
    if !versioned && !create {
        // A schema that holds no store (another application's, or one made ready for a first
        // deployment): nothing is created in it either.
        return Ok(None);
    }
    if !versioned {
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                version integer NOT NULL,
                migrated_at timestamptz NOT NULL DEFAULT now()
            )",
        )?;
    }
    let found: i32 = match tx.query_opt("SELECT version FROM schema_version", &[])? {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    if found > SCHEMA_VERSION {
        return Err(StorageError::Corrupt(format!(
            "the PostgreSQL schema {schema} is at version {found}, written by a newer release; \
             this release reads version {SCHEMA_VERSION} only"
        ))
        .into());
    }
    if found < 0 {
        return Err(StorageError::Corrupt(format!(
            "the PostgreSQL schema {schema} has the impossible version {found}"
        ))
        .into());
    }
    let start = usize::try_from(found).unwrap_or(0);
    for migration in MIGRATIONS.iter().skip(start) {
        tx.batch_execute(migration)?;
    }
    if found < SCHEMA_VERSION {
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1) \
             ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()",
            &[&SCHEMA_VERSION],
        )?;
    }
    tx.commit()?;
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_version_has_its_migration() {
        assert_eq!(MIGRATIONS.len(), usize::try_from(SCHEMA_VERSION).unwrap());
    }

    #[test]
    fn lock_keys_separate_their_parts() {
        assert_ne!(lock_key(&["ab", "c"]), lock_key(&["a", "bc"]));
        assert_eq!(lock_key(&["x"]), lock_key(&["x"]));
    }
}
