//! The repository as one operation sees it ([`Operation`]; not to be
//! confused with the core's zero-copy `RootView`/`TargetsView` over signed
//! bytes).
//!
//! Approvals, key look-ups and delegations all ask "which root and which
//! targets role will the next release have?", role after role. Answering
//! from disk each time re-reads every published metadata file per question,
//! which grows with the square of the number of delegated roles. An [`Operation`]
//! reads the published state at most once, on first use, and answers from
//! it; staged files, which an operation edits as it goes, are still read
//! when asked for.
//!
//! An operation must not outlive a change to the published state: one
//! that writes new metadata (`publish`) drops its `Operation` before the first
//! write, so the borrow checker refuses any later use of the old state.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;

use fwsign_manifest_schema::metadata::{Root, Signed, Targets};

use super::key_owners::{self, KeyOwners};
use super::published_state::{self, Listing, PublishedLoad};
use super::staged_role::StagedRole;
use super::staging::parallel::map_parallel;
use super::{
    MissingApproval, Published, RepoError, Repository, RoleApproval, canonical_of, names,
    read_optional,
};
use fwsign_core::key_types::BUILTIN;
use fwsign_keys::document::{CanonicalDocument, SignatureReport, verify_role};

/// Which role delegates each delegated role, by role name.
type Delegators = Rc<BTreeMap<String, String>>;

/// One operation on a repository: the published state read once.
pub(crate) struct Operation<'r> {
    repo: &'r Repository,
    /// Loaded on first use, or the caller's ([`Operation::with_load`]).
    loaded: OnceCell<Cow<'r, PublishedLoad>>,
    /// Which role delegates each role, read from every candidate once per
    /// state of the staged roles (the count of staged changes it was read
    /// at): a release may stage hundreds of bins, and each question used to
    /// read every staged role again.
    delegators: RefCell<Option<(u64, Delegators)>>,
}

impl Drop for Operation<'_> {
    fn drop(&mut self) {
        if let Some(Cow::Owned(load)) = self.loaded.take() {
            crate::staging::parallel::drop_aside(load);
        }
    }
}

impl<'r> Operation<'r> {
    pub(crate) fn new(repo: &'r Repository) -> Self {
        Self {
            repo,
            loaded: OnceCell::new(),
            delegators: RefCell::new(None),
        }
    }

    /// This operation, if the published state it read is still the one on
    /// disk, else a new one: `repo sign` reads the state for the signature
    /// it makes without the lock, and checks it again under the lock.
    /// Published files are created once and never replaced, except
    /// `timestamp.json`, so the same listing of `metadata/` and the same
    /// `timestamp.json` bytes are the same state. Which role delegates which
    /// is read again either way: another command may have changed a staged
    /// role meanwhile.
    pub(crate) fn refreshed(self) -> Result<Self, RepoError> {
        let repo = self.repo;
        let Some(loaded) = self.loaded.get() else {
            return Ok(Self::new(repo));
        };
        let metadata = repo.metadata_dir();
        let listing = Listing::read(&metadata)?;
        let timestamp = read_optional(&metadata.join("timestamp.json"))?;
        let held = loaded
            .published
            .as_ref()
            .and_then(|p| p.files.get("timestamp.json"));
        if listing == loaded.listing && timestamp.as_ref() == held {
            *self.delegators.borrow_mut() = None;
            Ok(self)
        } else {
            Ok(Self::new(repo))
        }
    }

    /// The repository this operation reads.
    pub(crate) fn repo(&self) -> &'r Repository {
        self.repo
    }

    /// An operation over a published state loaded already.
    pub(crate) fn with_load(repo: &'r Repository, loaded: &'r PublishedLoad) -> Self {
        Self {
            repo,
            loaded: OnceCell::from(Cow::Borrowed(loaded)),
            delegators: RefCell::new(None),
        }
    }

    /// The published state as loaded and verified, faults included; read
    /// from disk on the first call only.
    pub(crate) fn load(&self) -> Result<&PublishedLoad, RepoError> {
        if let Some(l) = self.loaded.get() {
            return Ok(l);
        }
        let loaded = published_state::load(self.repo)?;
        Ok(self.loaded.get_or_init(|| Cow::Owned(loaded)))
    }

    /// The verified published state, or `None` before the first publish;
    /// refused when it has a fault, except the one an interrupted publish
    /// leaves, which publish and refresh finish (staging commands refuse it
    /// through the history check they run first).
    pub(crate) fn published(&self) -> Result<Option<&Published>, RepoError> {
        self.load()?.verified(self.repo.dir(), true)
    }

    /// The version a new `role` document gets: `at_least`, or one more
    /// than the highest on disk (orphans included) when that is higher.
    pub(crate) fn next_free_version(&self, role: &str, at_least: u64) -> Result<u64, RepoError> {
        self.load()?.listing.next_free_version(role, at_least)
    }

    /// The root that governs the next release: the staged one if any, else
    /// the newest published.
    pub(crate) fn current_root(&self) -> Result<Cow<'_, Signed<Root>>, RepoError> {
        if let Some(root) = self.repo.load_staged::<Root>("root")? {
            return Ok(Cow::Owned(root));
        }
        match self.published()? {
            Some(p) => Ok(Cow::Borrowed(&p.root)),
            None => Err(RepoError::NotARepository(self.repo.dir().to_path_buf())),
        }
    }

    /// A targets role as the next release will have it: staged if staged,
    /// else published.
    pub(crate) fn current_targets(
        &self,
        role: &str,
    ) -> Result<Option<Cow<'_, Signed<Targets>>>, RepoError> {
        if let Some(doc) = self.repo.load_staged::<Targets>(role)? {
            return Ok(Some(Cow::Owned(doc)));
        }
        Ok(self
            .published()?
            .and_then(|p| p.targets.get(role))
            .map(Cow::Borrowed))
    }

    /// Which role delegates `role`: `None` for the top-level roles (root
    /// delegates them), else the targets role that lists it.
    pub(crate) fn delegator_of(&self, role: &str) -> Result<Option<String>, RepoError> {
        if names::TOP_LEVEL_ROLES.contains(&role) {
            return Ok(None);
        }
        let map = self.delegator_map()?;
        match map.get(role) {
            Some(delegator) => Ok(Some(delegator.clone())),
            None => Err(RepoError::Invalid(format!(
                "no targets role delegates to {role:?}; create it with `fwsign repo delegate`"
            ))),
        }
    }

    /// Which role delegates each delegated role: the first candidate (in
    /// name order) whose current delegations list it. Read again only after
    /// a staged role changed.
    fn delegator_map(&self) -> Result<Delegators, RepoError> {
        let changes = self.repo.staged_changes();
        if let Some((at, map)) = &*self.delegators.borrow()
            && *at == changes
        {
            return Ok(Rc::clone(map));
        }
        #[cfg(test)]
        tests::count_delegator_read();
        let candidates: Vec<String> = self
            .delegator_candidates()?
            .into_iter()
            .filter(|c| c != "root")
            .collect();
        // A candidate's current document is its staged one when it has one
        // (as `current_targets`). Those are read and parsed on every core:
        // 1,024 staged bins were a tenth of a second of one, read twice by
        // a `repo sign --role 'bins-*'`.
        let repo = self.repo;
        let staged = map_parallel(
            &candidates,
            || (),
            |(), candidate, _| {
                Ok(repo
                    .load_staged::<Targets>(candidate)?
                    .map(|doc| doc.signed.delegated_role_names()))
            },
            &mut |_| {},
        )?;
        let published = self.published()?;
        let mut map = BTreeMap::new();
        for (candidate, staged) in candidates.iter().zip(staged) {
            let delegated = match staged {
                Some(names) => names,
                None => published
                    .and_then(|p| p.targets.get(candidate))
                    .map(|doc| doc.signed.delegated_role_names())
                    .unwrap_or_default(),
            };
            for name in delegated {
                if name != *candidate {
                    map.entry(name).or_insert(candidate.clone());
                }
            }
        }
        let map = Rc::new(map);
        *self.delegators.borrow_mut() = Some((changes, Rc::clone(&map)));
        Ok(map)
    }

    /// The roles that may delegate: `targets`, every staged role and every
    /// published targets role.
    fn delegator_candidates(&self) -> Result<BTreeSet<String>, RepoError> {
        let mut candidates: BTreeSet<String> = BTreeSet::new();
        candidates.insert("targets".into());
        candidates.extend(self.repo.staged_roles()?);
        if let Some(p) = self.published()? {
            candidates.extend(p.targets.keys().cloned());
        }
        Ok(candidates)
    }

    /// The threshold checks a staged role must pass, with their reports.
    pub(crate) fn approval(&self, role: &str) -> Result<Option<RoleApproval>, RepoError> {
        match StagedRole::load_optional(self.repo, role)? {
            Some(staged) => self.approval_of(role, &staged).map(Some),
            None => Ok(None),
        }
    }

    /// [`Operation::approval`] of `staged`, read already.
    pub(crate) fn approval_of(
        &self,
        role: &str,
        staged: &StagedRole,
    ) -> Result<RoleApproval, RepoError> {
        let mut reports = Vec::new();
        let mut owners: KeyOwners;
        let version = staged.version();
        match staged {
            StagedRole::Root(staged) => {
                let doc = canonical_of("staged root", staged)?;
                owners = key_owners::lookup(&staged.signed);
                if let Some(published) = self.published()? {
                    owners.merge(&key_owners::lookup(&published.root.signed));
                    let old = canonical_of("published root", &published.root)?;
                    reports.push((
                        format!("root v{}", published.root.signed.version),
                        report(&old, "root", &doc)?,
                    ));
                }
                reports.push((format!("root v{version}"), report(&doc, "root", &doc)?));
            }
            StagedRole::Targets(staged) => {
                let delegator = self.delegator_for(self.delegator_of(role)?)?;
                let doc = canonical_of(role, staged)?;
                reports.push((delegator.label.clone(), report(&delegator.doc, role, &doc)?));
                owners = delegator.owners;
            }
        }
        Ok(RoleApproval {
            role: role.to_owned(),
            version,
            reports,
            owners,
        })
    }

    /// What checks the signatures of a staged targets role whose delegator
    /// ([`Operation::delegator_of`]) is `delegator`: that role as the next
    /// release will have it (root for `None`), canonical, with the owners
    /// its keys are recorded under.
    fn delegator_for(&self, delegator: Option<String>) -> Result<Delegator, RepoError> {
        match delegator {
            None => {
                let current = self.current_root()?;
                Ok(Delegator {
                    label: "root".into(),
                    owners: key_owners::lookup(&current.signed),
                    doc: canonical_of("root", &*current)?,
                })
            }
            Some(parent) => {
                let parent_doc = self.current_targets(&parent)?.ok_or_else(|| {
                    RepoError::Invalid(format!("delegating role {parent} is missing"))
                })?;
                Ok(Delegator {
                    owners: key_owners::lookup(&parent_doc.signed),
                    doc: canonical_of(&parent, &parent_doc)?,
                    label: parent,
                })
            }
        }
    }

    /// [`Operation::approval_of`] of many staged roles, in order: each
    /// delegator is looked up and written canonically once, not once per
    /// role it delegates, and the signatures are checked on every core
    /// (the 1,024 bins of `repo sign --role 'bins-*'` took 0.3 s one by
    /// one). A staged root goes through [`Operation::approval_of`].
    pub(crate) fn approvals_of(
        &self,
        staged: &[(&str, &StagedRole)],
    ) -> Result<Vec<RoleApproval>, RepoError> {
        let staged: Vec<(&str, &StagedRole, Option<&[u8]>)> = staged
            .iter()
            .map(|&(role, doc)| (role, doc, None))
            .collect();
        self.approvals_of_written(&staged)
    }

    /// [`Operation::approvals_of`] of roles each given with the bytes of
    /// its file when they are at hand (just written): a role is checked on
    /// those, read as any metadata file is, rather than serialised again.
    pub(crate) fn approvals_of_written(
        &self,
        staged: &[(&str, &StagedRole, Option<&[u8]>)],
    ) -> Result<Vec<RoleApproval>, RepoError> {
        let mut delegators: BTreeMap<Option<String>, Arc<Delegator>> = BTreeMap::new();
        let mut checks = Vec::new();
        for &(role, doc, written) in staged {
            if let StagedRole::Targets(targets) = doc {
                let key = self.delegator_of(role)?;
                let delegator = match delegators.get(&key) {
                    Some(delegator) => Arc::clone(delegator),
                    None => {
                        let delegator = Arc::new(self.delegator_for(key.clone())?);
                        delegators.insert(key, Arc::clone(&delegator));
                        delegator
                    }
                };
                checks.push(Some((role, targets, written, delegator)));
            } else {
                checks.push(None);
            }
        }
        let reports = map_parallel(
            &checks,
            || (),
            |(), check, _| {
                check
                    .as_ref()
                    .map(|(role, targets, written, delegator)| {
                        let doc = match written {
                            Some(bytes) => {
                                CanonicalDocument::from_json(bytes).map_err(|source| {
                                    RepoError::Document {
                                        context: format!("staged {role}"),
                                        source,
                                    }
                                })?
                            }
                            None => canonical_of(role, targets)?,
                        };
                        report(&delegator.doc, role, &doc)
                    })
                    .transpose()
            },
            &mut |_| {},
        )?;
        staged
            .iter()
            .zip(checks)
            .zip(reports)
            .map(|((&(role, doc, _), check), report)| match (check, report) {
                (Some((_, _, _, delegator)), Some(report)) => Ok(RoleApproval {
                    role: role.to_owned(),
                    version: doc.version(),
                    reports: vec![(delegator.label.clone(), report)],
                    owners: delegator.owners.clone(),
                }),
                _ => self.approval_of(role, doc),
            })
            .collect()
    }

    /// Every staged role's approval state.
    pub(crate) fn approvals(&self) -> Result<Vec<RoleApproval>, RepoError> {
        let mut staged = Vec::new();
        for role in self.repo.staged_roles()? {
            if let Some(doc) = StagedRole::load_optional(self.repo, &role)? {
                staged.push((role, doc));
            }
        }
        let staged: Vec<(&str, &StagedRole)> =
            staged.iter().map(|(r, d)| (r.as_str(), d)).collect();
        self.approvals_of(&staged)
    }

    /// Roles still short of a threshold.
    pub(crate) fn missing_approvals(&self) -> Result<Vec<MissingApproval>, RepoError> {
        Ok(self
            .approvals()?
            .iter()
            .flat_map(RoleApproval::missing)
            .collect())
    }

    /// [`Operation::missing_approvals`] of staged roles read already (every
    /// staged role, in [`Repository::staged_roles`] order), for a caller
    /// that needs them anyway, each with the bytes of its file when the
    /// caller has made them (`publish`, which publishes those bytes):
    /// checked on those, not serialised again.
    pub(crate) fn missing_approvals_of_written(
        &self,
        staged: &[(&str, &StagedRole, Option<&[u8]>)],
    ) -> Result<Vec<MissingApproval>, RepoError> {
        Ok(self
            .approvals_of_written(staged)?
            .iter()
            .flat_map(RoleApproval::missing)
            .collect())
    }
}

/// A staged targets role's delegator, as [`Operation::delegator_for`]
/// finds it.
struct Delegator {
    /// Its name in reports: the delegating role, or `root`.
    label: String,
    /// Its canonical document, against which signatures are checked.
    doc: CanonicalDocument,
    /// Who holds the keys it lists.
    owners: KeyOwners,
}

fn report(
    delegator: &CanonicalDocument,
    role: &str,
    doc: &CanonicalDocument,
) -> Result<SignatureReport, RepoError> {
    verify_role(delegator, role, doc, BUILTIN).map_err(|source| RepoError::Document {
        context: format!("staged {role}"),
        source,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use std::cell::Cell;
    use std::path::PathBuf;

    use fwsign_manifest_schema::expiry::UnixTime;

    use crate::staged_role::StagedRole;
    use crate::staging::DelegateOptions;
    use crate::{InitOptions, RepoError, Repository};
    use fwsign_keys::{Algorithm, PrivateKey};
    use fwsign_manifest_schema::metadata::Targets;

    thread_local! {
        /// How many times this thread has loaded the published state.
        static PUBLISHED_LOADS: Cell<usize> = const { Cell::new(0) };
    }

    /// Called by the published-state load in test builds.
    pub(crate) fn count_published_load() {
        PUBLISHED_LOADS.with(|c| c.set(c.get().saturating_add(1)));
    }

    thread_local! {
        /// How many times this thread has read which role delegates which.
        static DELEGATOR_READS: Cell<usize> = const { Cell::new(0) };
    }

    /// Called by `Operation::delegator_map` when it reads the roles.
    pub(crate) fn count_delegator_read() {
        DELEGATOR_READS.with(|c| c.set(c.get().saturating_add(1)));
    }

    /// Runs `f` and returns how often it read which role delegates which.
    fn delegator_reads<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let before = DELEGATOR_READS.with(Cell::get);
        let out = f();
        (out, DELEGATOR_READS.with(Cell::get).saturating_sub(before))
    }

    /// Runs `f` and returns how often it loaded the published state.
    fn loads<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let before = PUBLISHED_LOADS.with(Cell::get);
        let out = f();
        (out, PUBLISHED_LOADS.with(Cell::get).saturating_sub(before))
    }

    const NOW: UnixTime = UnixTime(1_700_000_000);
    const ROLES: usize = 8;

    /// A fresh directory of the test's own under the system temp dir, and its
    /// path: the directory is removed when the guard is dropped (also when
    /// the test fails), so keep the guard bound for the whole test.
    fn scratch() -> (tempfile::TempDir, PathBuf) {
        crate::test_scratch("repo-op")
    }

    fn key() -> PrivateKey {
        PrivateKey::generate(Algorithm::Ed25519).unwrap()
    }

    /// A new repository under `dir`: one key each for root, targets,
    /// snapshot and timestamp, thresholds of 1.
    fn init(
        dir: &std::path::Path,
        [root, targets, snapshot, timestamp]: [&PrivateKey; 4],
    ) -> Repository {
        let options = InitOptions {
            timestamp_key: timestamp.public_key().clone(),
            ..crate::test_init_options(root, targets, snapshot)
        };
        Repository::init(dir.join("repo"), &options, NOW).unwrap()
    }

    /// A new repository under `dir` ([`init`]) with its four keys (root,
    /// targets, snapshot, timestamp), and `ROLES` board names each with a
    /// key of its own, not delegated yet ([`board_delegation`]).
    fn with_boards(
        dir: &std::path::Path,
    ) -> ([PrivateKey; 4], Vec<(String, PrivateKey)>, Repository) {
        let keys = [key(), key(), key(), key()];
        let boards = (0..ROLES).map(|i| (format!("board-{i}"), key())).collect();
        let [root, targets, snapshot, timestamp] = &keys;
        let repo = init(dir, [root, targets, snapshot, timestamp]);
        (keys, boards, repo)
    }

    /// `targets` delegates `NAME/*` to role `name`, signed by `key` alone.
    fn board_delegation(name: &str, key: &PrivateKey) -> DelegateOptions {
        DelegateOptions {
            role: name.to_owned(),
            keys: vec![key.public_key().clone()],
            threshold: 1,
            paths: vec![format!("{name}/*")],
            terminating: true,
            allow_shared_key: false,
        }
    }

    /// Many staged roles' approvals taken together (on every core, each
    /// delegator once) are each role's approval taken alone: the staged
    /// root (two thresholds), `targets` under root, and delegated roles
    /// under `targets`, signed and not, in the order asked.
    #[test]
    fn approvals_of_many_roles_are_each_roles_approval_alone() {
        let (_scratch, dir) = scratch();
        let ([_, targets, _, _], boards, repo) = with_boards(&dir);
        for (name, k) in &boards {
            repo.delegate(&board_delegation(name, k), NOW).unwrap();
        }
        repo.sign("targets", &targets, NOW).unwrap();
        for (name, k) in boards.iter().step_by(2) {
            repo.sign(name, k, NOW).unwrap();
        }
        let op = repo.operation();
        let mut staged = Vec::new();
        for role in repo.staged_roles().unwrap() {
            let doc = StagedRole::load_optional(&repo, &role).unwrap().unwrap();
            staged.push((role, doc));
        }
        let asked: Vec<(&str, &StagedRole)> = staged.iter().map(|(r, d)| (r.as_str(), d)).collect();
        let together = op.approvals_of(&asked).unwrap();
        assert_eq!(together.len(), ROLES + 2);
        for ((role, doc), approval) in asked.iter().zip(&together) {
            let alone = op.approval_of(role, doc).unwrap();
            assert_eq!(
                serde_json::to_value(approval).unwrap(),
                serde_json::to_value(&alone).unwrap(),
                "{role}"
            );
        }
        // Checked on the files' bytes (`repo sign`, `repo publish`): the
        // same approvals. Bytes that are not the role's are checked as the
        // role they hold: a signature over other bytes does not count.
        let files: Vec<Option<Vec<u8>>> = staged
            .iter()
            .map(|(role, doc)| match doc {
                StagedRole::Targets(doc) => Some(crate::file_bytes(role, doc).unwrap()),
                StagedRole::Root(_) => None,
            })
            .collect();
        let written = |files: &[Option<Vec<u8>>]| -> Vec<serde_json::Value> {
            let asked: Vec<(&str, &StagedRole, Option<&[u8]>)> = staged
                .iter()
                .zip(files)
                .map(|((r, d), f)| (r.as_str(), d, f.as_deref()))
                .collect();
            let approvals = op.approvals_of_written(&asked).unwrap();
            approvals
                .iter()
                .map(|a| serde_json::to_value(a).unwrap())
                .collect()
        };
        let expected: Vec<serde_json::Value> = together
            .iter()
            .map(|a| serde_json::to_value(a).unwrap())
            .collect();
        assert_eq!(written(&files), expected);
        let at = staged.iter().position(|(r, _)| r == "board-0").unwrap();
        let mut edited = files.clone();
        let text = String::from_utf8(edited[at].take().unwrap()).unwrap();
        edited[at] = Some(
            text.replacen("\"version\":", "\"version\":9", 1)
                .into_bytes(),
        );
        let after = written(&edited);
        assert_ne!(after[at], expected[at]);
        assert_eq!(after[at]["reports"][0][1]["valid"], 0);
        let met = |role: &str| {
            let approval = together.iter().find(|a| a.role == role).unwrap();
            approval.reports.iter().all(|(_, r)| r.is_met())
        };
        assert!(met("targets") && !met("root"));
        assert!(met("board-0") && !met("board-1"));
    }

    /// Every command reads the published metadata at most once, however
    /// many delegated roles the repository has.
    #[test]
    fn each_command_reads_the_published_state_at_most_once() {
        let (_scratch, dir) = scratch();
        let ([root, targets, snapshot, timestamp], boards, repo) = with_boards(&dir);
        let publish = |repo: &Repository| {
            repo.publish(&snapshot, &timestamp, NOW, &mut |_| {})
                .unwrap()
        };

        // Release 1: root, targets and every delegated role.
        for (name, k) in &boards {
            let (r, n) = loads(|| repo.delegate(&board_delegation(name, k), NOW));
            r.unwrap();
            assert!(n <= 1, "delegate read the published state {n} times");
        }
        repo.sign("root", &root, NOW).unwrap();
        repo.sign("targets", &targets, NOW).unwrap();
        for (name, k) in &boards {
            let (r, n) = loads(|| repo.sign(name, k, NOW));
            assert!(r.unwrap().is_met());
            assert!(n <= 1, "sign read the published state {n} times");
        }
        let (outcome, n) = loads(|| publish(&repo));
        assert!(n <= 1, "publish read the published state {n} times");
        assert_eq!(outcome.snapshot_version, 1);
        assert_eq!(outcome.roles.len(), ROLES + 1);

        // Release 2: every delegated role again, now also published.
        for (name, _) in &boards {
            let (r, n) = loads(|| repo.extend(name, 86_400, NOW));
            assert_eq!(r.unwrap(), 2);
            assert!(n <= 1, "extend read the published state {n} times");
        }
        let (missing, n) = loads(|| repo.missing_approvals());
        assert_eq!(missing.unwrap().len(), ROLES);
        assert_eq!(n, 1, "missing_approvals read the published state {n} times");
        for (name, k) in &boards {
            let (r, n) = loads(|| repo.sign(name, k, NOW));
            assert!(r.unwrap().is_met());
            assert!(n <= 1, "sign read the published state {n} times");
        }
        let (approvals, n) = loads(|| repo.approvals());
        assert!(approvals.unwrap().iter().all(super::RoleApproval::is_met));
        assert_eq!(n, 1, "approvals read the published state {n} times");
        let (outcome, n) = loads(|| publish(&repo));
        assert!(n <= 1, "publish read the published state {n} times");

        // The next command sees what this publish wrote, not a stale copy.
        assert_eq!(outcome.snapshot_version, 2);
        let published = repo.published().unwrap().unwrap();
        assert_eq!(published.snapshot.unwrap().signed.version, 2);
        for (name, _) in &boards {
            assert_eq!(published.targets[name].signed.version, 2);
        }
        assert!(repo.approvals().unwrap().is_empty());

        // Release 3: every delegated role extended in one command (`repo
        // extend --role 'board-*'`): one read for all of them, each staged
        // at its next version with its own audit line.
        let names: Vec<String> = boards.iter().map(|(n, _)| n.clone()).collect();
        let (versions, n) = loads(|| repo.extend_all(&names, 2 * 86_400, NOW));
        assert_eq!(versions.unwrap(), vec![3; ROLES]);
        assert_eq!(n, 1, "extend_all read the published state {n} times");
        let (missing, _) = loads(|| repo.missing_approvals());
        assert_eq!(missing.unwrap().len(), ROLES);
        assert!(repo.extend_all(&["root".to_owned()], 86_400, NOW).is_err());
    }

    /// Which role delegates which is read once however many staged roles a
    /// command signs (signing changes no delegation; re-reading every staged
    /// role per signature made signing a thousand bins quadratic), and read
    /// again as soon as a staged role's delegations change: a stale answer
    /// would check an approval against the wrong delegator's keys.
    #[test]
    fn who_delegates_what_is_read_again_only_when_a_delegation_changes() {
        let (_scratch, dir) = scratch();
        let (root, targets, snapshot, timestamp) = (key(), key(), key(), key());
        let repo = init(&dir, [&root, &targets, &snapshot, &timestamp]);
        let delegate = |name: &str| DelegateOptions {
            role: name.to_owned(),
            keys: vec![key().public_key().clone()],
            threshold: 1,
            paths: vec![format!("{name}/*")],
            terminating: true,
            allow_shared_key: false,
        };
        let boards: Vec<String> = (0..ROLES).map(|i| format!("board-{i}")).collect();
        for name in &boards {
            repo.delegate(&delegate(name), NOW).unwrap();
        }

        let op = repo.operation();
        let ((), reads) = delegator_reads(|| {
            for name in &boards {
                // What signing does to a role: read it, add a signature, write it.
                let mut staged = StagedRole::load(&repo, name).unwrap();
                staged.put(&["00".repeat(32)], &[1, 2, 3]);
                staged.save(&repo, name).unwrap();
                assert_eq!(op.delegator_of(name).unwrap().as_deref(), Some("targets"));
            }
        });
        assert_eq!(
            reads, 1,
            "read who delegates what {reads} times for {ROLES} signatures"
        );

        // A delegation staged meanwhile (by this process) is seen at once.
        assert!(op.delegator_of("late").is_err());
        repo.delegate(&delegate("late"), NOW).unwrap();
        let (delegator, reads) = delegator_reads(|| op.delegator_of("late").unwrap());
        assert_eq!(delegator.as_deref(), Some("targets"));
        assert_eq!(reads, 1);

        // And so is its removal.
        let removal = crate::staging::UndelegateOptions {
            role: "late".into(),
            from: None,
            recursive: false,
        };
        repo.undelegate(&removal, NOW).unwrap();
        assert!(op.delegator_of("late").is_err());
    }

    /// `repo sign` reads the published state once for both halves of a
    /// signature when nothing was published in between, and again when
    /// something was; a staged role changed in between (another approver's
    /// `extend`, under the lock the second half waits for) refuses the
    /// signature made over the old bytes, and nothing is added.
    #[test]
    fn sign_reads_again_only_what_changed_while_it_waited_for_the_lock() {
        let (_scratch, dir) = scratch();
        let (root, targets, online) = (key(), key(), key());
        let repo = init(&dir, [&root, &targets, &online, &online]);
        repo.sign("root", &root, NOW).unwrap();
        repo.sign("targets", &targets, NOW).unwrap();
        repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();

        repo.extend("targets", 86_400, NOW).unwrap();
        let (result, unchanged) =
            loads(|| repo.sign_under_lock::<(), RepoError>("targets", &targets, NOW, || Ok(())));
        assert!(result.unwrap().0.is_met());
        assert_eq!(unchanged, 1, "one load for both halves");

        let (result, republished) = loads(|| {
            repo.sign_under_lock("targets", &targets, NOW, || {
                let (refreshed, in_lock) =
                    loads(|| repo.refresh_timestamp(&online, NOW).map(|_| ()));
                refreshed.map(|()| in_lock)
            })
        });
        let (approval, in_lock) = result.unwrap();
        assert!(approval.is_met());
        assert_eq!(republished - in_lock, 2, "read again after the refresh");

        let err = repo
            .sign_under_lock("targets", &targets, NOW, || {
                repo.extend("targets", 3 * 86_400, NOW).map(|_| ())
            })
            .unwrap_err();
        assert!(matches!(err, RepoError::RoleChanged { .. }), "{err}");
        let staged = repo.load_staged::<Targets>("targets").unwrap().unwrap();
        assert!(staged.signatures.is_empty());
    }
}
