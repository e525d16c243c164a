//! Finding and opening the embedded store: its directory, its root key, sled and the keyring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secret_crypto::{FileKeyring, LocalKms, RootKey};
use secret_model::StoreLocation;
use secret_storage_sled::SledStorage;
use secrets_manager::{AllowAll, Authorizer, SecretsManager};

use crate::output::Failure;

/// The store's directory: `--store-dir`, else `$SECRETS_HOME`, else the platform's data
/// directory.
pub(crate) fn store_dir(flag: Option<&String>) -> Result<PathBuf, Failure> {
    if let Some(dir) = flag {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("SECRETS_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    platform_data_dir()
        .map(|d| d.join("secrets"))
        .ok_or_else(|| {
            Failure::usage(
                "no store directory: give --store-dir or set SECRETS_HOME (HOME is not set)",
            )
        })
}

fn platform_data_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(xdg));
    }
    let home = PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?);
    if cfg!(target_os = "macos") {
        Some(home.join("Library").join("Application Support"))
    } else {
        Some(home.join(".local").join("share"))
    }
}

/// An open store and its KMS (for the key commands).
pub(crate) struct OpenStore {
    pub(crate) manager: SecretsManager,
    pub(crate) kms: Arc<LocalKms>,
}

/// Opens (creating on first use) the store in `dir`.
pub(crate) fn open(
    dir: &Path,
    root_key_file: Option<&String>,
    location: StoreLocation,
) -> Result<OpenStore, Failure> {
    open_with(dir, root_key_file, location, Arc::new(AllowAll))
}

/// Opens the store in `dir` with `authorizer` deciding every operation (`secrets serve`).
pub(crate) fn open_with(
    dir: &Path,
    root_key_file: Option<&String>,
    location: StoreLocation,
    authorizer: Arc<dyn Authorizer>,
) -> Result<OpenStore, Failure> {
    create_private_dir(dir)?;
    // sled first: its lock keeps a second process out before the keyring is touched.
    let storage = SledStorage::open(dir.join("data")).map_err(|e| {
        Failure::internal(format!(
            "cannot open the store at {}: {e}. Is another `secrets` process using it?",
            dir.display()
        ))
    })?;
    let root = root_key(dir, root_key_file)?;
    let kms =
        LocalKms::open(root, Box::new(FileKeyring::new(dir.join("keyring")))).map_err(|e| {
            Failure::internal(format!("cannot open the keyring in {}: {e}", dir.display()))
        })?;
    let kms = Arc::new(kms);
    let manager = SecretsManager::builder(Arc::new(storage), kms.clone())
        .location(location)
        .authorizer(authorizer)
        .build();
    Ok(OpenStore { manager, kms })
}

fn create_private_dir(dir: &Path) -> Result<(), Failure> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        Failure::internal(format!(
            "cannot create the store directory {}: {e}",
            dir.display()
        ))
    })
}

/// The root key: `--root-key-file`, else `$SECRETS_ROOT_KEY`, else `root.key` in the store
/// directory, generated on first use with a notice on stderr.
fn root_key(dir: &Path, flag: Option<&String>) -> Result<RootKey, Failure> {
    if let Some(path) = flag {
        return RootKey::from_file(path).map_err(|e| Failure::internal(e.to_string()));
    }
    if std::env::var_os("SECRETS_ROOT_KEY").is_some_and(|v| !v.is_empty()) {
        return RootKey::from_env("SECRETS_ROOT_KEY").map_err(|e| Failure::internal(e.to_string()));
    }
    let path = dir.join("root.key");
    if path.exists() {
        return RootKey::from_file(&path).map_err(|e| Failure::internal(e.to_string()));
    }
    if dir.join("keyring").exists() {
        return Err(Failure::internal(format!(
            "the store at {} has a keyring but no root key at {}; give the root key with \
             --root-key-file or SECRETS_ROOT_KEY",
            dir.display(),
            path.display()
        )));
    }
    let key = RootKey::write_new_file(&path).map_err(|e| Failure::internal(e.to_string()))?;
    eprintln!(
        "secrets: generated a new root key in {} (mode 0600); back it up apart from the data: \
         without it no secret can be decrypted",
        path.display()
    );
    Ok(key)
}
