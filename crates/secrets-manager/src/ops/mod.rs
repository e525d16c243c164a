//! One module an operation (or a family of them): requests, responses and their rules.

pub(crate) mod create_secret;
pub(crate) mod get_secret_value;
pub(crate) mod lifecycle;
pub(crate) mod list_secrets;
pub(crate) mod metadata;
pub(crate) mod put_secret_value;
pub(crate) mod random_password;
pub(crate) mod tags;
pub(crate) mod versions;
