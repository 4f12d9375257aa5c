//! `repo undelegate`: staging the removal of a delegation.
//!
//! Clients only search roles delegations reach, so removing the delegation
//! takes the role's targets out of every search once published. What stays
//! is the role's listing in the snapshot: TUF clients (python-tuf, the
//! spec's 5.5.5) refuse a new snapshot that drops a role the trusted one
//! lists, so every later snapshot keeps the role's last version as it was.
//! The delegating role records the roles it retired
//! ([`RETIRED_ROLES_FIELD`], under its approvers' signatures), so the
//! published-state check tells a retired role from one the online key
//! holder listed on their own (which stays a fault), and `publish` carries
//! the listing forward.
//!
//! A role delegated only by the removed role would become unreachable
//! with it; that is refused, naming those roles, unless asked to retire
//! them too (`recursive`).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{Signed, Targets};
use serde::Serialize;
use serde_json::Value;

use super::prune_delegation_keys;
use crate::audit::AuditEvent;
use crate::names::{self, check_delegated_role_name};
use crate::{RepoError, Repository, io_err};

/// The top-level field of a targets role's `signed` naming the roles its
/// delegations retired: their last version stays listed in the snapshot,
/// and no delegation reaches them.
pub const RETIRED_ROLES_FIELD: &str = "x-fwsign-retired-roles";

/// The roles `doc` records as retired.
pub(crate) fn retired_by(doc: &Targets) -> BTreeSet<String> {
    doc.unknown
        .get(RETIRED_ROLES_FIELD)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Roles reachable from `targets` through the delegations of `docs`.
pub(crate) fn reachable<D: Borrow<Signed<Targets>>>(docs: &BTreeMap<String, D>) -> BTreeSet<&str> {
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = VecDeque::from(["targets"]);
    while let Some(role) = queue.pop_front() {
        let Some((name, doc)) = docs.get_key_value(role) else {
            continue;
        };
        if !reached.insert(name.as_str()) {
            continue;
        }
        let doc: &Signed<Targets> = doc.borrow();
        for d in doc.signed.delegations.iter().flat_map(|d| &d.roles) {
            queue.push_back(d.name.as_str());
        }
    }
    reached
}

/// The roles of `roles` no delegation reaches that a reached role
/// retired: they leave the release, and their last version stays listed in
/// the snapshot.
pub(crate) fn retired_unreachable<D: Borrow<Signed<Targets>>>(
    roles: &BTreeMap<String, D>,
) -> Vec<String> {
    let reached = reachable(roles);
    let retired: BTreeSet<String> = reached
        .iter()
        .filter_map(|r| roles.get(*r))
        .flat_map(|d| retired_by(&Borrow::<Signed<Targets>>::borrow(d).signed))
        .collect();
    roles
        .keys()
        .filter(|r| !reached.contains(r.as_str()) && retired.contains(*r))
        .cloned()
        .collect()
}

/// Options for [`Repository::undelegate`].
#[derive(Debug, Clone)]
pub struct UndelegateOptions {
    /// The delegated role whose delegation is removed.
    pub role: String,
    /// The delegating role (`targets` when `None`).
    pub from: Option<String>,
    /// Also retire the roles only the removed role delegates (else such a
    /// removal is refused, naming them).
    pub recursive: bool,
}

/// What [`Repository::undelegate`] staged.
#[derive(Debug, Clone, Serialize)]
pub struct Undelegated {
    /// The role whose delegation was removed.
    pub role: String,
    /// The delegating role, staged at `version` without the delegation.
    pub from: String,
    /// Its staged version.
    pub version: u64,
    /// Every role no delegation reaches once this is published (the role
    /// and, with `recursive`, those only it delegated).
    pub unreachable_roles: Vec<String>,
    /// Targets clients no longer find once this is published: (role, name).
    pub unreachable_targets: Vec<(String, String)>,
    /// Staged roles discarded with their staged targets and approvals.
    pub discarded_staged: Vec<String>,
}

impl Repository {
    /// Stages the removal of the delegation from `options.from` (default
    /// `targets`) to `options.role`, with the checks every staging command
    /// runs (audit history first, then that the staged state stays
    /// publishable). Refused when no such delegation exists
    /// ([`RepoError::NoSuchDelegation`]) or when it would leave roles only
    /// the removed role delegates unreachable without `recursive`
    /// ([`RepoError::WouldStrand`]). Staged versions of the roles that
    /// become unreachable are discarded.
    pub fn undelegate(
        &self,
        options: &UndelegateOptions,
        now: UnixTime,
    ) -> Result<Undelegated, RepoError> {
        let role = options.role.as_str();
        check_delegated_role_name(role)?;
        let from = options.from.as_deref().unwrap_or("targets");
        names::check_role_name(from)?;
        if matches!(from, "root" | "snapshot" | "timestamp") {
            return Err(RepoError::Invalid(format!(
                "--from {from}: delegations are made by `targets` or a delegated targets role"
            )));
        }
        let op = self.operation();
        self.check_audit_before_staging(&op)?;

        // The next release's targets roles, as they stand.
        let mut state: BTreeMap<String, Signed<Targets>> = BTreeMap::new();
        let mut known: BTreeSet<String> = self
            .staged_roles()?
            .into_iter()
            .filter(|r| r != "root")
            .collect();
        if let Some(p) = op.published()? {
            known.extend(p.targets.keys().cloned());
        }
        for name in &known {
            if let Some(doc) = op.current_targets(name)? {
                state.insert(name.clone(), doc.into_owned());
            }
        }
        let delegates = |doc: &Signed<Targets>| {
            doc.signed
                .delegations
                .as_ref()
                .is_some_and(|d| d.roles.iter().any(|r| r.name == role))
        };
        if !state.get(from).is_some_and(delegates) {
            return Err(RepoError::NoSuchDelegation {
                role: role.to_owned(),
                from: from.to_owned(),
                delegated_by: state
                    .iter()
                    .filter(|(_, d)| delegates(d))
                    .map(|(n, _)| n.clone())
                    .collect(),
            });
        }

        let before: BTreeSet<String> = reachable(&state).into_iter().map(str::to_owned).collect();
        let mut parent = self.targets_for_edit(&op, from, now)?;
        if let Some(d) = parent.signed.delegations.as_mut() {
            d.roles.retain(|r| r.name != role);
            prune_delegation_keys(d);
            if d.roles.is_empty() && d.unknown.is_empty() {
                parent.signed.delegations = None;
            }
        }
        state.insert(from.to_owned(), parent.clone());
        let after: BTreeSet<String> = reachable(&state).into_iter().map(str::to_owned).collect();
        let dropped: Vec<String> = before.difference(&after).cloned().collect();
        let stranded: Vec<String> = dropped.iter().filter(|r| *r != role).cloned().collect();
        if !stranded.is_empty() && !options.recursive {
            return Err(RepoError::WouldStrand {
                role: role.to_owned(),
                stranded,
            });
        }

        // Published roles leaving every search stay listed in the snapshot:
        // the delegator records them, under its approvers' signatures.
        let published: BTreeSet<String> = op
            .published()?
            .map(|p| p.targets.keys().cloned().collect())
            .unwrap_or_default();
        let mut retired = retired_by(&parent.signed);
        retired.extend(dropped.iter().filter(|r| published.contains(*r)).cloned());
        if !retired.is_empty() {
            parent.signed.unknown.insert(
                RETIRED_ROLES_FIELD.to_owned(),
                Value::from(retired.into_iter().collect::<Vec<_>>()),
            );
        }
        self.check_stays_publishable_without(&op, None, &[(from, &parent)], &dropped)?;

        let unreachable_targets: Vec<(String, String)> = dropped
            .iter()
            .filter_map(|r| state.get(r).map(|d| (r, d)))
            .flat_map(|(r, d)| d.signed.targets.keys().map(|n| (r.clone(), n.clone())))
            .collect();
        let staged_now: BTreeSet<String> = self.staged_roles()?.into_iter().collect();
        let discarded: Vec<String> = dropped
            .iter()
            .filter(|r| staged_now.contains(*r))
            .cloned()
            .collect();

        self.audit(
            &AuditEvent {
                action: "stage".into(),
                role: Some(from.to_owned()),
                version: Some(parent.signed.version),
                detail: Some(format!(
                    "undelegate {role}; no longer reachable: {}",
                    dropped.join(", ")
                )),
                ..AuditEvent::default()
            },
            now,
        )?;
        for r in &discarded {
            self.audit(
                &AuditEvent {
                    action: "stage".into(),
                    role: Some(r.clone()),
                    detail: Some(format!(
                        "discarded: no delegation reaches {r} once {from} is published"
                    )),
                    ..AuditEvent::default()
                },
                now,
            )?;
        }
        // The discarded roles first: should saving the delegator fail after
        // them, the delegation still stands over the published role, which
        // a second `undelegate` removes.
        for r in &discarded {
            self.discard_staged(r)?;
        }
        self.record_audit_head(&mut parent.signed.unknown)?;
        let version = parent.signed.version;
        self.save_edited(from, parent, now)?;
        Ok(Undelegated {
            role: role.to_owned(),
            from: from.to_owned(),
            version,
            unreachable_roles: dropped,
            unreachable_targets,
            discarded_staged: discarded,
        })
    }

    /// Removes staged role `role`: its document, its staged target files
    /// and its record of dropped approvals.
    fn discard_staged(&self, role: &str) -> Result<(), RepoError> {
        let dir = self.staged_role_targets_dir(role);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&dir)(e)),
        }
        self.clear_dropped(role)?;
        let path = self.staged_path(role);
        let removed = std::fs::remove_file(&path);
        self.staged_removed(role);
        match removed {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use fwsign_manifest_schema::expiry::UnixTime;
    use fwsign_manifest_schema::metadata::{DelegatedRole, Delegations, Signed, Targets};

    use super::{RETIRED_ROLES_FIELD, UndelegateOptions};
    use crate::staging::DelegateOptions;
    use crate::{InitOptions, RepoError, Repository, empty_targets};

    const NOW: UnixTime = UnixTime(1_700_000_000);

    use crate::test_key as key;

    /// `board-a` delegates `board-a-beta` (a sub-delegation made by hand,
    /// as another tool makes them): removing `board-a` alone would strand
    /// `board-a-beta`, so it is refused naming it, with nothing written;
    /// `recursive` retires both, the delegator records them, and the next
    /// publish keeps them listed and passes the published-state check.
    #[test]
    fn a_sub_delegation_only_the_removed_role_reaches_is_named_or_retired_with_it() {
        let scratch = tempfile::Builder::new()
            .prefix("fwsign-undelegate-")
            .tempdir()
            .unwrap();
        let dir = scratch.path().join("repo");
        let (root, approver, online, a, beta) = (key(), key(), key(), key(), key());
        let options = InitOptions {
            allow_shared_key: true,
            ..crate::test_init_options(&root, &approver, &online)
        };
        let repo = Repository::init(&dir, &options, NOW).unwrap();
        repo.delegate(
            &DelegateOptions {
                role: "board-a".into(),
                keys: vec![a.public_key().clone()],
                threshold: 1,
                paths: vec!["board-a/*".into()],
                terminating: false,
                allow_shared_key: false,
            },
            NOW,
        )
        .unwrap();
        let mut board: Signed<Targets> = repo.load_staged("board-a").unwrap().unwrap();
        board.signed.delegations = Some(Delegations {
            keys: [(beta.public_key().keyid(), beta.public_key().to_tuf_key())].into(),
            roles: vec![DelegatedRole {
                name: "board-a-beta".into(),
                keyids: vec![beta.public_key().keyid()],
                threshold: 1,
                terminating: false,
                paths: Some(vec!["board-a/*".into()]),
                path_hash_prefixes: None,
                unknown: BTreeMap::new(),
            }],
            unknown: BTreeMap::new(),
        });
        repo.save_staged("board-a", &board).unwrap();
        let beta_doc = Signed {
            signatures: vec![],
            signed: empty_targets(1, "2030-01-01T00:00:00Z".into()),
            unknown: BTreeMap::new(),
        };
        repo.save_staged("board-a-beta", &beta_doc).unwrap();
        repo.sign("root", &root, NOW).unwrap();
        repo.sign("targets", &approver, NOW).unwrap();
        repo.sign("board-a", &a, NOW).unwrap();
        repo.sign("board-a-beta", &beta, NOW).unwrap();
        repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();

        let log = std::fs::read(dir.join("audit.log")).unwrap();
        let mut undelegate = UndelegateOptions {
            role: "board-a".into(),
            from: None,
            recursive: false,
        };
        let err = repo.undelegate(&undelegate, NOW).unwrap_err();
        assert!(
            matches!(&err, RepoError::WouldStrand { stranded, .. } if stranded == &["board-a-beta"]),
            "{err}"
        );
        assert_eq!(err.reason(), "would-strand-roles");
        assert!(err.to_string().contains("--recursive"), "{err}");
        assert!(repo.staged_roles().unwrap().is_empty());
        assert_eq!(std::fs::read(dir.join("audit.log")).unwrap(), log);

        undelegate.recursive = true;
        let done = repo.undelegate(&undelegate, NOW).unwrap();
        assert_eq!(done.unreachable_roles, ["board-a", "board-a-beta"]);
        let targets: Signed<Targets> = repo.load_staged("targets").unwrap().unwrap();
        assert!(targets.signed.delegations.is_none());
        assert_eq!(
            targets.signed.unknown[RETIRED_ROLES_FIELD],
            serde_json::json!(["board-a", "board-a-beta"])
        );
        repo.sign("targets", &approver, NOW).unwrap();
        repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();
        let loaded = repo.load_published().unwrap();
        assert!(loaded.faults.is_empty(), "{:?}", loaded.faults);
        let published = loaded.published.unwrap();
        let meta = &published.snapshot.unwrap().signed.meta;
        assert!(meta.contains_key("board-a.json") && meta.contains_key("board-a-beta.json"));
        assert_eq!(published.targets.keys().collect::<Vec<_>>(), ["targets"]);

        // Asking again: nothing delegates it any more.
        let err = repo.undelegate(&undelegate, NOW).unwrap_err();
        assert_eq!(err.reason(), "no-such-delegation");
    }
}
