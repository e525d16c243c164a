//! Facade bugs the state-machine test (`state_machine.rs`) found, each pinned on every backend.

mod common;

use common::{Fixture, START, on_every_backend};
use secret_model::{ErrorCode, WireTag};
use secrets_manager::{
    CreateSecretRequest, DescribeSecretRequest, TagResourceRequest, TagResourcesRequest,
    UntagResourceRequest, UntagResourcesRequest, UpdateSecretVersionStageRequest,
};

fn create(f: &Fixture, name: &str) {
    f.store
        .create_secret(CreateSecretRequest {
            secret_name: name.into(),
            secret_data: "value".into(),
            version_id: "v1".into(),
            tags: vec![WireTag {
                tag_key: "env".into(),
                tag_value: "prod".into(),
            }],
            ..Default::default()
        })
        .unwrap();
}

fn update_time(f: &Fixture, name: &str) -> i64 {
    f.store
        .describe_secret(DescribeSecretRequest {
            secret_name: name.into(),
            fetch_tags: false,
        })
        .unwrap()
        .update_time
        .unix()
}

fn tag(key: &str, value: &str) -> WireTag {
    WireTag {
        tag_key: key.into(),
        tag_value: value.into(),
    }
}

#[test]
fn stage_update_without_either_version_is_missing_parameter_before_existence() {
    on_every_backend(|f| {
        // decisions.md 1: parameter validation comes before "not found".
        let err = f
            .store
            .update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_name: "absent".into(),
                version_stage: "ACSCurrent".into(),
                remove_from_version: None,
                move_to_version: Some(String::new()),
            })
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::MissingParameter);
    });
}

#[test]
fn adding_a_label_to_its_holder_does_not_touch_update_time() {
    on_every_backend(|f| {
        create(&f, "db");
        f.clock.advance(60);
        f.store
            .update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_name: "db".into(),
                version_stage: "ACSCurrent".into(),
                remove_from_version: None,
                move_to_version: Some("v1".into()),
            })
            .unwrap();
        assert_eq!(
            update_time(&f, "db"),
            START,
            "decisions.md 6 and 9: no change, no write"
        );
    });
}

#[test]
fn tagging_calls_that_change_nothing_do_not_touch_update_time() {
    on_every_backend(|f| {
        create(&f, "db");
        f.clock.advance(60);
        f.store
            .tag_resource(TagResourceRequest {
                secret_name: "db".into(),
                tags: vec![tag("env", "prod")],
            })
            .unwrap();
        f.store
            .untag_resource(UntagResourceRequest {
                secret_name: "db".into(),
                tag_keys: vec!["absent".into()],
            })
            .unwrap();
        f.store
            .tag_resources(TagResourcesRequest {
                resource_type: "secret".into(),
                resource_ids: vec!["db".into()],
                tags: vec![tag("env", "prod")],
            })
            .unwrap();
        f.store
            .untag_resources(UntagResourcesRequest {
                resource_type: "secret".into(),
                resource_ids: vec!["db".into()],
                tag_keys: vec!["absent".into()],
                all: false,
            })
            .unwrap();
        assert_eq!(
            update_time(&f, "db"),
            START,
            "decisions.md 9: no change, no write"
        );

        // A real change still writes.
        f.store
            .tag_resource(TagResourceRequest {
                secret_name: "db".into(),
                tags: vec![tag("env", "dev")],
            })
            .unwrap();
        assert_eq!(update_time(&f, "db"), START + 60);
    });
}
