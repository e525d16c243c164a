//! `docs/operations.md`'s PostgreSQL procedures ("Deploying on PostgreSQL", "Rotating keys"),
//! followed through the `secrets` binary as an operator would. Each test skips unless
//! `SECRETS_TEST_POSTGRES_URL` is set (`scripts/postgres.sh run cargo test -p secrets-cli --test
//! postgres_operations`); in CI a missing PostgreSQL fails it.

mod common;

use common::{CREATE_DB, postgres_url};
use std::path::Path;
use std::process::{Command, Output};

/// `host=… port=… dbname=… user=…`: the libpq key=value form of the test database's URL
/// (`postgresql://USER@HOST:PORT/DB`, as scripts/postgres.sh gives it).
fn key_value_form(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let (authority, db) = rest.split_once('/').unwrap();
    let db = db.split('?').next().unwrap();
    let (user, host_port) = authority.split_once('@').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    format!("host={host} port={port} dbname={db} user={user}")
}

/// A root key file (0600) in `dir`.
fn root_key_file(dir: &Path, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join(name);
    std::fs::write(&key, "cd".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    key
}

/// `url` with `schema=TAG_<pid>` added.
fn with_schema(url: &str, tag: &str) -> (String, String) {
    let schema = format!("{tag}_{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    (format!("{url}{sep}schema={schema}"), schema)
}

/// `secrets --store STORE ARGS…` run in `cwd`, with none of the variables that name a store or
/// a root key.
fn secrets(cwd: &Path, store: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secrets"))
        .current_dir(cwd)
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("SECRETS_HOME")
        .env_remove("SECRETS_STORE")
        .env_remove("SECRETS_ROOT_KEY")
        .env_remove("SECRETS_ACCEPT_UNSEALED_RECORDS")
        .output()
        .expect("the secrets binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// docs/operations.md, "The root key": `change-root-key` "refuses, changing nothing: a store
/// without a keyring, …", as every maintenance command refuses a store that is not there (exit
/// 2, README: "any other command there is refused (exit 2) and makes nothing"). On PostgreSQL a
/// mistyped `schema=` must not create that schema (with its tables) nor generate a new root key
/// file for a store that does not exist.
#[test]
fn change_root_key_on_a_missing_postgres_schema_refuses_and_makes_nothing() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = root_key_file(dir.path(), "root.key");
    let (store, schema) = with_schema(&url, "cli_chroot_typo");
    let new_key = dir.path().join("root-2.key");
    let out = secrets(
        dir.path(),
        &store,
        &[
            "--root-key-file",
            key.to_str().unwrap(),
            "change-root-key",
            "--new-root-key-file",
            new_key.to_str().unwrap(),
        ],
    );
    // What is there afterwards, asked as an operator would: a missing schema is named so.
    let after = secrets(
        dir.path(),
        &store,
        &["--root-key-file", key.to_str().unwrap(), "list-secrets"],
    );
    let after = String::from_utf8_lossy(&after.stdout).into_owned()
        + &String::from_utf8_lossy(&after.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !new_key.exists(),
        "a new root key was generated for a store that does not exist: {}",
        text(&out)
    );
    assert!(
        after.contains(&format!(
            "there is no store in the PostgreSQL schema {schema}"
        )),
        "change-root-key created the schema {schema}: {after}"
    );
}

/// docs/operations.md, "Connecting": a `key=value` connection string takes values "single-quoted,
/// as libpq reads them: `password='two words'`". One with a typo in its quoting (the closing
/// quote left out) is not a connection string PostgreSQL would read, and is refused as such
/// (exit 2), without repeating it: never taken for a directory name (where `create-secret`
/// would write the secret into a new embedded store named after the connection string, the
/// password in a file name, and other commands would repeat the string in their errors).
#[test]
fn a_key_value_string_with_an_unclosed_quote_is_refused_without_showing_the_password() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = root_key_file(dir.path(), "root.key");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let password = "Unclosed-Pw-7781";
    let store = format!(
        "{} password='{password} schema=cli_unclosed_{}",
        key_value_form(&url),
        std::process::id()
    );
    for args in [
        &["get-secret-value", "--secret-name", "db"][..],
        &CREATE_DB[..],
    ] {
        let mut all = vec!["--root-key-file", key.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = secrets(&cwd, &store, &all);
        let made: Vec<_> = std::fs::read_dir(&cwd)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            made.is_empty(),
            "{args:?} made {made:?} in the current directory: {}",
            text(&out)
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            !text(&out).contains(password),
            "{args:?} showed the password: {}",
            text(&out)
        );
    }
}

/// docs/operations.md, "The root key": "A current key file elsewhere is left as it is, with a
/// notice to give the new one from then on". On PostgreSQL every key file is elsewhere (the
/// store keeps none): after `change-root-key` from `--root-key-file OLD`, the operator is told
/// on stderr to give the new file from then on, as for a store directory.
#[test]
fn change_root_key_on_postgres_tells_to_give_the_new_key_file_from_then_on() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = root_key_file(dir.path(), "root.key");
    let (store, _schema) = with_schema(&url, "cli_chroot_notice");
    let key_arg = key.to_str().unwrap();
    let created = secrets(
        dir.path(),
        &store,
        &[&["--root-key-file", key_arg][..], &CREATE_DB[..]].concat(),
    );
    assert!(created.status.success(), "{}", text(&created));
    let new_key = dir.path().join("root-2.key");
    let new_arg = new_key.to_str().unwrap();
    let out = secrets(
        dir.path(),
        &store,
        &[
            "--root-key-file",
            key_arg,
            "change-root-key",
            "--new-root-key-file",
            new_arg,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notice") && stderr.contains(&format!("--root-key-file {new_arg}")),
        "no notice to give the new root key file from now on: {}",
        text(&out)
    );
}

/// docs/operations.md, "Connecting": the connection string is "libpq style, URL or
/// `key=value` (…, as libpq reads them)", and README: `--store` takes "libpq's `host=… dbname=…`
/// form". libpq reads `\` in an unquoted value as escaping the next character
/// (`password=two\ words`), and so does `secret-storage-postgres`; such a string names the
/// PostgreSQL store, never a directory (where `create-secret` would make an embedded store
/// named after the connection string, and the secret would never reach PostgreSQL).
#[test]
fn a_key_value_string_with_a_backslash_escaped_space_names_the_postgres_store() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = root_key_file(dir.path(), "root.key");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let (store_url, schema) = with_schema(&url, "cli_escaped");
    // The test cluster trusts loopback connections: the password is sent but not checked.
    let key_value = format!(
        r"{} password=two\ words schema={schema}",
        key_value_form(&url)
    );
    let key_arg = key.to_str().unwrap();
    let out = secrets(
        &cwd,
        &key_value,
        &[
            "--root-key-file",
            key_arg,
            "create-secret",
            "--secret-name",
            "escaped",
            "--version-id",
            "v1",
            "--secret-data",
            "x",
        ],
    );
    let made: Vec<_> = std::fs::read_dir(&cwd)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        made.is_empty(),
        "made {made:?} in the current directory: {}",
        text(&out)
    );
    assert!(out.status.success(), "{}", text(&out));
    let got = secrets(
        &cwd,
        &store_url,
        &[
            "--root-key-file",
            key_arg,
            "get-secret-value",
            "--secret-name",
            "escaped",
        ],
    );
    assert!(
        got.status.success(),
        "the secret is not in PostgreSQL: {}",
        text(&got)
    );
}
