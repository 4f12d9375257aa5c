//! Commands killed half-way (`FWSIGN_TEST_CRASH_AT`): what a killed
//! `publish` or `add` leaves is never seen by clients as a broken release,
//! and the next command holding the lock cleans it up.

use std::path::{Path, PathBuf};

use fwsign_tests::tree;

use crate::release_support::json;

use super::Repo;

/// Kills `publish` at `step` with a new release staged, then checks what is
/// left and that the next publish cleans up and completes.
fn publish_killed_at(repo: &mut Repo, step: &str, round: u8) {
    let name = format!("board-a/fw-{round}.bin");
    let bytes = repo.add(&name, round);
    repo.sign("targets", "a1").ok();
    let before_ts = repo.metadata("timestamp.json");
    let targets_before = tree(&repo.dir.join("targets")).unwrap_or_default();
    repo.publish_crashing_at(step).killed();
    let live = step == "timestamp-written";
    if !live {
        assert_eq!(
            repo.metadata("timestamp.json"),
            before_ts,
            "timestamp.json changed in a publish killed at {step}"
        );
    }
    if step == "target-copied" {
        // A hard link is made under its published name directly (a copy
        // or reflink under a temporary first): either is left, and nothing
        // names it yet.
        let targets_after = tree(&repo.dir.join("targets")).unwrap_or_default();
        assert!(
            !repo.temporaries().is_empty() || targets_after.len() > targets_before.len(),
            "a publish killed while copying left nothing: the step is not exercised"
        );
    }
    // Clients see the old release whole (or the new one, once live).
    repo.clients_verify();
    let orphans = tree(&repo.dir.join("metadata")).unwrap();
    if step == "metadata-written" {
        // Another approval after the kill: the staged role's bytes now
        // differ from the file the killed publish wrote at its version.
        repo.sign("targets", "a2").ok();
    }

    // The next command holding the lock cleans up; the publish completes
    // (or, when the release was already live, has nothing left to do).
    let run = repo
        .fw
        .run(repo.command(&["--json"], "publish", &repo.online_args()));
    run.ok();
    assert_eq!(
        repo.temporaries(),
        Vec::<PathBuf>::new(),
        "after a publish killed at {step}"
    );
    assert_eq!(json(&run)["published"].is_object(), !live, "{run}");
    if live {
        assert_eq!(json(&run)["published"], false, "{run}");
    }
    assert!(
        repo.staged_target_files().is_empty(),
        "staged files left after a publish killed at {step}: {:?}",
        repo.staged_target_files()
    );
    assert!(!repo.dir.join("staged/targets.json").exists());
    // What the killed publish wrote is kept as it was, never rewritten.
    let after = tree(&repo.dir.join("metadata")).unwrap();
    for (path, content) in &orphans {
        if path != Path::new("timestamp.json") {
            assert!(
                after.iter().any(|(p, c)| p == path && c == content),
                "{} was rewritten after a publish killed at {step}",
                path.display()
            );
        }
    }
    repo.released(&name, bytes);
}

#[test]
fn publish_killed_at_any_step_leaves_nothing_the_next_publish_trips_over() {
    let mut repo = Repo::new("publish_killed", &["a1", "a2"], 1);
    repo.first_release();
    for (round, step) in [
        "target-copied",
        "targets-written",
        "metadata-written",
        "snapshot-written",
        "timestamp-written",
    ]
    .iter()
    .enumerate()
    {
        publish_killed_at(&mut repo, step, u8::try_from(round).unwrap());
    }
    // Orphans a killed publish left are never counted: the snapshot
    // versions go on past them.
    let ts = repo.metadata("timestamp.json");
    let snapshot = ts["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    let highest = tree(&repo.dir.join("metadata"))
        .unwrap()
        .iter()
        .filter_map(|(p, _)| {
            p.to_str()?
                .strip_suffix(".snapshot.json")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap();
    assert_eq!(snapshot, highest);
    // Nothing staged: exit 0, and nothing written.
    let before = tree(&repo.dir.join("metadata")).unwrap();
    let run = repo
        .fw
        .run(repo.command(&["--json"], "publish", &repo.online_args()));
    run.ok();
    assert_eq!(json(&run)["published"], false);
    assert_eq!(tree(&repo.dir.join("metadata")).unwrap(), before);
    repo.run("audit", &[]).ok();
    repo.report("publish_killed_at_any_step_leaves_nothing_the_next_publish_trips_over");
}

#[test]
fn add_killed_while_copying_leaves_no_temporary_file_behind() {
    let mut repo = Repo::new("add_killed", &["a1"], 1);
    let (args, _) = repo.add_args("board-a/killed.bin", 1);
    repo.fw
        .run_env(
            repo.command(&[], "add", &args),
            &[("FWSIGN_TEST_CRASH_AT", "add-copying")],
        )
        .killed();
    assert!(
        !repo.temporaries().is_empty(),
        "an add killed while copying left no temporary file: the step is not exercised"
    );
    // Readers leave it; the next writer removes it.
    repo.run("status", &[]).ok();
    assert!(!repo.temporaries().is_empty());
    let bytes = repo.add("board-a/fw.bin", 2);
    assert_eq!(repo.temporaries(), Vec::<PathBuf>::new());
    let listed = repo.staged("targets")["signed"]["targets"].clone();
    assert!(listed.get("board-a/killed.bin").is_none(), "{listed}");
    assert_eq!(
        repo.staged_target_files(),
        vec![PathBuf::from("targets/board-a/fw.bin")]
    );
    repo.sign("targets", "a1").ok();
    repo.publish().ok();
    repo.released("board-a/fw.bin", bytes);
    repo.report("add_killed_while_copying_leaves_no_temporary_file_behind");
}

/// A publish killed while it copies a writable staged file (as an older
/// fwsign staged them) into `targets/` leaves that copy under a temporary
/// name there; the next publish, finding the marker the killed one left,
/// removes it, and a publish that was not stopped leaves no marker, so the
/// next one does not list `targets/` at all.
#[cfg(unix)]
#[test]
fn a_temporary_a_publish_killed_while_copying_left_in_targets_is_removed_by_the_next() {
    use std::os::unix::fs::PermissionsExt;
    let mut repo = Repo::new("publish_killed_copying", &["a1"], 1);
    repo.first_release();
    let marker = repo.dir.join(".fwsign-linking-targets");
    assert!(!marker.exists(), "a finished publish left its marker");
    let bytes = repo.add("board-a/fw-writable.bin", 7);
    let staged = repo
        .dir
        .join("staged/targets/targets/board-a/fw-writable.bin");
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o644)).unwrap();
    repo.sign("targets", "a1").ok();
    repo.publish_crashing_at("target-copied").killed();
    let in_targets: Vec<PathBuf> = repo
        .temporaries()
        .into_iter()
        .filter(|p| p.starts_with("targets"))
        .collect();
    assert!(
        !in_targets.is_empty(),
        "the killed publish left no copy under a temporary name: the step is not exercised"
    );
    assert!(marker.exists());
    repo.publish().ok();
    assert_eq!(repo.temporaries(), Vec::<PathBuf>::new());
    assert!(!marker.exists());
    repo.released("board-a/fw-writable.bin", bytes);
}
