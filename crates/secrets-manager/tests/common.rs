//! The fixture every facade test runs on: the store on each backend, a manual clock, and
//! handles to the storage and KMS underneath.

#![allow(dead_code, unreachable_pub, missing_docs)] // a test helper module shared by several test crates

use std::sync::{Arc, Mutex};

use secret_crypto::{Kms, LocalKms, RootKey};
use secret_model::{ErrorCode, SecretName, StoreLocation, Timestamp, VersionId, WireTag};
use secret_storage::{
    MemoryStorage, RecordSeal, SecretRecord, Snapshot, Storage, Update, sealed_bytes,
};
use secret_storage_sled::SledStorage;
use secrets_manager::{
    Action, Authorizer, Builder, CreateSecretRequest, DeleteSecretRequest, DescribeSecretRequest,
    DescribeSecretResponse, Error, GetSecretValueRequest, ListSecretVersionIdsRequest,
    ListSecretVersionIdsResponse, ListSecretsRequest, ListSecretsResponse, ListTagResourcesRequest,
    ManualClock, Principal, PutSecretValueRequest, PutSecretValueResponse, RestoreSecretRequest,
    SecretsManager, TagResourceRequest, TagResourcesRequest, UntagResourceRequest,
    UntagResourcesRequest, UpdateSecretVersionStageRequest,
};

// A path, so that it resolves the same when cargo builds this file as a test of its own.
#[path = "common/constants.rs"]
mod constants;
pub use constants::{ACCOUNT, REGION, START};

pub struct Fixture {
    pub store: SecretsManager,
    pub storage: Arc<dyn Storage>,
    pub kms: Arc<LocalKms>,
    pub clock: ManualClock,
    pub denials: Arc<Denials>,
    _dir: Option<tempfile::TempDir>,
}

/// An authorizer that denies what a test lists and allows the rest.
#[derive(Default)]
pub struct Denials(Mutex<Vec<(Action, String)>>);

impl Denials {
    pub fn deny(&self, action: Action, resource: impl Into<String>) {
        self.0.lock().unwrap().push((action, resource.into()));
    }

    /// Allows everything again.
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Authorizer for Denials {
    fn is_allowed(&self, _: &Principal, action: Action, resource: &str) -> bool {
        !self
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|(a, r)| *a == action && r == resource)
    }
}

fn build(
    storage: Arc<dyn Storage>,
    dir: Option<tempfile::TempDir>,
    configure: impl FnOnce(Builder) -> Builder,
) -> Fixture {
    let kms = Arc::new(LocalKms::in_memory(RootKey::generate().unwrap()));
    let clock = ManualClock::new(Timestamp::from_unix(START));
    let denials = Arc::new(Denials::default());
    let builder = SecretsManager::builder(Arc::clone(&storage), kms.clone())
        .location(StoreLocation::new(REGION, ACCOUNT).unwrap())
        .clock(Arc::new(clock.clone()))
        .authorizer(denials.clone());
    let store = configure(builder).build();
    Fixture {
        store,
        storage,
        kms,
        clock,
        denials,
        _dir: dir,
    }
}

pub fn memory() -> Fixture {
    memory_with(|b| b)
}

pub fn sled() -> Fixture {
    sled_with(|b| b)
}

/// The memory fixture, with `configure` applied to the store's builder last (an audit sink…).
pub fn memory_with(configure: impl FnOnce(Builder) -> Builder) -> Fixture {
    build(Arc::new(MemoryStorage::new()), None, configure)
}

/// The sled fixture, with `configure` applied to the store's builder last.
pub fn sled_with(configure: impl FnOnce(Builder) -> Builder) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = SledStorage::open(dir.path().join("data")).unwrap();
    build(Arc::new(storage), Some(dir), configure)
}

/// Runs `test` on every backend.
pub fn on_every_backend(test: impl Fn(Fixture)) {
    test(memory());
    test(sled());
}

impl Fixture {
    pub fn record(&self, name: &str) -> Option<SecretRecord> {
        self.storage
            .read(&SecretName::parse(name).unwrap())
            .unwrap()
    }

    /// Rewrites a stored record directly, bypassing the facade's rules, and seals it again
    /// (as the facade would) if it was sealed.
    pub fn rewrite(&self, name: &str, change: impl Fn(&mut SecretRecord)) {
        let key = self.kms.record_seal_key().unwrap();
        self.storage
            .update(&SecretName::parse(name).unwrap(), &mut |current| {
                let mut record = current.expect("the secret exists").clone();
                change(&mut record);
                if record.seal.is_some() {
                    record.seal = Some(RecordSeal(key.seal(&sealed_bytes(&record))));
                }
                Update::Write {
                    record,
                    put_payloads: vec![],
                    delete_payloads: vec![],
                }
            })
            .unwrap();
    }

    /// Creates `name` with a first version `version` holding `data`.
    pub fn create(&self, name: &str, version: &str, data: &str) {
        self.store
            .create_secret(create_request(name, version, data))
            .unwrap();
    }

    /// Puts version `version` holding `data` with the default stages.
    pub fn put(&self, name: &str, version: &str, data: &str) -> PutSecretValueResponse {
        self.store
            .put_secret_value(put_request(name, version, data))
            .unwrap()
    }

    /// Creates `name` with a first version `v1` holding `one`, a description and tags.
    pub fn create_with(&self, name: &str, description: Option<&str>, tags: &[(&str, &str)]) {
        self.store
            .create_secret(CreateSecretRequest {
                description: description.map(Into::into),
                tags: tag_list(tags),
                ..create_request(name, "v1", "one")
            })
            .unwrap();
    }

    /// Puts version `version` holding `data` with exactly the stages `stages`.
    pub fn put_staged(
        &self,
        name: &str,
        version: &str,
        data: &str,
        stages: &[&str],
    ) -> PutSecretValueResponse {
        self.store
            .put_secret_value(put_with_stages(name, version, data, stages))
            .unwrap()
    }

    /// Moves (or adds, or removes) the label `label` with UpdateSecretVersionStage; must succeed.
    pub fn update_stage(
        &self,
        name: &str,
        label: &str,
        remove_from: Option<&str>,
        move_to: Option<&str>,
    ) {
        self.store
            .update_secret_version_stage(stage_request(name, label, remove_from, move_to))
            .unwrap();
    }

    /// DescribeSecret of `name`, without tags.
    pub fn describe(&self, name: &str) -> Result<DescribeSecretResponse, Error> {
        self.store.describe_secret(DescribeSecretRequest {
            secret_name: name.into(),
            fetch_tags: false,
        })
    }

    /// The tags of `name`, as DescribeSecret with FetchTags returns them (which it must).
    pub fn tags_of(&self, name: &str) -> Vec<WireTag> {
        self.store
            .describe_secret(DescribeSecretRequest {
                secret_name: name.into(),
                fetch_tags: true,
            })
            .unwrap()
            .tags
            .expect("asked for tags")
    }

    /// The value GetSecretValue returns for `name` at `version` and/or `stage`; must succeed.
    pub fn value(&self, name: &str, version: Option<&str>, stage: Option<&str>) -> Vec<u8> {
        self.store
            .get_secret_value(get_request(name, version, stage))
            .unwrap()
            .secret_data
            .expose()
            .to_vec()
    }

    /// ListSecretVersionIds of `name` with the default paging; must succeed.
    pub fn versions(&self, name: &str, include_deprecated: bool) -> ListSecretVersionIdsResponse {
        self.store
            .list_secret_version_ids(list_versions(name, include_deprecated))
            .unwrap()
    }

    /// Asserts each version of `name`, oldest first, and its labels (in any order).
    #[track_caller]
    pub fn assert_stages(&self, name: &str, rows: &[(&str, &[&str])]) {
        assert_eq!(
            self.stages(name),
            stage_table(rows),
            "the versions of {name}"
        );
    }

    /// The stored ciphertext of one version, if any.
    pub fn payload(&self, name: &str, version: &str) -> Option<Vec<u8>> {
        self.storage
            .read_payload(
                &SecretName::parse(name).unwrap(),
                &VersionId::parse(version).unwrap(),
            )
            .unwrap()
    }

    /// The record and every ciphertext of `name`, read at once.
    pub fn snapshot(&self, name: &str) -> Option<Snapshot> {
        self.storage
            .snapshot(&SecretName::parse(name).unwrap())
            .unwrap()
    }

    /// Each version of `name`, oldest first, with its labels sorted.
    pub fn stages(&self, name: &str) -> Vec<(String, Vec<String>)> {
        self.record(name)
            .expect("the secret exists")
            .versions
            .iter()
            .map(|v| {
                let mut labels: Vec<String> = v.stages.iter().map(ToString::to_string).collect();
                labels.sort();
                (v.version_id.to_string(), labels)
            })
            .collect()
    }
}

pub fn create_request(name: &str, version: &str, data: &str) -> CreateSecretRequest {
    CreateSecretRequest {
        secret_name: name.into(),
        secret_data: data.into(),
        version_id: version.into(),
        ..Default::default()
    }
}

pub fn put_request(name: &str, version: &str, data: &str) -> PutSecretValueRequest {
    PutSecretValueRequest {
        secret_name: name.into(),
        version_id: version.into(),
        secret_data: data.into(),
        ..Default::default()
    }
}

/// PutSecretValue of `version` holding `data`, with exactly the stages `stages`.
pub fn put_with_stages(
    name: &str,
    version: &str,
    data: &str,
    stages: &[&str],
) -> PutSecretValueRequest {
    PutSecretValueRequest {
        version_stages: Some(strings(stages)),
        ..put_request(name, version, data)
    }
}

/// GetSecretValue of `name`, at `version` and/or `stage` (ACSCurrent when neither).
pub fn get_request(
    name: &str,
    version: Option<&str>,
    stage: Option<&str>,
) -> GetSecretValueRequest {
    GetSecretValueRequest {
        secret_name: name.into(),
        version_id: version.map(Into::into),
        version_stage: stage.map(Into::into),
    }
}

/// UpdateSecretVersionStage of `label` on `name`, off `remove_from` and onto `move_to`.
pub fn stage_request(
    name: &str,
    label: &str,
    remove_from: Option<&str>,
    move_to: Option<&str>,
) -> UpdateSecretVersionStageRequest {
    UpdateSecretVersionStageRequest {
        secret_name: name.into(),
        version_stage: label.into(),
        remove_from_version: remove_from.map(Into::into),
        move_to_version: move_to.map(Into::into),
    }
}

/// ListSecretVersionIds of `name` with the default paging.
pub fn list_versions(name: &str, include_deprecated: bool) -> ListSecretVersionIdsRequest {
    ListSecretVersionIdsRequest {
        secret_name: name.into(),
        include_deprecated,
        ..Default::default()
    }
}

/// ListSecrets of one page, with no filter and no tags.
pub fn list_page(page_number: Option<u32>, page_size: Option<u32>) -> ListSecretsRequest {
    ListSecretsRequest {
        page_number,
        page_size,
        ..Default::default()
    }
}

/// The names of a ListSecrets page, in the order listed.
pub fn secret_names(r: &ListSecretsResponse) -> Vec<&str> {
    r.secret_list
        .iter()
        .map(|s| s.secret_name.as_str())
        .collect()
}

/// Asserts that `list`, called with (page number, page size), rejects a page number of 0 and
/// page sizes of 0 and 101 as parameter errors naming PageNumber or PageSize.
#[track_caller]
pub fn assert_rejects_bad_paging<T: std::fmt::Debug>(
    list: impl Fn(Option<u32>, Option<u32>) -> Result<T, Error>,
) {
    for (number, size, name) in [
        (Some(0), None, "PageNumber"),
        (None, Some(0), "PageSize"),
        (None, Some(101), "PageSize"),
    ] {
        assert_eq!(parameter(list(number, size)), name, "{number:?}, {size:?}");
    }
}

/// A tag `key`=`value` as requests and responses carry it.
pub fn tag(key: &str, value: &str) -> WireTag {
    WireTag {
        tag_key: key.into(),
        tag_value: value.into(),
    }
}

/// Tags from (key, value) pairs, in order.
pub fn tag_list(tags: &[(&str, &str)]) -> Vec<WireTag> {
    tags.iter().map(|(k, v)| tag(k, v)).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// TagResource of `name` with `tags`.
pub fn tag_request(name: &str, tags: &[(&str, &str)]) -> TagResourceRequest {
    TagResourceRequest {
        secret_name: name.into(),
        tags: tag_list(tags),
    }
}

/// UntagResource of `keys` from `name`.
pub fn untag_request(name: &str, keys: &[&str]) -> UntagResourceRequest {
    UntagResourceRequest {
        secret_name: name.into(),
        tag_keys: strings(keys),
    }
}

/// TagResources of the secrets `names` with `tags`.
pub fn batch_tag(names: &[&str], tags: &[(&str, &str)]) -> TagResourcesRequest {
    TagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: strings(names),
        tags: tag_list(tags),
    }
}

/// UntagResources of `keys` from the secrets `names` (not `All`).
pub fn batch_untag(names: &[&str], keys: &[&str]) -> UntagResourcesRequest {
    UntagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: strings(names),
        tag_keys: strings(keys),
        all: false,
    }
}

/// ListTagResources of the secrets `names`, only the tags `keys` (every tag when empty).
pub fn batch_list(names: &[&str], keys: &[&str]) -> ListTagResourcesRequest {
    ListTagResourcesRequest {
        resource_type: "secret".into(),
        resource_ids: strings(names),
        tag_keys: strings(keys),
    }
}

/// DeleteSecret of `name` with a recovery window of `days` (default 30 when `None`).
pub fn delete(name: &str, days: Option<u32>) -> DeleteSecretRequest {
    DeleteSecretRequest {
        secret_name: name.into(),
        recovery_window_in_days: days,
        force_delete_without_recovery: false,
    }
}

/// DeleteSecret of `name` at once, without a recovery window.
pub fn force_delete(name: &str) -> DeleteSecretRequest {
    DeleteSecretRequest {
        secret_name: name.into(),
        recovery_window_in_days: None,
        force_delete_without_recovery: true,
    }
}

/// RestoreSecret of `name`.
pub fn restore(name: &str) -> RestoreSecretRequest {
    RestoreSecretRequest {
        secret_name: name.into(),
    }
}

/// This store's ARN of secret `name`.
pub fn secret_arn(name: &str) -> String {
    format!("acs:kms:{REGION}:{ACCOUNT}:secret/{name}")
}

/// The code of a result that must be an error.
pub fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorCode {
    r.expect_err("the operation must fail").code()
}

/// The parameter an `InvalidParameter` or `MissingParameter` error names.
pub fn parameter<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    match r.expect_err("the operation must fail") {
        Error::InvalidParameter(e) | Error::MissingParameter(e) => e.parameter(),
        other => panic!("expected a parameter error, got {other:?}"),
    }
}

/// Versions and their labels as [`Fixture::stages`] returns them (labels sorted).
pub fn stage_table(rows: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    rows.iter()
        .map(|(id, labels)| {
            let mut labels: Vec<String> = labels.iter().map(|s| (*s).to_owned()).collect();
            labels.sort();
            ((*id).to_owned(), labels)
        })
        .collect()
}
