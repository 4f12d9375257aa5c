//! Target and role names, and where their files live.
//!
//! Names come from users and from other people's metadata, and they become
//! file paths. The rules here make sure no name can point outside the
//! repository: target names are `/`-separated segments of
//! `[A-Za-z0-9._+-]` with no empty, `.` or `..` segment; role names match
//! `[A-Za-z0-9._-]+` and are not `.` or `..`.

use std::path::{Path, PathBuf};

use super::RepoError;

/// The four top-level roles, which no delegation may be named after.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

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
