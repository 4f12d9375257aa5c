//! Tests of creating, verifying and extracting bundles, against repositories
//! made and published in a scratch directory.

use std::fs;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;

use super::manifest::manifest_bytes;
use super::*;
use crate::bundle_archive::{ArchiveLimits, BundleArchive, EntrySource, write_bundle};
use fwsign_core::target_check::TargetRefusal;
use fwsign_core::verify::VerifyError;
use fwsign_core::workflow::WorkflowError;
use fwsign_keys::ErrorClass;
use fwsign_keys::trusted_set::TrustError;
use fwsign_keys::{Algorithm, PrivateKey};
use fwsign_repo::staging::{AddOptions, DelegateOptions, NewTarget, RotateOptions};
use fwsign_repo::{ExpiryPolicy, InitOptions, Repository};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
/// 2023-11-14T22:13:20Z: every repository here is published then.
const PUBLISHED: UnixTime = UnixTime(1_700_000_000);
const TARGET: &str = "board-a/fw-1.0.0.bin";
const HARDWARE: &str = "evc-a1";
const COUNTER: u64 = 3;

/// A fresh directory of the test's own under the system temp dir, and its
/// path: the directory is removed when the guard is dropped (also when the
/// test fails), so keep the guard bound for the whole test.
fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix(&format!("fwsign-bundle-rs-{name}-"))
        .tempdir()
        .unwrap();
    let dir = guard.path().to_path_buf();
    (guard, dir)
}

fn image() -> Vec<u8> {
    (0..300_000u32).map(|i| (i % 251) as u8).collect()
}

struct Fixture {
    dir: PathBuf,
    repo: Repository,
    root: PrivateKey,
    targets: PrivateKey,
    snapshot: PrivateKey,
    timestamp: PrivateKey,
    /// Owns `dir`: removes it when the fixture is dropped (last), also
    /// when the test fails.
    _scratch: tempfile::TempDir,
}

impl Fixture {
    /// A repository with `TARGET` published at `PUBLISHED`.
    fn new(name: &str) -> Self {
        let (scratch, dir) = scratch(name);
        let key = || PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let (root, targets, snapshot, timestamp) = (key(), key(), key(), key());
        let options = InitOptions {
            root_keys: vec![root.public_key().clone()],
            root_threshold: 1,
            targets_keys: vec![targets.public_key().clone()],
            targets_threshold: 1,
            snapshot_key: snapshot.public_key().clone(),
            timestamp_key: timestamp.public_key().clone(),
            expiry: ExpiryPolicy::default(),
            allow_shared_key: false,
        };
        let repo = Repository::init(dir.join("repo"), &options, PUBLISHED).unwrap();
        let fixture = Self {
            dir,
            repo,
            root,
            targets,
            snapshot,
            timestamp,
            _scratch: scratch,
        };
        fixture.add("targets", TARGET, &image());
        fixture.repo.sign("root", &fixture.root, PUBLISHED).unwrap();
        fixture
            .repo
            .sign("targets", &fixture.targets, PUBLISHED)
            .unwrap();
        fixture.publish(PUBLISHED);
        fixture
    }

    fn add(&self, role: &str, name: &str, contents: &[u8]) {
        let file = self.dir.join("image.bin");
        fs::write(&file, contents).unwrap();
        let options = AddOptions {
            role: role.to_owned(),
            targets: vec![NewTarget {
                file,
                name: name.to_owned(),
            }],
            hardware_ids: vec![HARDWARE.to_owned(), "evc-a2".to_owned()],
            version: "1.0.0".to_owned(),
            security_counter: COUNTER,
            min_bootloader_version: None,
            sbom_sha256: None,
            sbom: None,
            sha512: true,
            custom: vec![],
        };
        self.repo.add(&options, PUBLISHED, &mut |_| {}).unwrap();
    }

    fn publish(&self, now: UnixTime) {
        self.repo
            .publish(&self.snapshot, &self.timestamp, now, &mut |_| {})
            .unwrap();
    }

    fn root_bytes(&self, version: u64) -> Vec<u8> {
        fs::read(
            self.repo
                .metadata_dir()
                .join(format!("{version}.root.json")),
        )
        .unwrap()
    }

    fn bundle(&self, name: &str) -> PathBuf {
        let out = self.dir.join(name);
        create_bundle(&self.repo, TARGET, &out).unwrap();
        out
    }
}

/// Checks `hours` after publishing.
fn at(hours: i64) -> VerifyOptions {
    VerifyOptions::at(UnixTime(PUBLISHED.0 + hours * HOUR))
}

/// A device's checks, `hours` after publishing.
/// The role and the workflow step's reason of a refusal by the TUF
/// checks, for matching in assertions.
fn refusal(err: &BundleError) -> Option<(&str, &WorkflowError)> {
    match err {
        BundleError::Refused {
            role,
            source: TrustError::Refused { source, .. },
            ..
        } => Some((role.as_str(), source)),
        _ => None,
    }
}

fn device(hours: i64) -> VerifyOptions {
    VerifyOptions {
        hardware_id: Some(HARDWARE.to_owned()),
        installed_counter: Some(COUNTER),
        ..at(hours)
    }
}

/// Copies bundle `src` to `dst`, passing every entry through `edit`
/// (`None` drops it), the way an attacker with a zip tool would.
fn rewrite(src: &Path, dst: &Path, mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>) {
    let mut archive = BundleArchive::open(src, ArchiveLimits::default()).unwrap();
    let mut entries = Vec::new();
    for name in archive.names() {
        let contents = archive.read(&name, 1 << 30).unwrap();
        if let Some(contents) = edit(&name, contents) {
            entries.push((name, contents));
        }
    }
    let sources: Vec<(String, EntrySource<'_>)> = entries
        .iter()
        .map(|(name, contents)| (name.clone(), EntrySource::Bytes(contents)))
        .collect();
    write_bundle(dst, &sources).unwrap();
}

fn is_empty_dir(dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn created_bundle_verifies_and_extracts() {
    let f = Fixture::new("round-trip");
    let out = f.dir.join("update.zip");
    let summary = create_bundle(&f.repo, TARGET, &out).unwrap();
    assert_eq!(summary.target, TARGET);
    assert_eq!(summary.role, "targets");
    assert_eq!(summary.root_version, 1);
    assert_eq!(summary.length, image().len() as u64);
    assert_eq!(summary.size, fs::metadata(&out).unwrap().len());
    assert_eq!(
        summary.entries,
        [
            MANIFEST_NAME,
            "metadata/1.root.json",
            "metadata/timestamp.json",
            "metadata/1.snapshot.json",
            "metadata/1.targets.json",
            "targets/board-a/fw-1.0.0.bin",
        ]
    );

    let (_extract_dir, extract) = scratch("round-trip-extract");
    let options = VerifyOptions {
        extract_to: Some(extract.clone()),
        ..device(1)
    };
    let verified = verify_bundle(&out, &f.root_bytes(1), &options).unwrap();
    assert_eq!(verified.target, TARGET);
    assert_eq!(verified.sha256, summary.sha256);
    assert_eq!(
        verified.sha256,
        base16ct::lower::encode_string(&<sha2::Sha256 as sha2::Digest>::digest(image()))
    );
    assert_eq!(verified.length, image().len() as u64);
    assert_eq!(verified.firmware_version.as_deref(), Some("1.0.0"));
    assert_eq!(verified.security_counter, Some(COUNTER));
    assert_eq!(verified.hardware_ids, [HARDWARE, "evc-a2"]);
    assert_eq!(verified.role, "targets");
    assert_eq!(verified.roles_searched, ["targets"]);
    assert_eq!(verified.root_version, 1);
    assert!(verified.warnings.is_empty(), "{:?}", verified.warnings);
    let extracted = extract.join("board-a").join("fw-1.0.0.bin");
    assert_eq!(verified.extracted_to.as_deref(), Some(extracted.as_path()));
    assert_eq!(fs::read(&extracted).unwrap(), image());
    // Only the image: no temporary file left beside it.
    assert_eq!(fs::read_dir(&extract).unwrap().count(), 1);
}

#[test]
fn reproducible_output() {
    let f = Fixture::new("reproducible");
    let first = f.bundle("first.zip");
    let second = f.bundle("second.zip");
    assert_eq!(fs::read(first).unwrap(), fs::read(second).unwrap());
}

#[test]
fn tampered_image_refused_and_nothing_extracted() {
    let f = Fixture::new("tampered");
    let genuine = f.bundle("update.zip");
    let tampered = f.dir.join("tampered.zip");
    rewrite(&genuine, &tampered, |name, mut contents| {
        if name.starts_with("targets/") {
            contents[1000] ^= 0x01;
        }
        Some(contents)
    });
    let (_extract_dir, extract) = scratch("tampered-extract");
    let options = VerifyOptions {
        extract_to: Some(extract.clone()),
        ..device(1)
    };
    let err = verify_bundle(&tampered, &f.root_bytes(1), &options).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::ImageMismatch {
                source: TargetRefusal::HashMismatch,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Security);
    assert!(is_empty_dir(&extract));
}

#[test]
fn truncated_image_refused_by_length() {
    let f = Fixture::new("truncated-image");
    let genuine = f.bundle("update.zip");
    let shorter = f.dir.join("shorter.zip");
    rewrite(&genuine, &shorter, |name, mut contents| {
        if name.starts_with("targets/") {
            contents.pop();
        }
        Some(contents)
    });
    let err = verify_bundle(&shorter, &f.root_bytes(1), &at(1)).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::ImageMismatch {
                source: TargetRefusal::LengthMismatch,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn wrong_hardware_id_refused_and_nothing_extracted() {
    let f = Fixture::new("hardware");
    let out = f.bundle("update.zip");
    let (_extract_dir, extract) = scratch("hardware-extract");
    let options = VerifyOptions {
        hardware_id: Some("other-board".to_owned()),
        extract_to: Some(extract.clone()),
        ..at(1)
    };
    let err = verify_bundle(&out, &f.root_bytes(1), &options).unwrap_err();
    match &err {
        BundleError::HardwareMismatch {
            hardware_id,
            allowed,
            ..
        } => {
            assert_eq!(hardware_id, "other-board");
            assert_eq!(allowed, &[HARDWARE, "evc-a2"]);
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.class(), ErrorClass::Security);
    assert!(is_empty_dir(&extract));
}

#[test]
fn security_counter_rollback_refused() {
    let f = Fixture::new("rollback");
    let out = f.bundle("update.zip");
    let options = VerifyOptions {
        installed_counter: Some(COUNTER + 1),
        ..at(1)
    };
    let err = verify_bundle(&out, &f.root_bytes(1), &options).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::CounterRollback {
                security_counter: COUNTER,
                installed: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Security);
    // Reinstalling the same counter is not a rollback.
    verify_bundle(&out, &f.root_bytes(1), &device(1)).unwrap();
}

#[test]
fn expired_timestamp_warned_but_accepted_unless_require_fresh() {
    let f = Fixture::new("stale");
    let out = f.bundle("update.zip");
    // Two days on: the one-day timestamp has expired, the one-week
    // snapshot and the 90-day targets have not.
    let verified = verify_bundle(&out, &f.root_bytes(1), &device(48)).unwrap();
    assert_eq!(verified.warnings.len(), 1, "{:?}", verified.warnings);
    assert!(matches!(
        &verified.warnings[0],
        BundleWarning::Expired { role, expires } if role == "timestamp" && expires.0 == PUBLISHED.0 + DAY
    ));

    let fresh = VerifyOptions {
        require_fresh: true,
        ..device(48)
    };
    let err = verify_bundle(&out, &f.root_bytes(1), &fresh).unwrap_err();
    assert!(
        matches!(refusal(&err), Some(("timestamp", WorkflowError::Expired))),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Security);

    // Eight days on, the snapshot too.
    let verified = verify_bundle(&out, &f.root_bytes(1), &device(8 * 24)).unwrap();
    let roles: Vec<_> = verified
        .warnings
        .iter()
        .map(|BundleWarning::Expired { role, .. }| role.as_str())
        .collect();
    assert_eq!(roles, ["timestamp", "snapshot"]);
}

#[test]
fn expired_targets_refused() {
    let f = Fixture::new("expired-targets");
    let out = f.bundle("update.zip");
    let err = verify_bundle(&out, &f.root_bytes(1), &device(100 * 24)).unwrap_err();
    assert!(
        matches!(refusal(&err), Some(("targets", WorkflowError::Expired))),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Security);
}

#[test]
fn expired_root_refused() {
    let f = Fixture::new("expired-root");
    let out = f.bundle("update.zip");
    let err = verify_bundle(&out, &f.root_bytes(1), &device(400 * 24)).unwrap_err();
    assert!(
        matches!(&err, BundleError::Refused { role, .. } if role == "root"),
        "{err}"
    );
}

#[test]
fn bundle_signed_under_an_untrusted_root_refused() {
    let f = Fixture::new("untrusted");
    let other = Fixture::new("untrusted-other");
    let out = f.bundle("update.zip");
    let err = verify_bundle(&out, &other.root_bytes(1), &device(1)).unwrap_err();
    assert!(
        matches!(
            refusal(&err),
            Some((
                "timestamp",
                WorkflowError::Verify(VerifyError::ThresholdNotMet { .. })
            ))
        ),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Security);

    // Nor can the other repository's root be slipped in as version 2.
    let forged = f.dir.join("forged.zip");
    let other_root = other.root_bytes(1);
    rewrite(&out, &forged, |_, contents| Some(contents));
    let mut archive = BundleArchive::open(&forged, ArchiveLimits::default()).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = archive
        .names()
        .into_iter()
        .map(|name| {
            let contents = archive.read(&name, 1 << 30).unwrap();
            (name, contents)
        })
        .collect();
    entries.insert(2, ("metadata/2.root.json".to_owned(), other_root));
    let sources: Vec<(String, EntrySource<'_>)> = entries
        .iter()
        .map(|(n, c)| (n.clone(), EntrySource::Bytes(c)))
        .collect();
    write_bundle(&forged, &sources).unwrap();
    let err = verify_bundle(&forged, &f.root_bytes(1), &device(1)).unwrap_err();
    assert!(
        matches!(&err, BundleError::Refused { role, .. } if role == "root"),
        "{err}"
    );
}

#[test]
fn root_chain_followed_from_the_trusted_version() {
    let f = Fixture::new("rotation");
    let options = RotateOptions {
        expires: Some(400 * DAY),
        ..RotateOptions::default()
    };
    f.repo.rotate_root(&options, PUBLISHED).unwrap();
    f.repo.sign("root", &f.root, PUBLISHED).unwrap();
    f.publish(PUBLISHED);
    let out = f.bundle("update.zip");
    let summary = create_bundle(&f.repo, TARGET, &out).unwrap();
    assert_eq!(summary.root_version, 2);
    assert!(summary.entries.contains(&"metadata/2.root.json".to_owned()));

    let from_v1 = verify_bundle(&out, &f.root_bytes(1), &device(1)).unwrap();
    assert_eq!(from_v1.root_version, 2);
    // A device already on version 2 skips version 1.
    let from_v2 = verify_bundle(&out, &f.root_bytes(2), &device(1)).unwrap();
    assert_eq!(from_v2.root_version, 2);

    // Without version 2 the chain ends at 1; the online keys did not
    // change, so the rest still verifies under version 1.
    let stripped = f.dir.join("stripped.zip");
    rewrite(&out, &stripped, |name, contents| {
        (name != "metadata/2.root.json").then_some(contents)
    });
    let verified = verify_bundle(&stripped, &f.root_bytes(1), &device(1)).unwrap();
    assert_eq!(verified.root_version, 1);
}

#[test]
fn delegated_target_found_through_its_delegation() {
    let f = Fixture::new("delegated");
    let board_key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let delegate = |role: &str, paths: &[&str], terminating| DelegateOptions {
        role: role.to_owned(),
        keys: vec![board_key.public_key().clone()],
        threshold: 1,
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        terminating,
        allow_shared_key: false,
    };
    // Searched in order: `other` does not cover the name and is skipped,
    // `board-a` covers it but does not list it, `board-a-2` does.
    f.repo
        .delegate(&delegate("other", &["board-b/*"], false), PUBLISHED)
        .unwrap();
    f.repo
        .delegate(&delegate("board-a", &["board-a/*"], false), PUBLISHED)
        .unwrap();
    f.repo
        .delegate(&delegate("board-a-2", &["board-a/*"], false), PUBLISHED)
        .unwrap();
    let name = "board-a/fw-2.0.0.bin";
    f.add("board-a-2", name, b"second image");
    for role in ["other", "board-a", "board-a-2"] {
        f.repo.sign(role, &board_key, PUBLISHED).unwrap();
    }
    f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
    f.publish(PUBLISHED);

    let out = f.dir.join("update.zip");
    let summary = create_bundle(&f.repo, name, &out).unwrap();
    assert_eq!(summary.role, "board-a-2");
    assert!(
        summary
            .entries
            .contains(&"metadata/1.board-a.json".to_owned())
    );
    assert!(
        !summary
            .entries
            .contains(&"metadata/1.other.json".to_owned())
    );
    let verified = verify_bundle(&out, &f.root_bytes(1), &device(1)).unwrap();
    assert_eq!(verified.role, "board-a-2");
    assert_eq!(verified.roles_searched, ["targets", "board-a", "board-a-2"]);

    // A role the search needs is missing from the bundle.
    let partial = f.dir.join("partial.zip");
    rewrite(&out, &partial, |entry, contents| {
        (entry != "metadata/1.board-a.json").then_some(contents)
    });
    let err = verify_bundle(&partial, &f.root_bytes(1), &device(1)).unwrap_err();
    assert!(
        matches!(&err, BundleError::MissingEntry { entry, .. } if entry == "metadata/1.board-a.json"),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Usage);

    // A terminating `board-a` ends the search before `board-a-2`.
    f.repo
        .delegate(&delegate("board-a", &["board-a/*"], true), PUBLISHED)
        .unwrap();
    f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
    f.publish(PUBLISHED);
    let err = create_bundle(&f.repo, name, &f.dir.join("terminated.zip")).unwrap_err();
    assert!(matches!(err, BundleError::UnknownTarget { .. }), "{err}");
}

#[test]
fn target_listed_outside_its_delegation_refused() {
    let f = Fixture::new("outside");
    let board_key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let delegate = |paths: &[&str]| DelegateOptions {
        role: "board-a".to_owned(),
        keys: vec![board_key.public_key().clone()],
        threshold: 1,
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        terminating: false,
        allow_shared_key: false,
    };
    let name = "board-a/fw-2.0.0.bin";
    f.repo
        .delegate(&delegate(&["board-a/*"]), PUBLISHED)
        .unwrap();
    f.add("board-a", name, b"second image");
    f.repo.sign("board-a", &board_key, PUBLISHED).unwrap();
    f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
    f.publish(PUBLISHED);
    let out = f.dir.join("update.zip");
    create_bundle(&f.repo, name, &out).unwrap();

    // The delegation narrows; board-a still lists the old name. Staged
    // by hand: `delegate` refuses to strand a listed target
    // (repo/publishable.rs), but a repository written otherwise can
    // hold this state, and the bundle must refuse it.
    let mut narrowed = f.repo.current_targets("targets").unwrap().unwrap();
    narrowed.signatures.clear();
    narrowed.signed.version += 1;
    for role in &mut narrowed.signed.delegations.as_mut().unwrap().roles {
        role.paths = Some(vec!["board-b/*".to_owned()]);
    }
    f.repo.save_staged("targets", &narrowed).unwrap();
    f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
    f.publish(PUBLISHED);
    let err = create_bundle(&f.repo, name, &f.dir.join("outside.zip")).unwrap_err();
    assert!(
        matches!(
            &err,
            BundleError::OutsideDelegation { role, delegator, .. }
                if role == "board-a" && delegator == "targets"
        ),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Security);
}

#[test]
fn unknown_target_not_packaged() {
    let f = Fixture::new("unknown");
    let out = f.dir.join("update.zip");
    let err = create_bundle(&f.repo, "board-a/nope.bin", &out).unwrap_err();
    assert!(matches!(err, BundleError::UnknownTarget { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Usage);
    let err = create_bundle(&f.repo, "../escape", &out).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Usage);
    assert!(!out.exists());
}

#[test]
fn unpublished_repository_refused() {
    let (_scratch, dir) = scratch("unpublished");
    let key = || PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let options = InitOptions {
        root_keys: vec![key().public_key().clone()],
        root_threshold: 1,
        targets_keys: vec![key().public_key().clone()],
        targets_threshold: 1,
        snapshot_key: key().public_key().clone(),
        timestamp_key: key().public_key().clone(),
        expiry: ExpiryPolicy::default(),
        allow_shared_key: false,
    };
    let repo = Repository::init(dir.join("repo"), &options, PUBLISHED).unwrap();
    let err = create_bundle(&repo, TARGET, &dir.join("update.zip")).unwrap_err();
    assert!(matches!(err, BundleError::NotPublished { .. }), "{err}");
}

#[test]
fn target_name_swapped_in_manifest_refused() {
    // The manifest is unsigned: naming another target than the image
    // only makes the search look for that name.
    let f = Fixture::new("manifest-swap");
    let out = f.bundle("update.zip");
    let swapped = f.dir.join("swapped.zip");
    rewrite(&out, &swapped, |name, contents| {
        Some(if name == MANIFEST_NAME {
            manifest_bytes("board-a/other.bin")
        } else {
            contents
        })
    });
    let err = verify_bundle(&swapped, &f.root_bytes(1), &device(1)).unwrap_err();
    assert!(matches!(err, BundleError::TargetNotFound { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Security);
}

#[test]
fn not_a_bundle_or_other_format_refused() {
    let f = Fixture::new("format");
    let out = f.bundle("update.zip");

    let without = f.dir.join("without.zip");
    rewrite(&out, &without, |name, contents| {
        (name != MANIFEST_NAME).then_some(contents)
    });
    let err = verify_bundle(&without, &f.root_bytes(1), &device(1)).unwrap_err();
    assert!(matches!(err, BundleError::NotABundle { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Usage);

    let newer = f.dir.join("newer.zip");
    rewrite(&out, &newer, |name, contents| {
        Some(if name == MANIFEST_NAME {
            br#"{"format_version": 2, "target": "x", "layout": "new"}"#.to_vec()
        } else {
            contents
        })
    });
    let err = verify_bundle(&newer, &f.root_bytes(1), &device(1)).unwrap_err();
    assert!(
        matches!(err, BundleError::UnsupportedFormat { found: 2, .. }),
        "{err}"
    );

    let no_snapshot = f.dir.join("no-snapshot.zip");
    rewrite(&out, &no_snapshot, |name, contents| {
        (!name.ends_with(".snapshot.json")).then_some(contents)
    });
    let err = verify_bundle(&no_snapshot, &f.root_bytes(1), &device(1)).unwrap_err();
    assert!(matches!(err, BundleError::MissingEntry { .. }), "{err}");

    let err = verify_bundle(&out, b"{\"not\": \"a root\"}", &device(1)).unwrap_err();
    assert!(matches!(err, BundleError::TrustedRoot { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Usage);
}

#[test]
fn tampered_metadata_refused() {
    let f = Fixture::new("tampered-metadata");
    let out = f.bundle("update.zip");
    let tampered = f.dir.join("tampered.zip");
    // Raise the counter in the targets role: the signature no longer
    // covers it, and the snapshot's hash no longer matches.
    rewrite(&out, &tampered, |name, contents| {
        Some(if name.ends_with(".targets.json") {
            String::from_utf8(contents)
                .unwrap()
                .replace("\"security_counter\":3", "\"security_counter\":9")
                .into_bytes()
        } else {
            contents
        })
    });
    let err = verify_bundle(&tampered, &f.root_bytes(1), &device(1)).unwrap_err();
    assert!(
        matches!(&err, BundleError::Refused { role, .. } if role == "targets"),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Security);
}

#[test]
fn missing_extract_directory_refused_and_not_created() {
    let f = Fixture::new("no-extract-dir");
    let out = f.bundle("update.zip");
    let missing = f.dir.join("missing-extract-dir");
    let options = VerifyOptions {
        extract_to: Some(missing),
        ..at(1)
    };
    let err = verify_bundle(&out, &f.root_bytes(1), &options).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Io);
    assert!(!f.dir.join("missing-extract-dir").exists());
}
