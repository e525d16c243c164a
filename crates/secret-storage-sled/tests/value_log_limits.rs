//! The value log at its limits: more segments than the process may open files, and pointers
//! an operator damaged.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secret_storage::testkit::{sample_record, secret_name, version_id};
use secret_storage::{Storage, StorageError, Update};
use secret_storage_sled::{SledOptions, SledStorage};

const CHILD_TEST: &str = "fd_limited_child";
const ENV_DIR: &str = "VALUE_LOG_LIMITS_DIR";
const ENV_MODE: &str = "VALUE_LOG_LIMITS_MODE";
/// The soft limit of open files the children run under (a scaled-down 1024).
const FD_LIMIT: u32 = 128;
/// More secrets than the limit: each payload gets a segment of its own (1-byte segments).
const SECRETS: usize = 300;
const CHILD_LIMIT: Duration = Duration::from_secs(120);

fn fd_options() -> SledOptions {
    SledOptions::default().with_value_segment_bytes(1)
}

fn fd_payload(i: usize) -> Vec<u8> {
    format!("payload-{i};").into_bytes().repeat(8)
}

/// The child: `write` writes `SECRETS` secrets, printing `ACK i` for each acknowledged one and
/// `ERR` at the first failure (then whether reads are still served); `open` reopens the store
/// and prints `OPEN ok` and every secret it serves, or `OPEN ERR`.
#[test]
#[ignore = "run as a child process by the open-files test"]
fn fd_limited_child() {
    let (Ok(dir), Ok(mode)) = (std::env::var(ENV_DIR), std::env::var(ENV_MODE)) else {
        return;
    };
    match mode.as_str() {
        "write" => {
            let store = SledStorage::open_with(&dir, fd_options()).unwrap();
            for i in 0..SECRETS {
                let name = format!("s{i}");
                let record = sample_record(&name, &["v1"]);
                let result = store.update(&secret_name(&name), &mut |_| Update::Write {
                    record: record.clone(),
                    put_payloads: vec![(version_id("v1"), fd_payload(i).into())],
                    delete_payloads: vec![],
                });
                match result {
                    Ok(()) => println!("LIMITS ACK {i}"),
                    Err(e) => {
                        println!("LIMITS ERR {i} {e}");
                        break;
                    }
                }
            }
        }
        "open" => match SledStorage::open_with(&dir, fd_options()) {
            Ok(store) => {
                println!("LIMITS OPEN ok");
                for i in 0..SECRETS {
                    let name = secret_name(&format!("s{i}"));
                    match store.read_payload(&name, &version_id("v1")) {
                        Ok(Some(bytes)) if bytes == fd_payload(i) => println!("LIMITS HAS {i}"),
                        Ok(Some(_)) => println!("LIMITS WRONG {i}"),
                        Ok(None) => {}
                        Err(e) => println!("LIMITS READERR {i} {e}"),
                    }
                }
            }
            Err(e) => println!("LIMITS OPEN ERR {e}"),
        },
        other => panic!("unknown mode {other}"),
    }
}

/// Runs the child in `mode` on `dir` under a soft limit of `FD_LIMIT` open files; returns its
/// `LIMITS ` lines. Fails the test if it runs longer than `CHILD_LIMIT`.
fn run_limited(dir: &Path, mode: &str) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {FD_LIMIT} && exec \"$0\" \"$@\""))
        .arg(&exe)
        .args([
            CHILD_TEST,
            "--exact",
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_MODE, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHILD_LIMIT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the {mode} child ran longer than {CHILD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out.join().unwrap();
    let err = err.join().unwrap();
    assert!(
        status.success(),
        "the {mode} child failed ({status}):\n{out}\n{err}"
    );
    out.lines()
        .filter_map(|line| line.split_once("LIMITS ").map(|(_, rest)| rest.to_owned()))
        .collect()
}

/// A store with more value log segments than the process may open files is written, reopened
/// and read under that limit: segments are opened when needed and only a few kept open, so
/// every write is acknowledged and served again after reopening. 1-byte segments (one per
/// payload) and a soft limit of 128 stand in for the default 64 MiB segments and 1024.
#[test]
fn a_store_reopens_under_the_fd_limit_it_was_written_under() {
    let dir = tempfile::tempdir().unwrap();
    let written = run_limited(dir.path(), "write");
    let acked: Vec<usize> = written
        .iter()
        .filter_map(|l| l.strip_prefix("ACK ")?.parse().ok())
        .collect();
    assert!(!acked.is_empty(), "no write was acknowledged: {written:?}");
    let opened = run_limited(dir.path(), "open");
    assert_eq!(
        opened.first().map(String::as_str),
        Some("OPEN ok"),
        "{} writes acknowledged (then {:?}), but the store does not reopen under the same \
         limit: {:?}",
        acked.len(),
        written.iter().find(|l| l.starts_with("ERR")),
        opened.first()
    );
    for i in acked {
        assert!(
            opened.contains(&format!("HAS {i}")),
            "acknowledged write {i} is not served after reopening"
        );
    }
}

/// A payload index pointing past where any segment can end (offset 2^63, set by an operator
/// editing the record's pointer) is damage, `Corrupt` (`docs/formats.md`: "a payload that is
/// not there whole or fails its CRC is `Corrupt`"), as an offset just past the segment's end
/// is, and a length no payload has (checked against the file before anything is allocated).
#[test]
fn a_pointer_past_any_segment_end_is_corrupt_not_a_backend_failure() {
    for (offset, len) in [
        (Some(1u64 << 63), None),
        (Some(i64::MAX as u64 - 2), None),
        (Some(u64::MAX - 2), None),
        (Some(1 << 20), None),
        (None, Some(u32::MAX)),
        (None, Some(1 << 20)),
        (None, Some(4096)),
    ] {
        match read_through_edited_pointer(offset, len) {
            Err(StorageError::Corrupt(_)) => {}
            other => panic!("offset {offset:?}, length {len:?}: expected Corrupt, got {other:?}"),
        }
    }
}

/// Writes one payload, then sets its pointer's offset and length (where given) in sled
/// behind the store's back, and reads it through the store.
fn read_through_edited_pointer(
    offset: Option<u64>,
    len: Option<u32>,
) -> Result<Option<Vec<u8>>, StorageError> {
    let (_dir, store) = store_with_edited_pointer(|pointer| {
        if let Some(offset) = offset {
            pointer[8..16].copy_from_slice(&offset.to_be_bytes());
        }
        if let Some(len) = len {
            pointer[16..20].copy_from_slice(&len.to_be_bytes());
        }
    });
    store.read_payload(&secret_name("a"), &version_id("v1"))
}

/// A store holding one payload (`a`, `v1`) whose pointer — segment (8 bytes), offset (8),
/// length (4), CRC (4) — `edit` changed in sled behind the store's back, reopened.
fn store_with_edited_pointer(edit: impl FnOnce(&mut [u8])) -> (tempfile::TempDir, SledStorage) {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStorage::open(dir.path()).unwrap();
        let record = sample_record("a", &["v1"]);
        store
            .update(&secret_name("a"), &mut |_| Update::Write {
                record: record.clone(),
                put_payloads: vec![(version_id("v1"), b"payload"[..].into())],
                delete_payloads: vec![],
            })
            .unwrap();
    }
    // Reopened once: the journal no longer holds the frame that wrote the record.
    drop(reopen(dir.path()));
    {
        let started = Instant::now();
        let db = loop {
            match sled::open(dir.path()) {
                Ok(db) => break db,
                Err(e) if started.elapsed() > Duration::from_secs(10) => panic!("{e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let tree = db.open_tree("secrets").unwrap();
        let mut stored = tree.get(b"r/a").unwrap().unwrap().to_vec();
        // Index length (4), stamp (8), 0x01 "v1" 0x00 (4), then the pointer.
        assert_eq!(&stored[12..16], b"\x01v1\0");
        edit(&mut stored[16..16 + 24]);
        tree.insert(b"r/a", stored).unwrap();
        db.flush().unwrap();
    }
    let store = reopen(dir.path());
    (dir, store)
}

fn reopen(dir: &Path) -> SledStorage {
    let started = Instant::now();
    loop {
        match SledStorage::open(dir) {
            Ok(store) => return store,
            Err(e) if started.elapsed() > Duration::from_secs(10) => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// docs/formats.md: "a payload that is not there whole or fails its CRC is `Corrupt`"; this
/// file's test above: "an offset just past the segment's end is" damage. That holds for a
/// pointer whose length and CRC were zeroed too (the CRC-32 of no bytes is 0, so the checksum
/// cannot catch it): a pointer past the end of its segment is `Corrupt` whatever its length,
/// for a read and for `check_integrity` — not an empty payload that reads back fine and a
/// store that checks as healthy.
#[test]
fn a_zeroed_pointer_past_its_segment_end_is_corrupt() {
    let (_dir, store) = store_with_edited_pointer(|pointer| {
        pointer[8..16].copy_from_slice(&(1u64 << 20).to_be_bytes());
        pointer[16..24].fill(0);
    });
    match store.read_payload(&secret_name("a"), &version_id("v1")) {
        Err(StorageError::Corrupt(_)) => {}
        other => panic!("read: expected Corrupt, got {other:?}"),
    }
    match store.check_integrity() {
        Err(StorageError::Corrupt(_)) => {}
        other => panic!("check_integrity: expected Corrupt, got {other:?}"),
    }
}
