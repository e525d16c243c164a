//! The value log (`values/` in the store's directory): where journaled writes put payloads,
//! how it survives a crash, how its garbage is collected while readers and writers go on, and
//! how a store opened without its journal takes the payloads back into sled.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use secret_model::SecretName;
use secret_storage::testkit::{sample_record, secret_name, version_id};
use secret_storage::{Storage, StorageError, Update};
use secret_storage_sled::{IntegrityReport, SledOptions, SledStorage};

mod sled_db;
use sled_db::open_db;

/// Small segments, so that a few hundred payloads fill many.
fn options() -> SledOptions {
    SledOptions::default().with_value_segment_bytes(4096)
}

/// The payload of version `id` of `name`: 600 bytes that say whose they are.
fn payload(name: &str, id: &str) -> Vec<u8> {
    format!("{name}/{id};")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(600)
        .collect()
}

/// Puts version `v{round}` of `name` and deletes `v{round - 1}`: one live payload each time.
fn next_version(store: &SledStorage, name: &str, round: usize) {
    let id = format!("v{round}");
    let record = sample_record(name, &[&id]);
    let delete = if round == 0 {
        vec![]
    } else {
        vec![version_id(&format!("v{}", round - 1))]
    };
    store
        .update(&record.name.clone(), &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: vec![(version_id(&id), payload(name, &id).into())],
            delete_payloads: delete.clone(),
        })
        .unwrap();
}

/// The bytes the value log's segments hold.
fn value_log_bytes(dir: &Path) -> u64 {
    match std::fs::read_dir(dir.join("values")) {
        Ok(entries) => entries.map(|e| e.unwrap().metadata().unwrap().len()).sum(),
        Err(_) => 0,
    }
}

fn assert_holds(store: &SledStorage, names: &[String], round: usize) {
    let id = format!("v{round}");
    for name in names {
        let secret = secret_name(name);
        assert_eq!(
            store.read_payload(&secret, &version_id(&id)).unwrap(),
            Some(payload(name, &id)),
            "{name}"
        );
        let snapshot = store.snapshot(&secret).unwrap().unwrap();
        assert_eq!(
            snapshot.payloads,
            vec![(version_id(&id), payload(name, &id))]
        );
    }
}

/// A journaled write stores its payload in the value log, not in sled; puts that replace
/// payloads leave garbage there, which a collection frees while keeping every live payload
/// (moving those still live out of the segments it empties), also across reopening.
#[test]
fn a_collection_frees_what_no_record_points_to_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    // Three in four secrets get ten new versions; the others keep their first, in segments
    // that are mostly garbage by the end.
    let (churned, kept) = names.split_at(15);
    {
        let store = SledStorage::open_with(dir.path(), options()).unwrap();
        for name in &names {
            next_version(&store, name, 0);
        }
        for round in 1..=10 {
            for name in churned {
                next_version(&store, name, round);
            }
        }
        // 170 payloads of 600 bytes were written, 20 are live.
        let live = 20 * 600;
        // (Writes have collected by themselves meanwhile; this finishes the job.)
        store.collect_garbage().unwrap();
        let left = value_log_bytes(dir.path());
        assert!(
            left <= 2 * live + 2 * 4096,
            "{left} bytes left in the value log for {live} live"
        );
        assert_holds(&store, churned, 10);
        assert_holds(&store, kept, 0);
        assert_eq!(
            store.check_integrity().unwrap(),
            IntegrityReport {
                secrets: 20,
                payloads: 20
            }
        );
    }
    let store = SledStorage::open_with(dir.path(), options()).unwrap();
    assert_holds(&store, churned, 10);
    assert_holds(&store, kept, 0);
    store.check_integrity().unwrap();
}

/// A damaged payload (one byte of it flipped in its segment) cannot be moved, so its segment
/// is kept; every other segment is still collected, writes go on, and the damage is reported
/// on every read of that payload, never served.
#[test]
fn a_damaged_payload_keeps_its_segment_and_the_rest_is_collected() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    // `s0` shares the first segment with five secrets that get new versions, so that segment
    // is mostly garbage by the end; `s0`'s payload in it is damaged.
    let churned = &names[1..];
    let store = SledStorage::open_with(dir.path(), options()).unwrap();
    for name in &names {
        next_version(&store, name, 0);
    }
    let needle = payload("s0", "v0");
    let mut damaged = false;
    for entry in std::fs::read_dir(dir.path().join("values")).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            bytes[at + 10] ^= 1;
            std::fs::write(&path, bytes).unwrap();
            damaged = true;
        }
    }
    assert!(damaged, "the payload of s0 was not found");
    for round in 1..=10 {
        for name in churned {
            next_version(&store, name, round);
        }
    }
    let report = store.collect_garbage().unwrap();
    assert!(report.segments_deleted > 0, "{report:?}");
    let left = value_log_bytes(dir.path());
    assert!(
        left <= 2 * 20 * 600 + 3 * 4096,
        "{left} bytes left in the value log for 12,000 live"
    );
    assert_holds(&store, churned, 10);
    match store.read_payload(&secret_name("s0"), &version_id("v0")) {
        Err(StorageError::Corrupt(m)) => assert!(m.contains("checksum"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Writes collect by themselves once the value log has grown past twice what the last
/// collection left: churning the same secrets keeps it bounded without anyone calling
/// `collect_garbage`.
#[test]
fn writes_collect_by_themselves_and_keep_the_value_log_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open_with(dir.path(), options()).unwrap();
    let names: Vec<String> = (0..5).map(|i| format!("s{i}")).collect();
    let mut largest = 0;
    for round in 0..200 {
        for name in &names {
            next_version(&store, name, round);
        }
        largest = largest.max(value_log_bytes(dir.path()));
    }
    // 1,000 payloads of 600 bytes (600 KB) went through; 5 are live at any time.
    assert!(largest < 64 * 1024, "the value log grew to {largest} bytes");
    assert_holds(&store, &names, 199);
}

/// Used as the command line uses it — open, one write, close — a store whose secrets are
/// rewritten over and over keeps its value log bounded too: each process finds a collection
/// due from what the last one left (`meta/values`), or from nothing when none has run yet.
#[test]
fn one_write_per_process_keeps_the_value_log_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..2).map(|i| format!("s{i}")).collect();
    let mut largest = 0;
    for round in 0..150 {
        let store = SledStorage::open_with(dir.path(), options()).unwrap();
        for name in &names {
            next_version(&store, name, round);
        }
        drop(store);
        largest = largest.max(value_log_bytes(dir.path()));
    }
    // 300 payloads of 600 bytes (180 KB) went through; 2 are live at any time.
    assert!(
        largest < 64 * 1024,
        "the value log grew to {largest} bytes for 1,200 live"
    );
}

/// Readers and writers go on while collections run: no read fails or sees another version's
/// bytes, and every write lands.
#[test]
fn collections_run_alongside_readers_and_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open_with(dir.path(), options()).unwrap();
    let names: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    for name in &names {
        next_version(&store, name, 0);
    }
    const ROUNDS: usize = 150;
    let writers_left = AtomicUsize::new(names.len() / 2);
    std::thread::scope(|scope| {
        for chunk in names.chunks(2) {
            let (store, writers_left) = (&store, &writers_left);
            scope.spawn(move || {
                // Counted down even if the writer fails, so the others stop too.
                let _done = CountDown(writers_left);
                for round in 1..=ROUNDS {
                    for name in chunk {
                        next_version(store, name, round);
                    }
                }
            });
        }
        for _ in 0..2 {
            let (store, names, writers_left) = (&store, &names, &writers_left);
            scope.spawn(move || {
                while writers_left.load(Ordering::Relaxed) > 0 {
                    for name in names {
                        let snapshot = store.snapshot(&secret_name(name)).unwrap().unwrap();
                        for (id, bytes) in snapshot.payloads {
                            assert_eq!(bytes, payload(name, id.as_str()), "{name} {id}");
                        }
                    }
                }
            });
        }
        let (store, writers_left) = (&store, &writers_left);
        scope.spawn(move || {
            let mut collected = 0;
            while writers_left.load(Ordering::Relaxed) > 0 {
                collected += store.collect_garbage().unwrap().segments_deleted;
            }
            assert!(collected > 0, "no collection deleted a segment");
        });
    });
    assert_holds(&store, &names, ROUNDS);
    store.check_integrity().unwrap();
}

/// Counts a writer down when it ends, however it ends.
struct CountDown<'a>(&'a AtomicUsize);

impl Drop for CountDown<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The value log is never synced on the write path: a payload lost from it by a crash before
/// the next checkpoint is written again from the journal's frame when the store is reopened.
#[test]
fn a_payload_lost_from_the_value_log_before_a_checkpoint_comes_back_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStorage::open(dir.path()).unwrap();
        next_version(&store, "s", 0);
    }
    std::fs::remove_dir_all(dir.path().join("values")).unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    assert_holds(&store, &["s".to_owned()], 0);
    store.check_integrity().unwrap();
}

/// Once a checkpoint has passed, the value log holds the payload on its own: a segment lost
/// then is damage, reported by reads and by the integrity check, never served as a value.
#[test]
fn a_missing_segment_after_a_checkpoint_is_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStorage::open(dir.path()).unwrap();
        next_version(&store, "s", 0);
    }
    // Opening replays the journal and checkpoints it away.
    drop(SledStorage::open(dir.path()).unwrap());
    std::fs::remove_dir_all(dir.path().join("values")).unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    let name = secret_name("s");
    for result in [
        store.read_payload(&name, &version_id("v0")).map(drop),
        store.snapshot(&name).map(drop),
        store.check_integrity().map(drop),
    ] {
        match result {
            Err(StorageError::Corrupt(m)) => assert!(m.contains("missing"), "{m}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

/// Opened without its journal, a store takes its payloads back into sled (each under a key of
/// its own) and removes the value log, so that `SledStorage::from_db` reads it all; a
/// collection there does nothing.
#[test]
fn a_store_opened_without_its_journal_takes_its_payloads_back_into_sled() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..3).map(|i| format!("s{i}")).collect();
    {
        let store = SledStorage::open_with(dir.path(), options()).unwrap();
        for round in 0..=3 {
            for name in &names {
                next_version(&store, name, round);
            }
        }
    }
    assert!(dir.path().join("values").exists());
    {
        let store = SledStorage::open_with(dir.path(), options().with_journal(false)).unwrap();
        assert!(!dir.path().join("values").exists());
        assert_holds(&store, &names, 3);
        assert_eq!(store.collect_garbage().unwrap(), Default::default());
    }
    let store = SledStorage::from_db(open_db(dir.path())).unwrap();
    assert_holds(&store, &names, 3);
    assert_eq!(store.check_integrity().unwrap().payloads, 3);
    drop(store);
    // And back with the journal: new payloads go to a new value log, old ones stay in sled.
    let store = SledStorage::open_with(dir.path(), options()).unwrap();
    next_version(&store, "s0", 4);
    assert!(dir.path().join("values").exists());
    assert_holds(&store, &names[1..], 3);
    assert_holds(&store, &names[..1], 4);
    store.check_integrity().unwrap();
}

/// A record that points into the value log cannot be read by a store made with
/// `SledStorage::from_db` (which has no directory, so no value log); it says so. (A store is
/// normally folded back before that: see the test above.)
#[test]
fn from_db_reports_a_payload_it_cannot_reach() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStorage::open(dir.path()).unwrap();
        next_version(&store, "s", 0);
    }
    // Drop the journal mark by hand, as a tool that ignores it would.
    {
        let db = open_db(dir.path());
        db.open_tree(b"secrets")
            .unwrap()
            .remove(b"meta/journal")
            .unwrap();
        db.flush().unwrap();
    }
    let store = SledStorage::from_db(open_db(dir.path())).unwrap();
    let name: SecretName = secret_name("s");
    match store.read_payload(&name, &version_id("v0")) {
        Err(StorageError::Corrupt(m)) => assert!(m.contains("value log"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// A store that never fills a segment (the default 64 MiB) keeps writing to one: a collection
/// leaves the segment new payloads go to unless it is mostly garbage, so collecting such a
/// store often (every purge does) makes no new segment files; and once it is mostly garbage
/// (a deleted secret held most of it), a collection frees it, keeping what is live.
#[test]
fn a_store_that_never_fills_a_segment_is_collected_without_new_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    let segments = || {
        std::fs::read_dir(dir.path().join("values"))
            .unwrap()
            .count()
    };
    for round in 0..5 {
        next_version(&store, &format!("s{round}"), 0);
        store.collect_garbage().unwrap();
        assert_eq!(segments(), 1, "after collection {round}");
    }
    // One big payload, then its secret deleted: the segment is now mostly garbage.
    let big = secret_name("big");
    let record = sample_record("big", &["v1"]);
    store
        .update(&big, &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: vec![(version_id("v1"), vec![7u8; 30_000].into())],
            delete_payloads: vec![],
        })
        .unwrap();
    store.update(&big, &mut |_| Update::Delete).unwrap();
    let before = value_log_bytes(dir.path());
    assert!(before >= 30_000 + 5 * 600, "{before}");
    let report = store.collect_garbage().unwrap();
    assert_eq!(report.segments_deleted, 1, "{report:?}");
    assert_eq!(report.payloads_moved, 5, "{report:?}");
    assert_eq!(value_log_bytes(dir.path()), 5 * 600);
    let names: Vec<String> = (0..5).map(|i| format!("s{i}")).collect();
    assert_holds(&store, &names, 0);
    drop(store);
    let store = SledStorage::open(dir.path()).unwrap();
    assert_holds(&store, &names, 0);
    assert_eq!(store.read(&big).unwrap(), None);
}
