//! A staged role read once for one signing step. Signing a role needs its
//! payload (to check what was signed), the role with the signature added
//! (to write back) and its approval state (to report): read separately,
//! each parsed and canonicalised the whole role again, four passes over a
//! 10,000-target document for one signature.

use fwsign_manifest_schema::metadata::{Root, Signed, Targets};

use super::{RepoError, Repository};
use fwsign_keys::document::{put_signature, signing_payload};

/// A staged role as read from `staged/ROLE.json`.
pub(crate) enum StagedRole {
    /// `staged/root.json`.
    Root(Signed<Root>),
    /// A staged targets role (`targets` or a delegated one).
    Targets(Signed<Targets>),
}

impl StagedRole {
    /// Staged `role`, or `None` when it is not staged.
    pub(crate) fn load_optional(repo: &Repository, role: &str) -> Result<Option<Self>, RepoError> {
        Ok(if role == "root" {
            repo.load_staged::<Root>("root")?.map(Self::Root)
        } else {
            repo.load_staged::<Targets>(role)?.map(Self::Targets)
        })
    }

    /// Staged `role`; [`RepoError::NotStaged`] when it is not staged.
    pub(crate) fn load(repo: &Repository, role: &str) -> Result<Self, RepoError> {
        Self::load_optional(repo, role)?.ok_or_else(|| RepoError::NotStaged(role.to_owned()))
    }

    /// Its staged version.
    pub(crate) fn version(&self) -> u64 {
        match self {
            Self::Root(doc) => doc.signed.version,
            Self::Targets(doc) => doc.signed.version,
        }
    }

    /// The canonical bytes approvers sign.
    pub(crate) fn payload(&self, role: &str) -> Result<Vec<u8>, RepoError> {
        match self {
            Self::Root(doc) => signing_payload(&doc.signed),
            Self::Targets(doc) => signing_payload(&doc.signed),
        }
        .map_err(|source| RepoError::Document {
            context: format!("staged {role}"),
            source,
        })
    }

    /// Adds `signature` (already verified) under each of `keyids`,
    /// replacing what those key IDs had, in key ID order.
    pub(crate) fn put(&mut self, keyids: &[String], signature: &[u8]) {
        for keyid in keyids {
            match self {
                Self::Root(doc) => put_signature(doc, keyid.clone(), signature),
                Self::Targets(doc) => put_signature(doc, keyid.clone(), signature),
            }
        }
    }

    /// Writes it back to `staged/ROLE.json`.
    pub(crate) fn save(&self, repo: &Repository, role: &str) -> Result<(), RepoError> {
        match self {
            Self::Root(doc) => repo.save_staged("root", doc),
            Self::Targets(doc) => repo.save_staged(role, doc),
        }
    }
}
