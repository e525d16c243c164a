//! Two OS processes, each with its own `SecretsManager` on the same PostgreSQL schema and the
//! same shared keyring (a `SharedKeyringKms` under one root key), race on the same secrets:
//!
//! - both create each secret of a round, each with its own first version: one create wins;
//! - both put the same version id with different values: one put wins, the other is
//!   `ResourceExist`, and both then read the winner's value;
//! - both put a version of their own: neither is lost;
//! - both move a custom label onto their own version, naming the holder they saw: the moves
//!   strictly alternate, and the label ends on exactly one version;
//! - each creates a master key of its own at the same moment, and a secret under it, which the
//!   other then reads (so the other follows a keyring changed under it).
//!
//! The parent re-executes this test binary as the two children (like the sled crash-recovery
//! test), then checks through a third `SecretsManager` that the store holds exactly what some
//! sequential order of those operations would have left: no version lost or duplicated, one
//! holder per label.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{URL_VAR, temp_store_with, unique_schema, url_or_skip};
use secret_crypto::RootKey;
use secret_storage_postgres::{DEFAULT_KEYRING, PostgresConfig, PostgresStorage, SharedKeyringKms};
use secrets_manager::{
    CreateSecretRequest, Error, GetSecretValueRequest, ListSecretVersionIdsRequest,
    PutSecretValueRequest, SecretsManager, UpdateSecretVersionStageRequest,
};

const CHILD_TEST: &str = "two_processes_child";
const ENV_ROLE: &str = "TWO_PROCESSES_ROLE";
const ENV_SCHEMA: &str = "TWO_PROCESSES_SCHEMA";
/// Lines of the children's protocol start with this; everything else is libtest's chatter.
const MARK: &str = "TWO ";
const ROUNDS: usize = 12;
const MOVES: usize = 6;
const ROLES: [&str; 2] = ["a", "b"];
const ROOT: [u8; 32] = [0x5a; 32];
const LABEL: &str = "blue";

fn manager(url: &str, schema: &str) -> (SecretsManager, Arc<SharedKeyringKms>) {
    let config = PostgresConfig::new(url).schema(schema).pool_size(4);
    let storage = PostgresStorage::open(&config).expect("the store opens");
    let kms = SharedKeyringKms::open(storage.keyring(DEFAULT_KEYRING), || {
        Ok::<_, Infallible>(RootKey::from_bytes(ROOT))
    })
    .expect("the shared keyring opens");
    let kms = Arc::new(kms);
    let manager = SecretsManager::builder(Arc::new(storage), kms.clone()).build();
    (manager, kms)
}

fn outcome<T>(result: Result<T, Error>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("{:?}", e.code()),
    }
}

fn value(store: &SecretsManager, name: &str, version: &str) -> String {
    let got = store
        .get_secret_value(GetSecretValueRequest {
            secret_name: name.to_owned(),
            version_id: Some(version.to_owned()),
            version_stage: None,
        })
        .unwrap_or_else(|e| panic!("reading {name} {version}: {e}"));
    String::from_utf8_lossy(got.secret_data.expose()).into_owned()
}

/// Version id → labels, for every version of `name`.
fn versions(store: &SecretsManager, name: &str) -> BTreeMap<String, Vec<String>> {
    store
        .list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_name: name.to_owned(),
            include_deprecated: true,
            page_number: None,
            page_size: Some(100),
        })
        .unwrap_or_else(|e| panic!("listing the versions of {name}: {e}"))
        .version_ids
        .into_iter()
        .map(|v| (v.version_id, v.version_stages))
        .collect()
}

fn holder_of(versions: &BTreeMap<String, Vec<String>>, label: &str) -> Vec<String> {
    versions
        .iter()
        .filter(|(_, labels)| labels.iter().any(|l| l == label))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Waits until both children reached step `step`, so that they race within a millisecond
/// or so of each other (a table of the test's own in the store's schema, outside the store).
fn barrier(client: &mut postgres::Client, schema: &str, role: &str, step: &str) {
    client
        .execute(
            &format!("INSERT INTO \"{schema}\".test_barrier (step, role) VALUES ($1, $2)"),
            &[&step, &role],
        )
        .expect("joining the barrier");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = client
            .query_one(
                &format!("SELECT count(*) FROM \"{schema}\".test_barrier WHERE step = $1"),
                &[&step],
            )
            .expect("reading the barrier");
        if row.get::<_, i64>(0) >= 2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the other child never reached {step}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

// ---------------------------------------------------------------------------------------
// The child.

/// Not a test of its own: the body of a child process, which does nothing unless started by
/// the parent with its role in the environment.
#[test]
fn two_processes_child() {
    let Ok(role) = std::env::var(ENV_ROLE) else {
        return;
    };
    let url = std::env::var(URL_VAR).expect("the parent passes the URL");
    let schema = std::env::var(ENV_SCHEMA).expect("the parent passes the schema");
    let (store, kms) = manager(&url, &schema);
    let say = |line: String| println!("{MARK}{role} {line}");
    say("ready".into());
    let mut go = String::new();
    std::io::stdin()
        .read_line(&mut go)
        .expect("the parent says go");

    let mut sync = common::raw_client(&url);
    barrier(&mut sync, &schema, &role, "start");
    let key = kms.create_key(&format!("key of {role}")).expect("a key");
    say(format!("key {}", key.key_id));
    let own = format!("own-{role}");
    for round in 0..ROUNDS {
        let name = format!("race/{round}");
        barrier(&mut sync, &schema, &role, &format!("create {round}"));
        let created = store.create_secret(CreateSecretRequest {
            secret_name: name.clone(),
            secret_data: format!("{role}-init-{round}").into_bytes().into(),
            version_id: format!("init-{role}"),
            ..Default::default()
        });
        say(format!("create {round} {}", outcome(created)));
        barrier(&mut sync, &schema, &role, &format!("same {round}"));
        let same = store.put_secret_value(PutSecretValueRequest {
            secret_name: name.clone(),
            version_id: "same".into(),
            secret_data: format!("{role}-same-{round}").into_bytes().into(),
            ..Default::default()
        });
        say(format!("same {round} {}", outcome(same)));
        let mine = store.put_secret_value(PutSecretValueRequest {
            secret_name: name.clone(),
            version_id: own.clone(),
            secret_data: format!("{role}-own-{round}").into_bytes().into(),
            ..Default::default()
        });
        say(format!("own {round} {}", outcome(mine)));
        barrier(&mut sync, &schema, &role, &format!("moves {round}"));
        for _ in 0..MOVES {
            let holders = holder_of(&versions(&store, &name), LABEL);
            if holders.first() == Some(&own) {
                continue;
            }
            let moved = store.update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_name: name.clone(),
                version_stage: LABEL.into(),
                remove_from_version: holders.first().cloned(),
                move_to_version: Some(own.clone()),
            });
            say(format!("move {round} {}", outcome(moved)));
        }
        say(format!(
            "seen-same {round} {}",
            value(&store, &name, "same")
        ));
    }

    // A secret under this process's own key, read back by the other process.
    let mine = format!("cross/{role}");
    store
        .create_secret(CreateSecretRequest {
            secret_name: mine,
            secret_data: format!("written by {role}").into_bytes().into(),
            version_id: "v1".into(),
            encryption_key_id: Some(key.key_id.to_string()),
            ..Default::default()
        })
        .expect("creating the cross secret");
    let other = ROLES.iter().find(|r| **r != role).expect("two roles");
    let theirs = format!("cross/{other}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let read = loop {
        match store.get_secret_value(GetSecretValueRequest {
            secret_name: theirs.clone(),
            ..Default::default()
        }) {
            Ok(got) => break String::from_utf8_lossy(got.secret_data.expose()).into_owned(),
            Err(e)
                if Instant::now() < deadline && format!("{:?}", e.code()) == "ResourceNotFound" =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("reading {theirs}: {e}"),
        }
    };
    say(format!("cross {read}"));
    say("done".into());
}

// ---------------------------------------------------------------------------------------
// The parent.

fn spawn_child(role: &str, url: &str, schema: &str) -> Child {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV_ROLE, role)
        .env(ENV_SCHEMA, schema)
        .env(URL_VAR, url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts")
}

/// Reads `child`'s protocol lines until it exits; kills it after `deadline`.
fn protocol_lines(child: &mut Child) -> std::thread::JoinHandle<Vec<String>> {
    let stdout = child.stdout.take().expect("stdout is piped");
    std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix(MARK).map(str::to_owned))
            .collect()
    })
}

/// Each child's lines, split into words after the role: `["create", "3", "ok"]`.
type Said = BTreeMap<String, Vec<Vec<String>>>;

fn said_by(said: &Said, role: &str, what: &str, round: usize) -> Vec<String> {
    said[role]
        .iter()
        .filter(|w| w[0] == what && w.get(1).map(String::as_str) == Some(&round.to_string()))
        .map(|w| w[2..].join(" "))
        .collect()
}

#[test]
fn two_processes_racing_on_the_same_secrets_end_as_one_process_would() {
    let Some(url) = url_or_skip() else { return };
    let schema = unique_schema("two");
    let config = PostgresConfig::new(&url).schema(&schema);
    let cleanup = temp_store_with(&url, &config);
    common::raw_client(&url)
        .batch_execute(&format!(
            "CREATE TABLE \"{schema}\".test_barrier (step text, role text, PRIMARY KEY (step, role))"
        ))
        .expect("creating the barrier table");

    let mut children: Vec<(String, Child)> = ROLES
        .iter()
        .map(|role| (role.to_string(), spawn_child(role, &url, &schema)))
        .collect();
    let readers: Vec<_> = children
        .iter_mut()
        .map(|(_, child)| protocol_lines(child))
        .collect();
    // Both children have opened their store before either starts racing: give them time,
    // then say go to both at once.
    std::thread::sleep(Duration::from_millis(300));
    for (_, child) in &mut children {
        let stdin = child.stdin.as_mut().expect("stdin is piped");
        stdin.write_all(b"go\n").expect("the child reads stdin");
        stdin.flush().expect("the child reads stdin");
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    for (role, child) in &mut children {
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for a child") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("child {role} did not finish in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "child {role} failed: {status}");
    }
    let mut said = Said::new();
    for reader in readers {
        for line in reader.join().expect("the reader thread") {
            let mut words = line.split(' ').map(str::to_owned);
            let role = words.next().expect("a role");
            said.entry(role).or_default().push(words.collect());
        }
    }
    for role in ROLES {
        assert!(
            said[role].last().is_some_and(|w| w == &["done"]),
            "child {role} did not finish its protocol: {:?}",
            said[role]
        );
    }

    let count = |role: &str, what: &str| {
        said[role]
            .iter()
            .filter(|w| w[0] == what && w.last().is_some_and(|o| o == "ok"))
            .count()
    };
    eprintln!(
        "creates won: a {} b {}; contested puts won: a {} b {}; label moves: a {} b {}",
        count("a", "create"),
        count("b", "create"),
        count("a", "same"),
        count("b", "same"),
        count("a", "move"),
        count("b", "move"),
    );
    let (store, kms) = manager(&url, &schema);
    for round in 0..ROUNDS {
        check_round(&store, &said, round);
    }
    // Each read the other's secret, written under the other's own, newly created key.
    for (role, other) in [("a", "b"), ("b", "a")] {
        let cross: Vec<&Vec<String>> = said[role].iter().filter(|w| w[0] == "cross").collect();
        assert_eq!(cross.len(), 1);
        assert_eq!(cross[0][1..].join(" "), format!("written by {other}"));
    }
    // Both keys, and one default key, are in the shared keyring: none was overwritten.
    let keys: Vec<String> = kms
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.key_id.to_string())
        .collect();
    assert_eq!(keys.len(), 3, "keys: {keys:?}");
    for role in ROLES {
        let line = said[role]
            .iter()
            .find(|w| w[0] == "key")
            .expect("a key line");
        assert!(keys.contains(&line[1]), "the key of {role} was lost");
    }
    drop(cleanup);
}

/// One round's outcomes are those of some sequential order of the two children's calls.
fn check_round(store: &SecretsManager, said: &Said, round: usize) {
    let name = format!("race/{round}");
    let one = |what: &str| -> Vec<(&str, String)> {
        ROLES
            .iter()
            .map(|r| {
                let mut outcomes = said_by(said, r, what, round);
                assert_eq!(outcomes.len(), 1, "{r} said {what} {round}: {outcomes:?}");
                (*r, outcomes.remove(0))
            })
            .collect()
    };
    let winner_of = |what: &str| -> &str {
        let outcomes = one(what);
        let winners: Vec<&str> = outcomes
            .iter()
            .filter(|(_, o)| o == "ok")
            .map(|(r, _)| *r)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}, {what}: {outcomes:?}");
        for (_, o) in &outcomes {
            assert!(
                o == "ok" || o == "ResourceExist",
                "round {round}, {what}: {outcomes:?}"
            );
        }
        winners[0]
    };
    let created_by = winner_of("create");
    let same_by = winner_of("same");
    for (role, o) in one("own") {
        assert_eq!(
            o, "ok",
            "round {round}: {role} could not add its own version"
        );
    }

    let versions = versions(store, &name);
    let ids: Vec<&str> = versions.keys().map(String::as_str).collect();
    let mut expected = vec![
        format!("init-{created_by}"),
        "own-a".into(),
        "own-b".into(),
        "same".into(),
    ];
    expected.sort();
    assert_eq!(ids, expected, "round {round}: versions lost or duplicated");
    assert_eq!(
        value(store, &name, &format!("init-{created_by}")),
        format!("{created_by}-init-{round}")
    );
    assert_eq!(
        value(store, &name, "same"),
        format!("{same_by}-same-{round}")
    );
    for role in ROLES {
        assert_eq!(
            value(store, &name, &format!("own-{role}")),
            format!("{role}-own-{round}")
        );
        assert_eq!(
            said_by(said, role, "seen-same", round),
            [format!("{same_by}-same-{round}")],
            "round {round}: {role} read another value of the contested version"
        );
    }
    for label in ["ACSCurrent", "ACSPrevious", LABEL] {
        assert_eq!(
            holder_of(&versions, label).len(),
            1,
            "round {round}: {label} on {versions:?}"
        );
    }

    // Each successful move took the label from the other child's version (or from nobody, the
    // first time), so successes alternate between the children.
    let moves: BTreeMap<&str, usize> = ROLES
        .iter()
        .map(|r| {
            let outcomes = said_by(said, r, "move", round);
            for o in &outcomes {
                assert!(
                    o == "ok" || o == "InvalidParameter",
                    "round {round}: move {o}"
                );
            }
            (*r, outcomes.iter().filter(|o| *o == "ok").count())
        })
        .collect();
    let (a, b) = (moves["a"], moves["b"]);
    assert!(a + b >= 1, "round {round}: no move succeeded");
    assert!(
        a.abs_diff(b) <= 1,
        "round {round}: moves did not alternate: {moves:?}"
    );
    let holder = holder_of(&versions, LABEL).remove(0);
    if a != b {
        let last = if a > b { "own-a" } else { "own-b" };
        assert_eq!(holder, last, "round {round}: {moves:?}");
    } else {
        assert!(
            holder == "own-a" || holder == "own-b",
            "round {round}: {holder}"
        );
    }
}
