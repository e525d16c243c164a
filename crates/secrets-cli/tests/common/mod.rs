//! What the command-line tests share.

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
