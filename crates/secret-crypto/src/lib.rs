//! The crypto seam of the secrets store: the [`Kms`] trait, [`LocalKms`], and the envelope
//! format.
//!
//! The key hierarchy has three levels. The application supplies a [`RootKey`] (bytes, a key
//! file readable by its owner only, or an environment variable). [`LocalKms`] keeps customer
//! master keys (CMKs) with numbered key versions in a keyring that is stored only encrypted
//! under a subkey of the root key. Each secret version is sealed by [`envelope::seal`] under a
//! fresh data key, which the CMK's primary version wraps. All byte layouts are documented in
//! `docs/formats.md`.
//!
//! ```
//! use secret_crypto::envelope::{self, EnvelopeContext};
//! use secret_crypto::{FileKeyring, Kms, LocalKms, RootKey};
//! use secret_model::{SecretDataType, SecretName, VersionId};
//!
//! let dir = tempfile::tempdir()?;
//! let root = RootKey::write_new_file(dir.path().join("root.key"))?;
//! let kms = LocalKms::open(root, Box::new(FileKeyring::new(dir.path().join("keyring"))))?;
//!
//! let name = SecretName::parse("db-password")?;
//! let version = VersionId::parse("v1")?;
//! let ctx = EnvelopeContext { secret_name: &name, version_id: &version, data_type: SecretDataType::Text };
//! let sealed = envelope::seal(&kms, &kms.default_key()?, &ctx, b"s3cr3t")?;
//! drop(kms);
//!
//! // Reopened with the same root key, the same default key opens the envelope.
//! let root = RootKey::from_file(dir.path().join("root.key"))?;
//! let kms = LocalKms::open(root, Box::new(FileKeyring::new(dir.path().join("keyring"))))?;
//! assert_eq!(envelope::open(&kms, &sealed, &ctx)?.expose(), b"s3cr3t");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod envelope;
mod gcm;
mod hex;
mod keyring;
mod local_kms;
mod nonces;
mod record_seal;
mod root_key;
mod store;
mod wire;

pub use envelope::CryptoError;
pub use local_kms::{DEFAULT_KEY_DESCRIPTION, LocalKms, WRAP_LIMIT, WRAP_RESERVATION};
pub use record_seal::{RecordSealKey, SealedUnder};
pub use root_key::{RootKey, RootKeyError};
pub use store::{FileKeyring, KeyringStore, MemoryKeyring};

use secret_model::{KeyId, Timestamp};
use zeroize::Zeroizing;

/// A 256-bit data key in the clear; zeroized on drop, never printed.
pub struct DataKeyBytes(pub Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKeyBytes([REDACTED])")
    }
}

/// A data key wrapped (encrypted) under one version of a customer master key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedDataKey {
    /// The master key that wrapped it.
    pub key_id: KeyId,
    /// The version of that master key that wrapped it.
    pub key_version: u32,
    /// The wrapped key bytes (opaque to everyone but the KMS that made them).
    pub ciphertext: Vec<u8>,
}

/// A freshly generated data key: in the clear, for one use, and wrapped, for storage.
#[derive(Debug)]
pub struct DataKey {
    /// The key in the clear.
    pub plaintext: DataKeyBytes,
    /// The same key wrapped under the master key's primary version.
    pub wrapped: WrappedDataKey,
}

/// Whether a master key may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Usable for generating and decrypting data keys.
    Enabled,
    /// Refused for every use until enabled again (`Rejected.Disabled`).
    Disabled,
}

/// What [`Kms::describe_key`] tells about a master key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMetadata {
    /// The key's id.
    pub key_id: KeyId,
    /// Enabled or disabled.
    pub state: KeyState,
    /// The version new data keys are wrapped under.
    pub primary_key_version: u32,
    /// When the key was created.
    pub creation_date: Timestamp,
    /// The caller's description of the key.
    pub description: String,
}

/// What can go wrong in the KMS. Decryption failures are opaque on purpose.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// No master key has this id (`Forbidden.KeyNotFound`).
    #[error("the key {0} is not found")]
    KeyNotFound(KeyId),
    /// The master key is disabled (`Rejected.Disabled`).
    #[error("the key {0} is disabled")]
    KeyDisabled(KeyId),
    /// A wrapped key or ciphertext did not authenticate. Deliberately says nothing more.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The root key does not open the stored keyring.
    #[error("the root key does not open this keyring (wrong root key, or the keyring is damaged)")]
    WrongRootKey,
    /// The keyring could not be read or written.
    #[error("keyring storage failed: {0}")]
    Keyring(String),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// This KMS does not offer the operation (named in the message).
    #[error("this KMS cannot {0}")]
    Unsupported(&'static str),
}

/// A key management service: the one small trait the store's encryption goes through.
///
/// Like age's recipients, it only wraps and unwraps data keys; it never sees secret values.
pub trait Kms: Send + Sync {
    /// A fresh 256-bit data key, wrapped under the primary version of `key_id`. `context` is
    /// bound to the wrapped key: unwrapping under another context fails.
    /// Errors: `KeyNotFound`, `KeyDisabled`, `Keyring`, `Rng`.
    fn generate_data_key(&self, key_id: &KeyId, context: &[u8]) -> Result<DataKey, KmsError>;

    /// Unwraps a data key made by [`Kms::generate_data_key`] with the same `context`.
    /// Errors: `KeyNotFound`, `KeyDisabled`, `DecryptionFailed`.
    fn decrypt_data_key(
        &self,
        wrapped: &WrappedDataKey,
        context: &[u8],
    ) -> Result<DataKeyBytes, KmsError>;

    /// Describes a master key. Errors: `KeyNotFound`.
    fn describe_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError>;

    /// The store's default master key, created on first need.
    /// Errors: `Keyring`, `Rng` (only when it has to be created).
    fn default_key(&self) -> Result<KeyId, KmsError>;

    /// The key stored records are sealed with: created on first need, then the same for the
    /// store's whole life (a root-key change keeps it), and the same on every instance that
    /// shares the keyring. Only persisted keys are returned, so a record sealed under it can
    /// always be checked again after a restart.
    /// Errors: `Keyring`, `Rng` (only when it has to be created).
    fn record_seal_key(&self) -> Result<RecordSealKey, KmsError>;

    /// Begins a rotation of the record seal key, or resumes an unfinished one: saves a fresh
    /// key as the current one and keeps the key it replaces as *retiring*, and returns the
    /// record seal key as it now is. From then on [`Kms::record_seal_key`] seals under the new
    /// key and accepts seals under either, until
    /// [`Kms::finish_record_seal_key_rotation`]. Calling it again before that changes nothing
    /// (a rotation interrupted part way is resumed, never begun twice, so the key every record
    /// not yet re-sealed is under stays accepted).
    ///
    /// The facade's `SecretsManager::rotate_record_seal_key` (crate `secrets-manager`) runs
    /// the whole rotation; call this directly only to run it another way.
    ///
    /// Errors: `Keyring`, `Rng`; `Unsupported` from a KMS that cannot rotate it (the default).
    fn begin_record_seal_key_rotation(&self) -> Result<RecordSealKey, KmsError> {
        Err(KmsError::Unsupported("rotate the record seal key"))
    }

    /// Finishes the rotation to `rotated_to` (what [`Kms::begin_record_seal_key_rotation`]
    /// returned): forgets the retiring key, so that a seal under it is refused from now on,
    /// and returns the record seal key as it now is. Call it only once every stored record is
    /// sealed under `rotated_to`.
    ///
    /// It changes nothing, and returns the key as it is, when the current key is no longer
    /// `rotated_to` — another rotation finished this one and began its own, whose retiring
    /// key must stay until *its* records are sealed again (the returned key then
    /// [`is_rotating`](RecordSealKey::is_rotating)) — or when no rotation is under way.
    ///
    /// Errors: `Keyring`; `Unsupported` from a KMS that cannot rotate it (the default).
    fn finish_record_seal_key_rotation(
        &self,
        rotated_to: &RecordSealKey,
    ) -> Result<RecordSealKey, KmsError> {
        let _ = rotated_to;
        Err(KmsError::Unsupported("rotate the record seal key"))
    }
}
