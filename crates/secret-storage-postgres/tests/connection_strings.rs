//! docs/operations.md, "Connecting": what an operator is told about a connection string the
//! `postgres` crate does not accept. These never reach a server, so they need no database.

use secret_storage::StorageError;
use secret_storage_postgres::{PostgresConfig, PostgresStorage};

fn open_error(connection: &str) -> String {
    match PostgresStorage::open(&PostgresConfig::new(connection).schema("conn_strings")) {
        Err(StorageError::Backend { message, .. }) => message,
        Err(other) => panic!("{connection}: expected a Backend error, got {other:?}"),
        Ok(_) => panic!("{connection}: a malformed connection string was accepted"),
    }
}

/// A connection string the `postgres` crate refuses is reported with what is wrong in it —
/// the option it does not know (`sslcert`, a libpq option this crate does not support, or a
/// typo), or the option whose value does not parse (`port=abc`) — so the operator can fix it,
/// not only "the PostgreSQL connection string is invalid: invalid connection string". The
/// password in the string is never repeated.
#[test]
fn an_invalid_connection_string_names_what_is_wrong_without_the_password() {
    let password = "Pw-In-The-String-4417";
    for (connection, culprit) in [
        (
            format!("host=127.0.0.1 port=abc user=app password={password} dbname=secrets"),
            "port",
        ),
        (
            format!(
                "host=127.0.0.1 user=app password='{password}' dbname=secrets \
                 sslcert=/etc/app/client.pem"
            ),
            "sslcert",
        ),
        (
            format!("postgresql://app:{password}@127.0.0.1:5432/secrets?conect_timeout=3"),
            "conect_timeout",
        ),
    ] {
        let message = open_error(&connection);
        assert!(
            !message.contains(password),
            "the error repeats the password: {message}"
        );
        assert!(
            message.contains(culprit),
            "the error does not say what is wrong with the string (`{culprit}`): {message}"
        );
    }
}

/// Whatever is malformed — an unclosed quote, a bad percent escape, a port out of range — the
/// error never repeats the password the string holds.
#[test]
fn no_malformed_connection_string_has_its_password_repeated() {
    let password = "Pw-In-The-String-4417";
    for connection in [
        format!("host=127.0.0.1 user=app password='{password} dbname=secrets"),
        format!("host=127.0.0.1 user=app password={password} port=99999"),
        format!("host=127.0.0.1 user=app password={password} keepalives=maybe"),
        format!("postgresql://app:{password}%zz@127.0.0.1:5432/secrets"),
        format!("postgresql://app:{password}@127.0.0.1:notaport/secrets"),
        format!("postgresql://app:{password}@127.0.0.1/secrets?sslmode=sometimes"),
    ] {
        let message = open_error(&connection);
        assert!(
            !message.contains(password),
            "{connection}: the error repeats the password: {message}"
        );
    }
    // A password with an unquoted space: the postgres crate takes its second half for an
    // option it does not know, which is not repeated either.
    let message = open_error("host=127.0.0.1 user=app password=first-half Second-Half-4417=x");
    assert!(
        !message.contains("Second-Half"),
        "the error repeats part of the password: {message}"
    );
}
