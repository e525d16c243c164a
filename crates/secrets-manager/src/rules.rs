//! The rules of versions and stage labels (SPEC §3), as pure functions on a record.
//!
//! They run inside the storage's atomic step, so they must not do I/O: they take the current
//! record, change it or refuse, and say which payloads must go.

use std::collections::BTreeSet;

use secret_model::{StageLabel, VersionId, limits};
use secret_storage::{SecretRecord, VersionRecord};

use crate::error::Error;

/// Every distinct label on the record's versions.
pub(crate) fn labels(record: &SecretRecord) -> BTreeSet<&StageLabel> {
    record
        .versions
        .iter()
        .flat_map(|v| v.stages.iter())
        .collect()
}

fn holder(record: &SecretRecord, label: &StageLabel) -> Option<usize> {
    record
        .versions
        .iter()
        .position(|v| v.stages.contains(label))
}

fn index_of(record: &SecretRecord, id: &VersionId) -> Option<usize> {
    record.versions.iter().position(|v| v.version_id == *id)
}

/// Attaches `label` to version `to`, taking it off whichever version held it. Moving
/// `ACSCurrent` gives `ACSPrevious` to the version that lost it.
fn attach(record: &mut SecretRecord, label: &StageLabel, to: usize) {
    let from = holder(record, label);
    if from == Some(to) {
        return;
    }
    if let Some(from) = from {
        record.versions[from].stages.retain(|l| l != label);
    }
    record.versions[to].stages.push(label.clone());
    if label.is_current()
        && let Some(from) = from
    {
        attach(record, &StageLabel::previous(), from);
    }
}

fn check_label_limit(record: &SecretRecord) -> Result<(), Error> {
    let n = labels(record).len();
    if n > limits::STAGES_PER_SECRET_MAX {
        return Err(Error::LimitExceeded(format!(
            "a secret may carry at most {} distinct stage labels; this change would make {n}",
            limits::STAGES_PER_SECRET_MAX
        )));
    }
    Ok(())
}

/// Adds a new version (PutSecretValue) with `stages` (`None`: `ACSCurrent`), moving each label
/// off its previous holder. An 11th version evicts the oldest version without labels; the
/// evicted version ids are returned so their payloads can be removed in the same step.
///
/// Errors: `Rejected.LimitExceeded` when the secret would carry more than 8 distinct labels.
pub(crate) fn add_version(
    record: &mut SecretRecord,
    mut version: VersionRecord,
    stages: Option<&[StageLabel]>,
) -> Result<Vec<VersionId>, Error> {
    let wanted: Vec<StageLabel> = match stages {
        None => vec![StageLabel::current()],
        Some(list) => {
            // ACSCurrent first: its shift gives ACSPrevious to the old holder, which an explicit
            // ACSPrevious in the same list may then take over.
            let mut list: Vec<StageLabel> = list.to_vec();
            list.sort_by_key(|l| !l.is_current());
            list.dedup();
            list
        }
    };
    version.stages.clear();
    record.versions.push(version);
    let new = record.versions.len() - 1;
    for label in &wanted {
        attach(record, label, new);
    }
    check_label_limit(record)?;
    let mut evicted = Vec::new();
    while record.versions.len() > limits::VERSIONS_PER_SECRET_MAX {
        let Some(oldest_unlabeled) = record.versions.iter().position(|v| v.stages.is_empty())
        else {
            // Unreachable while labels are capped at 8 and versions at 10, but never loop.
            break;
        };
        evicted.push(record.versions.remove(oldest_unlabeled).version_id);
    }
    Ok(evicted)
}

/// UpdateSecretVersionStage: add (`move_to` only), remove (`remove_from` only, custom labels
/// only) or move (both; `remove_from` must hold the label).
///
/// Errors: `InvalidParameter` for a label `remove_from` does not carry, for removing a built-in
/// label, and for adding a label another version holds without naming it as
/// `RemoveFromVersion`; `MissingParameter` naming `MoveToVersion` when neither version is given
/// (decisions.md 6); `Forbidden.ResourceNotFound` for an unknown version;
/// `Rejected.LimitExceeded` past 8 distinct labels.
pub(crate) fn update_stage(
    record: &mut SecretRecord,
    label: &StageLabel,
    remove_from: Option<&VersionId>,
    move_to: Option<&VersionId>,
) -> Result<(), Error> {
    let find = |record: &SecretRecord, id: &VersionId| {
        index_of(record, id).ok_or_else(|| {
            Error::ResourceNotFound(format!(
                "The version \"{id}\" of secret \"{}\" is not found.",
                record.name
            ))
        })
    };
    let from = remove_from.map(|id| find(record, id)).transpose()?;
    let to = move_to.map(|id| find(record, id)).transpose()?;
    let current_holder = holder(record, label);
    match (from, to) {
        (None, None) => Err(Error::MissingParameter(
            secret_model::ValidationError::missing("MoveToVersion"),
        )),
        (Some(from), None) => {
            if label.is_builtin() {
                return Err(Error::invalid(
                    "VersionStage",
                    format!("\"{label}\" can only be moved to another version, never removed"),
                ));
            }
            if current_holder != Some(from) {
                return Err(not_on(label, &record.versions[from].version_id));
            }
            record.versions[from].stages.retain(|l| l != label);
            Ok(())
        }
        (None, Some(to)) => match current_holder {
            Some(h) if h == to => Ok(()),
            Some(h) => Err(Error::invalid(
                "RemoveFromVersion",
                format!(
                    "the stage \"{label}\" is attached to version \"{}\"; give that version as \
                     RemoveFromVersion to move it",
                    record.versions[h].version_id
                ),
            )),
            None => {
                attach(record, label, to);
                check_label_limit(record)
            }
        },
        (Some(from), Some(to)) => {
            if current_holder != Some(from) {
                return Err(not_on(label, &record.versions[from].version_id));
            }
            attach(record, label, to);
            check_label_limit(record)
        }
    }
}

fn not_on(label: &StageLabel, version: &VersionId) -> Error {
    Error::invalid(
        "RemoveFromVersion",
        format!("the version \"{version}\" does not carry the stage \"{label}\""),
    )
}

#[cfg(test)]
mod tests {
    use secret_model::{KeyId, SecretDataType, SecretName, SecretType, Timestamp, Uuid};

    use super::*;

    fn record(versions: &[(&str, &[&str])]) -> SecretRecord {
        SecretRecord {
            name: SecretName::parse("s").unwrap(),
            secret_type: SecretType::Generic,
            description: None,
            encryption_key_id: KeyId::new(Uuid::from_bytes([1; 16])),
            tags: vec![],
            create_time: Timestamp::from_unix(0),
            update_time: Timestamp::from_unix(0),
            planned_delete_time: None,
            versions: versions.iter().map(|(id, st)| version(id, st)).collect(),
            seal: None,
        }
    }

    fn version(id: &str, stages: &[&str]) -> VersionRecord {
        VersionRecord {
            version_id: VersionId::parse(id).unwrap(),
            data_type: SecretDataType::Text,
            stages: stages
                .iter()
                .map(|s| StageLabel::parse(s).unwrap())
                .collect(),
            create_time: Timestamp::from_unix(0),
            payload_tag: None,
            with_secret: false,
        }
    }

    fn stages_of(r: &SecretRecord) -> Vec<(String, Vec<String>)> {
        r.versions
            .iter()
            .map(|v| {
                let mut s: Vec<String> = v.stages.iter().map(ToString::to_string).collect();
                s.sort();
                (v.version_id.to_string(), s)
            })
            .collect()
    }

    fn labels_of(list: &[&str]) -> Vec<StageLabel> {
        list.iter().map(|s| StageLabel::parse(s).unwrap()).collect()
    }

    #[test]
    fn default_put_shifts_current_to_previous() {
        let mut r = record(&[("v1", &["ACSPrevious"]), ("v2", &["ACSCurrent"])]);
        add_version(&mut r, version("v3", &[]), None).unwrap();
        assert_eq!(
            stages_of(&r),
            [
                ("v1".into(), vec![]),
                ("v2".into(), vec!["ACSPrevious".into()]),
                ("v3".into(), vec!["ACSCurrent".into()])
            ]
        );
    }

    #[test]
    fn explicit_custom_stages_leave_builtins_alone() {
        let mut r = record(&[("v1", &["ACSCurrent", "blue"])]);
        add_version(&mut r, version("v2", &[]), Some(&labels_of(&["blue"]))).unwrap();
        assert_eq!(
            stages_of(&r),
            [
                ("v1".into(), vec!["ACSCurrent".into()]),
                ("v2".into(), vec!["blue".into()])
            ]
        );
    }

    #[test]
    fn an_eleventh_version_evicts_the_oldest_unlabeled_one() {
        let mut r = record(&[("v0", &["keep"])]);
        for i in 1..10 {
            add_version(&mut r, version(&format!("v{i}"), &[]), None).unwrap();
        }
        assert_eq!(r.versions.len(), 10);
        let evicted = add_version(&mut r, version("v10", &[]), None).unwrap();
        // v0 is older but labelled; v1 is the oldest without labels.
        assert_eq!(evicted, [VersionId::parse("v1").unwrap()]);
        assert_eq!(r.versions.len(), 10);
    }

    #[test]
    fn a_ninth_label_is_limit_exceeded() {
        let mut r = record(&[("v1", &["ACSCurrent", "a", "b", "c", "d", "e", "f", "g"])]);
        let e = add_version(&mut r, version("v2", &[]), Some(&labels_of(&["h"]))).unwrap_err();
        assert_eq!(e.code(), secret_model::ErrorCode::LimitExceeded);
    }

    #[test]
    fn moving_current_gives_previous_to_the_version_that_lost_it() {
        let mut r = record(&[("v1", &["ACSPrevious"]), ("v2", &["ACSCurrent"])]);
        let (v1, v2) = (
            VersionId::parse("v1").unwrap(),
            VersionId::parse("v2").unwrap(),
        );
        update_stage(&mut r, &StageLabel::current(), Some(&v2), Some(&v1)).unwrap();
        assert_eq!(
            stages_of(&r),
            [
                ("v1".into(), vec!["ACSCurrent".into()]),
                ("v2".into(), vec!["ACSPrevious".into()])
            ]
        );
    }

    #[test]
    fn builtin_labels_cannot_be_removed() {
        let mut r = record(&[("v1", &["ACSCurrent"])]);
        let v1 = VersionId::parse("v1").unwrap();
        let e = update_stage(&mut r, &StageLabel::current(), Some(&v1), None).unwrap_err();
        assert_eq!(e.code(), secret_model::ErrorCode::InvalidParameter);
    }
}
