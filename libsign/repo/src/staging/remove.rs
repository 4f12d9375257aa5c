//! `repo remove`: staging the removal of a target, and of the SBOM its
//! signed fields name with it.
//!
//! An SBOM published with `repo add --sbom` is a target of its own, named
//! in the firmware's signed fields (`custom.fwsign.sbom_target`). Removing
//! the firmware removes that SBOM target too, from the role that lists it
//! (the firmware's, or in hashed bins the bin the SBOM's own name routes
//! to), in the same command; otherwise it would stay listed, describing an
//! image nobody can fetch. Removing the SBOM alone while the firmware still
//! names it is refused: the firmware's signed `sbom_sha256` would then
//! point at nothing, and `client download --with-sbom`, `bundle create` and
//! `identify --sbom-out` would fail for a release that is still current.

use std::fs;
use std::io;

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{Signed, TargetFile, Targets};

use super::names::{self, check_target_name};
use super::sbom::SBOM_CUSTOM_KEY;
use super::{RepoError, Repository, io_err};
use crate::audit::AuditEvent;
use crate::operation::Operation;

/// One role this removal edits, and the names it drops from it.
struct Edit {
    role: String,
    doc: Signed<Targets>,
    names: Vec<String>,
}

/// The SBOM target a firmware entry names (`custom.fwsign.sbom_target`).
fn sbom_target(entry: &TargetFile) -> Option<String> {
    entry.firmware().ok().flatten()?.sbom_target
}

/// The firmware an SBOM entry says it describes (`custom.fwsign_sbom`);
/// only a hint of where to look: what binds them is the firmware's own
/// `sbom_target`.
fn describes(entry: &TargetFile) -> Option<String> {
    entry
        .custom
        .as_ref()?
        .to_value()
        .ok()?
        .get(SBOM_CUSTOM_KEY)?
        .get("describes")?
        .as_str()
        .map(str::to_owned)
}

impl Repository {
    /// Stages the removal of target `name` from `role`; when its signed
    /// fields name an SBOM target, that target is removed with it (from
    /// `role`, or from the bin of the same hashed-bin set its name routes
    /// to). An SBOM that a firmware still listed in the next release names
    /// is refused ([`RepoError::Invalid`], naming both): remove the
    /// firmware instead.
    pub fn remove(&self, role: &str, name: &str, now: UnixTime) -> Result<(), RepoError> {
        check_target_name(name)?;
        let op = self.operation();
        self.check_audit_before_staging(&op)?;
        let mut doc = self.targets_for_edit(&op, role, now)?;
        let Some(entry) = doc.signed.targets.remove(name) else {
            return Err(RepoError::Invalid(format!(
                "role {role} does not list target {name}"
            )));
        };
        if let Some((firmware, lister)) = self.firmware_naming(&op, role, &doc, name, &entry)? {
            return Err(RepoError::Invalid(format!(
                "target {name} is the SBOM of {firmware}, whose signed fields in {lister} name it (sbom_target); removing it alone would leave {firmware} naming an SBOM nobody can fetch: remove {firmware} (its SBOM goes with it), or add {firmware} again with another SBOM"
            )));
        }
        let mut edits = vec![Edit {
            role: role.to_owned(),
            doc,
            names: vec![name.to_owned()],
        }];
        if let Some(sbom) = sbom_target(&entry) {
            self.remove_sbom_too(&op, &mut edits, &sbom, now)?;
        }
        let roles: Vec<(&str, &Signed<Targets>)> =
            edits.iter().map(|e| (e.role.as_str(), &e.doc)).collect();
        self.check_stays_publishable(&op, None, &roles)?;
        for Edit {
            role,
            mut doc,
            names: removed,
        } in edits
        {
            for n in &removed {
                let staged = names::target_path(&self.staged_role_targets_dir(&role), n)?;
                match fs::remove_file(&staged) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&staged)(e)),
                }
            }
            let detail = match removed.as_slice() {
                [only] if only == name => format!("remove {name}"),
                _ => format!("remove {} (the SBOM of {name})", removed.join(", ")),
            };
            self.audit(
                &AuditEvent {
                    action: "stage".into(),
                    role: Some(role.clone()),
                    version: Some(doc.signed.version),
                    detail: Some(detail),
                    ..AuditEvent::default()
                },
                now,
            )?;
            self.record_audit_head(&mut doc.signed.unknown)?;
            self.save_edited(&role, doc, now)?;
        }
        Ok(())
    }

    /// Adds the removal of SBOM target `sbom` to `edits`: from the
    /// firmware's role when it lists it, else from the bin of the same
    /// hashed-bin set the SBOM's name routes to. An SBOM listed in neither
    /// (removed already, or never published here) leaves nothing to do.
    fn remove_sbom_too(
        &self,
        op: &Operation<'_>,
        edits: &mut Vec<Edit>,
        sbom: &str,
        now: UnixTime,
    ) -> Result<(), RepoError> {
        let Some(first) = edits.first_mut() else {
            return Ok(());
        };
        if first.doc.signed.targets.remove(sbom).is_some() {
            first.names.push(sbom.to_owned());
            return Ok(());
        }
        let role = first.role.clone();
        let Some(bin) = self.sibling_bin(op, &role, sbom)? else {
            return Ok(());
        };
        if bin == role {
            return Ok(());
        }
        let mut other = self.targets_for_edit(op, &bin, now)?;
        if other.signed.targets.remove(sbom).is_some() {
            edits.push(Edit {
                role: bin,
                doc: other,
                names: vec![sbom.to_owned()],
            });
        }
        Ok(())
    }

    /// The firmware (and the role listing it) whose signed fields still
    /// name `name` as their SBOM in the next release, if any: an entry of
    /// `role` (as it stands without `name`), or the firmware the removed
    /// entry says it describes, in the bin its name routes to.
    fn firmware_naming(
        &self,
        op: &Operation<'_>,
        role: &str,
        doc: &Signed<Targets>,
        name: &str,
        removed: &TargetFile,
    ) -> Result<Option<(String, String)>, RepoError> {
        if let Some((firmware, _)) = doc
            .signed
            .targets
            .iter()
            .find(|(_, e)| sbom_target(e).as_deref() == Some(name))
        {
            return Ok(Some((firmware.clone(), role.to_owned())));
        }
        let Some(firmware) = describes(removed) else {
            return Ok(None);
        };
        let Some(bin) = self.sibling_bin(op, role, &firmware)? else {
            return Ok(None);
        };
        if bin == role {
            return Ok(None);
        }
        let names_it = op.current_targets(&bin)?.is_some_and(|d| {
            d.signed
                .targets
                .get(&firmware)
                .and_then(sbom_target)
                .as_deref()
                == Some(name)
        });
        Ok(names_it.then_some((firmware, bin)))
    }
}
