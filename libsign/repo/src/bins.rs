//! Hashed bins: one role's targets split over `N` delegated roles by the
//! SHA-256 of each target's name, for catalogues of 10^5 to 10^6 targets.
//!
//! ## Design
//!
//! The bins are classic TUF delegations with `path_hash_prefixes`, which
//! python-tuf, go-tuf and tough all read (tough cannot read TAP 15
//! `succinct_roles`; the core reads those too, see `fwsign_core::succinct`).
//! With `N = 2^b` bins, bin `i` answers for the names whose SHA-256 has `i`
//! as its top `b` bits: the same bin TAP 15 would compute, and named the
//! same way, `SET-<i in hex>`; its `path_hash_prefixes` are every hex
//! prefix of `ceil(b/4)` digits with those top bits.
//!
//! Up to [`ONE_LEVEL_MAX`] bins hang from `targets` directly. Above that
//! there are two levels, so that no delegating role grows past a few KiB
//! (a device's metadata buffer is 16 KiB): `targets` delegates to `2^(b/2)`
//! group roles `SET-g<j>`, each delegating to its `2^(b - b/2)` bins (32 x 32
//! for 1024 bins). Groups and bins are terminating, and all carry the same
//! offline approvers' keys and threshold: the online key never signs a bin
//! (`publish` signs only snapshot and timestamp), since an online-signed bin
//! would let whoever holds the CI key list any image under any name.
//!
//! Nothing records the layout but the delegations themselves: `repo add`
//! with `--role SET` routes each target by walking the staged (else
//! published) delegations named `SET-*` whose hash prefixes cover it, as a
//! client's search does, and stages each bin's share through
//! [`Repository::add_with`]. A release re-stages only the bins it changes.

use std::collections::{BTreeMap, BTreeSet};

use fwsign_core::path_match::{HashedPath, delegation_covers_path};
use fwsign_keys::PublicKey;
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{DelegatedRole, Delegations, Signed, Targets};

use crate::audit::AuditEvent;
use crate::init::{check_role_keys, check_separation, empty_targets};
use crate::names::check_delegated_role_name;
use crate::operation::Operation;
use crate::staging::{AddOptions, AddedTarget, OnExisting, Progress};
use crate::{RepoError, Repository, expires_at};

/// Most bins hung from `targets` directly; more get a second level.
pub const ONE_LEVEL_MAX: u32 = 16;
/// Most bins one set may have (`2^16`: 256 groups of 256).
pub const MAX_BINS: u32 = 1 << 16;
/// A bin's (and a group's) expiry period when created or re-staged by a
/// routed `repo add`: one year, since a bin changes only when a release
/// touches it.
pub const BIN_EXPIRY_SECS: i64 = 365 * 86_400;

/// Options for [`Repository::delegate_hashed_bins`].
#[derive(Debug, Clone)]
pub struct HashedBinsOptions {
    /// The set's name: the bins are `SET-<hex>`, the groups `SET-g<hex>`.
    pub set: String,
    /// How many bins: a power of two from 2 to [`MAX_BINS`].
    pub bins: u32,
    /// The bins' approver keys.
    pub keys: Vec<PublicKey>,
    /// How many of them must sign each bin.
    pub threshold: u64,
    /// Accept keys shared with online roles.
    pub allow_shared_key: bool,
}

/// What [`Repository::delegate_hashed_bins`] staged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HashedBins {
    /// The group roles `targets` delegates to (empty with one level).
    pub groups: Vec<String>,
    /// The bins, in order.
    pub bins: Vec<String>,
    /// The roles delegating to bins: `targets`, or the groups.
    pub delegators: Vec<String>,
}

/// One node of the layout: a name and the hash prefixes it answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinNode {
    /// The role name.
    pub name: String,
    /// Its `path_hash_prefixes`.
    pub prefixes: Vec<String>,
}

/// The roles of a set of `2^bits` bins: the groups (each with its bins) or,
/// with one level, the bins alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinLayout {
    /// `(group, its bins)`, or one entry with no group for one level.
    pub levels: Vec<(Option<BinNode>, Vec<BinNode>)>,
}

/// The hex prefixes of `ceil(bits/4)` digits whose top `bits` bits are
/// `value`.
fn prefixes(bits: u32, value: u32) -> Vec<String> {
    let digits = bits.div_ceil(4);
    let spare = digits * 4 - bits;
    let first = u64::from(value) << spare;
    let width = usize::try_from(digits).unwrap_or(8);
    (first..first + (1u64 << spare))
        .map(|p| format!("{p:0width$x}"))
        .collect()
}

/// The hex digits of numbers below `2^bits`.
fn width(bits: u32) -> usize {
    usize::try_from(bits.div_ceil(4)).unwrap_or(8)
}

impl BinLayout {
    /// The layout of `bins` bins named after `set`.
    pub fn new(set: &str, bins: u32) -> Result<Self, RepoError> {
        if !bins.is_power_of_two() || !(2..=MAX_BINS).contains(&bins) {
            return Err(RepoError::Invalid(format!(
                "--hashed-bins {bins}: the number of bins must be a power of two from 2 to {MAX_BINS}"
            )));
        }
        let bits = bins.trailing_zeros();
        let bin = |i: u32| BinNode {
            name: format!("{set}-{i:0w$x}", w = width(bits)),
            prefixes: prefixes(bits, i),
        };
        if bins <= ONE_LEVEL_MAX {
            return Ok(Self {
                levels: vec![(None, (0..bins).map(bin).collect())],
            });
        }
        let group_bits = bits / 2;
        let per_group = 1u32 << (bits - group_bits);
        let levels = (0..1u32 << group_bits)
            .map(|g| {
                let group = BinNode {
                    name: format!("{set}-g{g:0w$x}", w = width(group_bits)),
                    prefixes: prefixes(group_bits, g),
                };
                let first = g * per_group;
                (Some(group), (first..first + per_group).map(bin).collect())
            })
            .collect();
        Ok(Self { levels })
    }

    /// Every group name.
    pub fn groups(&self) -> impl Iterator<Item = &BinNode> {
        self.levels.iter().filter_map(|(g, _)| g.as_ref())
    }

    /// Every bin.
    pub fn bins(&self) -> impl Iterator<Item = &BinNode> {
        self.levels.iter().flat_map(|(_, bins)| bins)
    }
}

fn delegation(node: &BinNode, keys: &[PublicKey], threshold: u64) -> DelegatedRole {
    DelegatedRole {
        name: node.name.clone(),
        keyids: keys.iter().map(PublicKey::keyid).collect(),
        threshold,
        terminating: true,
        paths: None,
        path_hash_prefixes: Some(node.prefixes.clone()),
        unknown: BTreeMap::new(),
    }
}

/// Adds `nodes` as delegations of `doc`, with `keys`.
fn delegate_to(doc: &mut Targets, nodes: &[BinNode], keys: &[PublicKey], threshold: u64) {
    let delegations = doc.delegations.get_or_insert_with(|| Delegations {
        keys: BTreeMap::new(),
        roles: vec![],
        unknown: BTreeMap::new(),
    });
    for k in keys {
        delegations.keys.insert(k.keyid(), k.to_tuf_key());
    }
    delegations
        .roles
        .extend(nodes.iter().map(|n| delegation(n, keys, threshold)));
}

/// Whether role `name` belongs to set `set` (`SET-...`).
fn in_set(set: &str, name: &str) -> bool {
    name.strip_prefix(set)
        .is_some_and(|rest| rest.starts_with('-'))
}

impl Repository {
    /// Stages a set of hashed bins under `targets`: the delegations, the
    /// groups (two levels above [`ONE_LEVEL_MAX`] bins) and every bin,
    /// empty, each expiring in [`BIN_EXPIRY_SECS`]. `targets`, every group
    /// and every bin then need their approvers' signatures.
    pub fn delegate_hashed_bins(
        &self,
        options: &HashedBinsOptions,
        now: UnixTime,
    ) -> Result<HashedBins, RepoError> {
        check_delegated_role_name(&options.set)?;
        check_role_keys(&options.set, &options.keys, options.threshold)?;
        let layout = BinLayout::new(&options.set, options.bins)?;
        let approvers: Vec<(String, String)> = options
            .keys
            .iter()
            .map(|k| (format!("{}-*", options.set), k.keyid()))
            .collect();
        let op = self.operation();
        self.check_audit_before_staging(&op)?;
        check_separation(
            &Self::online_keyids(&op)?,
            &approvers,
            options.allow_shared_key,
        )?;
        let mut parent = self.targets_for_edit(&op, "targets", now)?;
        let existing = parent
            .signed
            .delegations
            .iter()
            .flat_map(|d| &d.roles)
            .map(|r| r.name.as_str())
            .find(|name| *name == options.set || in_set(&options.set, name));
        if let Some(name) = existing {
            return Err(RepoError::Invalid(format!(
                "targets already delegates to {name}: hashed bins {}-* need names no role has (`fwsign repo undelegate` first, or choose another set name)",
                options.set
            )));
        }
        let expires = expires_at(now, BIN_EXPIRY_SECS)?;
        let published = op.published()?;
        let mut docs: Vec<(String, Signed<Targets>)> = Vec::new();
        let fresh = |name: &str| -> Result<Signed<Targets>, RepoError> {
            check_delegated_role_name(name)?;
            if self.load_staged::<Targets>(name)?.is_some()
                || published.is_some_and(|p| p.targets.contains_key(name))
            {
                return Err(RepoError::Invalid(format!(
                    "role {name} already exists: hashed bins need names no role has"
                )));
            }
            Ok(Signed {
                signatures: vec![],
                signed: empty_targets(op.next_free_version(name, 1)?, expires.clone()),
                unknown: BTreeMap::new(),
            })
        };
        let mut outcome = HashedBins {
            groups: Vec::new(),
            bins: Vec::new(),
            delegators: Vec::new(),
        };
        for (group, bins) in &layout.levels {
            for bin in bins {
                docs.push((bin.name.clone(), fresh(&bin.name)?));
                outcome.bins.push(bin.name.clone());
            }
            match group {
                Some(group) => {
                    let mut doc = fresh(&group.name)?;
                    delegate_to(&mut doc.signed, bins, &options.keys, options.threshold);
                    docs.push((group.name.clone(), doc));
                    outcome.groups.push(group.name.clone());
                    outcome.delegators.push(group.name.clone());
                }
                None => {
                    delegate_to(&mut parent.signed, bins, &options.keys, options.threshold);
                    outcome.delegators.push("targets".into());
                }
            }
        }
        let groups: Vec<BinNode> = layout.groups().cloned().collect();
        delegate_to(
            &mut parent.signed,
            &groups,
            &options.keys,
            options.threshold,
        );
        {
            let mut changed: Vec<(&str, &Signed<Targets>)> = vec![("targets", &parent)];
            changed.extend(docs.iter().map(|(n, d)| (n.as_str(), d)));
            self.check_stays_publishable(&op, None, &changed)?;
        }
        self.audit(
            &AuditEvent {
                action: "stage".into(),
                role: Some(options.set.clone()),
                detail: Some(format!(
                    "delegate hashed bins {}-*: {} bins in {} group(s) to {} key(s), threshold {}",
                    options.set,
                    options.bins,
                    outcome.groups.len(),
                    options.keys.len(),
                    options.threshold
                )),
                ..AuditEvent::default()
            },
            now,
        )?;
        // Bins first, then groups (saved durable together, in that order),
        // then `targets`: should saving stop part way, what is left is
        // roles waiting for signatures, never a delegation to a role that
        // is not staged.
        let mut saved = Vec::with_capacity(docs.len());
        for (name, mut doc) in docs {
            self.record_audit_head(&mut doc.signed.unknown)?;
            saved.push((name, doc));
        }
        self.save_all_edited(saved, now)?;
        self.record_audit_head(&mut parent.signed.unknown)?;
        self.save_edited("targets", parent, now)?;
        Ok(outcome)
    }

    /// Whether `set` names a set of hashed bins `targets` delegates to.
    pub fn is_hashed_bin_set(&self, set: &str) -> Result<bool, RepoError> {
        self.is_hashed_bin_set_in(&self.operation(), set)
    }

    fn is_hashed_bin_set_in(&self, op: &Operation<'_>, set: &str) -> Result<bool, RepoError> {
        Ok(op.current_targets("targets")?.is_some_and(|t| {
            t.signed
                .delegations
                .iter()
                .flat_map(|d| &d.roles)
                .any(|r| in_set(set, &r.name) && r.path_hash_prefixes.is_some())
        }))
    }

    /// When `role` is a bin (or a group) of a set of hashed bins, the bin
    /// of that set `name` routes to: where a target named after another
    /// (an SBOM after its firmware) is listed, since clients find every
    /// target by hashing its own name. `None` when `role` is no such role.
    pub(crate) fn sibling_bin(
        &self,
        op: &Operation<'_>,
        role: &str,
        name: &str,
    ) -> Result<Option<String>, RepoError> {
        let Some((set, _)) = role.rsplit_once('-') else {
            return Ok(None);
        };
        if !self.is_hashed_bin_set_in(op, set)? {
            return Ok(None);
        }
        Ok(self.route_to_bins_in(op, set, &[name])?.pop())
    }

    /// The bin of set `set` that answers for each of `names`: the search's
    /// walk from `targets` through the `SET-*` delegations whose hash
    /// prefixes cover the name, down to a role with no covering child.
    pub fn route_to_bins(&self, set: &str, names: &[&str]) -> Result<Vec<String>, RepoError> {
        // One operation: the published state is read once for every name.
        self.route_to_bins_in(&self.operation(), set, names)
    }

    fn route_to_bins_in(
        &self,
        op: &Operation<'_>,
        set: &str,
        names: &[&str],
    ) -> Result<Vec<String>, RepoError> {
        // Each role's delegations only: a bin's targets are not needed to
        // route, and cloning every bin would copy the whole catalogue.
        let mut docs: BTreeMap<String, Option<Option<Delegations>>> = BTreeMap::new();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            // Hashed once for all the bins it is tested against.
            let hashed = HashedPath::new(name);
            let mut role = "targets".to_owned();
            loop {
                if !docs.contains_key(&role) {
                    let doc = op
                        .current_targets(&role)?
                        .map(|d| d.signed.delegations.clone());
                    docs.insert(role.clone(), doc);
                }
                let next = docs
                    .get(&role)
                    .and_then(Option::as_ref)
                    .and_then(Option::as_ref)
                    .and_then(|d| {
                        d.roles.iter().find(|r| {
                            in_set(set, &r.name)
                                && r.path_hash_prefixes.is_some()
                                && delegation_covers_path(
                                    None,
                                    r.path_hash_prefixes.as_deref(),
                                    &hashed,
                                )
                        })
                    })
                    .map(|r| r.name.clone());
                match next {
                    Some(next) => role = next,
                    None => break,
                }
            }
            if role == "targets" {
                return Err(RepoError::Invalid(format!(
                    "no hashed bin {set}-* covers {name} (`fwsign repo delegate --role {set} --hashed-bins N` creates them)"
                )));
            }
            out.push(role);
        }
        Ok(out)
    }

    /// Where `repo add` stages `options.targets`: in `options.role`, or,
    /// when it names a set of hashed bins, each target in its bin. The
    /// add routes once (the bins are found by walking delegations) and
    /// stages along the answer, which a command that must know the roles
    /// before staging (whose approvals the add drops) is shown
    /// ([`Repository::add_routed_reporting`]).
    fn route_add_in(
        &self,
        op: &Operation<'_>,
        options: &AddOptions,
    ) -> Result<AddRouting, RepoError> {
        // A role that is staged (or `targets`) is a role, not a set: no
        // published state is read for the common case.
        crate::names::check_role_name(&options.role)?;
        let staged = self
            .staged_dir()
            .join(format!("{}.json", options.role))
            .exists();
        if options.role == "targets" || staged || !self.is_hashed_bin_set_in(op, &options.role)? {
            return Ok(AddRouting {
                role: options.role.clone(),
                bins: None,
                sbom_bin: None,
            });
        }
        let names: Vec<&str> = options.targets.iter().map(|t| t.name.as_str()).collect();
        // The SBOM (`--sbom`) is listed in the bin its own name routes to,
        // not its firmware's: clients find every target by hashing its own
        // name (TUF's `path_hash_prefixes`). Its name takes the suffix of
        // its format, so the file is read and checked here to route it.
        let sbom_bin = match self.sbom_name(options)? {
            Some(name) => self.route_to_bins_in(op, &options.role, &[&name])?.pop(),
            None => None,
        };
        Ok(AddRouting {
            role: options.role.clone(),
            bins: Some(self.route_to_bins_in(op, &options.role, &names)?),
            sbom_bin,
        })
    }

    /// `repo add`: routes the targets (to the role, or to the bins of a set
    /// of hashed bins) and stages them there.
    pub fn add_routed(
        &self,
        options: &AddOptions,
        on_existing: OnExisting,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<(String, AddedTarget)>, RepoError> {
        self.add_routed_reporting(options, on_existing, now, progress, &mut |_| Ok(()))
    }

    /// [`Repository::add_routed`], handing the routing to `before` ahead of
    /// staging (`repo add` notes whose approvals each role it changes had),
    /// with one read of the published state for the routing and the add.
    /// The caller holds the exclusive lock throughout.
    pub fn add_routed_reporting(
        &self,
        options: &AddOptions,
        on_existing: OnExisting,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
        before: &mut dyn FnMut(&AddRouting) -> Result<(), RepoError>,
    ) -> Result<Vec<(String, AddedTarget)>, RepoError> {
        let op = self.operation();
        let routing = self.route_add_in(&op, options)?;
        before(&routing)?;
        self.add_routed_in(&op, options, &routing, on_existing, now, progress)
    }

    /// [`Repository::add_with`] along `routing` (the routing of the same
    /// `options`, in `op`): into the role, or one share per bin
    /// changed (a bin re-staged this way expires in [`BIN_EXPIRY_SECS`]).
    /// Returns every added target with the role that lists it.
    fn add_routed_in(
        &self,
        op: &Operation<'_>,
        options: &AddOptions,
        routing: &AddRouting,
        on_existing: OnExisting,
        now: UnixTime,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<(String, AddedTarget)>, RepoError> {
        if routing.role != options.role
            || routing
                .bins
                .as_ref()
                .is_some_and(|b| b.len() != options.targets.len())
        {
            return Err(RepoError::Invalid(format!(
                "the routing given is not for this add to {}",
                options.role
            )));
        }
        let Some(bins) = &routing.bins else {
            let added = self.add_to_role(op, options, on_existing, now, progress)?;
            return Ok(added
                .into_iter()
                .map(|t| (options.role.clone(), t))
                .collect());
        };
        if options.sbom.is_some() != routing.sbom_bin.is_some() {
            return Err(RepoError::Invalid(format!(
                "the routing given is not for this add to {}",
                options.role
            )));
        }
        let mut by_bin: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for (target, bin) in options.targets.iter().zip(bins) {
            by_bin.entry(bin.as_str()).or_default().push(target.clone());
        }
        // Each bin's share takes the options but not the whole target list:
        // cloning that for every bin was quadratic (100,000 targets over
        // 1,024 bins: 10^8 path copies).
        let shell = AddOptions {
            targets: Vec::new(),
            ..options.clone()
        };
        let shares: Vec<AddOptions> = by_bin
            .into_iter()
            .map(|(bin, targets)| AddOptions {
                role: bin.to_owned(),
                targets,
                ..shell.clone()
            })
            .collect();
        // One command over every bin it changes (the history checked and
        // the copies made durable once), each re-staged bin expiring in
        // `BIN_EXPIRY_SECS` rather than the delegated roles' period (its
        // approvals are dropped by the change, so none is invalidated).
        let expires = expires_at(now, BIN_EXPIRY_SECS)?;
        // The SBOM goes to its own bin, re-staged in the same command.
        let added = self.add_to_roles(
            op,
            &shares,
            routing.sbom_bin.as_deref(),
            on_existing,
            now,
            Some(expires),
            progress,
        )?;
        Ok(added
            .into_iter()
            .flat_map(|(role, added)| added.into_iter().map(move |t| (role.clone(), t)))
            .collect())
    }
}

/// Where an add stages its targets ([`Repository::add_routed_reporting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddRouting {
    role: String,
    /// Each target's bin, in the add's order, when the role is a set.
    bins: Option<Vec<String>>,
    /// The bin the SBOM's own name routes to (`--sbom` into a set).
    sbom_bin: Option<String>,
}

impl AddRouting {
    /// The roles the add stages, each once, in name order: the role, or
    /// the bins its targets go to.
    pub fn roles(&self) -> Vec<String> {
        match &self.bins {
            None => vec![self.role.clone()],
            Some(bins) => bins
                .iter()
                .chain(&self.sbom_bin)
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }
}

/// What a staged targets role changes in the targets it lists, against
/// its published version.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetChanges {
    /// Names listed now and not before.
    pub added: Vec<String>,
    /// Names listed before with other bytes or fields.
    pub changed: Vec<String>,
    /// Names listed before and not now.
    pub removed: Vec<String>,
}

impl TargetChanges {
    /// One line for people: the names, a few of each.
    pub fn summary(&self) -> String {
        let few = |what: &str, names: &[String]| {
            let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            let more = names.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("{what} {}{tail}", shown.join(", "))
        };
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(few("adds", &self.added));
        }
        if !self.changed.is_empty() {
            parts.push(few("changes", &self.changed));
        }
        if !self.removed.is_empty() {
            parts.push(few("removes", &self.removed));
        }
        if parts.is_empty() {
            "no change to the targets it lists".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

impl Repository {
    /// [`TargetChanges`] of staged `role` (empty for a role that is not a
    /// staged targets role).
    pub fn staged_target_changes(&self, role: &str) -> Result<TargetChanges, RepoError> {
        self.staged_target_changes_in(&self.operation(), role)
    }

    /// [`Repository::staged_target_changes`] in `op`, for a caller asking
    /// about many roles (the published state is read once).
    pub(crate) fn staged_target_changes_in(
        &self,
        op: &Operation<'_>,
        role: &str,
    ) -> Result<TargetChanges, RepoError> {
        if ["root", "snapshot", "timestamp"].contains(&role) {
            return Ok(TargetChanges::default());
        }
        let Some(staged) = self.load_staged::<Targets>(role)? else {
            return Ok(TargetChanges::default());
        };
        target_changes(op, role, &staged)
    }
}

/// What staged targets role `role`, as `staged`, adds, changes and removes
/// against its published version.
pub(crate) fn target_changes(
    op: &Operation<'_>,
    role: &str,
    staged: &Signed<Targets>,
) -> Result<TargetChanges, RepoError> {
    let published = op.published()?;
    let nothing = BTreeMap::new();
    let before = published
        .and_then(|p| p.targets.get(role))
        .map_or(&nothing, |d| &d.signed.targets);
    let now = &staged.signed.targets;
    Ok(TargetChanges {
        added: now
            .keys()
            .filter(|n| !before.contains_key(*n))
            .cloned()
            .collect(),
        changed: now
            .iter()
            .filter(|(n, t)| before.get(*n).is_some_and(|b| b != *t))
            .map(|(n, _)| n.clone())
            .collect(),
        removed: before
            .keys()
            .filter(|n| !now.contains_key(*n))
            .cloned()
            .collect(),
    })
}

/// The staged roles matching `pattern` (python-tuf's `fnmatch` rules: `*`,
/// `?`, `[seq]`), in name order; `repo sign` and `repo extend` take one.
pub fn matching_roles(roles: &[String], pattern: &str) -> Vec<String> {
    let set: BTreeSet<&String> = roles
        .iter()
        .filter(|r| fwsign_core::path_match::path_matches(pattern, r))
        .collect();
    set.into_iter().cloned().collect()
}

/// Whether a `--role` value is a pattern rather than a role name.
pub fn is_pattern(role: &str) -> bool {
    role.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_level_bins_split_the_prefixes_evenly() {
        let layout = BinLayout::new("bins", 8).unwrap();
        assert_eq!(layout.groups().count(), 0);
        let bins: Vec<_> = layout.bins().collect();
        assert_eq!(bins.len(), 8);
        assert_eq!(bins[0].name, "bins-0");
        assert_eq!(bins[0].prefixes, ["0", "1"]);
        assert_eq!(bins[7].prefixes, ["e", "f"]);
    }

    #[test]
    fn two_levels_cover_every_prefix_once() {
        let layout = BinLayout::new("bins", 1024).unwrap();
        assert_eq!(layout.groups().count(), 32);
        assert_eq!(layout.bins().count(), 1024);
        let mut seen = BTreeSet::new();
        for (group, bins) in &layout.levels {
            let group = group.as_ref().unwrap();
            for bin in bins {
                for p in &bin.prefixes {
                    assert_eq!(p.len(), 3);
                    // Every bin prefix lies under its group's.
                    assert!(group.prefixes.iter().any(|g| p.starts_with(g.as_str())));
                    assert!(seen.insert(p.clone()));
                }
            }
        }
        assert_eq!(seen.len(), 4096);
        assert_eq!(layout.bins().nth(0x31f).unwrap().name, "bins-31f");
    }

    /// The bin a name's hash prefixes select is the bin TAP 15 computes
    /// (python-tuf 7.0.1: `firmware/board-1/v1.bin` -> `bins-31f` of 1024).
    #[test]
    fn a_names_bin_is_the_tap_15_bin() {
        let layout = BinLayout::new("bins", 1024).unwrap();
        for name in ["firmware/board-1/v1.bin", "x", "a"] {
            let covering: Vec<_> = layout
                .bins()
                .filter(|b| {
                    fwsign_core::path_match::delegation_covers_names(
                        None,
                        Some(&b.prefixes[..]),
                        name,
                    )
                })
                .collect();
            assert_eq!(covering.len(), 1);
            let bin = fwsign_core::succinct::bin_for(10, name.as_bytes());
            assert_eq!(covering[0].name, format!("bins-{bin:03x}"));
        }
    }

    #[test]
    fn bin_counts_must_be_powers_of_two() {
        for bad in [0, 1, 3, 1000, MAX_BINS * 2] {
            assert!(BinLayout::new("bins", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_match_role_names() {
        let roles: Vec<String> = ["bins-0", "bins-g1", "board-a", "targets"]
            .map(String::from)
            .to_vec();
        assert_eq!(matching_roles(&roles, "bins-*"), ["bins-0", "bins-g1"]);
        assert!(is_pattern("bins-*") && !is_pattern("bins-0"));
    }
}
