//! [`Storage::update`](secret_storage::Storage::update) as one PostgreSQL transaction.
//!
//! READ COMMITTED, and the secret's row locked with `SELECT … FOR UPDATE` before the closure
//! runs: a second updater of the same secret waits on the lock and then reads the row as the
//! first one committed it, so updates of one secret are serialized (linearizable), while
//! updates of different secrets never wait for each other. A secret with no row yet has
//! nothing to lock, so its would-be creators first take a transaction-scoped advisory lock on
//! a hash of its name, then read again: two creators of one name take turns, the second seeing
//! the first's row. The primary keys back all this up: should two creates ever race past the
//! lock, one fails with a unique violation and is retried, as are serialization failures and
//! deadlocks (with bounded exponential backoff).

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::{IsolationLevel, Transaction};
use secret_model::{SecretName, VersionId};
use secret_storage::{SecretRecord, StorageError, Update, encode_record};

use crate::PostgresStorage;
use crate::error::{Failed, commit, gave_up, is_conflict};
use crate::pool::Conn;
use crate::schema::lock_key;
use crate::statements::Statements;

const CONTEXT: &str = "updating a secret";

/// Runs the update, retrying from the start after a conflict, at most `max_attempts` times.
pub(crate) fn update<'a>(
    store: &PostgresStorage,
    name: &SecretName,
    f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
) -> Result<(), StorageError> {
    let mut conn = store.pool.get()?;
    let mut attempt = 1;
    let mut stale = 1;
    loop {
        match attempt_once(&mut conn, store, name, f) {
            Ok(()) => return Ok(()),
            Err(Failed::Postgres(e)) if is_conflict(&e) => {
                if attempt >= store.max_attempts {
                    return Err(gave_up(&format!("{CONTEXT} ({name})"), attempt, &e));
                }
                std::thread::sleep(backoff(store.first_backoff, attempt));
                attempt += 1;
            }
            // Closed before COMMIT was sent, so nothing was applied: run on another
            // connection (this one is discarded when it goes back to the pool).
            Err(e) if e.is_stale_connection() && stale < store.pool.stale_attempts() => {
                stale += 1;
                // Given back (and so discarded) before another is asked for: with every pooled
                // connection checked out, only this one frees a place for the new one.
                drop(conn);
                conn = store.pool.get()?;
            }
            Err(e) => return Err(e.into_storage(&format!("{CONTEXT} ({name})"))),
        }
    }
}

/// `first` doubled for each attempt made, times a jitter factor in [0.5, 1.5), capped at one
/// second, so that racing updaters do not retry in lockstep.
fn backoff(first: Duration, attempt: u32) -> Duration {
    let base = first.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // The low bits of the clock differ between racing threads and processes: jitter enough.
    let permille = 500 + u64::from(nanos % 1000);
    let jittered = base.saturating_mul(u32::try_from(permille).unwrap_or(1000)) / 1000;
    jittered.min(Duration::from_secs(1))
}

/// One attempt: begin, lock, read, decide, apply, commit. Dropping the transaction on an
/// error rolls it back.
fn attempt_once<'a>(
    conn: &mut Conn,
    store: &PostgresStorage,
    name: &SecretName,
    f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
) -> Result<(), Failed> {
    let (client, st) = conn.parts()?;
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()?;
    let mut current = locked_record(&mut tx, st, name)?;
    if current.is_none() {
        tx.execute(
            &st.lock_key,
            &[&lock_key(&[
                "secret-storage-postgres",
                "create",
                &store.schema,
                name.as_str(),
            ])],
        )?;
        // Under READ COMMITTED this statement sees whatever a creator that held the lock
        // before us committed.
        current = locked_record(&mut tx, st, name)?;
    }
    let existed = current.is_some();
    match f(current.as_ref()).for_secret(name)? {
        Update::Keep => {}
        Update::Delete => {
            if existed {
                tx.execute(&st.delete_record, &[&name.as_str()])?;
            }
        }
        Update::Write {
            record,
            put_payloads,
            delete_payloads,
        } => {
            let bytes = encode_record(&record);
            let statement = if existed {
                &st.update_record
            } else {
                &st.insert_record
            };
            tx.execute(statement, &[&name.as_str(), &bytes])?;
            mirror_versions(&mut tx, st, &record, existed)?;
            write_payloads(&mut tx, st, name, &put_payloads, &delete_payloads)?;
        }
    }
    commit(tx)
}

/// The record of `name`, its row locked until the transaction ends.
fn locked_record(
    tx: &mut Transaction<'_>,
    st: &Statements,
    name: &SecretName,
) -> Result<Option<SecretRecord>, Failed> {
    let row = tx.query_opt(&st.lock_record, &[&name.as_str()])?;
    match row {
        None => Ok(None),
        Some(row) => {
            let bytes: Vec<u8> = row.try_get(0)?;
            Ok(Some(secret_storage::decode_record_of(name, &bytes)?))
        }
    }
}

/// Replaces the rows of `secret_versions` and `secret_stages` of the secret with those of
/// `record`. Errors: `Backend` (not retryable) when the record lists a version id twice or
/// puts one label on two versions: the unique keys refuse it, and nothing is applied.
fn mirror_versions(
    tx: &mut Transaction<'_>,
    st: &Statements,
    record: &SecretRecord,
    existed: bool,
) -> Result<(), Failed> {
    let name = record.name.as_str();
    if existed {
        tx.execute(&st.clear_versions, &[&name])?;
    }
    let ids: Vec<&str> = record
        .versions
        .iter()
        .map(|v| v.version_id.as_str())
        .collect();
    let (stages, holders): (Vec<&str>, Vec<&str>) = record
        .versions
        .iter()
        .flat_map(|v| {
            v.stages
                .iter()
                .map(move |s| (s.as_str(), v.version_id.as_str()))
        })
        .unzip();
    let refused = |what: &str| -> Failed {
        Failed::Storage(StorageError::Backend {
            message: format!(
                "the record of {name} {what}; refused by the schema's unique key, nothing \
                 was written"
            ),
            retryable: false,
        })
    };
    match tx.execute(&st.insert_versions, &[&name, &ids]) {
        Err(e) if violates(&e, "secret_versions_pkey") => {
            return Err(refused("lists a version id twice"));
        }
        other => other?,
    };
    if !stages.is_empty() {
        match tx.execute(&st.insert_stages, &[&name, &stages, &holders]) {
            Err(e) if violates(&e, "secret_stages_pkey") => {
                return Err(refused("puts one stage label on two versions"));
            }
            other => other?,
        };
    }
    Ok(())
}

/// Whether `e` is a unique violation of `constraint`.
fn violates(e: &postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &postgres::error::SqlState::UNIQUE_VIOLATION
            && db.constraint() == Some(constraint)
    })
}

/// Adds or replaces `put`, then removes `delete` (so an id in both ends up removed).
fn write_payloads(
    tx: &mut Transaction<'_>,
    st: &Statements,
    name: &SecretName,
    put: &[(VersionId, Cow<'_, [u8]>)],
    delete: &[VersionId],
) -> Result<(), Failed> {
    for (id, bytes) in put {
        tx.execute(
            &st.put_payload,
            &[&name.as_str(), &id.as_str(), &&bytes[..]],
        )?;
    }
    if !delete.is_empty() {
        let ids: Vec<&str> = delete.iter().map(VersionId::as_str).collect();
        tx.execute(&st.delete_payloads, &[&name.as_str(), &ids])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let first = Duration::from_millis(2);
        let d1 = backoff(first, 1);
        assert!(d1 >= Duration::from_millis(1) && d1 < Duration::from_millis(3));
        let d4 = backoff(first, 4);
        assert!(d4 >= Duration::from_millis(8) && d4 < Duration::from_millis(24));
        assert!(backoff(first, 40) <= Duration::from_secs(1));
    }
}
