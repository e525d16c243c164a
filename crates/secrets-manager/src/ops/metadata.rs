//! DescribeSecret and UpdateSecret: the secret's metadata.

use secret_model::{Description, Timestamp, WireTag};
use secret_storage::SecretRecord;

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{Pending, SecretsManager, Step, secret_not_found};

/// The parameters of DescribeSecret.
#[derive(Clone, Debug, Default)]
pub struct DescribeSecretRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// Also return the tags. Default false.
    pub fetch_tags: bool,
}

/// What DescribeSecret returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribeSecretResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub secret_name: String,
    /// `Generic`.
    pub secret_type: String,
    /// The description; empty when none was set.
    pub description: String,
    /// The master key the secret's values are encrypted under.
    pub encryption_key_id: String,
    /// When the secret was created.
    pub create_time: Timestamp,
    /// When its metadata or versions last changed.
    pub update_time: Timestamp,
    /// When it will be purged, while pending deletion.
    pub planned_delete_time: Option<Timestamp>,
    /// The tags, when `fetch_tags` was set.
    pub tags: Option<Vec<WireTag>>,
}

/// The parameters of UpdateSecret.
#[derive(Clone, Debug, Default)]
pub struct UpdateSecretRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// The new description (at most 1,024 characters; empty clears it). Not given: unchanged.
    pub description: Option<String>,
}

/// What UpdateSecret returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateSecretResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's name.
    pub secret_name: String,
}

pub(crate) fn wire_tags(record: &SecretRecord) -> Vec<WireTag> {
    record
        .tags
        .iter()
        .map(|t| WireTag {
            tag_key: t.key().to_owned(),
            tag_value: t.value().to_owned(),
        })
        .collect()
}

impl SecretsManager {
    /// Describes a secret's metadata; works while it is pending deletion.
    ///
    /// Errors: `Forbidden.ResourceNotFound`; `Forbidden.NoPermission`; `InvalidParameter`.
    pub fn describe_secret(
        &self,
        req: DescribeSecretRequest,
    ) -> Result<DescribeSecretResponse, Error> {
        self.run(
            Action::DescribeSecret,
            Some(&req.secret_name.clone()),
            None,
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                let name = self.authorize_secret(Action::DescribeSecret, target)?;
                let r = self
                    .live_record(&name)?
                    .ok_or_else(|| secret_not_found(&name))?;
                Ok(DescribeSecretResponse {
                    request_id: request_id.to_owned(),
                    arn: self.secret_arn(&r.name),
                    secret_name: r.name.to_string(),
                    secret_type: r.secret_type.as_str().to_owned(),
                    description: r
                        .description
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    encryption_key_id: r.encryption_key_id.to_string(),
                    create_time: r.create_time,
                    update_time: r.update_time,
                    planned_delete_time: r.planned_delete_time,
                    tags: req.fetch_tags.then(|| wire_tags(&r)),
                })
            },
            |_| None,
        )
    }

    /// Changes a secret's description. Writes no new version.
    ///
    /// Errors: `InvalidParameter` naming `Description`; `Forbidden.ResourceNotFound`;
    /// `Rejected.ResourceInDeleteWindow`; `Forbidden.NoPermission`.
    pub fn update_secret(&self, req: UpdateSecretRequest) -> Result<UpdateSecretResponse, Error> {
        self.run(
            Action::UpdateSecret,
            Some(&req.secret_name.clone()),
            None,
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                let description = req
                    .description
                    .as_deref()
                    .map(Description::parse)
                    .transpose()?;
                let name = self.authorize_secret(Action::UpdateSecret, target)?;
                self.mutate(&name, Pending::Refuse, |record, _| {
                    if let Some(d) = &description {
                        record.description = (!d.as_str().is_empty()).then(|| d.clone());
                    }
                    Ok(Step::write(()))
                })?;
                Ok(UpdateSecretResponse {
                    request_id: request_id.to_owned(),
                    secret_name: name.to_string(),
                })
            },
            |_| None,
        )
    }
}
