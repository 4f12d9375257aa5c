//! Taking a repository's lock, and what whoever takes it exclusively
//! cleans up: the temporary files killed commands left.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{RepoError, Repository, io_err, lock, published_state};

impl Repository {
    /// Takes the repository lock for `command` (`"repo add"`): exclusive
    /// for a command that changes the repository, shared for one that only
    /// reads it. Held until the returned value is dropped; see [`lock`].
    ///
    /// Whoever takes it exclusively is the only fwsign command working on
    /// the repository, so any temporary file in it was left by a killed
    /// command: they are removed before the lock is returned.
    pub fn lock(
        &self,
        kind: lock::LockKind,
        command: &str,
        timeout: std::time::Duration,
    ) -> Result<lock::RepoLock, RepoError> {
        let held = lock::RepoLock::acquire(&self.dir, kind, command, timeout)?;
        if held.is_exclusive() {
            self.sweep_stale_temporaries(false)?;
        }
        Ok(held)
    }

    /// Removes the temporary files a killed `publish` left in `targets/`,
    /// under the exclusive lock `held` (nothing without it): `publish`
    /// calls it before it links. Only `publish` writes in `targets/`, and a
    /// temporary left there is never a published name, so the other
    /// commands leave them: `targets/` holds every published target, and
    /// listing 10^5 of them cost each command 50 ms. Nor does `publish`
    /// list it unless the last one was stopped while it linked: only then
    /// is the marker [`Repository::mark_linking`] made still there.
    pub fn remove_stale_target_temporaries(
        &self,
        held: &lock::RepoLock,
    ) -> Result<Vec<PathBuf>, RepoError> {
        let marker = self.dir.join(LINKING_MARKER);
        if !held.is_exclusive() || fs::symlink_metadata(&marker).is_err() {
            return Ok(Vec::new());
        }
        let mut removed = Vec::new();
        sweep(&self.targets_dir(), true, &mut removed)?;
        fs::remove_file(&marker).map_err(io_err(&marker))?;
        Ok(removed)
    }

    /// Marks, durably, that `publish` is about to put files into `targets/`
    /// (where a kill can leave temporaries), for the next publish to sweep
    /// them ([`Repository::remove_stale_target_temporaries`]); call
    /// [`Repository::unmark_linking`] once every temporary is placed.
    pub(crate) fn mark_linking(&self) -> Result<(), RepoError> {
        let marker = self.dir.join(LINKING_MARKER);
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true);
        // Never through a link planted under its name.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            rustix::fs::OFlags::NOFOLLOW.bits() as i32,
        );
        options.open(&marker).map_err(io_err(&marker))?;
        fwsign_keys::atomic_write::sync_dir(&self.dir).map_err(io_err(&self.dir))
    }

    /// Clears [`Repository::mark_linking`]'s marker: no temporary of this
    /// publish is left in `targets/`. Not synced: should the removal be
    /// lost, the next publish only lists `targets/` once for nothing.
    pub(crate) fn unmark_linking(&self) -> Result<(), RepoError> {
        let marker = self.dir.join(LINKING_MARKER);
        fs::remove_file(&marker).map_err(io_err(&marker))
    }

    /// Removes the temporary files and directories (`.NAME.fwsign-tmp-...`)
    /// a killed command left in the repository: in its top directory,
    /// `staged/`, `metadata/` and `targets/`. Call it only under the exclusive lock, when no other
    /// command can be writing one. Returns the files removed.
    pub fn remove_stale_temporaries(&self) -> Result<Vec<PathBuf>, RepoError> {
        self.sweep_stale_temporaries(true)
    }

    /// [`Repository::remove_stale_temporaries`], `targets/` only when
    /// `targets`.
    fn sweep_stale_temporaries(&self, targets: bool) -> Result<Vec<PathBuf>, RepoError> {
        let mut removed = Vec::new();
        sweep(&self.dir, false, &mut removed)?;
        sweep(&self.staged_dir(), true, &mut removed)?;
        // `metadata/` is enumerated by the published-state listing only.
        let metadata = self.metadata_dir();
        for name in published_state::Listing::read(&metadata)?.temporaries {
            let path = metadata.join(name);
            match fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        if targets {
            sweep(&self.targets_dir(), true, &mut removed)?;
        }
        Ok(removed)
    }
}

/// The file in the repository's top directory that says a `publish` was
/// putting files into `targets/` and may have been stopped doing so.
const LINKING_MARKER: &str = ".fwsign-linking-targets";

/// Removes fwsign's temporaries in `dir` (and below it when `recurse`):
/// temporary files, and temporary directories with what is in them.
fn sweep(dir: &Path, recurse: bool, removed: &mut Vec<PathBuf>) -> Result<(), RepoError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    // `targets/` holds every published target (10^5 entries in a
    // catalogue): only directories and temporaries get a path made.
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        // The entry's own type: links are never followed.
        let kind = entry.file_type().map_err(io_err(dir))?;
        let temporary = entry
            .file_name()
            .to_str()
            .is_some_and(fwsign_keys::atomic_write::is_temp_name);
        if kind.is_dir() && temporary {
            // A role's new staged directory, built by a killed `repo add`
            // (`PendingDir`): removed with everything in it.
            let path = entry.path();
            match fs::remove_dir_all(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        } else if kind.is_dir() {
            if recurse {
                sweep(&entry.path(), true, removed)?;
            }
        } else if kind.is_file() && temporary {
            let path = entry.path();
            match fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
    }
    Ok(())
}
