//! The write journal: a write-ahead log of our own in front of sled, so that a durable write
//! costs one small `fdatasync` of a preallocated file, shared by every writer that arrives
//! meanwhile, instead of a sled flush.
//!
//! # The rule
//!
//! An update's changes (every key it sets or removes, with the new values: after-images) are
//! appended to the journal as one frame, and the frame is made durable (`fdatasync`) **before**
//! anything is applied to sled. Only then are the keys applied to sled, one plain insert or
//! remove each (a sled batch would make sled write and sync its log for every update), under
//! the secret's view lock, which readers of several keys take shared; then the caller is
//! acknowledged. So everything sled holds that has not been made durable in sled's own files is
//! in a durable frame, and everything a reader can see in sled is durable.
//!
//! # Recovery
//!
//! On open, every valid frame of the current epoch is applied to sled again, in order (each as
//! one sled batch), then sled is made durable and a new epoch begins. After a crash, sled may
//! have kept any subset of the keys applied since the epoch began; the frames hold every one
//! of them, and the epoch began on a sled made durable (flushed, and its files `fsync`ed: every
//! open and every checkpoint does that before starting an epoch). Replaying the frames in order
//! sets each key they touch to its last value, whatever sled kept: the writes of one secret are
//! journaled and applied in one order (an update holds the secret's write lock from its read
//! until it has applied), and writes of different secrets touch different keys. Replaying a
//! frame that sled already holds writes the same values again.
//!
//! # Checkpoints and epochs
//!
//! When the frames reach the journal's capacity, a checkpoint waits until no update is between
//! its append and its apply, flushes sled and `fsync`s sled's files (sled's own flush uses
//! `sync_file_range`, which does not reach the device; after the `fsync`s everything in the
//! journal is as durable in sled), and starts a new epoch: it writes the next epoch, with a
//! fresh random salt, into the header slot not holding the current one and syncs it. Frames
//! carry their epoch and a sequence number, and their CRC covers the salt, so the frames of an
//! earlier epoch still in the file are never read as current ones. Every open also starts a
//! new epoch, so a torn frame left by a crash is never followed by new frames of its epoch.
//!
//! # Group commit
//!
//! A frame is appended to memory. The first writer to wait finds no sync running and leads
//! one: it takes every frame appended so far, writes them with one `pwrite`, `fdatasync`s, and
//! publishes how far the journal is durable. Writers that append meanwhile wait for the next
//! sync, which one of them leads when this one ends. A waiting writer parks on a waiter of its
//! own, listed with the sync that covers it; the leader wakes each one it covered with the
//! outcome, so that they return without queueing for the journal's lock again (with 32
//! writers on two cores, that queue cost more than the wake-ups themselves).
//!
//! # Format (journal format 2, which also replays format 1; also in `docs/formats.md`)
//!
//! All integers big-endian. The file `secrets-journal` in the store's directory:
//!
//! - Two header slots, at offsets 0 and 512, each: magic `SSJRNL\0\x01` (8 bytes), format `u32`,
//!   epoch `u64`, salt `u64` (random, new with each epoch), CRC-32 (IEEE) of those 28 bytes.
//!   The valid slot with the higher epoch is current; epoch `e` is written into slot `e % 2`,
//!   so a torn header write leaves the other. The salt keeps bytes an earlier epoch left in the
//!   file (some chosen by callers: descriptions, tags) from ever passing for a frame.
//! - Frames from offset 4096: body length `u32`, CRC-32 of (salt, length, epoch, sequence, body),
//!   epoch `u64`, sequence `u64` (0 for the first frame of an epoch), body. The body: operation
//!   count `u32`, then for each, tag `u8` (1: set, 0: remove), key length `u32`, key, and for a
//!   set, value length `u32` and value; then (format 2; a format-1 body ends before it) a
//!   payload count `u32`, then for each its 24-byte value-log pointer and its bytes.
//! - Replay stops at the first frame that is short, has another epoch or sequence, or fails its
//!   CRC: a frame is acknowledged only after an `fdatasync` that covers it and every frame
//!   before it, so nothing after a torn frame was ever acknowledged.
//!
//! The file is created at its capacity (header slot 0 at epoch 0 with salt 0, zeros elsewhere)
//! and synced, under a temporary name, then renamed into place: later frames overwrite written
//! blocks, and an `fdatasync` of them has no file metadata to write. Frames past the capacity
//! (a checkpoint is due) extend it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::thread::Thread;

use secret_storage::StorageError;

use crate::error::{from_sled, io};
use crate::keys::META_JOURNAL;
use crate::values::{Pointer, ValueLog};

/// The journal's file name, in the store's directory.
pub(crate) const FILE_NAME: &str = "secrets-journal";
/// Where a new journal is prepared before it is renamed into place.
const NEW_FILE_NAME: &str = "secrets-journal.new";
/// The journal format this release writes: 2, whose frames end with the payloads the write
/// puts in the value log. It also replays format 1 (frames without that section).
pub(crate) const FORMAT: u32 = 2;
const MAGIC: &[u8; 8] = b"SSJRNL\0\x01";
const SLOT_SIZE: u64 = 512;
/// A header slot: magic, format, epoch, salt, CRC.
const SLOT_LEN: usize = 8 + 4 + 8 + 8 + 4;
/// Where a slot's CRC starts.
const SLOT_CRC: usize = SLOT_LEN - 4;
/// Where the first frame starts.
pub(crate) const DATA_START: u64 = 4096;
/// A frame's header: length, CRC, epoch, sequence.
const FRAME_HEADER: usize = 4 + 4 + 8 + 8;
/// The largest frame body replay believes; a longer length is damage.
const MAX_BODY: u64 = 1 << 30;

/// One change to sled: a key and its new value, or `None` to remove it. The value is already
/// in sled's own form, so applying it copies nothing.
pub(crate) type Op = (Vec<u8>, Option<sled::IVec>);

/// A payload a write puts in the value log, and where.
pub(crate) type Value = (Pointer, sled::IVec);

/// The write journal of one open store.
pub(crate) struct Journal {
    file: File,
    /// The store's directory: sled's files are synced from here at checkpoints.
    dir: PathBuf,
    /// When the frames reach this offset, a checkpoint is due.
    capacity: u64,
    state: Mutex<State>,
    /// Held shared by an update from before its append until after its apply; a checkpoint
    /// holds it exclusively.
    gate: RwLock<()>,
    syncs: AtomicU64,
    checkpointing: AtomicBool,
    /// Set by the append that takes the frames to the capacity; cleared by a new epoch. Read
    /// after every write without taking the state lock.
    checkpoint_due: AtomicBool,
    /// Set when a durable frame could not be fully applied to sled: this process's sled may
    /// hold part of a write, so reads fail too until the store is reopened (which replays it).
    torn: AtomicBool,
    /// Where frames' payloads go (replayed into it; synced before sled at checkpoints).
    values: Option<Arc<ValueLog>>,
}

struct State {
    epoch: u64,
    /// The epoch's random salt, mixed into every frame's CRC.
    salt: u64,
    next_seq: u64,
    /// The end of the last frame appended.
    end: u64,
    /// Frames appended but not yet written to the file; they start at `end - buffer.len()`.
    /// The sync leader writes them (one `pwrite` for the group) before it syncs.
    buffer: Vec<u8>,
    /// An empty buffer to swap in, so that the two are reused.
    spare: Vec<u8>,
    /// Frames up to here are durable.
    durable: u64,
    /// A sync is running (its leader does not hold the lock while it runs), up to here.
    syncing: Option<u64>,
    /// Writers waiting for the running sync, which covers their frames.
    covered: Vec<Arc<Waiter>>,
    /// Writers waiting for a sync after the running one (their frames came after its start).
    /// The next sync to start covers every one of them.
    later: Vec<Arc<Waiter>>,
    /// Set by the first write, sync or checkpoint failure; the journal takes no more writes.
    broken: Option<String>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// What opening a journal found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// How many frames were applied to sled again.
    pub(crate) frames: u64,
}

impl Journal {
    /// Opens the journal in `dir` (creating it at `capacity` bytes if there is none), applies
    /// its current frames to `tree`, sets the journal mark (`meta/journal`) if `marked` says it
    /// is not set, makes sled durable (flush, then `fsync` of its files) and starts a new epoch.
    /// So every epoch starts on a durable sled, and the mark is durable before any frame is
    /// written.
    ///
    /// Errors: `Backend` for I/O failures; `Corrupt` if the file exists but has no valid
    /// header, comes from a newer release, or holds a frame that passes its CRC but does not
    /// decode, or if the store is marked but the journal is missing (it may have held
    /// acknowledged writes).
    pub(crate) fn open(
        dir: &Path,
        capacity: u64,
        db: &sled::Db,
        tree: &sled::Tree,
        marked: bool,
        values: Option<Arc<ValueLog>>,
    ) -> Result<(Journal, Recovered), StorageError> {
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            if marked {
                return Err(missing());
            }
            create(dir, capacity)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io("opening the write journal", &e))?;
        let (epoch, salt, format) = read_header(&file)?;
        let frames = replay(&file, epoch, salt, format, tree, values.as_deref())?;
        if !marked {
            tree.insert(META_JOURNAL, &b"1"[..])
                .map_err(|e| from_sled("writing the journal mark", e))?;
        }
        make_durable(values.as_deref(), db, dir)?;
        let journal = Journal {
            file,
            dir: dir.to_owned(),
            capacity: capacity.max(DATA_START),
            state: Mutex::new(State {
                epoch,
                salt,
                next_seq: 0,
                end: DATA_START,
                buffer: Vec::new(),
                spare: Vec::new(),
                durable: DATA_START,
                syncing: None,
                covered: Vec::new(),
                later: Vec::new(),
                broken: None,
            }),
            gate: RwLock::new(()),
            syncs: AtomicU64::new(0),
            checkpointing: AtomicBool::new(false),
            checkpoint_due: AtomicBool::new(false),
            torn: AtomicBool::new(false),
            values,
        };
        journal.start_epoch(&mut journal.lock())?;
        Ok((journal, Recovered { frames }))
    }

    /// Enter before appending and stay until the frame is applied to sled: a checkpoint waits
    /// for everyone inside.
    pub(crate) fn enter(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one frame holding `ops` and the payloads `values` puts in the value log (to
    /// memory: the next sync writes it) and returns its end, to wait for with
    /// [`Journal::wait_durable`]. Call inside [`Journal::enter`].
    ///
    /// Errors: `Backend` if the journal failed before.
    pub(crate) fn append(&self, ops: &[Op], values: &[Value]) -> Result<u64, StorageError> {
        // Refused before anything is buffered: replay stops at a longer body, and would drop
        // it and every frame after it.
        let body_len = frame_body_len(ops, values);
        if body_len > MAX_BODY {
            return Err(StorageError::Backend {
                message: format!(
                    "a write of {body_len} bytes is larger than the write journal takes \
                     ({MAX_BODY} bytes); nothing was written"
                ),
                retryable: false,
            });
        }
        let mut state = self.lock();
        state.check()?;
        let (epoch, salt, seq) = (state.epoch, state.salt, state.next_seq);
        let start = state.buffer.len();
        encode_frame(&mut state.buffer, ops, values, epoch, salt, seq);
        let len = (state.buffer.len() - start) as u64;
        state.next_seq += 1;
        state.end += len;
        if state.end >= self.capacity {
            self.checkpoint_due.store(true, Ordering::Relaxed);
        }
        Ok(state.end)
    }

    /// Returns once the journal is durable up to `end`: leads a sync if none is running (every
    /// frame written by then shares it), or waits for the one running and then, if that did not
    /// cover `end`, for the next.
    ///
    /// A waiter parks on a [`Waiter`] of its own, listed with the sync that will cover it. When
    /// a sync ends, its leader wakes each writer it covered with the outcome, so they return
    /// without taking the state lock again, and one writer waiting for a later sync, to lead it
    /// — or, when the journal is broken and no later sync will run, every such writer.
    ///
    /// Errors: `Backend` if writing the frames or the sync fails (the journal then takes no
    /// more writes: after a failed `fdatasync` the file's contents are unknown).
    pub(crate) fn wait_durable(&self, end: u64) -> Result<(), StorageError> {
        let mut state = self.lock();
        loop {
            if state.durable >= end {
                return Ok(());
            }
            if let Err(e) = state.check() {
                // This writer may have been woken to lead the next sync, and none will run
                // now: every writer waiting for one must hear of the failure.
                let later = std::mem::take(&mut state.later);
                drop(state);
                for waiter in later {
                    waiter.wake(Waiter::LOOK_AGAIN);
                }
                return Err(e);
            }
            if let Some(target) = state.syncing {
                let me = Arc::new(Waiter::current());
                if end <= target {
                    state.covered.push(Arc::clone(&me));
                } else {
                    state.later.push(Arc::clone(&me));
                }
                drop(state);
                if me.wait() == Waiter::DURABLE {
                    return Ok(());
                }
                // Woken to lead the next sync, or because the journal failed: look again.
                state = self.lock();
                continue;
            }
            let target = state.end;
            state.syncing = Some(target);
            // Every writer waiting for a later sync appended before it registered, so this
            // sync covers it.
            debug_assert!(state.covered.is_empty(), "the last sync woke its writers");
            state.covered = std::mem::take(&mut state.later);
            let spare = std::mem::take(&mut state.spare);
            let mut frames = std::mem::replace(&mut state.buffer, spare);
            drop(state);
            // Only one leader at a time, so groups are written in order.
            let at = target - frames.len() as u64;
            let outcome = self
                .file
                .write_all_at(&frames, at)
                .map_err(|e| io("writing to the write journal", &e))
                .and_then(|()| {
                    self.syncs.fetch_add(1, Ordering::Relaxed);
                    self.file
                        .sync_data()
                        .map_err(|e| io("syncing the write journal", &e))
                });
            frames.clear();
            state = self.lock();
            state.spare = frames;
            state.syncing = None;
            let covered = std::mem::take(&mut state.covered);
            let signal = match outcome {
                Ok(()) => {
                    state.durable = state.durable.max(target);
                    Waiter::DURABLE
                }
                Err(e) => {
                    state.broken.get_or_insert_with(|| e.to_string());
                    Waiter::LOOK_AGAIN
                }
            };
            // One writer waiting for the next sync leads it; the others wait on. If the
            // journal broke, by this sync or anything else (`fail_apply`), no next sync will
            // run: every one of them is told.
            let to_wake_next: Vec<_> = if state.broken.is_some() {
                std::mem::take(&mut state.later)
            } else {
                state.later.pop().into_iter().collect()
            };
            // The leader's own frame was appended before it took `target`, so it is covered:
            // durable, or failed with the sync.
            let verdict = if signal == Waiter::DURABLE {
                Ok(())
            } else {
                state.check()
            };
            drop(state);
            for waiter in to_wake_next {
                waiter.wake(Waiter::LOOK_AGAIN);
            }
            for waiter in covered {
                waiter.wake(signal);
            }
            return verdict;
        }
    }

    /// Stops the journal taking writes, and the store serving reads: a frame is durable but
    /// could not be fully applied to sled, so this process's sled may hold part of a write.
    /// Reopening the store replays the frame whole.
    pub(crate) fn fail_apply(&self, why: &StorageError) {
        self.torn.store(true, Ordering::SeqCst);
        self.lock().broken.get_or_insert_with(|| why.to_string());
    }

    /// Errors: `Backend` if a write could not be fully applied to sled ([`Journal::fail_apply`]):
    /// what sled holds in this process may be half a write.
    pub(crate) fn check_readable(&self) -> Result<(), StorageError> {
        if self.torn.load(Ordering::SeqCst) {
            return Err(StorageError::Backend {
                message: "a write could not be fully applied to sled, so this store serves \
                          nothing until it is reopened (which replays the write from its journal)"
                    .into(),
                retryable: false,
            });
        }
        Ok(())
    }

    /// Whether the frames have reached the capacity, so a checkpoint is due.
    pub(crate) fn wants_checkpoint(&self) -> bool {
        self.checkpoint_due.load(Ordering::Relaxed)
    }

    /// Flushes sled and starts a new epoch, emptying the journal. Call outside
    /// [`Journal::enter`]; returns at once if another checkpoint is running.
    ///
    /// Errors: `Backend` if sled's flush or the header write fails; the journal then takes no
    /// more writes (what it holds is still replayed on the next open).
    pub(crate) fn checkpoint(&self, db: &sled::Db) -> Result<(), StorageError> {
        self.try_checkpoint(db).unwrap_or(Ok(()))
    }

    /// Runs a checkpoint that begins now, waiting for one already running to end first:
    /// afterwards, no frame appended before the call is replayed again, and what it applied is
    /// durable in sled. Call outside [`Journal::enter`]. Errors: as for
    /// [`Journal::checkpoint`].
    pub(crate) fn checkpoint_now(&self, db: &sled::Db) -> Result<(), StorageError> {
        loop {
            if let Some(outcome) = self.try_checkpoint(db) {
                return outcome;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Runs `f` with no update between its append and its apply, and none starting.
    pub(crate) fn everyone_out<T>(&self, f: impl FnOnce() -> T) -> T {
        let _everyone_out = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        f()
    }

    /// A checkpoint, or `None` if another is running.
    fn try_checkpoint(&self, db: &sled::Db) -> Option<Result<(), StorageError>> {
        if self.checkpointing.swap(true, Ordering::AcqRel) {
            return None;
        }
        let outcome = {
            let _everyone_out = self.gate.write().unwrap_or_else(PoisonError::into_inner);
            let mut state = self.lock();
            let outcome = state
                .check()
                .and_then(|()| make_durable(self.values.as_deref(), db, &self.dir))
                .and_then(|()| self.start_epoch(&mut state));
            if let Err(e) = &outcome {
                state.broken.get_or_insert_with(|| e.to_string());
            }
            outcome
        };
        self.checkpointing.store(false, Ordering::Release);
        Some(outcome)
    }

    /// How many times the journal has been synced for writers since the store was opened.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Writes and syncs the header of the next epoch, with a fresh salt, and resets the frames
    /// to start after it. Call with no frame waiting to be written.
    fn start_epoch(&self, state: &mut State) -> Result<(), StorageError> {
        debug_assert!(state.buffer.is_empty(), "no frame is waiting to be written");
        let epoch = state.epoch + 1;
        let salt = fresh_salt()?;
        self.file
            .write_all_at(&header_slot(epoch, salt), slot_offset(epoch))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io("starting a new epoch of the write journal", &e))?;
        state.epoch = epoch;
        state.salt = salt;
        state.next_seq = 0;
        state.end = DATA_START;
        state.durable = DATA_START;
        self.checkpoint_due.store(false, Ordering::Relaxed);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, and the state is valid between statements.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One writer parked until a sync wakes it ([`Journal::wait_durable`]). Whoever takes a
/// waiter out of the state's lists wakes it exactly once, so a waiter is never left listed
/// after it returns.
struct Waiter {
    thread: Thread,
    /// 0 until woken; then [`Waiter::DURABLE`] or [`Waiter::LOOK_AGAIN`].
    signal: AtomicU8,
}

impl Waiter {
    /// The sync that covered this writer's frame completed: it is durable.
    const DURABLE: u8 = 1;
    /// Take the state lock and look again: lead the next sync, or report a failure.
    const LOOK_AGAIN: u8 = 2;

    fn current() -> Self {
        Waiter {
            thread: std::thread::current(),
            signal: AtomicU8::new(0),
        }
    }

    /// Parks until woken; returns the signal.
    fn wait(&self) -> u8 {
        loop {
            // Acquire: pairs with `wake`'s release, so the state the waker published is seen.
            match self.signal.load(Ordering::Acquire) {
                0 => std::thread::park(),
                signal => return signal,
            }
        }
    }

    fn wake(&self, signal: u8) {
        self.signal.store(signal, Ordering::Release);
        self.thread.unpark();
    }
}

impl State {
    fn check(&self) -> Result<(), StorageError> {
        match &self.broken {
            None => Ok(()),
            Some(why) => Err(StorageError::Backend {
                message: format!(
                    "the write journal failed earlier and takes no more writes until the store \
                     is reopened (which replays it): {why}"
                ),
                retryable: false,
            }),
        }
    }
}

fn crc(parts: &[&[u8]]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize()
}

fn slot_offset(epoch: u64) -> u64 {
    (epoch % 2) * SLOT_SIZE
}

fn header_slot(epoch: u64, salt: u64) -> [u8; SLOT_LEN] {
    let mut slot = [0; SLOT_LEN];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..12].copy_from_slice(&FORMAT.to_be_bytes());
    slot[12..20].copy_from_slice(&epoch.to_be_bytes());
    slot[20..28].copy_from_slice(&salt.to_be_bytes());
    let sum = crc(&[&slot[..SLOT_CRC]]);
    slot[SLOT_CRC..].copy_from_slice(&sum.to_be_bytes());
    slot
}

/// A random salt for a new epoch: a frame's CRC covers it, so bytes left in the file by an
/// earlier epoch — some of them chosen by callers, such as descriptions — can never pass for a
/// frame of this one.
fn fresh_salt() -> Result<u64, StorageError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StorageError::Backend {
            message: "the operating system's random number generator failed".into(),
            retryable: true,
        })?;
    Ok(u64::from_be_bytes(bytes))
}

fn missing() -> StorageError {
    damaged(
        "is missing, but the store is marked as written through it (meta/journal): its last \
         frames may hold acknowledged writes; put it back from where it went (a backup), or \
         remove the mark knowing those writes are lost",
    )
}

/// Makes a new journal of `capacity` bytes: header slot 0 at epoch 0, zeros elsewhere.
fn create(dir: &Path, capacity: u64) -> Result<(), StorageError> {
    let context = "creating the write journal";
    let temp = dir.join(NEW_FILE_NAME);
    // Readable by the owner only, like the keyring: frames hold records in the clear (names,
    // descriptions, tags) beside the encrypted values.
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
    }
    .map_err(|e| io(context, &e))?;
    let zeros = vec![0; 1 << 20];
    let mut left = capacity.max(DATA_START);
    let write = |file: &mut File, left: &mut u64| -> std::io::Result<()> {
        let mut first = [0; DATA_START as usize];
        first[..SLOT_LEN].copy_from_slice(&header_slot(0, 0));
        file.write_all(&first)?;
        *left -= DATA_START;
        while *left > 0 {
            let n = (*left).min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            *left -= n as u64;
        }
        file.sync_all()
    };
    write(&mut file, &mut left).map_err(|e| io(context, &e))?;
    drop(file);
    std::fs::rename(&temp, dir.join(FILE_NAME)).map_err(|e| io(context, &e))?;
    // The store's folder too, and its entry in its parent: a new store's folder is made by
    // sled, which never syncs it.
    // (A parent this process may not read is left to the filesystem.)
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(context, &e))?;
    let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    match File::open(parent).and_then(|p| p.sync_all()) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        other => other.map_err(|e| io(context, &e)),
    }
}

/// Syncs the value log, if any, then makes sled durable ([`make_sled_durable`]): so whatever
/// sled holds durably points to durable payloads.
fn make_durable(values: Option<&ValueLog>, db: &sled::Db, dir: &Path) -> Result<(), StorageError> {
    if let Some(values) = values {
        values.sync()?;
    }
    make_sled_durable(db, dir)
}

/// Flushes sled and `fsync`s its files: everything applied to it so far is then as durable as
/// a synced frame.
///
/// sled's own flush on Linux writes its log with `sync_file_range`, which neither flushes the
/// device's write cache nor the file's metadata; before frames are discarded, what they hold
/// must be in sled's files as durably as the frames were in the journal. Every file of sled's
/// in `dir` (and in its `blobs` folder) is `fsync`ed, then the folders; a file sled removes
/// meanwhile (its garbage collection of blobs) is skipped.
pub(crate) fn make_sled_durable(db: &sled::Db, dir: &Path) -> Result<(), StorageError> {
    fn sync_folder(folder: &Path) -> std::io::Result<()> {
        for entry in std::fs::read_dir(folder)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == FILE_NAME || name == NEW_FILE_NAME {
                continue;
            }
            let synced = entry.file_type().and_then(|kind| {
                if kind.is_file() {
                    File::open(entry.path())?.sync_all()
                } else {
                    Ok(())
                }
            });
            match synced {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        File::open(folder)?.sync_all()
    }
    db.flush()
        .map_err(|e| from_sled("flushing sled before emptying the write journal", e))?;
    let blobs = dir.join("blobs");
    let synced = sync_folder(dir).and_then(|()| {
        if blobs.is_dir() {
            sync_folder(&blobs)
        } else {
            Ok(())
        }
    });
    synced.map_err(|e| io("syncing sled's files before emptying the write journal", &e))
}

/// Removes the journal file of the store in `dir`, if there is one. Call only once everything
/// it holds is durable in sled.
pub(crate) fn remove(dir: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(dir.join(FILE_NAME)) {
        Ok(()) => File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("removing the write journal", &e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("removing the write journal", &e)),
    }
}

/// The current epoch, its salt and its frames' format: those of the valid header slot with the
/// higher epoch.
fn read_header(file: &File) -> Result<(u64, u64, u32), StorageError> {
    let mut head = [0; 2 * SLOT_SIZE as usize];
    file.read_exact_at(&mut head, 0).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            damaged("is shorter than its header")
        } else {
            io("reading the write journal's header", &e)
        }
    })?;
    let mut best: Option<(u64, u64, u32)> = None;
    for slot in [&head[..SLOT_LEN], &head[SLOT_SIZE as usize..][..SLOT_LEN]] {
        if &slot[..8] != MAGIC || crc(&[&slot[..SLOT_CRC]]).to_be_bytes() != slot[SLOT_CRC..] {
            continue;
        }
        let format = u32::from_be_bytes(slot[8..12].try_into().expect("4 bytes"));
        if !(1..=FORMAT).contains(&format) {
            return Err(StorageError::Corrupt(format!(
                "the write journal ({FILE_NAME}) has format {format}; this release reads formats \
                 1 to {FORMAT} only"
            )));
        }
        let epoch = u64::from_be_bytes(slot[12..20].try_into().expect("8 bytes"));
        let salt = u64::from_be_bytes(slot[20..28].try_into().expect("8 bytes"));
        if best.is_none_or(|(b, _, _)| epoch > b) {
            best = Some((epoch, salt, format));
        }
    }
    best.ok_or_else(|| damaged("has no valid header"))
}

fn damaged(what: &str) -> StorageError {
    StorageError::Corrupt(format!("the write journal ({FILE_NAME}) {what}"))
}

/// The length of the body [`encode_frame`] writes for `ops` and `values`: the ops' count,
/// then each op's tag, key and value with their lengths; then the values' count, then each
/// value's pointer (segment, offset, length, CRC) and bytes.
fn frame_body_len(ops: &[Op], values: &[Value]) -> u64 {
    let ops_len = ops
        .iter()
        .map(|(k, v)| (1 + 4 + k.len() + v.as_ref().map_or(0, |v| 4 + v.len())) as u64)
        .sum::<u64>();
    let values_len = values
        .iter()
        .map(|(_, bytes)| (Pointer::ENCODED_LEN + bytes.len()) as u64)
        .sum::<u64>();
    4 + ops_len + 4 + values_len
}

/// Appends to `out` the frame of `ops` and `values`, with its header. The body must be at most
/// [`MAX_BODY`] bytes (so every length fits its 32 bits): [`Journal::append`] checks.
fn encode_frame(out: &mut Vec<u8>, ops: &[Op], values: &[Value], epoch: u64, salt: u64, seq: u64) {
    let start = out.len();
    let size = usize::try_from(frame_body_len(ops, values)).unwrap_or(usize::MAX);
    out.reserve(FRAME_HEADER + size);
    out.resize(start + FRAME_HEADER, 0);
    out.extend_from_slice(&len32(ops.len()).to_be_bytes());
    for (key, value) in ops {
        out.push(u8::from(value.is_some()));
        out.extend_from_slice(&len32(key.len()).to_be_bytes());
        out.extend_from_slice(key);
        if let Some(value) = value {
            out.extend_from_slice(&len32(value.len()).to_be_bytes());
            out.extend_from_slice(value);
        }
    }
    out.extend_from_slice(&len32(values.len()).to_be_bytes());
    for (pointer, bytes) in values {
        debug_assert_eq!(pointer.len as usize, bytes.len());
        pointer.encode(out);
        out.extend_from_slice(bytes);
    }
    let frame = &mut out[start..];
    let body_len = frame.len() - FRAME_HEADER;
    frame[0..4].copy_from_slice(&len32(body_len).to_be_bytes());
    frame[8..16].copy_from_slice(&epoch.to_be_bytes());
    frame[16..24].copy_from_slice(&seq.to_be_bytes());
    let sum = crc(&[&salt.to_be_bytes(), &frame[0..4], &frame[8..]]);
    frame[4..8].copy_from_slice(&sum.to_be_bytes());
}

fn len32(n: usize) -> u32 {
    // Every length is within a body of at most MAX_BODY (1 GiB), checked by `append`.
    u32::try_from(n).expect("a journal field is shorter than 4 GiB")
}

/// Applies every valid frame of `epoch` (in `format`) to `tree`, in order, each one's payloads
/// written to the value log first; returns how many.
fn replay(
    file: &File,
    epoch: u64,
    salt: u64,
    format: u32,
    tree: &sled::Tree,
    values: Option<&ValueLog>,
) -> Result<u64, StorageError> {
    let len = file
        .metadata()
        .map_err(|e| io("reading the write journal", &e))?
        .len();
    let mut at = DATA_START;
    let mut seq = 0;
    let mut body = Vec::new();
    loop {
        let mut head = [0; FRAME_HEADER];
        if at + FRAME_HEADER as u64 > len {
            break;
        }
        file.read_exact_at(&mut head, at)
            .map_err(|e| io("reading the write journal", &e))?;
        let body_len = u64::from(u32::from_be_bytes(head[0..4].try_into().expect("4")));
        let frame_epoch = u64::from_be_bytes(head[8..16].try_into().expect("8"));
        let frame_seq = u64::from_be_bytes(head[16..24].try_into().expect("8"));
        let end = at + FRAME_HEADER as u64 + body_len;
        if body_len == 0
            || body_len > MAX_BODY
            || end > len
            || frame_epoch != epoch
            || frame_seq != seq
        {
            break;
        }
        body.resize(body_len as usize, 0);
        file.read_exact_at(&mut body, at + FRAME_HEADER as u64)
            .map_err(|e| io("reading the write journal", &e))?;
        let salt = salt.to_be_bytes();
        if crc(&[&salt, &head[0..4], &head[8..], &body]).to_be_bytes() != head[4..8] {
            break;
        }
        let (batch, payloads) = decode_body(&body, format).ok_or_else(|| {
            damaged(&format!(
                "holds frame {seq} of epoch {epoch}, which passes its checksum but does not \
                 decode"
            ))
        })?;
        if !payloads.is_empty() {
            let values = values.ok_or_else(|| {
                damaged(&format!(
                    "holds frame {seq} of epoch {epoch}, whose payloads go to a value log this \
                     store was opened without"
                ))
            })?;
            for (pointer, bytes) in payloads {
                values.write(pointer, bytes)?;
            }
        }
        tree.apply_batch(batch)
            .map_err(|e| from_sled("applying the write journal to sled", e))?;
        at = end;
        seq += 1;
    }
    Ok(seq)
}

/// A frame body's payloads for the value log, with their pointers.
type Payloads<'b> = Vec<(Pointer, &'b [u8])>;

/// The sled batch and the value-log payloads a frame body of `format` describes, or `None` if
/// it is malformed (a payload whose length or CRC disagrees with its pointer included).
fn decode_body(mut body: &[u8], format: u32) -> Option<(sled::Batch, Payloads<'_>)> {
    fn take<'b>(body: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (head, rest) = body.split_at_checked(n)?;
        *body = rest;
        Some(head)
    }
    fn take_len(body: &mut &[u8]) -> Option<usize> {
        let bytes = take(body, 4)?;
        usize::try_from(u32::from_be_bytes(bytes.try_into().ok()?)).ok()
    }
    let count = take_len(&mut body)?;
    let mut batch = sled::Batch::default();
    for _ in 0..count {
        let tag = take(&mut body, 1)?[0];
        let key_len = take_len(&mut body)?;
        let key = take(&mut body, key_len)?;
        match tag {
            0 => batch.remove(key),
            1 => {
                let value_len = take_len(&mut body)?;
                batch.insert(key, take(&mut body, value_len)?);
            }
            _ => return None,
        }
    }
    let mut payloads = Vec::new();
    if format >= 2 {
        let count = take_len(&mut body)?;
        for _ in 0..count {
            let pointer = take(&mut body, Pointer::ENCODED_LEN)?;
            let pointer = Pointer::decode(pointer.try_into().ok()?);
            let bytes = take(&mut body, usize::try_from(pointer.len).ok()?)?;
            if crc32fast::hash(bytes) != pointer.crc {
                return None;
            }
            payloads.push((pointer, bytes));
        }
    }
    body.is_empty().then_some((batch, payloads))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<Op> {
        vec![
            (b"r/a".to_vec(), Some(b"record".to_vec().into())),
            (b"p/a\0v1".to_vec(), Some(vec![7; 1024].into())),
            (b"p/a\0v0".to_vec(), None),
        ]
    }

    fn epoch_and_salt(journal: &Journal) -> (u64, u64) {
        let state = journal.lock();
        (state.epoch, state.salt)
    }

    fn temp_db(dir: &Path) -> (sled::Db, sled::Tree) {
        let db = sled::Config::new().path(dir.join("db")).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        (db, tree)
    }

    #[test]
    fn frame_bodies_round_trip_and_malformed_ones_are_refused() {
        let mut frame = Vec::new();
        encode_frame(&mut frame, &ops(), &[], 1, 0x5a17, 0);
        let body = &frame[FRAME_HEADER..];
        assert!(decode_body(body, FORMAT).is_some());
        for cut in 0..body.len() {
            assert!(decode_body(&body[..cut], FORMAT).is_none(), "cut at {cut}");
        }
        let mut longer = body.to_vec();
        longer.push(0);
        assert!(decode_body(&longer, FORMAT).is_none());
        let mut bad_tag = body.to_vec();
        bad_tag[4] = 2;
        assert!(decode_body(&bad_tag, FORMAT).is_none());
    }

    /// A frame carries the payloads its write puts in the value log, each with its pointer;
    /// one whose bytes disagree with the pointer's CRC or length is damage. A body of format 1
    /// (no payload section) is read as format 1 only.
    #[test]
    fn frames_carry_payloads_for_the_value_log() {
        let bytes = b"payload bytes".to_vec();
        let pointer = Pointer {
            segment: 3,
            offset: 40,
            len: bytes.len() as u32,
            crc: crc32fast::hash(&bytes),
        };
        let mut frame = Vec::new();
        encode_frame(
            &mut frame,
            &ops(),
            &[(pointer, bytes.clone().into())],
            1,
            2,
            0,
        );
        let body = &frame[FRAME_HEADER..];
        assert_eq!(
            frame_body_len(&ops(), &[(pointer, bytes.clone().into())]),
            body.len() as u64
        );
        let (_, payloads) = decode_body(body, FORMAT).unwrap();
        assert_eq!(payloads, vec![(pointer, &bytes[..])]);
        let mut flipped = body.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode_body(&flipped, FORMAT).is_none());
        for cut in body.len() - bytes.len() - Pointer::ENCODED_LEN..body.len() {
            assert!(decode_body(&body[..cut], FORMAT).is_none(), "cut at {cut}");
        }
        let mut plain = Vec::new();
        encode_frame(&mut plain, &ops(), &[], 1, 2, 0);
        // Without its (empty) payload count: what format 1 wrote.
        let format_1 = &plain[FRAME_HEADER..plain.len() - 4];
        let (_, none) = decode_body(format_1, 1).unwrap();
        assert!(none.is_empty());
        assert!(decode_body(format_1, FORMAT).is_none());
    }

    #[test]
    fn header_slots_pick_the_higher_valid_epoch() {
        let dir = tempfile::tempdir().unwrap();
        create(dir.path(), DATA_START).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.path().join(FILE_NAME))
            .unwrap();
        assert_eq!(read_header(&file).unwrap(), (0, 0, FORMAT));
        file.write_all_at(&header_slot(7, 70), slot_offset(7))
            .unwrap();
        assert_eq!(read_header(&file).unwrap(), (7, 70, FORMAT));
        // A torn write of epoch 8 (slot 0) leaves epoch 7.
        let mut torn = header_slot(8, 80);
        torn[15] ^= 1;
        file.write_all_at(&torn, slot_offset(8)).unwrap();
        assert_eq!(read_header(&file).unwrap(), (7, 70, FORMAT));
        file.write_all_at(&[0; SLOT_LEN], slot_offset(7)).unwrap();
        assert!(
            matches!(read_header(&file), Err(StorageError::Corrupt(m)) if m.contains("no valid header"))
        );
        // Format 1 (an earlier release's journal) is read, its frames without payloads.
        let mut older = header_slot(9, 90);
        older[8..12].copy_from_slice(&1u32.to_be_bytes());
        let sum = crc(&[&older[..SLOT_CRC]]);
        older[SLOT_CRC..].copy_from_slice(&sum.to_be_bytes());
        file.write_all_at(&older, slot_offset(9)).unwrap();
        assert_eq!(read_header(&file).unwrap(), (9, 90, 1));
        let mut newer = header_slot(10, 100);
        newer[8..12].copy_from_slice(&3u32.to_be_bytes());
        let sum = crc(&[&newer[..SLOT_CRC]]);
        newer[SLOT_CRC..].copy_from_slice(&sum.to_be_bytes());
        file.write_all_at(&newer, slot_offset(10)).unwrap();
        assert!(
            matches!(read_header(&file), Err(StorageError::Corrupt(m)) if m.contains("format 3"))
        );
    }

    /// A frame replay would not believe (a body over `MAX_BODY`) is refused before it is
    /// written, so it can never be acknowledged and then dropped on open with every frame
    /// after it; the journal takes writes after it as before.
    #[test]
    fn a_frame_larger_than_replay_takes_is_refused_and_the_journal_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, _) = Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
        let inside = journal.enter();
        // Zeroed allocations are not touched until written: this costs no memory.
        let huge = vec![0u8; MAX_BODY as usize];
        let refused = journal.append(&[(huge, None)], &[]);
        assert!(
            matches!(&refused, Err(StorageError::Backend { retryable: false, message })
                if message.contains("larger than the write journal takes")),
            "{refused:?}"
        );
        let end = journal.append(&ops(), &[]).unwrap();
        journal.wait_durable(end).unwrap();
        drop(inside);
        drop(journal);
        let (_journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
        assert_eq!(recovered.frames, 1);
    }

    #[test]
    fn frame_body_len_is_what_encode_frame_writes() {
        let mut frame = Vec::new();
        encode_frame(&mut frame, &ops(), &[], 1, 2, 3);
        assert_eq!(
            frame_body_len(&ops(), &[]),
            (frame.len() - FRAME_HEADER) as u64
        );
        assert_eq!(frame_body_len(&[], &[]), 8);
    }

    #[test]
    fn frames_written_but_not_applied_are_replayed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
        assert_eq!(recovered.frames, 0);
        let inside = journal.enter();
        journal.append(&ops(), &[]).unwrap();
        let end = journal
            .append(&[(b"r/a".to_vec(), Some(b"newer".to_vec().into()))], &[])
            .unwrap();
        journal.wait_durable(end).unwrap();
        drop(inside);
        drop(journal);
        // Nothing was applied; reopening applies both frames, in order.
        let (_journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
        assert_eq!(recovered.frames, 2);
        assert_eq!(tree.get(b"r/a").unwrap().unwrap(), &b"newer"[..]);
        assert_eq!(tree.get(b"p/a\0v1").unwrap().unwrap(), &[7; 1024][..]);
        drop(_journal);
        // The open started a new epoch: the same frames are not replayed again.
        tree.insert(b"r/a", b"later").unwrap();
        let (_journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
        assert_eq!(recovered.frames, 0);
        assert_eq!(tree.get(b"r/a").unwrap().unwrap(), &b"later"[..]);
    }

    #[test]
    fn replay_stops_at_the_first_damaged_frame() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, _) = Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
        let ends: Vec<u64> = (0..3u8)
            .map(|i| {
                journal
                    .append(&[(vec![b'k', i], Some(vec![i; 10].into()))], &[])
                    .unwrap()
            })
            .collect();
        journal.wait_durable(ends[2]).unwrap();
        // Flip a byte in the second frame's body.
        let mut byte = [0];
        journal.file.read_exact_at(&mut byte, ends[1] - 1).unwrap();
        journal
            .file
            .write_all_at(&[byte[0] ^ 0x40], ends[1] - 1)
            .unwrap();
        drop(journal);
        let (_journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
        assert_eq!(recovered.frames, 1);
        assert!(tree.get(b"k\0").unwrap().is_some());
        assert!(tree.get(b"k\x01").unwrap().is_none());
        assert!(tree.get(b"k\x02").unwrap().is_none());
    }

    #[test]
    fn a_checkpoint_empties_the_journal_and_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, _) =
            Journal::open(dir.path(), DATA_START + 100, &db, &tree, false, None).unwrap();
        assert!(!journal.wants_checkpoint());
        let end = journal.append(&ops(), &[]).unwrap();
        journal.wait_durable(end).unwrap();
        assert!(journal.wants_checkpoint());
        // What the frame says reaches sled before the checkpoint, as an update would do it.
        tree.insert(b"r/a", b"record").unwrap();
        journal.checkpoint(&db).unwrap();
        assert!(!journal.wants_checkpoint());
        let end = journal
            .append(&[(b"r/b".to_vec(), Some(b"b".to_vec().into()))], &[])
            .unwrap();
        assert_eq!(
            end,
            DATA_START + (FRAME_HEADER + 4 + 1 + 4 + 3 + 4 + 1 + 4) as u64
        );
        journal.wait_durable(end).unwrap();
        drop(journal);
        let (_journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
        assert_eq!(recovered.frames, 1, "only the frame after the checkpoint");
        assert_eq!(tree.get(b"r/b").unwrap().unwrap(), &b"b"[..]);
    }

    #[test]
    fn a_new_journal_is_created_at_its_capacity_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let _ = Journal::open(dir.path(), 1 << 20, &db, &tree, false, None).unwrap();
        let meta = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(meta.len(), 1 << 20);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(!dir.path().join(NEW_FILE_NAME).exists());
    }

    #[test]
    fn a_marked_store_without_its_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let error = Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap_err();
        assert!(
            matches!(&error, StorageError::Corrupt(m) if m.contains("is missing")),
            "{error:?}"
        );
    }

    #[test]
    fn a_frame_under_another_salt_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, _) = Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
        let (epoch, salt) = epoch_and_salt(&journal);
        // Right epoch and sequence, as bytes an earlier epoch left there might be: but not
        // this epoch's salt.
        let mut forged = Vec::new();
        encode_frame(&mut forged, &ops(), &[], epoch, salt ^ 1, 0);
        journal.file.write_all_at(&forged, DATA_START).unwrap();
        journal.file.sync_data().unwrap();
        drop(journal);
        let (_journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
        assert_eq!(recovered.frames, 0);
        assert!(tree.get(b"r/a").unwrap().is_none());
        // The same bytes under the right salt would have been replayed.
        let mut genuine = Vec::new();
        encode_frame(&mut genuine, &ops(), &[], epoch, salt, 0);
        assert_ne!(genuine, forged);
    }

    #[test]
    fn a_failed_apply_stops_writes_and_reads_until_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, _) = Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
        journal.check_readable().unwrap();
        journal.fail_apply(&StorageError::Backend {
            message: "disk gone".into(),
            retryable: false,
        });
        for error in [
            journal.check_readable().unwrap_err(),
            journal.append(&ops(), &[]).unwrap_err(),
        ] {
            assert!(
                matches!(
                    &error,
                    StorageError::Backend {
                        retryable: false,
                        ..
                    }
                ),
                "{error:?}"
            );
        }
        assert!(
            journal
                .append(&ops(), &[])
                .unwrap_err()
                .to_string()
                .contains("disk gone")
        );
        drop(journal);
        let (journal, _) = Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
        journal.check_readable().unwrap();
    }

    /// Runs `threads` writers appending and waiting `each` times; every wait's result, and
    /// whether the journal was durable past its frame when the wait returned. Aborts the test
    /// process if they have not all returned within a minute (a writer left parked).
    fn concurrent_waits(
        journal: &Journal,
        threads: usize,
        each: usize,
    ) -> Vec<Result<bool, StorageError>> {
        let (done, results) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let done = done.clone();
                s.spawn(move || {
                    for _ in 0..each {
                        let _inside = journal.enter();
                        let outcome = journal.append(&ops(), &[]).and_then(|end| {
                            journal.wait_durable(end)?;
                            Ok(journal.lock().durable >= end)
                        });
                        done.send(outcome).unwrap();
                    }
                });
            }
            drop(done);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut all = Vec::new();
            while all.len() < threads * each {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match results.recv_timeout(left) {
                    Ok(outcome) => all.push(outcome),
                    Err(_) => {
                        // A panic would wait for the parked writers at the end of the scope.
                        eprintln!(
                            "{} of {} waits never returned: a writer was left parked",
                            threads * each - all.len(),
                            threads * each
                        );
                        std::process::abort();
                    }
                }
            }
            all
        })
    }

    #[test]
    fn concurrent_writers_each_return_once_their_frame_is_durable_sharing_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, _) = Journal::open(dir.path(), 64 << 20, &db, &tree, false, None).unwrap();
        let outcomes = concurrent_waits(&journal, 16, 100);
        assert!(
            outcomes.iter().all(|o| matches!(o, Ok(true))),
            "{outcomes:?}"
        );
        let syncs = journal.syncs();
        assert!(
            syncs < 1600,
            "1,600 writes took {syncs} syncs: none was shared"
        );
        // Writers that each write once: no later write comes to lead a sync for one left
        // waiting, so a sync must hand on to a writer it did not cover.
        for _ in 0..50 {
            let outcomes = concurrent_waits(&journal, 16, 1);
            assert!(
                outcomes.iter().all(|o| matches!(o, Ok(true))),
                "{outcomes:?}"
            );
        }
        // And every frame is in the file: reopening replays all of them.
        drop(journal);
        let (_, recovered) = Journal::open(dir.path(), 64 << 20, &db, &tree, true, None).unwrap();
        assert_eq!(recovered.frames, 1600 + 50 * 16);
    }

    #[test]
    fn a_failed_sync_fails_every_writer_waiting_and_leaves_none_parked() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (mut journal, _) =
            Journal::open(dir.path(), 64 << 20, &db, &tree, false, None).unwrap();
        // Writes through a read-only descriptor fail, as a sync that hits an I/O error does.
        journal.file = File::open(dir.path().join(FILE_NAME)).unwrap();
        let outcomes = concurrent_waits(&journal, 16, 20);
        for outcome in &outcomes {
            let error = outcome.as_ref().unwrap_err();
            assert!(
                matches!(
                    error,
                    StorageError::Backend {
                        retryable: false,
                        ..
                    }
                ),
                "{error:?}"
            );
        }
    }

    /// When [`a_write_fails_to_apply_while_writers_wait`] stops the journal.
    #[derive(Clone, Copy, Debug)]
    enum FailAt {
        /// While a sync runs, with two writers waiting for the next one.
        DuringSync,
        /// After that sync has ended and handed the next one to one of the two writers, before
        /// that writer has taken the state lock again.
        HandOff,
    }

    /// One attempt at: a writer `L` leads a sync of a large frame; writers `A` and `B` append
    /// behind it, so they wait for the next sync; then another writer's frame fails to apply
    /// to sled (what [`Journal::fail_apply`] does, done under the state lock so that it lands
    /// exactly at `at`). Returns each writer's outcome, or `None` if the interleaving was
    /// missed (the sync ended first; every writer returned and the journal is healthy).
    /// Panics if a writer is still parked 10 s after the failure (it is woken first, so that
    /// the test ends).
    fn a_write_fails_to_apply_while_writers_wait(
        at: FailAt,
    ) -> Option<Vec<(&'static str, Result<(), StorageError>)>> {
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let (journal, _) = Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
        let journal = &journal;
        let (done, results) = std::sync::mpsc::channel();
        let collect = |all: &mut Vec<_>, deadline: Instant| {
            while all.len() < 3 {
                let left = deadline.saturating_duration_since(Instant::now());
                match results.recv_timeout(left) {
                    Ok(outcome) => all.push(outcome),
                    Err(_) => return false,
                }
            }
            true
        };
        let poll_until = |ready: &dyn Fn(&State) -> Option<bool>| -> bool {
            // Some(true): do it now (the lock is held); Some(false): missed.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let mut state = journal.lock();
                match ready(&state) {
                    Some(true) => {
                        journal.torn.store(true, Ordering::SeqCst);
                        state
                            .broken
                            .get_or_insert_with(|| "a write failed to apply".into());
                        return true;
                    }
                    Some(false) => return false,
                    None => {}
                }
                drop(state);
                assert!(Instant::now() < deadline, "the interleaving never came");
                std::thread::yield_now();
            }
        };
        std::thread::scope(|s| {
            let write = |name: &'static str, ops: Vec<Op>| {
                let done = done.clone();
                move || {
                    let _inside = journal.enter();
                    let outcome = journal
                        .append(&ops, &[])
                        .and_then(|end| journal.wait_durable(end));
                    done.send((name, outcome)).unwrap();
                }
            };
            let big = vec![(b"r/big".to_vec(), Some(vec![1; 8 << 20].into()))];
            s.spawn(write("L", big));
            // Wait for L to lead its sync.
            while journal.lock().syncing.is_none() {
                std::thread::yield_now();
            }
            s.spawn(write("A", ops()));
            s.spawn(write("B", ops()));
            let mut all = Vec::new();
            let failed = match at {
                FailAt::DuringSync => poll_until(&|state| match (
                    state.syncing.is_some(),
                    state.later.len(),
                ) {
                    (true, 2) => Some(true),
                    (true, _) => None,
                    (false, _) => Some(false),
                }),
                FailAt::HandOff => {
                    // First both wait behind L's sync ...
                    let behind = |state: &State| match (state.syncing.is_some(), state.later.len())
                    {
                        (true, 2) => Some(false),
                        (true, _) => None,
                        (false, _) => Some(true),
                    };
                    let mut state = journal.lock();
                    let missed = loop {
                        match behind(&state) {
                            Some(missed) => break missed,
                            None => {
                                drop(state);
                                std::thread::yield_now();
                                state = journal.lock();
                            }
                        }
                    };
                    drop(state);
                    // ... then L's sync has ended and woken one of them to lead the next,
                    // which has not taken the lock yet: one left waiting, no sync running.
                    !missed
                        && poll_until(
                            &|state| match (state.syncing.is_some(), state.later.len()) {
                                (true, 2) => None,
                                (false, 1) => Some(true),
                                _ => Some(false),
                            },
                        )
                }
            };
            let returned = collect(&mut all, Instant::now() + Duration::from_secs(10));
            if !returned {
                // Wake whoever is left so the scope can end, then fail.
                let mut state = journal.lock();
                let parked = std::mem::take(&mut state.later);
                let count = parked.len();
                drop(state);
                for waiter in parked {
                    waiter.wake(Waiter::LOOK_AGAIN);
                }
                assert!(collect(&mut all, Instant::now() + Duration::from_secs(10)));
                panic!(
                    "failing at {at:?}: {count} writer(s) were left parked after the journal \
                     broke; those that returned: {all:?}"
                );
            }
            failed.then_some(all)
        })
    }

    /// Runs [`a_write_fails_to_apply_while_writers_wait`] until the interleaving is hit, and
    /// checks every writer returned with the right outcome.
    fn no_writer_parked_after_failing_at(at: FailAt) {
        let mut attempts = 0;
        let outcomes = loop {
            attempts += 1;
            assert!(attempts <= 200, "the interleaving at {at:?} was never hit");
            if let Some(outcomes) = a_write_fails_to_apply_while_writers_wait(at) {
                break outcomes;
            }
        };
        eprintln!("{at:?}: hit after {attempts} attempt(s)");
        for (name, outcome) in outcomes {
            match name {
                // L's frame was synced: durable.
                "L" => assert!(outcome.is_ok(), "{at:?}: L: {outcome:?}"),
                // A's and B's never were: the journal broke before their sync.
                _ => assert!(
                    matches!(outcome, Err(StorageError::Backend { .. })),
                    "{at:?}: {name}: {outcome:?}"
                ),
            }
        }
    }

    /// A sync that succeeds after the journal broke (a write failed to apply meanwhile) wakes
    /// every writer waiting for the next sync, since none will run — not only when its own
    /// sync failed.
    #[test]
    fn a_write_failing_to_apply_during_a_sync_leaves_no_writer_parked() {
        no_writer_parked_after_failing_at(FailAt::DuringSync);
    }

    /// A writer woken to lead the next sync that finds the journal broken must not return
    /// without waking the writers it was to lead.
    #[test]
    fn a_write_failing_to_apply_at_a_hand_off_leaves_no_writer_parked() {
        no_writer_parked_after_failing_at(FailAt::HandOff);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever follows a valid header — frames cut anywhere, a byte flipped, garbage —
        /// opening replays exactly the frames before the first damaged one, and never panics.
        #[test]
        fn any_damage_after_the_header_replays_exactly_the_intact_frames(
            cut in 0usize..400,
            flip in proptest::option::of((0usize..400, 1u8..=255)),
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (db, tree) = temp_db(dir.path());
            let (journal, _) = Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
            let (epoch, salt) = epoch_and_salt(&journal);
            drop(journal);
            let mut frames = Vec::new();
            let mut ends = Vec::new();
            // No value byte is zero: a frame cut short must differ from the zeros after it,
            // or the cut would not damage it.
            for i in 0..4u8 {
                encode_frame(&mut frames, &[(vec![b'k', i], Some(vec![i + 1; 20 + usize::from(i)].into()))], &[], epoch, salt, u64::from(i));
                ends.push(frames.len());
            }
            frames.truncate(cut.min(frames.len()));
            let written = frames.len();
            let flip = flip.filter(|&(at, _)| at < written);
            if let Some((at, mask)) = flip {
                frames[at] ^= mask;
            }
            frames.extend_from_slice(&garbage);
            let file = OpenOptions::new().write(true).open(dir.path().join(FILE_NAME)).unwrap();
            file.write_all_at(&frames, DATA_START).unwrap();
            drop(file);
            // The frames that are whole and untouched, from the first on.
            let intact = ends
                .iter()
                .take_while(|&&end| end <= written && flip.is_none_or(|(at, _)| at >= end))
                .count();
            let (_journal, recovered) =
                Journal::open(dir.path(), 1 << 16, &db, &tree, true, None).unwrap();
            proptest::prop_assert_eq!(recovered.frames as usize, intact);
            for i in 0..4u8 {
                let present = tree.get([b'k', i]).unwrap().is_some();
                proptest::prop_assert_eq!(present, usize::from(i) < intact);
            }
        }
    }
}

/// The journal's bytes as `docs/formats.md` ("The write journal, format 2") describes them,
/// built and read here without the module's encoder and decoder: a maintainer changing the
/// format sees these fail.
#[cfg(test)]
mod documented_format {
    use super::*;

    /// A header slot: magic `SSJRNL\0\x01`, format `u32`, epoch `u64`, salt `u64`, CRC-32
    /// (IEEE) of the preceding 28 bytes; big-endian.
    fn slot(format: u32, epoch: u64, salt: u64) -> Vec<u8> {
        let mut s = b"SSJRNL\0\x01".to_vec();
        s.extend_from_slice(&format.to_be_bytes());
        s.extend_from_slice(&epoch.to_be_bytes());
        s.extend_from_slice(&salt.to_be_bytes());
        let crc = crc32fast::hash(&s);
        s.extend_from_slice(&crc.to_be_bytes());
        assert_eq!(s.len(), 32);
        s
    }

    /// A body: operation count `u32`; per operation tag `u8` (1 set, 0 remove), key length
    /// `u32`, key, and for a set value length `u32` and value; then, in format 2, payload
    /// count `u32` and per payload its 24-byte pointer and bytes.
    fn body(ops: &[(&[u8], Option<&[u8]>)], payloads: Option<&[([u8; 24], &[u8])]>) -> Vec<u8> {
        let mut b = (ops.len() as u32).to_be_bytes().to_vec();
        for (key, value) in ops {
            b.push(u8::from(value.is_some()));
            b.extend_from_slice(&(key.len() as u32).to_be_bytes());
            b.extend_from_slice(key);
            if let Some(value) = value {
                b.extend_from_slice(&(value.len() as u32).to_be_bytes());
                b.extend_from_slice(value);
            }
        }
        if let Some(payloads) = payloads {
            b.extend_from_slice(&(payloads.len() as u32).to_be_bytes());
            for (pointer, bytes) in payloads {
                b.extend_from_slice(pointer);
                b.extend_from_slice(bytes);
            }
        }
        b
    }

    /// A frame: body length `u32`, CRC-32 of (salt, length, epoch, sequence, body), epoch
    /// `u64`, sequence `u64`, body.
    fn frame(salt: u64, epoch: u64, seq: u64, body: &[u8]) -> Vec<u8> {
        let len = (body.len() as u32).to_be_bytes();
        let mut covered = salt.to_be_bytes().to_vec();
        covered.extend_from_slice(&len);
        covered.extend_from_slice(&epoch.to_be_bytes());
        covered.extend_from_slice(&seq.to_be_bytes());
        covered.extend_from_slice(body);
        let mut f = len.to_vec();
        f.extend_from_slice(&crc32fast::hash(&covered).to_be_bytes());
        f.extend_from_slice(&epoch.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    /// A value-log pointer: segment `u64`, offset `u64`, length `u32`, CRC-32 `u32`.
    fn pointer(segment: u64, offset: u64, bytes: &[u8]) -> [u8; 24] {
        let mut p = [0; 24];
        p[..8].copy_from_slice(&segment.to_be_bytes());
        p[8..16].copy_from_slice(&offset.to_be_bytes());
        p[16..20].copy_from_slice(&(bytes.len() as u32).to_be_bytes());
        p[20..].copy_from_slice(&crc32fast::hash(bytes).to_be_bytes());
        p
    }

    /// A journal file: `slots` at offsets 0 and 512, `frames` from 4096.
    fn file(slot_0: &[u8], slot_1: &[u8], frames: &[Vec<u8>]) -> Vec<u8> {
        let mut f = vec![0; 4096];
        f[..slot_0.len()].copy_from_slice(slot_0);
        f[512..512 + slot_1.len()].copy_from_slice(slot_1);
        for frame in frames {
            f.extend_from_slice(frame);
        }
        f
    }

    fn temp_db(dir: &Path) -> (sled::Db, sled::Tree) {
        let db = sled::Config::new().path(dir.join("db")).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        (db, tree)
    }

    /// A format-2 journal built from the documented bytes: the current epoch is the valid
    /// slot with the higher epoch (5, in slot 5 % 2 = 1; slot 0 holds epoch 4 under another
    /// salt); its frames 0 and 1 are replayed (keys to sled, payloads to the value log at
    /// their pointers); the frame after them, under epoch 4's salt, is not.
    #[test]
    fn a_format_2_journal_built_as_documented_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        tree.insert(b"p/a\0v0", &b"old"[..]).unwrap();
        let (salt, old_salt) = (0x0123_4567_89ab_cdef, 0x1111);
        let one = b"first payload".as_slice();
        let two = b"second".as_slice();
        let frames = [
            frame(
                salt,
                5,
                0,
                &body(
                    &[(b"r/a", Some(b"record a")), (b"p/a\0v0", None)],
                    Some(&[(pointer(1, 0, one), one)]),
                ),
            ),
            frame(
                salt,
                5,
                1,
                &body(
                    &[(b"r/b", Some(b"record b"))],
                    Some(&[(pointer(1, one.len() as u64, two), two)]),
                ),
            ),
            frame(old_salt, 5, 2, &body(&[(b"r/c", Some(b"c"))], Some(&[]))),
        ];
        let bytes = file(&slot(2, 4, old_salt), &slot(2, 5, salt), &frames);
        std::fs::write(dir.path().join(FILE_NAME), &bytes).unwrap();
        let values = Arc::new(ValueLog::open(dir.path(), 1 << 20).unwrap());
        let (journal, recovered) = Journal::open(
            dir.path(),
            1 << 16,
            &db,
            &tree,
            false,
            Some(Arc::clone(&values)),
        )
        .unwrap();
        assert_eq!(recovered.frames, 2);
        assert_eq!(tree.get(b"r/a").unwrap().unwrap(), &b"record a"[..]);
        assert_eq!(tree.get(b"r/b").unwrap().unwrap(), &b"record b"[..]);
        assert!(tree.get(b"p/a\0v0").unwrap().is_none());
        assert!(tree.get(b"r/c").unwrap().is_none());
        assert_eq!(tree.get(META_JOURNAL).unwrap().unwrap(), &b"1"[..]);
        let segment = std::fs::read(dir.path().join("values/0000000000000001")).unwrap();
        assert_eq!(segment, [one, two].concat());
        // The open started epoch 6, in slot 0.
        drop(journal);
        let after = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(&after[..8], b"SSJRNL\0\x01");
        assert_eq!(&after[8..12], &2u32.to_be_bytes());
        assert_eq!(&after[12..20], &6u64.to_be_bytes());
        assert_eq!(&after[28..32], &crc32fast::hash(&after[..28]).to_be_bytes());
        assert_eq!(&after[512..544], &slot(2, 5, salt)[..]);
    }

    /// A format-1 journal (an earlier release's): frames without the payload section are
    /// replayed; the new epoch is format 2.
    #[test]
    fn a_format_1_journal_built_as_documented_is_replayed_and_the_next_epoch_is_format_2() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let salt = 77;
        let frames = [frame(salt, 2, 0, &body(&[(b"r/a", Some(b"one"))], None))];
        let bytes = file(&slot(1, 2, salt), &[], &frames);
        std::fs::write(dir.path().join(FILE_NAME), &bytes).unwrap();
        let (journal, recovered) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, false, None).unwrap();
        assert_eq!(recovered.frames, 1);
        assert_eq!(tree.get(b"r/a").unwrap().unwrap(), &b"one"[..]);
        drop(journal);
        let after = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(&after[512 + 8..512 + 12], &2u32.to_be_bytes(), "epoch 3");
        assert_eq!(&after[512 + 12..512 + 20], &3u64.to_be_bytes());
    }

    /// A file of another format (a valid slot saying 3, or 0), with no valid slot, or shorter
    /// than its header is refused with `Corrupt`.
    #[test]
    fn a_journal_of_another_format_or_without_a_valid_slot_is_corrupt() {
        for bytes in [
            file(&slot(3, 1, 1), &[], &[]),
            file(&slot(0, 1, 1), &[], &[]),
            file(&[], &[], &[]),
            slot(2, 1, 1),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (db, tree) = temp_db(dir.path());
            std::fs::write(dir.path().join(FILE_NAME), &bytes).unwrap();
            let opened = Journal::open(dir.path(), 1 << 16, &db, &tree, false, None);
            assert!(
                matches!(&opened, Err(StorageError::Corrupt(_))),
                "{:?}",
                opened.err()
            );
        }
    }

    /// What the journal writes is, byte for byte, the documented frame: read back from the
    /// file with the documented header slot's salt.
    #[test]
    fn the_frames_written_are_the_documented_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (db, tree) = temp_db(dir.path());
        let values = Arc::new(ValueLog::open(dir.path(), 1 << 20).unwrap());
        let (journal, _) =
            Journal::open(dir.path(), 1 << 16, &db, &tree, false, Some(values)).unwrap();
        let payload = b"payload".as_slice();
        let p = Pointer {
            segment: 3,
            offset: 9,
            len: payload.len() as u32,
            crc: crc32fast::hash(payload),
        };
        let ops: Vec<Op> = vec![
            (b"r/x".to_vec(), Some(b"rec".to_vec().into())),
            (b"p/x\0v1".to_vec(), None),
        ];
        let inside = journal.enter();
        let end = journal
            .append(&ops, &[(p, sled::IVec::from(payload))])
            .unwrap();
        journal.wait_durable(end).unwrap();
        drop(inside);
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        // The current slot: a fresh journal's open starts epoch 1, in slot 1 (offset 512).
        let current = &bytes[512..544];
        assert_eq!(
            &current[..20],
            &slot(2, 1, 0)[..20],
            "magic, format 2, epoch 1"
        );
        let salt = u64::from_be_bytes(current[20..28].try_into().unwrap());
        assert_eq!(current, &slot(2, 1, salt)[..]);
        let expected = frame(
            salt,
            1,
            0,
            &body(
                &[(b"r/x", Some(b"rec")), (b"p/x\0v1", None)],
                Some(&[(pointer(3, 9, payload), payload)]),
            ),
        );
        assert_eq!(&bytes[4096..4096 + expected.len()], &expected[..]);
        assert_eq!(end, 4096 + expected.len() as u64);
    }
}
