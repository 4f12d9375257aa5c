//! What a staged targets role changes in its delegations against the
//! published version: roles added or removed, and for a role kept, its
//! keys, threshold, paths and whether it is terminating, and the order the
//! search visits them in. `repo status` shows this to the approvers who are
//! about to sign it: a delegation decides who may sign for which names, so
//! "delegations changed" alone asks them to approve blind.

use std::collections::BTreeSet;

use fwsign_manifest_schema::metadata::{DelegatedRole, Delegations};
use serde::Serialize;

/// How one delegation differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DelegationChangeKind {
    /// A new delegation.
    Added,
    /// A delegation the published role had and the staged one drops.
    Removed,
    /// Kept, with other keys, threshold, paths or terminating flag.
    Changed,
}

/// One delegation that differs between the published and the staged role.
/// For `added`, the `previous_*` fields are empty; for `removed`, the
/// current ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelegationChange {
    /// The delegated role.
    pub role: String,
    /// Added, removed or changed.
    pub change: DelegationChangeKind,
    /// Key IDs the staged delegation authorises and the published did not.
    pub keys_added: Vec<String>,
    /// Key IDs the published delegation authorised and the staged does not.
    pub keys_removed: Vec<String>,
    /// The staged threshold.
    pub threshold: Option<u64>,
    /// The published threshold.
    pub previous_threshold: Option<u64>,
    /// The staged path patterns.
    pub paths: Option<Vec<String>>,
    /// The published path patterns.
    pub previous_paths: Option<Vec<String>>,
    /// The staged path hash prefixes.
    pub path_hash_prefixes: Option<Vec<String>>,
    /// The published path hash prefixes.
    pub previous_path_hash_prefixes: Option<Vec<String>>,
    /// The staged terminating flag.
    pub terminating: Option<bool>,
    /// The published terminating flag.
    pub previous_terminating: Option<bool>,
}

/// Every way `after` (staged) differs from `before` (published; `None`
/// when the role is new or had no delegations).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DelegationChanges {
    /// Each delegation added, removed or changed, in the staged order, then
    /// the removed ones in their published order.
    pub roles: Vec<DelegationChange>,
    /// Whether the delegations both versions have are searched in another
    /// order: the first role that lists a name answers for it.
    pub order_changed: bool,
}

impl DelegationChanges {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && !self.order_changed
    }
}

fn keyids(d: Option<&DelegatedRole>) -> BTreeSet<&String> {
    d.map(|d| d.keyids.iter().collect()).unwrap_or_default()
}

fn change(
    before: Option<&DelegatedRole>,
    after: Option<&DelegatedRole>,
) -> Option<DelegationChange> {
    let kind = match (before, after) {
        (None, Some(_)) => DelegationChangeKind::Added,
        (Some(_), None) => DelegationChangeKind::Removed,
        (Some(b), Some(a))
            if keyids(Some(b)) != keyids(Some(a))
                || b.threshold != a.threshold
                || b.paths != a.paths
                || b.path_hash_prefixes != a.path_hash_prefixes
                || b.terminating != a.terminating =>
        {
            DelegationChangeKind::Changed
        }
        _ => return None,
    };
    let role = after.or(before).map(|d| d.name.clone())?;
    let (old, new) = (keyids(before), keyids(after));
    Some(DelegationChange {
        role,
        change: kind,
        keys_added: new.difference(&old).map(|k| (*k).clone()).collect(),
        keys_removed: old.difference(&new).map(|k| (*k).clone()).collect(),
        threshold: after.map(|d| d.threshold),
        previous_threshold: before.map(|d| d.threshold),
        paths: after.and_then(|d| d.paths.clone()),
        previous_paths: before.and_then(|d| d.paths.clone()),
        path_hash_prefixes: after.and_then(|d| d.path_hash_prefixes.clone()),
        previous_path_hash_prefixes: before.and_then(|d| d.path_hash_prefixes.clone()),
        terminating: after.map(|d| d.terminating),
        previous_terminating: before.map(|d| d.terminating),
    })
}

/// Compares the delegations of a published and a staged targets role.
pub fn delegation_changes(
    before: Option<&Delegations>,
    after: Option<&Delegations>,
) -> DelegationChanges {
    let old: &[DelegatedRole] = before.map_or(&[], |d| &d.roles);
    let new: &[DelegatedRole] = after.map_or(&[], |d| &d.roles);
    let find = |list: &'_ [DelegatedRole], name: &str| -> Option<usize> {
        list.iter().position(|d| d.name == name)
    };
    let mut roles: Vec<DelegationChange> = new
        .iter()
        .filter_map(|a| change(find(old, &a.name).and_then(|i| old.get(i)), Some(a)))
        .collect();
    roles.extend(
        old.iter()
            .filter(|b| find(new, &b.name).is_none())
            .filter_map(|b| change(Some(b), None)),
    );
    let kept_old: Vec<&str> = old
        .iter()
        .filter(|b| find(new, &b.name).is_some())
        .map(|d| d.name.as_str())
        .collect();
    let kept_new: Vec<&str> = new
        .iter()
        .filter(|a| find(old, &a.name).is_some())
        .map(|d| d.name.as_str())
        .collect();
    DelegationChanges {
        roles,
        order_changed: kept_old != kept_new,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use fwsign_manifest_schema::metadata::{DelegatedRole, Delegations};

    use super::{DelegationChangeKind, delegation_changes};

    fn role(name: &str, keys: &[&str], threshold: u64, paths: &[&str]) -> DelegatedRole {
        DelegatedRole {
            name: name.into(),
            keyids: keys.iter().map(|k| (*k).to_owned()).collect(),
            threshold,
            terminating: false,
            paths: Some(paths.iter().map(|p| (*p).to_owned()).collect()),
            path_hash_prefixes: None,
            unknown: BTreeMap::new(),
        }
    }

    fn delegations(roles: Vec<DelegatedRole>) -> Delegations {
        Delegations {
            keys: BTreeMap::new(),
            roles,
            unknown: BTreeMap::new(),
        }
    }

    /// Each kind of change is named with what it was and what it becomes;
    /// an unchanged delegation is not mentioned.
    #[test]
    fn names_roles_added_removed_rekeyed_and_reordered() {
        let before = delegations(vec![
            role("a", &["k1"], 1, &["a/*"]),
            role("b", &["k2", "k3"], 2, &["b/*"]),
            role("c", &["k4"], 1, &["c/*"]),
        ]);
        let mut b2 = role("b", &["k2", "k5"], 1, &["b/*", "bb/*"]);
        b2.terminating = true;
        let after = delegations(vec![
            role("c", &["k4"], 1, &["c/*"]),
            b2,
            role("d", &["k6"], 1, &["d/*"]),
        ]);
        let changes = delegation_changes(Some(&before), Some(&after));
        assert!(changes.order_changed);
        let kinds: Vec<(&str, &DelegationChangeKind)> = changes
            .roles
            .iter()
            .map(|c| (c.role.as_str(), &c.change))
            .collect();
        assert_eq!(
            kinds,
            [
                ("b", &DelegationChangeKind::Changed),
                ("d", &DelegationChangeKind::Added),
                ("a", &DelegationChangeKind::Removed),
            ]
        );
        let b = &changes.roles[0];
        assert_eq!(b.keys_added, ["k5"]);
        assert_eq!(b.keys_removed, ["k3"]);
        assert_eq!((b.threshold, b.previous_threshold), (Some(1), Some(2)));
        assert_eq!(b.terminating, Some(true));
        assert_eq!(b.previous_paths.as_deref(), Some(&["b/*".to_owned()][..]));
        assert!(delegation_changes(Some(&before), Some(&before)).is_empty());
        assert_eq!(delegation_changes(None, Some(&after)).roles.len(), 3);
    }
}
