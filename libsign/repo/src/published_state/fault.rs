//! What can be wrong with a published repository, one value per finding,
//! each naming the file, the role and what: the load check's faults and
//! `repo verify`'s, reported by `repo status` and carried by the refusal
//! of every command that needs a verified published state.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// The kind of a [`Fault`], with a stable machine name ([`FaultKind::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum FaultKind {
    /// A published file cannot be read, or is not metadata of the role its
    /// name says.
    Unreadable,
    /// `N.root.json` exists but an earlier root version does not: no chain
    /// from version 1 leads to it (planted, or a root deleted).
    RootChainGap,
    /// A root version is not signed by the previous root's threshold and its
    /// own (root 1: by its own), or says it is another version.
    RootNotVerified,
    /// `timestamp.json` is missing although something was published after
    /// a first release (deleted).
    TimestampMissing,
    /// `timestamp.json` is not signed by the root's timestamp threshold, or
    /// is not a timestamp.
    TimestampNotVerified,
    /// The live timestamp and snapshot verify under the previous root only:
    /// a publish was killed after writing a new root. Clients that fetch the
    /// new root refuse the repository until `repo refresh` or `repo publish`
    /// finishes the release, which they are allowed to do.
    PublishInterrupted,
    /// The snapshot `timestamp.json` names is missing.
    SnapshotMissing,
    /// The snapshot does not match the timestamp's listing (version, length,
    /// hashes) or is not signed by the root's snapshot threshold.
    SnapshotNotVerified,
    /// A targets role file the snapshot lists is missing.
    RoleMissing,
    /// A role is delegated to but the snapshot does not list it.
    RoleNotListed,
    /// A targets role file does not match the snapshot's listing (version,
    /// length, hashes) or is not signed by the threshold its delegator sets:
    /// changed after it was signed (a hand edit), or re-keyed without being
    /// signed again.
    RoleNotVerified,
    /// The snapshot lists a role no delegation from `targets` reaches.
    RoleUnreachable,
    /// A role has expired at the time checked (`repo verify` only).
    Expired,
    /// A published target file is missing (`repo verify` only).
    TargetMissing,
    /// A published target file's length or a listed hash differs: its bytes
    /// were replaced (`repo verify` only).
    TargetMismatch,
    /// A file under `metadata/` or `targets/` that no published version of
    /// any role references, and that no interrupted command explains
    /// (`repo verify` only).
    UnreferencedFile,
    /// A published metadata file's name does not match its content (the
    /// version in `N.ROLE.json`), or the root does not ask for consistent
    /// snapshots, which fwsign repositories are published with (`repo
    /// verify` only).
    Misnamed,
}

impl FaultKind {
    /// The stable machine name (`--json`'s `reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unreadable => "unreadable",
            Self::RootChainGap => "root-chain-gap",
            Self::RootNotVerified => "root-not-verified",
            Self::TimestampMissing => "timestamp-missing",
            Self::TimestampNotVerified => "timestamp-not-verified",
            Self::PublishInterrupted => "publish-interrupted",
            Self::SnapshotMissing => "snapshot-missing",
            Self::SnapshotNotVerified => "snapshot-not-verified",
            Self::RoleMissing => "role-missing",
            Self::RoleNotListed => "role-not-listed",
            Self::RoleNotVerified => "role-not-verified",
            Self::RoleUnreachable => "role-unreachable",
            Self::Expired => "expired",
            Self::TargetMissing => "target-missing",
            Self::TargetMismatch => "target-mismatch",
            Self::UnreferencedFile => "unreferenced-file",
            Self::Misnamed => "misnamed",
        }
    }
}

/// One finding: the file (relative to the repository), the role, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The file at fault, relative to the repository directory
    /// (`metadata/3.targets.json`).
    pub file: PathBuf,
    /// The role it is (or would be) a version of; for a target file the
    /// role listing it; empty when no role applies.
    pub role: String,
    /// What kind of fault.
    pub kind: FaultKind,
    /// What is wrong, in words.
    pub what: String,
}

impl Fault {
    pub(crate) fn new(
        file: impl Into<PathBuf>,
        role: &str,
        kind: FaultKind,
        what: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            role: role.to_owned(),
            kind,
            what: what.into(),
        }
    }

    /// The fault as JSON: `file`, `role`, `reason`, `message`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file,
            "role": self.role,
            "reason": self.kind.reason(),
            "message": self.what,
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.role.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.what)
        } else {
            write!(f, "{} ({}): {}", self.file.display(), self.role, self.what)
        }
    }
}

/// The faults a load check found, as one message: a line per fault.
pub fn fault_list(faults: &[Fault]) -> String {
    faults.iter().map(|f| format!("\n  {f}")).collect()
}
