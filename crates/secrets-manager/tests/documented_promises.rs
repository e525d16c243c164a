//! The facade's documented promises: each test calls the API exactly as its rustdoc (or
//! SPEC.md / decisions.md) describes and checks one promise, at the edges the other test
//! files do not walk.

mod common;

use common::{
    ACCOUNT, REGION, START, code, create_request, get_request, memory, on_every_backend, parameter,
    put_request, put_with_stages, stage_request, tag_list, tag_request,
};
use secret_model::{ErrorCode, SecretDataType, Timestamp};
use secrets_manager::{
    CreateSecretRequest, DeleteSecretRequest, GetRandomPasswordRequest,
    ListSecretVersionIdsRequest, ListSecretsRequest, ListTagResourcesRequest,
    PutSecretValueRequest, RestoreSecretRequest, TagResourcesRequest, UpdateSecretRequest,
};

fn arn(name: &str) -> String {
    format!("acs:kms:{REGION}:{ACCOUNT}:secret/{name}")
}

// ---- validation edges (SPEC §2) ----

#[test]
fn secret_name_of_192_characters_is_accepted_and_193_is_invalid() {
    on_every_backend(|f| {
        let long = "n".repeat(192);
        f.create(&long, "v1", "x");
        assert_eq!(f.value(&arn(&long), None, None), b"x");
        let over = "n".repeat(193);
        assert_eq!(
            parameter(f.store.create_secret(create_request(&over, "v1", "x"))),
            "SecretName"
        );
        for bad in ["dé", "a b", "a\tb", "acs/x", "a#b", "\u{1F512}"] {
            assert_eq!(
                parameter(f.store.create_secret(create_request(bad, "v1", "x"))),
                "SecretName",
                "{bad:?}"
            );
        }
    });
}

#[test]
fn version_id_of_64_characters_is_accepted_and_65_or_whitespace_or_unicode_is_invalid() {
    on_every_backend(|f| {
        let long = "v".repeat(64);
        f.create("db", &long, "x");
        assert_eq!(f.value("db", Some(&long), None), b"x");
        for bad in ["v".repeat(65), "a b".into(), "a\nb".into(), "vé".into()] {
            assert_eq!(
                parameter(f.store.put_secret_value(put_request("db", &bad, "y"))),
                "VersionId",
                "{bad:?}"
            );
            assert_eq!(
                parameter(
                    f.store
                        .get_secret_value(get_request("db", Some(&bad), None))
                ),
                "VersionId"
            );
        }
        // Printable ASCII punctuation is allowed (Decision).
        f.put("db", "v!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "z");
    });
}

#[test]
fn stage_label_of_64_characters_is_accepted_and_65_is_invalid_naming_each_parameter() {
    on_every_backend(|f| {
        f.create("db", "v1", "x");
        let long = "s".repeat(64);
        f.put_staged("db", "v2", "y", &[&long]);
        assert_eq!(f.value("db", None, Some(&long)), b"y");
        let over = "s".repeat(65);
        assert_eq!(
            parameter(
                f.store
                    .put_secret_value(put_with_stages("db", "v3", "z", &[&over]))
            ),
            "VersionStages"
        );
        assert_eq!(
            parameter(
                f.store
                    .get_secret_value(get_request("db", None, Some(&over)))
            ),
            "VersionStage"
        );
        assert_eq!(
            parameter(f.store.update_secret_version_stage(stage_request(
                "db",
                &over,
                None,
                Some("v1")
            ))),
            "VersionStage"
        );
        assert_eq!(
            parameter(f.store.update_secret_version_stage(stage_request(
                "db",
                "a/b",
                None,
                Some("v1")
            ))),
            "VersionStage"
        );
        assert_eq!(f.versions("db", true).version_ids.len(), 2, "nothing added");
    });
}

#[test]
fn secret_data_of_30720_bytes_is_accepted_and_30721_is_invalid_for_both_types() {
    on_every_backend(|f| {
        for (name, ty) in [("t", SecretDataType::Text), ("b", SecretDataType::Binary)] {
            let max = vec![b'a'; 30_720];
            f.store
                .create_secret(CreateSecretRequest {
                    secret_data: max.clone().into(),
                    secret_data_type: Some(ty),
                    ..create_request(name, "v1", "")
                })
                .unwrap();
            assert_eq!(f.value(name, None, None), max);
            let r = f.store.put_secret_value(PutSecretValueRequest {
                secret_data: vec![b'a'; 30_721].into(),
                secret_data_type: Some(ty),
                ..put_request(name, "v2", "")
            });
            assert_eq!(parameter(r), "SecretData");
            assert_eq!(f.versions(name, true).version_ids.len(), 1);
        }
    });
}

#[test]
fn description_limit_counts_characters_not_bytes() {
    on_every_backend(|f| {
        let d = "é".repeat(1024); // 2,048 bytes
        f.create_with("db", Some(&d), &[]);
        assert_eq!(f.describe("db").unwrap().description, d);
        let r = f.store.create_secret(CreateSecretRequest {
            description: Some("é".repeat(1025)),
            ..create_request("db2", "v1", "x")
        });
        assert_eq!(parameter(r), "Description");
        assert_eq!(code(f.describe("db2")), ErrorCode::ResourceNotFound);
    });
}

#[test]
fn tag_parts_of_128_characters_are_accepted_and_129_empty_or_unicode_are_invalid() {
    on_every_backend(|f| {
        let k = "k".repeat(128);
        let v = "v".repeat(128);
        f.create_with("db", None, &[(&k, &v)]);
        for (key, value, param) in [
            ("k".repeat(129), "v".to_owned(), "TagKey"),
            ("k".into(), "v".repeat(129), "TagValue"),
            (String::new(), "v".into(), "TagKey"),
            ("k".into(), String::new(), "TagValue"),
            ("ké".into(), "v".into(), "TagKey"),
            ("k".into(), "vé".into(), "TagValue"),
            ("aliyunx".into(), "v".into(), "TagKey"),
            ("acs:x".into(), "v".into(), "TagKey"),
        ] {
            let r = f.store.tag_resource(tag_request("db", &[(&key, &value)]));
            assert_eq!(parameter(r), param, "{key:?}={value:?}");
        }
        assert_eq!(f.tags_of("db").len(), 1, "nothing tagged");
    });
}

#[test]
fn create_with_duplicate_tag_keys_is_invalid_parameter_and_creates_nothing() {
    on_every_backend(|f| {
        let r = f.store.create_secret(CreateSecretRequest {
            tags: tag_list(&[("env", "a"), ("env", "b")]),
            ..create_request("db", "v1", "x")
        });
        assert_eq!(parameter(r), "Tags");
        assert!(f.record("db").is_none());
    });
}

#[test]
fn a_tag_batch_that_only_overwrites_keys_on_a_full_secret_is_not_limit_exceeded() {
    on_every_backend(|f| {
        let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        let full: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        f.create_with("db", None, &full);
        f.store
            .tag_resource(tag_request("db", &[("k0", "new"), ("k19", "new")]))
            .unwrap();
        let r = f
            .store
            .tag_resource(tag_request("db", &[("k0", "x"), ("k20", "v")]));
        assert_eq!(code(r), ErrorCode::LimitExceeded);
        let tags = f.tags_of("db");
        assert_eq!(tags.len(), 20);
        assert_eq!(tags[0].tag_value, "new", "the failed call changed nothing");
    });
}

/// decisions.md 19: an `EncryptionKeyId` not of the UUID form is `InvalidParameter` naming
/// `EncryptionKeyId`.
#[test]
fn an_encryption_key_id_that_is_not_a_uuid_is_invalid_parameter() {
    on_every_backend(|f| {
        for bad in ["alias/app", "acs:kms:cn-hangzhou:1:key/abc", "not-a-uuid"] {
            let r = f.store.create_secret(CreateSecretRequest {
                encryption_key_id: Some(bad.into()),
                ..create_request("db", "v1", "x")
            });
            assert_eq!(parameter(r), "EncryptionKeyId", "{bad}");
        }
        assert!(f.record("db").is_none());
    });
}

// ---- versions and labels (SPEC §3) ----

/// SPEC §2: "writing an 11th removes the oldest version that carries no label" — the labels
/// counted are those after this put's moves: the version that just lost `ACSPrevious` is
/// unlabelled, and older labelled versions are kept.
#[test]
fn the_eleventh_version_evicts_the_oldest_unlabelled_after_the_label_moves() {
    on_every_backend(|f| {
        f.create("db", "v1", "one"); // v1: ACSCurrent
        f.put_staged("db", "v2", "two", &["keep"]);
        for i in 3..=10 {
            f.put("db", &format!("v{i}"), "x");
        }
        // v1 and v3..v8 lost their labels in turn; v9 ACSPrevious, v10 ACSCurrent.
        assert_eq!(f.versions("db", true).total_count, 10);
        f.put_staged("db", "v11", "eleven", &["blue"]);
        let ids: Vec<String> = f
            .versions("db", true)
            .version_ids
            .into_iter()
            .map(|v| v.version_id)
            .collect();
        assert_eq!(
            ids,
            ["v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11"],
            "v1, the oldest without a label, is gone; v2 (keep) stays"
        );
        assert!(f.payload("db", "v1").is_none());
        assert_eq!(
            code(
                f.store
                    .get_secret_value(get_request("db", Some("v1"), None))
            ),
            ErrorCode::ResourceNotFound
        );
        // A 12th with the default labels: v10 gets ACSPrevious, v9 loses it; v3 is the oldest
        // unlabelled one.
        f.put("db", "v12", "twelve");
        let first = &f.versions("db", true).version_ids[0];
        assert_eq!(first.version_id, "v2");
        assert!(f.payload("db", "v3").is_none());
        assert_eq!(f.value("db", None, Some("ACSPrevious")), b"x");
        assert_eq!(f.versions("db", true).total_count, 10);
    });
}

/// decisions.md 3: an explicit list is applied `ACSCurrent` first, then the others in order,
/// whatever order the caller gave: `["ACSPrevious","ACSCurrent"]` leaves both on the new
/// version and none on the old current.
#[test]
fn put_with_previous_then_current_gives_the_new_version_both() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let r = f.put_staged("db", "v2", "two", &["ACSPrevious", "ACSCurrent"]);
        let mut stages = r.version_stages.clone();
        stages.sort();
        assert_eq!(stages, ["ACSCurrent", "ACSPrevious"]);
        f.assert_stages("db", &[("v1", &[]), ("v2", &["ACSCurrent", "ACSPrevious"])]);
    });
}

/// SPEC §3: an existing VersionId with the same value succeeds and "nothing changes" — even
/// when the retry names other `VersionStages`.
#[test]
fn a_put_retry_with_other_stages_moves_no_label() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put_staged("db", "v2", "two", &["blue"]);
        let before = f.record("db").unwrap();
        let r = f.put_staged("db", "v2", "two", &["ACSCurrent"]);
        assert_eq!(r.version_stages, ["blue"]);
        assert_eq!(f.record("db").unwrap(), before);
    });
}

/// SPEC §3: "Moving `ACSCurrent` moves `ACSPrevious` to the version that lost `ACSCurrent`" —
/// also when the target held `ACSPrevious` itself, and not at all when it moves nowhere.
#[test]
fn moving_acs_current_onto_the_previous_version_swaps_the_two() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.put("db", "v3", "three"); // v2 ACSPrevious, v3 ACSCurrent
        f.update_stage("db", "ACSCurrent", Some("v3"), Some("v2"));
        f.assert_stages(
            "db",
            &[
                ("v1", &[]),
                ("v2", &["ACSCurrent"]),
                ("v3", &["ACSPrevious"]),
            ],
        );
        let before = f.record("db").unwrap();
        f.update_stage("db", "ACSCurrent", Some("v2"), Some("v2"));
        assert_eq!(
            f.record("db").unwrap(),
            before,
            "a move in place changes nothing"
        );
    });
}

#[test]
fn acs_previous_can_be_moved_and_added_when_no_version_holds_it() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put_staged("db", "v2", "two", &["blue"]);
        // Nobody holds ACSPrevious yet: MoveTo alone adds it.
        f.update_stage("db", "ACSPrevious", None, Some("v2"));
        f.update_stage("db", "ACSPrevious", Some("v2"), Some("v1"));
        f.assert_stages(
            "db",
            &[("v1", &["ACSCurrent", "ACSPrevious"]), ("v2", &["blue"])],
        );
        let r = f.store.update_secret_version_stage(stage_request(
            "db",
            "ACSPrevious",
            Some("v1"),
            None,
        ));
        assert_eq!(parameter(r), "VersionStage", "ACSPrevious is never removed");
    });
}

#[test]
fn get_with_a_stage_held_by_another_version_is_invalid_and_an_unknown_pair_not_found() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        assert_eq!(
            parameter(
                f.store
                    .get_secret_value(get_request("db", Some("v1"), Some("ACSCurrent")))
            ),
            "VersionStage"
        );
        assert_eq!(
            code(
                f.store
                    .get_secret_value(get_request("db", Some("v9"), Some("ACSCurrent")))
            ),
            ErrorCode::ResourceNotFound
        );
        // Empty optional parameters count as not given (decisions.md 2).
        assert_eq!(f.value("db", Some(""), Some("")), b"two");
    });
}

// ---- lifecycle ----

#[test]
fn recovery_window_bounds_and_the_exact_planned_time() {
    on_every_backend(|f| {
        for (name, days) in [("a", 7u32), ("b", 30)] {
            f.create(name, "v1", "x");
            let r = f
                .store
                .delete_secret(DeleteSecretRequest {
                    secret_name: name.into(),
                    recovery_window_in_days: Some(days),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(
                r.planned_delete_time,
                Timestamp::from_unix(START + i64::from(days) * 86_400)
            );
        }
        f.create("c", "v1", "x");
        for days in [0, 6, 31, u32::MAX] {
            let r = f.store.delete_secret(DeleteSecretRequest {
                secret_name: "c".into(),
                recovery_window_in_days: Some(days),
                ..Default::default()
            });
            assert_eq!(parameter(r), "RecoveryWindowInDays", "{days}");
        }
        assert!(f.describe("c").unwrap().planned_delete_time.is_none());
        // One second before the planned time "a" can be restored; "b" not at its planned time.
        f.clock.advance(7 * 86_400 - 1);
        f.store
            .restore_secret(RestoreSecretRequest {
                secret_name: "a".into(),
            })
            .unwrap();
        f.clock.set(Timestamp::from_unix(START + 30 * 86_400));
        let r = f.store.restore_secret(RestoreSecretRequest {
            secret_name: "b".into(),
        });
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
        assert!(f.record("b").is_none(), "purged on access");
    });
}

#[test]
fn update_secret_with_a_bad_description_changes_nothing() {
    on_every_backend(|f| {
        f.create_with("db", Some("old"), &[]);
        let before = f.record("db").unwrap();
        f.clock.advance(10);
        let r = f.store.update_secret(UpdateSecretRequest {
            secret_name: "db".into(),
            description: Some("d".repeat(1025)),
        });
        assert_eq!(parameter(r), "Description");
        assert_eq!(f.record("db").unwrap(), before);
    });
}

// ---- listing ----

#[test]
fn list_pages_far_past_the_end_are_empty_with_the_total_count() {
    on_every_backend(|f| {
        f.create("a", "v1", "x");
        f.create("b", "v1", "x");
        let r = f
            .store
            .list_secrets(ListSecretsRequest {
                page_number: Some(u32::MAX),
                page_size: Some(100),
                ..Default::default()
            })
            .unwrap();
        assert!(r.secret_list.is_empty());
        assert_eq!(
            (r.page_number, r.page_size, r.total_count),
            (u32::MAX, 100, 2)
        );
        let r = f
            .store
            .list_secret_version_ids(ListSecretVersionIdsRequest {
                secret_name: "a".into(),
                page_number: Some(u32::MAX),
                page_size: Some(100),
                ..Default::default()
            })
            .unwrap();
        assert!(r.version_ids.is_empty());
        assert_eq!(r.total_count, 1);
        let d = f.store.list_secrets(ListSecretsRequest::default()).unwrap();
        assert_eq!((d.page_number, d.page_size), (1, 10));
        let d = f
            .store
            .list_secret_version_ids(ListSecretVersionIdsRequest {
                secret_name: "a".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((d.page_number, d.page_size), (1, 20));
    });
}

#[test]
fn filters_edges() {
    on_every_backend(|f| {
        f.create_with("db", Some("main database"), &[("env", "prod")]);
        f.create("api", "v1", "x");
        let names = |filters: &str| -> Result<Vec<String>, ErrorCode> {
            f.store
                .list_secrets(ListSecretsRequest {
                    filters: Some(filters.into()),
                    ..Default::default()
                })
                .map(|r| r.secret_list.into_iter().map(|s| s.secret_name).collect())
                .map_err(|e| e.code())
        };
        assert_eq!(names("[]").unwrap(), ["api", "db"]);
        assert_eq!(names("").unwrap(), ["api", "db"]);
        assert_eq!(
            names(r#"[{"Key":"TagValue","Values":["pro"]}]"#).unwrap(),
            Vec::<String>::new(),
            "tag filters match exactly"
        );
        assert_eq!(
            names(r#"[{"Key":"Description","Values":["data"]}]"#).unwrap(),
            ["db"]
        );
        for bad in [
            r#"[{"Key":"secretname","Values":["db"]}]"#,
            r#"{"Key":"SecretName","Values":["db"]}"#,
            "null",
            r#"[{"Key":"SecretName"}]"#,
        ] {
            assert_eq!(names(bad), Err(ErrorCode::InvalidParameter), "{bad}");
        }
    });
}

// ---- batch tags ----

#[test]
fn batch_tag_operations_take_at_most_50_resources() {
    let f = memory();
    let ids: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
    for id in &ids {
        f.create(id, "v1", "x");
    }
    f.store
        .tag_resources(TagResourcesRequest {
            resource_type: "SECRET".into(),
            resource_ids: ids[..50].to_vec(),
            tags: tag_list(&[("k", "v")]),
        })
        .unwrap();
    let r = f.store.tag_resources(TagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: ids.clone(),
        tags: tag_list(&[("k", "w")]),
    });
    assert_eq!(parameter(r), "ResourceId");
    let r = f.store.list_tag_resources(ListTagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: vec![],
        tag_keys: vec![],
    });
    assert_eq!(parameter(r), "ResourceId");
    assert_eq!(f.tags_of("s0")[0].tag_value, "v");
}

// ---- random passwords ----

#[test]
fn random_password_edges() {
    let f = memory();
    let r = f.store.get_random_password(GetRandomPasswordRequest {
        exclude_characters: Some("x".repeat(257)),
        ..Default::default()
    });
    assert_eq!(parameter(r), "ExcludeCharacters");
    // Length 8 with all four types required: always one of each.
    for _ in 0..200 {
        let p = f
            .store
            .get_random_password(GetRandomPasswordRequest {
                password_length: Some(8),
                ..Default::default()
            })
            .unwrap();
        let p = std::str::from_utf8(p.random_password.expose())
            .unwrap()
            .to_owned();
        assert_eq!(p.len(), 8);
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| c.is_ascii_punctuation()));
    }
}

// ---- Debug never shows secret material ----

#[test]
fn debug_of_every_type_holding_a_value_redacts_it() {
    on_every_backend(|f| {
        let canary = "CANARY-d41d8c";
        let put = PutSecretValueRequest {
            secret_data: canary.into(),
            ..put_request("db", "v2", "")
        };
        assert!(!format!("{put:?}").contains(canary));
        f.create("db", "v1", "x");
        f.store.put_secret_value(put).unwrap();
        let value = secret_model::SecretValue::new(SecretDataType::Text, canary.into()).unwrap();
        assert!(!format!("{value:?}").contains(canary));
        let wire = secret_model::SecretValue::wire_bytes(SecretDataType::Text, canary).unwrap();
        assert!(!format!("{wire:?}").contains(canary));
        let pw = f
            .store
            .get_random_password(GetRandomPasswordRequest::default())
            .unwrap();
        let text = std::str::from_utf8(pw.random_password.expose()).unwrap();
        assert!(!format!("{pw:?}").contains(text));
        // A text value that is not UTF-8: the error does not echo it.
        let mut bad = canary.as_bytes().to_vec();
        bad.push(0xff);
        let e = f
            .store
            .put_secret_value(PutSecretValueRequest {
                secret_data: bad.into(),
                ..put_request("db", "v3", "")
            })
            .unwrap_err();
        assert!(!format!("{e:?} {e}").contains(canary));
        // A put retry with another value: the conflict does not echo either value.
        let e = f
            .store
            .put_secret_value(put_request("db", "v2", "other"))
            .unwrap_err();
        assert!(!format!("{e:?} {e}").contains(canary));
        assert!(!format!("{:?}", f.storage_debug()).contains(canary));
    });
}

trait StorageDebug {
    fn storage_debug(&self) -> String;
}

impl StorageDebug for common::Fixture {
    fn storage_debug(&self) -> String {
        let snapshot = self.snapshot("db");
        format!("{snapshot:?}")
    }
}

#[test]
fn the_default_location_is_local_and_sixteen_zeros() {
    let store = secrets_manager::testing::memory_store();
    let r = store
        .create_secret(create_request("db", "v1", "x"))
        .unwrap();
    assert_eq!(r.arn, "acs:kms:local:0000000000000000:secret/db");
    assert_eq!(r.secret_type, "Generic");
    assert_eq!(secrets_manager::CacheConfig::default().max_entries, 10_000);
    assert_eq!(
        secrets_manager::CacheConfig::default().max_bytes,
        16 * 1024 * 1024
    );
}

// ---- second round ----

/// `rotate_record_seal_key`: "`MemoryStorage` walks nothing" / "A store whose records are not
/// sealed (`MemoryStorage`) rotates the key in the KMS and checks no records."
#[test]
fn a_seal_key_rotation_on_memory_storage_checks_no_records() {
    let f = memory();
    f.create("a", "v1", "x");
    f.create("b", "v1", "x");
    let done = f.store.rotate_record_seal_key().unwrap();
    assert_eq!((done.records_checked, done.records_resealed), (0, 0));
    assert_eq!(f.value("a", None, None), b"x");
}

/// `purge_expired_secrets_until`: stops "before each page of the listing — once `stop` is
/// set"; a stop set before the call purges nothing, and the next run purges the rest.
#[test]
fn a_purge_told_to_stop_before_it_starts_purges_nothing() {
    on_every_backend(|f| {
        f.create("a", "v1", "x");
        f.store
            .delete_secret(DeleteSecretRequest {
                secret_name: "a".into(),
                recovery_window_in_days: Some(7),
                ..Default::default()
            })
            .unwrap();
        f.clock.advance(7 * 86_400);
        let stop = std::sync::atomic::AtomicBool::new(true);
        assert_eq!(f.store.purge_expired_secrets_until(&stop).unwrap(), 0);
        assert!(f.record("a").is_some());
        assert_eq!(f.store.purge_expired_secrets().unwrap(), 1);
        assert!(f.record("a").is_none());
    });
}

/// decisions.md 6: "Unknown version (either one) → `Forbidden.ResourceNotFound`; checked
/// before the label rules."
#[test]
fn an_unknown_version_is_not_found_before_any_label_rule() {
    on_every_backend(|f| {
        f.create("db", "v1", "x");
        for (label, from, to) in [
            ("ACSCurrent", Some("nope"), None),
            ("blue", Some("nope"), None),
            ("ACSCurrent", None, Some("nope")),
            ("ACSCurrent", Some("v1"), Some("nope")),
        ] {
            let r = f
                .store
                .update_secret_version_stage(stage_request("db", label, from, to));
            assert_eq!(
                code(r),
                ErrorCode::ResourceNotFound,
                "{label} {from:?} {to:?}"
            );
        }
    });
}

/// decisions.md 5: a create retry matches "tags (in any order)"; an absent and an empty
/// description are the same (decisions.md 2).
#[test]
fn a_create_retry_with_the_tags_in_another_order_succeeds() {
    on_every_backend(|f| {
        let first = CreateSecretRequest {
            tags: tag_list(&[("a", "1"), ("b", "2")]),
            description: Some(String::new()),
            ..create_request("db", "v1", "x")
        };
        f.store.create_secret(first).unwrap();
        let before = f.record("db").unwrap();
        f.clock.advance(5);
        let retry = CreateSecretRequest {
            tags: tag_list(&[("b", "2"), ("a", "1")]),
            ..create_request("db", "v1", "x")
        };
        assert_eq!(f.store.create_secret(retry).unwrap().version_id, "v1");
        assert_eq!(f.record("db").unwrap(), before);
    });
}

#[test]
fn describe_and_list_without_fetch_tags_return_no_tags_and_an_empty_description() {
    on_every_backend(|f| {
        f.create_with("db", None, &[("k", "v")]);
        let d = f.describe("db").unwrap();
        assert_eq!(d.tags, None);
        assert_eq!(d.description, "");
        assert_eq!(d.planned_delete_time, None);
        assert_eq!(d.arn, arn("db"));
        let l = f.store.list_secrets(ListSecretsRequest::default()).unwrap();
        assert_eq!(l.secret_list[0].tags, None);
    });
}

/// decisions.md 8: force delete answers `PlannedDeleteTime` = now; force on an unknown secret
/// is not found.
#[test]
fn force_delete_answers_now_and_an_unknown_secret_is_not_found() {
    on_every_backend(|f| {
        f.create("db", "v1", "x");
        let r = f
            .store
            .delete_secret(DeleteSecretRequest {
                secret_name: arn("db"),
                force_delete_without_recovery: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.planned_delete_time, Timestamp::from_unix(START));
        assert_eq!(r.secret_name, "db");
        let r = f.store.delete_secret(DeleteSecretRequest {
            secret_name: "db".into(),
            force_delete_without_recovery: true,
            ..Default::default()
        });
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
    });
}

#[test]
fn a_version_without_labels_is_read_by_its_id_with_no_stages() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.put("db", "v3", "three");
        let got = f
            .store
            .get_secret_value(get_request("db", Some("v1"), None))
            .unwrap();
        assert_eq!(got.secret_data.expose(), b"one");
        assert!(got.version_stages.is_empty());
        assert_eq!(
            code(
                f.store
                    .get_secret_value(get_request("db", Some("v1"), Some("ACSPrevious")))
            ),
            ErrorCode::InvalidParameter
        );
    });
}

/// SPEC §2: "at most 8 distinct labels across all versions → `Rejected.LimitExceeded`" — also
/// when one put asks for them all at once; nothing is written.
#[test]
fn a_put_asking_for_nine_labels_at_once_is_limit_exceeded_and_writes_nothing() {
    on_every_backend(|f| {
        f.create("db", "v1", "x");
        let before = f.snapshot("db");
        let labels = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let r = f
            .store
            .put_secret_value(put_with_stages("db", "v2", "y", &labels));
        assert_eq!(code(r), ErrorCode::LimitExceeded);
        assert_eq!(f.snapshot("db"), before);
        // Seven custom labels and ACSCurrent: exactly 8, accepted.
        f.put_staged("db", "v2", "y", &labels[..7]);
    });
}

#[test]
fn list_tag_resources_filters_by_key_and_answers_names_in_the_order_given() {
    on_every_backend(|f| {
        f.create_with("b", None, &[("env", "prod"), ("team", "x")]);
        f.create_with("a", None, &[("env", "dev")]);
        let r = f
            .store
            .list_tag_resources(ListTagResourcesRequest {
                resource_type: "secret".into(),
                resource_ids: vec![arn("b"), "a".into(), "b".into()],
                tag_keys: vec!["env".into()],
            })
            .unwrap();
        let got: Vec<(String, String, String)> = r
            .tag_resources
            .into_iter()
            .map(|t| (t.resource_id, t.tag_key, t.tag_value))
            .collect();
        assert_eq!(
            got,
            [
                ("b".into(), "env".into(), "prod".into()),
                ("a".into(), "env".into(), "dev".into())
            ]
        );
    });
}

#[test]
fn untag_with_no_keys_is_missing_parameter_naming_tag_keys() {
    on_every_backend(|f| {
        f.create_with("db", None, &[("k", "v")]);
        let r = f
            .store
            .untag_resource(secrets_manager::UntagResourceRequest {
                secret_name: "db".into(),
                tag_keys: vec![],
            });
        assert_eq!(code(r), ErrorCode::MissingParameter);
        // An absent (but well-formed) key is not an error.
        f.store
            .untag_resource(secrets_manager::UntagResourceRequest {
                secret_name: "db".into(),
                tag_keys: vec!["absent".into()],
            })
            .unwrap();
        assert_eq!(f.tags_of("db").len(), 1);
    });
}

#[test]
fn the_cache_is_off_by_default_and_only_transient_errors_are_retryable() {
    let f = memory();
    assert!(f.store.cache_stats().is_none());
    assert!(secrets_manager::Error::ServiceUnavailable("x".into()).is_retryable());
    assert!(!secrets_manager::Error::InternalFailure.is_retryable());
    assert_eq!(
        secrets_manager::Error::ServiceUnavailable("x".into())
            .code()
            .as_str(),
        "ServiceUnavailableTemporary"
    );
}

/// `with_request_id`: "answering every operation with `request_id` as its request id".
#[test]
fn a_handle_with_a_request_id_answers_every_operation_with_it() {
    let f = memory();
    let h = f.store.with_request_id("req-7");
    assert_eq!(
        h.create_secret(create_request("db", "v1", "x"))
            .unwrap()
            .request_id,
        "req-7"
    );
    assert_eq!(
        h.put_secret_value(put_request("db", "v2", "y"))
            .unwrap()
            .request_id,
        "req-7"
    );
    assert_eq!(
        h.get_secret_value(get_request("db", None, None))
            .unwrap()
            .request_id,
        "req-7"
    );
    assert_eq!(
        h.list_secrets(ListSecretsRequest::default())
            .unwrap()
            .request_id,
        "req-7"
    );
    assert_eq!(
        h.get_random_password(GetRandomPasswordRequest::default())
            .unwrap()
            .request_id,
        "req-7"
    );
    // A fresh lowercase UUID otherwise (SPEC §1).
    let id = f
        .store
        .describe_secret(secrets_manager::DescribeSecretRequest {
            secret_name: "db".into(),
            fetch_tags: false,
        })
        .unwrap()
        .request_id;
    assert_eq!(id.len(), 36);
    assert_eq!(id, id.to_lowercase());
}

/// `PutSecretValue` doc: "`Rejected.Disabled` when the secret's key is disabled".
#[test]
fn put_under_a_disabled_key_is_rejected_disabled_and_writes_nothing() {
    on_every_backend(|f| {
        f.create("db", "v1", "x");
        let key = f.describe("db").unwrap().encryption_key_id;
        let key = secret_model::KeyId::parse(&key).unwrap();
        f.kms.disable_key(&key).unwrap();
        let before = f.snapshot("db");
        let r = f.store.put_secret_value(put_request("db", "v2", "y"));
        assert_eq!(code(r), ErrorCode::KeyDisabled);
        assert_eq!(f.snapshot("db"), before);
    });
}

/// A create under an `EncryptionKeyId` given in upper case uses the same key, and the
/// secret describes it in the lower-case form (Uuid: "printed in lowercase").
#[test]
fn an_upper_case_key_id_names_the_same_key() {
    on_every_backend(|f| {
        f.create("a", "v1", "x");
        let key = f.describe("a").unwrap().encryption_key_id;
        f.store
            .create_secret(CreateSecretRequest {
                encryption_key_id: Some(key.to_uppercase()),
                ..create_request("b", "v1", "y")
            })
            .unwrap();
        assert_eq!(f.describe("b").unwrap().encryption_key_id, key);
        assert_eq!(f.value("b", None, None), b"y");
    });
}

/// SPEC §2 caps a secret at 8 distinct labels, and the PutSecretValue doc says
/// "`Rejected.LimitExceeded` beyond 8 distinct labels": a default put whose current→previous
/// shift would make `ACSPrevious` the ninth label is refused, and changes nothing; so is the
/// same shift by UpdateSecretVersionStage.
#[test]
fn a_shift_that_would_add_acs_previous_as_a_ninth_label_is_limit_exceeded() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let customs = ["a", "b", "c", "d", "e", "f", "g"];
        f.put_staged("db", "v2", "two", &customs); // 8 labels, no ACSPrevious
        let before = f.snapshot("db");
        let r = f.store.put_secret_value(put_request("db", "v3", "three"));
        assert_eq!(code(r), ErrorCode::LimitExceeded);
        let r = f.store.update_secret_version_stage(stage_request(
            "db",
            "ACSCurrent",
            Some("v1"),
            Some("v2"),
        ));
        assert_eq!(code(r), ErrorCode::LimitExceeded);
        assert_eq!(f.snapshot("db"), before);
    });
}

// ---- order of checks (decisions.md 1) ----

const FOREIGN_ARN: &str = "acs:kms:cn-beijing:1234567890:secret/db";

/// decisions.md 1: "Parameter validation → authorization → existence
/// (`Forbidden.ResourceNotFound`)". SPEC §1: "an ARN for another region/account is 'not found'",
/// so an ARN of another store is an existence answer and must come after the other parameters
/// are validated: a CreateSecret naming another store's ARN with an empty `VersionId` is
/// `MissingParameter`, with a malformed one `InvalidParameter`.
#[test]
fn a_foreign_arn_is_not_found_only_after_the_other_parameters_are_validated() {
    let f = memory();
    let r = f.store.create_secret(CreateSecretRequest {
        version_id: String::new(),
        ..create_request(FOREIGN_ARN, "v1", "x")
    });
    assert_eq!(code(r), ErrorCode::MissingParameter, "empty VersionId");
    let r = f
        .store
        .create_secret(create_request(FOREIGN_ARN, "v 1", "x"));
    assert_eq!(
        code(r),
        ErrorCode::InvalidParameter,
        "VersionId with a space"
    );
    let r = f
        .store
        .get_secret_value(get_request(FOREIGN_ARN, None, Some("not a label")));
    assert_eq!(
        code(r),
        ErrorCode::InvalidParameter,
        "malformed VersionStage"
    );
}

/// decisions.md 1: "Parameter validation → authorization → existence
/// (`Forbidden.ResourceNotFound`) → pending deletion". GetSecretValue needs `kms:Decrypt` on
/// the secret's key (SPEC §3, and its rustdoc); the key is known once the secret is read, but
/// the version lookup is an existence check that must come after it: a caller denied
/// `kms:Decrypt` is `Forbidden.NoPermission` whatever version it names, and must not learn
/// from `Forbidden.ResourceNotFound` which version ids exist.
#[test]
fn get_without_decrypt_is_no_permission_for_an_unknown_version_too() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let key = f.describe("db").unwrap().encryption_key_id;
        f.denials.deny(
            secrets_manager::Action::Decrypt,
            format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}"),
        );
        let known = f
            .store
            .get_secret_value(get_request("db", Some("v1"), None));
        assert_eq!(code(known), ErrorCode::NoPermission);
        let unknown = f
            .store
            .get_secret_value(get_request("db", Some("nope"), None));
        assert_eq!(code(unknown), ErrorCode::NoPermission);
    });
}

/// decisions.md 1: an ARN of another store is "not found" only "once every other parameter
/// is validated and the request authorized". A CreateSecret that names a master key
/// (`EncryptionKeyId`) needs `kms:GenerateDataKey` on it, and a caller denied that on a secret
/// of this store is `Forbidden.NoPermission` (the key is authorized before the name's
/// existence is looked at); naming the secret by another store's ARN must not change that
/// answer into `Forbidden.ResourceNotFound` — the request is not authorized.
#[test]
fn a_foreign_arn_create_under_a_key_the_caller_may_not_use_is_no_permission() {
    let f = memory();
    let key = "0b9e5a39-6b3c-4a1e-9f2d-3c5b7a9e1d42";
    f.denials.deny(
        secrets_manager::Action::GenerateDataKey,
        format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}"),
    );
    let local = f.store.create_secret(CreateSecretRequest {
        encryption_key_id: Some(key.to_owned()),
        ..create_request("db", "v1", "x")
    });
    assert_eq!(
        code(local),
        ErrorCode::NoPermission,
        "a secret of this store"
    );
    let foreign = f.store.create_secret(CreateSecretRequest {
        encryption_key_id: Some(key.to_owned()),
        ..create_request(FOREIGN_ARN, "v1", "x")
    });
    assert_eq!(
        code(foreign),
        ErrorCode::NoPermission,
        "another store's ARN, under a key the caller may not use"
    );
}
