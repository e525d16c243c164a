//! Opening a store written in layout 1 (the payload index under `i/` name), layout 2 (the
//! index stored with the record, no inline payload) or layout 3 (a secret's newest payload
//! stored inline with the record) upgrades it to layout 4 (new payloads in the value log when
//! written through the journal), whichever way it is opened, and a store left half-upgraded by
//! a crash is finished on the next open.

use secret_model::Description;
use secret_storage::testkit::{sample_payload, sample_record, secret_name, version_id};
use secret_storage::{SecretRecord, Storage, StorageError, Update, encode_record};
use secret_storage_sled::{IntegrityReport, SledOptions, SledStorage};

mod sled_db;
use sled_db::open_db;

fn raw_tree(db: &sled::Db) -> sled::Tree {
    db.open_tree(b"secrets").unwrap()
}

/// Writes `record` and a payload for each of its versions exactly as layout 1 stored them.
fn write_layout_1(tree: &sled::Tree, record: &SecretRecord, stamp: u64) {
    let name = record.name.as_str();
    let mut index = stamp.to_be_bytes().to_vec();
    for version in &record.versions {
        let id = version.version_id.as_str();
        index.extend_from_slice(id.as_bytes());
        index.push(0);
        tree.insert(
            format!("p/{name}\0{id}").as_bytes(),
            sample_payload(name, id),
        )
        .unwrap();
    }
    tree.insert(format!("i/{name}").as_bytes(), index).unwrap();
    tree.insert(format!("r/{name}").as_bytes(), encode_record(record))
        .unwrap();
}

/// A layout-1 store in `dir` holding `records`, left open.
fn layout_1_db(dir: &std::path::Path, records: &[SecretRecord]) -> sled::Db {
    let db = open_db(dir);
    let tree = raw_tree(&db);
    tree.insert(b"meta/format", &1u32.to_be_bytes()[..])
        .unwrap();
    for (stamp, record) in records.iter().enumerate() {
        write_layout_1(&tree, record, stamp as u64 + 1);
    }
    db.flush().unwrap();
    db
}

/// A layout-1 store in `dir` holding `records`.
fn layout_1_store(dir: &std::path::Path, records: &[SecretRecord]) {
    drop(layout_1_db(dir, records));
}

fn records() -> Vec<SecretRecord> {
    vec![
        sample_record("prod/db", &["v1", "v2"]),
        sample_record("prod/api", &["v1"]),
    ]
}

/// What a store holding `records()` must answer, however it was upgraded.
fn assert_holds_records(store: &SledStorage) {
    for record in records() {
        let snapshot = store.snapshot(&record.name).unwrap().unwrap();
        assert_eq!(snapshot.record, record);
        let expected: Vec<_> = record
            .versions
            .iter()
            .map(|v| {
                let id = v.version_id.as_str();
                (
                    v.version_id.clone(),
                    sample_payload(record.name.as_str(), id),
                )
            })
            .collect();
        assert_eq!(snapshot.payloads, expected);
    }
    assert_eq!(
        store.check_integrity().unwrap(),
        IntegrityReport {
            secrets: 2,
            payloads: 3
        }
    );
}

fn layout_of(tree: &sled::Tree) -> u32 {
    u32::from_be_bytes(
        tree.get(b"meta/format")
            .unwrap()
            .unwrap()
            .as_ref()
            .try_into()
            .unwrap(),
    )
}

fn index_keys(tree: &sled::Tree) -> usize {
    tree.scan_prefix(b"i/").count()
}

#[test]
fn open_with_the_journal_upgrades_a_layout_1_store() {
    let dir = tempfile::tempdir().unwrap();
    layout_1_store(dir.path(), &records());
    {
        let store = SledStorage::open(dir.path()).unwrap();
        assert_holds_records(&store);
        // Writes go on in the new layout.
        let name = secret_name("prod/db");
        store
            .update(&name, &mut |current| {
                let record = current.unwrap().clone();
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![version_id("v1")],
                }
            })
            .unwrap();
        assert_eq!(store.read_payload(&name, &version_id("v1")).unwrap(), None);
    }
    let store =
        SledStorage::open_with(dir.path(), SledOptions::default().with_journal(false)).unwrap();
    let report = store.check_integrity().unwrap();
    assert_eq!((report.secrets, report.payloads), (2, 2));
    drop(store);
    let db = open_db(dir.path());
    let tree = raw_tree(&db);
    assert_eq!(layout_of(&tree), 4);
    assert_eq!(index_keys(&tree), 0);
}

#[test]
fn from_db_upgrades_a_layout_1_store() {
    let dir = tempfile::tempdir().unwrap();
    layout_1_store(dir.path(), &records());
    let db = open_db(dir.path());
    let store = SledStorage::from_db(db.clone()).unwrap();
    assert_holds_records(&store);
    assert_eq!(layout_of(&raw_tree(&db)), 4);
    assert_eq!(index_keys(&raw_tree(&db)), 0);
    // A second value on the same database finds it upgraded.
    assert_holds_records(&SledStorage::from_db(db).unwrap());
}

/// A layout-2 store in `dir` holding `records()`: what the layout-1 fold writes, saying 2.
fn layout_2_store(dir: &std::path::Path) {
    layout_1_store(dir, &records());
    let db = open_db(dir);
    drop(SledStorage::from_db(db.clone()).unwrap());
    raw_tree(&db)
        .insert(b"meta/format", &2u32.to_be_bytes()[..])
        .unwrap();
    db.flush().unwrap();
}

#[test]
fn a_layout_2_store_is_upgraded_by_its_version_alone_and_takes_new_writes() {
    for journal in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        layout_2_store(dir.path());
        let before: Vec<_> = {
            let db = open_db(dir.path());
            raw_tree(&db)
                .scan_prefix(b"r/")
                .map(|entry| entry.unwrap())
                .collect()
        };
        let options = SledOptions::default().with_journal(journal);
        {
            let store = SledStorage::open_with(dir.path(), options.clone()).unwrap();
            assert_holds_records(&store);
        }
        {
            let db = open_db(dir.path());
            let tree = raw_tree(&db);
            assert_eq!(layout_of(&tree), 4);
            let after: Vec<_> = tree
                .scan_prefix(b"r/")
                .map(|entry| entry.unwrap())
                .collect();
            assert_eq!(after, before, "no record is rewritten");
        }
        // A new version of a layout-2 secret is stored in the value log (with the journal) or
        // inline (without); the others stay where they are.
        let store = SledStorage::open_with(dir.path(), options).unwrap();
        let name = secret_name("prod/api");
        store
            .update(&name, &mut |current| Update::Write {
                record: current.unwrap().clone(),
                put_payloads: vec![(version_id("v2"), b"two".to_vec().into())],
                delete_payloads: vec![],
            })
            .unwrap();
        let payloads = store.snapshot(&name).unwrap().unwrap().payloads;
        assert_eq!(
            payloads,
            vec![
                (version_id("v1"), sample_payload("prod/api", "v1")),
                (version_id("v2"), b"two".to_vec())
            ]
        );
        assert_eq!(
            store.check_integrity().unwrap().payloads,
            4,
            "journal: {journal}"
        );
    }
}

/// A store as a crash in the middle of an upgrade leaves it: `prod/db` already in layout 2,
/// `prod/api` not, and `meta/format` saying `format`.
fn half_upgraded_store(dir: &std::path::Path, format: u32) {
    let upgraded = {
        let dir = tempfile::tempdir().unwrap();
        layout_1_store(dir.path(), &records()[..1]);
        let db = open_db(dir.path());
        drop(SledStorage::from_db(db.clone()).unwrap());
        raw_tree(&db).get(b"r/prod/db").unwrap().unwrap()
    };
    let db = open_db(dir);
    let tree = raw_tree(&db);
    tree.insert(b"meta/format", &format.to_be_bytes()[..])
        .unwrap();
    write_layout_1(&tree, &records()[1], 7);
    tree.insert(b"r/prod/db", upgraded).unwrap();
    for id in ["v1", "v2"] {
        tree.insert(
            format!("p/prod/db\0{id}").as_bytes(),
            sample_payload("prod/db", id),
        )
        .unwrap();
    }
    db.flush().unwrap();
}

#[test]
fn a_half_upgraded_store_is_finished_on_the_next_open() {
    // Layout 2 with a layout-1 secret left: what an interrupted upgrade leaves now, as
    // `meta/format` is set before any secret changes.
    let dir = tempfile::tempdir().unwrap();
    half_upgraded_store(dir.path(), 2);
    let store = SledStorage::open(dir.path()).unwrap();
    assert_holds_records(&store);
    drop(store);
    let db = open_db(dir.path());
    assert_eq!(index_keys(&raw_tree(&db)), 0);
}

#[test]
fn a_half_upgraded_store_still_saying_layout_1_is_finished_too() {
    // What an upgrade interrupted by the first layout-2 release (which set `meta/format` last)
    // leaves.
    let dir = tempfile::tempdir().unwrap();
    half_upgraded_store(dir.path(), 1);
    let db = open_db(dir.path());
    let store = SledStorage::from_db(db.clone()).unwrap();
    assert_holds_records(&store);
    assert_eq!(layout_of(&raw_tree(&db)), 4);
    assert_eq!(index_keys(&raw_tree(&db)), 0);
}

#[test]
fn a_damaged_layout_1_store_is_refused_and_left_as_it_was() {
    // Each damage is to `prod/db`; `prod/api` sorts first and is intact, so an upgrade that
    // folded as it went would have changed it before finding the damage.
    type Damage = fn(&sled::Tree);
    let damages: [(Damage, &str); 3] = [
        (
            |tree| {
                tree.remove(b"r/prod/db").unwrap();
            },
            "prod/db has a payload index but no record",
        ),
        (
            |tree| {
                tree.remove(b"i/prod/db").unwrap();
            },
            "prod/db has a record but no payload index",
        ),
        (
            |tree| {
                let other = tree.get(b"r/prod/api").unwrap().unwrap();
                tree.insert(b"r/prod/db", other).unwrap();
            },
            "the record stored for prod/db names prod/api",
        ),
    ];
    for (damage, expected) in damages {
        let dir = tempfile::tempdir().unwrap();
        let before: Vec<_> = {
            let db = layout_1_db(dir.path(), &records());
            let tree = raw_tree(&db);
            damage(&tree);
            db.flush().unwrap();
            tree.iter().map(Result::unwrap).collect()
        };
        match SledStorage::open(dir.path()) {
            Err(StorageError::Corrupt(m)) => assert!(m.contains(expected), "{m}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let db = open_db(dir.path());
        // Opening replayed the journal and set its mark (as any open with the journal does);
        // no secret and no layout version changed.
        let after: Vec<_> = raw_tree(&db)
            .iter()
            .map(Result::unwrap)
            .filter(|(key, _)| key != b"meta/journal")
            .collect();
        assert_eq!(after, before, "the store is unchanged, still at layout 1");
    }
}

#[test]
fn values_upgrading_one_database_at_once_lose_no_write() {
    // Several `from_db` values on one layout-1 database, each upgrading what it finds; one of
    // them writes every secret, one by one, as soon as it is open. No other value's upgrade
    // may put an old record back over such a write, nor mistake it for damage.
    const SECRETS: usize = 300;
    let all: Vec<_> = (0..SECRETS)
        .map(|i| sample_record(&format!("s{i:04}"), &["v1"]))
        .collect();
    for _round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let db = layout_1_db(dir.path(), &all);
        std::thread::scope(|scope| {
            for writer in 0..4 {
                let db = db.clone();
                let all = &all;
                scope.spawn(move || {
                    let store = SledStorage::from_db(db).unwrap();
                    if writer != 0 {
                        return;
                    }
                    for record in all {
                        store
                            .update(&record.name, &mut |current| {
                                let mut record = current.unwrap().clone();
                                record.description =
                                    Some(Description::parse("written after the upgrade").unwrap());
                                Update::Write {
                                    record,
                                    put_payloads: vec![],
                                    delete_payloads: vec![],
                                }
                            })
                            .unwrap();
                    }
                });
            }
        });
        let store = SledStorage::from_db(db.clone()).unwrap();
        for record in &all {
            let read = store.read(&record.name).unwrap().unwrap();
            assert_eq!(
                read.description.as_ref().map(|d| d.as_str()),
                Some("written after the upgrade"),
                "{}",
                record.name.as_str()
            );
        }
        assert_eq!(index_keys(&raw_tree(&db)), 0);
    }
}

/// The value under `r/` + name, built from `docs/formats.md` ("The sled layout, version 4")
/// without the crate's encoder: the index's length `u32` big-endian, the index (a `u64`
/// big-endian stamp; each own-key version id ended by `0x00`; each value-log entry as `0x01`,
/// id, `0x00`, pointer; then `0x00`, the inline id, `0x00` and the inline payload), then the
/// record's bytes.
fn documented_record_value(
    stamp: u64,
    own_keys: &[&str],
    logged: &[(&str, [u8; 24])],
    inline: Option<(&str, &[u8])>,
    record: &[u8],
) -> Vec<u8> {
    let mut index = stamp.to_be_bytes().to_vec();
    for id in own_keys {
        index.extend_from_slice(id.as_bytes());
        index.push(0x00);
    }
    for (id, pointer) in logged {
        index.push(0x01);
        index.extend_from_slice(id.as_bytes());
        index.push(0x00);
        index.extend_from_slice(pointer);
    }
    if let Some((id, bytes)) = inline {
        index.push(0x00);
        index.extend_from_slice(id.as_bytes());
        index.push(0x00);
        index.extend_from_slice(bytes);
    }
    let mut value = (index.len() as u32).to_be_bytes().to_vec();
    value.extend_from_slice(&index);
    value.extend_from_slice(record);
    value
}

/// A layout-3 store exactly as `docs/formats.md` describes it — `meta/format` = `00 00 00 03`,
/// `prod/db`'s `v1` under `p/prod/db\0v1` and `v2` inline (after an empty entry, holding
/// `0x00` bytes of its own) — opens, says layout 4 afterwards (the version number alone
/// changed: the record's value keeps its bytes), and serves both payloads, with the journal
/// and without.
#[test]
fn a_layout_3_store_built_from_the_documented_bytes_opens_and_is_upgraded_by_its_number() {
    for journal in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let record = encode_record(&sample_record("prod/db", &["v1", "v2"]));
        let inline = b"\0inline\0payload\0";
        let value = documented_record_value(7, &["v1"], &[], Some(("v2", inline)), &record);
        {
            let db = open_db(dir.path());
            let tree = raw_tree(&db);
            tree.insert(b"meta/format", &[0, 0, 0, 3][..]).unwrap();
            tree.insert(b"r/prod/db", value.clone()).unwrap();
            tree.insert(b"p/prod/db\0v1", &b"own key"[..]).unwrap();
            db.flush().unwrap();
        }
        {
            let options = SledOptions::default().with_journal(journal);
            let store = SledStorage::open_with(dir.path(), options).unwrap();
            let name = secret_name("prod/db");
            let snapshot = store.snapshot(&name).unwrap().unwrap();
            assert_eq!(snapshot.record, sample_record("prod/db", &["v1", "v2"]));
            assert_eq!(
                snapshot.payloads,
                vec![
                    (version_id("v1"), b"own key".to_vec()),
                    (version_id("v2"), inline.to_vec()),
                ],
                "journal: {journal}"
            );
            assert_eq!(
                store
                    .read_payload(&name, &version_id("v2"))
                    .unwrap()
                    .as_deref(),
                Some(&inline[..])
            );
            assert_eq!(
                store.check_integrity().unwrap(),
                IntegrityReport {
                    secrets: 1,
                    payloads: 2
                }
            );
        }
        let db = open_db(dir.path());
        let tree = raw_tree(&db);
        assert_eq!(
            tree.get(b"meta/format").unwrap().unwrap(),
            &[0, 0, 0, 4][..]
        );
        assert_eq!(
            tree.get(b"r/prod/db").unwrap().unwrap(),
            value,
            "no record is rewritten"
        );
    }
}

/// A layout-4 store whose payload is in the value log, built from `docs/formats.md`: the
/// index entry `0x01`, id, `0x00`, then the 24-byte pointer (segment `u64`, offset `u64`,
/// length `u32`, CRC-32 (IEEE) of the payload `u32`, all big-endian), and the payload at that
/// offset in `values/` + the segment number as 16 lowercase hex digits, with no header or
/// framing. The store reads it; a pointer whose CRC does not match is `Corrupt`.
#[test]
fn a_value_log_payload_built_from_the_documented_bytes_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let record = encode_record(&sample_record("prod/db", &["v1"]));
    let payload = b"a payload in the value log".to_vec();
    let offset = 5u64;
    let pointer = |crc: u32| {
        let mut p = [0u8; 24];
        p[..8].copy_from_slice(&0x1au64.to_be_bytes());
        p[8..16].copy_from_slice(&offset.to_be_bytes());
        p[16..20].copy_from_slice(&(payload.len() as u32).to_be_bytes());
        p[20..].copy_from_slice(&crc.to_be_bytes());
        p
    };
    let good = documented_record_value(
        9,
        &[],
        &[("v1", pointer(crc32fast::hash(&payload)))],
        None,
        &record,
    );
    {
        let db = open_db(dir.path());
        let tree = raw_tree(&db);
        tree.insert(b"meta/format", &4u32.to_be_bytes()[..])
            .unwrap();
        tree.insert(b"r/prod/db", good).unwrap();
        db.flush().unwrap();
    }
    std::fs::create_dir(dir.path().join("values")).unwrap();
    let mut segment = b"junk!".to_vec(); // the 5 bytes before the payload's offset
    segment.extend_from_slice(&payload);
    segment.extend_from_slice(b"after");
    std::fs::write(dir.path().join("values/000000000000001a"), &segment).unwrap();
    let name = secret_name("prod/db");
    {
        let store = SledStorage::open(dir.path()).unwrap();
        assert_eq!(
            store.read_payload(&name, &version_id("v1")).unwrap(),
            Some(payload.clone())
        );
        assert_eq!(store.check_integrity().unwrap().payloads, 1);
    }
    // The same pointer with another CRC: the payload is damaged.
    {
        let db = open_db(dir.path());
        let bad = documented_record_value(
            10,
            &[],
            &[("v1", pointer(crc32fast::hash(&payload) ^ 1))],
            None,
            &record,
        );
        raw_tree(&db).insert(b"r/prod/db", bad).unwrap();
        db.flush().unwrap();
    }
    let store = SledStorage::open(dir.path()).unwrap();
    let read = store.read_payload(&name, &version_id("v1"));
    assert!(
        matches!(&read, Err(StorageError::Corrupt(m)) if m.contains("checksum")),
        "{read:?}"
    );
}
