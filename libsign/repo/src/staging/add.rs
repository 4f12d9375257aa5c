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

use fwsign_keys::atomic_write::PendingFile;
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::firmware::FirmwareInfo;
use fwsign_manifest_schema::metadata::{Signed, TargetFile, Targets};
use serde_json::Value;

use super::copy::{CopyJob, copy_all, place_all, stage_bytes};
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
        let mut added = self.add_to_roles(
            std::slice::from_ref(options),
            on_existing,
            now,
            None,
            progress,
        )?;
        Ok(added.pop().unwrap_or_default())
    }

    /// [`Repository::add_with`] for several roles in one command (a
    /// release routed over hashed bins): the published state is read and
    /// the history checked once, every role's entries are built and the
    /// change checked for publishability together, and the copies of all
    /// of them are made durable in one pass; then each changed role gets
    /// its audit line and is saved. `expires_at_least`: an expiry each
    /// re-staged role is raised to (bins keep a year). Returns each share's
    /// targets, in order.
    pub(crate) fn add_to_roles(
        &self,
        shares: &[AddOptions],
        on_existing: OnExisting,
        now: UnixTime,
        expires_at_least: Option<String>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<Vec<AddedTarget>>, RepoError> {
        let op = self.operation();
        self.check_audit_before_staging(&op)?;
        let mut prepared = Vec::with_capacity(shares.len());
        for options in shares {
            prepared.push(self.prepare_add(&op, options, on_existing, now, progress)?);
        }
        // The same bytes and fields again: nothing to stage for that role,
        // and the approvals already given stay (its copies are dropped,
        // which removes them).
        let mut results = Vec::with_capacity(prepared.len());
        let mut changed = Vec::new();
        for p in prepared {
            if p.added.iter().all(|t| t.change == TargetChange::Unchanged) {
                results.push((None, p.added));
            } else {
                results.push((Some(changed.len()), Vec::new()));
                changed.push(p);
            }
        }
        if changed.is_empty() {
            return Ok(results.into_iter().map(|(_, added)| added).collect());
        }
        let roles: Vec<(&str, &Signed<Targets>)> =
            changed.iter().map(|p| (p.role.as_str(), &p.doc)).collect();
        self.check_stays_publishable(&op, None, &roles)?;
        let copies = changed
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.copies))
            .collect();
        place_all(copies, &self.staged_targets_dir())?;
        let mut done = Vec::with_capacity(changed.len());
        for p in changed {
            done.push(self.commit_add(p, expires_at_least.as_ref(), now)?);
        }
        Ok(results
            .into_iter()
            .map(|(slot, added)| match slot {
                Some(i) => done.get(i).cloned().unwrap_or_default(),
                None => added,
            })
            .collect())
    }

    /// One role's share of an add, checked and built, its copies made but
    /// not yet in place.
    fn prepare_add(
        &self,
        op: &Operation<'_>,
        options: &AddOptions,
        on_existing: OnExisting,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<PreparedAdd, RepoError> {
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
        // A delegated role may only list names its delegation covers.
        if let Some(parent) = op.delegator_of(&options.role)? {
            let parent_doc = op.current_targets(&parent)?.ok_or_else(|| {
                RepoError::Invalid(format!("delegating role {parent} is missing"))
            })?;
            let delegation = parent_doc
                .signed
                .delegations
                .as_ref()
                .and_then(|d| d.roles.iter().find(|r| r.name == options.role))
                .ok_or_else(|| {
                    RepoError::Invalid(format!("{parent} does not delegate to {}", options.role))
                })?;
            let covered = options
                .targets
                .iter()
                .map(|t| t.name.as_str())
                .chain(sbom.as_ref().map(|s| s.name.as_str()));
            for name in covered {
                if !delegation_covers_names(
                    delegation.paths.as_deref(),
                    delegation.path_hash_prefixes.as_deref(),
                    name,
                ) {
                    return Err(RepoError::Invalid(format!(
                        "target {} is outside the paths delegated to {} ({})",
                        name,
                        options.role,
                        delegation.paths.as_deref().unwrap_or_default().join(", ")
                    )));
                }
            }
        }

        let was_staged = self.staged_path(&options.role).is_file();
        let mut doc = self.targets_for_edit(op, &options.role, now)?;
        let staged_dir = self.staged_targets_dir();
        let role_dir = Path::new(&names::quote(&options.role)).to_path_buf();
        let mut added = Vec::new();
        // Directories first, one at a time (each component checked for
        // links), then every copy in parallel.
        let role_targets = self.staged_role_targets_dir(&options.role);
        let mut made_dirs = BTreeSet::new();
        let mut jobs = Vec::with_capacity(options.targets.len());
        for t in &options.targets {
            let dst = names::target_path(&role_targets, &t.name)?;
            let parent = Path::new(&t.name).parent().unwrap_or(Path::new(""));
            if made_dirs.insert(parent) {
                create_dirs_inside(&staged_dir, &role_dir.join(parent))?;
            }
            refuse_link(&dst)?;
            jobs.push(CopyJob { src: &t.file, dst });
        }
        let label = match options.targets.as_slice() {
            [one] => one.name.clone(),
            many => format!("{} files", many.len()),
        };
        let mut staged_copies = copy_all(&jobs, &label, options.sha512, progress)?;
        // The SBOM last, from the bytes its schema check read; it sits in
        // the firmware's directory (its name is the firmware's plus a
        // suffix), made above.
        let mut staged_names: Vec<&str> = options.targets.iter().map(|t| t.name.as_str()).collect();
        if let Some(sbom) = &sbom {
            let dst = names::target_path(&role_targets, &sbom.name)?;
            refuse_link(&dst)?;
            staged_copies.push(stage_bytes(&sbom.bytes, &dst, options.sha512)?);
            staged_names.push(&sbom.name);
        }
        let mut copies = Vec::with_capacity(staged_copies.len());
        for (name, staged_copy) in staged_names.into_iter().zip(staged_copies) {
            copies.push(staged_copy.pending);
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
            let entry = match &sbom {
                Some(sbom) if sbom.name == name => sbom.entry(length, hashes.clone()),
                _ => firmware_entry(&firmware, options, length, hashes.clone())?,
            };
            let old = doc.signed.targets.get(name);
            let change = existing::classify(old, &entry);
            if let (TargetChange::Replaced, OnExisting::Refuse, Some(old)) =
                (change, on_existing, old)
            {
                // Dropping the copies made so far removes them.
                return Err(RepoError::TargetExists {
                    role: options.role.clone(),
                    name: name.to_owned(),
                    staged: was_staged,
                    listed_sha256: old.hashes.get("sha256").cloned().unwrap_or_default(),
                    listed_length: old.length,
                    new_sha256: hashes["sha256"].clone(),
                    new_length: length,
                });
            }
            doc.signed.targets.insert(name.to_owned(), entry);
            added.push(AddedTarget {
                name: name.to_owned(),
                length,
                hashes,
                change,
            });
        }
        Ok(PreparedAdd {
            role: options.role.clone(),
            doc,
            copies,
            added,
        })
    }

    /// Records a prepared add whose copies are in place: its audit line
    /// (every name with its SHA-256), then the staged role, carrying the
    /// log's head after that line.
    fn commit_add(
        &self,
        p: PreparedAdd,
        expires_at_least: Option<&String>,
        now: UnixTime,
    ) -> Result<Vec<AddedTarget>, RepoError> {
        let PreparedAdd {
            role,
            mut doc,
            added,
            ..
        } = p;
        let bytes: u64 = added.iter().map(|t| t.length).sum();
        self.audit(
            &AuditEvent {
                action: "stage".into(),
                role: Some(role.clone()),
                version: Some(doc.signed.version),
                targets: added
                    .iter()
                    .map(|t| (t.name.clone(), t.hashes["sha256"].clone()))
                    .collect(),
                detail: Some(match added.as_slice() {
                    [_] => format!("add {bytes} bytes"),
                    many => format!("add {} targets, {bytes} bytes", many.len()),
                }),
                ..AuditEvent::default()
            },
            now,
        )?;
        // Both are `expires` as fwsign writes them (RFC 3339 in UTC, to
        // the second), which order as text as they do in time.
        if let Some(at_least) = expires_at_least
            && doc.signed.expires.as_str() < at_least.as_str()
        {
            doc.signed.expires = at_least.clone();
        }
        // After this command's own lines, so the head staged with the
        // role covers them.
        self.record_audit_head(&mut doc.signed.unknown)?;
        self.save_edited(&role, doc, now)?;
        Ok(added)
    }
}

/// One role's share of an add between [`Repository::prepare_add`] and
/// [`Repository::commit_add`].
struct PreparedAdd {
    role: String,
    doc: Signed<Targets>,
    copies: Vec<PendingFile>,
    added: Vec<AddedTarget>,
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
        hashes,
        custom: None,
        unknown: BTreeMap::new(),
    };
    entry
        .set_firmware(firmware)
        .map_err(|e| RepoError::Invalid(e.to_string()))?;
    if let Some(Value::Object(custom)) = entry.custom.as_mut() {
        for (key, value) in &options.custom {
            custom.insert(key.clone(), value.clone());
        }
    }
    Ok(entry)
}
