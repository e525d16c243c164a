//! [`Records`]: the storage as the facade sees it — every record it writes sealed, every record
//! it reads checked.
//!
//! A backend that keeps records outside the process (sled's files, a PostgreSQL server) can be
//! edited by whoever operates it. So that an edit cannot pass for the store's own data, the
//! facade seals each record it writes with an HMAC under the KMS's record seal key
//! ([`secret_crypto::RecordSealKey`], kept in the keyring) over the record's every other field
//! ([`secret_storage::sealed_bytes`], which include its name), and refuses a record whose seal
//! does not match, or that is filed under another secret's name, as `InternalFailure` — logged
//! as tampering, never returned as data. Payloads need no seal: each is an AES-GCM envelope
//! bound to its secret, version and data type.
//!
//! What a seal cannot show is age: an operator who puts back an *older* sealed record of the
//! same secret (or restores a whole backup) is not detected (see `docs/security.md`).

use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use secret_crypto::{Kms, RecordSealKey, SealedUnder};
use secret_model::{SecretName, VersionId};
use secret_storage::{RecordSeal, SecretRecord, Storage, Update, sealed_bytes};

use crate::error::Error;
use crate::manager::kms_error;

/// The storage behind the facade, with sealing. Same operations as [`Storage`], with facade
/// errors.
pub(crate) struct Records {
    storage: Arc<dyn Storage>,
    kms: Arc<dyn Kms>,
    /// Whether records are sealed and checked (the backend keeps them outside the process).
    sealing: bool,
    /// Whether a record without a seal (written before sealing existed) is accepted.
    accept_unsealed: bool,
    /// The record seal key, fetched from the KMS on first need. Every read and write holds
    /// it shared from before it touches the storage until it has checked or sealed what it
    /// read or wrote; a rotation swaps it exclusively, so once the swap is done no operation
    /// is still using the key it replaced.
    key: RwLock<Option<Arc<RecordSealKey>>>,
    /// Held by a rotation from start to end: one at a time through this store.
    rotation: Mutex<()>,
}

/// The record seal key as one operation uses it: `None` when the backend's records are not
/// sealed. Holds the key's lock shared (see [`Records::key`]).
struct KeyGuard<'a>(Option<RwLockReadGuard<'a, Option<Arc<RecordSealKey>>>>);

impl KeyGuard<'_> {
    fn get(&self) -> Option<&RecordSealKey> {
        self.0.as_ref().and_then(|guard| guard.as_deref())
    }
}

/// What [`crate::SecretsManager::rotate_record_seal_key`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SealKeyRotation {
    /// Records checked: every record in the store, secrets in their recovery window
    /// included (each once more for a rotation begun elsewhere that this one also finished).
    pub records_checked: u64,
    /// Records sealed again under the new key (the others already were: sealed since the
    /// rotation began, or by an earlier, interrupted run of it); counted again, like
    /// `records_checked`, for a rotation begun elsewhere that this one also finished.
    pub records_resealed: u64,
}

/// How many records a rotation reads at a time.
const ROTATION_PAGE: usize = 256;
/// How many walks one rotation makes at most: its own, then one for each rotation another store
/// began after finishing this one, before it gives up.
const ROTATION_ROUNDS: usize = 4;

impl Records {
    pub(crate) fn new(storage: Arc<dyn Storage>, kms: Arc<dyn Kms>, accept_unsealed: bool) -> Self {
        Self {
            sealing: storage.records_leave_the_process(),
            storage,
            kms,
            accept_unsealed,
            key: RwLock::new(None),
            rotation: Mutex::new(()),
        }
    }

    /// The seal key (none when this backend's records are not sealed), held shared until the
    /// guard is dropped. Never take it twice on one thread: a rotation waiting for the lock
    /// would keep the second from being granted.
    fn key(&self) -> Result<KeyGuard<'_>, Error> {
        if !self.sealing {
            return Ok(KeyGuard(None));
        }
        let guard = self.key.read().unwrap_or_else(PoisonError::into_inner);
        if guard.is_some() {
            return Ok(KeyGuard(Some(guard)));
        }
        drop(guard);
        let key = self.kms.record_seal_key().map_err(kms_error)?;
        // Every call returns the same key (a rotation installs its own under the write lock),
        // so a key already there is kept.
        self.key
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(Arc::new(key));
        Ok(KeyGuard(Some(
            self.key.read().unwrap_or_else(PoisonError::into_inner),
        )))
    }

    /// Makes `key` the one every read and write uses from now on, once no write is using the
    /// one before.
    fn install(&self, key: Arc<RecordSealKey>) {
        *self.key.write().unwrap_or_else(PoisonError::into_inner) = Some(key);
    }

    /// Refuses a record filed under another name or whose seal does not match.
    fn check(
        &self,
        key: Option<&RecordSealKey>,
        name: Option<&SecretName>,
        record: &SecretRecord,
    ) -> Result<(), Error> {
        if name.is_some_and(|name| *name != record.name) {
            tracing::error!(secret = %name.map_or("", |n| n.as_str()), stored = %record.name,
                "a stored record names another secret: moved or tampered with");
            return Err(Error::InternalFailure);
        }
        let Some(key) = key else {
            return Ok(());
        };
        match &record.seal {
            Some(RecordSeal(seal)) if key.verify(&sealed_bytes(record), seal) => Ok(()),
            None if self.accept_unsealed => Ok(()),
            Some(_) => {
                tracing::error!(secret = %record.name,
                    "a stored record fails its seal: changed outside this store");
                Err(Error::InternalFailure)
            }
            None => {
                tracing::error!(secret = %record.name,
                    "a stored record has no seal: written before records were sealed, or \
                     stripped of its seal (see accept_unsealed_records)");
                Err(Error::InternalFailure)
            }
        }
    }

    /// The checked record of `name`, if it exists.
    pub(crate) fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, Error> {
        // The key first: a rotation that ends between the read and the check must not find
        // a record still under the key it retires checked under its new one only.
        let key = self.key()?;
        let record = self.storage.read(name)?;
        if let Some(record) = &record {
            self.check(key.get(), Some(name), record)?;
        }
        Ok(record)
    }

    /// The payload of one version (an envelope: it authenticates itself when opened).
    pub(crate) fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.storage.read_payload(name, version_id)?)
    }

    /// [`Storage::update`], with the current record checked before `f` sees it (a record that
    /// fails is an error and nothing is written) and the record `f` writes sealed.
    pub(crate) fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), Error> {
        self.update_with_key(name, &mut |_, current| f(current))
    }

    /// [`Records::update`], with `f` also given the seal key the write is sealed under.
    fn update_with_key<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&RecordSealKey>, Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), Error> {
        let guard = self.key()?;
        let key = guard.get();
        let mut refused = None;
        self.storage.update(name, &mut |current| {
            refused = None;
            if let Some(record) = current
                && let Err(e) = self.check(key, Some(name), record)
            {
                refused = Some(e);
                return Update::Keep;
            }
            match f(key, current) {
                Update::Write {
                    mut record,
                    put_payloads,
                    delete_payloads,
                } => {
                    record.seal = key.map(|key| RecordSeal(key.seal(&sealed_bytes(&record))));
                    Update::Write {
                        record,
                        put_payloads,
                        delete_payloads,
                    }
                }
                other => other,
            }
        })?;
        match refused {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The storage's [`Storage::reclaim_space`]: no record is read or written.
    pub(crate) fn reclaim_space(&self) -> Result<(), Error> {
        Ok(self.storage.reclaim_space()?)
    }

    /// Up to `limit` checked records in name order after `after`. One record that fails its
    /// check fails the whole page: a listing never silently leaves out a secret.
    pub(crate) fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, Error> {
        let key = self.key()?;
        let records = self.storage.list(after, limit)?;
        for record in &records {
            self.check(key.get(), None, record)?;
        }
        Ok(records)
    }

    /// Rotates the record seal key: begins (or resumes) the rotation in the KMS, seals every
    /// record not yet under the new key again — each checked first, under the old key or the
    /// new one, so a tampered record stops the rotation rather than being sealed anew — and
    /// finishes the rotation, after which a seal under the old key is refused. A rotation
    /// another store began meanwhile (after finishing this one) is walked and finished too.
    pub(crate) fn rotate_seal_key(&self) -> Result<SealKeyRotation, Error> {
        let _one_at_a_time = self.rotation.lock().unwrap_or_else(PoisonError::into_inner);
        let mut key = Arc::new(
            self.kms
                .begin_record_seal_key_rotation()
                .map_err(kms_error)?,
        );
        let mut done = SealKeyRotation::default();
        for _ in 0..ROTATION_ROUNDS {
            self.install(Arc::clone(&key));
            if self.sealing {
                self.reseal_all(&mut done)?;
            }
            let now = self
                .kms
                .finish_record_seal_key_rotation(&key)
                .map_err(kms_error)?;
            if now.is_rotating() {
                // Finished by another store, which then began a rotation of its own: its
                // records are to be sealed again under its key before it may finish.
                key = Arc::new(now);
                continue;
            }
            let changed = !now.same_current_key(&key);
            self.install(Arc::new(now));
            if changed {
                tracing::error!(
                    "the record seal key changed while this rotation ran: another rotation ran \
                     at the same time, and records this one sealed may be refused; run one \
                     rotation at a time, with every other process stopped"
                );
                return Err(Error::InternalFailure);
            }
            tracing::info!(
                records_checked = done.records_checked,
                records_resealed = done.records_resealed,
                "the record seal key is rotated"
            );
            return Ok(done);
        }
        // Given up: this store still follows the keyring, under the rotation last begun (and
        // accepts what the stores that began it seal).
        self.install(key);
        tracing::error!(
            "other rotations of the record seal key kept beginning while this one ran; run one \
             rotation at a time, with every other process stopped"
        );
        Err(Error::InternalFailure)
    }

    /// Walks every record, page by page until an empty one (a backend may return fewer than
    /// asked for), sealing each again under the current key unless it already is.
    fn reseal_all(&self, done: &mut SealKeyRotation) -> Result<(), Error> {
        let mut after: Option<SecretName> = None;
        loop {
            let page = self.list(after.as_ref(), ROTATION_PAGE)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            for record in &page {
                done.records_checked += 1;
                if self.reseal(&record.name)? {
                    done.records_resealed += 1;
                }
            }
            after = Some(last.name.clone());
        }
    }

    /// Seals the record of `name` again under the current key unless it already is (or is
    /// gone); says whether it wrote.
    fn reseal(&self, name: &SecretName) -> Result<bool, Error> {
        let mut wrote = false;
        self.update_with_key(name, &mut |key, current| {
            wrote = false;
            let Some(record) = current else {
                return Update::Keep;
            };
            let current_seal = match (key, &record.seal) {
                (Some(key), Some(RecordSeal(seal))) => {
                    key.sealed_under(&sealed_bytes(record), seal) == Some(SealedUnder::Current)
                }
                // Accepted without a seal (`accept_unsealed_records`): seal it now.
                (Some(_), None) => false,
                (None, _) => true,
            };
            if current_seal {
                return Update::Keep;
            }
            wrote = true;
            Update::Write {
                record: record.clone(),
                put_payloads: Vec::new(),
                delete_payloads: Vec::new(),
            }
        })?;
        Ok(wrote)
    }
}
