//! Writing files so that a crash leaves the old file or the new one, never a
//! mix: a temporary file beside the target, `fsync`, `rename`, and an `fsync`
//! of the directory so the rename itself is durable.
//!
//! A command that writes many files pays for durability once, not per file:
//! it writes every temporary with [`open_pending`] (no `fsync`), makes them
//! all durable in one pass with [`sync_batch`] (one `syncfs` for a large
//! batch, else `fsync` calls from a small pool of threads, so the file
//! system commits them together), renames
//! them into place with [`PendingFile::rename_unsynced`], and syncs the
//! directories those renames touched with [`sync_batch`] again. A crash
//! before the renames leaves only temporaries ([`is_temp_name`]); a crash
//! during them leaves files whose bytes are complete, as nothing is renamed
//! before every file is on disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who may read a file fwsign writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Metadata, targets, public keys: 0644.
    Public,
    /// Private keys: 0600 from the moment the file exists.
    Private,
    /// Staged target files: 0444, so that nothing edits them in place (they
    /// are replaced only by rename) and a published hard link to one can
    /// never change under the clients.
    ReadOnly,
}

/// Replaces `path` with `bytes` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    write_atomic_with(path, mode, |f| f.write_all(bytes))
}

/// Replaces `path` with what `fill` writes, atomically. `fill` may stream.
pub fn write_atomic_with(
    path: &Path,
    mode: Mode,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    write_pending(path, mode, fill)?.replace()
}

/// Creates `path` only if it does not exist yet, atomically (written under a
/// temporary name and linked into place), for files that must never be
/// rewritten once published. Fails with `AlreadyExists` otherwise.
pub fn write_new(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    write_pending(path, mode, |f| f.write_all(bytes))?.create()
}

/// A file written and synced under a temporary name beside its final path,
/// not yet in place. Dropping it removes the temporary file, so an error
/// between writing and placing leaves nothing behind (a killed process
/// leaves the temporary, which [`is_temp_name`] recognises).
#[derive(Debug)]
pub struct PendingFile {
    tmp: PathBuf,
    path: PathBuf,
    placed: bool,
}

/// Writes what `fill` writes to a temporary file beside `path` and syncs
/// it; [`PendingFile::replace`] or [`PendingFile::create`] puts it in place.
pub fn write_pending(
    path: &Path,
    mode: Mode,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<PendingFile> {
    let (mut pending, mut file) = open_pending(path, mode)?;
    let result = (|| {
        fill(&mut file)?;
        file.flush()?;
        file.sync_all()
    })();
    drop(file);
    match result {
        Ok(()) => Ok(pending),
        Err(e) => {
            pending.discard();
            Err(e)
        }
    }
}

/// Creates the empty temporary file beside `path` for a caller that writes
/// it itself (streaming, and deciding only afterwards whether to keep it):
/// the [`PendingFile`] that places or removes it, and the file to write.
/// The caller syncs the file before placing it.
pub fn open_pending(path: &Path, mode: Mode) -> io::Result<(PendingFile, File)> {
    let tmp = temp_name(path);
    let file = create_exclusive(&tmp, mode)?;
    let pending = PendingFile {
        tmp,
        path: path.to_path_buf(),
        placed: false,
    };
    Ok((pending, file))
}

impl PendingFile {
    /// The temporary file (to check its contents before placing it).
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames it over the final path (replacing any file there) and syncs
    /// the directory.
    pub fn replace(self) -> io::Result<()> {
        let path = self.path.clone();
        self.replace_at(&path)
    }

    /// Renames it over the final path without syncing anything: for a
    /// caller that made the file durable with [`sync_batch`] first and syncs
    /// the directory (once for many renames) after.
    pub fn rename_unsynced(mut self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.path)?;
        self.placed = true;
        Ok(())
    }

    /// Renames it over `path` instead of the path it was opened for (a
    /// name decided after writing, on the same file system) and syncs that
    /// directory.
    pub fn replace_at(mut self, path: &Path) -> io::Result<()> {
        fs::rename(&self.tmp, path)?;
        self.placed = true;
        sync_dir(&parent_dir(path))
    }

    /// Links it to the final path only if nothing is there
    /// (`AlreadyExists` otherwise, the existing file untouched), removes the
    /// temporary name and syncs the directory.
    pub fn create(mut self) -> io::Result<()> {
        fs::hard_link(&self.tmp, &self.path)?;
        self.discard();
        sync_dir(&parent_dir(&self.path))
    }

    /// [`PendingFile::create`] without syncing the directory: for a caller
    /// that made the file durable with [`sync_batch`] first and syncs the
    /// directory (once for many links) after.
    pub fn create_unsynced(mut self) -> io::Result<()> {
        let linked = fs::hard_link(&self.tmp, &self.path);
        self.discard();
        linked
    }

    fn discard(&mut self) {
        // Best effort: the temporary file is garbage either way, and the
        // next command holding the repository lock removes what is left.
        let _ = fs::remove_file(&self.tmp);
        self.placed = true;
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.placed {
            self.discard();
        }
    }
}

/// A directory built under a temporary name beside its final path
/// (`.NAME.fwsign-tmp-PID-NANOS`, which [`is_temp_name`] recognises), filled
/// with files under their final names and then renamed into place whole:
/// one rename for all of them, not one per file (at 10^5 new files the
/// per-file renames doubled the kernel time of writing them). Dropping it
/// unplaced removes the temporary directory and everything in it; a killed
/// process leaves it, for the next command holding the lock to remove.
#[derive(Debug)]
pub struct PendingDir {
    tmp: PathBuf,
    path: PathBuf,
    placed: bool,
}

/// Creates the empty temporary directory for `path`, which should not
/// exist yet: see [`PendingDir`].
pub fn create_pending_dir(path: &Path) -> io::Result<PendingDir> {
    let tmp = temp_name(path);
    fs::create_dir(&tmp)?;
    Ok(PendingDir {
        tmp,
        path: path.to_path_buf(),
        placed: false,
    })
}

impl PendingDir {
    /// The temporary directory, to write into.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary directory to the final path only if nothing
    /// is there, syncing nothing (the caller made its files durable first,
    /// and syncs the directories after). `AlreadyExists` when something
    /// is: the temporary directory stays, for the caller to move its files
    /// one by one or to drop.
    pub fn create_unsynced(&mut self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            use rustix::io::Errno;
            match renameat_with(CWD, &self.tmp, CWD, &self.path, RenameFlags::NOREPLACE) {
                Ok(()) => {
                    self.placed = true;
                    return Ok(());
                }
                Err(Errno::EXIST | Errno::NOTEMPTY) => {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                // A file system without `RENAME_NOREPLACE`: look, then
                // rename, as below (the caller holds the repository lock).
                Err(Errno::INVAL | Errno::NOSYS) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // `rename` would replace an empty directory at the final path.
        if fs::symlink_metadata(&self.path).is_ok() {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        fs::rename(&self.tmp, &self.path)?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for PendingDir {
    fn drop(&mut self) {
        if !self.placed {
            // Best effort, as for a pending file.
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Whether a file name is one of the temporary names fwsign writes under
/// (`.NAME.fwsign-tmp-PID-NANOS`): left behind only by a killed process.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARK)
}

const TEMP_MARK: &str = ".fwsign-tmp-";

/// Creates a new file at `path` with `mode`, failing if anything is there
/// (the temporaries here, and a file written straight into a
/// [`PendingDir`]).
pub fn create_exclusive(path: &Path, mode: Mode) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            Mode::Public => 0o644,
            Mode::Private => 0o600,
            Mode::ReadOnly => 0o444,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The process ID read once: it is a system call each time, and a
    // release of 10^5 targets names a temporary per target.
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let unique = format!(
        ".{name}{TEMP_MARK}{}-{}",
        PID.get_or_init(std::process::id),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    parent_dir(path).join(unique)
}

/// Makes a rename or link in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// How many `fsync` calls [`sync_batch`] has in flight at most. They wait on
/// the disk, not the CPU: several at once let the file system commit them
/// in one journal transaction instead of one each.
const SYNC_THREADS: usize = 16;

/// From how many paths on [`sync_batch`] makes a group durable with one
/// `syncfs` of their file system instead of an `fsync` each (Linux only).
///
/// `syncfs` writes back everything dirty on the file system and commits the
/// journal once, so its cost barely grows with the batch; but it also waits
/// for other writers' dirty data there, so a small batch is cheaper with
/// `fsync`. Measured on ext4 with 10,000 new 1 KiB files: 3.9 s for the
/// pool of `SYNC_THREADS` (16) `fsync` calls, 0.3 s for one `syncfs`.
pub const SYNCFS_FROM: usize = 64;

/// Makes `files`, then `dirs`, durable. Directories come after files, so a
/// rename made durable by a directory sync never names a file whose bytes
/// are not. A group of [`SYNCFS_FROM`] paths or more all on one file system
/// is made durable by one `syncfs` (Linux); otherwise each path gets an
/// `fsync`, from up to 16 threads (`SYNC_THREADS`). Returns the first error
/// met, with the path it concerns.
pub fn sync_batch(files: &[PathBuf], dirs: &[PathBuf]) -> Result<(), (PathBuf, io::Error)> {
    if !syncfs_if_large(files)? {
        sync_all_of(files, |p| File::open(p)?.sync_all())?;
    }
    if !syncfs_if_large(dirs)? {
        sync_all_of(dirs, sync_dir)?;
    }
    Ok(())
}

/// One `syncfs` for `paths` when there are at least [`SYNCFS_FROM`] of them
/// and they are all on one file system; `false` when the caller must sync
/// them one by one instead.
#[cfg(target_os = "linux")]
fn syncfs_if_large(paths: &[PathBuf]) -> Result<bool, (PathBuf, io::Error)> {
    use std::os::unix::fs::MetadataExt;
    let Some(first) = paths.first() else {
        return Ok(true);
    };
    if paths.len() < SYNCFS_FROM {
        return Ok(false);
    }
    // Opened before the call: `syncfs` reports a write-back error on the
    // file system that no one has seen yet, as `fsync` does for its file.
    let anchor = File::open(first).map_err(|e| (first.clone(), e))?;
    let device = anchor.metadata().map_err(|e| (first.clone(), e))?.dev();
    // One `lstat` per path, on every core: at 10^5 staged copies, one by
    // one on the calling thread, they were a tenth of a second of `repo
    // add` in which nothing else ran.
    let elsewhere = std::sync::atomic::AtomicBool::new(false);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    each_on_threads(paths, cores, |path| {
        if fs::symlink_metadata(path)?.dev() != device {
            elsewhere.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    })?;
    if elsewhere.into_inner() {
        return Ok(false);
    }
    rustix::fs::syncfs(&anchor).map_err(|e| (first.clone(), io::Error::from(e)))?;
    Ok(true)
}

#[cfg(not(target_os = "linux"))]
fn syncfs_if_large(paths: &[PathBuf]) -> Result<bool, (PathBuf, io::Error)> {
    Ok(paths.is_empty())
}

fn sync_all_of(
    paths: &[PathBuf],
    sync: impl Fn(&Path) -> io::Result<()> + Sync,
) -> Result<(), (PathBuf, io::Error)> {
    each_on_threads(paths, SYNC_THREADS, sync)
}

/// Runs `work` on every path from up to `threads` threads (taking paths in
/// order from a shared counter), stopping at the first error, which is
/// returned with its path. One path, or one thread, runs on the caller's.
fn each_on_threads(
    paths: &[PathBuf],
    threads: usize,
    work: impl Fn(&Path) -> io::Result<()> + Sync,
) -> Result<(), (PathBuf, io::Error)> {
    if paths.len() <= 1 || threads <= 1 {
        return paths
            .iter()
            .try_for_each(|p| work(p).map_err(|e| (p.clone(), e)));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let threads = threads.min(paths.len());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    while !failed.load(std::sync::atomic::Ordering::Relaxed) {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            return Ok(());
                        };
                        if let Err(e) = work(path) {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            return Err((path.clone(), e));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let mut first = Ok(());
        for worker in workers {
            let result = worker.join().unwrap_or_else(|_| {
                Err((PathBuf::new(), io::Error::other("a worker thread panicked")))
            });
            if first.is_ok() {
                first = result;
            }
        }
        first
    })
}

/// How often [`with_early_writeback`] asks the file system to write back.
const EARLY_WRITEBACK_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `work` (which writes many files on the file system holding `dir`)
/// while a second thread has that file system write back every
/// [`EARLY_WRITEBACK_EVERY`], and once more when `work` is done: the disk
/// then writes while `work` still copies, instead of all of it waiting for
/// the one `syncfs` that makes the batch durable afterwards (at 10^5 new
/// 1 KiB files that wait was a second; it became 0.06 s). This is only a
/// head start: the caller still makes the batch durable with
/// [`sync_batch`]. The thread's descriptor is opened before `work` starts,
/// so a write-back error on anything `work` wrote is reported to it, and
/// returned here, even if the kernel's own write-back met it first. Linux
/// only; elsewhere `work` just runs.
pub fn with_early_writeback<R>(dir: &Path, work: impl FnOnce() -> R) -> io::Result<R> {
    #[cfg(target_os = "linux")]
    {
        let anchor = File::open(dir)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> io::Result<()> {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(EARLY_WRITEBACK_EVERY)
                {
                    rustix::fs::syncfs(&anchor)?;
                }
                rustix::fs::syncfs(&anchor)?;
                Ok(())
            });
            let result = work();
            drop(stop);
            match writer.join() {
                Ok(Ok(())) => Ok(result),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(io::Error::other("the write-back thread panicked")),
            }
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Ok(work())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of this test's own, `<temp>/fwsign-atomic-NAME-XXXXXX`,
    /// and its path: the directory goes when the guard is dropped, so keep
    /// the guard bound for the whole test.
    fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
        let guard = tempfile::Builder::new()
            .prefix(&format!("fwsign-atomic-{name}-"))
            .tempdir()
            .unwrap();
        let dir = guard.path().to_path_buf();
        (guard, dir)
    }

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let (_scratch, dir) = scratch("replace");
        let path = dir.join("a.json");
        write_atomic(&path, b"old", Mode::Public).unwrap();
        write_atomic(&path, b"new", Mode::Public).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn failed_fill_keeps_the_old_file() {
        let (_scratch, dir) = scratch("fail");
        let path = dir.join("a.json");
        write_atomic(&path, b"old", Mode::Public).unwrap();
        let err = write_atomic_with(&path, Mode::Public, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn write_new_never_overwrites() {
        let (_scratch, dir) = scratch("new");
        let path = dir.join("1.root.json");
        write_new(&path, b"first", Mode::Public).unwrap();
        let err = write_new(&path, b"second", Mode::Public).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn a_pending_file_dropped_or_refused_leaves_nothing_behind() {
        let (_scratch, dir) = scratch("pending");
        let path = dir.join("fw.bin");
        let pending = write_pending(&path, Mode::Public, |f| f.write_all(b"bytes")).unwrap();
        assert_eq!(fs::read(pending.temp_path()).unwrap(), b"bytes");
        let name = pending.temp_path().file_name().unwrap().to_str().unwrap();
        assert!(is_temp_name(name), "{name}");
        drop(pending);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::write(&path, b"published").unwrap();
        let pending = write_pending(&path, Mode::Public, |f| f.write_all(b"other")).unwrap();
        let err = pending.create().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"published");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        assert!(!is_temp_name("fw.bin") && !is_temp_name(".hidden"));
    }

    #[test]
    fn a_batch_written_unsynced_is_in_place_after_sync_and_rename() {
        let (_scratch, dir) = scratch("batch");
        let mut pending = Vec::new();
        for i in 0..40 {
            let path = dir.join(format!("f{i}"));
            let (p, mut f) = open_pending(&path, Mode::ReadOnly).unwrap();
            f.write_all(format!("{i}").as_bytes()).unwrap();
            pending.push(p);
        }
        let temps: Vec<PathBuf> = pending
            .iter()
            .map(|p| p.temp_path().to_path_buf())
            .collect();
        sync_batch(&temps, &[]).unwrap();
        for p in pending {
            p.rename_unsynced().unwrap();
        }
        sync_batch(&[], std::slice::from_ref(&dir)).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 40);
        assert_eq!(fs::read(dir.join("f7")).unwrap(), b"7");
        let missing = dir.join("gone");
        let (path, _) = sync_batch(&[dir.join("f1"), missing.clone()], &[]).unwrap_err();
        assert_eq!(path, missing);
    }

    #[cfg(unix)]
    #[test]
    fn read_only_files_are_0444() {
        use std::os::unix::fs::PermissionsExt;
        let (_scratch, dir) = scratch("readonly");
        let path = dir.join("fw.bin");
        write_atomic(&path, b"image", Mode::ReadOnly).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o444);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let (_scratch, dir) = scratch("private");
        let path = dir.join("key.pem");
        write_atomic(&path, b"secret", Mode::Private).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    /// Both ways of syncing a group (one `fsync` each below
    /// [`SYNCFS_FROM`], one `syncfs` from it on) name the path that cannot
    /// be synced instead of reporting the batch durable.
    #[test]
    fn a_batch_with_a_vanished_file_names_it_at_every_size() {
        for n in [3, SYNCFS_FROM + 5] {
            let (_scratch, dir) = scratch(&format!("batch-{n}"));
            let mut files: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("{i}.bin"))).collect();
            for f in &files {
                fs::write(f, b"x").unwrap();
            }
            sync_batch(&files, std::slice::from_ref(&dir)).unwrap();
            let gone = dir.join("vanished.bin");
            files.push(gone.clone());
            let (path, _) = sync_batch(&files, &[]).unwrap_err();
            assert_eq!(path, gone, "batch of {n}");
        }
    }

    #[test]
    fn work_under_early_writeback_returns_its_result_and_its_files_stay() {
        let (_scratch, dir) = scratch("early-writeback");
        let written = with_early_writeback(&dir, || {
            for i in 0..100 {
                fs::write(dir.join(format!("{i}.bin")), [i as u8; 64]).unwrap();
            }
            // Long enough for the thread to write back at least once.
            std::thread::sleep(EARLY_WRITEBACK_EVERY * 2);
            "done"
        })
        .unwrap();
        assert_eq!(written, "done");
        assert_eq!(fs::read(dir.join("7.bin")).unwrap(), [7u8; 64]);
    }

    #[test]
    fn early_writeback_of_a_missing_directory_is_an_error_before_any_work() {
        let (_scratch, dir) = scratch("early-writeback-missing");
        let mut ran = false;
        let err = with_early_writeback(&dir.join("absent"), || ran = true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!ran || cfg!(not(target_os = "linux")));
    }
}
