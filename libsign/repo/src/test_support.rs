//! Helpers the crate's tests share: scratch directories, keys and a
//! repository's options.

use std::path::PathBuf;

use crate::{ExpiryPolicy, InitOptions};

/// The options of a test repository: one key each for root and targets,
/// `online` for snapshot and timestamp, thresholds of 1.
pub(crate) fn test_init_options(
    root: &fwsign_keys::PrivateKey,
    targets: &fwsign_keys::PrivateKey,
    online: &fwsign_keys::PrivateKey,
) -> InitOptions {
    InitOptions {
        root_keys: vec![root.public_key().clone()],
        root_threshold: 1,
        targets_keys: vec![targets.public_key().clone()],
        targets_threshold: 1,
        snapshot_key: online.public_key().clone(),
        timestamp_key: online.public_key().clone(),
        expiry: ExpiryPolicy::default(),
        allow_shared_key: false,
    }
}

/// A test's own scratch directory under the system temp dir, named
/// `fwsign-NAME-XXXXXX`, and its path: removed when the guard is dropped
/// (also when the test fails), so keep the guard bound for the whole test.
pub(crate) fn test_scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    #[allow(
        clippy::unwrap_used,
        reason = "a test without scratch space cannot run"
    )]
    let guard = tempfile::Builder::new()
        .prefix(&format!("fwsign-{name}-"))
        .tempdir()
        .unwrap();
    let dir = guard.path().to_path_buf();
    (guard, dir)
}

/// A fresh signing key (Ed25519: quick to make).
pub(crate) fn test_key() -> fwsign_keys::PrivateKey {
    #[allow(clippy::unwrap_used, reason = "a test without a key cannot run")]
    fwsign_keys::PrivateKey::generate(fwsign_keys::Algorithm::Ed25519).unwrap()
}
