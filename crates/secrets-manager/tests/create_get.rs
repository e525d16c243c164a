//! CreateSecret and GetSecretValue: one test per rule of SPEC §3, on every backend.

mod common;

use common::{ACCOUNT, Fixture, REGION, START, on_every_backend};
use secret_model::{ErrorCode, SecretDataType, SecretName, Timestamp, VersionId, WireTag};
use secret_storage::Update;
use secrets_manager::{Action, CreateSecretRequest, Error, GetSecretValueRequest};

fn create(name: &str, version: &str, data: &str) -> CreateSecretRequest {
    CreateSecretRequest {
        secret_name: name.into(),
        secret_data: data.into(),
        version_id: version.into(),
        ..Default::default()
    }
}

fn get(name: &str) -> GetSecretValueRequest {
    GetSecretValueRequest {
        secret_name: name.into(),
        ..Default::default()
    }
}

fn get_version(name: &str, version: Option<&str>, stage: Option<&str>) -> GetSecretValueRequest {
    GetSecretValueRequest {
        secret_name: name.into(),
        version_id: version.map(Into::into),
        version_stage: stage.map(Into::into),
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorCode {
    r.expect_err("the operation must fail").code()
}

fn invalid_parameter<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    match r.expect_err("the operation must fail") {
        Error::InvalidParameter(e) | Error::MissingParameter(e) => e.parameter(),
        other => panic!("expected a parameter error, got {other:?}"),
    }
}

#[test]
fn create_then_get_returns_the_value_with_acs_current() {
    on_every_backend(|f| {
        let created = f
            .store
            .create_secret(create("db", "v1", "hunter2"))
            .unwrap();
        assert_eq!(created.arn, format!("acs:kms:{REGION}:{ACCOUNT}:secret/db"));
        assert_eq!(created.secret_name, "db");
        assert_eq!(created.version_id, "v1");
        assert_eq!(created.secret_type, "Generic");

        let got = f.store.get_secret_value(get("db")).unwrap();
        assert_eq!(got.secret_data.expose(), b"hunter2");
        assert_eq!(got.secret_name, "db");
        assert_eq!(got.version_id, "v1");
        assert_eq!(got.secret_data_type, SecretDataType::Text);
        assert_eq!(got.secret_type, "Generic");
        assert_eq!(got.version_stages, ["ACSCurrent"]);
        assert_eq!(got.create_time, Timestamp::from_unix(START));
    });
}

#[test]
fn the_value_is_stored_encrypted() {
    on_every_backend(|f| {
        f.store
            .create_secret(create("db", "v1", "plaintext-canary-42"))
            .unwrap();
        let name = SecretName::parse("db").unwrap();
        let payload = f
            .storage
            .read_payload(&name, &VersionId::parse("v1").unwrap())
            .unwrap();
        let payload = payload.expect("the payload is stored");
        assert!(!payload.windows(19).any(|w| w == b"plaintext-canary-42"));
        let envelope = secret_crypto::envelope::parse(&payload).unwrap();
        assert_eq!(envelope.key_id(), f.record("db").unwrap().encryption_key_id);
    });
}

#[test]
fn binary_values_roundtrip_as_raw_bytes() {
    on_every_backend(|f| {
        let raw: Vec<u8> = (0..=255).collect();
        f.store
            .create_secret(CreateSecretRequest {
                secret_data: raw.clone().into(),
                secret_data_type: Some(SecretDataType::Binary),
                ..create("bin", "v1", "")
            })
            .unwrap();
        let got = f.store.get_secret_value(get("bin")).unwrap();
        assert_eq!(got.secret_data.expose(), raw.as_slice());
        assert_eq!(got.secret_data_type, SecretDataType::Binary);
    });
}

#[test]
fn create_retry_with_same_version_and_value_succeeds_and_changes_nothing() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "same")).unwrap();
        let before = f.record("db").unwrap();
        f.clock.advance(60);
        let again = f.store.create_secret(create("db", "v1", "same")).unwrap();
        assert_eq!(again.version_id, "v1");
        assert_eq!(f.record("db").unwrap(), before);
    });
}

#[test]
fn only_the_create_itself_is_a_retry_not_a_later_version_or_other_metadata() {
    on_every_backend(|f| {
        let first = || CreateSecretRequest {
            description: Some("the database".into()),
            tags: common::tag_list(&[("team", "a"), ("env", "prod")]),
            ..create("db", "v1", "one")
        };
        f.store.create_secret(first()).unwrap();
        f.store
            .put_secret_value(common::put_request("db", "v2", "two"))
            .unwrap();
        let before = f.record("db").unwrap();
        // The put's version, value and all, was not written by a create.
        let later = CreateSecretRequest {
            version_id: "v2".into(),
            secret_data: "two".into(),
            ..first()
        };
        assert_eq!(code(f.store.create_secret(later)), ErrorCode::ResourceExist);
        // Another description, no description, other tags, no tags: another create.
        let others = [
            CreateSecretRequest {
                description: Some("another".into()),
                ..first()
            },
            CreateSecretRequest {
                description: None,
                ..first()
            },
            CreateSecretRequest {
                tags: common::tag_list(&[("team", "b"), ("env", "prod")]),
                ..first()
            },
            CreateSecretRequest {
                tags: Vec::new(),
                ..first()
            },
        ];
        for other in others {
            let asked = format!("{:?} {:?}", other.description, other.tags);
            assert_eq!(
                code(f.store.create_secret(other)),
                ErrorCode::ResourceExist,
                "{asked}"
            );
        }
        // The very same create, tags in another order, is still a retry; nothing changed.
        let reordered = CreateSecretRequest {
            tags: common::tag_list(&[("env", "prod"), ("team", "a")]),
            ..first()
        };
        assert_eq!(f.store.create_secret(reordered).unwrap().version_id, "v1");
        assert_eq!(f.store.create_secret(first()).unwrap().version_id, "v1");
        assert_eq!(f.record("db").unwrap(), before);
    });
}

#[test]
fn a_later_version_left_first_by_evictions_in_the_creates_second_is_not_the_creates() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "one")).unwrap();
        // In the same second: v2, then enough versions that v1 is evicted and v2 is first.
        for i in 2..=11 {
            f.store
                .put_secret_value(common::put_request("db", &format!("v{i}"), "two"))
                .unwrap();
        }
        let record = f.record("db").unwrap();
        assert_eq!(record.versions[0].version_id.as_str(), "v2");
        assert_eq!(record.versions[0].create_time, record.create_time);
        // Nobody created "db" with v2: not a retry.
        assert_eq!(
            code(f.store.create_secret(create("db", "v2", "two"))),
            ErrorCode::ResourceExist
        );
        // And the create's own version, once gone, is not retried either.
        assert_eq!(
            code(f.store.create_secret(create("db", "v1", "one"))),
            ErrorCode::ResourceExist
        );
    });
}

#[test]
fn create_on_a_taken_name_with_another_value_is_resource_exist() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "one")).unwrap();
        assert_eq!(
            code(f.store.create_secret(create("db", "v1", "two"))),
            ErrorCode::ResourceExist
        );
        assert_eq!(
            code(f.store.create_secret(create("db", "v2", "one"))),
            ErrorCode::ResourceExist
        );
        let binary = CreateSecretRequest {
            secret_data_type: Some(SecretDataType::Binary),
            ..create("db", "v1", "one")
        };
        assert_eq!(
            code(f.store.create_secret(binary)),
            ErrorCode::ResourceExist
        );
        assert_eq!(
            f.store
                .get_secret_value(get("db"))
                .unwrap()
                .secret_data
                .expose(),
            b"one"
        );
    });
}

#[test]
fn create_on_a_name_pending_deletion_is_in_delete_window() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "one")).unwrap();
        f.rewrite("db", |r| {
            r.planned_delete_time = Some(Timestamp::from_unix(START + 86_400))
        });
        assert_eq!(
            code(f.store.create_secret(create("db", "v1", "one"))),
            ErrorCode::ResourceInDeleteWindow
        );
        assert_eq!(
            code(f.store.get_secret_value(get("db"))),
            ErrorCode::ResourceInDeleteWindow
        );
    });
}

#[test]
fn a_secret_past_its_planned_delete_time_is_purged_on_access() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "old", "one")).unwrap();
        f.rewrite("db", |r| {
            r.planned_delete_time = Some(Timestamp::from_unix(START + 86_400))
        });
        f.clock.advance(86_400);
        assert_eq!(
            code(f.store.get_secret_value(get("db"))),
            ErrorCode::ResourceNotFound
        );
        assert!(f.record("db").is_none());
        let name = SecretName::parse("db").unwrap();
        assert!(
            f.storage.snapshot(&name).unwrap().is_none(),
            "no ciphertext left behind"
        );
    });
}

#[test]
fn create_on_an_expired_name_replaces_it_and_drops_its_ciphertexts() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "old", "one")).unwrap();
        f.rewrite("db", |r| {
            r.planned_delete_time = Some(Timestamp::from_unix(START + 10))
        });
        f.clock.advance(10);
        // Write directly past the facade's purge-on-read so the create's own step must purge.
        f.store.create_secret(create("db", "new", "two")).unwrap();
        let snapshot = f
            .storage
            .snapshot(&SecretName::parse("db").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(snapshot.payloads.len(), 1);
        assert_eq!(snapshot.payloads[0].0.as_str(), "new");
        assert_eq!(
            f.store
                .get_secret_value(get("db"))
                .unwrap()
                .secret_data
                .expose(),
            b"two"
        );
    });
}

#[test]
fn create_without_a_key_uses_one_default_key_created_on_first_need() {
    on_every_backend(|f| {
        assert!(f.kms.list_keys().unwrap().is_empty());
        f.store.create_secret(create("a", "v1", "1")).unwrap();
        f.store.create_secret(create("b", "v1", "2")).unwrap();
        let keys = f.kms.list_keys().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(f.record("a").unwrap().encryption_key_id, keys[0].key_id);
        assert_eq!(f.record("b").unwrap().encryption_key_id, keys[0].key_id);
    });
}

#[test]
fn create_with_an_encryption_key_id_encrypts_under_that_key() {
    on_every_backend(|f| {
        let key = f.kms.create_key("app key").unwrap().key_id;
        f.store
            .create_secret(CreateSecretRequest {
                encryption_key_id: Some(key.to_string()),
                ..create("db", "v1", "x")
            })
            .unwrap();
        assert_eq!(f.record("db").unwrap().encryption_key_id, key);
        assert_eq!(
            f.store
                .get_secret_value(get("db"))
                .unwrap()
                .secret_data
                .expose(),
            b"x"
        );
    });
}

#[test]
fn create_with_an_unknown_key_is_key_not_found() {
    on_every_backend(|f| {
        let req = CreateSecretRequest {
            encryption_key_id: Some("00000000-0000-4000-8000-000000000000".into()),
            ..create("db", "v1", "x")
        };
        assert_eq!(code(f.store.create_secret(req)), ErrorCode::KeyNotFound);
        assert!(f.record("db").is_none());
    });
}

#[test]
fn create_with_a_disabled_key_is_rejected_disabled() {
    on_every_backend(|f| {
        let key = f.kms.create_key("k").unwrap().key_id;
        f.kms.disable_key(&key).unwrap();
        let req = CreateSecretRequest {
            encryption_key_id: Some(key.to_string()),
            ..create("db", "v1", "x")
        };
        assert_eq!(code(f.store.create_secret(req)), ErrorCode::KeyDisabled);
        assert!(f.record("db").is_none());
    });
}

#[test]
fn get_with_a_disabled_key_is_rejected_disabled() {
    on_every_backend(|f| {
        let key = f.kms.create_key("k").unwrap().key_id;
        let req = CreateSecretRequest {
            encryption_key_id: Some(key.to_string()),
            ..create("db", "v1", "x")
        };
        f.store.create_secret(req).unwrap();
        f.kms.disable_key(&key).unwrap();
        assert_eq!(
            code(f.store.get_secret_value(get("db"))),
            ErrorCode::KeyDisabled
        );
        f.kms.enable_key(&key).unwrap();
        assert!(f.store.get_secret_value(get("db")).is_ok());
    });
}

#[test]
fn create_with_a_key_needs_generate_data_key_permission_on_it() {
    on_every_backend(|f| {
        let key = f.kms.create_key("k").unwrap().key_id;
        f.denials.deny(
            Action::GenerateDataKey,
            format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}"),
        );
        let req = CreateSecretRequest {
            encryption_key_id: Some(key.to_string()),
            ..create("db", "v1", "x")
        };
        assert_eq!(code(f.store.create_secret(req)), ErrorCode::NoPermission);
        assert!(f.record("db").is_none());
    });
}

#[test]
fn create_needs_create_secret_permission_on_the_secret() {
    on_every_backend(|f| {
        f.denials.deny(
            Action::CreateSecret,
            format!("acs:kms:{REGION}:{ACCOUNT}:secret/db"),
        );
        let e = f.store.create_secret(create("db", "v1", "x")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NoPermission);
        assert!(e.to_string().contains("kms:CreateSecret"), "{e}");
        assert!(f.store.create_secret(create("other", "v1", "x")).is_ok());
    });
}

#[test]
fn get_needs_get_secret_value_and_decrypt_permission() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "x")).unwrap();
        let key = f.record("db").unwrap().encryption_key_id;
        f.denials.deny(
            Action::Decrypt,
            format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}"),
        );
        assert_eq!(
            code(f.store.get_secret_value(get("db"))),
            ErrorCode::NoPermission
        );

        f.store.create_secret(create("other", "v1", "y")).unwrap();
        f.denials.deny(
            Action::GetSecretValue,
            format!("acs:kms:{REGION}:{ACCOUNT}:secret/other"),
        );
        let e = f.store.get_secret_value(get("other")).unwrap_err();
        assert!(e.to_string().contains("kms:GetSecretValue"), "{e}");
    });
}

#[test]
fn invalid_parameters_are_rejected_naming_the_parameter() {
    on_every_backend(|f| {
        let cases: Vec<(CreateSecretRequest, &str)> = vec![
            (create("bad name", "v1", "x"), "SecretName"),
            (create("acs/reserved", "v1", "x"), "SecretName"),
            (create(&"n".repeat(193), "v1", "x"), "SecretName"),
            (create("db", "v 1", "x"), "VersionId"),
            (create("db", &"v".repeat(65), "x"), "VersionId"),
            (create("db", "v1", &"x".repeat(30_721)), "SecretData"),
            (
                CreateSecretRequest {
                    secret_data: vec![0xff].into(),
                    ..create("db", "v1", "")
                },
                "SecretData",
            ),
            (
                CreateSecretRequest {
                    description: Some("d".repeat(1025)),
                    ..create("db", "v1", "x")
                },
                "Description",
            ),
            (
                CreateSecretRequest {
                    encryption_key_id: Some("not-a-key".into()),
                    ..create("db", "v1", "x")
                },
                "EncryptionKeyId",
            ),
            (
                CreateSecretRequest {
                    tags: vec![
                        WireTag {
                            tag_key: "k".into(),
                            tag_value: "1".into(),
                        },
                        WireTag {
                            tag_key: "k".into(),
                            tag_value: "2".into(),
                        },
                    ],
                    ..create("db", "v1", "x")
                },
                "Tags",
            ),
            (
                CreateSecretRequest {
                    tags: vec![WireTag {
                        tag_key: "aliyun:x".into(),
                        tag_value: "1".into(),
                    }],
                    ..create("db", "v1", "x")
                },
                "TagKey",
            ),
        ];
        for (req, parameter) in cases {
            assert_eq!(invalid_parameter(f.store.create_secret(req)), parameter);
        }
        assert!(
            f.record("db").is_none(),
            "nothing is written on invalid input"
        );
    });
}

#[test]
fn missing_parameters_are_missing_parameter() {
    on_every_backend(|f| {
        for (req, parameter) in [
            (create("", "v1", "x"), "SecretName"),
            (create("db", "", "x"), "VersionId"),
            (create("db", "v1", ""), "SecretData"),
        ] {
            let e = f.store.create_secret(req).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MissingParameter);
            assert!(e.to_string().contains(&format!("\"{parameter}\"")), "{e}");
        }
        assert_eq!(
            code(f.store.get_secret_value(get(""))),
            ErrorCode::MissingParameter
        );
    });
}

#[test]
fn get_selects_by_version_id_stage_or_both() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "one")).unwrap();
        let by_id = f
            .store
            .get_secret_value(get_version("db", Some("v1"), None))
            .unwrap();
        assert_eq!(by_id.secret_data.expose(), b"one");
        let both = f
            .store
            .get_secret_value(get_version("db", Some("v1"), Some("ACSCurrent")));
        assert_eq!(both.unwrap().version_id, "v1");
        let by_stage = f
            .store
            .get_secret_value(get_version("db", None, Some("ACSCurrent")));
        assert_eq!(by_stage.unwrap().version_id, "v1");
    });
}

#[test]
fn get_with_a_version_that_does_not_carry_the_stage_is_invalid_parameter() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "one")).unwrap();
        let r = f
            .store
            .get_secret_value(get_version("db", Some("v1"), Some("ACSPrevious")));
        assert_eq!(invalid_parameter(r), "VersionStage");
    });
}

#[test]
fn get_of_an_unknown_secret_version_or_stage_is_resource_not_found() {
    on_every_backend(|f| {
        assert_eq!(
            code(f.store.get_secret_value(get("nope"))),
            ErrorCode::ResourceNotFound
        );
        f.store.create_secret(create("db", "v1", "one")).unwrap();
        let r = f
            .store
            .get_secret_value(get_version("db", Some("v9"), None));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
        let r = f
            .store
            .get_secret_value(get_version("db", None, Some("ACSPrevious")));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
    });
}

#[test]
fn secret_name_may_be_this_stores_arn_and_another_stores_arn_is_not_found() {
    on_every_backend(|f| {
        let created = f.store.create_secret(create("db", "v1", "one")).unwrap();
        assert_eq!(
            f.store
                .get_secret_value(get(&created.arn))
                .unwrap()
                .secret_name,
            "db"
        );
        let foreign = format!("acs:kms:cn-beijing:{ACCOUNT}:secret/db");
        assert_eq!(
            code(f.store.get_secret_value(get(&foreign))),
            ErrorCode::ResourceNotFound
        );
        let arn_create = create(
            &format!("acs:kms:{REGION}:{ACCOUNT}:secret/by-arn"),
            "v1",
            "x",
        );
        assert_eq!(
            f.store.create_secret(arn_create).unwrap().secret_name,
            "by-arn"
        );
    });
}

#[test]
fn a_tampered_ciphertext_is_an_internal_failure_never_data() {
    on_every_backend(|f| {
        f.store.create_secret(create("db", "v1", "one")).unwrap();
        let name = SecretName::parse("db").unwrap();
        let v1 = VersionId::parse("v1").unwrap();
        let payload = f.storage.read_payload(&name, &v1).unwrap().unwrap();
        for i in [0, payload.len() / 2, payload.len() - 1] {
            let mut bad = payload.clone();
            bad[i] ^= 0x01;
            f.storage
                .update(&name, &mut |cur| Update::Write {
                    record: cur.unwrap().clone(),
                    put_payloads: vec![(v1.clone(), bad.clone().into())],
                    delete_payloads: vec![],
                })
                .unwrap();
            let e = f.store.get_secret_value(get("db")).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InternalFailure);
            assert_eq!(e.to_string(), "An internal error occurred.");
        }
    });
}

#[test]
fn a_ciphertext_moved_to_another_secret_fails_instead_of_returning_it() {
    on_every_backend(|f| {
        f.store
            .create_secret(create("a", "v1", "value-of-a"))
            .unwrap();
        f.store
            .create_secret(create("b", "v1", "value-of-b"))
            .unwrap();
        let (a, b) = (
            SecretName::parse("a").unwrap(),
            SecretName::parse("b").unwrap(),
        );
        let v1 = VersionId::parse("v1").unwrap();
        let payload_a = f.storage.read_payload(&a, &v1).unwrap().unwrap();
        f.storage
            .update(&b, &mut |cur| Update::Write {
                record: cur.unwrap().clone(),
                put_payloads: vec![(v1.clone(), payload_a.clone().into())],
                delete_payloads: vec![],
            })
            .unwrap();
        assert_eq!(
            code(f.store.get_secret_value(get("b"))),
            ErrorCode::InternalFailure
        );
    });
}

#[test]
fn concurrent_creates_of_one_name_let_exactly_one_value_win() {
    on_every_backend(|f| {
        let outcomes: Vec<Result<_, Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let store = f.store.clone();
                    s.spawn(move || {
                        store.create_secret(create("race", "v1", &format!("value-{i}")))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners = outcomes.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "{outcomes:?}");
        for r in &outcomes {
            if let Err(e) = r {
                assert_eq!(e.code(), ErrorCode::ResourceExist);
            }
        }
        assert_eq!(f.record("race").unwrap().versions.len(), 1);
    });
}

#[test]
fn request_ids_are_fresh_uuids() {
    on_every_backend(|f: Fixture| {
        let a = f
            .store
            .create_secret(create("a", "v1", "1"))
            .unwrap()
            .request_id;
        let b = f.store.get_secret_value(get("a")).unwrap().request_id;
        assert_ne!(a, b);
        for id in [a, b] {
            assert!(secret_model::Uuid::parse_as("RequestId", &id).is_ok());
            assert_eq!(id, id.to_lowercase());
        }
    });
}

#[test]
fn values_never_appear_in_debug_output_or_errors() {
    on_every_backend(|f| {
        let canary = "CANARY-8c1f2e";
        let req = create("db", "v1", canary);
        assert!(!format!("{req:?}").contains(canary));
        f.store.create_secret(req).unwrap();
        let got = f.store.get_secret_value(get("db")).unwrap();
        assert!(!format!("{got:?}").contains(canary));
        let e = f
            .store
            .create_secret(create("db", "v1", "other"))
            .unwrap_err();
        assert!(!format!("{e:?} {e}").contains(canary));
        assert!(!format!("{:?}", f.store).contains(canary));
    });
}
