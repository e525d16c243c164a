//! The storage seam of the secrets store: the [`Storage`] trait and the records it keeps.
//!
//! - [`Storage`]: what a backend offers — an atomic read-modify-write of one secret
//!   ([`Storage::update`]), consistent reads, and a paged, name-ordered listing.
//! - [`codec`]: the versioned binary form a backend stores a [`SecretRecord`] in.
//! - [`MemoryStorage`]: a backend in a `Mutex`, for tests and short-lived embeddings.
//! - `testkit` (feature `testkit`): the conformance suite every backend runs.
//!
//! ```
//! use secret_storage::{MemoryStorage, Storage, Update};
//! # use secret_model::*;
//! # use secret_storage::SecretRecord;
//! let store = MemoryStorage::new();
//! let name = SecretName::parse("prod/db")?;
//! # let record = SecretRecord {
//! #     name: name.clone(),
//! #     secret_type: SecretType::Generic,
//! #     description: None,
//! #     encryption_key_id: KeyId::new(Uuid::from_bytes([7; 16])),
//! #     tags: vec![],
//! #     create_time: Timestamp::from_unix(1_700_000_000),
//! #     update_time: Timestamp::from_unix(1_700_000_000),
//! #     planned_delete_time: None,
//! #     versions: vec![],
//! #     seal: None,
//! # };
//! store.update(&name, &mut |current| match current {
//!     Some(_) => Update::Keep,
//!     None => Update::Write {
//!         record: record.clone(),
//!         put_payloads: vec![],
//!         delete_payloads: vec![],
//!     },
//! })?;
//! assert_eq!(store.read(&name)?, Some(record));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
mod memory;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use codec::{
    RECORD_FORMAT_VERSION, decode_record, decode_record_of, encode_record, sealed_bytes,
};
pub use memory::MemoryStorage;

use std::borrow::Cow;

use secret_model::{
    Description, KeyId, SecretDataType, SecretName, SecretType, StageLabel, Tag, Timestamp,
    VersionId,
};

/// The metadata of one secret: everything but the version values. Stored in the clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRecord {
    /// The secret's name (the key it is stored under).
    pub name: SecretName,
    /// Always `Generic` for now.
    pub secret_type: SecretType,
    /// The caller's description, if any.
    pub description: Option<Description>,
    /// The master key the secret's data keys are wrapped under; fixed for the secret's life.
    pub encryption_key_id: KeyId,
    /// The secret's tags, at most 20, keys unique.
    pub tags: Vec<Tag>,
    /// When the secret was created.
    pub create_time: Timestamp,
    /// When the secret's metadata or versions last changed.
    pub update_time: Timestamp,
    /// When the secret is to be purged, if it is pending deletion.
    pub planned_delete_time: Option<Timestamp>,
    /// The versions, oldest first.
    pub versions: Vec<VersionRecord>,
    /// The facade's authenticator over every other field ([`codec::sealed_bytes`]), or `None`
    /// for a record that was never sealed (one kept in memory only, or written in record
    /// format 1). Backends store it and give it back; they never compute or check it.
    pub seal: Option<RecordSeal>,
}

/// A record's authenticator: a 32-byte MAC the facade computes over [`codec::sealed_bytes`]
/// under a key only the KMS holds, so that a record changed where it is stored is detected.
///
/// Opaque to backends. `Debug` prints it in full: it is a public tag, not a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordSeal(pub [u8; 32]);

/// The metadata of one version. Its value is a separate payload (an envelope).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRecord {
    /// The caller-chosen id, unique within the secret.
    pub version_id: VersionId,
    /// `text` or `binary`.
    pub data_type: SecretDataType,
    /// The stage labels this version carries.
    pub stages: Vec<StageLabel>,
    /// When the version was written.
    pub create_time: Timestamp,
    /// The tag of the payload written with this version ([`PayloadTag::of`]): it tells this
    /// version from an earlier one with the same id (an id may be used again once its version
    /// was removed), so that nothing kept for the one is taken for the other. `None` for a
    /// version written before record format 3.
    pub payload_tag: Option<PayloadTag>,
    /// The version was written by the CreateSecret that made the secret, not added later.
    /// For a record stored in format 1 or 2 this is derived: the first version, written in
    /// the second the secret was created.
    pub with_secret: bool,
}

/// The last 16 bytes of a payload: for an envelope (format v1), the AES-GCM tag of its value,
/// different for every sealing (each uses a fresh data key). Public, like the payload it is
/// read from. Backends store it in the record and give it back; they never compute it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PayloadTag(pub [u8; 16]);

impl PayloadTag {
    /// The tag of `payload`: its last 16 bytes; `None` for a payload shorter than that.
    ///
    /// ```
    /// use secret_storage::PayloadTag;
    /// let payload: Vec<u8> = (0u8..40).collect();
    /// assert_eq!(PayloadTag::of(&payload).unwrap().0[0], 24);
    /// assert_eq!(PayloadTag::of(&[1, 2, 3]), None);
    /// ```
    pub fn of(payload: &[u8]) -> Option<PayloadTag> {
        let start = payload.len().checked_sub(16)?;
        payload[start..].try_into().ok().map(PayloadTag)
    }
}

/// What the closure given to [`Storage::update`] decides.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived value per update, returned by value; boxing the record would add \
              an allocation to every write"
)]
pub enum Update<'a> {
    /// Change nothing.
    Keep,
    /// Store `record` (whose name is the one being updated), add or replace the payloads in
    /// `put_payloads`, and remove those in `delete_payloads`, all at once.
    ///
    /// Payloads are applied in that order: a version id listed in both ends up without a
    /// payload. A record whose name differs from the one being updated is rejected with
    /// [`StorageError::NameMismatch`] and nothing is applied.
    Write {
        /// The new metadata.
        record: SecretRecord,
        /// Payloads to store, by version id. Borrowed or owned: the closure may run more
        /// than once, so a caller can lend the same bytes to every run instead of copying
        /// them each time; the backend copies what it keeps.
        put_payloads: Vec<(VersionId, Cow<'a, [u8]>)>,
        /// Payloads to remove, by version id.
        delete_payloads: Vec<VersionId>,
    },
    /// Remove the secret's record and every payload it has.
    Delete,
}

impl<'a> Update<'a> {
    /// This decision, checked against the secret being updated, `name`: every backend checks
    /// a decision so before it applies anything.
    ///
    /// Errors: [`StorageError::NameMismatch`] if a `Write`'s record names another secret.
    pub fn for_secret(self, name: &SecretName) -> Result<Update<'a>, StorageError> {
        match &self {
            Update::Write { record, .. } if record.name != *name => Err(StorageError::NameMismatch),
            _ => Ok(self),
        }
    }
}

/// A consistent view of one secret: its record and all of its payloads, read at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The metadata.
    pub record: SecretRecord,
    /// Every stored payload, by version id.
    pub payloads: Vec<(VersionId, Vec<u8>)>,
}

/// What can go wrong in a backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend failed (I/O, connection, …). `retryable` says whether trying again may help.
    #[error("storage backend failed: {message}")]
    Backend {
        /// What failed; never contains secret values.
        message: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
    /// A stored record could not be decoded: damaged, tampered with, or from a newer release.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// The update closure returned a record whose name is not the one being updated.
    #[error("an update for one secret tried to write another secret's record")]
    NameMismatch,
}

impl StorageError {
    /// A `Corrupt` error with `context` put in front of its message (`"context: message"`);
    /// any other error unchanged.
    pub fn in_context(self, context: &str) -> Self {
        match self {
            StorageError::Corrupt(why) => StorageError::Corrupt(format!("{context}: {why}")),
            other => other,
        }
    }
}

/// A place to keep secrets. Backends hold no business rules: the facade decides, they store.
///
/// The contract (ARCHITECTURE.md §2): [`Storage::update`] is an atomic read-modify-write of one
/// secret — its record and its payloads change together or not at all, linearizably per secret —
/// and is acknowledged only once durable by the backend's own promise.
pub trait Storage: Send + Sync {
    /// The record of `name`, if it exists.
    fn read(&self, name: &SecretName) -> Result<Option<SecretRecord>, StorageError>;

    /// The payload of one version, if it exists.
    fn read_payload(
        &self,
        name: &SecretName,
        version_id: &VersionId,
    ) -> Result<Option<Vec<u8>>, StorageError>;

    /// The record and every payload of `name`, read atomically.
    fn snapshot(&self, name: &SecretName) -> Result<Option<Snapshot>, StorageError>;

    /// Atomically reads the record of `name` (if any), hands it to `f`, and applies what `f`
    /// decides. `f` may be called more than once (after a conflict); only its last call's
    /// decision is applied, so it must not have effects beyond recording its decision. `f`
    /// must not call back into the storage.
    fn update<'a>(
        &self,
        name: &SecretName,
        f: &mut dyn FnMut(Option<&SecretRecord>) -> Update<'a>,
    ) -> Result<(), StorageError>;

    /// Up to `limit` records in name order, starting after `after` (from the first if `None`).
    fn list(
        &self,
        after: Option<&SecretName>,
        limit: usize,
    ) -> Result<Vec<SecretRecord>, StorageError>;

    /// Whether records are kept where someone without this process's memory can change them
    /// (files, a database server). When `true` — the default — the facade seals every record
    /// it writes and refuses, on every read, a record whose seal does not match. A backend that
    /// keeps records only in the process's own memory, beside the root key, may return `false`
    /// to skip that work: whoever can change its records can read the keys too.
    fn records_leave_the_process(&self) -> bool {
        true
    }

    /// Frees the space still held by data that no record points to any more, where the
    /// backend keeps such data until it is collected — the sled store's value log keeps the
    /// payloads of deleted secrets and of versions gone in their segments until those are
    /// collected. The facade calls it after purging expired secrets. The default does nothing:
    /// for backends that free space as they go (memory), or whose own maintenance does
    /// (PostgreSQL's `VACUUM`).
    fn reclaim_space(&self) -> Result<(), StorageError> {
        Ok(())
    }
}
