//! SledStorage runs the whole storage conformance suite on both of its write paths (the write
//! journal, the default; sled transactions), each case in a fresh directory.

use secret_storage::testkit::Guarded;
use secret_storage_sled::{SledOptions, SledStorage};
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

/// A store opened with `options` in its own temporary directory.
fn temp_sled(options: SledOptions) -> Guarded<SledStorage, CheckedDir> {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStorage::open_with(dir.path(), options).unwrap();
    Guarded {
        store: store.clone(),
        guard: CheckedDir { store, _dir: dir },
    }
}

mod journal {
    use super::*;

    fn make() -> Guarded<SledStorage, CheckedDir> {
        temp_sled(SledOptions::default())
    }

    secret_storage::conformance_tests!(make);
}

mod transactions {
    use super::*;

    fn make() -> Guarded<SledStorage, CheckedDir> {
        temp_sled(SledOptions::default().with_journal(false))
    }

    secret_storage::conformance_tests!(make);
}
