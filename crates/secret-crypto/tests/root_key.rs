//! RootKey sources: bytes, key files (with their permission check), environment variables.

mod common;

use std::path::Path;

use secret_crypto::{FileKeyring, Kms, KmsError, LocalKms, RootKey, RootKeyError};

const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ENV_VAR: &str = "SECRET_CRYPTO_TEST_ROOT_KEY_HEX";

fn bytes() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Whether two root keys are the same key, judged by whether one opens what the other sealed.
fn same_key(a: RootKey, b: RootKey) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    LocalKms::open(a, Box::new(FileKeyring::new(&path)))
        .unwrap()
        .default_key()
        .unwrap();
    match LocalKms::open(b, Box::new(FileKeyring::new(&path))) {
        Ok(_) => true,
        Err(KmsError::WrongRootKey) => false,
        Err(e) => panic!("unexpected {e}"),
    }
}

fn write_file(path: &Path, content: &[u8], mode: u32) {
    std::fs::write(path, content).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
}

#[test]
fn key_file_may_hold_raw_bytes_or_hex_with_an_optional_newline() {
    let dir = tempfile::tempdir().unwrap();
    let contents: [Vec<u8>; 5] = [
        bytes().to_vec(),
        HEX.into(),
        format!("{HEX}\n").into_bytes(),
        format!("{HEX}\r\n").into_bytes(),
        HEX.to_uppercase().into_bytes(),
    ];
    for (i, content) in contents.iter().enumerate() {
        let path = dir.path().join(format!("key{i}"));
        write_file(&path, content, 0o600);
        let key = RootKey::from_file(&path).unwrap();
        assert!(same_key(key, RootKey::from_bytes(bytes())), "variant {i}");
    }
}

#[test]
fn key_file_of_any_other_shape_is_bad_file_format_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let contents: [Vec<u8>; 7] = [
        vec![],
        vec![7; 31],
        vec![7; 33],
        HEX.as_bytes()[..62].to_vec(),
        format!("{HEX}\n\n").into_bytes(),
        format!(" {HEX}").into_bytes(),
        format!("{}zz", &HEX[..62]).into_bytes(),
    ];
    for (i, content) in contents.iter().enumerate() {
        let path = dir.path().join(format!("key{i}"));
        write_file(&path, content, 0o600);
        let err = RootKey::from_file(&path).unwrap_err();
        assert!(
            matches!(err, RootKeyError::BadFileFormat { .. }),
            "variant {i}: {err}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()));
        assert!(!text.contains(&HEX[..16]), "{text}");
    }
}

#[cfg(unix)]
#[test]
fn key_file_readable_by_group_or_others_is_refused_naming_path_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o640, 0o604, 0o660, 0o644, 0o601, 0o610, 0o777] {
        let path = dir.path().join(format!("key{mode:o}"));
        write_file(&path, HEX.as_bytes(), mode);
        let err = RootKey::from_file(&path).unwrap_err();
        assert!(
            matches!(err, RootKeyError::InsecurePermissions { mode: m, .. } if m == mode),
            "{mode:o}: {err}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("{mode:04o}")), "{text}");
    }
    for mode in [0o600, 0o400] {
        let path = dir.path().join(format!("ok{mode:o}"));
        write_file(&path, HEX.as_bytes(), mode);
        assert!(RootKey::from_file(&path).is_ok(), "{mode:o}");
    }
}

#[test]
fn missing_key_file_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.key");
    let err = RootKey::from_file(&path).unwrap_err();
    assert!(matches!(err, RootKeyError::Io { .. }), "{err}");
    assert!(err.to_string().contains("absent.key"));
}

#[test]
fn write_new_file_makes_a_private_hex_file_that_reads_back_as_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.key");
    let written = RootKey::write_new_file(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 65);
    assert!(text.ends_with('\n'));
    assert!(text[..64].bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(same_key(written, RootKey::from_file(&path).unwrap()));
}

#[test]
fn write_new_file_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.key");
    std::fs::write(&path, "precious").unwrap();
    let err = RootKey::write_new_file(&path).unwrap_err();
    assert!(matches!(err, RootKeyError::FileExists { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

/// The key is written under a temporary name and linked into place, so the key file is whole
/// or absent; the temporary goes, and one left by an interrupted attempt does not get in the
/// way of the next.
#[test]
fn write_new_file_leaves_only_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.key");
    let stale = dir.path().join(".root.key.tmp-00112233aabbccdd");
    std::fs::write(&stale, "ab").unwrap();
    let written = RootKey::write_new_file(&path).unwrap();
    assert!(same_key(written, RootKey::from_file(&path).unwrap()));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".root.key.tmp-00112233aabbccdd", "root.key"]);
    // A second attempt finds the key and leaves nothing behind either.
    assert!(matches!(
        RootKey::write_new_file(&path),
        Err(RootKeyError::FileExists { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn generated_keys_differ() {
    let a = RootKey::generate().unwrap();
    let b = RootKey::generate().unwrap();
    assert!(!same_key(a, b));
}

#[test]
fn missing_environment_variable_is_env_missing() {
    let err = RootKey::from_env("SECRET_CRYPTO_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
    assert!(matches!(err, RootKeyError::EnvMissing { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("SECRET_CRYPTO_TEST_SURELY_UNSET_VARIABLE")
    );
}

/// Setting a variable in this process needs `unsafe` in edition 2024, so the test re-runs
/// itself as a child process with the variable set.
#[test]
fn environment_variable_holds_the_key_as_hex() {
    match std::env::var(ENV_VAR) {
        Ok(value) if value == HEX => {
            let key = RootKey::from_env(ENV_VAR).unwrap();
            assert!(same_key(key, RootKey::from_bytes(bytes())));
        }
        Ok(_) => {
            let err = RootKey::from_env(ENV_VAR).unwrap_err();
            assert!(matches!(err, RootKeyError::BadEnvFormat { .. }), "{err}");
            assert!(!err.to_string().contains("not-hex"));
        }
        Err(_) => {
            for value in [HEX, "not-hex-at-all"] {
                let status = std::process::Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "environment_variable_holds_the_key_as_hex",
                        "--quiet",
                    ])
                    .env(ENV_VAR, value)
                    .stdout(std::process::Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success(), "child with {ENV_VAR}={value} failed");
            }
        }
    }
}
