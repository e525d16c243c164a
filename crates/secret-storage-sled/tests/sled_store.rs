//! What is particular to the sled backend: durability across reopening, the layout version,
//! the directory lock, and how damage on disk is reported.

use secret_storage::testkit::{sample_payload, sample_record, secret_name, version_id};
use secret_storage::{SecretRecord, Storage, StorageError, Update, encode_record};
use secret_storage_sled::{IntegrityReport, SledOptions, SledStorage};

mod sled_db;
use sled_db::open_db;

fn write(store: &SledStorage, record: &SecretRecord) {
    let name = record.name.as_str().to_owned();
    store
        .update(&record.name, &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: record
                .versions
                .iter()
                .map(|v| {
                    let id = v.version_id.as_str();
                    (v.version_id.clone(), sample_payload(&name, id).into())
                })
                .collect(),
            delete_payloads: vec![],
        })
        .unwrap();
}

/// The raw tree, opened beside a store on the same database.
fn raw_tree(db: &sled::Db) -> sled::Tree {
    db.open_tree(b"secrets").unwrap()
}

fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StorageError>, needle: &str) {
    match result {
        Err(StorageError::Corrupt(message)) => {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}")
        }
        other => panic!("expected Corrupt containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn reopened_store_keeps_records_and_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let record = sample_record("prod/db", &["v1", "v2"]);
    {
        let store = SledStorage::open(dir.path()).unwrap();
        write(&store, &record);
    }
    let store = SledStorage::open(dir.path()).unwrap();
    let snap = store.snapshot(&record.name).unwrap().unwrap();
    assert_eq!(snap.record, record);
    assert_eq!(
        snap.payloads,
        vec![
            (version_id("v1"), sample_payload("prod/db", "v1")),
            (version_id("v2"), sample_payload("prod/db", "v2")),
        ]
    );
    assert_eq!(
        store.check_integrity().unwrap(),
        IntegrityReport {
            secrets: 1,
            payloads: 2
        }
    );
}

/// sled's finished snapshot files in `dir` (`snap.<LSN in 16 hex digits>`), oldest first.
fn finished_snapshots(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("snap.") && name.len() == "snap.".len() + 16)
        .collect();
    names.sort();
    names
}

#[test]
fn a_snapshot_left_unfinished_by_a_kill_does_not_stop_the_store_opening() {
    // A process killed while sled writes a snapshot leaves `snap.<LSN>.generating`, empty or
    // partly written (sled renames it to `snap.<LSN>` only once it is whole and synced). sled
    // 0.34.7 read it as the newest snapshot, failed its checksum and refused the store for good
    // ("Read corrupted data"); the vendored sled starts from the last finished one.
    let records = [
        sample_record("prod/db", &["v1", "v2"]),
        sample_record("app/key", &["a"]),
    ];
    for partly_written in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStorage::open(dir.path()).unwrap();
            for record in &records {
                write(&store, record);
            }
        }
        // sled writes a snapshot as it opens, when its log has grown since the last one.
        drop(SledStorage::open(dir.path()).unwrap());
        let finished = finished_snapshots(dir.path());
        let newest = finished.last().expect("sled wrote a snapshot as it opened");
        let lsn = u64::from_str_radix(&newest["snap.".len()..], 16).unwrap();
        let leftover = if partly_written {
            let whole = std::fs::read(dir.path().join(newest)).unwrap();
            whole[..whole.len() / 2].to_vec()
        } else {
            Vec::new()
        };
        let name = format!("snap.{:016X}.generating", lsn + 0x18);
        std::fs::write(dir.path().join(&name), leftover).unwrap();

        let store = SledStorage::open(dir.path()).unwrap_or_else(|e| {
            panic!("opening beside {name} (partly written: {partly_written}): {e}")
        });
        for record in &records {
            let snap = store.snapshot(&record.name).unwrap().unwrap();
            assert_eq!(&snap.record, record);
            assert_eq!(snap.payloads.len(), record.versions.len());
        }
        assert_eq!(
            store.check_integrity().unwrap(),
            IntegrityReport {
                secrets: 2,
                payloads: 3
            }
        );
        // Writes go on; the snapshot the next open writes removes the leftover.
        let after = sample_record("after/reopen", &["v1"]);
        write(&store, &after);
        drop(store);
        let store = SledStorage::open(dir.path()).unwrap();
        assert_eq!(store.snapshot(&after.name).unwrap().unwrap().record, after);
        assert!(!dir.path().join(&name).exists(), "{name} is still there");
    }
}

#[test]
fn store_with_a_newer_layout_version_is_refused_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStorage::open(dir.path()).unwrap());
    {
        let db = open_db(dir.path());
        raw_tree(&db)
            .insert(b"meta/format", &5u32.to_be_bytes()[..])
            .unwrap();
        db.flush().unwrap();
    }
    assert_corrupt(
        SledStorage::open(dir.path()),
        "layout version 5, written by a newer release",
    );
}

#[test]
fn malformed_layout_version_is_refused() {
    for (value, needle) in [
        (&b"\x00\x00\x00\x00"[..], "unknown layout version 0"),
        (&b"1"[..], "1 bytes long"),
    ] {
        let db = sled::Config::new().temporary(true).open().unwrap();
        raw_tree(&db).insert(b"meta/format", value).unwrap();
        assert_corrupt(SledStorage::from_db(db), needle);
    }
}

#[test]
fn tree_with_data_but_no_layout_version_is_refused() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    raw_tree(&db).insert(b"r/x", &b"?"[..]).unwrap();
    assert_corrupt(SledStorage::from_db(db), "no layout version");
}

#[test]
fn a_new_store_records_its_layout_version() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let _store = SledStorage::from_db(db.clone()).unwrap();
    assert_eq!(
        raw_tree(&db).get(b"meta/format").unwrap().unwrap().as_ref(),
        &4u32.to_be_bytes()
    );
}

/// A second open of an open store fails as in use, and retryable (the holder may let go); a
/// store that cannot be opened for another reason (its directory is a file) is not retryable
/// and not said to be in use.
#[test]
fn second_open_of_an_open_store_fails_with_a_backend_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStorage::open(dir.path()).unwrap();
    match SledStorage::open(dir.path()) {
        Err(StorageError::Backend { message, retryable }) => {
            assert!(message.contains("in use by another process"), "{message}");
            assert!(retryable, "{message}");
        }
        other => panic!("expected a Backend error, got {other:?}"),
    }
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    match SledStorage::open(&file) {
        Err(StorageError::Backend { message, retryable }) => {
            assert!(message.contains("opening the sled store"), "{message}");
            assert!(!message.contains("in use"), "{message}");
            assert!(!retryable, "{message}");
        }
        other => panic!("expected a Backend error, got {other:?}"),
    }
}

#[test]
fn damaged_record_is_reported_as_corrupt_by_every_operation() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let store = SledStorage::from_db(db.clone()).unwrap();
    let record = sample_record("s", &["v1"]);
    write(&store, &record);
    // The stored value: the index's length, the index, then the record; damage the record's
    // format version.
    let mut bytes = raw_tree(&db).get(b"r/s").unwrap().unwrap().to_vec();
    let index_len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(bytes[4 + index_len..], encode_record(&record)[..]);
    bytes[4 + index_len] = 9;
    raw_tree(&db).insert(b"r/s", bytes).unwrap();

    let name = secret_name("s");
    let needle = "record of s: unsupported record format version 9";
    assert_corrupt(store.read(&name), needle);
    assert_corrupt(store.snapshot(&name), needle);
    assert_corrupt(store.list(None, 10), needle);
    assert_corrupt(store.check_integrity(), needle);
    let mut called = false;
    assert_corrupt(
        store.update(&name, &mut |_| {
            called = true;
            Update::Delete
        }),
        needle,
    );
    assert!(!called, "the closure must not see a damaged record");
    // Nothing was deleted.
    assert_eq!(
        store.read_payload(&name, &version_id("v1")).unwrap(),
        Some(sample_payload("s", "v1"))
    );
}

#[test]
fn record_stored_under_another_name_is_corrupt() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let store = SledStorage::from_db(db.clone()).unwrap();
    write(&store, &sample_record("a", &["v1"]));
    let moved = raw_tree(&db).get(b"r/a").unwrap().unwrap();
    raw_tree(&db).insert(b"r/b", moved).unwrap();
    assert_corrupt(
        store.read(&secret_name("b")),
        "the record stored for b names a",
    );
}

#[test]
fn integrity_check_finds_payloads_and_indexes_out_of_place() {
    let cases: [(&[u8], &[u8], &str); 5] = [
        (
            b"p/ghost\0v1",
            b"x",
            "payloads of ghost are stored but ghost does not exist",
        ),
        (
            b"p/s\0v9",
            b"x",
            "payload of s version v9 is stored but not in its index",
        ),
        // A layout-1 index key has no place in layout 3.
        (b"i/ghost", &[0; 8], "unexpected key"),
        (
            b"r/ghost",
            &[0, 0, 0, 9],
            "stored record of ghost is truncated",
        ),
        (b"x/unknown", b"x", "unexpected key"),
    ];
    for (key, value, needle) in cases {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = SledStorage::from_db(db.clone()).unwrap();
        write(&store, &sample_record("s", &["v1"]));
        assert_eq!(
            store.check_integrity().unwrap(),
            IntegrityReport {
                secrets: 1,
                payloads: 1
            }
        );
        raw_tree(&db).insert(key, value).unwrap();
        assert_corrupt(store.check_integrity(), needle);
    }

    let db = sled::Config::new().temporary(true).open().unwrap();
    let store = SledStorage::from_db(db.clone()).unwrap();
    // v2, put last, is stored inline in the record; v1 under a key of its own.
    write(&store, &sample_record("s", &["v1", "v2"]));
    assert!(raw_tree(&db).get(b"p/s\0v2").unwrap().is_none());
    raw_tree(&db).remove(b"p/s\0v1").unwrap();
    assert_corrupt(
        store.check_integrity(),
        "lists version v1, whose payload is missing",
    );
    let stored = raw_tree(&db).get(b"r/s").unwrap().unwrap();
    raw_tree(&db).insert(b"r/s", &stored[..6]).unwrap();
    assert_corrupt(store.check_integrity(), "stored record of s is truncated");
}

#[test]
fn clones_share_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    let clone = store.clone();
    let record = sample_record("s", &["v1"]);
    write(&clone, &record);
    assert_eq!(store.read(&record.name).unwrap(), Some(record));
    assert!(format!("{store:?}").contains("SledStorage"));
}

#[test]
fn a_journaled_store_is_refused_by_from_db_until_opened_once_without_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let record = sample_record("journaled", &["v1"]);
    {
        let store = SledStorage::open(dir.path()).unwrap();
        write(&store, &record);
    }
    assert!(dir.path().join("secrets-journal").exists());
    {
        match SledStorage::from_db(open_db(dir.path())) {
            Err(StorageError::Backend { message, retryable }) => {
                assert!(message.contains("write journal"), "{message}");
                assert!(!retryable);
            }
            other => panic!("expected a Backend error, got {other:?}"),
        }
    }
    // Opening without the journal folds it into sled and removes it.
    {
        let options = SledOptions::default().with_journal(false);
        let store = SledStorage::open_with(dir.path(), options).unwrap();
        assert_eq!(store.read(&record.name).unwrap(), Some(record.clone()));
    }
    assert!(!dir.path().join("secrets-journal").exists());
    let store = SledStorage::from_db(open_db(dir.path())).unwrap();
    assert_eq!(store.read(&record.name).unwrap(), Some(record));
    assert_eq!(
        store.check_integrity().unwrap(),
        IntegrityReport {
            secrets: 1,
            payloads: 1
        }
    );
}

#[test]
fn a_damaged_journal_header_is_refused_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStorage::open(dir.path()).unwrap());
    let journal = dir.path().join("secrets-journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[..1024].fill(0xAA);
    std::fs::write(&journal, bytes).unwrap();
    assert_corrupt(SledStorage::open(dir.path()), "no valid header");
}

/// The keys of the store in `dir` past the `meta/` ones (the store must be closed).
fn data_keys(dir: &std::path::Path) -> Vec<String> {
    let db = open_db(dir);
    raw_tree(&db)
        .iter()
        .map(|entry| String::from_utf8_lossy(&entry.unwrap().0).into_owned())
        .filter(|key| !key.starts_with("meta/"))
        .collect()
}

/// Writes secret `s` (created if absent), putting and deleting the payloads given.
fn put_and_delete(store: &SledStorage, puts: &[(&str, &str)], deletes: &[&str]) {
    store
        .update(&secret_name("s"), &mut |current| Update::Write {
            record: current
                .cloned()
                .unwrap_or_else(|| sample_record("s", &["v1"])),
            put_payloads: puts
                .iter()
                .map(|(v, bytes)| (version_id(v), bytes.as_bytes().to_vec().into()))
                .collect(),
            delete_payloads: deletes.iter().map(|v| version_id(v)).collect(),
        })
        .unwrap();
}

/// The payloads of secret `s` as a snapshot reads them, each checked against `read_payload`.
fn payloads_of_s(store: &SledStorage) -> Vec<(String, String)> {
    let name = secret_name("s");
    let snapshot = store.snapshot(&name).unwrap().unwrap();
    for (v, bytes) in &snapshot.payloads {
        assert_eq!(store.read_payload(&name, v).unwrap().as_ref(), Some(bytes));
    }
    snapshot
        .payloads
        .into_iter()
        .map(|(v, bytes)| (v.to_string(), String::from_utf8(bytes).unwrap()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(v, b)| (v.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_new_payload_is_stored_inline_and_the_one_it_displaces_moves_out() {
    for journal in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions::default().with_journal(journal);
        let store = SledStorage::open_with(dir.path(), options.clone()).unwrap();
        // A create writes one key: the record, with its payload inline.
        put_and_delete(&store, &[("v1", "one")], &[]);
        assert_eq!(payloads_of_s(&store), pairs(&[("v1", "one")]));
        let name = secret_name("s");
        assert_eq!(store.read_payload(&name, &version_id("v9")).unwrap(), None);
        drop(store);
        assert_eq!(data_keys(dir.path()), ["r/s"], "journal: {journal}");
        if journal {
            // With the journal the payload is in the value log, not in sled.
            assert!(dir.path().join("values").exists());
        }

        let store = SledStorage::open_with(dir.path(), options.clone()).unwrap();
        // A new version goes inline; the one it displaces moves to a key of its own.
        put_and_delete(&store, &[("v2", "two")], &[]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "one"), ("v2", "two")])
        );
        // Put again, the inline one is replaced in place.
        put_and_delete(&store, &[("v2", "TWO")], &[]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "one"), ("v2", "TWO")])
        );
        // Put again, one with a key of its own is overwritten there; the inline one stays.
        put_and_delete(&store, &[("v1", "ONE")], &[]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "ONE"), ("v2", "TWO")])
        );
        // Deleting the inline one leaves none inline; the next put takes its place.
        put_and_delete(&store, &[], &["v2"]);
        assert_eq!(payloads_of_s(&store), pairs(&[("v1", "ONE")]));
        put_and_delete(&store, &[("v3", "three")], &[]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "ONE"), ("v3", "three")])
        );
        // Put and deleted in one write: no payload, and the one it displaced is kept.
        put_and_delete(&store, &[("v4", "four")], &["v4"]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "ONE"), ("v3", "three")])
        );
        // Deleted in the write that puts a new one inline.
        put_and_delete(&store, &[("v5", "five")], &["v3"]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "ONE"), ("v5", "five")])
        );
        // One write re-puts one with a key of its own, puts a new one that displaces the
        // inline one, then re-puts the one displaced: every payload survives, the last value
        // of each.
        put_and_delete(&store, &[("v1", "uno"), ("v6", "six"), ("v5", "FIVE")], &[]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "uno"), ("v5", "FIVE"), ("v6", "six")])
        );
        // Displaced and deleted in one write.
        put_and_delete(&store, &[("v7", "seven")], &["v6"]);
        assert_eq!(
            payloads_of_s(&store),
            pairs(&[("v1", "uno"), ("v5", "FIVE"), ("v7", "seven")])
        );
        assert_eq!(
            store.check_integrity().unwrap(),
            IntegrityReport {
                secrets: 1,
                payloads: 3
            }
        );
        drop(store);
        // With the journal every payload is in the value log; without, the two that were
        // displaced from the record have keys of their own.
        let expected: &[&str] = if journal {
            &["r/s"]
        } else {
            &["p/s\0v1", "p/s\0v5", "r/s"]
        };
        assert_eq!(data_keys(dir.path()), expected, "journal: {journal}");

        // A deleted secret leaves no key.
        let store = SledStorage::open_with(dir.path(), options).unwrap();
        store.update(&name, &mut |_| Update::Delete).unwrap();
        assert_eq!(store.read_payload(&name, &version_id("v7")).unwrap(), None);
        drop(store);
        assert!(data_keys(dir.path()).is_empty(), "journal: {journal}");
    }
}

#[test]
fn a_reader_of_single_payloads_never_misses_one_while_its_versions_are_put_again() {
    // v1 has a key of its own and v2 is inline; one thread puts them again by turns while
    // another reads both without any lock. Neither may ever read as missing: a payload put
    // again stays where it is, so no write removes a key a reader was sent to by the record
    // it read before.
    for journal in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions::default().with_journal(journal);
        let store = SledStorage::open_with(dir.path(), options).unwrap();
        put_and_delete(&store, &[("v1", "one")], &[]);
        put_and_delete(&store, &[("v2", "two")], &[]);
        let name = secret_name("s");
        std::thread::scope(|scope| {
            // A writer that panics ends the reads too, and the scope then fails the test.
            let writer = scope.spawn(|| {
                for i in 0..300 {
                    let (v, bytes) = if i % 2 == 0 {
                        ("v1", "one")
                    } else {
                        ("v2", "two")
                    };
                    put_and_delete(&store, &[(v, bytes)], &[]);
                }
            });
            let mut reads = 0;
            while !writer.is_finished() || reads == 0 {
                for (v, bytes) in [("v1", "one"), ("v2", "two")] {
                    let read = store.read_payload(&name, &version_id(v)).unwrap();
                    assert_eq!(
                        read.as_deref(),
                        Some(bytes.as_bytes()),
                        "{v} after {reads} reads, journal: {journal}"
                    );
                }
                reads += 1;
            }
        });
    }
}
