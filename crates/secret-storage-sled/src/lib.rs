//! The embedded default backend of the secrets store: [`SledStorage`], a [`Storage`] on a sled
//! database in one directory.
//!
//! - Every [`Storage::update`] changes a secret's record, payload index and payloads together
//!   or not at all, also across a crash, and is acknowledged only once it is on disk. A store
//!   opened with [`SledStorage::open`] writes through its *write journal*: the change is
//!   appended to a preallocated file, made durable by one `fdatasync` shared by every write
//!   that arrives meanwhile (group commit), and only then applied to sled; sled itself is
//!   flushed at checkpoints. Its payloads go to the *value log* (`values/` in the directory,
//!   append-only segments synced at checkpoints) rather than into sled, which would rewrite
//!   them with its tree's leaves; [`SledStorage::collect_garbage`] frees what deletes and
//!   evictions leave there, and writes run it by themselves as the log grows. A store made
//!   with [`SledStorage::from_db`] (or opened with [`SledOptions::journal`] off, which moves
//!   the value log's payloads back into sled) runs each update as a sled transaction followed
//!   by a sled flush, again shared by concurrent writers.
//! - [`Storage::snapshot`] reads a secret's record and payloads as of one instant, without
//!   blocking writers in the common case.
//! - The on-disk key layout is versioned (`meta/format`); a store written by a newer release
//!   with another layout is refused on open rather than misread, and one written in an older
//!   layout is upgraded on open (layouts 2 and 3 by their version number; layout 1
//!   crash-safely, a damaged one refused with its secrets and layout version unchanged).
//!
//! The layout is described in `docs/formats.md`.
//!
//! ```
//! use secret_storage::{Storage, Update, testkit::sample_record};
//! use secret_storage_sled::SledStorage;
//!
//! let dir = tempfile::tempdir()?;
//! let store = SledStorage::open(dir.path())?;
//! let record = sample_record("prod/db", &["v1"]);
//! store.update(&record.name, &mut |_| Update::Write {
//!     record: record.clone(),
//!     put_payloads: vec![(record.versions[0].version_id.clone(), b"envelope"[..].into())],
//!     delete_payloads: vec![],
//! })?;
//! drop(store);
//!
//! let reopened = SledStorage::open(dir.path())?;
//! assert_eq!(reopened.read(&record.name)?, Some(record));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod collect;
mod error;
mod group_commit;
mod integrity;
mod journal;
mod keys;
mod options;
mod snapshot;
mod update;
mod upgrade;
mod values;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use secret_model::{SecretName, VersionId};
use secret_storage::{SecretRecord, Snapshot, Storage, StorageError, decode_record_of};

pub use collect::GarbageReport;
pub use integrity::IntegrityReport;
pub use options::SledOptions;

use error::from_sled;
use group_commit::GroupCommit;
use keys::{LAYOUT_VERSION, META_FORMAT, META_JOURNAL, META_VALUES, RECORD_PREFIX};
use update::Journaled;
use values::ValueLog;

/// The name of the sled tree that holds the store.
const TREE_NAME: &[u8] = b"secrets";

/// A [`Storage`] kept in a sled database.
///
/// Cheap to clone (the clones share the database) and safe to share between threads. sled
/// locks its directory, so one process at a time opens a store.
///
/// Every method can fail with [`StorageError::Backend`] when sled does (I/O errors are
/// `retryable` only when transient), and with [`StorageError::Corrupt`] when a stored record,
/// payload index or key does not decode, or sled reports corruption.
#[derive(Clone)]
pub struct SledStorage {
    db: sled::Db,
    tree: sled::Tree,
    /// Shared by clones, so that their writes share flushes.
    write: Arc<WritePath>,
    /// Where journaled writes put payloads (`values/` beside sled's files); `None` for a store
    /// made with [`SledStorage::from_db`], which has no directory.
    values: Option<Arc<ValueLog>>,
}

/// How updates reach the disk.
enum WritePath {
    /// A sled transaction, then a sled flush shared by concurrent updates.
    Transactions(GroupCommit),
    /// The write journal, then a sled batch.
    Journal(Box<Journaled>),
}

impl fmt::Debug for SledStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStorage")
            .field("tree", &String::from_utf8_lossy(TREE_NAME))
            .field("layout", &LAYOUT_VERSION)
            .field("journal", &matches!(*self.write, WritePath::Journal(_)))
            .field("value_log", &self.values.is_some())
            .finish()
    }
}

impl SledStorage {
    /// Opens (creating if needed) the store in the directory `path` with the default
    /// [`SledOptions`], recovering from a crash if the last process died mid-write: the write
    /// journal (`secrets-journal` in that directory) is replayed into sled.
    ///
    /// Errors: `Backend` if sled cannot open the directory (`retryable` when another process
    /// holds it, and only then) or the journal cannot be read or written; `Corrupt` if the store's
    /// layout version or journal format is not one this release reads (a store written by a
    /// newer release is refused, never misread), the journal's header is damaged, or a store in
    /// the older layout 1 cannot be upgraded because a secret in it is damaged.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::open_with(path, SledOptions::default())
    }

    /// Opens (creating if needed) the store in the directory `path` with `options`.
    ///
    /// Errors: as for [`SledStorage::open`].
    pub fn open_with(path: impl AsRef<Path>, options: SledOptions) -> Result<Self, StorageError> {
        let path = path.as_ref();
        // A handle dropped a moment ago in this process may still hold the directory's lock
        // while sled's background thread winds down: wait a little for it, then give up with
        // the lock error (another process holding the store answers within LOCK_WAIT).
        let started = std::time::Instant::now();
        let db = loop {
            match options.sled_config().path(path).open() {
                Ok(db) => break db,
                Err(e) if is_lock_error(&e) && started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                // Held by another process, which may let go: worth trying again later.
                Err(e) if is_lock_error(&e) => {
                    return Err(StorageError::Backend {
                        message: format!(
                            "the sled store at {} is in use by another process: {e}",
                            path.display()
                        ),
                        retryable: true,
                    });
                }
                Err(e) => {
                    return Err(from_sled(
                        &format!("opening the sled store at {}", path.display()),
                        e,
                    ));
                }
            }
        };
        let tree = open_tree(&db)?;
        let layout = check_layout(&db, &tree)?;
        let marked = tree
            .get(META_JOURNAL)
            .map_err(|e| from_sled("reading the journal mark", e))?
            .is_some();
        let capacity = options.journal_capacity_bytes;
        let has_journal = path.join(journal::FILE_NAME).exists();
        let values = Arc::new(ValueLog::open(path, options.value_segment_bytes)?);
        let open_journal = || {
            let values = Some(Arc::clone(&values));
            journal::Journal::open(path, capacity, &db, &tree, marked, values)
        };
        let write = if options.journal {
            // Replays it, sets the mark and makes sled durable before any new frame.
            let (journal, _recovered) = open_journal()?;
            WritePath::Journal(Box::new(Journaled::new(journal)))
        } else {
            if has_journal || marked {
                // Replays it and makes sled durable; or, if the store is marked but has no
                // journal, refuses, saying why (the journal may have held acknowledged writes).
                open_journal()?;
            }
            // Everything is durable in sled now: fold the journal away, the mark first.
            if marked || has_journal {
                tree.remove(META_JOURNAL)
                    .map_err(|e| from_sled("removing the journal mark", e))?;
                journal::make_sled_durable(&db, path)?;
            }
            journal::remove(path)?;
            // Without the journal, writes go to sled alone: so do the payloads.
            collect::fold_into_sled(&db, &tree, &values)?;
            WritePath::Transactions(GroupCommit::new())
        };
        // Before any write, and with nothing in the journal (it was replayed, and a new epoch
        // begun, on a durable sled).
        finish_upgrade(layout, &tree, &|| journal::make_sled_durable(&db, path))?;
        // Replay may have written past what the segments held: new payloads go after it.
        values.resume()?;
        let collected = tree
            .get(META_VALUES)
            .map_err(|e| from_sled("reading the value log's size", e))?;
        if let Some(size) = collected.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok()) {
            values.set_baseline(u64::from_be_bytes(size));
        }
        let values = matches!(write, WritePath::Journal(_)).then_some(values);
        Ok(SledStorage {
            db,
            tree,
            write: Arc::new(write),
            values,
        })
    }

    /// Uses the `secrets` tree of an already open sled database, setting up an empty one.
    /// Updates run as sled transactions, each followed by a sled flush shared by concurrent
    /// updates (no write journal: a `sled::Db` does not say where its directory is).
    ///
    /// All access to that tree must go through `SledStorage` values: the layout is this
    /// crate's business. Clones share their flushes; values made by separate calls of this
    /// function on one database are correct together, but each flushes on its own.
    ///
    /// Errors: as for [`SledStorage::open`]; also `Backend` if the store was last opened with
    /// its write journal, which only [`SledStorage::open`] replays (open it once with
    /// [`SledOptions::journal`] off to fold the journal into sled).
    pub fn from_db(db: sled::Db) -> Result<Self, StorageError> {
        let tree = open_tree(&db)?;
        let layout = check_layout(&db, &tree)?;
        if tree
            .get(META_JOURNAL)
            .map_err(|e| from_sled("reading the journal mark", e))?
            .is_some()
        {
            return Err(StorageError::Backend {
                message: "the sled store was opened with its write journal, which only \
                          SledStorage::open replays; open it once with the journal off \
                          (SledOptions::journal) to fold the journal into sled"
                    .into(),
                retryable: false,
            });
        }
        finish_upgrade(layout, &tree, &|| flush(&db))?;
        Ok(SledStorage {
            db,
            tree,
            write: Arc::new(WritePath::Transactions(GroupCommit::new())),
            values: None,
        })
    }

    /// How many times the updates of this store and its clones have synced since it was opened:
    /// journal `fdatasync`s, or sled flushes without the journal (each at most one `fsync`). A
    /// diagnostic, for seeing how many writes share a sync; not counted: the syncs of opening
    /// the store and of journal checkpoints, and the check a `Keep` makes without the journal
    /// when no write is waiting for a flush.
    pub fn flush_count(&self) -> u64 {
        match &*self.write {
            WritePath::Transactions(group) => group.flushes(),
            WritePath::Journal(journaled) => journaled.journal.syncs(),
        }
    }

    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StorageError> {
        flush(&self.db)
    }
}

fn open_tree(db: &sled::Db) -> Result<sled::Tree, StorageError> {
    db.open_tree(TREE_NAME)
        .map_err(|e| from_sled("opening the secrets tree", e))
}

/// Makes everything written to `db` so far durable.
fn flush(db: &sled::Db) -> Result<(), StorageError> {
    db.flush()
        .map(|_| ())
        .map_err(|e| from_sled("flushing the sled store to disk", e))
}

/// Checks `meta/format`, writing it into a new, empty tree, and returns the layout version the
/// store has: [`LAYOUT_VERSION`], or 1 or 2, which [`finish_upgrade`] upgrades once the write
/// journal is replayed.
fn check_layout(db: &sled::Db, tree: &sled::Tree) -> Result<u32, StorageError> {
    let ours = LAYOUT_VERSION.to_be_bytes();
    let stored = tree
        .get(META_FORMAT)
        .map_err(|e| from_sled("reading the layout version", e))?;
    let Some(stored) = stored else {
        if !tree.is_empty() {
            return Err(StorageError::Corrupt(
                "the sled store holds data but no layout version (meta/format)".into(),
            ));
        }
        // Two openers racing on an empty tree both write the same value: harmless.
        tree.insert(META_FORMAT, &ours[..])
            .map_err(|e| from_sled("writing the layout version", e))?;
        flush(db)?;
        return Ok(LAYOUT_VERSION);
    };
    let found = <[u8; 4]>::try_from(stored.as_ref())
        .map(u32::from_be_bytes)
        .map_err(|_| {
            StorageError::Corrupt(format!(
                "the layout version (meta/format) is {} bytes long, not 4",
                stored.len()
            ))
        })?;
    if (1..=LAYOUT_VERSION).contains(&found) {
        Ok(found)
    } else if found > LAYOUT_VERSION {
        Err(StorageError::Corrupt(format!(
            "the sled store has layout version {found}, written by a newer release; \
             this release reads layout versions 1 to {LAYOUT_VERSION} only"
        )))
    } else {
        Err(StorageError::Corrupt(format!(
            "the sled store has unknown layout version {found}"
        )))
    }
}

/// Finishes the store's upgrade to [`LAYOUT_VERSION`] (see [`upgrade`]). If `meta/format` said
/// 1: checks every layout-1 secret (a damaged store is refused, no secret changed). If it said
/// 1 or 2: sets `meta/format` to [`LAYOUT_VERSION`] and calls `make_durable`, before changing
/// any secret (a layout-2 value is a layout-3 value without an inline payload, so a layout-2
/// store needs nothing more).
/// Then, whatever the version, folds any layout-1 index left (by this upgrade, or by one a
/// crash interrupted) into its record, and calls `make_durable` if it folded any. Call after
/// the write journal (whose frames hold keys of the store's own layout) is replayed, and
/// before any write.
fn finish_upgrade(
    found: u32,
    tree: &sled::Tree,
    make_durable: &dyn Fn() -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    if found != LAYOUT_VERSION {
        if found == 1 {
            upgrade::check_layout_1(tree)?;
        }
        tree.insert(META_FORMAT, &LAYOUT_VERSION.to_be_bytes()[..])
            .map_err(|e| from_sled("writing the layout version", e))?;
        make_durable()?;
    }
    if upgrade::fold_layout_1(tree)? > 0 {
        make_durable()?;
    }
    Ok(())
}

impl SledStorage {
    /// The secret's view lock (shared) when writes go through the journal: held while reading,
    /// so that a journaled write, applied key by key, is seen whole or not at all.
    ///
    /// Errors: `Backend` if a journaled write could not be fully applied to sled (the store
    /// serves nothing more until it is reopened).
    fn view(
        &self,
        name: &SecretName,
    ) -> Result<Option<std::sync::RwLockReadGuard<'_, ()>>, StorageError> {
        let view = match &*self.write {
            WritePath::Journal(journaled) => Some(journaled.view(name)),
            WritePath::Transactions(_) => None,
        };
        // After taking the lock: a writer whose apply fails marks the store before it lets go
        // of the lock, so a reader that waited for it sees the mark.
        self.check_readable()?;
        Ok(view)
    }

    /// The payload at `pointer` in the value log. Errors: `Corrupt` if it is not there whole
    /// (or this store, made with [`SledStorage::from_db`], has no value log to read it from).
    pub(crate) fn read_logged(&self, pointer: values::Pointer) -> Result<Vec<u8>, StorageError> {
        match self.values.as_deref() {
            Some(values) => values.read(pointer),
            None => Err(StorageError::Corrupt(
                "a record points to a payload in the value log, which only a store opened with \
                 SledStorage::open reads (not one made with SledStorage::from_db)"
                    .into(),
            )),
        }
    }

    /// Errors: as for [`SledStorage::view`].
    pub(crate) fn check_readable(&self) -> Result<(), StorageError> {
        match &*self.write {
            WritePath::Journal(journaled) => journaled.journal.check_readable(),
            WritePath::Transactions(_) => Ok(()),
        }
    }
}

/// Decodes the record stored under the record key of `name`.
/// Errors: `Corrupt` if it does not decode or names another secret.
pub(crate) fn decode_stored(name: &SecretName, bytes: &[u8]) -> Result<SecretRecord, StorageError> {
    let (_index, record) = keys::split_stored(name, bytes)?;
    decode_record_of(name, record)
}

/// Decodes the payload index and the record stored under the record key of `name`.
/// Errors: `Corrupt` if either does not decode, or the record names another secret.
pub(crate) fn decode_stored_with_index<'b>(
    name: &SecretName,
    bytes: &'b [u8],
) -> Result<(keys::PayloadIndex<'b>, SecretRecord), StorageError> {
    let (index, record) = keys::split_stored(name, bytes)?;
    Ok((index, decode_record_of(name, record)?))
}

impl Storage for SledStorage {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        let _view = self.view(name)?;
        let bytes = self
            .tree
            .get(keys::record_key(name))
            .map_err(|e| from_sled("reading a record", e))?;
        bytes.map(|b| decode_stored(name, &b)).transpose()
    }

    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.check_readable()?;
        // No value log segment is deleted until the payload is read.
        let _pinned = self.values.as_deref().map(ValueLog::pin);
        // The record first: it says where the payload is (usually in the value log), or holds
        // it inline. A payload never moves back inline, so one the index says has a key of its
        // own is there unless a write removes it after this read (the caller then reads the
        // record again); one in the value log stays where the record read says until no
        // reader is between the two.
        let Some(stored) = self
            .tree
            .get(keys::record_key(name))
            .map_err(|e| from_sled("reading a record", e))?
        else {
            return Ok(None);
        };
        let (index, _record) = keys::split_stored(name, &stored)?;
        if let Some((id, bytes)) = &index.inline
            && id == version_id
        {
            return Ok(Some(bytes.to_vec()));
        }
        if let Some(pointer) = index.logged.get(version_id) {
            return self.read_logged(*pointer).map(Some);
        }
        if !index.versions.contains(version_id) {
            return Ok(None);
        }
        let bytes = self
            .tree
            .get(keys::payload_key(name, version_id))
            .map_err(|e| from_sled("reading a payload", e))?;
        Ok(bytes.map(|b| b.to_vec()))
    }

    /// With the write journal: reads the record, payload index and payloads holding the
    /// secret's view lock, which journaled writes of it hold exclusively while they apply.
    ///
    /// Without: reads them with plain reads, then checks that the index's write stamp is
    /// unchanged (no write slipped in between); after a few failed tries under heavy writing
    /// it reads in a transaction instead, which blocks writers.
    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        // With the journal, the view lock keeps writes of this secret out: the first
        // optimistic read succeeds.
        let _view = self.view(name)?;
        let _pinned = self.values.as_deref().map(ValueLog::pin);
        snapshot::snapshot(self, name)
    }

    /// With the write journal: under the secret's lock, reads the record and payload index,
    /// calls `f` once, appends what it decides to the journal, waits until the journal is
    /// durable up to it (one `fdatasync` shared with every write appended meanwhile), then
    /// applies it to sled key by key under the secret's view lock, which readers of its several
    /// keys take shared (the argument is in `src/journal.rs`). Readers see only
    /// durable writes, so a `Keep` returns at once.
    ///
    /// Without it: one sled transaction reads the record and payload index, calls `f` (again
    /// if sled retries the transaction) and writes what it decides; then the update waits for
    /// a flush that started after the commit, shared with the updates that commit at about the
    /// same time (group commit; the ordering argument is in `src/group_commit.rs`). A `Keep`
    /// also waits until what `f` saw is durable, so the caller never acts on a write that a
    /// crash could still undo. That costs no flush when no write is waiting for one: sled's
    /// flush returns at once when its log is already on disk.
    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> secret_storage::Update<'a>,
    ) -> Result<(), StorageError> {
        let group = match &*self.write {
            WritePath::Journal(journaled) => {
                return update::journaled(self, journaled, name, f);
            }
            WritePath::Transactions(group) => group,
        };
        let pending = group.pending();
        let ticket = {
            let _gate = group.enter();
            update::update(self, name, f, &pending)?;
            if !pending.is_marked() && !group.any_unsettled() {
                None
            } else {
                // Inside the gate, so the flush this waits for starts after the commit.
                Some(group.register())
            }
        };
        let Some(ticket) = ticket else {
            // A `Keep`, and every write this store's clones made is durable or failed. A write
            // made through another `SledStorage` of the same database is not counted here:
            // sled's own flush covers it, and is a no-op when there is none.
            return self.flush();
        };
        group
            .wait_durable(ticket, || self.db.flush().map(|_bytes| ()))
            .map_err(|e| from_sled("flushing the sled store to disk", e))
    }

    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        self.check_readable()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = after.map_or_else(|| RECORD_PREFIX.to_vec(), keys::record_key_after);
        let mut out = Vec::new();
        for entry in self.tree.range(start..) {
            let (key, value) = entry.map_err(|e| from_sled("listing records", e))?;
            if !key.starts_with(RECORD_PREFIX) {
                break;
            }
            let name = keys::name_in_key(RECORD_PREFIX, &key)?;
            out.push(decode_stored(&name, &value)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// [`SledStorage::collect_garbage`]: frees the value log's segments that are mostly
    /// garbage (the payloads of deleted secrets and of versions gone). Nothing on a store
    /// without a value log.
    fn reclaim_space(&self) -> Result<(), StorageError> {
        self.collect_garbage().map(drop)
    }
}

/// How long [`SledStorage::open`] waits for a directory lock that may be about to be released.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether sled refused to open because another handle holds the directory's lock.
fn is_lock_error(e: &sled::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use secret_storage::encode_record;
    use secret_storage::testkit::sample_record;

    use super::*;
    use crate::keys::LEGACY_INDEX_PREFIX;

    fn layout_1_tree(db: &sled::Db) -> sled::Tree {
        let tree = open_tree(db).unwrap();
        tree.insert(META_FORMAT, &1u32.to_be_bytes()[..]).unwrap();
        for (stamp, name) in [(1u64, "a"), (2, "b")] {
            let record = sample_record(name, &["v1"]);
            let mut index = stamp.to_be_bytes().to_vec();
            index.extend_from_slice(b"v1\0");
            tree.insert(format!("i/{name}"), index).unwrap();
            tree.insert(format!("r/{name}"), encode_record(&record))
                .unwrap();
        }
        tree
    }

    fn format(tree: &sled::Tree) -> u32 {
        u32::from_be_bytes(
            tree.get(META_FORMAT).unwrap().unwrap()[..]
                .try_into()
                .unwrap(),
        )
    }

    #[test]
    fn the_new_layout_version_is_durable_before_any_secret_changes() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = layout_1_tree(&db);
        // What the store held at each make_durable call: (meta/format, layout-1 indexes left).
        let seen = RefCell::new(Vec::new());
        finish_upgrade(1, &tree, &|| {
            seen.borrow_mut()
                .push((format(&tree), tree.scan_prefix(LEGACY_INDEX_PREFIX).count()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen.into_inner(),
            [(LAYOUT_VERSION, 2), (LAYOUT_VERSION, 0)]
        );
    }

    #[test]
    fn a_layout_2_store_without_leftovers_is_not_touched() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = open_tree(&db).unwrap();
        tree.insert(META_FORMAT, &LAYOUT_VERSION.to_be_bytes()[..])
            .unwrap();
        let record = sample_record("a", &["v1"]);
        let stored = keys::encode_stored(&keys::PayloadIndex::default(), &encode_record(&record));
        tree.insert(keys::record_key(&record.name), stored).unwrap();
        let before: Vec<_> = tree.iter().map(Result::unwrap).collect();
        let calls = RefCell::new(0);
        finish_upgrade(LAYOUT_VERSION, &tree, &|| {
            *calls.borrow_mut() += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(calls.into_inner(), 0);
        assert_eq!(tree.iter().map(Result::unwrap).collect::<Vec<_>>(), before);
    }
}
