//! The key commands: create, describe, list, enable, disable and rotate master keys.

use clap::ArgMatches;
use secret_crypto::{KeyMetadata, KeyState};
use secret_model::{KeyId, StoreLocation};
use serde_json::{Value, json};

use crate::output::Failure;

fn kms_failure(e: secret_crypto::KmsError) -> Failure {
    use secret_crypto::KmsError;
    match e {
        KmsError::KeyNotFound(k) => Failure::api(
            "Forbidden.KeyNotFound",
            404,
            format!("The specified Key is not found: {k}."),
        ),
        KmsError::KeyDisabled(k) => Failure::api(
            "Rejected.Disabled",
            409,
            format!("The request was rejected because the key {k} is Disabled."),
        ),
        other => Failure::internal(other.to_string()),
    }
}

fn key_arn(location: &StoreLocation, key: &KeyId) -> String {
    format!(
        "acs:kms:{}:{}:key/{key}",
        location.region(),
        location.account_id()
    )
}

fn metadata(location: &StoreLocation, m: &KeyMetadata) -> Value {
    json!({
        "KeyId": m.key_id.to_string(),
        "Arn": key_arn(location, &m.key_id),
        "KeyState": match m.state { KeyState::Enabled => "Enabled", KeyState::Disabled => "Disabled" },
        "CreationDate": m.creation_date.to_string(),
        "Description": m.description,
        "PrimaryKeyVersion": m.primary_key_version.to_string(),
    })
}

/// Runs one key command.
pub(crate) fn run(
    action: &str,
    args: &ArgMatches,
    kms: &crate::store::KeyAdmin,
    location: &StoreLocation,
) -> Result<Value, Failure> {
    let request_id = secrets_wire::new_request_id();
    let key_id = || -> Result<KeyId, Failure> {
        let raw = args
            .get_one::<String>("KeyId")
            .map(String::as_str)
            .unwrap_or_default();
        let parsed = if raw.is_empty() {
            Err(secret_model::ValidationError::missing("KeyId"))
        } else {
            KeyId::parse_as("KeyId", raw)
        };
        parsed.map_err(|e| Failure::api(e.code().as_str(), 400, e.message()))
    };
    match action {
        "CreateKey" => {
            let description = args
                .get_one::<String>("Description")
                .cloned()
                .unwrap_or_default();
            let m = kms.create_key(&description).map_err(kms_failure)?;
            Ok(json!({"RequestId": request_id, "KeyMetadata": metadata(location, &m)}))
        }
        "DescribeKey" => {
            let m = kms.describe_key(&key_id()?).map_err(kms_failure)?;
            Ok(json!({"RequestId": request_id, "KeyMetadata": metadata(location, &m)}))
        }
        "ListKeys" => {
            let keys = kms.list_keys().map_err(kms_failure)?;
            let items: Vec<Value> = keys
                .iter()
                .map(|m| json!({"KeyId": m.key_id.to_string(), "KeyArn": key_arn(location, &m.key_id)}))
                .collect();
            Ok(
                json!({"RequestId": request_id, "TotalCount": items.len(), "PageNumber": 1,
                      "PageSize": items.len(), "Keys": {"Key": items}}),
            )
        }
        "EnableKey" => {
            kms.enable_key(&key_id()?).map_err(kms_failure)?;
            Ok(json!({"RequestId": request_id}))
        }
        "DisableKey" => {
            kms.disable_key(&key_id()?).map_err(kms_failure)?;
            Ok(json!({"RequestId": request_id}))
        }
        "RotateKey" => {
            let id = key_id()?;
            let version = kms.rotate_key(&id).map_err(kms_failure)?;
            Ok(
                json!({"RequestId": request_id, "KeyVersion": {"KeyId": id.to_string(),
                      "KeyVersionId": version.to_string()}}),
            )
        }
        other => Err(Failure::usage(format!("unknown key command {other}"))),
    }
}
