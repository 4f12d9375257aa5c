//! What `repo add` does to a name its role already lists (staged, or
//! published and carried into the next version).
//!
//! Replacing the bytes behind a name approvers may already have reviewed,
//! or that devices already run, must be asked for: a second `repo add` of
//! the same name by mistake (another build, another board's image) used to
//! swap the file silently. The same bytes again change nothing.

use fwsign_manifest_schema::metadata::TargetFile;
use serde::Serialize;

/// What to do when a name is already listed with other bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnExisting {
    /// Refuse ([`crate::RepoError::TargetExists`]); nothing is written.
    #[default]
    Refuse,
    /// Replace the listed entry (`repo add --replace`).
    Replace,
}

/// What staging one file did to its role's entry for the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TargetChange {
    /// The role did not list the name.
    Added,
    /// The role lists the name with these bytes and these fields: nothing
    /// changes (and no approval is dropped for it).
    Unchanged,
    /// The same bytes, with other fields (version, hardware IDs, ...).
    Updated,
    /// Other bytes replaced the listed ones (`--replace`).
    Replaced,
}

/// Whether two entries describe the same bytes: the same length and the
/// same SHA-256 (the hash every fwsign entry lists; other hashes are
/// derived from the same bytes).
pub(crate) fn same_bytes(old: &TargetFile, new: &TargetFile) -> bool {
    old.length == new.length
        && old.hashes.contains_key("sha256")
        && old.hashes.get("sha256") == new.hashes.get("sha256")
}

/// How `new` relates to what the role lists for the name now.
pub(crate) fn classify(old: Option<&TargetFile>, new: &TargetFile) -> TargetChange {
    match old {
        None => TargetChange::Added,
        Some(old) if old == new => TargetChange::Unchanged,
        Some(old) if same_bytes(old, new) => TargetChange::Updated,
        Some(_) => TargetChange::Replaced,
    }
}
