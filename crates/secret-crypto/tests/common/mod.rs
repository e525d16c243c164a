//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secret_crypto::{KeyringStore, KmsError, MemoryKeyring};
use secret_model::{SecretName, VersionId};

/// Decodes hex text, ignoring ASCII whitespace (so vectors may be wrapped).
pub fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

pub fn version(s: &str) -> VersionId {
    VersionId::parse(s).unwrap()
}

/// A memory store that counts saves and can be told to fail them.
#[derive(Default)]
pub struct CountingStore {
    pub inner: MemoryKeyring,
    pub saves: AtomicUsize,
    pub fail: std::sync::atomic::AtomicBool,
}

impl CountingStore {
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn saves(&self) -> usize {
        self.saves.load(Ordering::SeqCst)
    }

    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl KeyringStore for CountingStore {
    fn load(&self) -> Result<Option<Vec<u8>>, KmsError> {
        self.inner.load()
    }

    fn save(&self, bytes: &[u8]) -> Result<(), KmsError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(KmsError::Keyring("disk full (simulated)".into()));
        }
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(bytes)
    }
}
