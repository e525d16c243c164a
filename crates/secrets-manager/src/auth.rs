//! Who is asking, what they ask to do, and whether they may.

use std::fmt;

/// The caller of an operation, as the authorizer sees it (an access key id, a service name…).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal(String);

impl Principal {
    /// A principal with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Principal(name.into())
    }

    /// The principal of an embedding application calling the library directly: `local`.
    pub fn local() -> Self {
        Principal("local".into())
    }

    /// The principal's name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Default for Principal {
    fn default() -> Self {
        Principal::local()
    }
}

/// An action a principal may be allowed to take: `kms:<Action>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `kms:CreateSecret`, on the secret.
    CreateSecret,
    /// `kms:GetSecretValue`, on the secret.
    GetSecretValue,
    /// `kms:PutSecretValue`, on the secret.
    PutSecretValue,
    /// `kms:UpdateSecretVersionStage`, on the secret.
    UpdateSecretVersionStage,
    /// `kms:ListSecretVersionIds`, on the secret.
    ListSecretVersionIds,
    /// `kms:DescribeSecret`, on the secret.
    DescribeSecret,
    /// `kms:UpdateSecret`, on the secret.
    UpdateSecret,
    /// `kms:DeleteSecret`, on the secret.
    DeleteSecret,
    /// `kms:RestoreSecret`, on the secret.
    RestoreSecret,
    /// `kms:ListSecrets`, on `acs:kms:{region}:{account}:secret/*`.
    ListSecrets,
    /// `kms:TagResource`, on the secret.
    TagResource,
    /// `kms:UntagResource`, on the secret.
    UntagResource,
    /// `kms:TagResources`, on each secret.
    TagResources,
    /// `kms:UntagResources`, on each secret.
    UntagResources,
    /// `kms:ListTagResources`, on each secret.
    ListTagResources,
    /// `kms:GetRandomPassword`, on `*`.
    GetRandomPassword,
    /// `kms:GenerateDataKey`, on the encryption key (CreateSecret with `EncryptionKeyId`).
    GenerateDataKey,
    /// `kms:Decrypt`, on the encryption key (reading a value).
    Decrypt,
}

impl Action {
    /// The action as written in policies, such as `kms:CreateSecret`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CreateSecret => "kms:CreateSecret",
            Action::GetSecretValue => "kms:GetSecretValue",
            Action::PutSecretValue => "kms:PutSecretValue",
            Action::UpdateSecretVersionStage => "kms:UpdateSecretVersionStage",
            Action::ListSecretVersionIds => "kms:ListSecretVersionIds",
            Action::DescribeSecret => "kms:DescribeSecret",
            Action::UpdateSecret => "kms:UpdateSecret",
            Action::DeleteSecret => "kms:DeleteSecret",
            Action::RestoreSecret => "kms:RestoreSecret",
            Action::ListSecrets => "kms:ListSecrets",
            Action::TagResource => "kms:TagResource",
            Action::UntagResource => "kms:UntagResource",
            Action::TagResources => "kms:TagResources",
            Action::UntagResources => "kms:UntagResources",
            Action::ListTagResources => "kms:ListTagResources",
            Action::GetRandomPassword => "kms:GetRandomPassword",
            Action::GenerateDataKey => "kms:GenerateDataKey",
            Action::Decrypt => "kms:Decrypt",
        }
    }

    /// The API action's name without the `kms:` prefix, such as `CreateSecret`.
    pub fn api_name(self) -> &'static str {
        &self.as_str()[4..]
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decides whether `principal` may take `action` on `resource` (an ARN such as
/// `acs:kms:cn-hangzhou:123:secret/db` or `acs:kms:cn-hangzhou:123:key/<key-id>`).
pub trait Authorizer: Send + Sync {
    /// `true` to allow, `false` to deny (the operation then fails with `Forbidden.NoPermission`).
    fn is_allowed(&self, principal: &Principal, action: Action, resource: &str) -> bool;

    /// Whether this authorizer allows every request whatever it asks, so the store may skip
    /// building resource names for it. Default `false`; only [`AllowAll`] says `true`.
    fn allows_everything(&self) -> bool {
        false
    }
}

/// Allows everything: the default for a single-tenant embedding.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn is_allowed(&self, _: &Principal, _: Action, _: &str) -> bool {
        true
    }

    fn allows_everything(&self) -> bool {
        true
    }
}
