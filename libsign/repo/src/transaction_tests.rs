//! What a killed command leaves, and how the next one deals with it:
//! versions past orphans, orphans used or refused, stale temporary files
//! removed under the exclusive lock. (Racing processes are tested end to
//! end in `tests/tests/all/repo_concurrency.rs`.)

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::Targets;

use super::lock::LockKind;
use super::{ExpiryPolicy, InitOptions, RepoError, Repository, file_bytes, names};
use fwsign_keys::{Algorithm, PrivateKey};

const NOW: UnixTime = UnixTime(1_700_000_000);

struct Fixture {
    repo: Repository,
    root: PrivateKey,
    approvers: [PrivateKey; 2],
    online: PrivateKey,
    /// Holds the repository's directory: removed when the fixture is
    /// dropped (last), also when the test fails.
    _scratch: tempfile::TempDir,
}

impl Fixture {
    /// A repository with root 1 of 1 and targets `threshold` of 2 approvers,
    /// its first release published.
    fn new(threshold: u64) -> Self {
        let scratch = tempfile::Builder::new()
            .prefix("fwsign-repo-tx-")
            .tempdir()
            .unwrap();
        let key = || PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let (root, approvers, online) = (key(), [key(), key()], key());
        let options = InitOptions {
            root_keys: vec![root.public_key().clone()],
            root_threshold: 1,
            targets_keys: approvers.iter().map(|k| k.public_key().clone()).collect(),
            targets_threshold: threshold,
            snapshot_key: online.public_key().clone(),
            timestamp_key: online.public_key().clone(),
            expiry: ExpiryPolicy::default(),
            allow_shared_key: false,
        };
        let repo = Repository::init(scratch.path().join("repo"), &options, NOW).unwrap();
        let f = Self {
            repo,
            root,
            approvers,
            online,
            _scratch: scratch,
        };
        f.repo.sign("root", &f.root, NOW).unwrap();
        f.approve(threshold);
        f.publish().unwrap();
        f
    }

    fn approve(&self, n: u64) {
        for k in self.approvers.iter().take(usize::try_from(n).unwrap()) {
            self.repo.sign("targets", k, NOW).unwrap();
        }
    }

    fn publish(&self) -> Result<super::publish::PublishOutcome, RepoError> {
        self.repo
            .publish(&self.online, &self.online, NOW, &mut |_| {})
    }

    fn metadata(&self, name: &str) -> PathBuf {
        self.repo.metadata_dir().join(name)
    }

    /// What a publish killed after writing the staged targets' versioned
    /// file leaves: that file, with the staged role's bytes now.
    fn orphan_of_staged_targets(&self) -> (PathBuf, Vec<u8>) {
        let doc = self
            .repo
            .load_staged::<Targets>("targets")
            .unwrap()
            .unwrap();
        let path = self.metadata(&names::versioned_role_file(doc.signed.version, "targets"));
        let bytes = file_bytes("targets", &doc).unwrap();
        fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }
}

#[test]
fn versions_go_past_orphans_a_killed_publish_left() {
    let f = Fixture::new(1);
    // A killed publish left snapshot v2 and targets v2; no timestamp names them.
    let orphan_snapshot = f.metadata("2.snapshot.json");
    fs::copy(f.metadata("1.snapshot.json"), &orphan_snapshot).unwrap();
    let orphan_targets = f.metadata("2.targets.json");
    fs::copy(f.metadata("1.targets.json"), &orphan_targets).unwrap();
    let kept = (
        fs::read(&orphan_snapshot).unwrap(),
        fs::read(&orphan_targets).unwrap(),
    );
    // Orphans are not published state.
    let published = f.repo.published().unwrap().unwrap();
    assert_eq!(published.snapshot.unwrap().signed.version, 1);
    assert_eq!(published.targets["targets"].signed.version, 1);

    assert_eq!(f.repo.extend("targets", 86_400, NOW).unwrap(), 3);
    f.approve(1);
    let outcome = f.publish().unwrap();
    assert_eq!(outcome.roles["targets"], 3);
    assert_eq!(outcome.snapshot_version, 3);
    assert_eq!(outcome.timestamp_version, 2);
    assert_eq!(
        (
            fs::read(&orphan_snapshot).unwrap(),
            fs::read(&orphan_targets).unwrap()
        ),
        kept,
        "an orphan was rewritten"
    );
    // A refresh goes past them too.
    fs::write(f.metadata("4.snapshot.json"), b"left by a killed refresh").unwrap();
    let refreshed = f
        .repo
        .refresh(&f.online, &f.online, 10 * 365 * 86_400, NOW)
        .unwrap();
    assert_eq!(refreshed.snapshot_version, Some(5));
    assert_eq!(
        fs::read(f.metadata("4.snapshot.json")).unwrap(),
        b"left by a killed refresh"
    );
}

#[test]
fn an_edit_moves_a_staged_role_past_the_orphan_at_its_version() {
    let f = Fixture::new(1);
    f.repo.extend("targets", 86_400, NOW).unwrap();
    f.approve(1);
    let (orphan, bytes) = f.orphan_of_staged_targets();
    // Staged again after the kill: the edit cannot keep version 2.
    assert_eq!(f.repo.extend("targets", 2 * 86_400, NOW).unwrap(), 3);
    f.approve(1);
    assert_eq!(f.publish().unwrap().roles["targets"], 3);
    assert_eq!(fs::read(&orphan).unwrap(), bytes);
}

#[test]
fn an_orphan_of_the_staged_role_is_published_as_it_is_when_its_signatures_suffice() {
    let f = Fixture::new(1);
    f.repo.extend("targets", 86_400, NOW).unwrap();
    f.approve(1);
    let (orphan, bytes) = f.orphan_of_staged_targets();
    // Another approval after the kill: the staged bytes differ now.
    f.repo.sign("targets", &f.approvers[1], NOW).unwrap();
    let outcome = f.publish().unwrap();
    assert_eq!(outcome.roles["targets"], 2);
    assert_eq!(
        fs::read(&orphan).unwrap(),
        bytes,
        "the orphan was rewritten"
    );
    // The snapshot describes the file as it is on disk.
    let published = f.repo.published().unwrap().unwrap();
    assert_eq!(published.targets["targets"].signatures.len(), 1);
}

#[test]
fn an_orphan_whose_signatures_no_longer_suffice_is_refused_before_anything_is_written() {
    let f = Fixture::new(2);
    f.repo.extend("targets", 86_400, NOW).unwrap();
    // The orphan carries one approval of two (as if written under a root
    // that asked for one), the staged role both.
    f.repo.sign("targets", &f.approvers[0], NOW).unwrap();
    let (orphan, bytes) = f.orphan_of_staged_targets();
    f.repo.sign("targets", &f.approvers[1], NOW).unwrap();
    let before: Vec<_> = fs::read_dir(f.repo.metadata_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let err = f.publish().unwrap_err();
    assert!(
        matches!(&err, RepoError::Invalid(m) if m.contains("repo extend --role targets")),
        "{err}"
    );
    let after: Vec<_> = fs::read_dir(f.repo.metadata_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before.len(), after.len());
    assert_eq!(fs::read(&orphan).unwrap(), bytes);
    // The way out the error names works.
    assert_eq!(f.repo.extend("targets", 86_400, NOW).unwrap(), 3);
    f.approve(2);
    assert_eq!(f.publish().unwrap().roles["targets"], 3);
}

#[test]
fn the_exclusive_lock_removes_stale_temporary_files_and_nothing_else() {
    let f = Fixture::new(1);
    let dir = f.repo.dir().to_path_buf();
    let stale = [
        dir.join(".fwsign-repo.json.fwsign-tmp-1-2"),
        dir.join("staged/targets/targets/board-a/.fw.bin.fwsign-tmp-1-2"),
        dir.join("metadata/.2.snapshot.json.fwsign-tmp-1-2"),
        // A role's new staged directory a killed `repo add` was building,
        // files under their final names inside.
        dir.join("staged/targets/.bins-07.fwsign-tmp-1-2/board-a/fw.bin"),
    ];
    let stale_dir = dir.join("staged/targets/.bins-07.fwsign-tmp-1-2");
    // Left by a killed publish, removed by the next publish's sweep.
    let in_targets = dir.join("targets/board-a/.abc.fw.bin.fwsign-tmp-1-2");
    let kept = [
        dir.join("staged/targets/targets/board-a/.hidden"),
        dir.join("targets/board-a/fw.bin.fwsign-tmp-1-2"),
    ];
    for path in stale.iter().chain(&kept).chain([&in_targets]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"x").unwrap();
    }
    // Readers leave them, and cannot sweep `targets/`.
    let shared = f
        .repo
        .lock(LockKind::Shared, "test", Duration::ZERO)
        .unwrap();
    assert!(
        f.repo
            .remove_stale_target_temporaries(&shared)
            .unwrap()
            .is_empty()
    );
    drop(shared);
    assert!(stale.iter().all(|p| p.exists()) && in_targets.exists());
    let held = f
        .repo
        .lock(LockKind::Exclusive, "test", Duration::ZERO)
        .unwrap();
    for path in &stale {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert!(!stale_dir.exists());
    assert!(in_targets.exists());
    // `targets/` is swept only after a publish stopped while it linked,
    // which leaves its marker.
    assert!(
        f.repo
            .remove_stale_target_temporaries(&held)
            .unwrap()
            .is_empty()
    );
    assert!(in_targets.exists());
    f.repo.mark_linking().unwrap();
    assert_eq!(
        f.repo.remove_stale_target_temporaries(&held).unwrap(),
        std::slice::from_ref(&in_targets)
    );
    // The marker went with them.
    assert!(
        f.repo
            .remove_stale_target_temporaries(&held)
            .unwrap()
            .is_empty()
    );
    for path in &kept {
        assert!(path.exists(), "{} was removed", path.display());
    }
    drop(held);
}

#[test]
fn a_signature_made_before_the_staged_role_changed_is_refused_not_added() {
    let f = Fixture::new(2);
    f.repo.extend("targets", 86_400, NOW).unwrap();
    // Both approvers sign the same bytes; one adds first: the other's
    // signature still fits (signatures are not part of what is signed).
    let first = f
        .repo
        .prepare_signature("targets", &f.approvers[0])
        .unwrap();
    let second = f
        .repo
        .prepare_signature("targets", &f.approvers[1])
        .unwrap();
    f.repo.add_prepared(&first, NOW).unwrap();
    assert!(f.repo.add_prepared(&second, NOW).unwrap().is_met());
    // The content changes between signing and adding: refused, not added.
    let stale = f
        .repo
        .prepare_signature("targets", &f.approvers[0])
        .unwrap();
    f.repo.extend("targets", 2 * 86_400, NOW).unwrap();
    let err = f.repo.add_prepared(&stale, NOW).unwrap_err();
    assert!(matches!(err, RepoError::RoleChanged { .. }), "{err}");
    let staged = f.repo.load_staged::<Targets>("targets").unwrap().unwrap();
    assert!(staged.signatures.is_empty());
}

/// `repo add` reports the approvals an edit dropped from who signed the
/// staged role before and after: read from the signatures at the start of
/// the file fwsign writes, and from any other spelling of the envelope
/// (a hand-edited, pretty-printed file) as well.
#[test]
fn the_signers_of_a_staged_role_are_read_from_any_spelling_of_its_file() {
    let f = Fixture::new(2);
    f.repo.extend("targets", 86_400, NOW).unwrap();
    f.repo.sign("targets", &f.approvers[1], NOW).unwrap();
    let signer = f.approvers[1].public_key().keyid();
    assert_eq!(
        f.repo.staged_signers("targets").unwrap(),
        vec![signer.clone()]
    );

    let path = f.repo.staged_path("targets");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    assert_eq!(f.repo.staged_signers("targets").unwrap(), vec![signer]);
}
