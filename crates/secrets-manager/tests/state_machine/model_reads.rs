//! The model's read-only operations: GetSecretValue, ListSecretVersionIds, DescribeSecret and
//! ListSecrets (SPEC §3, decisions.md 10).

use secret_model::ErrorCode;
use secrets_manager::{
    DescribeSecretResponse, GetSecretValueResponse, ListSecretVersionIdsResponse,
    ListSecretsResponse, SecretSummary, VersionIdEntry,
};

use crate::model::{CURRENT, Model, Outcome, Secret, fail, ts};
use crate::rules::{self, Params};
use crate::transitions::FilterArg;

impl Model {
    pub fn get(
        &self,
        name: &str,
        version_id: &Option<String>,
        stage: &Option<String>,
    ) -> Outcome<GetSecretValueResponse> {
        let mut p = Params::default();
        let target = p.name(name);
        let version_id = p.optional(version_id, rules::is_version_id);
        let stage = p.optional(stage, rules::is_label);
        p.finish()?;
        let name = self.existing(target.expect("valid"), true)?;
        let s = &self.secrets[&name];
        let i = match (version_id.flatten(), stage.flatten()) {
            (Some(v), stage) => {
                let i = s.version(&v).ok_or(vec![ErrorCode::ResourceNotFound])?;
                if stage.is_some_and(|st| !s.versions[i].labels.contains(&st)) {
                    return fail(ErrorCode::InvalidParameter);
                }
                i
            }
            (None, stage) => s
                .holder(stage.as_deref().unwrap_or(CURRENT))
                .ok_or(vec![ErrorCode::ResourceNotFound])?,
        };
        let v = &s.versions[i];
        Ok(GetSecretValueResponse {
            request_id: String::new(),
            secret_name: name,
            version_id: v.id.clone(),
            secret_data: v.value.clone().into(),
            secret_data_type: v.data_type,
            secret_type: "Generic".to_owned(),
            version_stages: s.labels_of(i),
            create_time: ts(v.create_time),
        })
    }

    pub fn list_versions(
        &self,
        name: &str,
        include_deprecated: bool,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Outcome<ListSecretVersionIdsResponse> {
        let mut p = Params::default();
        let target = p.name(name);
        let (number, size) = p.paging(page_number, page_size, 20);
        p.finish()?;
        let name = self.existing(target.expect("valid"), true)?;
        let s = &self.secrets[&name];
        let listed: Vec<VersionIdEntry> = s
            .versions
            .iter()
            .filter(|v| include_deprecated || !v.labels.is_empty())
            .map(|v| VersionIdEntry {
                version_id: v.id.clone(),
                create_time: ts(v.create_time),
                version_stages: v.labels.iter().cloned().collect(),
            })
            .collect();
        Ok(ListSecretVersionIdsResponse {
            request_id: String::new(),
            secret_name: name,
            page_number: number,
            page_size: size,
            total_count: listed.len() as u32,
            version_ids: page(listed, number, size),
        })
    }

    pub fn describe(&self, name: &str, fetch_tags: bool) -> Outcome<DescribeSecretResponse> {
        let mut p = Params::default();
        let target = p.name(name);
        p.finish()?;
        let name = self.existing(target.expect("valid"), false)?;
        let s = &self.secrets[&name];
        Ok(DescribeSecretResponse {
            request_id: String::new(),
            arn: crate::transitions::arn(&name),
            secret_name: name,
            secret_type: "Generic".to_owned(),
            description: s.description.clone().unwrap_or_default(),
            // The default key's id is not the model's to know; the harness checks that every
            // secret reports the same one.
            encryption_key_id: String::new(),
            create_time: ts(s.create_time),
            update_time: ts(s.update_time),
            planned_delete_time: s.planned_delete_time.map(ts),
            tags: fetch_tags.then(|| s.wire_tags()),
        })
    }

    pub fn list_secrets(
        &self,
        page_number: Option<u32>,
        page_size: Option<u32>,
        fetch_tags: bool,
        filters: &FilterArg,
    ) -> Outcome<ListSecretsResponse> {
        let mut p = Params::default();
        let (number, size) = p.paging(page_number, page_size, 10);
        let filters: Vec<(String, Vec<String>)> = match filters {
            FilterArg::Absent | FilterArg::EmptyString => vec![],
            FilterArg::Bad(_) => {
                p.check(false, ErrorCode::InvalidParameter);
                vec![]
            }
            FilterArg::Json(f) => {
                p.check(
                    f.len() <= 10 && f.iter().all(|(_, vs)| vs.len() <= 10),
                    ErrorCode::InvalidParameter,
                );
                f.clone()
            }
        };
        p.finish()?;
        let matching: Vec<SecretSummary> = self
            .secrets
            .iter()
            .filter(|(name, s)| {
                // Every key given (AND) by any value given for it, in any of its filters (OR).
                filters.iter().all(|(key, _)| {
                    filters
                        .iter()
                        .filter(|(k, _)| k == key)
                        .flat_map(|(_, vs)| vs)
                        .any(|v| matches(name, s, key, v))
                })
            })
            .map(|(name, s)| SecretSummary {
                secret_name: name.clone(),
                secret_type: "Generic".to_owned(),
                create_time: ts(s.create_time),
                update_time: ts(s.update_time),
                planned_delete_time: s.planned_delete_time.map(ts),
                tags: fetch_tags.then(|| s.wire_tags()),
            })
            .collect();
        Ok(ListSecretsResponse {
            request_id: String::new(),
            page_number: number,
            page_size: size,
            total_count: matching.len() as u32,
            secret_list: page(matching, number, size),
        })
    }
}

fn matches(name: &str, s: &Secret, key: &str, value: &str) -> bool {
    match key {
        "SecretName" => name.contains(value),
        "Description" => s.description.as_ref().is_some_and(|d| d.contains(value)),
        "TagKey" => s.tags.iter().any(|(k, _)| k == value),
        "TagValue" => s.tags.iter().any(|(_, v)| v == value),
        "SecretType" => value == "Generic",
        other => unreachable!("generated filters use known keys, not {other}"),
    }
}

fn page<T>(all: Vec<T>, number: u32, size: u32) -> Vec<T> {
    let skip = (number as usize - 1) * size as usize;
    all.into_iter().skip(skip).take(size as usize).collect()
}
