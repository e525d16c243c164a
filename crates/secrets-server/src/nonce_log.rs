//! The replay guard's log: every nonce the guard accepts is appended to a file before the
//! request runs, so a server started again (after a crash, an upgrade, a restart) still
//! refuses the replays of the requests it accepted within their window.
//!
//! The log is a directory of segments, `<sequence>.nonces`, each an 8-byte header
//! (`SMNONCE1`) followed by 24-byte entries: the access key id's digest, the nonce's digest
//! (both the 64-bit digests of [`crate::nonce`]) and the unix second the entry expires at,
//! little-endian. A server writes to a segment of its own, begun when it opens the log and
//! replaced by a new one every `rotate_after` seconds; a segment is deleted once every entry
//! in it has expired. So the directory holds at most the entries of the last two windows or
//! so, and no compaction is needed: no entry outlives `2 × skew + rotate_after` seconds.
//!
//! Each entry is one `write` on a file opened for appending, with no sync: it reaches the
//! kernel before the request runs, so it survives the process being killed, not the machine
//! losing power (`docs/security.md`). A short last entry (a write cut off by a crash) is
//! ignored; a segment with another header is refused, so the log cannot be misread.
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
    /// The unix second from which the nonce may be forgotten.
    pub(crate) expires_at: i64,
}

impl Entry {
    fn to_bytes(self) -> [u8; ENTRY] {
        let mut out = [0u8; ENTRY];
        out[..8].copy_from_slice(&self.key.to_le_bytes());
        out[8..16].copy_from_slice(&self.id.to_le_bytes());
        out[16..].copy_from_slice(&self.expires_at.to_le_bytes());
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
            expires_at: i64::from_le_bytes(word(16)),
        }
    }
}

/// An open log, appended to by one server.
pub(crate) struct NonceLog {
    dir: PathBuf,
    /// Held for the lock on `LOCK`, released when the log is dropped.
    _lock: File,
    rotate_after: i64,
    active: Mutex<Segments>,
}

impl std::fmt::Debug for NonceLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceLog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The segment written to, and the older ones still holding unexpired entries.
struct Segments {
    file: File,
    sequence: u64,
    opened_at: i64,
    /// The latest expiry written to the active segment.
    max_expiry: i64,
    /// Older segments: (sequence, latest expiry in it).
    older: Vec<(u64, i64)>,
}

impl NonceLog {
    /// Opens (creating if needed) the log in `dir` at unix time `now` and returns it with
    /// the entries that have not expired, oldest segment first. Deletes the segments whose
    /// entries have all expired, and begins a segment of its own. `rotate_after` is how many
    /// seconds a segment is written to before the next one is begun.
    ///
    /// Errors: the directory cannot be created or read; another server holds it
    /// (`WouldBlock`); a segment does not start with the header (`InvalidData`).
    pub(crate) fn open(
        dir: &Path,
        now: i64,
        rotate_after: i64,
    ) -> io::Result<(NonceLog, Vec<Entry>)> {
        create_private_dir(dir)?;
        let lock = OpenOptions::new()
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
            let max_expiry = entries
                .iter()
                .map(|e| e.expires_at)
                .max()
                .unwrap_or(i64::MIN);
            if max_expiry <= now {
                fs::remove_file(&path)?;
                continue;
            }
            live.extend(entries.into_iter().filter(|e| e.expires_at > now));
            older.push((seq, max_expiry));
        }
        let sequence = sequences.last().map_or(1, |s| s + 1);
        let file = new_segment(dir, sequence)?;
        let log = NonceLog {
            dir: dir.to_owned(),
            _lock: lock,
            rotate_after: rotate_after.max(1),
            active: Mutex::new(Segments {
                file,
                sequence,
                opened_at: now,
                max_expiry: i64::MIN,
                older,
            }),
        };
        Ok((log, live))
    }

    /// Appends `entry` at unix time `now`: begins a new segment first when the active one is
    /// `rotate_after` old, and deletes older segments whose entries have all expired.
    ///
    /// Errors: the write, or beginning a segment, failed; the caller must not accept the
    /// request, as a replay of it after a restart would not be refused.
    pub(crate) fn append(&self, entry: Entry, now: i64) -> io::Result<()> {
        // A poisoned lock means a request panicked holding it: the segments are still valid
        // (each entry is one write).
        let mut s = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if now - s.opened_at >= self.rotate_after {
            let sequence = s.sequence + 1;
            let file = new_segment(&self.dir, sequence)?;
            let (old_sequence, old_max) = (s.sequence, s.max_expiry);
            s.older.push((old_sequence, old_max));
            s.file = file;
            s.sequence = sequence;
            s.opened_at = now;
            s.max_expiry = i64::MIN;
        }
        let mut kept = Vec::with_capacity(s.older.len());
        for &(seq, max_expiry) in &s.older {
            if max_expiry <= now {
                match fs::remove_file(segment_path(&self.dir, seq)) {
                    Ok(()) => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    // Kept, to be tried again next time; it only takes room.
                    Err(_) => {}
                }
            }
            kept.push((seq, max_expiry));
        }
        s.older = kept;
        s.file.write_all(&entry.to_bytes())?;
        s.max_expiry = s.max_expiry.max(entry.expires_at);
        Ok(())
    }
}

fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{sequence:020}{SUFFIX}"))
}

/// Creates segment `sequence` with its header, durably named in `dir`.
fn new_segment(dir: &Path, sequence: u64) -> io::Result<File> {
    let path = segment_path(dir, sequence);
    let mut file = private_options()
        .create_new(true)
        .append(true)
        .open(&path)?;
    file.write_all(MAGIC)?;
    file.sync_all()?;
    File::open(dir)?.sync_all()?;
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

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, expires_at: i64) -> Entry {
        Entry {
            key: 7,
            id,
            expires_at,
        }
    }

    #[test]
    fn entries_survive_a_reopen_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let (log, loaded) = NonceLog::open(dir.path(), 1_000, 900).unwrap();
        assert!(loaded.is_empty());
        log.append(entry(1, 1_500), 1_000).unwrap();
        log.append(entry(2, 2_000), 1_001).unwrap();
        drop(log);
        let (_log, loaded) = NonceLog::open(dir.path(), 1_200, 900).unwrap();
        assert_eq!(loaded, [entry(1, 1_500), entry(2, 2_000)]);
        drop(_log);
        let (_log, loaded) = NonceLog::open(dir.path(), 1_500, 900).unwrap();
        assert_eq!(loaded, [entry(2, 2_000)]);
    }

    #[test]
    fn one_server_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (_log, _) = NonceLog::open(dir.path(), 0, 900).unwrap();
        let second = NonceLog::open(dir.path(), 0, 900).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::WouldBlock, "{second}");
    }

    #[test]
    fn segments_rotate_and_expired_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let segments = || {
            let mut names: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(SUFFIX))
                .collect();
            names.sort();
            names
        };
        let (log, _) = NonceLog::open(dir.path(), 0, 100).unwrap();
        log.append(entry(1, 150), 0).unwrap();
        log.append(entry(2, 250), 100).unwrap(); // rotates
        assert_eq!(segments().len(), 2);
        log.append(entry(3, 400), 200).unwrap(); // rotates; the first segment expired at 150
        assert_eq!(segments().len(), 2);
        log.append(entry(4, 500), 300).unwrap(); // rotates; the second expired at 250
        assert_eq!(segments().len(), 2);
        drop(log);
        let (_log, loaded) = NonceLog::open(dir.path(), 300, 100).unwrap();
        assert_eq!(loaded, [entry(3, 400), entry(4, 500)]);
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
}
