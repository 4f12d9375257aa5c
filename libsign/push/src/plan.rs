//! What a push uploads: exactly the files the published metadata
//! references, in the order that keeps every state a client can see
//! complete. Target files first, then the versioned metadata (delegated
//! roles and `targets`, the snapshot, the root chain), `timestamp.json`
//! last. Nothing else in the repository is ever a candidate: not
//! `staged/`, `audit.log`, temporary files, nor orphans of a killed publish.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use fwsign_manifest_schema::metadata::{Signed, Snapshot, TargetFile, Targets};
use fwsign_repo::{Published, Repository, names};

use crate::PushError;

/// What one object holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    /// A published target file: read from disk when uploaded, checked
    /// against the listed length and SHA-256 first.
    Target {
        /// The file under `targets/`.
        path: PathBuf,
        /// The target's name (for the read-back).
        name: String,
        /// The listed length.
        length: u64,
        /// The listed SHA-256 (lowercase hex).
        sha256: String,
    },
    /// A versioned metadata file (`N.ROLE.json`): never rewritten.
    Metadata(Vec<u8>),
}

/// One object of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// The key under the prefix: `targets/...` or `metadata/...`.
    pub relative: String,
    pub content: Content,
}

impl Item {
    pub(crate) fn len(&self) -> u64 {
        match &self.content {
            Content::Target { length, .. } => *length,
            Content::Metadata(bytes) => bytes.len() as u64,
        }
    }
}

/// The whole upload: every object but `timestamp.json`, in upload order,
/// and `timestamp.json`'s bytes.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub items: Vec<Item>,
    pub timestamp: Vec<u8>,
    pub timestamp_version: u64,
}

/// The names a target is published under, relative to `targets/`: one
/// `DIR/HASH.BASENAME` per listed hash, and tough's `SHA256.DIR/BASENAME`
/// for nested names (`fwsign_repo::names`, as `publish` writes them).
pub(crate) fn target_keys(
    repo: &Repository,
    name: &str,
    entry: &TargetFile,
) -> Result<Vec<(String, PathBuf)>, PushError> {
    let dir = repo.targets_dir();
    let mut paths = Vec::new();
    for hash in entry.hashes.values() {
        paths.push(names::consistent_target_path(&dir, name, hash)?);
    }
    if let Some(sha256) = entry.hashes.get("sha256")
        && let Some(p) = names::tough_target_path(&dir, name, sha256)?
    {
        paths.push(p);
    }
    let mut keys = Vec::new();
    for path in paths {
        let Ok(rel) = path.strip_prefix(&dir) else {
            continue;
        };
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        keys.push((format!("targets/{}", rel.join("/")), path));
    }
    Ok(keys)
}

/// Builds the plan from the verified published state.
pub(crate) fn plan(repo: &Repository, published: &Published) -> Result<Plan, PushError> {
    let not_published = || PushError::NotPublished(repo.dir().to_path_buf());
    let timestamp = published.timestamp.as_ref().ok_or_else(not_published)?;
    let snapshot = published.snapshot.as_ref().ok_or_else(not_published)?;
    let timestamp_bytes = published
        .files
        .get("timestamp.json")
        .ok_or_else(not_published)?
        .clone();

    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    for role in published.targets.values() {
        for (name, entry) in &role.signed.targets {
            let Some(sha256) = entry.hashes.get("sha256") else {
                return Err(PushError::NoSha256(name.clone()));
            };
            for (relative, path) in target_keys(repo, name, entry)? {
                if seen.insert(relative.clone()) {
                    items.push(Item {
                        relative,
                        content: Content::Target {
                            path,
                            name: name.clone(),
                            length: entry.length,
                            sha256: sha256.clone(),
                        },
                    });
                }
            }
        }
    }
    let metadata = |name: String, bytes: &[u8]| Item {
        relative: format!("metadata/{name}"),
        content: Content::Metadata(bytes.to_vec()),
    };
    // Delegated roles before `targets`, which delegates to them.
    let mut roles: Vec<(&String, &Signed<Targets>)> = published.targets.iter().collect();
    roles.sort_by_key(|(role, _)| role.as_str() == "targets");
    for (role, doc) in roles {
        let name = names::versioned_role_file(doc.signed.version, role);
        let bytes = published.files.get(&name).ok_or_else(not_published)?;
        items.push(metadata(name, bytes));
    }
    let snapshot_name = format!("{}.snapshot.json", snapshot.signed.version);
    let snapshot_bytes = published.snapshot_bytes().ok_or_else(not_published)?;
    items.push(metadata(snapshot_name, snapshot_bytes));
    for (i, bytes) in published.root_chain.iter().enumerate() {
        items.push(metadata(format!("{}.root.json", i + 1), bytes));
    }
    Ok(Plan {
        items,
        timestamp: timestamp_bytes,
        timestamp_version: timestamp.signed.version,
    })
}

/// The target objects a bucket's live state already references, when the
/// bucket's timestamp names snapshot `version` of this repository: every
/// key of every target listed by the role versions that local snapshot
/// lists, with its length. A push made that state live only after it had
/// checked or uploaded each of these objects, so a later push takes them
/// as they are when their length matches (no request per file). Empty when
/// a file cannot be read: the push then checks every present object.
pub(crate) fn live_in_bucket(repo: &Repository, version: u64) -> BTreeMap<String, u64> {
    let read = |name: &str| std::fs::read(repo.metadata_dir().join(name)).ok();
    let mut live = BTreeMap::new();
    let Some(snapshot) = read(&format!("{version}.snapshot.json"))
        .and_then(|b| Signed::<Snapshot>::from_json_slice(&b).ok())
    else {
        return live;
    };
    for (file, meta) in &snapshot.signed.meta {
        let name = format!("{}.{file}", meta.version);
        let Some(doc) = read(&name).and_then(|b| Signed::<Targets>::from_json_slice(&b).ok())
        else {
            return BTreeMap::new();
        };
        for (target, entry) in &doc.signed.targets {
            if let Ok(keys) = target_keys(repo, target, entry) {
                for (key, _) in keys {
                    live.insert(key, entry.length);
                }
            }
        }
    }
    live
}
