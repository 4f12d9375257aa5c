//! Streaming the image once: hashing it against its entry while optionally
//! copying it into a temporary file that is moved into place only after the
//! check passes. Separate so the one-pass hash-and-copy and its cleanup on
//! refusal can be read on their own.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::reader::Json;

use fwsign_core::target_check::{self, TargetRefusal};
use fwsign_core::verify::TargetEntry;
use fwsign_keys::atomic_write::{self, Mode, PendingFile, sync_dir};

use super::COPY_BUFFER;
use crate::bundle_archive::{CopyError, copy_at_most};

/// Hashes what is written (through the core's [`fwsign_core::workflow::Digests`],
/// the one hash-check rule), optionally copying it to a file first.
pub(super) struct HashingWriter<'f> {
    digests: fwsign_core::workflow::Digests,
    copy: Option<&'f mut File>,
}

impl<'f> HashingWriter<'f> {
    pub(super) fn new(hashes: Json<'_>, copy: Option<&'f mut File>) -> Self {
        Self {
            digests: fwsign_core::workflow::Digests::for_hashes(hashes),
            copy,
        }
    }

    /// Checks the length and every listed hash (the core's
    /// [`target_check::check_image_digests`]; the core refuses an entry
    /// that lists no hash when it reads it), and returns the SHA-256 in hex.
    pub(super) fn check(self, entry: &TargetEntry<'_>) -> Result<String, TargetRefusal> {
        let finished = self.digests.finish();
        target_check::check_image_digests(entry, &finished)?;
        Ok(base16ct::lower::encode_string(&finished.sha256))
    }
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The copy goes first so what is hashed is exactly what was written.
        let n = match self.copy.as_mut() {
            Some(file) => file.write(buf)?,
            None => buf.len(),
        };
        self.digests.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.copy.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

pub(super) fn copy(input: &mut File, out: &mut dyn Write) -> io::Result<()> {
    match copy_at_most(input, out, u64::MAX, COPY_BUFFER) {
        Ok(_) => Ok(()),
        Err(CopyError::Read(e) | CopyError::Write(e)) => Err(e),
        Err(CopyError::TooLong(_)) => Err(io::Error::other("longer than a file can be")),
    }
}

/// An image being extracted: a temporary file in the extraction directory
/// ([`fwsign_keys::atomic_write`]'s), removed on drop unless
/// [`Extraction::finish`] moved it into place.
pub(super) struct Extraction {
    dir: PathBuf,
    pending: PendingFile,
    pub(super) file: File,
}

impl Extraction {
    pub(super) fn start(dir: &Path) -> Result<Self, (PathBuf, io::Error)> {
        // The name only places the temporary file in `dir`; `finish` gives
        // the image its own.
        let (pending, file) = atomic_write::open_pending(&dir.join("extract"), Mode::Public)
            .map_err(|e| (dir.to_path_buf(), e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            pending,
            file,
        })
    }

    /// Moves the verified image to `dir/<target>`, creating the directories
    /// of a nested name without following symlinks.
    pub(super) fn finish(self, target: &str) -> Result<PathBuf, (PathBuf, io::Error)> {
        let temp = self.pending.temp_path().to_path_buf();
        self.file.sync_all().map_err(|e| (temp, e))?;
        let mut dest = self.dir.clone();
        let segments: Vec<&str> = target.split('/').collect();
        let (base, parents) = segments
            .split_last()
            .ok_or_else(|| (dest.clone(), io::Error::other("empty target name")))?;
        for segment in parents {
            dest.push(segment);
            match fs::symlink_metadata(&dest) {
                Ok(meta) if meta.is_dir() && !meta.file_type().is_symlink() => {}
                Ok(_) => {
                    return Err((
                        dest,
                        io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "exists and is not a directory (symbolic links are not followed)",
                        ),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&dest).map_err(|e| (dest.clone(), e))?;
                }
                Err(e) => return Err((dest, e)),
            }
        }
        let parent = dest.clone();
        dest.push(base);
        if fs::symlink_metadata(&dest).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err((
                dest,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "is a symbolic link; fwsign does not write through links",
                ),
            ));
        }
        self.pending
            .replace_at(&dest)
            .map_err(|e| (dest.clone(), e))?;
        if parent != self.dir {
            sync_dir(&self.dir).map_err(|e| (self.dir.clone(), e))?;
        }
        Ok(dest)
    }
}
