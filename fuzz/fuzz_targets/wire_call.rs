//! Drives the wire layer with arbitrary actions and parameters against an in-memory store:
//! every request must end in a response or an Alibaba error code, never a panic, and a
//! canary value stored first must never appear in an error message.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use secrets_manager::SecretsManager;
use secrets_wire::{OPERATIONS, Params, call};

const CANARY: &str = "CANARY-fuzz-7d1e";

fn store() -> &'static SecretsManager {
    static STORE: OnceLock<SecretsManager> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = secrets_manager::testing::memory_store();
        let p: Params = [
            ("SecretName", "seed"),
            ("VersionId", "v1"),
            ("SecretData", CANARY),
        ]
        .into_iter()
        .collect();
        call(&store, "CreateSecret", &p).expect("the seed secret is created");
        store
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let op = &OPERATIONS[selector as usize % OPERATIONS.len()];
    let text = String::from_utf8_lossy(rest);
    // The input is split on 0x00 into values for the operation's parameters, in order; a
    // value may also name its own parameter as `Name=value` (for flattened forms).
    let mut params = Params::new();
    for (i, part) in text.split('\0').enumerate() {
        match part.split_once('=') {
            Some((name, value)) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') => {
                params.insert(name, value)
            }
            _ => {
                if let Some(p) = op.params.get(i) {
                    params.insert(p.name, part);
                }
            }
        }
    }
    if let Err(e) = call(store(), op.action, &params) {
        // Names are echoed in messages; only a canary the input did not carry is a leak.
        if !text.contains(CANARY) {
            assert!(
                !e.message().contains(CANARY),
                "an error message leaked a value"
            );
        }
        assert!((400..600).contains(&e.http_status()));
    }
});
