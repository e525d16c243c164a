//! PostgresStorage runs the whole storage conformance suite, each case in a schema of its
//! own. Without SECRETS_TEST_POSTGRES_URL each case says it is skipped (and fails with CI=true).

mod common;

// The factory expression returns from the generated test (after saying why) when there is
// no database to run against.
secret_storage::conformance_tests!({
    let Some(url) = common::url_or_skip() else {
        return;
    };
    move || common::temp_store(&url)
});
