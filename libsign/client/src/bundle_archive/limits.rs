//! What a bundle may contain: the size and ratio limits a reader applies
//! ([`ArchiveLimits`]), the rules for entry names, and the checks that hold
//! a parsed central directory and the entries' layout to them. The writer
//! applies the same name rules, so fwsign never writes what it would refuse.

use std::collections::HashSet;
use std::path::Path;

use super::directory::{
    ENCRYPTION_FLAGS, METHOD_AES, METHOD_DEFLATED, METHOD_STORED, RawEntry, S_IFDIR, S_IFLNK,
    S_IFMT, S_IFREG,
};
use super::error::ArchiveError;

/// Entries declaring more than this many bytes must respect
/// [`ArchiveLimits::max_ratio`]. Below it a high ratio cannot cost anything
/// worth refusing for, and small files of repeated bytes legitimately
/// compress very well.
pub const RATIO_CHECK_ABOVE: u64 = 1 << 20;

/// What a bundle reader accepts. A limit is a refusal, never a truncation.
///
/// The per-entry limits are checked against the sizes the central directory
/// declares; reads then refuse any entry that decompresses to more than it
/// declared, so the declared sizes are binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Entries in the central directory, directories included. Checked
    /// before the directory is parsed, so a directory of millions of tiny
    /// headers costs nothing. Default 10 000: a bundle carries a handful of
    /// metadata files and a few images per board, so this leaves room for
    /// large delegation trees while bounding the parsed directory to a few
    /// megabytes.
    pub max_entries: usize,
    /// Declared size of one entry outside [`TARGETS_PREFIX`](super::TARGETS_PREFIX). Default
    /// 16 MiB: well above the largest per-role caps TUF clients use (a few
    /// MiB for big targets metadata); callers pass tighter per-role caps to
    /// [`BundleArchive::read`](super::BundleArchive::read).
    pub max_metadata_size: u64,
    /// Declared size of one target image. Default 4 GiB, the largest image a
    /// 32-bit device can address.
    pub max_target_size: u64,
    /// Declared size of all entries together, and also the budget all reads
    /// of one opened bundle draw from (see [`BundleArchive`](super::BundleArchive)). Default 8 GiB:
    /// two maximal images.
    pub max_total_size: u64,
    /// Largest declared-size to compressed-size ratio, for entries above
    /// [`RATIO_CHECK_ABOVE`]. Default 1000: Deflate cannot exceed about
    /// 1032:1, so only streams built to be maximally compressible (bombs)
    /// reach it, while fwsign stores target images uncompressed (ratio 1).
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_metadata_size: 16 << 20,
            max_target_size: 4 << 30,
            max_total_size: 8 << 30,
            max_ratio: 1000,
        }
    }
}

/// Why `name` (a file name, or a directory name without its trailing `/`)
/// is not a safe relative path, if it is not.
pub(super) fn name_fault(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.starts_with('/') {
        return Some("absolute path");
    }
    if name.contains('\\') {
        return Some("backslash (a Windows path separator)");
    }
    if name.contains(':') {
        return Some("colon (a drive letter or an NTFS stream)");
    }
    if name.chars().any(char::is_control) {
        return Some("control character");
    }
    for segment in name.split('/') {
        match segment {
            "" => return Some("empty path segment"),
            "." | ".." => return Some("`.` or `..` path segment"),
            _ => {}
        }
    }
    None
}

/// Refuses duplicate names and names used both as a file and as a directory.
/// `dirs` are directory entry names without their trailing `/`.
pub(super) fn check_namespace(
    path: &Path,
    files: &[&str],
    dirs: &[&str],
) -> Result<(), ArchiveError> {
    let mut seen = HashSet::with_capacity(files.len());
    for name in files {
        if !seen.insert(*name) {
            return Err(ArchiveError::DuplicateEntry {
                path: path.to_path_buf(),
                name: (*name).to_owned(),
            });
        }
    }
    let clash = |name: &str| ArchiveError::FileDirectoryClash {
        path: path.to_path_buf(),
        name: name.to_owned(),
    };
    for name in files {
        for (slash, _) in name.match_indices('/') {
            if seen.contains(&name[..slash]) {
                return Err(clash(&name[..slash]));
            }
        }
    }
    for dir in dirs {
        if seen.contains(dir) {
            return Err(clash(dir));
        }
    }
    Ok(())
}

/// Checks on a central directory header that need nothing but its bytes.
pub(super) fn check_raw_entries(path: &Path, raw: &[RawEntry]) -> Result<(), ArchiveError> {
    let mut seen = HashSet::with_capacity(raw.len());
    let mut files = Vec::with_capacity(raw.len());
    let mut dirs = Vec::new();
    for entry in raw {
        let lossy = || String::from_utf8_lossy(&entry.name).into_owned();
        let Ok(name) = std::str::from_utf8(&entry.name) else {
            return Err(ArchiveError::UnsafeName {
                path: path.to_path_buf(),
                name: lossy(),
                reason: "not valid UTF-8",
            });
        };
        // Duplicates are looked for before anything else: the zip crate
        // keeps one of them, so its view of the archive would already differ.
        if !seen.insert(name) {
            return Err(ArchiveError::DuplicateEntry {
                path: path.to_path_buf(),
                name: lossy(),
            });
        }
        let (is_dir, stem) = match name.strip_suffix('/') {
            Some(stem) => (true, stem),
            None => (false, name),
        };
        if let Some(reason) = name_fault(stem) {
            return Err(ArchiveError::UnsafeName {
                path: path.to_path_buf(),
                name: lossy(),
                reason,
            });
        }
        let file_type = (entry.external_attributes >> 16) & S_IFMT;
        match (file_type, is_dir) {
            (0, _) | (S_IFREG, false) | (S_IFDIR, true) => {}
            (S_IFLNK, _) => {
                return Err(ArchiveError::Symlink {
                    path: path.to_path_buf(),
                    name: lossy(),
                });
            }
            (mode, _) => {
                return Err(ArchiveError::SpecialFile {
                    path: path.to_path_buf(),
                    name: lossy(),
                    mode,
                });
            }
        }
        if entry.flags & ENCRYPTION_FLAGS != 0 || entry.method == METHOD_AES {
            return Err(ArchiveError::Encrypted {
                path: path.to_path_buf(),
                name: lossy(),
            });
        }
        if entry.method != METHOD_STORED && entry.method != METHOD_DEFLATED {
            return Err(ArchiveError::UnsupportedCompression {
                path: path.to_path_buf(),
                name: lossy(),
                method: entry.method,
            });
        }
        if let Some(id) = entry.unexpected_extra {
            return Err(ArchiveError::UnexpectedExtraField {
                path: path.to_path_buf(),
                name: lossy(),
                id,
            });
        }
        if is_dir {
            dirs.push(stem);
        } else {
            files.push(name);
        }
    }
    check_namespace(path, &files, &dirs)
}

/// Requires entries to tile the file from offset 0 up to the central
/// directory. `spans` are (local header start, data end) pairs.
pub(super) fn check_layout(
    path: &Path,
    mut spans: Vec<(u64, u64)>,
    cd_offset: u64,
) -> Result<(), ArchiveError> {
    spans.sort_unstable();
    let mut expected = 0u64;
    // The central directory closes the tiling like one more span.
    for (start, end) in spans.into_iter().chain([(cd_offset, cd_offset)]) {
        if start == expected {
            expected = end;
            continue;
        }
        return Err(if expected == 0 {
            ArchiveError::PrependedData {
                path: path.to_path_buf(),
            }
        } else if start > expected {
            ArchiveError::HiddenData {
                path: path.to_path_buf(),
                offset: expected,
                len: start - expected,
            }
        } else {
            ArchiveError::Malformed {
                path: path.to_path_buf(),
                source: "zip entries overlap".into(),
            }
        });
    }
    Ok(())
}
