//! Which role answers for a target name in this repository: the core's one
//! search ([`crate::search::search_target`]) over the published metadata,
//! or over what a publish is about to write. `device pack` packs the path it
//! finds; `repo publish` warns about names other roles also cover.
//!
//! The repository never searches on its own: the order, the stopping rules
//! and every check on a role are the core's, exactly as the TUF client,
//! `bundle verify` and the bootloader run them.

use std::collections::{BTreeMap, BTreeSet};

use fwsign_manifest_schema::metadata::{DelegatedRole, Signed, Targets};
use serde::Serialize;

use super::RepoError;
use crate::document::CanonicalDocument;
use crate::key_types::BUILTIN;
use crate::path_match::delegation_covers_names;
use crate::search::{RoleBytes, RoleCheck, RoleLoader, SearchError};
use crate::search_host::{self, Arena, Memory, role_name};
use crate::verify::{RootView, TargetsView, ThresholdWork, VerifyError};
use crate::workflow::{SnapshotView, WorkflowError};

/// Reads the bytes of targets role `role` at `version` as published (or as
/// a publish will write them).
pub(crate) type Read<'r> = dyn FnMut(&str, u64) -> Result<Vec<u8>, RepoError> + 'r;

/// One role on the path from `targets` to the role listing a target.
#[derive(Debug, Clone)]
pub(crate) struct ChainRole {
    /// The role.
    pub(crate) role: String,
    /// Its canonical envelope.
    pub(crate) envelope: Vec<u8>,
    /// How many key IDs its delegator authorises for it.
    pub(crate) keyids: usize,
}

/// A role the search loaded that is not on the path: a covering role
/// searched before the lister that does not list the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SideRole {
    /// The role.
    pub(crate) role: String,
    /// The role it was reached through.
    pub(crate) delegator: String,
}

/// A target as the core's search resolves it.
#[derive(Debug, Clone)]
pub(crate) struct Resolution {
    /// `targets` down to the role listing the target.
    pub(crate) chain: Vec<ChainRole>,
    /// Roles searched besides the chain, in search order.
    pub(crate) side: Vec<SideRole>,
    /// The entry's length.
    pub(crate) length: u64,
    /// The entry's SHA-256, hex, if listed.
    pub(crate) sha256: Option<String>,
}

impl Resolution {
    /// The role listing the target.
    pub(crate) fn lister(&self) -> &str {
        self.chain.last().map_or("targets", |c| c.role.as_str())
    }

    /// The chain's role names, `targets` first.
    pub(crate) fn path(&self) -> Vec<&str> {
        self.chain.iter().map(|c| c.role.as_str()).collect()
    }
}

struct Loader<'f, 'g, 'a> {
    arena: &'a Arena,
    snapshot: SnapshotView<'a>,
    read: &'f mut Read<'g>,
    memory: Memory,
    loaded: Vec<(&'a [u8], RoleBytes<'a>)>,
}

impl<'a> RoleLoader<'a> for Loader<'_, '_, 'a> {
    type Error = RepoError;

    fn load(
        &mut self,
        role: &'a [u8],
        _delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, RepoError> {
        let name = role_name(role);
        let listed = self
            .snapshot
            .targets_role(role)
            .map_err(|source| refused("snapshot", source))?;
        let Some(listed) = listed else {
            return Ok(None);
        };
        let raw = (self.read)(&name, listed.version)?;
        let bytes = self
            .arena
            .role(&raw)
            .map_err(|source| RepoError::Document {
                context: format!("published {name}"),
                source,
            })?;
        self.loaded.push((role, bytes));
        Ok(Some(bytes))
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.memory.work(keyids)
    }
}

fn refused(role: &str, source: WorkflowError) -> RepoError {
    RepoError::Refused {
        role: role.to_owned(),
        source,
    }
}

/// Runs the core's search for `target` over a repository state: `root` and
/// `snapshot` (canonical) and the roles `read` returns, each checked
/// against the snapshot and its delegator's threshold (expiry is not
/// checked: a slot or a warning is made for devices whose clock may be
/// anywhere). `Ok(None)`: no searched role lists the target.
pub(crate) fn resolve(
    root: &CanonicalDocument,
    snapshot: &CanonicalDocument,
    target: &str,
    read: &mut Read<'_>,
) -> Result<Option<Resolution>, RepoError> {
    let malformed = |context: &str| {
        let context = context.to_owned();
        move |e: VerifyError| RepoError::Document {
            context,
            source: e.into(),
        }
    };
    let root_view = RootView::new(root.envelope().map_err(malformed("published root"))?)
        .map_err(malformed("published root"))?;
    let snapshot_view = SnapshotView::new(
        &snapshot
            .envelope()
            .map_err(malformed("published snapshot"))?,
    )
    .map_err(|source| refused("snapshot", source))?;
    let arena = Arena::new();
    let mut loader = Loader {
        arena: &arena,
        snapshot: snapshot_view,
        read,
        memory: Memory::default(),
        loaded: Vec::new(),
    };
    let check = RoleCheck::Snapshot {
        snapshot: snapshot_view,
        now: None,
    };
    let outcome =
        search_host::run(&root_view, check, target, &mut loader, BUILTIN).map_err(|e| match e {
            SearchError::Load(e) => e,
            SearchError::Missing { role, delegator } => RepoError::Invalid(format!(
                "{} delegates {}, which the snapshot does not list",
                role_name(delegator),
                role_name(role)
            )),
            SearchError::Refused { role, error } => refused(&role_name(role), error),
            // DelegationLimit, CapacityExceeded, and any reason added later.
            _ => RepoError::Invalid(format!(
                "the search for {target} would visit more than {} delegated roles",
                crate::search::MAX_DELEGATIONS
            )),
        })?;
    let Some(found) = outcome.found else {
        return Ok(None);
    };
    let mut chain = Vec::new();
    let mut parent: Option<TargetsView<'_>> = None;
    for role in &outcome.path {
        let keyids = match &parent {
            None => root_view.role(role).map(|k| k.keyid_count()).unwrap_or(0),
            Some(p) => p
                .delegated_role(role)
                .and_then(|d| d.keys().ok())
                .map_or(0, |k| k.keyid_count()),
        };
        let envelope = loader
            .loaded
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, b)| b.canonical.to_vec())
            .unwrap_or_default();
        chain.push(ChainRole {
            role: role_name(role),
            envelope,
            keyids,
        });
        parent = outcome.view(role);
    }
    let side = outcome
        .side_roles()
        .map(|v| SideRole {
            role: role_name(v.role),
            delegator: role_name(v.delegator),
        })
        .collect();
    Ok(Some(Resolution {
        chain,
        side,
        length: found.entry.length,
        sha256: found
            .entry
            .sha256
            .and_then(|h| h.as_plain())
            .map(str::to_owned),
    }))
}

/// `role`'s delegation entry in `delegator`, if any.
pub(crate) fn delegation<'d>(
    roles: &'d BTreeMap<String, Signed<Targets>>,
    delegator: &str,
    role: &str,
) -> Option<&'d DelegatedRole> {
    roles
        .get(delegator)?
        .signed
        .delegations
        .as_ref()?
        .roles
        .iter()
        .find(|d| d.name == role)
}

/// "`delegator` delegates `role` for paths [...]" (or hash prefixes), for
/// messages.
pub(crate) fn describe(delegator: &str, entry: Option<&DelegatedRole>, role: &str) -> String {
    let Some(d) = entry else {
        return format!("{delegator} delegates {role}");
    };
    let scope = match (&d.paths, &d.path_hash_prefixes) {
        (Some(paths), _) => format!("paths {}", paths.join(", ")),
        (None, Some(prefixes)) => format!("path hash prefixes {}", prefixes.join(", ")),
        (None, None) => "nothing".to_owned(),
    };
    let terminating = if d.terminating { ", terminating" } else { "" };
    format!("{delegator} delegates {role} ({scope}{terminating})")
}

/// A `repo publish` warning: another role also covers a published target,
/// so a bootloader built before fwsign ran the one search on the device
/// (which accepted any chain whose delegations cover the name) would accept
/// that role's entry for the name instead of the one the search chooses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowedDelegation {
    /// Always `"shadowed-delegation"`.
    pub reason: &'static str,
    /// The target.
    pub target: String,
    /// The role the search takes its entry from.
    pub listed_by: String,
    /// The other role that covers the name.
    pub role: String,
    /// The role delegating it.
    pub delegator: String,
    /// The delegation's `paths`, if it has them.
    pub paths: Option<Vec<String>>,
    /// The delegation's `path_hash_prefixes`, if it has them.
    pub path_hash_prefixes: Option<Vec<String>>,
}

impl std::fmt::Display for ShadowedDelegation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scope = match (&self.paths, &self.path_hash_prefixes) {
            (Some(paths), _) => format!("paths {}", paths.join(", ")),
            (None, Some(prefixes)) => format!("path hash prefixes {}", prefixes.join(", ")),
            (None, None) => "nothing".to_owned(),
        };
        write!(
            f,
            "{}: {} delegates {} ({scope}), which also covers this name; the search takes the entry of {}, but bootloaders built before the on-device search would accept an entry {} signs for it (update them, or narrow the delegation)",
            self.target, self.delegator, self.role, self.listed_by, self.role
        )
    }
}

/// For every target some role of `roles` lists, the other roles that cover
/// its name: reachable from `targets` through delegations that cover it and
/// not on the path the search takes to its entry. A name the search does
/// not find, or cannot search (a role failing its checks), gets no warning
/// here; `device pack` and the clients refuse those.
pub(crate) fn shadowed_delegations(
    root: &CanonicalDocument,
    snapshot: &CanonicalDocument,
    roles: &BTreeMap<String, Signed<Targets>>,
    read: &mut Read<'_>,
) -> Vec<ShadowedDelegation> {
    let names: BTreeSet<&String> = roles
        .values()
        .flat_map(|r| r.signed.targets.keys())
        .collect();
    let mut warnings = Vec::new();
    for name in names {
        let Ok(Some(resolution)) = resolve(root, snapshot, name, read) else {
            continue;
        };
        let path = resolution.path();
        // Delegations covering the name, breadth-first from `targets`, each
        // role once (the old device rule: any such chain was accepted).
        let mut reached: BTreeSet<&str> = BTreeSet::from(["targets"]);
        let mut pending = vec!["targets"];
        while let Some(delegator) = pending.pop() {
            let Some(doc) = roles.get(delegator) else {
                continue;
            };
            for d in doc.signed.delegations.iter().flat_map(|d| &d.roles) {
                if !delegation_covers_names(
                    d.paths.as_deref(),
                    d.path_hash_prefixes.as_deref(),
                    name,
                ) {
                    continue;
                }
                if !path.contains(&d.name.as_str()) {
                    warnings.push(ShadowedDelegation {
                        reason: "shadowed-delegation",
                        target: name.clone(),
                        listed_by: resolution.lister().to_owned(),
                        role: d.name.clone(),
                        delegator: delegator.to_owned(),
                        paths: d.paths.clone(),
                        path_hash_prefixes: d.path_hash_prefixes.clone(),
                    });
                }
                if reached.insert(d.name.as_str()) {
                    pending.push(d.name.as_str());
                }
            }
        }
    }
    warnings
}
