//! One request on the wire: parameters in, the operation called, the response JSON out.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use secret_model::{SecretBytes, SecretDataType, SecretValue, Timestamp, ValidationError, WireTag};
use secrets_manager::{
    CreateSecretRequest, DeleteSecretRequest, DescribeSecretRequest, Error,
    GetRandomPasswordRequest, GetSecretValueRequest, ListSecretVersionIdsRequest,
    ListSecretsRequest, ListTagResourcesRequest, PutSecretValueRequest, RestoreSecretRequest,
    SecretsManager, TagResourceRequest, TagResourcesRequest, UntagResourceRequest,
    UntagResourcesRequest, UpdateSecretRequest, UpdateSecretVersionStageRequest,
};

use crate::params::Params;

/// Why a request failed on the wire.
#[derive(Debug)]
pub enum CallError {
    /// The action is not one this store answers (`InvalidApi.NotFound`, 404).
    UnknownAction(String),
    /// The operation failed; the error carries its Alibaba code.
    Api(Error),
}

impl CallError {
    /// The Alibaba error code.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::UnknownAction(_) => "InvalidApi.NotFound",
            CallError::Api(e) => e.code().as_str(),
        }
    }

    /// The HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            CallError::UnknownAction(_) => 404,
            CallError::Api(e) => e.http_status(),
        }
    }

    /// The message for the caller (never a secret value).
    pub fn message(&self) -> String {
        match self {
            CallError::UnknownAction(a) => {
                let shown: String = a.chars().take(64).flat_map(char::escape_default).collect();
                format!("The specified api \"{shown}\" is not found.")
            }
            CallError::Api(e) => e.to_string(),
        }
    }
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::Api(e)
    }
}

impl From<ValidationError> for CallError {
    fn from(e: ValidationError) -> Self {
        CallError::Api(e.into())
    }
}

/// The error body Alibaba's SDKs parse: `RequestId`, `HostId`, `Code`, `Message`, `Recommend`.
pub fn error_body(error: &CallError, request_id: &str, host_id: &str) -> Value {
    error_json(error.code(), &error.message(), request_id, host_id)
}

/// The same error body for any code, such as the server's authentication codes
/// (`SignatureDoesNotMatch`, `InvalidAccessKeyId.NotFound`, …).
pub fn error_json(code: &str, message: &str, request_id: &str, host_id: &str) -> Value {
    json!({
        "RequestId": request_id,
        "HostId": host_id,
        "Code": code,
        "Message": message,
        "Recommend": "",
    })
}

fn time(t: Timestamp) -> Value {
    Value::String(t.to_string())
}

fn stages(list: &[String]) -> Value {
    json!({ "VersionStage": list })
}

fn tags(list: &[WireTag]) -> Value {
    let items: Vec<Value> = list
        .iter()
        .map(|t| json!({"TagKey": t.tag_key, "TagValue": t.tag_value}))
        .collect();
    json!({ "Tag": items })
}

fn data_type(params: &Params) -> Result<Option<SecretDataType>, ValidationError> {
    params
        .get("SecretDataType")
        .filter(|s| !s.is_empty())
        .map(SecretDataType::parse)
        .transpose()
}

/// The `SecretData` parameter as raw bytes: text as is, `binary` decoded from base64.
fn secret_data(
    params: &Params,
    ty: Option<SecretDataType>,
) -> Result<SecretBytes, ValidationError> {
    let raw = params.get("SecretData").unwrap_or_default();
    SecretValue::wire_bytes(ty.unwrap_or_default(), raw)
}

/// Calls `action` on `store` with `params`, returning the response as Alibaba's JSON (every
/// list wrapped in an object keyed by its singular, `RequestId` included).
///
/// Errors: [`CallError::UnknownAction`] for an action the store does not answer, and every
/// operation's own errors.
pub fn call(store: &SecretsManager, action: &str, params: &Params) -> Result<Value, CallError> {
    let p = params;
    let value = match action {
        "CreateSecret" => {
            let ty = data_type(p)?;
            let r = store.create_secret(CreateSecretRequest {
                secret_name: p.text("SecretName"),
                secret_data: secret_data(p, ty)?,
                version_id: p.text("VersionId"),
                secret_data_type: ty,
                encryption_key_id: p.opt("EncryptionKeyId"),
                description: p.opt("Description"),
                tags: p.json_tags("Tags")?,
            })?;
            json!({"RequestId": r.request_id, "Arn": r.arn, "SecretName": r.secret_name,
                   "VersionId": r.version_id, "SecretType": r.secret_type})
        }
        "GetSecretValue" => {
            let r = store.get_secret_value(GetSecretValueRequest {
                secret_name: p.text("SecretName"),
                version_id: p.opt("VersionId"),
                version_stage: p.opt("VersionStage"),
            })?;
            let data = match r.secret_data_type {
                SecretDataType::Text => {
                    String::from_utf8_lossy(r.secret_data.expose()).into_owned()
                }
                SecretDataType::Binary => {
                    base64::engine::general_purpose::STANDARD.encode(r.secret_data.expose())
                }
            };
            json!({"RequestId": r.request_id, "SecretName": r.secret_name,
                   "VersionId": r.version_id, "SecretData": data,
                   "SecretDataType": r.secret_data_type.as_str(), "SecretType": r.secret_type,
                   "VersionStages": stages(&r.version_stages), "CreateTime": time(r.create_time)})
        }
        "PutSecretValue" => {
            let ty = data_type(p)?;
            let r = store.put_secret_value(PutSecretValueRequest {
                secret_name: p.text("SecretName"),
                version_id: p.text("VersionId"),
                secret_data: secret_data(p, ty)?,
                secret_data_type: ty,
                version_stages: p.json_list("VersionStages")?,
            })?;
            json!({"RequestId": r.request_id, "SecretName": r.secret_name,
                   "VersionId": r.version_id, "VersionStages": stages(&r.version_stages)})
        }
        "UpdateSecretVersionStage" => {
            let r = store.update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_name: p.text("SecretName"),
                version_stage: p.text("VersionStage"),
                remove_from_version: p.opt("RemoveFromVersion"),
                move_to_version: p.opt("MoveToVersion"),
            })?;
            json!({"RequestId": r.request_id, "SecretName": r.secret_name})
        }
        "ListSecretVersionIds" => {
            let r = store.list_secret_version_ids(ListSecretVersionIdsRequest {
                secret_name: p.text("SecretName"),
                include_deprecated: p.boolean("IncludeDeprecated")?,
                page_number: p.number("PageNumber")?,
                page_size: p.number("PageSize")?,
            })?;
            let versions: Vec<Value> = r
                .version_ids
                .iter()
                .map(|v| {
                    json!({"VersionId": v.version_id, "CreateTime": time(v.create_time),
                           "VersionStages": stages(&v.version_stages)})
                })
                .collect();
            json!({"RequestId": r.request_id, "SecretName": r.secret_name,
                   "PageNumber": r.page_number, "PageSize": r.page_size,
                   "TotalCount": r.total_count, "VersionIds": {"VersionId": versions}})
        }
        "DescribeSecret" => {
            let r = store.describe_secret(DescribeSecretRequest {
                secret_name: p.text("SecretName"),
                fetch_tags: p.boolean("FetchTags")?,
            })?;
            let mut m = object(json!({"RequestId": r.request_id, "Arn": r.arn,
                "SecretName": r.secret_name, "SecretType": r.secret_type,
                "Description": r.description, "EncryptionKeyId": r.encryption_key_id,
                "CreateTime": time(r.create_time), "UpdateTime": time(r.update_time)}));
            if let Some(t) = r.planned_delete_time {
                m.insert("PlannedDeleteTime".into(), time(t));
            }
            if let Some(t) = &r.tags {
                m.insert("Tags".into(), tags(t));
            }
            Value::Object(m)
        }
        "UpdateSecret" => {
            let r = store.update_secret(UpdateSecretRequest {
                secret_name: p.text("SecretName"),
                description: p.opt("Description"),
            })?;
            json!({"RequestId": r.request_id, "SecretName": r.secret_name})
        }
        "DeleteSecret" => {
            let r = store.delete_secret(DeleteSecretRequest {
                secret_name: p.text("SecretName"),
                recovery_window_in_days: p.number("RecoveryWindowInDays")?,
                force_delete_without_recovery: p.boolean("ForceDeleteWithoutRecovery")?,
            })?;
            json!({"RequestId": r.request_id, "SecretName": r.secret_name,
                   "PlannedDeleteTime": time(r.planned_delete_time)})
        }
        "RestoreSecret" => {
            let r = store.restore_secret(RestoreSecretRequest {
                secret_name: p.text("SecretName"),
            })?;
            json!({"RequestId": r.request_id, "SecretName": r.secret_name})
        }
        "ListSecrets" => {
            let r = store.list_secrets(ListSecretsRequest {
                page_number: p.number("PageNumber")?,
                page_size: p.number("PageSize")?,
                fetch_tags: p.boolean("FetchTags")?,
                filters: p.opt("Filters"),
            })?;
            let secrets: Vec<Value> = r
                .secret_list
                .iter()
                .map(|s| {
                    let mut m = object(json!({"SecretName": s.secret_name,
                        "SecretType": s.secret_type, "CreateTime": time(s.create_time),
                        "UpdateTime": time(s.update_time)}));
                    if let Some(t) = s.planned_delete_time {
                        m.insert("PlannedDeleteTime".into(), time(t));
                    }
                    if let Some(t) = &s.tags {
                        m.insert("Tags".into(), tags(t));
                    }
                    Value::Object(m)
                })
                .collect();
            json!({"RequestId": r.request_id, "PageNumber": r.page_number,
                   "PageSize": r.page_size, "TotalCount": r.total_count,
                   "SecretList": {"Secret": secrets}})
        }
        "TagResource" => {
            let r = store.tag_resource(TagResourceRequest {
                secret_name: p.text("SecretName"),
                tags: p.json_tags("Tags")?,
            })?;
            json!({"RequestId": r.request_id})
        }
        "UntagResource" => {
            let r = store.untag_resource(UntagResourceRequest {
                secret_name: p.text("SecretName"),
                tag_keys: p.json_list("TagKeys")?.unwrap_or_default(),
            })?;
            json!({"RequestId": r.request_id})
        }
        "TagResources" => {
            let r = store.tag_resources(TagResourcesRequest {
                resource_type: p.text("ResourceType"),
                resource_ids: p.flat_list("ResourceId")?,
                tags: p.flat_tags()?,
            })?;
            json!({"RequestId": r.request_id})
        }
        "UntagResources" => {
            let r = store.untag_resources(UntagResourcesRequest {
                resource_type: p.text("ResourceType"),
                resource_ids: p.flat_list("ResourceId")?,
                tag_keys: p.flat_list("TagKey")?,
                all: p.boolean("All")?,
            })?;
            json!({"RequestId": r.request_id})
        }
        "ListTagResources" => {
            let r = store.list_tag_resources(ListTagResourcesRequest {
                resource_type: p.text("ResourceType"),
                resource_ids: p.flat_list("ResourceId")?,
                tag_keys: p.flat_list("TagKey")?,
            })?;
            let items: Vec<Value> = r
                .tag_resources
                .iter()
                .map(|t| {
                    json!({"ResourceId": t.resource_id, "ResourceType": t.resource_type,
                           "TagKey": t.tag_key, "TagValue": t.tag_value})
                })
                .collect();
            json!({"RequestId": r.request_id, "TagResources": {"TagResource": items}})
        }
        "GetRandomPassword" => {
            let r = store.get_random_password(GetRandomPasswordRequest {
                password_length: p.number("PasswordLength")?,
                exclude_characters: p.opt("ExcludeCharacters"),
                exclude_lowercase: p.boolean("ExcludeLowercase")?,
                exclude_uppercase: p.boolean("ExcludeUppercase")?,
                exclude_numbers: p.boolean("ExcludeNumbers")?,
                exclude_punctuation: p.boolean("ExcludePunctuation")?,
                require_each_included_type: p.opt_boolean("RequireEachIncludedType")?,
            })?;
            let password = String::from_utf8_lossy(r.random_password.expose()).into_owned();
            json!({"RequestId": r.request_id, "RandomPassword": password})
        }
        other => return Err(CallError::UnknownAction(other.to_owned())),
    };
    Ok(value)
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A fresh lowercase UUID for an error body, from the operating system's CSPRNG.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    // A failing OS RNG leaves zeros: a request id needs uniqueness, not secrecy, and an
    // all-zero id in an error body is better than no error body.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    secret_model::Uuid::new_v4(bytes).to_string()
}
