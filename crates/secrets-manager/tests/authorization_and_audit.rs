//! Authorization (`kms:<Action>` on the secret's ARN, `kms:Decrypt` on the key's) and the audit
//! trail (one event per operation, never a value), on every backend.

mod common;

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use common::{
    ACCOUNT, Fixture, REGION, code, create_request, delete, force_delete, get_request,
    on_every_backend, put_request, restore, secret_arn, stage_request,
};
use secret_model::{ErrorCode, SecretDataType, SecretName, VersionId, WireTag};
use secret_storage::Update;
use secrets_manager::{
    Action, AuditEvent, AuditSink, Clock, CreateSecretRequest, DescribeSecretRequest, Error,
    GetRandomPasswordRequest, GetSecretValueRequest, ListSecretVersionIdsRequest,
    ListSecretsRequest, ListTagResourcesRequest, Principal, PutSecretValueRequest, SecretsManager,
    TagResourceRequest, TagResourcesRequest, UntagResourceRequest, UntagResourcesRequest,
    UpdateSecretRequest, UpdateSecretVersionStageRequest,
};

// ---- Requests ----

fn tag(key: &str, value: &str) -> WireTag {
    WireTag {
        tag_key: key.into(),
        tag_value: value.into(),
    }
}

fn get(name: &str, version: Option<&str>) -> GetSecretValueRequest {
    get_request(name, version, None)
}

fn stage(
    name: &str,
    remove_from: Option<&str>,
    move_to: Option<&str>,
) -> UpdateSecretVersionStageRequest {
    stage_request(name, "blue", remove_from, move_to)
}

fn list_versions(name: &str) -> ListSecretVersionIdsRequest {
    ListSecretVersionIdsRequest {
        secret_name: name.into(),
        ..Default::default()
    }
}

fn describe(name: &str) -> DescribeSecretRequest {
    DescribeSecretRequest {
        secret_name: name.into(),
        fetch_tags: true,
    }
}

fn update(name: &str) -> UpdateSecretRequest {
    UpdateSecretRequest {
        secret_name: name.into(),
        description: Some("changed".into()),
    }
}

fn tag_one(name: &str, key: &str) -> TagResourceRequest {
    TagResourceRequest {
        secret_name: name.into(),
        tags: vec![tag(key, "v")],
    }
}

fn untag_one(name: &str, key: &str) -> UntagResourceRequest {
    UntagResourceRequest {
        secret_name: name.into(),
        tag_keys: vec![key.into()],
    }
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn tag_many(names: &[&str], key: &str) -> TagResourcesRequest {
    TagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: ids(names),
        tags: vec![tag(key, "v")],
    }
}

fn untag_many(names: &[&str], key: &str) -> UntagResourcesRequest {
    UntagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: ids(names),
        tag_keys: vec![key.into()],
        all: false,
    }
}

fn list_tags(names: &[&str]) -> ListTagResourcesRequest {
    ListTagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: ids(names),
        tag_keys: vec![],
    }
}

/// One call of one operation; `Ok` carries the response's request id.
type Call = Box<dyn Fn(&SecretsManager) -> Result<String, Error>>;

fn call<Req: Clone + 'static, Resp: 'static>(
    op: fn(&SecretsManager, Req) -> Result<Resp, Error>,
    req: Req,
    request_id: fn(&Resp) -> &str,
) -> Call {
    Box::new(move |store| op(store, req.clone()).map(|r| request_id(&r).to_owned()))
}

macro_rules! op {
    ($method:ident, $req:expr) => {
        call(SecretsManager::$method, $req, |r| r.request_id.as_str())
    };
}

// ---- Authorization ----

/// The secrets every authorization case may touch, and what they hold.
const NAMES: [&str; 4] = ["db", "other", "pending", "new"];

fn state(f: &Fixture) -> Vec<Option<secret_storage::Snapshot>> {
    NAMES.iter().map(|n| f.snapshot(n)).collect()
}

struct Case {
    action: Action,
    /// The resource the denial names.
    resource: String,
    call: Call,
}

fn case(action: Action, resource: impl Into<String>, call: Call) -> Case {
    Case {
        action,
        resource: resource.into(),
        call,
    }
}

/// One case per operation, ordered so that each succeeds once allowed after the ones before.
/// The batch forms are denied on their second secret only: the first must not change either.
fn every_operation() -> Vec<Case> {
    vec![
        case(
            Action::CreateSecret,
            secret_arn("new"),
            op!(create_secret, create_request("new", "v1", "x")),
        ),
        case(
            Action::GetSecretValue,
            secret_arn("db"),
            op!(get_secret_value, get("db", None)),
        ),
        case(
            Action::PutSecretValue,
            secret_arn("db"),
            op!(put_secret_value, put_request("db", "v2", "two")),
        ),
        case(
            Action::UpdateSecretVersionStage,
            secret_arn("db"),
            op!(update_secret_version_stage, stage("db", None, Some("v1"))),
        ),
        case(
            Action::ListSecretVersionIds,
            secret_arn("db"),
            op!(list_secret_version_ids, list_versions("db")),
        ),
        case(
            Action::DescribeSecret,
            secret_arn("db"),
            op!(describe_secret, describe("db")),
        ),
        case(
            Action::UpdateSecret,
            secret_arn("db"),
            op!(update_secret, update("db")),
        ),
        case(
            Action::TagResource,
            secret_arn("db"),
            op!(tag_resource, tag_one("db", "team")),
        ),
        case(
            Action::UntagResource,
            secret_arn("db"),
            op!(untag_resource, untag_one("db", "env")),
        ),
        case(
            Action::TagResources,
            secret_arn("other"),
            op!(tag_resources, tag_many(&["db", "other"], "batch")),
        ),
        case(
            Action::UntagResources,
            secret_arn("other"),
            op!(untag_resources, untag_many(&["db", "other"], "batch")),
        ),
        case(
            Action::ListTagResources,
            secret_arn("other"),
            op!(list_tag_resources, list_tags(&["db", "other"])),
        ),
        case(
            Action::ListSecrets,
            format!("acs:kms:{REGION}:{ACCOUNT}:secret/*"),
            op!(list_secrets, ListSecretsRequest::default()),
        ),
        case(
            Action::GetRandomPassword,
            "*",
            call(
                SecretsManager::get_random_password,
                GetRandomPasswordRequest::default(),
                |r| r.request_id.as_str(),
            ),
        ),
        case(
            Action::RestoreSecret,
            secret_arn("pending"),
            op!(restore_secret, restore("pending")),
        ),
        case(
            Action::DeleteSecret,
            secret_arn("db"),
            op!(delete_secret, delete("db", None)),
        ),
        case(
            Action::DeleteSecret,
            secret_arn("new"),
            op!(delete_secret, force_delete("new")),
        ),
    ]
}

fn setup(f: &Fixture) {
    f.store
        .create_secret(CreateSecretRequest {
            tags: vec![tag("env", "prod")],
            ..create_request("db", "v1", "one")
        })
        .unwrap();
    f.create("other", "v1", "x");
    f.create("pending", "v1", "x");
    f.store.delete_secret(delete("pending", Some(7))).unwrap();
}

#[test]
fn every_operation_is_denied_without_its_action_on_the_secrets_arn_and_changes_nothing() {
    on_every_backend(|f| {
        setup(&f);
        for Case {
            action,
            resource,
            call,
        } in every_operation()
        {
            let before = state(&f);
            f.denials.deny(action, resource.clone());
            match call(&f.store) {
                Err(Error::NoPermission {
                    action: denied,
                    resource: on,
                }) => {
                    assert_eq!((denied, on.as_str()), (action, resource.as_str()));
                }
                other => panic!("{action} on {resource}: expected NoPermission, got {other:?}"),
            }
            assert_eq!(state(&f), before, "a denied {action} changed nothing");
            f.denials.clear();
            if let Err(e) = call(&f.store) {
                panic!("{action} once allowed: {e}");
            }
        }
    });
}

#[test]
fn a_denial_message_names_the_action_and_the_resource() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        f.denials.deny(Action::DescribeSecret, secret_arn("db"));
        let e = f.store.describe_secret(describe("db")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NoPermission);
        let message = e.to_string();
        assert!(message.contains("kms:DescribeSecret"), "{message}");
        assert!(message.contains(&secret_arn("db")), "{message}");
    });
}

#[test]
fn reading_a_value_also_needs_decrypt_on_the_key_arn() {
    on_every_backend(|f| {
        f.create("db", "v1", "one");
        let own_key = f.kms.create_key("own").unwrap().key_id;
        f.store
            .create_secret(CreateSecretRequest {
                encryption_key_id: Some(own_key.to_string()),
                ..create_request("own", "v1", "two")
            })
            .unwrap();
        let default_key = f.record("db").unwrap().encryption_key_id;
        let key_arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{default_key}");
        f.denials.deny(Action::Decrypt, key_arn.clone());

        match f.store.get_secret_value(get("db", None)) {
            Err(Error::NoPermission { action, resource }) => {
                assert_eq!((action, resource), (Action::Decrypt, key_arn));
            }
            other => panic!("expected NoPermission, got {other:?}"),
        }
        assert_eq!(
            f.store
                .get_secret_value(get("own", None))
                .unwrap()
                .secret_data
                .expose(),
            b"two",
            "a secret under another key is readable"
        );
        assert!(
            f.store.describe_secret(describe("db")).is_ok(),
            "metadata needs no Decrypt"
        );
        f.denials.clear();
        assert!(f.store.get_secret_value(get("db", None)).is_ok());
    });
}

// ---- Audit ----

#[derive(Default)]
struct Collect(Mutex<Vec<AuditEvent>>);

impl AuditSink for Collect {
    fn record(&self, event: &AuditEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Collect {
    fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A sink that says nobody listens: the store must not hand it events.
#[derive(Default)]
struct Unheard(Collect);

impl AuditSink for Unheard {
    fn record(&self, event: &AuditEvent) {
        self.0.record(event);
    }

    fn enabled(&self) -> bool {
        false
    }
}

#[test]
fn a_sink_that_is_not_enabled_is_given_no_events() {
    let sink = Arc::new(Unheard::default());
    let installed = Arc::clone(&sink);
    let f = common::memory_with(move |b| b.audit_sink(installed));
    f.create("db", "v1", "one");
    f.store.get_secret_value(get("db", None)).unwrap();
    assert!(f.store.get_secret_value(get("nope", None)).is_err());
    assert!(sink.0.take().is_empty());
}

/// Runs `test` on every backend, with a collecting audit sink installed.
fn on_every_backend_audited(test: impl Fn(Fixture, &Collect)) {
    let sink = Arc::new(Collect::default());
    let installed = Arc::clone(&sink);
    test(common::memory_with(move |b| b.audit_sink(installed)), &sink);
    let sink = Arc::new(Collect::default());
    let installed = Arc::clone(&sink);
    test(common::sled_with(move |b| b.audit_sink(installed)), &sink);
}

fn is_request_id(id: &str) -> bool {
    secret_model::Uuid::parse_as("RequestId", id).is_ok() && id == id.to_lowercase()
}

/// What one operation's audit event must say besides its request id, principal and time.
struct Expect {
    action: Action,
    secret: Option<&'static str>,
    version: Option<&'static str>,
}

fn expect(action: Action, secret: Option<&'static str>, version: Option<&'static str>) -> Expect {
    Expect {
        action,
        secret,
        version,
    }
}

/// Asserts the one event `sink` received since the last call and returns its request id.
fn one_event(f: &Fixture, sink: &Collect, e: &Expect, outcome: Result<(), ErrorCode>) -> String {
    let events = sink.take();
    assert_eq!(
        events.len(),
        1,
        "{}: exactly one event, got {events:?}",
        e.action
    );
    let event = &events[0];
    assert_eq!(event.action, e.action);
    assert_eq!(event.principal, "alice", "{}", e.action);
    assert_eq!(event.secret_name.as_deref(), e.secret, "{}", e.action);
    assert_eq!(event.version_id.as_deref(), e.version, "{}", e.action);
    assert_eq!(event.outcome, outcome, "{}", e.action);
    assert_eq!(event.time, f.clock.now(), "{}", e.action);
    assert!(is_request_id(&event.request_id), "{event:?}");
    event.request_id.clone()
}

#[test]
fn every_successful_operation_sends_one_audit_event_with_the_responses_request_id() {
    on_every_backend_audited(|f, sink| {
        let alice = f.store.for_principal(Principal::new("alice"));
        let cases: Vec<(Expect, Call)> = vec![
            (
                expect(Action::CreateSecret, Some("db"), Some("v1")),
                op!(create_secret, create_request("db", "v1", "one")),
            ),
            (
                expect(Action::PutSecretValue, Some("db"), Some("v2")),
                op!(put_secret_value, put_request("db", "v2", "two")),
            ),
            // No version asked for: the event names the version the read chose.
            (
                expect(Action::GetSecretValue, Some("db"), Some("v2")),
                op!(get_secret_value, get("db", None)),
            ),
            (
                expect(Action::GetSecretValue, Some("db"), Some("v1")),
                op!(get_secret_value, get("db", Some("v1"))),
            ),
            (
                expect(Action::UpdateSecretVersionStage, Some("db"), Some("v1")),
                op!(update_secret_version_stage, stage("db", None, Some("v1"))),
            ),
            (
                expect(Action::UpdateSecretVersionStage, Some("db"), Some("v1")),
                op!(update_secret_version_stage, stage("db", Some("v1"), None)),
            ),
            (
                expect(Action::ListSecretVersionIds, Some("db"), None),
                op!(list_secret_version_ids, list_versions("db")),
            ),
            (
                expect(Action::DescribeSecret, Some("db"), None),
                op!(describe_secret, describe("db")),
            ),
            (
                expect(Action::UpdateSecret, Some("db"), None),
                op!(update_secret, update("db")),
            ),
            (
                expect(Action::TagResource, Some("db"), None),
                op!(tag_resource, tag_one("db", "team")),
            ),
            (
                expect(Action::UntagResource, Some("db"), None),
                op!(untag_resource, untag_one("db", "team")),
            ),
            (
                expect(Action::TagResources, Some("db"), None),
                op!(tag_resources, tag_many(&["db"], "batch")),
            ),
            (
                expect(Action::UntagResources, Some("db"), None),
                op!(untag_resources, untag_many(&["db"], "batch")),
            ),
            (
                expect(Action::ListTagResources, Some("db"), None),
                op!(list_tag_resources, list_tags(&["db"])),
            ),
            (
                expect(Action::ListSecrets, None, None),
                op!(list_secrets, ListSecretsRequest::default()),
            ),
            (
                expect(Action::GetRandomPassword, None, None),
                call(
                    SecretsManager::get_random_password,
                    GetRandomPasswordRequest::default(),
                    |r| r.request_id.as_str(),
                ),
            ),
            (
                expect(Action::DeleteSecret, Some("db"), None),
                op!(delete_secret, delete("db", None)),
            ),
            (
                expect(Action::RestoreSecret, Some("db"), None),
                op!(restore_secret, restore("db")),
            ),
            (
                expect(Action::DeleteSecret, Some("db"), None),
                op!(delete_secret, force_delete("db")),
            ),
        ];
        let mut seen = std::collections::HashSet::new();
        for (e, call) in cases {
            f.clock.advance(1);
            let request_id = call(&alice).unwrap_or_else(|err| panic!("{}: {err}", e.action));
            assert_eq!(one_event(&f, sink, &e, Ok(())), request_id, "{}", e.action);
            assert!(seen.insert(request_id), "request ids are fresh");
        }
    });
}

#[test]
fn every_failed_operation_sends_one_audit_event_with_its_error_code() {
    on_every_backend_audited(|f, sink| {
        f.create("db", "v1", "one");
        f.denials.deny(Action::PutSecretValue, secret_arn("denied"));
        sink.take();
        let alice = f.store.for_principal(Principal::new("alice"));
        let cases: Vec<(Expect, ErrorCode, Call)> = vec![
            (
                expect(Action::CreateSecret, Some("bad name"), Some("v1")),
                ErrorCode::InvalidParameter,
                op!(create_secret, create_request("bad name", "v1", "x")),
            ),
            (
                expect(Action::CreateSecret, Some("db"), Some("v1")),
                ErrorCode::ResourceExist,
                op!(create_secret, create_request("db", "v1", "other")),
            ),
            (
                expect(Action::GetSecretValue, Some("nope"), None),
                ErrorCode::ResourceNotFound,
                op!(get_secret_value, get("nope", None)),
            ),
            (
                expect(Action::GetSecretValue, Some("db"), Some("v9")),
                ErrorCode::ResourceNotFound,
                op!(get_secret_value, get("db", Some("v9"))),
            ),
            (
                expect(Action::PutSecretValue, Some("nope"), Some("v2")),
                ErrorCode::ResourceNotFound,
                op!(put_secret_value, put_request("nope", "v2", "x")),
            ),
            (
                expect(Action::PutSecretValue, Some("denied"), Some("v2")),
                ErrorCode::NoPermission,
                op!(put_secret_value, put_request("denied", "v2", "x")),
            ),
            (
                expect(Action::UpdateSecretVersionStage, Some("db"), None),
                ErrorCode::MissingParameter,
                op!(update_secret_version_stage, stage("db", None, None)),
            ),
            (
                expect(Action::UpdateSecretVersionStage, Some("db"), Some("v9")),
                ErrorCode::ResourceNotFound,
                op!(update_secret_version_stage, stage("db", None, Some("v9"))),
            ),
            (
                expect(Action::ListSecretVersionIds, Some("db"), None),
                ErrorCode::InvalidParameter,
                op!(
                    list_secret_version_ids,
                    ListSecretVersionIdsRequest {
                        page_size: Some(0),
                        ..list_versions("db")
                    }
                ),
            ),
            (
                expect(Action::DescribeSecret, Some("nope"), None),
                ErrorCode::ResourceNotFound,
                op!(describe_secret, describe("nope")),
            ),
            (
                expect(Action::UpdateSecret, Some("nope"), None),
                ErrorCode::ResourceNotFound,
                op!(update_secret, update("nope")),
            ),
            (
                expect(Action::DeleteSecret, Some("db"), None),
                ErrorCode::InvalidParameter,
                op!(delete_secret, delete("db", Some(6))),
            ),
            (
                expect(Action::RestoreSecret, Some("db"), None),
                ErrorCode::InvalidParameter,
                op!(restore_secret, restore("db")),
            ),
            (
                expect(Action::ListSecrets, None, None),
                ErrorCode::InvalidParameter,
                op!(
                    list_secrets,
                    ListSecretsRequest {
                        filters: Some("not json".into()),
                        ..Default::default()
                    }
                ),
            ),
            (
                expect(Action::TagResource, Some("nope"), None),
                ErrorCode::ResourceNotFound,
                op!(tag_resource, tag_one("nope", "k")),
            ),
            (
                expect(Action::UntagResource, Some("nope"), None),
                ErrorCode::ResourceNotFound,
                op!(untag_resource, untag_one("nope", "k")),
            ),
            (
                expect(Action::TagResources, Some("db"), None),
                ErrorCode::ResourceNotFound,
                op!(tag_resources, tag_many(&["db", "nope"], "k")),
            ),
            (
                expect(Action::UntagResources, Some("db"), None),
                ErrorCode::ResourceNotFound,
                op!(untag_resources, untag_many(&["db", "nope"], "k")),
            ),
            (
                expect(Action::ListTagResources, Some("nope"), None),
                ErrorCode::ResourceNotFound,
                op!(list_tag_resources, list_tags(&["nope"])),
            ),
            (
                expect(Action::GetRandomPassword, None, None),
                ErrorCode::InvalidParameter,
                call(
                    SecretsManager::get_random_password,
                    GetRandomPasswordRequest {
                        password_length: Some(7),
                        ..Default::default()
                    },
                    |r| r.request_id.as_str(),
                ),
            ),
        ];
        let mut seen = std::collections::HashSet::new();
        for (e, code, call) in cases {
            f.clock.advance(1);
            let err = call(&alice).expect_err(e.action.as_str());
            assert_eq!(err.code(), code, "{}: {err}", e.action);
            let request_id = one_event(&f, sink, &e, Err(code));
            assert!(seen.insert(request_id), "request ids are fresh");
        }
    });
}

#[test]
fn an_audit_event_names_the_secret_as_the_request_gave_it() {
    on_every_backend_audited(|f, sink| {
        f.create("db", "v1", "one");
        sink.take();
        let arn = secret_arn("db");
        f.store.get_secret_value(get(&arn, None)).unwrap();
        let events = sink.take();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].secret_name.as_deref(), Some(arn.as_str()));
        assert_eq!(events[0].principal, "local", "the default principal");
    });
}

#[test]
fn an_audit_event_shortens_and_escapes_a_hostile_secret_name() {
    on_every_backend_audited(|f, sink| {
        let hostile = format!("x\nforged line {}", "y".repeat(5000));
        assert_eq!(
            code(f.store.describe_secret(describe(&hostile))),
            ErrorCode::InvalidParameter
        );
        let events = sink.take();
        assert_eq!(events.len(), 1);
        let logged = events[0]
            .secret_name
            .as_deref()
            .expect("the name is recorded");
        assert!(logged.chars().count() <= 300, "{} characters", logged.len());
        assert!(!logged.contains('\n'), "{logged:?}");
        assert!(logged.starts_with("x\\nforged line"), "{logged:?}");
    });
}

// ---- Values never reach the audit trail or the logs ----

const CANARY: &str = "CANARY-VALUE-3f9a61";

/// Passes `CANARY` through every path a value takes: create, put, get, and the error paths of
/// each (conflicts, unknown secrets, malformed data, denials, pending deletion, tampering).
fn canary_flows(f: &Fixture) {
    let canary_bytes = |extra: &[u8]| [CANARY.as_bytes(), extra].concat();
    assert!(!format!("{:?}", put_request("db", "v1", CANARY)).contains(CANARY));
    f.create("db", "v1", CANARY);
    f.put("db", "v2", &format!("{CANARY}-2"));
    f.store
        .put_secret_value(PutSecretValueRequest {
            secret_data: canary_bytes(b"-binary").into(),
            secret_data_type: Some(SecretDataType::Binary),
            ..put_request("db", "v3", "")
        })
        .unwrap();
    for version in [None, Some("v1"), Some("v3")] {
        let got = f.store.get_secret_value(get("db", version)).unwrap();
        assert!(got.secret_data.expose().starts_with(CANARY.as_bytes()));
    }
    // Retries that succeed.
    f.store
        .create_secret(create_request("db", "v1", CANARY))
        .unwrap();
    f.put("db", "v2", &format!("{CANARY}-2"));

    let failures: Vec<(ErrorCode, Result<(), Error>)> = vec![
        (
            ErrorCode::ResourceExist,
            f.store
                .create_secret(create_request("db", "v1", &format!("{CANARY}-other")))
                .map(drop),
        ),
        (
            ErrorCode::ResourceExist,
            f.store
                .put_secret_value(put_request("db", "v1", &format!("{CANARY}-other")))
                .map(drop),
        ),
        (
            ErrorCode::ResourceNotFound,
            f.store
                .put_secret_value(put_request("nope", "v1", CANARY))
                .map(drop),
        ),
        (
            ErrorCode::InvalidParameter,
            f.store
                .put_secret_value(PutSecretValueRequest {
                    secret_data: canary_bytes(&[0xff, 0xfe]).into(),
                    ..put_request("db", "v9", "")
                })
                .map(drop),
        ),
        (
            ErrorCode::InvalidParameter,
            f.store
                .create_secret(create_request("new", "v1", &CANARY.repeat(2000)))
                .map(drop),
        ),
        (
            ErrorCode::InvalidParameter,
            f.store
                .create_secret(create_request("bad name", "v1", CANARY))
                .map(drop),
        ),
    ];
    for (expected, result) in failures {
        let e = result.expect_err("the canary path fails");
        assert_eq!(e.code(), expected, "{e}");
        assert!(!format!("{e} {e:?}").contains(CANARY));
    }

    f.denials.deny(Action::GetSecretValue, secret_arn("db"));
    assert_eq!(
        code(f.store.get_secret_value(get("db", None))),
        ErrorCode::NoPermission
    );
    f.denials.deny(Action::PutSecretValue, secret_arn("db"));
    assert_eq!(
        code(f.store.put_secret_value(put_request("db", "v4", CANARY))),
        ErrorCode::NoPermission
    );
    f.denials.clear();

    // A tampered ciphertext is logged as tampering: the log must not carry the value either.
    let name = SecretName::parse("db").unwrap();
    let v1 = VersionId::parse("v1").unwrap();
    let mut payload = f.payload("db", "v1").unwrap();
    let last = payload.len() - 1;
    payload[last] ^= 1;
    f.storage
        .update(&name, &mut |current| Update::Write {
            record: current.expect("the secret exists").clone(),
            put_payloads: vec![(v1.clone(), payload.clone().into())],
            delete_payloads: vec![],
        })
        .unwrap();
    assert_eq!(
        code(f.store.get_secret_value(get("db", Some("v1")))),
        ErrorCode::InternalFailure
    );

    f.store.delete_secret(delete("db", None)).unwrap();
    assert_eq!(
        code(f.store.put_secret_value(put_request("db", "v5", CANARY))),
        ErrorCode::ResourceInDeleteWindow
    );
    assert_eq!(
        code(f.store.create_secret(create_request("db", "v1", CANARY))),
        ErrorCode::ResourceInDeleteWindow
    );
    f.store.delete_secret(force_delete("db")).unwrap();
}

#[test]
fn a_value_never_appears_in_any_audit_event() {
    on_every_backend_audited(|f, sink| {
        canary_flows(&f);
        let events = sink.take();
        assert!(
            events.len() > 20,
            "every call was audited: {}",
            events.len()
        );
        assert!(events.iter().any(|e| e.outcome.is_err()));
        for event in &events {
            let shown = format!("{event:?}");
            assert!(!shown.contains(CANARY), "{shown}");
        }
    });
}

/// A `tracing` subscriber that writes every span and event, with all of its fields, into a
/// string: what any log output could at most contain.
#[derive(Clone, Default)]
struct CaptureLogs(Arc<Mutex<String>>);

struct WriteFields<'a>(&'a mut String);

impl tracing::field::Visit for WriteFields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for CaptureLogs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut out = self.0.lock().unwrap();
        out.push_str(span.metadata().name());
        span.record(&mut WriteFields(&mut out));
        out.push('\n');
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut out = self.0.lock().unwrap();
        values.record(&mut WriteFields(&mut out));
        out.push('\n');
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut out = self.0.lock().unwrap();
        let meta = event.metadata();
        let _ = write!(out, "{} {}:", meta.level(), meta.target());
        event.record(&mut WriteFields(&mut out));
        out.push('\n');
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_value_never_appears_in_tracing_output() {
    // The fixture's store keeps the default audit sink, which writes through `tracing`.
    let logs = CaptureLogs::default();
    tracing::subscriber::with_default(logs.clone(), || {
        // tracing caches per call site whether anyone listens; a site first met on another
        // test's thread at the moment this subscriber registers can miss it. Meet every site
        // once, then have the cache rebuilt with this subscriber in place.
        canary_flows(&common::memory());
        tracing::callsite::rebuild_interest_cache();
        on_every_backend(|f| {
            logs.0.lock().unwrap().clear();
            canary_flows(&f);
            let out = logs.0.lock().unwrap().clone();
            let audit_lines = out.lines().filter(|l| l.contains("secrets_audit:")).count();
            assert!(audit_lines > 20, "the audit trail was captured:\n{out}");
            assert!(
                out.contains("tampered"),
                "the tamper error was logged:\n{out}"
            );
            assert!(!out.contains(CANARY), "{out}");
        });
    });
}

#[test]
fn a_retry_without_permission_to_read_cannot_test_guesses_at_a_stored_value() {
    on_every_backend(|f| {
        f.store
            .create_secret(create_request("db", "v1", "the-real-value"))
            .unwrap();
        f.store
            .put_secret_value(put_request("db", "v2", "second"))
            .unwrap();
        let key = f.record("db").unwrap().encryption_key_id;
        // Reading needs both: GetSecretValue on the secret and Decrypt on its key.
        let denials = [
            (
                Action::Decrypt,
                format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}"),
            ),
            (
                Action::GetSecretValue,
                format!("acs:kms:{REGION}:{ACCOUNT}:secret/db"),
            ),
        ];
        for (action, resource) in denials {
            f.denials.deny(action, resource);
            // A right guess and a wrong one answer alike: the value is never compared.
            for guess in ["the-real-value", "a-wrong-guess"] {
                let put = f.store.put_secret_value(put_request("db", "v1", guess));
                assert_eq!(code(put), ErrorCode::ResourceExist, "{action:?} {guess}");
                let create = f.store.create_secret(create_request("db", "v1", guess));
                assert_eq!(code(create), ErrorCode::ResourceExist, "{action:?} {guess}");
            }
            // Allowed to read, the exact retry succeeds again.
            f.denials.clear();
            assert!(
                f.store
                    .put_secret_value(put_request("db", "v1", "the-real-value"))
                    .is_ok()
            );
        }
    });
}

#[test]
fn a_handle_with_a_request_id_answers_and_audits_with_it_failures_too() {
    on_every_backend_audited(|f, sink| {
        let alice = f
            .store
            .for_principal(Principal::new("alice"))
            .with_request_id("req-7");
        let made = alice
            .create_secret(create_request("db", "v1", "one"))
            .unwrap();
        assert_eq!(made.request_id, "req-7");
        let failed = alice.get_secret_value(get("missing", None));
        assert_eq!(code(failed), ErrorCode::ResourceNotFound);
        let events = sink.take();
        let ids: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.request_id.as_str(), e.principal.as_str()))
            .collect();
        assert_eq!(ids, [("req-7", "alice"), ("req-7", "alice")]);
        assert_eq!(events[1].outcome, Err(ErrorCode::ResourceNotFound));
        // A handle without one still draws a fresh id per operation.
        f.store
            .get_secret_value(get("db", None))
            .map(|r| assert!(is_request_id(&r.request_id)))
            .unwrap();
    });
}
