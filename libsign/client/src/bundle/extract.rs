//! Streaming the image once: hashing it against its entry while optionally
//! copying it into a temporary file that is moved into place only after the
//! check passes. Separate so the one-pass hash-and-copy and its cleanup on
//! refusal can be read on their own.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::reader::Json;

use fwsign_core::target_check::{self, TargetRefusal};
use fwsign_core::verify::TargetEntry;
use fwsign_keys::atomic_write::sync_dir;

use super::COPY_BUFFER;

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
    let mut buf = vec![0; COPY_BUFFER];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => out.write_all(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// An image being extracted: a temporary file in the extraction directory,
/// removed on drop unless [`Extraction::finish`] moved it into place.
pub(super) struct Extraction {
    dir: PathBuf,
    temp: PathBuf,
    pub(super) file: File,
    done: bool,
}

impl Extraction {
    pub(super) fn start(dir: &Path) -> Result<Self, (PathBuf, io::Error)> {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let temp = dir.join(format!(
            ".fwsign-extract-{}-{unique}.tmp",
            std::process::id()
        ));
        let mut options = OpenOptions::new();
        // create_new: never follows a planted symlink, never reuses a file.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o644);
        }
        let file = options.open(&temp).map_err(|e| (temp.clone(), e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            temp,
            file,
            done: false,
        })
    }

    /// Moves the verified image to `dir/<target>`, creating the directories
    /// of a nested name without following symlinks.
    pub(super) fn finish(mut self, target: &str) -> Result<PathBuf, (PathBuf, io::Error)> {
        self.file.sync_all().map_err(|e| (self.temp.clone(), e))?;
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
        fs::rename(&self.temp, &dest).map_err(|e| (dest.clone(), e))?;
        self.done = true;
        sync_dir(&parent).map_err(|e| (parent.clone(), e))?;
        if parent != self.dir {
            sync_dir(&self.dir).map_err(|e| (self.dir.clone(), e))?;
        }
        Ok(dest)
    }
}

impl Drop for Extraction {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: the file holds unverified bytes and is useless.
            let _ = fs::remove_file(&self.temp);
        }
    }
}
