//! [`RecordSealKey`]: the key the facade authenticates stored records with.

use std::fmt;

use ring::{hkdf, hmac};

/// The HKDF info that derives the HMAC key from the keyring's record seal key, so that the key
/// that seals records is used for nothing else, whatever else the keyring's key might serve.
const RECORD_SEAL_LABEL: &[u8] = b"secrets-store/record-seal/v1";

/// The key stored records are sealed with: HMAC-SHA256 over the record's bytes, under a key
/// derived (HKDF-SHA256, info `secrets-store/record-seal/v1`) from a random 256-bit key kept
/// in the keyring — so a root-key change keeps it — and handed out by
/// [`crate::Kms::record_seal_key`].
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
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(material);
        let okm = prk
            .expand(&[RECORD_SEAL_LABEL], hmac::HMAC_SHA256)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self(hmac::Key::from(okm))
    }

    /// The 32-byte seal of `bytes`.
    pub fn seal(&self, bytes: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.0, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `seal` is the seal of `bytes`, compared in constant time (by ring).
    pub fn verify(&self, bytes: &[u8], seal: &[u8; 32]) -> bool {
        hmac::verify(&self.0, bytes, seal).is_ok()
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
    fn seals_are_hmac_sha256_under_the_hkdf_derived_key() {
        // HKDF-SHA256 (RFC 5869) by hand: PRK = HMAC(salt = 32 zero bytes, IKM); OKM = first
        // block of the expansion = HMAC(PRK, info || 0x01).
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[0; 32]), &[7; 32]);
        let okm = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()),
            &[RECORD_SEAL_LABEL, &[1]].concat(),
        );
        let direct = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, okm.as_ref()), b"abc");
        let key = RecordSealKey::new(&[7; 32]);
        assert_eq!(key.seal(b"abc")[..], *direct.as_ref());
        assert!(key.verify(b"abc", &key.seal(b"abc")));
        assert_ne!(key.seal(b"abc"), RecordSealKey::new(&[8; 32]).seal(b"abc"));
        assert_ne!(
            key.seal(b"abc")[..],
            *hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]), b"abc").as_ref(),
            "the keyring's key itself never MACs"
        );
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
