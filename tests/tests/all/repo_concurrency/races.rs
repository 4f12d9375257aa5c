//! Commands started at the same moment, round after round: approvers
//! signing at once, parallel adds, `refresh` and `rotate-root` racing
//! `publish`, two `init`s of one directory. Nothing is lost, nothing
//! reverted, and every round's repository verifies.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use fwsign_tests::{OK, SECURITY};

use super::{APPROVERS, ONLINE, Repo, valid_approvals};

#[test]
fn five_approvers_signing_at_once_lose_no_approval() {
    let mut repo = Repo::new("concurrent_signers", &APPROVERS, 5);
    for round in 0..3u8 {
        let name = format!("board-a/fw-{round}.bin");
        let bytes = repo.add(&name, round);
        let runs = repo.parallel(APPROVERS.len(), |i| repo.sign("targets", APPROVERS[i]));
        for run in &runs {
            run.ok();
        }
        assert_eq!(
            valid_approvals(&repo, "targets"),
            5,
            "round {round}: approvals were lost; staged targets: {}",
            repo.staged("targets")["signatures"]
        );
        repo.publish().ok();
        repo.released(&name, bytes);
    }
    repo.report("five_approvers_signing_at_once_lose_no_approval");
}

#[test]
fn parallel_adds_of_different_files_lose_no_target_and_leave_no_orphan() {
    let mut repo = Repo::new("concurrent_adds", &["a1"], 1);
    const AT_ONCE: usize = 3;
    for round in 0..3u8 {
        let staged: Vec<(String, Vec<String>, Vec<u8>)> = (0..AT_ONCE)
            .map(|i| {
                let name = format!("board-{i}/fw-{round}.bin");
                let seed = round * 10 + u8::try_from(i).unwrap();
                let (args, bytes) = repo.add_args(&name, seed);
                (name, args, bytes)
            })
            .collect();
        let runs = repo.parallel(AT_ONCE, |i| repo.run("add", &staged[i].1));
        for run in &runs {
            run.ok();
        }
        let listed = repo.staged("targets")["signed"]["targets"].clone();
        for (name, _, _) in &staged {
            assert!(
                listed.get(name).is_some(),
                "round {round}: {name} was lost; staged targets list {listed}"
            );
        }
        // Exactly the listed files are staged: nothing orphaned, nothing
        // temporary.
        let mut files = repo.staged_target_files();
        files.sort();
        let mut expected: Vec<PathBuf> = staged
            .iter()
            .map(|(n, _, _)| Path::new("targets").join(n))
            .collect();
        expected.sort();
        assert_eq!(files, expected, "round {round}");
        assert_eq!(repo.temporaries(), Vec::<PathBuf>::new());
        repo.sign("targets", "a1").ok();
        repo.publish().ok();
        assert!(repo.staged_target_files().is_empty());
        for (name, _, bytes) in staged {
            repo.released.insert(name, bytes);
        }
        repo.clients_verify();
    }
    repo.report("parallel_adds_of_different_files_lose_no_target_and_leave_no_orphan");
}

#[test]
fn refresh_racing_publish_never_reverts_a_release() {
    let mut repo = Repo::new("publish_vs_refresh", &["a1"], 1);
    repo.first_release();
    let refresh: Vec<String> = repo
        .online_args()
        .into_iter()
        .chain(["--within".into(), "3650d".into()])
        .collect();
    for round in 0..6u8 {
        let name = format!("board-a/fw-{round}.bin");
        let bytes = repo.add(&name, round);
        repo.sign("targets", "a1").ok();
        let version = repo.staged("targets")["signed"]["version"]
            .as_u64()
            .unwrap();
        let runs = repo.parallel(2, |i| match i {
            0 => repo.publish(),
            _ => repo.run("refresh", &refresh),
        });
        runs[0].ok();
        runs[1].ok();
        assert_eq!(
            repo.published_targets_version(),
            version,
            "round {round}: the newest snapshot does not list the release just published"
        );
        repo.released(&name, bytes);
    }
    repo.report("refresh_racing_publish_never_reverts_a_release");
}

#[test]
fn publish_racing_rotate_root_never_leaves_an_unsigned_root() {
    let mut repo = Repo::new("publish_vs_rotate_root", &["a1"], 1);
    repo.first_release();
    let rotate = |days: u32| vec!["--expires".to_owned(), format!("{days}d")];
    for round in 0..6u8 {
        // A release with a new root, fully approved...
        let name = format!("board-a/fw-{round}.bin");
        let bytes = repo.add(&name, round);
        repo.sign("targets", "a1").ok();
        repo.run("rotate-root", &rotate(400)).ok();
        repo.sign("root", "root").ok();
        // ...published while another rotate-root edits the staged root
        // (which drops its approval).
        let runs = repo.parallel(2, |i| match i {
            0 => repo.publish(),
            _ => repo.run("rotate-root", &rotate(500)),
        });
        // Publish went first (exit 0), or found the staged root changed and
        // unsigned (exit 1): never anything else.
        assert!(
            runs[0].code == Some(OK) || runs[0].code == Some(SECURITY),
            "{}",
            runs[0]
        );
        runs[1].ok();
        // Every root on disk verifies, as clients walk them.
        repo.clients_verify();
        repo.sign("root", "root").ok();
        repo.publish().ok();
        repo.released(&name, bytes);
    }
    repo.report("publish_racing_rotate_root_never_leaves_an_unsigned_root");
}

#[test]
fn two_inits_at_once_make_one_repository() {
    let repo = Repo::new("concurrent_inits", &["a1"], 1);
    let other = repo.scratch.join("other");
    let args: Vec<OsString> = [
        "repo",
        "init",
        other.to_str().unwrap(),
        "--root-key",
        &repo.public("root"),
        "--root-threshold",
        "1",
        "--targets-key",
        &repo.public("a1"),
        "--targets-threshold",
        "1",
        "--snapshot-key",
        &repo.public(ONLINE),
        "--timestamp-key",
        &repo.public(ONLINE),
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let runs = repo.parallel(2, |_| repo.fw.run(&args));
    let mut codes: Vec<Option<i32>> = runs.iter().map(|r| r.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        [Some(OK), Some(fwsign_tests::USAGE)],
        "{}\n{}",
        runs[0],
        runs[1]
    );
    assert!(
        runs.iter()
            .any(|r| r.stderr.contains("already holds a repository"))
    );
    let log = std::fs::read_to_string(other.join("audit.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    // A refused init leaves no directory it made only to lock.
    let refused = repo.scratch.join("refused");
    let mut bad = args.clone();
    bad[2] = refused.clone().into();
    bad[6] = "2".into();
    repo.fw.run(&bad).code(fwsign_tests::USAGE);
    assert!(!refused.exists());
    repo.report("two_inits_at_once_make_one_repository");
}
