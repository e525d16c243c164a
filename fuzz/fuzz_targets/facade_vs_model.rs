//! Sequences of facade operations on `MemoryStorage`, checked against the reference model of
//! the state-machine test (`crates/secrets-manager/tests/state_machine/`): every response field
//! that is deterministic and every error code must agree with the model's, and the storage
//! invariants must hold after every step. The input is decoded into operations drawn from
//! small alphabets (three names, twelve version ids, ten labels, a few tag keys) so that
//! retries, label moves, the version and label caps, expiry and tag limits are reached often.
//!
//! `FACADE_VS_MODEL_TRACE=1 cargo +nightly fuzz run facade_vs_model <input>` prints the decoded
//! operations, to turn a crash into a regression test.

#![no_main]

// The model, the harness and the alphabets, shared with the proptest state machine rather than
// written twice (its strategies, which need proptest, are left out).
#[path = "../../crates/secrets-manager/tests/common/constants.rs"]
mod common;
#[path = "../../crates/secrets-manager/tests/state_machine/invariants.rs"]
mod invariants;
#[path = "../../crates/secrets-manager/tests/state_machine/model.rs"]
mod model;
#[path = "../../crates/secrets-manager/tests/state_machine/model_reads.rs"]
mod model_reads;
#[path = "../../crates/secrets-manager/tests/state_machine/model_tags.rs"]
mod model_tags;
#[path = "../../crates/secrets-manager/tests/state_machine/responses.rs"]
mod responses;
#[path = "../../crates/secrets-manager/tests/state_machine/rules.rs"]
mod rules;
#[allow(dead_code)] // `case_done` ends a proptest run; a fuzz run has no last case.
#[path = "../../crates/secrets-manager/tests/state_machine/stats.rs"]
mod stats;
#[path = "../../crates/secrets-manager/tests/state_machine/sut.rs"]
mod sut;
#[path = "../../crates/secrets-manager/tests/state_machine/transitions.rs"]
mod transitions;

#[path = "facade_vs_model/decode.rs"]
mod decode;

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use secret_crypto::{LocalKms, RootKey};
use secret_model::{StoreLocation, Timestamp};
use secret_storage::MemoryStorage;
use secrets_manager::{ManualClock, SecretsManager};

use common::{ACCOUNT, REGION, START};
use model::Model;
use sut::Sut;

/// Enough steps to fill a secret to its version cap and let it expire; more only slows a run.
const MAX_STEPS: usize = 128;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let clock = ManualClock::new(Timestamp::from_unix(START));
    let storage = Arc::new(MemoryStorage::new());
    let store = SecretsManager::builder(
        storage.clone(),
        Arc::new(LocalKms::in_memory(RootKey::from_bytes([7; 32]))),
    )
    .location(StoreLocation::new(REGION, ACCOUNT).expect("the test location is valid"))
    .clock(Arc::new(clock.clone()))
    .build();
    let mut sut = Sut::new(store, storage, clock);
    let mut model = Model::new();
    for step in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        let Ok(t) = decode::transition(&mut u, &model) else {
            break;
        };
        if trace() {
            eprintln!("step {step}: {t:?}");
        }
        model.apply(&t);
        sut.step(&model, &t);
        sut.check_invariants(&model);
    }
    sut.check_every_value(&model);
});

fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FACADE_VS_MODEL_TRACE").is_some())
}
