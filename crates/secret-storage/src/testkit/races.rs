//! Cases with racing threads: updates of one secret are linearizable, and snapshots never see
//! half of an update.

use std::collections::BTreeSet;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};

use secret_model::{Description, VersionId};

use super::{put_sample, sample_payload, sample_record, secret_name, version_id};
use crate::{SecretRecord, Storage, Update, VersionRecord};

/// How many threads race in each case.
const THREADS: usize = 8;

fn with_version(record: &SecretRecord, id: &str) -> SecretRecord {
    let mut record = record.clone();
    let mut version: VersionRecord = sample_record("x", &[id]).versions.remove(0);
    version.stages.clear();
    record.versions.push(version);
    record
}

fn has_version(record: &SecretRecord, id: &VersionId) -> bool {
    record.versions.iter().any(|v| &v.version_id == id)
}

/// Threads race to add the same version id (each with its own payload) via "if it exists,
/// keep, else write": exactly one write wins, and every thread then reads the winner's payload.
pub fn racing_adds_of_one_version_have_one_winner<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    put_sample(&store, "race/version", &["v0"]);
    let name = secret_name("race/version");
    let contested = version_id("v1");
    let barrier = Barrier::new(THREADS);
    let outcomes: Vec<(bool, Option<Vec<u8>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (store, name, contested, barrier) = (&store, &name, &contested, &barrier);
                scope.spawn(move || {
                    let mine = format!("payload of thread {thread}").into_bytes();
                    let mut wrote = false;
                    barrier.wait();
                    store
                        .update(name, &mut |current| {
                            let current = current.expect("the secret was created first");
                            wrote = !has_version(current, contested);
                            if !wrote {
                                return Update::Keep;
                            }
                            Update::Write {
                                record: with_version(current, "v1"),
                                put_payloads: vec![(contested.clone(), mine.clone().into())],
                                delete_payloads: vec![],
                            }
                        })
                        .unwrap();
                    let seen = store.read_payload(name, contested).unwrap();
                    (wrote, seen)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = (0..THREADS).filter(|&t| outcomes[t].0).collect();
    assert_eq!(
        winners.len(),
        1,
        "writers whose write was applied: {winners:?}"
    );
    let winning = format!("payload of thread {}", winners[0]).into_bytes();
    for (thread, (_, seen)) in outcomes.iter().enumerate() {
        assert_eq!(
            seen.as_ref(),
            Some(&winning),
            "thread {thread} saw another payload"
        );
    }
    let record = store.read(&name).unwrap().expect("exists");
    let ids: Vec<&str> = record
        .versions
        .iter()
        .map(|v| v.version_id.as_str())
        .collect();
    assert_eq!(ids, ["v0", "v1"]);
}

/// Threads race to create the same secret, each with its own version id: exactly one creates
/// it, and all agree on which.
pub fn racing_creates_of_one_name_have_one_winner<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let name = secret_name("race/create");
    let barrier = Barrier::new(THREADS);
    let outcomes: Vec<(bool, Option<SecretRecord>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (store, name, barrier) = (&store, &name, &barrier);
                scope.spawn(move || {
                    let id = format!("t{thread}");
                    let mut created = false;
                    barrier.wait();
                    store
                        .update(name, &mut |current| {
                            created = current.is_none();
                            if !created {
                                return Update::Keep;
                            }
                            Update::Write {
                                record: sample_record("race/create", &[&id]),
                                put_payloads: vec![(
                                    version_id(&id),
                                    sample_payload("race/create", &id).into(),
                                )],
                                delete_payloads: vec![],
                            }
                        })
                        .unwrap();
                    (created, store.read(name).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = (0..THREADS).filter(|&t| outcomes[t].0).collect();
    assert_eq!(
        winners.len(),
        1,
        "creators whose write was applied: {winners:?}"
    );
    let winner_id = format!("t{}", winners[0]);
    let expected = sample_record("race/create", &[&winner_id]);
    for (thread, (_, seen)) in outcomes.iter().enumerate() {
        assert_eq!(
            seen.as_ref(),
            Some(&expected),
            "thread {thread} saw another record"
        );
    }
    let snap = store.snapshot(&name).unwrap().expect("exists");
    assert_eq!(
        snap.payloads,
        vec![(
            version_id(&winner_id),
            sample_payload("race/create", &winner_id)
        )]
    );
}

/// Threads concurrently add distinct versions to one secret by read-modify-write: none is
/// lost, so each update saw every update committed before it.
pub fn concurrent_adds_of_distinct_versions_lose_none<S: Storage + 'static>(make: &dyn Fn() -> S) {
    const PER_THREAD: usize = 6;
    let store = make();
    put_sample(&store, "race/many", &["v0"]);
    let name = secret_name("race/many");
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (store, name, barrier) = (&store, &name, &barrier);
            scope.spawn(move || {
                barrier.wait();
                for i in 0..PER_THREAD {
                    let id = format!("t{thread}-{i}");
                    let vid = version_id(&id);
                    store
                        .update(name, &mut |current| {
                            let current = current.expect("the secret was created first");
                            assert!(!has_version(current, &vid), "{id} was added twice");
                            Update::Write {
                                record: with_version(current, &id),
                                put_payloads: vec![(
                                    vid.clone(),
                                    sample_payload("race/many", &id).into(),
                                )],
                                delete_payloads: vec![],
                            }
                        })
                        .unwrap();
                }
            });
        }
    });
    let snap = store.snapshot(&name).unwrap().expect("exists");
    let mut expected: BTreeSet<String> = BTreeSet::from(["v0".to_owned()]);
    for thread in 0..THREADS {
        for i in 0..PER_THREAD {
            expected.insert(format!("t{thread}-{i}"));
        }
    }
    let in_record: BTreeSet<String> = snap
        .record
        .versions
        .iter()
        .map(|v| v.version_id.as_str().to_owned())
        .collect();
    assert_eq!(
        snap.record.versions.len(),
        expected.len(),
        "a version is listed twice"
    );
    assert_eq!(in_record, expected, "versions were lost");
    assert_eq!(snap.payloads.len(), expected.len());
    for (id, bytes) in &snap.payloads {
        assert_eq!(
            bytes,
            &sample_payload("race/many", id.as_str()),
            "payload of {id}"
        );
    }
}

/// While a writer replaces a secret's versions and payloads generation after generation,
/// concurrent snapshots always show one generation whole: every version in the record has
/// exactly its payload, there is no other payload, and generations never go backwards.
pub fn snapshots_never_see_a_torn_write<S: Storage + 'static>(make: &dyn Fn() -> S) {
    const GENERATIONS: u32 = 60;
    const READERS: usize = 3;
    let store = make();
    let name = secret_name("torn");
    let ids = |generation: u32| [format!("g{generation}a"), format!("g{generation}b")];
    let write_generation = |generation: u32| {
        let [a, b] = ids(generation);
        let mut record = sample_record("torn", &[&a, &b]);
        record.description =
            Some(Description::parse(&format!("gen {generation}")).expect("valid description"));
        let bytes = format!("gen {generation}").into_bytes();
        let old = if generation == 0 {
            vec![]
        } else {
            ids(generation - 1)
                .iter()
                .map(|id| version_id(id))
                .collect()
        };
        store
            .update(&name, &mut |_| Update::Write {
                record: record.clone(),
                put_payloads: vec![
                    (version_id(&a), bytes.clone().into()),
                    (version_id(&b), bytes.clone().into()),
                ],
                delete_payloads: old.clone(),
            })
            .unwrap();
    };
    write_generation(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..READERS {
            scope.spawn(|| {
                let mut last_generation = 0u32;
                let mut snapshots = 0u32;
                while !done.load(Ordering::Acquire) || snapshots == 0 {
                    let snap = store.snapshot(&name).unwrap().expect("the secret exists");
                    snapshots += 1;
                    let description = snap.record.description.as_ref().expect("has description");
                    let generation: u32 = description
                        .as_str()
                        .strip_prefix("gen ")
                        .and_then(|n| n.parse().ok())
                        .expect("description is \"gen N\"");
                    assert!(generation >= last_generation, "generation went backwards");
                    last_generation = generation;
                    let in_record: BTreeSet<&str> = snap
                        .record
                        .versions
                        .iter()
                        .map(|v| v.version_id.as_str())
                        .collect();
                    let with_payload: BTreeSet<&str> =
                        snap.payloads.iter().map(|(id, _)| id.as_str()).collect();
                    let expected = ids(generation);
                    assert_eq!(
                        in_record,
                        expected.iter().map(String::as_str).collect(),
                        "record of generation {generation}"
                    );
                    assert_eq!(
                        in_record, with_payload,
                        "torn snapshot at generation {generation}"
                    );
                    for (id, bytes) in &snap.payloads {
                        assert_eq!(
                            bytes,
                            description.as_str().as_bytes(),
                            "payload {id} is from another generation than the record"
                        );
                    }
                }
            });
        }
        for generation in 1..=GENERATIONS {
            write_generation(generation);
        }
        done.store(true, Ordering::Release);
    });
}
