//! The published history the audit log is anchored in, verified as chains:
//! what `fwsign repo audit` checks, and what every command checks before it
//! records the log's head (staging commands in the role they stage, publish
//! and refresh in the new snapshot).
//!
//! An anchor ([`HEAD_FIELD`]) only counts if the metadata carrying it is
//! authentic, and on a directory anyone with write access can change, that
//! takes chains, never "some file that verifies under some key":
//!
//! - **Roots**: `1.root.json` signed by its own root threshold, each `N+1`
//!   by root N's threshold and its own ([`TrustedSet::update_root`], the
//!   clients' step). Every file named `*.root.json` must be a link of that
//!   chain; any other is a fault (planted).
//! - **The live state**: `timestamp.json` and the snapshot it pins, verified
//!   as a client does, under the newest root.
//! - **Snapshots**, walked back from the pinned one: each names the root
//!   version it was signed under ([`ROOT_VERSION_FIELD`]) and must verify
//!   under that root's snapshot keys, root versions never decreasing going
//!   forward; each records the SHA-256 of the previous snapshot file
//!   ([`PREV_SNAPSHOT_FIELD`]), which must exist and hash to it. Rewriting
//!   an old snapshot, whoever signs it, breaks every later link.
//! - **Targets roles** each snapshot on the walk lists, from `targets` down
//!   the delegations: the file must match the listing and verify under its
//!   delegator ([`verify_targets`], the clients' step), so their anchors are
//!   covered by the approvers' signatures, not only the online key's.
//!
//! A snapshot without the chain fields (written before they existed) is
//! reported as unchained, a warning: the walk stops there, and it and the
//! older snapshot files are only checked to be signed under some root of
//! the chain, as before.
//!
//! [`TrustedSet::update_root`]: fwsign_keys::trusted_set::TrustedSet::update_root
//! [`verify_targets`]: fwsign_core::workflow::verify_targets

mod roles;
mod snapshots;
mod walk;

use std::collections::BTreeMap;
use std::path::Path;

use fwsign_manifest_schema::metadata::{RoleType, Root, Signed, Snapshot};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::operation::Operation;
use super::{RepoError, Repository};
use crate::audit::{
    Anchor, AuditHead, AuditReport, HEAD_FIELD, PREV_SNAPSHOT_FIELD, PREV_SNAPSHOT_VERSION_FIELD,
    ROOT_VERSION_FIELD,
};
use fwsign_keys::document::CanonicalDocument;
use walk::Walk;

/// The snapshot `timestamp.json` pins: what the next snapshot links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedSnapshot {
    /// Its version.
    pub version: u64,
    /// The lowercase hex SHA-256 of its file, as published.
    pub sha256: String,
}

/// What [`Repository::verify_audit`] checked. Any fault is an error instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// The log: its lines, the anchors matched, its head.
    pub log: AuditReport,
    /// The root versions in the verified root chain (0 before the first
    /// publish).
    pub roots: u64,
    /// The chained snapshots walked back from the pinned one.
    pub snapshots: usize,
    /// The distinct targets role files verified.
    pub role_files: usize,
    /// The snapshot `timestamp.json` pins, once published.
    pub pinned: Option<PinnedSnapshot>,
    /// Not faults, but limits of what could be checked: an unchained
    /// snapshot.
    pub warnings: Vec<String>,
    /// Every targets role file the walk verified (each published version
    /// of each role), in path order.
    pub verified_roles: Vec<VerifiedRole>,
}

/// One published version of a targets role, as the history walk verified
/// it against its delegator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedRole {
    /// The role's name.
    pub role: String,
    /// Its metadata version.
    pub version: u64,
    /// The delegating role (`root` for `targets`).
    pub delegated_by: String,
    /// The key IDs whose signatures the threshold check counted, against
    /// the delegator in force when this version was first published (the
    /// root the oldest snapshot listing it names, or the delegating role's
    /// version that snapshot lists).
    pub approvers: Vec<String>,
    /// The names that delegator gives the keys it lists
    /// ([`crate::key_owners::lookup`]).
    pub owners: crate::key_owners::KeyOwners,
    /// The threshold its delegator sets.
    pub threshold: u64,
    /// The file's bytes.
    pub raw: Vec<u8>,
}

/// Under which root the live state (timestamp and pinned snapshot) must
/// verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Live {
    /// The newest root, as a client checks it: `repo audit` and staging.
    Newest,
    /// The root the pinned snapshot names, when exactly one newer root
    /// exists: what a publish interrupted after writing a new root leaves
    /// (the new root is on disk, the timestamp is still the old one). Only
    /// publish and refresh accept this, because they replace both, which is
    /// how such a publish is finished.
    PendingRoot,
}

/// How far back the walk verifies the targets roles the snapshots list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Every snapshot of the chain and every targets role file each one
    /// lists, each against its delegator: `repo audit` (and `identify`,
    /// which names the release an image came from).
    Full,
    /// The snapshot chain as in [`Depth::Full`] (snapshots are small), but
    /// the targets roles only as the live snapshot lists them, taken from
    /// the published state the operation loaded and verified as a client
    /// does: what every staging command and publish check before they
    /// record the log's head. The log is covered as well as by the full
    /// walk: a role's newest version is the one the live snapshot lists,
    /// its anchor was recorded after any older version's, and an anchor
    /// pins every line before it through the hash chain. What the full walk
    /// adds is the authenticity of old role files, which no staging
    /// decision reads; verifying them on every command made each command
    /// cost as much as the whole history (a 20 MB targets role per past
    /// release at 10^5 targets).
    Live,
}

/// What a publish is about to make live: their anchors must match the log
/// too, or a publish would carry an anchor the log has already lost.
pub(crate) struct Release<'a> {
    /// The root of the release (staged or published).
    pub(crate) root: &'a Signed<Root>,
    /// Every targets role of the release.
    pub(crate) roles: &'a crate::ReleaseRoles<'a>,
}

fn fault(path: &Path, why: impl Into<String>) -> RepoError {
    RepoError::History {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

#[cfg(test)]
use super::published_state::version_of;

fn parse<T: RoleType>(path: &Path, bytes: &[u8]) -> Result<Signed<T>, RepoError> {
    Signed::<T>::from_json_slice(bytes).map_err(|e| fault(path, e.to_string()))
}

fn canonical(path: &Path, bytes: &[u8]) -> Result<CanonicalDocument, RepoError> {
    CanonicalDocument::from_json(bytes).map_err(|e| fault(path, e.to_string()))
}

/// The root version a snapshot names, `None` if it has no chain fields.
fn named_root(path: &Path, snapshot: &Signed<Snapshot>) -> Result<Option<u64>, RepoError> {
    match snapshot.signed.unknown.get(ROOT_VERSION_FIELD) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| fault(path, format!("{ROOT_VERSION_FIELD} is not a root version"))),
    }
}

/// The previous snapshot's hash a snapshot records, if any.
fn prev_snapshot(path: &Path, snapshot: &Signed<Snapshot>) -> Result<Option<String>, RepoError> {
    match snapshot.signed.unknown.get(PREV_SNAPSHOT_FIELD) {
        None => Ok(None),
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(Some(hash.clone()))
        }
        Some(_) => Err(fault(
            path,
            format!("{PREV_SNAPSHOT_FIELD} is not a SHA-256 as 64 lowercase hex digits"),
        )),
    }
}

/// The version of the previous snapshot a snapshot of `version` links to:
/// the one it names, which must be older, or else `version - 1`. `None` for
/// version 1, which has no previous snapshot.
fn prev_snapshot_version(
    path: &Path,
    snapshot: &Signed<Snapshot>,
    version: u64,
) -> Result<Option<u64>, RepoError> {
    match snapshot.signed.unknown.get(PREV_SNAPSHOT_VERSION_FIELD) {
        None => Ok(version.checked_sub(1).filter(|v| *v > 0)),
        Some(value) => value
            .as_u64()
            .filter(|v| *v > 0 && *v < version)
            .map(Some)
            .ok_or_else(|| {
                fault(
                    path,
                    format!("{PREV_SNAPSHOT_VERSION_FIELD} is not an older snapshot version"),
                )
            }),
    }
}

impl Repository {
    /// Verifies the audit log against the published history: the root
    /// chain, the live state, the snapshot chain back from it and the
    /// targets roles each snapshot lists (see the
    /// [module documentation](crate::history)), then the log's hash
    /// chain and every head recorded in any of them.
    ///
    /// A fault is an error naming the file and what is wrong with it
    /// ([`RepoError::History`], or [`RepoError::Audit`] for the log).
    pub fn verify_audit(&self) -> Result<AuditVerification, RepoError> {
        self.verify_audit_with(&[])
    }

    /// [`Repository::verify_audit`], with heads recorded outside the
    /// repository (`repo audit --expect-head`) checked like anchors: the
    /// only thing that catches a log cut back after its newest anchor.
    pub fn verify_audit_with(&self, witnesses: &[Anchor]) -> Result<AuditVerification, RepoError> {
        self.check_history(&self.operation(), Live::Newest, Depth::Full, witnesses)
    }

    /// The history check, on the published state `op` loaded: its
    /// listing of `metadata/` and its verified root chain.
    pub(crate) fn check_history(
        &self,
        op: &Operation<'_>,
        live: Live,
        depth: Depth,
        extra: &[Anchor],
    ) -> Result<AuditVerification, RepoError> {
        let loaded = op.load()?;
        let mut walk = Walk::new(self, depth, loaded);
        let listing = walk.list(&loaded.listing);
        let chain = walk.root_chain(loaded)?;
        let snapshots = walk.snapshots(&listing, &chain, live)?;
        if depth == Depth::Full {
            // Needs every role file name every snapshot lists.
            walk.other_roots(&listing)?;
        }
        let mut anchors = std::mem::take(&mut walk.anchors);
        anchors.extend_from_slice(extra);
        let log = self.audit_log().verify_after(&anchors, &self.audit_tail)?;
        let (pinned, snapshots) = match snapshots {
            Some((pinned, walked)) => (Some(pinned), walked),
            None => (None, 0),
        };
        Ok(AuditVerification {
            log,
            roots: u64::try_from(chain.len()).unwrap_or(u64::MAX),
            snapshots,
            role_files: walk.files.len(),
            pinned,
            warnings: walk.warnings,
            verified_roles: walk.verified.into_values().collect(),
        })
    }

    /// Refuses to stage over a log (or history) that does not verify.
    pub(crate) fn check_audit_before_staging(&self, op: &Operation<'_>) -> Result<(), RepoError> {
        self.check_history(op, Live::Newest, Depth::Live, &[])
            .map(|_| ())
    }

    /// Records the log's head in a role being staged, after the staging
    /// command's own lines, so the approvers' signatures cover them.
    pub(crate) fn record_audit_head(
        &self,
        unknown: &mut BTreeMap<String, Value>,
    ) -> Result<(), RepoError> {
        match self.audit_log().head_after(&self.audit_tail)? {
            Some(head) => record_head(unknown, &head)?,
            None => {
                unknown.remove(HEAD_FIELD);
            }
        }
        Ok(())
    }

    /// Verifies the log and the history, then records in a new snapshot the
    /// log's head, the root version it is signed under and the hash of the
    /// snapshot it succeeds. `release`: what a publish is about to make live
    /// (`None` for refresh).
    pub(crate) fn anchor_audit_log(
        &self,
        op: &Operation<'_>,
        snapshot: &mut Snapshot,
        root_version: u64,
        release: Option<&Release<'_>>,
    ) -> Result<(), RepoError> {
        let mut extra = Vec::new();
        if let Some(release) = release {
            let staged = |role: &str, version: u64, unknown: &BTreeMap<String, Value>| {
                unknown
                    .get(HEAD_FIELD)
                    .map(|value| {
                        serde_json::from_value::<AuditHead>(value.clone())
                            .map(|head| Anchor {
                                source: format!("{role} v{version} (being published)"),
                                head,
                            })
                            .map_err(|e| {
                                RepoError::Invalid(format!(
                                    "{role} v{version}: {HEAD_FIELD} is not an audit head: {e}"
                                ))
                            })
                    })
                    .transpose()
            };
            let root = &release.root.signed;
            extra.extend(staged("root", root.version, &root.unknown)?);
            for (role, doc) in release.roles {
                extra.extend(staged(role, doc.signed.version, &doc.signed.unknown)?);
            }
        }
        let verified = self.check_history(op, Live::PendingRoot, Depth::Live, &extra)?;
        match &verified.log.head {
            Some(head) => {
                snapshot
                    .unknown
                    .insert(HEAD_FIELD.to_owned(), head_value(head)?);
            }
            None => {
                snapshot.unknown.remove(HEAD_FIELD);
            }
        }
        snapshot
            .unknown
            .insert(ROOT_VERSION_FIELD.to_owned(), Value::from(root_version));
        match &verified.pinned {
            Some(pinned) => {
                if pinned.version >= snapshot.version {
                    return Err(RepoError::Invalid(format!(
                        "snapshot v{} would not follow the published snapshot v{}",
                        snapshot.version, pinned.version
                    )));
                }
                snapshot.unknown.insert(
                    PREV_SNAPSHOT_FIELD.to_owned(),
                    Value::String(pinned.sha256.clone()),
                );
                snapshot.unknown.insert(
                    PREV_SNAPSHOT_VERSION_FIELD.to_owned(),
                    Value::from(pinned.version),
                );
            }
            None => {
                snapshot.unknown.remove(PREV_SNAPSHOT_FIELD);
                snapshot.unknown.remove(PREV_SNAPSHOT_VERSION_FIELD);
            }
        }
        Ok(())
    }
}

fn head_value(head: &AuditHead) -> Result<Value, RepoError> {
    serde_json::to_value(head)
        .map_err(|e| RepoError::Invalid(format!("cannot record the audit head: {e}")))
}

/// Records `head` (a line this command appended) as the audit head in a
/// staged role's unrecognised fields.
pub(crate) fn record_head(
    unknown: &mut BTreeMap<String, Value>,
    head: &AuditHead,
) -> Result<(), RepoError> {
    unknown.insert(HEAD_FIELD.to_owned(), head_value(head)?);
    Ok(())
}

#[cfg(test)]
mod tests;
