//! Small helpers for examples and tests.

use std::sync::Arc;

use secret_crypto::{LocalKms, RootKey};
use secret_storage::MemoryStorage;

use crate::SecretsManager;

/// A store in memory with a fresh random root key: for examples and tests only — everything is
/// lost when it is dropped.
pub fn memory_store() -> SecretsManager {
    SecretsManager::builder(
        Arc::new(MemoryStorage::new()),
        Arc::new(LocalKms::in_memory(
            RootKey::generate().expect("the operating system's random generator works"),
        )),
    )
    .build()
}
