//! PutSecretValue, UpdateSecretVersionStage and ListSecretVersionIds: one test per rule of
//! SPEC §3 and decisions.md, on every backend.

mod common;

use common::{
    START, assert_rejects_bad_paging, code, delete, get_request, list_versions, on_every_backend,
    parameter, put_request, put_with_stages, stage_request,
};
use secret_model::{ErrorCode, SecretDataType, Timestamp};
use secrets_manager::{ListSecretVersionIdsRequest, PutSecretValueRequest};

// ---- PutSecretValue ----

#[test]
fn put_without_stages_makes_the_new_version_current_and_the_old_current_previous() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let put = f.put("db", "v2", "two");
        assert_eq!(put.secret_name, "db");
        assert_eq!(put.version_id, "v2");
        assert_eq!(put.version_stages, ["ACSCurrent"]);
        f.assert_stages("db", &[("v1", &["ACSPrevious"]), ("v2", &["ACSCurrent"])]);

        f.put("db", "v3", "three");
        f.assert_stages(
            "db",
            &[
                ("v1", &[]),
                ("v2", &["ACSPrevious"]),
                ("v3", &["ACSCurrent"]),
            ],
        );
        assert_eq!(f.value("db", None, None), b"three");
        assert_eq!(f.value("db", None, Some("ACSPrevious")), b"two");
    });
}

#[test]
fn put_with_an_empty_stage_list_counts_as_not_given() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let put = f.put_staged("db", "v2", "two", &[]);
        assert_eq!(put.version_stages, ["ACSCurrent"]);
        f.assert_stages("db", &[("v1", &["ACSPrevious"]), ("v2", &["ACSCurrent"])]);
    });
}

#[test]
fn put_with_custom_stages_moves_each_off_its_holder_and_leaves_builtins_alone() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        let put = f.put_staged("db", "v3", "three", &["blue"]);
        assert_eq!(put.version_stages, ["blue"]);
        let put = f.put_staged("db", "v4", "four", &["blue", "green"]);
        assert_eq!(put.version_stages, ["blue", "green"]);
        f.assert_stages(
            "db",
            &[
                ("v1", &["ACSPrevious"]),
                ("v2", &["ACSCurrent"]),
                ("v3", &[]),
                ("v4", &["blue", "green"]),
            ],
        );
        assert_eq!(f.value("db", None, None), b"two");
        assert_eq!(f.value("db", None, Some("blue")), b"four");
    });
}

#[test]
fn put_with_acs_current_in_the_stage_list_shifts_the_old_current_to_previous() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.put_staged("db", "v3", "three", &["blue", "ACSCurrent"]);
        f.assert_stages(
            "db",
            &[
                ("v1", &[]),
                ("v2", &["ACSPrevious"]),
                ("v3", &["ACSCurrent", "blue"]),
            ],
        );
    });
}

#[test]
fn put_with_acs_previous_in_the_stage_list_moves_only_that_label() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.put_staged("db", "v3", "three", &["ACSPrevious"]);
        f.assert_stages(
            "db",
            &[
                ("v1", &[]),
                ("v2", &["ACSCurrent"]),
                ("v3", &["ACSPrevious"]),
            ],
        );
    });
}

#[test]
fn put_with_same_version_value_and_type_succeeds_and_changes_nothing() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        let before = f.snapshot("db").unwrap();
        f.clock.advance(60);
        for (version, data, labels) in [
            ("v2", "two", ["ACSCurrent"]),
            ("v1", "one", ["ACSPrevious"]),
        ] {
            let again = f.put("db", version, data);
            assert_eq!(again.version_id, version);
            assert_eq!(again.version_stages, labels, "the version's current labels");
        }
        // Other stages on the retry are not applied: the version exists, nothing changes.
        let again = f.put_staged("db", "v1", "one", &["ACSCurrent", "blue"]);
        assert_eq!(again.version_stages, ["ACSPrevious"]);
        assert_eq!(f.snapshot("db").unwrap(), before, "nothing was written");
    });
}

#[test]
fn put_with_same_version_and_other_data_is_rejected() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        let r = f.store.put_secret_value(put_request("db", "v1", "other"));
        assert_eq!(code(r), ErrorCode::ResourceExist);
        assert_eq!(f.snapshot("db").unwrap(), before);
        assert_eq!(f.value("db", Some("v1"), None), b"one");
    });
}

#[test]
fn put_with_same_version_and_data_but_other_type_is_rejected() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        let binary = PutSecretValueRequest {
            secret_data_type: Some(SecretDataType::Binary),
            ..put_request("db", "v1", "one")
        };
        let r = f.store.put_secret_value(binary);
        assert_eq!(code(r), ErrorCode::ResourceExist);
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn an_eleventh_version_evicts_the_oldest_unlabeled_version_and_its_ciphertext() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        // v1 keeps a label of its own, so it is older than every unlabeled version but stays.
        f.update_stage("db", "pinned", None, Some("v1"));
        for i in 2..=10 {
            f.put("db", &format!("v{i}"), &format!("value {i}"));
        }
        assert_eq!(f.record("db").unwrap().versions.len(), 10);
        assert!(f.payload("db", "v2").is_some());

        f.put("db", "v11", "value 11");

        let ids: Vec<String> = f.stages("db").into_iter().map(|(id, _)| id).collect();
        let expected: Vec<String> = std::iter::once(1)
            .chain(3..=11)
            .map(|i| format!("v{i}"))
            .collect();
        assert_eq!(
            ids, expected,
            "v2, the oldest version without labels, is gone"
        );
        assert!(
            f.payload("db", "v2").is_none(),
            "its ciphertext is gone too"
        );
        let snapshot = f.snapshot("db").unwrap();
        let mut stored: Vec<String> = snapshot
            .payloads
            .iter()
            .map(|(v, _)| v.to_string())
            .collect();
        let mut wanted = expected.clone();
        stored.sort();
        wanted.sort();
        assert_eq!(
            stored, wanted,
            "one ciphertext per remaining version, no more"
        );
        let r = f
            .store
            .get_secret_value(get_request("db", Some("v2"), None));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
        assert_eq!(f.value("db", None, Some("pinned")), b"one");
    });
}

#[test]
fn a_put_that_would_make_a_ninth_label_is_limit_exceeded_and_changes_nothing() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        // ACSCurrent plus seven custom labels: eight, the most a secret may carry.
        let seven = ["l1", "l2", "l3", "l4", "l5", "l6", "l7"];
        f.put_staged("db", "v2", "two", &seven);
        let before = f.snapshot("db").unwrap();
        f.clock.advance(60);

        let r = f
            .store
            .put_secret_value(put_with_stages("db", "v3", "three", &["l8"]));
        assert_eq!(code(r), ErrorCode::LimitExceeded);
        assert_eq!(
            f.snapshot("db").unwrap(),
            before,
            "no version, no ciphertext"
        );
        assert!(f.payload("db", "v3").is_none());

        // Reusing a label that exists is not a ninth one.
        f.put_staged("db", "v3", "three", &["l7"]);
    });
}

#[test]
fn put_on_a_secret_pending_deletion_is_in_delete_window_even_as_a_retry() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.store.delete_secret(delete("db", None)).unwrap();
        let before = f.snapshot("db").unwrap();
        for req in [
            put_request("db", "v2", "two"),
            put_request("db", "v1", "one"),
        ] {
            let r = f.store.put_secret_value(req);
            assert_eq!(code(r), ErrorCode::ResourceInDeleteWindow);
        }
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn put_on_an_unknown_secret_is_resource_not_found() {
    on_every_backend(|f| {
        let r = f.store.put_secret_value(put_request("nope", "v1", "x"));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
        assert!(f.record("nope").is_none());
    });
}

#[test]
fn put_with_an_invalid_stage_label_is_invalid_parameter_naming_version_stages() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let r = f
            .store
            .put_secret_value(put_with_stages("db", "v2", "two", &["not a label"]));
        assert_eq!(parameter(r), "VersionStages");
        assert_eq!(f.record("db").unwrap().versions.len(), 1);
    });
}

// ---- UpdateSecretVersionStage ----

#[test]
fn stage_update_with_only_move_to_adds_a_label() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        let r = f
            .store
            .update_secret_version_stage(stage_request("db", "blue", None, Some("v1")))
            .unwrap();
        assert_eq!(r.secret_name, "db");
        f.assert_stages(
            "db",
            &[("v1", &["ACSPrevious", "blue"]), ("v2", &["ACSCurrent"])],
        );
    });
}

#[test]
fn adding_a_label_to_the_version_that_holds_it_succeeds_and_writes_nothing() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.update_stage("db", "blue", None, Some("v1"));
        let before = f.snapshot("db").unwrap();
        f.clock.advance(60);
        f.update_stage("db", "blue", None, Some("v1"));
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn adding_a_label_another_version_holds_is_invalid_parameter_naming_remove_from_version() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.update_stage("db", "blue", None, Some("v1"));
        let before = f.snapshot("db").unwrap();
        for label in ["blue", "ACSCurrent"] {
            let holder_elsewhere = if label == "blue" { "v2" } else { "v1" };
            let r = f.store.update_secret_version_stage(stage_request(
                "db",
                label,
                None,
                Some(holder_elsewhere),
            ));
            assert_eq!(parameter(r), "RemoveFromVersion");
        }
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn stage_update_with_only_remove_from_removes_a_custom_label() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.update_stage("db", "blue", None, Some("v1"));
        f.clock.advance(60);
        f.update_stage("db", "blue", Some("v1"), None);
        f.assert_stages("db", &[("v1", &["ACSCurrent"])]);
        let d = f.describe("db").unwrap();
        assert_eq!(d.update_time, Timestamp::from_unix(START + 60));
    });
}

#[test]
fn acs_current_and_acs_previous_cannot_be_removed() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        let before = f.snapshot("db").unwrap();
        for (label, holder) in [("ACSCurrent", "v2"), ("ACSPrevious", "v1")] {
            let r =
                f.store
                    .update_secret_version_stage(stage_request("db", label, Some(holder), None));
            assert_eq!(parameter(r), "VersionStage");
        }
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn stage_update_with_both_versions_moves_a_custom_label() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.update_stage("db", "blue", None, Some("v1"));
        f.update_stage("db", "blue", Some("v1"), Some("v2"));
        f.assert_stages(
            "db",
            &[("v1", &["ACSPrevious"]), ("v2", &["ACSCurrent", "blue"])],
        );
    });
}

#[test]
fn moving_acs_current_gives_acs_previous_to_the_version_that_lost_it() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.put_staged("db", "v3", "three", &["candidate"]);
        f.update_stage("db", "ACSCurrent", Some("v2"), Some("v3"));
        f.assert_stages(
            "db",
            &[
                ("v1", &[]),
                ("v2", &["ACSPrevious"]),
                ("v3", &["ACSCurrent", "candidate"]),
            ],
        );
        assert_eq!(f.value("db", None, None), b"three");

        // Rolling back: the version that held ACSPrevious may take ACSCurrent back.
        f.update_stage("db", "ACSCurrent", Some("v3"), Some("v2"));
        f.assert_stages(
            "db",
            &[
                ("v1", &[]),
                ("v2", &["ACSCurrent"]),
                ("v3", &["ACSPrevious", "candidate"]),
            ],
        );
    });
}

#[test]
fn remove_from_a_version_not_holding_the_label_is_invalid_parameter() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.update_stage("db", "blue", None, Some("v2"));
        let before = f.snapshot("db").unwrap();
        let cases = [
            stage_request("db", "blue", Some("v1"), None),
            stage_request("db", "blue", Some("v1"), Some("v2")),
            stage_request("db", "ACSCurrent", Some("v1"), Some("v1")),
            stage_request("db", "green", Some("v1"), Some("v2")),
        ];
        for req in cases {
            let r = f.store.update_secret_version_stage(req);
            assert_eq!(parameter(r), "RemoveFromVersion");
        }
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn stage_update_naming_an_unknown_version_is_resource_not_found() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        let cases = [
            stage_request("db", "blue", None, Some("v9")),
            stage_request("db", "blue", Some("v9"), None),
            stage_request("db", "ACSCurrent", Some("v1"), Some("v9")),
            // Existence is checked before the label rules: removing ACSCurrent would be invalid.
            stage_request("db", "ACSCurrent", Some("v9"), None),
        ];
        for req in cases {
            let r = f.store.update_secret_version_stage(req);
            assert_eq!(code(r), ErrorCode::ResourceNotFound);
        }
        let unknown_secret = stage_request("nope", "blue", None, Some("v1"));
        let r = f.store.update_secret_version_stage(unknown_secret);
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn stage_update_without_either_version_is_missing_parameter_naming_move_to_version() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let r = f
            .store
            .update_secret_version_stage(stage_request("db", "blue", None, None));
        assert_eq!(code(r), ErrorCode::MissingParameter);
        let r =
            f.store
                .update_secret_version_stage(stage_request("db", "blue", Some(""), Some("")));
        assert_eq!(parameter(r), "MoveToVersion");
    });
}

#[test]
fn a_stage_update_that_would_make_a_ninth_label_is_limit_exceeded_and_changes_nothing() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        for label in ["l1", "l2", "l3", "l4", "l5", "l6", "l7"] {
            f.update_stage("db", label, None, Some("v1"));
        }
        let before = f.snapshot("db").unwrap();
        let r = f
            .store
            .update_secret_version_stage(stage_request("db", "l8", None, Some("v1")));
        assert_eq!(code(r), ErrorCode::LimitExceeded);
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

// ---- ListSecretVersionIds ----

#[test]
fn list_versions_shows_unlabeled_versions_only_with_include_deprecated() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.clock.advance(10);
        f.put("db", "v2", "two");
        f.clock.advance(10);
        f.put("db", "v3", "three");

        let labelled = f.versions("db", false);
        assert_eq!(labelled.secret_name, "db");
        assert_eq!(labelled.total_count, 2);
        let ids: Vec<&str> = labelled
            .version_ids
            .iter()
            .map(|v| v.version_id.as_str())
            .collect();
        assert_eq!(ids, ["v2", "v3"], "oldest first, without the unlabeled v1");
        assert_eq!(labelled.version_ids[0].version_stages, ["ACSPrevious"]);
        assert_eq!(labelled.version_ids[1].version_stages, ["ACSCurrent"]);
        assert_eq!(
            labelled.version_ids[1].create_time,
            Timestamp::from_unix(START + 20)
        );

        let all = f.versions("db", true);
        assert_eq!(all.total_count, 3);
        assert_eq!(all.version_ids[0].version_id, "v1");
        assert!(all.version_ids[0].version_stages.is_empty());
        assert_eq!(all.version_ids[0].create_time, Timestamp::from_unix(START));
    });
}

#[test]
fn list_versions_pages_with_the_total_count_of_every_page() {
    on_every_backend(|f| {
        f.create("db", "v01", "x");
        for i in 2..=10 {
            f.put("db", &format!("v{i:02}"), "x");
        }
        let first = f.versions("db", true);
        assert_eq!(
            (first.page_number, first.page_size),
            (1, 20),
            "the defaults"
        );
        assert_eq!(first.version_ids.len(), 10);

        let mut seen = Vec::new();
        for (page, len) in [(1, 3), (2, 3), (3, 3), (4, 1), (5, 0)] {
            let r = f
                .store
                .list_secret_version_ids(ListSecretVersionIdsRequest {
                    page_number: Some(page),
                    page_size: Some(3),
                    ..list_versions("db", true)
                })
                .unwrap();
            assert_eq!((r.page_number, r.page_size, r.total_count), (page, 3, 10));
            assert_eq!(r.version_ids.len(), len, "page {page}");
            seen.extend(r.version_ids.into_iter().map(|v| v.version_id));
        }
        let expected: Vec<String> = (1..=10).map(|i| format!("v{i:02}")).collect();
        assert_eq!(seen, expected);

        assert_rejects_bad_paging(|page_number, page_size| {
            f.store
                .list_secret_version_ids(ListSecretVersionIdsRequest {
                    page_number,
                    page_size,
                    ..list_versions("db", true)
                })
        });
    });
}

#[test]
fn list_versions_never_returns_values() {
    on_every_backend(|f| {
        let canary = "VERSION-LIST-CANARY-5d1e";
        f.create("db", "v1", canary);
        f.put("db", "v2", canary);
        let r = f.versions("db", true);
        assert_eq!(r.version_ids.len(), 2);
        assert!(!format!("{r:?}").contains(canary));
    });
}

#[test]
fn list_versions_of_an_unknown_secret_is_resource_not_found() {
    on_every_backend(|f| {
        let r = f.store.list_secret_version_ids(list_versions("nope", true));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
    });
}
