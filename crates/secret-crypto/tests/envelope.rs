//! Envelope v1: layout, binding to its context, and resistance to tampering.

mod common;

use common::{name, version};
use proptest::prelude::*;
use secret_crypto::envelope::{self, Algorithm, CryptoError, EnvelopeContext};
use secret_crypto::{Kms, KmsError, LocalKms, RootKey};
use secret_model::{KeyId, SecretDataType, SecretName, VersionId};

struct Fixture {
    kms: LocalKms,
    key: KeyId,
    name: SecretName,
    version: VersionId,
}

impl Fixture {
    fn new() -> Self {
        let kms = LocalKms::in_memory(RootKey::from_bytes([0x33; 32]));
        let key = kms.default_key().unwrap();
        Fixture {
            kms,
            key,
            name: name("prod/db/password"),
            version: version("v1"),
        }
    }

    fn ctx(&self) -> EnvelopeContext<'_> {
        EnvelopeContext {
            secret_name: &self.name,
            version_id: &self.version,
            data_type: SecretDataType::Text,
        }
    }

    fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        envelope::seal(&self.kms, &self.key, &self.ctx(), plaintext).unwrap()
    }

    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        envelope::open(&self.kms, sealed, &self.ctx()).map(|v| v.expose().to_vec())
    }
}

#[test]
fn sealed_value_opens_to_the_same_bytes() {
    let f = Fixture::new();
    let sealed = f.seal(b"correct horse battery staple");
    assert_eq!(f.open(&sealed).unwrap(), b"correct horse battery staple");
    assert_eq!(f.open(&f.seal(b"")).unwrap(), b"");
}

#[test]
fn envelope_layout_is_header_then_nonce_then_ciphertext_and_tag() {
    let f = Fixture::new();
    let sealed = f.seal(b"abc");
    let env = envelope::parse(&sealed).unwrap();
    assert_eq!(sealed[0], 1, "format version");
    assert_eq!(sealed[1], 1, "algorithm");
    assert_eq!(&sealed[2..18], f.key.uuid().as_bytes());
    assert_eq!(&sealed[18..22], &1u32.to_be_bytes());
    assert_eq!(&sealed[22..24], &60u16.to_be_bytes());
    assert_eq!(env.format_version(), 1);
    assert_eq!(env.algorithm(), Algorithm::Aes256Gcm);
    assert_eq!(env.key_id(), f.key);
    assert_eq!(env.key_version(), 1);
    assert_eq!(env.wrapped_dek(), &sealed[24..84]);
    assert_eq!(env.header(), &sealed[..84]);
    assert_eq!(env.nonce(), &sealed[84..96]);
    assert_eq!(env.ciphertext(), &sealed[96..]);
    assert_eq!(sealed.len(), 96 + 3 + 16);
}

#[test]
fn each_seal_uses_a_fresh_data_key_and_nonce() {
    let f = Fixture::new();
    let a = f.seal(b"same");
    let b = f.seal(b"same");
    let (pa, pb) = (envelope::parse(&a).unwrap(), envelope::parse(&b).unwrap());
    assert_ne!(pa.wrapped_dek(), pb.wrapped_dek());
    assert_ne!(pa.nonce(), pb.nonce());
    assert_ne!(pa.ciphertext(), pb.ciphertext());
}

#[test]
fn flipping_any_byte_of_an_envelope_makes_it_fail() {
    let f = Fixture::new();
    let sealed = f.seal(b"a value long enough to span a few AES blocks");
    for i in 0..sealed.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut bad = sealed.clone();
            bad[i] ^= mask;
            assert!(f.open(&bad).is_err(), "byte {i} mask {mask:#x}");
        }
    }
}

#[test]
fn truncating_or_extending_an_envelope_makes_it_fail() {
    let f = Fixture::new();
    let sealed = f.seal(b"value");
    for len in 0..sealed.len() {
        assert!(f.open(&sealed[..len]).is_err(), "length {len}");
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert!(matches!(
        f.open(&longer),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn short_or_unknown_envelopes_are_malformed_not_decryption_failures() {
    let f = Fixture::new();
    let sealed = f.seal(b"value");
    assert!(matches!(f.open(&[]), Err(CryptoError::Malformed(_))));
    for len in 1..sealed.len() - 5 - 16 {
        assert!(
            matches!(f.open(&sealed[..len]), Err(CryptoError::Malformed(_))),
            "length {len}"
        );
    }
    let mut future = sealed.clone();
    future[0] = 2;
    assert!(
        matches!(f.open(&future), Err(CryptoError::Malformed(m)) if m.contains("format version"))
    );
    let mut alg = sealed.clone();
    alg[1] = 9;
    assert!(matches!(f.open(&alg), Err(CryptoError::Malformed(m)) if m.contains("algorithm")));
    let mut empty_wrap = sealed[..22].to_vec();
    empty_wrap.extend_from_slice(&[0, 0]);
    empty_wrap.extend_from_slice(&[0; 40]);
    assert!(matches!(
        f.open(&empty_wrap),
        Err(CryptoError::Malformed(_))
    ));
}

#[test]
fn opening_for_another_secret_version_or_data_type_is_decryption_failed() {
    let f = Fixture::new();
    let sealed = f.seal(b"value");
    let other_name = name("prod/db/password2");
    let other_version = version("v2");
    let contexts = [
        EnvelopeContext {
            secret_name: &other_name,
            ..f.ctx()
        },
        EnvelopeContext {
            version_id: &other_version,
            ..f.ctx()
        },
        EnvelopeContext {
            data_type: SecretDataType::Binary,
            ..f.ctx()
        },
    ];
    for ctx in &contexts {
        assert!(
            matches!(
                envelope::open(&f.kms, &sealed, ctx),
                Err(CryptoError::DecryptionFailed)
            ),
            "{ctx:?}"
        );
    }
}

#[test]
fn name_and_version_boundaries_cannot_be_shifted() {
    // "ab" + "c" must not authenticate as "a" + "bc".
    let kms = LocalKms::in_memory(RootKey::from_bytes([1; 32]));
    let key = kms.default_key().unwrap();
    let (ab, c, a, bc) = (name("ab"), version("c"), name("a"), version("bc"));
    let ctx = EnvelopeContext {
        secret_name: &ab,
        version_id: &c,
        data_type: SecretDataType::Text,
    };
    let sealed = envelope::seal(&kms, &key, &ctx, b"x").unwrap();
    let shifted = EnvelopeContext {
        secret_name: &a,
        version_id: &bc,
        ..ctx
    };
    assert!(matches!(
        envelope::open(&kms, &sealed, &shifted),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn a_wrapped_data_key_moved_into_another_envelope_fails() {
    let f = Fixture::new();
    let a = f.seal(b"first value");
    let b = f.seal(b"second value");
    let (wa, wb) = (
        envelope::parse(&a).unwrap().wrapped_dek().to_vec(),
        envelope::parse(&b).unwrap().wrapped_dek().to_vec(),
    );
    assert_eq!(wa.len(), wb.len());
    let mut spliced = b.clone();
    spliced[24..24 + wa.len()].copy_from_slice(&wa);
    assert!(matches!(
        f.open(&spliced),
        Err(CryptoError::DecryptionFailed)
    ));
    // Same with the ciphertext moved instead.
    let mut spliced = a.clone();
    spliced.truncate(84);
    spliced.extend_from_slice(&b[84..]);
    assert!(matches!(
        f.open(&spliced),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn an_envelope_sealed_under_an_older_key_version_still_opens_after_rotation() {
    let f = Fixture::new();
    let old = f.seal(b"old");
    f.kms.rotate_key(&f.key).unwrap();
    let new = f.seal(b"new");
    assert_eq!(envelope::parse(&new).unwrap().key_version(), 2);
    assert_eq!(f.open(&old).unwrap(), b"old");
    assert_eq!(f.open(&new).unwrap(), b"new");
}

#[test]
fn disabled_or_unknown_master_key_is_a_kms_error() {
    let f = Fixture::new();
    let sealed = f.seal(b"value");
    f.kms.disable_key(&f.key).unwrap();
    assert!(matches!(
        f.open(&sealed),
        Err(CryptoError::Kms(KmsError::KeyDisabled(_)))
    ));
    assert!(matches!(
        envelope::seal(&f.kms, &f.key, &f.ctx(), b"v"),
        Err(CryptoError::Kms(KmsError::KeyDisabled(_)))
    ));
    let other = LocalKms::in_memory(RootKey::from_bytes([0x33; 32]));
    assert!(matches!(
        envelope::open(&other, &sealed, &f.ctx()),
        Err(CryptoError::Kms(KmsError::KeyNotFound(_)))
    ));
}

#[test]
fn every_crypto_error_formats_without_revealing_data() {
    let errors = [
        CryptoError::Malformed("envelope is truncated"),
        CryptoError::DecryptionFailed,
        CryptoError::Kms(KmsError::WrongRootKey),
        CryptoError::Rng,
    ];
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        texts,
        [
            "malformed envelope: envelope is truncated",
            "decryption failed",
            "the root key does not open this keyring (wrong root key, or the keyring is damaged)",
            "the system random number generator failed",
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seal_then_open_roundtrips_any_value(
        value in proptest::collection::vec(any::<u8>(), 0..=30 * 1024),
        binary in any::<bool>(),
    ) {
        let f = Fixture::new();
        let data_type = if binary { SecretDataType::Binary } else { SecretDataType::Text };
        let ctx = EnvelopeContext { data_type, ..f.ctx() };
        let sealed = envelope::seal(&f.kms, &f.key, &ctx, &value).unwrap();
        prop_assert_eq!(sealed.len(), 96 + value.len() + 16);
        let opened = envelope::open(&f.kms, &sealed, &ctx).unwrap();
        prop_assert_eq!(opened.expose(), &value[..]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = envelope::parse(&bytes);
    }

    #[test]
    fn parsing_bytes_behind_a_valid_prefix_never_panics(
        tail in proptest::collection::vec(any::<u8>(), 0..200),
        wrapped_len in any::<u16>(),
    ) {
        let mut bytes = vec![1, 1];
        bytes.extend_from_slice(&[0xab; 16]);
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(&(wrapped_len % 256).to_be_bytes());
        bytes.extend_from_slice(&tail);
        if let Ok(env) = envelope::parse(&bytes) {
            prop_assert_eq!(env.wrapped_dek().len(), usize::from(wrapped_len % 256));
            prop_assert!(env.ciphertext().len() >= 16);
        }
    }

    #[test]
    fn opening_arbitrary_bytes_never_succeeds_or_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let f = Fixture::new();
        prop_assert!(f.open(&bytes).is_err());
    }
}
