//! Writing files so that a crash leaves the old file or the new one, never a
//! mix: a temporary file beside the target, `fsync`, `rename`, and an `fsync`
//! of the directory so the rename itself is durable.

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
    let file = create_new(&tmp, mode)?;
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

/// Whether a file name is one of the temporary names fwsign writes under
/// (`.NAME.fwsign-tmp-PID-NANOS`): left behind only by a killed process.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARK)
}

const TEMP_MARK: &str = ".fwsign-tmp-";

fn create_new(path: &Path, mode: Mode) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            Mode::Public => 0o644,
            Mode::Private => 0o600,
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
    let unique = format!(
        ".{name}{TEMP_MARK}{}-{}",
        std::process::id(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fwsign-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("a.json");
        write_atomic(&path, b"old", Mode::Public).unwrap();
        write_atomic(&path, b"new", Mode::Public).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn failed_fill_keeps_the_old_file() {
        let dir = scratch("fail");
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
        let dir = scratch("new");
        let path = dir.join("1.root.json");
        write_new(&path, b"first", Mode::Public).unwrap();
        let err = write_new(&path, b"second", Mode::Public).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn a_pending_file_dropped_or_refused_leaves_nothing_behind() {
        let dir = scratch("pending");
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

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("private");
        let path = dir.join("key.pem");
        write_atomic(&path, b"secret", Mode::Private).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
