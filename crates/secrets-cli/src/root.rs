//! `change-root-key`: the root-key rotation. The keyring (the master keys, sealed under the
//! root key) is re-sealed under a new root key; master keys, their versions and every secret
//! stay as they are.

use std::path::{Path, PathBuf};

use clap::{ArgMatches, Command};
use secret_crypto::{FileKeyring, KeyringStore, KmsError, LocalKms, RootKey, RootKeyError};
use serde_json::{Value, json};

use crate::output::Failure;
use crate::store::{self, Place};

const ABOUT: &str = "Re-seal the keyring under a new root key (root-key rotation); master keys and secrets stay as they are";

const AFTER_HELP: &str = "\
The current root key comes from --root-key-file, else $SECRETS_ROOT_KEY, else root.key in the
store directory. The new one from --new-root-key-file: generated there (mode 0600) if the file
does not exist, and must be outside the store directory. When the current key is the store's
own root.key, that file is replaced by the new key once the keyring is re-sealed.

Afterwards the old root key no longer opens this keyring, but it still opens every backup taken
before: keep it as long as those backups. With --store postgres://…, restart every other
process on the store with the new key: until then it reads with the keys it has loaded, but
cannot load the keyring again (its next key change or wrap reservation fails). Run it again
with the same arguments if it was interrupted: a keyring already sealed under the new key is
left as it is.";

/// The `change-root-key` subcommand.
pub(crate) fn command() -> Command {
    Command::new("change-root-key")
        .alias("ChangeRootKey")
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .arg(
            crate::command::non_empty("new-root-key-file")
                .alias("NewRootKeyFile")
                .value_name("PATH")
                .required(true)
                .help("[required] a 0600 file holding the new root key (64 hex digits); generated there if it does not exist"),
        )
}

/// Re-seals the keyring of the store at `place` under the root key in `--new-root-key-file`.
pub(crate) fn run(
    args: &ArgMatches,
    place: &Place,
    root_key_file: Option<&String>,
) -> Result<Value, Failure> {
    let new_file = PathBuf::from(
        args.get_one::<String>("new-root-key-file")
            .ok_or_else(|| Failure::usage("--new-root-key-file is required"))?,
    );
    match place {
        Place::Dir(dir) => in_dir(dir, root_key_file, &new_file),
        Place::Postgres(url) => in_postgres(url, root_key_file, &new_file),
    }
}

fn in_dir(dir: &Path, flag: Option<&String>, new_file: &Path) -> Result<Value, Failure> {
    // Before the store is opened, which would make an empty database beside a keyring whose
    // records are elsewhere.
    store::require_existing(&Place::Dir(dir.to_path_buf()), "to re-seal")?;
    let keyring_file = dir.join("keyring");
    // Held until the end: no other `secrets` process opens the keyring meanwhile.
    let _lock = store::open_sled(dir)?;
    let current_file = flag
        .map(PathBuf::from)
        .or_else(|| store::store_root_key_file(dir, flag));
    refuse_same_file(current_file.as_deref(), new_file)?;
    refuse_inside(dir, new_file)?;
    let keyring = || Box::new(FileKeyring::new(&keyring_file)) as Box<dyn KeyringStore>;
    let outcome = reseal(
        &keyring,
        || store::root_key(dir, flag),
        &store::root_key_source(Some(dir), flag),
        new_file,
    )?;
    // The store's own root.key follows, so that the next command opens the store as before.
    // The store's own root.key, when it is where the current key came from — by default, or
    // named with --root-key-file.
    let own = dir.join("root.key");
    let own_is_current = store::store_root_key_file(dir, flag).is_some()
        || flag.is_some_and(|f| same_file(Path::new(f), &own));
    let installed = match own_is_current.then_some(own) {
        Some(own) => {
            install(new_file, &own).map_err(|e| {
                Failure::internal(format!(
                    "the keyring is sealed under the root key in {}, but {} could not be \
                     replaced by it: {e}; copy it there (mode 0600) or give it with \
                     --root-key-file",
                    new_file.display(),
                    own.display()
                ))
            })?;
            Some(own)
        }
        None => {
            notice_new_key_file(flag, new_file);
            None
        }
    };
    Ok(response(&outcome, new_file, installed.as_deref()))
}

fn in_postgres(url: &str, flag: Option<&String>, new_file: &Path) -> Result<Value, Failure> {
    if flag.is_none() && std::env::var_os("SECRETS_ROOT_KEY").is_none_or(|v| v.is_empty()) {
        return Err(Failure::usage(
            "a PostgreSQL store needs its root key from --root-key-file or SECRETS_ROOT_KEY",
        ));
    }
    refuse_same_file(flag.map(Path::new), new_file)?;
    // Before the store is opened, which would create a mistyped schema with its tables.
    store::require_existing(&Place::Postgres(url.to_owned()), "to re-seal")?;
    let storage = store::open_postgres_storage(url)?;
    let shared = storage.keyring(store::KEYRING);
    // Each check and the re-seal use a handle of their own: the re-seal's save goes through
    // only if no other process changed the keyring since its own load.
    let keyring = || Box::new(shared.reopen()) as Box<dyn KeyringStore>;
    let outcome = reseal(
        &keyring,
        || store::given_root_key(flag),
        &store::root_key_source(None, flag),
        new_file,
    )?;
    // The store keeps no key file of its own: the one given is left as it is.
    notice_new_key_file(flag, new_file);
    Ok(response(&outcome, new_file, None))
}

/// Tells to give `new_file` from now on, when the current key came from the file `flag`
/// names (which is left as it is).
fn notice_new_key_file(flag: Option<&String>, new_file: &Path) {
    if let Some(flag) = flag {
        eprintln!(
            "secrets: notice: {flag} still holds the old root key; give --root-key-file {} \
             from now on",
            new_file.display()
        );
    }
}

/// What [`reseal`] did.
struct Outcome {
    /// The keyring was re-sealed now (not already, by an interrupted earlier run).
    resealed: bool,
    /// The new root key was generated into its file now.
    generated: bool,
}

/// Re-seals the keyring in `keyring()` from the root key `current()` (described by `source`)
/// to the one in `new_file` (generated there if absent). A keyring the current key does not
/// open but the new one does was re-sealed by an earlier, interrupted run: left as it is.
fn reseal(
    keyring: &dyn Fn() -> Box<dyn KeyringStore>,
    current: impl Fn() -> Result<RootKey, Failure>,
    source: &str,
    new_file: &Path,
) -> Result<Outcome, Failure> {
    let current_opens = opens(keyring(), current()?)?;
    let new_opens = new_file.exists() && opens(keyring(), read_key(new_file)?)?;
    if current_opens && new_opens {
        // The same key under another name (a copy, a hard link): nothing would change.
        return Err(Failure::usage(format!(
            "--new-root-key-file {} holds the current root key; give a file for a new one (it \
             is generated there if it does not exist)",
            new_file.display()
        )));
    }
    if !current_opens {
        if new_opens {
            return Ok(Outcome {
                resealed: false,
                generated: false,
            });
        }
        return Err(Failure::internal(format!(
            "the current root key ({source}) does not open the keyring, nor does the one in {}; \
             nothing was changed",
            new_file.display()
        )));
    }
    let (new, generated) = match RootKey::write_new_file(new_file) {
        Ok(key) => (key, true),
        Err(RootKeyError::FileExists { .. }) => (read_key(new_file)?, false),
        Err(e) => return Err(Failure::internal(e.to_string())),
    };
    if generated {
        eprintln!(
            "secrets: generated a new root key in {} (mode 0600); back it up apart from the data",
            new_file.display()
        );
    }
    LocalKms::change_root_key(&*keyring(), &current()?, &new).map_err(|e| {
        Failure::internal(format!("re-sealing the keyring: {e}; nothing was changed"))
    })?;
    Ok(Outcome {
        resealed: true,
        generated,
    })
}

/// Whether `key` opens the keyring in `store` (reads only).
fn opens(store: Box<dyn KeyringStore>, key: RootKey) -> Result<bool, Failure> {
    match LocalKms::open(key, store) {
        Ok(_) => Ok(true),
        Err(KmsError::WrongRootKey) => Ok(false),
        Err(e) => Err(Failure::internal(format!("cannot read the keyring: {e}"))),
    }
}

fn read_key(path: &Path) -> Result<RootKey, Failure> {
    RootKey::from_file(path).map_err(|e| Failure::internal(e.to_string()))
}

/// Refuses a new key file that is the current one: nothing would change, and the store's own
/// `root.key` would be replaced by itself.
fn refuse_same_file(current: Option<&Path>, new_file: &Path) -> Result<(), Failure> {
    if current.is_some_and(|current| same_file(current, new_file)) {
        return Err(Failure::usage(format!(
            "--new-root-key-file {} is the current root key; give a file for the new one (it is \
             generated there if it does not exist)",
            new_file.display()
        )));
    }
    Ok(())
}

/// Whether two paths name one file (after links), or are equal when either cannot be resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Refuses a new key file inside the store's directory: the root key is kept apart from the
/// data (the store's own `root.key` is replaced by a copy afterwards), and the store writes
/// and removes files of its own there (`keyring.tmp`, `root.key.new`) that could be it.
fn refuse_inside(dir: &Path, new_file: &Path) -> Result<(), Failure> {
    let parent = match new_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let inside = match (parent.canonicalize(), dir.canonicalize()) {
        (Ok(parent), Ok(dir)) => parent.starts_with(dir),
        // A folder that does not exist: the key cannot be written there anyway, and is
        // refused when it is.
        _ => false,
    };
    if inside {
        return Err(Failure::usage(format!(
            "--new-root-key-file {} is inside the store directory {}; keep the new root key \
             apart from the data (the store's own root.key is replaced by a copy of it)",
            new_file.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Replaces `own` with a copy of the key file `new_file`, atomically and durably: a crash
/// leaves either the old file or the new one.
fn install(new_file: &Path, own: &Path) -> std::io::Result<()> {
    let staged = own.with_extension("key.new");
    match std::fs::remove_file(&staged) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // `copy` gives the copy the original's permission bits, which `RootKey::from_file`
    // checked are the owner's only.
    std::fs::copy(new_file, &staged)?;
    std::fs::File::open(&staged)?.sync_all()?;
    std::fs::rename(&staged, own)?;
    match own.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn response(outcome: &Outcome, new_file: &Path, installed: Option<&Path>) -> Value {
    json!({
        "RequestId": secrets_wire::new_request_id(),
        "KeyringResealed": outcome.resealed,
        "NewRootKeyFile": new_file.display().to_string(),
        "NewRootKeyGenerated": outcome.generated,
        "StoreRootKeyFile": installed.map(|p| p.display().to_string()),
    })
}
