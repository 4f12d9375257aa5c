//! The load check against what an insider with the online key can do, the
//! listing's reading of file names, and publish refusing what a client
//! would refuse.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use fwsign_manifest_schema::canonical::to_portable_bytes;
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{Signed, Snapshot, Targets, Timestamp};
use sha2::{Digest, Sha256};

use super::{FaultKind, Listing};
use crate::staging::DelegateOptions;
use crate::{RepoError, Repository};
use fwsign_keys::PrivateKey;
use fwsign_keys::document::sign;

const NOW: UnixTime = UnixTime(1_700_000_000);
const DAY: i64 = 86_400;

/// A fresh directory of the test's own under the system temp dir, and its
/// path: the directory is removed when the guard is dropped (also when
/// the test fails), so keep the guard bound for the whole test.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    crate::test_scratch("published-state")
}

use crate::test_key as key;

struct Fixture {
    repo: Repository,
    targets: PrivateKey,
    board: PrivateKey,
    online: PrivateKey,
    /// Holds the repository's directory: removed when the fixture is
    /// dropped (last), also when the test fails.
    _scratch: tempfile::TempDir,
}

/// Root, targets and a delegated role `board`, published at `NOW`.
fn published() -> Fixture {
    let (scratch, dir) = scratch();
    let (root, targets, online, board) = (key(), key(), key(), key());
    let options = crate::test_init_options(&root, &targets, &online);
    let repo = Repository::init(dir.join("repo"), &options, NOW).unwrap();
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
    assert!(repo.load_published().unwrap().faults.is_empty());
    Fixture {
        repo,
        targets,
        board,
        online,
        _scratch: scratch,
    }
}

fn relist(bytes: &[u8]) -> (Option<u64>, Option<BTreeMap<String, String>>) {
    let mut hashes = BTreeMap::new();
    hashes.insert(
        "sha256".to_owned(),
        base16ct::lower::encode_string(&Sha256::digest(bytes)),
    );
    (Some(bytes.len() as u64), Some(hashes))
}

impl Fixture {
    /// What the online key holder can do: rewrite the live snapshot with
    /// `edit` and re-sign it and the timestamp over it.
    fn resign_live(&self, edit: impl FnOnce(&mut Snapshot)) {
        let metadata = self.repo.metadata_dir();
        let live = Signed::<Timestamp>::from_json_slice(
            &fs::read(metadata.join("timestamp.json")).unwrap(),
        )
        .unwrap()
        .signed
        .meta["snapshot.json"]
            .version;
        let path = metadata.join(format!("{live}.snapshot.json"));
        let mut snapshot = Signed::<Snapshot>::from_json_slice(&fs::read(&path).unwrap()).unwrap();
        edit(&mut snapshot.signed);
        snapshot.signatures.clear();
        sign(&mut snapshot, &self.online).unwrap();
        let bytes = to_portable_bytes(&snapshot).unwrap();
        fs::write(&path, &bytes).unwrap();
        let ts_path = metadata.join("timestamp.json");
        let mut timestamp =
            Signed::<Timestamp>::from_json_slice(&fs::read(&ts_path).unwrap()).unwrap();
        let entry = timestamp.signed.meta.get_mut("snapshot.json").unwrap();
        (entry.length, entry.hashes) = relist(&bytes);
        timestamp.signatures.clear();
        sign(&mut timestamp, &self.online).unwrap();
        fs::write(&ts_path, to_portable_bytes(&timestamp).unwrap()).unwrap();
    }

    /// Writes `bytes` as `role`'s file at `version` and has the live
    /// snapshot list that file ([`Fixture::resign_live`]).
    fn relist_live_role(&self, role: &str, version: u64, bytes: &[u8]) {
        fs::write(
            self.repo
                .metadata_dir()
                .join(format!("{version}.{role}.json")),
            bytes,
        )
        .unwrap();
        self.resign_live(|s| {
            let entry = s.meta.get_mut(&format!("{role}.json")).unwrap();
            entry.version = version;
            (entry.length, entry.hashes) = relist(bytes);
        });
    }

    fn kinds(&self) -> Vec<(String, FaultKind)> {
        self.repo
            .load_published()
            .unwrap()
            .faults
            .iter()
            .map(|f| (f.role.clone(), f.kind))
            .collect()
    }
}

/// The online key holder re-lists a hand-edited `board` role under a
/// snapshot and timestamp they re-sign: the delegator's threshold, which
/// they do not hold, refuses it, and nothing builds on it.
#[test]
fn online_key_holder_cannot_relist_an_edited_role() {
    let f = published();
    let path = f.repo.metadata_dir().join("1.board.json");
    let mut doc = Signed::<Targets>::from_json_slice(&fs::read(&path).unwrap()).unwrap();
    doc.signed.expires = "2099-01-01T00:00:00Z".into();
    let bytes = to_portable_bytes(&doc).unwrap();
    fs::write(&path, &bytes).unwrap();
    f.resign_live(|s| {
        let entry = s.meta.get_mut("board.json").unwrap();
        (entry.length, entry.hashes) = relist(&bytes);
    });
    assert_eq!(
        f.kinds(),
        vec![("board".to_owned(), FaultKind::RoleNotVerified)]
    );
    let err = f.repo.published().unwrap_err();
    assert!(
        matches!(&err, RepoError::VerifyFailed { faults, .. } if faults[0].file.ends_with("metadata/1.board.json")),
        "{err}"
    );
    assert!(f.repo.device_material("board/fw.bin", 0).is_err());
}

/// The online key holder lists a role no delegation reaches (a file only
/// they signed into the snapshot): a fault, though no client fetches it.
#[test]
fn a_listed_role_no_delegation_reaches_is_a_fault() {
    let f = published();
    let metadata = f.repo.metadata_dir();
    fs::copy(metadata.join("1.board.json"), metadata.join("1.ghost.json")).unwrap();
    f.resign_live(|s| {
        let entry = s.meta["board.json"].clone();
        s.meta.insert("ghost.json".into(), entry);
    });
    assert_eq!(
        f.kinds(),
        vec![("ghost".to_owned(), FaultKind::RoleUnreachable)]
    );
}

/// Publish checks the release as a client would at the time of the
/// release: a delegated role that expired since is refused, naming who
/// must act, and nothing is written.
#[test]
fn publish_refuses_a_release_a_client_would_refuse_for_an_expired_role() {
    let f = published();
    let later = UnixTime(NOW.0 + 100 * DAY);
    f.repo.extend("targets", 90 * DAY, later).unwrap();
    f.repo.sign("targets", &f.targets, later).unwrap();
    let before: Vec<_> = fs::read_dir(f.repo.metadata_dir()).unwrap().collect();
    let err = f
        .repo
        .publish(&f.online, &f.online, later, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(&err, RepoError::WouldBeRefused { role, why, .. }
            if role == "board" && why.contains("repo extend --role board")),
        "{err}"
    );
    let after: Vec<_> = fs::read_dir(f.repo.metadata_dir()).unwrap().collect();
    assert_eq!(before.len(), after.len(), "publish wrote a file");
    // The way out the refusal names works.
    f.repo.extend("board", 90 * DAY, later).unwrap();
    f.repo.sign("board", &f.board, later).unwrap();
    f.repo
        .publish(&f.online, &f.online, later, &mut |_| {})
        .unwrap();
}

/// File names are read one way: a version is written without sign or
/// leading zero, a role name is one fwsign allows; anything else is not a
/// version of a role.
#[test]
fn the_listing_reads_versions_one_way() {
    let (_scratch, dir) = scratch();
    for name in [
        "1.root.json",
        "2.root.json",
        "12.targets.json",
        "012.targets.json",
        "3.x.root.json",
        "backup.root.json",
        ".2.snapshot.json.fwsign-tmp-1-2",
        "timestamp.json",
    ] {
        fs::write(dir.join(name), b"{}").unwrap();
    }
    let listing = Listing::read(&dir).unwrap();
    assert_eq!(listing.versions("root").collect::<Vec<_>>(), [1, 2]);
    assert_eq!(listing.highest("targets"), Some(12));
    assert_eq!(listing.highest("x.root"), Some(3));
    assert_eq!(listing.highest("snapshot"), None);
    assert!(listing.timestamp);
    assert_eq!(listing.temporaries, [".2.snapshot.json.fwsign-tmp-1-2"]);
    assert_eq!(listing.others, ["012.targets.json", "backup.root.json"]);
    assert_eq!(listing.next_free_version("targets", 5).unwrap(), 13);
}

/// A refresh after the approvers let `targets` expire would only keep
/// serving what every client refuses: refused, naming who must act, with
/// nothing written.
#[test]
fn refresh_refuses_once_targets_has_expired() {
    let f = published();
    let later = UnixTime(NOW.0 + 100 * DAY);
    let before: Vec<_> = fs::read_dir(f.repo.metadata_dir()).unwrap().collect();
    let err = f
        .repo
        .refresh(&f.online, &f.online, 400 * DAY, later)
        .unwrap_err();
    // Refused before anything is built (`RepoError::Expired`, reason
    // `expired`), naming the role and the command its approvers run; the
    // release check (`WouldBeRefused`) would refuse it too.
    assert!(
        matches!(&err, RepoError::Expired(roles)
            if roles.iter().any(|r| r.role == "targets")
                && err.to_string().contains("repo extend --role targets")),
        "{err}"
    );
    let after: Vec<_> = fs::read_dir(f.repo.metadata_dir()).unwrap().collect();
    assert_eq!(before.len(), after.len(), "refresh wrote a file");
    // Before expiry it refreshes.
    f.repo
        .refresh(&f.online, &f.online, 400 * DAY, UnixTime(NOW.0 + DAY))
        .unwrap();
}

/// Root, targets and six delegated roles `board0`..`board5` (enough that
/// the load checks them on every core), published at `NOW`.
fn published_with_many_delegations() -> Fixture {
    let f = published();
    let mut keys = Vec::new();
    for i in 0..6 {
        let board = key();
        f.repo
            .delegate(
                &DelegateOptions {
                    role: format!("board{i}"),
                    keys: vec![board.public_key().clone()],
                    threshold: 1,
                    paths: vec![format!("board{i}/*")],
                    terminating: true,
                    allow_shared_key: false,
                },
                NOW,
            )
            .unwrap();
        keys.push(board);
    }
    f.repo.sign("targets", &f.targets, NOW).unwrap();
    for (i, board) in keys.iter().enumerate() {
        f.repo.sign(&format!("board{i}"), board, NOW).unwrap();
    }
    f.repo
        .publish(&f.online, &f.online, NOW, &mut |_| {})
        .unwrap();
    assert!(f.repo.load_published().unwrap().faults.is_empty());
    f
}

/// Many roles of one delegator are checked at once; a hand-edited one the
/// online key holder re-lists, and a deleted one, are still refused, each
/// named, in delegation order, and the others verify.
#[test]
fn edited_and_deleted_roles_among_many_checked_at_once_are_refused() {
    let f = published_with_many_delegations();
    let metadata = f.repo.metadata_dir();
    let path = metadata.join("1.board1.json");
    let mut doc = Signed::<Targets>::from_json_slice(&fs::read(&path).unwrap()).unwrap();
    doc.signed.expires = "2099-01-01T00:00:00Z".into();
    let edited = to_portable_bytes(&doc).unwrap();
    fs::write(&path, &edited).unwrap();
    fs::remove_file(metadata.join("1.board4.json")).unwrap();
    f.resign_live(|s| {
        let entry = s.meta.get_mut("board1.json").unwrap();
        (entry.length, entry.hashes) = relist(&edited);
    });
    let load = f.repo.load_published().unwrap();
    let faults: Vec<(String, FaultKind)> = load
        .faults
        .iter()
        .map(|f| (f.role.clone(), f.kind))
        .collect();
    assert_eq!(
        faults,
        vec![
            ("board1".to_owned(), FaultKind::RoleNotVerified),
            ("board4".to_owned(), FaultKind::RoleMissing),
        ]
    );
    let verified: Vec<&String> = load.published.as_ref().unwrap().targets.keys().collect();
    assert_eq!(
        verified,
        ["board", "board0", "board2", "board3", "board5", "targets"]
    );
}

/// A role checked against the trusted set is taken into it only while
/// what it was checked against stands: a snapshot offered in between
/// refuses it; its delegator accepted again with the same bytes does not.
#[test]
fn a_checked_role_is_accepted_only_into_the_set_it_was_checked_against() {
    use fwsign_keys::trusted_set::TrustedSet;
    let f = published_with_many_delegations();
    let metadata = f.repo.metadata_dir();
    let read = |name: &str| fs::read(metadata.join(name)).unwrap();
    let load = f.repo.load_published().unwrap();
    let published = load.published.as_ref().unwrap();
    let snapshot = published.snapshot_bytes().unwrap().to_vec();
    let targets = published.role_bytes("targets").unwrap().to_vec();
    let board0 = published.role_bytes("board0").unwrap().to_vec();
    let fresh = || {
        let mut set =
            TrustedSet::new(&read("1.root.json"), fwsign_core::key_types::BUILTIN, None).unwrap();
        set.update_timestamp(&read("timestamp.json")).unwrap();
        set.update_snapshot(&snapshot).unwrap();
        set
    };

    let mut set = fresh();
    let checked = set.check_targets("targets", None, &targets).unwrap();
    set.update_snapshot(&snapshot).unwrap();
    assert!(set.accept_targets(checked).is_err());

    let mut set = fresh();
    set.update_targets("targets", None, &targets).unwrap();
    let checked = set
        .check_targets("board0", Some("targets"), &board0)
        .unwrap();
    set.update_targets("targets", None, &targets).unwrap();
    set.accept_targets(checked).unwrap();
    assert!(set.targets("board0").is_some());
}

/// A release that changes one role of many says so: people read the new
/// versions of what changed and how many roles stayed as they were, not a
/// thousand unchanged bins.
#[test]
fn a_release_of_one_role_among_many_names_only_that_role() {
    let f = published_with_many_delegations();
    f.repo.extend("targets", 30 * DAY, NOW).unwrap();
    f.repo.sign("targets", &f.targets, NOW).unwrap();
    let outcome = f
        .repo
        .publish(&f.online, &f.online, NOW, &mut |_| {})
        .unwrap();
    assert_eq!(outcome.changed_roles, ["targets"]);
    let summary = outcome.summary();
    assert!(
        summary.starts_with("root v1, targets v3, snapshot v3, timestamp v3"),
        "{summary}"
    );
    assert!(summary.ends_with("(7 roles unchanged)"), "{summary}");
    assert!(!summary.contains("board0"), "{summary}");
}

/// Ed25519 (the fixtures' keys) counting the signatures it checks on this
/// thread, to see which checks a set makes.
struct CountingEd25519;

thread_local! {
    static SIGNATURE_CHECKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl fwsign_core::key_types::KeyType for CountingEd25519 {
    fn name(&self) -> &'static str {
        fwsign_core::key_types::Ed25519.name()
    }
    fn handles(
        &self,
        keytype: fwsign_manifest_schema::reader::JsonStr<'_>,
        scheme: fwsign_manifest_schema::reader::JsonStr<'_>,
    ) -> bool {
        fwsign_core::key_types::Ed25519.handles(keytype, scheme)
    }
    fn verify(
        &self,
        keyval: fwsign_manifest_schema::reader::Json<'_>,
        message: &[u8],
        sig: fwsign_manifest_schema::reader::JsonStr<'_>,
    ) -> Result<fwsign_core::key_types::KeyIdentity, fwsign_core::key_types::Rejected> {
        SIGNATURE_CHECKS.with(|c| c.set(c.get() + 1));
        fwsign_core::key_types::Ed25519.verify(keyval, message, sig)
    }
}

static COUNTING: CountingEd25519 = CountingEd25519;

fn signature_checks() -> usize {
    SIGNATURE_CHECKS.with(std::cell::Cell::get)
}

/// A client's set over the live root, timestamp and snapshot of `f`.
fn live_set(
    f: &Fixture,
    key_types: &[&'static dyn fwsign_core::key_types::KeyType],
) -> fwsign_keys::trusted_set::TrustedSet {
    let metadata = f.repo.metadata_dir();
    let published = f.repo.load_published().unwrap().published.unwrap();
    let mut set = fwsign_keys::trusted_set::TrustedSet::new(
        published.root_chain.last().unwrap(),
        key_types,
        None,
    )
    .unwrap();
    set.update_timestamp(&fs::read(metadata.join("timestamp.json")).unwrap())
        .unwrap();
    set.update_snapshot(published.snapshot_bytes().unwrap())
        .unwrap();
    set
}

/// A counting set over the live state that checked `targets`, then `board`
/// as `board_bytes`, itself.
fn checked_set(f: &Fixture, targets: &[u8], board: &[u8]) -> fwsign_keys::trusted_set::TrustedSet {
    let mut set = live_set(f, &[&COUNTING]);
    set.update_targets("targets", None, targets).unwrap();
    set.update_targets("board", Some("targets"), board).unwrap();
    set
}

/// Offers `bytes` as `role` (delegated by `parent`) to `set`, taking
/// `known`'s check where it holds, and trusts it.
fn take(
    set: &mut fwsign_keys::trusted_set::TrustedSet,
    role: &str,
    parent: Option<&str>,
    bytes: &[u8],
    known: Option<&fwsign_keys::trusted_set::TrustedSet>,
) -> Result<(), fwsign_keys::trusted_set::TrustError> {
    let checked = set.check_targets_known(role, parent, bytes, known)?;
    set.accept_targets(checked)
}

/// Publish's release check takes the load's signature check for a role
/// left as it was under a delegator left as it was, and makes every other
/// check again.
#[test]
fn an_unchanged_role_under_an_unchanged_delegator_is_not_signature_checked_twice() {
    let f = published();
    let published = f.repo.load_published().unwrap().published.unwrap();
    let targets = published.role_bytes("targets").unwrap().to_vec();
    let board = published.role_bytes("board").unwrap().to_vec();
    let known = checked_set(&f, &targets, &board);

    let mut here = live_set(&f, &[&COUNTING]);
    let before = signature_checks();
    take(&mut here, "targets", None, &targets, Some(&known)).unwrap();
    take(&mut here, "board", Some("targets"), &board, Some(&known)).unwrap();
    assert_eq!(signature_checks(), before);
    assert!(here.targets("board").is_some());

    // Without `known`, or under a delegator `known` did not check it
    // against, the signatures are checked.
    let mut fresh = live_set(&f, &[&COUNTING]);
    let before = signature_checks();
    fresh.update_targets("targets", None, &targets).unwrap();
    assert!(signature_checks() > before);
    let before = signature_checks();
    take(&mut fresh, "board", Some("targets"), &board, None).unwrap();
    assert!(signature_checks() > before);
}

/// A role file written indented (by another tool, say) and listed by the
/// snapshot as it is: the carried check finds through its canonical form
/// that it is the document the load checked, and takes that check; the
/// file fwsign writes is the canonical form itself, and is taken without
/// canonicalising it again.
#[test]
fn a_known_role_written_indented_is_carried_by_its_canonical_form() {
    let f = published();
    let loaded = f.repo.load_published().unwrap().published.unwrap();
    let targets = loaded.role_bytes("targets").unwrap().to_vec();
    let board = loaded.role_bytes("board").unwrap().to_vec();
    let version = loaded.targets["board"].signed.version;
    let mut value: serde_json::Value = serde_json::from_slice(&board).unwrap();
    let indented = serde_json::to_vec_pretty(&value).unwrap();
    assert_ne!(indented, board);
    f.relist_live_role("board", version, &indented);
    let known = checked_set(&f, &targets, &indented);

    let mut here = live_set(&f, &[&COUNTING]);
    let before = signature_checks();
    take(&mut here, "targets", None, &targets, Some(&known)).unwrap();
    take(&mut here, "board", Some("targets"), &indented, Some(&known)).unwrap();
    assert_eq!(signature_checks(), before);

    // Another document listed in its place (the online key holder re-lists
    // an edited file) is not the one checked: checked in full, and refused.
    value["signed"]["expires"] = "2099-01-01T00:00:00Z".into();
    let edited = serde_json::to_vec_pretty(&value).unwrap();
    f.relist_live_role("board", version, &edited);
    let mut other = live_set(&f, &[&COUNTING]);
    take(&mut other, "targets", None, &targets, Some(&known)).unwrap();
    let before = signature_checks();
    assert!(take(&mut other, "board", Some("targets"), &edited, Some(&known)).is_err());
    assert!(
        signature_checks() > before,
        "the edited role was not checked"
    );
}

/// The attack: a release re-keys `board` in `targets` while `board`
/// itself stays as published, signed only by the key its delegator just
/// removed. The load verified `board` under the old `targets`; the release
/// check must not carry that over to the new one.
#[test]
fn a_role_whose_delegator_was_re_keyed_is_verified_again_though_unchanged() {
    let f = published();
    let loaded = f.repo.load_published().unwrap().published.unwrap();
    let known = loaded.verified.clone().unwrap();
    let board = loaded.role_bytes("board").unwrap().to_vec();

    let other = key();
    let mut targets = loaded.targets["targets"].clone();
    targets.signed.version += 1;
    let delegations = targets.signed.delegations.as_mut().unwrap();
    delegations
        .keys
        .insert(other.public_key().keyid(), other.public_key().to_tuf_key());
    delegations.roles[0].keyids = vec![other.public_key().keyid()];
    targets.signatures.clear();
    sign(&mut targets, &f.targets).unwrap();
    let bytes = to_portable_bytes(&targets).unwrap();
    f.relist_live_role("targets", targets.signed.version, &bytes);

    let mut here = live_set(&f, fwsign_core::key_types::BUILTIN);
    here.update_targets("targets", None, &bytes).unwrap();
    let err = here
        .check_targets_known("board", Some("targets"), &board, Some(&known))
        .unwrap_err();
    assert!(err.to_string().contains("board"), "{err}");
}

/// The online key holder re-lists an unchanged role at another version:
/// the signatures the load checked do not excuse the listing.
#[test]
fn a_known_role_is_still_checked_against_the_new_listing() {
    let f = published();
    let loaded = f.repo.load_published().unwrap().published.unwrap();
    let known = loaded.verified.clone().unwrap();
    let targets = loaded.role_bytes("targets").unwrap().to_vec();
    let board = loaded.role_bytes("board").unwrap().to_vec();
    f.resign_live(|s| s.meta.get_mut("board.json").unwrap().version = 7);

    let mut here = live_set(&f, fwsign_core::key_types::BUILTIN);
    take(&mut here, "targets", None, &targets, Some(&known)).unwrap();
    let err = here
        .check_targets_known("board", Some("targets"), &board, Some(&known))
        .unwrap_err();
    assert!(err.to_string().contains("version"), "{err}");
}
