//! Concurrent read-modify-writes of one secret (version churn: add one, drop the oldest) lose
//! no update, and readers taking snapshots and single keys meanwhile never see a torn state
//! (a record naming a payload that is missing or another's), on every write path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use secret_model::Description;
use secret_storage::testkit::{sample_record, secret_name, version_id};
use secret_storage::{Storage, Update};
use secret_storage_sled::{SledOptions, SledStorage};

fn payload(id: &str) -> Vec<u8> {
    format!("payload of {id}").into_bytes()
}

fn run(options: SledOptions) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open_with(dir.path(), options).unwrap();
    let name = secret_name("s");
    let next = AtomicU64::new(0);
    let writes = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                for _ in 0..150 {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let id = format!("v{k}");
                    store
                        .update(&name, &mut |current| {
                            let (mut ids, count): (Vec<String>, u64) = match current {
                                None => (vec![], 0),
                                Some(r) => (
                                    r.versions
                                        .iter()
                                        .map(|v| v.version_id.to_string())
                                        .collect(),
                                    r.description.as_ref().unwrap().as_str().parse().unwrap(),
                                ),
                            };
                            let mut deletes = vec![];
                            if ids.len() >= 3 {
                                deletes.push(version_id(&ids.remove(0)));
                            }
                            ids.push(id.clone());
                            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                            let mut record = sample_record("s", &refs);
                            record.description =
                                Some(Description::parse(&(count + 1).to_string()).unwrap());
                            Update::Write {
                                record,
                                put_payloads: vec![(version_id(&id), payload(&id).into())],
                                delete_payloads: deletes,
                            }
                        })
                        .unwrap();
                    writes.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        for _ in 0..2 {
            scope.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    if let Some(snap) = store.snapshot(&name).unwrap() {
                        let ids: Vec<_> = snap
                            .record
                            .versions
                            .iter()
                            .map(|v| v.version_id.clone())
                            .collect();
                        let got: Vec<_> = snap.payloads.iter().map(|(id, _)| id.clone()).collect();
                        let mut sorted = ids.clone();
                        sorted.sort();
                        assert_eq!(sorted, got, "torn snapshot");
                        for (id, bytes) in &snap.payloads {
                            assert_eq!(bytes, &payload(id.as_str()));
                        }
                    }
                    if let Some(record) = store.read(&name).unwrap() {
                        for v in &record.versions {
                            if let Some(bytes) = store.read_payload(&name, &v.version_id).unwrap() {
                                assert_eq!(bytes, payload(v.version_id.as_str()));
                            }
                        }
                    }
                }
            });
        }
        while writes.load(Ordering::SeqCst) < 450 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        done.store(true, Ordering::SeqCst);
    });
    let record = store.read(&name).unwrap().unwrap();
    assert_eq!(record.description.unwrap().as_str(), "450", "lost updates");
    store.check_integrity().unwrap();
}

#[test]
fn with_a_journal_that_checkpoints_often() {
    run(SledOptions::default().with_journal_capacity_bytes(4096 + 600));
}

#[test]
fn with_the_default_journal() {
    run(SledOptions::default());
}

#[test]
fn with_transactions() {
    run(SledOptions::default().with_journal(false));
}
