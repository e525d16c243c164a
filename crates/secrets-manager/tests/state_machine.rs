//! The state-machine proof of the facade: random runs of every operation (plus clock jumps and
//! `purge_expired_secrets`) against the real `SecretsManager` on each backend and against a
//! reference model written from SPEC.md and docs/decisions.md alone. Every response field that
//! is deterministic and every error code must agree, and the invariants of
//! `state_machine/invariants.rs` must hold in storage after every step.
//!
//! `STATE_MACHINE_CASES=20000 cargo test -p secrets-manager --release --test state_machine`
//! runs longer than CI's 1,000 cases per backend.

// Test-only modules shared across files: their items need no docs and are not an API.
#![allow(missing_docs, unreachable_pub)]

mod common;
#[path = "state_machine/invariants.rs"]
mod invariants;
#[path = "state_machine/model.rs"]
mod model;
#[path = "state_machine/model_reads.rs"]
mod model_reads;
#[path = "state_machine/model_tags.rs"]
mod model_tags;
#[path = "state_machine/responses.rs"]
mod responses;
#[path = "state_machine/rules.rs"]
mod rules;
#[path = "state_machine/stats.rs"]
mod stats;
#[path = "state_machine/strategies.rs"]
mod strategies;
#[path = "state_machine/transitions.rs"]
mod transitions;

use std::cell::RefCell;
use std::collections::HashSet;
use std::marker::PhantomData;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use secret_model::WireTag;
use secrets_manager::{
    CreateSecretRequest, DeleteSecretRequest, DescribeSecretRequest, Error, GetSecretValueRequest,
    ListSecretVersionIdsRequest, ListSecretsRequest, ListTagResourcesRequest,
    PutSecretValueRequest, RestoreSecretRequest, TagResourceRequest, TagResourcesRequest,
    TagResponse, UntagResourceRequest, UntagResourcesRequest, UpdateSecretRequest,
    UpdateSecretVersionStageRequest,
};

use common::Fixture;
use model::{Expected, Model, Outcome, PasswordRules};
use responses::{Response, Tagged, is_lowercase_uuid};
use rules::{Params, Target};
use transitions::{PutArgs, Transition};

/// The reference side: the model and how transitions are drawn from it.
pub struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::new()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Transition> {
        strategies::transitions(state)
    }

    fn apply(mut state: Model, transition: &Transition) -> Model {
        state.apply(transition);
        state
    }
}

/// Which backend a run stores into.
pub trait Backend {
    fn fixture() -> Fixture;
}

pub struct Memory;
impl Backend for Memory {
    fn fixture() -> Fixture {
        common::memory()
    }
}

pub struct Sled;
impl Backend for Sled {
    fn fixture() -> Fixture {
        common::sled()
    }
}

/// The system under test: the store, and what the checks remember between steps.
pub struct Sut {
    fx: Fixture,
    request_ids: HashSet<String>,
    default_key: Option<String>,
    seen: RefCell<invariants::SeenPayloads>,
}

pub struct Harness<B>(PhantomData<B>);

impl<B: Backend> StateMachineTest for Harness<B> {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        Sut {
            fx: B::fixture(),
            request_ids: HashSet::new(),
            default_key: None,
            seen: RefCell::default(),
        }
    }

    fn apply(mut sut: Sut, model: &Model, transition: Transition) -> Sut {
        sut.run(model, &transition);
        for name in touched(&transition) {
            sut.check_values(model, &name);
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        invariants::check(sut.fx.storage.as_ref(), model, &mut sut.seen.borrow_mut());
    }

    fn teardown(mut sut: Sut, model: Model) {
        for name in model.secrets.keys() {
            sut.check_values(&model, name);
        }
        stats::case_done(config().cases);
    }
}

fn config() -> Config {
    let cases = std::env::var("STATE_MACHINE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    Config {
        cases,
        // Beside this file (cargo runs tests from the package root).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/state_machine.proptest-regressions",
        ))),
        ..Config::default()
    }
}

prop_state_machine! {
    #![proptest_config(config())]

    #[test]
    fn facade_agrees_with_the_model_in_memory(sequential 1..60 => Harness<Memory>);

    #[test]
    fn facade_agrees_with_the_model_on_sled(sequential 1..60 => Harness<Sled>);
}

/// The secrets of this store a transition names (valid names only).
fn touched(t: &Transition) -> Vec<String> {
    let names: Vec<&str> = match t {
        Transition::Create(a) => vec![&a.name],
        Transition::Put(a) => vec![&a.name],
        Transition::PutBurst(puts) => puts.iter().map(|p| p.name.as_str()).collect(),
        Transition::Get { name, .. }
        | Transition::UpdateStage { name, .. }
        | Transition::Delete { name, .. }
        | Transition::Restore { name } => vec![name],
        _ => vec![],
    };
    names
        .into_iter()
        .filter_map(|n| match Params::default().name(n) {
            Some(Target::Local(n)) => Some(n),
            _ => None,
        })
        .collect()
}

fn wire(tags: &[(String, String)]) -> Vec<WireTag> {
    tags.iter()
        .map(|(k, v)| WireTag {
            tag_key: k.clone(),
            tag_value: v.clone(),
        })
        .collect()
}

fn put_request(a: &PutArgs) -> PutSecretValueRequest {
    PutSecretValueRequest {
        secret_name: a.name.clone(),
        version_id: a.version_id.clone(),
        secret_data: a.data.bytes().into(),
        secret_data_type: a.data_type,
        version_stages: a.stages.clone(),
    }
}

impl Sut {
    fn fresh_request_id(&mut self, op: &str, id: String) {
        assert!(
            is_lowercase_uuid(&id),
            "{op}: the request id {id:?} is not a lowercase UUID"
        );
        assert!(
            self.request_ids.insert(id.clone()),
            "{op}: request id {id} was answered before"
        );
    }

    fn compare<T: Response>(&mut self, op: &str, actual: Result<T, Error>, expected: &Outcome<T>) {
        stats::note(op, actual.as_ref().err().map(Error::code));
        match (actual, expected) {
            (Ok(mut a), Ok(e)) => {
                let id = std::mem::take(a.request_id());
                self.fresh_request_id(op, id);
                a.normalize();
                assert!(
                    a == *e,
                    "{op}: the facade answered\n{}\nthe model\n{}",
                    a.show(),
                    e.show()
                );
            }
            (Err(err), Err(codes)) => assert!(
                codes.contains(&err.code()),
                "{op}: the facade failed with {} ({err}); the model expects one of {codes:?}",
                err.code()
            ),
            (Ok(a), Err(codes)) => {
                panic!(
                    "{op}: the facade answered {}; the model expects {codes:?}",
                    a.show()
                )
            }
            (Err(err), Ok(e)) => panic!(
                "{op}: the facade failed with {} ({err}); the model expects {}",
                err.code(),
                e.show()
            ),
        }
    }

    fn run(&mut self, model: &Model, t: &Transition) {
        let store = self.fx.store.clone();
        match (t, &model.last) {
            (Transition::Create(a), Expected::Create(e)) => {
                let r = store.create_secret(CreateSecretRequest {
                    secret_name: a.name.clone(),
                    secret_data: a.data.bytes().into(),
                    version_id: a.version_id.clone(),
                    secret_data_type: a.data_type,
                    encryption_key_id: a.key.clone(),
                    description: a.description.clone(),
                    tags: wire(&a.tags),
                });
                self.compare("CreateSecret", r, e);
            }
            (
                Transition::Get {
                    name,
                    version_id,
                    stage,
                },
                Expected::Get(e),
            ) => {
                let r = store.get_secret_value(GetSecretValueRequest {
                    secret_name: name.clone(),
                    version_id: version_id.clone(),
                    version_stage: stage.clone(),
                });
                self.compare("GetSecretValue", r, e);
            }
            (Transition::Put(a), Expected::Put(e)) => {
                self.compare("PutSecretValue", store.put_secret_value(put_request(a)), e);
            }
            (Transition::PutBurst(puts), Expected::PutBurst(es)) => {
                for (a, e) in puts.iter().zip(es) {
                    self.compare("PutSecretValue", store.put_secret_value(put_request(a)), e);
                }
            }
            (
                Transition::UpdateStage {
                    name,
                    stage,
                    remove_from,
                    move_to,
                },
                Expected::UpdateStage(e),
            ) => {
                let r = store.update_secret_version_stage(UpdateSecretVersionStageRequest {
                    secret_name: name.clone(),
                    version_stage: stage.clone(),
                    remove_from_version: remove_from.clone(),
                    move_to_version: move_to.clone(),
                });
                self.compare("UpdateSecretVersionStage", r, e);
            }
            (
                Transition::ListVersions {
                    name,
                    include_deprecated,
                    page_number,
                    page_size,
                },
                Expected::ListVersions(e),
            ) => {
                let r = store.list_secret_version_ids(ListSecretVersionIdsRequest {
                    secret_name: name.clone(),
                    include_deprecated: *include_deprecated,
                    page_number: *page_number,
                    page_size: *page_size,
                });
                self.compare("ListSecretVersionIds", r, e);
            }
            (Transition::Describe { name, fetch_tags }, Expected::Describe(e)) => {
                let r = store.describe_secret(DescribeSecretRequest {
                    secret_name: name.clone(),
                    fetch_tags: *fetch_tags,
                });
                let r = r.map(|mut d| {
                    let key = std::mem::take(&mut d.encryption_key_id);
                    assert!(!key.is_empty(), "DescribeSecret: no EncryptionKeyId");
                    let default = self.default_key.get_or_insert_with(|| key.clone());
                    assert_eq!(&key, default, "every secret is under the default key");
                    d
                });
                self.compare("DescribeSecret", r, e);
            }
            (Transition::Update { name, description }, Expected::Update(e)) => {
                let r = store.update_secret(UpdateSecretRequest {
                    secret_name: name.clone(),
                    description: description.clone(),
                });
                self.compare("UpdateSecret", r, e);
            }
            (
                Transition::Delete {
                    name,
                    window,
                    force,
                },
                Expected::Delete(e),
            ) => {
                let r = store.delete_secret(DeleteSecretRequest {
                    secret_name: name.clone(),
                    recovery_window_in_days: *window,
                    force_delete_without_recovery: *force,
                });
                self.compare("DeleteSecret", r, e);
            }
            (Transition::Restore { name }, Expected::Restore(e)) => {
                let r = store.restore_secret(RestoreSecretRequest {
                    secret_name: name.clone(),
                });
                self.compare("RestoreSecret", r, e);
            }
            (
                Transition::ListSecrets {
                    page_number,
                    page_size,
                    fetch_tags,
                    filters,
                },
                Expected::ListSecrets(e),
            ) => {
                let r = store.list_secrets(ListSecretsRequest {
                    page_number: *page_number,
                    page_size: *page_size,
                    fetch_tags: *fetch_tags,
                    filters: filters.to_param(),
                });
                self.compare("ListSecrets", r, e);
            }
            (Transition::Tag { name, tags }, Expected::Tagged(e)) => {
                let r = store.tag_resource(TagResourceRequest {
                    secret_name: name.clone(),
                    tags: wire(tags),
                });
                self.compare_tagged("TagResource", r, e);
            }
            (Transition::Untag { name, keys }, Expected::Tagged(e)) => {
                let r = store.untag_resource(UntagResourceRequest {
                    secret_name: name.clone(),
                    tag_keys: keys.clone(),
                });
                self.compare_tagged("UntagResource", r, e);
            }
            (
                Transition::TagMany {
                    resource_type,
                    ids,
                    tags,
                },
                Expected::Tagged(e),
            ) => {
                let r = store.tag_resources(TagResourcesRequest {
                    resource_type: resource_type.clone(),
                    resource_ids: ids.clone(),
                    tags: wire(tags),
                });
                self.compare_tagged("TagResources", r, e);
            }
            (
                Transition::UntagMany {
                    resource_type,
                    ids,
                    keys,
                    all,
                },
                Expected::Tagged(e),
            ) => {
                let r = store.untag_resources(UntagResourcesRequest {
                    resource_type: resource_type.clone(),
                    resource_ids: ids.clone(),
                    tag_keys: keys.clone(),
                    all: *all,
                });
                self.compare_tagged("UntagResources", r, e);
            }
            (
                Transition::ListTags {
                    resource_type,
                    ids,
                    keys,
                },
                Expected::ListTags(e),
            ) => {
                let r = store.list_tag_resources(ListTagResourcesRequest {
                    resource_type: resource_type.clone(),
                    resource_ids: ids.clone(),
                    tag_keys: keys.clone(),
                });
                self.compare("ListTagResources", r, e);
            }
            (Transition::Password(o), Expected::Password(e)) => {
                let r = store.get_random_password(o.clone());
                self.check_password(r, e);
            }
            (Transition::Advance(secs), Expected::Clock) => self.fx.clock.advance(*secs),
            (Transition::Purge, Expected::Purge(may_linger)) => {
                let stale = invariants::stale_names(self.fx.storage.as_ref(), model);
                assert!(
                    stale.is_subset(may_linger),
                    "storage holds {stale:?}; only {may_linger:?} may linger"
                );
                let purged = store.purge_expired_secrets().expect("purge succeeds");
                assert_eq!(
                    purged,
                    stale.len(),
                    "purge_expired_secrets counts what it purged"
                );
            }
            (t, e) => unreachable!("the model answered {e:?} to {t:?}"),
        }
    }

    fn compare_tagged(
        &mut self,
        op: &str,
        actual: Result<TagResponse, Error>,
        expected: &Outcome<()>,
    ) {
        let actual = actual.map(|r| Tagged(r.request_id));
        let expected = expected.clone().map(|()| Tagged(String::new()));
        self.compare(op, actual, &expected);
    }

    fn check_password(
        &mut self,
        actual: Result<secrets_manager::GetRandomPasswordResponse, Error>,
        expected: &Outcome<PasswordRules>,
    ) {
        let (r, rules) = match (actual, expected) {
            (Ok(r), Ok(rules)) => (r, rules),
            (Err(err), Err(codes)) if codes.contains(&err.code()) => return,
            (actual, expected) => panic!(
                "GetRandomPassword: the facade answered {:?}; the model expects {expected:?}",
                actual.map(|_| "a password").map_err(|e| e.code())
            ),
        };
        self.fresh_request_id("GetRandomPassword", r.request_id.clone());
        let password =
            std::str::from_utf8(r.random_password.expose()).expect("a password is ASCII");
        assert_eq!(
            password.chars().count(),
            rules.length,
            "GetRandomPassword: length"
        );
        for c in password.chars() {
            assert!(
                rules.pools.iter().any(|p| p.contains(&c)),
                "GetRandomPassword: {c:?} is excluded"
            );
        }
        if rules.require_each {
            for pool in &rules.pools {
                assert!(
                    password.chars().any(|c| pool.contains(&c)),
                    "GetRandomPassword: no character of {pool:?}"
                );
            }
        }
    }

    /// Every version of `name` (when it exists and is not pending deletion) decrypts to exactly
    /// what was written, with its type, labels and time.
    fn check_values(&mut self, model: &Model, name: &str) {
        let Some(secret) = model.secrets.get(name) else {
            return;
        };
        if secret.planned_delete_time.is_some() {
            return;
        }
        for v in &secret.versions {
            let got = self
                .fx
                .store
                .get_secret_value(GetSecretValueRequest {
                    secret_name: name.to_owned(),
                    version_id: Some(v.id.clone()),
                    version_stage: None,
                })
                .unwrap_or_else(|e| panic!("{name:?} version {:?} does not read back: {e}", v.id));
            self.fresh_request_id("GetSecretValue", got.request_id.clone());
            assert!(
                got.secret_data.expose() == v.value.as_slice(),
                "{name:?} version {:?} decrypts to other bytes",
                v.id
            );
            assert_eq!(
                got.secret_data_type, v.data_type,
                "{name:?} version {:?}: type",
                v.id
            );
            let mut labels = got.version_stages.clone();
            labels.sort();
            assert_eq!(labels, v.labels.iter().cloned().collect::<Vec<_>>());
            assert_eq!(got.create_time.unix(), v.create_time);
        }
    }
}

/// The invariants are only worth what they catch: damage done to storage behind the facade's
/// back (a ciphertext left for no version, a label on two versions) must fail the check.
#[test]
fn the_storage_invariants_catch_damage_behind_the_facade() {
    use secret_model::{SecretName, StageLabel, VersionId};
    use secret_storage::Update;

    fn fresh() -> (Fixture, Model) {
        let fx = common::memory();
        let mut model = Model::new();
        let puts = [("v1", "alpha"), ("v2", "beta")];
        let create = Transition::Create(transitions::CreateArgs {
            name: "db".into(),
            version_id: puts[0].0.into(),
            data: transitions::Data::Text(puts[0].1),
            data_type: None,
            key: None,
            description: None,
            tags: vec![],
        });
        let put = Transition::Put(PutArgs {
            name: "db".into(),
            version_id: puts[1].0.into(),
            data: transitions::Data::Text(puts[1].1),
            data_type: None,
            stages: None,
        });
        let mut sut = Sut {
            fx,
            request_ids: HashSet::new(),
            default_key: None,
            seen: RefCell::default(),
        };
        for t in [create, put] {
            model.apply(&t);
            sut.run(&model, &t);
        }
        invariants::check(sut.fx.storage.as_ref(), &model, &mut sut.seen.borrow_mut());
        (sut.fx, model)
    }
    let fails = |fx: &Fixture, model: &Model| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            invariants::check(fx.storage.as_ref(), model, &mut Default::default());
        }))
        .is_err()
    };

    let (fx, model) = fresh();
    let name = SecretName::parse("db").unwrap();
    fx.storage
        .update(&name, &mut |current| Update::Write {
            record: current.expect("db exists").clone(),
            put_payloads: vec![(VersionId::parse("gone").unwrap(), b"orphan".to_vec())],
            delete_payloads: vec![],
        })
        .unwrap();
    assert!(
        fails(&fx, &model),
        "a ciphertext without a version goes unnoticed"
    );

    let (fx, model) = fresh();
    fx.rewrite("db", |r| r.versions[0].stages.push(StageLabel::current()));
    assert!(
        fails(&fx, &model),
        "ACSCurrent on two versions goes unnoticed"
    );
}
