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

use std::sync::{Arc, OnceLock};

use secret_crypto::{Kms, RecordSealKey};
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
    /// The record seal key, fetched from the KMS on first need.
    key: OnceLock<RecordSealKey>,
}

impl Records {
    pub(crate) fn new(storage: Arc<dyn Storage>, kms: Arc<dyn Kms>, accept_unsealed: bool) -> Self {
        Self {
            sealing: storage.records_leave_the_process(),
            storage,
            kms,
            accept_unsealed,
            key: OnceLock::new(),
        }
    }

    /// The seal key, or `None` when this backend's records are not sealed.
    fn key(&self) -> Result<Option<&RecordSealKey>, Error> {
        if !self.sealing {
            return Ok(None);
        }
        if let Some(key) = self.key.get() {
            return Ok(Some(key));
        }
        let key = self.kms.record_seal_key().map_err(kms_error)?;
        // Every call returns the same key; whichever copy is kept, it is that key.
        let _ = self.key.set(key);
        Ok(self.key.get())
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
        let record = self.storage.read(name)?;
        if let Some(record) = &record {
            self.check(self.key()?, Some(name), record)?;
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
        let key = self.key()?;
        let mut refused = None;
        self.storage.update(name, &mut |current| {
            refused = None;
            if let Some(record) = current
                && let Err(e) = self.check(key, Some(name), record)
            {
                refused = Some(e);
                return Update::Keep;
            }
            match f(current) {
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

    /// Up to `limit` checked records in name order after `after`. One record that fails its
    /// check fails the whole page: a listing never silently leaves out a secret.
    pub(crate) fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, Error> {
        let records = self.storage.list(after, limit)?;
        let key = self.key()?;
        for record in &records {
            self.check(key, None, record)?;
        }
        Ok(records)
    }
}
