//! A stable machine name for every repository error (`--json`'s `reason`),
//! so a CI job branches on a word rather than on a message meant for people.
//! The names are a contract (documented in `docs/release-guide.md`): a new
//! error gets a new name, an existing name never changes meaning.

use super::RepoError;
use super::lock::LockError;
use crate::audit::AuditError;
use fwsign_keys::document::DocumentError;

impl RepoError {
    /// The error's machine reason: `threshold-not-met`, `role-changed`,
    /// `locked`, `expired`, ... Errors without a name of their own fall back
    /// to their class: `refused`, `usage` or `io`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotApproved(_) => "threshold-not-met",
            Self::RoleChanged { .. } => "role-changed",
            Self::NothingStaged(_) | Self::NotStaged(_) | Self::NoRoleMatches(_) => {
                "nothing-staged"
            }
            Self::Lock(LockError::Timeout { .. }) => "locked",
            Self::Expired(_) => "expired",
            Self::NotAuthorised { .. } => "not-authorised",
            Self::SignatureMismatch { .. } => "signature-mismatch",
            Self::StagedTargetChanged { .. } => "staged-target-changed",
            Self::PayloadMismatch { .. } | Self::BatchEntryMismatch { .. } => "payload-mismatch",
            Self::Refused { .. } => "verify-failed",
            Self::Document {
                source: DocumentError::Verify(_) | DocumentError::SignatureInvalid { .. },
                ..
            } => "verify-failed",
            Self::History { .. } => "history-invalid",
            Self::Audit(AuditError::Io { .. }) => "io",
            Self::Audit(_) => "audit-log-invalid",
            Self::NotARepository(_) => "not-a-repository",
            Self::AlreadyInitialised(_) => "already-initialised",
            Self::InvalidName { .. } => "invalid-name",
            Self::InvalidKeyOwner { .. } => "invalid-key-owner",
            Self::KeyOwnerNotListed { .. } => "key-owner-not-listed",
            Self::SharedKey(_) => "shared-key",
            Self::WouldRewrite(_) => "would-rewrite",
            Self::DeviceRefused { .. } => "device-refused",
            Self::DeviceCapacity { .. } => "device-capacity",
            Self::NotPublishable(_) => "not-publishable",
            Self::VerifyFailed { .. } => "verify-failed",
            Self::WouldBeRefused { .. } => "would-be-refused",
            Self::PublishedTargetChanged { .. } => "published-target-changed",
            Self::TargetExists { .. } => "target-exists",
            Self::Sbom(_) => "sbom-invalid",
            Self::NoSuchDelegation { .. } => "no-such-delegation",
            Self::WouldStrand { .. } => "would-strand-roles",
            _ => self.class().reason(),
        }
    }
}
