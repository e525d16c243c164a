//! RAM-style policy documents: which actions an access key may take on which resources.
//!
//! ```json
//! {"Version":"1","Statement":[
//!   {"Effect":"Allow","Action":["kms:GetSecretValue","kms:Decrypt"],
//!    "Resource":["acs:kms:*:*:secret/app/*","acs:kms:*:*:key/*"]},
//!   {"Effect":"Deny","Action":"kms:*","Resource":"acs:kms:*:*:secret/app/root"}]}
//! ```
//!
//! A request is allowed when some `Allow` statement matches it and no `Deny` statement does
//! (Deny wins; nothing matching is a deny). `*` in an action or a resource matches any run of
//! characters, including none; actions compare case-insensitively, resources exactly.
//! `Condition`, `NotAction` and `NotResource` are not supported, and a document that uses them
//! is refused rather than half-enforced.

use serde::Deserialize;

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Statement {
    allow: bool,
    /// Lower-cased patterns.
    actions: Vec<String>,
    resources: Vec<String>,
}

/// Why a policy document was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid policy document: {0}")]
pub struct PolicyError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Statement")]
    statement: Vec<StatementDocument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementDocument {
    #[serde(rename = "Sid", default)]
    _sid: Option<String>,
    #[serde(rename = "Effect")]
    effect: String,
    #[serde(rename = "Action")]
    action: OneOrMany,
    #[serde(rename = "Resource")]
    resource: OneOrMany,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

impl Policy {
    /// Parses a policy document from its JSON value.
    ///
    /// Errors: a `Version` other than `"1"`, an `Effect` other than `Allow`/`Deny`, an empty
    /// `Action` or `Resource` list, or an unsupported element (`Condition`, `NotAction`, …).
    pub fn from_json(value: serde_json::Value) -> Result<Policy, PolicyError> {
        let doc: Document = serde_json::from_value(value).map_err(|e| {
            // serde's message names the field at fault; it never quotes a string value here
            // because every field is a string or a list of strings.
            PolicyError(e.to_string())
        })?;
        if doc.version != "1" {
            return Err(PolicyError(format!(
                "Version must be \"1\", not {:?}",
                doc.version
            )));
        }
        let statements = doc
            .statement
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let allow = match s.effect.as_str() {
                    "Allow" => true,
                    "Deny" => false,
                    other => {
                        return Err(PolicyError(format!(
                            "statement {i}: Effect must be Allow or Deny, not {other:?}"
                        )));
                    }
                };
                let actions: Vec<String> = s
                    .action
                    .into_vec()
                    .into_iter()
                    .map(|a| a.to_ascii_lowercase())
                    .collect();
                let resources = s.resource.into_vec();
                if actions.is_empty() || resources.is_empty() {
                    return Err(PolicyError(format!(
                        "statement {i}: Action and Resource must not be empty"
                    )));
                }
                Ok(Statement {
                    allow,
                    actions,
                    resources,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// Whether `action` (such as `kms:GetSecretValue`) on `resource` (an ARN) is allowed.
    pub fn is_allowed(&self, action: &str, resource: &str) -> bool {
        let action = action.to_ascii_lowercase();
        let mut allowed = false;
        for s in &self.statements {
            let matches = s.actions.iter().any(|p| wildcard_match(p, &action))
                && s.resources.iter().any(|p| wildcard_match(p, resource));
            if matches {
                if !s.allow {
                    return false;
                }
                allowed = true;
            }
        }
        allowed
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of bytes (including none).
/// Linear backtracking on the last `*`, so a hostile pattern cannot blow up.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: serde_json::Value) -> Policy {
        Policy::from_json(v).unwrap()
    }

    #[test]
    fn wildcards_match_any_run_of_characters() {
        assert!(wildcard_match(
            "acs:kms:*:*:secret/app/*",
            "acs:kms:r:1:secret/app/db"
        ));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(!wildcard_match(
            "acs:kms:*:*:secret/app/*",
            "acs:kms:r:1:secret/other"
        ));
        assert!(wildcard_match("exact", "exact") && !wildcard_match("exact", "exactly"));
    }

    #[test]
    fn the_issue_example_allows_only_its_action_on_its_resources() {
        let p = policy(json!({"Version":"1","Statement":[{"Effect":"Allow",
            "Action":["kms:GetSecretValue"],"Resource":["acs:kms:*:*:secret/app/*"]}]}));
        assert!(p.is_allowed("kms:GetSecretValue", "acs:kms:r:1:secret/app/db"));
        assert!(p.is_allowed("KMS:getsecretvalue", "acs:kms:r:1:secret/app/db"));
        assert!(!p.is_allowed("kms:PutSecretValue", "acs:kms:r:1:secret/app/db"));
        assert!(!p.is_allowed("kms:GetSecretValue", "acs:kms:r:1:secret/prod/db"));
    }

    #[test]
    fn deny_wins_over_allow() {
        let p = policy(json!({"Version":"1","Statement":[
            {"Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Action":"kms:DeleteSecret","Resource":"acs:kms:*:*:secret/keep*"}]}));
        assert!(p.is_allowed("kms:DeleteSecret", "acs:kms:r:1:secret/other"));
        assert!(!p.is_allowed("kms:DeleteSecret", "acs:kms:r:1:secret/keep-me"));
        assert!(p.is_allowed("kms:GetSecretValue", "acs:kms:r:1:secret/keep-me"));
    }

    #[test]
    fn an_empty_policy_denies_everything() {
        let p = policy(json!({"Version":"1","Statement":[]}));
        assert!(!p.is_allowed("kms:GetSecretValue", "*"));
    }

    #[test]
    fn unsupported_or_malformed_documents_are_refused() {
        for bad in [
            json!({"Version":"2","Statement":[]}),
            json!({"Version":"1","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}),
            json!({"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}),
            json!({"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
                "Condition":{}}]}),
            json!({"Version":"1","Statement":[{"Effect":"Allow","NotAction":"*","Resource":"*"}]}),
            json!({"Statement":[]}),
        ] {
            assert!(Policy::from_json(bad.clone()).is_err(), "{bad}");
        }
    }
}
