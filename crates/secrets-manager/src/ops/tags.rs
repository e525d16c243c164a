//! Tagging: TagResource / UntagResource on one secret, and the batch forms TagResources,
//! UntagResources and ListTagResources.

use secret_model::{SecretName, Tag, TagSet, ValidationError, WireTag, limits, parse_tag_key};
use secret_storage::SecretRecord;

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{Pending, SecretsManager, Step, Target, ensure_not_pending, secret_not_found};

/// The parameters of TagResource.
#[derive(Clone, Debug, Default)]
pub struct TagResourceRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// **Required.** Tags to set; an existing key gets the new value.
    pub tags: Vec<WireTag>,
}

/// The parameters of UntagResource.
#[derive(Clone, Debug, Default)]
pub struct UntagResourceRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// **Required.** Tag keys to remove; absent keys are ignored.
    pub tag_keys: Vec<String>,
}

/// The parameters of TagResources (the batch form).
#[derive(Clone, Debug, Default)]
pub struct TagResourcesRequest {
    /// **Required.** `secret`.
    pub resource_type: String,
    /// **Required.** 1–50 secret names or ARNs (`ResourceId.N`).
    pub resource_ids: Vec<String>,
    /// **Required.** Tags to set on each (`Tag.N.Key`, `Tag.N.Value`).
    pub tags: Vec<WireTag>,
}

/// The parameters of UntagResources (the batch form).
#[derive(Clone, Debug, Default)]
pub struct UntagResourcesRequest {
    /// **Required.** `secret`.
    pub resource_type: String,
    /// **Required.** 1–50 secret names or ARNs (`ResourceId.N`).
    pub resource_ids: Vec<String>,
    /// Tag keys to remove from each (`TagKey.N`).
    pub tag_keys: Vec<String>,
    /// Remove every tag. Default false. As in Alibaba's API, it takes effect only when no tag
    /// key is given: with `tag_keys`, only those keys are removed.
    pub all: bool,
}

/// The parameters of ListTagResources.
#[derive(Clone, Debug, Default)]
pub struct ListTagResourcesRequest {
    /// **Required.** `secret`.
    pub resource_type: String,
    /// **Required.** 1–50 secret names or ARNs (`ResourceId.N`).
    pub resource_ids: Vec<String>,
    /// Only tags with one of these keys (`TagKey.N`); all tags when empty.
    pub tag_keys: Vec<String>,
}

/// What the tagging operations that change tags return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagResponse {
    /// A fresh id for this request.
    pub request_id: String,
}

/// What TagResource returns.
pub type TagResourceResponse = TagResponse;
/// What UntagResource returns.
pub type UntagResourceResponse = TagResponse;
/// What TagResources returns.
pub type TagResourcesResponse = TagResponse;
/// What UntagResources returns.
pub type UntagResourcesResponse = TagResponse;

/// One tag of one resource in a ListTagResources answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagResourceEntry {
    /// The secret's name.
    pub resource_id: String,
    /// `secret`.
    pub resource_type: String,
    /// The tag key.
    pub tag_key: String,
    /// The tag value.
    pub tag_value: String,
}

/// What ListTagResources returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListTagResourcesResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// Every tag of every named secret (only the tags whose key is in the request's
    /// `tag_keys`, when it names any), in the order the secrets were named; a secret named
    /// twice is listed once.
    pub tag_resources: Vec<TagResourceEntry>,
}

/// The most resources one batch request may name.
const RESOURCES_MAX: usize = 50;

fn set_tags(record: &mut SecretRecord, tags: &TagSet) -> Result<(), Error> {
    for tag in tags.tags() {
        match record.tags.iter_mut().find(|t| t.key() == tag.key()) {
            Some(existing) => *existing = tag.clone(),
            None => record.tags.push(tag.clone()),
        }
    }
    if record.tags.len() > limits::TAGS_PER_SECRET_MAX {
        return Err(Error::LimitExceeded(format!(
            "a secret may carry at most {} tags; this change would make {}",
            limits::TAGS_PER_SECRET_MAX,
            record.tags.len()
        )));
    }
    Ok(())
}

/// The tag keys of a request, given as `parameter` (`TagKeys`, or the batch forms' `TagKey.N`,
/// named `TagKey`).
fn parse_keys(keys: &[String], parameter: &'static str) -> Result<Vec<String>, Error> {
    if keys.len() > limits::TAGS_PER_SECRET_MAX * 5 {
        return Err(Error::invalid(
            parameter,
            "too many tag keys in one request",
        ));
    }
    keys.iter()
        .map(|k| parse_tag_key(k).map_err(Error::from))
        .collect()
}

/// A write only when the tags changed: a call that changes nothing leaves `UpdateTime` alone
/// (decisions.md 9).
fn tags_step(before: &[Tag], record: &SecretRecord) -> Step<'static, ()> {
    if record.tags == before {
        Step::Keep(())
    } else {
        Step::write(())
    }
}

/// The tags of a request, given as `parameter` (`Tags`, or the batch form's `Tag.N.Key` and
/// `Tag.N.Value`, named `Tag`).
fn required_tags(tags: &[WireTag], parameter: &'static str) -> Result<TagSet, Error> {
    if tags.is_empty() {
        return Err(ValidationError::missing(parameter).into());
    }
    Ok(TagSet::new_as(
        parameter,
        tags.iter().map(|t| (&t.tag_key, &t.tag_value)),
    )?)
}

impl SecretsManager {
    /// Sets tags on a secret; a key it already has gets the new value.
    ///
    /// Errors: `InvalidParameter` / `MissingParameter` naming `Tags`, `TagKey` or `TagValue`;
    /// `Rejected.LimitExceeded` past 20 tags; `Forbidden.ResourceNotFound`;
    /// `Rejected.ResourceInDeleteWindow`; `Forbidden.NoPermission`.
    pub fn tag_resource(&self, req: TagResourceRequest) -> Result<TagResourceResponse, Error> {
        self.run(
            Action::TagResource,
            Some(&req.secret_name.clone()),
            None,
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                let tags = required_tags(&req.tags, "Tags")?;
                let name = self.authorize_secret(Action::TagResource, target)?;
                self.mutate(&name, Pending::Refuse, |record, _| {
                    let before = record.tags.clone();
                    set_tags(record, &tags)?;
                    Ok(tags_step(&before, record))
                })?;
                Ok(TagResponse {
                    request_id: request_id.to_owned(),
                })
            },
            |_| None,
        )
    }

    /// Removes tags from a secret by key; absent keys are not an error.
    ///
    /// Errors: `InvalidParameter` / `MissingParameter` naming `TagKeys` or `TagKey`;
    /// `Forbidden.ResourceNotFound`; `Rejected.ResourceInDeleteWindow`; `Forbidden.NoPermission`.
    pub fn untag_resource(
        &self,
        req: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, Error> {
        self.run(
            Action::UntagResource,
            Some(&req.secret_name.clone()),
            None,
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                if req.tag_keys.is_empty() {
                    return Err(ValidationError::missing("TagKeys").into());
                }
                let keys = parse_keys(&req.tag_keys, "TagKeys")?;
                let name = self.authorize_secret(Action::UntagResource, target)?;
                self.mutate(&name, Pending::Refuse, |record, _| {
                    let before = record.tags.clone();
                    record.tags.retain(|t| !keys.iter().any(|k| k == t.key()));
                    Ok(tags_step(&before, record))
                })?;
                Ok(TagResponse {
                    request_id: request_id.to_owned(),
                })
            },
            |_| None,
        )
    }

    /// Sets tags on several secrets. Every secret is checked first (exists, not pending
    /// deletion, room for the tags); then each is tagged in its own atomic step.
    ///
    /// Errors: as [`SecretsManager::tag_resource`], with the tags named `Tag` (the batch form
    /// `Tag.N.Key` / `Tag.N.Value`) instead of `Tags`, plus `InvalidParameter` naming
    /// `ResourceType` or `ResourceId`.
    pub fn tag_resources(&self, req: TagResourcesRequest) -> Result<TagResourcesResponse, Error> {
        self.run(
            Action::TagResources,
            req.resource_ids.first().map(String::as_str),
            None,
            |request_id| {
                let targets = self.resolve_resources(&req.resource_type, &req.resource_ids)?;
                let tags = required_tags(&req.tags, "Tag")?;
                let names = self.authorize_secrets(Action::TagResources, targets)?;
                for name in &names {
                    let mut record = self.batch_target(name)?;
                    set_tags(&mut record, &tags)?;
                }
                for name in &names {
                    self.mutate(name, Pending::Refuse, |record, _| {
                        let before = record.tags.clone();
                        set_tags(record, &tags)?;
                        Ok(tags_step(&before, record))
                    })?;
                }
                Ok(TagResponse {
                    request_id: request_id.to_owned(),
                })
            },
            |_| None,
        )
    }

    /// Removes tags (by key, or all) from several secrets; each in its own atomic step, after
    /// checking every secret first.
    ///
    /// Errors: as [`SecretsManager::untag_resource`], plus `InvalidParameter` naming
    /// `ResourceType` or `ResourceId`.
    pub fn untag_resources(
        &self,
        req: UntagResourcesRequest,
    ) -> Result<UntagResourcesResponse, Error> {
        self.run(
            Action::UntagResources,
            req.resource_ids.first().map(String::as_str),
            None,
            |request_id| {
                let targets = self.resolve_resources(&req.resource_type, &req.resource_ids)?;
                if req.tag_keys.is_empty() && !req.all {
                    return Err(ValidationError::missing("TagKey").into());
                }
                let keys = parse_keys(&req.tag_keys, "TagKey")?;
                // `All` counts only without tag keys (Alibaba: it "takes effect only when you
                // specify an empty tag key").
                let remove_all = req.all && keys.is_empty();
                let names = self.authorize_secrets(Action::UntagResources, targets)?;
                for name in &names {
                    self.batch_target(name)?;
                }
                for name in &names {
                    self.mutate(name, Pending::Refuse, |record, _| {
                        let before = record.tags.clone();
                        record
                            .tags
                            .retain(|t: &Tag| !remove_all && !keys.iter().any(|k| k == t.key()));
                        Ok(tags_step(&before, record))
                    })?;
                }
                Ok(TagResponse {
                    request_id: request_id.to_owned(),
                })
            },
            |_| None,
        )
    }

    /// Lists the tags of several secrets.
    ///
    /// Errors: `InvalidParameter` naming `ResourceType`, `ResourceId` or `TagKey`;
    /// `Forbidden.ResourceNotFound`; `Rejected.ResourceInDeleteWindow`; `Forbidden.NoPermission`.
    pub fn list_tag_resources(
        &self,
        req: ListTagResourcesRequest,
    ) -> Result<ListTagResourcesResponse, Error> {
        self.run(
            Action::ListTagResources,
            req.resource_ids.first().map(String::as_str),
            None,
            |request_id| {
                let targets = self.resolve_resources(&req.resource_type, &req.resource_ids)?;
                let keys = parse_keys(&req.tag_keys, "TagKey")?;
                let names = self.authorize_secrets(Action::ListTagResources, targets)?;
                let mut tag_resources = Vec::new();
                for name in &names {
                    let record = self.batch_target(name)?;
                    tag_resources.extend(
                        record
                            .tags
                            .iter()
                            .filter(|t| keys.is_empty() || keys.iter().any(|k| k == t.key()))
                            .map(|t| TagResourceEntry {
                                resource_id: name.to_string(),
                                resource_type: "secret".to_owned(),
                                tag_key: t.key().to_owned(),
                                tag_value: t.value().to_owned(),
                            }),
                    );
                }
                Ok(ListTagResourcesResponse {
                    request_id: request_id.to_owned(),
                    tag_resources,
                })
            },
            |_| None,
        )
    }

    fn resolve_resources(&self, kind: &str, ids: &[String]) -> Result<Vec<Target>, Error> {
        if kind.is_empty() {
            return Err(ValidationError::missing("ResourceType").into());
        }
        if !kind.eq_ignore_ascii_case("secret") {
            return Err(Error::invalid(
                "ResourceType",
                "only \"secret\" resources are kept by this store",
            ));
        }
        if ids.is_empty() {
            return Err(ValidationError::missing("ResourceId").into());
        }
        if ids.len() > RESOURCES_MAX {
            return Err(Error::invalid(
                "ResourceId",
                format!("at most {RESOURCES_MAX} resources may be named"),
            ));
        }
        let mut targets: Vec<Target> = Vec::with_capacity(ids.len());
        for id in ids {
            let target = self.resolve_name_in("ResourceId", id)?;
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        Ok(targets)
    }

    /// The live record of a secret a batch operation names: it must exist and not be pending
    /// deletion.
    fn batch_target(&self, name: &SecretName) -> Result<SecretRecord, Error> {
        let record = self
            .live_record(name)?
            .ok_or_else(|| secret_not_found(name))?;
        ensure_not_pending(&record)?;
        Ok(record)
    }
}
