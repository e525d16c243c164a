//! The `secrets` command line at the edges an operator runs into: a value that looks like a
//! flag, no arguments at all, an answer that cannot be written, a store that cannot be opened.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_secrets(dir: &Path, args: &[&str]) -> Run {
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
    let mut child = cmd.spawn().expect("the secrets binary runs");
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
    let run = run_secrets(dir.path(), &["list-secrets"]);
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
