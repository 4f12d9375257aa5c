//! The repository's one error type, [`RepoError`], and the class a caller
//! maps it to ([`fwsign_keys::ErrorClass`]); kept apart from `repo.rs` (layout and staged
//! I/O) because every repository module and the CLI name it.

use std::path::PathBuf;

use super::*;
use fwsign_keys::ErrorClass;

/// Everything that can go wrong with a repository.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A metadata file is not valid.
    #[error("{path}: {source}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: fwsign_manifest_schema::Error,
    },
    /// A document could not be verified or signed.
    #[error("{context}: {source}")]
    Document {
        /// Which document.
        context: String,
        /// What is wrong.
        #[source]
        source: DocumentError,
    },
    /// A key file or key object is not usable.
    #[error("{context}: {source}")]
    Key {
        /// Which key.
        context: String,
        /// What is wrong.
        #[source]
        source: KeyError,
    },
    /// The audit log is unreadable or has been tampered with.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The published metadata the audit log is anchored in is not as
    /// fwsign published it: a root outside the verified root chain, a
    /// snapshot or role file missing or changed, a signature that does not
    /// verify under the root or delegator it names.
    #[error("{}: {why}", path.display())]
    History {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// `DIR` is not an fwsign repository.
    #[error("{0}: not an fwsign repository (no fwsign-repo.json); run `fwsign repo init` first")]
    NotARepository(PathBuf),
    /// `init` on a directory that already holds a repository.
    #[error("{0}: already holds a repository")]
    AlreadyInitialised(PathBuf),
    /// A target or role name that could point outside the repository or is
    /// otherwise not allowed.
    #[error("invalid name {name:?}: {why}")]
    InvalidName {
        /// The name.
        name: String,
        /// The rule it breaks.
        why: String,
    },
    /// A request that contradicts the repository's state or the rules
    /// (unknown role, threshold above the number of keys, ...).
    #[error("{0}")]
    Invalid(String),
    /// A `--key-owner` name or e-mail address breaking the rules of
    /// [`key_owners`](crate::key_owners): empty, too long, or holding a
    /// control or bidirectional formatting character.
    #[error("invalid key owner {owner:?}: {why}")]
    InvalidKeyOwner {
        /// The owner as given.
        owner: String,
        /// The rule it breaks.
        why: String,
    },
    /// A `--key-owner` for a key the role does not list.
    #[error(
        "--key-owner names key {keyid}, which {role} does not list; name only keys given for it"
    )]
    KeyOwnerNotListed {
        /// The role (or `root`).
        role: String,
        /// The key named.
        keyid: String,
    },
    /// The same key listed twice in one role, or one key used both online
    /// (snapshot, timestamp) and as an approver (root, targets, delegated).
    #[error("separation of duties: {0} (pass --allow-shared-key to accept this)")]
    SharedKey(String),
    /// A signer is not one of the keys authorised for the role.
    #[error("key {keyid} is not authorised to sign role {role}")]
    NotAuthorised {
        /// The role.
        role: String,
        /// The key.
        keyid: String,
    },
    /// A signature made elsewhere does not verify over the staged role.
    #[error(
        "the signature by {keyid} does not verify over staged {role} version {version}: it was made over other content or another version"
    )]
    SignatureMismatch {
        /// The role.
        role: String,
        /// The staged version.
        version: u64,
        /// The key.
        keyid: String,
    },
    /// The staged role changed between signing it and adding the signature
    /// (another command staged new content meanwhile): sign again.
    #[error(
        "staged {role} changed while it was being signed (signed version {signed_version}, staged now version {staged_version}); nothing was added: review it and sign again"
    )]
    RoleChanged {
        /// The role.
        role: String,
        /// The version that was signed.
        signed_version: u64,
        /// The version staged now.
        staged_version: u64,
    },
    /// The repository lock could not be taken.
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// Publishing refused: roles still short of their threshold.
    #[error("not enough approvals:{}", .0.iter().map(|m| format!("\n  {m}")).collect::<String>())]
    NotApproved(Vec<MissingApproval>),
    /// A staged target file no longer matches what approvers signed.
    #[error("staged target {name}: {why} (approvers signed other bytes); refusing to publish")]
    StagedTargetChanged {
        /// The target.
        name: String,
        /// Length or hash mismatch, or missing.
        why: String,
    },
    /// An exported payload does not match the description exported beside
    /// it (`FILE.json`): changed after export, or another file. Signing it
    /// would approve bytes nobody reviewed.
    #[error(
        "{}: does not match its description {} (SHA-256 {found}, the description records {recorded}); it changed after export or is another file, so it is not signed",
        payload.display(),
        sidecar.display()
    )]
    PayloadMismatch {
        /// The payload file.
        payload: PathBuf,
        /// Its description (`FILE.json`).
        sidecar: PathBuf,
        /// The payload's SHA-256.
        found: String,
        /// The SHA-256 the description records.
        recorded: String,
    },
    /// An entry of a payload batch (`export-payload --role PATTERN`) does
    /// not match its description in the batch: its bytes have another
    /// SHA-256, are not a canonical document of the role's type and
    /// version, or do not list what its recorded change says. The batch was
    /// edited after export; signing any of it would approve bytes nobody
    /// reviewed, so nothing in it is signed.
    #[error(
        "{}: entry {role} does not match its description: {why}; the batch changed after export, so nothing in it is signed",
        batch.display()
    )]
    BatchEntryMismatch {
        /// The batch file.
        batch: PathBuf,
        /// The entry's role.
        role: String,
        /// What differs.
        why: String,
    },
    /// A payload batch or signature batch file this version cannot read:
    /// not JSON of the format, another format version, or an entry named
    /// twice.
    #[error("{}: {why}", path.display())]
    BatchFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A role pattern (`--role 'bins-*'`) matches no staged role.
    #[error("no staged role matches {0:?} (`fwsign repo status` lists the staged roles)")]
    NoRoleMatches(String),
    /// Nothing is staged.
    #[error("nothing is staged in {0}")]
    NothingStaged(PathBuf),
    /// A command for one staged role (sign, export, import) on a role that
    /// is not staged.
    #[error("role {0} is not staged")]
    NotStaged(String),
    /// A published file that must never be rewritten already exists with
    /// other content.
    #[error("{0}: already published with other content; refusing to overwrite")]
    WouldRewrite(PathBuf),
    /// A role the target search loaded failed its checks.
    #[error("{role}: {source}")]
    Refused {
        /// The role.
        role: String,
        /// The check that failed.
        #[source]
        source: WorkflowError,
    },
    /// `device pack`: the published repository resolves the target in a way
    /// a device cannot check from the slot (the search visits a role the
    /// chain does not carry), or the target is not firmware (no firmware
    /// fields: every device would refuse the slot).
    #[error("refusing to pack {target}: {why}")]
    DeviceRefused {
        /// The target.
        target: String,
        /// Why, naming the delegation concerned.
        why: String,
    },
    /// The published state fails the load check (see
    /// [`published_state`]): a file changed, missing or planted. Nothing
    /// is built on it.
    #[error("{}: the published repository fails verification, so nothing is built on it:{}", dir.display(), published_state::fault_list(faults))]
    VerifyFailed {
        /// The repository.
        dir: PathBuf,
        /// Every fault found, each naming the file, the role and what.
        faults: Vec<published_state::Fault>,
    },
    /// `publish` or `refresh` built a file a client would refuse; nothing
    /// was written.
    #[error("{file} ({role}): clients would refuse it: {why}; nothing was written")]
    WouldBeRefused {
        /// The file that was to be written (or the published one it is
        /// checked against).
        file: String,
        /// Its role.
        role: String,
        /// The client's refusal.
        why: String,
    },
    /// A published target file does not match what its role lists (its
    /// bytes were replaced after publishing).
    #[error("{}: {why}", path.display())]
    PublishedTargetChanged {
        /// The published file.
        path: PathBuf,
        /// Length or hash mismatch.
        why: String,
    },
    /// `device pack`: the slot would exceed what the device verifier can
    /// hold (chain length, keys per role, metadata buffer).
    #[error("refusing to pack {target}: {why}")]
    DeviceCapacity {
        /// The target.
        target: String,
        /// Which capacity, and by how much.
        why: String,
    },
    /// `refresh`: root, targets or a delegated role has expired; clients
    /// refuse it whatever snapshot and timestamp say, so only its approvers
    /// re-signing it helps.
    #[error("refusing to refresh: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Expired(Vec<expiry::ExpiredRole>),
    /// A staging command would leave a staged state that could never be
    /// published (a threshold its keys cannot meet, a target outside its
    /// role's delegated paths, a role no delegation reaches); nothing was
    /// written.
    #[error("refusing to stage: {0}; nothing was written")]
    NotPublishable(String),
    /// `undelegate`: the delegating role does not delegate to the role
    /// (a typo, or another role delegates it); nothing was written.
    #[error(
        "{from} does not delegate to {role}{}; nothing was staged",
        if delegated_by.is_empty() {
            " (no role of the next release does)".to_owned()
        } else {
            format!(" ({} does: pass --from {})", delegated_by.join(", "), delegated_by[0])
        }
    )]
    NoSuchDelegation {
        /// The role named.
        role: String,
        /// The delegating role named (`targets` by default).
        from: String,
        /// The roles that do delegate to it.
        delegated_by: Vec<String>,
    },
    /// `undelegate`: removing the delegation would leave roles delegated
    /// only by the removed role unreachable (clients could no longer find
    /// their targets), and retiring them too was not asked for; nothing was
    /// written.
    #[error(
        "removing the delegation to {role} would leave {} unreachable (only {role} delegates them, so clients would no longer find their targets); nothing was staged: pass --recursive to retire them too, or delegate them from another role first",
        stranded.join(", ")
    )]
    WouldStrand {
        /// The role whose delegation was to be removed.
        role: String,
        /// The roles only it delegates.
        stranded: Vec<String>,
    },
    /// `add`: the role already lists the name with other bytes, and
    /// replacing them was not asked for (`--replace`); nothing was written.
    /// A second build staged under a name by mistake would otherwise swap
    /// the bytes approvers reviewed, or that devices already run.
    #[error(
        "target {name} is already {} in {role} with other bytes ({listed_length} bytes, sha256 {listed_sha256}; this file: {new_length} bytes, sha256 {new_sha256}); nothing was staged: pass --replace to replace it, or stage it under another name",
        if *staged { "staged" } else { "published" }
    )]
    TargetExists {
        /// The role.
        role: String,
        /// The target name.
        name: String,
        /// Whether the listed entry is staged (else published).
        staged: bool,
        /// The listed entry's SHA-256.
        listed_sha256: String,
        /// The listed entry's length.
        listed_length: u64,
        /// The new file's SHA-256.
        new_sha256: String,
        /// The new file's length.
        new_length: u64,
    },
    /// An SBOM given to `repo add --sbom` that is not JSON, not CycloneDX
    /// 1.4-1.6 or SPDX 2.2/2.3, or not valid against its official schema.
    #[error(transparent)]
    Sbom(#[from] crate::sbom::SbomError),
}

impl RepoError {
    /// How a caller should treat this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Io { .. } => ErrorClass::Io,
            Self::Audit(AuditError::Io { .. }) => ErrorClass::Io,
            Self::Audit(_) => ErrorClass::Security,
            Self::NotAuthorised { .. }
            | Self::SignatureMismatch { .. }
            | Self::NotApproved(_)
            | Self::RoleChanged { .. }
            | Self::StagedTargetChanged { .. }
            | Self::PayloadMismatch { .. }
            | Self::BatchEntryMismatch { .. }
            | Self::Refused { .. }
            | Self::History { .. }
            | Self::Expired(_)
            | Self::VerifyFailed { .. }
            | Self::WouldBeRefused { .. }
            | Self::PublishedTargetChanged { .. }
            | Self::DeviceRefused { .. } => ErrorClass::Security,
            Self::Lock(_) => ErrorClass::Io,
            Self::Document {
                source: DocumentError::Verify(_) | DocumentError::SignatureInvalid { .. },
                ..
            } => ErrorClass::Security,
            Self::Document {
                source: DocumentError::Signing(_),
                ..
            } => ErrorClass::Io,
            _ => ErrorClass::Usage,
        }
    }
}
