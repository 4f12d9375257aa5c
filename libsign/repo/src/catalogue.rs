//! What is released and what is staged, target by target (`fwsign repo
//! targets`): name, firmware fields, size, the role listing it and whose
//! signatures approved it.
//!
//! The published listing comes from the one verified load of the published
//! state ([`crate::published_state`]), and the approvers of a role are the
//! key IDs whose signatures the core's threshold check counts
//! ([`fwsign_keys::document::verify_role`]), against the delegator the
//! client's search reaches the role through first. Which role's entry a
//! client gets for a name is the core's search ([`crate::resolve`]): an
//! entry another role answers for first is listed, and marked, because a
//! release engineer reading the list must not take it for what devices get.

use std::collections::{BTreeMap, BTreeSet};

use fwsign_manifest_schema::firmware::FirmwareInfo;
use fwsign_manifest_schema::metadata::{Signed, TargetFile, Targets};
use serde::Serialize;

use crate::key_owners::{self, KeyOwners};
use crate::operation::Operation;
use crate::{Published, RepoError, Repository, resolve};
use fwsign_core::key_types::BUILTIN;
use fwsign_keys::document::{CanonicalDocument, verify_role};

/// How a staged entry differs from the published version of its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StagedChange {
    /// Not in the published role.
    Added,
    /// Listed there with other bytes or fields.
    Changed,
    /// Listed there exactly so.
    Unchanged,
    /// Listed there, and the staged role drops it.
    Removed,
}

/// One target entry of one role.
#[derive(Debug, Clone, Serialize)]
pub struct ListedTarget {
    /// The target name.
    pub name: String,
    /// The role listing it.
    pub role: String,
    /// That role's version (published, or staged).
    pub role_version: u64,
    /// Who delegates the role: `root` for `targets`, else the delegating
    /// targets role (the first the search reaches it through).
    pub delegated_by: String,
    /// Its length in bytes.
    pub length: u64,
    /// Its hashes, by algorithm.
    pub hashes: BTreeMap<String, String>,
    /// fwsign's firmware fields (`custom.fwsign`), when the entry has them.
    pub firmware: Option<FirmwareInfo>,
    /// Why the firmware fields could not be read, when they could not.
    pub firmware_error: Option<String>,
    /// Key IDs whose signatures on the role count toward its threshold.
    pub approvers: Vec<String>,
    /// The owners of those keys, as the role's delegator names them
    /// ([`crate::key_owners::lookup`]); left out when none is named.
    #[serde(skip_serializing_if = "KeyOwners::is_empty")]
    pub owners: KeyOwners,
    /// The role's threshold.
    pub threshold: u64,
    /// Published: whether the target search gives clients this entry for
    /// the name (`false`: another role answers first, or none does).
    /// Staged: `None`.
    pub answers: Option<bool>,
    /// Staged: how the entry differs from the published role. Published:
    /// `None`.
    pub change: Option<StagedChange>,
}

fn entry(
    name: &str,
    role: &str,
    doc: &Signed<Targets>,
    delegated_by: &str,
    target: &TargetFile,
    approvers: (Vec<String>, u64),
    owners: &KeyOwners,
) -> ListedTarget {
    let (firmware, firmware_error) = match target.firmware() {
        Ok(f) => (f, None),
        Err(e) => (None, Some(e.to_string())),
    };
    ListedTarget {
        name: name.to_owned(),
        role: role.to_owned(),
        role_version: doc.signed.version,
        delegated_by: delegated_by.to_owned(),
        length: target.length,
        hashes: target.hashes.clone().into(),
        firmware,
        firmware_error,
        owners: owners.only(&approvers.0),
        approvers: approvers.0,
        threshold: approvers.1,
        answers: None,
        change: None,
    }
}

/// Each published targets role with the delegator the search reaches it
/// through first: pre-order, depth first, in delegation order, from
/// `targets` (`None`: the root).
fn delegators(published: &Published) -> Vec<(String, Option<String>)> {
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<(String, Option<String>)> = vec![("targets".into(), None)];
    while let Some((role, parent)) = stack.pop() {
        let Some(doc) = published.targets.get(&role) else {
            continue;
        };
        if !seen.insert(role.clone()) {
            continue;
        }
        for d in doc.signed.delegations.iter().flat_map(|d| &d.roles).rev() {
            stack.push((d.name.clone(), Some(role.clone())));
        }
        order.push((role, parent));
    }
    order
}

fn canonical_file(context: &str, bytes: &[u8]) -> Result<CanonicalDocument, RepoError> {
    CanonicalDocument::from_json(bytes).map_err(|source| RepoError::Document {
        context: context.to_owned(),
        source,
    })
}

impl Repository {
    /// Every target the published repository lists, role by role in search
    /// order, then by name; from the verified load (refused, naming every
    /// fault, when it does not verify). Empty before the first publish.
    pub fn published_targets(&self) -> Result<Vec<ListedTarget>, RepoError> {
        let Some(published) = self.published()? else {
            return Ok(Vec::new());
        };
        let (Some(root), Some(snapshot)) =
            (published.root_chain.last(), published.snapshot_bytes())
        else {
            return Ok(Vec::new());
        };
        let root = canonical_file("published root", root)?;
        let snapshot = canonical_file("published snapshot", snapshot)?;
        let mut listed = Vec::new();
        for (role, parent) in delegators(&published) {
            let doc = &published.targets[&role];
            let bytes = published.role_bytes(&role).ok_or_else(|| {
                RepoError::Invalid(format!("{role}: not in the verified published state"))
            })?;
            let role_doc = canonical_file(&format!("published {role}"), bytes)?;
            let delegator = match &parent {
                None => root.clone(),
                Some(p) => {
                    let bytes = published.role_bytes(p).ok_or_else(|| {
                        RepoError::Invalid(format!("{p}: not in the verified published state"))
                    })?;
                    canonical_file(&format!("published {p}"), bytes)?
                }
            };
            let report = verify_role(&delegator, &role, &role_doc, BUILTIN).map_err(|source| {
                RepoError::Document {
                    context: format!("published {role}"),
                    source,
                }
            })?;
            let by = parent.as_deref().unwrap_or("root");
            let owners = match &parent {
                None => key_owners::lookup(&published.root.signed),
                Some(p) => published
                    .targets
                    .get(p)
                    .map(|d| key_owners::lookup(&d.signed))
                    .unwrap_or_default(),
            };
            for (name, target) in &doc.signed.targets {
                let approvers = (report.signed_by.clone(), report.threshold);
                listed.push(entry(name, &role, doc, by, target, approvers, &owners));
            }
        }
        // Which entry each name resolves to, by the core's search over the
        // same verified bytes.
        let mut read = |role: &str, version: u64| published.role_version_bytes(role, version);
        let mut answer: BTreeMap<String, Option<String>> = BTreeMap::new();
        for t in &mut listed {
            if !answer.contains_key(&t.name) {
                let found = resolve::resolve(&root, &snapshot, &t.name, &mut read)?;
                answer.insert(t.name.clone(), found.map(|r| r.lister().to_owned()));
            }
            t.answers = Some(answer[&t.name].as_deref() == Some(t.role.as_str()));
        }
        Ok(listed)
    }

    /// Every target of every staged targets role, as the next release would
    /// have it, with the approvals the staged role has so far, and the
    /// targets the staged roles drop (`removed`).
    pub fn staged_targets(&self) -> Result<Vec<ListedTarget>, RepoError> {
        let op = Operation::new(self);
        let published = op.published()?;
        let mut listed = Vec::new();
        for role in self.staged_roles()? {
            if role == "root" {
                continue;
            }
            let Some(doc) = self.load_staged::<Targets>(&role)? else {
                continue;
            };
            let approval = op.approval(&role)?;
            let (approvers, threshold) = match &approval {
                Some(a) => a
                    .reports
                    .first()
                    .map(|(_, r)| (r.signed_by.clone(), r.threshold))
                    .unwrap_or_default(),
                None => (Vec::new(), 0),
            };
            let owners = approval.map(|a| a.owners).unwrap_or_default();
            let by = op.delegator_of(&role)?.unwrap_or_else(|| "root".into());
            let before = published.and_then(|p| p.targets.get(&role));
            for (name, target) in &doc.signed.targets {
                let mut t = entry(
                    name,
                    &role,
                    &doc,
                    &by,
                    target,
                    (approvers.clone(), threshold),
                    &owners,
                );
                t.change = Some(match before.and_then(|b| b.signed.targets.get(name)) {
                    None => StagedChange::Added,
                    Some(old) if old == target => StagedChange::Unchanged,
                    Some(_) => StagedChange::Changed,
                });
                listed.push(t);
            }
            for (name, target) in before.iter().flat_map(|b| &b.signed.targets) {
                if !doc.signed.targets.contains_key(name) {
                    let mut t = entry(
                        name,
                        &role,
                        &doc,
                        &by,
                        target,
                        (approvers.clone(), threshold),
                        &owners,
                    );
                    t.change = Some(StagedChange::Removed);
                    listed.push(t);
                }
            }
        }
        Ok(listed)
    }
}
