//! The procedures of `docs/operations.md` (rotating keys, backup and restore of an embedded
//! store) followed as an operator would, and the steps that can go half wrong (a restore that
//! brings back the records without their keyring, or the other way round): half a store is
//! refused, never completed with a new half.

mod common;

use common::{CREATE_DB, ok, secrets};
use std::path::Path;

/// A store with two secrets of two versions each, one of them with a custom label.
fn store_with_secrets(d: &Path) {
    for name in ["db", "api"] {
        ok(
            d,
            &[
                "create-secret",
                "--secret-name",
                name,
                "--version-id",
                "v1",
                "--secret-data",
                &format!("{name}-v1"),
            ],
        );
        ok(
            d,
            &[
                "put-secret-value",
                "--secret-name",
                name,
                "--version-id",
                "v2",
                "--secret-data",
                &format!("{name}-v2"),
                "--version-stages",
                "[\"Blue\"]",
            ],
        );
    }
}

fn reads_back(d: &Path) {
    for name in ["db", "api"] {
        for version in ["v1", "v2"] {
            let got = ok(
                d,
                &[
                    "get-secret-value",
                    "--secret-name",
                    name,
                    "--version-id",
                    version,
                ],
            );
            assert_eq!(got["SecretData"], format!("{name}-{version}"));
        }
    }
}

/// `change-root-key` on a store directory whose keyring is there but whose records are not
/// (`data/` moved away, a restore half done, a volume not mounted) refuses (exit 2) and creates
/// nothing, as every other command but a create does. (Opening the store for its lock would
/// make an empty database in `data/` — on an unmounted volume, in the mount point — which every
/// later command would take for the store.)
#[test]
fn change_root_key_refuses_a_keyring_whose_records_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    store_with_secrets(&d);
    let away = dir.path().join("data-elsewhere");
    std::fs::rename(d.join("data"), &away).unwrap();
    let new_key = dir.path().join("root-2.key");

    let run = secrets(
        &d,
        &[
            "change-root-key",
            "--new-root-key-file",
            new_key.to_str().unwrap(),
        ],
    );
    let made = d.join("data").exists();
    let listed = secrets(&d, &["list-secrets"]);
    assert!(
        run.code == 2 && !made,
        "a keyring without its records is refused and nothing is made: change-root-key exit \
         {} ({:?}), data/ made: {made}; list-secrets afterwards: exit {} {:?}",
        run.code,
        run.stdout,
        listed.code,
        listed.stdout
    );
}

/// `create-secret`, `create-key` and `serve` in a store directory whose keyring is there but
/// whose records are not (`data/` moved away or not mounted) refuse (exit 2) rather than make
/// a new, empty database beside the keyring: only a create makes a store *where there is
/// none*, and here there is one whose records are elsewhere (a secret written into a fresh
/// `data/` on an unmounted volume would land in the mount point, hidden once it is mounted).
#[test]
fn create_secret_refuses_a_keyring_whose_records_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    store_with_secrets(&d);
    let away = dir.path().join("data-elsewhere");
    std::fs::rename(d.join("data"), &away).unwrap();

    let keys = dir.path().join("access-keys.json");
    std::fs::write(
        &keys,
        r#"{"ak": {"secret": "sk", "policy": {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--access-keys",
        keys.to_str().unwrap(),
    ];
    for args in [&CREATE_DB[..], &["create-key"][..], &serve[..]] {
        let run = secrets(&d, args);
        assert!(
            run.code == 2 && !d.join("data").exists(),
            "{args:?}: a keyring without its records is refused and no empty store is made \
             beside it: exit {}, data/ made: {}, stderr: {}",
            run.code,
            d.join("data").exists(),
            run.stderr
        );
        assert!(
            run.stderr.contains("has a keyring but no records"),
            "{args:?}: the refusal says what is missing: {}",
            run.stderr
        );
    }
    // Put back, the store is whole again.
    std::fs::rename(&away, d.join("data")).unwrap();
    reads_back(&d);
}

/// A records database with no record in it and no keyring — a store whose making stopped
/// before its first write — is not half a store: a create makes its keyring and goes on.
#[test]
fn an_empty_records_database_without_a_keyring_is_made_into_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    ok(&d, &CREATE_DB);
    ok(
        &d,
        &[
            "delete-secret",
            "--secret-name",
            CREATE_DB[2],
            "--force-delete-without-recovery",
            "true",
        ],
    );
    std::fs::remove_file(d.join("keyring")).unwrap();
    assert!(d.join("data").join("db").exists());
    ok(&d, &CREATE_DB);
    assert!(d.join("keyring").exists());
    let got = ok(&d, &["get-secret-value", "--secret-name", CREATE_DB[2]]);
    assert_eq!(got["SecretData"], CREATE_DB[6]);
}

/// A store directory whose records are there but whose keyring is not (data restored without
/// it — what "The keyring is part of every backup" warns against) is not given a fresh keyring
/// by a create, and its refusals say what is missing rather than advising a create: a new
/// keyring (new master key, new record seal key) would open none of the records, and once the
/// real keyring is put back, a secret created meanwhile would be refused in its turn.
#[test]
fn a_store_whose_keyring_is_missing_is_not_given_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    store_with_secrets(&d);
    let kept = dir.path().join("keyring-elsewhere");
    std::fs::rename(d.join("keyring"), &kept).unwrap();

    for args in [
        &[
            "create-secret",
            "--secret-name",
            "new",
            "--version-id",
            "v1",
            "--secret-data",
            "x",
        ][..],
        &["create-key"][..],
    ] {
        let run = secrets(&d, args);
        assert!(
            run.code == 2 && !d.join("keyring").exists(),
            "{args:?} beside records without their keyring is refused and makes no keyring: \
             exit {}, keyring made: {}",
            run.code,
            d.join("keyring").exists()
        );
        assert!(
            run.stderr.contains("holds records but no keyring"),
            "{args:?}: the refusal says what is missing: {}",
            run.stderr
        );
    }
    let refused = secrets(&d, &["get-secret-value", "--secret-name", "db"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        !refused
            .stderr
            .contains("create-secret or create-key makes a store")
            && refused.stderr.contains("holds records but no keyring"),
        "records without their keyring are not 'no store': the advice to create one makes \
         things worse: {}",
        refused.stderr
    );
    std::fs::rename(&kept, d.join("keyring")).unwrap();
    reads_back(&d);
}

/// The bytes in the embedded store's value log (`data/values/`), where payloads are kept.
fn value_log_bytes(d: &Path) -> u64 {
    std::fs::read_dir(d.join("data").join("values"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// `docs/operations.md`, "Deleted secrets: when their data goes": a force-deleted secret's
/// ciphertext stays in the value log until its segment is collected, and
/// `purge-expired-secrets` (the command for cron) collects it when the segment is mostly
/// garbage — in a small store too, whose one segment is never full — keeping every live value.
#[test]
fn purge_expired_secrets_frees_a_deleted_secrets_ciphertext_from_the_value_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("store");
    let big = "b".repeat(30_000);
    ok(
        &d,
        &[
            "create-secret",
            "--secret-name",
            "big",
            "--version-id",
            "v1",
            "--secret-data",
            &big,
        ],
    );
    store_with_secrets(&d);
    ok(
        &d,
        &[
            "delete-secret",
            "--secret-name",
            "big",
            "--force-delete-without-recovery",
            "true",
        ],
    );
    let before = value_log_bytes(&d);
    assert!(before > 30_000, "{before} bytes in the value log");
    assert_eq!(ok(&d, &["purge-expired-secrets"])["SecretsPurged"], 0);
    let after = value_log_bytes(&d);
    assert!(
        after < 30_000,
        "the deleted secret's ciphertext is collected: {before} bytes before, {after} after"
    );
    reads_back(&d);
}
