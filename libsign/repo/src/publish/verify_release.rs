//! What `publish` and `refresh` are about to write, checked as a client
//! updating from the published state would check it, before anything is
//! written: the new root against the verified chain, the new timestamp
//! against the published one (no rollback, not expired), the new snapshot
//! against the timestamp's listing and the published snapshot (no role
//! removed or rolled back), and every targets role, changed or not, against
//! the new snapshot and its delegator, with expiry at the time of the
//! release. Anything a client would refuse is refused with nothing written.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{Signed, Snapshot};

use crate::{Published, RepoError, names};
use fwsign_core::key_types::BUILTIN;
use fwsign_keys::trusted_set::{CheckedTargets, TimestampUpdate, TrustError, TrustedSet};

use crate::published_state::checked_ahead::check_delegated;

/// The files of a release, as they will be published.
pub(super) struct NewFiles<'a> {
    /// The new root's file, when the release has one.
    pub(super) root: Option<(u64, &'a [u8])>,
    /// `timestamp.json`.
    pub(super) timestamp: &'a [u8],
    /// The snapshot the timestamp names, and its version.
    pub(super) snapshot: (u64, &'a [u8]),
    /// Every targets role's file, by role: borrowed from the published
    /// state where the release leaves the role as it is.
    pub(super) roles: &'a BTreeMap<String, Cow<'a, [u8]>>,
    /// Every targets role's version, by role.
    pub(super) versions: &'a BTreeMap<String, u64>,
    /// The roles each targets role delegates to, in order, from the typed
    /// document its file was written from (or read into): building the
    /// core's view of a 10^5-target role again only to read its
    /// delegations cost a tenth of a publish.
    pub(super) delegated: &'a BTreeMap<String, Vec<String>>,
}

fn refused(file: String, role: &str, why: impl std::fmt::Display) -> RepoError {
    RepoError::WouldBeRefused {
        file,
        role: role.to_owned(),
        why: why.to_string(),
    }
}

/// Checks `new` as a client that trusts `published` (`None` on a first
/// publish) would, at `now`.
pub(super) fn check_release(
    published: Option<&Published>,
    new: &NewFiles<'_>,
    now: UnixTime,
) -> Result<(), RepoError> {
    let trusted_root = published.and_then(|p| p.root_chain.last());
    let mut set = match (trusted_root, new.root) {
        (Some(trusted), new_root) => {
            let mut set = TrustedSet::new(trusted, BUILTIN, Some(now))
                .map_err(|e| refused("the published root".into(), "root", e))?;
            if let Some((version, bytes)) = new_root {
                set.update_root(bytes)
                    .map_err(|e| refused(format!("metadata/{version}.root.json"), "root", e))?;
            }
            set
        }
        (None, Some((version, bytes))) => TrustedSet::new(bytes, BUILTIN, Some(now))
            .map_err(|e| refused(format!("metadata/{version}.root.json"), "root", e))?,
        (None, None) => return Err(RepoError::Invalid("no root to publish".into())),
    };
    let root_version = set.root().common().version;
    set.check_root_expiry().map_err(|e| {
        refused(
            format!("metadata/{root_version}.root.json"),
            "root",
            format!("{e}: the root approvers must stage a new root (`fwsign repo extend --role root`) and sign it"),
        )
    })?;
    // The published timestamp and snapshot are the baseline rollback is
    // checked against, as a client holding them checks it. Under a new root
    // that replaced the online keys they no longer verify, and a client
    // then drops them too.
    let baseline = published.and_then(|p| {
        Some((
            p.files.get("timestamp.json")?.as_slice(),
            p.snapshot_bytes()?,
        ))
    });
    let baseline = baseline.filter(|(ts, _)| set.update_timestamp_ignoring_expiry(ts).is_ok());
    match set.update_timestamp(new.timestamp) {
        Ok(TimestampUpdate::Updated) => {}
        Ok(TimestampUpdate::Unchanged) => {
            return Err(refused(
                "metadata/timestamp.json".into(),
                "timestamp",
                "has the published timestamp's version: clients would ignore it",
            ));
        }
        Err(e) => return Err(refused("metadata/timestamp.json".into(), "timestamp", e)),
    }
    let (snapshot_version, snapshot) = new.snapshot;
    let snapshot_file = format!("metadata/{snapshot_version}.snapshot.json");
    if let Some((_, old)) = baseline {
        // Signed under a snapshot key the new root replaced, a client drops
        // its local snapshot and checks the new one without that baseline.
        let _dropped = set.load_local_snapshot(old).is_err();
    }
    set.update_snapshot(snapshot)
        .map_err(|e| refused(snapshot_file.clone(), "snapshot", e))?;
    let known = published.and_then(|p| p.verified.as_deref());
    check_roles(&mut set, known, new)
}

/// `targets` and every role reachable from it, each against the new
/// snapshot and its delegator (expiry included); every role of the release
/// must be reached. A role the release leaves as published, under a
/// delegator it also leaves as published, keeps the signature check the
/// load made (`known`); its listing, version and expiry are checked again.
fn check_roles(
    set: &mut TrustedSet,
    known: Option<&TrustedSet>,
    new: &NewFiles<'_>,
) -> Result<(), RepoError> {
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut visited: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    // Delegated roles checked ahead on every core (as the load does), by
    // (role, delegator); taken in the walk's order.
    let mut ahead: BTreeMap<(String, String), Result<CheckedTargets, TrustError>> = BTreeMap::new();
    let mut stack: Vec<(String, Option<String>)> = vec![("targets".to_owned(), None)];
    while let Some((role, parent)) = stack.pop() {
        if !visited.insert((role.clone(), parent.clone())) {
            continue;
        }
        let version = new.versions.get(&role).copied().unwrap_or(0);
        let file = format!("metadata/{}", names::versioned_role_file(version, &role));
        let bytes = new.roles.get(&role).ok_or_else(|| {
            refused(
                file.clone(),
                &role,
                format!(
                    "is delegated to by {} but has no metadata in the release",
                    parent.as_deref().unwrap_or("root")
                ),
            )
        })?;
        let checked = match parent
            .as_ref()
            .and_then(|p| ahead.remove(&(role.clone(), p.clone())))
        {
            Some(checked) => checked,
            None => set.check_targets_known(&role, parent.as_deref(), bytes, known),
        };
        checked
            .and_then(|c| set.accept_targets(c))
            .map_err(|e| {
                let hint = if e.to_string().contains("expired") {
                    format!(
                        ": its approvers must stage it again (`fwsign repo extend --role {role}`) and sign it"
                    )
                } else {
                    String::new()
                };
                refused(
                    file.clone(),
                    &role,
                    format!(
                        "{e}, under {}{hint}",
                        parent.as_deref().unwrap_or("root")
                    ),
                )
            })?;
        if reached.insert(role.clone()) {
            let delegated = new.delegated.get(&role).cloned().unwrap_or_default();
            let children: Vec<(&str, &[u8])> = delegated
                .iter()
                .filter(|d| !visited.contains(&((*d).clone(), Some(role.clone()))))
                .filter_map(|d| Some((d.as_str(), new.roles.get(d)?.as_ref())))
                .collect();
            if let Some(checked) = check_delegated(set, known, &role, &children, |_, _| ()) {
                for ((child, _), (c, _)) in children.iter().zip(checked) {
                    ahead.insert(((*child).to_owned(), role.clone()), c);
                }
            }
            for delegated in delegated.into_iter().rev() {
                stack.push((delegated, Some(role.clone())));
            }
        }
    }
    if let Some(role) = new.roles.keys().find(|r| !reached.contains(*r)) {
        let version = new.versions.get(role).copied().unwrap_or(0);
        return Err(refused(
            format!("metadata/{}", names::versioned_role_file(version, role)),
            role,
            "no delegation from targets reaches it: clients would never use it",
        ));
    }
    Ok(())
}

/// Checks a refresh: the published roles under a new snapshot (when
/// re-signed) and a new timestamp, as a client holding the published state
/// would at `now`.
pub(super) fn check_online(
    published: &Published,
    snapshot: Option<&[u8]>,
    timestamp: &[u8],
    now: UnixTime,
) -> Result<(), RepoError> {
    let current = published
        .snapshot_bytes()
        .ok_or_else(|| RepoError::Invalid("nothing is published yet".into()))?;
    let snapshot_bytes = snapshot.unwrap_or(current);
    let snapshot_version =
        Signed::<fwsign_manifest_schema::metadata::Snapshot>::from_json_slice(snapshot_bytes)
            .map(|s| s.signed.version)
            .map_err(|e| refused("the new snapshot".into(), "snapshot", e))?;
    let mut roles = BTreeMap::new();
    let mut versions = BTreeMap::new();
    let mut delegated = BTreeMap::new();
    for (role, doc) in &published.targets {
        delegated.insert(role.clone(), doc.signed.delegated_role_names());
        let bytes = published
            .role_bytes(role)
            .ok_or_else(|| RepoError::Invalid(format!("{role}: not in the published state")))?;
        roles.insert(role.clone(), Cow::Borrowed(bytes));
        versions.insert(role.clone(), doc.signed.version);
    }
    check_release(
        Some(published),
        &NewFiles {
            root: None,
            timestamp,
            snapshot: (snapshot_version, snapshot_bytes),
            roles: &roles,
            versions: &versions,
            delegated: &delegated,
        },
        now,
    )
}

/// Every unchanged role is listed by the new snapshot with the version,
/// length and hashes the published snapshot lists for it.
pub(super) fn check_unchanged<'a>(
    previous: &Snapshot,
    new: &Snapshot,
    unchanged: impl Iterator<Item = &'a String>,
) -> Result<(), RepoError> {
    for role in unchanged {
        let key = names::role_file(role);
        let same = match (previous.meta.get(&key), new.meta.get(&key)) {
            (Some(old), Some(new)) => {
                old.version == new.version
                    && (old.length.is_none() || old.length == new.length)
                    && (old.hashes.is_none() || old.hashes == new.hashes)
            }
            _ => false,
        };
        if !same {
            let version = previous.meta.get(&key).map_or(0, |m| m.version);
            return Err(refused(
                format!("metadata/{}", names::versioned_role_file(version, role)),
                role,
                "not changed by this release, but the new snapshot would list it other than the published snapshot does",
            ));
        }
    }
    Ok(())
}
