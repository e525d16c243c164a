//! The root key: the one secret the application supplies, from which the keyring key derives.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::hex;

/// HKDF-SHA256 salt for every subkey of the root key (see `docs/formats.md`).
pub(crate) const HKDF_SALT: &[u8] = b"secrets-store/root-key/v1";
/// HKDF info label of the key that encrypts the keyring.
pub(crate) const KEYRING_KEY_LABEL: &[u8] = b"secrets-store/keyring-key/v1";

/// The largest valid key file: 64 hex digits and `\r\n`. One byte more proves a file too long.
const KEY_FILE_READ_LIMIT: usize = 67;

/// The 256-bit root of the key hierarchy, supplied by the application.
///
/// It never leaves memory except through [`RootKey::write_new_file`]; it is zeroized on drop
/// and `Debug` prints `RootKey([REDACTED])`. It is never used as a key directly: every use
/// derives a subkey with HKDF-SHA256 under its own label, so one root key can serve several
/// purposes without their keys ever coinciding.
///
/// ```
/// use secret_crypto::RootKey;
/// let key = RootKey::from_bytes([7; 32]);
/// assert_eq!(format!("{key:?}"), "RootKey([REDACTED])");
/// ```
pub struct RootKey(Zeroizing<[u8; 32]>);

/// Why a root key could not be had. No variant ever holds key bytes or file contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootKeyError {
    /// The key file could not be opened, read, created or written.
    #[error("root key file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The key file may be read or written by its group or by others.
    #[error(
        "root key file {} has mode {mode:04o}, which gives its group or others access; \
         it must be accessible by its owner only (chmod 600)",
        .path.display()
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits (`mode & 0o7777`).
        mode: u32,
    },
    /// The key file holds neither exactly 32 raw bytes nor 64 hex digits.
    #[error(
        "root key file {} must hold exactly 32 raw bytes, or 64 hex digits and an optional \
         newline",
        .path.display()
    )]
    BadFileFormat {
        /// The file.
        path: PathBuf,
    },
    /// [`RootKey::write_new_file`] found a file already there; it never overwrites one.
    #[error("root key file {} already exists; refusing to overwrite it", .path.display())]
    FileExists {
        /// The file.
        path: PathBuf,
    },
    /// The environment variable is not set.
    #[error("environment variable {var} is not set")]
    EnvMissing {
        /// The variable's name.
        var: String,
    },
    /// The environment variable does not hold 64 hex digits.
    #[error("environment variable {var} must hold 64 hex digits (a 256-bit key)")]
    BadEnvFormat {
        /// The variable's name.
        var: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl RootKey {
    /// A root key with exactly these bytes. The caller's copy is not zeroized by this call.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        RootKey(Zeroizing::new(bytes))
    }

    /// A fresh random root key from the operating system's generator.
    /// Errors: [`RootKeyError::Rng`].
    pub fn generate() -> Result<Self, RootKeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(&mut bytes[..])
            .map_err(|_| RootKeyError::Rng)?;
        Ok(RootKey(bytes))
    }

    /// Reads a key file holding either exactly 32 raw bytes or 64 hex digits (either case)
    /// with an optional trailing `\n` or `\r\n`.
    ///
    /// On Unix the file is refused unless only its owner may access it (`mode & 0o077 == 0`);
    /// the permissions are checked on the opened file, so a swap between check and read is
    /// not possible. Errors: [`RootKeyError::Io`], [`RootKeyError::InsecurePermissions`],
    /// [`RootKeyError::BadFileFormat`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, RootKeyError> {
        let path = path.as_ref();
        let io_err = |source| RootKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        check_owner_only(path, &file)?;

        let mut buf = Zeroizing::new([0u8; KEY_FILE_READ_LIMIT]);
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        let content = &buf[..len];
        let key = if let Ok(raw) = <[u8; 32]>::try_from(content) {
            Some(Zeroizing::new(raw))
        } else {
            decode_hex_text(content)
        };
        key.map(RootKey).ok_or_else(|| RootKeyError::BadFileFormat {
            path: path.to_owned(),
        })
    }

    /// Reads 64 hex digits (either case, optional trailing newline) from the environment
    /// variable `var`. Errors: [`RootKeyError::EnvMissing`], [`RootKeyError::BadEnvFormat`].
    pub fn from_env(var: &str) -> Result<Self, RootKeyError> {
        let value = std::env::var_os(var).ok_or_else(|| RootKeyError::EnvMissing {
            var: var.to_owned(),
        })?;
        let bytes = Zeroizing::new(value.into_encoded_bytes());
        decode_hex_text(&bytes)
            .map(RootKey)
            .ok_or_else(|| RootKeyError::BadEnvFormat {
                var: var.to_owned(),
            })
    }

    /// Generates a new root key and writes it as 64 hex digits and a newline to a *new* file
    /// at `path`, created with mode 0600 on Unix, synced to disk together with its directory
    /// entry before this returns. An existing file is never overwritten.
    ///
    /// The file appears whole or not at all: the key is written and synced under a temporary
    /// name beside `path` (`.<name>.tmp-<random>`), then linked to `path` (which fails if a
    /// file is there) and the temporary name removed. So a crash or power loss while writing
    /// leaves no partial key at `path` for the next run to stumble on (at most a temporary
    /// file). On a filesystem without hard links the key is written at `path` directly, and a
    /// file left half-written by a failure is removed.
    ///
    /// Errors: [`RootKeyError::FileExists`], [`RootKeyError::Io`], [`RootKeyError::Rng`].
    pub fn write_new_file(path: impl AsRef<Path>) -> Result<Self, RootKeyError> {
        let path = path.as_ref();
        let io_error = |source| RootKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let exists = || RootKeyError::FileExists {
            path: path.to_owned(),
        };
        if path.symlink_metadata().is_ok() {
            return Err(exists());
        }
        let key = RootKey::generate()?;
        let mut suffix = [0u8; 8];
        SystemRandom::new()
            .fill(&mut suffix)
            .map_err(|_| RootKeyError::Rng)?;
        let name = path
            .file_name()
            .map_or_else(|| "root-key".into(), |n| n.to_string_lossy());
        let temporary = path.with_file_name(format!(".{name}.tmp-{}", &*hex::encode(&suffix)));
        key.write_to_new(&temporary).map_err(io_error)?;
        let linked = std::fs::hard_link(&temporary, path);
        // Best effort: the key is under `path` now, or the temporary is of no use.
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => sync_parent_dir(path).map_err(io_error)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(exists()),
            // No hard links here (some network and FAT filesystems): write in place.
            Err(_) => key.write_to_new(path).map_err(|source| {
                if source.kind() == io::ErrorKind::AlreadyExists {
                    exists()
                } else {
                    io_error(source)
                }
            })?,
        }
        Ok(key)
    }

    /// Writes this key as 64 hex digits and a newline to a new file at `path` (mode 0600 on
    /// Unix), synced with its directory entry; removes the file if that fails part way.
    fn write_to_new(&self, path: &Path) -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        // The newline is written on its own: pushing it would grow the zeroizing string,
        // leaving its first buffer (the key in hex) freed without being wiped.
        let text = hex::encode(&self.0[..]);
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_parent_dir(path));
        if let Err(e) = written {
            drop(file);
            // Best effort: the original error is the one worth reporting.
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        Ok(())
    }

    /// The 256-bit subkey for `label`: HKDF-SHA256 with [`HKDF_SALT`], this key as input key
    /// material and `label` as info.
    pub(crate) fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(&self.0[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        prk.expand(&[label], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut out[..]))
            .expect("HKDF-SHA256 can always expand to 32 bytes");
        out
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

/// 64 hex digits with at most one trailing `\n` or `\r\n`.
fn decode_hex_text(text: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let text = text
        .strip_suffix(b"\r\n")
        .or_else(|| text.strip_suffix(b"\n"))
        .unwrap_or(text);
    hex::decode_32(text)
}

#[cfg(unix)]
fn check_owner_only(path: &Path, file: &File) -> Result<(), RootKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|source| RootKeyError::Io {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(RootKeyError::InsecurePermissions {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _file: &File) -> Result<(), RootKeyError> {
    // No portable owner-only check exists; Windows ACLs are the operator's responsibility.
    Ok(())
}

/// Makes a new directory entry durable (a no-op where directories cannot be synced).
pub(crate) fn sync_parent_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subkeys_differ_by_label_and_by_root() {
        let a = RootKey::from_bytes([1; 32]);
        let b = RootKey::from_bytes([2; 32]);
        assert_ne!(*a.derive(b"x"), *a.derive(b"y"));
        assert_ne!(*a.derive(b"x"), *b.derive(b"x"));
        assert_eq!(*a.derive(b"x"), *a.derive(b"x"));
        assert_ne!(*a.derive(KEYRING_KEY_LABEL), [1; 32]);
    }

    #[test]
    fn hex_text_accepts_one_trailing_newline_only() {
        let hex = [b'a'; 64];
        assert!(decode_hex_text(&hex).is_some());
        assert!(decode_hex_text(&[&hex[..], b"\n"].concat()).is_some());
        assert!(decode_hex_text(&[&hex[..], b"\r\n"].concat()).is_some());
        assert!(decode_hex_text(&[&hex[..], b"\n\n"].concat()).is_none());
        assert!(decode_hex_text(&[b" ", &hex[..]].concat()).is_none());
    }
}
