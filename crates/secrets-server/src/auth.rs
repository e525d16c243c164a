//! Authenticating a request: signature V3 or V1, the timestamp window, the replay guard, and
//! which access key signed it.
//!
//! Order of checks: the signature's parts, the access key, the timestamp, the body hash and the
//! signature, and only then the nonce — so an unsigned request cannot fill the replay guard —
//! then the API version and the action.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hyper::HeaderMap;
use secret_model::Timestamp;
use secrets_manager::Clock;
use secrets_wire::Params;

use crate::access_keys::{AccessKey, AccessKeys};
use crate::error::Rejection;
use crate::nonce::{Budget, NonceCache, NonceCheck, digest_of, key_digest};
use crate::nonce_log::{Entry, NonceLog};
use crate::signature::{v1, v3};

/// The longest nonce accepted.
const NONCE_MAX: usize = 256;

/// The one API version served (SPEC §5): KMS's `2016-01-20`.
const API_VERSION: &str = "2016-01-20";

/// The parts of a request that its signature covers.
pub(crate) struct SignedParts<'a> {
    /// `GET` or `POST`.
    pub(crate) method: &'a str,
    pub(crate) headers: &'a HeaderMap,
    /// The query string's pairs, decoded.
    pub(crate) query: &'a [(String, String)],
    /// The raw body.
    pub(crate) body: &'a [u8],
    /// The query and form parameters, merged.
    pub(crate) params: &'a Params,
}

/// Who signed a request, and what it asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Authenticated {
    pub(crate) access_key_id: String,
    pub(crate) action: String,
    /// The nonce as this server's guard recorded it, for a guard shared with other servers
    /// ([`crate::SharedNonces`]) to check too.
    pub(crate) nonce: NonceSeen,
}

/// A nonce accepted by this server's guard, by digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NonceSeen {
    /// The digest of the access key id.
    pub(crate) key: u64,
    /// The digest of (access key id, nonce).
    pub(crate) id: u64,
    /// The unix second its window runs from: the later of the request's time and the
    /// server's clock.
    pub(crate) seen_at: i64,
    /// The window, in seconds (`max_clock_skew`).
    pub(crate) window: i64,
    /// The server's unix time when it was accepted.
    pub(crate) now: i64,
}

/// Verifies signatures against the access keys and remembers nonces.
pub(crate) struct Authenticator {
    keys: Arc<AccessKeys>,
    /// Each access key's replay guard. They draw on one capacity, and no key's may hold more
    /// than half of it: a key that fills its own (a leaked or misbehaving client) is throttled
    /// while the others keep at least the other half; a busy key among idle ones gets half.
    nonces: HashMap<String, KeyNonces>,
    /// Where accepted nonces are written, so that a restarted server still refuses replays.
    log: Option<NonceLog>,
    clock: Arc<dyn Clock>,
    /// The largest accepted distance between a request's time and the server's, in seconds.
    skew: i64,
}

/// One access key's replay guard, and the digest its log entries name the key by.
struct KeyNonces {
    cache: NonceCache,
    key: u64,
}

impl Authenticator {
    /// An authenticator for `keys`. With `nonce_log`, the nonces accepted are also written
    /// to that directory, and those an earlier run accepted that have not expired are
    /// refused again ([`crate::nonce_log`]).
    ///
    /// Errors: the log cannot be opened (see [`NonceLog::open`]).
    pub(crate) fn new(
        keys: Arc<AccessKeys>,
        clock: Arc<dyn Clock>,
        skew_secs: i64,
        nonce_capacity: usize,
        nonce_log: Option<&Path>,
    ) -> std::io::Result<Self> {
        // Together they hold the capacity; with more than one key, none holds over half.
        let budget = Budget::new(nonce_capacity);
        let share = nonce_capacity / keys.len().clamp(1, 2);
        let nonces: HashMap<String, KeyNonces> = keys
            .ids()
            .map(|id| {
                let guard = KeyNonces {
                    cache: NonceCache::new(share, budget.clone()),
                    key: key_digest(id),
                };
                (id.to_owned(), guard)
            })
            .collect();
        let log = match nonce_log {
            None => None,
            Some(dir) => {
                // A nonce is remembered for the window after it was seen, as configured now.
                let (log, entries) = NonceLog::open(dir, clock.now().unix(), skew_secs)?;
                let by_key: HashMap<u64, &NonceCache> =
                    nonces.values().map(|g| (g.key, &g.cache)).collect();
                // Entries of keys no longer in the file can never be checked again.
                for entry in entries {
                    if let Some(cache) = by_key.get(&entry.key) {
                        cache.restore(entry.id, entry.seen_at.saturating_add(skew_secs));
                    }
                }
                Some(log)
            }
        };
        Ok(Authenticator {
            keys,
            nonces,
            log,
            clock,
            skew: skew_secs,
        })
    }

    /// Forgets a nonce [`Authenticator::authenticate`] accepted, for a request refused before
    /// it ran (the shared replay guard could not record it): the same signed request sent
    /// again is then taken as new by this server, not refused as a replay. A nonce log keeps
    /// its entry, so a restarted server would still refuse the resend: the safe side.
    pub(crate) fn forget_nonce(&self, access_key_id: &str, seen: &NonceSeen) {
        if let Some(guard) = self.nonces.get(access_key_id) {
            guard
                .cache
                .forget(seen.id, seen.seen_at.saturating_add(seen.window));
        }
    }

    /// Checks the request's signature (V3 when it has an `Authorization` header, else V1).
    pub(crate) fn authenticate(&self, req: &SignedParts<'_>) -> Result<Authenticated, Rejection> {
        if let Some(header) = req.headers.get(hyper::header::AUTHORIZATION) {
            let header = header.to_str().map_err(|_| {
                Rejection::incomplete_signature("The Authorization header is not ASCII.")
            })?;
            self.v3(req, header)
        } else if req.params.get("Signature").is_some() || req.params.get("AccessKeyId").is_some() {
            self.v1(req)
        } else {
            Err(Rejection::incomplete_signature(
                "The request is not signed: anonymous access is not allowed. Sign it with \
                 ACS3-HMAC-SHA256 (an Authorization header) or HMAC-SHA1 (the Signature and \
                 AccessKeyId parameters).",
            ))
        }
    }

    fn v3(&self, req: &SignedParts<'_>, header: &str) -> Result<Authenticated, Rejection> {
        let auth = v3::parse_authorization(header).ok_or_else(|| {
            Rejection::incomplete_signature(
                "The Authorization header must read ACS3-HMAC-SHA256 Credential=<AccessKeyId>,\
                 SignedHeaders=<a;b;...>,Signature=<hex>.",
            )
        })?;
        if auth.algorithm != v3::ALGORITHM {
            return Err(Rejection::signature_method(format!(
                "The signature method {} is not supported; use ACS3-HMAC-SHA256, or HMAC-SHA1 \
                 (signature V1).",
                shorten(auth.algorithm)
            )));
        }
        let key = self.key(auth.access_key_id)?;
        let signed: Vec<&str> = auth.signed_headers.split(';').collect();
        for name in req.headers.keys() {
            let name = name.as_str();
            let must_sign = name.starts_with("x-acs-")
                || name == "host"
                || (name == "content-type" && !req.body.is_empty());
            if must_sign && !signed.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                return Err(Rejection::incomplete_signature(format!(
                    "The header {name} must be in SignedHeaders."
                )));
            }
        }
        // Header names are case-insensitive here as above (the canonical request lower-cases
        // them): `Host` in SignedHeaders signs the host.
        if !signed.iter().any(|s| s.eq_ignore_ascii_case("host")) {
            return Err(Rejection::incomplete_signature(
                "The header host must be in SignedHeaders.",
            ));
        }
        let date = header_text(req.headers, "x-acs-date")
            .ok_or_else(|| Rejection::missing("x-acs-date"))?;
        let nonce = header_text(req.headers, "x-acs-signature-nonce")
            .ok_or_else(|| Rejection::missing("x-acs-signature-nonce"))?;
        // Given twice, the headers are signed joined with `,`: `a,b` could be resent as `a` and
        // `b` (in either order) under the same signature, each a new first header.
        if req.headers.get_all("x-acs-signature-nonce").iter().count() > 1 {
            return Err(Rejection::invalid(
                "x-acs-signature-nonce",
                "must be given once",
            ));
        }
        let time = self.check_time("x-acs-date", &date)?;

        let body_hash = v3::hex_sha256(req.body);
        let query = v3::canonical_query(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut headers: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(signed.len());
        for name in &signed {
            let mut values = req.headers.get_all(*name).iter().peekable();
            if values.peek().is_none() {
                headers.push((name, Cow::Borrowed("")));
            }
            headers.extend(values.map(|v| (*name, String::from_utf8_lossy(v.as_bytes()))));
        }
        let (canonical, _) = v3::canonical_request(
            req.method,
            &query,
            headers.iter().map(|(n, v)| (*n, v.as_ref())),
            &body_hash,
        );
        let string_to_sign = v3::string_to_sign(&canonical);
        if let Some(claimed) = header_text(req.headers, "x-acs-content-sha256")
            && !claimed.eq_ignore_ascii_case(&body_hash)
        {
            return Err(Rejection::signature_mismatch(
                "The x-acs-content-sha256 header is not the SHA-256 of the body.",
                &string_to_sign,
            ));
        }
        if !v3::verify(&key.v3, &string_to_sign, auth.signature) {
            return Err(Rejection::signature_mismatch(
                "Specified signature does not match our calculation.",
                &string_to_sign,
            ));
        }
        // The nonce as signed: the canonical request trims its value the same way.
        let nonce = self.check_nonce(auth.access_key_id, nonce.trim_ascii(), time)?;

        // The header is how V3 names it; a Version parameter, if also given, must agree.
        let version = header_text(req.headers, "x-acs-version")
            .ok_or_else(|| Rejection::missing("x-acs-version"))?;
        check_version("x-acs-version", version.trim_ascii())?;
        if let Some(v) = req.params.get("Version") {
            check_version("Version", v)?;
        }
        let action = match (
            header_text(req.headers, "x-acs-action"),
            req.params.get("Action"),
        ) {
            (Some(h), Some(p)) if h != p => {
                return Err(Rejection::invalid(
                    "Action",
                    "the x-acs-action header and the Action parameter differ",
                ));
            }
            (Some(h), _) => h.into_owned(),
            (None, Some(p)) => p.to_owned(),
            (None, None) => return Err(Rejection::missing("Action")),
        };
        Ok(Authenticated {
            access_key_id: auth.access_key_id.to_owned(),
            action,
            nonce,
        })
    }

    fn v1(&self, req: &SignedParts<'_>) -> Result<Authenticated, Rejection> {
        let p = req.params;
        let required = |name: &'static str| p.get(name).ok_or_else(|| Rejection::missing(name));
        let signature = required("Signature")?;
        let access_key_id = required("AccessKeyId")?;
        let method = required("SignatureMethod")?;
        if method != v1::METHOD {
            return Err(Rejection::signature_method(format!(
                "The signature method {} is not supported; use HMAC-SHA1, or ACS3-HMAC-SHA256 \
                 (signature V3).",
                shorten(method)
            )));
        }
        if p.get("SignatureVersion").is_some_and(|v| v != v1::VERSION) {
            return Err(Rejection::signature_method("SignatureVersion must be 1.0."));
        }
        let key = self.key(access_key_id)?;
        let timestamp = required("Timestamp")?;
        let nonce = required("SignatureNonce")?;
        let time = self.check_time("Timestamp", timestamp)?;
        let string_to_sign = v1::string_to_sign(req.method, p.iter());
        if !v1::verify(&key.v1, &string_to_sign, signature) {
            return Err(Rejection::signature_mismatch(
                "Specified signature does not match our calculation.",
                &string_to_sign,
            ));
        }
        let nonce = self.check_nonce(access_key_id, nonce, time)?;
        check_version("Version", required("Version")?)?;
        Ok(Authenticated {
            access_key_id: access_key_id.to_owned(),
            action: required("Action")?.to_owned(),
            nonce,
        })
    }

    fn key(&self, access_key_id: &str) -> Result<&AccessKey, Rejection> {
        self.keys
            .get(access_key_id)
            .ok_or_else(Rejection::access_key_not_found)
    }

    /// The request's time, if within the window around the server's.
    fn check_time(&self, name: &str, text: &str) -> Result<i64, Rejection> {
        let time =
            Timestamp::parse(text.trim()).ok_or_else(|| Rejection::timestamp_format(name))?;
        let now = self.clock.now();
        if (time.unix() - now.unix()).abs() > self.skew {
            return Err(Rejection::timestamp_expired(
                &time.to_string(),
                &now.to_string(),
                self.skew,
            ));
        }
        Ok(time.unix())
    }

    /// Remembers the nonce for the window's length after the server saw it, or until the
    /// request's time leaves the window if that is later (a time ahead of the server's clock);
    /// refuses a repeat meanwhile.
    fn check_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        time: i64,
    ) -> Result<NonceSeen, Rejection> {
        // Visible ASCII only: a nonce is remembered byte for byte, so nothing may make two
        // spellings of one nonce.
        if nonce.is_empty()
            || nonce.len() > NONCE_MAX
            || !nonce.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Rejection::invalid(
                "SignatureNonce",
                "must be 1 to 256 visible ASCII characters",
            ));
        }
        let now = self.clock.now().unix();
        // Only a known key's signature gets this far.
        let Some(guard) = self.nonces.get(access_key_id) else {
            return Err(Rejection::access_key_not_found());
        };
        let seen_at = time.max(now);
        let expires_at = seen_at + self.skew;
        let id = digest_of(access_key_id, nonce);
        let mut check = guard.cache.check_and_insert_digest(id, expires_at, now);
        if check == NonceCheck::Full {
            // The shared capacity may be held by expired nonces of keys that have gone quiet
            // (a shard drops its own only when next used): sweep them all, then try again.
            for other in self.nonces.values() {
                other.cache.evict_expired(now);
            }
            check = guard.cache.check_and_insert_digest(id, expires_at, now);
        }
        match check {
            NonceCheck::Fresh => {}
            NonceCheck::Used => return Err(Rejection::nonce_used()),
            NonceCheck::Full => return Err(Rejection::throttled()),
        }
        if let Some(log) = &self.log {
            let entry = Entry {
                key: guard.key,
                id,
                seen_at,
            };
            // Refused unless logged: a restarted server would not know to refuse its replay.
            // And forgotten: the request never ran, so the same bytes sent again are no replay.
            log.append(entry, now).map_err(|e| {
                tracing::error!(error = %e, "the nonce log could not be written");
                guard.cache.forget(id, expires_at);
                Rejection::nonce_log_failed()
            })?;
        }
        Ok(NonceSeen {
            key: guard.key,
            id,
            seen_at,
            window: self.skew,
            now,
        })
    }
}

/// Refuses an API version other than the one served; `name` is where the request gave it.
fn check_version(name: &str, given: &str) -> Result<(), Rejection> {
    if given.is_empty() {
        Err(Rejection::missing(name))
    } else if given == API_VERSION {
        Ok(())
    } else {
        Err(Rejection::invalid(
            name,
            &format!(
                "this server speaks API version {API_VERSION} (KMS), not {}",
                shorten(given)
            ),
        ))
    }
}

/// A header's value as text (lossy for non-UTF-8 bytes), if present.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
}

/// Caller-given text for a message: at most 64 characters, escaped.
fn shorten(s: &str) -> String {
    s.chars().take(64).flat_map(char::escape_default).collect()
}
