//! SledStorage runs the whole storage conformance suite, each case in a fresh directory.

use secret_model::{SecretName, VersionId};
use secret_storage::{SecretRecord, Snapshot, Storage, StorageError, Update};
use secret_storage_sled::SledStorage;
use tempfile::TempDir;

/// A store in its own temporary directory, removed after the store is dropped.
struct TempSled {
    // Declared first so it is dropped (and sled closed) before the directory goes.
    store: SledStorage,
    _dir: TempDir,
}

fn temp_sled() -> TempSled {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    TempSled { store, _dir: dir }
}

impl Storage for TempSled {
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError> {
        self.store.read(name)
    }

    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.store.read_payload(name, version_id)
    }

    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError> {
        self.store.snapshot(name)
    }

    fn update(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update,
    ) -> Result<(), StorageError> {
        self.store.update(name, f)
    }

    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError> {
        self.store.list(after, limit)
    }
}

impl Drop for TempSled {
    fn drop(&mut self) {
        // Every case must leave the layout sound, whatever it did. (Checked at the end, as
        // the scan is not atomic with respect to concurrent writers.)
        if !std::thread::panicking() {
            self.store.check_integrity().unwrap();
        }
    }
}

secret_storage::conformance_tests!(temp_sled);
