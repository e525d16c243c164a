//! What the command-line tests share (each test binary uses some of it).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

/// A create of the secret `db` (version `v1`, value `x`): the command that makes a store.
pub(crate) const CREATE_DB: [&str; 7] = [
    "create-secret",
    "--secret-name",
    "db",
    "--version-id",
    "v1",
    "--secret-data",
    "x",
];

/// `secrets --store-dir DIR ARGS…`, with none of the environment variables that name a store,
/// a root key or accept unsealed records, and every stream piped.
pub(crate) fn secrets_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secrets"));
    cmd.arg("--store-dir")
        .arg(dir)
        .args(args)
        .env_remove("SECRETS_HOME")
        .env_remove("SECRETS_STORE")
        .env_remove("SECRETS_ROOT_KEY")
        .env_remove("SECRETS_ACCEPT_UNSEALED_RECORDS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The connection string of the test PostgreSQL, or `None` (with a note) when there is none
/// outside CI; in CI a missing PostgreSQL fails the test.
pub(crate) fn postgres_url() -> Option<String> {
    match std::env::var("SECRETS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but SECRETS_TEST_POSTGRES_URL is not set")
        }
        _ => {
            eprintln!("skipped: set SECRETS_TEST_POSTGRES_URL to run the PostgreSQL CLI test");
            None
        }
    }
}
