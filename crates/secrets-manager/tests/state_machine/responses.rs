//! How facade responses are compared with the model's: the request id is taken out to be
//! checked on its own (a fresh lowercase UUID, SPEC §1), and labels are put in one order
//! (SPEC gives them none).

use std::fmt::Debug;

use secrets_manager::{
    CreateSecretResponse, DeleteSecretResponse, DescribeSecretResponse, GetSecretValueResponse,
    ListSecretVersionIdsResponse, ListSecretsResponse, ListTagResourcesResponse,
    PutSecretValueResponse, RestoreSecretResponse, UpdateSecretResponse,
    UpdateSecretVersionStageResponse,
};

/// SPEC §1: every response carries a fresh lowercase UUID.
pub fn is_lowercase_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// A response with a request id to check and, for comparison, labels in a canonical order
/// (SPEC gives labels no order).
pub trait Response: PartialEq + Debug {
    fn request_id(&mut self) -> &mut String;
    fn normalize(&mut self) {}
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

macro_rules! response {
    ($($t:ty),*) => {$(
        impl Response for $t {
            fn request_id(&mut self) -> &mut String {
                &mut self.request_id
            }
        }
    )*};
}
response!(
    CreateSecretResponse,
    UpdateSecretVersionStageResponse,
    DescribeSecretResponse,
    UpdateSecretResponse,
    DeleteSecretResponse,
    RestoreSecretResponse,
    ListSecretsResponse,
    ListTagResourcesResponse
);

impl Response for GetSecretValueResponse {
    fn request_id(&mut self) -> &mut String {
        &mut self.request_id
    }
    fn normalize(&mut self) {
        self.version_stages.sort();
    }
    fn show(&self) -> String {
        format!("{self:?} with data {:?}", self.secret_data.expose())
    }
}

impl Response for PutSecretValueResponse {
    fn request_id(&mut self) -> &mut String {
        &mut self.request_id
    }
    fn normalize(&mut self) {
        self.version_stages.sort();
    }
}

impl Response for ListSecretVersionIdsResponse {
    fn request_id(&mut self) -> &mut String {
        &mut self.request_id
    }
    fn normalize(&mut self) {
        for v in &mut self.version_ids {
            v.version_stages.sort();
        }
    }
}

/// The tag-changing operations answer only a request id; the model answers `()`.
#[derive(Debug, PartialEq)]
pub struct Tagged(pub String);
impl Response for Tagged {
    fn request_id(&mut self) -> &mut String {
        &mut self.0
    }
}
