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
/// While a rotation of the record seal key is unfinished
/// ([`crate::Kms::begin_record_seal_key_rotation`]), it also holds the key being replaced:
/// [`seal`](Self::seal) always uses the current key, and [`verify`](Self::verify) accepts a
/// seal under either, so that records not yet re-sealed stay readable.
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
pub struct RecordSealKey {
    current: hmac::Key,
    /// The key a rotation is replacing, until it finishes.
    retiring: Option<hmac::Key>,
}

/// Which of a [`RecordSealKey`]'s keys a seal was made under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedUnder {
    /// The current key: the seal needs nothing more.
    Current,
    /// The key an unfinished rotation is replacing: the record is to be sealed again.
    Retiring,
}

/// What [`RecordSealKey::same_current_key`] seals to compare two keys without exposing either.
const SAME_KEY_PROBE: &[u8] = b"secrets-store/record-seal/same-key-probe";

impl RecordSealKey {
    pub(crate) fn new(material: &[u8; 32], retiring: Option<&[u8; 32]>) -> Self {
        Self {
            current: derive(material),
            retiring: retiring.map(derive),
        }
    }

    /// The 32-byte seal of `bytes`, under the current key.
    pub fn seal(&self, bytes: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.current, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `seal` is the seal of `bytes` under the current key or, during a rotation, the
    /// retiring one; compared in constant time (by ring).
    pub fn verify(&self, bytes: &[u8], seal: &[u8; 32]) -> bool {
        self.sealed_under(bytes, seal).is_some()
    }

    /// Which key `seal` is the seal of `bytes` under, if either.
    pub fn sealed_under(&self, bytes: &[u8], seal: &[u8; 32]) -> Option<SealedUnder> {
        if hmac::verify(&self.current, bytes, seal).is_ok() {
            return Some(SealedUnder::Current);
        }
        let retiring = self.retiring.as_ref()?;
        hmac::verify(retiring, bytes, seal)
            .is_ok()
            .then_some(SealedUnder::Retiring)
    }

    /// Whether this key still accepts seals under a key a rotation is replacing.
    pub fn is_rotating(&self) -> bool {
        self.retiring.is_some()
    }

    /// Whether `other` seals under the same current key (compared by sealing a fixed probe, so
    /// neither key is exposed).
    pub fn same_current_key(&self, other: &RecordSealKey) -> bool {
        let mine = self.seal(SAME_KEY_PROBE);
        other.sealed_under(SAME_KEY_PROBE, &mine) == Some(SealedUnder::Current)
    }
}

/// The HMAC key derived from a keyring's record seal key.
fn derive(material: &[u8; 32]) -> hmac::Key {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(material);
    let okm = prk
        .expand(&[RECORD_SEAL_LABEL], hmac::HMAC_SHA256)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    hmac::Key::from(okm)
}

impl fmt::Debug for RecordSealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_rotating() {
            "RecordSealKey([REDACTED], rotating)"
        } else {
            "RecordSealKey([REDACTED])"
        })
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
        let key = RecordSealKey::new(&[7; 32], None);
        assert_eq!(key.seal(b"abc")[..], *direct.as_ref());
        assert!(key.verify(b"abc", &key.seal(b"abc")));
        assert_ne!(
            key.seal(b"abc"),
            RecordSealKey::new(&[8; 32], None).seal(b"abc")
        );
        assert_ne!(
            key.seal(b"abc")[..],
            *hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]), b"abc").as_ref(),
            "the keyring's key itself never MACs"
        );
    }

    #[test]
    fn every_changed_bit_of_the_seal_fails() {
        let key = RecordSealKey::new(&[7; 32], None);
        let seal = key.seal(b"abc");
        for i in 0..256 {
            let mut bad = seal;
            bad[i / 8] ^= 1 << (i % 8);
            assert!(!key.verify(b"abc", &bad), "bit {i}");
        }
    }

    #[test]
    fn during_a_rotation_seals_use_the_new_key_and_either_key_verifies() {
        let old = RecordSealKey::new(&[7; 32], None);
        let rotating = RecordSealKey::new(&[8; 32], Some(&[7; 32]));
        let done = RecordSealKey::new(&[8; 32], None);
        let under_old = old.seal(b"abc");
        let under_new = rotating.seal(b"abc");
        assert_eq!(under_new, done.seal(b"abc"), "seals use the new key");
        assert_eq!(
            rotating.sealed_under(b"abc", &under_old),
            Some(SealedUnder::Retiring)
        );
        assert_eq!(
            rotating.sealed_under(b"abc", &under_new),
            Some(SealedUnder::Current)
        );
        assert_eq!(rotating.sealed_under(b"abd", &under_old), None);
        assert!(rotating.verify(b"abc", &under_old));
        assert!(
            !done.verify(b"abc", &under_old),
            "finished: the old key is gone"
        );
        assert!(!old.verify(b"abc", &under_new));
        assert!(rotating.is_rotating() && !done.is_rotating() && !old.is_rotating());
        assert!(rotating.same_current_key(&done) && done.same_current_key(&rotating));
        assert!(!old.same_current_key(&rotating) && !rotating.same_current_key(&old));
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", RecordSealKey::new(&[7; 32], None)),
            "RecordSealKey([REDACTED])"
        );
        assert_eq!(
            format!("{:?}", RecordSealKey::new(&[7; 32], Some(&[8; 32]))),
            "RecordSealKey([REDACTED], rotating)"
        );
    }
}
