//! What PostgresStorage promises beyond the conformance suite: the schema and its migration,
//! the stored format, errors and retries, and TLS.

mod common;

use std::time::Duration;

use common::{raw_client, temp_store, temp_store_with, unique_schema, url_or_skip, write_sample};
use secret_storage::testkit::{sample_record, secret_name};
use secret_storage::{Storage, StorageError, Update, decode_record};
use secret_storage_postgres::{PostgresConfig, PostgresStorage, SCHEMA_VERSION};

#[test]
fn reopening_a_schema_keeps_its_data_and_version() {
    let Some(url) = url_or_skip() else { return };
    let config = PostgresConfig::new(&url).schema(&unique_schema("reopen"));
    let first = temp_store_with(&url, &config);
    write_sample(&first, "kept");
    let second = PostgresStorage::open(&config).unwrap();
    assert_eq!(
        second.read(&secret_name("kept")).unwrap(),
        Some(sample_record("kept", &["v1"]))
    );
    let mut client = raw_client(&url);
    let row = client
        .query_one(
            &format!(
                "SELECT version FROM \"{}\".schema_version",
                first.store.schema()
            ),
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), SCHEMA_VERSION);
}

#[test]
fn instances_opening_a_new_schema_at_once_all_succeed() {
    let Some(url) = url_or_skip() else { return };
    let config = PostgresConfig::new(&url)
        .schema(&unique_schema("race_open"))
        .pool_size(2);
    let barrier = std::sync::Barrier::new(6);
    let stores: Vec<PostgresStorage> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    PostgresStorage::open(&config)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let cleanup = temp_store_with(&url, &config);
    write_sample(&stores[0], "seen-by-all");
    for store in &stores {
        assert!(store.read(&secret_name("seen-by-all")).unwrap().is_some());
    }
    drop(cleanup);
}

#[test]
fn schema_from_a_newer_release_is_refused() {
    let Some(url) = url_or_skip() else { return };
    let config = PostgresConfig::new(&url).schema(&unique_schema("newer"));
    let store = temp_store_with(&url, &config);
    raw_client(&url)
        .batch_execute(&format!(
            "UPDATE \"{}\".schema_version SET version = {}",
            store.store.schema(),
            SCHEMA_VERSION + 1
        ))
        .unwrap();
    match PostgresStorage::open(&config) {
        Err(StorageError::Corrupt(why)) => assert!(why.contains("newer release"), "{why}"),
        other => panic!("opened a schema from a newer release: {other:?}"),
    }
}

#[test]
fn records_are_stored_in_the_versioned_codec_format() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    write_sample(&store, "app/db");
    let row = raw_client(&url)
        .query_one(
            &format!(
                "SELECT record FROM \"{}\".secrets WHERE name = 'app/db'",
                store.store.schema()
            ),
            &[],
        )
        .unwrap();
    let bytes: Vec<u8> = row.get(0);
    assert_eq!(bytes[0], secret_storage::RECORD_FORMAT_VERSION);
    assert_eq!(
        decode_record(&bytes).unwrap(),
        sample_record("app/db", &["v1"])
    );
}

#[test]
fn damaged_or_misfiled_records_read_as_corrupt() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    write_sample(&store, "damaged");
    write_sample(&store, "misfiled");
    let schema = store.store.schema().to_owned();
    let mut client = raw_client(&url);
    client
        .batch_execute(&format!(
            "UPDATE \"{schema}\".secrets SET record = '\\x01ff'::bytea WHERE name = 'damaged'"
        ))
        .unwrap();
    let other = secret_storage::encode_record(&sample_record("elsewhere", &["v1"]));
    client
        .execute(
            &format!("UPDATE \"{schema}\".secrets SET record = $1 WHERE name = 'misfiled'"),
            &[&other],
        )
        .unwrap();
    for name in ["damaged", "misfiled"] {
        let name = secret_name(name);
        assert!(matches!(store.read(&name), Err(StorageError::Corrupt(_))));
        assert!(matches!(
            store.snapshot(&name),
            Err(StorageError::Corrupt(_))
        ));
        let update = store.update(&name, &mut |_| Update::Keep);
        assert!(
            matches!(update, Err(StorageError::Corrupt(_))),
            "{update:?}"
        );
    }
    assert!(matches!(
        store.list(None, 10),
        Err(StorageError::Corrupt(_))
    ));
    drop(store);
}

/// A column whose type is not what this release reads (a schema altered by hand, or by a
/// migration of another release) is a permanent error that names the column's conversion:
/// retrying cannot help, so it must not be reported as retryable.
#[test]
fn a_column_of_another_type_is_a_permanent_error() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    write_sample(&store, "altered");
    let schema = store.store.schema().to_owned();
    raw_client(&url)
        .batch_execute(&format!(
            "ALTER TABLE \"{schema}\".secrets ALTER COLUMN record TYPE text \
             USING encode(record, 'hex')"
        ))
        .unwrap();
    // A store opened afterwards prepares its statements on the altered table.
    let config = PostgresConfig::new(&url).schema(&schema);
    let reopened = PostgresStorage::open(&config).unwrap();
    match reopened.read(&secret_name("altered")) {
        Err(StorageError::Backend {
            retryable: false,
            message,
        }) => assert!(
            message.contains("column 0") && message.contains("`text`"),
            "{message}"
        ),
        other => panic!("expected a permanent backend error, got {other:?}"),
    }
    drop(reopened);
    drop(store);
}

/// The privileges `docs/operations.md` lists are enough to open an existing store and use
/// every part of it: no `CREATE` on the schema once it is at this release's version.
#[test]
fn a_role_with_the_documented_privileges_opens_and_uses_an_existing_store() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let schema = store.store.schema().to_owned();
    let role = format!("app_{}", std::process::id());
    let mut admin = raw_client(&url);
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; \
             GRANT USAGE ON SCHEMA \"{schema}\" TO {role}; \
             GRANT SELECT ON \"{schema}\".schema_version TO {role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON \"{schema}\".secrets, \
                 \"{schema}\".secret_payloads, \"{schema}\".secret_versions, \
                 \"{schema}\".secret_stages, \"{schema}\".keyrings, \
                 \"{schema}\".request_nonces TO {role};"
        ))
        .unwrap();
    let as_app = url.replacen("postgres@", &format!("{role}@"), 1);
    let opened = PostgresStorage::open(&PostgresConfig::new(&as_app).schema(&schema));
    let app = opened.unwrap_or_else(|e| panic!("opening as {role}: {e}"));
    write_sample(&app, "by-app");
    let record = sample_record("by-app", &["v1"]);
    app.update(&secret_name("by-app"), &mut |_| Update::Write {
        record: record.clone(),
        put_payloads: vec![],
        delete_payloads: vec![],
    })
    .unwrap();
    assert!(app.read(&secret_name("by-app")).unwrap().is_some());
    app.update(&secret_name("by-app"), &mut |_| Update::Delete)
        .unwrap();
    assert!(app.nonce_table().unwrap().record(1, 1, 0, 900, 0).unwrap());
    drop(app);
    admin
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .unwrap();
    drop(store);
}

#[test]
fn a_create_racing_past_the_name_lock_is_retried_and_sees_the_winner() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let schema = store.store.schema().to_owned();
    let winner = secret_storage::encode_record(&sample_record("contested", &["theirs"]));
    let mut raw = raw_client(&url);
    let mut seen = Vec::new();
    store
        .update(&secret_name("contested"), &mut |current| {
            seen.push(current.cloned());
            if current.is_none() {
                // Another writer that ignores the advisory lock creates the row first.
                raw.execute(
                    &format!(
                        "INSERT INTO \"{schema}\".secrets (name, record) VALUES ('contested', $1)"
                    ),
                    &[&winner],
                )
                .unwrap();
                return Update::Write {
                    record: sample_record("contested", &["mine"]),
                    put_payloads: vec![],
                    delete_payloads: vec![],
                };
            }
            Update::Keep
        })
        .unwrap();
    assert_eq!(
        seen,
        vec![None, Some(sample_record("contested", &["theirs"]))]
    );
    assert_eq!(
        store.read(&secret_name("contested")).unwrap(),
        Some(sample_record("contested", &["theirs"]))
    );
}

#[test]
fn conflicts_beyond_the_attempt_budget_are_a_retryable_error() {
    let Some(url) = url_or_skip() else { return };
    let config = PostgresConfig::new(&url)
        .schema(&unique_schema("give_up"))
        .max_attempts(1);
    let store = temp_store_with(&url, &config);
    let schema = store.store.schema().to_owned();
    let theirs = secret_storage::encode_record(&sample_record("contested", &["theirs"]));
    let mut raw = raw_client(&url);
    let result = store.update(&secret_name("contested"), &mut |_| {
        raw.execute(
            &format!("INSERT INTO \"{schema}\".secrets (name, record) VALUES ('contested', $1)"),
            &[&theirs],
        )
        .unwrap();
        Update::Write {
            record: sample_record("contested", &["mine"]),
            put_payloads: vec![],
            delete_payloads: vec![],
        }
    });
    match result {
        Err(StorageError::Backend {
            retryable: true,
            message,
        }) => assert!(message.contains("gave up after 1 attempts"), "{message}"),
        other => panic!("expected a retryable give-up, got {other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_a_retryable_backend_error() {
    // Needs no database: nothing listens on port 1.
    let config = PostgresConfig::new("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1")
        .checkout_timeout(Duration::from_millis(500));
    match PostgresStorage::open(&config) {
        Err(StorageError::Backend {
            retryable: true,
            message,
        }) => assert!(message.contains("no PostgreSQL connection"), "{message}"),
        other => panic!("expected a retryable backend error, got {other:?}"),
    }
}

/// PostgreSQL refusing for good (no such database, no such role) is a permanent error that
/// says why, at once; not a retryable timeout after the checkout timeout.
#[test]
fn a_missing_database_or_role_is_a_permanent_error_naming_the_reason() {
    let Some(url) = url_or_skip() else { return };
    let (base, _db) = url.rsplit_once('/').unwrap();
    let no_db = format!("{base}/no_such_database_here");
    let no_role = url.replacen("postgres@", "no_such_role_here@", 1);
    for (bad, reason) in [(no_db, "does not exist"), (no_role, "no_such_role_here")] {
        let config = PostgresConfig::new(&bad).checkout_timeout(Duration::from_secs(30));
        let started = std::time::Instant::now();
        match PostgresStorage::open(&config) {
            Err(StorageError::Backend {
                retryable: false,
                message,
            }) => assert!(message.contains(reason), "{bad}: {message}"),
            other => panic!("{bad}: expected a permanent backend error, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{bad}: reported only after {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_malformed_connection_string_or_schema_is_a_permanent_error() {
    for config in [
        PostgresConfig::new("postgresql://h/db?no_such_option=1"),
        PostgresConfig::new("host=h").schema("Bad-Name"),
        PostgresConfig::new("host=h sslmode=require sslrootcert=/no/such/ca.pem"),
    ] {
        match PostgresStorage::open(&config) {
            Err(StorageError::Backend {
                retryable: false, ..
            }) => {}
            other => panic!("{config:?}: expected a permanent backend error, got {other:?}"),
        }
    }
}

/// The CA of the test cluster's certificate, if the cluster serves TLS.
fn test_ca() -> Option<String> {
    match std::env::var("SECRETS_TEST_POSTGRES_CA") {
        Ok(ca) if !ca.is_empty() => Some(ca),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("SECRETS_TEST_POSTGRES_CA is not set and CI=true: scripts/postgres.sh sets it")
        }
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: set SECRETS_TEST_POSTGRES_CA to run the TLS tests"
            );
            None
        }
    }
}

#[test]
fn sslmode_require_connects_over_tls_verified_against_sslrootcert() {
    let Some(url) = url_or_skip() else { return };
    let Some(ca) = test_ca() else { return };
    let app = unique_schema("tls");
    let tls_url = format!("{url}?sslmode=verify-full&sslrootcert={ca}&application_name={app}");
    let store = temp_store_with(&url, &PostgresConfig::new(&tls_url).schema(&app));
    assert!(store.store.uses_tls());
    write_sample(&store, "over-tls");
    assert!(store.read(&secret_name("over-tls")).unwrap().is_some());
    let rows = raw_client(&url)
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
             WHERE a.application_name = $1",
            &[&app],
        )
        .unwrap();
    assert!(!rows.is_empty(), "no connection of the store was found");
    assert!(
        rows.iter().all(|r| r.get::<_, bool>(0)),
        "a connection is not TLS"
    );
}

#[test]
fn tls_to_a_server_whose_ca_is_not_trusted_is_refused() {
    let Some(url) = url_or_skip() else { return };
    if test_ca().is_none() {
        return;
    }
    // Without sslrootcert the Mozilla roots are trusted, and the test CA is not among them.
    let config = PostgresConfig::new(&format!("{url}?sslmode=require"))
        .schema(&unique_schema("untrusted"))
        .checkout_timeout(Duration::from_secs(2));
    match PostgresStorage::open(&config) {
        Err(StorageError::Backend { message, .. }) => {
            assert!(message.contains("no PostgreSQL connection"), "{message}")
        }
        other => panic!("connected to a server with an untrusted certificate: {other:?}"),
    }
}

#[test]
fn plain_connection_strings_do_not_use_tls() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    assert!(!store.store.uses_tls());
}

#[test]
fn calls_recover_when_the_server_drops_the_pooled_connections() {
    let Some(url) = url_or_skip() else { return };
    let app = unique_schema("dropped");
    let config = PostgresConfig::new(&format!("{url}?application_name={app}"))
        .schema(&app)
        .pool_size(3);
    let store = temp_store_with(&url, &config);
    write_sample(&store, "before");
    // Three idle connections in the pool, then the server drops them all, as a restart or a
    // failover would.
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| store.read(&secret_name("before")).unwrap());
        }
    });
    let killed = raw_client(&url)
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .unwrap();
    assert!(!killed.is_empty());
    std::thread::sleep(Duration::from_millis(100));
    assert!(store.read(&secret_name("before")).unwrap().is_some());
    write_sample(&store, "after");
    assert!(store.snapshot(&secret_name("after")).unwrap().is_some());
}

/// `sample_record` with its versions edited by `edit`.
fn edited(name: &str, edit: impl FnOnce(&mut secret_storage::SecretRecord)) -> Update<'static> {
    let mut record = sample_record(name, &["v1", "v2"]);
    edit(&mut record);
    Update::Write {
        record,
        put_payloads: vec![(
            secret_storage::testkit::version_id("v3"),
            b"p".to_vec().into(),
        )],
        delete_payloads: vec![],
    }
}

#[test]
fn records_breaking_version_or_label_uniqueness_are_refused_and_apply_nothing() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    write_sample(&store, "existing");
    let label_twice = |r: &mut secret_storage::SecretRecord| {
        let current = r.versions[1].stages[0].clone();
        r.versions[0].stages.push(current);
    };
    let id_twice = |r: &mut secret_storage::SecretRecord| {
        let first = r.versions[0].clone();
        r.versions.push(first);
    };
    for name in ["existing", "fresh"] {
        for (what, decision) in [
            ("label", edited(name, label_twice)),
            ("version id", edited(name, id_twice)),
        ] {
            let result = store.update(&secret_name(name), &mut |_| decision.clone());
            match result {
                Err(StorageError::Backend {
                    retryable: false,
                    message,
                }) => assert!(message.contains("unique key"), "{message}"),
                other => panic!("{name}: a record with a {what} twice was stored: {other:?}"),
            }
        }
    }
    assert_eq!(
        store.read(&secret_name("existing")).unwrap(),
        Some(sample_record("existing", &["v1"]))
    );
    assert_eq!(store.read(&secret_name("fresh")).unwrap(), None);
    assert_eq!(
        store
            .read_payload(
                &secret_name("existing"),
                &secret_storage::testkit::version_id("v3")
            )
            .unwrap(),
        None
    );
}

#[test]
fn version_ids_and_labels_are_mirrored_for_queries() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let record = sample_record("mirrored", &["v1", "v2", "v3"]);
    store
        .update(&record.name.clone(), &mut |_| Update::Write {
            record: record.clone(),
            put_payloads: vec![],
            delete_payloads: vec![],
        })
        .unwrap();
    let shrunk = sample_record("mirrored", &["v3"]);
    store
        .update(&shrunk.name.clone(), &mut |_| Update::Write {
            record: shrunk.clone(),
            put_payloads: vec![],
            delete_payloads: vec![],
        })
        .unwrap();
    let schema = store.store.schema().to_owned();
    let mut client = raw_client(&url);
    let versions: Vec<String> = client
        .query(
            &format!("SELECT version_id FROM \"{schema}\".secret_versions WHERE name = 'mirrored'"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, ["v3"]);
    let stages: Vec<(String, String)> = client
        .query(
            &format!("SELECT stage, version_id FROM \"{schema}\".secret_stages ORDER BY stage"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(stages, [("ACSCurrent".to_owned(), "v3".to_owned())]);
    store
        .update(&secret_name("mirrored"), &mut |_| Update::Delete)
        .unwrap();
    let left: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".secret_versions"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

/// docs/operations.md, Privileges: the application role needs `USAGE` on the schema (and the
/// table privileges). A role granted the table privileges but not `USAGE` — the easiest one
/// to forget, and one that hides the schema's tables — is told of the missing privilege, not
/// sent off to schema creation ("no schema has been selected to create in").
#[test]
fn a_role_without_usage_on_the_schema_is_told_about_the_privilege() {
    let Some(url) = url_or_skip() else { return };
    let store = temp_store(&url);
    let schema = store.store.schema().to_owned();
    let role = format!("no_usage_{}", std::process::id());
    let mut admin = raw_client(&url);
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; \
             GRANT SELECT ON \"{schema}\".schema_version TO {role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON \"{schema}\".secrets, \
                 \"{schema}\".secret_payloads, \"{schema}\".secret_versions, \
                 \"{schema}\".secret_stages, \"{schema}\".keyrings, \
                 \"{schema}\".request_nonces TO {role};"
        ))
        .unwrap();
    let as_app = url.replacen("postgres@", &format!("{role}@"), 1);
    let opened = PostgresStorage::open(&PostgresConfig::new(&as_app).schema(&schema));
    admin
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .unwrap();
    let message = match opened {
        Ok(_) => panic!("a role without USAGE on {schema} opened it"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("permission denied") || message.contains("USAGE"),
        "the error does not say a privilege is missing: {message}"
    );
    drop(store);
}

#[test]
fn open_existing_creates_no_schema_and_opens_one_that_exists() {
    let Some(url) = url_or_skip() else { return };
    let absent = unique_schema("absent");
    let config = PostgresConfig::new(&url).schema(&absent);
    assert!(PostgresStorage::open_existing(&config).unwrap().is_none());
    let created = raw_client(&url)
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&absent])
        .unwrap();
    assert!(created.is_none(), "the schema was not created");

    let store = temp_store(&url);
    write_sample(&store.store, "kept");
    let existing = PostgresConfig::new(&url).schema(store.store.schema());
    let opened = PostgresStorage::open_existing(&existing)
        .unwrap()
        .expect("an existing schema opens");
    assert!(opened.read(&secret_name("kept")).unwrap().is_some());
}

/// `open_existing` is for maintenance, "where a mistyped schema name must not make a new,
/// empty store", and the CLI's maintenance commands promise that a schema holding no store is
/// refused "and nothing is created" (docs/operations.md, "The record seal key"). A schema that
/// exists but holds no store — another application's (a typo in `schema=`, `schema=public`), or
/// one an administrator created ahead of the first deployment — is migrated like a store's from
/// version 0: the store's seven tables are created in it, and only then is the command refused
/// for want of a keyring.
#[test]
fn open_existing_makes_no_store_in_a_schema_that_holds_none() {
    let Some(url) = url_or_skip() else { return };
    let schema = unique_schema("other_app");
    let mut admin = raw_client(&url);
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".invoices (id integer);"
        ))
        .unwrap();
    let tables = |admin: &mut postgres::Client| -> Vec<String> {
        admin
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
                &[&schema],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    let before = tables(&mut admin);
    let opened = PostgresStorage::open_existing(&PostgresConfig::new(&url).schema(&schema));
    let after = tables(&mut admin);
    common::drop_schema(&url, &schema);
    let opened = opened.map(|found| found.is_some());
    assert_eq!(
        after, before,
        "open_existing on a schema with no store in it created the store's tables there \
         (it returned {opened:?})"
    );
}
