//! The one place errors become exit codes: every library error reaches the
//! user through a `From` here, and every class maps to its code in
//! [`Failure::of_class`].

use std::fmt;

use fwsign_client::ClientError;
use fwsign_client::bundle::BundleError;
use fwsign_core::target_check::TargetRefusal;
use fwsign_hsm::HsmError;
use fwsign_keys::ErrorClass;
use fwsign_keys::key_backup::BackupError;
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_ocpp::OcppError;
use fwsign_ocpp::cert::{CertError, ChainError};
use fwsign_push::PushError;
use fwsign_repo::RepoError;
use fwsign_repo::audit::forward::ForwardError;
use fwsign_repo::lock::LockError;
use fwsign_repo::published_state::Fault;

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

    /// The one mapping from a library error's class to an exit code.
    pub(crate) fn of_class(class: ErrorClass, message: impl fmt::Display) -> Self {
        let code = match class {
            ErrorClass::Usage => USAGE,
            ErrorClass::Io => IO,
            // Security, and a class added later: the most conservative.
            _ => SECURITY,
        };
        Self {
            code,
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
        let code = Self::of_class(e.class(), "").code;
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
            RepoError::SignatureMismatch {
                role,
                version,
                keyid,
            } => serde_json::json!({"role": role, "version": version, "keyid": keyid}),
            RepoError::BatchEntryMismatch { batch, role, .. } => {
                serde_json::json!({"role": role, "batch": batch})
            }
            RepoError::TargetExists {
                role,
                name,
                staged,
                listed_sha256,
                listed_length,
                new_sha256,
                new_length,
            } => serde_json::json!({
                "role": role,
                "target": name,
                "listed": {
                    "state": if *staged { "staged" } else { "published" },
                    "sha256": listed_sha256,
                    "length": listed_length,
                },
                "new": { "sha256": new_sha256, "length": new_length },
            }),
            RepoError::NoSuchDelegation {
                role,
                from,
                delegated_by,
            } => serde_json::json!({"role": role, "from": from, "delegated_by": delegated_by}),
            RepoError::WouldStrand { role, stranded } => {
                serde_json::json!({"role": role, "stranded": stranded})
            }
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

/// Forwarding the audit log: a rewritten log is a refusal (exit 1), an
/// unreachable server or unwritable cursor exit 3, a bad SD-ID, server or
/// cursor file exit 2.
impl From<ForwardError> for Failure {
    fn from(e: ForwardError) -> Self {
        let reason = e.reason();
        let failure = match e {
            ForwardError::Repo(repo) => return Self::from(*repo),
            e => Self::of_class(e.class(), with_causes(&e)),
        };
        failure.with_document(serde_json::json!({ "reason": reason }))
    }
}

impl From<BundleError> for Failure {
    fn from(e: BundleError) -> Self {
        if let BundleError::FirmwareRefused {
            source: TargetRefusal::BootloaderVersionRequired,
            ..
        } = &e
        {
            return Self::security(format!("{e}: {BOOTLOADER_VERSION_HINT}"));
        }
        if let BundleError::Repository { source, .. } = &e
            && let RepoError::VerifyFailed { faults, .. } = source.as_ref()
        {
            let document = verify_failed(faults);
            return Self::security(e).with_document(document);
        }
        Self::of_class(e.class(), e)
    }
}

/// The flag that supplies what a device refusal found missing.
const BOOTLOADER_VERSION_HINT: &str =
    "give the device's bootloader version with --bootloader-version X.Y.Z";

/// `fwsign client`'s contract: every failure is exit 1 (a client that
/// cannot update must not install, whatever the cause).
impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::FirmwareRefused {
                source: TargetRefusal::BootloaderVersionRequired,
                ..
            } => Self::security(format!("{e}: {BOOTLOADER_VERSION_HINT}")),
            _ => Self::security(e),
        }
    }
}

impl From<CertError> for Failure {
    fn from(e: CertError) -> Self {
        Self::of_class(e.class(), with_causes(&e))
    }
}

/// A refused certificate path: a security refusal.
impl From<ChainError> for Failure {
    fn from(e: ChainError) -> Self {
        Self::security(e)
    }
}

impl From<OcppError> for Failure {
    fn from(e: OcppError) -> Self {
        Self::of_class(e.class(), with_causes(&e))
    }
}

impl From<BackupError> for Failure {
    fn from(e: BackupError) -> Self {
        Self::of_class(e.class(), e)
    }
}

/// An HSM error: a bad URI, a refused PIN value or a PIN file others can
/// read is a usage error, the rest
/// are failures of the HSM (exit 3).
impl From<HsmError> for Failure {
    fn from(e: HsmError) -> Self {
        match e {
            HsmError::InvalidUri { .. }
            | HsmError::PinValueRefused
            | HsmError::PinFileExposed(_) => Self::usage(with_causes(&e)),
            other => Self::io(other),
        }
    }
}

/// `repo push`: a bucket ahead of the repository, another repository's
/// bucket, an object with other content, a store without conditional
/// writes or a read-back that does not verify are refusals (exit 1); the
/// store's or the disk's failures exit 3. The document names the reason,
/// and the conflicting objects or versions where there are some.
impl From<PushError> for Failure {
    fn from(e: PushError) -> Self {
        let document = match &e {
            PushError::Repo(_) => None,
            PushError::Conflicts(conflicts) => Some(serde_json::json!({ "conflicts": conflicts })),
            PushError::BucketNotBehind {
                key,
                bucket_version,
                local_version,
            } => Some(serde_json::json!({
                "key": key,
                "bucket_version": bucket_version,
                "local_version": local_version,
            })),
            _ => Some(serde_json::json!({})),
        };
        let reason = e.reason();
        match (e, document) {
            (PushError::Repo(repo), _) => Self::from(repo),
            (e, Some(mut document)) => {
                document["reason"] = serde_json::Value::from(reason);
                Self::of_class(e.class(), with_causes(&e)).with_document(document)
            }
            (e, None) => Self::of_class(e.class(), with_causes(&e)),
        }
    }
}
