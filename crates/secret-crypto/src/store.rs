//! Where the encrypted keyring blob is kept: [`KeyringStore`] and its two implementations.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::KmsError;
use crate::root_key::sync_parent_dir;

/// The largest keyring file [`FileKeyring`] reads: far above any real keyring (each key
/// takes well under 10 KiB), low enough that a wrong path cannot exhaust memory.
const FILE_KEYRING_MAX: u64 = 64 * 1024 * 1024;

/// Keeps the one encrypted keyring blob of a [`crate::LocalKms`].
///
/// The blob is already encrypted and authenticated under the root key; a store only has to
/// keep it durably. One store belongs to one `LocalKms` at a time.
pub trait KeyringStore: Send + Sync {
    /// The last blob saved, or `None` if nothing was ever saved.
    /// Errors: `KmsError::Keyring` when it cannot be read.
    fn load(&self) -> Result<Option<Vec<u8>>, KmsError>;

    /// Replaces the blob. On `Ok` the new blob is durable; on `Err` the store still holds
    /// either the old or the new blob whole, never a mixture.
    /// Errors: `KmsError::Keyring` when it cannot be written.
    fn save(&self, bytes: &[u8]) -> Result<(), KmsError>;
}

/// A shared store: lets a test (or an application) keep a handle on the store it gave away.
impl<T: KeyringStore + ?Sized> KeyringStore for Arc<T> {
    fn load(&self) -> Result<Option<Vec<u8>>, KmsError> {
        (**self).load()
    }

    fn save(&self, bytes: &[u8]) -> Result<(), KmsError> {
        (**self).save(bytes)
    }
}

/// A keyring kept in memory only: for tests and for stores that live as long as the process.
#[derive(Debug, Default)]
pub struct MemoryKeyring {
    blob: Mutex<Option<Vec<u8>>>,
}

impl MemoryKeyring {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that already holds `blob` (for instance a keyring read from elsewhere).
    pub fn from_bytes(blob: Vec<u8>) -> Self {
        MemoryKeyring {
            blob: Mutex::new(Some(blob)),
        }
    }

    /// A copy of the blob last saved, if any (it is encrypted; safe to inspect or copy).
    pub fn bytes(&self) -> Option<Vec<u8>> {
        self.blob
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl KeyringStore for MemoryKeyring {
    fn load(&self) -> Result<Option<Vec<u8>>, KmsError> {
        Ok(self.bytes())
    }

    fn save(&self, bytes: &[u8]) -> Result<(), KmsError> {
        *self.blob.lock().unwrap_or_else(PoisonError::into_inner) = Some(bytes.to_vec());
        Ok(())
    }
}

/// A keyring kept in one file, replaced atomically on every save.
///
/// A save writes `<file>.tmp` in the same directory (mode 0600 on Unix), syncs it, renames it
/// over the file and syncs the directory, so a crash leaves the old or the new keyring,
/// never a torn one. Only one process may use a keyring file at a time.
#[derive(Debug, Clone)]
pub struct FileKeyring {
    path: PathBuf,
}

impl FileKeyring {
    /// A store at `path`. Nothing is touched until the first load or save; a missing file
    /// means an empty keyring.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileKeyring { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    }

    fn error(&self, doing: &str, e: io::Error) -> KmsError {
        KmsError::Keyring(format!("cannot {doing} {}: {e}", self.path.display()))
    }

    fn write_temp(&self, temp: &Path, bytes: &[u8]) -> io::Result<()> {
        match std::fs::remove_file(temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

impl KeyringStore for FileKeyring {
    fn load(&self) -> Result<Option<Vec<u8>>, KmsError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error("open", e)),
        };
        let mut bytes = Vec::new();
        file.take(FILE_KEYRING_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.error("read", e))?;
        if bytes.len() as u64 > FILE_KEYRING_MAX {
            return Err(KmsError::Keyring(format!(
                "{} is larger than {FILE_KEYRING_MAX} bytes; not a keyring",
                self.path.display()
            )));
        }
        Ok(Some(bytes))
    }

    fn save(&self, bytes: &[u8]) -> Result<(), KmsError> {
        let temp = self.temp_path();
        if let Err(e) = self.write_temp(&temp, bytes) {
            // Best effort: the write error is the one worth reporting.
            let _ = std::fs::remove_file(&temp);
            return Err(self.error("write a new version of", e));
        }
        std::fs::rename(&temp, &self.path).map_err(|e| self.error("replace", e))?;
        sync_parent_dir(&self.path).map_err(|e| self.error("sync the directory of", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_loads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyring::new(dir.path().join("keyring"));
        assert_eq!(store.load().unwrap(), None);
    }

    #[test]
    fn save_replaces_the_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyring::new(dir.path().join("keyring"));
        store.save(b"one").unwrap();
        store.save(b"two").unwrap();
        assert_eq!(store.load().unwrap().as_deref(), Some(&b"two"[..]));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn saved_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyring::new(dir.path().join("keyring"));
        store.save(b"x").unwrap();
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn save_into_a_missing_directory_is_a_keyring_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyring::new(dir.path().join("no/such/dir/keyring"));
        assert!(matches!(store.save(b"x"), Err(KmsError::Keyring(_))));
    }

    #[test]
    fn memory_store_keeps_the_last_blob() {
        let store = MemoryKeyring::new();
        assert_eq!(store.load().unwrap(), None);
        store.save(b"a").unwrap();
        store.save(b"b").unwrap();
        assert_eq!(store.bytes().as_deref(), Some(&b"b"[..]));
    }
}
