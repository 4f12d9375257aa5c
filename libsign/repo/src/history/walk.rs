//! The state of one verification run ([`Walk`]) over the metadata
//! directory: the versioned files the published-state load listed, the
//! anchors taken, and the root chain the load verified (version 1 to the
//! newest root, each link as a client checks it), plus the check that no
//! other file is named like a root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::metadata::Root;
use serde_json::Value;

use super::{canonical, fault, parse};
use crate::audit::{Anchor, AuditHead, HEAD_FIELD};
use crate::published_state::{self, FaultKind, PublishedLoad};
use crate::{RepoError, Repository};
use fwsign_keys::document::CanonicalDocument;
use fwsign_keys::search_host::Memory;

/// The metadata directory's versioned roots and snapshots.
#[derive(Default)]
pub(super) struct Listing {
    pub(super) roots: BTreeSet<u64>,
    /// Names ending in `.root.json` that are not `N.root.json`.
    pub(super) other_roots: Vec<String>,
    pub(super) snapshots: BTreeSet<u64>,
}

/// A targets role file read during the walk.
pub(super) struct RoleFile {
    pub(super) raw: Vec<u8>,
    pub(super) canonical: CanonicalDocument,
    /// The roles it delegates to, once its signatures have been verified.
    pub(super) delegates: Option<super::roles::Delegates>,
}

/// One verification run.
pub(super) struct Walk<'r> {
    pub(super) repo: &'r Repository,
    /// How far back targets roles are verified.
    pub(super) depth: super::Depth,
    /// The published state the operation loaded: with [`super::Depth::Live`]
    /// the live targets roles come from it, verified once per command.
    pub(super) loaded: &'r PublishedLoad,
    pub(super) dir: PathBuf,
    pub(super) anchors: Vec<Anchor>,
    /// Files whose anchor has been taken (each counts once).
    pub(super) anchored: BTreeSet<PathBuf>,
    /// Role files read, by path.
    pub(super) files: BTreeMap<PathBuf, RoleFile>,
    /// (role file, delegator file) pairs whose signatures verified.
    pub(super) signed: BTreeSet<(PathBuf, PathBuf)>,
    /// Role files verified, with whose signatures counted.
    pub(super) verified: BTreeMap<PathBuf, super::VerifiedRole>,
    /// Role file names the snapshots list.
    pub(super) referenced: BTreeSet<String>,
    pub(super) memory: Memory,
    pub(super) warnings: Vec<String>,
}

impl<'r> Walk<'r> {
    pub(super) fn new(
        repo: &'r Repository,
        depth: super::Depth,
        loaded: &'r PublishedLoad,
    ) -> Self {
        Self {
            repo,
            depth,
            loaded,
            dir: repo.metadata_dir(),
            anchors: Vec::new(),
            anchored: BTreeSet::new(),
            files: BTreeMap::new(),
            signed: BTreeSet::new(),
            verified: BTreeMap::new(),
            referenced: BTreeSet::new(),
            memory: Memory::default(),
            warnings: Vec::new(),
        }
    }

    /// `metadata/NAME` as messages show it.
    pub(super) fn rel(&self, path: &Path) -> String {
        path.strip_prefix(self.repo.dir())
            .unwrap_or(path)
            .display()
            .to_string()
    }

    pub(super) fn root_path(&self, version: u64) -> PathBuf {
        self.dir.join(format!("{version}.root.json"))
    }

    pub(super) fn snapshot_path(&self, version: u64) -> PathBuf {
        self.dir.join(format!("{version}.snapshot.json"))
    }

    /// The roots and snapshots of the load's listing of `metadata/`.
    pub(super) fn list(&self, on_disk: &published_state::Listing) -> Listing {
        Listing {
            roots: on_disk.versions("root").collect(),
            other_roots: on_disk
                .others
                .iter()
                .filter(|n| n.ends_with(".root.json"))
                .cloned()
                .chain(
                    // `x.root` is a valid delegated role name: its files
                    // are listed as versions of it, and must be ones a
                    // snapshot lists.
                    on_disk
                        .roles()
                        .filter(|(role, _)| role.ends_with(".root"))
                        .flat_map(|(role, versions)| {
                            versions.iter().map(move |v| format!("{v}.{role}.json"))
                        }),
                )
                .collect(),
            snapshots: on_disk.versions("snapshot").collect(),
        }
    }

    /// Takes the anchor `path` records, once per file.
    pub(super) fn take_anchor(
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

    /// [`Walk::take_anchor`] from a role's canonical bytes: `head`, the
    /// [`HEAD_FIELD`] member's value, if the role has one.
    pub(super) fn take_anchor_bytes(
        &mut self,
        path: &Path,
        head: Option<&[u8]>,
    ) -> Result<(), RepoError> {
        if !self.anchored.insert(path.to_path_buf()) {
            return Ok(());
        }
        if let Some(bytes) = head {
            let head: AuditHead = serde_json::from_slice(bytes)
                .map_err(|e| fault(path, format!("{HEAD_FIELD} is not an audit head: {e}")))?;
            self.anchors.push(Anchor {
                source: self.rel(path),
                head,
            });
        }
        Ok(())
    }

    /// The root chain the load verified (from version 1 to the newest root
    /// file, each link as a client checks it), version N at index N-1,
    /// with each root's anchor taken. A root the load refused is a fault
    /// here too.
    pub(super) fn root_chain(
        &mut self,
        loaded: &PublishedLoad,
    ) -> Result<Vec<CanonicalDocument>, RepoError> {
        if let Some(f) = loaded.faults.iter().find(|f| {
            f.role == "root"
                && matches!(
                    f.kind,
                    FaultKind::RootChainGap | FaultKind::RootNotVerified | FaultKind::Unreadable
                )
        }) {
            return Err(fault(&self.repo.dir().join(&f.file), f.what.clone()));
        }
        let Some(published) = &loaded.published else {
            return Ok(Vec::new());
        };
        let mut chain = Vec::new();
        for (version, bytes) in (1u64..).zip(&published.root_chain) {
            let path = self.root_path(version);
            let doc = parse::<Root>(&path, bytes)?;
            self.take_anchor(&path, &doc.signed.unknown)?;
            chain.push(canonical(&path, bytes)?);
        }
        Ok(chain)
    }

    /// Every `*.root.json` that is not `N.root.json` must be a role file a
    /// snapshot lists (a delegated role may be named `x.root`).
    pub(super) fn other_roots(&self, listing: &Listing) -> Result<(), RepoError> {
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
