//! The main job on the embedded default: create a secret in a sled store on disk and read it
//! back, then read it again from a freshly opened store.
//!
//! ```text
//! cargo run -p secrets-manager --example quickstart -- [STORE_DIR]
//! ```
//!
//! The root key is generated on first run into `STORE_DIR.root-key` (mode 0600), *beside* the
//! store directory rather than inside it, because a root key must never be kept with the data
//! it protects. In production, supply it from a secrets file or the environment instead.

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use secret_crypto::{FileKeyring, LocalKms, RootKey};
use secret_storage_sled::SledStorage;
use secrets_manager::{CreateSecretRequest, Error, GetSecretValueRequest, SecretsManager};

fn open(
    dir: &std::path::Path,
    key_file: &std::path::Path,
) -> Result<SecretsManager, Box<dyn std::error::Error>> {
    let root = RootKey::from_file(key_file)?;
    let kms = LocalKms::open(root, Box::new(FileKeyring::new(dir.join("keyring"))))?;
    let storage = SledStorage::open(dir.join("data"))?;
    Ok(SecretsManager::builder(Arc::new(storage), Arc::new(kms)).build())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from("target/quickstart-library-store"),
        PathBuf::from,
    );
    // Owner only, as the CLI makes its store directory: sled's files take the umask, and the
    // records in them name every secret.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let key_file = dir.with_extension("root-key");
    if !key_file.exists() {
        RootKey::write_new_file(&key_file)?;
        eprintln!(
            "generated a root key in {} (back it up apart from the data)",
            key_file.display()
        );
    }

    let store = open(&dir, &key_file)?;
    let version = format!(
        "v{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    match store.create_secret(CreateSecretRequest {
        secret_name: "quickstart/db-password".into(),
        secret_data: "correct horse battery staple".into(),
        version_id: version.clone(),
        ..Default::default()
    }) {
        Ok(created) => println!("created {} version {}", created.arn, created.version_id),
        Err(e @ Error::ResourceExist(_)) => println!("already there from an earlier run: {e}"),
        Err(e) => return Err(e.into()),
    }
    drop(store);

    let reopened = open(&dir, &key_file)?;
    let got = reopened.get_secret_value(GetSecretValueRequest {
        secret_name: "quickstart/db-password".into(),
        ..Default::default()
    })?;
    println!(
        "read back {} version {} stages {:?}: {} bytes, value matches: {}",
        got.secret_name,
        got.version_id,
        got.version_stages,
        got.secret_data.len(),
        got.secret_data.expose() == b"correct horse battery staple"
    );
    Ok(())
}
