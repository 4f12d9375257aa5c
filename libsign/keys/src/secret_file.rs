//! The rule for files that hold a secret (private keys, HSM PIN files):
//! readable by their owner only. OpenSSH refuses a private key file others
//! can read, because a secret another account could copy is no longer the
//! owner's alone; fwsign refuses it the same way, before reading it, and
//! says which `chmod` fixes it.

use std::path::Path;

use crate::KeyError;

/// Refuses `path` when its permission bits let group or others read, write
/// or execute it. Only Unix has such bits; elsewhere the file is accepted.
pub fn check_owner_only(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // A missing or unreadable file is the caller's error to report when
        // it reads the file; this check is about exposure only.
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::ExposedSecretFile {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_secret_file_others_can_read_is_refused_with_the_chmod_that_fixes_it() {
        let dir = tempfile::Builder::new()
            .prefix("fwsign-secret-file-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, b"secret").unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, false),
            (0o604, false),
            (0o660, false),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let result = check_owner_only(&path);
            assert_eq!(result.is_ok(), ok, "mode {mode:o}");
            if let Err(e) = result {
                assert!(e.to_string().contains("chmod 600"), "{e}");
            }
        }
        dir.close().unwrap();
    }
}
