//! The replay guard's log: every nonce the guard accepts is written to a file before the
//! request runs, so a server started again (after a crash, an upgrade, a restart) still
//! refuses the replays of the requests it accepted within their window.
//!
//! The log is a directory of segments, `<sequence>.nonces`, each an 8-byte header
//! (`SMNONCE1`) followed by 24-byte entries: the access key id's digest, the nonce's digest
//! (both the 64-bit digests of [`crate::nonce`]) and the unix second the nonce's window runs
//! from (the later of the request's time and the server's), little-endian. A nonce is
//! remembered until that second plus the window (the server's `max_clock_skew` as configured
//! when the log is read: a restart with a wider window remembers longer) has passed. A server
//! writes to a segment of its own, begun when it opens the log and replaced by a new one every
//! window; a segment is deleted once every nonce in it is forgotten. So the directory holds the
//! nonces of about the last two windows, and needs no compaction.
//!
//! Each entry is one positioned `write` just past the entries written so far, with no sync: it
//! reaches the kernel before the request runs, so it survives the process being killed, not
//! the machine losing power (`docs/security.md`). A write that fails part way (a full disk) is
//! written over by the next, so entries stay aligned; a short last entry (a write cut off by a
//! crash) is ignored; a segment with another header is refused, so the log cannot be misread.
//!
//! One server at a time: opening takes an exclusive lock on the directory's `LOCK` file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The first bytes of every segment.
const MAGIC: &[u8; 8] = b"SMNONCE1";
/// The bytes of one entry.
const ENTRY: usize = 24;
/// The suffix of segment files.
const SUFFIX: &str = ".nonces";

/// A nonce the log remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The digest of the access key id ([`crate::nonce::key_digest`]).
    pub(crate) key: u64,
    /// The digest of (access key id, nonce) ([`crate::nonce::digest_of`]).
    pub(crate) id: u64,
    /// The unix second the nonce's window runs from: the later of the request's time and the
    /// server's clock when it was accepted.
    pub(crate) seen_at: i64,
}

impl Entry {
    fn to_bytes(self) -> [u8; ENTRY] {
        let mut out = [0u8; ENTRY];
        out[..8].copy_from_slice(&self.key.to_le_bytes());
        out[8..16].copy_from_slice(&self.id.to_le_bytes());
        out[16..].copy_from_slice(&self.seen_at.to_le_bytes());
        out
    }

    fn from_bytes(b: &[u8]) -> Entry {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            w
        };
        Entry {
            key: u64::from_le_bytes(word(0)),
            id: u64::from_le_bytes(word(8)),
            seen_at: i64::from_le_bytes(word(16)),
        }
    }
}

/// Whether a nonce seen at `seen_at` is forgotten at `now` with a window of `window` seconds:
/// only once the window has passed, since the timestamp check still accepts a request exactly
/// `window` seconds old.
pub(crate) fn forgotten(seen_at: i64, window: i64, now: i64) -> bool {
    seen_at.saturating_add(window) < now
}

/// An open log, written to by one server.
pub(crate) struct NonceLog {
    dir: PathBuf,
    /// Held for the lock on `LOCK`, released when the log is dropped.
    _lock: File,
    /// The window, in seconds: how long after its `seen_at` a nonce is remembered, and how
    /// long a segment is written to.
    window: i64,
    active: Mutex<Segments>,
}

impl std::fmt::Debug for NonceLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceLog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The segment written to, and the older ones still holding nonces remembered.
struct Segments {
    file: File,
    sequence: u64,
    /// The bytes of the active segment holding its header and whole entries: where the next
    /// entry goes (over whatever a failed write left).
    len: u64,
    /// The number the next segment gets: past every number tried, even by a failed attempt.
    next_sequence: u64,
    opened_at: i64,
    /// The latest `seen_at` written to the active segment.
    max_seen: i64,
    /// Older segments: (sequence, latest `seen_at` in it).
    older: Vec<(u64, i64)>,
}

impl NonceLog {
    /// Opens (creating if needed) the log in `dir` at unix time `now` with a window of
    /// `window` seconds, and returns it with the entries still remembered, oldest segment
    /// first. Deletes the segments with none, and begins a segment of its own. The directory is
    /// made 0700 and its `LOCK` 0600 (on Unix), so that no other user can take the lock.
    ///
    /// Errors: the directory cannot be created or read; another server holds it
    /// (`WouldBlock`); a segment does not start with the header (`InvalidData`).
    pub(crate) fn open(dir: &Path, now: i64, window: i64) -> io::Result<(NonceLog, Vec<Entry>)> {
        let window = window.max(1);
        create_private_dir(dir)?;
        let lock = private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        fs2::FileExt::try_lock_exclusive(&lock).map_err(|e| {
            let contended = fs2::lock_contended_error();
            if e.kind() == contended.kind() && e.raw_os_error() == contended.raw_os_error() {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another server is using this nonce log",
                )
            } else {
                e
            }
        })?;
        let mut sequences = Vec::new();
        for item in fs::read_dir(dir)? {
            let name = item?.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_suffix(SUFFIX))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            sequences.push(seq);
        }
        sequences.sort_unstable();
        let mut live = Vec::new();
        let mut older = Vec::new();
        for &seq in &sequences {
            let path = segment_path(dir, seq);
            let entries = read_segment(&path)?;
            let max_seen = entries.iter().map(|e| e.seen_at).max();
            match max_seen {
                Some(max_seen) if !forgotten(max_seen, window, now) => {
                    live.extend(
                        entries
                            .into_iter()
                            .filter(|e| !forgotten(e.seen_at, window, now)),
                    );
                    older.push((seq, max_seen));
                }
                _ => fs::remove_file(&path)?,
            }
        }
        let sequence = sequences.last().map_or(1, |s| s + 1);
        let file = new_segment(dir, sequence)?;
        let log = NonceLog {
            dir: dir.to_owned(),
            _lock: lock,
            window,
            active: Mutex::new(Segments {
                file,
                sequence,
                len: MAGIC.len() as u64,
                next_sequence: sequence + 1,
                opened_at: now,
                max_seen: i64::MIN,
                older,
            }),
        };
        Ok((log, live))
    }

    /// Writes `entry` at unix time `now`: begins a new segment first when the active one is a
    /// window old, and deletes older segments whose nonces are all forgotten.
    ///
    /// Errors: the write, or beginning a segment, failed; the caller must not accept the
    /// request, as a replay of it after a restart would not be refused. The next call tries
    /// again (a new segment under a new number; the entry over the failed write's bytes).
    pub(crate) fn append(&self, entry: Entry, now: i64) -> io::Result<()> {
        // A poisoned lock means a request panicked holding it: the segments are still valid
        // (`len` only moves past a whole entry).
        let mut s = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if now - s.opened_at >= self.window {
            let sequence = s.next_sequence;
            s.next_sequence += 1;
            let file = new_segment(&self.dir, sequence)?;
            let (old_sequence, old_max) = (s.sequence, s.max_seen);
            s.older.push((old_sequence, old_max));
            s.file = file;
            s.sequence = sequence;
            s.len = MAGIC.len() as u64;
            s.opened_at = now;
            s.max_seen = i64::MIN;
        }
        let window = self.window;
        let mut kept = Vec::with_capacity(s.older.len());
        for &(seq, max_seen) in &s.older {
            if forgotten(max_seen, window, now) {
                match fs::remove_file(segment_path(&self.dir, seq)) {
                    Ok(()) => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    // Kept, to be tried again next time; it only takes room.
                    Err(_) => {}
                }
            }
            kept.push((seq, max_seen));
        }
        s.older = kept;
        write_at(&s.file, &entry.to_bytes(), s.len)?;
        s.len += ENTRY as u64;
        s.max_seen = s.max_seen.max(entry.seen_at);
        Ok(())
    }
}

fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{sequence:020}{SUFFIX}"))
}

/// Creates segment `sequence` with its header, durably named in `dir`. A segment that could
/// not be finished is removed (best effort: one left behind holds at most part of a header,
/// which a reader takes for an empty segment).
fn new_segment(dir: &Path, sequence: u64) -> io::Result<File> {
    let path = segment_path(dir, sequence);
    let mut file = private_options().create_new(true).write(true).open(&path)?;
    let finished = file
        .write_all(MAGIC)
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_dir(dir));
    if let Err(e) = finished {
        drop(file);
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    Ok(file)
}

/// The entries of the segment at `path`; a short last entry is left out.
fn read_segment(path: &Path) -> io::Result<Vec<Entry>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    // A segment cut off before its header was complete holds nothing.
    if bytes.len() < MAGIC.len() && MAGIC.starts_with(&bytes) {
        return Ok(Vec::new());
    }
    if !bytes.starts_with(MAGIC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a nonce log segment", path.display()),
        ));
    }
    Ok(bytes[MAGIC.len()..]
        .chunks_exact(ENTRY)
        .map(Entry::from_bytes)
        .collect())
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, at)
}

#[cfg(not(unix))]
fn write_at(mut file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(at))?;
    file.write_all(bytes)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Not every platform opens a directory as a file; there a new name is not synced.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

#[cfg(not(unix))]
fn private_options() -> OpenOptions {
    OpenOptions::new()
}

/// Creates `dir` (0700), or makes an existing one 0700.
#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, seen_at: i64) -> Entry {
        Entry {
            key: 7,
            id,
            seen_at,
        }
    }

    fn segments(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(SUFFIX))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn entries_survive_a_reopen_until_their_window_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let (log, loaded) = NonceLog::open(dir.path(), 1_000, 500).unwrap();
        assert!(loaded.is_empty());
        log.append(entry(1, 1_000), 1_000).unwrap();
        log.append(entry(2, 1_500), 1_001).unwrap();
        drop(log);
        let (log, loaded) = NonceLog::open(dir.path(), 1_200, 500).unwrap();
        assert_eq!(loaded, [entry(1, 1_000), entry(2, 1_500)]);
        drop(log);
        // Still remembered in the window's last second, as the timestamp check accepts it.
        let (log, loaded) = NonceLog::open(dir.path(), 1_500, 500).unwrap();
        assert_eq!(loaded, [entry(1, 1_000), entry(2, 1_500)]);
        drop(log);
        let (log, loaded) = NonceLog::open(dir.path(), 1_501, 500).unwrap();
        assert_eq!(loaded, [entry(2, 1_500)]);
        drop(log);
        // A wider window, after a restart, remembers longer.
        let (_log, loaded) = NonceLog::open(dir.path(), 2_100, 900).unwrap();
        assert_eq!(loaded, [entry(2, 1_500)]);
    }

    #[test]
    fn one_server_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (_log, _) = NonceLog::open(dir.path(), 0, 900).unwrap();
        let second = NonceLog::open(dir.path(), 0, 900).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::WouldBlock, "{second}");
    }

    #[test]
    fn segments_rotate_and_forgotten_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = NonceLog::open(dir.path(), 0, 100).unwrap();
        log.append(entry(1, 50), 0).unwrap();
        log.append(entry(2, 150), 100).unwrap(); // rotates
        assert_eq!(segments(dir.path()).len(), 2);
        log.append(entry(3, 300), 200).unwrap(); // rotates; the first forgotten after 150
        assert_eq!(segments(dir.path()).len(), 2);
        log.append(entry(4, 400), 300).unwrap(); // rotates; the second after 250
        assert_eq!(segments(dir.path()).len(), 2);
        drop(log);
        let (_log, loaded) = NonceLog::open(dir.path(), 300, 100).unwrap();
        assert_eq!(loaded, [entry(3, 300), entry(4, 400)]);
    }

    #[test]
    fn a_cut_off_last_entry_is_ignored_and_a_foreign_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = NonceLog::open(dir.path(), 0, 900).unwrap();
        log.append(entry(1, 100), 0).unwrap();
        drop(log);
        let path = segment_path(dir.path(), 1);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&entry(2, 100).to_bytes()[..10]).unwrap();
        drop(f);
        let (log, loaded) = NonceLog::open(dir.path(), 0, 900).unwrap();
        assert_eq!(loaded, [entry(1, 100)]);
        drop(log);
        fs::write(segment_path(dir.path(), 9), b"something else entirely").unwrap();
        let e = NonceLog::open(dir.path(), 0, 900).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    /// A write that failed part way (a full disk) leaves bytes past the last whole entry; the
    /// next entry is written over them, so the entries after it read back as written.
    #[test]
    fn an_entry_after_a_write_that_failed_part_way_stays_aligned() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = NonceLog::open(dir.path(), 0, 900).unwrap();
        log.append(entry(1, 100), 0).unwrap();
        // What a write cut off at 10 of its 24 bytes leaves behind (the log saw it fail).
        let path = segment_path(dir.path(), 1);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&entry(0xdead, 100).to_bytes()[..10]).unwrap();
        drop(f);
        let after = Entry {
            key: 0x1234_5678_9abc,
            id: 2,
            seen_at: 100,
        };
        log.append(after, 1).unwrap();
        drop(log);
        let (_log, loaded) = NonceLog::open(dir.path(), 2, 900).unwrap();
        assert_eq!(loaded, [entry(1, 100), after]);
    }

    /// A rotation that could not finish its new segment (left behind under the next number)
    /// is tried again under another number, so requests are accepted again once it can be.
    #[test]
    fn a_rotation_that_failed_is_tried_again_under_a_new_number() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = NonceLog::open(dir.path(), 0, 100).unwrap();
        log.append(entry(1, 50), 0).unwrap();
        // The next segment's name is taken (a failed attempt's leftover): that rotation fails.
        fs::write(segment_path(dir.path(), 2), &MAGIC[..4]).unwrap();
        assert!(log.append(entry(2, 100), 100).is_err());
        log.append(entry(3, 101), 101).unwrap();
        drop(log);
        let (_log, loaded) = NonceLog::open(dir.path(), 102, 100).unwrap();
        assert_eq!(loaded, [entry(1, 50), entry(3, 101)]);
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_is_made_private_even_when_it_existed() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("nonces");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let (_log, _) = NonceLog::open(&dir, 0, 900).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&dir.join("LOCK"))), (0o700, 0o600));
    }

    /// A segment as `docs/formats.md` ("The server's nonce log") describes it, built without
    /// this module: `SMNONCE1`, then per entry the first 8 bytes of SHA-256(access key id) and
    /// of SHA-256(`u64be(len(id))` || id || nonce), each a little-endian `u64`, and the
    /// little-endian `i64` second; named by a 20-digit decimal sequence and `.nonces`. The log
    /// reads it (a cut-off last entry ignored), and what it writes itself is the same bytes.
    #[test]
    fn segments_are_the_documented_bytes() {
        use ring::digest::{SHA256, digest};
        let first_8_le = |bytes: &[u8]| {
            let d = digest(&SHA256, bytes);
            u64::from_le_bytes(d.as_ref()[..8].try_into().unwrap())
        };
        let (id, nonce) = ("AKIDEXAMPLE", "a-nonce");
        let key = first_8_le(id.as_bytes());
        let mut keyed = (id.len() as u64).to_be_bytes().to_vec();
        keyed.extend_from_slice(id.as_bytes());
        keyed.extend_from_slice(nonce.as_bytes());
        let digest_ = first_8_le(&keyed);
        assert_eq!(key, crate::nonce::key_digest(id));
        assert_eq!(digest_, crate::nonce::digest_of(id, nonce));

        let seen_at: i64 = 1_750_000_000;
        let mut segment = b"SMNONCE1".to_vec();
        segment.extend_from_slice(&key.to_le_bytes());
        segment.extend_from_slice(&digest_.to_le_bytes());
        segment.extend_from_slice(&seen_at.to_le_bytes());
        let whole = segment.clone();
        segment.extend_from_slice(&[0xee; 23]); // a cut-off entry
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("00000000000000000041.nonces"), &segment).unwrap();
        let (log, loaded) = NonceLog::open(dir.path(), seen_at, 900).unwrap();
        let expected = Entry {
            key,
            id: digest_,
            seen_at,
        };
        assert_eq!(loaded, [expected]);
        // The log's own segment is the next number, and holds exactly these bytes.
        log.append(expected, seen_at).unwrap();
        drop(log);
        assert_eq!(
            fs::read(dir.path().join("00000000000000000042.nonces")).unwrap(),
            whole
        );
    }
}
