//! [`Storage::snapshot`](secret_storage::Storage::snapshot): optimistic plain reads validated
//! by the write stamp of the payload index stored with the record, with a transaction as the
//! fallback.

use secret_model::{SecretName, VersionId};
use secret_storage::{Snapshot, StorageError};
use sled::transaction::ConflictableTransactionError;

use crate::error::{from_sled, from_transaction};
use crate::keys::{PayloadIndex, payload_key, record_key};
use crate::{SledStorage, decode_stored_with_index};

/// Optimistic tries before falling back to a transaction.
const OPTIMISTIC_TRIES: usize = 8;

pub(crate) fn snapshot(
    store: &SledStorage,
    name: &SecretName,
) -> Result<Option<Snapshot>, StorageError> {
    for _ in 0..OPTIMISTIC_TRIES {
        if let Some(snapshot) = try_optimistic(store, name)? {
            return Ok(snapshot);
        }
    }
    in_transaction(store, name)
}

/// One optimistic read: `Ok(None)` if a write interfered and it must be tried again.
///
/// Each sled read is atomic with respect to a transaction's commit, and every write of a
/// secret gives its payload index (stored with its record) a stamp never used before. So if
/// the record reads the same before and after the payloads, no write committed in between, and
/// they all saw one state.
fn try_optimistic(
    store: &SledStorage,
    name: &SecretName,
) -> Result<Option<Option<Snapshot>>, StorageError> {
    let get = |key: Vec<u8>| {
        store
            .tree
            .get(key)
            .map_err(|e| from_sled("reading a snapshot", e))
    };
    let Some(stored) = get(record_key(name))? else {
        // The secret did not exist at the instant of this read.
        return Ok(Some(None));
    };
    let (index, record) = decode_stored_with_index(name, &stored)?;
    let mut read = Vec::with_capacity(index.versions.len());
    for id in &index.versions {
        let bytes = get(payload_key(name, id))?;
        read.push((id, bytes));
    }
    if get(record_key(name))?.as_deref() != Some(&stored[..]) {
        return Ok(None);
    }
    // Consistent: anything missing now is damage, not a race.
    let mut payloads = Vec::with_capacity(index.len());
    for (id, bytes) in read {
        let Some(bytes) = bytes else {
            return Err(missing_payload(name, id));
        };
        payloads.push((id.clone(), bytes.to_vec()));
    }
    with_record_payloads(store, name, &mut payloads, &index)?;
    Ok(Some(Some(Snapshot { record, payloads })))
}

/// Adds to `payloads` (read from their keys of their own) the ones `index` holds inline or
/// points to in the value log, and puts them all in version-id order. A payload in the value
/// log never changes where the index points, so it is read after the index is known to be
/// current. Errors: `Corrupt` naming `name` and the version if one in the value log is not
/// there whole.
fn with_record_payloads(
    store: &SledStorage,
    name: &SecretName,
    payloads: &mut Vec<(VersionId, Vec<u8>)>,
    index: &PayloadIndex<'_>,
) -> Result<(), StorageError> {
    if let Some((id, bytes)) = &index.inline {
        payloads.push((id.clone(), bytes.to_vec()));
    }
    for (id, pointer) in &index.logged {
        let bytes = store.read_logged(*pointer).map_err(|e| {
            StorageError::Corrupt(format!("the payload of {name} version {id}: {e}"))
        })?;
        payloads.push((id.clone(), bytes));
    }
    payloads.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(())
}

fn missing_payload(name: &SecretName, id: &VersionId) -> StorageError {
    StorageError::Corrupt(format!(
        "the payload index of {name} lists version {id}, whose payload is missing"
    ))
}

/// Reads the snapshot inside a transaction, which excludes writers while it runs.
pub(crate) fn in_transaction(
    store: &SledStorage,
    name: &SecretName,
) -> Result<Option<Snapshot>, StorageError> {
    store
        .tree
        .transaction(|tx| {
            let Some(stored) = tx.get(record_key(name))? else {
                return Ok(None);
            };
            let (index, record) = decode_stored_with_index(name, &stored)
                .map_err(ConflictableTransactionError::Abort)?;
            let mut payloads = Vec::with_capacity(index.len());
            for id in &index.versions {
                let Some(bytes) = tx.get(payload_key(name, id))? else {
                    return Err(ConflictableTransactionError::Abort(missing_payload(
                        name, id,
                    )));
                };
                payloads.push((id.clone(), bytes.to_vec()));
            }
            with_record_payloads(store, name, &mut payloads, &index)
                .map_err(ConflictableTransactionError::Abort)?;
            Ok(Some(Snapshot { record, payloads }))
        })
        .map_err(|e| from_transaction("reading a snapshot", e))
}

#[cfg(test)]
mod tests {
    use secret_storage::testkit::{sample_record, secret_name, version_id};
    use secret_storage::{Storage, Update};

    use super::*;
    use crate::SledOptions;

    #[test]
    fn transactional_snapshot_agrees_with_the_optimistic_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStorage::open(dir.path()).unwrap();
        let name = secret_name("s");
        assert_eq!(in_transaction(&store, &name).unwrap(), None);
        let record = sample_record("s", &["v1", "v2"]);
        store
            .update(&name, &mut |_| Update::Write {
                record: record.clone(),
                put_payloads: vec![
                    (version_id("v1"), vec![].into()),
                    (version_id("v2"), b"two".to_vec().into()),
                ],
                delete_payloads: vec![],
            })
            .unwrap();
        let optimistic = store.snapshot(&name).unwrap().unwrap();
        assert_eq!(optimistic.record, record);
        assert_eq!(
            optimistic.payloads,
            vec![
                (version_id("v1"), vec![]),
                (version_id("v2"), b"two".to_vec())
            ]
        );
        assert_eq!(in_transaction(&store, &name).unwrap(), Some(optimistic));
    }

    #[test]
    fn both_snapshot_paths_report_an_index_entry_without_payload() {
        // Without the journal, payloads are stored in sled (no value log).
        let dir = tempfile::tempdir().unwrap();
        let store =
            SledStorage::open_with(dir.path(), SledOptions::default().with_journal(false)).unwrap();
        let name = secret_name("s");
        let record = sample_record("s", &["v1", "v2"]);
        store
            .update(&name, &mut |_| Update::Write {
                record: record.clone(),
                // v2, put last, is stored inline; v1 under a key of its own.
                put_payloads: vec![
                    (version_id("v1"), b"one".to_vec().into()),
                    (version_id("v2"), b"two".to_vec().into()),
                ],
                delete_payloads: vec![],
            })
            .unwrap();
        store
            .tree
            .remove(payload_key(&name, &version_id("v1")))
            .unwrap();
        for result in [store.snapshot(&name), in_transaction(&store, &name)] {
            match result {
                Err(StorageError::Corrupt(m)) => assert!(m.contains("v1"), "{m}"),
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }

    /// A payload in the value log that is not there whole (here a byte of its segment
    /// flipped) is reported by both snapshot paths as damage naming the secret and version.
    #[test]
    fn both_snapshot_paths_report_a_damaged_payload_in_the_value_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStorage::open(dir.path()).unwrap();
        let name = secret_name("s");
        store
            .update(&name, &mut |_| Update::Write {
                record: sample_record("s", &["v1"]),
                put_payloads: vec![(version_id("v1"), b"one".to_vec().into())],
                delete_payloads: vec![],
            })
            .unwrap();
        let segment = std::fs::read_dir(dir.path().join("values"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = std::fs::read(&segment).unwrap();
        assert_eq!(bytes, b"one");
        bytes[1] ^= 1;
        std::fs::write(&segment, bytes).unwrap();
        for result in [store.snapshot(&name), in_transaction(&store, &name)] {
            match result {
                Err(StorageError::Corrupt(m)) => {
                    assert!(m.contains("s version v1") && m.contains("checksum"), "{m}")
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }
}
