//! The reference model: a plain in-memory store written from SPEC.md §2–§4 and
//! docs/decisions.md alone. It never looks at how the facade does things; every operation
//! answers the response it must give, or the error code(s) it may give.

use std::collections::{BTreeMap, BTreeSet};

use secret_model::{ErrorCode, SecretDataType, Timestamp, WireTag};
use secrets_manager::{
    CreateSecretResponse, DeleteSecretResponse, DescribeSecretResponse, GetSecretValueResponse,
    ListSecretVersionIdsResponse, ListSecretsResponse, ListTagResourcesResponse,
    PutSecretValueResponse, RestoreSecretResponse, UpdateSecretResponse,
    UpdateSecretVersionStageResponse,
};

use crate::common::START;
use crate::rules::{self, Params, Target};
use crate::transitions::{CreateArgs, PutArgs, Transition};

pub const CURRENT: &str = "ACSCurrent";
pub const PREVIOUS: &str = "ACSPrevious";
const DAY: i64 = 86_400;
const VERSIONS_MAX: usize = 10;
const LABELS_MAX: usize = 8;

/// The error codes an operation may answer with: one, except where SPEC leaves the order of
/// two failed checks open (several invalid parameters, several failing batch resources).
pub type Codes = Vec<ErrorCode>;
/// What an operation must answer.
pub type Outcome<T> = Result<T, Codes>;

pub fn fail<T>(code: ErrorCode) -> Outcome<T> {
    Err(vec![code])
}

pub fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub id: String,
    pub value: Vec<u8>,
    pub data_type: SecretDataType,
    pub labels: BTreeSet<String>,
    pub create_time: i64,
    /// Written by the CreateSecret that made the secret (not added by a put).
    pub with_secret: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Oldest first.
    pub versions: Vec<Version>,
    pub create_time: i64,
    pub update_time: i64,
    pub planned_delete_time: Option<i64>,
    /// Bumped each time a secret of this name is created, to tell incarnations apart.
    pub generation: u64,
}

impl Secret {
    pub fn version(&self, id: &str) -> Option<usize> {
        self.versions.iter().position(|v| v.id == id)
    }

    pub fn holder(&self, label: &str) -> Option<usize> {
        self.versions.iter().position(|v| v.labels.contains(label))
    }

    pub fn distinct_labels(&self) -> usize {
        self.versions
            .iter()
            .flat_map(|v| v.labels.iter())
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Takes `label` off whichever version holds it; returns that version.
    fn take_label(&mut self, label: &str) -> Option<usize> {
        let i = self.holder(label)?;
        self.versions[i].labels.remove(label);
        Some(i)
    }

    pub fn labels_of(&self, i: usize) -> Vec<String> {
        self.versions[i].labels.iter().cloned().collect()
    }

    pub fn wire_tags(&self) -> Vec<WireTag> {
        self.tags
            .iter()
            .map(|(k, v)| WireTag {
                tag_key: k.clone(),
                tag_value: v.clone(),
            })
            .collect()
    }
}

/// What a GetRandomPassword answer must satisfy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordRules {
    pub length: usize,
    /// Each included character type, less the excluded characters.
    pub pools: Vec<Vec<char>>,
    pub require_each: bool,
}

/// The model's answer to the last transition.
#[derive(Clone, Debug)]
pub enum Expected {
    None,
    Create(Outcome<CreateSecretResponse>),
    Get(Outcome<GetSecretValueResponse>),
    Put(Outcome<PutSecretValueResponse>),
    PutBurst(Vec<Outcome<PutSecretValueResponse>>),
    UpdateStage(Outcome<UpdateSecretVersionStageResponse>),
    ListVersions(Outcome<ListSecretVersionIdsResponse>),
    Describe(Outcome<DescribeSecretResponse>),
    Update(Outcome<UpdateSecretResponse>),
    Delete(Outcome<DeleteSecretResponse>),
    Restore(Outcome<RestoreSecretResponse>),
    ListSecrets(Outcome<ListSecretsResponse>),
    /// The four tag-changing operations answer only a request id.
    Tagged(Outcome<()>),
    ListTags(Outcome<ListTagResourcesResponse>),
    Password(Outcome<PasswordRules>),
    Clock,
    /// `purge_expired_secrets`: the names that may still linger in storage before it runs.
    Purge(BTreeSet<String>),
    /// `rotate_record_seal_key`: the records it may find — every secret's, and those of the
    /// names that may linger.
    Rotated {
        secrets: usize,
        may_linger: usize,
    },
}

#[derive(Clone, Debug)]
pub struct Model {
    pub now: i64,
    /// Every secret that exists, pending deletion or not, in name order.
    pub secrets: BTreeMap<String, Secret>,
    /// Names whose planned delete time passed: their records may linger in storage until a
    /// read meets them or `purge_expired_secrets` runs, but they behave as absent.
    pub lingering: BTreeSet<String>,
    generations: u64,
    pub last: Expected,
}

impl Model {
    pub fn new() -> Self {
        Model {
            now: START,
            secrets: BTreeMap::new(),
            lingering: BTreeSet::new(),
            generations: 0,
            last: Expected::None,
        }
    }

    /// The version ids `name` holds now (none when it does not exist).
    pub fn version_ids(&self, name: &str) -> Vec<String> {
        self.secrets
            .get(name)
            .map(|s| s.versions.iter().map(|v| v.id.clone()).collect())
            .unwrap_or_default()
    }

    pub fn apply(&mut self, t: &Transition) {
        self.last = match t {
            Transition::Create(a) => Expected::Create(self.create(a)),
            Transition::Get {
                name,
                version_id,
                stage,
            } => Expected::Get(self.get(name, version_id, stage)),
            Transition::Put(a) => Expected::Put(self.put(a)),
            Transition::PutBurst(puts) => {
                Expected::PutBurst(puts.iter().map(|a| self.put(a)).collect())
            }
            Transition::UpdateStage {
                name,
                stage,
                remove_from,
                move_to,
            } => Expected::UpdateStage(self.update_stage(name, stage, remove_from, move_to)),
            Transition::ListVersions {
                name,
                include_deprecated,
                page_number,
                page_size,
            } => Expected::ListVersions(self.list_versions(
                name,
                *include_deprecated,
                *page_number,
                *page_size,
            )),
            Transition::Describe { name, fetch_tags } => {
                Expected::Describe(self.describe(name, *fetch_tags))
            }
            Transition::Update { name, description } => {
                Expected::Update(self.update(name, description))
            }
            Transition::Delete {
                name,
                window,
                force,
            } => Expected::Delete(self.delete(name, *window, *force)),
            Transition::Restore { name } => Expected::Restore(self.restore(name)),
            Transition::ListSecrets {
                page_number,
                page_size,
                fetch_tags,
                filters,
            } => Expected::ListSecrets(self.list_secrets(
                *page_number,
                *page_size,
                *fetch_tags,
                filters,
            )),
            Transition::Tag { name, tags } => Expected::Tagged(self.tag(name, tags)),
            Transition::Untag { name, keys } => Expected::Tagged(self.untag(name, keys)),
            Transition::TagMany {
                resource_type,
                ids,
                tags,
            } => Expected::Tagged(self.tag_many(resource_type, ids, tags)),
            Transition::UntagMany {
                resource_type,
                ids,
                keys,
                all,
            } => Expected::Tagged(self.untag_many(resource_type, ids, keys, *all)),
            Transition::ListTags {
                resource_type,
                ids,
                keys,
            } => Expected::ListTags(self.list_tags(resource_type, ids, keys)),
            Transition::Password(o) => Expected::Password(crate::model_tags::password(o)),
            Transition::Advance(secs) => {
                self.advance(*secs);
                Expected::Clock
            }
            Transition::Purge => Expected::Purge(std::mem::take(&mut self.lingering)),
            Transition::RotateSealKey => Expected::Rotated {
                secrets: self.secrets.len(),
                may_linger: self.lingering.len(),
            },
        };
    }

    fn advance(&mut self, secs: i64) {
        self.now += secs;
        let now = self.now;
        let expired: Vec<String> = self
            .secrets
            .iter()
            .filter(|(_, s)| {
                s.planned_delete_time
                    .is_some_and(|p| rules::is_past(p, now))
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in expired {
            crate::stats::event("model: expiry");
            if self.secrets[&name].planned_delete_time == Some(now) {
                crate::stats::event("model: expiry on the planned second");
            }
            self.secrets.remove(&name);
            self.lingering.insert(name);
        }
    }

    /// The secret `target` names, after parameter validation: not found, pending deletion
    /// (when `live` is asked for), or its name.
    pub fn existing(&self, target: Target, live: bool) -> Result<String, Codes> {
        let Target::Local(name) = target else {
            return fail(ErrorCode::ResourceNotFound);
        };
        match self.secrets.get(&name) {
            None => fail(ErrorCode::ResourceNotFound),
            Some(s) if live && s.planned_delete_time.is_some() => {
                fail(ErrorCode::ResourceInDeleteWindow)
            }
            Some(_) => Ok(name),
        }
    }

    fn create(&mut self, a: &CreateArgs) -> Outcome<CreateSecretResponse> {
        let mut p = Params::default();
        let target = p.name(&a.name);
        let version_id = p.required(&a.version_id, rules::is_version_id);
        let data_type = a.data_type.unwrap_or_default();
        let value = a.data.bytes();
        p.data(&value, data_type);
        let key = p.optional(&a.key, |_| true);
        p.description(&a.description);
        p.tags(&a.tags, false);
        p.finish()?;
        let (target, version_id) = (target.expect("valid"), version_id.expect("valid"));
        // Only keys that do not exist are ever named: the key check precedes the name's.
        if key.flatten().is_some() {
            return fail(ErrorCode::KeyNotFound);
        }
        let Target::Local(name) = target else {
            return fail(ErrorCode::ResourceNotFound);
        };
        let response = CreateSecretResponse {
            request_id: String::new(),
            arn: crate::transitions::arn(&name),
            secret_name: name.clone(),
            version_id: version_id.clone(),
            secret_type: "Generic".to_owned(),
        };
        if let Some(s) = self.secrets.get(&name) {
            if s.planned_delete_time.is_some() {
                return fail(ErrorCode::ResourceInDeleteWindow);
            }
            // Only the create itself: the version it wrote is still kept, and the secret still
            // has the value, description and tags it asks for.
            let created = s.versions.iter().any(|v| {
                v.with_secret && v.id == version_id && v.value == value && v.data_type == data_type
            });
            let tags_of = |tags: &[(String, String)]| tags.iter().cloned().collect::<BTreeSet<_>>();
            let retry = created
                && s.description == a.description.clone().filter(|d| !d.is_empty())
                && tags_of(&s.tags) == tags_of(&a.tags);
            return if retry {
                crate::stats::event("model: create retry");
                Ok(response)
            } else {
                fail(ErrorCode::ResourceExist)
            };
        }
        self.generations += 1;
        if self.lingering.remove(&name) {
            crate::stats::event("model: create over an expired record");
        }
        self.secrets.insert(
            name,
            Secret {
                description: a.description.clone().filter(|d| !d.is_empty()),
                tags: a.tags.clone(),
                versions: vec![Version {
                    id: version_id,
                    value,
                    data_type,
                    labels: BTreeSet::from([CURRENT.to_owned()]),
                    create_time: self.now,
                    with_secret: true,
                }],
                create_time: self.now,
                update_time: self.now,
                planned_delete_time: None,
                generation: self.generations,
            },
        );
        Ok(response)
    }

    fn put(&mut self, a: &PutArgs) -> Outcome<PutSecretValueResponse> {
        let mut p = Params::default();
        let target = p.name(&a.name);
        let version_id = p.required(&a.version_id, rules::is_version_id);
        let data_type = a.data_type.unwrap_or_default();
        let value = a.data.bytes();
        p.data(&value, data_type);
        let stages = match &a.stages {
            None => None,
            Some(l) if l.is_empty() => None,
            Some(l) => {
                p.check(
                    l.iter().all(|s| rules::is_label(s)),
                    ErrorCode::InvalidParameter,
                );
                Some(l.clone())
            }
        };
        p.finish()?;
        let version_id = version_id.expect("valid");
        let name = self.existing(target.expect("valid"), true)?;
        let s = &self.secrets[&name];
        let respond = |s: &Secret, i: usize| PutSecretValueResponse {
            request_id: String::new(),
            secret_name: name.clone(),
            version_id: version_id.clone(),
            version_stages: s.labels_of(i),
        };
        if let Some(i) = s.version(&version_id) {
            let v = &s.versions[i];
            return if v.value == value && v.data_type == data_type {
                crate::stats::event("model: put retry");
                Ok(respond(s, i))
            } else {
                fail(ErrorCode::ResourceExist)
            };
        }
        let mut next = s.clone();
        next.versions.push(Version {
            id: version_id.clone(),
            value,
            data_type,
            labels: BTreeSet::new(),
            create_time: self.now,
            with_secret: false,
        });
        let new = next.versions.len() - 1;
        let labels = stages.unwrap_or_else(|| vec![CURRENT.to_owned()]);
        // decisions.md 3: ACSCurrent first (with its shift), then the others in order.
        if labels.iter().any(|l| l == CURRENT) && labels.iter().any(|l| l == PREVIOUS) {
            crate::stats::event("model: put with both built-in labels");
        }
        if labels.iter().any(|l| l == CURRENT) {
            shift_current(&mut next, new);
        }
        for label in labels.iter().filter(|l| *l != CURRENT) {
            next.take_label(label);
            next.versions[new].labels.insert(label.clone());
        }
        if next.distinct_labels() > LABELS_MAX {
            return fail(ErrorCode::LimitExceeded);
        }
        let mut new = new;
        if next.versions.len() > VERSIONS_MAX {
            let oldest = next
                .versions
                .iter()
                .position(|v| v.labels.is_empty())
                .expect("at most 8 of 11 versions carry a label");
            next.versions.remove(oldest);
            new -= 1;
            crate::stats::event("model: eviction");
        }
        next.update_time = self.now;
        let response = respond(&next, new);
        self.secrets.insert(name, next);
        Ok(response)
    }

    fn update_stage(
        &mut self,
        name: &str,
        stage: &str,
        remove_from: &Option<String>,
        move_to: &Option<String>,
    ) -> Outcome<UpdateSecretVersionStageResponse> {
        let mut p = Params::default();
        let target = p.name(name);
        let stage = p.required(stage, rules::is_label);
        let remove_from = p.optional(remove_from, rules::is_version_id);
        let move_to = p.optional(move_to, rules::is_version_id);
        if let (Some(None), Some(None)) = (&remove_from, &move_to) {
            p.check(false, ErrorCode::MissingParameter);
        }
        p.finish()?;
        let (stage, remove_from, move_to) = (
            stage.expect("valid"),
            remove_from.expect("valid"),
            move_to.expect("valid"),
        );
        let name = self.existing(target.expect("valid"), true)?;
        let s = &self.secrets[&name];
        let find = |v: &Option<String>| -> Result<Option<usize>, Codes> {
            v.as_ref()
                .map(|v| s.version(v).ok_or(vec![ErrorCode::ResourceNotFound]))
                .transpose()
        };
        let (from, to) = (find(&remove_from)?, find(&move_to)?);
        let mut next = s.clone();
        match (from, to) {
            (None, Some(to)) => match s.holder(&stage) {
                Some(h) if h == to => return Ok(self.stage_response(&name)),
                Some(_) => return fail(ErrorCode::InvalidParameter),
                None => {
                    next.versions[to].labels.insert(stage.clone());
                }
            },
            (Some(from), None) => {
                // A label rule, so after the versions are found (decisions.md 6).
                if stage == CURRENT || stage == PREVIOUS {
                    return fail(ErrorCode::InvalidParameter);
                }
                if !next.versions[from].labels.remove(&stage) {
                    return fail(ErrorCode::InvalidParameter);
                }
            }
            (Some(from), Some(to)) => {
                if !s.versions[from].labels.contains(&stage) {
                    return fail(ErrorCode::InvalidParameter);
                }
                if from == to {
                    crate::stats::event("model: stage moved onto its holder");
                    return Ok(self.stage_response(&name));
                }
                if stage == CURRENT {
                    crate::stats::event("model: ACSCurrent moved");
                    shift_current(&mut next, to);
                } else {
                    next.versions[from].labels.remove(&stage);
                    next.versions[to].labels.insert(stage.clone());
                }
            }
            (None, None) => unreachable!("one version is required"),
        }
        if next.distinct_labels() > LABELS_MAX {
            return fail(ErrorCode::LimitExceeded);
        }
        next.update_time = self.now;
        self.secrets.insert(name.clone(), next);
        Ok(self.stage_response(&name))
    }

    fn stage_response(&self, name: &str) -> UpdateSecretVersionStageResponse {
        UpdateSecretVersionStageResponse {
            request_id: String::new(),
            secret_name: name.to_owned(),
        }
    }

    fn update(
        &mut self,
        name: &str,
        description: &Option<String>,
    ) -> Outcome<UpdateSecretResponse> {
        let mut p = Params::default();
        let target = p.name(name);
        p.description(description);
        p.finish()?;
        let name = self.existing(target.expect("valid"), true)?;
        let now = self.now;
        let s = self.secrets.get_mut(&name).expect("exists");
        if let Some(d) = description {
            s.description = Some(d.clone()).filter(|d| !d.is_empty());
        }
        s.update_time = now;
        Ok(UpdateSecretResponse {
            request_id: String::new(),
            secret_name: name,
        })
    }

    fn delete(
        &mut self,
        name: &str,
        window: Option<u32>,
        force: bool,
    ) -> Outcome<DeleteSecretResponse> {
        let mut p = Params::default();
        let target = p.name(name);
        if let Some(w) = window {
            p.check(!force && (7..=30).contains(&w), ErrorCode::InvalidParameter);
        }
        p.finish()?;
        let name = self.existing(target.expect("valid"), false)?;
        let planned = if force {
            self.secrets.remove(&name);
            self.now
        } else {
            let now = self.now;
            let s = self.secrets.get_mut(&name).expect("exists");
            if s.planned_delete_time.is_some() {
                return fail(ErrorCode::ResourceInDeleteWindow);
            }
            let planned = now + i64::from(window.unwrap_or(30)) * DAY;
            s.planned_delete_time = Some(planned);
            s.update_time = now;
            planned
        };
        Ok(DeleteSecretResponse {
            request_id: String::new(),
            secret_name: name,
            planned_delete_time: ts(planned),
        })
    }

    fn restore(&mut self, name: &str) -> Outcome<RestoreSecretResponse> {
        let mut p = Params::default();
        let target = p.name(name);
        p.finish()?;
        let name = self.existing(target.expect("valid"), false)?;
        let now = self.now;
        let s = self.secrets.get_mut(&name).expect("exists");
        if s.planned_delete_time.take().is_none() {
            return fail(ErrorCode::InvalidParameter);
        }
        s.update_time = now;
        Ok(RestoreSecretResponse {
            request_id: String::new(),
            secret_name: name,
        })
    }
}

/// Gives `ACSCurrent` to version `to`; the version that lost it gets `ACSPrevious`, moved off
/// whichever version had that.
fn shift_current(s: &mut Secret, to: usize) {
    let old = s.take_label(CURRENT);
    if let Some(old) = old.filter(|o| *o != to) {
        s.take_label(PREVIOUS);
        s.versions[old].labels.insert(PREVIOUS.to_owned());
    }
    s.versions[to].labels.insert(CURRENT.to_owned());
}
