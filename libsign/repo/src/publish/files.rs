//! The file operations a publish is made of: reading published bytes as
//! clients fetch them, checking a target file against its entry, creating a
//! published file exclusively, linking a target into `targets/`, and the
//! small lookups they need.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::metadata::{MetaFile, Signed, TargetFile, Targets};
use sha2::{Digest, Sha256};

use super::super::staging::parallel::map_parallel;
use super::super::staging::{create_dirs_inside, refuse_link};
use super::super::{RepoError, io_err};
use fwsign_core::workflow::{Digests, WorkflowError};
use fwsign_keys::atomic_write::{Mode, open_pending, sync_batch};

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

pub(super) fn meta_for(bytes: &[u8], version: u64) -> MetaFile {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_owned(), sha256_hex(bytes));
    MetaFile {
        version,
        length: Some(bytes.len() as u64),
        hashes: Some(hashes),
        unknown: BTreeMap::new(),
    }
}

/// Checks a file against a target entry's length and hashes, streaming it
/// through the core's [`Digests`] (the one hash-check rule).
pub(crate) fn check_file(path: &Path, name: &str, entry: &TargetFile) -> Result<(), RepoError> {
    let mut buf = Vec::new();
    check_file_identity(path, name, entry, &mut buf).map(|_| ())
}

/// Which file a check read: the same inode found again under another name
/// (a hard link) has the bytes that were checked, as long as nothing
/// writes to it, which its read-only mode says nothing may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    /// Device and inode (unix); `None` where unknown, when the file is
    /// copied rather than linked.
    pub(crate) inode: Option<(u64, u64)>,
    /// No write permission bit set: staged by this version of fwsign,
    /// replaced only by rename, so safe to link.
    pub(crate) read_only: bool,
}

impl FileIdentity {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            Self {
                inode: Some((meta.dev(), meta.ino())),
                read_only: meta.permissions().mode() & 0o222 == 0,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Self {
                inode: None,
                read_only: false,
            }
        }
    }

    /// The identity of an open file.
    pub(crate) fn of_open(file: &File) -> io::Result<Self> {
        file.metadata().map(|m| Self::of(&m))
    }

    /// The identity of the file at `path`, not following a link.
    pub(crate) fn at(path: &Path) -> io::Result<Self> {
        fs::symlink_metadata(path).map(|m| Self::of(&m))
    }
}

/// [`check_file`], reading through the worker's own `buf`, and returning
/// the identity of the file it read (from the open file, so it is the file
/// hashed even if the name is replaced meanwhile).
pub(crate) fn check_file_identity(
    path: &Path,
    name: &str,
    entry: &TargetFile,
    buf: &mut Vec<u8>,
) -> Result<FileIdentity, RepoError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing(path, name)),
        Err(e) => return Err(io_err(path)(e)),
    };
    check_open_file(file, path, name, entry, buf)
}

/// The refusal of a target file that is not there.
pub(crate) fn missing(path: &Path, name: &str) -> RepoError {
    RepoError::StagedTargetChanged {
        name: name.to_owned(),
        why: format!("{} is missing", path.display()),
    }
}

/// [`check_file_identity`] of `file`, open already (from `path`).
pub(crate) fn check_open_file(
    mut file: File,
    path: &Path,
    name: &str,
    entry: &TargetFile,
    buf: &mut Vec<u8>,
) -> Result<FileIdentity, RepoError> {
    let changed = |why: String| RepoError::StagedTargetChanged {
        name: name.to_owned(),
        why,
    };
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(changed(format!("{} is not a regular file", path.display())));
    }
    // Small files are read whole, with no buffer larger than they are.
    let chunk = usize::try_from(meta.len().clamp(4096, HASH_CHUNK)).unwrap_or(4096);
    if buf.len() < chunk {
        buf.resize(chunk, 0);
    }
    let mut digests = Digests::new(entry.hashes.contains_key("sha512"));
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => digests.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(path)(e)),
        }
    }
    let digests = digests.finish();
    if digests.length != entry.length {
        return Err(changed(format!(
            "length is {}, approvers signed {}",
            digests.length, entry.length
        )));
    }
    for (algorithm, expected) in &entry.hashes {
        digests
            .check_one(algorithm, expected)
            .map_err(|e| match e {
                WorkflowError::UnknownHashAlgorithm => {
                    changed(format!("unsupported hash algorithm {algorithm}"))
                }
                _ => changed(format!(
                    "{algorithm} differs from {expected}, which approvers signed"
                )),
            })?;
    }
    Ok(FileIdentity::of(&meta))
}

/// The read size when hashing a large file.
const HASH_CHUNK: u64 = 256 * 1024;

/// Creates published file `path` with `bytes`, never replacing a file there:
/// the same bytes already there are fine (a killed run wrote them), other
/// bytes are refused.
pub(super) fn create_published(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    create_all_published(&[(path.to_path_buf(), bytes)])
}

/// Creates published files, never replacing one (a file already there
/// must hold these bytes: a killed run wrote it), durable together: each is written
/// under a temporary name, all are synced in one pass
/// ([`sync_batch`]: one `syncfs` for a release of many bins, not two
/// `fsync` calls per file), each is linked under its name unless a file is
/// there (then it must hold these bytes), and the directories are synced
/// once. A crash leaves each file absent, or present whole.
pub(super) fn create_all_published(files: &[(PathBuf, &[u8])]) -> Result<(), RepoError> {
    let mut pending = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let (file, mut out) = open_pending(path, Mode::Public).map_err(io_err(path))?;
        out.write_all(bytes).map_err(io_err(file.temp_path()))?;
        pending.push((file, *bytes));
    }
    let temps: Vec<PathBuf> = pending
        .iter()
        .map(|(f, _)| f.temp_path().to_path_buf())
        .collect();
    sync_batch(&temps, &[]).map_err(|(path, e)| io_err(&path)(e))?;
    let mut dirs = BTreeSet::new();
    for (file, bytes) in pending {
        let path = file.path().to_path_buf();
        match file.create_unsynced() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if fs::read(&path).map_err(io_err(&path))? != bytes {
                    return Err(RepoError::WouldRewrite(path));
                }
            }
            Err(e) => return Err(io_err(&path)(e)),
        }
        if let Some(dir) = path.parent() {
            dirs.insert(dir.to_path_buf());
        }
    }
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    sync_batch(&[], &dirs).map_err(|(path, e)| io_err(&path)(e))
}

/// The role in `roles` whose delegations list `role` (`None` for
/// `targets`, which the root delegates).
pub(super) fn delegator_in<'a, D: Borrow<Signed<Targets>>>(
    roles: &'a BTreeMap<String, D>,
    role: &str,
) -> Option<&'a str> {
    roles
        .iter()
        .find(|(_, doc)| {
            let doc: &Signed<Targets> = (*doc).borrow();
            doc.signed
                .delegations
                .as_ref()
                .is_some_and(|d| d.roles.iter().any(|r| r.name == role))
        })
        .map(|(name, _)| name.as_str())
}

/// Removes a file or directory tree, if there.
pub(super) fn remove_if_there(path: &Path) -> Result<(), RepoError> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Fewer files than this are removed on the calling thread: threads would
/// cost more than they save.
const FILES_WORTH_THREADS: usize = 1024;

/// Removes the files at `paths` (a missing one is skipped), in the order
/// given, on every core. A release's staged copies are removed in the
/// order `repo add` created them (name order), in which ext4 handed out
/// their inodes: 10^5 of them went in 0.64 s on two cores that way, in
/// 1.0 s in directory order (by name hash, all over the inode table) and
/// in 1.1 s on one core.
pub(super) fn remove_files_in_order(paths: &[&Path]) -> Result<(), RepoError> {
    let remove = |path: &Path| match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    };
    if paths.len() < FILES_WORTH_THREADS {
        return paths.iter().try_for_each(|path| remove(path));
    }
    map_parallel(paths, || (), |(), path, _| remove(path), &mut |_| {})?;
    Ok(())
}

/// Links `from` to `to` unless `to` exists, creating directories inside
/// `base` without following links.
pub(super) fn link_into(base: &Path, from: &Path, to: &Path) -> Result<(), RepoError> {
    if let Some(parent) = to.parent()
        && let Ok(rel) = parent.strip_prefix(base)
    {
        create_dirs_inside(base, rel)?;
    }
    refuse_link(to)?;
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(to)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many versioned files made durable together: each is created, one a
    /// killed publish already wrote with these bytes is kept, and one with
    /// other bytes is never overwritten.
    #[test]
    fn versioned_files_are_created_together_and_never_rewritten() {
        let (_scratch, dir) = crate::test_scratch("create-all-published");
        let files: Vec<(PathBuf, Vec<u8>)> = (0..70)
            .map(|i| {
                (
                    dir.join(format!("1.bins-{i:02x}.json")),
                    format!("{{\"v\":{i}}}").into_bytes(),
                )
            })
            .collect();
        // A killed publish wrote the first already, whole.
        fs::write(&files[0].0, &files[0].1).unwrap();
        let all: Vec<(PathBuf, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.clone(), b.as_slice()))
            .collect();
        create_all_published(&all).unwrap();
        for (path, bytes) in &files {
            assert_eq!(&fs::read(path).unwrap(), bytes);
        }
        // No temporary is left beside them.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), files.len());

        let other = dir.join("2.targets.json");
        fs::write(&other, b"published before").unwrap();
        let err =
            create_all_published(&[(other.clone(), b"something else".as_slice())]).unwrap_err();
        assert!(
            matches!(err, RepoError::WouldRewrite(ref p) if *p == other),
            "{err}"
        );
        assert_eq!(fs::read(&other).unwrap(), b"published before");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), files.len() + 1);
    }

    /// A large release's staged copies are removed on every core: each
    /// listed file goes, one already gone is skipped, files not listed
    /// stay, and one that cannot be removed (a directory in its place)
    /// is the error, named.
    #[test]
    fn staged_copies_are_removed_on_every_core_and_a_missing_one_is_skipped() {
        let (_scratch, dir) = crate::test_scratch("remove-files-in-order");
        let paths: Vec<PathBuf> = (0..FILES_WORTH_THREADS + 100)
            .map(|i| dir.join(format!("fw-{i:05}.bin")))
            .collect();
        for path in &paths[1..] {
            fs::write(path, b"staged").unwrap();
        }
        let kept = dir.join("not-listed.bin");
        fs::write(&kept, b"kept").unwrap();
        let listed: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        remove_files_in_order(&listed).unwrap();
        let left: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(left, vec![kept]);

        fs::create_dir(&paths[500]).unwrap();
        let err = remove_files_in_order(&listed).unwrap_err();
        assert!(err.to_string().contains("fw-00500.bin"), "{err}");
    }
}
