//! The built `secrets` binary end to end: every invocation is a new process on the same store.

mod common;

use common::{CREATE_DB, Run, ok, postgres_url, run_secrets, secrets};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

fn secrets_with_stdin(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_secrets(dir, args, stdin, &[])
}

fn secrets_with_env(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    run_secrets(dir, args, None, envs)
}

/// The error JSON on stderr (after any notice lines).
fn error_json(run: &Run) -> Value {
    let line = run
        .stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("an error JSON line");
    serde_json::from_str(line).expect("the error is JSON")
}

fn fails(dir: &Path, args: &[&str], exit: i32, code: &str) -> Value {
    let run = secrets(dir, args);
    assert_eq!(run.code, exit, "{args:?}: {}", run.stderr);
    let body = error_json(&run);
    assert_eq!(body["Code"], code, "{body}");
    assert!(body["RequestId"].as_str().is_some_and(|s| s.len() == 36));
    body
}

#[test]
fn the_whole_lifecycle_runs_one_process_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let created = ok(
        d,
        &[
            "create-secret",
            "--secret-name",
            "db",
            "--version-id",
            "v1",
            "--secret-data",
            "one",
            "--description",
            "the db",
            "--tags",
            r#"[{"TagKey":"env","TagValue":"prod"}]"#,
        ],
    );
    assert_eq!(created["SecretName"], "db");
    assert_eq!(
        created["Arn"],
        "acs:kms:cn-hangzhou:0000000000000000:secret/db"
    );

    let got = ok(d, &["get-secret-value", "--secret-name", "db"]);
    assert_eq!(got["SecretData"], "one");
    assert_eq!(
        got["VersionStages"]["VersionStage"],
        serde_json::json!(["ACSCurrent"])
    );

    let put = ok(
        d,
        &[
            "put-secret-value",
            "--secret-name",
            "db",
            "--version-id",
            "v2",
            "--secret-data",
            "two",
        ],
    );
    assert_eq!(
        put["VersionStages"]["VersionStage"],
        serde_json::json!(["ACSCurrent"])
    );
    ok(
        d,
        &[
            "update-secret-version-stage",
            "--secret-name",
            "db",
            "--version-stage",
            "ACSCurrent",
            "--remove-from-version",
            "v2",
            "--move-to-version",
            "v1",
        ],
    );
    assert_eq!(
        ok(d, &["get-secret-value", "--secret-name", "db"])["SecretData"],
        "one"
    );

    let versions = ok(d, &["list-secret-version-ids", "--secret-name", "db"]);
    assert_eq!(versions["TotalCount"], 2);
    assert_eq!(
        versions["VersionIds"]["VersionId"][1]["VersionStages"]["VersionStage"][0],
        "ACSPrevious"
    );

    ok(
        d,
        &[
            "update-secret",
            "--secret-name",
            "db",
            "--description",
            "renamed",
        ],
    );
    let described = ok(
        d,
        &[
            "describe-secret",
            "--secret-name",
            "db",
            "--fetch-tags",
            "true",
        ],
    );
    assert_eq!(described["Description"], "renamed");
    assert_eq!(described["Tags"]["Tag"][0]["TagKey"], "env");

    ok(
        d,
        &[
            "tag-resource",
            "--secret-name",
            "db",
            "--tags",
            r#"[{"TagKey":"team","TagValue":"a"}]"#,
        ],
    );
    ok(
        d,
        &[
            "untag-resource",
            "--secret-name",
            "db",
            "--tag-keys",
            r#"["env"]"#,
        ],
    );
    let listed = ok(d, &["list-secrets", "--fetch-tags", "true"]);
    assert_eq!(
        listed["SecretList"]["Secret"][0]["Tags"]["Tag"],
        serde_json::json!([{"TagKey":"team","TagValue":"a"}])
    );

    let deleted = ok(
        d,
        &[
            "delete-secret",
            "--secret-name",
            "db",
            "--recovery-window-in-days",
            "7",
        ],
    );
    assert!(deleted["PlannedDeleteTime"].as_str().is_some());
    fails(
        d,
        &["get-secret-value", "--secret-name", "db"],
        4,
        "Rejected.ResourceInDeleteWindow",
    );
    ok(d, &["restore-secret", "--secret-name", "db"]);
    ok(
        d,
        &[
            "delete-secret",
            "--secret-name",
            "db",
            "--force-delete-without-recovery",
            "true",
        ],
    );
    fails(
        d,
        &["describe-secret", "--secret-name", "db"],
        3,
        "Forbidden.ResourceNotFound",
    );

    let password = ok(d, &["get-random-password", "--password-length", "40"]);
    assert_eq!(password["RandomPassword"].as_str().unwrap().len(), 40);
}

#[test]
fn alibaba_spellings_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "CreateSecret",
            "--SecretName",
            "db",
            "--VersionId",
            "v1",
            "--SecretData",
            "x",
        ],
    );
    assert_eq!(
        ok(d, &["GetSecretValue", "--SecretName", "db"])["SecretData"],
        "x"
    );
    ok(
        d,
        &[
            "TagResources",
            "--ResourceType",
            "secret",
            "--ResourceId.1",
            "db",
            "--Tag.1.Key",
            "k",
            "--Tag.1.Value",
            "v",
        ],
    );
    let tags = ok(
        d,
        &[
            "ListTagResources",
            "--ResourceType",
            "secret",
            "--ResourceId.1",
            "db",
        ],
    );
    assert_eq!(tags["TagResources"]["TagResource"][0]["TagValue"], "v");
    ok(
        d,
        &[
            "UntagResources",
            "--ResourceType",
            "secret",
            "--ResourceId",
            "db",
            "--TagKey.1",
            "k",
        ],
    );
    let tags = ok(
        d,
        &[
            "list-tag-resources",
            "--resource-type",
            "secret",
            "--resource-id",
            "db",
        ],
    );
    assert_eq!(tags["TagResources"]["TagResource"], serde_json::json!([]));
}

/// Alibaba's numbered flags are taken past clap, so they get its checks here: a parameter
/// given twice (in either spelling) is refused, as the server refuses it, instead of the
/// last one silently winning; a numbered flag needs a value; one the command does not take
/// is refused, naming the flag (never the value).
#[test]
fn numbered_flags_are_checked_like_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_secret(d, "db", "v1", "x");
    create_secret(d, "other", "v1", "x");
    let list = ["list-tag-resources", "--resource-type", "secret"];
    for extra in [
        &["--resource-id", "db", "--ResourceId.1", "other"][..],
        &["--ResourceId.1", "db", "--ResourceId.1", "other"],
        &["--ResourceId.1=db", "--ResourceId.1", "other"],
    ] {
        let args = [&list[..], extra].concat();
        let body = fails(d, &args, 2, "InvalidParameter");
        let message = body["Message"].as_str().unwrap();
        assert!(message.contains("ResourceId.1"), "{args:?}: {message}");
        assert!(message.contains("more than once"), "{args:?}: {message}");
    }
    let tag = [
        "tag-resources",
        "--resource-type",
        "secret",
        "--resource-id",
        "db",
        "--tag",
        "k=v",
        "--Tag.1.Value",
        "w",
    ];
    let body = fails(d, &tag, 2, "InvalidParameter");
    assert!(
        body["Message"].as_str().unwrap().contains("Tag.1.Value"),
        "{body}"
    );

    let body = fails(
        d,
        &[&list[..], &["--ResourceId.1"]].concat(),
        2,
        "InvalidParameter",
    );
    assert!(
        body["Message"].as_str().unwrap().contains("needs a value"),
        "{body}"
    );

    for (args, flag) in [
        (
            &[&list[..], &["--ResourceIds.1", "hidden-value"]].concat(),
            "ResourceIds.1",
        ),
        (
            &vec![
                "get-secret-value",
                "--secret-name",
                "db",
                "--Tag.1.Key",
                "hidden-value",
            ],
            "Tag.1.Key",
        ),
        (&vec!["list-keys", "--KeyId.1", "hidden-value"], "KeyId.1"),
    ] {
        let run = secrets(d, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        let body = error_json(&run);
        assert_eq!(body["Code"], "InvalidParameter", "{body}");
        let message = body["Message"].as_str().unwrap();
        assert!(message.contains(flag), "{args:?}: {message}");
        assert!(
            !run.stderr.contains("hidden-value"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // The tags of `db` are unchanged by the refused commands.
    let tags = ok(d, &[&list[..], &["--resource-id", "db"]].concat());
    assert_eq!(tags["TagResources"]["TagResource"], serde_json::json!([]));
}

/// A flag names the store over the environment: `--store-dir` wins over `$SECRETS_STORE`
/// (which only stands in for `--store`), and `--store` over `--store-dir`.
#[test]
fn the_store_flags_win_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (flagged, from_env) = (dir.path().join("flagged"), dir.path().join("from-env"));
    let env = [("SECRETS_STORE", from_env.to_str().unwrap())];
    // A create opens (and so creates) the store it is given.
    let run = secrets_with_env(&flagged, &CREATE_DB, &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(flagged.join("data").exists());
    assert!(
        !from_env.exists(),
        "$SECRETS_STORE was used over --store-dir"
    );
    // Without a flag, the environment names the store.
    let listed = Command::new(env!("CARGO_BIN_EXE_secrets"))
        .args(CREATE_DB)
        .env_remove("SECRETS_HOME")
        .env_remove("SECRETS_ROOT_KEY")
        .env("SECRETS_STORE", &from_env)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    assert!(from_env.join("data").exists());
    // --store names it over --store-dir.
    let elsewhere = dir.path().join("elsewhere");
    let mut args = vec!["--store", elsewhere.to_str().unwrap()];
    args.extend(CREATE_DB);
    let run = secrets(&flagged, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(elsewhere.join("data").exists());
}

#[test]
fn the_value_can_come_from_stdin_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = secrets_with_stdin(
        d,
        &[
            "create-secret",
            "--secret-name",
            "s",
            "--version-id",
            "v1",
            "--secret-data-file",
            "-",
        ],
        Some(b"from stdin"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        ok(d, &["get-secret-value", "--secret-name", "s"])["SecretData"],
        "from stdin"
    );

    let file = d.join("value.txt");
    std::fs::write(&file, "from a file").unwrap();
    ok(
        d,
        &[
            "put-secret-value",
            "--secret-name",
            "s",
            "--version-id",
            "v2",
            "--secret-data-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        ok(d, &["get-secret-value", "--secret-name", "s"])["SecretData"],
        "from a file"
    );

    // The largest value is read whole; a longer one is refused, however long, and named.
    let put_file = |version: &str, bytes: usize| {
        std::fs::write(&file, "a".repeat(bytes)).unwrap();
        secrets(
            d,
            &[
                "put-secret-value",
                "--secret-name",
                "s",
                "--version-id",
                version,
                "--secret-data-file",
                file.to_str().unwrap(),
            ],
        )
    };
    assert_eq!(put_file("largest", 30_720).code, 0);
    let got = ok(d, &["get-secret-value", "--secret-name", "s"]);
    assert_eq!(got["SecretData"].as_str().unwrap().len(), 30_720);
    for too_long in [30_721, 40_961, 40_963, 50_000] {
        let run = put_file("too-long", too_long);
        assert_eq!(run.code, 2, "{too_long}: {}", run.stderr);
        let message = error_json(&run)["Message"].as_str().unwrap().to_owned();
        assert!(message.contains("\"SecretData\""), "{message}");
        // A file longer than what is read is not reported at the length read.
        assert!(!message.contains("got 40963"), "{message}");
    }
}

#[test]
fn binary_values_travel_as_base64() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "create-secret",
            "--secret-name",
            "b",
            "--version-id",
            "v1",
            "--secret-data-type",
            "binary",
            "--secret-data",
            "AAEC/w==",
        ],
    );
    let got = ok(d, &["get-secret-value", "--secret-name", "b"]);
    assert_eq!(got["SecretData"], "AAEC/w==");
    assert_eq!(got["SecretDataType"], "binary");
    fails(
        d,
        &[
            "put-secret-value",
            "--secret-name",
            "b",
            "--version-id",
            "v2",
            "--secret-data-type",
            "binary",
            "--secret-data",
            "***",
        ],
        2,
        "InvalidParameter",
    );
}

/// A required flag left out is Alibaba's `MissingParameter` naming the parameter, as from the
/// server — for every operation, and for the store's own commands.
#[test]
fn a_missing_required_flag_is_missing_parameter_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // Refused before the store is opened: none is created.
    let never = dir.path().join("never");
    let d = never.as_path();
    for op in secrets_wire::OPERATIONS {
        let Some(first) = op.params.iter().find(|p| p.required) else {
            continue;
        };
        let body = fails(d, &[op.action], 2, "MissingParameter");
        let message = body["Message"].as_str().unwrap();
        assert!(
            message.contains(&format!("\"{}\"", first.name)),
            "{}: {message}",
            op.action
        );
    }
    let body = fails(
        d,
        &["create-secret", "--secret-name", "db", "--secret-data", "x"],
        2,
        "MissingParameter",
    );
    assert!(body["Message"].as_str().unwrap().contains("\"VersionId\""));
    for key_command in ["describe-key", "enable-key", "disable-key", "rotate-key"] {
        let body = fails(d, &[key_command], 2, "MissingParameter");
        assert!(body["Message"].as_str().unwrap().contains("\"KeyId\""));
    }
    let body = fails(d, &["change-root-key"], 2, "MissingParameter");
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("--new-root-key-file")
    );
    assert!(!never.exists(), "a refused command created the store");
}

#[test]
fn each_error_path_has_its_exit_code_and_alibaba_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body = fails(
        d,
        &[
            "create-secret",
            "--secret-name",
            "bad name",
            "--version-id",
            "v1",
            "--secret-data",
            "x",
        ],
        2,
        "InvalidParameter",
    );
    assert!(
        body["Message"].as_str().unwrap().contains("SecretName"),
        "{body}"
    );
    fails(
        d,
        &["create-secret", "--secret-name", "db", "--version-id", "v1"],
        2,
        "MissingParameter",
    );
    create_secret(d, "db", "v1", "x");
    fails(
        d,
        &["get-secret-value", "--secret-name", "nope"],
        3,
        "Forbidden.ResourceNotFound",
    );
    fails(
        d,
        &[
            "create-secret",
            "--secret-name",
            "db",
            "--version-id",
            "v1",
            "--secret-data",
            "y",
        ],
        4,
        "Rejected.ResourceExist",
    );
    fails(
        d,
        &[
            "describe-key",
            "--key-id",
            "00000000-0000-4000-8000-000000000000",
        ],
        3,
        "Forbidden.KeyNotFound",
    );
    fails(d, &["no-such-command"], 2, "InvalidParameter");
    fails(
        d,
        &["create-secret", "--no-such-flag", "x"],
        2,
        "InvalidParameter",
    );
}

#[test]
fn key_commands_manage_master_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = ok(d, &["create-key", "--description", "app"]);
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled");
    ok(
        d,
        &[
            "create-secret",
            "--secret-name",
            "k",
            "--version-id",
            "v1",
            "--secret-data",
            "x",
            "--encryption-key-id",
            &id,
        ],
    );
    let rotated = ok(d, &["rotate-key", "--key-id", &id]);
    assert_eq!(rotated["KeyVersion"]["KeyVersionId"], "2");
    ok(d, &["disable-key", "--key-id", &id]);
    fails(
        d,
        &["get-secret-value", "--secret-name", "k"],
        4,
        "Rejected.Disabled",
    );
    ok(d, &["EnableKey", "--KeyId", &id]);
    assert_eq!(
        ok(d, &["get-secret-value", "--secret-name", "k"])["SecretData"],
        "x"
    );
    let keys = ok(d, &["list-keys"]);
    assert_eq!(keys["Keys"]["Key"][0]["KeyId"], id);
    assert_eq!(
        ok(d, &["describe-key", "--key-id", &id])["KeyMetadata"]["PrimaryKeyVersion"],
        "2"
    );
}

#[test]
fn first_use_generates_a_0600_root_key_and_says_so_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    let first = secrets(&d, &CREATE_DB);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("root.key") && first.stderr.contains("back it up"),
        "{}",
        first.stderr
    );
    let mode = std::fs::metadata(d.join("root.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(&d).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o077, 0, "the store directory is private");
    let second = secrets(&d, &["list-secrets"]);
    assert!(second.stderr.is_empty(), "{}", second.stderr);
}

#[test]
fn a_store_reopened_without_its_root_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_secret(d, "db", "v1", "x");
    let key = std::fs::read(d.join("root.key")).unwrap();
    std::fs::remove_file(d.join("root.key")).unwrap();
    let run = secrets(d, &["get-secret-value", "--secret-name", "db"]);
    assert_eq!(run.code, 1);
    assert!(
        error_json(&run)["Message"]
            .as_str()
            .unwrap()
            .contains("root key")
    );
    // The key kept elsewhere opens it again.
    let elsewhere = dir.path().join("kept.key");
    std::fs::write(&elsewhere, &key).unwrap();
    std::fs::set_permissions(
        &elsewhere,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let got = ok(
        d,
        &[
            "--root-key-file",
            elsewhere.to_str().unwrap(),
            "get-secret-value",
            "--secret-name",
            "db",
        ],
    );
    assert_eq!(got["SecretData"], "x");
}

#[test]
fn a_busy_store_is_a_clear_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_db_secret(d);
    let _held = secret_storage_sled::SledStorage::open(d.join("data")).unwrap();
    let started = std::time::Instant::now();
    let run = secrets(d, &["list-secrets"]);
    assert_eq!(run.code, 1);
    assert!(
        error_json(&run)["Message"]
            .as_str()
            .unwrap()
            .contains("another `secrets` process"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn help_names_every_parameter_and_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    for op in secrets_wire::OPERATIONS {
        let run = Command::new(env!("CARGO_BIN_EXE_secrets"))
            .args([op.action, "--help"])
            .output()
            .unwrap();
        assert!(run.status.success());
        let help = String::from_utf8(run.stdout).unwrap();
        for p in op.params {
            assert!(
                help.contains(p.help),
                "{}: help lacks {}",
                op.action,
                p.name
            );
        }
    }
    let top = Command::new(env!("CARGO_BIN_EXE_secrets"))
        .arg("--help")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(top.stdout).unwrap();
    assert!(text.contains("Exit codes") && text.contains("create-secret"));
}

#[test]
fn a_record_without_its_seal_is_refused_until_unsealed_records_are_accepted() {
    use secret_storage::{Storage, Update};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_secret(d, "old", "v1", "x");
    {
        // What a release before sealing wrote: the same record, without a seal.
        let store = secret_storage_sled::SledStorage::open(d.join("data")).unwrap();
        let name = secret_model::SecretName::parse("old").unwrap();
        store
            .update(&name, &mut |current| {
                let mut record = current.expect("the secret exists").clone();
                assert!(record.seal.take().is_some(), "the CLI seals records");
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![],
                }
            })
            .unwrap();
    }
    let get = ["get-secret-value", "--secret-name", "old"];
    fails(d, &get, 1, "InternalFailure");

    let accept = [("SECRETS_ACCEPT_UNSEALED_RECORDS", "1")];
    let run = secrets_with_env(d, &get, &accept);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout["SecretData"], "x");
    assert!(
        run.stderr.contains("SECRETS_ACCEPT_UNSEALED_RECORDS"),
        "{}",
        run.stderr
    );
    let write = [
        "update-secret",
        "--secret-name",
        "old",
        "--description",
        "resealed",
    ];
    assert_eq!(secrets_with_env(d, &write, &accept).code, 0);

    // Sealed by that write: readable without the variable again.
    assert_eq!(ok(d, &get)["SecretData"], "x");
}

#[test]
fn rotate_record_seal_key_leaves_an_old_copy_of_the_keyring_unable_to_forge_records() {
    use secret_crypto::{FileKeyring, Kms, LocalKms, RootKey};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    let none = fails(&d, &["rotate-record-seal-key"], 2, "InvalidParameter");
    assert!(none.to_string().contains("no keyring"), "{none}");
    assert!(
        !d.exists(),
        "a maintenance command makes no store where there is none"
    );
    create_secret(&d, "db", "v1", "kept");
    create_secret(&d, "api", "v1", "also kept");
    // What leaked: the root key and a copy of the keyring as it was.
    let old_copy = dir.path().join("keyring-copy");
    std::fs::copy(d.join("keyring"), &old_copy).unwrap();

    let rotated = ok(&d, &["rotate-record-seal-key"]);
    assert_eq!(rotated["RecordsChecked"], 2, "{rotated}");
    assert_eq!(rotated["RecordsResealed"], 2, "{rotated}");
    assert_eq!(
        ok(&d, &["get-secret-value", "--secret-name", "db"])["SecretData"],
        "kept"
    );
    let alias = ok(&d, &["RotateRecordSealKey"]);
    assert_eq!(
        alias["RecordsResealed"], 2,
        "every rotation draws a new key"
    );

    // A record forged with the old copy's seal key, written straight into the storage.
    let root = RootKey::from_file(d.join("root.key")).unwrap();
    let old_key = LocalKms::open(root, Box::new(FileKeyring::new(&old_copy)))
        .unwrap()
        .record_seal_key()
        .unwrap();
    rewrite_sealed(&d, "db", &old_key, |record| {
        record.description = Some(secret_model::Description::parse("forged").unwrap());
    });
    let refused = fails(
        &d,
        &["describe-secret", "--secret-name", "db"],
        1,
        "InternalFailure",
    );
    assert!(!refused.to_string().contains("forged"), "{refused}");
    let run = secrets(&d, &["rotate-record-seal-key"]);
    assert_eq!(run.code, 1, "a tampered record stops the rotation");
    assert!(
        run.stderr.contains("db"),
        "the log names it: {}",
        run.stderr
    );
    assert_eq!(
        ok(&d, &["get-secret-value", "--secret-name", "api"])["SecretData"],
        "also kept"
    );
}

/// Changes the stored record of `name` in the embedded store at `d` past the CLI (which must
/// not have it open), sealed under `key`.
fn rewrite_sealed(
    d: &Path,
    name: &str,
    key: &secret_crypto::RecordSealKey,
    change: impl Fn(&mut secret_storage::SecretRecord),
) {
    use secret_storage::{RecordSeal, Storage, Update, sealed_bytes};
    let store = secret_storage_sled::SledStorage::open(d.join("data")).unwrap();
    store
        .update(
            &secret_model::SecretName::parse(name).unwrap(),
            &mut |current| {
                let mut record = current.expect("the secret exists").clone();
                change(&mut record);
                record.seal = Some(RecordSeal(key.seal(&sealed_bytes(&record))));
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![],
                }
            },
        )
        .unwrap();
}

/// The store's own record seal key, as the embedded store at `d` keeps it.
fn store_seal_key(d: &Path) -> secret_crypto::RecordSealKey {
    use secret_crypto::{FileKeyring, Kms, LocalKms, RootKey};
    let root = RootKey::from_file(d.join("root.key")).unwrap();
    LocalKms::open(root, Box::new(FileKeyring::new(d.join("keyring"))))
        .unwrap()
        .record_seal_key()
        .unwrap()
}

#[test]
fn purge_expired_secrets_removes_what_passed_its_recovery_window() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_secret(d, "old", "v1", "x");
    create_secret(d, "live", "v1", "y");
    ok(d, &["delete-secret", "--secret-name", "old"]);
    assert_eq!(
        ok(d, &["purge-expired-secrets"])["SecretsPurged"],
        0,
        "still in its window"
    );
    // Its recovery window ended long ago.
    rewrite_sealed(d, "old", &store_seal_key(d), |record| {
        record.planned_delete_time = Some(secret_model::Timestamp::from_unix(1_000_000));
    });
    let purged = ok(d, &["purge-expired-secrets"]);
    assert_eq!(purged["SecretsPurged"], 1, "{purged}");
    assert_eq!(ok(d, &["PurgeExpiredSecrets"])["SecretsPurged"], 0);
    let store = secret_storage_sled::SledStorage::open(d.join("data")).unwrap();
    use secret_storage::Storage;
    let stored = |name: &str| {
        store
            .read(&secret_model::SecretName::parse(name).unwrap())
            .unwrap()
            .is_some()
    };
    assert!(!stored("old"), "record and ciphertexts gone");
    assert!(stored("live"));
}

/// `purge-expired-secrets` is a maintenance command meant for cron, like
/// `rotate-record-seal-key` and `change-root-key`, which refuse a directory without a keyring
/// (exit 2) so that a mistyped path, or a cron job missing `SECRETS_HOME`, does not get a new
/// store. It makes one there instead — a directory, a sled database and a new root key — and
/// reports success (`SecretsPurged: 0`), every run, while the real store is never purged.
#[test]
fn purge_expired_secrets_makes_no_store_where_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("mistyped");
    let run = secrets(&d, &["purge-expired-secrets"]);
    assert!(
        !d.exists(),
        "a maintenance command made a store (and a root key: {}) where there was none; \
         exit {}, stdout {}",
        d.join("root.key").exists(),
        run.code,
        run.stdout
    );
    let none = fails(&d, &["purge-expired-secrets"], 2, "InvalidParameter");
    assert!(none.to_string().contains("no keyring"), "{none}");
}

#[test]
fn values_never_reach_stderr_on_failures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_secret(d, "db", "v1", "CANARY-1234");
    let run = secrets(
        d,
        &[
            "create-secret",
            "--secret-name",
            "db",
            "--version-id",
            "v1",
            "--secret-data",
            "CANARY-5678",
        ],
    );
    assert_eq!(run.code, 4);
    assert!(!run.stderr.contains("CANARY"), "{}", run.stderr);

    // A value that starts with dashes is the value, not a flag clap refuses by quoting it.
    create_secret(d, "dashes", "v1", "--CANARY-pw9");
    let got = ok(d, &["get-secret-value", "--secret-name", "dashes"]);
    assert_eq!(got["SecretData"], "--CANARY-pw9");
    // A value typed where no flag takes it is refused without being repeated.
    for stray in [
        &["create-secret", "--secret-name", "x", "CANARY-stray"][..],
        &["create-secret", "--secret-nmae", "CANARY-typo"][..],
    ] {
        let run = secrets(d, stray);
        assert_eq!(run.code, 2, "{stray:?}");
        assert!(!run.stderr.contains("CANARY"), "{stray:?}: {}", run.stderr);
        assert!(run.stderr.contains("unexpected argument"), "{}", run.stderr);
    }
}

/// The largest binary value, as base64 in a file that ends in a line ending (as `base64` and
/// `echo` leave it), is taken; a byte more than any such file is not.
#[test]
fn a_secret_data_file_of_the_largest_value_with_a_line_ending_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let encoded = "A".repeat(40_960); // 30,720 zero bytes as base64
    for (name, ending) in [("lf", "\n"), ("crlf", "\r\n")] {
        let file = d.join(format!("value-{name}"));
        std::fs::write(&file, format!("{encoded}{ending}")).unwrap();
        ok(
            d,
            &[
                "create-secret",
                "--secret-name",
                name,
                "--version-id",
                "v1",
                "--secret-data-type",
                "binary",
                "--secret-data-file",
                file.to_str().unwrap(),
            ],
        );
        let got = ok(d, &["get-secret-value", "--secret-name", name]);
        assert_eq!(got["SecretData"].as_str().unwrap().len(), 40_960);
    }
    let file = d.join("too-long");
    std::fs::write(&file, format!("{encoded}\r\nA")).unwrap();
    let e = fails(
        d,
        &[
            "create-secret",
            "--secret-name",
            "long",
            "--version-id",
            "v1",
            "--secret-data-type",
            "binary",
            "--secret-data-file",
            file.to_str().unwrap(),
        ],
        2,
        "InvalidParameter",
    );
    assert!(e["Message"].as_str().unwrap().contains("SecretData"), "{e}");
}

/// A root key file (0600) in `dir`, and the `--store` URL of a schema of this process's own
/// (`TAG_<pid>`) in the test database at `url`.
fn postgres_store(dir: &Path, url: &str, tag: &str) -> (String, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("root.key");
    std::fs::write(&key, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = format!("{url}{sep}schema={tag}_{}", std::process::id());
    (store, key)
}

#[test]
fn store_postgres_runs_the_same_commands_across_processes() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = postgres_store(dir.path(), &url, "cli");
    let base = [
        "--store",
        store.as_str(),
        "--root-key-file",
        key.to_str().unwrap(),
    ];
    let with = |args: &[&str]| -> Vec<String> {
        base.iter().chain(args).map(|s| (*s).to_owned()).collect()
    };
    let run = |args: &[&str]| {
        let args = with(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(dir.path(), &refs)
    };
    run(&[
        "create-secret",
        "--secret-name",
        "pg/db",
        "--version-id",
        "v1",
        "--secret-data",
        "in postgres",
    ]);
    assert_eq!(
        run(&["get-secret-value", "--secret-name", "pg/db"])["SecretData"],
        "in postgres"
    );
    let key_id = run(&["create-key", "--description", "shared"])["KeyMetadata"]["KeyId"].clone();
    let listed = run(&["list-keys"]);
    assert!(
        listed["Keys"]["Key"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["KeyId"] == key_id)
    );
    let rotated = run(&["rotate-record-seal-key"]);
    assert_eq!(rotated["RecordsResealed"], 1, "{rotated}");
    assert_eq!(
        run(&["get-secret-value", "--secret-name", "pg/db"])["SecretData"],
        "in postgres",
        "the record sealed again under the shared keyring's new key"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing was written to the embedded store"
    );

    // Without a root key the PostgreSQL store is refused, naming what to give.
    let no_key = secrets(dir.path(), &["--store", store.as_str(), "list-secrets"]);
    assert_eq!(no_key.code, 2, "{}", no_key.stderr);
    assert!(
        !no_key.stderr.contains(&url),
        "the connection string is never echoed"
    );

    // The root-key rotation re-seals the shared keyring: afterwards only the new key opens it.
    let new_key = dir.path().join("new.key");
    let changed = run(&[
        "change-root-key",
        "--new-root-key-file",
        new_key.to_str().unwrap(),
    ]);
    assert_eq!(changed["KeyringResealed"], true, "{changed}");
    assert_eq!(changed["StoreRootKeyFile"], Value::Null);
    let old_key = secrets(
        dir.path(),
        &with(&["get-secret-value", "--secret-name", "pg/db"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(old_key.code, 1, "{}", old_key.stderr);
    assert!(
        error_json(&old_key)["Message"]
            .as_str()
            .unwrap()
            .contains("root key")
    );
    let got = ok(
        dir.path(),
        &[
            "--store",
            store.as_str(),
            "--root-key-file",
            new_key.to_str().unwrap(),
            "get-secret-value",
            "--secret-name",
            "pg/db",
        ],
    );
    assert_eq!(got["SecretData"], "in postgres");
}

fn write_key_file(path: &Path, key: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, key).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn create_secret(d: &Path, name: &str, version: &str, data: &str) -> Value {
    ok(
        d,
        &[
            "create-secret",
            "--secret-name",
            name,
            "--version-id",
            version,
            "--secret-data",
            data,
        ],
    )
}

fn create_db_secret(d: &Path) {
    create_secret(d, "db", "v1", "kept");
}

#[test]
fn change_root_key_reseals_the_keyring_and_the_store_follows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    create_db_secret(&d);
    let old = std::fs::read(d.join("root.key")).unwrap();
    let new_file = dir.path().join("new.key");

    let changed = secrets(
        &d,
        &[
            "change-root-key",
            "--new-root-key-file",
            new_file.to_str().unwrap(),
        ],
    );
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert_eq!(changed.stdout["KeyringResealed"], true);
    assert_eq!(changed.stdout["NewRootKeyGenerated"], true);
    assert_eq!(
        changed.stdout["StoreRootKeyFile"],
        d.join("root.key").to_str().unwrap()
    );
    assert!(
        changed.stderr.contains("generated a new root key"),
        "{}",
        changed.stderr
    );
    let new = std::fs::read(&new_file).unwrap();
    assert_ne!(new, old);
    assert_eq!(mode_of(&new_file), 0o600);
    // The store's own root.key is now the new key, still the owner's only.
    assert_eq!(std::fs::read(d.join("root.key")).unwrap(), new);
    assert_eq!(mode_of(&d.join("root.key")), 0o600);
    assert!(!d.join("root.key.new").exists());

    // Every secret and master key reads as before; the old key opens nothing any more.
    assert_eq!(
        ok(&d, &["get-secret-value", "--secret-name", "db"])["SecretData"],
        "kept"
    );
    let old_file = dir.path().join("old.key");
    write_key_file(&old_file, &old);
    let refused = secrets(
        &d,
        &[
            "--root-key-file",
            old_file.to_str().unwrap(),
            "list-secrets",
        ],
    );
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        error_json(&refused)["Message"]
            .as_str()
            .unwrap()
            .contains("root key")
    );

    // An existing file gives the new key instead of a generated one; the store's root.key
    // named by flag is replaced as well.
    let third = dir.path().join("third.key");
    write_key_file(&third, "cd".repeat(32).as_bytes());
    let own = d.join("root.key");
    let again = ok(
        &d,
        &[
            "--root-key-file",
            own.to_str().unwrap(),
            "change-root-key",
            "--new-root-key-file",
            third.to_str().unwrap(),
        ],
    );
    assert_eq!(again["NewRootKeyGenerated"], false);
    assert_eq!(again["StoreRootKeyFile"], own.to_str().unwrap());
    assert_eq!(
        std::fs::read(d.join("root.key")).unwrap(),
        "cd".repeat(32).as_bytes()
    );
    assert_eq!(
        ok(&d, &["get-secret-value", "--secret-name", "db"])["SecretData"],
        "kept"
    );
}

/// Runs `change-root-key` to `new_file`, after the global flags `before`, expecting it to fail
/// with `exit`, `code` and a message that says `says`.
fn change_root_key_fails(
    d: &Path,
    before: &[&str],
    new_file: &Path,
    (exit, code): (i32, &str),
    says: &str,
) {
    let mut args = before.to_vec();
    args.extend([
        "change-root-key",
        "--new-root-key-file",
        new_file.to_str().unwrap(),
    ]);
    let body = fails(d, &args, exit, code);
    assert!(
        body["Message"].as_str().unwrap().contains(says),
        "{args:?}: {body}"
    );
}

#[test]
fn change_root_key_refuses_what_it_cannot_do_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    let new_file = dir.path().join("new.key");
    const USAGE: (i32, &str) = (2, "InvalidParameter");
    const INTERNAL: (i32, &str) = (1, "InternalFailure");
    // No store yet: nothing to re-seal, and nothing is created.
    let nothing = dir.path().join("nothing");
    change_root_key_fails(&nothing, &[], &new_file, USAGE, "no keyring");
    assert!(!nothing.exists() && !new_file.exists());

    create_db_secret(&d);
    let before = std::fs::read(d.join("keyring")).unwrap();
    // The current key named as the new one, or a copy of it.
    change_root_key_fails(
        &d,
        &[],
        &d.join("root.key"),
        USAGE,
        "is the current root key",
    );
    let copy = dir.path().join("copy.key");
    write_key_file(&copy, &std::fs::read(d.join("root.key")).unwrap());
    change_root_key_fails(&d, &[], &copy, USAGE, "holds the current root key");
    // A new key inside the store directory, where the store's own files come and go.
    for inside in ["root.key.new", "keyring.tmp", "data/new.key"] {
        change_root_key_fails(
            &d,
            &[],
            &d.join(inside),
            USAGE,
            "inside the store directory",
        );
        assert!(!d.join(inside).exists(), "{inside}");
    }
    // A current key that does not open the keyring: no new key is generated.
    let wrong = dir.path().join("wrong.key");
    write_key_file(&wrong, "ef".repeat(32).as_bytes());
    let wrong_flag = ["--root-key-file", wrong.to_str().unwrap()];
    change_root_key_fails(
        &d,
        &wrong_flag,
        &new_file,
        INTERNAL,
        "does not open the keyring",
    );
    assert!(!new_file.exists());
    // The store in use by another process.
    {
        let _held = secret_storage_sled::SledStorage::open(d.join("data")).unwrap();
        change_root_key_fails(&d, &[], &new_file, INTERNAL, "another `secrets` process");
        assert!(!new_file.exists());
    }
    assert_eq!(std::fs::read(d.join("keyring")).unwrap(), before);
    assert_eq!(
        ok(&d, &["get-secret-value", "--secret-name", "db"])["SecretData"],
        "kept"
    );
}

#[test]
fn an_interrupted_change_root_key_is_finished_by_running_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    create_db_secret(&d);
    let old_file = dir.path().join("old.key");
    write_key_file(&old_file, &std::fs::read(d.join("root.key")).unwrap());
    let new_file = dir.path().join("new.key");
    // Re-seal with the current key given by flag: the store's root.key is not its source and
    // stays the old key — where a crash between the re-seal and the replacement leaves it.
    let first = ok(
        &d,
        &[
            "--root-key-file",
            old_file.to_str().unwrap(),
            "change-root-key",
            "--new-root-key-file",
            new_file.to_str().unwrap(),
        ],
    );
    assert_eq!(first["StoreRootKeyFile"], Value::Null);
    assert_eq!(
        secrets(&d, &["list-secrets"]).code,
        1,
        "root.key is the old key"
    );
    // Run again as the store's default: the keyring is left as it is, root.key follows.
    let second = ok(
        &d,
        &[
            "change-root-key",
            "--new-root-key-file",
            new_file.to_str().unwrap(),
        ],
    );
    assert_eq!(second["KeyringResealed"], false, "{second}");
    assert_eq!(
        std::fs::read(d.join("root.key")).unwrap(),
        std::fs::read(&new_file).unwrap()
    );
    assert_eq!(
        ok(&d, &["get-secret-value", "--secret-name", "db"])["SecretData"],
        "kept"
    );
}

/// `secrets serve --body-budget`: bodies are read before their signature is checked, so the
/// bytes all connections hold together are bounded; one connection holding the whole budget
/// leaves the next body refused with Alibaba's JSON error, not read.
#[test]
fn serve_bounds_the_body_bytes_all_connections_hold() {
    use std::io::Read;
    use std::net::TcpStream;

    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(
        dir.path(),
        &[
            "--body-limit",
            "8192",
            "--body-budget",
            "8192",
            "--max-connections",
            "4",
        ],
    );

    // The first connection declares the whole budget and sends none of it.
    let mut holder = TcpStream::connect(&addr).unwrap();
    holder
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8192\r\n\r\n")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let body = b"Action=ListSecrets";
    let mut next = TcpStream::connect(&addr).unwrap();
    next.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    next.write_all(body).unwrap();
    let mut reply = String::new();
    next.read_to_string(&mut reply).unwrap();
    drop(holder);
    stop(&mut child);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("ServiceUnavailableTemporary"), "{reply}");
}

/// `secrets serve` on a store directory keeps its nonce log in the directory's `nonces/`
/// (mode 0700) unless `--nonce-log` names another; a server killed outright leaves a log
/// the next one opens.
#[test]
fn serve_keeps_a_nonce_log_beside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    for (flags, log) in [
        (vec![], dir.path().join("store").join("nonces")),
        (vec![], dir.path().join("store").join("nonces")),
        (
            vec!["--nonce-log", elsewhere.to_str().unwrap()],
            elsewhere.clone(),
        ),
    ] {
        let (mut child, _) = serve(dir.path(), &flags);
        stop(&mut child);
        assert_eq!(mode_of(&log) & 0o777, 0o700, "{}", log.display());
        let segments = std::fs::read_dir(&log)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".nonces")
            })
            .count();
        assert!(segments >= 1, "{}", log.display());
    }
}

/// Starts `secrets serve` on the store `dir/store` with one access key (`ak`, allowed
/// everything) and `flags`; returns it once it listens, with its address.
fn serve(dir: &Path, flags: &[&str]) -> (std::process::Child, String) {
    let store = dir.join("store");
    serve_with(dir, &["--store-dir", store.to_str().unwrap()], flags)
}

/// [`serve`] with `global` flags (the store) instead of `--store-dir dir/store`.
fn serve_with(dir: &Path, global: &[&str], flags: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};

    let keys = dir.join("access-keys.json");
    std::fs::write(
        &keys,
        r#"{"ak": {"secret": "sk", "policy": {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_secrets"))
        .args(global)
        .args(["serve", "--listen", "127.0.0.1:0", "--access-keys"])
        .arg(&keys)
        .args(flags)
        .env_remove("SECRETS_HOME")
        .env_remove("SECRETS_ROOT_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let listening: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        stop(&mut child);
        panic!("serve {flags:?} printed {line:?}: {e}")
    });
    let addr = listening["Listening"].as_str().unwrap().to_owned();
    (child, addr)
}

/// A V1-signed `ListSecrets` GET by access key `ak` (secret `sk`), as raw HTTP/1.1 bytes.
fn signed_list_secrets(nonce: &str) -> Vec<u8> {
    use secrets_server::signature::{percent_encode, v1};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let time = secret_model::Timestamp::from_unix(now as i64).to_string();
    let mut params = vec![
        ("AccessKeyId", "ak"),
        ("Action", "ListSecrets"),
        ("Format", "JSON"),
        ("SignatureMethod", v1::METHOD),
        ("SignatureNonce", nonce),
        ("SignatureVersion", v1::VERSION),
        ("Timestamp", time.as_str()),
        ("Version", "2016-01-20"),
    ];
    let signature = v1::sign("sk", &v1::string_to_sign("GET", params.iter().copied()));
    params.push(("Signature", &signature));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    format!(
        "GET /?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        query.join("&")
    )
    .into_bytes()
}

/// Sends raw request bytes to `addr`; returns the status line and the body.
fn send_raw(addr: &str, request: &[u8]) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// Two `secrets serve` on one PostgreSQL store share its nonce table: a request one accepted
/// is refused by the other as a replay, and by a server started again.
#[test]
fn servers_on_one_postgres_store_refuse_each_others_replays() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = postgres_store(dir.path(), &url, "cli_replay");
    let global = ["--store", &store, "--root-key-file", key.to_str().unwrap()];
    let (mut one, one_addr) = serve_with(dir.path(), &global, &[]);
    let (mut two, two_addr) = serve_with(dir.path(), &global, &[]);
    let request = signed_list_secrets("cli-replay-nonce-1");
    let first = send_raw(&one_addr, &request);
    let replayed = send_raw(&two_addr, &request);
    let again = send_raw(&one_addr, &signed_list_secrets("cli-replay-nonce-2"));
    stop(&mut one);
    let (mut restarted, restarted_addr) = serve_with(dir.path(), &global, &[]);
    let after_restart = send_raw(&restarted_addr, &request);
    stop(&mut restarted);
    stop(&mut two);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    for refused in [&replayed, &after_restart] {
        assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
        assert!(refused.contains("SignatureNonceUsed"), "{refused}");
    }
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    assert!(
        !dir.path().join("store").exists(),
        "a PostgreSQL store keeps no nonce log on disk"
    );

    // With --shared-nonces off each server refuses only its own replays.
    let off = ["--shared-nonces", "off"];
    let (mut one, one_addr) = serve_with(dir.path(), &global, &off);
    let (mut two, two_addr) = serve_with(dir.path(), &global, &off);
    let request = signed_list_secrets("cli-replay-nonce-3");
    let first = send_raw(&one_addr, &request);
    let on_the_other = send_raw(&two_addr, &request);
    let on_the_same = send_raw(&one_addr, &request);
    stop(&mut one);
    stop(&mut two);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(on_the_other.starts_with("HTTP/1.1 200"), "{on_the_other}");
    assert!(on_the_same.contains("SignatureNonceUsed"), "{on_the_same}");
}

/// Stops a child process (SIGKILL) and reaps it.
fn stop(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `--store-dir ""` (or `--store ""`), as `--store-dir "$DIR"` gives with `DIR` unset, is not
/// a store directory: it is refused by name, rather than opening a new store in the current
/// directory and writing a fresh root key there — into whatever directory the command happens
/// to run in (a repository checkout, say).
#[test]
fn an_empty_store_flag_does_not_make_a_store_and_root_key_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    for flag in ["--store-dir", "--store"] {
        let cwd = dir.path().join(format!("cwd{flag}"));
        std::fs::create_dir_all(&cwd).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_secrets"))
            .current_dir(&cwd)
            .args([flag, "", "list-secrets"])
            .env("SECRETS_HOME", &home)
            .env_remove("SECRETS_STORE")
            .env_remove("SECRETS_ROOT_KEY")
            .output()
            .expect("the secrets binary runs");
        let left = entries(&cwd);
        assert!(
            left.is_empty(),
            "{flag} \"\" (exit {:?}) left {left:?} in the current directory: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        // Refused as a usage error that names the flag (errors go to stderr).
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let answer = String::from_utf8_lossy(&out.stderr);
        assert!(
            answer.contains("InvalidParameter") && answer.contains(&format!("'{flag} <")),
            "{answer}"
        );
    }
    // `sled:` with nothing after it (`--store "sled:$DIR"` or `SECRETS_STORE=sled:$DIR` with
    // `DIR` unset) is refused the same way.
    for (how, flags, env) in [
        ("--store sled:", &["--store", "sled:"][..], None),
        ("SECRETS_STORE=sled:", &[][..], Some("sled:")),
    ] {
        let cwd = dir.path().join(how.replace([' ', '=', ':'], "_"));
        std::fs::create_dir_all(&cwd).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_secrets"));
        cmd.current_dir(&cwd)
            .args(flags)
            .arg("list-secrets")
            .env("SECRETS_HOME", &home)
            .env_remove("SECRETS_STORE")
            .env_remove("SECRETS_ROOT_KEY");
        if let Some(value) = env {
            cmd.env("SECRETS_STORE", value);
        }
        let out = cmd.output().expect("the secrets binary runs");
        let left = entries(&cwd);
        let answer = String::from_utf8_lossy(&out.stderr);
        assert!(left.is_empty(), "{how} left {left:?}: {answer}");
        assert_eq!(out.status.code(), Some(2), "{how}: {answer}");
        assert!(answer.contains("'sled:' names no directory"), "{answer}");
    }
}

/// `secrets serve --help` and the README promise that the server "stops gracefully on
/// SIGINT/SIGTERM" — on a PostgreSQL store with the shared nonce table (the default) too,
/// after a signed request has gone through the table: exit 0 and a `{"Stopped": ...}` line,
/// not a panic dropping the table's blocking connections inside the async runtime.
#[test]
fn serve_on_postgres_stops_gracefully_on_sigterm_after_a_request() {
    use std::io::{BufRead, BufReader, Read};
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = postgres_store(dir.path(), &url, "cli_sigterm");
    let keys = dir.path().join("access-keys.json");
    std::fs::write(
        &keys,
        r#"{"ak": {"secret": "sk", "policy": {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_secrets"))
        .args(["--store", &store, "--root-key-file", key.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0", "--access-keys"])
        .arg(&keys)
        .env_remove("SECRETS_HOME")
        .env_remove("SECRETS_ROOT_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let listening: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        stop(&mut child);
        panic!("serve printed {line:?}: {e}")
    });
    let addr = listening["Listening"].as_str().unwrap().to_owned();
    let reply = send_raw(&addr, &signed_list_secrets("cli-sigterm-nonce-1"));
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "serve did not stop gracefully on SIGTERM; stderr:\n{}",
        stderr
            .lines()
            .filter(|l| !l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(rest.contains("Stopped"), "{rest}");
}

/// docs/operations.md ("Connection string: libpq style, URL or `key=value`"): `--store` (and
/// `$SECRETS_STORE`) takes libpq's `key=value` form for PostgreSQL too, rather than for a
/// directory named after it in the current directory — where an operator who pasted the
/// documented form would write secrets nobody reads. (Here no database answers: it fails.)
#[test]
fn a_key_value_connection_string_in_store_is_not_taken_for_a_directory() {
    // libpq takes spaces around `=` too.
    for store in [
        "host=127.0.0.1 port=1 dbname=secrets user=app",
        "host = 127.0.0.1 port = 1 dbname = secrets user = app",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().join("cwd");
        std::fs::create_dir_all(&cwd).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_secrets"))
            .current_dir(&cwd)
            .args(["--store", store, "create-secret", "--secret-name", "db"])
            .args(["--version-id", "v1", "--secret-data", "s3cr3t"])
            .env("SECRETS_HOME", dir.path().join("home"))
            .env_remove("SECRETS_STORE")
            .env_remove("SECRETS_ROOT_KEY")
            .output()
            .expect("the secrets binary runs");
        let left = entries(&cwd);
        assert!(
            left.is_empty(),
            "--store {store:?} (exit {:?}) made {left:?} in the current directory: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        );
        assert_ne!(out.status.code(), Some(0), "{store:?}");
    }
}

/// The same store named both ways: created through its `postgres://` URL, read back through
/// libpq's `key=value` form of the same database (with `schema=` as one of its words).
#[test]
fn a_key_value_connection_string_opens_the_postgresql_store() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = postgres_store(dir.path(), &url, "cli_kv");
    // postgresql://USER@HOST:PORT/DB[?…], as scripts/postgres.sh gives it.
    let rest = url.split_once("://").unwrap().1;
    let (authority, db) = rest.split_once('/').unwrap();
    let db = db.split('?').next().unwrap();
    let (user, host_port) = authority.split_once('@').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    let schema = store.rsplit_once("schema=").unwrap().1;
    let key_value = format!("host={host} port={port} dbname={db} user={user} schema={schema}");
    let run = |store: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_secrets"))
            .current_dir(dir.path())
            .args(["--store", store, "--root-key-file", key.to_str().unwrap()])
            .args(args)
            .env_remove("SECRETS_STORE")
            .env_remove("SECRETS_ROOT_KEY")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    run(
        &store,
        &[
            "create-secret",
            "--secret-name",
            "kv",
            "--version-id",
            "v1",
            "--secret-data",
            "x",
        ],
    );
    let got = run(&key_value, &["get-secret-value", "--secret-name", "kv"]);
    assert_eq!(got["SecretData"], "x");
    let made: Vec<_> = entries(dir.path())
        .into_iter()
        .filter(|n| n != "root.key")
        .collect();
    assert!(made.is_empty(), "made {made:?} beside the key");
}

/// docs/decisions.md 17: a listing that meets a record failing its seal "fails as a whole …;
/// the log names the secret so an operator can restore it from a backup"; docs/security.md:
/// "Tampering is logged at error level naming the secret and version". The CLI writes that
/// line to stderr, so the operator learns which secret to restore, not only `InternalFailure`.
#[test]
fn a_listing_refused_for_a_tampered_record_names_the_secret_on_stderr() {
    use secret_storage::{Storage, Update};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_secret(d, "fine", "v1", "x");
    create_secret(d, "app/tampered-one", "v1", "y");
    {
        let store = secret_storage_sled::SledStorage::open(d.join("data")).unwrap();
        let name = secret_model::SecretName::parse("app/tampered-one").unwrap();
        store
            .update(&name, &mut |current| {
                let mut record = current.expect("the secret exists").clone();
                record.seal = None;
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![],
                }
            })
            .unwrap();
    }
    let listed = secrets(d, &["list-secrets"]);
    assert_eq!(listed.code, 1, "{}", listed.stderr);
    assert!(
        listed.stderr.contains("app/tampered-one"),
        "nothing on stderr names the secret to restore: {}",
        listed.stderr
    );
}

/// The names in `dir`: what a command left there.
fn entries(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

/// A store directory whose keyring is there but whose records are not (`data/` moved away, a
/// restore half done, a volume not mounted) is no store to rotate: the rotation would find no
/// record, report success, and forget the seal key every real record is sealed under, so that
/// they are all refused once they are back. It is refused, and the keyring left as it was.
#[test]
fn rotate_record_seal_key_refuses_a_keyring_whose_records_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    create_secret(&d, "db", "v1", "kept");
    let away = dir.path().join("data-elsewhere");
    std::fs::rename(d.join("data"), &away).unwrap();
    let keyring = std::fs::read(d.join("keyring")).unwrap();

    let run = secrets(&d, &["rotate-record-seal-key"]);
    assert_eq!(
        run.code, 2,
        "a keyring without its records is refused: {:?} {}",
        run.stdout, run.stderr
    );
    assert_eq!(
        std::fs::read(d.join("keyring")).unwrap(),
        keyring,
        "the keyring is not rotated"
    );
    assert!(!d.join("data").exists(), "no empty store is made");

    // Put back, the records still open.
    std::fs::rename(&away, d.join("data")).unwrap();
    assert_eq!(
        ok(&d, &["get-secret-value", "--secret-name", "db"])["SecretData"],
        "kept"
    );
}

/// On PostgreSQL, as for a directory, the maintenance commands make no store where there is
/// none: a schema with no store (a typo in `schema=`, or `schema=` forgotten) is refused, not
/// created and reported rotated or purged — after a leak, a rotation that silently ran on an
/// empty schema leaves the real store's old seal key in force.
#[test]
fn maintenance_commands_refuse_a_postgres_schema_with_no_store() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = postgres_store(dir.path(), &url, "cli_nostore");
    for command in ["rotate-record-seal-key", "purge-expired-secrets"] {
        let run = secrets(
            dir.path(),
            &[
                "--store",
                store.as_str(),
                "--root-key-file",
                key.to_str().unwrap(),
                command,
            ],
        );
        assert_eq!(
            run.code, 2,
            "{command} on a schema with no store: {:?} {}",
            run.stdout, run.stderr
        );
    }
}

/// `SECRETS_ACCEPT_UNSEALED_RECORDS=1 secrets rotate-record-seal-key` is the documented one
/// command that seals every record: its notice must not send the operator on to write every
/// secret, as it does for the other commands.
#[test]
fn the_unsealed_records_notice_of_a_rotation_does_not_ask_to_write_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    create_secret(d, "db", "v1", "x");
    let run = secrets_with_env(
        d,
        &["rotate-record-seal-key"],
        &[("SECRETS_ACCEPT_UNSEALED_RECORDS", "1")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stderr.contains("every secret has been written"),
        "the rotation sealed every record, yet the notice says to write each secret: {}",
        run.stderr
    );
}

/// A flag a maintenance command does not take is refused without advice about
/// `--secret-data`, which these commands do not have.
#[test]
fn an_unknown_flag_of_a_maintenance_command_gets_no_secret_data_advice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for command in ["rotate-record-seal-key", "purge-expired-secrets"] {
        let run = secrets(d, &[command, "--dry-run"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            !run.stderr.contains("secret-data"),
            "{command}: {}",
            run.stderr
        );
    }
}
