//! DescribeSecret, UpdateSecret, DeleteSecret, RestoreSecret, the pending-deletion rule and the
//! purge of expired secrets: one test per rule of SPEC §3 and decisions.md, on every backend.

mod common;

use common::{
    Fixture, START, batch_list, batch_tag, batch_untag, code, create_request, delete, force_delete,
    get_request, list_page, list_versions, on_every_backend, parameter, put_request, restore,
    secret_arn, secret_names, stage_request, tag, tag_request, untag_request,
};
use secret_model::{ErrorCode, Timestamp};
use secrets_manager::{DeleteSecretRequest, Error, ListSecretsRequest, UpdateSecretRequest};

const DAY: i64 = 86_400;

fn update_description(name: &str, description: Option<&str>) -> UpdateSecretRequest {
    UpdateSecretRequest {
        secret_name: name.into(),
        description: description.map(Into::into),
    }
}

// ---- DescribeSecret ----

#[test]
fn describe_returns_the_secrets_metadata() {
    on_every_backend(|f| {
        f.create_with("db", Some("the database password"), &[("env", "prod")]);
        f.clock.advance(60);
        f.put("db", "v2", "two");

        let d = f.describe("db").unwrap();
        assert_eq!(d.arn, secret_arn("db"));
        assert_eq!(d.secret_name, "db");
        assert_eq!(d.secret_type, "Generic");
        assert_eq!(d.description, "the database password");
        assert_eq!(
            d.encryption_key_id,
            f.record("db").unwrap().encryption_key_id.to_string()
        );
        assert_eq!(d.create_time, Timestamp::from_unix(START));
        assert_eq!(d.update_time, Timestamp::from_unix(START + 60));
        assert_eq!(d.planned_delete_time, None);
        assert_eq!(d.tags, None, "tags only with FetchTags");
        assert_eq!(f.describe(&secret_arn("db")).unwrap().secret_name, "db");
    });
}

#[test]
fn describe_with_fetch_tags_returns_the_tags() {
    on_every_backend(|f| {
        f.create_with("db", None, &[("env", "prod"), ("team", "payments")]);
        f.create("bare", "v1", "one");
        assert_eq!(
            f.tags_of("db"),
            [tag("env", "prod"), tag("team", "payments")]
        );
        assert!(f.tags_of("bare").is_empty());
    });
}

#[test]
fn describe_works_while_pending_deletion_and_shows_the_planned_delete_time() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        let d = f.describe("db").unwrap();
        assert_eq!(
            d.planned_delete_time,
            Some(Timestamp::from_unix(START + 7 * DAY))
        );
        assert_eq!(d.secret_name, "db");
    });
}

#[test]
fn describe_of_an_unknown_secret_is_resource_not_found() {
    on_every_backend(|f| {
        assert_eq!(code(f.describe("nope")), ErrorCode::ResourceNotFound);
    });
}

// ---- UpdateSecret ----

#[test]
fn update_secret_changes_only_the_description_and_moves_the_update_time() {
    on_every_backend(|f| {
        f.create_with("db", Some("old"), &[("env", "prod")]);
        let before = f.snapshot("db").unwrap();
        f.clock.advance(60);

        let r = f
            .store
            .update_secret(update_description("db", Some("new")))
            .unwrap();
        assert_eq!(r.secret_name, "db");

        let after = f.snapshot("db").unwrap();
        assert_eq!(
            after.payloads, before.payloads,
            "no new version, no new ciphertext"
        );
        assert_eq!(after.record.versions, before.record.versions);
        assert_eq!(after.record.tags, before.record.tags);
        assert_eq!(after.record.create_time, before.record.create_time);
        let d = f.describe("db").unwrap();
        assert_eq!(d.description, "new");
        assert_eq!(d.update_time, Timestamp::from_unix(START + 60));
    });
}

#[test]
fn update_secret_with_an_empty_description_clears_it() {
    on_every_backend(|f| {
        f.create_with("db", Some("old"), &[]);
        f.store
            .update_secret(update_description("db", Some("")))
            .unwrap();
        assert_eq!(f.describe("db").unwrap().description, "");
        assert_eq!(f.record("db").unwrap().description, None);
    });
}

#[test]
fn update_secret_without_a_description_keeps_it_and_still_moves_the_update_time() {
    on_every_backend(|f| {
        f.create_with("db", Some("kept"), &[]);
        f.clock.advance(60);
        f.store
            .update_secret(update_description("db", None))
            .unwrap();
        let d = f.describe("db").unwrap();
        assert_eq!(d.description, "kept");
        assert_eq!(d.update_time, Timestamp::from_unix(START + 60));
    });
}

#[test]
fn update_secret_with_a_description_over_1024_characters_is_invalid_parameter() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        let r = f
            .store
            .update_secret(update_description("db", Some(&"d".repeat(1025))));
        assert_eq!(parameter(r), "Description");
        assert_eq!(f.snapshot("db").unwrap(), before);
        f.store
            .update_secret(update_description("db", Some(&"d".repeat(1024))))
            .unwrap();
    });
}

#[test]
fn update_secret_of_an_unknown_secret_is_resource_not_found() {
    on_every_backend(|f| {
        let r = f.store.update_secret(update_description("nope", Some("x")));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
    });
}

// ---- DeleteSecret ----

#[test]
fn delete_without_a_window_schedules_the_purge_in_30_days() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        f.clock.advance(60);
        let r = f.store.delete_secret(delete("db", None)).unwrap();
        assert_eq!(r.secret_name, "db");
        let planned = Timestamp::from_unix(START + 60 + 30 * DAY);
        assert_eq!(r.planned_delete_time, planned);
        let after = f.snapshot("db").unwrap();
        assert_eq!(after.payloads, before.payloads, "nothing is purged yet");
        assert_eq!(after.record.planned_delete_time, Some(planned));
        assert_eq!(after.record.update_time, Timestamp::from_unix(START + 60));
    });
}

#[test]
fn delete_accepts_windows_of_7_and_30_days() {
    on_every_backend(|f| {
        for (name, days) in [("a", 7), ("b", 30)] {
            f.create(name, "v1", "one");
            let r = f.store.delete_secret(delete(name, Some(days))).unwrap();
            assert_eq!(
                r.planned_delete_time,
                Timestamp::from_unix(START + i64::from(days) * DAY)
            );
            assert_eq!(
                f.describe(name).unwrap().planned_delete_time,
                Some(r.planned_delete_time)
            );
        }
    });
}

#[test]
fn delete_rejects_windows_of_6_and_31_days_naming_recovery_window_in_days() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        for days in [0, 6, 31] {
            let r = f.store.delete_secret(delete("db", Some(days)));
            assert_eq!(parameter(r), "RecoveryWindowInDays");
        }
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn force_delete_purges_the_secret_and_every_ciphertext_at_once() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.put("db", "v3", "three");
        f.clock.advance(5);
        let r = f.store.delete_secret(force_delete("db")).unwrap();
        assert_eq!(
            r.planned_delete_time,
            Timestamp::from_unix(START + 5),
            "now"
        );
        assert!(f.snapshot("db").is_none());
        for v in ["v1", "v2", "v3"] {
            assert!(f.payload("db", v).is_none(), "ciphertext of {v} is gone");
        }
        assert_eq!(code(f.describe("db")), ErrorCode::ResourceNotFound);
        assert_eq!(
            code(f.store.restore_secret(restore("db"))),
            ErrorCode::ResourceNotFound,
            "not restorable"
        );
        // The name is free again.
        f.create("db", "v1", "fresh");
        assert_eq!(f.value("db", None, None), b"fresh");
    });
}

#[test]
fn force_delete_with_a_recovery_window_is_invalid_parameter() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        let r = f.store.delete_secret(DeleteSecretRequest {
            recovery_window_in_days: Some(7),
            ..force_delete("db")
        });
        assert_eq!(parameter(r), "RecoveryWindowInDays");
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn delete_while_pending_without_force_is_in_delete_window_and_keeps_the_planned_time() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        let before = f.snapshot("db").unwrap();
        f.clock.advance(DAY);
        for days in [None, Some(30)] {
            let r = f.store.delete_secret(delete("db", days));
            assert_eq!(code(r), ErrorCode::ResourceInDeleteWindow);
        }
        assert_eq!(f.snapshot("db").unwrap(), before);
    });
}

#[test]
fn force_delete_while_pending_purges_the_secret() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        f.store.delete_secret(force_delete("db")).unwrap();
        assert!(f.snapshot("db").is_none());
        assert!(f.payload("db", "v1").is_none() && f.payload("db", "v2").is_none());
    });
}

#[test]
fn delete_of_an_unknown_secret_is_resource_not_found() {
    on_every_backend(|f| {
        let r = f.store.delete_secret(delete("nope", None));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
        let r = f.store.delete_secret(force_delete("nope"));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
    });
}

// ---- RestoreSecret ----

#[test]
fn restore_cancels_a_pending_deletion() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let versions_before = f.snapshot("db").unwrap();
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        f.clock.advance(DAY);
        let r = f.store.restore_secret(restore("db")).unwrap();
        assert_eq!(r.secret_name, "db");
        let d = f.describe("db").unwrap();
        assert_eq!(d.planned_delete_time, None);
        assert_eq!(d.update_time, Timestamp::from_unix(START + DAY));
        assert_eq!(f.snapshot("db").unwrap().payloads, versions_before.payloads);
        assert_eq!(f.value("db", None, None), b"one");
        // Far past the old planned time, it is still there.
        f.clock.advance(30 * DAY);
        assert!(f.describe("db").is_ok());
    });
}

#[test]
fn restore_of_a_secret_not_pending_deletion_is_invalid_parameter_naming_secret_name() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let before = f.snapshot("db").unwrap();
        let r = f.store.restore_secret(restore("db"));
        assert_eq!(parameter(r), "SecretName");
        assert_eq!(f.snapshot("db").unwrap(), before);
        let r = f.store.restore_secret(restore("nope"));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
    });
}

#[test]
fn restore_after_the_planned_delete_time_is_resource_not_found_and_purges() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        f.clock.advance(7 * DAY);
        let r = f.store.restore_secret(restore("db"));
        assert_eq!(code(r), ErrorCode::ResourceNotFound);
        assert!(f.snapshot("db").is_none());
    });
}

// ---- The pending-deletion rule ----

type Call<'a> = (&'a str, Box<dyn Fn(&Fixture) -> Result<(), Error> + 'a>);

/// The operation `operation`, as `run` calls it on a fixture.
fn call<'a, T>(operation: &'a str, run: impl Fn(&Fixture) -> Result<T, Error> + 'a) -> Call<'a> {
    (operation, Box::new(move |f| run(f).map(|_| ())))
}

/// Every operation that acts on one named secret, other than the four SPEC exempts.
fn refused_while_pending<'a>() -> Vec<Call<'a>> {
    vec![
        call("CreateSecret (retry)", |f| {
            f.store.create_secret(create_request("db", "v1", "one"))
        }),
        call("GetSecretValue", |f| {
            f.store.get_secret_value(get_request("db", None, None))
        }),
        call("PutSecretValue", |f| {
            f.store.put_secret_value(put_request("db", "v2", "two"))
        }),
        call("UpdateSecretVersionStage", |f| {
            f.store
                .update_secret_version_stage(stage_request("db", "blue", None, Some("v1")))
        }),
        call("ListSecretVersionIds", |f| {
            f.store.list_secret_version_ids(list_versions("db", false))
        }),
        call("UpdateSecret", |f| {
            f.store.update_secret(update_description("db", Some("x")))
        }),
        call("DeleteSecret", |f| {
            f.store.delete_secret(delete("db", None))
        }),
        call("TagResource", |f| {
            f.store.tag_resource(tag_request("db", &[("k", "v")]))
        }),
        call("UntagResource", |f| {
            f.store.untag_resource(untag_request("db", &["env"]))
        }),
        call("TagResources", |f| {
            f.store.tag_resources(batch_tag(&["db"], &[("k", "v")]))
        }),
        call("UntagResources", |f| {
            f.store.untag_resources(batch_untag(&["db"], &["env"]))
        }),
        call("ListTagResources", |f| {
            f.store.list_tag_resources(batch_list(&["db"], &[]))
        }),
    ]
}

/// `db`, tagged `env`, its value `one` as the CreateSecret retry above sends it.
fn create_tagged(f: &Fixture) {
    f.create_with("db", None, &[("env", "prod")]);
}

#[test]
fn every_operation_but_the_exempt_four_refuses_a_secret_pending_deletion() {
    on_every_backend(|f| {
        create_tagged(&f);
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        let before = f.snapshot("db").unwrap();
        f.clock.advance(60);
        for (operation, call) in refused_while_pending() {
            let e = call(&f).expect_err(operation);
            assert_eq!(
                e.code(),
                ErrorCode::ResourceInDeleteWindow,
                "{operation}: {e}"
            );
            assert_eq!(
                f.snapshot("db").unwrap(),
                before,
                "{operation} changed nothing"
            );
        }
    });
}

#[test]
fn describe_list_restore_and_forced_delete_act_on_a_secret_pending_deletion() {
    on_every_backend(|f| {
        create_tagged(&f);
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        assert!(f.describe("db").unwrap().planned_delete_time.is_some());
        let listed = f.store.list_secrets(ListSecretsRequest::default()).unwrap();
        assert_eq!(listed.secret_list.len(), 1);
        assert!(listed.secret_list[0].planned_delete_time.is_some());
        f.store.restore_secret(restore("db")).unwrap();
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        f.store.delete_secret(force_delete("db")).unwrap();
        assert!(f.snapshot("db").is_none());
    });
}

// ---- Purge of expired secrets ----

#[test]
fn a_secret_is_pending_until_its_planned_delete_time_and_purged_on_access_after() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.put("db", "v2", "two");
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        f.clock.advance(7 * DAY - 1);
        assert!(f.describe("db").unwrap().planned_delete_time.is_some());
        let r = f.store.get_secret_value(get_request("db", None, None));
        assert_eq!(code(r), ErrorCode::ResourceInDeleteWindow);
        f.clock.advance(2);
        assert_eq!(code(f.describe("db")), ErrorCode::ResourceNotFound);
        assert!(f.snapshot("db").is_none(), "record and ciphertexts purged");
        assert!(f.payload("db", "v1").is_none() && f.payload("db", "v2").is_none());
    });
}

#[test]
fn every_operation_on_an_expired_secret_purges_it_and_answers_not_found() {
    on_every_backend(|f| {
        let mut calls = refused_while_pending();
        calls.extend([
            call("DescribeSecret", |f| f.describe("db")),
            call("RestoreSecret", |f| f.store.restore_secret(restore("db"))),
            call("DeleteSecret (force)", |f| {
                f.store.delete_secret(force_delete("db"))
            }),
        ]);
        // CreateSecret is the exception: an expired name is free again (decisions.md 13).
        calls.retain(|(operation, _)| !operation.starts_with("CreateSecret"));
        for (operation, call) in calls {
            create_tagged(&f);
            f.store.delete_secret(delete("db", Some(7))).unwrap();
            f.clock.advance(8 * DAY);
            let e = call(&f).expect_err(operation);
            assert_eq!(e.code(), ErrorCode::ResourceNotFound, "{operation}: {e}");
            assert!(f.snapshot("db").is_none(), "{operation} purged the secret");
        }
    });
}

#[test]
fn list_secrets_never_shows_an_expired_secret() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.create("kept", "v1", "one");
        f.store.delete_secret(delete("db", Some(7))).unwrap();
        f.clock.advance(8 * DAY);
        let listed = f.store.list_secrets(ListSecretsRequest::default()).unwrap();
        assert_eq!(secret_names(&listed), ["kept"]);
        assert_eq!(listed.total_count, 1);
    });
}

#[test]
fn purge_expired_secrets_removes_each_expired_secret_and_returns_the_count() {
    on_every_backend(|f| {
        for name in ["a", "b", "c", "live"] {
            f.create(name, "v1", "one");
            f.put(name, "v2", "two");
        }
        f.store.delete_secret(delete("a", Some(7))).unwrap();
        f.store.delete_secret(delete("b", Some(7))).unwrap();
        f.store.delete_secret(delete("c", Some(30))).unwrap();
        assert_eq!(f.store.purge_expired_secrets().unwrap(), 0);

        f.clock.advance(8 * DAY);
        assert_eq!(f.store.purge_expired_secrets().unwrap(), 2);
        for name in ["a", "b"] {
            assert!(f.snapshot(name).is_none(), "{name} purged");
            assert!(f.payload(name, "v1").is_none() && f.payload(name, "v2").is_none());
        }
        assert_eq!(
            f.snapshot("c").unwrap().payloads.len(),
            2,
            "c is still pending"
        );
        assert_eq!(f.snapshot("live").unwrap().payloads.len(), 2);
        assert_eq!(
            f.store.purge_expired_secrets().unwrap(),
            0,
            "nothing left to purge"
        );

        f.clock.advance(30 * DAY);
        assert_eq!(f.store.purge_expired_secrets().unwrap(), 1);
        assert!(f.snapshot("c").is_none());
        assert!(f.snapshot("live").is_some());
    });
}

#[test]
fn purge_expired_secrets_covers_more_secrets_than_one_storage_page() {
    on_every_backend(|f| {
        // Expired and live names interleave, across more than the 100 records read at a time.
        for i in 0..240 {
            let name = format!("s{i:03}");
            f.create(&name, "v1", "x");
            if i % 4 != 0 {
                f.store.delete_secret(delete(&name, Some(7))).unwrap();
            }
        }
        f.clock.advance(8 * DAY);
        assert_eq!(f.store.purge_expired_secrets().unwrap(), 180);
        let listed = f.store.list_secrets(list_page(None, Some(100))).unwrap();
        assert_eq!(listed.total_count, 60);
        for i in 0..240 {
            let name = format!("s{i:03}");
            assert_eq!(f.snapshot(&name).is_some(), i % 4 == 0, "{name}");
        }
    });
}
