//! The published history the audit log is anchored in, verified as chains:
//! what `fwsign repo audit` checks, and what every command checks before it
//! records the log's head (staging commands in the role they stage, publish
//! and refresh in the new snapshot).
//!
//! An anchor ([`HEAD_FIELD`]) only counts if the metadata carrying it is
//! authentic, and on a directory anyone with write access can change, that
//! takes chains, never "some file that verifies under some key":
//!
//! - **Roots**: `1.root.json` signed by its own root threshold, each `N+1`
//!   by root N's threshold and its own ([`TrustedSet::update_root`], the
//!   clients' step). Every file named `*.root.json` must be a link of that
//!   chain; any other is a fault (planted).
//! - **The live state**: `timestamp.json` and the snapshot it pins, verified
//!   as a client does, under the newest root.
//! - **Snapshots**, walked back from the pinned one: each names the root
//!   version it was signed under ([`ROOT_VERSION_FIELD`]) and must verify
//!   under that root's snapshot keys, root versions never decreasing going
//!   forward; each records the SHA-256 of the previous snapshot file
//!   ([`PREV_SNAPSHOT_FIELD`]), which must exist and hash to it. Rewriting
//!   an old snapshot, whoever signs it, breaks every later link.
//! - **Targets roles** each snapshot on the walk lists, from `targets` down
//!   the delegations: the file must match the listing and verify under its
//!   delegator ([`verify_targets`], the clients' step), so their anchors are
//!   covered by the approvers' signatures, not only the online key's.
//!
//! A snapshot without the chain fields (written before they existed) is
//! reported as unchained, a warning: the walk stops there, and it and the
//! older snapshot files are only checked to be signed under some root of
//! the chain, as before.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::metadata::{RoleType, Root, Signed, Snapshot, Targets, Timestamp};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{RepoError, Repository, io_err, names, read_file, read_optional};
use crate::audit::{
    Anchor, AuditHead, AuditReport, HEAD_FIELD, PREV_SNAPSHOT_FIELD, PREV_SNAPSHOT_VERSION_FIELD,
    ROOT_VERSION_FIELD,
};
use crate::document::{CanonicalDocument, verify_role};
use crate::key_types::BUILTIN;
use crate::search_host::Memory;
use crate::trusted_set::TrustedSet;
use crate::verify::{RootView, TargetsView};
use crate::workflow::{Delegator, SnapshotView, verify_targets};

/// The snapshot `timestamp.json` pins: what the next snapshot links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedSnapshot {
    /// Its version.
    pub version: u64,
    /// The lowercase hex SHA-256 of its file, as published.
    pub sha256: String,
}

/// What [`Repository::verify_audit`] checked. Any fault is an error instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// The log: its lines, the anchors matched, its head.
    pub log: AuditReport,
    /// The root versions in the verified root chain (0 before the first
    /// publish).
    pub roots: u64,
    /// The chained snapshots walked back from the pinned one.
    pub snapshots: usize,
    /// The distinct targets role files verified.
    pub role_files: usize,
    /// The snapshot `timestamp.json` pins, once published.
    pub pinned: Option<PinnedSnapshot>,
    /// Not faults, but limits of what could be checked: an unchained
    /// snapshot.
    pub warnings: Vec<String>,
}

/// Under which root the live state (timestamp and pinned snapshot) must
/// verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Live {
    /// The newest root, as a client checks it: `repo audit` and staging.
    Newest,
    /// The root the pinned snapshot names, when exactly one newer root
    /// exists: what a publish interrupted after writing a new root leaves
    /// (the new root is on disk, the timestamp is still the old one). Only
    /// publish and refresh accept this, because they replace both, which is
    /// how such a publish is finished.
    PendingRoot,
}

/// What a publish is about to make live: their anchors must match the log
/// too, or a publish would carry an anchor the log has already lost.
pub(crate) struct Release<'a> {
    /// The root of the release (staged or published).
    pub(crate) root: &'a Signed<Root>,
    /// Every targets role of the release.
    pub(crate) roles: &'a BTreeMap<String, Signed<Targets>>,
}

fn fault(path: &Path, why: impl Into<String>) -> RepoError {
    RepoError::History {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

/// `N` for a file name `N<suffix>` whose `N` is a version written the one
/// way fwsign writes it (no sign, no leading zero).
fn version_of(name: &str, suffix: &str) -> Option<u64> {
    let prefix = name.strip_suffix(suffix)?;
    let version: u64 = prefix.parse().ok()?;
    (version.to_string() == prefix).then_some(version)
}

fn parse<T: RoleType>(path: &Path, bytes: &[u8]) -> Result<Signed<T>, RepoError> {
    Signed::<T>::from_json_slice(bytes).map_err(|e| fault(path, e.to_string()))
}

fn canonical(path: &Path, bytes: &[u8]) -> Result<CanonicalDocument, RepoError> {
    CanonicalDocument::from_json(bytes).map_err(|e| fault(path, e.to_string()))
}

/// The root version a snapshot names, `None` if it has no chain fields.
fn named_root(path: &Path, snapshot: &Signed<Snapshot>) -> Result<Option<u64>, RepoError> {
    match snapshot.signed.unknown.get(ROOT_VERSION_FIELD) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| fault(path, format!("{ROOT_VERSION_FIELD} is not a root version"))),
    }
}

/// The previous snapshot's hash a snapshot records, if any.
fn prev_snapshot(path: &Path, snapshot: &Signed<Snapshot>) -> Result<Option<String>, RepoError> {
    match snapshot.signed.unknown.get(PREV_SNAPSHOT_FIELD) {
        None => Ok(None),
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(Some(hash.clone()))
        }
        Some(_) => Err(fault(
            path,
            format!("{PREV_SNAPSHOT_FIELD} is not a SHA-256 as 64 lowercase hex digits"),
        )),
    }
}

/// The version of the previous snapshot a snapshot of `version` links to:
/// the one it names, which must be older, or else `version - 1`. `None` for
/// version 1, which has no previous snapshot.
fn prev_snapshot_version(
    path: &Path,
    snapshot: &Signed<Snapshot>,
    version: u64,
) -> Result<Option<u64>, RepoError> {
    match snapshot.signed.unknown.get(PREV_SNAPSHOT_VERSION_FIELD) {
        None => Ok(version.checked_sub(1).filter(|v| *v > 0)),
        Some(value) => value
            .as_u64()
            .filter(|v| *v > 0 && *v < version)
            .map(Some)
            .ok_or_else(|| {
                fault(
                    path,
                    format!("{PREV_SNAPSHOT_VERSION_FIELD} is not an older snapshot version"),
                )
            }),
    }
}

/// The metadata directory's versioned roots and snapshots.
#[derive(Default)]
struct Listing {
    roots: BTreeSet<u64>,
    /// Names ending in `.root.json` that are not `N.root.json`.
    other_roots: Vec<String>,
    snapshots: BTreeSet<u64>,
}

/// A targets role file read during the walk.
struct RoleFile {
    raw: Vec<u8>,
    canonical: CanonicalDocument,
    /// The roles it delegates to, in order.
    delegates: Vec<String>,
}

/// One verification run.
struct Walk<'r> {
    repo: &'r Repository,
    dir: PathBuf,
    anchors: Vec<Anchor>,
    /// Files whose anchor has been taken (each counts once).
    anchored: BTreeSet<PathBuf>,
    /// Role files read, by path.
    files: BTreeMap<PathBuf, RoleFile>,
    /// (role file, delegator file) pairs whose signatures verified.
    signed: BTreeSet<(PathBuf, PathBuf)>,
    /// Role file names the snapshots list.
    referenced: BTreeSet<String>,
    memory: Memory,
    warnings: Vec<String>,
}

impl<'r> Walk<'r> {
    fn new(repo: &'r Repository) -> Self {
        Self {
            repo,
            dir: repo.metadata_dir(),
            anchors: Vec::new(),
            anchored: BTreeSet::new(),
            files: BTreeMap::new(),
            signed: BTreeSet::new(),
            referenced: BTreeSet::new(),
            memory: Memory::default(),
            warnings: Vec::new(),
        }
    }

    /// `metadata/NAME` as messages show it.
    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(self.repo.dir())
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn root_path(&self, version: u64) -> PathBuf {
        self.dir.join(format!("{version}.root.json"))
    }

    fn snapshot_path(&self, version: u64) -> PathBuf {
        self.dir.join(format!("{version}.snapshot.json"))
    }

    fn list(&self) -> Result<Listing, RepoError> {
        let mut listing = Listing::default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(v) = version_of(name, ".root.json") {
                listing.roots.insert(v);
            } else if name.ends_with(".root.json") {
                listing.other_roots.push(name.to_owned());
            } else if let Some(v) = version_of(name, ".snapshot.json") {
                listing.snapshots.insert(v);
            }
        }
        Ok(listing)
    }

    /// Takes the anchor `path` records, once per file.
    fn take_anchor(
        &mut self,
        path: &Path,
        unknown: &BTreeMap<String, Value>,
    ) -> Result<(), RepoError> {
        if !self.anchored.insert(path.to_path_buf()) {
            return Ok(());
        }
        if let Some(value) = unknown.get(HEAD_FIELD) {
            let head: AuditHead = serde_json::from_value(value.clone())
                .map_err(|e| fault(path, format!("{HEAD_FIELD} is not an audit head: {e}")))?;
            self.anchors.push(Anchor {
                source: self.rel(path),
                head,
            });
        }
        Ok(())
    }

    /// Verifies the root chain from version 1 to the newest root file and
    /// returns the roots, version N at index N-1.
    fn root_chain(&mut self, listing: &Listing) -> Result<Vec<CanonicalDocument>, RepoError> {
        let Some(&newest) = listing.roots.last() else {
            return Ok(Vec::new());
        };
        let mut chain = Vec::new();
        let mut trusted: Option<TrustedSet> = None;
        for version in 1..=newest {
            let path = self.root_path(version);
            if !listing.roots.contains(&version) {
                let orphan = listing.roots.range(version..).next().copied();
                return Err(fault(
                    &self.root_path(orphan.unwrap_or(newest)),
                    format!(
                        "not part of the verified root chain: {} is missing, so no root leads to it (planted?)",
                        self.rel(&path)
                    ),
                ));
            }
            let bytes = read_file(&path)?;
            let step = if let Some(t) = trusted.as_mut() {
                t.update_root(&bytes)
            } else {
                TrustedSet::new(&bytes, BUILTIN, None).map(|t| trusted = Some(t))
            };
            step.map_err(|e| {
                let why = if version == 1 {
                    format!("root v1 is not signed by its own root threshold: {e}")
                } else {
                    format!(
                        "not part of the verified root chain (planted?): root v{version} must be signed by root v{}'s root threshold and its own: {e}",
                        version - 1
                    )
                };
                fault(&path, why)
            })?;
            let doc = parse::<Root>(&path, &bytes)?;
            if doc.signed.version != version {
                return Err(fault(
                    &path,
                    format!("says it is root version {}", doc.signed.version),
                ));
            }
            self.take_anchor(&path, &doc.signed.unknown)?;
            chain.push(canonical(&path, &bytes)?);
        }
        Ok(chain)
    }

    /// Verifies the live state and walks the snapshot chain back from it.
    /// `None` before the first publish; else the pinned snapshot and how
    /// many chained snapshots were walked.
    fn snapshots(
        &mut self,
        listing: &Listing,
        chain: &[CanonicalDocument],
        live: Live,
    ) -> Result<Option<(PinnedSnapshot, usize)>, RepoError> {
        let ts_path = self.dir.join("timestamp.json");
        let Some(ts_bytes) = read_optional(&ts_path)? else {
            // A first publish interrupted before its timestamp leaves
            // `1.root.json` and `1.snapshot.json` at most; anything later
            // was published.
            if let Some(v) = listing.snapshots.last().filter(|&&v| v > 1) {
                return Err(fault(
                    &ts_path,
                    format!("missing, but snapshot version {v} was published (deleted?)"),
                ));
            }
            if let Some(v) = listing.roots.last().filter(|&&v| v > 1) {
                return Err(fault(
                    &ts_path,
                    format!("missing, but root version {v} was published (deleted?)"),
                ));
            }
            return Ok(None);
        };
        let newest = u64::try_from(chain.len()).unwrap_or(u64::MAX);
        if chain.is_empty() {
            return Err(fault(
                &ts_path,
                "published, but there is no root: metadata/1.root.json is missing",
            ));
        }
        let timestamp = parse::<Timestamp>(&ts_path, &ts_bytes)?;
        let mut version = timestamp
            .signed
            .meta
            .get("snapshot.json")
            .map(|m| m.version)
            .ok_or_else(|| fault(&ts_path, "pins no snapshot.json"))?;
        let mut path = self.snapshot_path(version);
        let mut bytes = read_optional(&path)?
            .ok_or_else(|| fault(&path, "missing, but timestamp.json pins it (deleted?)"))?;
        let pinned = PinnedSnapshot {
            version,
            sha256: sha256_hex(&bytes),
        };
        let mut doc = parse::<Snapshot>(&path, &bytes)?;

        // The live state, as a client checks it.
        let live_root = match (live, named_root(&path, &doc)?) {
            (Live::PendingRoot, Some(r)) if r.checked_add(1) == Some(newest) => r,
            _ => newest,
        };
        let live_path = self.root_path(live_root);
        let root_doc = usize::try_from(live_root)
            .ok()
            .and_then(|v| chain.get(v.wrapping_sub(1)))
            .ok_or_else(|| fault(&live_path, "missing"))?;
        let mut client = TrustedSet::new(root_doc.as_bytes(), BUILTIN, None)
            .map_err(|e| fault(&live_path, e.to_string()))?;
        client
            .update_timestamp_ignoring_expiry(&ts_bytes)
            .map_err(|e| {
                fault(
                    &ts_path,
                    format!("does not verify under root v{live_root}: {e}"),
                )
            })?;
        client.update_snapshot_ignoring_expiry(&bytes).map_err(|e| {
            fault(
                &path,
                format!(
                    "does not verify as the snapshot timestamp.json pins, under root v{live_root}: {e}"
                ),
            )
        })?;

        self.newer_snapshots(listing, &pinned, &doc, chain)?;

        // The chain, back from the pinned snapshot.
        let mut later: Option<(PathBuf, u64)> = None;
        let mut walked = 0;
        loop {
            if doc.signed.version != version {
                return Err(fault(
                    &path,
                    format!("says it is snapshot version {}", doc.signed.version),
                ));
            }
            let snapshot = canonical(&path, &bytes)?;
            let Some(root_version) = named_root(&path, &doc)? else {
                self.warnings.push(format!(
                    "{}: unchained (written before snapshots recorded {ROOT_VERSION_FIELD} and {PREV_SNAPSHOT_FIELD}): the walk stops here; it and the older snapshots are only checked to be signed under some root of the chain",
                    self.rel(&path)
                ));
                self.unchained(version, listing, chain)?;
                break;
            };
            let root = usize::try_from(root_version)
                .ok()
                .and_then(|v| chain.get(v.wrapping_sub(1)))
                .ok_or_else(|| {
                    fault(
                        &path,
                        format!(
                            "names root v{root_version}, which the verified root chain (v1 to v{newest}) does not have"
                        ),
                    )
                })?;
            if let Some((later_path, later_root)) = &later
                && root_version > *later_root
            {
                return Err(fault(
                    later_path,
                    format!(
                        "names root v{later_root}, older than the root v{root_version} the earlier {} names: snapshots never go back to an older root",
                        self.rel(&path)
                    ),
                ));
            }
            verify_role(root, "snapshot", &snapshot, BUILTIN)
                .and_then(|r| r.require())
                .map_err(|e| {
                    fault(
                        &path,
                        format!(
                            "not signed by the snapshot keys of root v{root_version}, the root it names: {e}"
                        ),
                    )
                })?;
            self.take_anchor(&path, &doc.signed.unknown)?;
            self.roles(&path, &snapshot, &doc, root, root_version)?;
            walked += 1;

            let Some(prev_hash) = prev_snapshot(&path, &doc)? else {
                if version == 1 {
                    break;
                }
                return Err(fault(
                    &path,
                    format!(
                        "records no {PREV_SNAPSHOT_FIELD}: it does not link to snapshot version {}",
                        version - 1
                    ),
                ));
            };
            let Some(prev_version) = prev_snapshot_version(&path, &doc, version)? else {
                return Err(fault(
                    &path,
                    format!("snapshot version 1 records a {PREV_SNAPSHOT_FIELD}"),
                ));
            };
            let prev_path = self.snapshot_path(prev_version);
            let prev_bytes = read_optional(&prev_path)?.ok_or_else(|| {
                fault(
                    &prev_path,
                    format!("missing, but {} links to it (deleted?)", self.rel(&path)),
                )
            })?;
            let found = sha256_hex(&prev_bytes);
            if found != prev_hash {
                return Err(fault(
                    &prev_path,
                    format!(
                        "changed after it was published: it hashes to {found}, but {} records {prev_hash}",
                        self.rel(&path)
                    ),
                ));
            }
            doc = parse::<Snapshot>(&prev_path, &prev_bytes)?;
            later = Some((path, root_version));
            path = prev_path;
            bytes = prev_bytes;
            version = prev_version;
        }
        Ok(Some((pinned, walked)))
    }

    /// Snapshot files newer than the pinned one. Each publish interrupted
    /// after writing its snapshot leaves one, linked to the pinned snapshot
    /// (versions are never reused, so the next publish takes a newer one);
    /// each is checked like a link of the chain and its anchor counts (the
    /// log only grows after it). One that does not link to the pinned
    /// snapshot is what putting back an older `timestamp.json` leaves: the
    /// newer snapshots' anchors would silently stop counting.
    fn newer_snapshots(
        &mut self,
        listing: &Listing,
        pinned: &PinnedSnapshot,
        pinned_doc: &Signed<Snapshot>,
        chain: &[CanonicalDocument],
    ) -> Result<(), RepoError> {
        let newer: Vec<u64> = listing
            .snapshots
            .range(pinned.version.saturating_add(1)..)
            .copied()
            .collect();
        for next in newer {
            self.newer_snapshot(next, pinned, pinned_doc, chain)?;
        }
        Ok(())
    }

    /// One snapshot file newer than the pinned one: signed under a root of
    /// the chain no older than the pinned snapshot's, and linked directly to
    /// the pinned snapshot (as every snapshot a killed publish leaves is).
    /// A newer snapshot linked to another newer one is what putting back an
    /// older `timestamp.json` leaves.
    fn newer_snapshot(
        &mut self,
        next: u64,
        pinned: &PinnedSnapshot,
        pinned_doc: &Signed<Snapshot>,
        chain: &[CanonicalDocument],
    ) -> Result<(), RepoError> {
        let path = self.snapshot_path(next);
        let bytes = read_file(&path)?;
        // A file that is not snapshot version `next` at all (a killed
        // command's leftover, or anything else no timestamp could have
        // named) is an orphan: reported, never counted. Clients never fetch
        // it, so it cannot roll anything back.
        let parsed = parse::<Snapshot>(&path, &bytes)
            .ok()
            .zip(canonical(&path, &bytes).ok())
            .filter(|(doc, _)| doc.signed.version == next);
        let Some((doc, snapshot)) = parsed else {
            self.warnings.push(format!(
                "{}: an orphan (not snapshot version {next}; no timestamp names it): not counted",
                self.rel(&path)
            ));
            return Ok(());
        };
        let rolled_back = |version: u64| self.rolled_back(version, pinned.version);
        let floor = named_root(&path, pinned_doc)?.unwrap_or(1);
        match named_root(&path, &doc)? {
            // From an fwsign before the chain: as the unchained ones.
            None => {
                let signed = chain.iter().any(|root| {
                    verify_role(root, "snapshot", &snapshot, BUILTIN).is_ok_and(|r| r.is_met())
                });
                if !signed {
                    return Err(rolled_back(next));
                }
            }
            Some(root_version) => {
                let root = usize::try_from(root_version)
                    .ok()
                    .filter(|_| root_version >= floor)
                    .and_then(|v| chain.get(v.wrapping_sub(1)))
                    .ok_or_else(|| rolled_back(next))?;
                let signed =
                    verify_role(root, "snapshot", &snapshot, BUILTIN).is_ok_and(|r| r.is_met());
                let linked = prev_snapshot(&path, &doc)?.as_deref() == Some(&pinned.sha256)
                    && prev_snapshot_version(&path, &doc, next)? == Some(pinned.version);
                if !signed || !linked || doc.signed.version != next {
                    return Err(rolled_back(next));
                }
            }
        }
        self.take_anchor(&path, &doc.signed.unknown)
    }

    fn rolled_back(&self, version: u64, pinned: u64) -> RepoError {
        fault(
            &self.snapshot_path(version),
            format!(
                "newer than snapshot v{pinned}, which timestamp.json pins: was an older timestamp.json put back?"
            ),
        )
    }

    /// Snapshot `from` (unchained) and every older snapshot file: signed
    /// under some root of the chain, as before the chain existed.
    fn unchained(
        &mut self,
        from: u64,
        listing: &Listing,
        chain: &[CanonicalDocument],
    ) -> Result<(), RepoError> {
        for &version in listing.snapshots.range(..=from).rev() {
            let path = self.snapshot_path(version);
            let bytes = read_file(&path)?;
            let doc = parse::<Snapshot>(&path, &bytes)?;
            let snapshot = canonical(&path, &bytes)?;
            let signed = chain.iter().any(|root| {
                verify_role(root, "snapshot", &snapshot, BUILTIN).is_ok_and(|r| r.is_met())
            });
            if !signed {
                return Err(fault(
                    &path,
                    "not signed by the snapshot keys of any root of the verified chain",
                ));
            }
            self.take_anchor(&path, &doc.signed.unknown)?;
            for (file, meta) in &doc.signed.meta {
                if let Some(role) = file.strip_suffix(".json") {
                    self.referenced
                        .insert(names::versioned_role_file(meta.version, role));
                }
            }
        }
        Ok(())
    }

    /// Verifies the targets roles snapshot `path` lists, from `targets` down
    /// the delegations, each against the listing and its delegator, and
    /// takes their anchors.
    fn roles(
        &mut self,
        path: &Path,
        snapshot: &CanonicalDocument,
        doc: &Signed<Snapshot>,
        root: &CanonicalDocument,
        root_version: u64,
    ) -> Result<(), RepoError> {
        let envelope = snapshot
            .envelope()
            .map_err(|e| fault(path, e.to_string()))?;
        let view = SnapshotView::new(&envelope).map_err(|e| fault(path, e.to_string()))?;
        let mut listed: BTreeMap<&str, u64> = BTreeMap::new();
        for (file, meta) in &doc.signed.meta {
            let Some(role) = file.strip_suffix(".json") else {
                continue;
            };
            names::check_role_name(role).map_err(|e| fault(path, e.to_string()))?;
            listed.insert(role, meta.version);
            self.referenced
                .insert(names::versioned_role_file(meta.version, role));
        }
        let root_path = self.root_path(root_version);
        // (role, its delegator's file; `None`: the root)
        let mut queue: Vec<(String, Option<PathBuf>)> = vec![("targets".to_owned(), None)];
        let mut expanded: BTreeSet<String> = BTreeSet::new();
        while let Some((role, delegator)) = queue.pop() {
            let by = delegator
                .as_ref()
                .map_or_else(|| format!("root v{root_version}"), |d| self.rel(d));
            let Some(&version) = listed.get(role.as_str()) else {
                return Err(fault(
                    path,
                    format!("does not list {role}, which {by} delegates to"),
                ));
            };
            let file = self.dir.join(names::versioned_role_file(version, &role));
            if !self.files.contains_key(&file) {
                let raw = read_optional(&file)?.ok_or_else(|| {
                    fault(
                        &file,
                        format!("missing, but {} lists it (deleted?)", self.rel(path)),
                    )
                })?;
                let typed = parse::<Targets>(&file, &raw)?;
                self.take_anchor(&file, &typed.signed.unknown)?;
                let delegates = typed
                    .signed
                    .delegations
                    .iter()
                    .flat_map(|d| &d.roles)
                    .map(|r| r.name.clone())
                    .collect();
                let canonical = canonical(&file, &raw)?;
                self.files.insert(
                    file.clone(),
                    RoleFile {
                        raw,
                        canonical,
                        delegates,
                    },
                );
            }
            let delegator_file = delegator.clone().unwrap_or_else(|| root_path.clone());
            let lister = self.rel(path);
            let refused = |e: &dyn std::fmt::Display| {
                fault(
                    &file,
                    format!("does not verify as {lister} lists it, under {by}: {e}"),
                )
            };
            let Some(this) = self.files.get(&file) else {
                return Err(fault(&file, "missing"));
            };
            if self
                .signed
                .contains(&(file.clone(), delegator_file.clone()))
            {
                // Signatures checked before; the listing is this snapshot's.
                view.targets_role(role.as_bytes())
                    .and_then(|entry| {
                        entry
                            .ok_or(crate::workflow::WorkflowError::NotListed)?
                            .check_bytes(&this.raw)
                    })
                    .map_err(|e| refused(&e))?;
            } else {
                let parent_doc = match &delegator {
                    None => root.clone(),
                    Some(d) => self
                        .files
                        .get(d)
                        .map(|f| f.canonical.clone())
                        .ok_or_else(|| fault(d, "missing"))?,
                };
                let new = this.canonical.envelope().map_err(|e| refused(&e))?;
                let parent_env = parent_doc.envelope().map_err(|e| refused(&e))?;
                let outcome = match &delegator {
                    None => {
                        let root_view = RootView::new(parent_env).map_err(|e| refused(&e))?;
                        let n = root_view.role("targets").map_or(0, |k| k.keyid_count());
                        verify_targets(
                            Delegator::Root(&root_view),
                            role.as_bytes(),
                            &view,
                            &this.raw,
                            new,
                            None,
                            BUILTIN,
                            &mut self.memory.work(n),
                        )
                        .map(|_| ())
                    }
                    Some(_) => {
                        let parent = TargetsView::new(parent_env).map_err(|e| refused(&e))?;
                        let n = parent
                            .delegated_role(&role)
                            .and_then(|d| d.keys().ok())
                            .map_or(0, |k| k.keyid_count());
                        verify_targets(
                            Delegator::Targets(&parent),
                            role.as_bytes(),
                            &view,
                            &this.raw,
                            new,
                            None,
                            BUILTIN,
                            &mut self.memory.work(n),
                        )
                        .map(|_| ())
                    }
                };
                outcome.map_err(|e| refused(&e))?;
                self.signed.insert((file.clone(), delegator_file));
            }
            if expanded.insert(role.clone()) {
                for delegated in this.delegates.clone() {
                    queue.push((delegated, Some(file.clone())));
                }
            }
        }
        Ok(())
    }

    /// Every `*.root.json` that is not `N.root.json` must be a role file a
    /// snapshot lists (a delegated role may be named `x.root`).
    fn other_roots(&self, listing: &Listing) -> Result<(), RepoError> {
        for name in &listing.other_roots {
            if !self.referenced.contains(name) {
                return Err(fault(
                    &self.dir.join(name),
                    "named like a root, but not a version of the verified root chain (planted?)",
                ));
            }
        }
        Ok(())
    }
}

impl Repository {
    /// Verifies the audit log against the published history: the root
    /// chain, the live state, the snapshot chain back from it and the
    /// targets roles each snapshot lists (see the
    /// [module documentation](crate::repo::history)), then the log's hash
    /// chain and every head recorded in any of them.
    ///
    /// A fault is an error naming the file and what is wrong with it
    /// ([`RepoError::History`], or [`RepoError::Audit`] for the log).
    pub fn verify_audit(&self) -> Result<AuditVerification, RepoError> {
        self.verify_audit_with(&[])
    }

    /// [`Repository::verify_audit`], with heads recorded outside the
    /// repository (`repo audit --expect-head`) checked like anchors: the
    /// only thing that catches a log cut back after its newest anchor.
    pub fn verify_audit_with(&self, witnesses: &[Anchor]) -> Result<AuditVerification, RepoError> {
        self.check_history(Live::Newest, witnesses)
    }

    pub(crate) fn check_history(
        &self,
        live: Live,
        extra: &[Anchor],
    ) -> Result<AuditVerification, RepoError> {
        let mut walk = Walk::new(self);
        let listing = walk.list()?;
        let chain = walk.root_chain(&listing)?;
        let snapshots = walk.snapshots(&listing, &chain, live)?;
        walk.other_roots(&listing)?;
        let mut anchors = std::mem::take(&mut walk.anchors);
        anchors.extend_from_slice(extra);
        let log = self.audit_log().verify(&anchors)?;
        let (pinned, snapshots) = match snapshots {
            Some((pinned, walked)) => (Some(pinned), walked),
            None => (None, 0),
        };
        Ok(AuditVerification {
            log,
            roots: u64::try_from(chain.len()).unwrap_or(u64::MAX),
            snapshots,
            role_files: walk.files.len(),
            pinned,
            warnings: walk.warnings,
        })
    }

    /// Refuses to stage over a log (or history) that does not verify.
    pub(crate) fn check_audit_before_staging(&self) -> Result<(), RepoError> {
        self.check_history(Live::Newest, &[]).map(|_| ())
    }

    /// Records the log's head in a role being staged, after the staging
    /// command's own lines, so the approvers' signatures cover them.
    pub(crate) fn record_audit_head(
        &self,
        unknown: &mut BTreeMap<String, Value>,
    ) -> Result<(), RepoError> {
        match self.audit_log().head()? {
            Some(head) => {
                unknown.insert(HEAD_FIELD.to_owned(), head_value(&head)?);
            }
            None => {
                unknown.remove(HEAD_FIELD);
            }
        }
        Ok(())
    }

    /// Verifies the log and the history, then records in a new snapshot the
    /// log's head, the root version it is signed under and the hash of the
    /// snapshot it succeeds. `release`: what a publish is about to make live
    /// (`None` for refresh).
    pub(crate) fn anchor_audit_log(
        &self,
        snapshot: &mut Snapshot,
        root_version: u64,
        release: Option<&Release<'_>>,
    ) -> Result<(), RepoError> {
        let mut extra = Vec::new();
        if let Some(release) = release {
            let staged = |role: &str, version: u64, unknown: &BTreeMap<String, Value>| {
                unknown
                    .get(HEAD_FIELD)
                    .map(|value| {
                        serde_json::from_value::<AuditHead>(value.clone())
                            .map(|head| Anchor {
                                source: format!("{role} v{version} (being published)"),
                                head,
                            })
                            .map_err(|e| {
                                RepoError::Invalid(format!(
                                    "{role} v{version}: {HEAD_FIELD} is not an audit head: {e}"
                                ))
                            })
                    })
                    .transpose()
            };
            let root = &release.root.signed;
            extra.extend(staged("root", root.version, &root.unknown)?);
            for (role, doc) in release.roles {
                extra.extend(staged(role, doc.signed.version, &doc.signed.unknown)?);
            }
        }
        let verified = self.check_history(Live::PendingRoot, &extra)?;
        match &verified.log.head {
            Some(head) => {
                snapshot
                    .unknown
                    .insert(HEAD_FIELD.to_owned(), head_value(head)?);
            }
            None => {
                snapshot.unknown.remove(HEAD_FIELD);
            }
        }
        snapshot
            .unknown
            .insert(ROOT_VERSION_FIELD.to_owned(), Value::from(root_version));
        match &verified.pinned {
            Some(pinned) => {
                if pinned.version >= snapshot.version {
                    return Err(RepoError::Invalid(format!(
                        "snapshot v{} would not follow the published snapshot v{}",
                        snapshot.version, pinned.version
                    )));
                }
                snapshot.unknown.insert(
                    PREV_SNAPSHOT_FIELD.to_owned(),
                    Value::String(pinned.sha256.clone()),
                );
                snapshot.unknown.insert(
                    PREV_SNAPSHOT_VERSION_FIELD.to_owned(),
                    Value::from(pinned.version),
                );
            }
            None => {
                snapshot.unknown.remove(PREV_SNAPSHOT_FIELD);
                snapshot.unknown.remove(PREV_SNAPSHOT_VERSION_FIELD);
            }
        }
        Ok(())
    }
}

fn head_value(head: &AuditHead) -> Result<Value, RepoError> {
    serde_json::to_value(head)
        .map_err(|e| RepoError::Invalid(format!("cannot record the audit head: {e}")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use fwsign_manifest_schema::canonical::to_portable_bytes;
    use fwsign_manifest_schema::expiry::UnixTime;
    use fwsign_manifest_schema::metadata::{Signed, Snapshot, Targets, Timestamp};
    use serde_json::json;

    use super::{HEAD_FIELD, sha256_hex, version_of};
    use crate::document::sign;
    use crate::keys::{Algorithm, PrivateKey};
    use crate::repo::staging::DelegateOptions;
    use crate::repo::{ExpiryPolicy, InitOptions, RepoError, Repository};

    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn key() -> PrivateKey {
        PrivateKey::generate(Algorithm::Ed25519).unwrap()
    }

    #[test]
    fn versions_in_file_names_have_one_spelling() {
        assert_eq!(version_of("12.root.json", ".root.json"), Some(12));
        for name in [
            "012.root.json",
            "+1.root.json",
            ".root.json",
            "root.json",
            "1.x.root.json",
            "99999999999999999999999.root.json",
        ] {
            assert_eq!(version_of(name, ".root.json"), None, "{name}");
        }
    }

    /// The online key holder re-signs snapshot and timestamp over a
    /// delegated role whose anchor they changed: the delegator's threshold,
    /// which they do not hold, refuses it.
    #[test]
    fn online_key_holder_cannot_swap_a_delegated_roles_anchor() {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fwsign-repo-history-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        let (root, targets, online, board) = (key(), key(), key(), key());
        let options = InitOptions {
            root_keys: vec![root.public_key().clone()],
            root_threshold: 1,
            targets_keys: vec![targets.public_key().clone()],
            targets_threshold: 1,
            snapshot_key: online.public_key().clone(),
            timestamp_key: online.public_key().clone(),
            expiry: ExpiryPolicy::default(),
            allow_shared_key: false,
        };
        let repo = Repository::init(&dir, &options, NOW).unwrap();
        repo.delegate(
            &DelegateOptions {
                role: "board".into(),
                keys: vec![board.public_key().clone()],
                threshold: 1,
                paths: vec!["board/*".into()],
                terminating: true,
                allow_shared_key: false,
            },
            NOW,
        )
        .unwrap();
        repo.sign("root", &root, NOW).unwrap();
        repo.sign("targets", &targets, NOW).unwrap();
        repo.sign("board", &board, NOW).unwrap();
        repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();
        let report = repo.verify_audit().unwrap();
        assert_eq!(
            (report.roots, report.snapshots, report.role_files),
            (1, 1, 2)
        );
        // root, targets, board and the snapshot each anchor the log.
        assert_eq!(report.log.anchors_checked, 4);

        let metadata = repo.metadata_dir();
        let board_path = metadata.join("1.board.json");
        let mut doc = Signed::<Targets>::from_json_slice(&fs::read(&board_path).unwrap()).unwrap();
        doc.signed.unknown.insert(
            HEAD_FIELD.into(),
            json!({"line": 1, "sha256": "00".repeat(32)}),
        );
        let board_bytes = to_portable_bytes(&doc).unwrap();
        fs::write(&board_path, &board_bytes).unwrap();
        let relist = |bytes: &[u8]| {
            let mut hashes = BTreeMap::new();
            hashes.insert("sha256".to_owned(), sha256_hex(bytes));
            (Some(bytes.len() as u64), Some(hashes))
        };
        let snapshot_path = metadata.join("1.snapshot.json");
        let mut snapshot =
            Signed::<Snapshot>::from_json_slice(&fs::read(&snapshot_path).unwrap()).unwrap();
        let entry = snapshot.signed.meta.get_mut("board.json").unwrap();
        (entry.length, entry.hashes) = relist(&board_bytes);
        snapshot.signatures.clear();
        sign(&mut snapshot, &online).unwrap();
        let snapshot_bytes = to_portable_bytes(&snapshot).unwrap();
        fs::write(&snapshot_path, &snapshot_bytes).unwrap();
        let timestamp_path = metadata.join("timestamp.json");
        let mut timestamp =
            Signed::<Timestamp>::from_json_slice(&fs::read(&timestamp_path).unwrap()).unwrap();
        let entry = timestamp.signed.meta.get_mut("snapshot.json").unwrap();
        (entry.length, entry.hashes) = relist(&snapshot_bytes);
        timestamp.signatures.clear();
        sign(&mut timestamp, &online).unwrap();
        fs::write(&timestamp_path, to_portable_bytes(&timestamp).unwrap()).unwrap();

        let err = repo.verify_audit().unwrap_err();
        assert!(
            matches!(&err, RepoError::History { path, why }
                if path == &board_path && why.contains("metadata/1.targets.json")),
            "{err}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
