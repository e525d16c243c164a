//! AES-256-GCM, as every layer of the hierarchy uses it: 96-bit nonces, 128-bit tags.

use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};

/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// An AES-256-GCM key from 32 bytes.
pub(crate) fn key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte key is valid for AES-256-GCM"),
    )
}
