//! The file operations a publish is made of: reading published bytes as
//! clients fetch them, checking a target file against its entry, creating a
//! published file exclusively, linking a target into `targets/`, and the
//! small lookups they need.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use fwsign_manifest_schema::metadata::{MetaFile, Signed, TargetFile, Targets};
use sha2::{Digest, Sha256};

use super::super::staging::{create_dirs_inside, refuse_link};
use super::super::{RepoError, io_err};
use fwsign_core::workflow::{Digests, WorkflowError};
use fwsign_keys::atomic_write::{Mode, write_new};

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
    let changed = |why: String| RepoError::StagedTargetChanged {
        name: name.to_owned(),
        why,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(changed(format!("{} is missing", path.display())));
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut digests = Digests::new(entry.hashes.contains_key("sha512"));
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => digests.update(&buf[..n]),
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
    Ok(())
}

/// Creates published file `path` with `bytes`, never replacing a file there:
/// the same bytes already there are fine (a killed run wrote them), other
/// bytes are refused.
pub(super) fn create_published(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    match write_new(path, bytes, Mode::Public) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if fs::read(path).map_err(io_err(path))? == bytes {
                Ok(())
            } else {
                Err(RepoError::WouldRewrite(path.to_path_buf()))
            }
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

/// The role in `roles` whose delegations list `role` (`None` for
/// `targets`, which the root delegates).
pub(super) fn delegator_in<'a>(
    roles: &'a BTreeMap<String, Signed<Targets>>,
    role: &str,
) -> Option<&'a str> {
    roles
        .iter()
        .find(|(_, doc)| {
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
