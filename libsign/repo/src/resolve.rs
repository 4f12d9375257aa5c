//! Which role answers for a target name in this repository: the core's one
//! search ([`fwsign_core::search::search_target`]) over the published metadata,
//! or over what a publish is about to write. `device pack` packs the path it
//! finds; `repo publish` warns about names other roles also cover.
//!
//! The repository never searches on its own: the order, the stopping rules
//! and every check on a role are the core's, exactly as the TUF client,
//! `bundle verify` and the bootloader run them.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use fwsign_manifest_schema::metadata::{DelegatedRole, Signed, Targets};
use serde::Serialize;

use super::RepoError;
use crate::staging::parallel::map_parallel;
use cover_index::{Cover, CoverIndex};
use fwsign_core::key_types::BUILTIN;
use fwsign_core::path_match::{HashedPath, delegation_covers_path};
use fwsign_core::search::{RoleBytes, RoleLoader, SearchError, SnapshotCheck};
use fwsign_core::succinct::SuccinctRoles;
use fwsign_core::verify::{RootView, TargetsView, ThresholdWork, VerifyError};
use fwsign_core::workflow::{SnapshotView, WorkflowError};
use fwsign_keys::document::CanonicalDocument;
use fwsign_keys::search_host::{self, Arena, Memory, role_name};

mod cover_index;

/// Reads the bytes of targets role `role` at `version` as published (or as
/// a publish will write them).
pub(crate) type Read<'r> = dyn FnMut(&str, u64) -> Result<Vec<u8>, RepoError> + 'r;

/// One role on the path from `targets` to the role listing a target.
#[derive(Debug, Clone)]
pub(crate) struct ChainRole {
    /// The role.
    pub(crate) role: String,
    /// Its canonical envelope.
    pub(crate) envelope: Vec<u8>,
    /// How many key IDs its delegator authorises for it.
    pub(crate) keyids: usize,
}

/// A role the search loaded that is not on the path: a covering role
/// searched before the lister that does not list the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SideRole {
    /// The role.
    pub(crate) role: String,
    /// The role it was reached through.
    pub(crate) delegator: String,
}

/// A target as the core's search resolves it.
#[derive(Debug, Clone)]
pub(crate) struct Resolution {
    /// `targets` down to the role listing the target.
    pub(crate) chain: Vec<ChainRole>,
    /// Roles searched besides the chain, in search order.
    pub(crate) side: Vec<SideRole>,
    /// The entry's length.
    pub(crate) length: u64,
    /// The entry's SHA-256, hex, if listed.
    pub(crate) sha256: Option<String>,
    /// Why no device could take the entry (no firmware fields), as the
    /// core's [`fwsign_core::target_check::device_firmware`] decides it.
    pub(crate) device_refusal: Option<fwsign_core::target_check::TargetRefusal>,
}

impl Resolution {
    /// The role listing the target.
    pub(crate) fn lister(&self) -> &str {
        self.chain.last().map_or("targets", |c| c.role.as_str())
    }

    /// The chain's role names, `targets` first.
    pub(crate) fn path(&self) -> Vec<&str> {
        self.chain.iter().map(|c| c.role.as_str()).collect()
    }
}

struct Loader<'f, 'g, 'a> {
    arena: &'a Arena,
    snapshot: SnapshotView<'a>,
    read: &'f mut Read<'g>,
    memory: Memory,
    loaded: Vec<(&'a [u8], RoleBytes<'a>)>,
}

impl<'a> RoleLoader<'a> for Loader<'_, '_, 'a> {
    type Error = RepoError;

    fn load(
        &mut self,
        role: &'a [u8],
        _delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, RepoError> {
        let name = role_name(role);
        let listed = self
            .snapshot
            .targets_role(role)
            .map_err(|source| refused("snapshot", source))?;
        let Some(listed) = listed else {
            return Ok(None);
        };
        let raw = (self.read)(&name, listed.version)?;
        let bytes = self
            .arena
            .role(&raw)
            .map_err(|source| RepoError::Document {
                context: format!("published {name}"),
                source,
            })?;
        self.loaded.push((role, bytes));
        Ok(Some(bytes))
    }

    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]> {
        Some(self.arena.bin_name(&bins.bin_name(bin)))
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.memory.work(keyids)
    }
}

fn refused(role: &str, source: WorkflowError) -> RepoError {
    RepoError::Refused {
        role: role.to_owned(),
        source,
    }
}

/// Runs the core's search for `target` over a repository state: `root` and
/// `snapshot` (canonical) and the roles `read` returns, each checked
/// against the snapshot and its delegator's threshold (expiry is not
/// checked: a slot or a warning is made for devices whose clock may be
/// anywhere). `Ok(None)`: no searched role lists the target.
pub(crate) fn resolve(
    root: &CanonicalDocument,
    snapshot: &CanonicalDocument,
    target: &str,
    read: &mut Read<'_>,
) -> Result<Option<Resolution>, RepoError> {
    let malformed = |context: &str| {
        let context = context.to_owned();
        move |e: VerifyError| RepoError::Document {
            context,
            source: e.into(),
        }
    };
    let root_view = RootView::new(root.envelope().map_err(malformed("published root"))?)
        .map_err(malformed("published root"))?;
    let snapshot_view = SnapshotView::new(
        &snapshot
            .envelope()
            .map_err(malformed("published snapshot"))?,
    )
    .map_err(|source| refused("snapshot", source))?;
    let arena = Arena::new();
    let mut loader = Loader {
        arena: &arena,
        snapshot: snapshot_view,
        read,
        memory: Memory::default(),
        loaded: Vec::new(),
    };
    let check = SnapshotCheck {
        snapshot: snapshot_view,
        now: None,
    };
    let outcome = search_host::run(&root_view, &check, target, &mut loader, BUILTIN).map_err(
        |e| match e {
            SearchError::Load(e) => e,
            SearchError::Missing { role, delegator } => RepoError::Invalid(format!(
                "{} delegates {}, which the snapshot does not list",
                role_name(delegator),
                role_name(role)
            )),
            SearchError::Refused { role, error } => refused(&role_name(role), error),
            // DelegationLimit, CapacityExceeded, and any reason added later.
            _ => RepoError::Invalid(format!(
                "the search for {target} would visit more than {} delegated roles",
                fwsign_core::search::MAX_DELEGATIONS
            )),
        },
    )?;
    let Some(found) = outcome.found else {
        return Ok(None);
    };
    let mut chain = Vec::new();
    let mut parent: Option<TargetsView<'_>> = None;
    for role in &outcome.path {
        let keyids = match &parent {
            None => root_view.role(role).map(|k| k.keyid_count()).unwrap_or(0),
            Some(p) => p
                .delegated_role(role)
                .and_then(|d| d.keys().ok())
                .map_or(0, |k| k.keyid_count()),
        };
        let envelope = loader
            .loaded
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, b)| b.canonical.to_vec())
            .unwrap_or_default();
        chain.push(ChainRole {
            role: role_name(role),
            envelope,
            keyids,
        });
        parent = outcome.view(role);
    }
    let side = outcome
        .side_roles()
        .map(|v| SideRole {
            role: role_name(v.role),
            delegator: role_name(v.delegator),
        })
        .collect();
    Ok(Some(Resolution {
        chain,
        side,
        length: found.entry.length,
        sha256: found
            .entry
            .sha256
            .and_then(|h| h.as_plain())
            .map(str::to_owned),
        device_refusal: fwsign_core::target_check::device_firmware(&found.entry).err(),
    }))
}

/// `role`'s delegation entry in `delegator`, if any.
pub(crate) fn delegation<'d>(
    roles: &'d BTreeMap<String, Signed<Targets>>,
    delegator: &str,
    role: &str,
) -> Option<&'d DelegatedRole> {
    roles
        .get(delegator)?
        .signed
        .delegations
        .as_ref()?
        .roles
        .iter()
        .find(|d| d.name == role)
}

/// "`delegator` delegates `role` for paths [...]" (or hash prefixes), for
/// messages.
pub(crate) fn describe(delegator: &str, entry: Option<&DelegatedRole>, role: &str) -> String {
    let Some(d) = entry else {
        return format!("{delegator} delegates {role}");
    };
    let scope = match (&d.paths, &d.path_hash_prefixes) {
        (Some(paths), _) => format!("paths {}", paths.join(", ")),
        (None, Some(prefixes)) => format!("path hash prefixes {}", prefixes.join(", ")),
        (None, None) => "nothing".to_owned(),
    };
    let terminating = if d.terminating { ", terminating" } else { "" };
    format!("{delegator} delegates {role} ({scope}{terminating})")
}

/// A `repo publish` warning: another role also covers a published target,
/// so a bootloader built before fwsign ran the one search on the device
/// (which accepted any chain whose delegations cover the name) would accept
/// that role's entry for the name instead of the one the search chooses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowedDelegation {
    /// Always `"shadowed-delegation"`.
    pub reason: &'static str,
    /// The target.
    pub target: String,
    /// The role the search takes its entry from.
    pub listed_by: String,
    /// The other role that covers the name.
    pub role: String,
    /// The role delegating it.
    pub delegator: String,
    /// The delegation's `paths`, if it has them.
    pub paths: Option<Vec<String>>,
    /// The delegation's `path_hash_prefixes`, if it has them.
    pub path_hash_prefixes: Option<Vec<String>>,
}

impl std::fmt::Display for ShadowedDelegation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scope = match (&self.paths, &self.path_hash_prefixes) {
            (Some(paths), _) => format!("paths {}", paths.join(", ")),
            (None, Some(prefixes)) => format!("path hash prefixes {}", prefixes.join(", ")),
            (None, None) => "nothing".to_owned(),
        };
        write!(
            f,
            "{}: {} delegates {} ({scope}), which also covers this name; the search takes the entry of {}, but bootloaders built before the on-device search would accept an entry {} signs for it (update them, or narrow the delegation)",
            self.target, self.delegator, self.role, self.listed_by, self.role
        )
    }
}

/// Whether the delegations covering `name` form a single chain from
/// `targets` (one covering delegation per role along it) whose last role
/// alone lists the name. The search then reaches the name through every
/// covering delegation, so none can be shadowed and no search is needed.
/// That is every name of a hashed-bin layout (`targets` -> group -> bin),
/// where searching each name (loading and checking three roles) made
/// publishing 10,000 binned targets take half a minute of CPU. Anything
/// else (a fork, a name listed on the way, a role not at hand) is left to
/// the search.
fn one_covering_chain<D: Borrow<Signed<Targets>> + Sync>(
    roles: &BTreeMap<String, D>,
    indexes: &BTreeMap<&str, CoverIndex<'_>>,
    name: &HashedPath<'_>,
) -> bool {
    let mut role = "targets";
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    loop {
        if !seen.insert(role) {
            return false;
        }
        let Some(doc) = roles.get(role).map(Borrow::borrow) else {
            return false;
        };
        let doc: &Signed<Targets> = doc;
        let listed_here = doc.signed.targets.contains_key(name.path());
        let cover = indexes
            .get(role)
            .map_or(Cover::None, |index| index.sole_cover(name));
        match cover {
            Cover::None => return listed_here,
            Cover::One(next) if !listed_here => role = next.name.as_str(),
            _ => return false,
        }
    }
}

/// Each role's delegations, indexed by the hash prefixes they cover.
fn cover_indexes<D: Borrow<Signed<Targets>>>(
    roles: &BTreeMap<String, D>,
) -> BTreeMap<&str, CoverIndex<'_>> {
    roles
        .iter()
        .filter_map(|(name, doc)| {
            let delegations = doc.borrow().signed.delegations.as_ref()?;
            Some((name.as_str(), CoverIndex::new(&delegations.roles)))
        })
        .collect()
}

/// Names one worker step of [`shadowed_delegations`] takes.
const NAMES_PER_WORKER_STEP: usize = 4096;

/// For every target some role of `roles` lists, the other roles that cover
/// its name: reachable from `targets` through delegations that cover it and
/// not on the path the search takes to its entry. A name the search does
/// not find, or cannot search (a role failing its checks), gets no warning
/// here; `device pack` and the clients refuse those.
pub(crate) fn shadowed_delegations<D: Borrow<Signed<Targets>> + Sync>(
    root: &CanonicalDocument,
    snapshot: &CanonicalDocument,
    roles: &BTreeMap<String, D>,
    read: &mut Read<'_>,
) -> Vec<ShadowedDelegation> {
    let docs = || roles.values().map(Borrow::<Signed<Targets>>::borrow);
    let mut names: Vec<&String> = docs().flat_map(|r| r.signed.targets.keys()).collect();
    names.sort_unstable();
    names.dedup();
    let every_delegation =
        CoverIndex::new(docs().flat_map(|r| r.signed.delegations.iter().flat_map(|d| &d.roles)));
    let indexes = cover_indexes(roles);
    // Which names need the search, worked out on every core: 10^5 names
    // one after another were a third of a publish in 1,024 bins.
    let chunks: Vec<&[&String]> = names.chunks(NAMES_PER_WORKER_STEP).collect();
    let needs_search: Vec<bool> = map_parallel(
        &chunks,
        || (),
        |(), chunk, _| {
            Ok(chunk
                .iter()
                .map(|name| {
                    // Hashed once for every delegation it is tested against
                    // (hashing it per delegation was 10^8 hashes at 10^5
                    // targets in 1,024 bins), and looked up in the indexes
                    // rather than tested against each.
                    let hashed = HashedPath::new(name);
                    // Only a delegation covering the name can be warned
                    // about, so a name no delegation covers (every name, in
                    // a repository without delegations) needs no search: the
                    // search loads and checks whole roles, and one per name
                    // made publishing quadratic in the targets.
                    let covered = !matches!(every_delegation.sole_cover(&hashed), Cover::None);
                    covered && !one_covering_chain(roles, &indexes, &hashed)
                })
                .collect::<Vec<bool>>())
        },
        &mut |_| {},
    )
    // The work never fails, so neither does the pool.
    .map_or_else(|_| vec![true; names.len()], |c| c.concat());
    let mut warnings = Vec::new();
    for (name, _) in names.into_iter().zip(needs_search).filter(|(_, s)| *s) {
        let hashed = HashedPath::new(name);
        let Ok(Some(resolution)) = resolve(root, snapshot, name, read) else {
            continue;
        };
        let path = resolution.path();
        // Delegations covering the name, breadth-first from `targets`, each
        // role once (the old device rule: any such chain was accepted).
        let mut reached: BTreeSet<&str> = BTreeSet::from(["targets"]);
        let mut pending = vec!["targets"];
        while let Some(delegator) = pending.pop() {
            let Some(doc) = roles.get(delegator) else {
                continue;
            };
            let doc: &Signed<Targets> = doc.borrow();
            for d in doc.signed.delegations.iter().flat_map(|d| &d.roles) {
                if !delegation_covers_path(
                    d.paths.as_deref(),
                    d.path_hash_prefixes.as_deref(),
                    &hashed,
                ) {
                    continue;
                }
                if !path.contains(&d.name.as_str()) {
                    warnings.push(ShadowedDelegation {
                        reason: "shadowed-delegation",
                        target: name.clone(),
                        listed_by: resolution.lister().to_owned(),
                        role: d.name.clone(),
                        delegator: delegator.to_owned(),
                        paths: d.paths.clone(),
                        path_hash_prefixes: d.path_hash_prefixes.clone(),
                    });
                }
                if reached.insert(d.name.as_str()) {
                    pending.push(d.name.as_str());
                }
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use fwsign_manifest_schema::expiry::UnixTime;

    use super::super::staging::{AddOptions, DelegateOptions, NewTarget};
    use super::super::{DeviceCapacity, ExpiryPolicy, InitOptions, RepoError, Repository};
    use fwsign_keys::PrivateKey;

    const NOW: UnixTime = UnixTime(1_700_000_000);
    const NAME: &str = "evc-a1/fw.bin";

    use crate::test_key as key;

    /// A repository: targets 2 of 3, online keys, root signed.
    struct Repo {
        dir: PathBuf,
        repo: Repository,
        targets: [PrivateKey; 3],
        online: PrivateKey,
        delegated: Vec<(String, PrivateKey)>,
        /// Owns `dir`: removes it when the fixture is dropped (last), also
        /// when the test fails.
        _scratch: tempfile::TempDir,
    }

    impl Repo {
        fn new(name: &str) -> Self {
            let scratch = tempfile::Builder::new()
                .prefix(&format!("fwsign-resolve-{name}-"))
                .tempdir()
                .unwrap();
            let dir = scratch.path().to_path_buf();
            let root = key();
            let targets = [key(), key(), key()];
            let online = key();
            let options = InitOptions {
                root_keys: vec![root.public_key().clone()],
                root_threshold: 1,
                targets_keys: targets.iter().map(|k| k.public_key().clone()).collect(),
                targets_threshold: 2,
                snapshot_key: online.public_key().clone(),
                timestamp_key: online.public_key().clone(),
                expiry: ExpiryPolicy::default(),
                allow_shared_key: true,
            };
            let repo = Repository::init(dir.join("repo"), &options, NOW).unwrap();
            repo.sign("root", &root, NOW).unwrap();
            Self {
                dir,
                repo,
                targets,
                online,
                delegated: Vec::new(),
                _scratch: scratch,
            }
        }

        fn delegate(&mut self, role: &str, terminating: bool) {
            let k = key();
            let options = DelegateOptions {
                role: role.to_owned(),
                keys: vec![k.public_key().clone()],
                threshold: 1,
                paths: vec!["evc-a1/*".to_owned()],
                terminating,
                allow_shared_key: false,
            };
            self.repo.delegate(&options, NOW).unwrap();
            self.delegated.push((role.to_owned(), k));
        }

        fn add(&self, role: &str, name: &str, contents: &[u8]) {
            let file = self.dir.join(format!("{role}.bin"));
            std::fs::write(&file, contents).unwrap();
            let options = AddOptions {
                role: role.to_owned(),
                targets: vec![NewTarget {
                    file,
                    name: name.to_owned(),
                }],
                hardware_ids: vec!["evc-a1".to_owned()],
                version: "1.0.0".to_owned(),
                security_counter: 1,
                min_bootloader_version: None,
                sbom_sha256: None,
                sbom: None,
                sha512: false,
                custom: vec![],
            };
            self.repo.add(&options, NOW, &mut |_| {}).unwrap();
        }

        /// Signs every staged role and publishes; the publish warnings.
        fn publish(&self) -> Vec<(String, String)> {
            let staged = self.repo.staged_roles().unwrap();
            for role in &staged {
                match role.as_str() {
                    "root" => {}
                    "targets" => {
                        for k in &self.targets[..2] {
                            self.repo.sign("targets", k, NOW).unwrap();
                        }
                    }
                    other => {
                        let (_, k) = self.delegated.iter().find(|(r, _)| r == other).unwrap();
                        self.repo.sign(other, k, NOW).unwrap();
                    }
                }
            }
            let outcome = self
                .repo
                .publish(&self.online, &self.online, NOW, &mut |_| {})
                .unwrap();
            outcome
                .warnings
                .iter()
                .map(|w| (w.target.clone(), w.role.clone()))
                .collect()
        }
    }

    #[test]
    fn nightly_entry_never_reaches_a_slot_when_targets_lists_the_name() {
        // The issue-12 attack: the 2-of-3 targets lists the image, and a
        // 1-of-1 nightly role covering the path lists another under the same
        // name. The device gets the targets entry, with `targets` alone.
        let mut r = Repo::new("nightly");
        r.delegate("nightly", false);
        r.add("targets", NAME, b"release image");
        // Warned already: nightly covers the name, and bootloaders without
        // the on-device search would take nightly's entry once it has one.
        let warned = [(NAME.to_owned(), "nightly".to_owned())];
        assert_eq!(r.publish(), warned);
        r.add("nightly", NAME, b"nightly image");
        assert_eq!(r.publish(), warned);
        let material = r.repo.device_material(NAME, 0).unwrap();
        let chain: Vec<&str> = material.chain.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(chain, ["targets"]);
        assert_eq!(material.chain_keyids, [3]);
        assert_eq!(material.length, b"release image".len() as u64);
    }

    #[test]
    fn terminating_role_that_does_not_list_the_name_ends_the_search() {
        let mut r = Repo::new("terminating");
        r.delegate("release", true);
        r.delegate("nightly", false);
        r.add("release", "evc-a1/other.bin", b"other");
        r.add("nightly", NAME, b"nightly image");
        r.publish();
        let err = r.repo.device_material(NAME, 0).unwrap_err();
        assert!(matches!(err, RepoError::Invalid(_)), "{err}");
    }

    #[test]
    fn covering_role_searched_before_the_lister_is_named_in_the_refusal() {
        let mut r = Repo::new("shadowed");
        r.delegate("beta", false);
        r.delegate("release", false);
        r.add("release", NAME, b"release image");
        let warnings = r.publish();
        assert_eq!(warnings, [(NAME.to_owned(), "beta".to_owned())]);
        let err = r.repo.device_material(NAME, 0).unwrap_err();
        match &err {
            RepoError::DeviceRefused { target, why } => {
                assert_eq!(target, NAME);
                assert!(
                    why.contains("targets delegates beta (paths evc-a1/*)"),
                    "{why}"
                );
                assert!(why.contains("targets -> release"), "{why}");
            }
            other => panic!("{other}"),
        }
        assert_eq!(err.class(), fwsign_keys::ErrorClass::Security);
    }

    #[test]
    fn capacity_refusals_name_the_limit() {
        let mut r = Repo::new("capacity");
        r.delegate("release", false);
        r.add("release", NAME, b"release image");
        r.publish();
        let material = r.repo.device_material(NAME, 0).unwrap();
        let roomy = DeviceCapacity {
            max_chain: 8,
            max_keys_per_role: 16,
            metadata_buffer: 16 * 1024,
        };
        material.check_capacity(NAME, &roomy, 4000).unwrap();
        for (capacity, trailer, says) in [
            (
                DeviceCapacity {
                    max_chain: 1,
                    ..roomy
                },
                4000,
                "chain has 2 roles (targets -> release)",
            ),
            (
                DeviceCapacity {
                    max_keys_per_role: 2,
                    ..roomy
                },
                4000,
                "role targets has 3 key IDs",
            ),
            (roomy, 16 * 1024 + 1, "16385 bytes"),
        ] {
            let err = material
                .check_capacity(NAME, &capacity, trailer)
                .unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
            assert_eq!(err.class(), fwsign_keys::ErrorClass::Usage);
        }
    }

    /// A role as the publish check sees it, from its JSON: `delegates` as
    /// (name, paths) pairs, `lists` the names it lists.
    fn role(
        delegates: &[(&str, &[&str])],
        lists: &[&str],
    ) -> fwsign_manifest_schema::metadata::Signed<fwsign_manifest_schema::metadata::Targets> {
        let targets: serde_json::Map<String, serde_json::Value> = lists
            .iter()
            .map(|n| {
                let entry = serde_json::json!({"length": 1, "hashes": {"sha256": "00".repeat(32)}});
                ((*n).to_owned(), entry)
            })
            .collect();
        let roles: Vec<serde_json::Value> = delegates
            .iter()
            .map(|(name, paths)| {
                serde_json::json!({"name": name, "keyids": [], "threshold": 1, "terminating": true, "paths": paths})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "signatures": [],
            "signed": {
                "_type": "targets", "spec_version": "1.0.0", "version": 1,
                "expires": "2030-01-01T00:00:00Z", "targets": targets,
                "delegations": {"keys": {}, "roles": roles}
            }
        }))
        .unwrap()
    }

    /// [`super::one_covering_chain`] over `roles` with their indexes.
    fn single(
        roles: &std::collections::BTreeMap<String, super::Signed<super::Targets>>,
        name: &fwsign_core::path_match::HashedPath<'_>,
    ) -> bool {
        super::one_covering_chain(roles, &super::cover_indexes(roles), name)
    }

    /// The search is skipped only where it could not warn: one chain of
    /// covering delegations ending at the only role that lists the name
    /// (a hashed-bin layout). A name listed on the way, or two delegations
    /// covering it, still goes through the search, which decides.
    #[test]
    fn only_a_single_covering_chain_ending_at_the_lister_skips_the_search() {
        let chain = std::collections::BTreeMap::from([
            ("targets".to_owned(), role(&[("g", &["fw/*"])], &[])),
            (
                "g".to_owned(),
                role(&[("bin", &["fw/x*"]), ("other", &["fw/y*"])], &[]),
            ),
            ("bin".to_owned(), role(&[], &["fw/x1"])),
            ("other".to_owned(), role(&[], &["fw/y1"])),
        ]);
        assert!(single(
            &chain,
            &fwsign_core::path_match::HashedPath::new("fw/x1")
        ));
        assert!(single(
            &chain,
            &fwsign_core::path_match::HashedPath::new("fw/y1")
        ));
        // Listed by a role the chain does not end at: the search decides.
        assert!(!single(
            &chain,
            &fwsign_core::path_match::HashedPath::new("fw/z1")
        ));

        let mut listed_on_the_way = chain.clone();
        listed_on_the_way.insert("g".to_owned(), role(&[("bin", &["fw/x*"])], &["fw/x1"]));
        assert!(!single(
            &listed_on_the_way,
            &fwsign_core::path_match::HashedPath::new("fw/x1")
        ));

        let mut fork = chain.clone();
        fork.insert(
            "g".to_owned(),
            role(&[("bin", &["fw/x*"]), ("other", &["fw/*"])], &[]),
        );
        assert!(!single(
            &fork,
            &fwsign_core::path_match::HashedPath::new("fw/x1")
        ));

        let mut missing = chain;
        missing.remove("bin");
        assert!(!single(
            &missing,
            &fwsign_core::path_match::HashedPath::new("fw/x1")
        ));
    }
}
