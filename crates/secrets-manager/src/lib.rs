#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audit;
mod auth;
mod cache;
mod clock;
mod error;
mod manager;
mod ops;
mod random;
mod records;
mod rules;
pub mod testing;

pub use audit::{AuditEvent, AuditSink, TracingAuditSink};
pub use auth::{Action, AllowAll, Authorizer, Principal};
pub use cache::{CacheConfig, CacheStats};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::Error;
pub use manager::{Builder, SecretsManager};
pub use ops::create_secret::{CreateSecretRequest, CreateSecretResponse};
pub use ops::get_secret_value::{GetSecretValueRequest, GetSecretValueResponse};
pub use ops::lifecycle::{
    DeleteSecretRequest, DeleteSecretResponse, RestoreSecretRequest, RestoreSecretResponse,
};
pub use ops::list_secrets::{ListSecretsRequest, ListSecretsResponse, SecretSummary};
pub use ops::metadata::{
    DescribeSecretRequest, DescribeSecretResponse, UpdateSecretRequest, UpdateSecretResponse,
};
pub use ops::put_secret_value::{PutSecretValueRequest, PutSecretValueResponse};
pub use ops::random_password::{GetRandomPasswordRequest, GetRandomPasswordResponse};
pub use ops::tags::{
    ListTagResourcesRequest, ListTagResourcesResponse, TagResourceEntry, TagResourceRequest,
    TagResourceResponse, TagResourcesRequest, TagResourcesResponse, TagResponse,
    UntagResourceRequest, UntagResourceResponse, UntagResourcesRequest, UntagResourcesResponse,
};
pub use ops::versions::{
    ListSecretVersionIdsRequest, ListSecretVersionIdsResponse, UpdateSecretVersionStageRequest,
    UpdateSecretVersionStageResponse, VersionIdEntry,
};
pub use random::{OsRandom, RandomError, RandomSource};
pub use records::SealKeyRotation;

/// The crates this facade is built from, re-exported so an application needs only this one.
pub use {secret_crypto as crypto, secret_model as model, secret_storage as storage};

/// The repository README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct RepositoryReadmeDoctests;
