//! MemoryStorage runs the whole conformance suite, plus what is particular to it.

use secret_storage::testkit::{sample_record, secret_name};
use secret_storage::{MemoryStorage, Storage, Update};

secret_storage::conformance_tests!(MemoryStorage::new);

#[test]
fn run_all_passes_on_memory_storage() {
    secret_storage::testkit::run_all(&MemoryStorage::new);
}

#[test]
fn a_panicking_update_closure_applies_nothing_and_leaves_the_store_usable() {
    let store = MemoryStorage::new();
    let name = secret_name("s");
    let record = sample_record("s", &["v1"]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.update(&name, &mut |_| panic!("the caller's closure failed"))
    }));
    assert!(result.is_err());
    assert_eq!(store.read(&name).unwrap(), None);
    store
        .update(&name, &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: vec![],
            delete_payloads: vec![],
        })
        .unwrap();
    assert_eq!(store.read(&name).unwrap(), Some(record));
}
