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
    /// disk. sled's accounting is approximate: the process holds more than this — with the
    /// default, filling a store with 1,000,000 secrets of 1 KiB grew the process by ~383 MiB,
    /// and 100,000 by ~66 MiB (`docs/benchmarks.md`, fifteenth session's scale table; payloads
    /// written through the journal are in the value log, read through the operating system's
    /// page cache, not in this one).
    pub cache_capacity_bytes: u64,
    /// Whether writes go through the store's write journal (default `true`): each write is
    /// made durable by one small `fdatasync` of a preallocated file, shared by the writes that
    /// arrive meanwhile, and applied to sled after that; sled itself is flushed only at
    /// checkpoints. With `false`, each write is a sled transaction followed by a sled flush
    /// shared by concurrent writers. Either way a write is acknowledged only once durable.
    ///
    /// Opening with `false` a store that has a journal replays it into sled and removes it.
    pub journal: bool,
    /// The size the write journal is created at, in bytes; a checkpoint (a sled flush) empties
    /// it whenever its frames reach this size (frames past the file's end extend it). Default
    /// [`SledOptions::DEFAULT_JOURNAL_CAPACITY_BYTES`].
    pub journal_capacity_bytes: u64,
    /// How large a segment of the value log (where journaled writes put payloads, `values/`
    /// in the store's directory) grows before the next one starts, in bytes; garbage is freed
    /// a segment at a time ([`SledStorage::collect_garbage`](crate::SledStorage::collect_garbage)).
    /// At most 32 segment files are open at a time (others are opened when read), so a store
    /// may hold more segments than the process may open files; a smaller size means more
    /// opening and closing of files for reads of old payloads.
    pub value_segment_bytes: u64,
}

impl SledOptions {
    /// The default page-cache capacity: 256 MiB, a quarter of sled's own default (1 GiB).
    /// It holds the records and recent payloads of some 100,000 secrets of 1 KiB, while
    /// keeping an embedding process's memory bounded; raise it for larger stores that are read
    /// at random.
    pub const DEFAULT_CACHE_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

    /// The default size of the write journal: 16 MiB, some 10,000 writes of 1 KiB values
    /// between checkpoints.
    pub const DEFAULT_JOURNAL_CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

    /// The default size of a value log segment: 64 MiB, some 55,000 payloads of 1 KiB.
    pub const DEFAULT_VALUE_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

    /// These options with value log segments of `bytes` (see
    /// [`SledOptions::value_segment_bytes`]).
    pub fn with_value_segment_bytes(mut self, bytes: u64) -> Self {
        self.value_segment_bytes = bytes;
        self
    }

    /// These options with the write journal on or off (see [`SledOptions::journal`]).
    pub fn with_journal(mut self, journal: bool) -> Self {
        self.journal = journal;
        self
    }

    /// These options with the journal created at `bytes` (see
    /// [`SledOptions::journal_capacity_bytes`]).
    pub fn with_journal_capacity_bytes(mut self, bytes: u64) -> Self {
        self.journal_capacity_bytes = bytes;
        self
    }

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
            journal: true,
            journal_capacity_bytes: Self::DEFAULT_JOURNAL_CAPACITY_BYTES,
            value_segment_bytes: Self::DEFAULT_VALUE_SEGMENT_BYTES,
        }
    }
}
