//! The Alibaba KMS RPC wire forms of the secrets store, shared by the HTTP server and the
//! `secrets` CLI so both speak exactly the same JSON.
//!
//! - [`Params`]: request parameters by Alibaba's names, with the JSON-string (`Tags`,
//!   `VersionStages`, `TagKeys`, `Filters`) and flattened (`ResourceId.N`, `Tag.N.Key`) forms
//!   and case-insensitive booleans.
//! - [`call`]: runs an action on a [`secrets_manager::SecretsManager`] and renders the response
//!   as Alibaba's JSON, every list wrapped in an object keyed by its singular
//!   (`"VersionStages":{"VersionStage":[…]}`), because the Python SDK silently drops bare arrays.
//! - [`error_body`]: the JSON error body (`RequestId`, `HostId`, `Code`, `Message`, `Recommend`).
//! - [`OPERATIONS`]: every operation and its parameters with their limits, for routing and help.
//!
//! ```
//! use secrets_wire::{Params, call};
//! let store = secrets_manager::testing::memory_store();
//! let params: Params = [("SecretName", "db"), ("VersionId", "v1"), ("SecretData", "pw")]
//!     .into_iter()
//!     .collect();
//! call(&store, "CreateSecret", &params).unwrap();
//! let got = call(&store, "GetSecretValue", &[("SecretName", "db")].into_iter().collect()).unwrap();
//! assert_eq!(got["SecretData"], "pw");
//! assert_eq!(got["VersionStages"]["VersionStage"][0], "ACSCurrent");
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dispatch;
mod params;
mod spec;

pub use dispatch::{CallError, call, error_body, error_json, new_request_id};
pub use params::Params;
pub use spec::{Kind, OPERATIONS, Operation, Param, operation};
