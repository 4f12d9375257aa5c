//! Putting a release's new target files into `targets/` without a second
//! copy, durable in one pass.
//!
//! Each staged file was hashed once against the approved metadata
//! ([`check_staged`], on every core) before anything is written. It then
//! enters `targets/` under its first consistent-snapshot name as
//! - a reflink (its own inode sharing the extents, copy-on-write) where the
//!   file system has them, made under a temporary name beside it;
//! - else a hard link to the staged file itself, made under that name
//!   directly (its inode is durable since `repo add`). Staged files are
//!   created read-only and only ever replaced by rename, so no edit can
//!   reach the published name through the shared inode; the link is checked
//!   to be the very inode that was hashed, so a staged file swapped between
//!   the check and the link is refused (and the name removed again: nothing
//!   names it before the timestamp does);
//! - else (a writable staged file from an older fwsign, or no inode to
//!   check) a copy under a temporary name, checked again before it is linked.
//!
//! Copies and reflinks are synced together; then every temporary is linked
//! under its first name, its other names (one per listed hash, and tough's)
//! are hard links to the first, and every directory touched is synced once
//! at the end: durability is paid once per publish, not per file.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use fwsign_keys::atomic_write::{Mode, PendingFile, open_pending, sync_batch};
use fwsign_manifest_schema::metadata::TargetFile;

use super::PublishStep;
use super::files::{FileIdentity, check_file, check_open_file, link_into, missing};
use crate::names::{consistent_target_path, tough_target_path};
use crate::staging::copy::add_dirs_up_to;
use crate::staging::parallel::map_parallel;
use crate::staging::{create_dirs_inside, refuse_link};
use crate::{RepoError, io_err};

/// One target a release publishes: its name, its approved entry and the
/// staged file it is published from.
pub(super) type NewTarget = (String, TargetFile, PathBuf);

/// Hashes every staged file against its approved entry, on every core, and
/// returns the identity of each file hashed; the first mismatch (in release
/// order) is the error. A file missing from its role's directory is read
/// from `legacy_dir` (`staged/targets/NAME`, where fwsign staged files
/// before it kept them per role) when it is a file there, and its path in
/// `targets` replaced: found by the open that reads it, not looked up
/// first (10^5 lookups in one directory).
pub(super) fn check_staged(
    targets: &mut [NewTarget],
    legacy_dir: &Path,
) -> Result<Vec<FileIdentity>, RepoError> {
    let checked = map_parallel(
        targets,
        Vec::<u8>::new,
        |buf, (name, entry, staged), _| {
            let legacy = match File::open(staged) {
                Ok(file) => return Ok((check_open_file(file, staged, name, entry, buf)?, None)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    crate::names::target_path(legacy_dir, name)?
                }
                Err(e) => return Err(io_err(staged)(e)),
            };
            if !fs::symlink_metadata(&legacy).is_ok_and(|m| m.is_file()) {
                return Err(missing(staged, name));
            }
            let file = File::open(&legacy).map_err(io_err(&legacy))?;
            Ok((
                check_open_file(file, &legacy, name, entry, buf)?,
                Some(legacy),
            ))
        },
        &mut |_| {},
    )?;
    let mut identities = Vec::with_capacity(checked.len());
    for ((_, _, staged), (identity, legacy)) in targets.iter_mut().zip(checked) {
        if let Some(legacy) = legacy {
            *staged = legacy;
        }
        identities.push(identity);
    }
    Ok(identities)
}

/// Puts every target into `targets/` (see the module docs); `identities`
/// are what [`check_staged`] returned for them.
pub(super) fn link_all(
    targets_dir: &Path,
    targets: &[NewTarget],
    identities: &[FileIdentity],
    on_step: &mut dyn FnMut(PublishStep),
) -> Result<(), RepoError> {
    let mut linker = Linker {
        targets_dir,
        made_dirs: HashSet::new(),
        synced_dirs: BTreeSet::new(),
        reflinks: AtomicBool::new(cfg!(target_os = "linux")),
    };
    // Each target's first name, its directory made one at a time (each
    // component checked for links).
    let mut firsts = Vec::with_capacity(targets.len());
    for (name, entry, _) in targets {
        let Some(hash) = entry.hashes.values().next() else {
            return Err(RepoError::StagedTargetChanged {
                name: name.clone(),
                why: "its entry lists no hash".into(),
            });
        };
        let first = consistent_target_path(targets_dir, name, hash)?;
        linker.make_parent(&first)?;
        firsts.push(first);
    }
    // Pass 1, on every core: under each first name a hard link to the
    // staged file, or a temporary beside it holding a reflink or copy. The
    // links into one directory take its lock in turn, but their lookups
    // and the check of the inode linked run side by side (10^5 links: a
    // fifth faster on two cores). A name already there (published before,
    // or by a publish killed earlier) is found by the link or rename that
    // would make it, not looked up first.
    let items: Vec<(&NewTarget, &FileIdentity, &PathBuf)> = targets
        .iter()
        .zip(identities)
        .zip(&firsts)
        .map(|((target, identity), first)| (target, identity, first))
        .collect();
    let placed = map_parallel(
        &items,
        || (),
        |(), &((name, entry, staged), identity, first), report| {
            let placed = linker.place_first(name, entry, staged, *identity, first)?;
            report(1);
            Ok(placed)
        },
        &mut |n| {
            for _ in 0..n {
                on_step(PublishStep::TargetCopied);
            }
        },
    )?;
    let mut pending: Vec<(usize, PendingFile)> = Vec::new();
    let mut new_inodes: Vec<PathBuf> = Vec::new();
    for (index, temp) in placed.into_iter().enumerate() {
        if let Some(temp) = temp {
            new_inodes.push(temp.temp_path().to_path_buf());
            pending.push((index, temp));
        }
    }
    // Copies and reflinks are durable before any gets its published name
    // (a hard link's inode is the staged file's, durable since `repo add`).
    sync_batch(&new_inodes, &[]).map_err(|(path, e)| io_err(&path)(e))?;
    for (index, copy) in pending {
        let (name, entry, _) = &targets[index];
        let path = copy.path().to_path_buf();
        match copy.create_unsynced() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => already(&path, name, entry)?,
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    // Pass 2: every other name, as links to the first.
    for ((name, entry, _), first) in targets.iter().zip(&firsts) {
        add_dirs_up_to(&mut linker.synced_dirs, first, targets_dir);
        let mut others = Vec::new();
        for hash in entry.hashes.values().skip(1) {
            others.push(consistent_target_path(targets_dir, name, hash)?);
        }
        if let Some(sha256) = entry.hashes.get("sha256")
            && let Some(tough) = tough_target_path(targets_dir, name, sha256)?
        {
            others.push(tough);
        }
        for other in others {
            link_into(targets_dir, first, &other)?;
            add_dirs_up_to(&mut linker.synced_dirs, &other, targets_dir);
        }
    }
    let dirs: Vec<PathBuf> = linker.synced_dirs.into_iter().collect();
    sync_batch(&[], &dirs).map_err(|(path, e)| io_err(&path)(e))
}

/// A file already published under the name: it must be these bytes, as
/// published files are never rewritten, and not a link, which fwsign never
/// writes or reads through.
fn already(path: &Path, name: &str, entry: &TargetFile) -> Result<(), RepoError> {
    refuse_link(path)?;
    check_file(path, name, entry).map_err(|_| RepoError::WouldRewrite(path.to_path_buf()))
}

struct Linker<'a> {
    targets_dir: &'a Path,
    /// Directories already created (or found) under `targets/`.
    made_dirs: HashSet<PathBuf>,
    /// Directories whose entries changed, synced once at the end.
    synced_dirs: BTreeSet<PathBuf>,
    /// Whether to try a reflink: cleared at the first the file system
    /// refuses, so an ext4 publish does not try once per file.
    reflinks: AtomicBool,
}

impl Linker<'_> {
    fn make_parent(&mut self, path: &Path) -> Result<(), RepoError> {
        if let Some(parent) = path.parent()
            && !self.made_dirs.contains(parent)
        {
            if let Ok(rel) = parent.strip_prefix(self.targets_dir) {
                create_dirs_inside(self.targets_dir, rel)?;
            }
            self.made_dirs.insert(parent.to_path_buf());
        }
        Ok(())
    }

    /// Puts the staged file under `first`: a reflink or a copy in a
    /// temporary beside it (a new inode, to sync before it is linked under
    /// `first`), or a hard link made at `first` itself (`None`).
    fn place_first(
        &self,
        name: &str,
        entry: &TargetFile,
        staged: &Path,
        identity: FileIdentity,
        first: &Path,
    ) -> Result<Option<PendingFile>, RepoError> {
        let swapped = || RepoError::StagedTargetChanged {
            name: name.to_owned(),
            why: format!(
                "{} was replaced after it was checked against the approved hashes",
                staged.display()
            ),
        };
        if !identity.read_only || identity.inode.is_none() {
            return copy_checked(name, entry, staged, first).map(Some);
        }
        if self.reflinks.load(Ordering::Relaxed) {
            match reflink(staged, first, identity) {
                Ok(Some(copy)) => return Ok(Some(copy)),
                Ok(None) => return Err(swapped()),
                Err(_) => self.reflinks.store(false, Ordering::Relaxed),
            }
        }
        match fs::hard_link(staged, first) {
            Ok(()) => {}
            // Published meanwhile (by a publish killed earlier, say): it
            // must be these bytes.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                already(first, name, entry)?;
                return Ok(None);
            }
            Err(e) => return Err(io_err(first)(e)),
        }
        let linked = FileIdentity::at(first).map_err(io_err(first))?;
        if linked.inode != identity.inode {
            // Only the timestamp makes the name reachable, and it is
            // written last: the wrong file goes again before anyone can
            // fetch it.
            fs::remove_file(first).map_err(io_err(first))?;
            return Err(swapped());
        }
        Ok(None)
    }
}

/// A reflink of `staged` in a temporary beside `first`: `Ok(None)` when the
/// file open under `staged` is not the one checked, `Err` when the file
/// system has no reflinks (or refuses this one).
fn reflink(staged: &Path, first: &Path, identity: FileIdentity) -> io::Result<Option<PendingFile>> {
    let src = File::open(staged)?;
    if FileIdentity::of_open(&src)?.inode != identity.inode {
        return Ok(None);
    }
    let (pending, out) = open_pending(first, Mode::ReadOnly)?;
    #[cfg(target_os = "linux")]
    {
        rustix::fs::ioctl_ficlone(&out, &src)?;
        Ok(Some(pending))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (out, pending);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// A copy of `staged` in a temporary beside `first`, checked against the
/// entry (the staged file could be written to, so the copy is what counts).
fn copy_checked(
    name: &str,
    entry: &TargetFile,
    staged: &Path,
    first: &Path,
) -> Result<PendingFile, RepoError> {
    let mut src = File::open(staged).map_err(io_err(staged))?;
    let (pending, mut out) = open_pending(first, Mode::Public).map_err(io_err(first))?;
    io::copy(&mut src, &mut out).map_err(io_err(pending.temp_path()))?;
    drop(out);
    check_file(pending.temp_path(), name, entry)?;
    Ok(pending)
}
