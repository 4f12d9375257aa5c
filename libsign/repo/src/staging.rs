//! Changing what the next release contains: targets, delegations, root keys
//! and expiry. Any change to a staged role's content drops the approvals it
//! had, and the repository records that so `status` can say so.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{DelegatedRole, Delegations, Root, Signed, Targets};
use serde::Serialize;
use serde_json::Value;

use super::names::{self, check_delegated_role_name};
use super::operation::Operation;
use super::{
    RepoError, Repository, check_role_keys, check_separation, empty_targets, expires_at, io_err,
};
use crate::audit::AuditEvent;
use crate::staged_role::{StagedRole, ToSave};
use fwsign_keys::PublicKey;

mod add;
pub(crate) mod copy;
mod existing;
pub(crate) mod parallel;
mod remove;
mod root;
mod sbom;
mod sources;
mod undelegate;

pub use existing::{OnExisting, TargetChange};
pub(crate) use root::check_root_writable;
pub use sources::{targets_from_dir, targets_from_list};
pub use undelegate::{RETIRED_ROLES_FIELD, UndelegateOptions, Undelegated};
pub(crate) use undelegate::{retired_by, retired_unreachable};

/// Progress of a long file operation, for a caller that draws a bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// Starting on a file of `total` bytes.
    Start {
        /// The target name.
        name: &'a str,
        /// Its size.
        total: u64,
    },
    /// `n` more bytes done.
    Advance(u64),
    /// The file is done.
    Finish,
}

/// Digest algorithms a target can be listed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// Always listed.
    Sha256,
    /// Listed as well on request.
    Sha512,
}

/// One file to add.
#[derive(Debug, Clone)]
pub struct NewTarget {
    /// The file on disk.
    pub file: PathBuf,
    /// The target name it is published under.
    pub name: String,
}

/// Options for [`Repository::add`].
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// `targets` or a delegated role.
    pub role: String,
    /// The files.
    pub targets: Vec<NewTarget>,
    /// Hardware IDs the firmware runs on.
    pub hardware_ids: Vec<String>,
    /// Firmware version (semver).
    pub version: String,
    /// Anti-rollback counter.
    pub security_counter: u64,
    /// Optional oldest bootloader version.
    pub min_bootloader_version: Option<String>,
    /// Optional SBOM digest (an SBOM published elsewhere).
    pub sbom_sha256: Option<String>,
    /// An SBOM to publish beside the one firmware file, as its own target in
    /// the same role (named after the firmware with `.cdx.json` or
    /// `.spdx.json` appended); its name and SHA-256 go into the firmware's
    /// signed fields. Checked against its format's official JSON schema
    /// ([`crate::sbom`]). Not with `sbom_sha256`, nor with hashed bins.
    pub sbom: Option<PathBuf>,
    /// Also list SHA-512.
    pub sha512: bool,
    /// Extra `custom` fields (`KEY=VALUE`; VALUE as JSON when it parses).
    pub custom: Vec<(String, Value)>,
}

/// What `add` staged for one file.
#[derive(Debug, Clone, Serialize)]
pub struct AddedTarget {
    /// The target name.
    pub name: String,
    /// Its length.
    pub length: u64,
    /// Its hashes.
    pub hashes: BTreeMap<String, String>,
    /// What this did to the role's entry for the name.
    pub change: TargetChange,
}

/// Options for [`Repository::delegate`].
#[derive(Debug, Clone)]
pub struct DelegateOptions {
    /// The new role.
    pub role: String,
    /// Its approver keys.
    pub keys: Vec<PublicKey>,
    /// Its threshold.
    pub threshold: u64,
    /// Path patterns it may sign for.
    pub paths: Vec<String>,
    /// Whether the search stops at it.
    pub terminating: bool,
    /// Accept keys shared with online roles.
    pub allow_shared_key: bool,
}

/// Options for [`Repository::rotate_root`].
#[derive(Debug, Clone, Default)]
pub struct RotateOptions {
    /// Keys to add, by role.
    pub add: Vec<(String, PublicKey)>,
    /// Key IDs to remove, by role.
    pub remove: Vec<(String, String)>,
    /// New thresholds, by role.
    pub thresholds: Vec<(String, u64)>,
    /// New expiry period for the root.
    pub expires: Option<i64>,
    /// Accept keys shared between online and approver roles.
    pub allow_shared_key: bool,
    /// Who holds which of the new root's keys (`--key-owner`).
    pub owners: Vec<crate::key_owners::OwnerAssignment>,
}

/// Creates `rel` under `base` one directory at a time, refusing any existing
/// component that is a symlink, so no name can lead a write outside `base`.
pub(crate) fn create_dirs_inside(base: &Path, rel: &Path) -> Result<(), RepoError> {
    let mut path = base.to_path_buf();
    for component in rel.components() {
        path.push(component);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(RepoError::Invalid(format!(
                    "{}: is a symbolic link; fwsign does not write through links",
                    path.display()
                )));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(RepoError::Invalid(format!(
                    "{}: exists and is not a directory",
                    path.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&path).map_err(io_err(&path))?;
            }
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Ok(())
}

/// Refuses a target file path whose final component is a symlink.
pub(crate) fn refuse_link(path: &Path) -> Result<(), RepoError> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(RepoError::Invalid(format!(
            "{}: is a symbolic link; fwsign does not write through links",
            path.display()
        )));
    }
    Ok(())
}

impl Repository {
    /// The staged targets role `role`, created from the published one (next
    /// version, fresh expiry, no signatures) when not staged yet.
    pub(crate) fn targets_for_edit(
        &self,
        op: &Operation<'_>,
        role: &str,
        now: UnixTime,
    ) -> Result<Signed<Targets>, RepoError> {
        if let Some(mut doc) = self.load_staged::<Targets>(role)? {
            // A publish killed after writing this version left it on disk:
            // the edited role moves past it (its approvals go either way).
            doc.signed.version = op.next_free_version(role, doc.signed.version)?;
            return Ok(doc);
        }
        let published = op
            .published()?
            .and_then(|p| p.targets.get(role))
            .cloned()
            .ok_or_else(|| {
                RepoError::Invalid(format!(
                    "role {role:?} is neither staged nor published; create delegated roles with `fwsign repo delegate`"
                ))
            })?;
        let mut doc = published;
        doc.signatures.clear();
        let next =
            doc.signed.version.checked_add(1).ok_or_else(|| {
                RepoError::Invalid(format!("role {role}: version counter exhausted"))
            })?;
        doc.signed.version = op.next_free_version(role, next)?;
        doc.signed.expires = expires_at(now, self.expiry().for_role(role))?;
        Ok(doc)
    }

    /// Saves an edited staged role; approvals given before the edit are
    /// dropped and recorded.
    pub(crate) fn save_edited<T: Serialize + Clone + 'static>(
        &self,
        role: &str,
        mut doc: Signed<T>,
        now: UnixTime,
    ) -> Result<(), RepoError> {
        let dropped: Vec<String> = doc.signatures.iter().map(|s| s.keyid.clone()).collect();
        doc.signatures.clear();
        self.save_staged(role, &doc)?;
        self.approvals_dropped(vec![(role.to_owned(), dropped)], now)
    }

    /// [`Repository::save_edited`] of several targets roles: saved durable
    /// together ([`StagedRole::save_all`]) and their dropped approvals
    /// recorded with one append of the audit log. A release over 1,024 bins
    /// saved each with two `fsync` calls of its own.
    pub(crate) fn save_all_edited(
        &self,
        docs: Vec<(String, Signed<Targets>)>,
        now: UnixTime,
    ) -> Result<(), RepoError> {
        let mut dropped = Vec::new();
        let mut staged = Vec::with_capacity(docs.len());
        for (role, mut doc) in docs {
            dropped.push((
                role.clone(),
                doc.signatures.iter().map(|s| s.keyid.clone()).collect(),
            ));
            doc.signatures.clear();
            staged.push((role, StagedRole::Targets(doc)));
        }
        let refs: Vec<ToSave<'_>> = staged.iter().map(|(r, d)| ToSave::new(r, d)).collect();
        StagedRole::save_all(self, &refs)?;
        self.approvals_dropped(dropped, now)
    }

    /// Records the approvals each role's edit dropped (role, key IDs), with
    /// an audit line each, appended together.
    fn approvals_dropped(
        &self,
        dropped: Vec<(String, Vec<String>)>,
        now: UnixTime,
    ) -> Result<(), RepoError> {
        let mut events = Vec::new();
        for (role, keyids) in dropped.into_iter().filter(|(_, k)| !k.is_empty()) {
            self.record_dropped(&role, keyids.clone(), now)?;
            // Names are for the record only: a role whose delegator cannot
            // be found yet (mid-delegation) is logged without them.
            let owners = self.key_owners_for(&role).unwrap_or_default();
            for keyid in keyids {
                events.push(AuditEvent {
                    action: "approvals-dropped".into(),
                    role: Some(role.clone()),
                    approver: owners.get(&keyid).map(|o| o.name.clone()),
                    keyid: Some(keyid),
                    detail: Some("the staged content changed after this approval".into()),
                    ..AuditEvent::default()
                });
            }
        }
        self.audit_all(&events, now)?;
        Ok(())
    }

    /// Online (snapshot, timestamp) key IDs of the current root.
    pub(crate) fn online_keyids(op: &Operation<'_>) -> Result<Vec<(String, String)>, RepoError> {
        let root = op.current_root()?;
        let mut out = Vec::new();
        for role in ["snapshot", "timestamp"] {
            if let Some(r) = root.signed.roles.get(role) {
                out.extend(r.keyids.iter().map(|k| (role.to_owned(), k.clone())));
            }
        }
        Ok(out)
    }

    /// Stages a delegation from `targets` to a new (or changed) role with its
    /// own approvers, and the role itself (empty) when it is new.
    ///
    /// Returns the version the role was staged again at when its keys or
    /// threshold changed (its new keys must sign it), else `None`.
    pub fn delegate(
        &self,
        options: &DelegateOptions,
        now: UnixTime,
    ) -> Result<Option<u64>, RepoError> {
        self.delegate_with_owners(options, &[], now)
    }

    /// [`Repository::delegate`], naming the holders of the role's keys in
    /// the delegating role ([`crate::key_owners`]).
    pub fn delegate_with_owners(
        &self,
        options: &DelegateOptions,
        owners: &[crate::key_owners::OwnerAssignment],
        now: UnixTime,
    ) -> Result<Option<u64>, RepoError> {
        check_delegated_role_name(&options.role)?;
        check_role_keys(&options.role, &options.keys, options.threshold)?;
        if options.paths.is_empty() || options.paths.iter().any(String::is_empty) {
            return Err(RepoError::Invalid(
                "a delegation needs at least one non-empty --paths pattern".into(),
            ));
        }
        let approvers: Vec<(String, String)> = options
            .keys
            .iter()
            .map(|k| (options.role.clone(), k.keyid()))
            .collect();
        let op = self.operation();
        self.check_audit_before_staging(&op)?;
        check_separation(
            &Self::online_keyids(&op)?,
            &approvers,
            options.allow_shared_key,
        )?;

        let mut parent = self.targets_for_edit(&op, "targets", now)?;
        // The role's keys and threshold before this delegation, if it had
        // one: a change to them means the role's current signatures (made
        // under the old keys) no longer verify under the new delegation.
        let before: Option<(BTreeSet<String>, u64)> = parent
            .signed
            .delegations
            .as_ref()
            .and_then(|d| d.roles.iter().find(|r| r.name == options.role))
            .map(|r| (r.keyids.iter().cloned().collect(), r.threshold));
        let delegations = parent
            .signed
            .delegations
            .get_or_insert_with(|| Delegations {
                keys: BTreeMap::new(),
                roles: vec![],
                unknown: BTreeMap::new(),
            });
        for k in &options.keys {
            delegations.keys.insert(k.keyid(), k.to_tuf_key());
        }
        let entry = DelegatedRole {
            name: options.role.clone(),
            keyids: options.keys.iter().map(PublicKey::keyid).collect(),
            threshold: options.threshold,
            terminating: options.terminating,
            paths: Some(options.paths.clone()),
            path_hash_prefixes: None,
            unknown: BTreeMap::new(),
        };
        let rekeyed = before.as_ref().is_some_and(|(keyids, threshold)| {
            *keyids != entry.keyids.iter().cloned().collect::<BTreeSet<_>>()
                || *threshold != entry.threshold
        });
        match delegations
            .roles
            .iter_mut()
            .find(|r| r.name == options.role)
        {
            Some(existing) => *existing = entry,
            None => delegations.roles.push(entry),
        }
        prune_delegation_keys(delegations);
        crate::key_owners::store_in_delegator(&mut parent.signed, &options.role, owners)?;

        let exists = self.load_staged::<Targets>(&options.role)?.is_some()
            || op
                .published()?
                .is_some_and(|p| p.targets.contains_key(&options.role));
        // The role as the next release has it: new and empty, or, when its
        // keys or threshold change, a new version of it (same targets,
        // signatures cleared) that the new keys must sign. Publishing the
        // new delegation alone would leave the published role signed by
        // keys its delegator no longer lists: every client search reaching
        // it would fail.
        let role_doc = if !exists {
            Some(Signed {
                signatures: vec![],
                signed: empty_targets(
                    op.next_free_version(&options.role, 1)?,
                    expires_at(now, self.expiry().for_role(&options.role))?,
                ),
                unknown: BTreeMap::new(),
            })
        } else if rekeyed {
            Some(self.targets_for_edit(&op, &options.role, now)?)
        } else {
            None
        };
        {
            let mut changed: Vec<(&str, &Signed<Targets>)> = vec![("targets", &parent)];
            if let Some(doc) = &role_doc {
                changed.push((&options.role, doc));
            }
            self.check_stays_publishable(&op, None, &changed)?;
        }
        // Recorded before saving, so the heads staged with the delegation
        // and the role cover these lines.
        self.audit(
            &AuditEvent {
                action: "stage".into(),
                role: Some(options.role.clone()),
                detail: Some(format!(
                    "delegate {} to {} key(s), threshold {}",
                    options.paths.join(", "),
                    options.keys.len(),
                    options.threshold
                )),
                ..AuditEvent::default()
            },
            now,
        )?;
        if let (true, Some(doc)) = (rekeyed, &role_doc) {
            self.audit(
                &AuditEvent {
                    action: "stage".into(),
                    role: Some(options.role.clone()),
                    version: Some(doc.signed.version),
                    detail: Some(
                        "new version for the changed delegation: the new keys must sign it".into(),
                    ),
                    ..AuditEvent::default()
                },
                now,
            )?;
        }
        self.record_audit_head(&mut parent.signed.unknown)?;
        // The role first: should saving `targets` fail after it, what is
        // left is a role waiting for signatures, never a new delegation
        // over a role its keys cannot sign.
        let restaged = role_doc
            .as_ref()
            .filter(|_| rekeyed)
            .map(|d| d.signed.version);
        if let Some(mut doc) = role_doc {
            self.record_audit_head(&mut doc.signed.unknown)?;
            self.save_edited(&options.role, doc, now)?;
        }
        self.save_edited("targets", parent, now)?;
        Ok(restaged)
    }

    /// Stages a version of `role` that only moves its expiry to `now + secs`.
    pub fn extend(&self, role: &str, secs: i64, now: UnixTime) -> Result<u64, RepoError> {
        names::check_role_name(role)?;
        let expires = expires_at(now, secs)?;
        if role == "snapshot" || role == "timestamp" {
            return Err(RepoError::Invalid(
                "snapshot and timestamp are re-signed with `fwsign repo refresh`".into(),
            ));
        }
        let op = self.operation();
        self.check_audit_before_staging(&op)?;
        let version = if role == "root" {
            let mut root = match self.load_staged::<Root>("root")? {
                Some(r) => r,
                None => {
                    let mut r = op
                        .published()?
                        .ok_or_else(|| RepoError::NotARepository(self.dir().to_path_buf()))?
                        .root
                        .clone();
                    r.signatures.clear();
                    r.signed.version = r.signed.version.saturating_add(1);
                    r
                }
            };
            root.signed.version = op.next_free_version("root", root.signed.version)?;
            root.signed.expires = expires;
            let v = root.signed.version;
            self.check_stays_publishable(&op, Some(&root), &[])?;
            // Recorded before the role is saved, so the log head staged
            // with it covers this line.
            self.audit(&extend_event("root", v, secs), now)?;
            self.record_audit_head(&mut root.signed.unknown)?;
            self.save_edited("root", root, now)?;
            v
        } else {
            let versions = self.extend_targets_roles(&op, &[role], secs, now)?;
            versions.first().copied().unwrap_or_default()
        };
        Ok(version)
    }

    /// [`Repository::extend`] for several targets roles at once (`repo
    /// extend --role 'bins-*'`), under one read of the published state and
    /// one check that the next release stays publishable: extending 1,024
    /// bins one command each read and verified every bin 1,024 times.
    /// Returns each role's staged version, in order.
    pub fn extend_all(
        &self,
        roles: &[String],
        secs: i64,
        now: UnixTime,
    ) -> Result<Vec<u64>, RepoError> {
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        for role in &roles {
            names::check_role_name(role)?;
            if ["root", "snapshot", "timestamp"].contains(role) {
                return Err(RepoError::Invalid(format!(
                    "{role}: extend root with `fwsign repo extend --role root`, and re-sign snapshot and timestamp with `fwsign repo refresh`"
                )));
            }
        }
        let op = self.operation();
        self.check_audit_before_staging(&op)?;
        self.extend_targets_roles(&op, &roles, secs, now)
    }

    /// Stages each of `roles` (targets roles) again with an expiry `secs`
    /// from `now`: one check of the whole change, one append of their audit
    /// lines, each role carrying its own line's head, and the staged files
    /// saved durable together.
    fn extend_targets_roles(
        &self,
        op: &Operation<'_>,
        roles: &[&str],
        secs: i64,
        now: UnixTime,
    ) -> Result<Vec<u64>, RepoError> {
        let expires = expires_at(now, secs)?;
        let mut docs = Vec::with_capacity(roles.len());
        for &role in roles {
            let mut doc = self.targets_for_edit(op, role, now)?;
            doc.signed.expires = expires.clone();
            docs.push((role, doc));
        }
        let change: Vec<(&str, &Signed<Targets>)> = docs.iter().map(|(r, d)| (*r, d)).collect();
        self.check_stays_publishable(op, None, &change)?;
        let events: Vec<AuditEvent> = docs
            .iter()
            .map(|(role, doc)| extend_event(role, doc.signed.version, secs))
            .collect();
        let versions = docs.iter().map(|(_, d)| d.signed.version).collect();
        let docs = docs.into_iter().map(|(r, d)| (r.to_owned(), d)).collect();
        self.stage_all(docs, &events, now)?;
        Ok(versions)
    }

    /// Stages `docs`, `events[i]` being the `stage` line of `docs[i]`: the
    /// lines appended together, each role carrying its own line's head (so
    /// the head staged with it covers that line), and the roles saved
    /// durable together ([`Repository::save_all_edited`]).
    pub(crate) fn stage_all(
        &self,
        mut docs: Vec<(String, Signed<Targets>)>,
        events: &[AuditEvent],
        now: UnixTime,
    ) -> Result<(), RepoError> {
        let heads = self.audit_all(events, now)?;
        for ((_, doc), head) in docs.iter_mut().zip(&heads) {
            crate::history::record_head(&mut doc.signed.unknown, head)?;
        }
        self.save_all_edited(docs, now)
    }
}

/// The `stage` line of `role` v`version` staged with its expiry moved by
/// `secs`.
fn extend_event(role: &str, version: u64, secs: i64) -> AuditEvent {
    AuditEvent {
        action: "stage".into(),
        role: Some(role.to_owned()),
        version: Some(version),
        detail: Some(format!("extend expiry by {secs}s")),
        ..AuditEvent::default()
    }
}

/// Drops delegation keys no delegated role lists any more.
fn prune_delegation_keys(delegations: &mut Delegations) {
    let used: BTreeSet<&String> = delegations
        .roles
        .iter()
        .flat_map(|r| r.keyids.iter())
        .collect();
    delegations.keys.retain(|k, _| used.contains(k));
}
