//! The published state, loaded once per operation and verified as a client
//! verifies it. This is the only code that enumerates `metadata/`.
//!
//! The load (`load`, reached through `Repository::load_published`) checks, through the client workflow's own steps
//! ([`TrustedSet`]):
//!
//! - **the root chain**: `1.root.json` signed by its own root threshold,
//!   each `N+1.root.json` by root N's threshold and its own, versions
//!   contiguous up to the newest file named like a root version;
//! - **`timestamp.json`**, signed by the newest root's timestamp keys;
//! - **the snapshot it names**, with the timestamp's version, length and
//!   hashes, signed by the root's snapshot keys;
//! - **`targets` and every delegated role reachable from it**, each file
//!   matching the snapshot's listing (version, length and hashes) and signed
//!   by the threshold its delegator sets, exactly as a client searching for
//!   a target checks it; a role the snapshot lists that no delegation
//!   reaches is a fault too.
//!
//! The expiry of every role is left out on purpose: a missed cron run must
//! not lock out the `refresh` that repairs it, and root or targets expiry is
//! a matter for the approvers (`repo status`, `repo verify --at`), not a
//! reason to refuse to read the repository.
//!
//! The result is a [`PublishedLoad`]: the verified [`Published`] state with
//! the bytes it was verified from (so nothing is read again between the
//! check and its use), the faults found, and the directory's [`Listing`].
//! Commands that build on the published state (`publish`, `refresh`,
//! `device pack`, `bundle create`, the staging commands) refuse it when it
//! has a fault ([`RepoError::VerifyFailed`]); `repo status` and `repo
//! verify` report the faults.

pub(crate) mod checked_ahead;
mod fault;
mod listing;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::metadata::{Root, Signed, Snapshot, Targets, Timestamp};

pub use fault::{Fault, FaultKind, fault_list};
pub use listing::Listing;
#[cfg(test)]
pub(crate) use listing::version_of;

use super::{Published, RepoError, Repository, names, read_optional};
use crate::audit::ROOT_VERSION_FIELD;
use fwsign_core::key_types::BUILTIN;
use fwsign_keys::trusted_set::TrustedSet;

/// The published state as loaded: verified, or the faults that stop it
/// being trusted.
#[derive(Debug, Clone)]
pub struct PublishedLoad {
    /// The published state, `None` before the first publish (or when the
    /// root chain itself is at fault). With faults it holds what verified
    /// before the first fault, for reporting only.
    pub published: Option<Published>,
    /// Every fault found; empty when the published state verifies.
    pub faults: Vec<Fault>,
    /// What `metadata/` holds.
    pub listing: Listing,
}

impl PublishedLoad {
    /// The verified published state; refused, naming every fault, when it
    /// has one. `finishing`: the caller finishes an interrupted publish
    /// (`publish`, `refresh`), so [`FaultKind::PublishInterrupted`] alone is
    /// accepted.
    pub(crate) fn verified(
        &self,
        dir: &Path,
        finishing: bool,
    ) -> Result<Option<&Published>, RepoError> {
        let blocking: Vec<Fault> = self
            .faults
            .iter()
            .filter(|f| !(finishing && f.kind == FaultKind::PublishInterrupted))
            .cloned()
            .collect();
        if blocking.is_empty() {
            Ok(self.published.as_ref())
        } else {
            Err(RepoError::VerifyFailed {
                dir: dir.to_path_buf(),
                faults: blocking,
            })
        }
    }
}

/// `metadata/NAME`, as faults name files.
fn rel(name: &str) -> PathBuf {
    Path::new("metadata").join(name)
}

/// Reads `metadata/NAME`: `Ok(None)` when missing, a fault when unreadable.
fn read(
    metadata: &Path,
    name: &str,
    role: &str,
    faults: &mut Vec<Fault>,
) -> Result<Option<Vec<u8>>, ()> {
    match read_optional(&metadata.join(name)) {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            faults.push(unreadable(name, role, &e));
            Err(())
        }
    }
}

/// Parses bytes the workflow accepted into the typed document.
fn typed<T: fwsign_manifest_schema::metadata::RoleType>(
    name: &str,
    role: &str,
    bytes: &[u8],
    faults: &mut Vec<Fault>,
) -> Option<Signed<T>> {
    match Signed::<T>::from_json_slice(bytes) {
        Ok(doc) => Some(doc),
        Err(e) => {
            faults.push(unreadable(name, role, &e));
            None
        }
    }
}

fn unreadable(name: &str, role: &str, e: &dyn std::fmt::Display) -> Fault {
    Fault::new(rel(name), role, FaultKind::Unreadable, e.to_string())
}

/// Loads and verifies the published state of `repo` (see the module
/// documentation). Errors only when `metadata/` cannot be listed; every
/// problem with a file is a fault in the result.
pub(crate) fn load(repo: &Repository) -> Result<PublishedLoad, RepoError> {
    #[cfg(test)]
    super::operation::tests::count_published_load();
    let metadata = repo.metadata_dir();
    let listing = Listing::read(&metadata)?;
    let mut faults = Vec::new();
    let published = load_state(&metadata, &listing, &mut faults);
    Ok(PublishedLoad {
        published,
        faults,
        listing,
    })
}

fn load_state(metadata: &Path, listing: &Listing, faults: &mut Vec<Fault>) -> Option<Published> {
    let Some((chain, root, set)) = root_chain(metadata, listing, faults) else {
        if listing.timestamp && faults.is_empty() {
            faults.push(Fault::new(
                rel("1.root.json"),
                "root",
                FaultKind::RootChainGap,
                "missing, but timestamp.json is published (deleted?)",
            ));
        }
        return None;
    };
    let newest = root.signed.version;
    let mut published = Published {
        root,
        timestamp: None,
        snapshot: None,
        targets: BTreeMap::new(),
        root_chain: chain,
        files: BTreeMap::new(),
        verified: None,
    };
    if !listing.timestamp {
        // A first publish killed before its timestamp leaves `1.root.json`
        // and `1.snapshot.json` at most; anything later was published.
        let why = match listing.highest("snapshot").filter(|&v| v > 1) {
            Some(v) => Some(format!(
                "missing, but snapshot version {v} was published (deleted?)"
            )),
            None => (newest > 1)
                .then(|| format!("missing, but root version {newest} was published (deleted?)")),
        };
        if let Some(why) = why {
            faults.push(Fault::new(
                rel("timestamp.json"),
                "timestamp",
                FaultKind::TimestampMissing,
                why,
            ));
        }
        return Some(published);
    }
    let ts_bytes = read(metadata, "timestamp.json", "timestamp", faults)
        .ok()
        .flatten()?;
    let timestamp = typed::<Timestamp>("timestamp.json", "timestamp", &ts_bytes, faults)?;
    let (mut set, live_root, snapshot_name, bytes) = match live_state(
        metadata, set, newest, &ts_bytes,
    ) {
        Ok(live) => live,
        Err(fault) => match interrupted(metadata, &published, &ts_bytes) {
            Some(live) => {
                faults.push(Fault::new(
                        rel("timestamp.json"),
                        "timestamp",
                        FaultKind::PublishInterrupted,
                        format!(
                            "the live timestamp and snapshot verify under root v{} only, not under root v{newest} ({}): a publish was killed after writing root v{newest}; `fwsign repo refresh` or `fwsign repo publish` finishes it",
                            live.1, fault.what
                        ),
                    ));
                live
            }
            None => {
                faults.push(fault);
                return Some(published);
            }
        },
    };
    published.files.insert("timestamp.json".into(), ts_bytes);
    published.timestamp = Some(timestamp);
    let snapshot = typed::<Snapshot>(&snapshot_name, "snapshot", &bytes, faults)?;
    published.files.insert(snapshot_name.clone(), bytes);
    let targets = targets_roles(
        metadata,
        &snapshot_name,
        &snapshot,
        live_root,
        &mut set,
        &mut published.files,
        faults,
    );
    published.snapshot = Some(snapshot);
    published.targets = targets;
    published.verified = Some(std::sync::Arc::new(set));
    Some(published)
}

/// The root chain from version 1 to the newest `N.root.json`: the file
/// bytes (version N at index N - 1), the newest root, and a trusted set at
/// it. `None` with a fault when a link is missing or does not verify, or
/// when nothing is published.
fn root_chain(
    metadata: &Path,
    listing: &Listing,
    faults: &mut Vec<Fault>,
) -> Option<(Vec<Vec<u8>>, Signed<Root>, TrustedSet)> {
    let newest = listing.highest("root")?;
    let mut chain = Vec::new();
    let mut set: Option<TrustedSet> = None;
    let mut root = None;
    for version in 1..=newest {
        let name = format!("{version}.root.json");
        if !listing.has("root", version) {
            let planted = listing
                .versions("root")
                .find(|&v| v > version)
                .unwrap_or(newest);
            faults.push(Fault::new(
                rel(&format!("{planted}.root.json")),
                "root",
                FaultKind::RootChainGap,
                format!(
                    "not part of the verified root chain: metadata/{name} is missing, so no root leads to it (planted?)"
                ),
            ));
            return None;
        }
        let bytes = read(metadata, &name, "root", faults).ok().flatten()?;
        let step = match set.as_mut() {
            Some(t) => t.update_root(&bytes),
            None => TrustedSet::new(&bytes, BUILTIN, None).map(|t| set = Some(t)),
        };
        if let Err(e) = step {
            let why = if version == 1 {
                format!("root v1 is not signed by its own root threshold: {e}")
            } else {
                format!(
                    "not part of the verified root chain (planted?): root v{version} must be signed by root v{}'s root threshold and its own: {e}",
                    version - 1
                )
            };
            faults.push(Fault::new(
                rel(&name),
                "root",
                FaultKind::RootNotVerified,
                why,
            ));
            return None;
        }
        let doc = typed::<Root>(&name, "root", &bytes, faults)?;
        if doc.signed.version != version {
            faults.push(Fault::new(
                rel(&name),
                "root",
                FaultKind::RootNotVerified,
                format!("says it is root version {}", doc.signed.version),
            ));
            return None;
        }
        chain.push(bytes);
        root = Some(doc);
    }
    Some((chain, root?, set?))
}

/// The live state under root `root_version` (`set` trusts it): the
/// timestamp, then the snapshot it names. The set with both loaded, the
/// root version, the snapshot's file name and bytes; or the first fault.
fn live_state(
    metadata: &Path,
    mut set: TrustedSet,
    root_version: u64,
    ts_bytes: &[u8],
) -> Result<(TrustedSet, u64, String, Vec<u8>), Fault> {
    if let Err(e) = set.update_timestamp_ignoring_expiry(ts_bytes) {
        return Err(Fault::new(
            rel("timestamp.json"),
            "timestamp",
            FaultKind::TimestampNotVerified,
            format!("does not verify under root v{root_version}: {e}"),
        ));
    }
    let version = set.timestamp().map(|t| t.snapshot.version).ok_or_else(|| {
        Fault::new(
            rel("timestamp.json"),
            "timestamp",
            FaultKind::TimestampNotVerified,
            "names no snapshot",
        )
    })?;
    let name = format!("{version}.snapshot.json");
    let bytes = match read_optional(&metadata.join(&name)) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Err(Fault::new(
                rel(&name),
                "snapshot",
                FaultKind::SnapshotMissing,
                "missing, but timestamp.json pins it (deleted?)",
            ));
        }
        Err(e) => return Err(unreadable(&name, "snapshot", &e)),
    };
    if let Err(e) = set.update_snapshot_ignoring_expiry(&bytes) {
        return Err(Fault::new(
            rel(&name),
            "snapshot",
            FaultKind::SnapshotNotVerified,
            format!(
                "does not verify as the snapshot timestamp.json pins, under root v{root_version}: {e}"
            ),
        ));
    }
    Ok((set, root_version, name, bytes))
}

/// The live state under the previous root, when it verifies there (and
/// not under the newest) and its snapshot names that root: what a publish
/// killed after writing a new root leaves (its timestamp and snapshot are
/// still the old ones). `None` otherwise.
fn interrupted(
    metadata: &Path,
    published: &Published,
    ts_bytes: &[u8],
) -> Option<(TrustedSet, u64, String, Vec<u8>)> {
    let count = published.root_chain.len();
    let previous = published.root_chain.get(count.checked_sub(2)?)?;
    let previous_version = u64::try_from(count.checked_sub(1)?).ok()?;
    let set = TrustedSet::new(previous, BUILTIN, None).ok()?;
    let live = live_state(metadata, set, previous_version, ts_bytes).ok()?;
    let snapshot = Signed::<Snapshot>::from_json_slice(&live.3).ok()?;
    let named = snapshot.signed.unknown.get(ROOT_VERSION_FIELD)?.as_u64()?;
    (named == previous_version).then_some(live)
}

/// The roles found at fault, and the faults to report.
struct AtFault<'f> {
    roles: BTreeSet<String>,
    faults: &'f mut Vec<Fault>,
}

impl AtFault<'_> {
    /// Records that `role` is at fault, for `what` in `file`.
    fn refuse(&mut self, file: &str, role: &str, kind: FaultKind, what: String) {
        self.roles.insert(role.to_owned());
        self.faults.push(Fault::new(rel(file), role, kind, what));
    }
}

/// `targets` and every role reachable from it through delegations, each
/// verified against the snapshot and its delegator by the client's step,
/// depth first in delegation order. Their bytes go into `files`.
fn targets_roles(
    metadata: &Path,
    snapshot_name: &str,
    snapshot: &Signed<Snapshot>,
    root_version: u64,
    set: &mut TrustedSet,
    files: &mut BTreeMap<String, Vec<u8>>,
    faults: &mut Vec<Fault>,
) -> BTreeMap<String, Signed<Targets>> {
    let mut roles: BTreeMap<String, Signed<Targets>> = BTreeMap::new();
    let mut at_fault = AtFault {
        roles: BTreeSet::new(),
        faults,
    };
    let mut visited: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    // Delegated roles checked ahead, by (role, delegator).
    let mut ahead: BTreeMap<(String, String), checked_ahead::Ahead> = BTreeMap::new();
    // (role, its delegator; `None`: the root)
    let mut stack: Vec<(String, Option<String>)> = vec![("targets".to_owned(), None)];
    while let Some((role, parent)) = stack.pop() {
        if !visited.insert((role.clone(), parent.clone())) {
            continue;
        }
        let by = parent
            .as_deref()
            .map_or_else(|| format!("root v{root_version}"), |p| p.to_owned());
        let Some(meta) = snapshot.signed.meta.get(&names::role_file(&role)) else {
            let what = format!("does not list {role}, which {by} delegates to");
            at_fault.refuse(snapshot_name, &role, FaultKind::RoleNotListed, what);
            continue;
        };
        let name = names::versioned_role_file(meta.version, &role);
        let checked_ahead = parent
            .as_ref()
            .and_then(|p| ahead.remove(&(role.clone(), p.clone())));
        let (bytes, checked, typed_ahead) = match checked_ahead {
            Some(a) => (a.bytes, a.checked, a.typed),
            None => {
                let bytes = match files.get(&name) {
                    Some(b) => b.clone(),
                    None => match read(metadata, &name, &role, at_fault.faults) {
                        Ok(Some(b)) => b,
                        Ok(None) => {
                            let what = format!(
                                "missing, but metadata/{snapshot_name} lists it (deleted?)"
                            );
                            at_fault.refuse(&name, &role, FaultKind::RoleMissing, what);
                            continue;
                        }
                        Err(()) => {
                            at_fault.roles.insert(role.clone());
                            continue;
                        }
                    },
                };
                let (checked, typed) =
                    checked_ahead::check_and_parse(set, &role, parent.as_deref(), &bytes, |r| {
                        roles.contains_key(r)
                    });
                (bytes, checked, typed)
            }
        };
        if let Err(e) = checked.and_then(|c| set.accept_targets(c)) {
            let what =
                format!("does not verify as metadata/{snapshot_name} lists it, under {by}: {e}");
            at_fault.refuse(&name, &role, FaultKind::RoleNotVerified, what);
            continue;
        }
        if !roles.contains_key(&role) {
            let doc = match typed_ahead {
                Some(Ok(doc)) => Some(doc),
                Some(Err(e)) => {
                    at_fault.faults.push(unreadable(&name, &role, &e));
                    None
                }
                None => typed::<Targets>(&name, &role, &bytes, at_fault.faults),
            };
            let Some(doc) = doc else {
                at_fault.roles.insert(role.clone());
                continue;
            };
            roles.insert(role.clone(), doc);
            files.insert(name, bytes);
        }
        let delegates = roles[&role].signed.delegated_role_names();
        let unchecked: Vec<&str> = delegates
            .iter()
            .map(String::as_str)
            .filter(|d| !visited.contains(&((*d).to_owned(), Some(role.clone()))))
            .collect();
        for (child, a) in
            checked_ahead::check_children(metadata, snapshot, set, files, &role, &unchecked)
        {
            ahead.insert((child, role.clone()), a);
        }
        // Pushed in reverse, so the first delegation is checked first.
        for delegated in delegates.into_iter().rev() {
            stack.push((delegated, Some(role.clone())));
        }
    }
    // Roles a verified role retired (`repo undelegate`) stay listed, as
    // clients require, and are searched no more.
    let retired: BTreeSet<String> = roles
        .values()
        .flat_map(|d| crate::staging::retired_by(&d.signed))
        .collect();
    for file in snapshot.signed.meta.keys() {
        let role = file.strip_suffix(".json").unwrap_or(file);
        if !roles.contains_key(role) && !at_fault.roles.contains(role) && !retired.contains(role) {
            at_fault.faults.push(Fault::new(
                rel(snapshot_name),
                role,
                FaultKind::RoleUnreachable,
                format!("lists {file}, which no delegation from targets reaches"),
            ));
        }
    }
    roles
}

impl Repository {
    /// Loads the published state and verifies it as a client would, never
    /// refusing: the faults are in the result (`repo status`, `repo
    /// verify`). Commands that build on the published state use
    /// [`Repository::published`], which refuses a state with faults.
    pub fn load_published(&self) -> Result<PublishedLoad, RepoError> {
        load(self)
    }
}

#[cfg(test)]
mod tests;
