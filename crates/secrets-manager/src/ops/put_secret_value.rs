//! PutSecretValue: a new version of an existing secret, and the moves of its stage labels.

use std::borrow::Cow;

use secret_model::{
    SecretBytes, SecretDataType, SecretValue, StageLabel, ValidationError, VersionId,
};
use secret_storage::{PayloadTag, SecretRecord, VersionRecord};

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{
    Pending, SecretsManager, Step, ensure_not_pending, required, secret_not_found,
};
use crate::rules;

/// The parameters of PutSecretValue.
#[derive(Clone, Debug, Default)]
pub struct PutSecretValueRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// **Required.** The new version's id, unique within the secret.
    pub version_id: String,
    /// **Required.** The new version's value: 1–30,720 bytes, UTF-8 for `text`.
    pub secret_data: SecretBytes,
    /// `text` (the default) or `binary`.
    pub secret_data_type: Option<SecretDataType>,
    /// The labels to attach (each moved off its previous holder). Not given, or empty:
    /// `ACSCurrent`, with the old current version becoming `ACSPrevious`.
    pub version_stages: Option<Vec<String>>,
}

/// What PutSecretValue returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutSecretValueResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's name.
    pub secret_name: String,
    /// The version written (or found, on an idempotent retry).
    pub version_id: String,
    /// The labels that version now carries.
    pub version_stages: Vec<String>,
}

impl SecretsManager {
    /// Stores a new version of a secret.
    ///
    /// Without `version_stages` the new version gets `ACSCurrent` and the version that held it
    /// gets `ACSPrevious`. With them, exactly those labels are attached, each moved off its
    /// previous holder; `ACSCurrent` in the list shifts the old current to `ACSPrevious`. An 11th
    /// version evicts the oldest version without labels, ciphertext included. Repeating a put
    /// with the same version id, value and type succeeds and changes nothing.
    ///
    /// Errors: `InvalidParameter` / `MissingParameter` naming the parameter;
    /// `Forbidden.ResourceNotFound` for an unknown secret; `Rejected.ResourceExist` when the
    /// version id exists with another value or type; `Rejected.LimitExceeded` beyond 8 distinct
    /// labels; `Rejected.ResourceInDeleteWindow`; `Forbidden.NoPermission`;
    /// `Rejected.Disabled` when the secret's key is disabled.
    pub fn put_secret_value(
        &self,
        req: PutSecretValueRequest,
    ) -> Result<PutSecretValueResponse, Error> {
        let (name, version) = (req.secret_name.clone(), req.version_id.clone());
        self.run(
            Action::PutSecretValue,
            Some(&name),
            Some(&version),
            |request_id| self.put_secret_value_inner(req, request_id),
            |_| None,
        )
    }

    fn put_secret_value_inner(
        &self,
        req: PutSecretValueRequest,
        request_id: &str,
    ) -> Result<PutSecretValueResponse, Error> {
        let target = self.resolve_name(&req.secret_name)?;
        let version_id = VersionId::parse(required("VersionId", &req.version_id)?)?;
        if req.secret_data.is_empty() {
            return Err(ValidationError::missing("SecretData").into());
        }
        let value = SecretValue::new(req.secret_data_type.unwrap_or_default(), req.secret_data)?;
        let stages = parse_stages(req.version_stages.as_deref())?;
        let name = self.authorize_secret(Action::PutSecretValue, target)?;

        let respond_with = |version_stages: Vec<String>| PutSecretValueResponse {
            request_id: request_id.to_owned(),
            secret_name: name.to_string(),
            version_id: version_id.to_string(),
            version_stages,
        };
        let respond = |record: &SecretRecord| respond_with(stages_of(record, &version_id));

        let record = self
            .live_record(&name)?
            .ok_or_else(|| secret_not_found(&name))?;
        ensure_not_pending(&record)?;
        if record.versions.iter().any(|v| v.version_id == version_id) {
            self.check_put_retry(&record, &version_id, &value)?;
            return Ok(respond(&record));
        }

        let envelope = self.seal(&record.encryption_key_id, &name, &version_id, &value)?;
        let payload_tag = PayloadTag::of(&envelope);
        let outcome = self.mutate(&name, Pending::Refuse, |record, now| {
            if record.versions.iter().any(|v| v.version_id == version_id) {
                // Someone wrote this version id between our read and this step.
                return Ok(Step::Keep(Err(record.clone())));
            }
            let version = VersionRecord {
                version_id: version_id.clone(),
                data_type: value.data_type(),
                stages: Vec::new(),
                create_time: now,
                payload_tag,
                with_secret: false,
            };
            let evicted = rules::add_version(record, version, stages.as_deref())?;
            Ok(Step::Write {
                // Only what the response needs: the new version's labels, not a record copy.
                out: Ok(stages_of(record, &version_id)),
                put_payloads: vec![(version_id.clone(), Cow::Borrowed(&envelope[..]))],
                delete_payloads: evicted,
            })
        })?;
        match outcome {
            Ok(version_stages) => Ok(respond_with(version_stages)),
            Err(raced) => {
                self.check_put_retry(&raced, &version_id, &value)?;
                Ok(respond(&raced))
            }
        }
    }

    /// A put of an existing version id succeeds only with the same value and type.
    fn check_put_retry(
        &self,
        record: &SecretRecord,
        version_id: &VersionId,
        value: &SecretValue,
    ) -> Result<(), Error> {
        if self.stores_same_value(record, version_id, value)? {
            return Ok(());
        }
        Err(Error::ResourceExist(format!(
            "The version \"{version_id}\" of secret \"{}\" already exists with another value.",
            record.name
        )))
    }
}

/// The labels `version_id` carries in `record` (none if it is not there), as response text.
fn stages_of(record: &SecretRecord, version_id: &VersionId) -> Vec<String> {
    record
        .versions
        .iter()
        .find(|v| v.version_id == *version_id)
        .map(|v| v.stages.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

/// Parses `VersionStages`; an empty list counts as not given.
fn parse_stages(list: Option<&[String]>) -> Result<Option<Vec<StageLabel>>, Error> {
    match list {
        None | Some([]) => Ok(None),
        Some(list) => list
            .iter()
            .map(|s| StageLabel::parse_as("VersionStages", s).map_err(Error::from))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}
