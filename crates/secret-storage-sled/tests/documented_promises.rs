//! `SledStorage`'s and `SledOptions`' documented promises, the less-travelled ones (defaults, option edges, what `collect_garbage` does on a store
//! without a value log).

use secret_storage::testkit::{sample_record, version_id};
use secret_storage::{Storage, Update};
use secret_storage_sled::{GarbageReport, SledOptions, SledStorage};

fn write(store: &SledStorage, name: &str, id: &str, payload: &[u8]) {
    let record = sample_record(name, &[id]);
    store
        .update(&record.name.clone(), &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: vec![(version_id(id), payload.into())],
            delete_payloads: vec![],
        })
        .unwrap();
}

fn delete(store: &SledStorage, name: &str) {
    let record = sample_record(name, &[]);
    store.update(&record.name, &mut |_| Update::Delete).unwrap();
}

/// `SledOptions::default()` holds the documented constants and the journal on.
#[test]
fn the_default_options_are_the_documented_constants() {
    let o = SledOptions::default();
    assert_eq!(o.cache_capacity_bytes, 256 * 1024 * 1024);
    assert_eq!(o.journal_capacity_bytes, 16 * 1024 * 1024);
    assert_eq!(o.value_segment_bytes, 64 * 1024 * 1024);
    assert!(o.journal);
    let o = SledOptions::default()
        .with_journal(false)
        .with_journal_capacity_bytes(1)
        .with_value_segment_bytes(2)
        .with_cache_capacity_bytes(3);
    assert_eq!(
        (
            o.journal,
            o.journal_capacity_bytes,
            o.value_segment_bytes,
            o.cache_capacity_bytes
        ),
        (false, 1, 2, 3)
    );
}

/// `collect_garbage`: "Does nothing on a store without a value log (opened with
/// `SledStorage::from_db` or without the write journal)".
#[test]
fn collect_garbage_does_nothing_without_a_value_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store =
            SledStorage::open_with(dir.path(), SledOptions::default().with_journal(false)).unwrap();
        for i in 0..20 {
            write(&store, &format!("s{i}"), "v1", &[7; 600]);
            delete(&store, &format!("s{i}"));
        }
        assert_eq!(store.collect_garbage().unwrap(), GarbageReport::default());
        assert!(
            !dir.path().join("values").exists()
                || std::fs::read_dir(dir.path().join("values"))
                    .unwrap()
                    .next()
                    .is_none()
        );
    }
    let db = sled::Config::new().temporary(true).open().unwrap();
    let store = SledStorage::from_db(db).unwrap();
    write(&store, "a", "v1", b"x");
    assert_eq!(store.collect_garbage().unwrap(), GarbageReport::default());
}

/// With the journal, a collection after deletes frees the segments they emptied, and the
/// payloads that are left still read back.
#[test]
fn collect_garbage_frees_the_segments_deletes_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open_with(
        dir.path(),
        SledOptions::default().with_value_segment_bytes(4096),
    )
    .unwrap();
    for i in 0..30 {
        write(&store, &format!("s{i:02}"), "v1", &[i as u8; 600]);
    }
    for i in 0..29 {
        delete(&store, &format!("s{i:02}"));
    }
    let report = store.collect_garbage().unwrap();
    assert!(report.segments_deleted > 0, "{report:?}");
    assert!(report.bytes_freed > 0);
    let name = sample_record("s29", &[]).name;
    assert_eq!(
        store.read_payload(&name, &version_id("v1")).unwrap(),
        Some(vec![29; 600])
    );
    assert_eq!(store.check_integrity().unwrap().secrets, 1);
}

/// `SledOptions::value_segment_bytes` and `journal_capacity_bytes` state no lower bound: the
/// smallest values must give a working store (every write still durable and readable), not a
/// panic or a hang.
#[test]
fn the_smallest_segment_and_journal_sizes_still_give_a_working_store() {
    for (segment, journal) in [(1, 1), (0, 0)] {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions::default()
            .with_value_segment_bytes(segment)
            .with_journal_capacity_bytes(journal);
        {
            let store = SledStorage::open_with(dir.path(), options.clone()).unwrap();
            for i in 0..5 {
                write(&store, &format!("s{i}"), "v1", b"payload");
            }
        }
        let store = SledStorage::open_with(dir.path(), options).unwrap();
        for i in 0..5 {
            let name = sample_record(&format!("s{i}"), &[]).name;
            assert_eq!(
                store.read_payload(&name, &version_id("v1")).unwrap(),
                Some(b"payload".to_vec()),
                "segment {segment}, journal {journal}"
            );
        }
    }
}

/// `flush_count`: "not counted: the syncs of opening the store and of journal checkpoints";
/// with the journal "a `Keep` returns at once" (no sync); each acknowledged write syncs.
#[test]
fn flush_count_counts_write_syncs_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    assert_eq!(store.flush_count(), 0, "opening is not counted");
    write(&store, "a", "v1", b"x");
    assert_eq!(store.flush_count(), 1);
    let name = sample_record("a", &[]).name;
    store.update(&name, &mut |_| Update::Keep).unwrap();
    assert_eq!(store.flush_count(), 1, "a Keep syncs nothing");
    let clone = store.clone();
    write(&clone, "b", "v1", b"y");
    assert_eq!(store.flush_count(), 2, "clones share the count");
}

/// `check_integrity` counts every secret and every payload, wherever it is kept.
#[test]
fn check_integrity_counts_secrets_and_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    let record = sample_record("a", &["v1", "v2", "v3"]);
    store
        .update(&record.name.clone(), &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: ["v1", "v2", "v3"]
                .iter()
                .map(|v| (version_id(v), b"p"[..].into()))
                .collect(),
            delete_payloads: vec![],
        })
        .unwrap();
    write(&store, "b", "v1", b"q");
    let report = store.check_integrity().unwrap();
    assert_eq!((report.secrets, report.payloads), (2, 4));
}
