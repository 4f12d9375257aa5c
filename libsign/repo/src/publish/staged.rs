//! What a publish reads of the staged side before it checks anything: the
//! staged roles and their files, and the roles a killed publish already
//! made live.

use std::collections::BTreeMap;
use std::fs;

use super::files::remove_if_there;
use crate::staged_role::StagedRole;
use crate::staging::parallel::map_parallel;
use crate::{Published, RepoError, Repository, file_bytes, io_err};

/// The staged roles in order, and the file bytes of the targets roles
/// among them by name ([`Repository::read_staged_for_release`]).
pub(super) type StagedRelease = (Vec<(String, StagedRole)>, BTreeMap<String, Vec<u8>>);

impl Repository {
    /// Removes staged roles a crashed publish already made live (their
    /// version is not newer than the published one), from disk and from
    /// `staged`.
    pub(super) fn clear_stale_staging(
        &self,
        published: Option<&Published>,
        staged: &mut Vec<(String, StagedRole)>,
    ) -> Result<(), RepoError> {
        let Some(published) = published else {
            return Ok(());
        };
        let stale: Vec<String> = staged
            .iter()
            .filter(|(role, doc)| match doc {
                StagedRole::Root(r) => r.signed.version <= published.root.signed.version,
                StagedRole::Targets(s) => published
                    .targets
                    .get(role.as_str())
                    .is_some_and(|p| s.signed.version <= p.signed.version),
            })
            .map(|(role, _)| role.clone())
            .collect();
        staged.retain(|(role, _)| !stale.contains(role));
        for role in stale {
            let path = self.staged_path(&role);
            fs::remove_file(&path).map_err(io_err(&path))?;
            self.staged_removed(&role);
            self.clear_dropped(&role)?;
            if role != "root" {
                remove_if_there(&self.staged_role_targets_dir(&role))?;
            }
        }
        Ok(())
    }

    /// Every staged role, in [`Repository::staged_roles`] order, and the
    /// file bytes of each staged targets role, read and serialised on every
    /// core.
    pub(super) fn read_staged_for_release(&self) -> Result<StagedRelease, RepoError> {
        let roles = self.staged_roles()?;
        let read = map_parallel(
            &roles,
            || (),
            |(), role, _| {
                let Some(doc) = StagedRole::load_optional(self, role)? else {
                    return Ok(None);
                };
                let file = match &doc {
                    StagedRole::Targets(targets) => Some(file_bytes(role, targets)?),
                    StagedRole::Root(_) => None,
                };
                Ok(Some((doc, file)))
            },
            &mut |_| {},
        )?;
        let mut docs = Vec::with_capacity(read.len());
        let mut files = BTreeMap::new();
        for (role, read) in roles.into_iter().zip(read) {
            let Some((doc, file)) = read else { continue };
            if let Some(file) = file {
                files.insert(role.clone(), file);
            }
            docs.push((role, doc));
        }
        Ok((docs, files))
    }
}
