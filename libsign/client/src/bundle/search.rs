//! The target search over a bundle's (or a repository's) targets roles: a
//! [`RoleLoader`] for the core's search, and the diagnosis of a miss. One
//! loader serves both creating and verifying; only where roles are read
//! from differs.

use std::path::Path;

use fwsign_manifest_schema::expiry::UnixTime;

use fwsign_core::key_types::BUILTIN;
use fwsign_core::search::{RoleBytes, RoleLoader, SearchError, SnapshotCheck};
use fwsign_core::succinct::SuccinctRoles;
use fwsign_core::target_check::{SbomReference, sbom_reference};
use fwsign_core::verify::{Envelope, TargetEntry, ThresholdWork};
use fwsign_core::workflow::{Delegator, SnapshotView, WorkflowError, verify_targets};
use fwsign_keys::search_host::{self, Arena, Memory, role_name};
use fwsign_keys::trusted_set::{TrustError, TrustedSet};

use super::MAX_DELEGATIONS;
use super::error::{BundleError, out_of_order, refused, refused_because};

/// Reads targets role `role` at `version`: from the bundle when verifying,
/// from the repository when creating.
pub(super) type Fetch<'a> = dyn FnMut(&str, u64) -> Result<Vec<u8>, BundleError> + 'a;

/// Where the search found the target.
pub(super) struct Hit<'a> {
    pub(super) entry: TargetEntry<'a>,
    /// The SBOM the entry names (`repo add --sbom`), if any.
    pub(super) sbom: Option<SbomReference<'a>>,
    pub(super) role: String,
    pub(super) roles_searched: Vec<String>,
}

/// The bundle's [`RoleLoader`]: each role at the version the trusted
/// snapshot lists, read through `fetch`. The search checks it.
struct BundleLoader<'f, 'g, 'a> {
    arena: &'a Arena,
    snapshot: SnapshotView<'a>,
    fetch: &'f mut Fetch<'g>,
    path: &'f Path,
    memory: Memory,
}

impl<'a> RoleLoader<'a> for BundleLoader<'_, '_, 'a> {
    type Error = BundleError;

    fn load(
        &mut self,
        role: &'a [u8],
        _delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, BundleError> {
        let name = role_name(role);
        let listed = self
            .snapshot
            .targets_role(role)
            .map_err(|source| refused_because(self.path, "snapshot", source))?;
        // Not listed: the search refuses the role as missing.
        let Some(listed) = listed else {
            return Ok(None);
        };
        let raw = (self.fetch)(&name, listed.version)?;
        self.arena.role(&raw).map(Some).map_err(|source| {
            refused(
                self.path,
                &name,
                TrustError::Document {
                    role: name.clone(),
                    source,
                },
            )
        })
    }

    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]> {
        Some(self.arena.bin_name(&bins.bin_name(bin)))
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.memory.work(keyids)
    }
}

/// Searches for `target` with the core's search over the trusted snapshot
/// (`now`: expiry of the roles loaded, `None` when creating). `Ok(None)`:
/// no searched role lists it.
pub(super) fn search_bundle<'a>(
    set: &'a TrustedSet,
    arena: &'a Arena,
    path: &Path,
    target: &str,
    now: Option<UnixTime>,
    fetch: &mut Fetch<'_>,
) -> Result<Option<Hit<'a>>, BundleError> {
    let snapshot = set
        .snapshot()
        .ok_or_else(|| out_of_order(path, "snapshot"))?;
    let root = set.root();
    let mut loader = BundleLoader {
        arena,
        snapshot,
        fetch,
        path,
        memory: Memory::default(),
    };
    let check = SnapshotCheck { snapshot, now };
    let outcome = search_host::run(&root, &check, target, &mut loader, BUILTIN).map_err(|e| {
        match e {
            SearchError::Load(e) => e,
            SearchError::Missing { role, .. } => {
                refused_because(path, &role_name(role), WorkflowError::NotListed)
            }
            SearchError::Refused { role, error } => refused_because(path, &role_name(role), error),
            // DelegationLimit, CapacityExceeded, and any reason added later.
            _ => BundleError::DelegationLimit {
                path: path.to_path_buf(),
                target: target.to_owned(),
            },
        }
    })?;
    let roles_searched = outcome.visits.iter().map(|v| role_name(v.role)).collect();
    match outcome.found {
        Some(found) => Ok(Some(Hit {
            entry: found.entry,
            sbom: outcome
                .visits
                .iter()
                .find(|v| v.role == found.role)
                .and_then(|v| v.view)
                .and_then(|view| view.target_json(target))
                .and_then(sbom_reference),
            role: role_name(found.role),
            roles_searched,
        })),
        None => {
            diagnose_miss(&outcome, &mut loader, now, target)?;
            Ok(None)
        }
    }
}

/// After a miss: if a role the search did not enter (its delegation does not
/// cover the name) lists the target anyway, says so, since it is a role
/// signing beyond its delegation rather than a typo. Only a diagnosis: the
/// search has already decided the target is not found, and this only picks
/// the message. A role is named only once the core verified it against its
/// delegator; one that cannot be loaded or verified is passed over.
fn diagnose_miss<'a>(
    outcome: &search_host::Outcome<'a>,
    loader: &mut BundleLoader<'_, '_, 'a>,
    now: Option<UnixTime>,
    target: &str,
) -> Result<(), BundleError> {
    let mut loads: usize = 0;
    for visit in &outcome.visits {
        let Some(parent) = visit.view else { continue };
        for delegation in parent.delegated_roles() {
            let Some(name) = delegation.name().and_then(|n| n.plain_bytes()) else {
                continue;
            };
            if delegation.covers(target) || outcome.visits.iter().any(|v| v.role == name) {
                continue;
            }
            if loads >= MAX_DELEGATIONS {
                return Ok(());
            }
            loads = loads.saturating_add(1);
            let Ok(Some(bytes)) = loader.load(name, visit.role) else {
                continue;
            };
            let Ok(envelope) = Envelope::parse(bytes.canonical) else {
                continue;
            };
            let keyids = parent
                .delegated_role(name)
                .and_then(|d| d.keys().ok())
                .map_or(0, |k| k.keyid_count());
            let verified = verify_targets(
                Delegator::Targets(&parent),
                name,
                &loader.snapshot,
                bytes.raw,
                envelope,
                now,
                BUILTIN,
                &mut loader.memory.work(keyids),
            );
            if let Ok((view, _)) = verified
                && matches!(view.target(target), Ok(Some(_)))
            {
                return Err(BundleError::OutsideDelegation {
                    path: loader.path.to_path_buf(),
                    target: target.to_owned(),
                    role: role_name(name),
                    delegator: role_name(visit.role),
                });
            }
        }
    }
    Ok(())
}
