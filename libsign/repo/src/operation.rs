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

/// What the next release has of `role`, given what is staged of it
/// (`staged`, already read) and the published state: the staged document
/// when there is one, else the published one, through `read`. The one
/// statement of that rule, for `current_targets` and the delegator map.
fn staged_else_published<'p, X>(
    staged: Option<X>,
    published: Option<&'p Published>,
    role: &str,
    read: impl FnOnce(&'p Signed<Targets>) -> X,
) -> Option<X> {
    staged.or_else(|| published.and_then(|p| p.targets.get(role)).map(read))
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
        let staged = self.repo.load_staged::<Targets>(role)?.map(Cow::Owned);
        Ok(staged_else_published(
            staged,
            self.published()?,
            role,
            Cow::Borrowed,
        ))
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
        // (`staged_else_published`, as in `current_targets`). The staged
        // ones are read and parsed on every core: 1,024 staged bins were a
        // tenth of a second of one, read twice by a `repo sign --role
        // 'bins-*'`.
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
            let delegated = staged_else_published(staged, published, candidate, |doc| {
                doc.signed.delegated_role_names()
            })
            .unwrap_or_default();
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
pub(super) mod tests;
