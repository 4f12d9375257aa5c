//! `repo add`: staging many files as targets of one role in one command.
//!
//! The files are copied and hashed on every core ([`super::copy`]), the
//! role's entries are built and checked, and only then are the copies put
//! in place, durably, in one pass; the command's audit line and the staged
//! role follow. A crash before the renames leaves temporaries only; one
//! during or after them leaves staged files the role does not list yet,
//! which publish never reads (it reads only what the approved role lists,
//! and checks each file's hashes against it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fwsign_keys::atomic_write::{
    PendingDir, SYNCFS_FROM, create_pending_dir, with_early_writeback,
};
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::firmware::FirmwareInfo;
use fwsign_manifest_schema::metadata::{Signed, TargetFile, Targets};

use super::copy::{CopyJob, Dest, InNewDir, Placement, copy_all, place_all, stage_bytes};
use super::existing;
use super::names::{self, check_target_name};
use super::{
    AddOptions, AddedTarget, OnExisting, Progress, RepoError, Repository, TargetChange,
    create_dirs_inside, refuse_link,
};
use crate::audit::AuditEvent;
use crate::operation::Operation;
use fwsign_core::path_match::delegation_covers_names;

impl Repository {
    /// [`Repository::add_with`], refusing a name the role already lists
    /// with other bytes.
    pub fn add(
        &self,
        options: &AddOptions,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<AddedTarget>, RepoError> {
        self.add_with(options, OnExisting::Refuse, now, progress)
    }

    /// Stages files as targets of `options.role`: each is copied into
    /// `staged/targets/<role>/` (read-only) and hashed, on every core, so
    /// what approvers sign is exactly what gets published. The copies are
    /// put in place only once every file is copied and checked, made
    /// durable in one pass; on any error none is left behind. One audit
    /// line records the batch.
    ///
    /// A name the role already lists (staged, or published) with other
    /// bytes is refused ([`RepoError::TargetExists`]) unless `on_existing`
    /// is [`OnExisting::Replace`]; the same bytes and fields again change
    /// nothing, and nothing is written.
    pub fn add_with(
        &self,
        options: &AddOptions,
        on_existing: OnExisting,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<AddedTarget>, RepoError> {
        self.add_to_role(&self.operation(), options, on_existing, now, progress)
    }

    /// [`Repository::add_with`] in `op`.
    pub(crate) fn add_to_role(
        &self,
        op: &Operation<'_>,
        options: &AddOptions,
        on_existing: OnExisting,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<AddedTarget>, RepoError> {
        let added = self.add_to_roles(
            op,
            std::slice::from_ref(options),
            None,
            on_existing,
            now,
            None,
            progress,
        )?;
        Ok(added
            .into_iter()
            .next()
            .map(|(_, added)| added)
            .unwrap_or_default())
    }

    /// [`Repository::add_with`] for several roles in one command (a
    /// release routed over hashed bins): the published state is read and
    /// the history checked once, every role's entries are built and the
    /// change checked for publishability together, and the copies of all
    /// of them are made durable in one pass; then each changed role gets
    /// its audit line and is saved. `expires_at_least`: an expiry each
    /// re-staged role is raised to (bins keep a year). `sbom_role`: the
    /// role an SBOM (`AddOptions::sbom`) is listed in when not its
    /// firmware's (in hashed bins, the bin its own name routes to, since a
    /// client finds every target by hashing its name). Returns each
    /// share's role and targets, in order, then the SBOM's role when it is
    /// no share's.
    #[allow(
        clippy::too_many_arguments,
        reason = "the operation, the shares and how each is staged are distinct inputs"
    )]
    pub(crate) fn add_to_roles(
        &self,
        op: &Operation<'_>,
        shares: &[AddOptions],
        sbom_role: Option<&str>,
        on_existing: OnExisting,
        now: UnixTime,
        expires_at_least: Option<String>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<(String, Vec<AddedTarget>)>, RepoError> {
        self.check_audit_before_staging(op)?;
        let mut prepared = Vec::with_capacity(shares.len());
        let mut elsewhere = Vec::new();
        let mut prepare_all = || -> Result<(), RepoError> {
            for options in shares {
                let (share, sbom) =
                    self.prepare_add(op, options, sbom_role, on_existing, now, progress)?;
                prepared.push(share);
                elsewhere.extend(sbom);
            }
            Ok(())
        };
        // A batch `place_all` makes durable with one `syncfs` has the disk
        // writing while its copies are made, not only afterwards.
        let files: usize = shares.iter().map(|s| s.targets.len()).sum();
        if files >= SYNCFS_FROM {
            with_early_writeback(self.dir(), prepare_all).map_err(crate::io_err(self.dir()))??;
        } else {
            prepare_all()?;
        }
        // An SBOM listed in another role than its firmware joins that
        // role's share of the add, or is one of its own.
        for sbom in elsewhere {
            let at = match prepared.iter().position(|p| p.role == sbom.role) {
                Some(at) => at,
                None => {
                    prepared.push(PreparedAdd {
                        role: sbom.role.clone(),
                        was_staged: self.staged_path(&sbom.role).is_file(),
                        doc: self.targets_for_edit(op, &sbom.role, now)?,
                        new_dir: None,
                        copies: Vec::new(),
                        added: Vec::new(),
                    });
                    prepared.len() - 1
                }
            };
            let Some(share) = prepared.get_mut(at) else {
                continue;
            };
            let added = list_entry(share, &sbom.name, sbom.entry, sbom.hashes, on_existing)?;
            share.copies.push(sbom.placement);
            share.added.push(added);
        }
        // The same bytes and fields again: nothing to stage for that role,
        // and the approvals already given stay (its copies are dropped,
        // which removes them).
        let mut results = Vec::with_capacity(prepared.len());
        let mut changed = Vec::new();
        for p in prepared {
            if p.added.iter().all(|t| t.change == TargetChange::Unchanged) {
                results.push((p.role.clone(), None, p.added));
            } else {
                results.push((p.role.clone(), Some(changed.len()), Vec::new()));
                changed.push(p);
            }
        }
        if changed.is_empty() {
            return Ok(results
                .into_iter()
                .map(|(role, _, added)| (role, added))
                .collect());
        }
        let roles: Vec<(&str, &Signed<Targets>)> =
            changed.iter().map(|p| (p.role.as_str(), &p.doc)).collect();
        self.check_stays_publishable(op, None, &roles)?;
        let copies = changed
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.copies))
            .collect();
        let new_dirs = changed
            .iter_mut()
            .filter_map(|p| p.new_dir.take())
            .collect();
        place_all(copies, new_dirs, &self.staged_targets_dir())?;
        let done = self.commit_adds(changed, expires_at_least.as_ref(), now)?;
        Ok(results
            .into_iter()
            .map(|(role, slot, added)| match slot {
                Some(i) => (role, done.get(i).cloned().unwrap_or_default()),
                None => (role, added),
            })
            .collect())
    }

    /// One role's share of an add, checked and built, its copies made but
    /// not yet in place; and its SBOM's entry and copy when `sbom_role`
    /// lists the SBOM in another role.
    fn prepare_add(
        &self,
        op: &Operation<'_>,
        options: &AddOptions,
        sbom_role: Option<&str>,
        on_existing: OnExisting,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(PreparedAdd, Option<SbomElsewhere>), RepoError> {
        names::check_role_name(&options.role)?;
        if options.role == "root" || options.role == "snapshot" || options.role == "timestamp" {
            return Err(RepoError::Invalid(format!(
                "targets are added to `targets` or a delegated role, not {}",
                options.role
            )));
        }
        if options.targets.is_empty() {
            return Err(RepoError::Invalid("no files to add".into()));
        }
        let mut firmware = FirmwareInfo {
            hardware_ids: options.hardware_ids.clone(),
            version: options.version.clone(),
            security_counter: options.security_counter,
            min_bootloader_version: options.min_bootloader_version.clone(),
            sbom_sha256: options.sbom_sha256.clone(),
            sbom_target: None,
            unknown: BTreeMap::new(),
        };
        // The SBOM is read, checked against its schema and hashed once; its
        // name and digest go into the firmware's signed fields.
        let sbom = match &options.sbom {
            Some(path) => Some(super::sbom::prepare(options, path)?),
            None => None,
        };
        if let Some(sbom) = &sbom {
            firmware.sbom_sha256 = Some(sbom.sha256.clone());
            firmware.sbom_target = Some(sbom.name.clone());
        }
        firmware.hardware_ids.dedup();
        firmware
            .check_new()
            .map_err(|e| RepoError::Invalid(e.to_string()))?;
        let mut seen = BTreeSet::new();
        for t in &options.targets {
            check_target_name(&t.name)?;
            if !seen.insert(t.name.as_str()) {
                return Err(RepoError::Invalid(format!(
                    "target {} is given twice",
                    t.name
                )));
            }
        }
        for (key, _) in &options.custom {
            if key == FirmwareInfo::CUSTOM_KEY || key.is_empty() {
                return Err(RepoError::Invalid(format!(
                    "custom field {key:?} is reserved for fwsign's firmware fields"
                )));
            }
        }
        // The role the SBOM is listed in: its firmware's, unless the caller
        // routed it elsewhere (hashed bins).
        let sbom_role = sbom
            .as_ref()
            .map(|_| sbom_role.unwrap_or(&options.role).to_owned());
        let sbom_elsewhere = sbom_role.as_ref().filter(|r| **r != options.role);
        // A delegated role may only list names its delegation covers.
        let firmware_names = options.targets.iter().map(|t| t.name.as_str());
        match (&sbom, sbom_elsewhere) {
            (Some(sbom), Some(role)) => {
                check_covered(op, &options.role, firmware_names)?;
                check_covered(op, role, std::iter::once(sbom.name.as_str()))?;
            }
            _ => check_covered(
                op,
                &options.role,
                firmware_names.chain(sbom.as_ref().map(|s| s.name.as_str())),
            )?,
        }

        let was_staged = self.staged_path(&options.role).is_file();
        let doc = self.targets_for_edit(op, &options.role, now)?;
        let staged_dir = self.staged_targets_dir();
        let role_dir = Path::new(&names::quote(&options.role)).to_path_buf();
        let role_targets = self.staged_role_targets_dir(&options.role);
        // A role with no staged files yet has its directory built under a
        // temporary name and renamed into place whole.
        let new_dir = match std::fs::symlink_metadata(&role_targets) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_dirs_inside(&staged_dir, Path::new(""))?;
                Some(create_pending_dir(&role_targets).map_err(crate::io_err(&role_targets))?)
            }
            _ => None,
        };
        // Directories first, one at a time (each component checked for
        // links), then every copy in parallel.
        let dest = |name: &str| -> Result<Dest, RepoError> {
            let path = names::target_path(&role_targets, name)?;
            Ok(match &new_dir {
                Some(dir) => Dest::InNewDir(InNewDir {
                    written: names::target_path(dir.temp_path(), name)?,
                    path,
                }),
                None => Dest::Beside(path),
            })
        };
        let mut made_dirs = BTreeSet::new();
        let mut jobs = Vec::with_capacity(options.targets.len());
        for t in &options.targets {
            let dst = dest(&t.name)?;
            let parent = Path::new(&t.name).parent().unwrap_or(Path::new(""));
            if made_dirs.insert(parent) {
                match &new_dir {
                    Some(dir) => create_dirs_inside(dir.temp_path(), parent)?,
                    None => create_dirs_inside(&staged_dir, &role_dir.join(parent))?,
                }
            }
            // A new directory is this command's own: nothing there to check.
            if let Dest::Beside(path) = &dst {
                refuse_link(path)?;
            }
            jobs.push(CopyJob { src: &t.file, dst });
        }
        let label = match options.targets.as_slice() {
            [one] => one.name.clone(),
            many => format!("{} files", many.len()),
        };
        let mut staged_copies = copy_all(&jobs, &label, options.sha512, progress)?;
        // Two paths per file, not needed again: gone before the role's
        // entries are built (at 10^5 files, 38 MB off the peak).
        drop(jobs);
        // The SBOM last, from the bytes its schema check read; it sits in
        // the firmware's directory (its name is the firmware's plus a
        // suffix), made above, or in the same directory of its own role.
        let mut staged_names: Vec<&str> = options.targets.iter().map(|t| t.name.as_str()).collect();
        if let Some(sbom) = &sbom {
            let dst = match sbom_elsewhere {
                None => dest(&sbom.name)?,
                Some(role) => {
                    let parent = Path::new(&sbom.name).parent().unwrap_or(Path::new(""));
                    create_dirs_inside(&staged_dir, &Path::new(&names::quote(role)).join(parent))?;
                    Dest::Beside(names::target_path(
                        &self.staged_role_targets_dir(role),
                        &sbom.name,
                    )?)
                }
            };
            if let Dest::Beside(path) = &dst {
                refuse_link(path)?;
            }
            staged_copies.push(stage_bytes(&sbom.bytes, &dst, options.sha512)?);
            staged_names.push(&sbom.name);
        }
        let mut share = PreparedAdd {
            role: options.role.clone(),
            was_staged,
            doc,
            new_dir,
            copies: Vec::with_capacity(staged_copies.len()),
            added: Vec::with_capacity(staged_copies.len()),
        };
        let mut elsewhere = None;
        for (name, staged_copy) in staged_names.into_iter().zip(staged_copies) {
            let digests = staged_copy.digests;
            let length = digests.length;
            let mut hashes = BTreeMap::new();
            hashes.insert(
                "sha256".to_owned(),
                base16ct::lower::encode_string(&digests.sha256),
            );
            if let Some(sha512) = digests.sha512 {
                hashes.insert("sha512".to_owned(), base16ct::lower::encode_string(&sha512));
            }
            match &sbom {
                Some(sbom) if sbom.name == name => {
                    let entry = sbom.entry(length, hashes.clone())?;
                    if let Some(role) = sbom_elsewhere {
                        elsewhere = Some(SbomElsewhere {
                            role: role.clone(),
                            name: name.to_owned(),
                            entry,
                            hashes,
                            placement: staged_copy.placement,
                        });
                        continue;
                    }
                    share.copies.push(staged_copy.placement);
                    let added = list_entry(&mut share, name, entry, hashes, on_existing)?;
                    share.added.push(added);
                }
                _ => {
                    share.copies.push(staged_copy.placement);
                    let entry = firmware_entry(&firmware, options, length, hashes.clone())?;
                    let added = list_entry(&mut share, name, entry, hashes, on_existing)?;
                    share.added.push(added);
                }
            }
        }
        Ok((share, elsewhere))
    }

    /// Records each role's share of an add: a `stage` line for each (every
    /// name with its SHA-256) and the role, through
    /// [`Repository::stage_all`]. A role's approvals are dropped, since its
    /// content changed.
    fn commit_adds(
        &self,
        changed: Vec<PreparedAdd>,
        expires_at_least: Option<&String>,
        now: UnixTime,
    ) -> Result<Vec<Vec<AddedTarget>>, RepoError> {
        let events: Vec<AuditEvent> = changed
            .iter()
            .map(|p| {
                let bytes: u64 = p.added.iter().map(|t| t.length).sum();
                AuditEvent {
                    action: "stage".into(),
                    role: Some(p.role.clone()),
                    version: Some(p.doc.signed.version),
                    targets: p
                        .added
                        .iter()
                        .map(|t| (t.name.clone(), t.hashes["sha256"].clone()))
                        .collect(),
                    detail: Some(match p.added.as_slice() {
                        [_] => format!("add {bytes} bytes"),
                        many => format!("add {} targets, {bytes} bytes", many.len()),
                    }),
                    ..AuditEvent::default()
                }
            })
            .collect();
        let mut docs = Vec::with_capacity(changed.len());
        let mut added = Vec::with_capacity(changed.len());
        for p in changed {
            let PreparedAdd {
                role,
                mut doc,
                added: targets,
                ..
            } = p;
            // Both are `expires` as fwsign writes them (RFC 3339 in UTC, to
            // the second), which order as text as they do in time.
            if let Some(at_least) = expires_at_least
                && doc.signed.expires.as_str() < at_least.as_str()
            {
                doc.signed.expires = at_least.clone();
            }
            docs.push((role, doc));
            added.push(targets);
        }
        self.stage_all(docs, &events, now)?;
        Ok(added)
    }
}

/// One role's share of an add between [`Repository::prepare_add`] and
/// [`Repository::commit_add`].
struct PreparedAdd {
    role: String,
    /// Whether the role was staged before this add (for the refusal of a
    /// name listed with other bytes).
    was_staged: bool,
    doc: Signed<Targets>,
    /// The role's staged directory, when this add makes it: its copies are
    /// inside, and it is removed with them if the add stops.
    new_dir: Option<PendingDir>,
    copies: Vec<Placement>,
    added: Vec<AddedTarget>,
}

/// An SBOM listed in another role than its firmware: its entry and its
/// staged copy, for that role's share of the add.
struct SbomElsewhere {
    role: String,
    name: String,
    entry: TargetFile,
    hashes: BTreeMap<String, String>,
    placement: Placement,
}

/// Lists `entry` under `name` in `share`'s role, refusing a name it
/// already lists with other bytes unless `on_existing` replaces; returns
/// what was staged. Dropping the share's copies on a refusal removes them.
fn list_entry(
    share: &mut PreparedAdd,
    name: &str,
    entry: TargetFile,
    hashes: BTreeMap<String, String>,
    on_existing: OnExisting,
) -> Result<AddedTarget, RepoError> {
    let length = entry.length;
    let old = share.doc.signed.targets.get(name);
    let change = existing::classify(old, &entry);
    if let (TargetChange::Replaced, OnExisting::Refuse, Some(old)) = (change, on_existing, old) {
        return Err(RepoError::TargetExists {
            role: share.role.clone(),
            name: name.to_owned(),
            staged: share.was_staged,
            listed_sha256: old.hashes.get("sha256").cloned().unwrap_or_default(),
            listed_length: old.length,
            new_sha256: hashes.get("sha256").cloned().unwrap_or_default(),
            new_length: length,
        });
    }
    share.doc.signed.targets.insert(name.to_owned(), entry);
    Ok(AddedTarget {
        name: name.to_owned(),
        length,
        hashes,
        change,
    })
}

/// Refuses a name the delegation to `role` does not cover: a delegated
/// role may only list names its delegation covers.
fn check_covered<'n>(
    op: &Operation<'_>,
    role: &str,
    names: impl Iterator<Item = &'n str>,
) -> Result<(), RepoError> {
    let Some(parent) = op.delegator_of(role)? else {
        return Ok(());
    };
    let parent_doc = op
        .current_targets(&parent)?
        .ok_or_else(|| RepoError::Invalid(format!("delegating role {parent} is missing")))?;
    let delegation = parent_doc
        .signed
        .delegations
        .as_ref()
        .and_then(|d| d.roles.iter().find(|r| r.name == role))
        .ok_or_else(|| RepoError::Invalid(format!("{parent} does not delegate to {role}")))?;
    for name in names {
        if !delegation_covers_names(
            delegation.paths.as_deref(),
            delegation.path_hash_prefixes.as_deref(),
            name,
        ) {
            return Err(RepoError::Invalid(format!(
                "target {} is outside the paths delegated to {} ({})",
                name,
                role,
                delegation.paths.as_deref().unwrap_or_default().join(", ")
            )));
        }
    }
    Ok(())
}

/// A firmware file's entry: its hashes, the firmware fields and the extra
/// `--custom` fields.
fn firmware_entry(
    firmware: &FirmwareInfo,
    options: &AddOptions,
    length: u64,
    hashes: BTreeMap<String, String>,
) -> Result<TargetFile, RepoError> {
    let mut entry = TargetFile {
        length,
        hashes: hashes.into(),
        custom: None,
        unknown: BTreeMap::new(),
    };
    entry
        .set_firmware(firmware)
        .map_err(|e| RepoError::Invalid(e.to_string()))?;
    if let Some(custom) = entry.custom.as_mut() {
        for (key, value) in &options.custom {
            custom
                .insert(key, value.clone())
                .map_err(|e| RepoError::Invalid(e.to_string()))?;
        }
    }
    Ok(entry)
}
