//! Publishing a fully approved release, and keeping a published repository
//! fresh between releases.
//!
//! Order matters for crash safety: target files first, then new metadata
//! under new versioned names, then `timestamp.json` replaced last. Until that
//! rename, readers (and a crashed run's successor) see the old repository,
//! whose files are never touched.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::{UnixTime, parse_expires};
use fwsign_manifest_schema::metadata::{
    Root, SPEC_VERSION, Signed, Snapshot, TargetFile, Targets, Timestamp,
};
use serde::Serialize;

pub(crate) mod files;
mod link;
mod refresh;
mod staged;
mod verify_release;

use files::{
    create_all_published, create_published, delegator_in, meta_for, remove_files_in_order,
    remove_if_there,
};

use super::history::Release;
use super::names;
use super::published_state::FaultKind;
use super::resolve::{self, ShadowedDelegation};
use super::staged_role::StagedRole;
use super::staging::parallel::beside;
use super::{
    RepoError, Repository, canonical_of, expires_at, file_bytes, io_err, parse_doc, read_optional,
};
use crate::ReleaseRoles;
use crate::audit::AuditEvent;
use fwsign_core::key_types::BUILTIN;
use fwsign_keys::TufSigner;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_keys::document::{CanonicalDocument, sign, signing_payload, verify_role};

/// Points in a publish, reported to the caller as they pass. The CLI uses
/// them for progress and, in tests, to kill the process mid-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishStep {
    /// A target file is in a temporary in `targets/` (a hard link to the
    /// staged file, or its reflink or copy), not yet linked under its
    /// published names (reported once per new target file).
    TargetCopied,
    /// Every new target file is in `targets/`.
    TargetsWritten,
    /// New root and targets metadata are in `metadata/`.
    MetadataWritten,
    /// The new snapshot is in `metadata/`.
    SnapshotWritten,
    /// `timestamp.json` names the new snapshot: the release is live.
    TimestampWritten,
}

impl PublishStep {
    /// A stable name (`targets-written`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::TargetCopied => "target-copied",
            Self::TargetsWritten => "targets-written",
            Self::MetadataWritten => "metadata-written",
            Self::SnapshotWritten => "snapshot-written",
            Self::TimestampWritten => "timestamp-written",
        }
    }
}

/// What a publish wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PublishOutcome {
    /// The root version now in force.
    pub root_version: u64,
    /// Every targets role's version in the new snapshot.
    pub roles: BTreeMap<String, u64>,
    /// The targets roles this release published a new version of.
    pub changed_roles: Vec<String>,
    /// The new snapshot version.
    pub snapshot_version: u64,
    /// The new timestamp version.
    pub timestamp_version: u64,
    /// Target files newly published.
    pub targets_published: Vec<String>,
    /// Published targets whose name another role also covers
    /// (`shadowed-delegation`): the release is published, but bootloaders
    /// built before the on-device target search would accept that other
    /// role's entry for the name.
    pub warnings: Vec<ShadowedDelegation>,
}

impl PublishOutcome {
    /// What a person reads: the new versions of what this release changed,
    /// and how many roles it left as they were (a repository of 1,024
    /// hashed bins has a thousand):
    /// `root v1, bins-058 v2, snapshot v4, timestamp v4 (1,055 roles unchanged)`.
    pub fn summary(&self) -> String {
        let mut line = format!("root v{}", self.root_version);
        for role in &self.changed_roles {
            if let Some(v) = self.roles.get(role) {
                line.push_str(&format!(", {role} v{v}"));
            }
        }
        line.push_str(&format!(
            ", snapshot v{}, timestamp v{}",
            self.snapshot_version, self.timestamp_version
        ));
        let unchanged = self.roles.len().saturating_sub(self.changed_roles.len());
        match unchanged {
            0 => {}
            1 => line.push_str(" (1 role unchanged)"),
            n => line.push_str(&format!(" ({n} roles unchanged)")),
        }
        line
    }

    /// The versions published, for people and the audit log:
    /// `root v1, targets v3, snapshot v4, timestamp v4`.
    pub fn versions(&self) -> String {
        let roles: Vec<String> = self
            .roles
            .iter()
            .map(|(r, v)| format!("{r} v{v}"))
            .collect();
        format!(
            "root v{}, {}, snapshot v{}, timestamp v{}",
            self.root_version,
            roles.join(", "),
            self.snapshot_version,
            self.timestamp_version
        )
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshOutcome {
    /// The new snapshot version, if the snapshot was re-signed.
    pub snapshot_version: Option<u64>,
    /// The new timestamp version, if the timestamp was re-signed.
    pub timestamp_version: Option<u64>,
}

impl Repository {
    /// Publishes the staged release: refuses, naming every role and key
    /// still missing, unless each staged role meets its threshold; re-checks
    /// every staged target file; then writes snapshot and timestamp with the
    /// online keys and publishes with consistent snapshots.
    pub fn publish(
        &self,
        snapshot_signer: &dyn TufSigner,
        timestamp_signer: &dyn TufSigner,
        now: UnixTime,
        on_step: &mut dyn FnMut(PublishStep),
    ) -> Result<PublishOutcome, RepoError> {
        // The published state before this release, read once. `op` is
        // dropped before the first write below, so nothing after it can use
        // the state this publish replaces.
        let op = self.operation();
        // Every staged role read once, for the stale check, the approvals
        // and the release, and its file serialised once (its approvals are
        // checked on those bytes, and they are what is published): on other
        // threads while this one reads the published state, which is
        // independent of it (at 10^5 targets in one role, both took a fifth
        // of a publish, one after the other on one core).
        let (published, staged) = beside(|| self.read_staged_for_release(), || op.published());
        let published = published?;
        let (mut staged_docs, mut files) = staged?;
        self.clear_stale_staging(published, &mut staged_docs)?;
        let staged: Vec<String> = staged_docs.iter().map(|(r, _)| r.clone()).collect();
        if staged.is_empty() {
            return Err(RepoError::NothingStaged(self.dir().to_path_buf()));
        }
        let with_files: Vec<(&str, &StagedRole, Option<&[u8]>)> = staged_docs
            .iter()
            .map(|(role, doc)| (role.as_str(), doc, files.get(role).map(Vec::as_slice)))
            .collect();
        let missing = op.missing_approvals_of_written(&with_files)?;
        if !missing.is_empty() {
            let err = RepoError::NotApproved(missing);
            self.refuse(&err, now)?;
            return Err(err);
        }

        // The state after this release.
        let mut staged_root = None;
        // Published roles are borrowed from the verified load; only the
        // staged ones are owned (copying every published role, 10^5
        // targets and all, to change one was a sixth of a publish).
        let mut roles: ReleaseRoles<'_> = published
            .map(|p| {
                p.targets
                    .iter()
                    .map(|(r, d)| (r.clone(), Cow::Borrowed(d)))
                    .collect()
            })
            .unwrap_or_default();
        let mut changed_roles = Vec::new();
        for (role, doc) in staged_docs {
            match doc {
                StagedRole::Root(r) => staged_root = Some(r),
                StagedRole::Targets(doc) => {
                    roles.insert(role.clone(), Cow::Owned(doc));
                    changed_roles.push(role);
                }
            }
        }
        let root: Signed<Root> = match staged_root {
            Some(r) => r,
            None => published
                .map(|p| p.root.clone())
                .ok_or_else(|| RepoError::Invalid("no root to publish".into()))?,
        };
        if !roles.contains_key("targets") {
            return Err(RepoError::Invalid("no targets role to publish".into()));
        }
        // Roles a delegator retired (`repo undelegate`) leave the release;
        // the snapshot keeps listing their last version (below).
        for retired in crate::staging::retired_unreachable(&roles) {
            roles.remove(&retired);
        }
        // A new root must not orphan what is already published: targets
        // signed under the old root keys must still meet the new root's
        // threshold, or clients could no longer update at all.
        if staged.iter().any(|r| r == "root") && !changed_roles.iter().any(|r| r == "targets") {
            let new_root = canonical_of("root", &root)?;
            let targets = canonical_of("targets", &roles["targets"])?;
            let report =
                verify_role(&new_root, "targets", &targets, BUILTIN).map_err(|source| {
                    RepoError::Document {
                        context: "published targets under the new root".into(),
                        source,
                    }
                })?;
            if !report.is_met() {
                let err = RepoError::NotApproved(vec![super::MissingApproval {
                    role: "targets".into(),
                    version: roles["targets"].signed.version,
                    by: format!(
                        "root v{}: the published targets no longer meets it; stage it again with `fwsign repo extend --role targets` and collect signatures",
                        root.signed.version
                    ),
                    valid: report.valid,
                    threshold: report.threshold,
                    owners: super::key_owners::lookup(&root.signed),
                    may_still_sign: report.may_still_sign,
                    signed_by: report.signed_by,
                }]);
                self.refuse(&err, now)?;
                return Err(err);
            }
        }
        for doc in roles.values() {
            for delegated in doc.signed.delegations.iter().flat_map(|d| &d.roles) {
                if !roles.contains_key(&delegated.name) {
                    return Err(RepoError::Invalid(format!(
                        "delegated role {} has no metadata; stage it with `fwsign repo add --role {}`",
                        delegated.name, delegated.name
                    )));
                }
            }
        }

        // Every target file that will be newly published, hashed once
        // against the approved entry (on every core) before anything is
        // written; what is linked below is checked to be the file hashed.
        let mut to_publish: Vec<(String, TargetFile, PathBuf)> = Vec::new();
        for role in &changed_roles {
            let before = published.and_then(|p| p.targets.get(role));
            let role_dir = self.staged_role_targets_dir(role);
            for (name, entry) in &roles[role].signed.targets {
                let unchanged = before
                    .and_then(|b| b.signed.targets.get(name))
                    .is_some_and(|old| old.length == entry.length && old.hashes == entry.hashes);
                if unchanged {
                    continue;
                }
                // Its role's directory; `check_staged` falls back to the
                // legacy place when the file is not there.
                let staged_file = names::target_path(&role_dir, name)?;
                to_publish.push((name.clone(), entry.clone(), staged_file));
            }
        }
        let identities = match link::check_staged(&mut to_publish, &self.staged_targets_dir()) {
            Ok(identities) => identities,
            Err(e) => {
                self.refuse(&e, now)?;
                return Err(e);
            }
        };

        // Canonical bytes of everything new, then snapshot and timestamp.
        let root_doc = canonical_of("root", &root)?;
        let root_file = file_bytes("root", &root)?;
        // Unchanged roles keep the bytes they were published and verified
        // with: the new snapshot's length and hashes describe the files
        // clients fetch, not a re-serialisation of them.
        // (Borrowed: copying them was 20 MB at 10^5 targets in 1,024 bins.)
        let mut role_bytes: BTreeMap<String, Cow<'_, [u8]>> = BTreeMap::new();
        for (role, doc) in &roles {
            let bytes = match published.and_then(|p| p.role_bytes(role)) {
                Some(b) if !changed_roles.contains(role) => Cow::Borrowed(b),
                _ => Cow::Owned(match files.remove(role) {
                    Some(file) => file,
                    None => file_bytes(role, doc)?,
                }),
            };
            role_bytes.insert(role.clone(), bytes);
        }
        // A publish killed before its timestamp may have left the very
        // version a changed role is staged at: that file is used as it is.
        let metadata_dir = self.metadata_dir();
        let mut on_disk: BTreeSet<String> = BTreeSet::new();
        for role in &changed_roles {
            let path =
                metadata_dir.join(names::versioned_role_file(roles[role].signed.version, role));
            let Some(existing) = read_optional(&path)? else {
                continue;
            };
            if existing.as_slice() != role_bytes[role].as_ref() {
                let orphan = self.usable_orphan(&path, &existing, role, &roles, &root_doc)?;
                roles.insert(role.clone(), Cow::Owned(orphan));
                role_bytes.insert(role.clone(), Cow::Owned(existing));
            }
            on_disk.insert(role.clone());
        }
        // Versions are never reused: past every file on disk, orphans
        // included, and past what the timestamp names.
        let snapshot_version = op.next_free_version(
            "snapshot",
            published
                .and_then(|p| p.snapshot.as_ref())
                .map_or(1, |s| s.signed.version.saturating_add(1)),
        )?;
        let mut snapshot = Signed {
            signatures: vec![],
            signed: Snapshot {
                type_: "snapshot".into(),
                spec_version: SPEC_VERSION.into(),
                version: snapshot_version,
                expires: expires_at(now, self.expiry().snapshot)?,
                meta: role_bytes
                    .iter()
                    .map(|(role, bytes)| {
                        (
                            format!("{role}.json"),
                            meta_for(bytes, roles[role].signed.version),
                        )
                    })
                    .collect(),
                unknown: BTreeMap::new(),
            },
            unknown: BTreeMap::new(),
        };
        // A role the published snapshot lists stays listed as it was once
        // no delegation reaches it (retired): clients refuse a snapshot
        // that drops one.
        if let Some(previous) = published.and_then(|p| p.snapshot.as_ref()) {
            for (file, meta) in &previous.signed.meta {
                snapshot
                    .signed
                    .meta
                    .entry(file.clone())
                    .or_insert_with(|| meta.clone());
            }
        }
        // Roles this release does not change are listed exactly as the
        // published snapshot lists them: a role rolled back or swapped on
        // the way would otherwise ride along unapproved.
        if let Some(previous) = published.and_then(|p| p.snapshot.as_ref()) {
            verify_release::check_unchanged(
                &previous.signed,
                &snapshot.signed,
                roles.keys().filter(|r| !changed_roles.contains(*r)),
            )?;
        }
        let release = Release {
            root: &root,
            roles: &roles,
        };
        self.anchor_audit_log(
            &op,
            &mut snapshot.signed,
            root.signed.version,
            Some(&release),
        )?;
        self.sign_online(&root_doc, "snapshot", &mut snapshot, snapshot_signer)?;
        let snapshot_doc = file_bytes("snapshot", &snapshot)?;
        // What the release resolves to, as clients and devices will search
        // it: names another role also covers are warned about.
        let warnings = {
            let snapshot_canonical = canonical_of("snapshot", &snapshot)?;
            let mut read = |role: &str, _version: u64| {
                role_bytes
                    .get(role)
                    .map(|bytes| bytes.to_vec())
                    .ok_or_else(|| RepoError::Invalid(format!("{role} is not in this release")))
            };
            resolve::shadowed_delegations(&root_doc, &snapshot_canonical, &roles, &mut read)
        };
        let timestamp_version = op.next_free_version(
            "timestamp",
            published
                .and_then(|p| p.timestamp.as_ref())
                .map_or(1, |t| t.signed.version.saturating_add(1)),
        )?;
        let timestamp = self.new_timestamp(
            &root_doc,
            timestamp_version,
            &snapshot_doc,
            snapshot_version,
            timestamp_signer,
            now,
        )?;
        let timestamp_doc = file_bytes("timestamp", &timestamp)?;
        // The whole release as a client updating from the published state
        // will check it; a refusal writes nothing.
        let versions: BTreeMap<String, u64> = roles
            .iter()
            .map(|(r, d)| (r.clone(), d.signed.version))
            .collect();
        let new_files = verify_release::NewFiles {
            root: staged
                .iter()
                .any(|r| r == "root")
                .then_some((root.signed.version, root_file.as_slice())),
            timestamp: &timestamp_doc,
            snapshot: (snapshot_version, &snapshot_doc),
            roles: &role_bytes,
            versions: &versions,
            delegated: &roles
                .iter()
                .map(|(r, d)| (r.clone(), d.signed.delegated_role_names()))
                .collect(),
        };
        if let Err(e) = verify_release::check_release(published, &new_files, now) {
            self.refuse(&e, now)?;
            return Err(e);
        }

        // Writes: targets, metadata, snapshot, timestamp last. From here on
        // the published state read above is stale (and `roles` and
        // `role_bytes`, which borrow from it, are gone: versions come from
        // `versions`, and the changed roles' files, owned, are kept).
        let changed_bytes: BTreeMap<String, Vec<u8>> = role_bytes
            .into_iter()
            .filter(|(role, _)| changed_roles.contains(role))
            .map(|(role, bytes)| (role, bytes.into_owned()))
            .collect();
        drop(op);
        let targets_dir = self.targets_dir();
        fs::create_dir_all(&targets_dir).map_err(io_err(&targets_dir))?;
        // On an error the marker stays, and the next publish sweeps
        // `targets/` for what this one left.
        let linking = !to_publish.is_empty();
        if linking {
            self.mark_linking()?;
        }
        link::link_all(&targets_dir, &to_publish, &identities, on_step)?;
        if linking {
            self.unmark_linking()?;
        }
        on_step(PublishStep::TargetsWritten);
        fs::create_dir_all(&metadata_dir).map_err(io_err(&metadata_dir))?;
        // Every versioned file is created, never replaced; a crashed publish
        // may have written this very root or role, which is then kept.
        let mut new_files: Vec<(PathBuf, &[u8])> = Vec::new();
        if staged.iter().any(|r| r == "root") {
            let path = metadata_dir.join(format!("{}.root.json", root.signed.version));
            new_files.push((path, &root_file));
        }
        for role in changed_roles.iter().filter(|r| !on_disk.contains(*r)) {
            let path = metadata_dir.join(names::versioned_role_file(versions[role], role));
            new_files.push((path, &changed_bytes[role]));
        }
        create_all_published(&new_files)?;
        on_step(PublishStep::MetadataWritten);
        let snapshot_path = metadata_dir.join(format!("{snapshot_version}.snapshot.json"));
        create_published(&snapshot_path, &snapshot_doc)?;
        on_step(PublishStep::SnapshotWritten);
        let timestamp_path = metadata_dir.join("timestamp.json");
        write_atomic(&timestamp_path, &timestamp_doc, Mode::Public)
            .map_err(io_err(&timestamp_path))?;
        on_step(PublishStep::TimestampWritten);

        // The release is live; clear what it consumed: the staged roles and
        // their target files (legacy `staged/targets/NAME` files too).
        for role in &staged {
            let path = self.staged_path(role);
            fs::remove_file(&path).map_err(io_err(&path))?;
            self.staged_removed(role);
            self.clear_dropped(role)?;
        }
        // The staged copies go first, in release order (the order `repo add`
        // created them); then each role's directory, with whatever else it
        // holds.
        let staged_files: Vec<&Path> = to_publish.iter().map(|(_, _, f)| f.as_path()).collect();
        remove_files_in_order(&staged_files)?;
        for role in staged.iter().filter(|r| r.as_str() != "root") {
            remove_if_there(&self.staged_role_targets_dir(role))?;
        }
        let outcome = PublishOutcome {
            root_version: root.signed.version,
            roles: versions.clone(),
            changed_roles: changed_roles.clone(),
            snapshot_version,
            timestamp_version,
            targets_published: to_publish.iter().map(|(n, _, _)| n.clone()).collect(),
            warnings,
        };
        self.audit(
            &AuditEvent {
                action: "publish".into(),
                version: Some(snapshot_version),
                targets: to_publish
                    .iter()
                    .filter_map(|(n, e, _)| e.hashes.get("sha256").map(|h| (n.clone(), h.clone())))
                    .collect(),
                detail: Some(outcome.versions()),
                ..AuditEvent::default()
            },
            now,
        )?;
        Ok(outcome)
    }

    /// A file `path` a killed publish left at the version staged `role` is
    /// to be published at, with other bytes than the staged role now has
    /// (approvers signed on since): usable as the published role only when
    /// it is the same document (its `signed` part) and its own signatures
    /// still meet the threshold its delegator in this release gives it.
    fn usable_orphan(
        &self,
        path: &Path,
        bytes: &[u8],
        role: &str,
        roles: &ReleaseRoles<'_>,
        root: &CanonicalDocument,
    ) -> Result<Signed<Targets>, RepoError> {
        let orphan = parse_doc::<Targets>(path, bytes)?;
        let payload = |doc: &Signed<Targets>| {
            signing_payload(&doc.signed).map_err(|source| RepoError::Document {
                context: role.to_owned(),
                source,
            })
        };
        if payload(&orphan)? != payload(&roles[role])? {
            return Err(RepoError::WouldRewrite(path.to_path_buf()));
        }
        let canonical = canonical_of(role, &orphan)?;
        let report = match delegator_in(roles, role) {
            Some(parent) if role != "targets" => {
                let parent_doc = canonical_of(parent, &roles[parent])?;
                verify_role(&parent_doc, role, &canonical, BUILTIN)
            }
            _ => verify_role(root, role, &canonical, BUILTIN),
        }
        .map_err(|source| RepoError::Document {
            context: path.display().to_string(),
            source,
        })?;
        if !report.is_met() {
            return Err(RepoError::Invalid(format!(
                "{}: a publish killed earlier left {role} v{} with signatures that no longer meet its threshold ({} of {}); stage {role} again (`fwsign repo extend --role {role} --expires DURATION`) to move it to a free version, and collect approvals",
                path.display(),
                orphan.signed.version,
                report.valid,
                report.threshold
            )));
        }
        Ok(orphan)
    }

    /// Records a refusal in the audit log: [`refusal_events`], each on one
    /// line.
    fn refuse(&self, err: &RepoError, now: UnixTime) -> Result<(), RepoError> {
        for event in refusal_events(err) {
            self.audit(&event, now)?;
        }
        Ok(())
    }

    /// Signs an online role and checks the signer is what the root names.
    fn sign_online<T: Serialize>(
        &self,
        root: &CanonicalDocument,
        role: &str,
        doc: &mut Signed<T>,
        signer: &dyn TufSigner,
    ) -> Result<(), RepoError> {
        sign(doc, signer).map_err(|source| RepoError::Document {
            context: format!("signing {role}"),
            source,
        })?;
        let canonical = canonical_of(role, doc)?;
        let report =
            verify_role(root, role, &canonical, BUILTIN).map_err(|source| RepoError::Document {
                context: role.to_owned(),
                source,
            })?;
        if !report.is_met() {
            return Err(RepoError::NotAuthorised {
                role: role.to_owned(),
                keyid: signer.keyid(),
            });
        }
        Ok(())
    }

    fn new_timestamp(
        &self,
        root: &CanonicalDocument,
        version: u64,
        snapshot: &[u8],
        snapshot_version: u64,
        signer: &dyn TufSigner,
        now: UnixTime,
    ) -> Result<Signed<Timestamp>, RepoError> {
        let mut meta = BTreeMap::new();
        meta.insert(
            "snapshot.json".to_owned(),
            meta_for(snapshot, snapshot_version),
        );
        let mut timestamp = Signed {
            signatures: vec![],
            signed: Timestamp {
                type_: "timestamp".into(),
                spec_version: SPEC_VERSION.into(),
                version,
                expires: expires_at(now, self.expiry().timestamp)?,
                meta,
                unknown: BTreeMap::new(),
            },
            unknown: BTreeMap::new(),
        };
        self.sign_online(root, "timestamp", &mut timestamp, signer)?;
        Ok(timestamp)
    }
}

/// The audit events of a refusal. An event names one role, its version and
/// one key with its owner (the model every other event follows), so a
/// refusal that concerns roles is recorded once per role and, within a role
/// short of its threshold, once per key whose signature counted (a role
/// nobody signed yet: once, without a key). A SIEM then sees who approved
/// what was refused without parsing the text. Other refusals are one event
/// with the error's text.
pub(crate) fn refusal_events(err: &RepoError) -> Vec<AuditEvent> {
    let one_line = |text: String| Some(text.replace(['\n', '\r'], " "));
    match err {
        RepoError::NotApproved(missing) => missing
            .iter()
            .flat_map(|m| {
                let event = AuditEvent {
                    action: "refuse".into(),
                    role: Some(m.role.clone()),
                    version: Some(m.version),
                    detail: one_line(format!("not enough approvals: {m}")),
                    ..AuditEvent::default()
                };
                if m.signed_by.is_empty() {
                    return vec![event];
                }
                m.signed_by
                    .iter()
                    .map(|keyid| AuditEvent {
                        keyid: Some(keyid.clone()),
                        approver: m.owners.get(keyid).map(|o| o.name.clone()),
                        ..event.clone()
                    })
                    .collect()
            })
            .collect(),
        RepoError::Expired(expired) => expired
            .iter()
            .map(|e| AuditEvent {
                action: "refuse".into(),
                role: Some(e.role.clone()),
                version: Some(e.version),
                detail: one_line(format!("refusing to refresh: {e}")),
                ..AuditEvent::default()
            })
            .collect(),
        other => vec![AuditEvent {
            action: "refuse".into(),
            detail: one_line(other.to_string()),
            ..AuditEvent::default()
        }],
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::refusal_events;
    use crate::{MissingApproval, RepoError};

    fn missing(role: &str, version: u64, signed_by: &[&str]) -> MissingApproval {
        MissingApproval {
            role: role.into(),
            version,
            by: "root".into(),
            valid: signed_by.len(),
            threshold: 2,
            may_still_sign: vec!["cc".repeat(32)],
            signed_by: signed_by.iter().map(|k| (*k).to_owned()).collect(),
            owners: Default::default(),
        }
    }

    /// An insider's publish attempt without enough approvals must reach
    /// the SIEM attributed: each refused role with its version, and each
    /// key whose approval was not enough, as fields.
    #[test]
    fn a_refused_publish_is_one_event_per_role_and_signer_naming_both() {
        let (a, b) = ("aa".repeat(32), "bb".repeat(32));
        let err = RepoError::NotApproved(vec![
            missing("targets", 4, &[a.as_str(), b.as_str()]),
            missing("board-a", 2, &[]),
        ]);
        let events = refusal_events(&err);
        let seen: Vec<(Option<&str>, Option<u64>, Option<&str>)> = events
            .iter()
            .map(|e| (e.role.as_deref(), e.version, e.keyid.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                (Some("targets"), Some(4), Some(a.as_str())),
                (Some("targets"), Some(4), Some(b.as_str())),
                (Some("board-a"), Some(2), None),
            ]
        );
        for e in &events {
            assert_eq!(e.action, "refuse");
            let detail = e.detail.as_deref().unwrap();
            assert!(detail.starts_with("not enough approvals: "), "{detail}");
            assert!(!detail.contains('\n'), "one line: {detail}");
        }
    }

    #[test]
    fn other_refusals_stay_one_event_with_the_error_text() {
        let err = RepoError::StagedTargetChanged {
            name: "fw.bin".into(),
            why: "length differs".into(),
        };
        let events = refusal_events(&err);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].role, None);
        assert_eq!(events[0].detail, Some(err.to_string()));
    }
}
