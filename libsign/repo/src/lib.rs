//! # fwsign-repo: the repository and its audit log
//!
//! A TUF repository on disk, from staging to publishing, built on
//! `fwsign-keys` (keys, documents, the trusted set) and `fwsign-core` (every
//! check). The audit log ([`audit`]) lives here because every repository
//! command appends to it and its anchors are in the published metadata.
//!
//! ```text
//! DIR/fwsign-repo.json          expiry policy chosen at init
//! DIR/staged/ROLE.json          what approvers are signing now (canonical; signatures merge in)
//! DIR/staged/dropped/ROLE.json  approvals dropped because the content changed after them
//! DIR/staged/targets/ROLE/NAME  the exact bytes staged targets role ROLE describes
//! DIR/metadata/N.ROLE.json      published, never rewritten; timestamp.json is written last
//! DIR/targets/DIR/HASH.BASENAME published target files, as the TUF spec and python-tuf fetch them
//! DIR/audit.log                 one hash-chained JSON line per event; its head is in each staged role and snapshot
//! ```
//!
//! A release is staged (`init`, `add`, `delegate`, `rotate_root`, `extend`),
//! approved (`sign`, detached signatures, `merge_signatures`) and published
//! (`publish`) only when every staged role meets its threshold, as decided by
//! the verification core. Publishing writes every new file under a fresh name
//! and replaces `timestamp.json` last, so a reader or a crash sees the old
//! repository or the new one. The audit log and the published history it
//! is anchored in are verified by [`history`].
//!
//! The published state is loaded once per operation and verified as a
//! client verifies it, by [`published_state`] (the only code that lists
//! `metadata/`); every command that builds on it refuses a state with a
//! fault, and takes the bytes it carries or signs over from that load.
//!
//! Commands that change a repository hold its lock ([`lock`]) exclusively
//! for their whole run; taking it removes the temporary files a killed
//! command left. Versions are never reused: a new version of a role is one
//! more than the highest on disk (`metadata/N.ROLE.json`, orphans included)
//! or in the timestamp, and published files are created exclusively.

#![forbid(unsafe_code)]

pub mod approval;
pub mod audit;
pub mod bins;
pub mod catalogue;
pub mod delegation_changes;
mod device;
mod error;
pub mod expiry;
pub mod history;
pub mod identify;
mod init;
pub mod key_owners;
pub mod lock;
mod locking;
pub mod names;
mod operation;
pub mod payload_batch;
pub mod publish;
mod publishable;
pub mod published_state;
mod reason;
pub mod resolve;
pub mod sbom;
mod staged_changes;
mod staged_role;
pub mod staging;
#[cfg(test)]
mod test_support;
#[cfg(test)]
pub(crate) use test_support::{test_init_options, test_key, test_scratch};
#[cfg(test)]
mod transaction_tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) use staged_changes::{StagedChanges, delegated_names};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{RoleType, Root, Signed, Snapshot, Targets, Timestamp};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditError, AuditEvent, AuditHead, AuditLog};
use fwsign_core::workflow::WorkflowError;
use fwsign_keys::KeyError;
use fwsign_keys::PublicKey;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_keys::document::{CanonicalDocument, DocumentError, SignatureReport};
use operation::Operation;

pub use device::{DeviceCapacity, DeviceMaterial};
pub use init::InitOptions;
pub(crate) use init::{check_role_keys, check_separation, empty_targets};

pub use error::RepoError;

/// A role still short of its threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingApproval {
    /// The role.
    pub role: String,
    /// Its staged version (the one publishing was refused for).
    pub version: u64,
    /// Whose threshold (for a new root: "old root" or "new root").
    pub by: String,
    /// Valid signatures so far.
    pub valid: usize,
    /// Required.
    pub threshold: u64,
    /// Key IDs that may still sign.
    pub may_still_sign: Vec<String>,
    /// Key IDs whose signatures counted.
    pub signed_by: Vec<String>,
    /// The owners of those keys, as the document authorising them names
    /// them ([`key_owners::lookup`]); left out when none is named.
    #[serde(skip_serializing_if = "key_owners::KeyOwners::is_empty")]
    pub owners: key_owners::KeyOwners,
}

impl std::fmt::Display for MissingApproval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {} of {} signatures",
            self.role, self.by, self.valid, self.threshold,
        )?;
        if !self.signed_by.is_empty() {
            write!(f, ": {}", self.owners.labels(&self.signed_by))?;
        }
        write!(
            f,
            "; may still sign: {}",
            self.owners.labels(&self.may_still_sign)
        )
    }
}

/// Expiry periods, in seconds, chosen at `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryPolicy {
    /// Root: 1 year by default.
    pub root: i64,
    /// Targets: 3 months (90 days).
    pub targets: i64,
    /// Delegated targets roles: as targets.
    pub delegated: i64,
    /// Snapshot: 1 week.
    pub snapshot: i64,
    /// Timestamp: 1 day.
    pub timestamp: i64,
}

impl Default for ExpiryPolicy {
    fn default() -> Self {
        const DAY: i64 = 86_400;
        Self {
            root: 365 * DAY,
            targets: 90 * DAY,
            delegated: 90 * DAY,
            snapshot: 7 * DAY,
            timestamp: DAY,
        }
    }
}

impl ExpiryPolicy {
    /// The period for `role` (any delegated role uses `delegated`).
    pub fn for_role(&self, role: &str) -> i64 {
        match role {
            "root" => self.root,
            "targets" => self.targets,
            "snapshot" => self.snapshot,
            "timestamp" => self.timestamp,
            _ => self.delegated,
        }
    }

    /// Sets the period of `role` (`delegated` for all delegated roles).
    pub fn set(&mut self, role: &str, secs: i64) -> Result<(), RepoError> {
        match role {
            "root" => self.root = secs,
            "targets" => self.targets = secs,
            "delegated" => self.delegated = secs,
            "snapshot" => self.snapshot = secs,
            "timestamp" => self.timestamp = secs,
            other => {
                return Err(RepoError::Invalid(format!(
                    "unknown role {other:?} in --expires (root, targets, delegated, snapshot, timestamp)"
                )));
            }
        }
        Ok(())
    }
}

/// Parses a duration: a whole number and a unit, `s`, `m`, `h`, `d`, `w` or
/// `y` (365 days): `90d`, `12h`, `1y`.
pub fn parse_duration(text: &str) -> Result<i64, RepoError> {
    let bad = || {
        RepoError::Invalid(format!(
            "duration {text:?}: expected a number and a unit s, m, h, d, w or y (e.g. 90d)"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(unit_secs).ok_or_else(bad)?;
    if secs <= 0 {
        return Err(bad());
    }
    Ok(secs)
}

/// `now + secs` as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn expires_at(now: UnixTime, secs: i64) -> Result<String, RepoError> {
    now.0
        .checked_add(secs)
        .and_then(|t| UnixTime(t).to_expires())
        .ok_or_else(|| RepoError::Invalid(format!("expiry {secs}s from now is out of range")))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RepoConfig {
    format: u32,
    expiry: ExpiryPolicy,
}

/// A record of approvals dropped because a staged role changed after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedApprovals {
    /// The role.
    pub role: String,
    /// Key IDs whose signatures were dropped.
    pub keyids: Vec<String>,
    /// When (`YYYY-MM-DDTHH:MM:SSZ`).
    pub time: String,
}

/// Every targets role of a release, by name: the published roles
/// borrowed from the verified load, the staged ones owned.
pub(crate) type ReleaseRoles<'a> = BTreeMap<String, Cow<'a, Signed<Targets>>>;

/// The published state, read from `metadata/`.
#[derive(Debug, Clone)]
pub struct Published {
    /// The newest root.
    pub root: Signed<Root>,
    /// The timestamp, once anything was published.
    pub timestamp: Option<Signed<Timestamp>>,
    /// The snapshot the timestamp names.
    pub snapshot: Option<Signed<Snapshot>>,
    /// Every targets role the snapshot lists, by role name.
    pub targets: BTreeMap<String, Signed<Targets>>,
    /// The verified root chain as published: version N's file bytes at
    /// index N - 1 (what `device pack` and `bundle create` carry).
    pub root_chain: Vec<Vec<u8>>,
    /// The live files the state was verified from, by name under
    /// `metadata/` (`timestamp.json`, `N.snapshot.json`, `N.ROLE.json`):
    /// callers use these bytes rather than reading the files again.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The client's trusted set the load verified all of this into: what
    /// publish's release check takes over for roles a release leaves as
    /// they are
    /// ([`fwsign_keys::trusted_set::TrustedSet::check_targets_known`]).
    pub(crate) verified: Option<std::sync::Arc<fwsign_keys::trusted_set::TrustedSet>>,
}

impl Published {
    /// The published bytes of the live snapshot.
    pub fn snapshot_bytes(&self) -> Option<&[u8]> {
        let version = self.snapshot.as_ref()?.signed.version;
        self.files
            .get(&format!("{version}.snapshot.json"))
            .map(Vec::as_slice)
    }

    /// The published bytes of targets role `role`'s live version.
    pub fn role_bytes(&self, role: &str) -> Option<&[u8]> {
        let version = self.targets.get(role)?.signed.version;
        self.files
            .get(&names::versioned_role_file(version, role))
            .map(Vec::as_slice)
    }

    /// The verified bytes of targets role `role` at `version`, as the
    /// core's search loads them; a version outside the verified state is an
    /// error, never a read of the disk.
    pub fn role_version_bytes(&self, role: &str, version: u64) -> Result<Vec<u8>, RepoError> {
        self.files
            .get(&names::versioned_role_file(version, role))
            .cloned()
            .ok_or_else(|| {
                RepoError::Invalid(format!(
                    "{role} v{version} is not part of the verified published state"
                ))
            })
    }

    /// The roles of a published repository whose keys include `key`: the
    /// top-level roles the root lists it for, and the delegated roles of every
    /// published targets role. Keys are compared as keys (the listed key
    /// object parsed and compared with `key`), not only by key ID. Empty when
    /// no role lists the key.
    pub fn roles_listing(&self, key: &PublicKey) -> Vec<String> {
        let published = self;
        let keyid = key.keyid();
        let matches = |id: &str, listed: &fwsign_manifest_schema::metadata::Key| {
            id == keyid && PublicKey::from_tuf_key(listed).is_ok_and(|k| &k == key)
        };
        let mut roles = Vec::new();
        let root = &published.root.signed;
        for (role, entry) in &root.roles {
            if entry
                .keyids
                .iter()
                .any(|id| root.keys.get(id).is_some_and(|k| matches(id, k)))
            {
                roles.push(role.clone());
            }
        }
        for (delegator, doc) in &published.targets {
            let Some(delegations) = &doc.signed.delegations else {
                continue;
            };
            for role in &delegations.roles {
                if role
                    .keyids
                    .iter()
                    .any(|id| delegations.keys.get(id).is_some_and(|k| matches(id, k)))
                {
                    roles.push(format!("{} (delegated by {delegator})", role.name));
                }
            }
        }
        roles
    }
}

/// A repository directory.
#[derive(Debug, Clone)]
pub struct Repository {
    dir: PathBuf,
    config: RepoConfig,
    /// Counts this process's changes to staged roles, so an [`Operation`]'s
    /// memo of which role delegates which knows when it is stale.
    staged_changes: StagedChanges,
    /// The end of the audit log as this handle last verified or appended
    /// to it, so the next append or head need not read the last line again.
    audit_tail: audit::TailMemo,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RepoError + '_ {
    move |source| RepoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, RepoError> {
    fs::read(path).map_err(io_err(path))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RepoError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

pub(crate) fn parse_doc<T: RoleType>(path: &Path, bytes: &[u8]) -> Result<Signed<T>, RepoError> {
    Signed::<T>::from_json_slice(bytes).map_err(|source| RepoError::Metadata {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn canonical_of<T: Serialize>(
    context: &str,
    doc: &Signed<T>,
) -> Result<CanonicalDocument, RepoError> {
    CanonicalDocument::from_signed(doc).map_err(|source| RepoError::Document {
        context: context.to_owned(),
        source,
    })
}

/// The bytes of a metadata file as fwsign writes it: canonical JSON with
/// control characters escaped, so strict JSON readers (python-tuf) accept it
/// and it canonicalises back to the signed bytes.
pub(crate) fn file_bytes<T: Serialize>(
    context: &str,
    doc: &Signed<T>,
) -> Result<Vec<u8>, RepoError> {
    fwsign_manifest_schema::canonical::to_portable_bytes(doc).map_err(not_written(context))
}

/// [`file_bytes`] of `doc` whose signed part's canonical bytes are
/// `payload`, made already: written around them, not serialised again
/// ([`signed_to_portable_bytes`](fwsign_manifest_schema::canonical::signed_to_portable_bytes)).
pub(crate) fn file_bytes_around<T>(
    context: &str,
    doc: &Signed<T>,
    payload: &[u8],
) -> Result<Vec<u8>, RepoError> {
    fwsign_manifest_schema::canonical::signed_to_portable_bytes(doc, payload)
        .map_err(not_written(context))
}

/// The refusal of a document that cannot be written as a file.
fn not_written(
    context: &str,
) -> impl Fn(fwsign_manifest_schema::canonical::CanonicalError) -> RepoError + '_ {
    move |e| RepoError::Metadata {
        path: PathBuf::from(context),
        source: e.into(),
    }
}

/// A staged role's approval state.
#[derive(Debug, Clone, Serialize)]
pub struct RoleApproval {
    /// The role.
    pub role: String,
    /// Its staged version.
    pub version: u64,
    /// One report per threshold it must meet (a new root meets two).
    pub reports: Vec<(String, SignatureReport)>,
    /// The owners of the keys in the reports, as the documents authorising
    /// them name them ([`key_owners::lookup`]; for a new root, its own names
    /// first, then the old root's).
    pub owners: key_owners::KeyOwners,
}

impl RoleApproval {
    /// Whether every threshold is met.
    pub fn is_met(&self) -> bool {
        self.reports.iter().all(|(_, r)| r.is_met())
    }

    fn missing(&self) -> Vec<MissingApproval> {
        self.reports
            .iter()
            .filter(|(_, r)| !r.is_met())
            .map(|(by, r)| MissingApproval {
                role: self.role.clone(),
                version: self.version,
                by: by.clone(),
                valid: r.valid,
                threshold: r.threshold,
                may_still_sign: r.may_still_sign.clone(),
                signed_by: r.signed_by.clone(),
                owners: self
                    .owners
                    .only(r.signed_by.iter().chain(&r.may_still_sign)),
            })
            .collect()
    }
}

impl Repository {
    /// Opens an existing repository.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, RepoError> {
        let dir = dir.into();
        let config_path = dir.join("fwsign-repo.json");
        let bytes = match fs::read(&config_path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RepoError::NotARepository(dir));
            }
            Err(e) => return Err(io_err(&config_path)(e)),
        };
        let config: RepoConfig =
            serde_json::from_slice(&bytes).map_err(|e| RepoError::Metadata {
                path: config_path.clone(),
                source: fwsign_manifest_schema::Error::Format(e.to_string()),
            })?;
        Ok(Self {
            dir,
            config,
            staged_changes: StagedChanges::default(),
            audit_tail: audit::TailMemo::default(),
        })
    }

    /// The repository directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The expiry policy.
    pub fn expiry(&self) -> &ExpiryPolicy {
        &self.config.expiry
    }

    /// The audit log.
    pub fn audit_log(&self) -> AuditLog {
        AuditLog::new(self.dir.join("audit.log"))
    }

    pub(crate) fn audit(&self, event: &AuditEvent, now: UnixTime) -> Result<(), RepoError> {
        self.audit_all(std::slice::from_ref(event), now)?;
        Ok(())
    }

    /// [`Repository::audit`] of several events: one append, one `fsync`.
    /// The heads of their lines, in order.
    pub(crate) fn audit_all(
        &self,
        events: &[AuditEvent],
        now: UnixTime,
    ) -> Result<Vec<AuditHead>, RepoError> {
        Ok(self
            .audit_log()
            .append_all_after(events, now, &self.audit_tail)?)
    }

    fn staged_dir(&self) -> PathBuf {
        self.dir.join("staged")
    }

    /// `DIR/staged/ROLE.json`.
    pub fn staged_path(&self, role: &str) -> PathBuf {
        self.staged_dir().join(names::role_file(role))
    }

    fn dropped_path(&self, role: &str) -> PathBuf {
        self.staged_dir()
            .join("dropped")
            .join(names::role_file(role))
    }

    /// `DIR/staged/targets/`.
    pub fn staged_targets_dir(&self) -> PathBuf {
        self.staged_dir().join("targets")
    }

    /// `DIR/staged/targets/<quote(ROLE)>/`: the staged target files of one
    /// role, so two roles staging one name cannot overwrite each other's
    /// approved bytes.
    pub fn staged_role_targets_dir(&self, role: &str) -> PathBuf {
        self.staged_targets_dir().join(names::quote(role))
    }

    /// `DIR/metadata/`.
    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    /// `DIR/targets/`.
    pub fn targets_dir(&self) -> PathBuf {
        self.dir.join("targets")
    }

    /// The published state, verified as a client verifies it (see
    /// [`published_state`]), or `None` before the first publish; refused,
    /// naming every fault, when it does not verify. Each call reads and
    /// verifies every published metadata file, so an operation calls it
    /// once (through its `Operation`) and passes the result on.
    pub fn published(&self) -> Result<Option<Published>, RepoError> {
        let loaded = published_state::load(self)?;
        loaded.verified(&self.dir, false)?;
        Ok(loaded.published)
    }

    /// Names of the roles staged now (`root`, `targets`, delegated roles).
    pub fn staged_roles(&self) -> Result<Vec<String>, RepoError> {
        let dir = self.staged_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut roles = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            if !entry.file_type().map_err(io_err(&dir))?.is_file() {
                continue;
            }
            let name = entry.file_name();
            if let Some(role) = name.to_str().and_then(|n| n.strip_suffix(".json"))
                && names::check_role_name(role).is_ok()
            {
                roles.push(role.to_owned());
            }
        }
        // Root first, then targets, then delegated roles by name: the order
        // approvals depend on each other.
        roles.sort_by_key(|r| match r.as_str() {
            "root" => (0, String::new()),
            "targets" => (1, String::new()),
            other => (2, other.to_owned()),
        });
        Ok(roles)
    }

    /// A staged role, typed.
    pub fn load_staged<T: RoleType + 'static>(
        &self,
        role: &str,
    ) -> Result<Option<Signed<T>>, RepoError> {
        names::check_role_name(role)?;
        let path = self.staged_path(role);
        match read_optional(&path)? {
            None => Ok(None),
            Some(bytes) => self.staged_from_bytes(role, &bytes).map(Some),
        }
    }

    /// A staged role from the bytes of `staged/ROLE.json`, read already.
    pub(crate) fn staged_from_bytes<T: RoleType + 'static>(
        &self,
        role: &str,
        bytes: &[u8],
    ) -> Result<Signed<T>, RepoError> {
        let doc = parse_doc::<T>(&self.staged_path(role), bytes)?;
        self.staged_changes.read(role, delegated_names(&doc));
        Ok(doc)
    }

    /// Writes a staged role (canonical JSON, atomically), as it is: no
    /// check runs here. Staged roles are not trusted; publishing verifies
    /// them. Public so tools and tests can stage a state the commands would
    /// refuse to make (a hand-edited repository).
    pub fn save_staged<T: Serialize + 'static>(
        &self,
        role: &str,
        doc: &Signed<T>,
    ) -> Result<(), RepoError> {
        names::check_role_name(role)?;
        let bytes = file_bytes(role, doc)?;
        let path = self.staged_path(role);
        let written = write_atomic(&path, &bytes, Mode::Public).map_err(io_err(&path));
        self.staged_changes.written(role, delegated_names(doc));
        written
    }

    /// Records that staged `role`'s file was removed (the memo of which role
    /// delegates which, [`Operation`], is then read again).
    pub(crate) fn staged_removed(&self, role: &str) {
        self.staged_changes.removed(role);
    }

    /// How many changes to staged roles this process has made.
    pub(crate) fn staged_changes(&self) -> u64 {
        self.staged_changes.get()
    }

    /// Approvals dropped for a staged role, if any.
    pub fn dropped_approvals(&self, role: &str) -> Result<Option<DroppedApprovals>, RepoError> {
        let path = self.dropped_path(role);
        match read_optional(&path)? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| RepoError::Metadata {
                        path,
                        source: fwsign_manifest_schema::Error::Format(e.to_string()),
                    })
            }
        }
    }

    pub(crate) fn record_dropped(
        &self,
        role: &str,
        keyids: Vec<String>,
        now: UnixTime,
    ) -> Result<(), RepoError> {
        let mut record = self
            .dropped_approvals(role)?
            .unwrap_or_else(|| DroppedApprovals {
                role: role.to_owned(),
                keyids: vec![],
                time: String::new(),
            });
        for k in keyids {
            if !record.keyids.contains(&k) {
                record.keyids.push(k);
            }
        }
        record.time = now.to_expires().unwrap_or_default();
        let path = self.dropped_path(role);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let bytes = serde_json::to_vec_pretty(&record)
            .map_err(|e| RepoError::Invalid(format!("cannot serialise dropped approvals: {e}")))?;
        write_atomic(&path, &bytes, Mode::Public).map_err(io_err(&path))
    }

    pub(crate) fn clear_dropped(&self, role: &str) -> Result<(), RepoError> {
        let path = self.dropped_path(role);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// One operation's view: the published state read at most once, however
    /// many roles it asks about.
    pub(crate) fn operation(&self) -> Operation<'_> {
        Operation::new(self)
    }

    /// The root that governs the next release: the staged one if any, else
    /// the newest published.
    pub fn current_root(&self) -> Result<Signed<Root>, RepoError> {
        Ok(self.operation().current_root()?.into_owned())
    }

    /// A targets role as the next release will have it: staged if staged,
    /// else published.
    pub fn current_targets(&self, role: &str) -> Result<Option<Signed<Targets>>, RepoError> {
        Ok(self.operation().current_targets(role)?.map(Cow::into_owned))
    }

    /// Which role delegates `role`: `None` for the top-level roles (root
    /// delegates them), else the targets role that lists it.
    pub fn delegator_of(&self, role: &str) -> Result<Option<String>, RepoError> {
        self.operation().delegator_of(role)
    }

    /// The threshold checks a staged role must pass, with their reports.
    pub fn approval(&self, role: &str) -> Result<Option<RoleApproval>, RepoError> {
        self.operation().approval(role)
    }

    /// Every staged role's approval state.
    pub fn approvals(&self) -> Result<Vec<RoleApproval>, RepoError> {
        self.operation().approvals()
    }

    /// [`Repository::approvals`] against a published state the caller has
    /// already loaded (`repo status`), so one command loads it once.
    pub fn approvals_with(
        &self,
        loaded: &published_state::PublishedLoad,
    ) -> Result<Vec<RoleApproval>, RepoError> {
        Operation::with_load(self, loaded).approvals()
    }

    /// Roles still short of a threshold.
    pub fn missing_approvals(&self) -> Result<Vec<MissingApproval>, RepoError> {
        self.operation().missing_approvals()
    }
}
