//! Finding the reference peers `scripts/test` installs.

use std::path::PathBuf;

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A file under `tests/data/`.
pub(crate) fn data(path: &str) -> PathBuf {
    workspace_root().join("tests/data").join(path)
}

/// The venv Python with tuf 7 and securesystemslib, or `None` (after saying
/// so) when this run has no peers and does not require them.
pub(crate) fn python() -> Option<PathBuf> {
    match std::env::var_os("FWSIGN_TEST_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() == Ok("1") => {
            panic!("FWSIGN_TEST_PYTHON is not set but FWSIGN_REQUIRE_PEERS=1: run scripts/test")
        }
        None => {
            eprintln!("skipped: FWSIGN_TEST_PYTHON not set (scripts/test sets it)");
            None
        }
    }
}
