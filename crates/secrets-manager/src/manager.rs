//! [`SecretsManager`]: the facade that holds the storage, the KMS and the rules.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use secret_crypto::Kms;
use secret_crypto::envelope::{self, CryptoError, EnvelopeContext};
use secret_model::{
    KeyId, SecretName, SecretRef, SecretValue, StoreLocation, Timestamp, ValidationError, VersionId,
};
use secret_storage::{PayloadTag, SecretRecord, Storage, Update, VersionRecord};

use crate::audit::{AuditEvent, AuditSink, TracingAuditSink, audit_text};
use crate::auth::{Action, AllowAll, Authorizer, Principal};
use crate::cache::{CacheConfig, CacheStats, ValueCache};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::random::{OsRandom, RandomSource, new_uuid};
use crate::records::{Records, SealKeyRotation};

/// An embeddable secrets store with the operations of Alibaba Cloud KMS Secrets Manager.
///
/// Every operation is a plain synchronous method (`docs/spec/ARCHITECTURE.md`, decision 1),
/// named as the snake_case of Alibaba's action, taking an `<Action>Request` and returning an
/// `<Action>Response`. `SecretsManager` is `Send + Sync` and cheap to clone: clones share one
/// store. Build one with [`SecretsManager::builder`].
#[derive(Clone)]
pub struct SecretsManager {
    pub(crate) inner: Arc<Inner>,
    pub(crate) principal: Principal,
    /// The request id every operation on this handle answers with, if the caller chose one
    /// ([`SecretsManager::with_request_id`]); a fresh one per operation otherwise.
    pub(crate) request_id: Option<Arc<str>>,
}

pub(crate) struct Inner {
    pub(crate) storage: Records,
    pub(crate) kms: Arc<dyn Kms>,
    pub(crate) location: StoreLocation,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) random: Arc<dyn RandomSource>,
    /// The OS CSPRNG GetRandomPassword draws from: never the injected `random`, which serves
    /// request ids and may be seeded for tests.
    pub(crate) passwords: OsRandom,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) cache: Option<ValueCache>,
}

impl fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManager")
            .field("location", &self.inner.location)
            .field("principal", &self.principal)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// Configures a [`SecretsManager`]. Everything but the storage and the KMS has a default.
#[must_use]
pub struct Builder {
    storage: Arc<dyn Storage>,
    kms: Arc<dyn Kms>,
    location: Option<StoreLocation>,
    clock: Arc<dyn Clock>,
    authorizer: Arc<dyn Authorizer>,
    random: Arc<dyn RandomSource>,
    audit: Arc<dyn AuditSink>,
    cache: Option<CacheConfig>,
    accept_unsealed_records: bool,
}

impl Builder {
    /// The region and account id that ARNs carry. Default: region `local`, account
    /// `0000000000000000`.
    pub fn location(mut self, location: StoreLocation) -> Self {
        self.location = Some(location);
        self
    }

    /// The clock for timestamps and recovery windows. Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The authorizer every operation asks. Default: [`AllowAll`].
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }

    /// The random source for request ids. Default: [`OsRandom`]. Passwords
    /// ([`SecretsManager::get_random_password`]) and key material never come from it: they
    /// always come from the operating system's CSPRNG.
    pub fn random(mut self, random: Arc<dyn RandomSource>) -> Self {
        self.random = random;
        self
    }

    /// Where audit events go. Default: [`TracingAuditSink`].
    pub fn audit_sink(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// Keeps decrypted values in memory, bounded by `config`, so repeated reads of a version
    /// skip storage payload reads and decryption. Off by default. Authorization, the secret's
    /// current metadata (stages, pending deletion) and its key's state are still checked on
    /// every read; values of deleted, purged or evicted versions are dropped (and zeroized).
    pub fn value_cache(mut self, config: CacheConfig) -> Self {
        self.cache = Some(config);
        self
    }

    /// Accepts stored records that carry no seal — records written before this release
    /// sealed them (record format 1) — and seals each on its next write. Off by default: then
    /// a record without a seal is refused like one whose seal does not match, since stripping
    /// a seal is also what an attacker would do. Turn it on only to carry a store written by an
    /// earlier release across, then off again once every secret has been written once.
    pub fn accept_unsealed_records(mut self, accept: bool) -> Self {
        self.accept_unsealed_records = accept;
        self
    }

    /// The store, acting as [`Principal::local`].
    pub fn build(self) -> SecretsManager {
        let location = self.location.unwrap_or_else(|| {
            StoreLocation::new("local", "0000000000000000").expect("the default location is valid")
        });
        SecretsManager {
            inner: Arc::new(Inner {
                storage: Records::new(
                    self.storage,
                    Arc::clone(&self.kms),
                    self.accept_unsealed_records,
                ),
                kms: self.kms,
                location,
                clock: self.clock,
                authorizer: self.authorizer,
                random: self.random,
                passwords: OsRandom::default(),
                audit: self.audit,
                cache: self.cache.map(ValueCache::new),
            }),
            principal: Principal::local(),
            request_id: None,
        }
    }
}

impl SecretsManager {
    /// Starts building a store on `storage`, encrypting through `kms`.
    pub fn builder(storage: Arc<dyn Storage>, kms: Arc<dyn Kms>) -> Builder {
        Builder {
            storage,
            kms,
            location: None,
            clock: Arc::new(SystemClock),
            authorizer: Arc::new(AllowAll),
            random: Arc::new(OsRandom::default()),
            audit: Arc::new(TracingAuditSink),
            cache: None,
            accept_unsealed_records: false,
        }
    }

    /// The same store, acting for `principal`: every operation on the returned handle is
    /// authorized as that principal.
    pub fn for_principal(&self, principal: Principal) -> SecretsManager {
        SecretsManager {
            inner: Arc::clone(&self.inner),
            principal,
            request_id: self.request_id.clone(),
        }
    }

    /// The same store (and principal), answering every operation with `request_id` as its
    /// request id instead of a fresh one: in its response, in the audit event it records
    /// ([`AuditEvent::request_id`]), for a failure as for a success. For a caller that names
    /// each request before it reaches the store (the HTTP server, whose error responses and
    /// request log must carry the id the audit trail has); use one handle per request.
    ///
    /// ```
    /// # use secrets_manager::{CreateSecretRequest, GetSecretValueRequest};
    /// # let store = secrets_manager::testing::memory_store();
    /// let request = store.with_request_id("req-1");
    /// let made = request.create_secret(CreateSecretRequest {
    ///     secret_name: "db".into(),
    ///     secret_data: "pw".into(),
    ///     version_id: "v1".into(),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(made.request_id, "req-1");
    /// # Ok::<(), secrets_manager::Error>(())
    /// ```
    pub fn with_request_id(&self, request_id: impl Into<String>) -> SecretsManager {
        SecretsManager {
            inner: Arc::clone(&self.inner),
            principal: self.principal.clone(),
            request_id: Some(Arc::from(request_id.into())),
        }
    }

    /// The principal this handle acts for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The value cache's counters, if the cache is on.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache.as_ref().map(ValueCache::stats)
    }

    /// Rotates the record seal key — the key every stored record's seal is made under
    /// (`docs/formats.md`) — and seals every record again under the new one, so that a copy of
    /// the old key (from a leaked root key and an old copy of the keyring) can no longer forge
    /// records this store accepts.
    ///
    /// In order: the KMS saves a fresh key beside the old one
    /// ([`Kms::begin_record_seal_key_rotation`](secret_crypto::Kms::begin_record_seal_key_rotation));
    /// this store seals with the new key from then on, once reads and writes already under way
    /// are done; every record is read and checked (under either key) and, unless already under
    /// the new key, written again with a new seal — nothing else in it changes, and no value is
    /// decrypted; then the KMS forgets the old key
    /// ([`Kms::finish_record_seal_key_rotation`](secret_crypto::Kms::finish_record_seal_key_rotation)),
    /// and a seal under it is refused from then on. Reads and writes go on meanwhile.
    ///
    /// A record forged under the old key before the rotation reached it passes the check and
    /// is sealed again like any other: rotate promptly after a leak.
    ///
    /// Rotations through this store take turns. One that finds, on finishing, that another
    /// store finished it and began a rotation of its own seals every record under that one's
    /// key too and finishes it, rather than cutting it short (three times at most; then it
    /// gives up with `InternalFailure`, left on the keyring's current key).
    ///
    /// Only this store's records are walked: a store that shares the KMS (the keyring) but
    /// keeps its records elsewhere must not be rotated through another's manager, or its
    /// records are left under the forgotten key. `MemoryStorage` walks nothing.
    ///
    /// Interrupted (a crash, a failed write), the keyring keeps both keys, both are accepted,
    /// and calling this again resumes: it seals what is left under the same new key.
    ///
    /// Every other `SecretsManager` on the same storage — other processes, instances sharing a
    /// PostgreSQL keyring, other managers in this process built apart from this one — holds
    /// the key it loaded, keeps sealing under the old key, and after the rotation refuses
    /// what this one writes: stop them first, and start them again after. Handles made with
    /// [`SecretsManager::for_principal`] or [`SecretsManager::with_request_id`] share this
    /// one's key. A store whose records are not sealed (`MemoryStorage`) rotates the key in
    /// the KMS and checks no records.
    ///
    /// This is maintenance of the whole store, not an API action: it is not put to the
    /// authorizer and records no audit event.
    ///
    /// Errors: `InternalFailure` when a record fails its check (tampered with, or unsealed
    /// without [`Builder::accept_unsealed_records`]; the log names the secret, and nothing
    /// after it is re-sealed), when the KMS cannot rotate the key, when the storage fails
    /// (`ServiceUnavailableTemporary` when the failure is transient), or when the key changed
    /// under a rotation running elsewhere at the same time (logged).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use secret_storage_sled::SledStorage;
    /// use secrets_manager::crypto::{LocalKms, MemoryKeyring, RootKey};
    /// use secrets_manager::{CreateSecretRequest, GetSecretValueRequest, SecretsManager};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let kms = LocalKms::open(RootKey::from_bytes([7; 32]), Box::new(MemoryKeyring::new()))?;
    /// let store = SecretsManager::builder(Arc::new(SledStorage::open(dir.path())?), Arc::new(kms))
    ///     .build();
    /// for name in ["db", "api"] {
    ///     store.create_secret(CreateSecretRequest {
    ///         secret_name: name.into(),
    ///         secret_data: "s3cret".into(),
    ///         version_id: "v1".into(),
    ///         ..Default::default()
    ///     })?;
    /// }
    /// let done = store.rotate_record_seal_key()?;
    /// assert_eq!((done.records_checked, done.records_resealed), (2, 2));
    /// let got = store.get_secret_value(GetSecretValueRequest {
    ///     secret_name: "db".into(),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(got.secret_data.expose(), b"s3cret");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate_record_seal_key(&self) -> Result<SealKeyRotation, Error> {
        self.inner.storage.rotate_seal_key()
    }

    /// Drops cached values of a secret that was deleted or purged (`None`), or of the versions
    /// that were evicted from it.
    pub(crate) fn forget_cached(&self, name: &SecretName, versions: Option<&[VersionId]>) {
        let Some(cache) = &self.inner.cache else {
            return;
        };
        match versions {
            None => cache.forget_secret(name),
            Some(versions) => versions.iter().for_each(|v| cache.forget_version(name, v)),
        }
    }

    /// The region and account id of this store.
    pub fn location(&self) -> &StoreLocation {
        &self.inner.location
    }

    /// Runs one operation: gives it a fresh request id, and records one audit event with its
    /// outcome. `secret_name` and `version_id` are the request's own (for the audit trail);
    /// `chosen_version` names the version a successful operation settled on, where one applies.
    pub(crate) fn run<T>(
        &self,
        action: Action,
        secret_name: Option<&str>,
        version_id: Option<&str>,
        op: impl FnOnce(&str) -> Result<T, Error>,
        chosen_version: impl FnOnce(&T) -> Option<&str>,
    ) -> Result<T, Error> {
        let (request_id, result) = match self.new_request_id() {
            Ok(id) => {
                let result = op(&id);
                (id, result)
            }
            Err(e) => (String::new(), Err(e)),
        };
        let version_id = match &result {
            Ok(t) => chosen_version(t).or(version_id),
            Err(_) => version_id,
        };
        if self.inner.audit.enabled() {
            self.inner.audit.record(&AuditEvent {
                request_id,
                principal: self.principal.name().to_owned(),
                action,
                secret_name: secret_name.filter(|s| !s.is_empty()).map(audit_text),
                version_id: version_id.filter(|s| !s.is_empty()).map(audit_text),
                outcome: result.as_ref().map(|_| ()).map_err(Error::code),
                time: self.now(),
            });
        }
        result
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    fn new_request_id(&self) -> Result<String, Error> {
        if let Some(id) = &self.request_id {
            return Ok(id.to_string());
        }
        new_uuid(self.inner.random.as_ref())
            .map(|u| u.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "no randomness for a request id");
                Error::InternalFailure
            })
    }

    /// Resolves a `SecretName` parameter: `MissingParameter` / `InvalidParameter` naming it
    /// now; an ARN of another store is "not found" only at [`Self::authorize_secret`], once the
    /// other parameters are validated (decisions.md 1).
    pub(crate) fn resolve_name(&self, s: &str) -> Result<Target, Error> {
        self.resolve_name_in("SecretName", s)
    }

    /// As [`Self::resolve_name`], for a secret named by another parameter (`ResourceId.N`):
    /// errors name `parameter`.
    pub(crate) fn resolve_name_in(
        &self,
        parameter: &'static str,
        s: &str,
    ) -> Result<Target, Error> {
        let s = required(parameter, s)?;
        let resolved = self
            .inner
            .location
            .resolve_secret(s)
            .map_err(|e| e.for_parameter(parameter))?;
        Ok(match resolved {
            SecretRef::Local(name) => Target::Local(name),
            SecretRef::Foreign => Target::Foreign(s.to_owned()),
        })
    }

    /// Asks whether this store's principal may do `action` on the secret `target` names (see
    /// [`Self::authorize_with`]) and returns its name. A secret of another store (its ARN is
    /// the resource asked about) is then `Forbidden.ResourceNotFound`: existence comes after
    /// authorization (decisions.md 1).
    pub(crate) fn authorize_secret(
        &self,
        action: Action,
        target: Target,
    ) -> Result<SecretName, Error> {
        self.authorize_target(action, &target)?;
        target.into_local()
    }

    /// [`Self::authorize_secret`] for every secret of a batch: each is authorized before any
    /// is found absent.
    pub(crate) fn authorize_secrets(
        &self,
        action: Action,
        targets: Vec<Target>,
    ) -> Result<Vec<SecretName>, Error> {
        for target in &targets {
            self.authorize_target(action, target)?;
        }
        targets.into_iter().map(Target::into_local).collect()
    }

    /// Asks whether this store's principal may do `action` on the secret `target` names — by
    /// its ARN, this store's or the other one's it was given as — without asking whether it
    /// exists ([`Target::into_local`] does, after every authorization of the request).
    pub(crate) fn authorize_target(&self, action: Action, target: &Target) -> Result<(), Error> {
        match target {
            Target::Local(name) => self.authorize_with(action, || self.secret_arn(name)),
            Target::Foreign(arn) => self.authorize_with(action, || arn.clone()),
        }
    }

    pub(crate) fn secret_arn(&self, name: &SecretName) -> String {
        self.inner.location.secret_arn_text(name)
    }

    pub(crate) fn key_arn(&self, key_id: &KeyId) -> String {
        let l = &self.inner.location;
        format!("acs:kms:{}:{}:key/{key_id}", l.region(), l.account_id())
    }

    /// Asks the authorizer whether this store's principal may do `action` on the resource
    /// `resource` names; `Forbidden.NoPermission` naming both if not. The resource (an ARN) is
    /// formatted only for an authorizer that looks at it: the default allow-all one does not.
    pub(crate) fn authorize_with(
        &self,
        action: Action,
        resource: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        if self.inner.authorizer.allows_everything() {
            return Ok(());
        }
        let resource = resource();
        if self
            .inner
            .authorizer
            .is_allowed(&self.principal, action, &resource)
        {
            Ok(())
        } else {
            Err(Error::NoPermission { action, resource })
        }
    }

    /// The record of `name` unless it is absent or past its planned delete time, in which case
    /// it is purged (record and ciphertexts) and `None` is returned.
    pub(crate) fn live_record(&self, name: &SecretName) -> Result<Option<SecretRecord>, Error> {
        let now = self.now();
        match self.inner.storage.read(name)? {
            Some(record) if is_expired(&record, now) => {
                self.inner
                    .storage
                    .update(name, &mut |current| match current {
                        Some(r) if is_expired(r, now) => Update::Delete,
                        _ => Update::Keep,
                    })?;
                self.forget_cached(name, None);
                Ok(None)
            }
            other => Ok(other),
        }
    }

    /// Encrypts `value` for version `version` of secret `name` under a fresh data key.
    pub(crate) fn seal(
        &self,
        key_id: &KeyId,
        name: &SecretName,
        version: &VersionId,
        value: &SecretValue,
    ) -> Result<Vec<u8>, Error> {
        let context = EnvelopeContext {
            secret_name: name,
            version_id: version,
            data_type: value.data_type(),
        };
        envelope::seal(
            self.inner.kms.as_ref(),
            key_id,
            &context,
            value.bytes().expose(),
        )
        .map_err(|e| crypto_error(e, name, version))
    }

    /// Decrypts the payload of `version` of `record`.
    pub(crate) fn open(
        &self,
        record: &SecretRecord,
        version: &VersionRecord,
        payload: &[u8],
    ) -> Result<SecretValue, Error> {
        let context = EnvelopeContext {
            secret_name: &record.name,
            version_id: &version.version_id,
            data_type: version.data_type,
        };
        // The envelope names the key that wrapped its data key; it must be the secret's own,
        // or a damaged payload would surface as a misleading "key not found".
        let env = match envelope::parse(payload) {
            Ok(env) if env.key_id() == record.encryption_key_id => env,
            _ => {
                tracing::error!(secret = %record.name, version = %version.version_id,
                    "a stored value's envelope is malformed or names another key: damaged or tampered with");
                return Err(Error::InternalFailure);
            }
        };
        let bytes = envelope::open_parsed(self.inner.kms.as_ref(), &env, &context)
            .map_err(|e| crypto_error(e, &record.name, &version.version_id))?;
        SecretValue::new(version.data_type, bytes).map_err(|_| {
            tracing::error!(secret = %record.name, version = %version.version_id,
                "a decrypted value breaks the value rules; the store is damaged");
            Error::InternalFailure
        })
    }
}

/// What an operation's step decided, besides its result. Payloads are lent (`'a`), so that a
/// step run more than once does not copy them each time.
pub(crate) enum Step<'a, T> {
    /// Change nothing.
    Keep(T),
    /// Store the changed record, with these payload changes.
    Write {
        out: T,
        put_payloads: Vec<(VersionId, Cow<'a, [u8]>)>,
        delete_payloads: Vec<VersionId>,
    },
    /// Remove the secret and all of its payloads.
    Delete(T),
}

impl<T> Step<'_, T> {
    /// Store the changed record; no payload changes.
    pub(crate) fn write(out: T) -> Self {
        Step::Write {
            out,
            put_payloads: Vec::new(),
            delete_payloads: Vec::new(),
        }
    }
}

/// Whether an operation may act on a secret pending deletion.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    Refuse,
    Allow,
}

impl SecretsManager {
    /// Runs `f` on a copy of the live record of `name` inside the storage's atomic step, and
    /// applies what it decides; the record's update time is set on a write.
    ///
    /// An absent secret is `Forbidden.ResourceNotFound`; one past its planned delete time is
    /// purged in the same step and is not found either; one pending deletion is
    /// `Rejected.ResourceInDeleteWindow` unless `pending` allows it. `f` may run more than once.
    pub(crate) fn mutate<'a, T>(
        &self,
        name: &SecretName,
        pending: Pending,
        mut f: impl FnMut(&mut SecretRecord, Timestamp) -> Result<Step<'a, T>, Error>,
    ) -> Result<T, Error> {
        let now = self.now();
        let mut outcome: Option<Result<T, Error>> = None;
        // What the cache must drop once the step is applied: None, the whole secret, or
        // evicted versions (only the last call of the closure counts).
        let mut forget: Option<Option<Vec<VersionId>>> = None;
        self.inner.storage.update(name, &mut |current| {
            forget = None;
            let Some(current) = current else {
                outcome = Some(Err(secret_not_found(name)));
                return Update::Keep;
            };
            if is_expired(current, now) {
                outcome = Some(Err(secret_not_found(name)));
                forget = Some(None);
                return Update::Delete;
            }
            if pending == Pending::Refuse
                && let Err(e) = ensure_not_pending(current)
            {
                outcome = Some(Err(e));
                return Update::Keep;
            }
            let mut record = current.clone();
            let (result, update) = match f(&mut record, now) {
                Err(e) => (Err(e), Update::Keep),
                Ok(Step::Keep(out)) => (Ok(out), Update::Keep),
                Ok(Step::Delete(out)) => {
                    forget = Some(None);
                    (Ok(out), Update::Delete)
                }
                Ok(Step::Write {
                    out,
                    put_payloads,
                    delete_payloads,
                }) => {
                    if !delete_payloads.is_empty() {
                        forget = Some(Some(delete_payloads.clone()));
                    }
                    record.update_time = now;
                    (
                        Ok(out),
                        Update::Write {
                            record,
                            put_payloads,
                            delete_payloads,
                        },
                    )
                }
            };
            outcome = Some(result);
            update
        })?;
        if let Some(versions) = &forget {
            self.forget_cached(name, versions.as_deref());
        }
        outcome.expect("the storage runs the update closure at least once")
    }
}

impl SecretsManager {
    /// Whether `record` has version `version_id` holding exactly `value` (same type, same bytes,
    /// compared in constant time after decryption): the test of an idempotent retry.
    pub(crate) fn stores_same_value(
        &self,
        record: &SecretRecord,
        version_id: &VersionId,
        value: &SecretValue,
    ) -> Result<bool, Error> {
        let Some(version) = record.versions.iter().find(|v| v.version_id == *version_id) else {
            return Ok(false);
        };
        if version.data_type != value.data_type() {
            return Ok(false);
        }
        // Comparing is reading: without what GetSecretValue needs (`kms:GetSecretValue` on the
        // secret and `kms:Decrypt` on its key), a retry could be used to test guesses at a
        // stored value. Such a caller gets "exists", as for another value.
        let may_read = self
            .authorize_with(Action::GetSecretValue, || self.secret_arn(&record.name))
            .and_then(|()| {
                self.authorize_with(Action::Decrypt, || self.key_arn(&record.encryption_key_id))
            });
        if may_read.is_err() {
            return Ok(false);
        }
        let Some(payload) = self.inner.storage.read_payload(&record.name, version_id)? else {
            return Ok(false);
        };
        // Only the writing `record` names counts: a payload of another one (the version
        // evicted and its id written again since `record` was read) is not compared.
        if version
            .payload_tag
            .is_some_and(|tag| PayloadTag::of(&payload) != Some(tag))
        {
            return Ok(false);
        }
        let stored = self.open(record, version, &payload)?;
        Ok(stored.bytes().ct_eq(value.bytes()))
    }
}

/// The secret is past its planned delete time and behaves as absent.
pub(crate) fn is_expired(record: &SecretRecord, now: Timestamp) -> bool {
    record.planned_delete_time.is_some_and(|t| t <= now)
}

/// Refuses a secret pending deletion.
pub(crate) fn ensure_not_pending(record: &SecretRecord) -> Result<(), Error> {
    if record.planned_delete_time.is_some() {
        return Err(Error::ResourceInDeleteWindow(record.name.to_string()));
    }
    Ok(())
}

pub(crate) fn secret_not_found(name: &SecretName) -> Error {
    Error::ResourceNotFound(format!("The secret \"{name}\" is not found."))
}

/// A required text parameter: empty counts as not given.
pub(crate) fn required<'a>(parameter: &'static str, s: &'a str) -> Result<&'a str, Error> {
    if s.is_empty() {
        return Err(ValidationError::missing(parameter).into());
    }
    Ok(s)
}

/// An optional text parameter: empty counts as not given.
pub(crate) fn optional(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

pub(crate) fn kms_error(e: secret_crypto::KmsError) -> Error {
    use secret_crypto::KmsError;
    match e {
        KmsError::KeyNotFound(k) => Error::KeyNotFound(k.to_string()),
        KmsError::KeyDisabled(k) => Error::KeyDisabled(k.to_string()),
        other => {
            tracing::error!(error = %other, "the KMS failed");
            Error::InternalFailure
        }
    }
}

fn crypto_error(e: CryptoError, name: &SecretName, version: &VersionId) -> Error {
    match e {
        CryptoError::Kms(k) => kms_error(k),
        other => {
            // Deliberately opaque to the caller: no oracle. The log names the version only.
            tracing::error!(secret = %name, version = %version, error = %other,
                "a stored value failed to decrypt: damaged or tampered with");
            Error::InternalFailure
        }
    }
}

/// A secret a request names, its name validated: one of this store, or an ARN of another
/// region or account, which is "not found" once the request is authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A secret of this store.
    Local(SecretName),
    /// The ARN, as given, of a secret in another region or account.
    Foreign(String),
}

impl Target {
    /// The name of a secret of this store; `Forbidden.ResourceNotFound` for another store's.
    pub(crate) fn into_local(self) -> Result<SecretName, Error> {
        match self {
            Target::Local(name) => Ok(name),
            Target::Foreign(arn) => Err(Error::ResourceNotFound(format!(
                "The secret \"{arn}\" is not found: the ARN names another region or account."
            ))),
        }
    }
}
