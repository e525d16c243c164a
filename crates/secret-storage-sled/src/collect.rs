//! [`SledStorage::collect_garbage`]: freeing the value log of payloads no record points to.

use std::collections::{BTreeMap, BTreeSet};

use secret_storage::StorageError;

use crate::error::{from_sled, from_transaction};
use crate::keys::{
    META_VALUES, RECORD_PREFIX, encode_stored, name_in_key, payload_key, split_stored,
};
use crate::update::{Journaled, relocate};
use crate::values::ValueLog;
use crate::{SledStorage, WritePath};

/// What [`SledStorage::collect_garbage`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GarbageReport {
    /// Value log segments deleted.
    pub segments_deleted: usize,
    /// Bytes those segments held (live payloads moved out of them included).
    pub bytes_freed: u64,
    /// Payloads moved out of them first, each by a journaled write of its secret.
    pub payloads_moved: usize,
}

impl SledStorage {
    /// Frees the value log of payloads that no record points to any more (versions evicted,
    /// secrets deleted or purged): measures each segment's live bytes with one scan of the
    /// records, moves the live payloads out of every segment that is less than half live
    /// (each move is a journaled write of its secret, durable before it is acknowledged, that
    /// changes only where the payload is), makes that durable in sled with a checkpoint, then
    /// deletes those segments. Readers and writers go on meanwhile; a reader that read a
    /// record before its payload moved still reads the payload where it was, since segments
    /// are deleted only once no reader is between a record and its payloads.
    ///
    /// A journaled write runs this by itself once the value log holds more than twice what
    /// the last collection left (and more than two segments): call it to free space sooner,
    /// for example after deleting many secrets. Does nothing on a store without a value log
    /// (opened with [`SledStorage::from_db`] or without the write journal), or while another
    /// collection runs.
    ///
    /// A payload that cannot be moved because it is damaged (it fails its checksum; reads of
    /// it say so) keeps its segment; the other segments are collected still.
    ///
    /// Errors: `Backend` if sled, the journal or the value log fails; `Corrupt` if a record
    /// does not decode (nothing is deleted then).
    pub fn collect_garbage(&self) -> Result<GarbageReport, StorageError> {
        let (WritePath::Journal(journaled), Some(values)) = (&*self.write, self.values.as_deref())
        else {
            return Ok(GarbageReport::default());
        };
        if !values.begin_collection() {
            return Ok(GarbageReport::default());
        }
        let outcome = collect(self, journaled, values);
        // After a failure too: tried again only once the log has doubled again.
        values.set_baseline(values.total());
        values.end_collection();
        let report = outcome?;
        // For the next open, which may be another process's (not journaled: a crash may lose
        // it, which only brings the next collection forward).
        self.tree
            .insert(META_VALUES, &values.total().to_be_bytes()[..])
            .and_then(|_| self.db.flush())
            .map_err(|e| from_sled("recording the value log's size", e))?;
        Ok(report)
    }
}

fn collect(
    store: &SledStorage,
    journaled: &Journaled,
    values: &ValueLog,
) -> Result<GarbageReport, StorageError> {
    store.check_readable()?;
    // Live bytes per segment, measured before the segment new payloads go to is left: only
    // then is it worth leaving (a store that never fills a segment would otherwise get a new
    // one at every collection). The measure only picks segments; whatever it missed (payloads
    // written meanwhile) is moved out of them all the same by the pass below, which follows
    // the pointers themselves.
    let mut live: BTreeMap<u64, u64> = BTreeMap::new();
    for_each_index(store, |_, index| {
        for pointer in index.logged.values() {
            *live.entry(pointer.segment).or_default() += u64::from(pointer.len);
        }
        Ok(())
    })?;
    let mostly_garbage = |number: u64, len: u64| {
        let live = live.get(&number).copied().unwrap_or(0);
        live == 0 || live * 2 < len
    };
    // With no update between reserving room and applying: every payload reserved before is
    // applied, and every one reserved after goes to segment `first_kept` or later.
    let first_kept = journaled.journal.everyone_out(|| {
        let (active, tail) = values.active();
        if tail > 0 && mostly_garbage(active, tail) {
            values.roll()
        } else {
            active
        }
    });
    let victims: BTreeSet<u64> = values
        .segments()?
        .into_iter()
        .filter(|&(number, len)| number < first_kept && mostly_garbage(number, len))
        .map(|(number, _)| number)
        .collect();
    if victims.is_empty() {
        return Ok(GarbageReport::default());
    }
    let mut moved = 0;
    // Segments kept after all: they hold a payload that could not be moved because it is
    // damaged (its reads report that); the others are collected still.
    let mut kept = BTreeSet::new();
    for_each_index(store, |name, index| {
        let pointed: BTreeSet<u64> = index
            .logged
            .values()
            .map(|pointer| pointer.segment)
            .filter(|segment| victims.contains(segment))
            .collect();
        if pointed.is_empty() {
            return Ok(());
        }
        match relocate(store, journaled, values, name, &victims) {
            Ok(n) => moved += n,
            // A write since the scan only drops pointers into the victims (new payloads go
            // to newer segments), so `pointed` covers every one the secret still has.
            Err(StorageError::Corrupt(_)) => kept.extend(pointed),
            Err(e) => return Err(e),
        }
        Ok(())
    })?;
    let victims: BTreeSet<u64> = victims.difference(&kept).copied().collect();
    // Once a checkpoint has run, sled durably points elsewhere and no frame that wrote into
    // the victims is replayed.
    journaled.journal.checkpoint_now(&store.db)?;
    let freed = values.delete(&victims)?;
    Ok(GarbageReport {
        segments_deleted: victims.len(),
        bytes_freed: freed,
        payloads_moved: moved,
    })
}

/// Calls `f` with every secret's name and payload index, in name order.
fn for_each_index(
    store: &SledStorage,
    mut f: impl FnMut(
        &secret_model::SecretName,
        &crate::keys::PayloadIndex<'_>,
    ) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    for entry in store.tree.scan_prefix(RECORD_PREFIX) {
        let (key, value) = entry.map_err(|e| from_sled("scanning the records", e))?;
        let name = name_in_key(RECORD_PREFIX, &key)?;
        let (index, _) = split_stored(&name, &value)?;
        f(&name, &index)?;
    }
    Ok(())
}

/// Moves every payload of the value log into sled — under a key of its own, each secret in
/// one transaction — makes that durable and removes the value log: for a store opened without
/// its write journal, whose writes go to sled alone (and which a tool may then open with
/// [`SledStorage::from_db`]). Interrupted, it goes on where it stopped the next time: the
/// value log is removed last.
///
/// Errors: `Backend` if sled or the value log fails; `Corrupt` if a record does not decode or
/// a payload fails its checksum (nothing more is moved then, and the value log stays).
pub(crate) fn fold_into_sled(
    db: &sled::Db,
    tree: &sled::Tree,
    values: &ValueLog,
) -> Result<(), StorageError> {
    if values.segments()?.is_empty() {
        tree.remove(META_VALUES)
            .map_err(|e| from_sled("removing the value log's size", e))?;
        return values.remove_all();
    }
    for entry in tree.scan_prefix(RECORD_PREFIX) {
        let (key, value) = entry.map_err(|e| from_sled("scanning the records", e))?;
        let name = name_in_key(RECORD_PREFIX, &key)?;
        let (index, record) = split_stored(&name, &value)?;
        if index.logged.is_empty() {
            continue;
        }
        let mut moved = Vec::with_capacity(index.logged.len());
        for (id, pointer) in &index.logged {
            moved.push((payload_key(&name, id), values.read(*pointer)?));
        }
        let mut folded = index.clone();
        folded.versions.extend(folded.logged.keys().cloned());
        folded.logged.clear();
        folded.stamp = db
            .generate_id()
            .map_err(|e| from_sled("stamping a payload index", e))?;
        let stored = encode_stored(&folded, record);
        tree.transaction(|tx| {
            for (payload, bytes) in &moved {
                tx.insert(payload.as_slice(), bytes.as_slice())?;
            }
            tx.insert(key.as_ref(), stored.as_slice())?;
            Ok::<_, sled::transaction::ConflictableTransactionError<StorageError>>(())
        })
        .map_err(|e| from_transaction("moving payloads from the value log into sled", e))?;
    }
    // The size the last collection left means nothing to a value log made later.
    tree.remove(META_VALUES)
        .map_err(|e| from_sled("removing the value log's size", e))?;
    db.flush()
        .map_err(|e| from_sled("flushing sled before removing the value log", e))?;
    crate::journal::make_sled_durable(db, values.store_dir())?;
    values.remove_all()
}
