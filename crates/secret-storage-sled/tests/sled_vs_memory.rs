//! `SledStorage` behaves as `MemoryStorage` for any sequence of writes and deletes (names that
//! share prefixes, payloads put, moved and removed), on both write paths, with reopens between
//! steps that switch between the journal (also one small enough to checkpoint often) and
//! transactions: reads, payloads, snapshots and paged lists agree after every step.

use proptest::prelude::*;
use secret_storage::testkit::{sample_record, secret_name, version_id};
use secret_storage::{MemoryStorage, Storage, Update};
use secret_storage_sled::{SledOptions, SledStorage};

#[derive(Clone, Debug)]
enum Step {
    Write {
        name: usize,
        versions: Vec<u8>,
        puts: Vec<(u8, u8)>,
        deletes: Vec<u8>,
    },
    Delete {
        name: usize,
    },
    Reopen {
        journal: bool,
        capacity_small: bool,
    },
}

const NAMES: [&str; 3] = ["a", "a/b", "a-"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (
            0..NAMES.len(),
            prop::collection::vec(0u8..4, 0..3),
            prop::collection::vec((0u8..4, any::<u8>()), 0..4),
            prop::collection::vec(0u8..4, 0..3),
        )
            .prop_map(|(name, versions, puts, deletes)| Step::Write {
                name,
                versions,
                puts,
                deletes
            }),
        1 => (0..NAMES.len()).prop_map(|name| Step::Delete { name }),
        1 => (any::<bool>(), any::<bool>())
            .prop_map(|(journal, capacity_small)| Step::Reopen { journal, capacity_small }),
    ]
}

fn options(journal: bool, small: bool) -> SledOptions {
    let o = SledOptions::default().with_journal(journal);
    if small {
        o.with_journal_capacity_bytes(4096 + 200)
    } else {
        o
    }
}

fn compare(mem: &MemoryStorage, sled: &SledStorage, n: usize) -> Result<(), TestCaseError> {
    for name in NAMES {
        let name = secret_name(name);
        prop_assert_eq!(
            mem.read(&name).unwrap(),
            sled.read(&name).unwrap(),
            "read {} step {}",
            name,
            n
        );
        prop_assert_eq!(
            mem.snapshot(&name).unwrap(),
            sled.snapshot(&name).unwrap(),
            "snapshot {} step {}",
            name,
            n
        );
        for v in 0..4 {
            let id = version_id(&format!("v{v}"));
            prop_assert_eq!(
                mem.read_payload(&name, &id).unwrap(),
                sled.read_payload(&name, &id).unwrap(),
                "read_payload {} {} step {}",
                name,
                id,
                n
            );
        }
    }
    let names = |s: &dyn Storage, after: Option<&str>, limit| {
        s.list(after.map(secret_name).as_ref(), limit)
            .unwrap()
            .into_iter()
            .map(|r| r.name.to_string())
            .collect::<Vec<_>>()
    };
    for after in [None, Some("a"), Some("a/b"), Some("a-")] {
        for limit in [1, 2, 10] {
            prop_assert_eq!(names(mem, after, limit), names(sled, after, limit));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sled_behaves_as_memory(steps in prop::collection::vec(step(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let mem = MemoryStorage::new();
        let mut sled = Some(SledStorage::open(dir.path()).unwrap());
        for (n, step) in steps.into_iter().enumerate() {
            match step {
                Step::Write { name, versions, puts, deletes } => {
                    let ids: Vec<String> = versions.iter().map(|v| format!("v{v}")).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let record = sample_record(NAMES[name], &ids);
                    let decision = Update::Write {
                        record,
                        put_payloads: puts
                            .iter()
                            .map(|(v, b)| (version_id(&format!("v{v}")), vec![*b; 20 + usize::from(*v)].into()))
                            .collect(),
                        delete_payloads: deletes.iter().map(|v| version_id(&format!("v{v}"))).collect(),
                    };
                    let name = secret_name(NAMES[name]);
                    mem.update(&name, &mut |_| decision.clone()).unwrap();
                    sled.as_ref().unwrap().update(&name, &mut |_| decision.clone()).unwrap();
                }
                Step::Delete { name } => {
                    let name = secret_name(NAMES[name]);
                    mem.update(&name, &mut |_| Update::Delete).unwrap();
                    sled.as_ref().unwrap().update(&name, &mut |_| Update::Delete).unwrap();
                }
                Step::Reopen { journal, capacity_small } => {
                    drop(sled.take());
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                    sled = Some(loop {
                        match SledStorage::open_with(dir.path(), options(journal, capacity_small)) {
                            Err(e) if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline => {
                                std::thread::sleep(std::time::Duration::from_millis(10));
                            }
                            other => break other.unwrap(),
                        }
                    });
                }
            }
            compare(&mem, sled.as_ref().unwrap(), n)?;
        }
        sled.as_ref().unwrap().check_integrity().unwrap();
    }
}
