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
use crate::journal::{Journal, Op};
use crate::keys::{PayloadIndex, encode_stored, payload_key, record_key};
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
            for (key, value) in plan(name, decision, index, stamp).or_else(abort)? {
                match value {
                    Some(value) => tx.insert(key, value)?,
                    None => tx.remove(key)?,
                };
            }
            Ok(())
        })
        .map_err(|e| from_transaction("updating a secret", e))
}

/// The keys `decision` (a `Write` or a `Delete`) changes, with their new values (`None`:
/// removed), given the secret's current payload index and, for a `Write`, the new index's
/// stamp. Both write paths apply exactly these; the order is the one the journaled path
/// applies them in (see [`journaled`]): payloads stored under keys of their own, the record
/// (with its payload index and inline payload), then removed payloads — a deleted secret's
/// record first.
///
/// A new payload a `Write` puts is stored inline, in the record's value, so that a create
/// writes one key; the payload it displaces from there moves to a key of its own. A payload
/// that already has a key of its own is overwritten there: a payload never moves back inline,
/// so a reader that read the record before this write still finds it. A payload both put and
/// deleted ends up without one. Errors: `NameMismatch` if a `Write`'s record names another
/// secret.
fn plan(
    name: &SecretName,
    decision: Update<'_>,
    index: PayloadIndex<'_>,
    stamp: u64,
) -> Result<Vec<Op>, StorageError> {
    match decision.for_secret(name)? {
        Update::Keep => Ok(Vec::new()),
        Update::Delete => {
            // The record's removal takes the inline payload with it.
            let mut ops: Vec<Op> = vec![(record_key(name), None)];
            ops.extend(
                index
                    .versions
                    .iter()
                    .map(|id| (payload_key(name, id), None)),
            );
            Ok(ops)
        }
        Update::Write {
            record,
            put_payloads,
            delete_payloads,
        } => {
            let PayloadIndex {
                mut versions,
                inline,
                ..
            } = index;
            let mut inline: Option<(VersionId, Cow<'_, [u8]>)> =
                inline.map(|(id, bytes)| (id, Cow::Borrowed(bytes)));
            let mut ops = Vec::with_capacity(put_payloads.len() + delete_payloads.len() + 2);
            let mut removals = Vec::with_capacity(delete_payloads.len());
            for (id, bytes) in put_payloads {
                if versions.contains(&id) {
                    // Stored under a key of its own: overwritten there, never moved back
                    // inline (a reader that read the old record still finds it there).
                    let key = payload_key(name, &id);
                    ops.retain(|(put, _)| *put != key);
                    ops.push((key, Some(sled::IVec::from(&*bytes))));
                    continue;
                }
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
                if versions.remove(&id) {
                    let key = payload_key(name, &id);
                    ops.retain(|(put, _)| *put != key);
                    removals.push((key, None));
                }
            }
            let index = PayloadIndex {
                stamp,
                versions,
                inline: inline.as_ref().map(|(id, bytes)| (id.clone(), &**bytes)),
            };
            let stored = encode_stored(&index, &encode_record(&record));
            ops.push((record_key(name), Some(stored.into())));
            ops.extend(removals);
            Ok(ops)
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
/// Keys are applied in the order the ops list them: new payloads before the record that lists
/// them, removed payloads after the record that no longer does (a deleted secret's record
/// first); so a reader of single keys without the view lock never reads a record listing a
/// payload this write has not stored yet. (One that read the record *before* this write may
/// still find a payload the write removed gone, as on the transaction path.)
pub(crate) fn journaled<'a>(
    store: &SledStorage,
    journaled: &Journaled,
    name: &SecretName,
    f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
) -> Result<(), StorageError> {
    let _writing = journaled.write_lock(name);
    // A write that could not be fully applied leaves sled torn in this process: `f` must not
    // decide on it, not even to keep it.
    journaled.journal.check_readable()?;
    // Only writers change the secret's keys, and this one holds its write lock: a plain read.
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
    let ops = plan(name, decision, index, stamp)?;
    let journal = &journaled.journal;
    {
        let _inside = journal.enter();
        let end = journal.append(&ops)?;
        journal.wait_durable(end)?;
        let _applying = journaled.view_exclusive(name);
        for (key, value) in ops {
            let applied = match value {
                Some(value) => store.tree.insert(key, value),
                None => store.tree.remove(key),
            };
            if let Err(e) = applied {
                // The frame is durable but sled now holds part of it: take no more writes
                // (reopening replays the frame whole).
                let error = from_sled("applying a journaled write to sled", e);
                journal.fail_apply(&error);
                return Err(error);
            }
        }
    }
    if journal.wants_checkpoint() {
        // This write is durable and applied whatever happens here; a failed checkpoint stops
        // the journal, and the next write reports why.
        let _ = journal.checkpoint(&store.db);
    }
    Ok(())
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

    /// A payload index, owned: the ids with a key of their own, and the inline payload.
    type StoredIndex = (BTreeSet<VersionId>, Option<(VersionId, Vec<u8>)>);

    fn id(i: u8) -> VersionId {
        version_id(&format!("v{i}"))
    }

    /// The bytes step puts as payload `v{i}`: `byte`, repeated (a length that tells ids apart).
    fn bytes(i: u8, byte: u8) -> Vec<u8> {
        vec![byte; 1 + usize::from(i)]
    }

    /// The payload index stored in `tree` for secret `s`, as owned ids: those with a key of
    /// their own, and the inline one.
    fn stored_index(tree: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<StoredIndex> {
        let name = secret_name("s");
        let stored = tree.get(&record_key(&name))?;
        let (index, _) = split_stored(&name, stored).unwrap();
        let inline = index.inline.map(|(id, bytes)| (id, bytes.to_vec()));
        Some((index.versions, inline))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any sequence of updates, applied op by op as both write paths apply them, keeps
        /// exactly the payloads the `Update` contract says, each under the one key the index
        /// names, with no key left over; and at every point in between, every payload key a
        /// record stored during the update lists is present unless the update deletes that
        /// payload and its record has already changed (so a reader of single keys without a
        /// lock, holding a record read before or during the update, never misses a payload
        /// that still exists, nor one that the record it holds still lists).
        #[test]
        fn plans_keep_exactly_the_payloads_the_contract_says(steps in prop::collection::vec(step(), 1..24)) {
            let name = secret_name("s");
            let mut tree: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut model: BTreeMap<VersionId, Vec<u8>> = BTreeMap::new();
            for (n, step) in steps.into_iter().enumerate() {
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
                    stored_index(&tree).map(|(versions, _)| versions).unwrap_or_default();
                let ops = plan(&name, decision, index, n as u64 + 1).unwrap();
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
                    listed.extend(stored_index(&tree).map(|(versions, _)| versions).unwrap_or_default());
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
                if let Some((versions, inline)) = stored_index(&tree) {
                    keys.remove(&record_key(&name));
                    for v in versions {
                        let key = payload_key(&name, &v);
                        prop_assert!(keys.remove(&key), "step {n}: no key for {v}");
                        held.insert(v, tree[&key].clone());
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
