//! The state of one verification run ([`Walk`]) over the metadata
//! directory: the listing of versioned files, the anchors taken, and the
//! root chain (version 1 to the newest root, each link verified as a
//! client does), plus the check that no other file is named like a root.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::metadata::Root;
use serde_json::Value;

use super::{canonical, fault, parse, version_of};
use crate::audit::{Anchor, AuditHead, HEAD_FIELD};
use crate::document::CanonicalDocument;
use crate::key_types::BUILTIN;
use crate::repo::{RepoError, Repository, io_err, read_file};
use crate::search_host::Memory;
use crate::trusted_set::TrustedSet;

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
    /// The roles it delegates to, in order.
    pub(super) delegates: Vec<String>,
}

/// One verification run.
pub(super) struct Walk<'r> {
    pub(super) repo: &'r Repository,
    pub(super) dir: PathBuf,
    pub(super) anchors: Vec<Anchor>,
    /// Files whose anchor has been taken (each counts once).
    pub(super) anchored: BTreeSet<PathBuf>,
    /// Role files read, by path.
    pub(super) files: BTreeMap<PathBuf, RoleFile>,
    /// (role file, delegator file) pairs whose signatures verified.
    pub(super) signed: BTreeSet<(PathBuf, PathBuf)>,
    /// Role file names the snapshots list.
    pub(super) referenced: BTreeSet<String>,
    pub(super) memory: Memory,
    pub(super) warnings: Vec<String>,
}

impl<'r> Walk<'r> {
    pub(super) fn new(repo: &'r Repository) -> Self {
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

    pub(super) fn list(&self) -> Result<Listing, RepoError> {
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

    /// Verifies the root chain from version 1 to the newest root file and
    /// returns the roots, version N at index N-1.
    pub(super) fn root_chain(
        &mut self,
        listing: &Listing,
    ) -> Result<Vec<CanonicalDocument>, RepoError> {
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
