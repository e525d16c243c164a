//! The zeroization promises of `docs/security.md`, proven: a global allocator scans every
//! heap block freed while a closure runs for a secret's bytes (a value, a data key, master-key
//! material, the root key's text), and each test asserts that none was freed unwiped.
//!
//! The scanner is process-wide, so the tests take turns ([`serial`]): another test's frees
//! must not be scanned during one's window.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

struct Scanning;

static ARMED: AtomicBool = AtomicBool::new(false);
static HITS: AtomicUsize = AtomicUsize::new(0);
static NEEDLE: [AtomicU8; 64] = [const { AtomicU8::new(0) }; 64];
static NEEDLE_LEN: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }
    // `realloc` keeps its default: alloc, copy, then `dealloc` (scanned) of the old block.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let n = NEEDLE_LEN.load(Ordering::SeqCst);
        if ARMED.load(Ordering::SeqCst) && n > 0 && layout.size() >= n {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            let mut buf = [0u8; 64];
            for (b, a) in buf.iter_mut().zip(NEEDLE.iter()) {
                *b = a.load(Ordering::SeqCst);
            }
            let needle = &buf[..n];
            if block.windows(n).any(|w| w == needle) {
                HITS.fetch_add(1, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Scanning = Scanning;

/// Held for the whole of each test, so that tests run one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many heap blocks freed while `f` ran held `needle`.
fn freed_blocks_holding(needle: &[u8], f: impl FnOnce()) -> usize {
    assert!(needle.len() <= 64 && needle.len() >= 8);
    for (a, b) in NEEDLE.iter().zip(needle) {
        a.store(*b, Ordering::SeqCst);
    }
    NEEDLE_LEN.store(needle.len(), Ordering::SeqCst);
    HITS.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    HITS.load(Ordering::SeqCst)
}

const VALUE: &[u8] = b"Zq9-canary-SECRET-value-7Wx";

#[test]
fn scanner_sees_an_unwiped_copy() {
    let _serial = serial();
    // The scanner itself works: a plain Vec holding the value is found when freed.
    let hits = freed_blocks_holding(VALUE, || {
        let v = VALUE.to_vec();
        drop(std::hint::black_box(v));
    });
    assert!(hits >= 1);
}

#[test]
fn library_create_get_put_retry_leave_no_unwiped_copy() {
    let _serial = serial();
    use secret_crypto::{LocalKms, RootKey};
    use secret_storage::MemoryStorage;
    use secrets_manager::{
        CacheConfig, CreateSecretRequest, GetSecretValueRequest, PutSecretValueRequest,
        SecretsManager,
    };
    let store = SecretsManager::builder(
        Arc::new(MemoryStorage::new()),
        Arc::new(LocalKms::in_memory(RootKey::from_bytes([3; 32]))),
    )
    .value_cache(CacheConfig::default())
    .build();
    let hits = freed_blocks_holding(VALUE, || {
        store
            .create_secret(CreateSecretRequest {
                secret_name: "db".into(),
                secret_data: VALUE.to_vec().into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .unwrap();
        for _ in 0..3 {
            let got = store
                .get_secret_value(GetSecretValueRequest {
                    secret_name: "db".into(),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(got.secret_data.expose(), VALUE);
        }
        store
            .put_secret_value(PutSecretValueRequest {
                secret_name: "db".into(),
                version_id: "v1".into(),
                secret_data: VALUE.to_vec().into(),
                ..Default::default()
            })
            .unwrap();
        drop(store);
    });
    assert_eq!(hits, 0, "freed heap blocks still holding the value");
}

/// A binary value as `base64` (coreutils) prints it: wrapped at 76 characters.
fn line_wrapped_base64(value: &[u8]) -> String {
    use base64::Engine as _;
    let flat = base64::engine::general_purpose::STANDARD.encode(value);
    flat.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn from_wire_binary_with_bad_base64_leaves_no_partly_decoded_value() {
    let _serial = serial();
    use secret_model::{SecretDataType, SecretValue};
    // 112 bytes: the first 57 (one 76-character line) decode before the line break is met.
    let wire = line_wrapped_base64(&VALUE.repeat(4));
    let hits = freed_blocks_holding(VALUE, || {
        let err = SecretValue::from_wire(SecretDataType::Binary, &wire).unwrap_err();
        assert_eq!(err.parameter(), "SecretData");
    });
    assert_eq!(
        hits, 0,
        "SecretValue::from_wire freed the partly decoded value without wiping it"
    );
}

#[test]
fn a_wire_create_with_bad_base64_leaves_no_partly_decoded_value() {
    let _serial = serial();
    let store = secrets_manager::testing::memory_store();
    let wire = line_wrapped_base64(&VALUE.repeat(4));
    let hits = freed_blocks_holding(VALUE, || {
        let mut p = secrets_wire::Params::new();
        p.insert("SecretName", "db");
        p.insert("VersionId", "v1");
        p.insert("SecretDataType", "binary");
        p.insert("SecretData", wire.as_str());
        assert!(secrets_wire::call(&store, "CreateSecret", &p).is_err());
    });
    assert_eq!(
        hits, 0,
        "secrets_wire::call freed the partly decoded value without wiping it"
    );
}

#[test]
fn from_wire_binary_success_leaves_no_unwiped_copy() {
    let _serial = serial();
    use base64::Engine as _;
    use secret_model::{SecretDataType, SecretValue};
    let wire = base64::engine::general_purpose::STANDARD.encode(VALUE.repeat(4));
    let hits = freed_blocks_holding(VALUE, || {
        let v = SecretValue::from_wire(SecretDataType::Binary, &wire).unwrap();
        let back = v.to_wire();
        drop((v, back));
    });
    assert_eq!(hits, 0);
}

/// A KMS that hands out one known data key, so that freed memory can be scanned for it.
struct FixedKms;
const DEK: [u8; 32] = *b"DEK-canary-0123456789abcdefghij!";

impl secret_crypto::Kms for FixedKms {
    fn generate_data_key(
        &self,
        key_id: &secret_model::KeyId,
        _context: &[u8],
    ) -> Result<secret_crypto::DataKey, secret_crypto::KmsError> {
        Ok(secret_crypto::DataKey {
            plaintext: secret_crypto::DataKeyBytes(zeroize::Zeroizing::new(DEK)),
            wrapped: secret_crypto::WrappedDataKey {
                key_id: *key_id,
                key_version: 1,
                ciphertext: vec![7; 60],
            },
        })
    }
    fn decrypt_data_key(
        &self,
        _w: &secret_crypto::WrappedDataKey,
        _c: &[u8],
    ) -> Result<secret_crypto::DataKeyBytes, secret_crypto::KmsError> {
        Ok(secret_crypto::DataKeyBytes(zeroize::Zeroizing::new(DEK)))
    }
    fn describe_key(
        &self,
        _k: &secret_model::KeyId,
    ) -> Result<secret_crypto::KeyMetadata, secret_crypto::KmsError> {
        unimplemented!()
    }
    fn default_key(&self) -> Result<secret_model::KeyId, secret_crypto::KmsError> {
        unimplemented!()
    }
    fn record_seal_key(&self) -> Result<secret_crypto::RecordSealKey, secret_crypto::KmsError> {
        unimplemented!()
    }
}

#[test]
fn envelope_seal_and_open_leave_neither_value_nor_data_key_in_freed_memory() {
    let _serial = serial();
    use secret_crypto::envelope::{self, EnvelopeContext};
    use secret_model::{KeyId, SecretDataType, SecretName, Uuid, VersionId};
    let name = SecretName::parse("db").unwrap();
    let version = VersionId::parse("v1").unwrap();
    let ctx = EnvelopeContext {
        secret_name: &name,
        version_id: &version,
        data_type: SecretDataType::Text,
    };
    let key = KeyId::new(Uuid::from_bytes([1; 16]));
    for needle in [VALUE, &DEK[..]] {
        let hits = freed_blocks_holding(needle, || {
            let sealed = envelope::seal(&FixedKms, &key, &ctx, VALUE).unwrap();
            let opened = envelope::open(&FixedKms, &sealed, &ctx).unwrap();
            assert_eq!(opened.expose(), VALUE);
        });
        assert_eq!(hits, 0, "needle {:?}", String::from_utf8_lossy(needle));
    }
}

#[test]
fn root_key_from_env_leaves_no_unwiped_copy() {
    let _serial = serial();
    let hex = "5a71392d63616e6172792d524f4f542d6b65792d37577821212121212121215a";
    // SAFETY: single-threaded test run.
    unsafe { std::env::set_var("REVIEW_ROOT_KEY", hex) };
    let hits = freed_blocks_holding(hex.as_bytes(), || {
        let k = secret_crypto::RootKey::from_env("REVIEW_ROOT_KEY").unwrap();
        drop(k);
    });
    assert_eq!(hits, 0);
}

#[test]
fn master_key_material_is_not_left_in_freed_memory() {
    let _serial = serial();
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use ring::hkdf;
    use secret_crypto::{Kms, LocalKms, MemoryKeyring, RootKey};
    let root = [9u8; 32];
    let store = Arc::new(MemoryKeyring::new());
    let kms = LocalKms::open(RootKey::from_bytes(root), Box::new(store.clone())).unwrap();
    let key = kms.create_key("k").unwrap().key_id;
    drop(kms);
    // Decrypt the keyring blob as formats.md describes, to learn version 1's material.
    let blob = store.bytes().unwrap();
    let mut kek = [0u8; 32];
    hkdf::Salt::new(hkdf::HKDF_SHA256, b"secrets-store/root-key/v1")
        .extract(&root)
        .expand(&[b"secrets-store/keyring-key/v1"], hkdf::HKDF_SHA256)
        .unwrap()
        .fill(&mut kek)
        .unwrap();
    let mut body = blob[21..].to_vec();
    let plain = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &kek).unwrap())
        .open_in_place(
            Nonce::try_assume_unique_for_key(&blob[9..21]).unwrap(),
            Aad::from(&blob[..9]),
            &mut body,
        )
        .unwrap()
        .to_vec();
    // flag 0, count 1, id 16, state 1, created 8, desc len 4 + "k", versions 4, number 4, reserved 8
    let at = 1 + 4 + 16 + 1 + 8 + 4 + 1 + 4 + 4 + 8;
    assert_eq!(
        plain.len(),
        at + 32 + 1,
        "one key, one version, no record seal key yet"
    );
    let material = plain[at..at + 32].to_vec();
    let hits = freed_blocks_holding(&material, || {
        let kms = LocalKms::open(RootKey::from_bytes(root), Box::new(store.clone())).unwrap();
        for _ in 0..3 {
            let dk = kms.generate_data_key(&key, b"ctx").unwrap();
            kms.decrypt_data_key(&dk.wrapped, b"ctx").unwrap();
        }
        kms.rotate_key(&key).unwrap();
        kms.create_key("another").unwrap();
        kms.record_seal_key().unwrap();
        drop(kms);
        LocalKms::change_root_key(
            &*store,
            &RootKey::from_bytes(root),
            &RootKey::from_bytes([8; 32]),
        )
        .unwrap();
    });
    assert_eq!(hits, 0);
}

/// docs/security.md: the parsed request parameters (`secrets_wire::Params`) are wiped when
/// dropped — and a value replaced by a later one of the same name is wiped at once.
#[test]
fn params_are_wiped_when_dropped_or_replaced() {
    let _serial = serial();
    let text = std::str::from_utf8(VALUE).unwrap();
    // Built before the window: `format!` itself may free a partly written copy as it grows.
    let again = format!("{text}-again");
    let hits = freed_blocks_holding(VALUE, || {
        let mut p = secrets_wire::Params::new();
        p.insert("SecretName", "db");
        p.insert("SecretData", text);
        p.insert("SecretData", again);
        p.insert("Other", text);
        drop(std::hint::black_box(p));
    });
    assert_eq!(
        hits, 0,
        "a dropped or replaced Params value was freed unwiped"
    );
}
