//! The value log: payloads kept out of sled, in append-only segment files beside it.
//!
//! sled rewrites whole leaves of its tree — each holding many entries — when it splits and
//! cleans them, so every byte stored in it is written several times over (a 1.45 KB value
//! cost ~7.8 KB of sled's own writes, `docs/benchmarks.md`, fifteenth session). A payload is
//! written once, never changes, and is read whole: it needs none of that. So a journaled write
//! puts each new payload here instead, and the record's payload index holds a [`Pointer`] to
//! it (`docs/formats.md`, sled layout 4).
//!
//! # Durability
//!
//! The value log is never synced on the write path: a payload is part of the write's journal
//! frame (a *value* entry: its pointer and bytes), which is durable before anything is
//! applied; the payload is then written here, and only then is the record pointing to it
//! applied to sled. Replaying a frame writes its payloads again, at the same place. Before a
//! checkpoint discards frames, every segment written since the last one is synced (before
//! sled is flushed), so whatever sled holds durably points to durable payloads.
//!
//! # Garbage
//!
//! A payload becomes garbage when the last record pointing to it stops doing so (a version
//! evicted, a secret deleted or purged). [`crate::SledStorage::collect_garbage`] measures each
//! segment's live bytes with one scan of the records, moves the payloads out of the segments
//! that are less than half live (each move is a journaled write of the secret, like any
//! other), makes that durable with a checkpoint and deletes those segments. A journaled write
//! runs it by itself once the segments hold more than twice what the last collection found
//! live (and at least two segments' worth).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use secret_storage::StorageError;

use crate::error::io;

/// The value log's folder, inside the store's directory.
pub(crate) const DIR_NAME: &str = "values";

/// Where a payload is in the value log, and its checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pointer {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
    pub(crate) len: u32,
    /// CRC-32 (IEEE) of the payload's bytes.
    pub(crate) crc: u32,
}

impl Pointer {
    /// The encoded size: segment `u64`, offset `u64`, length `u32`, CRC `u32`, big-endian.
    pub(crate) const ENCODED_LEN: usize = 24;

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.segment.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.crc.to_be_bytes());
    }

    pub(crate) fn decode(bytes: &[u8; Self::ENCODED_LEN]) -> Self {
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8"));
        let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4"));
        Pointer {
            segment: u64_at(0),
            offset: u64_at(8),
            len: u32_at(16),
            crc: u32_at(20),
        }
    }
}

/// The value log of one open store.
pub(crate) struct ValueLog {
    dir: PathBuf,
    /// A segment is not appended to past this size (a payload larger than it gets a segment of
    /// its own).
    segment_bytes: u64,
    /// Every segment's number, and the files of some of them, open (at most [`MAX_OPEN`]:
    /// a store may hold more segments than the process may open files).
    files: RwLock<Files>,
    /// The segment new payloads go to, and where the next one starts in it.
    active: Mutex<Active>,
    /// Held shared by a reader from before it reads a record until it has read the payloads
    /// the record points to; a collection holds it exclusively while it deletes segments.
    pins: RwLock<()>,
    /// Segments written since they were last synced.
    dirty: Mutex<BTreeSet<u64>>,
    /// Set when a segment file is created; cleared once the folder is synced.
    created: AtomicBool,
    /// The bytes given out in every segment (the files' lengths, and what is reserved).
    total: AtomicU64,
    /// The log's size when the last collection ended (`meta/values`; 0 if none is recorded):
    /// a collection is due at twice this. Kept across processes, so that a store opened for
    /// one write at a time (the command line) collects too.
    baseline: AtomicU64,
    /// A collection is running.
    collecting: AtomicBool,
}

struct Active {
    segment: u64,
    tail: u64,
}

/// The segments there are, and the open files of some of them.
struct Files {
    known: BTreeSet<u64>,
    open: BTreeMap<u64, Arc<File>>,
}

/// The longest payload read without first checking the segment's length: a sealed secret
/// value (at most 30,720 bytes, SPEC) with its envelope is well under it.
const UNCHECKED_LEN: u32 = 1 << 20;

/// How many segment files stay open at most (a reader holding one keeps it open a moment
/// longer): a store may hold more segments than the process may open files.
const MAX_OPEN: usize = 32;

impl std::fmt::Debug for ValueLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueLog")
            .field("dir", &self.dir)
            .field("total", &self.total.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ValueLog {
    /// Opens the value log in `store_dir` (its folder is made when the first segment is), with
    /// every segment file there. New payloads go to the last segment until [`ValueLog::resume`]
    /// is called after the journal is replayed. Errors: `Backend` for I/O failures; `Corrupt`
    /// for a file in the folder that is not a segment.
    pub(crate) fn open(store_dir: &Path, segment_bytes: u64) -> Result<Self, StorageError> {
        let dir = store_dir.join(DIR_NAME);
        let mut known = BTreeSet::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|e| io("listing the value log", &e))?;
                    let name = entry.file_name();
                    let number = name
                        .to_str()
                        .filter(|n| n.len() == 16)
                        .and_then(|n| u64::from_str_radix(n, 16).ok())
                        .ok_or_else(|| {
                            StorageError::Corrupt(format!(
                                "unexpected file {:?} in the value log ({})",
                                name,
                                dir.display()
                            ))
                        })?;
                    known.insert(number);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("listing the value log", &e)),
        }
        let log = ValueLog {
            dir,
            segment_bytes: segment_bytes.max(1),
            files: RwLock::new(Files {
                known,
                open: BTreeMap::new(),
            }),
            active: Mutex::new(Active {
                segment: 0,
                tail: 0,
            }),
            pins: RwLock::new(()),
            dirty: Mutex::new(BTreeSet::new()),
            created: AtomicBool::new(false),
            total: AtomicU64::new(0),
            baseline: AtomicU64::new(0),
            collecting: AtomicBool::new(false),
        };
        log.resume()?;
        Ok(log)
    }

    /// Sets where new payloads go from the files as they are now: after the end of the last
    /// segment (or in a new one if it is full). Call once the journal is replayed, since
    /// replay may have written past what the files held.
    pub(crate) fn resume(&self) -> Result<(), StorageError> {
        let mut total = 0;
        let mut last = None;
        for (number, len) in self.segments()? {
            total += len;
            last = Some((number, len));
        }
        let mut active = self.lock_active();
        (active.segment, active.tail) = match last {
            Some((number, len)) if len < self.segment_bytes => (number, len),
            Some((number, _)) => (number + 1, 0),
            None => (1, 0),
        };
        self.total.store(total, Ordering::Relaxed);
        Ok(())
    }

    /// Reserves room for `bytes` and returns where they are to be written (with their CRC).
    pub(crate) fn reserve(&self, bytes: &[u8]) -> Pointer {
        let len = bytes.len() as u64;
        let (segment, offset) = {
            let mut active = self.lock_active();
            if active.tail > 0 && active.tail + len > self.segment_bytes {
                active.segment += 1;
                active.tail = 0;
            }
            let at = (active.segment, active.tail);
            active.tail += len;
            at
        };
        self.total.fetch_add(len, Ordering::Relaxed);
        Pointer {
            segment,
            offset,
            // A payload is at most a journal frame's body, which `Journal::append` keeps under
            // 1 GiB; a longer one is refused there before this pointer is written anywhere.
            len: u32::try_from(len).unwrap_or(u32::MAX),
            crc: crc32fast::hash(bytes),
        }
    }

    /// Writes `bytes` at `pointer` (creating its segment if needed). Not synced: see the
    /// module's docs. Errors: `Backend` for I/O failures.
    pub(crate) fn write(&self, pointer: Pointer, bytes: &[u8]) -> Result<(), StorageError> {
        let file = self
            .file(pointer.segment, true)?
            .ok_or_else(|| StorageError::Backend {
                message: "a value log segment vanished while it was being created".into(),
                retryable: false,
            })?;
        file.write_all_at(bytes, pointer.offset)
            .map_err(|e| io("writing to the value log", &e))?;
        self.dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pointer.segment);
        Ok(())
    }

    /// The payload at `pointer`. Errors: `Corrupt` if its segment is missing, too short, or
    /// the bytes there fail their CRC; `Backend` for other I/O failures.
    pub(crate) fn read(&self, pointer: Pointer) -> Result<Vec<u8>, StorageError> {
        let missing = || {
            StorageError::Corrupt(format!(
                "a record points to value log segment {:016x}, which is missing",
                pointer.segment
            ))
        };
        let file = self.file(pointer.segment, false)?.ok_or_else(missing)?;
        let short = || {
            StorageError::Corrupt(format!(
                "value log segment {:016x} ends before a payload a record points to",
                pointer.segment
            ))
        };
        // A damaged pointer may hold any offset and length. An end past what a file offset
        // can be is damage (`pread` would refuse it as an invalid argument); a length longer
        // than any payload is checked against the file before that much is allocated, and so
        // is an empty one (reading nothing would succeed at any offset, and nothing passes a
        // zero CRC); a payload's length is allocated and read at once, and a short read is
        // damage too. (Every payload is one sealed secret value: far below `UNCHECKED_LEN`.
        // Skipping the `fstat` for them spares a system call on every get.)
        let end = pointer
            .offset
            .checked_add(u64::from(pointer.len))
            .filter(|&end| i64::try_from(end).is_ok())
            .ok_or_else(short)?;
        if pointer.len > UNCHECKED_LEN || pointer.len == 0 {
            let len = file
                .metadata()
                .map_err(|e| io("reading a value log segment", &e))?
                .len();
            if end > len {
                return Err(short());
            }
        }
        let mut bytes = vec![0; pointer.len as usize];
        file.read_exact_at(&mut bytes, pointer.offset)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => short(),
                _ => io("reading the value log", &e),
            })?;
        if crc32fast::hash(&bytes) != pointer.crc {
            return Err(StorageError::Corrupt(format!(
                "a payload in value log segment {:016x} (at {}) fails its checksum",
                pointer.segment, pointer.offset
            )));
        }
        Ok(bytes)
    }

    /// Held while reading a record and then the payloads it points to: no segment is deleted
    /// meanwhile.
    pub(crate) fn pin(&self) -> RwLockReadGuard<'_, ()> {
        self.pins.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Syncs every segment written since the last sync (and the folder, if a segment was
    /// created). Errors: `Backend` for I/O failures.
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        let dirty = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(PoisonError::into_inner));
        let outcome = (|| {
            for &number in &dirty {
                if let Some(file) = self.file(number, false)? {
                    file.sync_data()
                        .map_err(|e| io("syncing the value log", &e))?;
                }
            }
            if self.created.swap(false, Ordering::AcqRel) {
                sync_folder(&self.dir).map_err(|e| {
                    self.created.store(true, Ordering::Release);
                    io("syncing the value log's folder", &e)
                })?;
            }
            Ok(())
        })();
        if outcome.is_err() {
            // Synced again next time.
            self.dirty
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(dirty);
        }
        outcome
    }

    /// Starts a new segment (unless the active one is empty) and returns its number: every
    /// payload reserved before is in a segment below it.
    pub(crate) fn roll(&self) -> u64 {
        let mut active = self.lock_active();
        if active.tail > 0 {
            active.segment += 1;
            active.tail = 0;
        }
        active.segment
    }

    /// The segment new payloads go to, and how far it is given out.
    pub(crate) fn active(&self) -> (u64, u64) {
        let active = self.lock_active();
        (active.segment, active.tail)
    }

    /// Every segment's number and length.
    pub(crate) fn segments(&self) -> Result<Vec<(u64, u64)>, StorageError> {
        let known: Vec<u64> = self.lock_files_read().known.iter().copied().collect();
        let mut segments = Vec::with_capacity(known.len());
        for number in known {
            match std::fs::metadata(self.dir.join(segment_name(number))) {
                Ok(meta) => segments.push((number, meta.len())),
                // Not created yet (room reserved, nothing written), or deleted meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("reading a value log segment", &e)),
            }
        }
        Ok(segments)
    }

    /// Deletes the segments `numbers`, waiting for every reader pinning the log. Call only
    /// once nothing durable (in sled or in the journal) points into them.
    pub(crate) fn delete(&self, numbers: &BTreeSet<u64>) -> Result<u64, StorageError> {
        let _no_reader = self.pins.write().unwrap_or_else(PoisonError::into_inner);
        let mut files = self.files.write().unwrap_or_else(PoisonError::into_inner);
        let mut freed = 0;
        for number in numbers {
            if !files.known.remove(number) {
                continue;
            }
            files.open.remove(number);
            let path = self.dir.join(segment_name(*number));
            freed += std::fs::metadata(&path).map_or(0, |m| m.len());
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("deleting a value log segment", &e)),
            }
        }
        drop(files);
        self.total
            .fetch_sub(freed.min(self.total()), Ordering::Relaxed);
        sync_folder(&self.dir).map_err(|e| io("syncing the value log's folder", &e))?;
        Ok(freed)
    }

    /// Deletes every segment and the value log's folder.
    pub(crate) fn remove_all(&self) -> Result<(), StorageError> {
        let all: BTreeSet<u64> = self.lock_files_read().known.clone();
        if !all.is_empty() {
            self.delete(&all)?;
        }
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => {
                sync_folder(self.store_dir()).map_err(|e| io("removing the value log's folder", &e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing the value log's folder", &e)),
        }
    }

    /// The store's directory, which holds the value log's folder.
    pub(crate) fn store_dir(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    /// The bytes given out in every segment.
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Whether a collection is due: the log holds more than twice its baseline, and more than
    /// two segments' worth.
    pub(crate) fn wants_collection(&self) -> bool {
        let total = self.total();
        total > 2 * self.segment_bytes
            && total > 2 * self.baseline.load(Ordering::Relaxed)
            && !self.collecting.load(Ordering::Relaxed)
    }

    /// Sets the log's size when the last collection ended: the next is due at twice this.
    pub(crate) fn set_baseline(&self, live: u64) {
        self.baseline.store(live, Ordering::Relaxed);
    }

    /// Marks a collection running; `false` if one already is.
    pub(crate) fn begin_collection(&self) -> bool {
        !self.collecting.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn end_collection(&self) {
        self.collecting.store(false, Ordering::Release);
    }

    /// The file of segment `number`, opened if it is not, created (mode 0600, like the
    /// journal) if `create` says so and it is not there; `None` if it is not there and not to
    /// be created. At most [`MAX_OPEN`] files stay open: opening one more closes the
    /// lowest-numbered other (new payloads go to the highest).
    fn file(&self, number: u64, create: bool) -> Result<Option<Arc<File>>, StorageError> {
        if let Some(file) = self.lock_files_read().open.get(&number) {
            return Ok(Some(Arc::clone(file)));
        }
        let mut files = self.files.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = files.open.get(&number) {
            return Ok(Some(Arc::clone(file)));
        }
        let known = files.known.contains(&number);
        if !known && !create {
            return Ok(None);
        }
        if !known {
            create_folder(&self.dir).map_err(|e| io("creating the value log's folder", &e))?;
        }
        let file = match open_segment(&self.dir.join(segment_name(number)), create) {
            Ok(file) => Arc::new(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("opening a value log segment", &e)),
        };
        if !known {
            files.known.insert(number);
            self.created.store(true, Ordering::Release);
        }
        if files.open.len() >= MAX_OPEN
            && let Some(&evicted) = files.open.keys().find(|&&other| other != number)
        {
            files.open.remove(&evicted);
        }
        files.open.insert(number, Arc::clone(&file));
        Ok(Some(file))
    }

    fn lock_files_read(&self) -> RwLockReadGuard<'_, Files> {
        self.files.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_active(&self) -> MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn segment_name(number: u64) -> String {
    format!("{number:016x}")
}

fn open_segment(path: &Path, create: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o600)
        .open(path)
}

/// Makes the value log's folder (mode 0700) and syncs its parent, the store's directory, if it
/// was not there.
fn create_folder(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => match dir.parent() {
            Some(parent) => sync_folder(parent),
            None => Ok(()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_folder(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
