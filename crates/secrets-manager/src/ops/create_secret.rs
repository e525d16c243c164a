//! CreateSecret: a new secret and its first version, which gets `ACSCurrent`.

use secret_crypto::KeyState;
use std::borrow::Cow;

use secret_model::{
    Description, KeyId, SecretBytes, SecretDataType, SecretName, SecretType, SecretValue,
    StageLabel, Tag, TagSet, VersionId, WireTag,
};
use secret_storage::{PayloadTag, SecretRecord, Update, VersionRecord};

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{
    SecretsManager, ensure_not_pending, is_expired, kms_error, optional, required,
};

/// The parameters of CreateSecret.
#[derive(Clone, Debug, Default)]
pub struct CreateSecretRequest {
    /// **Required.** The name: 1–192 characters of `[A-Za-z0-9_/+=.@-]`, not starting with
    /// `acs/`; or this store's ARN of it.
    pub secret_name: String,
    /// **Required.** The first version's value: 1–30,720 bytes, UTF-8 for `text`.
    pub secret_data: SecretBytes,
    /// **Required.** The first version's id: 1–64 printable ASCII characters, no whitespace.
    pub version_id: String,
    /// `text` (the default) or `binary`.
    pub secret_data_type: Option<SecretDataType>,
    /// The master key to encrypt under (a key id). Default: the store's default key.
    pub encryption_key_id: Option<String>,
    /// A description of at most 1,024 characters.
    pub description: Option<String>,
    /// Up to 20 tags, keys unique.
    pub tags: Vec<WireTag>,
}

/// What CreateSecret returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateSecretResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub secret_name: String,
    /// The first version's id.
    pub version_id: String,
    /// `Generic`.
    pub secret_type: String,
}

impl SecretsManager {
    /// Creates a secret whose first version holds `secret_data` and carries `ACSCurrent`.
    ///
    /// Repeating the same create (same name, version id, value and type) succeeds and changes
    /// nothing, so a caller may retry after a lost response.
    ///
    /// Errors: `InvalidParameter` / `MissingParameter` naming the parameter;
    /// `Forbidden.NoPermission` without `kms:CreateSecret` on the secret, or without
    /// `kms:GenerateDataKey` on an `EncryptionKeyId`; `Forbidden.KeyNotFound` and
    /// `Rejected.Disabled` for the key; `Rejected.ResourceExist` when the name is taken;
    /// `Rejected.ResourceInDeleteWindow` when it is pending deletion; `Forbidden.ResourceNotFound`
    /// for an ARN of another store; `InternalFailure` / `ServiceUnavailableTemporary` when the
    /// storage or KMS fails (nothing is then written).
    ///
    /// ```
    /// # let store = secrets_manager::testing::memory_store();
    /// use secrets_manager::CreateSecretRequest;
    /// let created = store.create_secret(CreateSecretRequest {
    ///     secret_name: "db/password".into(),
    ///     secret_data: "s3cr3t".into(),
    ///     version_id: "v1".into(),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(created.version_id, "v1");
    /// assert!(created.arn.ends_with(":secret/db/password"));
    /// # Ok::<(), secrets_manager::Error>(())
    /// ```
    pub fn create_secret(&self, req: CreateSecretRequest) -> Result<CreateSecretResponse, Error> {
        let (name, version) = (req.secret_name.clone(), req.version_id.clone());
        self.run(
            Action::CreateSecret,
            Some(&name),
            Some(&version),
            |request_id| self.create_secret_inner(req, request_id),
            |_| None,
        )
    }

    fn create_secret_inner(
        &self,
        req: CreateSecretRequest,
        request_id: &str,
    ) -> Result<CreateSecretResponse, Error> {
        let target = self.resolve_name(&req.secret_name)?;
        let version_id = VersionId::parse(required("VersionId", &req.version_id)?)?;
        if req.secret_data.is_empty() {
            return Err(secret_model::ValidationError::missing("SecretData").into());
        }
        let value = SecretValue::new(req.secret_data_type.unwrap_or_default(), req.secret_data)?;
        let description = optional(&req.description)
            .map(Description::parse)
            .transpose()?;
        let tags = TagSet::new(req.tags.iter().map(|t| (&t.tag_key, &t.tag_value)))?;
        let key_param = optional(&req.encryption_key_id)
            .map(KeyId::parse)
            .transpose()?;

        // Every authorization before the name's existence (an ARN of another store).
        self.authorize_target(Action::CreateSecret, &target)?;
        if let Some(key_id) = &key_param {
            self.authorize_with(Action::GenerateDataKey, || self.key_arn(key_id))?;
        }
        let name = target.into_local()?;
        let key_id = match key_param {
            Some(key_id) => {
                let meta = self.inner.kms.describe_key(&key_id).map_err(kms_error)?;
                if meta.state != KeyState::Enabled {
                    return Err(Error::KeyDisabled(key_id.to_string()));
                }
                key_id
            }
            None => self.inner.kms.default_key().map_err(kms_error)?,
        };

        let respond = |name: &SecretName, version_id: &VersionId| CreateSecretResponse {
            request_id: request_id.to_owned(),
            arn: self.secret_arn(name),
            secret_name: name.to_string(),
            version_id: version_id.to_string(),
            secret_type: SecretType::Generic.as_str().to_owned(),
        };

        let tags = tags.into_vec();
        let asked = Asked {
            version_id: &version_id,
            value: &value,
            description: description.as_ref(),
            tags: &tags,
            key_id: &key_id,
        };
        // Fast path for a retry or a conflict: no data key is spent on a secret that exists.
        if let Some(existing) = self.live_record(&name)? {
            self.check_create_retry(&existing, &asked)?;
            return Ok(respond(&name, &version_id));
        }

        let envelope = self.seal(&key_id, &name, &version_id, &value)?;
        let payload_tag = PayloadTag::of(&envelope);
        let now = self.now();
        // Built inside the step (which usually runs once) rather than built here and copied
        // into every run of it.
        let record = || SecretRecord {
            name: name.clone(),
            secret_type: SecretType::Generic,
            description: description.clone(),
            encryption_key_id: key_id,
            tags: tags.clone(),
            create_time: now,
            update_time: now,
            planned_delete_time: None,
            versions: vec![VersionRecord {
                version_id: version_id.clone(),
                data_type: value.data_type(),
                stages: vec![StageLabel::current()],
                create_time: now,
                payload_tag,
                with_secret: true,
            }],
            // Sealed by the storage layer as it is written (see `records.rs`).
            seal: None,
        };
        let mut existing = None;
        self.inner.storage.update(&name, &mut |current| {
            existing = None;
            match current {
                Some(r) if !is_expired(r, now) => {
                    existing = Some(r.clone());
                    Update::Keep
                }
                // Absent, or past its planned delete time: the name is free again, and the
                // expired secret's ciphertexts go with it.
                stale => Update::Write {
                    record: record(),
                    put_payloads: vec![(version_id.clone(), Cow::Borrowed(&envelope[..]))],
                    delete_payloads: stale
                        .map(|r| {
                            r.versions
                                .iter()
                                .map(|v| v.version_id.clone())
                                .filter(|v| *v != version_id)
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            }
        })?;
        // A stale secret of this name may have been replaced: its cached values must go.
        self.forget_cached(&name, None);
        if let Some(existing) = existing {
            // Another caller created the name between our read and our write.
            self.check_create_retry(&existing, &asked)?;
        }
        Ok(respond(&name, &version_id))
    }

    /// A create on a name that exists succeeds only as an exact retry of the create that made
    /// it: its version is the secret's first (written with the secret, and still kept), with
    /// the same value and type (compared in constant time), and the secret still has the
    /// description, tags and key the create asks for. A version added later by
    /// PutSecretValue is not the create's, nor is a secret changed since.
    fn check_create_retry(&self, existing: &SecretRecord, asked: &Asked<'_>) -> Result<(), Error> {
        ensure_not_pending(existing)?;
        let created = existing
            .versions
            .iter()
            .any(|v| v.with_secret && v.version_id == *asked.version_id);
        let same_tags = existing.tags.len() == asked.tags.len()
            && asked.tags.iter().all(|t| existing.tags.contains(t));
        let same_metadata = existing.description.as_ref() == asked.description
            && existing.encryption_key_id == *asked.key_id
            && same_tags;
        if created
            && same_metadata
            && self.stores_same_value(existing, asked.version_id, asked.value)?
        {
            return Ok(());
        }
        Err(Error::ResourceExist(format!(
            "The secret \"{}\" already exists.",
            existing.name
        )))
    }
}

/// What a create asks for besides the name: an existing secret is this create's own only if
/// it matches all of it.
struct Asked<'a> {
    version_id: &'a VersionId,
    value: &'a SecretValue,
    description: Option<&'a Description>,
    tags: &'a [Tag],
    key_id: &'a KeyId,
}
