//! [`SledOptions`]: how [`SledStorage::open_with`](crate::SledStorage::open_with) sets up sled.

/// How to open a [`SledStorage`](crate::SledStorage).
///
/// ```
/// use secret_storage_sled::{SledOptions, SledStorage};
///
/// let dir = tempfile::tempdir()?;
/// let options = SledOptions::default().with_cache_capacity_bytes(32 * 1024 * 1024);
/// let store = SledStorage::open_with(dir.path(), options)?;
/// # drop(store);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SledOptions {
    /// The most memory sled's page cache should use, in bytes; default
    /// [`SledOptions::DEFAULT_CACHE_CAPACITY_BYTES`]. Reads of pages that do not fit go to
    /// disk. sled's accounting is approximate: the process may hold somewhat more than this.
    pub cache_capacity_bytes: u64,
}

impl SledOptions {
    /// The default page-cache capacity: 256 MiB, a quarter of sled's own default (1 GiB).
    /// It holds the records and recent payloads of some 100,000 secrets of 1 KiB, while
    /// keeping an embedding process's memory bounded; raise it for larger stores that are read
    /// at random.
    pub const DEFAULT_CACHE_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

    /// These options with the page-cache capacity set to `bytes`.
    pub fn with_cache_capacity_bytes(mut self, bytes: u64) -> Self {
        self.cache_capacity_bytes = bytes;
        self
    }

    /// The sled configuration these options describe (without a path).
    pub(crate) fn sled_config(&self) -> sled::Config {
        sled::Config::new().cache_capacity(self.cache_capacity_bytes)
    }
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_capacity_bytes: Self::DEFAULT_CACHE_CAPACITY_BYTES,
        }
    }
}
