//! Copying and hashing the files `repo add` stages, and putting the copies
//! in place with durability paid once for the whole batch.
//!
//! Each source is copied read-only ([`Mode::ReadOnly`]: a staged file is
//! never edited in place, only replaced by rename, which is what lets
//! publish hard-link it) to a temporary file beside its staged path, or,
//! when its role's staged directory is new, under its own name inside that
//! directory's temporary twin ([`Dest::InNewDir`]), which is renamed into
//! place whole: one rename for a release's 10^5 files, not one each. A small
//! file is read once into the worker's own buffer, hashed and written; a
//! large one is copied by the kernel (a reflink where the file system has
//! them, else `copy_file_range`, which `std::io::copy` uses between files)
//! and hashed from the staged copy, so what is hashed is what approvers sign
//! and publish checks. Nothing is synced per file: [`place_all`] syncs every
//! copy in one pass, renames them (or their new directories) into place,
//! then syncs the directories.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fwsign_core::workflow::{Digests, FinishedDigests};
use fwsign_keys::atomic_write::{
    Mode, PendingDir, PendingFile, create_exclusive, open_pending, sync_batch,
};

use super::Progress;
use super::create_dirs_inside;
use super::parallel::map_parallel;
use crate::{RepoError, io_err};

/// Files at least this large are copied by the kernel and hashed from the
/// copy; smaller ones go through one read and one write.
pub(crate) const KERNEL_COPY_MIN: u64 = 1024 * 1024;

/// The read size when hashing a large staged copy.
const HASH_CHUNK: usize = 256 * 1024;

/// One file to copy: from `src` to `dst`.
pub(crate) struct CopyJob<'a> {
    pub(crate) src: &'a Path,
    pub(crate) dst: Dest,
}

/// Where a copy is written before it is put in place.
#[derive(Debug, Clone)]
pub(crate) enum Dest {
    /// A temporary beside this staged path, renamed over it.
    Beside(PathBuf),
    /// Straight into the new staged directory of a role.
    InNewDir(InNewDir),
}

/// A file written under its own name into a new directory's temporary twin
/// (a [`PendingDir`], which removes it should the directory never be
/// placed): at `written` now, at `path` once that directory is renamed
/// into place.
#[derive(Debug, Clone)]
pub(crate) struct InNewDir {
    pub(crate) written: PathBuf,
    pub(crate) path: PathBuf,
}

impl Dest {
    /// Where the bytes are written.
    fn written(&self) -> &Path {
        match self {
            Dest::Beside(path) => path,
            Dest::InNewDir(file) => &file.written,
        }
    }

    /// Creates the file to write: a temporary beside a staged path, or the
    /// file itself inside a new directory (nothing can be there: the
    /// directory is this command's own).
    fn create(&self) -> std::io::Result<(Placement, File)> {
        match self {
            Dest::Beside(path) => {
                let (pending, file) = open_pending(path, Mode::ReadOnly)?;
                Ok((Placement::Pending(pending), file))
            }
            Dest::InNewDir(new) => {
                let file = create_exclusive(&new.written, Mode::ReadOnly)?;
                Ok((Placement::InNewDir(new.clone()), file))
            }
        }
    }
}

/// A copy made, not yet in place.
#[derive(Debug)]
pub(crate) enum Placement {
    /// A temporary file beside its staged path.
    Pending(PendingFile),
    /// A file in a new directory's temporary twin.
    InNewDir(InNewDir),
}

impl Placement {
    /// Where the bytes are now.
    pub(crate) fn written(&self) -> &Path {
        match self {
            Placement::Pending(p) => p.temp_path(),
            Placement::InNewDir(file) => &file.written,
        }
    }

    /// The staged path the file ends up at.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Placement::Pending(p) => p.path(),
            Placement::InNewDir(file) => &file.path,
        }
    }
}

/// A copy made, not yet in place, and the digests of its bytes.
pub(crate) struct StagedCopy {
    pub(crate) placement: Placement,
    pub(crate) digests: FinishedDigests,
}

/// Copies and hashes every job on every core. Progress is one bar for the
/// whole batch: `label` and the total size, then bytes as they are done.
/// On any error nothing is left behind (the copies made are dropped, which
/// removes them).
pub(crate) fn copy_all(
    jobs: &[CopyJob<'_>],
    label: &str,
    sha512: bool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<StagedCopy>, RepoError> {
    // Every source is sized (and refused when it is not a regular file)
    // before anything is copied, on every core: one `stat` per file, which
    // at 10^5 files one by one was a tenth of a second before any copy.
    let sizes = map_parallel(
        jobs,
        || (),
        |(), job, _| {
            let meta = std::fs::metadata(job.src).map_err(io_err(job.src))?;
            if !meta.is_file() {
                return Err(RepoError::Invalid(format!(
                    "{}: not a regular file",
                    job.src.display()
                )));
            }
            Ok(meta.len())
        },
        &mut |_| {},
    )?;
    let total = sizes.iter().fold(0u64, |sum, &len| sum.saturating_add(len));
    progress(Progress::Start { name: label, total });
    let copies = map_parallel(
        jobs,
        Vec::<u8>::new,
        |buf, job, report| copy_one(job.src, &job.dst, sha512, buf, report),
        &mut |n| progress(Progress::Advance(n)),
    )?;
    progress(Progress::Finish);
    Ok(copies)
}

/// Writes `bytes`, already read and checked (an SBOM), read-only to `dst`
/// and hashes them: what was checked is what is staged, with no second
/// read of the source that could see other bytes.
pub(crate) fn stage_bytes(bytes: &[u8], dst: &Dest, sha512: bool) -> Result<StagedCopy, RepoError> {
    let (placement, mut out) = create_dest(dst)?;
    out.write_all(bytes).map_err(io_err(placement.written()))?;
    let mut digests = Digests::new(sha512);
    digests.update(bytes);
    Ok(StagedCopy {
        placement,
        digests: digests.finish(),
    })
}

/// [`Dest::create`], its error naming the path.
fn create_dest(dst: &Dest) -> Result<(Placement, File), RepoError> {
    dst.create().map_err(|e| io_err(dst.written())(e))
}

/// Copies `src` read-only to `dst` and hashes the bytes staged. `buf` is
/// the worker's own, reused from file to file.
fn copy_one(
    src: &Path,
    dst: &Dest,
    sha512: bool,
    buf: &mut Vec<u8>,
    report: &dyn Fn(u64),
) -> Result<StagedCopy, RepoError> {
    let mut input = File::open(src).map_err(io_err(src))?;
    let len = input.metadata().map_err(io_err(src))?.len();
    let (placement, mut out) = create_dest(dst)?;
    let mut digests = Digests::new(sha512);
    if len >= KERNEL_COPY_MIN {
        kernel_copy(&mut input, &mut out).map_err(io_err(placement.written()))?;
        drop(out);
        let staged = placement.written();
        let mut copy = File::open(staged).map_err(io_err(staged))?;
        buf.resize(HASH_CHUNK, 0);
        loop {
            let n = match copy.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(staged)(e)),
            };
            digests.update(buf.get(..n).unwrap_or_default());
            report(n as u64);
        }
    } else {
        read_small(&mut input, len, buf).map_err(io_err(src))?;
        digests.update(buf);
        out.write_all(buf).map_err(io_err(placement.written()))?;
        report(buf.len() as u64);
    }
    Ok(StagedCopy {
        placement,
        digests: digests.finish(),
    })
}

/// Reads all of the small file `input`, `len` bytes when it was looked at,
/// into `buf`: as `Read::read_to_end` does, without the `fstat` and `lseek`
/// it makes per file to size its buffer (the length is known already, and
/// 10^5 files make that 2 x 10^5 system calls). A file that grew meanwhile
/// is read whole all the same.
fn read_small(input: &mut File, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut filled = 0;
    buf.clear();
    buf.resize(usize::try_from(len).unwrap_or(0).saturating_add(1), 0);
    loop {
        if filled == buf.len() {
            buf.resize(filled.saturating_mul(2).max(HASH_CHUNK), 0);
        }
        let Some(spare) = buf.get_mut(filled..) else {
            break;
        };
        match input.read(spare) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.clear();
                return Err(e);
            }
        }
    }
    buf.truncate(filled);
    Ok(())
}

/// Copies all of `input` (from its start) into the empty `out` in the
/// kernel: a reflink (shared extents, copy-on-write) where the file system
/// has them, else `copy_file_range` through `std::io::copy`.
fn kernel_copy(input: &mut File, out: &mut File) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if rustix::fs::ioctl_ficlone(&*out, &*input).is_ok() {
        return Ok(());
    }
    io::copy(input, out).map(|_| ())
}

/// Puts staged copies in place with durability paid once: every copy's
/// bytes are synced (from a pool, or one `syncfs`), then each temporary is
/// renamed over its staged path and each new directory renamed into place
/// (its files moved one by one should its path be taken meanwhile: by an
/// SBOM another role's share staged there, say), then the directories the
/// renames changed (and those created, up to `base`) are synced. A crash
/// before the renames leaves only temporaries, which the next command
/// removes; nothing is renamed before every copy is on disk.
pub(crate) fn place_all(
    copies: Vec<Placement>,
    new_dirs: Vec<PendingDir>,
    base: &Path,
) -> Result<(), RepoError> {
    let written: Vec<PathBuf> = copies.iter().map(|c| c.written().to_path_buf()).collect();
    let mut dirs = BTreeSet::new();
    for copy in &copies {
        add_dirs_up_to(&mut dirs, copy.path(), base);
    }
    sync_batch(&written, &[]).map_err(|(path, e)| io_err(&path)(e))?;
    let mut moved_one_by_one = Vec::new();
    for mut dir in new_dirs {
        match dir.create_unsynced() {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => moved_one_by_one.push(dir),
            Err(e) => return Err(io_err(dir.path())(e)),
        }
    }
    for copy in copies {
        match copy {
            Placement::Pending(pending) => {
                let path = pending.path().to_path_buf();
                pending.rename_unsynced().map_err(io_err(&path))?;
            }
            Placement::InNewDir(InNewDir { written, path }) => {
                // In place with its directory, unless that was taken.
                if !moved_one_by_one
                    .iter()
                    .any(|d| written.starts_with(d.temp_path()))
                {
                    continue;
                }
                if let Some(rel) = path.parent().and_then(|p| p.strip_prefix(base).ok()) {
                    create_dirs_inside(base, rel)?;
                }
                std::fs::rename(&written, &path).map_err(io_err(&path))?;
            }
        }
    }
    // The directories moved one by one are left empty, and go when dropped.
    drop(moved_one_by_one);
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    sync_batch(&[], &dirs).map_err(|(path, e)| io_err(&path)(e))
}

/// Adds the directory of `path` and each directory above it up to and
/// including `base` (they may have been created by this command, and a new
/// directory's entry lives in its parent).
pub(crate) fn add_dirs_up_to(dirs: &mut BTreeSet<PathBuf>, path: &Path, base: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if !dirs.insert(d.to_path_buf()) || d == base || !d.starts_with(base) {
            break;
        }
        dir = d.parent();
    }
    if let Some(parent) = base.parent() {
        dirs.insert(parent.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of the test's own under the system temp dir, and its
    /// path: the directory is removed when the guard is dropped (also when
    /// the test fails), so keep the guard bound for the whole test.
    fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
        crate::test_scratch(&format!("copy-{name}"))
    }

    #[test]
    fn small_and_large_files_are_staged_read_only_with_the_hash_of_their_bytes() {
        let (_scratch, dir) = scratch("both");
        let small = dir.join("small.bin");
        let large = dir.join("large.bin");
        std::fs::write(&small, b"tiny").unwrap();
        let big: Vec<u8> = (0..KERNEL_COPY_MIN + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&large, &big).unwrap();
        let out = dir.join("staged");
        std::fs::create_dir(&out).unwrap();
        let jobs = [
            CopyJob {
                src: &small,
                dst: Dest::Beside(out.join("small.bin")),
            },
            CopyJob {
                src: &large,
                dst: Dest::Beside(out.join("large.bin")),
            },
        ];
        let mut done = 0u64;
        let copies = copy_all(&jobs, "2 files", false, &mut |p| {
            if let Progress::Advance(n) = p {
                done += n;
            }
        })
        .unwrap();
        assert_eq!(done, 4 + big.len() as u64);
        use sha2::Digest;
        assert_eq!(
            copies[1].digests.sha256,
            <[u8; 32]>::from(sha2::Sha256::digest(&big))
        );
        assert_eq!(copies[0].digests.length, 4);
        place_all(
            copies.into_iter().map(|c| c.placement).collect(),
            vec![],
            &out,
        )
        .unwrap();
        assert_eq!(std::fs::read(out.join("large.bin")).unwrap(), big);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join("small.bin"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o444);
        }
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
    }

    /// A directory (or device, or FIFO) among many sources is refused, by
    /// name, before any source is copied: nothing is staged.
    #[test]
    fn a_source_that_is_not_a_regular_file_is_refused_before_any_copy() {
        let (_scratch, dir) = scratch("not-regular");
        let sources: Vec<PathBuf> = (0..40).map(|i| dir.join(format!("{i:02}.bin"))).collect();
        for (i, src) in sources.iter().enumerate() {
            if i == 29 {
                std::fs::create_dir(src).unwrap();
            } else {
                std::fs::write(src, b"x").unwrap();
            }
        }
        let out = dir.join("staged");
        std::fs::create_dir(&out).unwrap();
        let jobs: Vec<CopyJob<'_>> = sources
            .iter()
            .map(|src| CopyJob {
                src,
                dst: Dest::Beside(out.join(src.file_name().unwrap())),
            })
            .collect();
        let err = copy_all(&jobs, "40 files", false, &mut |_| {})
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!("{}: not a regular file", sources[29].display())
        );
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_source_stages_nothing() {
        let (_scratch, dir) = scratch("missing");
        let present = dir.join("a.bin");
        std::fs::write(&present, b"a").unwrap();
        let missing = dir.join("gone.bin");
        let jobs = [
            CopyJob {
                src: &present,
                dst: Dest::Beside(dir.join("out-a")),
            },
            CopyJob {
                src: &missing,
                dst: Dest::Beside(dir.join("out-b")),
            },
        ];
        let err = copy_all(&jobs, "2 files", false, &mut |_| {})
            .err()
            .unwrap();
        assert!(err.to_string().contains("gone.bin"), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }
    /// Copies of `names` (each `b"bytes of NAME"`) into a new directory
    /// for `dir`, made and not yet placed.
    fn copies_in_new_dir(src: &Path, dir: &Path, names: &[&str]) -> (PendingDir, Vec<Placement>) {
        let pending = fwsign_keys::atomic_write::create_pending_dir(dir).unwrap();
        let sources: Vec<PathBuf> = names
            .iter()
            .map(|n| {
                let path = src.join(n.replace('/', "_"));
                std::fs::write(&path, format!("bytes of {n}")).unwrap();
                path
            })
            .collect();
        let jobs: Vec<CopyJob<'_>> = names
            .iter()
            .zip(&sources)
            .map(|(n, src)| {
                if let Some(parent) = Path::new(n).parent() {
                    std::fs::create_dir_all(pending.temp_path().join(parent)).unwrap();
                }
                CopyJob {
                    src,
                    dst: Dest::InNewDir(InNewDir {
                        written: pending.temp_path().join(n),
                        path: dir.join(n),
                    }),
                }
            })
            .collect();
        let copies = copy_all(&jobs, "files", false, &mut |_| {}).unwrap();
        (pending, copies.into_iter().map(|c| c.placement).collect())
    }

    /// Each of `names` is in `dir` with the bytes [`copies_in_new_dir`]
    /// gave it.
    fn assert_placed(dir: &Path, names: &[&str]) {
        for name in names {
            assert_eq!(
                std::fs::read(dir.join(name)).unwrap(),
                format!("bytes of {name}").into_bytes(),
                "{name}"
            );
        }
    }

    #[test]
    fn a_new_directory_is_built_aside_and_renamed_into_place_whole() {
        let (_scratch, dir) = scratch("new-dir");
        let base = dir.join("staged");
        std::fs::create_dir(&base).unwrap();
        let role_dir = base.join("targets");
        let (pending, copies) = copies_in_new_dir(&dir, &role_dir, &["a.bin", "board/b.bin"]);
        // Nothing is at the staged path until the copies are placed.
        assert!(!role_dir.exists());
        place_all(copies, vec![pending], &base).unwrap();
        assert_placed(&role_dir, &["a.bin", "board/b.bin"]);
        // The temporary directory is the placed one: nothing else is left.
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 1);
    }

    #[test]
    fn a_new_directory_whose_path_was_taken_meanwhile_is_moved_file_by_file() {
        let (_scratch, dir) = scratch("new-dir-taken");
        let base = dir.join("staged");
        std::fs::create_dir(&base).unwrap();
        let role_dir = base.join("targets");
        let (pending, copies) = copies_in_new_dir(&dir, &role_dir, &["a.bin", "board/b.bin"]);
        // Another share of the same add (an SBOM routed to this role)
        // made the directory first: neither may lose its file.
        std::fs::create_dir_all(role_dir.join("board")).unwrap();
        std::fs::write(role_dir.join("board/sbom.json"), b"sbom").unwrap();
        place_all(copies, vec![pending], &base).unwrap();
        assert_placed(&role_dir, &["a.bin", "board/b.bin"]);
        assert_eq!(
            std::fs::read(role_dir.join("board/sbom.json")).unwrap(),
            b"sbom"
        );
        assert_eq!(
            std::fs::read_dir(&base).unwrap().count(),
            1,
            "the temporary went"
        );
    }

    #[test]
    fn a_new_directory_never_placed_leaves_nothing() {
        let (_scratch, dir) = scratch("new-dir-dropped");
        let base = dir.join("staged");
        std::fs::create_dir(&base).unwrap();
        let (pending, copies) = copies_in_new_dir(&dir, &base.join("targets"), &["a/b/c.bin"]);
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 1);
        drop(copies);
        drop(pending);
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
    }
}
