//! UpdateSecretVersionStage and ListSecretVersionIds.

use secret_model::{PageRequest, StageLabel, Timestamp, VersionId};

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{
    Pending, SecretsManager, Step, ensure_not_pending, optional, required, secret_not_found,
};
use crate::rules;

/// The parameters of UpdateSecretVersionStage.
#[derive(Clone, Debug, Default)]
pub struct UpdateSecretVersionStageRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// **Required.** The label to add, remove or move.
    pub version_stage: String,
    /// The version to take the label off (remove, or move with `move_to_version`).
    pub remove_from_version: Option<String>,
    /// The version to put the label on (add, or move with `remove_from_version`).
    pub move_to_version: Option<String>,
}

/// What UpdateSecretVersionStage returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateSecretVersionStageResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's name.
    pub secret_name: String,
}

/// The parameters of ListSecretVersionIds.
#[derive(Clone, Debug, Default)]
pub struct ListSecretVersionIdsRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// Also list versions without labels ("deprecated"). Default false.
    pub include_deprecated: bool,
    /// From 1. Default 1.
    pub page_number: Option<u32>,
    /// 1–100. Default 20.
    pub page_size: Option<u32>,
}

/// One version in a ListSecretVersionIds page. Never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionIdEntry {
    /// The version's id.
    pub version_id: String,
    /// When it was written.
    pub create_time: Timestamp,
    /// Its labels.
    pub version_stages: Vec<String>,
}

/// What ListSecretVersionIds returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSecretVersionIdsResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's name.
    pub secret_name: String,
    /// The page returned.
    pub page_number: u32,
    /// The page size used.
    pub page_size: u32,
    /// How many versions match in all pages.
    pub total_count: u32,
    /// This page's versions, oldest first.
    pub version_ids: Vec<VersionIdEntry>,
}

impl SecretsManager {
    /// Adds (`move_to_version` only), removes (`remove_from_version` only; custom labels only)
    /// or moves (both) a stage label. Moving `ACSCurrent` gives `ACSPrevious` to the version
    /// that lost it.
    ///
    /// Errors: `InvalidParameter` when `remove_from_version` does not carry the label, when a
    /// built-in label would be removed, or when an added label is held by another version (name
    /// it as `remove_from_version` to move it); `MissingParameter` when neither version is
    /// given; `Forbidden.ResourceNotFound` for an unknown secret or version;
    /// `Rejected.LimitExceeded` past 8 labels; `Rejected.ResourceInDeleteWindow`;
    /// `Forbidden.NoPermission`.
    pub fn update_secret_version_stage(
        &self,
        req: UpdateSecretVersionStageRequest,
    ) -> Result<UpdateSecretVersionStageResponse, Error> {
        let version = req
            .move_to_version
            .clone()
            .or_else(|| req.remove_from_version.clone());
        self.run(
            Action::UpdateSecretVersionStage,
            Some(&req.secret_name.clone()),
            version.as_deref(),
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                let stage = StageLabel::parse(required("VersionStage", &req.version_stage)?)?;
                let parse = |param, v: &Option<String>| {
                    optional(v)
                        .map(|s| VersionId::parse_as(param, s))
                        .transpose()
                };
                let from = parse("RemoveFromVersion", &req.remove_from_version)?;
                let to = parse("MoveToVersion", &req.move_to_version)?;
                // A parameter error, so it precedes existence (decisions.md 1).
                if from.is_none() && to.is_none() {
                    return Err(Error::MissingParameter(
                        secret_model::ValidationError::missing("MoveToVersion"),
                    ));
                }
                let name = self.authorize_secret(Action::UpdateSecretVersionStage, target)?;
                self.mutate(&name, Pending::Refuse, |record, _| {
                    let before = record.versions.clone();
                    rules::update_stage(record, &stage, from.as_ref(), to.as_ref())?;
                    // A label already where it is asked to be: success, nothing written
                    // (decisions.md 6 and 9).
                    Ok(if record.versions == before {
                        Step::Keep(())
                    } else {
                        Step::write(())
                    })
                })?;
                Ok(UpdateSecretVersionStageResponse {
                    request_id: request_id.to_owned(),
                    secret_name: name.to_string(),
                })
            },
            |_| None,
        )
    }

    /// Lists a secret's versions (ids, times, labels; never values), oldest first; versions
    /// without labels only with `include_deprecated`.
    ///
    /// Errors: `InvalidParameter` for paging out of range; `Forbidden.ResourceNotFound`;
    /// `Rejected.ResourceInDeleteWindow`; `Forbidden.NoPermission`.
    pub fn list_secret_version_ids(
        &self,
        req: ListSecretVersionIdsRequest,
    ) -> Result<ListSecretVersionIdsResponse, Error> {
        self.run(
            Action::ListSecretVersionIds,
            Some(&req.secret_name.clone()),
            None,
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                let page = PageRequest::for_version_ids(req.page_number, req.page_size)?;
                let name = self.authorize_secret(Action::ListSecretVersionIds, target)?;
                let record = self
                    .live_record(&name)?
                    .ok_or_else(|| secret_not_found(&name))?;
                ensure_not_pending(&record)?;
                let all: Vec<VersionIdEntry> = record
                    .versions
                    .iter()
                    .filter(|v| req.include_deprecated || !v.stages.is_empty())
                    .map(|v| VersionIdEntry {
                        version_id: v.version_id.to_string(),
                        create_time: v.create_time,
                        version_stages: v.stages.iter().map(ToString::to_string).collect(),
                    })
                    .collect();
                Ok(ListSecretVersionIdsResponse {
                    request_id: request_id.to_owned(),
                    secret_name: name.to_string(),
                    page_number: page.number(),
                    page_size: page.size(),
                    total_count: count(all.len()),
                    version_ids: page.slice(&all).to_vec(),
                })
            },
            |_| None,
        )
    }
}

/// A count for a response; lists here are bounded far below `u32::MAX`.
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
