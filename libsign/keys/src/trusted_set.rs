//! The metadata a host client trusts so far, updated one role at a time
//! through the [`fwsign_core::workflow`] checks.
//!
//! This is the host side of the TUF client workflow (and of
//! `bundle verify`): it owns canonical copies of what it has accepted and
//! sizes the verification core's working memory to each document. It never
//! decides trust itself; every `update_*` calls the `no_std` step.

use std::collections::{BTreeMap, BTreeSet};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::reader::Json;

use crate::document::{CanonicalDocument, DocumentError};
use fwsign_core::key_types::{KeyIdentity, KeyType};
use fwsign_core::verify::{
    Common, Envelope, RootView, TargetEntry, TargetsView, ThresholdWork, VerifyError,
};
use fwsign_core::workflow::{
    Delegator, MetaEntry, SnapshotView, TimestampView, WorkflowError, verify_root_self,
    verify_root_update, verify_snapshot, verify_targets_listed, verify_targets_listed_again,
    verify_timestamp,
};

/// Why a document was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The document is not readable TUF metadata.
    #[error("{role}: {source}")]
    Document {
        /// The role the document was offered as.
        role: String,
        /// What is wrong.
        #[source]
        source: DocumentError,
    },
    /// A workflow check refused the document.
    #[error("{role}: {source}")]
    Refused {
        /// The role the document was offered as.
        role: String,
        /// The check that failed.
        #[source]
        source: WorkflowError,
    },
    /// A step was attempted before the one it depends on (for example
    /// snapshot before timestamp).
    #[error("{role}: {needs} must be loaded first")]
    OutOfOrder {
        /// The role offered.
        role: String,
        /// The role it depends on.
        needs: &'static str,
    },
}

fn refused(role: &str) -> impl FnOnce(WorkflowError) -> TrustError + '_ {
    move |source| TrustError::Refused {
        role: role.to_owned(),
        source,
    }
}

fn canonical(role: &str, raw: &[u8]) -> Result<CanonicalDocument, TrustError> {
    CanonicalDocument::from_json(raw).map_err(|source| TrustError::Document {
        role: role.to_owned(),
        source,
    })
}

fn envelope<'a>(role: &str, doc: &'a CanonicalDocument) -> Result<Envelope<'a>, TrustError> {
    doc.envelope()
        .map_err(|e| refused(role)(WorkflowError::Verify(e)))
}

/// Working memory for a threshold over `n` key IDs.
struct Work {
    counted: Vec<KeyIdentity>,
    signed: Vec<bool>,
}

impl Work {
    fn new(n: usize) -> Self {
        Self {
            counted: vec![KeyIdentity::default(); n],
            signed: vec![false; n],
        }
    }

    fn get(&mut self) -> ThresholdWork<'_> {
        ThresholdWork {
            counted: &mut self.counted,
            signed: &mut self.signed,
        }
    }
}

/// The number of key IDs the largest role of a root lists.
fn root_work(root: &RootView<'_>) -> usize {
    ["root", "targets", "snapshot", "timestamp"]
        .iter()
        .filter_map(|r| root.role(r).ok())
        .map(|r| r.keyid_count())
        .max()
        .unwrap_or(0)
}

/// Result of offering a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampUpdate {
    /// A newer timestamp was accepted.
    Updated,
    /// The offered timestamp has the trusted version: nothing changed, and
    /// the caller should neither store nor follow it.
    Unchanged,
}

/// Trusted metadata, built up in workflow order.
#[derive(Debug)]
pub struct TrustedSet {
    key_types: Vec<&'static dyn KeyType>,
    now: Option<UnixTime>,
    root: CanonicalDocument,
    timestamp: Option<CanonicalDocument>,
    snapshot: Option<CanonicalDocument>,
    /// The trusted snapshot's `meta` entries by file name (`ROLE.json`),
    /// each entry's bytes: read once per snapshot, where searching the
    /// listing for every role verified was quadratic in the roles.
    listing: BTreeMap<Vec<u8>, Vec<u8>>,
    targets: BTreeMap<String, TrustedTargets>,
    /// Counts changes to root, timestamp and snapshot: a role checked under
    /// one generation is accepted only in the same one.
    generation: u64,
    /// Counts accepted targets documents; `serials` holds the count at which
    /// each trusted role's document was accepted, so a role checked against
    /// a delegator is accepted only while that delegator's document stands.
    accepted: u64,
    serials: BTreeMap<String, u64>,
}

/// A trusted targets role.
#[derive(Debug)]
struct TrustedTargets {
    doc: CanonicalDocument,
    /// Its version and expiry.
    common: Common,
    /// The delegators whose threshold it was checked against (`None`:
    /// root), each with its serial then (a delegator's document replaced
    /// since gets a new serial), for [`TrustedSet::check_targets_known`].
    under: BTreeSet<(Option<String>, u64)>,
}

/// A targets role that passed [`TrustedSet::check_targets`], not yet
/// trusted: [`TrustedSet::accept_targets`] takes it into the set it was
/// checked against, as long as that set has not changed underneath it.
///
/// Checking takes `&self`, so the roles one delegator delegates can be
/// checked on every core at once (1,024 hashed bins are 1,024 independent
/// signature checks) and then accepted in order.
#[derive(Debug)]
pub struct CheckedTargets {
    role: String,
    doc: CanonicalDocument,
    common: Common,
    generation: u64,
    /// The delegator's serial when checked (`None`: delegated by root).
    parent: Option<(String, u64)>,
}

impl CheckedTargets {
    /// The role's bytes as the check validated them, when its file was
    /// canonical already: what a typed parse can read without validating
    /// them again ([`fwsign_manifest_schema::metadata::Signed::from_canonical`]).
    pub fn validated(&self) -> Option<&fwsign_manifest_schema::canonical::CanonicalBuf> {
        self.doc.validated()
    }
}

/// Checks of the roles one delegator delegates ([`TrustedSet::delegated_by`]):
/// what [`TrustedSet::check_targets_known`] does for each, with the
/// delegator's view read once.
pub struct DelegatedChecks<'s> {
    set: &'s TrustedSet,
    parent: &'s str,
    /// The delegator's view; `None` when the set does not trust it.
    view: Option<Result<TargetsView<'s>, VerifyError>>,
}

impl DelegatedChecks<'_> {
    /// [`TrustedSet::check_targets_known`] of `role`, delegated by this
    /// delegator.
    pub fn check_targets_known(
        &self,
        role: &str,
        raw: &[u8],
        known: Option<&TrustedSet>,
    ) -> Result<CheckedTargets, TrustError> {
        self.set.check_by(
            role,
            By::Targets(self.parent, self.view.as_ref()),
            raw,
            known,
        )
    }
}

/// Who delegates the role being checked.
#[derive(Clone, Copy)]
enum By<'v, 's> {
    Root,
    /// The delegating role's name and view (`None`: not trusted).
    Targets(&'s str, Option<&'v Result<TargetsView<'s>, VerifyError>>),
}

/// The `meta` entries of a snapshot that verified, by file name; the first
/// of a repeated name, as a search of the listing finds it.
fn index_listing(doc: &CanonicalDocument) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, TrustError> {
    let env = envelope("snapshot", doc)?;
    let view = SnapshotView::new(&env).map_err(refused("snapshot"))?;
    let mut listing = BTreeMap::new();
    for (name, entry) in view.entries() {
        listing
            .entry(name.bytes().collect())
            .or_insert_with(|| entry.as_bytes().to_vec());
    }
    Ok(listing)
}

impl TrustedSet {
    /// Starts from a trusted root, which must be signed by its own root
    /// threshold. `now` is the one fixed time expiry is checked against for
    /// the whole run (`None`: expiry is not checked, for devices without a
    /// clock and callers that report it themselves).
    pub fn new(
        trusted_root: &[u8],
        key_types: &[&'static dyn KeyType],
        now: Option<UnixTime>,
    ) -> Result<Self, TrustError> {
        let root = canonical("root", trusted_root)?;
        {
            let env = envelope("root", &root)?;
            let view = RootView::new(env).map_err(|e| refused("root")(e.into()))?;
            let mut work = Work::new(root_work(&view));
            verify_root_self(env, key_types, &mut work.get()).map_err(refused("root"))?;
        }
        Ok(Self {
            key_types: key_types.to_vec(),
            now,
            root,
            timestamp: None,
            snapshot: None,
            listing: BTreeMap::new(),
            targets: BTreeMap::new(),
            generation: 0,
            accepted: 0,
            serials: BTreeMap::new(),
        })
    }

    /// The time expiry is checked against.
    pub fn now(&self) -> Option<UnixTime> {
        self.now
    }

    /// The trusted root.
    pub fn root(&self) -> RootView<'_> {
        // Accepted documents were verified as parseable when accepted.
        match self.root.envelope().and_then(RootView::new) {
            Ok(v) => v,
            Err(_) => unreachable!("an accepted root parses"),
        }
    }

    /// The trusted root's canonical bytes.
    pub fn root_bytes(&self) -> &[u8] {
        self.root.as_bytes()
    }

    /// Spec 5.3: accepts root N+1.
    pub fn update_root(&mut self, raw: &[u8]) -> Result<(), TrustError> {
        if self.timestamp.is_some() {
            return Err(TrustError::OutOfOrder {
                role: "root".into(),
                needs: "every root update before timestamp",
            });
        }
        let doc = canonical("root", raw)?;
        {
            let trusted = self.root();
            let env = envelope("root", &doc)?;
            let new = RootView::new(env).map_err(|e| refused("root")(e.into()))?;
            let mut work = Work::new(root_work(&trusted).max(root_work(&new)));
            verify_root_update(&trusted, env, &self.key_types, &mut work.get())
                .map_err(refused("root"))?;
        }
        self.root = doc;
        self.generation = self.generation.wrapping_add(1);
        Ok(())
    }

    /// Spec 5.3.10: the final root must not have expired.
    pub fn check_root_expiry(&self) -> Result<(), TrustError> {
        match self.now {
            Some(now) if self.root().common().expires <= now => {
                Err(refused("root")(WorkflowError::Expired))
            }
            _ => Ok(()),
        }
    }

    /// Spec 5.4: offers a timestamp.
    pub fn update_timestamp(&mut self, raw: &[u8]) -> Result<TimestampUpdate, TrustError> {
        self.offer_timestamp(raw, self.now)
    }

    /// Like [`TrustedSet::update_timestamp`] with expiry left to the caller
    /// (`bundle verify` reports an expired timestamp without refusing it).
    pub fn update_timestamp_ignoring_expiry(
        &mut self,
        raw: &[u8],
    ) -> Result<TimestampUpdate, TrustError> {
        self.offer_timestamp(raw, None)
    }

    fn offer_timestamp(
        &mut self,
        raw: &[u8],
        now: Option<UnixTime>,
    ) -> Result<TimestampUpdate, TrustError> {
        if self.snapshot.is_some() {
            return Err(TrustError::OutOfOrder {
                role: "timestamp".into(),
                needs: "timestamp before snapshot",
            });
        }
        let doc = canonical("timestamp", raw)?;
        let unchanged;
        {
            let root = self.root();
            let trusted_doc = self.timestamp.as_ref();
            let trusted = match trusted_doc {
                Some(t) => Some(
                    TimestampView::new(&envelope("timestamp", t)?).map_err(refused("timestamp"))?,
                ),
                None => None,
            };
            let env = envelope("timestamp", &doc)?;
            let n = root.role("timestamp").map(|r| r.keyid_count()).unwrap_or(0);
            let mut work = Work::new(n);
            let view = verify_timestamp(
                &root,
                env,
                trusted.as_ref(),
                now,
                &self.key_types,
                &mut work.get(),
            )
            .map_err(refused("timestamp"))?;
            unchanged = trusted.is_some_and(|t| t.version == view.version);
        }
        if unchanged {
            return Ok(TimestampUpdate::Unchanged);
        }
        self.timestamp = Some(doc);
        self.generation = self.generation.wrapping_add(1);
        Ok(TimestampUpdate::Updated)
    }

    /// Refuses a trusted timestamp that has expired (used when the remote
    /// timestamp had the trusted version and so was not checked again).
    pub fn check_timestamp_expiry(&self) -> Result<(), TrustError> {
        match (self.timestamp(), self.now) {
            (Some(t), Some(now)) if t.expires <= now => {
                Err(refused("timestamp")(WorkflowError::Expired))
            }
            _ => Ok(()),
        }
    }

    /// Loads a snapshot kept locally from an earlier run as the baseline for
    /// rollback checks: only its signatures are checked (it may be older than
    /// what the timestamp names, or expired), as python-tuf does for its
    /// local copy. A new snapshot must then pass [`TrustedSet::update_snapshot`].
    pub fn load_local_snapshot(&mut self, raw: &[u8]) -> Result<(), TrustError> {
        if self.timestamp.is_none() {
            return Err(TrustError::OutOfOrder {
                role: "snapshot".into(),
                needs: "timestamp",
            });
        }
        let doc = canonical("snapshot", raw)?;
        {
            let root = self.root();
            let env = envelope("snapshot", &doc)?;
            SnapshotView::new(&env).map_err(refused("snapshot"))?;
            let n = root.role("snapshot").map(|r| r.keyid_count()).unwrap_or(0);
            let mut work = Work::new(n);
            root.verify_role("snapshot", &env, &self.key_types, &mut work.get())
                .and_then(|r| r.require())
                .map_err(|e| refused("snapshot")(e.into()))?;
        }
        self.listing = index_listing(&doc)?;
        self.snapshot = Some(doc);
        self.generation = self.generation.wrapping_add(1);
        Ok(())
    }

    /// The trusted timestamp, if any.
    pub fn timestamp(&self) -> Option<TimestampView<'_>> {
        let doc = self.timestamp.as_ref()?;
        TimestampView::new(&doc.envelope().ok()?).ok()
    }

    /// Spec 5.5: offers a snapshot (`raw` as received, checked against the
    /// timestamp's length and hashes).
    pub fn update_snapshot(&mut self, raw: &[u8]) -> Result<(), TrustError> {
        self.offer_snapshot(raw, self.now)
    }

    /// Like [`TrustedSet::update_snapshot`] with expiry left to the caller.
    pub fn update_snapshot_ignoring_expiry(&mut self, raw: &[u8]) -> Result<(), TrustError> {
        self.offer_snapshot(raw, None)
    }

    fn offer_snapshot(&mut self, raw: &[u8], now: Option<UnixTime>) -> Result<(), TrustError> {
        let timestamp_doc = self.timestamp.as_ref().ok_or(TrustError::OutOfOrder {
            role: "snapshot".into(),
            needs: "timestamp",
        })?;
        if !self.targets.is_empty() {
            return Err(TrustError::OutOfOrder {
                role: "snapshot".into(),
                needs: "snapshot before targets",
            });
        }
        let doc = canonical("snapshot", raw)?;
        {
            let root = self.root();
            let timestamp = TimestampView::new(&envelope("timestamp", timestamp_doc)?)
                .map_err(refused("timestamp"))?;
            let trusted = match self.snapshot.as_ref() {
                Some(s) => Some(
                    SnapshotView::new(&envelope("snapshot", s)?).map_err(refused("snapshot"))?,
                ),
                None => None,
            };
            let env = envelope("snapshot", &doc)?;
            let n = root.role("snapshot").map(|r| r.keyid_count()).unwrap_or(0);
            let mut work = Work::new(n);
            verify_snapshot(
                &root,
                &timestamp,
                raw,
                env,
                trusted.as_ref(),
                now,
                &self.key_types,
                &mut work.get(),
            )
            .map_err(refused("snapshot"))?;
        }
        self.listing = index_listing(&doc)?;
        self.snapshot = Some(doc);
        self.generation = self.generation.wrapping_add(1);
        Ok(())
    }

    /// The trusted snapshot, if any.
    pub fn snapshot(&self) -> Option<SnapshotView<'_>> {
        let doc = self.snapshot.as_ref()?;
        SnapshotView::new(&doc.envelope().ok()?).ok()
    }

    /// Spec 5.6: offers targets role `role`, delegated by `parent` (`None`
    /// for top-level `targets`, delegated by root), with `raw` as received.
    pub fn update_targets(
        &mut self,
        role: &str,
        parent: Option<&str>,
        raw: &[u8],
    ) -> Result<(), TrustError> {
        let checked = self.check_targets(role, parent, raw)?;
        self.accept_targets(checked)
    }

    /// The checks of [`TrustedSet::update_targets`], without taking the role
    /// into the set: `&self`, so that many roles can be checked at once.
    pub fn check_targets(
        &self,
        role: &str,
        parent: Option<&str>,
        raw: &[u8],
    ) -> Result<CheckedTargets, TrustError> {
        self.check_targets_known(role, parent, raw, None)
    }

    /// Checks of the roles `parent` delegates, with `parent`'s view read
    /// once for all of them: read again for each, a role delegating 1,024
    /// hashed bins was re-read (and its delegations checked for repeated
    /// names) 1,024 times, a sixth of a staging command.
    pub fn delegated_by<'s>(&'s self, parent: &'s str) -> DelegatedChecks<'s> {
        let view = self
            .targets
            .get(parent)
            .map(|t| t.doc.envelope().and_then(TargetsView::new));
        DelegatedChecks {
            set: self,
            parent,
            view,
        }
    }

    /// The one check of a targets role under its delegator `by`, for
    /// [`TrustedSet::check_targets_known`] and [`DelegatedChecks`].
    fn check_by(
        &self,
        role: &str,
        by: By<'_, '_>,
        raw: &[u8],
        known: Option<&TrustedSet>,
    ) -> Result<CheckedTargets, TrustError> {
        let parent = match by {
            By::Root => None,
            By::Targets(parent, _) => Some(parent),
        };
        if self.snapshot.is_none() {
            return Err(TrustError::OutOfOrder {
                role: role.to_owned(),
                needs: "snapshot",
            });
        }
        if let Some(checked) = self.carried(role, parent, raw, known)? {
            return Ok(checked);
        }
        let doc = canonical(role, raw)?;
        let common = {
            let listed = self.listed(role)?;
            let env = envelope(role, &doc)?;
            let root;
            let (delegator, n) = match by {
                By::Root => {
                    root = self.root();
                    (
                        Delegator::Root(&root),
                        root.role(role).map(|r| r.keyid_count()).unwrap_or(0),
                    )
                }
                By::Targets(parent, view) => {
                    let view = view
                        .ok_or(TrustError::OutOfOrder {
                            role: role.to_owned(),
                            needs: "the delegating role",
                        })?
                        .as_ref()
                        .map_err(|e| refused(parent)(WorkflowError::from(*e)))?;
                    let n = view
                        .delegated_role(role)
                        .ok_or_else(|| refused(role)(VerifyError::UnknownRole.into()))?
                        .keys()
                        .map(|k| k.keyid_count())
                        .unwrap_or(0);
                    (Delegator::Targets(view), n)
                }
            };
            let mut work = Work::new(n);
            let (view, _) = verify_targets_listed(
                delegator,
                role.as_bytes(),
                &listed,
                raw,
                env,
                self.now,
                &self.key_types,
                &mut work.get(),
            )
            .map_err(refused(role))?;
            view.common()
        };
        Ok(self.checked(role, parent, doc, common))
    }

    /// The snapshot's `meta` entry for `role`.
    fn listed(&self, role: &str) -> Result<MetaEntry<'_>, TrustError> {
        let file_name: Vec<u8> = role.bytes().chain(*b".json").collect();
        let entry = self
            .listing
            .get(&file_name)
            .ok_or_else(|| refused(role)(WorkflowError::NotListed))?;
        Json::parse_canonical(entry)
            .map_err(|e| refused("snapshot")(VerifyError::from(e).into()))
            .and_then(|entry| MetaEntry::from_json(entry).map_err(refused("snapshot")))
    }

    fn checked(
        &self,
        role: &str,
        parent: Option<&str>,
        doc: CanonicalDocument,
        common: Common,
    ) -> CheckedTargets {
        CheckedTargets {
            role: role.to_owned(),
            doc,
            common,
            generation: self.generation,
            parent: parent.map(|p| (p.to_owned(), self.serials.get(p).copied().unwrap_or(0))),
        }
    }

    /// [`TrustedSet::check_targets`], taking from `known` (another set, for
    /// example one built from the published state a moment ago) what it
    /// verified already: when `known` trusts the same document for `role`,
    /// checked against the same delegator document (the same root for
    /// `targets`) with the same key types, its signatures met that
    /// delegator's threshold there and would meet it here, so they are not
    /// verified again. Everything else is checked as usual: the snapshot's
    /// length, hashes and version, and expiry at this set's time. In any
    /// other case (and with no `known`) this is [`TrustedSet::check_targets`].
    ///
    /// A publish re-checks every unchanged role of a release against the
    /// new snapshot; with 1,024 hashed bins that was 1,024 signature checks
    /// its own load of the published state had just made.
    pub fn check_targets_known(
        &self,
        role: &str,
        parent: Option<&str>,
        raw: &[u8],
        known: Option<&TrustedSet>,
    ) -> Result<CheckedTargets, TrustError> {
        match parent {
            None => self.check_by(role, By::Root, raw, known),
            Some(parent) => self
                .delegated_by(parent)
                .check_targets_known(role, raw, known),
        }
    }

    /// The role as `known` checked it, when that check holds here (see
    /// [`TrustedSet::check_targets_known`]) and the listing, version and
    /// expiry pass; `None` when the full check is needed.
    fn carried(
        &self,
        role: &str,
        parent: Option<&str>,
        raw: &[u8],
        known: Option<&TrustedSet>,
    ) -> Result<Option<CheckedTargets>, TrustError> {
        let Some((known, trusted)) = known.and_then(|k| Some((k, k.targets.get(role)?))) else {
            return Ok(None);
        };
        let same_delegator = match parent {
            None => self.root.as_bytes() == known.root.as_bytes(),
            Some(p) => match (self.targets.get(p), known.targets.get(p)) {
                (Some(here), Some(there)) => here.doc.as_bytes() == there.doc.as_bytes(),
                _ => false,
            },
        };
        let same_key_types = self.key_types.len() == known.key_types.len()
            && self
                .key_types
                .iter()
                .zip(&known.key_types)
                .all(|(a, b)| a.name() == b.name());
        let parent_serial = parent.map_or(0, |p| known.serials.get(p).copied().unwrap_or(0));
        let checked_under = trusted
            .under
            .contains(&(parent.map(str::to_owned), parent_serial));
        if !(same_delegator && same_key_types && checked_under) {
            return Ok(None);
        }
        // Bytes that are the checked canonical form canonicalise to it
        // (fwsign writes roles without control characters canonical): an
        // unchanged bin is not canonicalised again to find that out.
        let doc = if raw == trusted.doc.as_bytes() {
            trusted.doc.clone()
        } else {
            let doc = canonical(role, raw)?;
            if doc.as_bytes() != trusted.doc.as_bytes() {
                return Ok(None);
            }
            doc
        };
        let listed = self.listed(role)?;
        verify_targets_listed_again(&listed, raw, trusted.common, self.now)
            .map_err(refused(role))?;
        Ok(Some(self.checked(role, parent, doc, trusted.common)))
    }

    /// Trusts a role [`TrustedSet::check_targets`] passed. Refused when root,
    /// timestamp or snapshot changed since, or the delegator's document was
    /// replaced: the check no longer says anything about this set.
    pub fn accept_targets(&mut self, checked: CheckedTargets) -> Result<(), TrustError> {
        let parent_stands = checked
            .parent
            .as_ref()
            .is_none_or(|(p, serial)| self.serials.get(p) == Some(serial));
        if checked.generation != self.generation || !parent_stands {
            return Err(TrustError::OutOfOrder {
                role: checked.role,
                needs: "a check against the set as it is now",
            });
        }
        // The same document accepted again (a role two delegators reach)
        // keeps its serial: what was checked against it still holds.
        let under = checked
            .parent
            .map_or((None, 0), |(p, serial)| (Some(p), serial));
        match self.targets.get_mut(&checked.role) {
            Some(t) if t.doc.as_bytes() == checked.doc.as_bytes() => {
                t.under.insert(under);
            }
            _ => {
                self.accepted = self.accepted.wrapping_add(1);
                self.serials.insert(checked.role.clone(), self.accepted);
                self.targets.insert(
                    checked.role,
                    TrustedTargets {
                        doc: checked.doc,
                        common: checked.common,
                        under: BTreeSet::from([under]),
                    },
                );
            }
        }
        Ok(())
    }

    /// A trusted targets role, if loaded.
    pub fn targets(&self, role: &str) -> Option<TargetsView<'_>> {
        let doc = &self.targets.get(role)?.doc;
        TargetsView::new(doc.envelope().ok()?).ok()
    }

    /// The entry for `target` in trusted role `role`.
    pub fn target_in(&self, role: &str, target: &str) -> Option<TargetEntry<'_>> {
        self.targets(role)?.target(target).ok().flatten()
    }
}
