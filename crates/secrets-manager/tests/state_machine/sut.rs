//! The system under test, and how its answers are checked: each transition runs on a real
//! `SecretsManager` and its response (or error code) is compared with the model's, request ids
//! must be fresh lowercase UUIDs, and every version the model holds must decrypt to what was
//! written. Shared by the proptest state machine (`state_machine.rs`) and the
//! `facade_vs_model` fuzz target, so it depends on no test runner.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use secret_model::WireTag;
use secret_storage::Storage;
use secrets_manager::{
    CreateSecretRequest, DeleteSecretRequest, DescribeSecretRequest, Error, GetSecretValueRequest,
    ListSecretVersionIdsRequest, ListSecretsRequest, ListTagResourcesRequest, ManualClock,
    PutSecretValueRequest, RestoreSecretRequest, SecretsManager, TagResourceRequest,
    TagResourcesRequest, TagResponse, UntagResourceRequest, UntagResourcesRequest,
    UpdateSecretRequest, UpdateSecretVersionStageRequest,
};

use crate::invariants;
use crate::model::{Expected, Model, Outcome, PasswordRules};
use crate::responses::{Response, Tagged, is_lowercase_uuid};
use crate::rules::{Params, Target};
use crate::stats;
use crate::transitions::{PutArgs, Transition};

/// The store under test, the storage beneath it, its clock, and what the checks remember
/// between steps.
pub struct Sut {
    store: SecretsManager,
    storage: Arc<dyn Storage>,
    clock: ManualClock,
    request_ids: HashSet<String>,
    default_key: Option<String>,
    seen: RefCell<invariants::SeenPayloads>,
}

/// The secrets of this store a transition names (valid names only).
fn touched(t: &Transition) -> Vec<String> {
    let names: Vec<&str> = match t {
        Transition::Create(a) => vec![&a.name],
        Transition::Put(a) => vec![&a.name],
        Transition::PutBurst(puts) => puts.iter().map(|p| p.name.as_str()).collect(),
        Transition::Get { name, .. }
        | Transition::UpdateStage { name, .. }
        | Transition::Delete { name, .. }
        | Transition::Restore { name } => vec![name],
        _ => vec![],
    };
    names
        .into_iter()
        .filter_map(|n| match Params::default().name(n) {
            Some(Target::Local(n)) => Some(n),
            _ => None,
        })
        .collect()
}

fn wire(tags: &[(String, String)]) -> Vec<WireTag> {
    tags.iter()
        .map(|(k, v)| WireTag {
            tag_key: k.clone(),
            tag_value: v.clone(),
        })
        .collect()
}

fn put_request(a: &PutArgs) -> PutSecretValueRequest {
    PutSecretValueRequest {
        secret_name: a.name.clone(),
        version_id: a.version_id.clone(),
        secret_data: a.data.bytes().into(),
        secret_data_type: a.data_type,
        version_stages: a.stages.clone(),
    }
}

impl Sut {
    pub fn new(store: SecretsManager, storage: Arc<dyn Storage>, clock: ManualClock) -> Self {
        Sut {
            store,
            storage,
            clock,
            request_ids: HashSet::new(),
            default_key: None,
            seen: RefCell::default(),
        }
    }

    /// Runs `t` (which the model has applied) and reads back every version of the secrets it
    /// names.
    pub fn step(&mut self, model: &Model, t: &Transition) {
        self.run(model, t);
        for name in touched(t) {
            self.check_values(model, &name);
        }
    }

    /// The storage invariants of `invariants.rs`, against the model.
    pub fn check_invariants(&self, model: &Model) {
        invariants::check(self.storage.as_ref(), model, &mut self.seen.borrow_mut());
    }

    /// Reads back every version of every secret the model holds.
    pub fn check_every_value(&mut self, model: &Model) {
        for name in model.secrets.keys() {
            self.check_values(model, name);
        }
    }

    fn fresh_request_id(&mut self, op: &str, id: String) {
        assert!(
            is_lowercase_uuid(&id),
            "{op}: the request id {id:?} is not a lowercase UUID"
        );
        assert!(
            self.request_ids.insert(id.clone()),
            "{op}: request id {id} was answered before"
        );
    }

    fn compare<T: Response>(&mut self, op: &str, actual: Result<T, Error>, expected: &Outcome<T>) {
        stats::note(op, actual.as_ref().err().map(Error::code));
        match (actual, expected) {
            (Ok(mut a), Ok(e)) => {
                let id = std::mem::take(a.request_id());
                self.fresh_request_id(op, id);
                a.normalize();
                assert!(
                    a == *e,
                    "{op}: the facade answered\n{}\nthe model\n{}",
                    a.show(),
                    e.show()
                );
            }
            (Err(err), Err(codes)) => assert!(
                codes.contains(&err.code()),
                "{op}: the facade failed with {} ({err}); the model expects one of {codes:?}",
                err.code()
            ),
            (Ok(a), Err(codes)) => {
                panic!(
                    "{op}: the facade answered {}; the model expects {codes:?}",
                    a.show()
                )
            }
            (Err(err), Ok(e)) => panic!(
                "{op}: the facade failed with {} ({err}); the model expects {}",
                err.code(),
                e.show()
            ),
        }
    }

    /// Runs `t` on the store and checks its answer against the model's (`model.last`, so the
    /// model must have applied `t` first).
    pub fn run(&mut self, model: &Model, t: &Transition) {
        let store = self.store.clone();
        match (t, &model.last) {
            (Transition::Create(a), Expected::Create(e)) => {
                let r = store.create_secret(CreateSecretRequest {
                    secret_name: a.name.clone(),
                    secret_data: a.data.bytes().into(),
                    version_id: a.version_id.clone(),
                    secret_data_type: a.data_type,
                    encryption_key_id: a.key.clone(),
                    description: a.description.clone(),
                    tags: wire(&a.tags),
                });
                self.compare("CreateSecret", r, e);
            }
            (
                Transition::Get {
                    name,
                    version_id,
                    stage,
                },
                Expected::Get(e),
            ) => {
                let r = store.get_secret_value(GetSecretValueRequest {
                    secret_name: name.clone(),
                    version_id: version_id.clone(),
                    version_stage: stage.clone(),
                });
                self.compare("GetSecretValue", r, e);
            }
            (Transition::Put(a), Expected::Put(e)) => {
                self.compare("PutSecretValue", store.put_secret_value(put_request(a)), e);
            }
            (Transition::PutBurst(puts), Expected::PutBurst(es)) => {
                for (a, e) in puts.iter().zip(es) {
                    self.compare("PutSecretValue", store.put_secret_value(put_request(a)), e);
                }
            }
            (
                Transition::UpdateStage {
                    name,
                    stage,
                    remove_from,
                    move_to,
                },
                Expected::UpdateStage(e),
            ) => {
                let r = store.update_secret_version_stage(UpdateSecretVersionStageRequest {
                    secret_name: name.clone(),
                    version_stage: stage.clone(),
                    remove_from_version: remove_from.clone(),
                    move_to_version: move_to.clone(),
                });
                self.compare("UpdateSecretVersionStage", r, e);
            }
            (
                Transition::ListVersions {
                    name,
                    include_deprecated,
                    page_number,
                    page_size,
                },
                Expected::ListVersions(e),
            ) => {
                let r = store.list_secret_version_ids(ListSecretVersionIdsRequest {
                    secret_name: name.clone(),
                    include_deprecated: *include_deprecated,
                    page_number: *page_number,
                    page_size: *page_size,
                });
                self.compare("ListSecretVersionIds", r, e);
            }
            (Transition::Describe { name, fetch_tags }, Expected::Describe(e)) => {
                let r = store.describe_secret(DescribeSecretRequest {
                    secret_name: name.clone(),
                    fetch_tags: *fetch_tags,
                });
                let r = r.map(|mut d| {
                    let key = std::mem::take(&mut d.encryption_key_id);
                    assert!(!key.is_empty(), "DescribeSecret: no EncryptionKeyId");
                    let default = self.default_key.get_or_insert_with(|| key.clone());
                    assert_eq!(&key, default, "every secret is under the default key");
                    d
                });
                self.compare("DescribeSecret", r, e);
            }
            (Transition::Update { name, description }, Expected::Update(e)) => {
                let r = store.update_secret(UpdateSecretRequest {
                    secret_name: name.clone(),
                    description: description.clone(),
                });
                self.compare("UpdateSecret", r, e);
            }
            (
                Transition::Delete {
                    name,
                    window,
                    force,
                },
                Expected::Delete(e),
            ) => {
                let r = store.delete_secret(DeleteSecretRequest {
                    secret_name: name.clone(),
                    recovery_window_in_days: *window,
                    force_delete_without_recovery: *force,
                });
                self.compare("DeleteSecret", r, e);
            }
            (Transition::Restore { name }, Expected::Restore(e)) => {
                let r = store.restore_secret(RestoreSecretRequest {
                    secret_name: name.clone(),
                });
                self.compare("RestoreSecret", r, e);
            }
            (
                Transition::ListSecrets {
                    page_number,
                    page_size,
                    fetch_tags,
                    filters,
                },
                Expected::ListSecrets(e),
            ) => {
                let r = store.list_secrets(ListSecretsRequest {
                    page_number: *page_number,
                    page_size: *page_size,
                    fetch_tags: *fetch_tags,
                    filters: filters.to_param(),
                });
                self.compare("ListSecrets", r, e);
            }
            (Transition::Tag { name, tags }, Expected::Tagged(e)) => {
                let r = store.tag_resource(TagResourceRequest {
                    secret_name: name.clone(),
                    tags: wire(tags),
                });
                self.compare_tagged("TagResource", r, e);
            }
            (Transition::Untag { name, keys }, Expected::Tagged(e)) => {
                let r = store.untag_resource(UntagResourceRequest {
                    secret_name: name.clone(),
                    tag_keys: keys.clone(),
                });
                self.compare_tagged("UntagResource", r, e);
            }
            (
                Transition::TagMany {
                    resource_type,
                    ids,
                    tags,
                },
                Expected::Tagged(e),
            ) => {
                let r = store.tag_resources(TagResourcesRequest {
                    resource_type: resource_type.clone(),
                    resource_ids: ids.clone(),
                    tags: wire(tags),
                });
                self.compare_tagged("TagResources", r, e);
            }
            (
                Transition::UntagMany {
                    resource_type,
                    ids,
                    keys,
                    all,
                },
                Expected::Tagged(e),
            ) => {
                let r = store.untag_resources(UntagResourcesRequest {
                    resource_type: resource_type.clone(),
                    resource_ids: ids.clone(),
                    tag_keys: keys.clone(),
                    all: *all,
                });
                self.compare_tagged("UntagResources", r, e);
            }
            (
                Transition::ListTags {
                    resource_type,
                    ids,
                    keys,
                },
                Expected::ListTags(e),
            ) => {
                let r = store.list_tag_resources(ListTagResourcesRequest {
                    resource_type: resource_type.clone(),
                    resource_ids: ids.clone(),
                    tag_keys: keys.clone(),
                });
                self.compare("ListTagResources", r, e);
            }
            (Transition::Password(o), Expected::Password(e)) => {
                let r = store.get_random_password(o.clone());
                self.check_password(r, e);
            }
            (Transition::Advance(secs), Expected::Clock) => self.clock.advance(*secs),
            (Transition::Purge, Expected::Purge(may_linger)) => {
                let stale = invariants::stale_names(self.storage.as_ref(), model);
                assert!(
                    stale.is_subset(may_linger),
                    "storage holds {stale:?}; only {may_linger:?} may linger"
                );
                let purged = store.purge_expired_secrets().expect("purge succeeds");
                assert_eq!(
                    purged,
                    stale.len(),
                    "purge_expired_secrets counts what it purged"
                );
            }
            (
                Transition::RotateSealKey,
                Expected::Rotated {
                    secrets,
                    may_linger,
                },
            ) => {
                let done = store.rotate_record_seal_key().expect("a rotation succeeds");
                let checked = usize::try_from(done.records_checked).unwrap();
                if self.storage.records_leave_the_process() {
                    assert!(
                        (*secrets..=secrets + may_linger).contains(&checked),
                        "checked {checked} records; {secrets} secrets, {may_linger} may linger"
                    );
                    assert_eq!(
                        done.records_resealed, done.records_checked,
                        "every record was under the key the rotation replaced"
                    );
                } else {
                    assert_eq!(checked, 0, "an unsealed backend has no seals to check");
                }
            }
            (t, e) => unreachable!("the model answered {e:?} to {t:?}"),
        }
    }

    fn compare_tagged(
        &mut self,
        op: &str,
        actual: Result<TagResponse, Error>,
        expected: &Outcome<()>,
    ) {
        let actual = actual.map(|r| Tagged(r.request_id));
        let expected = expected.clone().map(|()| Tagged(String::new()));
        self.compare(op, actual, &expected);
    }

    fn check_password(
        &mut self,
        actual: Result<secrets_manager::GetRandomPasswordResponse, Error>,
        expected: &Outcome<PasswordRules>,
    ) {
        let (r, rules) = match (actual, expected) {
            (Ok(r), Ok(rules)) => (r, rules),
            (Err(err), Err(codes)) if codes.contains(&err.code()) => return,
            (actual, expected) => panic!(
                "GetRandomPassword: the facade answered {:?}; the model expects {expected:?}",
                actual.map(|_| "a password").map_err(|e| e.code())
            ),
        };
        self.fresh_request_id("GetRandomPassword", r.request_id.clone());
        let password =
            std::str::from_utf8(r.random_password.expose()).expect("a password is ASCII");
        assert_eq!(
            password.chars().count(),
            rules.length,
            "GetRandomPassword: length"
        );
        for c in password.chars() {
            assert!(
                rules.pools.iter().any(|p| p.contains(&c)),
                "GetRandomPassword: {c:?} is excluded"
            );
        }
        if rules.require_each {
            for pool in &rules.pools {
                assert!(
                    password.chars().any(|c| pool.contains(&c)),
                    "GetRandomPassword: no character of {pool:?}"
                );
            }
        }
    }

    /// Every version of `name` (when it exists and is not pending deletion) decrypts to exactly
    /// what was written, with its type, labels and time.
    fn check_values(&mut self, model: &Model, name: &str) {
        let Some(secret) = model.secrets.get(name) else {
            return;
        };
        if secret.planned_delete_time.is_some() {
            return;
        }
        for v in &secret.versions {
            let got = self
                .store
                .get_secret_value(GetSecretValueRequest {
                    secret_name: name.to_owned(),
                    version_id: Some(v.id.clone()),
                    version_stage: None,
                })
                .unwrap_or_else(|e| panic!("{name:?} version {:?} does not read back: {e}", v.id));
            self.fresh_request_id("GetSecretValue", got.request_id.clone());
            assert!(
                got.secret_data.expose() == v.value.as_slice(),
                "{name:?} version {:?} decrypts to other bytes",
                v.id
            );
            assert_eq!(
                got.secret_data_type, v.data_type,
                "{name:?} version {:?}: type",
                v.id
            );
            let mut labels = got.version_stages.clone();
            labels.sort();
            assert_eq!(labels, v.labels.iter().cloned().collect::<Vec<_>>());
            assert_eq!(got.create_time.unix(), v.create_time);
        }
    }
}
