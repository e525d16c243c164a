//! [`SharedKeyringKms`]: a `LocalKms` on a [`PostgresKeyring`] that follows the changes other
//! instances make to the shared keyring.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use secret_crypto::{
    DataKey, DataKeyBytes, KeyMetadata, Kms, KmsError, LocalKms, RecordSealKey, RootKey,
    WrappedDataKey,
};
use secret_model::KeyId;

use crate::PostgresKeyring;

/// How many times an operation is tried when the keyring keeps changing under it.
const ATTEMPTS: u32 = 10;

type RootSource = dyn Fn() -> Result<RootKey, KmsError> + Send + Sync;

/// The `LocalKms` in use and the keyring handle it saves through.
struct Current {
    kms: Arc<LocalKms>,
    keyring: Arc<PostgresKeyring>,
}

/// A [`Kms`] for several instances sharing one keyring in PostgreSQL: a [`LocalKms`] on a
/// [`PostgresKeyring`], reopened whenever the keyring in the database is newer than its copy.
///
/// A plain `LocalKms` reads its keyring once and keeps it in memory, so a master key created
/// or rotated by another instance stays unknown to it until it is reopened, and its own saves
/// are refused once another instance has saved ([`PostgresKeyring`] never lets an old copy
/// overwrite a newer one). This wrapper reopens the `LocalKms` (re-reading the keyring) and
/// tries again:
///
/// - when a save is refused (another instance created, rotated, enabled or disabled a key, or
///   reserved a block of data-key wraps, since this one loaded the keyring);
/// - on a miss — a key id it does not know, or a wrapped data key from a key version newer than
///   it knows — if the stored keyring is newer than its copy (one small query decides).
///
/// - before a data key is made or opened, and before a key is described or the default key
///   chosen, if the keyring was last checked more than the refresh interval ago (1 s by
///   default, [`SharedKeyringKms::with_refresh_interval`]; one small query): so a key rotated
///   elsewhere wraps this instance's new data keys under its new version, and a key disabled
///   elsewhere is refused here, within that interval.
///
/// Call [`SharedKeyringKms::reload`] to pick up every change at once.
///
/// The root key is needed at every reload and never kept by this type: `root` makes it
/// (from bytes held in `Zeroizing`, a key file, an environment variable).
pub struct SharedKeyringKms {
    keyring: PostgresKeyring,
    root: Box<RootSource>,
    current: RwLock<Current>,
    /// How long a check of the stored keyring's generation holds.
    refresh: Duration,
    /// When the stored keyring was last checked, in microseconds since `opened`.
    checked_at: AtomicU64,
    opened: Instant,
    /// The stored keyring's generation last found to hold the same keys (ids, states, primary
    /// versions) as the copy in use: changed since only by other instances' reservations of
    /// data-key wraps, which need no reload (`i64::MIN`: none yet).
    same_keys_at: AtomicI64,
}

/// How long a check that the keyring is unchanged holds, by default.
pub const DEFAULT_KEYRING_REFRESH: Duration = Duration::from_secs(1);

impl fmt::Debug for SharedKeyringKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeyringKms")
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

impl SharedKeyringKms {
    /// Opens the keyring `keyring` names (an empty one if none is stored yet) under the root
    /// key `root` makes.
    ///
    /// Errors: `Keyring` when PostgreSQL cannot be read or `root` fails (its error becomes the
    /// message); `WrongRootKey` when the root key does not open the stored keyring.
    pub fn open<F, E>(keyring: PostgresKeyring, root: F) -> Result<Self, KmsError>
    where
        F: Fn() -> Result<RootKey, E> + Send + Sync + 'static,
        E: fmt::Display,
    {
        let root: Box<RootSource> = Box::new(move || {
            root().map_err(|e| KmsError::Keyring(format!("cannot get the root key: {e}")))
        });
        let current = open_local(&keyring, &*root)?;
        Ok(SharedKeyringKms {
            keyring,
            root,
            current: RwLock::new(current),
            refresh: DEFAULT_KEYRING_REFRESH,
            checked_at: AtomicU64::new(0),
            opened: Instant::now(),
            same_keys_at: AtomicI64::new(i64::MIN),
        })
    }

    /// Sets how long a check that the shared keyring is unchanged holds before data keys are
    /// made or opened again without one ([`DEFAULT_KEYRING_REFRESH`], 1 s, by default):
    /// the longest a key rotated or disabled by another instance goes on being used here as
    /// it was. `Duration::ZERO` checks before every one (a query each).
    pub fn with_refresh_interval(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// Re-reads the keyring from PostgreSQL, so that keys created, rotated, enabled or disabled
    /// by other instances are seen now. Errors: as for [`SharedKeyringKms::open`].
    pub fn reload(&self) -> Result<(), KmsError> {
        let fresh = open_local(&self.keyring, &*self.root)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Creates an enabled master key, saved in the shared keyring, and returns its metadata.
    /// Errors: `Keyring` (after a few reloads, if the keyring keeps changing), `Rng`.
    pub fn create_key(&self, description: &str) -> Result<KeyMetadata, KmsError> {
        self.run(|kms| kms.create_key(description))
    }

    /// Every master key in the shared keyring, in creation order (reloading first if another
    /// instance changed it). Errors: `Keyring` when PostgreSQL cannot be read.
    pub fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        self.reload_if_stale()?;
        self.kms().list_keys()
    }

    /// Adds a key version and makes it primary; returns its number.
    /// Errors: `KeyNotFound`, `KeyDisabled`, `Keyring`, `Rng`.
    pub fn rotate_key(&self, key_id: &KeyId) -> Result<u32, KmsError> {
        self.run(|kms| kms.rotate_key(key_id))
    }

    /// Makes a key usable again. Errors: `KeyNotFound`, `Keyring`, `Rng`.
    pub fn enable_key(&self, key_id: &KeyId) -> Result<(), KmsError> {
        self.run(|kms| kms.enable_key(key_id))
    }

    /// Refuses every use of a key (on other instances within their refresh interval).
    /// Errors: `KeyNotFound`, `Keyring`, `Rng`.
    pub fn disable_key(&self, key_id: &KeyId) -> Result<(), KmsError> {
        self.run(|kms| kms.disable_key(key_id))
    }

    fn kms(&self) -> Arc<LocalKms> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&current.kms)
    }

    /// Checks the stored keyring if it was last checked more than the refresh interval ago
    /// (every time with no interval; otherwise one thread checks and the others go on
    /// meanwhile): see [`Self::refresh`].
    fn refresh_if_due(&self) -> Result<(), KmsError> {
        if self.refresh.is_zero() {
            return self.refresh();
        }
        let now = u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        let last = self.checked_at.load(Ordering::Relaxed);
        let interval = u64::try_from(self.refresh.as_micros()).unwrap_or(u64::MAX);
        if now.saturating_sub(last) >= interval
            && self
                .checked_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refresh()?;
        }
        Ok(())
    }

    /// Switches to the stored keyring if its keys differ from the copy in use (created,
    /// rotated, enabled or disabled elsewhere). A keyring that another instance saved only to
    /// reserve data-key wraps holds the same keys: the copy in use goes on with its own
    /// reservation (a fresh copy would start a new one, and save the keyring, making every
    /// other instance reload in turn). One small query when nothing was saved elsewhere since
    /// the last look; a read of the keyring when something was.
    fn refresh(&self) -> Result<(), KmsError> {
        let (handle, kms) = {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            (Arc::clone(&current.keyring), Arc::clone(&current.kms))
        };
        let Some(stored) = handle.stored_generation()? else {
            return Ok(());
        };
        if Some(stored) == handle.seen_generation()
            || stored == self.same_keys_at.load(Ordering::Relaxed)
        {
            return Ok(());
        }
        let fresh = open_local(&self.keyring, &*self.root)?;
        if fresh.kms.list_keys()? == kms.list_keys()? {
            self.same_keys_at.store(stored, Ordering::Relaxed);
            return Ok(());
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have switched meanwhile; either copy is at least as new as ours.
        if Arc::ptr_eq(&current.kms, &kms) {
            *current = fresh;
        }
        Ok(())
    }

    /// Reloads if the stored keyring is newer than the copy in use; says whether it did.
    fn reload_if_stale(&self) -> Result<bool, KmsError> {
        let (handle, kms) = {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            (Arc::clone(&current.keyring), Arc::clone(&current.kms))
        };
        if handle.stored_generation()? == handle.seen_generation() {
            return Ok(false);
        }
        let fresh = open_local(&self.keyring, &*self.root)?;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have reloaded meanwhile; either copy is at least as new as ours.
        if Arc::ptr_eq(&current.kms, &kms) {
            *current = fresh;
        }
        Ok(true)
    }

    /// Runs `op`; after a refused save, reloads and runs it again (a few times at most); after
    /// a miss, reloads if the keyring changed and runs it once more.
    fn run<T>(&self, op: impl Fn(&LocalKms) -> Result<T, KmsError>) -> Result<T, KmsError> {
        let mut attempt = 1;
        loop {
            let (kms, handle) = {
                let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
                (Arc::clone(&current.kms), Arc::clone(&current.keyring))
            };
            match op(&kms) {
                Err(KmsError::Keyring(_)) if handle.refused_a_save() && attempt < ATTEMPTS => {
                    // Instances that all just reloaded all save again at once (a reloaded copy
                    // reserves a new block of wraps first): spread them out.
                    std::thread::sleep(jitter(attempt));
                    self.reload_if_stale()?;
                }
                Err(KmsError::KeyNotFound(id)) if attempt == 1 => {
                    if !self.reload_if_stale()? {
                        return Err(KmsError::KeyNotFound(id));
                    }
                }
                other => return other,
            }
            attempt += 1;
        }
    }
}

/// A pause of up to 2^`attempt` ms (at most ~0.5 s), different in every thread and process.
fn jitter(attempt: u32) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let span_us = 1000u64 << attempt.min(9);
    Duration::from_micros(u64::from(nanos) % span_us)
}

/// A `LocalKms` on a fresh handle of `keyring`.
fn open_local(keyring: &PostgresKeyring, root: &RootSource) -> Result<Current, KmsError> {
    let handle = Arc::new(keyring.reopen());
    let kms = LocalKms::open(root()?, Box::new(Arc::clone(&handle)))?;
    Ok(Current {
        kms: Arc::new(kms),
        keyring: handle,
    })
}

/// Whether `wrapped` names a key version newer than `kms` knows for its key.
fn from_newer_version(kms: &LocalKms, wrapped: &WrappedDataKey) -> bool {
    kms.describe_key(&wrapped.key_id)
        .is_ok_and(|meta| wrapped.key_version > meta.primary_key_version)
}

impl Kms for SharedKeyringKms {
    fn generate_data_key(&self, key_id: &KeyId, context: &[u8]) -> Result<DataKey, KmsError> {
        self.refresh_if_due()?;
        self.run(|kms| kms.generate_data_key(key_id, context))
    }

    /// A wrapped key from a key version this copy does not know yet (rotated by another
    /// instance) makes it reload once; any other failure is returned as is, so that the time
    /// a failure takes says nothing about the ciphertext.
    fn decrypt_data_key(
        &self,
        wrapped: &WrappedDataKey,
        context: &[u8],
    ) -> Result<DataKeyBytes, KmsError> {
        self.refresh_if_due()?;
        let kms = self.kms();
        if from_newer_version(&kms, wrapped) {
            self.reload_if_stale()?;
        }
        self.run(|kms| kms.decrypt_data_key(wrapped, context))
    }

    fn describe_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.refresh_if_due()?;
        self.run(|kms| kms.describe_key(key_id))
    }

    fn default_key(&self) -> Result<KeyId, KmsError> {
        self.refresh_if_due()?;
        self.run(|kms| kms.default_key())
    }

    /// Every instance sharing the keyring gets the same key: when two make one at once, the
    /// keyring's compare-and-swap refuses one save, and that instance reloads and takes the
    /// stored key.
    fn record_seal_key(&self) -> Result<RecordSealKey, KmsError> {
        self.run(|kms| kms.record_seal_key())
    }

    /// Works on the stored keyring as it is now (reloaded first); when another instance has
    /// begun a rotation meanwhile, the compare-and-swap refuses this save and the reloaded
    /// copy resumes that rotation instead of beginning another. Instances that loaded the
    /// keyring before still seal under the old key: stop them first (`docs/operations.md`).
    fn begin_record_seal_key_rotation(&self) -> Result<RecordSealKey, KmsError> {
        self.reload_if_stale()?;
        self.run(|kms| kms.begin_record_seal_key_rotation())
    }

    /// Finishes only the rotation to `rotated_to`, as the stored keyring has it now (reloaded
    /// first, and the compare-and-swap refuses a save over another instance's change).
    fn finish_record_seal_key_rotation(
        &self,
        rotated_to: &RecordSealKey,
    ) -> Result<RecordSealKey, KmsError> {
        self.reload_if_stale()?;
        self.run(|kms| kms.finish_record_seal_key_rotation(rotated_to))
    }
}
