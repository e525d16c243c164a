//! Debug output of every key-holding type shows no key bytes.

mod common;

use common::hex;
use secret_crypto::{DataKeyBytes, Kms, LocalKms, RootKey, RootKeyError};
use zeroize::Zeroizing;

/// Every way the bytes could show up: hex (both cases) and Rust's `[1, 2, …]` list.
fn assert_hides(debug: &str, bytes: &[u8]) {
    let as_list = format!("{:?}", &bytes[..4]);
    let as_list = as_list.trim_end_matches(']');
    let as_hex = hex(&bytes[..4]);
    assert!(!debug.contains(as_list), "{debug}");
    assert!(!debug.contains(&as_hex), "{debug}");
    assert!(!debug.contains(&as_hex.to_uppercase()), "{debug}");
}

const ROOT: [u8; 32] = [
    0xde, 0xad, 0xbe, 0xef, 17, 23, 42, 99, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24,
];

#[test]
fn root_key_debug_is_redacted() {
    let debug = format!("{:?}", RootKey::from_bytes(ROOT));
    assert_eq!(debug, "RootKey([REDACTED])");
    assert_hides(&debug, &ROOT);
    assert_hides(&format!("{:#?}", RootKey::from_bytes(ROOT)), &ROOT);
}

#[test]
fn data_key_bytes_debug_is_redacted() {
    let key = DataKeyBytes(Zeroizing::new(ROOT));
    let debug = format!("{key:?} {key:#?}");
    assert!(debug.contains("[REDACTED]"));
    assert_hides(&debug, &ROOT);
}

#[test]
fn data_key_debug_shows_the_wrapped_form_but_not_the_key() {
    let kms = LocalKms::in_memory(RootKey::from_bytes(ROOT));
    let key = kms.default_key().unwrap();
    let dk = kms.generate_data_key(&key, b"").unwrap();
    let debug = format!("{dk:?} {dk:#?}");
    assert!(debug.contains("[REDACTED]"));
    assert!(debug.contains(&key.to_string()));
    assert_hides(&debug, &dk.plaintext.0[..]);
}

#[test]
fn local_kms_debug_shows_neither_root_key_nor_master_keys() {
    let kms = LocalKms::in_memory(RootKey::from_bytes(ROOT));
    kms.default_key().unwrap();
    let debug = format!("{kms:?} {kms:#?}");
    assert!(debug.starts_with("LocalKms {"), "{debug}");
    assert_hides(&debug, &ROOT);
    // No field that could carry key material at all.
    assert!(
        !debug.contains("material") && !debug.contains("root"),
        "{debug}"
    );
}

#[test]
fn root_key_errors_never_contain_key_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    // 63 hex digits of a real-looking key: refused, and not echoed.
    let text = "deadbeef112a2a63".repeat(4);
    std::fs::write(&path, &text[..63]).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let err: RootKeyError = RootKey::from_file(&path).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("deadbeef"), "{shown}");
}
