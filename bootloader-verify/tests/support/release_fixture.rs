//! The release both verifier test suites start from: a real repository,
//! staged, approved and published with fwsign's release library.
//!
//! Included with `#[path]` by `bootloader-verify/tests/device.rs` and
//! `bootloader-verify/ffi/tests/abi.rs`; each uses part of it.

#![allow(dead_code, reason = "shared by two test crates; each uses part of it")]

use std::path::{Path, PathBuf};

use fwsign_keys::{Algorithm, PrivateKey};
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_repo::staging::{AddOptions, DelegateOptions, NewTarget, OnExisting};
use fwsign_repo::{ExpiryPolicy, InitOptions, Repository};

/// The time every release is made and checked at.
pub(crate) const NOW: UnixTime = UnixTime(1_800_000_000);

/// A published release and the keys that made it.
pub(crate) struct Release {
    pub(crate) repo: Repository,
    /// Root keys (threshold 2 of 2).
    pub(crate) root_keys: Vec<PrivateKey>,
    /// Targets approvers (threshold 2 of 3; the first two signed).
    pub(crate) approvers: Vec<PrivateKey>,
    /// The snapshot and timestamp key.
    pub(crate) online: PrivateKey,
    /// `board-a` approvers (threshold 2 of 2).
    pub(crate) board: Vec<PrivateKey>,
    /// The scratch directory holding the repository and the images.
    pub(crate) dir: PathBuf,
    /// Owns `dir`: removes it when the release is dropped (last, after the
    /// repository), also when the test fails.
    _scratch: tempfile::TempDir,
}

/// An empty scratch directory, `<temp>/fwsign-bv-<name>-XXXXXX`, removed
/// when the returned guard is dropped.
pub(crate) fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fwsign-bv-{name}-"))
        .tempdir()
        .unwrap()
}

pub(crate) fn key(alg: Algorithm) -> PrivateKey {
    PrivateKey::generate(alg).unwrap()
}

/// Writes a `len`-byte image whose bytes depend on `seed`.
pub(crate) fn image(dir: &Path, name: &str, seed: u8, len: usize) -> PathBuf {
    let path = dir.join(name);
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Stages `file` as target `name` of `role` for hardware `evc-a1`.
pub(crate) fn add(
    repo: &Repository,
    role: &str,
    file: &Path,
    name: &str,
    counter: u64,
    version: &str,
) {
    add_needing(repo, role, file, name, counter, version, None);
}

/// [`add`], with the image's `min_bootloader_version`.
pub(crate) fn add_needing(
    repo: &Repository,
    role: &str,
    file: &Path,
    name: &str,
    counter: u64,
    version: &str,
    min_bootloader_version: Option<&str>,
) {
    // A later release under the same name replaces the entry, as
    // `repo add --replace` does: the scenarios update one image name.
    repo.add_with(
        &AddOptions {
            role: role.into(),
            targets: vec![NewTarget {
                file: file.to_path_buf(),
                name: name.into(),
            }],
            hardware_ids: vec!["evc-a1".into()],
            version: version.into(),
            security_counter: counter,
            min_bootloader_version: min_bootloader_version.map(str::to_owned),
            sbom_sha256: None,
            sbom: None,
            sha512: false,
            custom: vec![],
        },
        OnExisting::Replace,
        NOW,
        &mut |_| {},
    )
    .unwrap();
}

/// A 2-of-3 release of `evc-a1/fw.bin` (5000 bytes, counter 5), plus a
/// delegation `board-a/*` to two keys (threshold 2) listing
/// `board-a/fw.bin` (3000 bytes).
pub(crate) fn release(name: &str) -> Release {
    release_with(name, |_, _| {})
}

/// [`release`], with `stage_more(repo, dir)` run before approval to stage
/// more targets into the same release.
pub(crate) fn release_with(name: &str, stage_more: impl FnOnce(&Repository, &Path)) -> Release {
    release_signed_by(name, stage_more, &[])
}

/// Keys of the two roles [`shadowing_release`] adds.
pub(crate) struct ShadowingKeys {
    /// `release`'s one key (threshold 1).
    pub(crate) release: PrivateKey,
    /// `nightly`'s one key (threshold 1): the key issue 12's attacker holds.
    pub(crate) nightly: PrivateKey,
}

/// Issue 12's layout: [`release`] (top-level `targets` lists
/// `evc-a1/fw.bin`, 2 of 3), with, in `targets`' delegation order after
/// `board-a`:
/// - `release` (`evc-a1/*`, terminating, 1 of 1), listing
///   `evc-a1/release.bin` (4000 bytes, counter 5);
/// - `nightly` (`*/*`, the catch-all, 1 of 1), listing `nightly/fw.bin`
///   (3500 bytes, counter 5), the one name only it answers for.
///
/// So the ordered search answers `evc-a1/fw.bin` from `targets`, every
/// other `evc-a1/*` name from `release` and nobody after it, `board-a/*`
/// from `board-a` before `nightly`, and only the rest from `nightly`.
pub(crate) fn shadowing_release(name: &str) -> (Release, ShadowingKeys) {
    let keys = ShadowingKeys {
        release: key(Algorithm::EcdsaP256),
        nightly: key(Algorithm::Ed25519),
    };
    let delegation =
        |role: &str, key: &PrivateKey, path: &str, terminating: bool| DelegateOptions {
            role: role.into(),
            keys: vec![key.public_key().clone()],
            threshold: 1,
            paths: vec![path.into()],
            terminating,
            allow_shared_key: false,
        };
    let stage = |repo: &Repository, dir: &Path| {
        repo.delegate(&delegation("release", &keys.release, "evc-a1/*", true), NOW)
            .unwrap();
        repo.delegate(&delegation("nightly", &keys.nightly, "*/*", false), NOW)
            .unwrap();
        let release_fw = image(dir, "release.bin", 4, 4000);
        add(
            repo,
            "release",
            &release_fw,
            "evc-a1/release.bin",
            5,
            "1.2.1",
        );
        let nightly_fw = image(dir, "nightly.bin", 5, 3500);
        add(
            repo,
            "nightly",
            &nightly_fw,
            "nightly/fw.bin",
            5,
            "1.3.0-nightly.1",
        );
    };
    let r = release_signed_by(
        name,
        stage,
        &[("release", &keys.release), ("nightly", &keys.nightly)],
    );
    (r, keys)
}

/// [`release`], with `stage_more(repo, dir)` run before approval and each
/// `(role, key)` of `more_signers` signing its role before publishing.
pub(crate) fn release_signed_by(
    name: &str,
    stage_more: impl FnOnce(&Repository, &Path),
    more_signers: &[(&str, &PrivateKey)],
) -> Release {
    let scratch = scratch(name);
    let dir = scratch.path().to_path_buf();
    let root_keys = vec![key(Algorithm::Ed25519), key(Algorithm::EcdsaP256)];
    let approvers = vec![
        key(Algorithm::EcdsaP256),
        key(Algorithm::Ed25519),
        key(Algorithm::EcdsaP256),
    ];
    let board = vec![key(Algorithm::EcdsaP256), key(Algorithm::Ed25519)];
    let online = key(Algorithm::EcdsaP256);
    let repo = Repository::init(
        dir.join("repo"),
        &InitOptions {
            root_keys: root_keys.iter().map(|k| k.public_key().clone()).collect(),
            root_threshold: 2,
            targets_keys: approvers.iter().map(|k| k.public_key().clone()).collect(),
            targets_threshold: 2,
            snapshot_key: online.public_key().clone(),
            timestamp_key: online.public_key().clone(),
            expiry: ExpiryPolicy::default(),
            allow_shared_key: false,
        },
        NOW,
    )
    .unwrap();
    repo.delegate(
        &DelegateOptions {
            role: "board-a".into(),
            keys: board.iter().map(|k| k.public_key().clone()).collect(),
            threshold: 2,
            paths: vec!["board-a/*".into()],
            terminating: false,
            allow_shared_key: false,
        },
        NOW,
    )
    .unwrap();
    let fw = image(&dir, "fw.bin", 1, 5000);
    add(&repo, "targets", &fw, "evc-a1/fw.bin", 5, "1.2.0");
    let fw_b = image(&dir, "fw-b.bin", 2, 3000);
    add(&repo, "board-a", &fw_b, "board-a/fw.bin", 5, "1.2.0");
    stage_more(&repo, &dir);
    for k in &root_keys {
        repo.sign("root", k, NOW).unwrap();
    }
    for k in &approvers[..2] {
        repo.sign("targets", k, NOW).unwrap();
    }
    for k in &board {
        repo.sign("board-a", k, NOW).unwrap();
    }
    for (role, k) in more_signers {
        repo.sign(role, *k, NOW).unwrap();
    }
    repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();
    Release {
        repo,
        root_keys,
        approvers,
        online,
        board,
        dir,
        _scratch: scratch,
    }
}
