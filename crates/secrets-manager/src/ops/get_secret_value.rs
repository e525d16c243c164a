//! GetSecretValue: a version's value, chosen by stage, by version id, or both.

use secret_crypto::KeyState;
use secret_model::{SecretBytes, SecretDataType, SecretValue, StageLabel, Timestamp, VersionId};
use secret_storage::{PayloadTag, SecretRecord, VersionRecord};

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{SecretsManager, ensure_not_pending, kms_error, optional, secret_not_found};

/// The parameters of GetSecretValue.
#[derive(Clone, Debug, Default)]
pub struct GetSecretValueRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// The version to read.
    pub version_id: Option<String>,
    /// The stage label of the version to read. Default `ACSCurrent` when no `version_id` is
    /// given; with both, the version must carry the stage.
    pub version_stage: Option<String>,
}

/// What GetSecretValue returns. `Debug` prints the value as `[REDACTED]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetSecretValueResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's name.
    pub secret_name: String,
    /// The version read.
    pub version_id: String,
    /// The value, as raw bytes (base64 on the wire for `binary`).
    pub secret_data: SecretBytes,
    /// `text` or `binary`.
    pub secret_data_type: SecretDataType,
    /// `Generic`.
    pub secret_type: String,
    /// The labels the version carries.
    pub version_stages: Vec<String>,
    /// When the version was written.
    pub create_time: Timestamp,
}

/// How often a read is retried when the version it chose is evicted before its payload is read.
const READ_ATTEMPTS: usize = 3;

impl SecretsManager {
    /// Reads one version's value, decrypted.
    ///
    /// Errors: `InvalidParameter` / `MissingParameter` naming the parameter, and
    /// `InvalidParameter` when the version does not carry the given stage;
    /// `Forbidden.ResourceNotFound` for an unknown secret, version or stage;
    /// `Forbidden.NoPermission` without `kms:GetSecretValue` on the secret or `kms:Decrypt` on
    /// its key; `Rejected.ResourceInDeleteWindow` while pending deletion; `Rejected.Disabled`
    /// when its key is disabled; `InternalFailure` when the stored value fails authentication
    /// (logged as tampering; never wrong data).
    ///
    /// ```
    /// # let store = secrets_manager::testing::memory_store();
    /// use secrets_manager::{CreateSecretRequest, GetSecretValueRequest};
    /// store.create_secret(CreateSecretRequest {
    ///     secret_name: "api-token".into(),
    ///     secret_data: "t0k3n".into(),
    ///     version_id: "v1".into(),
    ///     ..Default::default()
    /// })?;
    /// let got = store.get_secret_value(GetSecretValueRequest {
    ///     secret_name: "api-token".into(),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(got.secret_data.expose(), b"t0k3n");
    /// assert_eq!(got.version_stages, ["ACSCurrent"]);
    /// # Ok::<(), secrets_manager::Error>(())
    /// ```
    pub fn get_secret_value(
        &self,
        req: GetSecretValueRequest,
    ) -> Result<GetSecretValueResponse, Error> {
        let name = req.secret_name.clone();
        let version = req.version_id.clone();
        self.run(
            Action::GetSecretValue,
            Some(&name),
            version.as_deref(),
            |request_id| self.get_secret_value_inner(req, request_id),
            |r| Some(r.version_id.as_str()),
        )
    }

    fn get_secret_value_inner(
        &self,
        req: GetSecretValueRequest,
        request_id: &str,
    ) -> Result<GetSecretValueResponse, Error> {
        let target = self.resolve_name(&req.secret_name)?;
        let version_id = optional(&req.version_id)
            .map(VersionId::parse)
            .transpose()?;
        let stage = optional(&req.version_stage)
            .map(StageLabel::parse)
            .transpose()?;
        let name = self.authorize_secret(Action::GetSecretValue, target)?;

        // The tag of a writing whose record named a payload that was not its own, once.
        let mut mismatched: Option<PayloadTag> = None;
        for _ in 0..READ_ATTEMPTS {
            let record = self
                .live_record(&name)?
                .ok_or_else(|| secret_not_found(&name))?;
            // Authorization before existence and pending deletion (decisions.md 1): a caller
            // that may not decrypt learns nothing of which versions exist.
            self.authorize_with(Action::Decrypt, || self.key_arn(&record.encryption_key_id))?;
            ensure_not_pending(&record)?;
            let version = select_version(&record, version_id.as_ref(), stage.as_ref())?;
            let value = match self.cached_value(&record, version)? {
                Some(value) => value,
                None => {
                    let Some(payload) = self
                        .inner
                        .storage
                        .read_payload(&name, &version.version_id)?
                    else {
                        // Evicted between the two reads: choose again from a fresh record.
                        continue;
                    };
                    if let Some(tag) = version.payload_tag
                        && PayloadTag::of(&payload) != Some(tag)
                    {
                        // Not the payload of the writing the record names: the version was
                        // removed, and its id written again, between the two reads; unless a
                        // fresh record names the same writing again.
                        if mismatched == Some(tag) {
                            tracing::error!(secret = %name, version = %version.version_id,
                                "a stored value is not the one its record names: damaged or tampered with");
                            return Err(Error::InternalFailure);
                        }
                        mismatched = Some(tag);
                        continue;
                    }
                    let value = self.open(&record, version, &payload)?;
                    if let (Some(cache), Some(tag)) = (&self.inner.cache, version.payload_tag) {
                        cache.put(&name, &version.version_id, tag, &value);
                    }
                    value
                }
            };
            return Ok(GetSecretValueResponse {
                request_id: request_id.to_owned(),
                secret_name: name.to_string(),
                version_id: version.version_id.to_string(),
                secret_data_type: value.data_type(),
                secret_data: value.into_bytes(),
                secret_type: record.secret_type.as_str().to_owned(),
                version_stages: version.stages.iter().map(ToString::to_string).collect(),
                create_time: version.create_time,
            });
        }
        Err(Error::ServiceUnavailable(format!(
            "the secret \"{name}\" changed during every read; try again"
        )))
    }
}

impl SecretsManager {
    /// The cached value of `version`, if the cache holds it; the key must still be usable, as
    /// it would have to be for a decryption.
    fn cached_value(
        &self,
        record: &SecretRecord,
        version: &VersionRecord,
    ) -> Result<Option<SecretValue>, Error> {
        // A version written before payload tags is never cached: nothing would tell it from
        // a later writing of its id.
        let (Some(cache), Some(tag)) = (&self.inner.cache, version.payload_tag) else {
            return Ok(None);
        };
        let Some(value) = cache.get(&record.name, &version.version_id, tag) else {
            return Ok(None);
        };
        let key = self
            .inner
            .kms
            .describe_key(&record.encryption_key_id)
            .map_err(kms_error)?;
        if key.state != KeyState::Enabled {
            return Err(Error::KeyDisabled(record.encryption_key_id.to_string()));
        }
        Ok(Some(value))
    }
}

fn select_version<'r>(
    record: &'r SecretRecord,
    version_id: Option<&VersionId>,
    stage: Option<&StageLabel>,
) -> Result<&'r VersionRecord, Error> {
    let carries = |v: &VersionRecord, s: &StageLabel| v.stages.iter().any(|x| x == s);
    match (version_id, stage) {
        (Some(id), stage) => {
            let version = record
                .versions
                .iter()
                .find(|v| v.version_id == *id)
                .ok_or_else(|| {
                    Error::ResourceNotFound(format!(
                        "The version \"{id}\" of secret \"{}\" is not found.",
                        record.name
                    ))
                })?;
            match stage {
                Some(s) if !carries(version, s) => Err(Error::invalid(
                    "VersionStage",
                    format!("the version \"{id}\" does not carry the stage \"{s}\""),
                )),
                _ => Ok(version),
            }
        }
        (None, stage) => {
            let stage = stage.cloned().unwrap_or_else(StageLabel::current);
            record
                .versions
                .iter()
                .find(|v| carries(v, &stage))
                .ok_or_else(|| {
                    Error::ResourceNotFound(format!(
                        "The stage \"{stage}\" of secret \"{}\" is not found.",
                        record.name
                    ))
                })
        }
    }
}
