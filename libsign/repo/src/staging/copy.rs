//! Copying and hashing the files `repo add` stages, and putting the copies
//! in place with durability paid once for the whole batch.
//!
//! Each source is copied to a read-only temporary file beside its staged
//! path ([`Mode::ReadOnly`]: a staged file is never edited in place, only
//! replaced by rename, which is what lets publish hard-link it). A small
//! file is read once into the worker's own buffer, hashed and written; a
//! large one is copied by the kernel (a reflink where the file system has
//! them, else `copy_file_range`, which `std::io::copy` uses between files)
//! and hashed from the staged copy, so what is hashed is what approvers sign
//! and publish checks. Nothing is synced per file: [`place_all`] syncs every
//! copy in one pass, renames them into place, then syncs their directories.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fwsign_core::workflow::{Digests, FinishedDigests};
use fwsign_keys::atomic_write::{Mode, PendingFile, open_pending, sync_batch};

use super::Progress;
use super::parallel::map_parallel;
use crate::{RepoError, io_err};

/// Files at least this large are copied by the kernel and hashed from the
/// copy; smaller ones go through one read and one write.
pub(crate) const KERNEL_COPY_MIN: u64 = 1024 * 1024;

/// The read size when hashing a large staged copy.
const HASH_CHUNK: usize = 256 * 1024;

/// One file to copy: from `src` to a temporary beside `dst`.
pub(crate) struct CopyJob<'a> {
    pub(crate) src: &'a Path,
    pub(crate) dst: PathBuf,
}

/// A copy made, not yet in place, and the digests of its bytes.
pub(crate) struct StagedCopy {
    pub(crate) pending: PendingFile,
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
    let mut total = 0u64;
    for job in jobs {
        let meta = std::fs::metadata(job.src).map_err(io_err(job.src))?;
        if !meta.is_file() {
            return Err(RepoError::Invalid(format!(
                "{}: not a regular file",
                job.src.display()
            )));
        }
        total = total.saturating_add(meta.len());
    }
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

/// Writes `bytes`, already read and checked (an SBOM), to a read-only
/// temporary beside `dst` and hashes them: what was checked is what is
/// staged, with no second read of the source that could see other bytes.
pub(crate) fn stage_bytes(bytes: &[u8], dst: &Path, sha512: bool) -> Result<StagedCopy, RepoError> {
    let (pending, mut out) = open_pending(dst, Mode::ReadOnly).map_err(io_err(dst))?;
    out.write_all(bytes).map_err(io_err(pending.temp_path()))?;
    let mut digests = Digests::new(sha512);
    digests.update(bytes);
    Ok(StagedCopy {
        pending,
        digests: digests.finish(),
    })
}

/// Copies `src` to a read-only temporary beside `dst` and hashes the bytes
/// staged. `buf` is the worker's own, reused from file to file.
fn copy_one(
    src: &Path,
    dst: &Path,
    sha512: bool,
    buf: &mut Vec<u8>,
    report: &dyn Fn(u64),
) -> Result<StagedCopy, RepoError> {
    let mut input = File::open(src).map_err(io_err(src))?;
    let len = input.metadata().map_err(io_err(src))?.len();
    let (pending, mut out) = open_pending(dst, Mode::ReadOnly).map_err(io_err(dst))?;
    let mut digests = Digests::new(sha512);
    if len >= KERNEL_COPY_MIN {
        kernel_copy(&mut input, &mut out).map_err(io_err(pending.temp_path()))?;
        drop(out);
        let staged = pending.temp_path();
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
        out.write_all(buf).map_err(io_err(pending.temp_path()))?;
        report(buf.len() as u64);
    }
    Ok(StagedCopy {
        pending,
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
/// bytes are synced (from a pool), then each is renamed over its staged
/// path, then the directories the renames changed (and those created, up to
/// `base`) are synced. A crash before the renames leaves only temporaries,
/// which the next command removes; nothing is renamed before every copy is
/// on disk.
pub(crate) fn place_all(copies: Vec<PendingFile>, base: &Path) -> Result<(), RepoError> {
    let temps: Vec<PathBuf> = copies.iter().map(|c| c.temp_path().to_path_buf()).collect();
    let mut dirs = BTreeSet::new();
    for copy in &copies {
        add_dirs_up_to(&mut dirs, copy.path(), base);
    }
    sync_batch(&temps, &[]).map_err(|(path, e)| io_err(&path)(e))?;
    for copy in copies {
        let path = copy.path().to_path_buf();
        copy.rename_unsynced().map_err(io_err(&path))?;
    }
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
                dst: out.join("small.bin"),
            },
            CopyJob {
                src: &large,
                dst: out.join("large.bin"),
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
        place_all(copies.into_iter().map(|c| c.pending).collect(), &out).unwrap();
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

    #[test]
    fn a_missing_source_stages_nothing() {
        let (_scratch, dir) = scratch("missing");
        let present = dir.join("a.bin");
        std::fs::write(&present, b"a").unwrap();
        let missing = dir.join("gone.bin");
        let jobs = [
            CopyJob {
                src: &present,
                dst: dir.join("out-a"),
            },
            CopyJob {
                src: &missing,
                dst: dir.join("out-b"),
            },
        ];
        let err = copy_all(&jobs, "2 files", false, &mut |_| {})
            .err()
            .unwrap();
        assert!(err.to_string().contains("gone.bin"), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }
}
