//! `fwsign repo verify`: the whole published repository checked as a
//! client would, at a given time. On top of the load check: the expiry of
//! every role, every live target file's length and listed hashes, the
//! consistent-snapshot names, and every file under `metadata/` and
//! `targets/` that no published version of any role references.
//!
//! What an interrupted command leaves is a warning, not a fault: versioned
//! metadata no timestamp ever named (an orphan of a killed publish, which
//! clients never fetch and the next publish goes past), target files only
//! a staged role or an orphan references (copied by a publish killed before
//! its timestamp), and temporary files (removed by the next command that
//! takes the lock exclusively).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::{UnixTime, parse_expires};
use fwsign_manifest_schema::metadata::{Signed, Snapshot, TargetFile, Targets};

use super::{Fault, FaultKind, PublishedLoad, rel};
use crate::publish::files::check_file;
use crate::{Published, RepoError, Repository, io_err, names, read_optional};
use fwsign_keys::atomic_write::is_temp_name;

/// A finding that is not a fault: what an interrupted command left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file, relative to the repository directory.
    pub file: PathBuf,
    /// The role it is a version of, or the role referencing it; may be empty.
    pub role: String,
    /// A stable machine name: `orphan`, `interrupted-publish`,
    /// `temporary-file`.
    pub reason: &'static str,
    /// What it is, in words.
    pub what: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.what)
    }
}

/// What `repo verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Faults: each makes the check fail.
    pub faults: Vec<Fault>,
    /// Warnings: what interrupted commands left.
    pub warnings: Vec<Warning>,
    /// The root version of the verified chain (0 before the first publish).
    pub root_version: u64,
    /// The live snapshot version, once published.
    pub snapshot_version: Option<u64>,
    /// Live target files checked.
    pub target_files: usize,
    /// Every file a client may fetch, relative to the repository:
    /// `metadata/N.ROLE.json` of every published version, every target file
    /// they list, and `metadata/timestamp.json`. Orphans, temporaries and
    /// staged files are not in it, so an upload of exactly these never
    /// publishes what no timestamp referenced.
    pub published_files: Vec<PathBuf>,
}

impl VerifyReport {
    /// Whether the repository passed (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.faults.is_empty()
    }
}

/// Every published version of any role: what clients could ever have
/// fetched.
#[derive(Default)]
struct Referenced {
    /// `N.ROLE.json` names under `metadata/`.
    metadata: BTreeSet<String>,
    /// Paths under `targets/`, relative to it.
    targets: BTreeSet<PathBuf>,
}

impl Repository {
    /// Verifies the published repository at `at` (see the module
    /// documentation). Errors only when a directory cannot be listed.
    pub fn verify_published(&self, at: UnixTime) -> Result<VerifyReport, RepoError> {
        let loaded = super::load(self)?;
        let mut faults = loaded.faults.clone();
        let mut warnings = Vec::new();
        let mut report = VerifyReport {
            faults: Vec::new(),
            warnings: Vec::new(),
            root_version: 0,
            snapshot_version: None,
            target_files: 0,
            published_files: Vec::new(),
        };
        let mut referenced = Referenced::default();
        if let Some(published) = &loaded.published {
            report.root_version = published.root.signed.version;
            report.snapshot_version = published.snapshot.as_ref().map(|s| s.signed.version);
            expiry(published, at, &mut faults);
            if !published.root.signed.consistent_snapshot {
                faults.push(Fault::new(
                    rel(&format!("{}.root.json", published.root.signed.version)),
                    "root",
                    FaultKind::Misnamed,
                    "does not ask for consistent snapshots, with which fwsign publishes every file (N.ROLE.json, targets/DIR/HASH.NAME)",
                ));
            }
            history(self, &loaded, published, &mut referenced, &mut faults)?;
            report.target_files = live_targets(self, published, &mut referenced, &mut faults)?;
        }
        unreferenced_metadata(&loaded, &referenced, &mut faults, &mut warnings);
        let pending = pending_targets(self, &loaded, &referenced)?;
        unreferenced_targets(self, &referenced, &pending, &mut faults, &mut warnings)?;
        report.published_files = published_files(self, &loaded, &referenced);
        report.faults = faults;
        report.warnings = warnings;
        Ok(report)
    }
}

/// The referenced files that exist, metadata first, `timestamp.json` last.
fn published_files(
    repo: &Repository,
    loaded: &PublishedLoad,
    referenced: &Referenced,
) -> Vec<PathBuf> {
    let metadata = Path::new("metadata");
    let targets = Path::new("targets");
    let mut files: Vec<PathBuf> = referenced
        .metadata
        .iter()
        .filter(|name| repo.metadata_dir().join(name).is_file())
        .map(|name| metadata.join(name))
        .collect();
    files.extend(
        referenced
            .targets
            .iter()
            .filter(|path| repo.targets_dir().join(path).is_file())
            .map(|path| targets.join(path)),
    );
    if loaded.listing.timestamp {
        files.push(metadata.join("timestamp.json"));
    }
    files
}

/// Every live role expired at `at`.
fn expiry(published: &Published, at: UnixTime, faults: &mut Vec<Fault>) {
    let mut check = |file: String, role: &str, expires: &str| {
        if parse_expires(expires.as_bytes()).is_none_or(|t| t.0 <= at.0) {
            faults.push(Fault::new(
                rel(&file),
                role,
                FaultKind::Expired,
                format!("expired at {expires}: clients refuse it"),
            ));
        }
    };
    let root = &published.root.signed;
    check(format!("{}.root.json", root.version), "root", &root.expires);
    if let Some(t) = &published.timestamp {
        check("timestamp.json".into(), "timestamp", &t.signed.expires);
    }
    if let Some(s) = &published.snapshot {
        check(
            format!("{}.snapshot.json", s.signed.version),
            "snapshot",
            &s.signed.expires,
        );
    }
    for (role, doc) in &published.targets {
        check(
            names::versioned_role_file(doc.signed.version, role),
            role,
            &doc.signed.expires,
        );
    }
}

/// The published history: the root chain, and every snapshot up to the live
/// one with the role versions it lists (the audit checks the links; here
/// they only say which files were published). A snapshot whose content
/// says another version than its name is misnamed.
fn history(
    repo: &Repository,
    loaded: &PublishedLoad,
    published: &Published,
    referenced: &mut Referenced,
    faults: &mut Vec<Fault>,
) -> Result<(), RepoError> {
    for version in 1..=published.root.signed.version {
        referenced.metadata.insert(format!("{version}.root.json"));
    }
    let Some(live) = published.snapshot.as_ref().map(|s| s.signed.version) else {
        return Ok(());
    };
    for version in loaded.listing.versions("snapshot").filter(|&v| v <= live) {
        let name = format!("{version}.snapshot.json");
        referenced.metadata.insert(name.clone());
        let Some(bytes) = read_optional(&repo.metadata_dir().join(&name))? else {
            continue;
        };
        let Ok(doc) = Signed::<Snapshot>::from_json_slice(&bytes) else {
            faults.push(Fault::new(
                rel(&name),
                "snapshot",
                FaultKind::Unreadable,
                "not a snapshot",
            ));
            continue;
        };
        if doc.signed.version != version {
            faults.push(Fault::new(
                rel(&name),
                "snapshot",
                FaultKind::Misnamed,
                format!("says it is snapshot version {}", doc.signed.version),
            ));
        }
        for (file, meta) in &doc.signed.meta {
            if let Some(role) = file.strip_suffix(".json") {
                referenced
                    .metadata
                    .insert(names::versioned_role_file(meta.version, role));
            }
        }
    }
    // Target files every published role version references.
    let metadata: Vec<String> = referenced.metadata.iter().cloned().collect();
    for name in metadata {
        if name.ends_with(".root.json") || name.ends_with(".snapshot.json") {
            continue;
        }
        let Some(bytes) = read_optional(&repo.metadata_dir().join(&name))? else {
            continue;
        };
        if let Ok(doc) = Signed::<Targets>::from_json_slice(&bytes) {
            for (target, entry) in &doc.signed.targets {
                referenced.targets.extend(target_paths(repo, target, entry));
            }
        }
    }
    Ok(())
}

/// Where a target is published under `targets/` (relative to it): one
/// `DIR/HASH.NAME` per listed hash, and tough's `SHA256.DIR/NAME`.
fn target_paths(repo: &Repository, name: &str, entry: &TargetFile) -> Vec<PathBuf> {
    let dir = repo.targets_dir();
    let mut paths = Vec::new();
    for hash in entry.hashes.values() {
        if let Ok(p) = names::consistent_target_path(&dir, name, hash) {
            paths.push(p);
        }
    }
    if let Some(sha256) = entry.hashes.get("sha256")
        && let Ok(Some(p)) = names::tough_target_path(&dir, name, sha256)
    {
        paths.push(p);
    }
    paths
        .into_iter()
        .filter_map(|p| p.strip_prefix(&dir).ok().map(Path::to_path_buf))
        .collect()
}

/// Every live target file, under every name it is published as: present,
/// with the listed length and hashes. Returns how many were checked.
fn live_targets(
    repo: &Repository,
    published: &Published,
    referenced: &mut Referenced,
    faults: &mut Vec<Fault>,
) -> Result<usize, RepoError> {
    let dir = repo.targets_dir();
    let mut checked = BTreeSet::new();
    for (role, doc) in &published.targets {
        for (name, entry) in &doc.signed.targets {
            for path in target_paths(repo, name, entry) {
                referenced.targets.insert(path.clone());
                if !checked.insert(path.clone()) {
                    continue;
                }
                let file = Path::new("targets").join(&path);
                let full = dir.join(&path);
                if fs::symlink_metadata(&full).is_err() {
                    faults.push(Fault::new(
                        file,
                        role,
                        FaultKind::TargetMissing,
                        format!("missing, but {role} lists {name}"),
                    ));
                    continue;
                }
                match check_file(&full, name, entry) {
                    Ok(()) => {}
                    Err(RepoError::StagedTargetChanged { why, .. }) => faults.push(Fault::new(
                        file,
                        role,
                        FaultKind::TargetMismatch,
                        format!("not the bytes {role} lists for {name} (replaced?): {why}"),
                    )),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(checked.len())
}

/// Files under `metadata/` no published version of any role references:
/// versioned ones are orphans of interrupted publishes (warnings), others
/// faults.
fn unreferenced_metadata(
    loaded: &PublishedLoad,
    referenced: &Referenced,
    faults: &mut Vec<Fault>,
    warnings: &mut Vec<Warning>,
) {
    let listing = &loaded.listing;
    for (role, versions) in listing.roles() {
        for &version in versions {
            let name = names::versioned_role_file(version, role);
            if referenced.metadata.contains(&name) {
                continue;
            }
            // Root files outside the verified chain are the load's faults.
            if role == "root" && loaded.faults.iter().any(|f| f.role == "root") {
                continue;
            }
            warnings.push(Warning {
                file: rel(&name),
                role: role.to_owned(),
                reason: "orphan",
                what: format!(
                    "{role} v{version} was never published (no timestamp names it): an orphan of an interrupted publish; clients never fetch it and later versions go past it"
                ),
            });
        }
    }
    for name in &listing.temporaries {
        warnings.push(temporary(rel(name)));
    }
    for name in &listing.others {
        faults.push(Fault::new(
            rel(name),
            "",
            FaultKind::UnreferencedFile,
            "no published version of any role references it (planted, or left by hand)",
        ));
    }
}

fn temporary(file: PathBuf) -> Warning {
    Warning {
        file,
        role: String::new(),
        reason: "temporary-file",
        what: "a temporary file an interrupted command left; the next command that changes the repository removes it".into(),
    }
}

/// Target paths only staged roles and orphan role files reference: what a
/// publish killed before its timestamp copied into `targets/`.
fn pending_targets(
    repo: &Repository,
    loaded: &PublishedLoad,
    referenced: &Referenced,
) -> Result<BTreeSet<PathBuf>, RepoError> {
    let mut pending = BTreeSet::new();
    let mut docs: Vec<Signed<Targets>> = Vec::new();
    for role in repo.staged_roles()? {
        if role == "root" {
            continue;
        }
        if let Ok(Some(doc)) = repo.load_staged::<Targets>(&role) {
            docs.push(doc);
        }
    }
    for (role, versions) in loaded.listing.roles() {
        if matches!(role, "root" | "snapshot") {
            continue;
        }
        for &version in versions {
            let name = names::versioned_role_file(version, role);
            if referenced.metadata.contains(&name) {
                continue;
            }
            if let Some(bytes) = read_optional(&repo.metadata_dir().join(&name))?
                && let Ok(doc) = Signed::<Targets>::from_json_slice(&bytes)
            {
                docs.push(doc);
            }
        }
    }
    for doc in &docs {
        for (name, entry) in &doc.signed.targets {
            pending.extend(target_paths(repo, name, entry));
        }
    }
    Ok(pending)
}

/// Files under `targets/` no published version of any role references.
fn unreferenced_targets(
    repo: &Repository,
    referenced: &Referenced,
    pending: &BTreeSet<PathBuf>,
    faults: &mut Vec<Fault>,
    warnings: &mut Vec<Warning>,
) -> Result<(), RepoError> {
    let base = repo.targets_dir();
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut found: Vec<(PathBuf, bool)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            // The entry's own type: links are never followed.
            let is_dir = entry.file_type().map_err(io_err(&dir))?.is_dir();
            found.push((entry.path(), is_dir));
        }
        found.sort();
        for (path, is_dir) in found {
            if is_dir {
                stack.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(&base) else {
                continue;
            };
            let file = Path::new("targets").join(relative);
            if referenced.targets.contains(relative) {
                continue;
            }
            let name = relative
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if is_temp_name(name) {
                warnings.push(temporary(file));
            } else if pending.contains(relative) {
                warnings.push(Warning {
                    file,
                    role: String::new(),
                    reason: "interrupted-publish",
                    what: "copied by a publish interrupted before its timestamp: only a staged role or an orphan references it; the next publish uses it".into(),
                });
            } else {
                faults.push(Fault::new(
                    file,
                    "",
                    FaultKind::UnreferencedFile,
                    "no published version of any role references it (planted, or left by hand)",
                ));
            }
        }
    }
    Ok(())
}
