//! Feeds arbitrary bytes to the envelope parser: it must never panic, and whatever it accepts
//! must be a consistent view of the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_crypto::envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = envelope::parse(data) {
        assert_eq!(env.format_version(), envelope::FORMAT_V1);
        assert_eq!(
            env.header().len() + env.nonce().len() + env.ciphertext().len(),
            data.len()
        );
        assert_eq!(env.header().len(), 24 + env.wrapped_dek().len());
        assert!(!env.wrapped_dek().is_empty());
        assert!(env.ciphertext().len() >= 16);
        assert_eq!(env.key_id().uuid().as_bytes(), &data[2..18]);
    }
});
