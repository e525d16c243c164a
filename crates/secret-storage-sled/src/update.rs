//! [`Storage::update`](secret_storage::Storage::update): through the write journal
//! ([`journaled`]), or as one sled transaction ([`update`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use secret_model::{SecretName, VersionId};
use secret_storage::{SecretRecord, StorageError, Update, encode_record};
use sled::transaction::{ConflictableTransactionError, ConflictableTransactionResult};

use crate::error::{from_sled, from_transaction};
use crate::group_commit::Pending;
use crate::journal::{Journal, Op, Value};
use crate::keys::{PayloadIndex, encode_stored, payload_key, record_key, split_stored};
use crate::values::ValueLog;
use crate::{SledStorage, decode_stored_with_index};

type TxResult<T> = ConflictableTransactionResult<T, StorageError>;

fn abort<T>(error: StorageError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(error))
}

/// Runs `f` on the current record inside a transaction and applies its decision. Does not
/// flush. sled may run the transaction body again after a conflict; only the last run's
/// writes are applied, matching the contract that only `f`'s last decision counts.
///
/// `pending` is marked before the commit of any run that decides to write or delete (so a
/// reader who sees the write also sees the mark; see `group_commit`).
pub(crate) fn update<'a>(
    store: &SledStorage,
    name: &SecretName,
    f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    pending: &Pending<'_>,
) -> Result<(), StorageError> {
    // sled wants an `Fn` body; `f` is only ever called from that one body, never re-entrantly.
    let f = RefCell::new(f);
    store
        .tree
        .transaction(|tx| {
            let stored = tx.get(record_key(name))?;
            let (index, current) = match &stored {
                Some(bytes) => match decode_stored_with_index(name, bytes) {
                    Ok((index, record)) => (index, Some(record)),
                    Err(e) => return abort(e),
                },
                None => (PayloadIndex::default(), None),
            };
            let decision = (f.borrow_mut())(current.as_ref());
            if matches!(decision, Update::Keep) {
                return Ok(());
            }
            pending.mark();
            let stamp = if matches!(decision, Update::Write { .. }) {
                tx.generate_id()?
            } else {
                0
            };
            // No value log here: new payloads go into sled, as before layout 4.
            let plan = plan(name, decision, index, stamp, None).or_else(abort)?;
            debug_assert!(plan.values.is_empty());
            for (key, value) in plan.ops {
                match value {
                    Some(value) => tx.insert(key, value)?,
                    None => tx.remove(key)?,
                };
            }
            Ok(())
        })
        .map_err(|e| from_transaction("updating a secret", e))
}

/// What a write changes: sled's keys, and the payloads it puts in the value log.
struct Plan {
    /// The keys changed, in the order they are applied, with their new values (`None`:
    /// removed).
    ops: Vec<Op>,
    /// The payloads to write to the value log before `ops` are applied.
    values: Vec<Value>,
}

/// What `decision` (a `Write` or a `Delete`) changes, given the secret's current payload index
/// and, for a `Write`, the new index's stamp. Both write paths apply exactly these; the order
/// of the keys is the one the journaled path applies them in (see [`journaled`]): payloads
/// stored under keys of their own, the record (with its payload index and inline payload),
/// then removed payloads — a deleted secret's record first.
///
/// With a value log (`values`, the journaled path), a new payload a `Write` puts goes there,
/// at a place reserved now, and the index points to it: a create writes one small key to
/// sled. Without one, it is stored inline, in the record's value, so that a create still
/// writes one key; the payload it displaces from there moves to a key of its own. Either way a
/// payload that already has a key of its own is overwritten there: a payload never moves back
/// into the record, so a reader that read the record before this write still finds it. A
/// payload both put and deleted ends up without one; one in the value log that no index points
/// to any more is garbage ([`crate::values`]). Errors: `NameMismatch` if a `Write`'s record
/// names another secret.
fn plan(
    name: &SecretName,
    decision: Update<'_>,
    index: PayloadIndex<'_>,
    stamp: u64,
    values: Option<&ValueLog>,
) -> Result<Plan, StorageError> {
    match decision.for_secret(name)? {
        Update::Keep => Ok(Plan {
            ops: Vec::new(),
            values: Vec::new(),
        }),
        Update::Delete => {
            // The record's removal takes the inline payload and the value-log pointers with it.
            let mut ops: Vec<Op> = vec![(record_key(name), None)];
            ops.extend(
                index
                    .versions
                    .iter()
                    .map(|id| (payload_key(name, id), None)),
            );
            Ok(Plan {
                ops,
                values: Vec::new(),
            })
        }
        Update::Write {
            record,
            put_payloads,
            delete_payloads,
        } => {
            let PayloadIndex {
                mut versions,
                mut logged,
                inline,
                ..
            } = index;
            let mut inline: Option<(VersionId, Cow<'_, [u8]>)> =
                inline.map(|(id, bytes)| (id, Cow::Borrowed(bytes)));
            let mut ops = Vec::with_capacity(put_payloads.len() + delete_payloads.len() + 2);
            let mut removals = Vec::with_capacity(delete_payloads.len());
            let mut written: Vec<Value> = Vec::new();
            for (id, bytes) in put_payloads {
                if versions.contains(&id) {
                    // Stored under a key of its own: overwritten there, never moved back
                    // inline (a reader that read the old record still finds it there).
                    let key = payload_key(name, &id);
                    ops.retain(|(put, _)| *put != key);
                    ops.push((key, Some(sled::IVec::from(&*bytes))));
                    continue;
                }
                if let Some(values) = values {
                    // Into the value log; a copy of this version inline goes.
                    if inline.as_ref().is_some_and(|(inline, _)| *inline == id) {
                        inline = None;
                    }
                    let pointer = values.reserve(&bytes);
                    logged.insert(id, pointer);
                    written.push((pointer, sled::IVec::from(&*bytes)));
                    continue;
                }
                // A pointer to an earlier payload of this version is replaced by the new one.
                logged.remove(&id);
                if let Some((displaced, displaced_bytes)) = inline.take()
                    && displaced != id
                {
                    let key = payload_key(name, &displaced);
                    ops.push((key, Some(sled::IVec::from(&*displaced_bytes))));
                    versions.insert(displaced);
                }
                inline = Some((id, bytes));
            }
            for id in delete_payloads {
                if inline.as_ref().is_some_and(|(inline, _)| *inline == id) {
                    inline = None;
                }
                logged.remove(&id);
                if versions.remove(&id) {
                    let key = payload_key(name, &id);
                    ops.retain(|(put, _)| *put != key);
                    removals.push((key, None));
                }
            }
            let index = PayloadIndex {
                stamp,
                versions,
                logged,
                inline: inline.as_ref().map(|(id, bytes)| (id.clone(), &**bytes)),
            };
            // Only what the final index points to is written: a payload put twice in one
            // write, or put and deleted, leaves no bytes behind.
            written.retain(|(pointer, _)| index.logged.values().any(|p| p == pointer));
            let stored = encode_stored(&index, &encode_record(&record));
            ops.push((record_key(name), Some(stored.into())));
            ops.extend(removals);
            Ok(Plan {
                ops,
                values: written,
            })
        }
    }
}

/// The journaled write path: the journal, and two locks per secret (striped: secrets share
/// them). An update holds the secret's *write lock* from its read until its write is applied,
/// so the writes of one secret are journaled and applied in one order. It applies the write to
/// sled key by key (one sled batch would make sled write and sync its log for every update),
/// holding the secret's *view lock* exclusively while it does; readers of more than one key of
/// a secret hold that lock shared, so they see a write whole or not at all.
pub(crate) struct Journaled {
    pub(crate) journal: Journal,
    writers: Box<[Mutex<()>]>,
    views: Box<[RwLock<()>]>,
    hasher: RandomState,
}

/// How many locks of each kind the secrets share: enough that 32 concurrent writers of
/// different secrets rarely wait for one another.
const STRIPES: usize = 1024;

impl Journaled {
    pub(crate) fn new(journal: Journal) -> Self {
        Journaled {
            journal,
            writers: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            views: (0..STRIPES).map(|_| RwLock::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn stripe(&self, name: &SecretName) -> usize {
        self.hasher.hash_one(name.as_str()) as usize % STRIPES
    }

    /// The secret's write lock. (The locks guard no data: a panic while one was held leaves
    /// nothing half-done in it, so poisoning is ignored.)
    fn write_lock(&self, name: &SecretName) -> MutexGuard<'_, ()> {
        self.writers[self.stripe(name)]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The secret's view lock, shared: hold it while reading more than one of its keys.
    pub(crate) fn view(&self, name: &SecretName) -> RwLockReadGuard<'_, ()> {
        self.views[self.stripe(name)]
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn view_exclusive(&self, name: &SecretName) -> RwLockWriteGuard<'_, ()> {
        self.views[self.stripe(name)]
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `f` once on the current record and applies its decision through the journal: the
/// change is appended as one frame, the caller waits until the journal is durable up to it
/// (sharing the `fdatasync` with everyone writing meanwhile), then it is applied to sled under
/// the secret's view lock. The secret's write lock is held throughout, so nothing else writes
/// it in between; a `Keep` returns at once, since everything sled holds is already durable.
///
/// Payloads for the value log are written first, then keys are applied in the order the ops
/// list them: new payloads before the record that lists them, removed payloads after the
/// record that no longer does (a deleted secret's record first); so a reader of single keys
/// without the view lock never reads a record listing a payload this write has not stored yet.
/// (One that read the record *before* this write may still find a payload the write removed
/// gone, as on the transaction path.) Then, if due, a checkpoint and a collection of the value
/// log's garbage run, outside the secret's locks.
pub(crate) fn journaled<'a>(
    store: &SledStorage,
    journaled: &Journaled,
    name: &SecretName,
    f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
) -> Result<(), StorageError> {
    {
        let _writing = journaled.write_lock(name);
        // A write that could not be fully applied leaves sled torn in this process: `f` must
        // not decide on it, not even to keep it.
        journaled.journal.check_readable()?;
        // Only writers change the secret's keys, and this one holds its write lock: a plain
        // read.
        let stored = store
            .tree
            .get(record_key(name))
            .map_err(|e| from_sled("reading a record", e))?;
        let (index, current) = match &stored {
            Some(bytes) => {
                let (index, record) = decode_stored_with_index(name, bytes)?;
                (index, Some(record))
            }
            None => (PayloadIndex::default(), None),
        };
        let decision = f(current.as_ref());
        let stamp = match decision {
            Update::Keep => return Ok(()),
            Update::Write { .. } => store
                .db
                .generate_id()
                .map_err(|e| from_sled("stamping a payload index", e))?,
            // Nothing to delete: nothing to journal.
            Update::Delete if current.is_none() => return Ok(()),
            Update::Delete => 0,
        };
        // Entered before the value log's room is reserved: a collection starts a new segment
        // with everyone out, so every payload reserved in an older one is applied by then.
        let _inside = journaled.journal.enter();
        let plan = plan(name, decision, index, stamp, store.values.as_deref())?;
        commit(store, journaled, name, plan)?;
    }
    // Without the secret's write lock: a collection moves other secrets' payloads, under
    // theirs.
    housekeeping(store, journaled);
    Ok(())
}

/// Appends `plan` to the journal, waits until it is durable, writes its payloads to the value
/// log and applies its keys to sled under the secret's view lock. Call inside
/// [`Journal::enter`], holding the secret's write lock.
fn commit(
    store: &SledStorage,
    journaled: &Journaled,
    name: &SecretName,
    plan: Plan,
) -> Result<(), StorageError> {
    let journal = &journaled.journal;
    let end = journal.append(&plan.ops, &plan.values)?;
    journal.wait_durable(end)?;
    // The frame is durable: whatever fails from here leaves this process's view of the store
    // short of it, so the store takes no more writes (reopening replays the frame whole).
    let torn = |error: StorageError| {
        journal.fail_apply(&error);
        error
    };
    if let Some(values) = store.values.as_deref() {
        for (pointer, bytes) in &plan.values {
            values.write(*pointer, bytes).map_err(torn)?;
        }
    }
    let _applying = journaled.view_exclusive(name);
    for (key, value) in plan.ops {
        let applied = match value {
            Some(value) => store.tree.insert(key, value),
            None => store.tree.remove(key),
        };
        applied.map_err(|e| torn(from_sled("applying a journaled write to sled", e)))?;
    }
    Ok(())
}

/// What a journaled write does after it is done, if due: a checkpoint, then a collection of
/// the value log's garbage. Their failures are not the write's: a failed checkpoint stops the
/// journal (the next write reports why), and a failed collection is tried again later.
fn housekeeping(store: &SledStorage, journaled: &Journaled) {
    if journaled.journal.wants_checkpoint() {
        let _ = journaled.journal.checkpoint(&store.db);
    }
    if store
        .values
        .as_deref()
        .is_some_and(ValueLog::wants_collection)
    {
        let _ = store.collect_garbage();
    }
}

/// Moves the payloads of `name` that are in the value log's segments `victims` to its active
/// segment: one journaled write of the secret that changes its payload index only (the record,
/// and its seal, stay as they are). Returns how many moved.
pub(crate) fn relocate(
    store: &SledStorage,
    journaled: &Journaled,
    values: &ValueLog,
    name: &SecretName,
    victims: &std::collections::BTreeSet<u64>,
) -> Result<usize, StorageError> {
    let _writing = journaled.write_lock(name);
    journaled.journal.check_readable()?;
    let Some(stored) = store
        .tree
        .get(record_key(name))
        .map_err(|e| from_sled("reading a record", e))?
    else {
        return Ok(0);
    };
    let (mut index, record) = split_stored(name, &stored)?;
    let moving: Vec<(VersionId, crate::values::Pointer)> = index
        .logged
        .iter()
        .filter(|(_, pointer)| victims.contains(&pointer.segment))
        .map(|(id, pointer)| (id.clone(), *pointer))
        .collect();
    if moving.is_empty() {
        return Ok(0);
    }
    index.stamp = store
        .db
        .generate_id()
        .map_err(|e| from_sled("stamping a payload index", e))?;
    let _inside = journaled.journal.enter();
    let mut written = Vec::with_capacity(moving.len());
    for (id, old) in &moving {
        let bytes = values.read(*old)?;
        let new = values.reserve(&bytes);
        index.logged.insert(id.clone(), new);
        written.push((new, sled::IVec::from(bytes)));
    }
    let stored = encode_stored(&index, record);
    let plan = Plan {
        ops: vec![(record_key(name), Some(stored.into()))],
        values: written,
    };
    commit(store, journaled, name, plan)?;
    Ok(moving.len())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;
    use secret_storage::testkit::{sample_record, secret_name, version_id};

    use super::*;
    use crate::keys::split_stored;

    /// One update of secret `s`: a `Write` that puts and deletes these payloads (ids `v0` to
    /// `v4`), or, for `None`, a `Delete`.
    type Step = Option<(Vec<(u8, u8)>, Vec<u8>)>;

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            1 => Just(None),
            8 => (
                prop::collection::vec((0u8..5, any::<u8>()), 0..4),
                prop::collection::vec(0u8..5, 0..3),
            )
                .prop_map(Some),
        ]
    }

    /// A payload index, owned: the ids with a key of their own, those in the value log, and
    /// the inline payload.
    type StoredIndex = (
        BTreeSet<VersionId>,
        BTreeMap<VersionId, crate::values::Pointer>,
        Option<(VersionId, Vec<u8>)>,
    );

    fn id(i: u8) -> VersionId {
        version_id(&format!("v{i}"))
    }

    /// The bytes step puts as payload `v{i}`: `byte`, repeated (a length that tells ids apart).
    fn bytes(i: u8, byte: u8) -> Vec<u8> {
        vec![byte; 1 + usize::from(i)]
    }

    /// The payload index stored in `tree` for secret `s`, owned.
    fn stored_index(tree: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<StoredIndex> {
        let name = secret_name("s");
        let stored = tree.get(&record_key(&name))?;
        let (index, _) = split_stored(&name, stored).unwrap();
        let inline = index.inline.map(|(id, bytes)| (id, bytes.to_vec()));
        Some((index.versions, index.logged, inline))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any sequence of updates, applied op by op as both write paths apply them — with a
        /// value log or without, in any mix (a store opened with its journal, then without) —
        /// keeps exactly the payloads the `Update` contract says, each where the index says
        /// (under a key of its own, in the value log, or inline), with no key left over; and at
        /// every point in between, every payload key a record stored during the update lists
        /// is present unless the update deletes that payload and its record has already
        /// changed (so a reader of single keys without a lock, holding a record read before or
        /// during the update, never misses a payload that still exists, nor one that the
        /// record it holds still lists).
        #[test]
        fn plans_keep_exactly_the_payloads_the_contract_says(
            steps in prop::collection::vec((step(), any::<bool>()), 1..24),
        ) {
            let name = secret_name("s");
            let dir = tempfile::tempdir().unwrap();
            let log = ValueLog::open(dir.path(), 64).unwrap();
            let mut tree: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut model: BTreeMap<VersionId, Vec<u8>> = BTreeMap::new();
            for (n, (step, logged)) in steps.into_iter().enumerate() {
                let current = tree.get(&record_key(&name)).cloned();
                let index = match &current {
                    Some(bytes) => split_stored(&name, bytes).unwrap().0,
                    None => PayloadIndex::default(),
                };
                let (decision, deleted): (Update<'_>, BTreeSet<VersionId>) = match &step {
                    None => {
                        let all = model.keys().cloned().collect();
                        model.clear();
                        (Update::Delete, all)
                    }
                    Some((puts, deletes)) => {
                        for (v, byte) in puts {
                            model.insert(id(*v), bytes(*v, *byte));
                        }
                        let deletes: Vec<VersionId> = deletes.iter().map(|v| id(*v)).collect();
                        for v in &deletes {
                            model.remove(v);
                        }
                        let decision = Update::Write {
                            record: sample_record("s", &["v0"]),
                            put_payloads: puts
                                .iter()
                                .map(|(v, byte)| (id(*v), bytes(*v, *byte).into()))
                                .collect(),
                            delete_payloads: deletes.clone(),
                        };
                        (decision, deletes.into_iter().collect())
                    }
                };
                // Every payload with a key of its own in any record stored during this update:
                // a reader may have read any of them.
                let mut listed: BTreeSet<VersionId> =
                    stored_index(&tree).map(|(versions, _, _)| versions).unwrap_or_default();
                let plan = plan(&name, decision, index, n as u64 + 1, logged.then_some(&log)).unwrap();
                for (pointer, bytes) in &plan.values {
                    log.write(*pointer, bytes).unwrap();
                }
                let ops = plan.ops;
                // Until the record changes, every key the old one lists stays, deleted or not.
                let mut record_stored = false;
                let kept = BTreeSet::new();
                for (key, value) in ops {
                    record_stored |= key == record_key(&name);
                    match value {
                        Some(value) => tree.insert(key, value.to_vec()),
                        None => tree.remove(&key),
                    };
                    let deleted = if record_stored { &deleted } else { &kept };
                    listed.extend(stored_index(&tree).map(|(versions, _, _)| versions).unwrap_or_default());
                    for v in listed.difference(deleted) {
                        prop_assert!(
                            tree.contains_key(&payload_key(&name, v)),
                            "step {n}: {v} was listed but its key is missing"
                        );
                    }
                }
                // What the store holds now.
                let mut held = BTreeMap::new();
                let mut keys: BTreeSet<Vec<u8>> = tree.keys().cloned().collect();
                if let Some((versions, in_log, inline)) = stored_index(&tree) {
                    keys.remove(&record_key(&name));
                    for v in versions {
                        let key = payload_key(&name, &v);
                        prop_assert!(keys.remove(&key), "step {n}: no key for {v}");
                        held.insert(v, tree[&key].clone());
                    }
                    for (v, pointer) in in_log {
                        let bytes = log.read(pointer).unwrap();
                        prop_assert!(held.insert(v, bytes).is_none(), "step {n}: stored twice");
                    }
                    if let Some((v, bytes)) = inline {
                        prop_assert!(held.insert(v, bytes).is_none(), "step {n}: stored twice");
                    }
                } else {
                    prop_assert!(step.is_none(), "step {n}: a write left no record");
                }
                prop_assert!(keys.is_empty(), "step {n}: keys left over: {keys:?}");
                prop_assert_eq!(&held, &model, "step {}", n);
            }
        }
    }
}
