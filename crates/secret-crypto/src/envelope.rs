//! Envelope format v1: one secret version's value, encrypted under a fresh data key that a
//! [`Kms`] wrapped. Byte layout in `docs/formats.md`.
//!
//! ```
//! use secret_crypto::envelope::{self, EnvelopeContext};
//! use secret_crypto::{Kms, LocalKms, RootKey};
//! use secret_model::{SecretDataType, SecretName, VersionId};
//!
//! let kms = LocalKms::in_memory(RootKey::from_bytes([7; 32]));
//! let key = kms.default_key()?;
//! let name = SecretName::parse("prod/db").unwrap();
//! let v1 = VersionId::parse("v1").unwrap();
//! let ctx = EnvelopeContext { secret_name: &name, version_id: &v1, data_type: SecretDataType::Text };
//!
//! let sealed = envelope::seal(&kms, &key, &ctx, b"hunter2")?;
//! assert_eq!(envelope::open(&kms, &sealed, &ctx)?.expose(), b"hunter2");
//!
//! let v2 = VersionId::parse("v2").unwrap();
//! let moved = EnvelopeContext { version_id: &v2, ..ctx };
//! assert!(matches!(
//!     envelope::open(&kms, &sealed, &moved),
//!     Err(envelope::CryptoError::DecryptionFailed)
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use ring::aead::{Aad, Nonce};
use secret_model::{KeyId, SecretBytes, SecretDataType, SecretName, Uuid, VersionId};
use zeroize::Zeroizing;

use crate::gcm::{self, NONCE_LEN, TAG_LEN};
use crate::wire::{Reader, put_len_prefixed};
use crate::{DataKeyBytes, Kms, KmsError, WrappedDataKey};

/// The format version byte of envelope v1.
pub const FORMAT_V1: u8 = 1;
/// Domain label that starts the AAD of an envelope's data.
pub const DATA_AAD_LABEL: &[u8] = b"secrets-store/envelope-v1/data";
/// Domain label that starts the context an envelope passes to the KMS for its data key.
pub const DEK_CONTEXT_LABEL: &[u8] = b"secrets-store/envelope-v1/dek";

/// Format version, algorithm, key id, key version, wrapped-key length.
const FIXED_HEADER_LEN: usize = 1 + 1 + 16 + 4 + 2;

/// The algorithms an envelope can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// Id 1: data under AES-256-GCM with a 96-bit nonce; the data key wrapped by the KMS with
    /// AES-256-GCM.
    Aes256Gcm,
}

impl Algorithm {
    /// The algorithm's byte in the envelope.
    pub fn id(self) -> u8 {
        match self {
            Algorithm::Aes256Gcm => 1,
        }
    }

    /// The algorithm with this byte, if it is known.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Algorithm::Aes256Gcm),
            _ => None,
        }
    }
}

/// Where a ciphertext belongs. Sealing binds it; opening with any other context fails.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeContext<'a> {
    /// The secret the value belongs to.
    pub secret_name: &'a SecretName,
    /// The version of that secret.
    pub version_id: &'a VersionId,
    /// How the value is to be read.
    pub data_type: SecretDataType,
}

/// Why an envelope could not be made or opened.
///
/// A failed authentication is [`CryptoError::DecryptionFailed`] and nothing more, whatever
/// failed (data, wrapped key, context); only an envelope the parser cannot read at all is
/// [`CryptoError::Malformed`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The bytes are not an envelope this version can read: too short, or an unknown format
    /// version or algorithm. The text says which, never what the bytes were.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The envelope did not authenticate. Deliberately says nothing more.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The KMS refused: key not found or disabled, or its keyring failed.
    #[error(transparent)]
    Kms(KmsError),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl From<KmsError> for CryptoError {
    /// Keeps decryption failures opaque: a KMS `DecryptionFailed` becomes this crate's.
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::DecryptionFailed => CryptoError::DecryptionFailed,
            other => CryptoError::Kms(other),
        }
    }
}

/// A parsed envelope: a view into the bytes it was parsed from.
#[derive(Clone, Copy)]
pub struct Envelope<'a> {
    algorithm: Algorithm,
    key_id: KeyId,
    key_version: u32,
    wrapped_dek: &'a [u8],
    header: &'a [u8],
    nonce: &'a [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// The format version (always [`FORMAT_V1`] for now).
    pub fn format_version(&self) -> u8 {
        FORMAT_V1
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The master key that wrapped the data key.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The master key's version that wrapped the data key.
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The wrapped data key, opaque to everyone but the KMS.
    pub fn wrapped_dek(&self) -> &'a [u8] {
        self.wrapped_dek
    }

    /// Every byte before the nonce; part of the data's AAD.
    pub fn header(&self) -> &'a [u8] {
        self.header
    }

    /// The data's 96-bit nonce.
    pub fn nonce(&self) -> &'a [u8; NONCE_LEN] {
        self.nonce
    }

    /// The encrypted data followed by its 16-byte tag.
    pub fn ciphertext(&self) -> &'a [u8] {
        self.ciphertext
    }

    /// The wrapped data key as the KMS takes it back.
    pub fn wrapped_data_key(&self) -> WrappedDataKey {
        WrappedDataKey {
            key_id: self.key_id,
            key_version: self.key_version,
            ciphertext: self.wrapped_dek.to_vec(),
        }
    }
}

impl fmt::Debug for Envelope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("format_version", &FORMAT_V1)
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("key_version", &self.key_version)
            .field("wrapped_dek_len", &self.wrapped_dek.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Reads an envelope's structure without decrypting anything. Never panics, whatever the
/// bytes. Errors: [`CryptoError::Malformed`] for anything but a complete v1 envelope.
pub fn parse(envelope: &[u8]) -> Result<Envelope<'_>, CryptoError> {
    const TRUNCATED: CryptoError = CryptoError::Malformed("envelope is truncated");
    let mut r = Reader::new(envelope);
    match r.u8() {
        Some(FORMAT_V1) => {}
        Some(_) => return Err(CryptoError::Malformed("unknown envelope format version")),
        None => return Err(CryptoError::Malformed("envelope is empty")),
    }
    let algorithm = r
        .u8()
        .ok_or(TRUNCATED)
        .and_then(|id| Algorithm::from_id(id).ok_or(CryptoError::Malformed("unknown algorithm")))?;
    let key_id = KeyId::new(Uuid::from_bytes(*r.array::<16>().ok_or(TRUNCATED)?));
    let key_version = r.u32().ok_or(TRUNCATED)?;
    let wrapped_len = r.u16().ok_or(TRUNCATED)?;
    if wrapped_len == 0 {
        return Err(CryptoError::Malformed(
            "envelope has an empty wrapped data key",
        ));
    }
    let wrapped_dek = r.take(usize::from(wrapped_len)).ok_or(TRUNCATED)?;
    let header = envelope
        .get(..FIXED_HEADER_LEN + wrapped_dek.len())
        .ok_or(TRUNCATED)?;
    let nonce = r.array::<NONCE_LEN>().ok_or(TRUNCATED)?;
    let ciphertext = r.rest();
    if ciphertext.len() < TAG_LEN {
        return Err(TRUNCATED);
    }
    Ok(Envelope {
        algorithm,
        key_id,
        key_version,
        wrapped_dek,
        header,
        nonce,
        ciphertext,
    })
}

/// Encrypts `plaintext` for the place `ctx` names, under a fresh data key that `kms` makes
/// and wraps under `key_id`. The result is an envelope v1.
/// Errors: [`CryptoError::Kms`] (key not found, disabled, keyring failure), `Rng`.
pub fn seal(
    kms: &dyn Kms,
    key_id: &KeyId,
    ctx: &EnvelopeContext<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let data_key = kms.generate_data_key(key_id, &dek_context(ctx))?;
    // From a buffered pool: see `nonces.rs` for why that is sound for value nonces (and
    // never done for key material).
    let nonce = crate::nonces::data_nonce().map_err(|_| CryptoError::Rng)?;
    seal_with(
        &data_key.wrapped,
        &data_key.plaintext,
        nonce,
        ctx,
        plaintext,
    )
}

/// [`seal`] with the data key, its wrapped form and the nonce given: deterministic, for
/// known-answer tests. A nonce must never repeat under one data key.
/// Errors: [`CryptoError::Malformed`] if the wrapped key is empty or over 65,535 bytes.
#[doc(hidden)]
pub fn seal_with(
    wrapped: &WrappedDataKey,
    dek: &DataKeyBytes,
    nonce: [u8; NONCE_LEN],
    ctx: &EnvelopeContext<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let wrapped_len = u16::try_from(wrapped.ciphertext.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or(CryptoError::Malformed(
            "the KMS returned a wrapped data key that does not fit an envelope",
        ))?;
    let header_len = FIXED_HEADER_LEN + wrapped.ciphertext.len();
    let mut out = Vec::with_capacity(header_len + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_V1);
    out.push(Algorithm::Aes256Gcm.id());
    out.extend_from_slice(wrapped.key_id.uuid().as_bytes());
    out.extend_from_slice(&wrapped.key_version.to_be_bytes());
    out.extend_from_slice(&wrapped_len.to_be_bytes());
    out.extend_from_slice(&wrapped.ciphertext);
    let aad = data_aad(&out, ctx);
    out.extend_from_slice(&nonce);
    let body_start = out.len();
    out.extend_from_slice(plaintext);
    let tag = gcm::key(&dek.0)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            out.get_mut(body_start..)
                .expect("the body was just written"),
        )
        .map_err(|_| CryptoError::Malformed("the value is too large to encrypt"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Decrypts an envelope made by [`seal`] for the same context.
///
/// Errors: [`CryptoError::Malformed`] if it is not a v1 envelope; [`CryptoError::Kms`] if its
/// master key is not found or disabled; [`CryptoError::DecryptionFailed`] for every
/// authentication failure, including a context other than the one it was sealed for.
pub fn open(
    kms: &dyn Kms,
    envelope: &[u8],
    ctx: &EnvelopeContext<'_>,
) -> Result<SecretBytes, CryptoError> {
    open_parsed(kms, &parse(envelope)?, ctx)
}

/// [`open`] for an envelope already [`parse`]d (for a caller that inspected it first, e.g. to
/// check which master key it names). Errors: as [`open`], but for `Malformed`.
pub fn open_parsed(
    kms: &dyn Kms,
    env: &Envelope<'_>,
    ctx: &EnvelopeContext<'_>,
) -> Result<SecretBytes, CryptoError> {
    let dek = kms.decrypt_data_key(&env.wrapped_data_key(), &dek_context(ctx))?;
    open_with(env, &dek, ctx)
}

/// Decrypts a parsed envelope's data with its data key already unwrapped.
/// Errors: [`CryptoError::DecryptionFailed`].
#[doc(hidden)]
pub fn open_with(
    env: &Envelope<'_>,
    dek: &DataKeyBytes,
    ctx: &EnvelopeContext<'_>,
) -> Result<SecretBytes, CryptoError> {
    let aad = data_aad(env.header, ctx);
    let mut buf = Zeroizing::new(env.ciphertext.to_vec());
    let len = gcm::key(&dek.0)
        .open_in_place(
            Nonce::assume_unique_for_key(*env.nonce),
            Aad::from(&aad),
            &mut buf[..],
        )
        .map_err(|_| CryptoError::DecryptionFailed)?
        .len();
    buf.truncate(len);
    Ok(SecretBytes::new(std::mem::take(&mut *buf)))
}

/// The context given to the KMS for an envelope's data key:
/// label || name || version id (each u32-BE length-prefixed) || data type byte.
fn dek_context(ctx: &EnvelopeContext<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(DEK_CONTEXT_LABEL.len() + 64 + 4 + 4 + 192 + 1);
    out.extend_from_slice(DEK_CONTEXT_LABEL);
    put_context(&mut out, ctx);
    out
}

fn data_aad(header: &[u8], ctx: &EnvelopeContext<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(DATA_AAD_LABEL.len() + header.len() + 4 + 4 + 192 + 64 + 1);
    out.extend_from_slice(DATA_AAD_LABEL);
    out.extend_from_slice(header);
    put_context(&mut out, ctx);
    out
}

fn put_context(out: &mut Vec<u8>, ctx: &EnvelopeContext<'_>) {
    put_len_prefixed(out, ctx.secret_name.as_str().as_bytes());
    put_len_prefixed(out, ctx.version_id.as_str().as_bytes());
    out.push(data_type_byte(ctx.data_type));
}

/// The byte that stands for a data type in AADs: 1 for text, 2 for binary.
fn data_type_byte(t: SecretDataType) -> u8 {
    match t {
        SecretDataType::Text => 1,
        SecretDataType::Binary => 2,
    }
}
