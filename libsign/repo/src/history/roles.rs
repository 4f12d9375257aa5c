//! The targets roles each snapshot on the walk lists, verified from
//! `targets` down the delegations, each against the listing and its
//! delegator (the clients' step), so their anchors are covered by the
//! approvers' signatures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::metadata::{Signed, Snapshot};

use super::walk::{RoleFile, Walk};
use super::{canonical, fault};
use crate::audit::HEAD_FIELD;
use crate::key_owners;
use crate::published_state::FaultKind;
use crate::{RepoError, names, read_optional};
use fwsign_core::key_types::BUILTIN;
use fwsign_core::succinct::SuccinctRoles;
use fwsign_core::verify::{RootView, TargetsView};
use fwsign_core::workflow::{
    Delegator, MetaEntry, SnapshotView, WorkflowError, verify_targets_listed,
};
use fwsign_keys::document::CanonicalDocument;
use fwsign_manifest_schema::reader::Json;

/// The role name of a versioned role file `N.ROLE.json`.
fn role_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name.strip_suffix(".json").unwrap_or(&name);
    name.split_once('.').map_or(name, |(_, r)| r).to_owned()
}

impl Walk<'_> {
    /// Verifies the targets roles snapshot `path` lists, from `targets` down
    /// the delegations, each against the listing and its delegator, and
    /// takes their anchors.
    pub(super) fn roles(
        &mut self,
        path: &Path,
        snapshot: &CanonicalDocument,
        doc: &Signed<Snapshot>,
        root: &CanonicalDocument,
        root_version: u64,
    ) -> Result<(), RepoError> {
        let envelope = snapshot
            .envelope()
            .map_err(|e| fault(path, e.to_string()))?;
        let view = SnapshotView::new(&envelope).map_err(|e| fault(path, e.to_string()))?;
        // The listing indexed once (the first of a repeated name, as a
        // search finds it): searching it for every role was quadratic.
        let mut index: BTreeMap<Vec<u8>, Json<'_>> = BTreeMap::new();
        for (name, entry) in view.entries() {
            index.entry(name.bytes().collect()).or_insert(entry);
        }
        let listed_entry = |role: &str| -> Result<MetaEntry<'_>, WorkflowError> {
            let file: Vec<u8> = role.bytes().chain(*b".json").collect();
            MetaEntry::from_json(*index.get(&file).ok_or(WorkflowError::NotListed)?)
        };
        let mut listed: BTreeMap<&str, u64> = BTreeMap::new();
        for (file, meta) in &doc.signed.meta {
            let Some(role) = file.strip_suffix(".json") else {
                continue;
            };
            names::check_role_name(role).map_err(|e| fault(path, e.to_string()))?;
            listed.insert(role, meta.version);
            self.referenced
                .insert(names::versioned_role_file(meta.version, role));
        }
        let root_path = self.root_path(root_version);
        // (role, its delegator's file; `None`: the root)
        let mut queue: Vec<(String, Option<PathBuf>)> = vec![("targets".to_owned(), None)];
        let mut expanded: BTreeSet<String> = BTreeSet::new();
        while let Some((role, delegator)) = queue.pop() {
            let by = delegator
                .as_ref()
                .map_or_else(|| format!("root v{root_version}"), |d| self.rel(d));
            let Some(&version) = listed.get(role.as_str()) else {
                return Err(fault(
                    path,
                    format!("does not list {role}, which {by} delegates to"),
                ));
            };
            let file = self.dir.join(names::versioned_role_file(version, &role));
            if !self.files.contains_key(&file) {
                let raw = read_optional(&file)?.ok_or_else(|| {
                    fault(
                        &file,
                        format!("missing, but {} lists it (deleted?)", self.rel(path)),
                    )
                })?;
                let canonical = canonical(&file, &raw)?;
                self.files.insert(
                    file.clone(),
                    RoleFile {
                        raw,
                        canonical,
                        delegates: None,
                    },
                );
            }
            let delegator_file = delegator.clone().unwrap_or_else(|| root_path.clone());
            let lister = self.rel(path);
            let refused = |e: &dyn std::fmt::Display| {
                fault(
                    &file,
                    format!("does not verify as {lister} lists it, under {by}: {e}"),
                )
            };
            let Some(this) = self.files.get(&file) else {
                return Err(fault(&file, "missing"));
            };
            let mut described = None;
            if self
                .signed
                .contains(&(file.clone(), delegator_file.clone()))
            {
                // Signatures checked before; the listing is this snapshot's.
                listed_entry(&role)
                    .and_then(|entry| entry.check_bytes(&this.raw))
                    .map_err(|e| refused(&e))?;
            } else {
                let parent_doc = match &delegator {
                    None => root.clone(),
                    Some(d) => self
                        .files
                        .get(d)
                        .map(|f| f.canonical.clone())
                        .ok_or_else(|| fault(d, "missing"))?,
                };
                let new = this.canonical.envelope().map_err(|e| refused(&e))?;
                let parent_env = parent_doc.envelope().map_err(|e| refused(&e))?;
                let (root_view, parent);
                let (by_whom, n) = match &delegator {
                    None => {
                        root_view = RootView::new(parent_env).map_err(|e| refused(&e))?;
                        let n = root_view.role("targets").map_or(0, |k| k.keyid_count());
                        (Delegator::Root(&root_view), n)
                    }
                    Some(_) => {
                        parent = TargetsView::new(parent_env).map_err(|e| refused(&e))?;
                        let n = parent
                            .delegated_role(&role)
                            .and_then(|d| d.keys().ok())
                            .map_or(0, |k| k.keyid_count());
                        (Delegator::Targets(&parent), n)
                    }
                };
                let mut work = self.memory.work(n);
                let listed = listed_entry(&role).map_err(|e| refused(&e))?;
                let (verified, report) = verify_targets_listed(
                    by_whom,
                    role.as_bytes(),
                    &listed,
                    &this.raw,
                    new,
                    None,
                    BUILTIN,
                    &mut work,
                )
                .map_err(|e| refused(&e))?;
                // The anchor and the delegations, read once per file from
                // the view just verified (not the typed model: a typed
                // targets map costs memory and time per target, for every
                // published version of every role).
                if this.delegates.is_none() {
                    let head = verified
                        .envelope()
                        .signed()
                        .get(HEAD_FIELD)
                        .map(|j| j.as_bytes().to_vec());
                    described = Some((head, Delegates::of(&verified)));
                }
                // The walk goes back in time, so the last delegator a role
                // file verifies under is the one in force when it was first
                // published: the approval, and the names of its approvers,
                // are that delegator's (a later root or re-delegation may
                // rename an owner; an old release keeps the old name).
                // Who signed comes from the check just made (one flag per
                // key ID of the role, in its order), not a second one.
                let keyids = match &by_whom {
                    Delegator::Root(root) => root.role("targets").ok(),
                    Delegator::Targets(parent) => {
                        parent.delegated_role(&role).and_then(|d| d.keys().ok())
                    }
                };
                let approvers = keyids
                    .map(|k| {
                        k.keyids
                            .items()
                            .zip(work.signed.iter())
                            .filter(|(_, signed)| **signed)
                            .filter_map(|(id, _)| {
                                Some(
                                    String::from_utf8_lossy(
                                        &id.as_str()?.bytes().collect::<Vec<u8>>(),
                                    )
                                    .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let owners = key_owners::lookup_signed(parent_env.signed());
                let delegated_by = match &delegator {
                    None => "root".to_owned(),
                    Some(d) => role_of(d),
                };
                self.verified.insert(
                    file.clone(),
                    super::VerifiedRole {
                        role: role.clone(),
                        version,
                        delegated_by,
                        approvers,
                        owners,
                        threshold: report.threshold,
                        raw: this.raw.clone(),
                    },
                );
                self.signed.insert((file.clone(), delegator_file));
            }
            if let Some((head, delegates)) = described {
                self.take_anchor_bytes(&file, head.as_deref())?;
                if let Some(f) = self.files.get_mut(&file) {
                    f.delegates = Some(delegates);
                }
            }
            if expanded.insert(role.clone()) {
                let delegates = self
                    .files
                    .get(&file)
                    .and_then(|f| f.delegates.as_ref())
                    .map(|d| d.names(&listed))
                    .unwrap_or_default();
                for delegated in delegates {
                    queue.push((delegated, Some(file.clone())));
                }
            }
        }
        Ok(())
    }
}

impl Walk<'_> {
    /// [`Depth::Live`](super::Depth::Live): the targets roles the live
    /// snapshot `path` lists, as the operation's published-state load
    /// verified them (the clients' step, as [`Walk::roles`] takes it), with
    /// their anchors taken. A fault the load found is refused here as the
    /// full walk would refuse it.
    pub(super) fn live_roles(
        &mut self,
        path: &Path,
        doc: &Signed<Snapshot>,
    ) -> Result<(), RepoError> {
        let loaded = self.loaded;
        if let Some(f) = loaded
            .faults
            .iter()
            .find(|f| f.kind != FaultKind::PublishInterrupted)
        {
            return Err(fault(&self.repo.dir().join(&f.file), f.what.clone()));
        }
        let published = loaded.published.as_ref().filter(|p| {
            p.snapshot
                .as_ref()
                .is_some_and(|s| s.signed.version == doc.signed.version)
        });
        let Some(published) = published else {
            return Err(fault(
                path,
                "changed while it was read: not the snapshot the published state was verified from",
            ));
        };
        for (role, targets) in &published.targets {
            let file = self
                .dir
                .join(names::versioned_role_file(targets.signed.version, role));
            self.take_anchor(&file, &targets.signed.unknown)?;
        }
        Ok(())
    }
}

/// The roles a targets role delegates to, as read from its verified view.
pub(super) enum Delegates {
    /// The roles it names, in order.
    Named(Vec<String>),
    /// The canonical JSON of its TAP 15 `succinct_roles`.
    Succinct(Vec<u8>),
}

impl Delegates {
    fn of(view: &TargetsView<'_>) -> Self {
        if let Some(succinct) = view.succinct_roles() {
            return Self::Succinct(succinct.json().as_bytes().to_vec());
        }
        Self::Named(
            view.delegated_roles()
                .filter_map(|d| d.name())
                .map(|n| String::from_utf8_lossy(&n.bytes().collect::<Vec<u8>>()).into_owned())
                .collect(),
        )
    }

    /// The names to walk into for a snapshot listing `listed`: the named
    /// roles, or the bins of the `succinct_roles` the snapshot lists (a bin
    /// it does not list has no file to verify, and clients fetch only
    /// listed ones too).
    fn names(&self, listed: &BTreeMap<&str, u64>) -> Vec<String> {
        match self {
            Self::Named(names) => names.clone(),
            Self::Succinct(json) => {
                let Some(succinct) = Json::parse_canonical(json)
                    .ok()
                    .and_then(|j| SuccinctRoles::from_json(j).ok())
                else {
                    return Vec::new();
                };
                listed
                    .keys()
                    .filter(|name| succinct.bin_of(name.as_bytes()).is_some())
                    .map(|name| (*name).to_owned())
                    .collect()
            }
        }
    }
}
