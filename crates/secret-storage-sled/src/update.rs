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
/// The payload a `Write` puts last is stored inline, in the record's value, so that a create
/// writes one key; the payload it displaces from there moves to a key of its own. A payload
/// both put and deleted ends up without one. Errors: `NameMismatch` if a `Write`'s record
/// names another secret.
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
                if let Some((displaced, displaced_bytes)) = inline.take()
                    && displaced != id
                {
                    let key = payload_key(name, &displaced);
                    ops.push((key, Some(sled::IVec::from(&*displaced_bytes))));
                    versions.insert(displaced);
                }
                if versions.remove(&id) {
                    // Stored under a key of its own until now: the inline copy replaces it.
                    let key = payload_key(name, &id);
                    ops.retain(|(put, _)| *put != key);
                    removals.push((key, None));
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
