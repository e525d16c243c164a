//! [`RecordSealKey`]: the key the facade authenticates stored records with.

use std::fmt;

use ring::hmac;

/// Prefixed to every sealed input, so that a record seal can never be mistaken for (or made
/// to collide with) any other MAC under the same key.
const RECORD_SEAL_LABEL: &[u8] = b"secrets-store/record-seal/v1\0";

/// The key stored records are sealed with: HMAC-SHA256 over a domain label and the record's
/// bytes. A random 256-bit key kept in the keyring (so a root-key change keeps it), handed out
/// by [`crate::Kms::record_seal_key`].
///
/// `Debug` never prints the key.
///
/// ```
/// use secret_crypto::{Kms, LocalKms, RootKey};
/// let kms = LocalKms::in_memory(RootKey::from_bytes([1; 32]));
/// let key = kms.record_seal_key()?;
/// let seal = key.seal(b"record bytes");
/// assert!(key.verify(b"record bytes", &seal));
/// assert!(!key.verify(b"record bytez", &seal));
/// // The same keyring always gives the same key.
/// assert_eq!(kms.record_seal_key()?.seal(b"record bytes"), seal);
/// # Ok::<(), secret_crypto::KmsError>(())
/// ```
pub struct RecordSealKey(hmac::Key);

impl RecordSealKey {
    pub(crate) fn new(material: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, material))
    }

    /// The 32-byte seal of `bytes`.
    pub fn seal(&self, bytes: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(RECORD_SEAL_LABEL);
        ctx.update(bytes);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `seal` is the seal of `bytes`, compared in constant time (by ring).
    pub fn verify(&self, bytes: &[u8], seal: &[u8; 32]) -> bool {
        let mut input = Vec::with_capacity(RECORD_SEAL_LABEL.len() + bytes.len());
        input.extend_from_slice(RECORD_SEAL_LABEL);
        input.extend_from_slice(bytes);
        hmac::verify(&self.0, &input, seal).is_ok()
    }
}

impl fmt::Debug for RecordSealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordSealKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_are_hmac_sha256_over_the_label_and_the_bytes() {
        let key = RecordSealKey::new(&[7; 32]);
        let direct = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]),
            &[RECORD_SEAL_LABEL, b"abc"].concat(),
        );
        assert_eq!(key.seal(b"abc")[..], *direct.as_ref());
        assert_ne!(key.seal(b"abc"), RecordSealKey::new(&[8; 32]).seal(b"abc"));
    }

    #[test]
    fn every_changed_bit_of_the_seal_fails() {
        let key = RecordSealKey::new(&[7; 32]);
        let seal = key.seal(b"abc");
        for i in 0..256 {
            let mut bad = seal;
            bad[i / 8] ^= 1 << (i % 8);
            assert!(!key.verify(b"abc", &bad), "bit {i}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", RecordSealKey::new(&[7; 32])),
            "RecordSealKey([REDACTED])"
        );
    }
}
