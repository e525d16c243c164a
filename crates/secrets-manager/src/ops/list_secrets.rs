//! ListSecrets: metadata of every secret, filtered and paged, in name order.

use secret_model::{FilterKey, Filters, PageRequest, Timestamp, WireTag};
use secret_storage::SecretRecord;

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{SecretsManager, is_expired};
use crate::ops::metadata::wire_tags;
use crate::ops::versions::count;

/// The parameters of ListSecrets.
#[derive(Clone, Debug, Default)]
pub struct ListSecretsRequest {
    /// From 1. Default 1.
    pub page_number: Option<u32>,
    /// 1–100. Default 10.
    pub page_size: Option<u32>,
    /// Also return each secret's tags. Default false.
    pub fetch_tags: bool,
    /// The filters as Alibaba's JSON, `[{"Key":"SecretName","Values":["db"]}]`: at most 10,
    /// each with at most 10 values; values of one filter are OR-ed, filters AND-ed.
    /// `SecretName` and `Description` match by substring, `TagKey`, `TagValue` and `SecretType`
    /// exactly.
    pub filters: Option<String>,
}

/// One secret in a ListSecrets page. Metadata only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSummary {
    /// The secret's name.
    pub secret_name: String,
    /// `Generic`.
    pub secret_type: String,
    /// When it was created.
    pub create_time: Timestamp,
    /// When it last changed.
    pub update_time: Timestamp,
    /// When it will be purged, while pending deletion.
    pub planned_delete_time: Option<Timestamp>,
    /// Its tags, when `fetch_tags` was set.
    pub tags: Option<Vec<WireTag>>,
}

/// What ListSecrets returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSecretsResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The page returned.
    pub page_number: u32,
    /// The page size used.
    pub page_size: u32,
    /// How many secrets match in all pages.
    pub total_count: u32,
    /// This page, in name order.
    pub secret_list: Vec<SecretSummary>,
}

/// Records are read from storage in pages of this many.
const SCAN_PAGE: usize = 256;

impl SecretsManager {
    /// Lists secrets' metadata (never values), in name order, including those pending
    /// deletion.
    ///
    /// Errors: `InvalidParameter` naming `PageNumber`, `PageSize` or `Filters`;
    /// `Forbidden.NoPermission` without `kms:ListSecrets` on `acs:kms:{region}:{account}:secret/*`.
    pub fn list_secrets(&self, req: ListSecretsRequest) -> Result<ListSecretsResponse, Error> {
        self.run(
            Action::ListSecrets,
            None,
            None,
            |request_id| {
                let page = PageRequest::for_list_secrets(req.page_number, req.page_size)?;
                let filters = match req.filters.as_deref().filter(|s| !s.is_empty()) {
                    Some(json) => Filters::from_json(json)?,
                    None => Filters::default(),
                };
                let l = self.location();
                self.authorize_with(Action::ListSecrets, || {
                    format!("acs:kms:{}:{}:secret/*", l.region(), l.account_id())
                })?;
                let now = self.now();
                let mut matching = Vec::new();
                let mut after = None;
                loop {
                    let batch = self.inner.storage.list(after.as_ref(), SCAN_PAGE)?;
                    let Some(last) = batch.last() else { break };
                    after = Some(last.name.clone());
                    matching.extend(
                        batch
                            .into_iter()
                            .filter(|r| !is_expired(r, now) && matches(r, &filters)),
                    );
                }
                let secret_list = page
                    .slice(&matching)
                    .iter()
                    .map(|r| SecretSummary {
                        secret_name: r.name.to_string(),
                        secret_type: r.secret_type.as_str().to_owned(),
                        create_time: r.create_time,
                        update_time: r.update_time,
                        planned_delete_time: r.planned_delete_time,
                        tags: req.fetch_tags.then(|| wire_tags(r)),
                    })
                    .collect();
                Ok(ListSecretsResponse {
                    request_id: request_id.to_owned(),
                    page_number: page.number(),
                    page_size: page.size(),
                    total_count: count(matching.len()),
                    secret_list,
                })
            },
            |_| None,
        )
    }
}

/// Whether `record` passes every filter (AND) by any of its values (OR).
fn matches(record: &SecretRecord, filters: &Filters) -> bool {
    filters.filters().iter().all(|f| {
        f.values.iter().any(|v| match f.key {
            FilterKey::SecretName => record.name.as_str().contains(v.as_str()),
            FilterKey::Description => record
                .description
                .as_ref()
                .is_some_and(|d| d.as_str().contains(v.as_str())),
            FilterKey::TagKey => record.tags.iter().any(|t| t.key() == v),
            FilterKey::TagValue => record.tags.iter().any(|t| t.value() == v),
            FilterKey::SecretType => record.secret_type.as_str() == v,
        })
    })
}
