//! Which targets role answers for a target name: the one ordered search
//! (TUF 1.0.34 section 5.6.7, in python-tuf 7.0.1's order) that the TUF
//! client, `bundle verify`, the repository (`device pack`, `repo`) and the
//! bootloader all run.
//!
//! The rules:
//! - pre-order depth-first from top-level `targets`, through delegations in
//!   the order their delegator lists them, entering only delegations whose
//!   `paths` or `path_hash_prefixes` cover the name; a delegator with TAP 15
//!   `succinct_roles` delegates the name to exactly one hashed bin, the one
//!   its SHA-256 selects ([`crate::succinct`]), and every bin is terminating;
//! - the first role that lists the name ends the search with its entry:
//!   a role later in the order (a weaker nightly role, say) is never asked;
//! - a covering `terminating` delegation is followed, and once its subtree
//!   is searched nothing else is: neither its later siblings nor roles still
//!   pending higher up;
//! - each role is visited at most once per search (a role reached a second
//!   time, through a diamond or a cycle, is skipped, as python-tuf skips it);
//!   every role is verified against the delegator it is reached through, so
//!   a cache a caller keeps across searches must be keyed by (role,
//!   delegator);
//! - at most [`MAX_SEARCH_ROLES`] roles are loaded (top-level `targets` and
//!   [`MAX_DELEGATIONS`] delegated roles, python-tuf's `max_delegations`);
//!   more is [`SearchError::DelegationLimit`];
//! - a role that is missing or fails its checks is an error, never skipped.
//!
//! Roles come through the caller's [`RoleLoader`] (the client's cache and
//! network, a bundle's zip, a repository, a firmware slot); each is checked
//! here, in the core, as the caller's [`RoleCheck`] says: against the
//! trusted snapshot ([`SnapshotCheck`], spec 5.6) or, on a device without a
//! snapshot, against the role-version floors it keeps ([`OfflineCheck`]). The search's memory is the caller's ([`SearchWork`]),
//! so a bootloader runs it without an allocator.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::reader::Items;

use crate::key_types::KeyType;
use crate::succinct::SuccinctRoles;
use crate::verify::{
    DelegatedRoleView, Envelope, RootView, TargetEntry, TargetsView, ThresholdWork, VerifyError,
};
use crate::workflow::{
    Delegator, SnapshotView, WorkflowError, verify_targets, verify_targets_offline,
};

/// Most delegated roles one search loads besides top-level `targets`
/// (python-tuf's `max_delegations`). The same on host and device; a device
/// whose [`SearchWork`] holds fewer frames refuses a longer chain with
/// [`SearchError::CapacityExceeded`] before it reaches this.
pub const MAX_DELEGATIONS: usize = 32;

/// Most roles one search loads: `targets` and [`MAX_DELEGATIONS`] more.
pub const MAX_SEARCH_ROLES: usize = MAX_DELEGATIONS + 1;

/// How every role the search loads is checked. A trait, not an enum, so the
/// choice is made at compile time and a device that checks offline links
/// nothing of the snapshot check (flash: see the module note).
pub trait RoleCheck {
    /// Checks `bytes`, offered as targets role `role`, against `delegator`
    /// and returns the verified view.
    fn check<'a>(
        &self,
        delegator: Delegator<'_>,
        role: &'a [u8],
        bytes: RoleBytes<'a>,
        key_types: &[&dyn KeyType],
        work: &mut ThresholdWork<'_>,
    ) -> Result<TargetsView<'a>, WorkflowError>;
}

/// Spec 5.6: listed by the trusted snapshot, its bytes as received matching
/// the listed length and hashes, the listed version, signed by its
/// delegator's threshold, and not expired at `now` (`None`: expiry is the
/// caller's to report).
#[derive(Debug, Clone, Copy)]
pub struct SnapshotCheck<'c> {
    /// The trusted snapshot.
    pub snapshot: SnapshotView<'c>,
    /// The time expiry is checked against.
    pub now: Option<UnixTime>,
}

impl RoleCheck for SnapshotCheck<'_> {
    fn check<'a>(
        &self,
        delegator: Delegator<'_>,
        role: &'a [u8],
        bytes: RoleBytes<'a>,
        key_types: &[&dyn KeyType],
        work: &mut ThresholdWork<'_>,
    ) -> Result<TargetsView<'a>, WorkflowError> {
        let envelope = Envelope::parse(bytes.canonical)?;
        let (view, _) = verify_targets(
            delegator,
            role,
            &self.snapshot,
            bytes.raw,
            envelope,
            self.now,
            key_types,
            work,
        )?;
        Ok(view)
    }
}

/// A device without a snapshot: signed by the delegator's threshold, not
/// older than the floor the device keeps for the role, and not expired when
/// the device has trusted time.
#[derive(Clone, Copy)]
pub struct OfflineCheck<'c> {
    /// The last accepted version of a role, if the device keeps one.
    pub floors: &'c dyn RoleFloors,
    /// Trusted time, if any.
    pub now: Option<UnixTime>,
}

impl RoleCheck for OfflineCheck<'_> {
    fn check<'a>(
        &self,
        delegator: Delegator<'_>,
        role: &'a [u8],
        bytes: RoleBytes<'a>,
        key_types: &[&dyn KeyType],
        work: &mut ThresholdWork<'_>,
    ) -> Result<TargetsView<'a>, WorkflowError> {
        let envelope = Envelope::parse(bytes.canonical)?;
        let (view, _) = verify_targets_offline(
            delegator,
            role,
            envelope,
            self.floors.floor(role),
            self.now,
            key_types,
            work,
        )?;
        Ok(view)
    }
}

/// The role-version floors a device keeps (the last version it accepted of
/// each role).
pub trait RoleFloors {
    /// The floor for role `role`, if one is kept.
    fn floor(&self, role: &[u8]) -> Option<u64>;
}

/// A role's bytes as a loader holds them.
#[derive(Debug, Clone, Copy)]
pub struct RoleBytes<'a> {
    /// The bytes as received: what the snapshot's length and hashes cover.
    pub raw: &'a [u8],
    /// The canonical envelope (the same slice when the source is canonical).
    pub canonical: &'a [u8],
}

/// Where the search gets roles from.
pub trait RoleLoader<'a> {
    /// Why a role could not be loaded (I/O, the network, a zip entry).
    type Error;

    /// The bytes of targets role `role`, which `delegator` (`b"root"` for
    /// top-level `targets`) delegates. `Ok(None)` when the source does not
    /// have the role; the search then fails with [`SearchError::Missing`].
    fn load(
        &mut self,
        role: &'a [u8],
        delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, Self::Error>;

    /// The name of TAP 15 hashed bin `bin` of `bins`, kept as long as the
    /// roles are: no document spells a bin's name out, so the loader keeps
    /// it (the host copies [`SuccinctRoles::bin_name`] into its arena; a
    /// device returns its chain entry's name when
    /// [`SuccinctRoles::bin_of`] reads it as this bin, so it links no name
    /// formatting). `None`: the search fails with [`SearchError::Missing`],
    /// as for a role the loader does not have.
    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]>;

    /// Working memory for one threshold check over `keyids` key IDs (the
    /// host allocates it; a device hands out its fixed workspace, and a role
    /// with more keys fails with a capacity error).
    fn work(&mut self, keyids: usize) -> ThresholdWork<'_>;

    /// Called once a role passed every check, in the order roles are
    /// visited (a client stores it; a device records its version).
    fn verified(&mut self, _role: &'a [u8], _delegator: &'a [u8], _view: &TargetsView<'a>) {}
}

/// Why the search failed. A target that no searched role lists is not an
/// error: [`search_target`] returns `Ok(None)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchError<'a, E> {
    /// The loader failed.
    Load(E),
    /// The loader does not have a role the search must visit.
    Missing {
        /// The role.
        role: &'a [u8],
        /// The role delegating it (`b"root"` for `targets`).
        delegator: &'a [u8],
    },
    /// A role failed its checks.
    Refused {
        /// The role.
        role: &'a [u8],
        /// The check that failed.
        error: WorkflowError,
    },
    /// The search would load more than [`MAX_SEARCH_ROLES`] roles.
    DelegationLimit,
    /// The caller's [`SearchWork`] is too small for this delegation graph.
    CapacityExceeded,
}

/// One role on the search's current path.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    role: &'a [u8],
    view: TargetsView<'a>,
    /// The delegations of `view` not yet considered, in order.
    pending: Items<'a>,
    /// Its TAP 15 hashed bins, until the one covering the name is entered
    /// (a delegator has these or `pending`, never both).
    succinct: Option<SuccinctRoles<'a>>,
    /// Whether the child being searched was entered through a terminating
    /// delegation (the search ends once that child's subtree is done).
    entered_terminating: bool,
}

/// The caller's memory for one search: one frame per role on the deepest
/// path, one name per role visited. A host passes [`MAX_SEARCH_ROLES`] of
/// each; a device passes its chain capacity.
#[derive(Debug)]
pub struct SearchWork<'w, 'a> {
    /// The current path, `targets` first.
    pub frames: &'w mut [Option<Frame<'a>>],
    /// The names of the roles visited so far.
    pub visited: &'w mut [&'a [u8]],
}

/// Where the search found the target.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// The role that lists it.
    pub role: &'a [u8],
    /// That role, verified.
    pub view: TargetsView<'a>,
    /// Its entry for the target.
    pub entry: TargetEntry<'a>,
    /// How many roles the path from `targets` to `role` has (read it with
    /// [`SearchWork::path`]).
    pub depth: usize,
    /// How many roles the search visited in all (with [`SearchWork::visited`];
    /// more than `depth` when it searched side branches first).
    pub visited: usize,
}

impl<'a> SearchWork<'_, 'a> {
    /// The role names of the path to a [`Found`] target, `targets` first.
    pub fn path(&self, found: &Found<'a>) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.frames
            .iter()
            .take(found.depth)
            .filter_map(|f| f.as_ref().map(|f| f.role))
    }

    /// The roles the search visited, in order.
    pub fn visited_roles(&self, count: usize) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.visited.iter().take(count).copied()
    }
}

/// Searches for `target` from `root`'s top-level `targets`, loading roles
/// through `loader` and checking each as `check` says. `Ok(None)`: no role
/// the search visits lists the target.
pub fn search_target<'a, L: RoleLoader<'a>, C: RoleCheck + ?Sized>(
    root: &RootView<'_>,
    check: &C,
    target: &[u8],
    loader: &mut L,
    key_types: &[&dyn KeyType],
    work: &mut SearchWork<'_, 'a>,
) -> Result<Option<Found<'a>>, SearchError<'a, L::Error>> {
    let mut visited: usize = 0;
    let top = load_role(
        b"targets",
        Delegator::Root(root),
        b"root",
        check,
        loader,
        key_types,
    )?;
    mark_visited(work, &mut visited, b"targets")?;
    push(work, 0, b"targets", top)?;
    if let Some(found) = listed(b"targets", &top, target, 1, visited)? {
        return Ok(Some(found));
    }
    let mut depth: usize = 1;

    while let Some(index) = depth.checked_sub(1) {
        let frame = work
            .frames
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(SearchError::CapacityExceeded)?;
        let Some(delegation) = next_covering(frame, target)? else {
            // This role's subtree is done: back to its delegator, and stop
            // altogether if it was entered through a terminating delegation.
            depth = index;
            let Some(parent) = index.checked_sub(1) else {
                break;
            };
            let terminated = work
                .frames
                .get(parent)
                .and_then(Option::as_ref)
                .is_some_and(|f| f.entered_terminating);
            if terminated {
                break;
            }
            continue;
        };
        let parent_role = frame.role;
        let parent_view = frame.view;
        let terminating = delegation.terminating();
        frame.entered_terminating = terminating;
        let name = match delegation.bin() {
            Some((bins, bin)) => loader.bin_name(&bins, bin).ok_or(SearchError::Missing {
                role: bins.name_prefix(),
                delegator: parent_role,
            })?,
            None => {
                delegation
                    .name()
                    .and_then(|n| n.plain_bytes())
                    .ok_or(SearchError::Refused {
                        role: parent_role,
                        error: WorkflowError::Verify(VerifyError::Malformed(detail!(
                            "a delegated role name must be a plain string"
                        ))),
                    })?
            }
        };
        if work.visited.iter().take(visited).any(|v| *v == name) {
            // Reached again (a diamond or a cycle): not searched twice. A
            // terminating delegation still ends the search here, as it
            // empties python-tuf's stack.
            if terminating {
                break;
            }
            continue;
        }
        if visited >= MAX_SEARCH_ROLES {
            return Err(SearchError::DelegationLimit);
        }
        let view = load_role(
            name,
            Delegator::Targets(&parent_view),
            parent_role,
            check,
            loader,
            key_types,
        )?;
        mark_visited(work, &mut visited, name)?;
        let child_depth = depth.checked_add(1).ok_or(SearchError::CapacityExceeded)?;
        push(work, depth, name, view)?;
        if let Some(found) = listed(name, &view, target, child_depth, visited)? {
            return Ok(Some(found));
        }
        depth = child_depth;
    }
    Ok(None)
}

/// Loads `role` and checks it as `check` says, against `delegator`.
fn load_role<'a, L: RoleLoader<'a>, C: RoleCheck + ?Sized>(
    role: &'a [u8],
    delegator: Delegator<'_>,
    delegator_name: &'a [u8],
    check: &C,
    loader: &mut L,
    key_types: &[&dyn KeyType],
) -> Result<TargetsView<'a>, SearchError<'a, L::Error>> {
    let refused = |error: WorkflowError| SearchError::Refused { role, error };
    let bytes = loader
        .load(role, delegator_name)
        .map_err(SearchError::Load)?
        .ok_or(SearchError::Missing {
            role,
            delegator: delegator_name,
        })?;
    let keyids = delegator_keyids(delegator, role).map_err(|e| refused(e.into()))?;
    let mut work = loader.work(keyids);
    let view = check
        .check(delegator, role, bytes, key_types, &mut work)
        .map_err(refused)?;
    loader.verified(role, delegator_name, &view);
    Ok(view)
}

/// How many key IDs the delegator authorises for `role` (the threshold
/// memory the check needs).
fn delegator_keyids(delegator: Delegator<'_>, role: &[u8]) -> Result<usize, VerifyError> {
    let keys = match delegator {
        Delegator::Root(root) => root.role(role)?,
        Delegator::Targets(parent) => parent
            .delegated_role(role)
            .ok_or(VerifyError::UnknownRole)?
            .keys()?,
    };
    Ok(keys.keyid_count())
}

/// The entry for `target` if `view` lists it.
fn listed<'a, E>(
    role: &'a [u8],
    view: &TargetsView<'a>,
    target: &[u8],
    depth: usize,
    visited: usize,
) -> Result<Option<Found<'a>>, SearchError<'a, E>> {
    let entry = view.target(target).map_err(|e| SearchError::Refused {
        role,
        error: e.into(),
    })?;
    Ok(entry.map(|entry| Found {
        role,
        view: *view,
        entry,
        depth,
        visited,
    }))
}

/// The next delegation of `frame` that covers `target`, in listed order;
/// with `succinct_roles`, the one bin `target` belongs to, once.
fn next_covering<'a, E>(
    frame: &mut Frame<'a>,
    target: &[u8],
) -> Result<Option<DelegatedRoleView<'a>>, SearchError<'a, E>> {
    for role in frame.pending.by_ref() {
        let delegation = DelegatedRoleView::from_json(role);
        if delegation.covers(target) {
            return Ok(Some(delegation));
        }
    }
    Ok(frame
        .succinct
        .take()
        .map(|succinct| DelegatedRoleView::bin_for(&succinct, target)))
}

fn mark_visited<'a, E>(
    work: &mut SearchWork<'_, 'a>,
    visited: &mut usize,
    role: &'a [u8],
) -> Result<(), SearchError<'a, E>> {
    let slot = work
        .visited
        .get_mut(*visited)
        .ok_or(SearchError::CapacityExceeded)?;
    *slot = role;
    *visited = visited.saturating_add(1);
    Ok(())
}

fn push<'a, E>(
    work: &mut SearchWork<'_, 'a>,
    depth: usize,
    role: &'a [u8],
    view: TargetsView<'a>,
) -> Result<(), SearchError<'a, E>> {
    let slot = work
        .frames
        .get_mut(depth)
        .ok_or(SearchError::CapacityExceeded)?;
    *slot = Some(Frame {
        role,
        view,
        pending: view.delegation_items(),
        succinct: view.succinct_roles(),
        entered_terminating: false,
    });
    Ok(())
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
