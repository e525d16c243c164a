//! SledStorage runs the whole storage conformance suite, each case in a fresh directory.

use secret_storage::testkit::Guarded;
use secret_storage_sled::SledStorage;
use tempfile::TempDir;

/// What a case's store lives in: its directory, removed once the store is closed — after
/// checking that the case left the layout sound, whatever it did. (Checked at the end, as the
/// scan is not atomic with respect to concurrent writers.)
struct CheckedDir {
    // Declared first so that this handle closes before the directory goes.
    store: SledStorage,
    _dir: TempDir,
}

impl Drop for CheckedDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.store.check_integrity().unwrap();
        }
    }
}

/// A store in its own temporary directory.
fn temp_sled() -> Guarded<SledStorage, CheckedDir> {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open(dir.path()).unwrap();
    Guarded {
        store: store.clone(),
        guard: CheckedDir { store, _dir: dir },
    }
}

secret_storage::conformance_tests!(temp_sled);
