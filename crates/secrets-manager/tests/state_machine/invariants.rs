//! What must hold in storage after every step, read directly from the backend under the
//! facade: label and version limits, the records against the model, and that the stored
//! ciphertexts are exactly the versions of each record — nothing left behind by an eviction,
//! a forced deletion or a purge — and never change once written.

use std::collections::{BTreeMap, BTreeSet};

use secret_model::{SecretName, VersionId};
use secret_storage::{SecretRecord, Storage};

use crate::model::{CURRENT, Model, Secret};

/// The payloads seen for each secret, by incarnation, to check a version is written once.
#[derive(Default)]
pub struct SeenPayloads(BTreeMap<String, (u64, BTreeMap<String, Vec<u8>>)>);

fn all_records(storage: &dyn Storage) -> Vec<SecretRecord> {
    let mut records = Vec::new();
    let mut after: Option<SecretName> = None;
    loop {
        let page = storage.list(after.as_ref(), 2).expect("storage lists");
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        records.extend(page);
    }
    records
}

/// The names of the records in storage that the model says are gone (expired, not yet purged).
pub fn stale_names(storage: &dyn Storage, model: &Model) -> BTreeSet<String> {
    all_records(storage)
        .into_iter()
        .map(|r| r.name.as_str().to_owned())
        .filter(|n| !model.secrets.contains_key(n))
        .collect()
}

pub fn check(storage: &dyn Storage, model: &Model, seen: &mut SeenPayloads) {
    let records = all_records(storage);
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "storage lists in name order, each name once");
    for name in model.secrets.keys() {
        assert!(
            names.contains(&name.as_str()),
            "the secret {name:?} is missing from storage"
        );
    }
    let keys: BTreeSet<_> = records.iter().map(|r| r.encryption_key_id).collect();
    assert!(
        keys.len() <= 1,
        "every secret uses the store's default key: {keys:?}"
    );

    for record in &records {
        let name = record.name.as_str();
        check_labels(record);
        match model.secrets.get(name) {
            Some(secret) => check_record(record, secret),
            None => {
                assert!(
                    model.lingering.contains(name),
                    "storage holds {name:?}, which the model says was deleted or purged"
                );
                let planned = record
                    .planned_delete_time
                    .expect("a lingering secret was pending");
                assert!(crate::rules::is_past(planned.unix(), model.now));
            }
        }
        check_payloads(storage, record, model.secrets.get(name), seen);
    }
}

fn check_labels(record: &SecretRecord) {
    let name = record.name.as_str();
    assert!(
        record.versions.len() <= 10,
        "{name:?} holds {} versions",
        record.versions.len()
    );
    let mut labels = BTreeSet::new();
    for v in &record.versions {
        for label in &v.stages {
            assert!(
                labels.insert(label.as_str()),
                "{name:?}: the label {label:?} is on two versions (or twice on one)"
            );
        }
    }
    assert!(
        labels.len() <= 8,
        "{name:?} carries {} labels",
        labels.len()
    );
    assert!(
        labels.contains(CURRENT),
        "{name:?} has no ACSCurrent version"
    );
    let ids: BTreeSet<_> = record
        .versions
        .iter()
        .map(|v| v.version_id.as_str())
        .collect();
    assert_eq!(
        ids.len(),
        record.versions.len(),
        "{name:?}: a version id is held twice"
    );
}

fn check_record(record: &SecretRecord, secret: &Secret) {
    let name = record.name.as_str();
    assert_eq!(
        record.description.as_ref().map(|d| d.as_str().to_owned()),
        secret.description,
        "{name:?}: stored description"
    );
    let tags: Vec<(String, String)> = record
        .tags
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    assert_eq!(tags, secret.tags, "{name:?}: stored tags");
    assert_eq!(
        record.create_time.unix(),
        secret.create_time,
        "{name:?}: create time"
    );
    assert_eq!(
        record.update_time.unix(),
        secret.update_time,
        "{name:?}: update time"
    );
    assert_eq!(
        record.planned_delete_time.map(|t| t.unix()),
        secret.planned_delete_time,
        "{name:?}: planned delete time"
    );
    let stored: Vec<_> = record
        .versions
        .iter()
        .map(|v| {
            let labels: BTreeSet<String> = v.stages.iter().map(|s| s.as_str().to_owned()).collect();
            (
                v.version_id.as_str().to_owned(),
                v.data_type,
                labels,
                v.create_time.unix(),
            )
        })
        .collect();
    let expected: Vec<_> = secret
        .versions
        .iter()
        .map(|v| (v.id.clone(), v.data_type, v.labels.clone(), v.create_time))
        .collect();
    assert_eq!(stored, expected, "{name:?}: stored versions, oldest first");
}

fn check_payloads(
    storage: &dyn Storage,
    record: &SecretRecord,
    secret: Option<&Secret>,
    seen: &mut SeenPayloads,
) {
    let name = record.name.as_str();
    let snapshot = storage
        .snapshot(&record.name)
        .expect("storage reads")
        .expect("a listed secret has a snapshot");
    assert_eq!(
        &snapshot.record, record,
        "{name:?}: snapshot and listing agree"
    );
    let payload_ids: BTreeSet<&str> = snapshot.payloads.iter().map(|(v, _)| v.as_str()).collect();
    let version_ids: BTreeSet<&str> = record
        .versions
        .iter()
        .map(|v| v.version_id.as_str())
        .collect();
    assert_eq!(
        payload_ids, version_ids,
        "{name:?}: the stored ciphertexts are exactly the record's versions"
    );
    assert_eq!(
        payload_ids.len(),
        snapshot.payloads.len(),
        "{name:?}: a payload is stored twice"
    );

    let payloads: BTreeMap<String, Vec<u8>> = snapshot
        .payloads
        .into_iter()
        .map(|(v, p): (VersionId, Vec<u8>)| (v.as_str().to_owned(), p))
        .collect();
    let generation = match (secret, seen.0.get(name)) {
        (Some(s), _) => s.generation,
        (None, Some((g, _))) => *g,
        (None, None) => return,
    };
    if let Some((g, before)) = seen.0.get(name)
        && *g == generation
    {
        for (id, payload) in &payloads {
            if let Some(old) = before.get(id) {
                assert!(
                    old == payload,
                    "{name:?}: the ciphertext of version {id:?} changed"
                );
            }
        }
    }
    seen.0.insert(name.to_owned(), (generation, payloads));
}
