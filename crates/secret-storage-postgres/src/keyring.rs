//! [`PostgresKeyring`]: the encrypted `LocalKms` keyring in a PostgreSQL row, shared by every
//! instance, and never silently overwritten by an instance that had not seen the latest one.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use secret_crypto::{KeyringStore, KmsError};
use secret_storage::StorageError;

use crate::PostgresStorage;
use crate::error::{Failed, commit};
use crate::pool::with_conn;

/// The keyring name [`PostgresKeyring`] uses unless told otherwise.
pub const DEFAULT_KEYRING: &str = "default";

/// What this handle last read or wrote: the generation it believes is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// Neither loaded nor saved yet.
    Nothing,
    /// Loaded, and there was no keyring.
    Absent,
    /// Loaded or saved this generation.
    Generation(i64),
}

/// A [`KeyringStore`] that keeps one keyring blob (already encrypted and authenticated under
/// the root key by `LocalKms`) in the `keyrings` table of a [`PostgresStorage`]'s schema, so
/// that every instance of a service shares the same master keys. The root key is never here.
///
/// Each save is a compare-and-swap: it succeeds only if the stored keyring is still the one
/// this handle last loaded or saved (a generation number counts saves). A `LocalKms` caches
/// its keyring in memory and saves the whole of it on every change, so without this check an
/// instance holding an old copy (say, from before another instance created or rotated a key)
/// would erase that key with its next save — and with it every secret wrapped under it. With
/// the check, that save fails instead (`KmsError::Keyring`, "changed by another instance"),
/// and the instance must reopen its `LocalKms` to see the new keyring: [`SharedKeyringKms`]
/// does exactly that, by itself. A handle that has never loaded may only create the keyring.
///
/// Use one handle per `LocalKms` (clone the storage, not the handle: a handle's memory of
/// what it saw belongs to one keyring copy).
///
/// [`SharedKeyringKms`]: crate::SharedKeyringKms
pub struct PostgresKeyring {
    storage: PostgresStorage,
    name: String,
    seen: Mutex<Seen>,
    refused: AtomicBool,
}

impl fmt::Debug for PostgresKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresKeyring")
            .field("schema", &self.storage.schema())
            .field("name", &self.name)
            .field("seen", &self.seen())
            .finish()
    }
}

impl PostgresKeyring {
    /// The keyring called `name` (any text; [`DEFAULT_KEYRING`] by convention) in
    /// `storage`'s schema. Nothing is read until [`KeyringStore::load`].
    pub fn new(storage: PostgresStorage, name: &str) -> Self {
        PostgresKeyring {
            storage,
            name: name.to_owned(),
            seen: Mutex::new(Seen::Nothing),
            refused: AtomicBool::new(false),
        }
    }

    /// The keyring's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh handle on the same keyring, which has seen nothing yet.
    pub fn reopen(&self) -> Self {
        PostgresKeyring::new(self.storage.clone(), &self.name)
    }

    /// The generation stored now (how many saves the keyring has had), or `None` if there is
    /// no keyring yet. Errors: `KmsError::Keyring` when PostgreSQL cannot be read.
    pub fn stored_generation(&self) -> Result<Option<i64>, KmsError> {
        let loaded = self.read()?;
        Ok(loaded.map(|(generation, _)| generation))
    }

    /// The generation this handle last loaded or saved; `None` if it found no keyring or has
    /// not loaded yet.
    pub fn seen_generation(&self) -> Option<i64> {
        match self.seen() {
            Seen::Generation(g) => Some(g),
            Seen::Absent | Seen::Nothing => None,
        }
    }

    /// Whether a save through this handle was ever refused because another instance had saved
    /// first (the handle's keyring copy is then out of date for good).
    pub fn refused_a_save(&self) -> bool {
        self.refused.load(Ordering::Acquire)
    }

    fn seen(&self) -> Seen {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_seen(&self, seen: Seen) {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
    }

    fn read(&self) -> Result<Option<(i64, Vec<u8>)>, KmsError> {
        with_conn(&self.storage.pool, "loading the keyring", |conn| {
            let (client, st) = conn.parts()?;
            match client.query_opt(&st.keyring_load, &[&self.name])? {
                None => Ok(None),
                Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
            }
        })
        .map_err(keyring_error)
    }

    /// Saves `bytes` if the stored keyring is still at `seen`; returns the new generation,
    /// or the generation found instead (`None` for no keyring) as `Err`.
    fn compare_and_swap(&self, seen: Seen, bytes: &[u8]) -> Result<Result<i64, Seen>, KmsError> {
        with_conn(&self.storage.pool, "saving the keyring", |conn| {
            let (client, st) = conn.parts()?;
            let mut tx = client.transaction()?;
            let found = match tx.query_opt(&st.keyring_lock, &[&self.name])? {
                None => Seen::Absent,
                Some(row) => Seen::Generation(row.try_get(0)?),
            };
            let outcome = match (seen, found) {
                (Seen::Nothing | Seen::Absent, Seen::Absent) => {
                    let inserted = tx.execute(&st.keyring_insert, &[&self.name, &bytes])?;
                    // Another creator can only have slipped in between the read and the
                    // insert; then nothing was inserted.
                    if inserted == 1 {
                        Ok(1)
                    } else {
                        Err(Seen::Nothing)
                    }
                }
                (Seen::Generation(expected), Seen::Generation(now)) if expected == now => {
                    let row = tx.query_one(&st.keyring_update, &[&self.name, &bytes, &expected])?;
                    Ok(row.try_get(0)?)
                }
                (_, found) => Err(found),
            };
            commit(tx)?;
            Ok::<_, Failed>(outcome)
        })
        .map_err(keyring_error)
    }
}

fn keyring_error(e: StorageError) -> KmsError {
    KmsError::Keyring(format!("PostgreSQL keyring: {e}"))
}

impl KeyringStore for PostgresKeyring {
    /// The stored blob, remembering its generation for the next save.
    /// Errors: `KmsError::Keyring` when PostgreSQL cannot be read.
    fn load(&self) -> Result<Option<Vec<u8>>, KmsError> {
        let loaded = self.read()?;
        let (seen, blob) = match loaded {
            None => (Seen::Absent, None),
            Some((generation, blob)) => (Seen::Generation(generation), Some(blob)),
        };
        self.set_seen(seen);
        Ok(blob)
    }

    /// Replaces the blob, durably, in one transaction — only if no other instance saved since
    /// this handle last loaded or saved. Errors: `KmsError::Keyring` when PostgreSQL fails, or
    /// when another instance changed the keyring (nothing is saved then; reopen the
    /// `LocalKms` to see its change).
    fn save(&self, bytes: &[u8]) -> Result<(), KmsError> {
        let seen = self.seen();
        match self.compare_and_swap(seen, bytes)? {
            Ok(generation) => {
                self.set_seen(Seen::Generation(generation));
                Ok(())
            }
            Err(found) => {
                self.refused.store(true, Ordering::Release);
                let found = match found {
                    Seen::Generation(g) => format!("generation {g}"),
                    _ => "a keyring".to_owned(),
                };
                let had = match seen {
                    Seen::Generation(g) => format!("generation {g}"),
                    Seen::Absent => "no keyring".to_owned(),
                    Seen::Nothing => "nothing (it was never loaded)".to_owned(),
                };
                Err(KmsError::Keyring(format!(
                    "the keyring {:?} was changed by another instance: it is at {found}, but this instance last saw \
                     {had}; nothing was saved: reopen the KMS to load the current keyring",
                    self.name
                )))
            }
        }
    }
}
