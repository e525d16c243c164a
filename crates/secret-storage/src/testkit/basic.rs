//! Single-threaded cases: what each kind of update does, and what reads return.

use secret_model::Description;

use super::{
    put, put_sample, sample_payload, sample_record, secret_name, snapshot_payloads, version_id,
};
use crate::{SecretRecord, Storage, StorageError, Update};

fn payloads_of(versions: &[&str], name: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = versions
        .iter()
        .map(|id| (id.to_string(), sample_payload(name, id)))
        .collect();
    out.sort();
    out
}

fn apply(store: &dyn Storage, name: &str, decision: Update<'_>) -> Result<(), StorageError> {
    store.update(&secret_name(name), &mut |_| decision.clone())
}

/// A secret that was never written reads as `None` everywhere, and listing shows nothing.
pub fn absent_secret_reads_none<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let name = secret_name("absent");
    assert_eq!(store.read(&name).unwrap(), None);
    assert_eq!(store.read_payload(&name, &version_id("v1")).unwrap(), None);
    assert_eq!(store.snapshot(&name).unwrap(), None);
    assert!(store.list(None, 10).unwrap().is_empty());
}

/// A written record and its payloads read back exactly, by every read method.
pub fn write_then_read_returns_record_and_payloads<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let record = put_sample(&store, "app/db", &["v1", "v2"]);
    let name = secret_name("app/db");
    assert_eq!(store.read(&name).unwrap(), Some(record.clone()));
    for id in ["v1", "v2"] {
        assert_eq!(
            store.read_payload(&name, &version_id(id)).unwrap(),
            Some(sample_payload("app/db", id)),
            "payload of {id}"
        );
    }
    assert_eq!(store.read_payload(&name, &version_id("v3")).unwrap(), None);
    let snap = store.snapshot(&name).unwrap().expect("the secret exists");
    assert_eq!(snap.record, record);
    assert_eq!(
        snapshot_payloads(&store, "app/db"),
        payloads_of(&["v1", "v2"], "app/db")
    );

    // An empty payload and one of every byte value are stored as given.
    let every_byte: Vec<u8> = (0..=255).collect();
    let record = sample_record("bytes", &["empty", "all"]);
    put(
        &store,
        &record,
        &[("empty", vec![]), ("all", every_byte.clone())],
    );
    let name = secret_name("bytes");
    assert_eq!(
        store.read_payload(&name, &version_id("empty")).unwrap(),
        Some(vec![])
    );
    assert_eq!(
        store.read_payload(&name, &version_id("all")).unwrap(),
        Some(every_byte)
    );
}

/// `Update::Keep` leaves the record and payloads as they were.
pub fn keep_changes_nothing<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let record = put_sample(&store, "kept", &["v1"]);
    apply(&store, "kept", Update::Keep).unwrap();
    assert_eq!(store.read(&secret_name("kept")).unwrap(), Some(record));
    assert_eq!(
        snapshot_payloads(&store, "kept"),
        payloads_of(&["v1"], "kept")
    );

    apply(&store, "never-written", Update::Keep).unwrap();
    assert_eq!(store.read(&secret_name("never-written")).unwrap(), None);
}

/// `Update::Delete` removes the record and every payload, even one no version refers to.
pub fn delete_removes_record_and_every_payload<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let record = sample_record("doomed", &["v1", "v2"]);
    put(
        &store,
        &record,
        &[
            ("v1", sample_payload("doomed", "v1")),
            ("v2", sample_payload("doomed", "v2")),
            ("orphan", sample_payload("doomed", "orphan")),
        ],
    );
    apply(&store, "doomed", Update::Delete).unwrap();
    let name = secret_name("doomed");
    assert_eq!(store.read(&name).unwrap(), None);
    assert_eq!(store.snapshot(&name).unwrap(), None);
    for id in ["v1", "v2", "orphan"] {
        assert_eq!(
            store.read_payload(&name, &version_id(id)).unwrap(),
            None,
            "payload {id} survived the delete"
        );
    }
    assert!(store.list(None, 10).unwrap().is_empty());

    // Creating the secret again starts from nothing.
    put_sample(&store, "doomed", &["v3"]);
    assert_eq!(
        snapshot_payloads(&store, "doomed"),
        payloads_of(&["v3"], "doomed")
    );
}

/// Deleting a secret that does not exist succeeds and changes nothing.
pub fn delete_of_absent_secret_changes_nothing<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let other = put_sample(&store, "other", &["v1"]);
    apply(&store, "absent", Update::Delete).unwrap();
    assert_eq!(store.read(&secret_name("absent")).unwrap(), None);
    assert_eq!(store.list(None, 10).unwrap(), vec![other]);
}

/// Deleting `a` leaves `a.b`, `a/b`, `ab` and `a-` alone, though their names start with `a`.
pub fn delete_leaves_secrets_with_longer_names_alone<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let names = ["a", "a-", "a.b", "a/b", "ab"];
    for name in names {
        put_sample(&store, name, &["v1", "v2"]);
    }
    apply(&store, "a", Update::Delete).unwrap();
    assert_eq!(store.read(&secret_name("a")).unwrap(), None);
    for name in &names[1..] {
        assert_eq!(
            snapshot_payloads(&store, name),
            payloads_of(&["v1", "v2"], name),
            "payloads of {name}"
        );
    }
    let listed: Vec<String> = store
        .list(None, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.name.as_str().to_owned())
        .collect();
    assert_eq!(listed, names[1..]);
}

/// `delete_payloads` removes exactly the payloads listed and keeps the rest.
pub fn delete_payloads_removes_exactly_those<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    put_sample(&store, "s", &["v1", "v2", "v3", "v4"]);
    let record = sample_record("s", &["v2", "v4"]);
    apply(
        &store,
        "s",
        Update::Write {
            record: record.clone(),
            put_payloads: vec![],
            delete_payloads: vec![version_id("v1"), version_id("v3"), version_id("absent")],
        },
    )
    .unwrap();
    assert_eq!(store.read(&secret_name("s")).unwrap(), Some(record));
    assert_eq!(
        snapshot_payloads(&store, "s"),
        payloads_of(&["v2", "v4"], "s")
    );
    assert_eq!(
        store
            .read_payload(&secret_name("s"), &version_id("v1"))
            .unwrap(),
        None
    );
}

/// `put_payloads` adds new payloads and replaces existing ones, leaving others untouched.
pub fn put_payloads_replaces_and_keeps_other_payloads<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    put_sample(&store, "s", &["v1", "v2"]);
    let record = sample_record("s", &["v1", "v2", "v3"]);
    apply(
        &store,
        "s",
        Update::Write {
            record,
            put_payloads: vec![
                (version_id("v2"), b"replaced".to_vec().into()),
                (version_id("v3"), b"added".to_vec().into()),
            ],
            delete_payloads: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        snapshot_payloads(&store, "s"),
        vec![
            ("v1".to_owned(), sample_payload("s", "v1")),
            ("v2".to_owned(), b"replaced".to_vec()),
            ("v3".to_owned(), b"added".to_vec()),
        ]
    );
}

/// A version id both put and deleted in one write ends up without a payload.
pub fn payload_both_put_and_deleted_ends_up_deleted<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    put_sample(&store, "s", &["v1", "v2"]);
    apply(
        &store,
        "s",
        Update::Write {
            record: sample_record("s", &["v1"]),
            put_payloads: vec![(version_id("v2"), b"new".to_vec().into())],
            delete_payloads: vec![version_id("v2")],
        },
    )
    .unwrap();
    assert_eq!(snapshot_payloads(&store, "s"), payloads_of(&["v1"], "s"));
}

/// A snapshot holds every stored payload of the secret, also one no version refers to, and
/// none of another secret.
pub fn snapshot_returns_every_stored_payload<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    put_sample(&store, "s-other", &["v1"]);
    let record = sample_record("s", &["v1"]);
    put(
        &store,
        &record,
        &[
            ("v1", sample_payload("s", "v1")),
            ("unlisted", sample_payload("s", "unlisted")),
        ],
    );
    let snap = store.snapshot(&secret_name("s")).unwrap().expect("exists");
    assert_eq!(snap.record, record);
    assert_eq!(
        snapshot_payloads(&store, "s"),
        payloads_of(&["unlisted", "v1"], "s")
    );
}

/// A write whose record names another secret fails with `NameMismatch` and applies nothing,
/// whether or not the secret exists.
pub fn name_mismatch_is_rejected_and_applies_nothing<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let existing = put_sample(&store, "mine", &["v1"]);
    for target in ["mine", "absent"] {
        let result = apply(
            &store,
            target,
            Update::Write {
                record: sample_record("theirs", &["v9"]),
                put_payloads: vec![(version_id("v9"), b"x".to_vec().into())],
                delete_payloads: vec![version_id("v1")],
            },
        );
        assert!(
            matches!(result, Err(StorageError::NameMismatch)),
            "update of {target}: {result:?}"
        );
    }
    assert_eq!(store.read(&secret_name("mine")).unwrap(), Some(existing));
    assert_eq!(
        snapshot_payloads(&store, "mine"),
        payloads_of(&["v1"], "mine")
    );
    assert_eq!(store.read(&secret_name("absent")).unwrap(), None);
    assert_eq!(store.read(&secret_name("theirs")).unwrap(), None);
    assert_eq!(
        store
            .read_payload(&secret_name("mine"), &version_id("v9"))
            .unwrap(),
        None
    );
    assert_eq!(store.list(None, 10).unwrap().len(), 1);
}

/// Each update's closure is handed the record as the last committed update left it.
pub fn update_closure_sees_latest_committed_record<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    let name = secret_name("counter");
    let mut seen: Vec<Option<SecretRecord>> = Vec::new();
    for generation in 0..5 {
        let mut last_seen = None;
        store
            .update(&name, &mut |current| {
                last_seen = Some(current.cloned());
                let mut record = sample_record("counter", &["v1"]);
                record.description = Some(
                    Description::parse(&format!("gen {generation}")).expect("valid description"),
                );
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![],
                }
            })
            .unwrap();
        seen.push(last_seen.expect("the closure was called"));
    }
    assert_eq!(seen[0], None);
    for (generation, record) in seen.iter().enumerate().skip(1) {
        let description = record
            .as_ref()
            .and_then(|r| r.description.as_ref())
            .map(|d| d.as_str().to_owned());
        assert_eq!(description, Some(format!("gen {}", generation - 1)));
    }
    store
        .update(&name, &mut |current| {
            let description = current.and_then(|r| r.description.as_ref());
            assert_eq!(description.map(|d| d.as_str()), Some("gen 4"));
            Update::Keep
        })
        .unwrap();
}
