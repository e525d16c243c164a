//! Opening a store again in the process that just dropped it. sled finishes a dropped handle's
//! last log writes on its threadpool, which holds the database file (and the directory's lock)
//! a few milliseconds longer, so an open right after the drop can find the directory locked.
//! `SledStorage::open` waits up to a second for that; these wait up to 5 s, for loaded CI.

use std::fmt::{Debug, Display};
use std::path::Path;
use std::time::{Duration, Instant};

use secret_storage_sled::SledStorage;

/// Opens the sled database in `dir` directly, as the tests that look beneath `SledStorage` do.
#[allow(dead_code)] // not every test file that includes this module opens sled directly
pub(crate) fn open_db(dir: &Path) -> sled::Db {
    when_unlocked(|| sled::open(dir))
}

/// Opens the store in `dir` with the default options.
#[allow(dead_code)] // not every test file that includes this module reopens the store
pub(crate) fn reopen(dir: &Path) -> SledStorage {
    when_unlocked(|| SledStorage::open(dir))
}

/// Runs `open` until it does not fail for the directory's lock (5 s at most).
fn when_unlocked<T, E: Display + Debug>(open: impl Fn() -> Result<T, E>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open() {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
}
