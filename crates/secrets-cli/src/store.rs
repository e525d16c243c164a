//! Finding and opening the store: the embedded sled store in a directory (the default) or a
//! PostgreSQL database (`--store postgres://…`), its root key and its keyring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secret_crypto::{FileKeyring, KeyMetadata, Kms, KmsError, LocalKms, RootKey};
use secret_model::{KeyId, StoreLocation};
use secret_storage::StorageError;
use secret_storage_postgres::{PostgresStorage, SharedKeyringKms};
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

/// Where the store is.
#[derive(Clone, Debug)]
pub(crate) enum Place {
    /// The embedded sled store in this directory.
    Dir(PathBuf),
    /// A PostgreSQL database, by connection string (`postgres://…`).
    Postgres(String),
}

/// The store named by `--store`: a `postgres://` or `postgresql://` connection string, or a
/// directory; else the directory `--store-dir`; else `$SECRETS_STORE` (as `--store`); else
/// the directory of [`store_dir`]. A flag always wins over the environment.
pub(crate) fn place(
    store: Option<&String>,
    store_dir_flag: Option<&String>,
) -> Result<Place, Failure> {
    let named = match (store, store_dir_flag) {
        (Some(store), _) => Some(store.clone()),
        (None, Some(_)) => None,
        (None, None) => std::env::var("SECRETS_STORE")
            .ok()
            .filter(|s| !s.is_empty()),
    };
    match named {
        Some(url) if is_connection_string(&url)? => Ok(Place::Postgres(url)),
        Some(dir) => match dir.strip_prefix("sled:") {
            // `sled:$DIR` with `DIR` unset: refused by name, as an empty `--store` is, rather
            // than taken as the current directory.
            Some("") => Err(Failure::usage(
                "the store 'sled:' names no directory (--store or $SECRETS_STORE)",
            )),
            Some(path) => Ok(Place::Dir(PathBuf::from(path))),
            None => Ok(Place::Dir(PathBuf::from(dir))),
        },
        None => store_dir(store_dir_flag).map(Place::Dir),
    }
}

/// Whether `--store`'s value names a PostgreSQL database: a `postgres://` or `postgresql://`
/// URL, or libpq's `key=value` form (`host=db1 dbname=secrets user=app`: every key a lowercase
/// keyword, values read as libpq reads them, `secret_storage_postgres::key_value_words`).
/// Anything else is a directory (`sled:` in front forces one).
///
/// Refused (exit 2), never taken for a directory — which a create would make, with the
/// string, password and all, for its name — and never repeated (it may hold a password): a
/// value that begins as the `key=value` form (`host=…`) and cannot be read as it (an unclosed
/// quote), and a URL of another scheme (`postgresq://…`).
fn is_connection_string(s: &str) -> Result<bool, Failure> {
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(true);
    }
    if let Some((scheme, _)) = s.split_once("://")
        && !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(Failure::usage(format!(
            "the store (--store or $SECRETS_STORE) is a URL of the scheme '{scheme}', which \
             names no store: give postgres:// or postgresql:// for PostgreSQL, or sled:DIR for \
             a directory"
        )));
    }
    let is_keyword =
        |key: &str| !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    match secret_storage_postgres::key_value_words(s) {
        Some(words) if !words.is_empty() && words.iter().all(|w| is_keyword(&w.key)) => Ok(true),
        Some(_) => Ok(false),
        None if begins_as_key_value(s) => Err(Failure::usage(
            "the store (--store or $SECRETS_STORE) begins as a PostgreSQL key=value connection \
             string but cannot be read as one (an unclosed quote, or a '\\' at the end?); it is \
             not repeated here, as it may hold a password. For a directory, write sled:DIR",
        )),
        None => Ok(false),
    }
}

/// Whether `s` begins as libpq's `key=value` form: a lowercase keyword, then `=` (spaces
/// allowed around it).
fn begins_as_key_value(s: &str) -> bool {
    let s = s.trim_start();
    let key_len = s
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
        .count();
    key_len > 0 && s[key_len..].trim_start().starts_with('=')
}

/// The master-key administration of an open store, whichever KMS keeps its keyring.
pub(crate) enum KeyAdmin {
    /// A keyring file beside the embedded store.
    Local(Arc<LocalKms>),
    /// A keyring shared through PostgreSQL.
    Shared(Arc<SharedKeyringKms>),
}

impl KeyAdmin {
    pub(crate) fn create_key(&self, description: &str) -> Result<KeyMetadata, KmsError> {
        match self {
            KeyAdmin::Local(k) => k.create_key(description),
            KeyAdmin::Shared(k) => k.create_key(description),
        }
    }

    pub(crate) fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        match self {
            KeyAdmin::Local(k) => k.list_keys(),
            KeyAdmin::Shared(k) => k.list_keys(),
        }
    }

    pub(crate) fn describe_key(&self, key: &KeyId) -> Result<KeyMetadata, KmsError> {
        match self {
            KeyAdmin::Local(k) => k.describe_key(key),
            KeyAdmin::Shared(k) => k.describe_key(key),
        }
    }

    pub(crate) fn enable_key(&self, key: &KeyId) -> Result<(), KmsError> {
        match self {
            KeyAdmin::Local(k) => k.enable_key(key),
            KeyAdmin::Shared(k) => k.enable_key(key),
        }
    }

    pub(crate) fn disable_key(&self, key: &KeyId) -> Result<(), KmsError> {
        match self {
            KeyAdmin::Local(k) => k.disable_key(key),
            KeyAdmin::Shared(k) => k.disable_key(key),
        }
    }

    pub(crate) fn rotate_key(&self, key: &KeyId) -> Result<u32, KmsError> {
        match self {
            KeyAdmin::Local(k) => k.rotate_key(key),
            KeyAdmin::Shared(k) => k.rotate_key(key),
        }
    }
}

/// An open store and its KMS (for the key commands).
pub(crate) struct OpenStore {
    pub(crate) manager: SecretsManager,
    pub(crate) kms: KeyAdmin,
    /// The store's table of request nonces, on PostgreSQL (`secrets serve` shares it).
    pub(crate) nonces: Option<secret_storage_postgres::NonceTable>,
}

/// Opens (creating on first use) the store at `place`.
pub(crate) fn open(
    place: &Place,
    root_key_file: Option<&String>,
    location: StoreLocation,
) -> Result<OpenStore, Failure> {
    open_with(place, root_key_file, location, Arc::new(AllowAll), false)
}

/// A manager on no store at all (memory, a throwaway key), for the operation that touches
/// neither storage nor keys: `GetRandomPassword`. Errors: `InternalFailure` if the OS's
/// random source fails.
pub(crate) fn storeless_manager(location: StoreLocation) -> Result<SecretsManager, Failure> {
    let root = RootKey::generate()
        .map_err(|e| Failure::internal(format!("cannot draw a throwaway key: {e}")))?;
    Ok(SecretsManager::builder(
        Arc::new(secret_storage::MemoryStorage::new()),
        Arc::new(LocalKms::in_memory(root)),
    )
    .location(location)
    .build())
}

/// Opens the store at `place` with `authorizer` deciding every operation (`secrets serve`),
/// and, with `nonces`, a PostgreSQL store's nonce table.
pub(crate) fn open_with(
    place: &Place,
    root_key_file: Option<&String>,
    location: StoreLocation,
    authorizer: Arc<dyn Authorizer>,
    nonces: bool,
) -> Result<OpenStore, Failure> {
    let (storage, kms, nonces): (Arc<dyn secret_storage::Storage>, KeyAdmin, _) = match place {
        Place::Dir(dir) => {
            let (storage, kms) = open_dir(dir, root_key_file)?;
            (storage, kms, None)
        }
        Place::Postgres(url) => {
            let (storage, kms) = open_postgres(url, root_key_file)?;
            let nonces = nonces
                .then(|| storage.nonce_table())
                .transpose()
                .map_err(|e| {
                    Failure::internal(format!("cannot open the PostgreSQL nonce table: {e}"))
                })?;
            (
                Arc::new(storage) as Arc<dyn secret_storage::Storage>,
                kms,
                nonces,
            )
        }
    };
    let manager = match &kms {
        KeyAdmin::Local(k) => SecretsManager::builder(storage, k.clone()),
        KeyAdmin::Shared(k) => SecretsManager::builder(storage, k.clone()),
    }
    .location(location)
    .authorizer(authorizer)
    .accept_unsealed_records(accept_unsealed_records())
    .build();
    Ok(OpenStore {
        manager,
        kms,
        nonces,
    })
}

/// Whether `$SECRETS_ACCEPT_UNSEALED_RECORDS` asks to read records written before records were
/// sealed (`1` or `true`); says so on stderr when it does, as it also accepts a stripped seal.
fn accept_unsealed_records() -> bool {
    let accept = std::env::var("SECRETS_ACCEPT_UNSEALED_RECORDS")
        .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if accept {
        eprintln!(
            "secrets: notice: accepting stored records without a seal \
             (SECRETS_ACCEPT_UNSEALED_RECORDS); `secrets rotate-record-seal-key` seals every \
             record at once (otherwise each is sealed by its next write) — unset it once every \
             record is sealed"
        );
    }
    accept
}

fn open_dir(
    dir: &Path,
    root_key_file: Option<&String>,
) -> Result<(Arc<dyn secret_storage::Storage>, KeyAdmin), Failure> {
    // Half a store is never completed with a new half: a keyring whose records are elsewhere
    // (data/ moved away, a volume not mounted) would get an empty database beside it, and
    // records whose keyring is elsewhere a new keyring that opens none of them.
    if dir.join("keyring").exists() && !has_records_database(dir) {
        return Err(keyring_without_records(dir, "done"));
    }
    create_private_dir(dir)?;
    // sled first: its lock keeps a second process out before the keyring is touched.
    let storage = open_sled(dir)?;
    if !dir.join("keyring").exists() {
        // A database with no record is a store whose making stopped before its first write.
        let records = secret_storage::Storage::list(&storage, None, 1).map_err(|e| {
            Failure::internal(format!("cannot read the store at {}: {e}", dir.display()))
        })?;
        if !records.is_empty() {
            return Err(records_without_keyring(dir));
        }
    }
    let root = root_key(dir, root_key_file)?;
    let kms =
        LocalKms::open(root, Box::new(FileKeyring::new(dir.join("keyring")))).map_err(|e| {
            Failure::internal(format!("cannot open the keyring in {}: {e}", dir.display()))
        })?;
    Ok((Arc::new(storage), KeyAdmin::Local(Arc::new(kms))))
}

/// The embedded store's sled database in `dir`, which also holds the directory's lock: while it
/// is open, no other process opens the store (nor its keyring through `secrets`).
pub(crate) fn open_sled(dir: &Path) -> Result<SledStorage, Failure> {
    SledStorage::open(dir.join("data")).map_err(|e| {
        // A lock held by another process is the one transient failure to open (sled's lock
        // attempt would block); only then is another process the likely cause.
        let hint = match e {
            StorageError::Backend {
                retryable: true, ..
            } => ". Is another `secrets` process using it?",
            _ => "",
        };
        Failure::internal(format!(
            "cannot open the store at {}: {e}{hint}",
            dir.display()
        ))
    })
}

/// PostgreSQL: the secrets and the keyring (sealed under the root key) in one database, shared
/// by every process that opens it. The root key must come from `--root-key-file` or
/// `$SECRETS_ROOT_KEY`: it is never generated or kept in the database.
fn open_postgres(
    url: &str,
    root_key_file: Option<&String>,
) -> Result<(PostgresStorage, KeyAdmin), Failure> {
    let storage = open_postgres_storage(url)?;
    let root_file = root_key_file.cloned();
    if root_file.is_none() && std::env::var_os("SECRETS_ROOT_KEY").is_none_or(|v| v.is_empty()) {
        return Err(Failure::usage(
            "a PostgreSQL store needs its root key from --root-key-file or SECRETS_ROOT_KEY",
        ));
    }
    let kms = SharedKeyringKms::open(storage.keyring(KEYRING), move || match &root_file {
        Some(path) => RootKey::from_file(path),
        None => RootKey::from_env("SECRETS_ROOT_KEY"),
    })
    .map_err(|e| Failure::internal(format!("cannot open the keyring in PostgreSQL: {e}")))?;
    Ok((storage, KeyAdmin::Shared(Arc::new(kms))))
}

/// The name of the keyring every `secrets` process on a PostgreSQL store shares.
pub(crate) const KEYRING: &str = "default";

/// The PostgreSQL store named by a connection string (with the store's own `schema=NAME`).
pub(crate) fn open_postgres_storage(url: &str) -> Result<PostgresStorage, Failure> {
    PostgresStorage::open(&postgres_config(url)).map_err(cannot_open)
}

fn postgres_config(url: &str) -> secret_storage_postgres::PostgresConfig {
    let (url, schema) = split_schema(url);
    let config = secret_storage_postgres::PostgresConfig::new(&url);
    match &schema {
        Some(schema) => config.schema(schema),
        None => config,
    }
}

fn cannot_open(e: secret_storage::StorageError) -> Failure {
    // The connection string may hold a password: never repeat it.
    Failure::internal(format!("cannot open the PostgreSQL store: {e}"))
}

/// Refuses a store that does not exist yet, for the maintenance commands, which must not make
/// one (a mistyped directory or schema, or a cron job without `$SECRETS_HOME`, would otherwise
/// get a new, empty store and report success): an embedded store needs its keyring and its
/// records' database; a PostgreSQL one its schema (not created here) and its keyring.
pub(crate) fn require_existing(place: &Place, nothing: &str) -> Result<(), Failure> {
    let missing = |what: String| {
        Failure::usage(format!(
            "{what}: no store there, or nothing written yet; nothing {nothing}"
        ))
    };
    match place {
        Place::Dir(dir) => match (dir.join("keyring").exists(), has_records_database(dir)) {
            (true, true) => Ok(()),
            (true, false) => Err(keyring_without_records(dir, nothing)),
            (false, true) => Err(records_without_keyring(dir)),
            (false, false) => Err(missing(format!("there is no keyring in {}", dir.display()))),
        },
        Place::Postgres(url) => {
            let config = postgres_config(url);
            let storage = PostgresStorage::open_existing(&config).map_err(cannot_open)?;
            let schema = config.schema_name().to_owned();
            let Some(storage) = storage else {
                return Err(missing(format!(
                    "there is no store in the PostgreSQL schema {schema} (no such schema, or one \
                     holding no store's tables)"
                )));
            };
            let keyring = storage.keyring(KEYRING).stored_generation().map_err(|e| {
                Failure::internal(format!("cannot read the keyring in PostgreSQL: {e}"))
            })?;
            match keyring {
                Some(_) => Ok(()),
                None => Err(missing(format!(
                    "there is no keyring in the PostgreSQL schema {schema}"
                ))),
            }
        }
    }
}

/// Whether `dir` holds the embedded store's records database: sled keeps it in `data/db`; a
/// `data/` that is only an empty mount point, or was moved away, holds none.
fn has_records_database(dir: &Path) -> bool {
    dir.join("data").join("db").exists()
}

/// Refusal (exit 2) of a store directory whose keyring is there and whose records are not.
fn keyring_without_records(dir: &Path, nothing: &str) -> Failure {
    Failure::usage(format!(
        "{} has a keyring but no records (data/ is missing or empty): put back the data/ \
         backed up with this keyring, or mount its volume; nothing {nothing}",
        dir.display()
    ))
}

/// Refusal (exit 2) of a store directory whose records are there and whose keyring is not: a
/// new keyring would open none of them (every record is sealed under the keyring's key).
fn records_without_keyring(dir: &Path) -> Failure {
    Failure::usage(format!(
        "{} holds records but no keyring: put back the keyring backed up with these records \
         (a new one would open none of them); nothing done",
        dir.display()
    ))
}

/// Takes the store's own `schema=NAME` query parameter (several stores may share a database)
/// out of a connection string; PostgreSQL itself would refuse it.
fn split_schema(url: &str) -> (String, Option<String>) {
    if !url.starts_with("postgres://")
        && !url.starts_with("postgresql://")
        && let Some(words) = secret_storage_postgres::key_value_words(url)
    {
        // libpq's key=value form: `schema=NAME` is one of its words, taken out; the rest is
        // passed on as it was (quoted values keep their spaces).
        let Some(word) = words.into_iter().find(|w| w.key == "schema") else {
            return (url.to_owned(), None);
        };
        let span = word.span;
        let rest = format!("{}{}", &url[..span.start], url[span.end..].trim_start());
        return (rest.trim().to_owned(), Some(word.value));
    }
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("schema=") {
            Some(name) => {
                schema = Some(name.to_owned());
                false
            }
            None => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
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
pub(crate) fn root_key(dir: &Path, flag: Option<&String>) -> Result<RootKey, Failure> {
    let Some(path) = store_root_key_file(dir, flag) else {
        return given_root_key(flag);
    };
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

/// The store directory's own `root.key`, when it is where the root key comes from: neither
/// `--root-key-file` nor `$SECRETS_ROOT_KEY` gives one.
pub(crate) fn store_root_key_file(dir: &Path, flag: Option<&String>) -> Option<PathBuf> {
    let given =
        flag.is_some() || std::env::var_os("SECRETS_ROOT_KEY").is_some_and(|v| !v.is_empty());
    (!given).then(|| dir.join("root.key"))
}

/// The root key given by `--root-key-file`, else by `$SECRETS_ROOT_KEY`.
pub(crate) fn given_root_key(flag: Option<&String>) -> Result<RootKey, Failure> {
    match flag {
        Some(path) => RootKey::from_file(path),
        None => RootKey::from_env("SECRETS_ROOT_KEY"),
    }
    .map_err(|e| Failure::internal(e.to_string()))
}

/// Where the root key comes from, for messages.
pub(crate) fn root_key_source(dir: Option<&Path>, flag: Option<&String>) -> String {
    match (flag, dir.and_then(|d| store_root_key_file(d, flag))) {
        (Some(path), _) => format!("--root-key-file {path}"),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => "$SECRETS_ROOT_KEY".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_is_taken_out_of_the_connection_string() {
        assert_eq!(
            split_schema("postgres://h/db"),
            ("postgres://h/db".into(), None)
        );
        assert_eq!(
            split_schema("postgres://h/db?schema=s1&sslmode=require"),
            ("postgres://h/db?sslmode=require".into(), Some("s1".into()))
        );
        assert_eq!(
            split_schema("postgres://h/db?schema=s1"),
            ("postgres://h/db".into(), Some("s1".into()))
        );
    }

    #[test]
    fn store_urls_pick_the_backend() {
        let pg = place(Some(&"postgresql://u@h/db".to_owned()), None).unwrap();
        assert!(matches!(pg, Place::Postgres(_)));
        let dir = place(Some(&"sled:/tmp/x".to_owned()), None).unwrap();
        assert!(matches!(dir, Place::Dir(d) if d == std::path::Path::new("/tmp/x")));
        let key_value = "host=db1 port=5432 dbname=secrets user=app".to_owned();
        assert!(matches!(
            place(Some(&key_value), None).unwrap(),
            Place::Postgres(_)
        ));
        for dir in [
            "./store",
            "/var/lib/secrets",
            "./a=b",
            "Store=1",
            "sled:host='open",
        ] {
            let named = place(Some(&dir.to_owned()), None).unwrap();
            assert!(matches!(named, Place::Dir(_)), "{dir}");
        }
        for refused in [
            "host=db1 password='open",
            "postgresq://u:pw@h/db",
            "pg://h/db",
        ] {
            let e = place(Some(&refused.to_owned()), None).unwrap_err();
            assert!(!format!("{e:?}").contains("pw@") && !format!("{e:?}").contains("open"));
        }
    }

    #[test]
    fn a_schema_is_taken_out_of_either_form() {
        assert_eq!(
            split_schema("host=db1 schema=tenant_a user=app"),
            ("host=db1 user=app".to_owned(), Some("tenant_a".to_owned()))
        );
        assert_eq!(
            split_schema("postgres://app@db1/secrets?sslmode=require&schema=tenant_a"),
            (
                "postgres://app@db1/secrets?sslmode=require".to_owned(),
                Some("tenant_a".to_owned())
            )
        );
    }

    /// libpq's key=value form, with or without spaces around `=` and with quoted values, names
    /// PostgreSQL; paths and other words name a directory.
    #[test]
    fn key_value_strings_are_told_from_directories() {
        for pg in [
            "host=db1 dbname=secrets",
            "host = db1 dbname = secrets user = app",
            "host=db1 password='two  spaces' user=app",
            "password = 'it\\'s' host=db1",
            "host=db1 password=two\\ words",
        ] {
            assert!(is_connection_string(pg).unwrap(), "{pg}");
        }
        for dir in ["store", "./host=db1", "/var/lib/secrets", "Host=db1", "a b"] {
            assert!(!is_connection_string(dir).unwrap(), "{dir}");
        }
        // An unterminated quote is not the form, but begins as it: refused, neither a
        // directory nor handed to the postgres crate.
        assert!(is_connection_string("host=db1 password='open").is_err());
    }

    /// A key=value string without `schema=` reaches PostgreSQL as it was given: a quoted value
    /// (`password='two  spaces'`) keeps its spaces.
    #[test]
    fn a_quoted_key_value_is_passed_on_unchanged() {
        let given = "host=db1 user=app password='two  spaces'";
        assert_eq!(split_schema(given), (given.to_owned(), None));
    }
}
