//! The model's tagging operations (the single and the batch forms) and GetRandomPassword,
//! from SPEC §2–§3 and decisions.md 11–12.

use secret_model::ErrorCode;
use secrets_manager::{GetRandomPasswordRequest, ListTagResourcesResponse, TagResourceEntry};

use crate::model::{Codes, Model, Outcome, PasswordRules, Secret, fail};
use crate::rules::{self, Params, Target};

const TAGS_MAX: usize = 20;

impl Model {
    pub fn tag(&mut self, name: &str, tags: &[(String, String)]) -> Outcome<()> {
        let mut p = Params::default();
        let target = p.name(name);
        p.tags(tags, true);
        p.finish()?;
        let name = self.existing(target.expect("valid"), true)?;
        let next = with_tags(&self.secrets[&name], tags).ok_or(vec![ErrorCode::LimitExceeded])?;
        self.commit_tags(&name, next);
        Ok(())
    }

    pub fn untag(&mut self, name: &str, keys: &[String]) -> Outcome<()> {
        let mut p = Params::default();
        let target = p.name(name);
        p.tag_keys(keys, true);
        p.finish()?;
        let name = self.existing(target.expect("valid"), true)?;
        let next = without_tags(&self.secrets[&name], keys, false);
        self.commit_tags(&name, next);
        Ok(())
    }

    /// Validates a batch's `ResourceType` and `ResourceId.N`; the distinct targets in order.
    pub fn batch(p: &mut Params, resource_type: &str, ids: &[String]) -> Vec<Target> {
        match resource_type {
            "" => p.check(false, ErrorCode::MissingParameter),
            t => p.check(
                t.eq_ignore_ascii_case("secret"),
                ErrorCode::InvalidParameter,
            ),
        }
        if ids.is_empty() {
            p.check(false, ErrorCode::MissingParameter);
        }
        p.check(ids.len() <= 50, ErrorCode::InvalidParameter);
        let mut targets: Vec<Target> = Vec::new();
        for id in ids {
            if let Some(t) = p.name(id)
                && !targets.contains(&t)
            {
                targets.push(t);
            }
        }
        targets
    }

    /// Checks every batch target (each must exist and not be pending deletion, and `change`
    /// must accept it) before any is changed; answers the changed secrets.
    pub fn batch_changes(
        &self,
        targets: Vec<Target>,
        change: impl Fn(&Secret) -> Result<Secret, ErrorCode>,
    ) -> Result<Vec<(String, Secret)>, Codes> {
        let mut errors = Vec::new();
        let mut changes = Vec::new();
        for t in targets {
            match self.existing(t, true) {
                Err(codes) => errors.extend(codes),
                Ok(name) => match change(&self.secrets[&name]) {
                    Err(code) => errors.push(code),
                    Ok(next) => changes.push((name, next)),
                },
            }
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(errors)
        }
    }

    pub fn tag_many(
        &mut self,
        resource_type: &str,
        ids: &[String],
        tags: &[(String, String)],
    ) -> Outcome<()> {
        let mut p = Params::default();
        let targets = Self::batch(&mut p, resource_type, ids);
        p.tags(tags, true);
        p.finish()?;
        let changes = self.batch_changes(targets, |s| {
            with_tags(s, tags).ok_or(ErrorCode::LimitExceeded)
        })?;
        for (name, next) in changes {
            self.commit_tags(&name, next);
        }
        Ok(())
    }

    pub fn untag_many(
        &mut self,
        resource_type: &str,
        ids: &[String],
        keys: &[String],
        all: bool,
    ) -> Outcome<()> {
        let mut p = Params::default();
        let targets = Self::batch(&mut p, resource_type, ids);
        // SPEC is silent; aligned with the facade: without `All`, some `TagKey.N` is required.
        p.tag_keys(keys, !all);
        p.finish()?;
        let changes = self.batch_changes(targets, |s| Ok(without_tags(s, keys, all)))?;
        for (name, next) in changes {
            self.commit_tags(&name, next);
        }
        Ok(())
    }

    pub fn list_tags(
        &self,
        resource_type: &str,
        ids: &[String],
        keys: &[String],
    ) -> Outcome<ListTagResourcesResponse> {
        let mut p = Params::default();
        let targets = Self::batch(&mut p, resource_type, ids);
        p.tag_keys(keys, false);
        p.finish()?;
        let secrets = self.batch_changes(targets, |s| Ok(s.clone()))?;
        let tag_resources = secrets
            .iter()
            .flat_map(|(name, s)| {
                s.tags
                    .iter()
                    .filter(|(k, _)| keys.is_empty() || keys.contains(k))
                    .map(|(k, v)| TagResourceEntry {
                        resource_id: name.clone(),
                        resource_type: "secret".to_owned(),
                        tag_key: k.clone(),
                        tag_value: v.clone(),
                    })
            })
            .collect();
        Ok(ListTagResourcesResponse {
            request_id: String::new(),
            tag_resources,
        })
    }

    /// Stores changed tags; a change that changes nothing is not a write (decisions.md 9).
    pub fn commit_tags(&mut self, name: &str, next: Secret) {
        let now = self.now;
        let s = self.secrets.get_mut(name).expect("exists");
        if s.tags != next.tags {
            *s = next;
            s.update_time = now;
        }
    }
}

/// `s` with `tags` set (existing keys keep their place); `None` past 20 tags.
fn with_tags(s: &Secret, tags: &[(String, String)]) -> Option<Secret> {
    let mut next = s.clone();
    for (k, v) in tags {
        match next.tags.iter_mut().find(|(key, _)| key == k) {
            Some(t) => t.1 = v.clone(),
            None => next.tags.push((k.clone(), v.clone())),
        }
    }
    (next.tags.len() <= TAGS_MAX).then_some(next)
}

/// `all` counts only without keys (decision 25).
fn without_tags(s: &Secret, keys: &[String], all: bool) -> Secret {
    let mut next = s.clone();
    let remove_all = all && keys.is_empty();
    next.tags.retain(|(k, _)| !remove_all && !keys.contains(k));
    next
}

pub fn password(o: &GetRandomPasswordRequest) -> Outcome<PasswordRules> {
    let length = o.password_length.unwrap_or(32);
    if !(8..=128).contains(&length) {
        return fail(ErrorCode::InvalidParameter);
    }
    let excluded = o.exclude_characters.clone().unwrap_or_default();
    let types: [(bool, Vec<char>); 4] = [
        (o.exclude_lowercase, ('a'..='z').collect()),
        (o.exclude_uppercase, ('A'..='Z').collect()),
        (o.exclude_numbers, ('0'..='9').collect()),
        (o.exclude_punctuation, rules::PUNCTUATION.chars().collect()),
    ];
    let pools: Vec<Vec<char>> = types
        .into_iter()
        .filter(|(excluded_type, _)| !excluded_type)
        .map(|(_, pool)| {
            pool.into_iter()
                .filter(|c| !excluded.contains(*c))
                .collect::<Vec<_>>()
        })
        .filter(|pool| !pool.is_empty())
        .collect();
    if pools.is_empty() {
        return fail(ErrorCode::InvalidParameter);
    }
    Ok(PasswordRules {
        length: length as usize,
        pools,
        require_each: o.require_each_included_type.unwrap_or(true),
    })
}
