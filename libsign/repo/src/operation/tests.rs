//! The operation's tests: how often a command reads the published state
//! and which role delegates which, and approvals over many roles.

use std::cell::Cell;
use std::path::PathBuf;

use fwsign_manifest_schema::expiry::UnixTime;

use crate::staged_role::StagedRole;
use crate::staging::DelegateOptions;
use crate::{InitOptions, RepoError, Repository};
use fwsign_keys::PrivateKey;
use fwsign_manifest_schema::metadata::Targets;

thread_local! {
    /// How many times this thread has loaded the published state.
    static PUBLISHED_LOADS: Cell<usize> = const { Cell::new(0) };
}

/// Called by the published-state load in test builds.
pub(crate) fn count_published_load() {
    PUBLISHED_LOADS.with(|c| c.set(c.get().saturating_add(1)));
}

thread_local! {
    /// How many times this thread has read which role delegates which.
    static DELEGATOR_READS: Cell<usize> = const { Cell::new(0) };
}

/// Called by `Operation::delegator_map` when it reads the roles.
pub(crate) fn count_delegator_read() {
    DELEGATOR_READS.with(|c| c.set(c.get().saturating_add(1)));
}

/// Runs `f` and returns how often it read which role delegates which.
fn delegator_reads<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = DELEGATOR_READS.with(Cell::get);
    let out = f();
    (out, DELEGATOR_READS.with(Cell::get).saturating_sub(before))
}

/// Runs `f` and returns how often it loaded the published state.
fn loads<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = PUBLISHED_LOADS.with(Cell::get);
    let out = f();
    (out, PUBLISHED_LOADS.with(Cell::get).saturating_sub(before))
}

const NOW: UnixTime = UnixTime(1_700_000_000);
const ROLES: usize = 8;

/// A fresh directory of the test's own under the system temp dir, and its
/// path: the directory is removed when the guard is dropped (also when
/// the test fails), so keep the guard bound for the whole test.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    crate::test_scratch("repo-op")
}

use crate::test_key as key;

/// A new repository under `dir`: one key each for root, targets,
/// snapshot and timestamp, thresholds of 1.
fn init(
    dir: &std::path::Path,
    [root, targets, snapshot, timestamp]: [&PrivateKey; 4],
) -> Repository {
    let options = InitOptions {
        timestamp_key: timestamp.public_key().clone(),
        ..crate::test_init_options(root, targets, snapshot)
    };
    Repository::init(dir.join("repo"), &options, NOW).unwrap()
}

/// A new repository under `dir` ([`init`]) with its four keys (root,
/// targets, snapshot, timestamp), and `ROLES` board names each with a
/// key of its own, not delegated yet ([`board_delegation`]).
fn with_boards(dir: &std::path::Path) -> ([PrivateKey; 4], Vec<(String, PrivateKey)>, Repository) {
    let keys = [key(), key(), key(), key()];
    let boards = (0..ROLES).map(|i| (format!("board-{i}"), key())).collect();
    let [root, targets, snapshot, timestamp] = &keys;
    let repo = init(dir, [root, targets, snapshot, timestamp]);
    (keys, boards, repo)
}

/// `targets` delegates `NAME/*` to role `name`, signed by `key` alone.
fn board_delegation(name: &str, key: &PrivateKey) -> DelegateOptions {
    DelegateOptions {
        role: name.to_owned(),
        keys: vec![key.public_key().clone()],
        threshold: 1,
        paths: vec![format!("{name}/*")],
        terminating: true,
        allow_shared_key: false,
    }
}

/// Many staged roles' approvals taken together (on every core, each
/// delegator once) are each role's approval taken alone: the staged
/// root (two thresholds), `targets` under root, and delegated roles
/// under `targets`, signed and not, in the order asked.
#[test]
fn approvals_of_many_roles_are_each_roles_approval_alone() {
    let (_scratch, dir) = scratch();
    let ([_, targets, _, _], boards, repo) = with_boards(&dir);
    for (name, k) in &boards {
        repo.delegate(&board_delegation(name, k), NOW).unwrap();
    }
    repo.sign("targets", &targets, NOW).unwrap();
    for (name, k) in boards.iter().step_by(2) {
        repo.sign(name, k, NOW).unwrap();
    }
    let op = repo.operation();
    let mut staged = Vec::new();
    for role in repo.staged_roles().unwrap() {
        let doc = StagedRole::load_optional(&repo, &role).unwrap().unwrap();
        staged.push((role, doc));
    }
    let asked: Vec<(&str, &StagedRole)> = staged.iter().map(|(r, d)| (r.as_str(), d)).collect();
    let together = op.approvals_of(&asked).unwrap();
    assert_eq!(together.len(), ROLES + 2);
    for ((role, doc), approval) in asked.iter().zip(&together) {
        let alone = op.approval_of(role, doc).unwrap();
        assert_eq!(
            serde_json::to_value(approval).unwrap(),
            serde_json::to_value(&alone).unwrap(),
            "{role}"
        );
    }
    // Checked on the files' bytes (`repo sign`, `repo publish`): the
    // same approvals. Bytes that are not the role's are checked as the
    // role they hold: a signature over other bytes does not count.
    let files: Vec<Option<Vec<u8>>> = staged
        .iter()
        .map(|(role, doc)| match doc {
            StagedRole::Targets(doc) => Some(crate::file_bytes(role, doc).unwrap()),
            StagedRole::Root(_) => None,
        })
        .collect();
    let written = |files: &[Option<Vec<u8>>]| -> Vec<serde_json::Value> {
        let asked: Vec<(&str, &StagedRole, Option<&[u8]>)> = staged
            .iter()
            .zip(files)
            .map(|((r, d), f)| (r.as_str(), d, f.as_deref()))
            .collect();
        let approvals = op.approvals_of_written(&asked).unwrap();
        approvals
            .iter()
            .map(|a| serde_json::to_value(a).unwrap())
            .collect()
    };
    let expected: Vec<serde_json::Value> = together
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    assert_eq!(written(&files), expected);
    let at = staged.iter().position(|(r, _)| r == "board-0").unwrap();
    let mut edited = files.clone();
    let text = String::from_utf8(edited[at].take().unwrap()).unwrap();
    edited[at] = Some(
        text.replacen("\"version\":", "\"version\":9", 1)
            .into_bytes(),
    );
    let after = written(&edited);
    assert_ne!(after[at], expected[at]);
    assert_eq!(after[at]["reports"][0][1]["valid"], 0);
    let met = |role: &str| {
        let approval = together.iter().find(|a| a.role == role).unwrap();
        approval.reports.iter().all(|(_, r)| r.is_met())
    };
    assert!(met("targets") && !met("root"));
    assert!(met("board-0") && !met("board-1"));
}

/// Every command reads the published metadata at most once, however
/// many delegated roles the repository has.
#[test]
fn each_command_reads_the_published_state_at_most_once() {
    let (_scratch, dir) = scratch();
    let ([root, targets, snapshot, timestamp], boards, repo) = with_boards(&dir);
    let publish = |repo: &Repository| {
        repo.publish(&snapshot, &timestamp, NOW, &mut |_| {})
            .unwrap()
    };

    // Release 1: root, targets and every delegated role.
    for (name, k) in &boards {
        let (r, n) = loads(|| repo.delegate(&board_delegation(name, k), NOW));
        r.unwrap();
        assert!(n <= 1, "delegate read the published state {n} times");
    }
    repo.sign("root", &root, NOW).unwrap();
    repo.sign("targets", &targets, NOW).unwrap();
    for (name, k) in &boards {
        let (r, n) = loads(|| repo.sign(name, k, NOW));
        assert!(r.unwrap().is_met());
        assert!(n <= 1, "sign read the published state {n} times");
    }
    let (outcome, n) = loads(|| publish(&repo));
    assert!(n <= 1, "publish read the published state {n} times");
    assert_eq!(outcome.snapshot_version, 1);
    assert_eq!(outcome.roles.len(), ROLES + 1);

    // Release 2: every delegated role again, now also published.
    for (name, _) in &boards {
        let (r, n) = loads(|| repo.extend(name, 86_400, NOW));
        assert_eq!(r.unwrap(), 2);
        assert!(n <= 1, "extend read the published state {n} times");
    }
    let (missing, n) = loads(|| repo.missing_approvals());
    assert_eq!(missing.unwrap().len(), ROLES);
    assert_eq!(n, 1, "missing_approvals read the published state {n} times");
    for (name, k) in &boards {
        let (r, n) = loads(|| repo.sign(name, k, NOW));
        assert!(r.unwrap().is_met());
        assert!(n <= 1, "sign read the published state {n} times");
    }
    let (approvals, n) = loads(|| repo.approvals());
    assert!(approvals.unwrap().iter().all(super::RoleApproval::is_met));
    assert_eq!(n, 1, "approvals read the published state {n} times");
    let (outcome, n) = loads(|| publish(&repo));
    assert!(n <= 1, "publish read the published state {n} times");

    // The next command sees what this publish wrote, not a stale copy.
    assert_eq!(outcome.snapshot_version, 2);
    let published = repo.published().unwrap().unwrap();
    assert_eq!(published.snapshot.unwrap().signed.version, 2);
    for (name, _) in &boards {
        assert_eq!(published.targets[name].signed.version, 2);
    }
    assert!(repo.approvals().unwrap().is_empty());

    // Release 3: every delegated role extended in one command (`repo
    // extend --role 'board-*'`): one read for all of them, each staged
    // at its next version with its own audit line.
    let names: Vec<String> = boards.iter().map(|(n, _)| n.clone()).collect();
    let (versions, n) = loads(|| repo.extend_all(&names, 2 * 86_400, NOW));
    assert_eq!(versions.unwrap(), vec![3; ROLES]);
    assert_eq!(n, 1, "extend_all read the published state {n} times");
    let (missing, _) = loads(|| repo.missing_approvals());
    assert_eq!(missing.unwrap().len(), ROLES);
    assert!(repo.extend_all(&["root".to_owned()], 86_400, NOW).is_err());
}

/// Which role delegates which is read once however many staged roles a
/// command signs (signing changes no delegation; re-reading every staged
/// role per signature made signing a thousand bins quadratic), and read
/// again as soon as a staged role's delegations change: a stale answer
/// would check an approval against the wrong delegator's keys.
#[test]
fn who_delegates_what_is_read_again_only_when_a_delegation_changes() {
    let (_scratch, dir) = scratch();
    let (root, targets, snapshot, timestamp) = (key(), key(), key(), key());
    let repo = init(&dir, [&root, &targets, &snapshot, &timestamp]);
    let delegate = |name: &str| DelegateOptions {
        role: name.to_owned(),
        keys: vec![key().public_key().clone()],
        threshold: 1,
        paths: vec![format!("{name}/*")],
        terminating: true,
        allow_shared_key: false,
    };
    let boards: Vec<String> = (0..ROLES).map(|i| format!("board-{i}")).collect();
    for name in &boards {
        repo.delegate(&delegate(name), NOW).unwrap();
    }

    let op = repo.operation();
    let ((), reads) = delegator_reads(|| {
        for name in &boards {
            // What signing does to a role: read it, add a signature, write it.
            let mut staged = StagedRole::load(&repo, name).unwrap();
            staged.put(&["00".repeat(32)], &[1, 2, 3]);
            staged.save(&repo, name).unwrap();
            assert_eq!(op.delegator_of(name).unwrap().as_deref(), Some("targets"));
        }
    });
    assert_eq!(
        reads, 1,
        "read who delegates what {reads} times for {ROLES} signatures"
    );

    // A delegation staged meanwhile (by this process) is seen at once.
    assert!(op.delegator_of("late").is_err());
    repo.delegate(&delegate("late"), NOW).unwrap();
    let (delegator, reads) = delegator_reads(|| op.delegator_of("late").unwrap());
    assert_eq!(delegator.as_deref(), Some("targets"));
    assert_eq!(reads, 1);

    // And so is its removal.
    let removal = crate::staging::UndelegateOptions {
        role: "late".into(),
        from: None,
        recursive: false,
    };
    repo.undelegate(&removal, NOW).unwrap();
    assert!(op.delegator_of("late").is_err());
}

/// `repo sign` reads the published state once for both halves of a
/// signature when nothing was published in between, and again when
/// something was; a staged role changed in between (another approver's
/// `extend`, under the lock the second half waits for) refuses the
/// signature made over the old bytes, and nothing is added.
#[test]
fn sign_reads_again_only_what_changed_while_it_waited_for_the_lock() {
    let (_scratch, dir) = scratch();
    let (root, targets, online) = (key(), key(), key());
    let repo = init(&dir, [&root, &targets, &online, &online]);
    repo.sign("root", &root, NOW).unwrap();
    repo.sign("targets", &targets, NOW).unwrap();
    repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();

    repo.extend("targets", 86_400, NOW).unwrap();
    let (result, unchanged) =
        loads(|| repo.sign_under_lock::<(), RepoError>("targets", &targets, NOW, || Ok(())));
    assert!(result.unwrap().0.is_met());
    assert_eq!(unchanged, 1, "one load for both halves");

    let (result, republished) = loads(|| {
        repo.sign_under_lock("targets", &targets, NOW, || {
            let (refreshed, in_lock) = loads(|| repo.refresh_timestamp(&online, NOW).map(|_| ()));
            refreshed.map(|()| in_lock)
        })
    });
    let (approval, in_lock) = result.unwrap();
    assert!(approval.is_met());
    assert_eq!(republished - in_lock, 2, "read again after the refresh");

    let err = repo
        .sign_under_lock("targets", &targets, NOW, || {
            repo.extend("targets", 3 * 86_400, NOW).map(|_| ())
        })
        .unwrap_err();
    assert!(matches!(err, RepoError::RoleChanged { .. }), "{err}");
    let staged = repo.load_staged::<Targets>("targets").unwrap().unwrap();
    assert!(staged.signatures.is_empty());
}
