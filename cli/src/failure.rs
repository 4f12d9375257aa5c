//! The one place errors become exit codes.

use std::fmt;

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_sign::repo::lock::LockError;
use fwsign_sign::repo::published_state::Fault;
use fwsign_sign::repo::{ErrorClass, RepoError};

/// Exit code: a security refusal.
pub(crate) const SECURITY: u8 = 1;
/// Exit code: a usage or input error.
pub(crate) const USAGE: u8 = 2;
/// Exit code: an I/O or HSM failure.
pub(crate) const IO: u8 = 3;

/// The `--json` reason of a failure that names none of its own: its exit
/// code's class (`refused`, `usage`, `io`), so every failure document has
/// one.
pub(crate) fn fallback_reason(code: u8) -> &'static str {
    match code {
        USAGE => ErrorClass::Usage.reason(),
        IO => ErrorClass::Io.reason(),
        _ => ErrorClass::Security.reason(),
    }
}

/// A failed command: the message for stderr and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: u8,
    pub message: String,
    /// The command's result document, when it has one to report even though
    /// it failed (`repo status --check-expiry`); `--json` prints it, with the
    /// error added, as the one document on stdout.
    pub document: Option<serde_json::Value>,
}

impl Failure {
    pub(crate) fn with_document(mut self, document: serde_json::Value) -> Self {
        self.document = Some(document);
        self
    }

    pub(crate) fn usage(message: impl fmt::Display) -> Self {
        Self {
            code: USAGE,
            message: message.to_string(),
            document: None,
        }
    }

    pub(crate) fn security(message: impl fmt::Display) -> Self {
        Self {
            code: SECURITY,
            message: message.to_string(),
            document: None,
        }
    }

    pub(crate) fn io(message: impl fmt::Display) -> Self {
        Self {
            code: IO,
            message: message.to_string(),
            document: None,
        }
    }
}

/// An error's message followed by its causes, each once: library errors
/// wrap opaque ones (a `signature::Error` from an HSM) whose detail is only in
/// their source.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl From<RepoError> for Failure {
    fn from(e: RepoError) -> Self {
        let code = match e.class() {
            ErrorClass::Security => SECURITY,
            ErrorClass::Usage => USAGE,
            ErrorClass::Io => IO,
            // A class added later is treated as the most conservative.
            #[allow(unreachable_patterns, reason = "ErrorClass may grow")]
            _ => SECURITY,
        };
        // Every failure names its machine reason; some carry what a script
        // acts on: who holds the lock, which keys must still sign, which
        // roles expired.
        let mut document = match &e {
            RepoError::Lock(LockError::Timeout {
                path,
                holder,
                waited,
            }) => serde_json::json!({
                "lock_file": path,
                "waited_secs": waited.as_secs_f64(),
                "holder": holder.as_ref().map(|h| serde_json::json!({
                    "command": h.command,
                    "pid": h.pid,
                    "host": h.host,
                    "since": h.since,
                    "since_utc": UnixTime(h.since).to_expires(),
                })),
            }),
            RepoError::NotApproved(missing) => {
                let mut roles: Vec<&str> = missing.iter().map(|m| m.role.as_str()).collect();
                roles.dedup();
                serde_json::json!({ "roles": roles, "missing": missing })
            }
            RepoError::Expired(expired) => serde_json::json!({
                "roles": expired.iter().map(|r| r.role.as_str()).collect::<Vec<_>>(),
                "expired": expired,
            }),
            RepoError::RoleChanged {
                role,
                signed_version,
                staged_version,
            } => serde_json::json!({
                "role": role,
                "signed_version": signed_version,
                "staged_version": staged_version,
            }),
            RepoError::VerifyFailed { faults, .. } => verify_failed(faults),
            _ => serde_json::json!({}),
        };
        document["reason"] = serde_json::Value::from(e.reason());
        let document = Some(document);
        Self {
            code,
            message: with_causes(&e),
            document,
        }
    }
}

/// The document of a refusal over a published state that fails the load
/// check: `reason: verify-failed` and each fault (file, role, reason,
/// message), for scripts.
pub(crate) fn verify_failed(faults: &[Fault]) -> serde_json::Value {
    serde_json::json!({
        "reason": "verify-failed",
        "faults": faults.iter().map(Fault::to_json).collect::<Vec<_>>(),
    })
}
