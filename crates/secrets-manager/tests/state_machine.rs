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
#[path = "state_machine/sut.rs"]
mod sut;
#[path = "state_machine/transitions.rs"]
mod transitions;

use std::marker::PhantomData;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

use common::Fixture;
use model::Model;
use sut::Sut;
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

/// The checked store, and the fixture that keeps its backend alive (sled's directory).
pub struct Run {
    sut: Sut,
    _fx: Fixture,
}

pub struct Harness<B>(PhantomData<B>);

impl<B: Backend> StateMachineTest for Harness<B> {
    type SystemUnderTest = Run;
    type Reference = Reference;

    fn init_test(_: &Model) -> Run {
        let fx = B::fixture();
        Run {
            sut: Sut::new(fx.store.clone(), fx.storage.clone(), fx.clock.clone()),
            _fx: fx,
        }
    }

    fn apply(mut run: Run, model: &Model, transition: Transition) -> Run {
        run.sut.step(model, &transition);
        run
    }

    fn check_invariants(run: &Run, model: &Model) {
        run.sut.check_invariants(model);
    }

    fn teardown(mut run: Run, model: Model) {
        run.sut.check_every_value(&model);
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
        let mut sut = Sut::new(fx.store.clone(), fx.storage.clone(), fx.clock.clone());
        for t in [create, put] {
            model.apply(&t);
            sut.run(&model, &t);
        }
        sut.check_invariants(&model);
        (fx, model)
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
            put_payloads: vec![(VersionId::parse("gone").unwrap(), b"orphan".to_vec().into())],
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
