//! The `secrets` command line at the edges an operator runs into: a value that looks like a
//! flag, no arguments at all, an answer that cannot be written, a store that cannot be opened.

mod common;

use common::{CREATE_DB, secrets_command};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_secrets(dir: &Path, args: &[&str]) -> Run {
    let mut child = secrets_command(dir, args)
        .spawn()
        .expect("the secrets binary runs");
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        input.flush().expect("stdin flushes");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("the binary exits");
    Run {
        code: status.code().expect("the binary exits normally"),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A secret value that looks like one of Alibaba's numbered flags (`--Winter.2024`: dashes, a
/// word, a dot, digits), given as `--secret-data VALUE`, is the value — last on the line or
/// followed by other flags — and is stored; it never appears in a message.
#[test]
fn a_secret_value_that_looks_like_a_numbered_flag_is_taken_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, args) in [
        (
            "last",
            vec![
                "create-secret",
                "--secret-name",
                "last",
                "--version-id",
                "v1",
                "--secret-data",
                "--CANARY.2024",
            ],
        ),
        (
            "middle",
            vec![
                "create-secret",
                "--secret-name",
                "middle",
                "--secret-data",
                "--CANARY.2024",
                "--version-id",
                "v1",
            ],
        ),
    ] {
        let run = run_secrets(d, &args);
        assert!(
            !run.stderr.contains("CANARY"),
            "{name}: the value reached stderr: {}",
            run.stderr
        );
        assert_eq!(run.code, 0, "{name}: refused: {}", run.stderr);
        let got = run_secrets(d, &["get-secret-value", "--secret-name", name]);
        assert_eq!(got.code, 0, "{}", got.stderr);
        let value: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
        assert_eq!(value["SecretData"], "--CANARY.2024", "{name}");
    }
}

/// `secrets` with no arguments shows its help as text, as `secrets --help` does, not escaped
/// into the message of an error JSON line; and exits 2, as for any unusable command line.
#[test]
fn secrets_without_arguments_prints_readable_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_secrets"))
        .env_remove("SECRETS_HOME")
        .env_remove("SECRETS_STORE")
        .output()
        .expect("the secrets binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines().any(|l| l.trim() == "Commands:"),
        "the help is not printed as text: {text}"
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !text.contains("\"Code\":\"InvalidParameter\""),
        "help printed as an error: {text}"
    );
}

/// A command whose answer cannot be written (stdout is a full disk, `/dev/full`) exits 1 with
/// the error JSON on stderr, as `secrets --help` promises for every failure, saying that the
/// command was carried out and only its answer was lost.
#[test]
fn an_answer_that_cannot_be_written_is_reported_on_stderr() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_secrets"))
        .arg("--store-dir")
        .arg(dir.path())
        .args(["get-random-password"])
        .env_remove("SECRETS_HOME")
        .env_remove("SECRETS_STORE")
        .env_remove("SECRETS_ROOT_KEY")
        .stdout(std::fs::OpenOptions::new().write(true).open(full).unwrap())
        .stderr(Stdio::piped())
        .output()
        .expect("the secrets binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no error JSON on stderr: {stderr:?}"));
    let error: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(error["Code"], "InternalFailure");
    let message = error["Message"].as_str().unwrap();
    assert!(
        message.contains("carried out") && message.contains("standard output"),
        "{message}"
    );
}

/// A store that cannot be opened for a reason other than another process holding it (here its
/// `data` is a plain file) is reported with that reason alone, without the guess that another
/// `secrets` process is using it (which `cli.rs`'s busy-store test shows for a held store).
#[test]
fn a_store_that_cannot_be_opened_is_not_blamed_on_another_process() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), b"not a directory").unwrap();
    let run = run_secrets(dir.path(), &CREATE_DB);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot open the store"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("another `secrets` process"),
        "{}",
        run.stderr
    );
}

/// Only a create makes a store. Any other command on a directory with no store in it (a
/// mistyped `--store-dir`, a missing `$SECRETS_HOME`) is refused with exit 2, naming the
/// directory and what makes a store, and leaves nothing behind — no store, no root key — where
/// it used to answer from a new, empty store (not found, an empty list) it had just made.
#[test]
fn commands_other_than_a_create_make_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("not-yet");
    for args in [
        &["list-secrets"][..],
        &["get-secret-value", "--secret-name", "db"],
        &["describe-secret", "--secret-name", "db"],
        &["delete-secret", "--secret-name", "db"],
        &["list-keys"],
    ] {
        let run = run_secrets(&d, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("not-yet") && run.stderr.contains("create-secret"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!d.exists(), "{args:?} made {}", d.display());
    }
    // Once a create has made it, the same commands work on it.
    let created = run_secrets(&d, &CREATE_DB);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let listed = run_secrets(&d, &["list-secrets"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("\"db\""), "{}", listed.stdout);
}

/// `get-random-password` draws from the OS alone: it answers without a store and makes none.
#[test]
fn get_random_password_needs_no_store_and_makes_none() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("none");
    let run = run_secrets(&d, &["get-random-password", "--password-length", "40"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answer: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        answer["RandomPassword"].as_str().unwrap().chars().count(),
        40
    );
    assert!(!d.exists(), "made {}", d.display());
}
