//! Target and role names, and where their files live.
//!
//! Names come from users and from other people's metadata, and they become
//! file paths. The rules here make sure no name can point outside the
//! repository: target names are `/`-separated segments of
//! `[A-Za-z0-9._+-]` with no empty, `.` or `..` segment; role names match
//! `[A-Za-z0-9._-]+` and are not `.` or `..`.
//!
//! Role names become metadata file names through one function,
//! [`role_file`] (Python's `urllib.parse.quote(role, safe="")` plus
//! `.json`), for the repository and the TUF client alike: names fwsign
//! repositories allow are unchanged by it, and names other repositories use
//! (`../x`, `a/b`) cannot leave the directory.

use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;

use super::RepoError;

/// The four top-level roles, which no delegation may be named after.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// Python's `urllib.parse.quote(s, safe="")`, byte for byte: unreserved
/// characters `A-Z a-z 0-9 _ . - ~` are kept and every other UTF-8 byte is
/// written as uppercase `%XX`. Used for metadata URLs and file names, so no
/// role or target name can add a path separator.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The file name of role `role`'s metadata, unversioned: `<quote(role)>.json`
/// (the client's local copies, the repository's staged roles).
pub fn role_file(role: &str) -> String {
    format!("{}.json", quote(role))
}

/// The file name of version `version` of role `role`'s metadata:
/// `<version>.<quote(role)>.json` (published, and fetched with consistent
/// snapshots).
pub fn versioned_role_file(version: u64, role: &str) -> String {
    format!("{version}.{}.json", quote(role))
}

/// What two roles' file names are compared by on a file system that folds
/// case or normalises Unicode (macOS, Windows): the quoted name,
/// NFC-normalised and lowercased. Two trusted roles with the same key would
/// share one local file (`Root.json` overwriting `root.json`). Quoting
/// leaves only ASCII, so the normalisation is defensive: it keeps the rule
/// right if the quoting ever kept more.
pub fn file_name_key(role: &str) -> String {
    quote(role).nfc().collect::<String>().to_lowercase()
}

/// Checks a target name.
pub fn check_target_name(name: &str) -> Result<(), RepoError> {
    let bad = |why: &str| RepoError::InvalidName {
        name: name.to_owned(),
        why: why.to_owned(),
    };
    if name.is_empty() {
        return Err(bad("a target name must not be empty"));
    }
    for segment in name.split('/') {
        match segment {
            "" => return Err(bad("empty path segment (leading, trailing or double '/')")),
            "." | ".." => return Err(bad("'.' and '..' segments are not allowed")),
            s if !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-')) =>
            {
                return Err(bad("segments may only contain A-Z a-z 0-9 . _ + -"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a delegated role name.
pub fn check_role_name(name: &str) -> Result<(), RepoError> {
    let bad = |why: &str| RepoError::InvalidName {
        name: name.to_owned(),
        why: why.to_owned(),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(bad("role names match [A-Za-z0-9._-]+"));
    }
    if name == "." || name == ".." {
        return Err(bad("'.' and '..' are not role names"));
    }
    Ok(())
}

/// Checks a name for a new delegated role: valid and not a top-level role.
pub fn check_delegated_role_name(name: &str) -> Result<(), RepoError> {
    check_role_name(name)?;
    if TOP_LEVEL_ROLES.contains(&name) {
        return Err(RepoError::InvalidName {
            name: name.to_owned(),
            why: "a delegated role cannot be named after a top-level role".into(),
        });
    }
    Ok(())
}

/// `base/<name>` for a checked target name.
pub fn target_path(base: &Path, name: &str) -> Result<PathBuf, RepoError> {
    check_target_name(name)?;
    let mut path = base.to_path_buf();
    for segment in name.split('/') {
        path.push(segment);
    }
    Ok(path)
}

/// Where a published target is served from, as the TUF specification and
/// python-tuf fetch it with consistent snapshots: `<dir>/<hash>.<basename>`.
pub fn consistent_target_path(
    targets_dir: &Path,
    name: &str,
    hash_hex: &str,
) -> Result<PathBuf, RepoError> {
    check_target_name(name)?;
    let (dir, base) = match name.rsplit_once('/') {
        Some((dir, base)) => (Some(dir), base),
        None => (None, name),
    };
    let mut path = targets_dir.to_path_buf();
    if let Some(dir) = dir {
        for segment in dir.split('/') {
            path.push(segment);
        }
    }
    path.push(format!("{hash_hex}.{base}"));
    Ok(path)
}

/// The extra path tough 0.24 asks for when a name contains `/`:
/// `<sha256>.<dir>/<basename>` (it prefixes the whole name).
pub fn tough_target_path(
    targets_dir: &Path,
    name: &str,
    sha256_hex: &str,
) -> Result<Option<PathBuf>, RepoError> {
    check_target_name(name)?;
    if !name.contains('/') {
        return Ok(None);
    }
    let mut path = targets_dir.to_path_buf();
    for (i, segment) in name.split('/').enumerate() {
        if i == 0 {
            path.push(format!("{sha256_hex}.{segment}"));
        } else {
            path.push(segment);
        }
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names() {
        for ok in ["fw.bin", "board-a/fw-1.0.0.bin", "a/b/c+d_e.F"] {
            check_target_name(ok).unwrap();
        }
        for bad in [
            "", "/x", "x/", "a//b", "../x", "a/../b", ".", "a/./b", "a b", "a\\b", "é", "a?",
            "a#b", "a\0b",
        ] {
            assert!(check_target_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn role_names() {
        check_role_name("board-a.v2_x").unwrap();
        check_delegated_role_name("board-a").unwrap();
        for bad in ["", ".", "..", "a/b", "a b", "ü"] {
            assert!(check_role_name(bad).is_err(), "{bad:?}");
        }
        for top in TOP_LEVEL_ROLES {
            assert!(check_delegated_role_name(top).is_err());
        }
    }

    #[test]
    fn quote_matches_python_urllib() {
        // urllib.parse.quote(s, safe="") for each.
        assert_eq!(quote("targets"), "targets");
        assert_eq!(quote("a/b"), "a%2Fb");
        assert_eq!(quote("../x"), "..%2Fx");
        assert_eq!(quote("a b?#%"), "a%20b%3F%23%25");
        assert_eq!(quote("é~_.-"), "%C3%A9~_.-");
        assert_eq!(quote("+=&"), "%2B%3D%26");
        assert_eq!(role_file("board-a"), "board-a.json");
        assert_eq!(versioned_role_file(3, "a/b"), "3.a%2Fb.json");
    }

    #[test]
    fn file_name_keys_fold_case() {
        assert_eq!(file_name_key("Root"), file_name_key("root"));
        assert_eq!(file_name_key("BOARD-a"), file_name_key("board-A"));
        assert_ne!(file_name_key("board-a"), file_name_key("board-b"));
        // Quoted first: the escapes of e-acute, precomposed or not, differ,
        // and neither folds onto a plain name.
        assert_ne!(file_name_key("\u{e9}"), file_name_key("e\u{301}"));
        assert_ne!(file_name_key("\u{e9}"), file_name_key("%C3%A9"));
    }

    #[test]
    fn published_paths() {
        let base = Path::new("/r/targets");
        assert_eq!(
            consistent_target_path(base, "board-a/fw.bin", "ab").unwrap(),
            Path::new("/r/targets/board-a/ab.fw.bin")
        );
        assert_eq!(
            consistent_target_path(base, "fw.bin", "ab").unwrap(),
            Path::new("/r/targets/ab.fw.bin")
        );
        assert_eq!(
            tough_target_path(base, "board-a/fw.bin", "ab").unwrap(),
            Some(PathBuf::from("/r/targets/ab.board-a/fw.bin"))
        );
        assert_eq!(tough_target_path(base, "fw.bin", "ab").unwrap(), None);
    }
}
