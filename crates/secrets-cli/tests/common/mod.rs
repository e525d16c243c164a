//! What the command-line tests share (each test binary uses some of it).
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

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

/// What one `secrets` command did: its exit code, its answer (JSON on stdout; `Null` if it
/// printed none) and its stderr.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: Value,
    pub(crate) stderr: String,
}

/// Runs `secrets --store-dir DIR ARGS…` ([`secrets_command`]) with `stdin` written to it and
/// `envs` set. Panics if stdout is neither empty nor JSON.
pub(crate) fn run_secrets(
    dir: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    envs: &[(&str, &str)],
) -> Run {
    let mut child = secrets_command(dir, args)
        .envs(envs.iter().copied())
        .spawn()
        .expect("the secrets binary runs");
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("stdin accepts the value");
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("the binary exits");
    let text = String::from_utf8(stdout).expect("stdout is UTF-8");
    Run {
        code: status.code().expect("the binary exits normally"),
        stdout: if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is JSON ({e}): {text}"))
        },
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// [`run_secrets`] with nothing on stdin.
pub(crate) fn secrets(dir: &Path, args: &[&str]) -> Run {
    run_secrets(dir, args, None, &[])
}

/// [`secrets`], which must succeed: its answer.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> Value {
    let run = secrets(dir, args);
    assert_eq!(run.code, 0, "{args:?} failed: {}", run.stderr);
    run.stdout
}
