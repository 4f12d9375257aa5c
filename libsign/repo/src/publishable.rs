//! Whether the staged state could ever be published.
//!
//! A staging command that left a state no approval can publish (a threshold
//! its delegation's keys cannot meet, a target outside the paths now
//! delegated to its role, a staged role no delegation reaches) would only
//! be found out at `publish`, after approvers signed it. Each staging
//! command asks [`Operation::publishable_faults_without`] about the state
//! before and after its change, and refuses, before writing anything, a
//! change that adds a fault ([`refuse_new_faults`]). Faults already there
//! are left to the command that fixes them, which must not be blocked by
//! another. Both questions check targets against delegated paths only for
//! the delegations the change touches, where a new fault can be.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use fwsign_manifest_schema::metadata::{Root, Signed, Targets};

use super::operation::Operation;
use super::staging::{check_root_writable, retired_by};
use super::{RepoError, Repository, names};
use fwsign_core::path_match::delegation_covers_names;

impl Operation<'_> {
    /// The faults that would keep the next release from being published,
    /// with `root` and `roles` (staged content not yet written) in place of
    /// what is staged or published now.
    #[cfg(test)]
    pub(crate) fn publishable_faults(
        &self,
        root: Option<&Signed<Root>>,
        roles: &[(&str, &Signed<Targets>)],
    ) -> Result<BTreeSet<String>, RepoError> {
        self.publishable_faults_without(root, roles, &[], None)
    }

    /// [`Operation::publishable_faults`] with the roles `removed` gone
    /// from the state (`undelegate` discards their staged versions). With
    /// `scope`, the targets of a delegation are checked against its paths
    /// only where the delegator or the delegated role is in `scope`: a
    /// check of the state before and after a change to those roles gets
    /// the same answer for every other delegation either way, so only the
    /// new faults, which are all the check asks about, stay the same (and
    /// adding one target to 10^5 in bins no longer hashes all 10^5 names
    /// twice).
    pub(crate) fn publishable_faults_without(
        &self,
        root: Option<&Signed<Root>>,
        roles: &[(&str, &Signed<Targets>)],
        removed: &[String],
        scope: Option<&BTreeSet<&str>>,
    ) -> Result<BTreeSet<String>, RepoError> {
        let mut faults = BTreeSet::new();
        let root: Cow<'_, Signed<Root>> = match root {
            Some(r) => Cow::Borrowed(r),
            None => self.current_root()?,
        };
        // Sharing keys is a choice `--allow-shared-key` records at the
        // time; it is not a fault here.
        if let Err(e) = check_root_writable(&root.signed, true) {
            faults.insert(format!("root: {e}"));
        }

        let mut names: BTreeSet<String> = self.repo_staged_targets_roles()?;
        if let Some(p) = self.published()? {
            names.extend(p.targets.keys().cloned());
        }
        names.extend(roles.iter().map(|(r, _)| (*r).to_owned()));
        names.retain(|n| !removed.contains(n));
        let mut state: BTreeMap<String, Cow<'_, Signed<Targets>>> = BTreeMap::new();
        for name in names {
            let doc = match roles.iter().find(|(r, _)| *r == name) {
                Some((_, doc)) => Cow::Borrowed(*doc),
                None => match self.current_targets(&name)? {
                    Some(doc) => doc,
                    None => continue,
                },
            };
            state.insert(name, doc);
        }

        for (delegator, doc) in &state {
            let Some(delegations) = &doc.signed.delegations else {
                continue;
            };
            for entry in &delegations.roles {
                let defined: BTreeSet<&String> = entry
                    .keyids
                    .iter()
                    .filter(|k| delegations.keys.contains_key(*k))
                    .collect();
                if entry.threshold == 0
                    || usize::try_from(entry.threshold).map_or(true, |t| t > defined.len())
                {
                    faults.insert(format!(
                        "{delegator} delegates {} with threshold {}, but only {} of its key(s) are defined: no approval could meet it",
                        entry.name,
                        entry.threshold,
                        defined.len()
                    ));
                }
                let Some(role) = state.get(&entry.name) else {
                    faults.insert(format!(
                        "{delegator} delegates {}, which has no metadata staged or published",
                        entry.name
                    ));
                    continue;
                };
                let in_scope = scope.is_none_or(|scope| {
                    scope.contains(delegator.as_str()) || scope.contains(entry.name.as_str())
                });
                if !in_scope {
                    continue;
                }
                for target in role.signed.targets.keys() {
                    if !delegation_covers_names(
                        entry.paths.as_deref(),
                        entry.path_hash_prefixes.as_deref(),
                        target,
                    ) {
                        faults.insert(format!(
                            "{} lists {target}, which the paths {delegator} delegates to it ({}) do not cover: clients would never find it there",
                            entry.name,
                            entry.paths.as_deref().unwrap_or_default().join(", ")
                        ));
                    }
                }
            }
        }

        // Every targets role must be reached from `targets`, the way the
        // client's search walks delegations.
        let mut reached: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from(["targets"]);
        while let Some(role) = queue.pop_front() {
            if !reached.insert(role) {
                continue;
            }
            if let Some(d) = state.get(role).and_then(|d| d.signed.delegations.as_ref()) {
                queue.extend(d.roles.iter().map(|r| r.name.as_str()));
            }
        }
        // A role a reached role retired (`undelegate`) stays listed in the
        // snapshot but is searched no more: not a fault.
        let retired: BTreeSet<String> = reached
            .iter()
            .filter_map(|r| state.get(*r))
            .flat_map(|d| retired_by(&d.signed))
            .collect();
        for role in state.keys() {
            if !reached.contains(role.as_str()) && !retired.contains(role) {
                faults.insert(format!(
                    "role {role} is staged, but no delegation from targets reaches it"
                ));
            }
        }
        Ok(faults)
    }

    /// Staged targets roles (every staged role but root).
    fn repo_staged_targets_roles(&self) -> Result<BTreeSet<String>, RepoError> {
        Ok(self
            .repo()
            .staged_roles()?
            .into_iter()
            .filter(|r| !names::TOP_LEVEL_ROLES.contains(&r.as_str()) || r == "targets")
            .collect())
    }
}

/// Refuses a change whose state (`after`) has a fault the state before it
/// (`before`) did not.
pub(crate) fn refuse_new_faults(
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> Result<(), RepoError> {
    let new: Vec<&str> = after.difference(before).map(String::as_str).collect();
    if new.is_empty() {
        Ok(())
    } else {
        Err(RepoError::NotPublishable(new.join("; ")))
    }
}

impl Repository {
    /// Refuses a staging change (the new `root` and `roles`, not yet
    /// written) that would leave the next release unpublishable in a way
    /// it was not before. Called before the command writes anything.
    pub(crate) fn check_stays_publishable(
        &self,
        op: &Operation<'_>,
        root: Option<&Signed<Root>>,
        roles: &[(&str, &Signed<Targets>)],
    ) -> Result<(), RepoError> {
        self.check_stays_publishable_without(op, root, roles, &[])
    }

    /// [`Repository::check_stays_publishable`] for a change that also
    /// removes the staged roles `removed` from the next release.
    pub(crate) fn check_stays_publishable_without(
        &self,
        op: &Operation<'_>,
        root: Option<&Signed<Root>>,
        roles: &[(&str, &Signed<Targets>)],
        removed: &[String],
    ) -> Result<(), RepoError> {
        let scope: BTreeSet<&str> = roles
            .iter()
            .map(|(r, _)| *r)
            .chain(removed.iter().map(String::as_str))
            .collect();
        let before = op.publishable_faults_without(None, &[], &[], Some(&scope))?;
        let after = op.publishable_faults_without(root, roles, removed, Some(&scope))?;
        refuse_new_faults(&before, &after)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use fwsign_manifest_schema::expiry::UnixTime;
    use fwsign_manifest_schema::metadata::{DelegatedRole, Delegations, Signed, Targets};

    use crate::{InitOptions, RepoError, Repository, empty_targets};

    use super::refuse_new_faults;

    const NOW: UnixTime = UnixTime(1_700_000_000);

    use crate::test_key as key;

    fn targets(doc: Targets) -> Signed<Targets> {
        Signed {
            signatures: vec![],
            signed: doc,
            unknown: BTreeMap::new(),
        }
    }

    /// A staged role nothing delegates to, and a delegation whose threshold
    /// its defined keys cannot meet: approvers could sign either, and
    /// `publish` (or every client) would still refuse. Both are faults a
    /// staging command must not introduce.
    #[test]
    fn unreachable_roles_and_unmeetable_thresholds_are_faults() {
        let scratch = tempfile::Builder::new()
            .prefix("fwsign-publishable-")
            .tempdir()
            .unwrap();
        let dir = scratch.path().join("repo");
        let (root, approver, online) = (key(), key(), key());
        let options = InitOptions {
            allow_shared_key: true,
            ..crate::test_init_options(&root, &approver, &online)
        };
        let repo = Repository::init(&dir, &options, NOW).unwrap();
        let op = repo.operation();
        let before = op.publishable_faults(None, &[]).unwrap();
        assert!(before.is_empty(), "{before:?}");

        let orphan = targets(empty_targets(1, "2030-01-01T00:00:00Z".into()));
        let after = op
            .publishable_faults(None, &[("board-z", &orphan)])
            .unwrap();
        assert!(
            after
                .iter()
                .any(|f| f.contains("no delegation from targets reaches it")),
            "{after:?}"
        );
        let err = refuse_new_faults(&before, &after).unwrap_err();
        assert!(matches!(err, RepoError::NotPublishable(_)), "{err}");
        assert_eq!(err.reason(), "not-publishable");

        let (k1, k2) = (key(), key());
        let mut top = empty_targets(1, "2030-01-01T00:00:00Z".into());
        top.delegations = Some(Delegations {
            keys: [(k1.public_key().keyid(), k1.public_key().to_tuf_key())].into(),
            roles: vec![DelegatedRole {
                name: "board-a".into(),
                keyids: vec![k1.public_key().keyid(), k2.public_key().keyid()],
                threshold: 2,
                terminating: false,
                paths: Some(vec!["board-a/*".into()]),
                path_hash_prefixes: None,
                unknown: BTreeMap::new(),
            }],
            unknown: BTreeMap::new(),
        });
        let top = targets(top);
        let board = targets(empty_targets(1, "2030-01-01T00:00:00Z".into()));
        let after = op
            .publishable_faults(None, &[("targets", &top), ("board-a", &board)])
            .unwrap();
        assert!(
            after
                .iter()
                .any(|f| f.contains("threshold 2, but only 1 of its key(s) are defined")),
            "{after:?}"
        );
        assert_eq!(after.len(), 1, "{after:?}");
    }

    /// The scoped check finds the new fault the full check finds: a change
    /// to one role listing a target outside its delegated paths, beside
    /// another role that already lists one (a fault left to whoever fixes
    /// it) and a third the change leaves alone.
    #[test]
    fn the_check_of_a_change_finds_its_new_faults_only_where_it_looks() {
        let scratch = tempfile::Builder::new()
            .prefix("fwsign-publishable-")
            .tempdir()
            .unwrap();
        let (root, approver, online) = (key(), key(), key());
        let options = InitOptions {
            allow_shared_key: true,
            ..crate::test_init_options(&root, &approver, &online)
        };
        let repo = Repository::init(scratch.path().join("repo"), &options, NOW).unwrap();
        let k = key();
        let entry = |name: &str| DelegatedRole {
            name: name.into(),
            keyids: vec![k.public_key().keyid()],
            threshold: 1,
            terminating: false,
            paths: Some(vec![format!("{name}/*")]),
            path_hash_prefixes: None,
            unknown: BTreeMap::new(),
        };
        let mut top = empty_targets(1, "2030-01-01T00:00:00Z".into());
        top.delegations = Some(Delegations {
            keys: [(k.public_key().keyid(), k.public_key().to_tuf_key())].into(),
            roles: vec![entry("a"), entry("b"), entry("c")],
            unknown: BTreeMap::new(),
        });
        let listing = |names: &[&str]| {
            let mut doc = empty_targets(1, "2030-01-01T00:00:00Z".into());
            for name in names {
                doc.targets.insert(
                    (*name).into(),
                    serde_json::from_value(serde_json::json!({
                        "length": 1, "hashes": {"sha256": "00".repeat(32)}
                    }))
                    .unwrap(),
                );
            }
            targets(doc)
        };
        let (top, a, b, c) = (
            targets(top),
            listing(&["a/1"]),
            listing(&["elsewhere/1"]),
            listing(&["c/1"]),
        );
        let op = repo.operation();
        let state = [("targets", &top), ("a", &a), ("b", &b), ("c", &c)];
        let before_full = op.publishable_faults(None, &state).unwrap();
        assert_eq!(before_full.len(), 1, "{before_full:?}");
        let a2 = listing(&["a/1", "outside/2"]);
        let mut changed = state;
        changed[1] = ("a", &a2);
        let after_full = op.publishable_faults(None, &changed).unwrap();
        let scope: BTreeSet<&str> = ["a"].into();
        let scoped = |roles: &[(&str, &Signed<Targets>)]| {
            op.publishable_faults_without(None, roles, &[], Some(&scope))
                .unwrap()
        };
        let new_full: Vec<_> = after_full.difference(&before_full).collect();
        let (before, after) = (scoped(&state), scoped(&changed));
        let new_scoped: Vec<_> = after.difference(&before).collect();
        assert_eq!(new_full, new_scoped);
        assert_eq!(new_scoped.len(), 1);
        assert!(new_scoped[0].contains("outside/2"), "{new_scoped:?}");
    }
}
