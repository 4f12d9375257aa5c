//! Unit tests of the history walk: file-name versions, and delegated
//! roles' anchors against the online key holder.

use std::collections::BTreeMap;
use std::fs;

use fwsign_manifest_schema::canonical::to_portable_bytes;
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{Signed, Snapshot, Targets, Timestamp};
use serde_json::json;

use super::{HEAD_FIELD, sha256_hex, version_of};
use crate::staging::DelegateOptions;
use crate::{RepoError, Repository};
use fwsign_keys::PrivateKey;
use fwsign_keys::document::sign;

const NOW: UnixTime = UnixTime(1_700_000_000);

use crate::test_key as key;

/// A repository in a scratch directory of its own (removed with the
/// guard): one key each for root and targets, `online` for snapshot and
/// timestamp, thresholds of 1.
fn init(
    root: &PrivateKey,
    targets: &PrivateKey,
    online: &PrivateKey,
) -> (tempfile::TempDir, Repository) {
    let scratch = tempfile::Builder::new()
        .prefix("fwsign-repo-history-")
        .tempdir()
        .unwrap();
    let options = crate::test_init_options(root, targets, online);
    let repo = Repository::init(scratch.path().join("repo"), &options, NOW).unwrap();
    (scratch, repo)
}

#[test]
fn versions_in_file_names_have_one_spelling() {
    assert_eq!(version_of("12.root.json", ".root.json"), Some(12));
    for name in [
        "012.root.json",
        "+1.root.json",
        ".root.json",
        "root.json",
        "1.x.root.json",
        "99999999999999999999999.root.json",
    ] {
        assert_eq!(version_of(name, ".root.json"), None, "{name}");
    }
}

/// The online key holder re-signs snapshot and timestamp over a
/// delegated role whose anchor they changed: the delegator's threshold,
/// which they do not hold, refuses it.
#[test]
fn online_key_holder_cannot_swap_a_delegated_roles_anchor() {
    let (root, targets, online, board) = (key(), key(), key(), key());
    let (_scratch, repo) = init(&root, &targets, &online);
    repo.delegate(
        &DelegateOptions {
            role: "board".into(),
            keys: vec![board.public_key().clone()],
            threshold: 1,
            paths: vec!["board/*".into()],
            terminating: true,
            allow_shared_key: false,
        },
        NOW,
    )
    .unwrap();
    repo.sign("root", &root, NOW).unwrap();
    repo.sign("targets", &targets, NOW).unwrap();
    repo.sign("board", &board, NOW).unwrap();
    repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();
    let report = repo.verify_audit().unwrap();
    assert_eq!(
        (report.roots, report.snapshots, report.role_files),
        (1, 1, 2)
    );
    // root, targets, board and the snapshot each anchor the log.
    assert_eq!(report.log.anchors_checked, 4);

    let metadata = repo.metadata_dir();
    let board_path = metadata.join("1.board.json");
    let mut doc = Signed::<Targets>::from_json_slice(&fs::read(&board_path).unwrap()).unwrap();
    doc.signed.unknown.insert(
        HEAD_FIELD.into(),
        json!({"line": 1, "sha256": "00".repeat(32)}),
    );
    let board_bytes = to_portable_bytes(&doc).unwrap();
    fs::write(&board_path, &board_bytes).unwrap();
    let relist = |bytes: &[u8]| {
        let mut hashes = BTreeMap::new();
        hashes.insert("sha256".to_owned(), sha256_hex(bytes));
        (Some(bytes.len() as u64), Some(hashes))
    };
    let snapshot_path = metadata.join("1.snapshot.json");
    let mut snapshot =
        Signed::<Snapshot>::from_json_slice(&fs::read(&snapshot_path).unwrap()).unwrap();
    let entry = snapshot.signed.meta.get_mut("board.json").unwrap();
    (entry.length, entry.hashes) = relist(&board_bytes);
    snapshot.signatures.clear();
    sign(&mut snapshot, &online).unwrap();
    let snapshot_bytes = to_portable_bytes(&snapshot).unwrap();
    fs::write(&snapshot_path, &snapshot_bytes).unwrap();
    let timestamp_path = metadata.join("timestamp.json");
    let mut timestamp =
        Signed::<Timestamp>::from_json_slice(&fs::read(&timestamp_path).unwrap()).unwrap();
    let entry = timestamp.signed.meta.get_mut("snapshot.json").unwrap();
    (entry.length, entry.hashes) = relist(&snapshot_bytes);
    timestamp.signatures.clear();
    sign(&mut timestamp, &online).unwrap();
    fs::write(&timestamp_path, to_portable_bytes(&timestamp).unwrap()).unwrap();

    let err = repo.verify_audit().unwrap_err();
    assert!(
        matches!(&err, RepoError::History { path, why }
            if path == &board_path && why.contains("metadata/1.targets.json")),
        "{err}"
    );
}

/// Attack: an old targets file (no longer live) is rewritten on disk. The
/// full walk (`repo audit`) refuses it; a staging command, which verifies
/// the roles only as the live snapshot lists them (`Depth::Live`, so its
/// cost does not grow with every past release), still refuses a rewritten
/// live role.
#[test]
fn staging_checks_the_live_roles_and_repo_audit_every_past_version() {
    let (root, targets, online) = (key(), key(), key());
    let (_scratch, repo) = init(&root, &targets, &online);
    repo.sign("root", &root, NOW).unwrap();
    repo.sign("targets", &targets, NOW).unwrap();
    repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();
    repo.extend("targets", 86_400 * 30, NOW).unwrap();
    repo.sign("targets", &targets, NOW).unwrap();
    repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();
    let report = repo.verify_audit().unwrap();
    assert_eq!((report.snapshots, report.role_files), (2, 2));

    let metadata = repo.metadata_dir();
    let old = metadata.join("1.targets.json");
    let kept = fs::read(&old).unwrap();
    let mut rewritten = kept.clone();
    rewritten.push(b'\n');
    fs::write(&old, &rewritten).unwrap();
    let err = repo.verify_audit().unwrap_err();
    assert!(
        matches!(&err, RepoError::History { path, .. } if path == &old),
        "{err}"
    );
    repo.check_audit_before_staging(&repo.operation()).unwrap();

    fs::write(&old, &kept).unwrap();
    let live = metadata.join("2.targets.json");
    let mut rewritten = fs::read(&live).unwrap();
    rewritten.push(b'\n');
    fs::write(&live, &rewritten).unwrap();
    let err = repo
        .check_audit_before_staging(&repo.operation())
        .unwrap_err();
    assert!(
        matches!(&err, RepoError::History { path, why }
            if path == &live && why.contains("2.snapshot.json")),
        "{err}"
    );
}
