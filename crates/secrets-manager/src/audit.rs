//! The audit hook: one event per operation, success or failure, never carrying a value.

use secret_model::{ErrorCode, Timestamp};

use crate::auth::Action;

/// What happened in one operation. It holds names and ids (stored in the clear anyway), never
/// a secret value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// The request id the caller was (or would have been) given.
    pub request_id: String,
    /// Who asked.
    pub principal: String,
    /// The operation, such as `kms:GetSecretValue`.
    pub action: Action,
    /// The secret the request named, if any (as given, shortened if very long).
    pub secret_name: Option<String>,
    /// The version the request named or the operation chose, where one applies.
    pub version_id: Option<String>,
    /// `Ok` or the error code the caller got.
    pub outcome: Result<(), ErrorCode>,
    /// When the operation finished.
    pub time: Timestamp,
}

/// Where audit events go. Called once per operation, after it finished, on the caller's thread;
/// it must not block for long.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: &AuditEvent);

    /// Whether events would go anywhere right now. When `false`, the store does not build
    /// them (their text costs allocations on every operation). Default `true`; a sink that
    /// answers `false` must drop what [`AuditSink::record`] is given anyway.
    fn enabled(&self) -> bool {
        true
    }
}

/// The default sink: one `tracing` event per operation at INFO (failures at WARN), target
/// `secrets_audit`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingAuditSink;

impl AuditSink for TracingAuditSink {
    /// Whether a `tracing` subscriber takes `secrets_audit` events at WARN (failures) — and so
    /// possibly at INFO; without one, nothing would be written.
    fn enabled(&self) -> bool {
        tracing::enabled!(target: "secrets_audit", tracing::Level::WARN)
    }

    fn record(&self, e: &AuditEvent) {
        let secret = e.secret_name.as_deref().unwrap_or("");
        let version = e.version_id.as_deref().unwrap_or("");
        match e.outcome {
            Ok(()) => tracing::info!(
                target: "secrets_audit",
                request_id = %e.request_id, principal = %e.principal, action = %e.action,
                secret = %secret, version = %version, time = %e.time, outcome = "ok",
            ),
            Err(code) => tracing::warn!(
                target: "secrets_audit",
                request_id = %e.request_id, principal = %e.principal, action = %e.action,
                secret = %secret, version = %version, time = %e.time, outcome = %code,
            ),
        }
    }
}

/// Shortens caller-given text for the audit trail: at most 256 characters, control characters
/// escaped, so a hostile name cannot flood or forge log lines.
pub(crate) fn audit_text(s: &str) -> String {
    const MAX: usize = 256;
    if s.len() <= MAX && s.bytes().all(|b| b.is_ascii_graphic()) {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_default).collect();
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tracing_sink_is_off_without_a_subscriber() {
        // No test of this crate's unit tests installs a global subscriber.
        assert!(!TracingAuditSink.enabled());
    }
}
