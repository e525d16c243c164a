//! DeleteSecret, RestoreSecret, and the purge of secrets past their planned delete time.

use std::sync::atomic::{AtomicBool, Ordering};

use secret_model::{Timestamp, recovery_window_days};

use crate::auth::Action;
use crate::error::Error;
use crate::manager::{Pending, SecretsManager, Step, is_expired};

/// The parameters of DeleteSecret.
#[derive(Clone, Debug, Default)]
pub struct DeleteSecretRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
    /// Days until the secret is purged: 7–30, default 30. Not with `force_delete_without_recovery`.
    pub recovery_window_in_days: Option<u32>,
    /// Purge at once: every version and ciphertext removed, not restorable.
    pub force_delete_without_recovery: bool,
}

/// What DeleteSecret returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteSecretResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's name.
    pub secret_name: String,
    /// When the secret will be (or, when forced, was) purged.
    pub planned_delete_time: Timestamp,
}

/// The parameters of RestoreSecret.
#[derive(Clone, Debug, Default)]
pub struct RestoreSecretRequest {
    /// **Required.** The secret's name or this store's ARN of it.
    pub secret_name: String,
}

/// What RestoreSecret returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreSecretResponse {
    /// A fresh id for this request.
    pub request_id: String,
    /// The secret's name.
    pub secret_name: String,
}

impl SecretsManager {
    /// Schedules a secret for deletion after a recovery window, or purges it at once with
    /// `force_delete_without_recovery` (also when it is already pending deletion).
    ///
    /// Errors: `InvalidParameter` for a window outside 7–30 days or a window given with force;
    /// `Rejected.ResourceInDeleteWindow` when already pending deletion and not forced;
    /// `Forbidden.ResourceNotFound`; `Forbidden.NoPermission`.
    pub fn delete_secret(&self, req: DeleteSecretRequest) -> Result<DeleteSecretResponse, Error> {
        self.run(
            Action::DeleteSecret,
            Some(&req.secret_name.clone()),
            None,
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                if req.force_delete_without_recovery && req.recovery_window_in_days.is_some() {
                    return Err(Error::invalid(
                        "RecoveryWindowInDays",
                        "must not be given together with ForceDeleteWithoutRecovery=true",
                    ));
                }
                let days = recovery_window_days(req.recovery_window_in_days)?;
                let name = self.authorize_secret(Action::DeleteSecret, target)?;
                let planned = self.mutate(&name, Pending::Allow, |record, now| {
                    if req.force_delete_without_recovery {
                        return Ok(Step::Delete(now));
                    }
                    if record.planned_delete_time.is_some() {
                        return Err(Error::ResourceInDeleteWindow(record.name.to_string()));
                    }
                    let planned = now.plus_days(days);
                    record.planned_delete_time = Some(planned);
                    Ok(Step::write(planned))
                })?;
                Ok(DeleteSecretResponse {
                    request_id: request_id.to_owned(),
                    secret_name: name.to_string(),
                    planned_delete_time: planned,
                })
            },
            |_| None,
        )
    }

    /// Cancels the pending deletion of a secret.
    ///
    /// Errors: `InvalidParameter` naming `SecretName` when the secret is not pending deletion;
    /// `Forbidden.ResourceNotFound` (also once the planned delete time has passed);
    /// `Forbidden.NoPermission`.
    pub fn restore_secret(
        &self,
        req: RestoreSecretRequest,
    ) -> Result<RestoreSecretResponse, Error> {
        self.run(
            Action::RestoreSecret,
            Some(&req.secret_name.clone()),
            None,
            |request_id| {
                let target = self.resolve_name(&req.secret_name)?;
                let name = self.authorize_secret(Action::RestoreSecret, target)?;
                self.mutate(&name, Pending::Allow, |record, _| {
                    if record.planned_delete_time.is_none() {
                        return Err(Error::invalid(
                            "SecretName",
                            "the secret is not pending deletion",
                        ));
                    }
                    record.planned_delete_time = None;
                    Ok(Step::write(()))
                })?;
                Ok(RestoreSecretResponse {
                    request_id: request_id.to_owned(),
                    secret_name: name.to_string(),
                })
            },
            |_| None,
        )
    }

    /// Purges every secret whose planned delete time has passed: record and ciphertexts, each in
    /// one atomic step. Returns how many were purged. Reads also purge what they meet, so this
    /// maintenance call only bounds how long an unread expired secret's ciphertext lingers.
    /// Then it asks the storage to free the space that data no record points to any more
    /// still holds ([`secret_storage::Storage::reclaim_space`]: on sled, a collection of the
    /// value log, which frees the ciphertexts of purged secrets and of versions gone from
    /// segments that are mostly garbage; on the other backends, nothing).
    ///
    /// Errors: `InternalFailure` / `ServiceUnavailableTemporary` when the storage fails; what
    /// was purged before the failure stays purged.
    pub fn purge_expired_secrets(&self) -> Result<usize, Error> {
        self.purge_expired_secrets_until(&AtomicBool::new(false))
    }

    /// [`SecretsManager::purge_expired_secrets`], stopping early — between two secrets, and
    /// before each page of the listing — once `stop` is set: for a caller that must be able to
    /// end a purge of a large store, such as a server shutting down. Returns how many it purged;
    /// the rest are purged by the next run (or by whatever names them first).
    ///
    /// Errors: as [`SecretsManager::purge_expired_secrets`].
    pub fn purge_expired_secrets_until(&self, stop: &AtomicBool) -> Result<usize, Error> {
        let now = self.now();
        let mut purged = 0;
        let mut after = None;
        let stopped = || stop.load(Ordering::Relaxed);
        while !stopped() {
            let page = self.inner.storage.list(after.as_ref(), 100)?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            for record in page.iter().filter(|r| is_expired(r, now)) {
                if stopped() {
                    break;
                }
                let mut deleted = false;
                self.inner.storage.update(&record.name, &mut |current| {
                    deleted = current.is_some_and(|r| is_expired(r, now));
                    if deleted {
                        secret_storage::Update::Delete
                    } else {
                        secret_storage::Update::Keep
                    }
                })?;
                if deleted {
                    self.forget_cached(&record.name, None);
                    purged += 1;
                }
            }
        }
        if !stopped() {
            self.inner.storage.reclaim_space()?;
        }
        Ok(purged)
    }
}
