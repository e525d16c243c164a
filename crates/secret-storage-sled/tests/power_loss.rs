//! A power loss, modelled: sled's files go back to what they held when the store last made
//! sled durable (every open does, before its first journal frame), the journal keeps what its
//! `fdatasync`s covered. Every acknowledged write must come back, and no secret half-written.
//!
//! The model copies sled's files right after an open; a real power loss may keep more of what
//! sled wrote since (any subset), which the SIGKILL tests (`crash_recovery.rs`) cover.

use std::path::Path;

use secret_storage::testkit::{sample_record, secret_name, version_id};
use secret_storage::{Storage, Update};
use secret_storage_sled::{IntegrityReport, SledOptions, SledStorage};

/// Copies every file and folder of `from` but the journal into `to`.
fn copy_sled_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "secrets-journal" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_sled_files(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Puts sled's files in `dir` back to `saved`, keeping the journal.
fn lose_power(dir: &Path, saved: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "secrets-journal" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            std::fs::remove_dir_all(entry.path()).unwrap();
        } else {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    copy_sled_files(saved, dir);
}

fn add_version(store: &SledStorage, name: &str, versions: &[&str]) {
    let new = *versions.last().unwrap();
    store
        .update(&secret_name(name), &mut |_| Update::Write {
            record: sample_record(name, versions),
            put_payloads: vec![(version_id(new), format!("{name}/{new}").into_bytes().into())],
            delete_payloads: vec![],
        })
        .unwrap();
}

#[test]
fn writes_since_the_epoch_began_come_back_from_the_journal_after_sled_loses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, saved) = (tmp.path().join("data"), tmp.path().join("saved"));
    // Written without the journal, then the store switches to it. Its open makes sled durable
    // before the first frame (flush and `fsync`; this test cannot see an `fsync`, so it copies
    // the files at that point, which is what the `fsync` makes durable).
    {
        let store =
            SledStorage::open_with(&dir, SledOptions::default().with_journal(false)).unwrap();
        add_version(&store, "a", &["v1"]);
        add_version(&store, "gone", &["v1"]);
    }
    let store = SledStorage::open(&dir).unwrap();
    copy_sled_files(&dir, &saved);
    add_version(&store, "a", &["v1", "v2"]);
    add_version(&store, "b", &["v1"]);
    store
        .update(&secret_name("gone"), &mut |_| Update::Delete)
        .unwrap();
    drop(store);

    lose_power(&dir, &saved);
    let store = SledStorage::open(&dir).unwrap();
    assert_eq!(
        store.check_integrity().unwrap(),
        IntegrityReport {
            secrets: 2,
            payloads: 3
        }
    );
    let a = store.snapshot(&secret_name("a")).unwrap().unwrap();
    assert_eq!(
        a.payloads,
        vec![
            (version_id("v1"), b"a/v1".to_vec()),
            (version_id("v2"), b"a/v2".to_vec())
        ]
    );
    assert!(store.read(&secret_name("gone")).unwrap().is_none());
}
