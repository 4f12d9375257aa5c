//! A staged role read once for one signing step. Signing a role needs its
//! payload (to check what was signed), the role with the signature added
//! (to write back) and its approval state (to report): read separately,
//! each parsed and canonicalised the whole role again, four passes over a
//! 10,000-target document for one signature.

use std::io::Write;
use std::path::PathBuf;

use fwsign_manifest_schema::metadata::{Root, Signed, Targets};

use super::staged_changes::delegated_names;
use super::staging::parallel::map_parallel;
use super::{RepoError, Repository, file_bytes, file_bytes_around, io_err, names, read_optional};
use fwsign_keys::atomic_write::{Mode, open_pending, sync_batch, sync_dir};
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

    /// Saves each of `roles` as [`StagedRole::save`] does, made durable
    /// together: written under temporary names, synced in one batch,
    /// renamed into place, and `staged/` synced once. Signing 1,024 bins
    /// saved them one by one, two `fsync` calls each. A crash leaves each
    /// role as it was or as saved, as one save would.
    pub(crate) fn save_all(repo: &Repository, roles: &[ToSave<'_>]) -> Result<(), RepoError> {
        Self::save_all_keeping(repo, roles, false).map(drop)
    }

    /// [`StagedRole::save_all`], returning the bytes written for each role,
    /// in order: what `repo sign` checks the approvals on, rather than
    /// serialising each role once more.
    pub(crate) fn save_all_written(
        repo: &Repository,
        roles: &[ToSave<'_>],
    ) -> Result<Vec<Vec<u8>>, RepoError> {
        Self::save_all_keeping(repo, roles, true)
    }

    fn save_all_keeping(
        repo: &Repository,
        roles: &[ToSave<'_>],
        keep: bool,
    ) -> Result<Vec<Vec<u8>>, RepoError> {
        // Written on every core: serialising and writing the 1,024 bins a
        // `repo sign --role 'bins-*'` or a 10^5-target add changes took half
        // a second on one.
        let pending = map_parallel(
            roles,
            || (),
            |(), save, _| {
                names::check_role_name(save.role)?;
                let bytes = save.file_bytes()?;
                let path = repo.staged_path(save.role);
                let (file, mut out) = open_pending(&path, Mode::Public).map_err(io_err(&path))?;
                out.write_all(&bytes).map_err(io_err(file.temp_path()))?;
                // Dropped here unless asked for: a 10^5-target role's bytes
                // would otherwise stay in memory until every role is saved.
                Ok((file, if keep { bytes } else { Vec::new() }))
            },
            &mut |_| {},
        )?;
        let temps: Vec<PathBuf> = pending
            .iter()
            .map(|(p, _)| p.temp_path().to_path_buf())
            .collect();
        sync_batch(&temps, &[]).map_err(|(path, e)| io_err(&path)(e))?;
        let mut written = Vec::with_capacity(if keep { pending.len() } else { 0 });
        for ((file, bytes), save) in pending.into_iter().zip(roles) {
            let path = file.path().to_path_buf();
            let renamed = file.rename_unsynced().map_err(io_err(&path));
            let delegated = match save.doc {
                Self::Root(doc) => delegated_names(doc),
                Self::Targets(doc) => delegated_names(doc),
            };
            repo.staged_changes.written(save.role, delegated);
            renamed?;
            if keep {
                written.push(bytes);
            }
        }
        let dir = repo.staged_dir();
        sync_dir(&dir).map_err(io_err(&dir))?;
        Ok(written)
    }

    /// Staged `role` parsed from `bytes`, the file's contents.
    fn from_bytes(repo: &Repository, role: &str, bytes: &[u8]) -> Result<Self, RepoError> {
        Ok(if role == "root" {
            Self::Root(repo.staged_from_bytes::<Root>("root", bytes)?)
        } else {
            Self::Targets(repo.staged_from_bytes::<Targets>(role, bytes)?)
        })
    }

    /// Writes it back to `staged/ROLE.json`.
    pub(crate) fn save(&self, repo: &Repository, role: &str) -> Result<(), RepoError> {
        match self {
            Self::Root(doc) => repo.save_staged("root", doc),
            Self::Targets(doc) => repo.save_staged(role, doc),
        }
    }
}

/// A staged role to save ([`StagedRole::save_all`]).
pub(crate) struct ToSave<'a> {
    /// The role's name.
    pub(crate) role: &'a str,
    /// The role.
    pub(crate) doc: &'a StagedRole,
    /// Its signing payload when made already (`repo sign`, which only adds
    /// a signature): the file is written around it
    /// ([`file_bytes_around`]) rather than serialised again.
    pub(crate) payload: Option<&'a [u8]>,
}

impl<'a> ToSave<'a> {
    /// `doc`, saved as `role`, serialised whole.
    pub(crate) fn new(role: &'a str, doc: &'a StagedRole) -> Self {
        Self {
            role,
            doc,
            payload: None,
        }
    }

    /// The bytes of the file: fwsign's portable canonical form.
    fn file_bytes(&self) -> Result<Vec<u8>, RepoError> {
        let Some(payload) = self.payload else {
            return match self.doc {
                StagedRole::Root(doc) => file_bytes(self.role, doc),
                StagedRole::Targets(doc) => file_bytes(self.role, doc),
            };
        };
        match self.doc {
            StagedRole::Root(doc) => file_bytes_around(self.role, doc, payload),
            StagedRole::Targets(doc) => file_bytes_around(self.role, doc, payload),
        }
    }
}

/// A staged role with the bytes it was read from and its payload: what the
/// two halves of `repo sign` (the signature without the lock, its addition
/// under it) share while the file does not change in between. Reading,
/// parsing and serialising a 10^5-target role for each half was a third of
/// a signature.
pub(crate) struct StagedRead {
    raw: Vec<u8>,
    /// The role as read.
    pub(crate) staged: StagedRole,
    /// The canonical bytes approvers sign.
    pub(crate) payload: Vec<u8>,
}

impl StagedRead {
    /// Reads staged `role`; [`RepoError::NotStaged`] when it is not staged.
    pub(crate) fn load(repo: &Repository, role: &str) -> Result<Self, RepoError> {
        names::check_role_name(role)?;
        let raw = read_optional(&repo.staged_path(role))?
            .ok_or_else(|| RepoError::NotStaged(role.to_owned()))?;
        Self::parse(repo, role, raw)
    }

    fn parse(repo: &Repository, role: &str, raw: Vec<u8>) -> Result<Self, RepoError> {
        let staged = StagedRole::from_bytes(repo, role, &raw)?;
        let payload = staged.payload(role)?;
        Ok(Self {
            raw,
            staged,
            payload,
        })
    }

    /// The role as the file holds it now: this read when the file still
    /// has the same bytes, else read again (another command changed it).
    pub(crate) fn refreshed(self, repo: &Repository, role: &str) -> Result<Self, RepoError> {
        let raw = read_optional(&repo.staged_path(role))?
            .ok_or_else(|| RepoError::NotStaged(role.to_owned()))?;
        if raw == self.raw {
            Ok(self)
        } else {
            Self::parse(repo, role, raw)
        }
    }
}
