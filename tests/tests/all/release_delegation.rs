//! A delegated targets role with its own approvers and threshold, limited to
//! its path patterns.

use fwsign_tests::{SECURITY, USAGE};

use crate::release_support::{Release, firmware, python_gets};
use crate::release_tough::tough_fetch;

/// Initialises, has root signed, and delegates `board-a/*` to dave and erin
/// (2 of 2).
fn delegated(test: &str) -> Release {
    let mut r = Release::new(test);
    r.generate_key("dave");
    r.generate_key("erin");
    r.init();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    let (dave, erin) = (r.public("dave"), r.public("erin"));
    r.repo(
        "delegate",
        &[
            "--role",
            "board-a",
            "--key",
            Release::arg(&dave),
            "--key",
            Release::arg(&erin),
            "--threshold",
            "2",
            "--paths",
            "board-a/*",
        ],
    )
    .ok();
    r
}

#[test]
fn delegated_role_needs_its_own_threshold_and_python_tuf_fetches_its_target() {
    let r = delegated("delegated_threshold");
    let bytes = firmware(10, 8000);
    let file = r.write_file("fw.bin", &bytes);
    r.add(&file, "board-a/fw.bin", "1.0.0", &["--role", "board-a"])
        .ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();

    // Top-level approvers cannot sign for the delegated role.
    r.sign("board-a", "alice").code(SECURITY);
    r.sign("board-a", "dave").ok();
    r.publish()
        .code(SECURITY)
        .stderr_has("board-a")
        .stderr_has(&r.keyid("erin"));
    assert!(!r.metadata("timestamp.json").exists());
    r.sign("board-a", "erin").ok();
    r.publish().ok();
    assert!(r.metadata("1.board-a.json").is_file());

    let server = r.serve();
    let root = r.metadata("1.root.json");
    python_gets(
        &server,
        &root,
        &r.workdir("python"),
        &[("board-a/fw.bin", &bytes)],
    );
    assert!(
        tough_fetch(&server, &std::fs::read(&root).unwrap(), "board-a/fw.bin").unwrap() == bytes,
        "tough downloaded other bytes"
    );
}

#[test]
fn delegated_role_cannot_stage_a_target_outside_its_paths() {
    let r = delegated("delegated_outside_paths");
    let file = r.write_file("x.bin", &firmware(11, 100));
    r.add(&file, "board-b/x.bin", "1.0.0", &["--role", "board-a"])
        .code(USAGE)
        .stderr_has("board-b/x.bin");
    r.add(&file, "x.bin", "1.0.0", &["--role", "board-a"])
        .code(USAGE);
    assert!(!r.dir.join("staged/targets/board-a/board-b").exists());
    assert!(!r.dir.join("staged/targets/board-a/x.bin").exists());
    // The role inside its paths still works.
    r.add(&file, "board-a/x.bin", "1.0.0", &["--role", "board-a"])
        .ok();
}

/// `repo delegate` with new keys for a published delegated role. Stops the
/// re-key that publishes a `targets` under which the published role no
/// longer verifies (every client search reaching it fails): the role is
/// staged again, publishing waits for the new keys (`threshold-not-met`
/// naming the role and the new key), the old keys cannot approve it, and
/// once the new key signed, clients find the role's target.
#[test]
fn rekeyed_delegated_role_is_restaged_and_publishes_only_with_the_new_keys() {
    let mut r = delegated("delegated_rekey");
    let frank = r.generate_key("frank");
    let bytes = firmware(12, 3000);
    let file = r.write_file("fw.bin", &bytes);
    r.add(&file, "board-a/fw.bin", "1.0.0", &["--role", "board-a"])
        .ok();
    for (role, key) in [
        ("targets", "alice"),
        ("targets", "bob"),
        ("board-a", "dave"),
        ("board-a", "erin"),
    ] {
        r.sign(role, key).ok();
    }
    r.publish().ok();

    // Re-key board-a to frank alone.
    let (run, doc) = r.repo_json(
        "delegate",
        &[
            "--role",
            "board-a",
            "--key",
            Release::arg(&r.public("frank")),
            "--threshold",
            "1",
            "--paths",
            "board-a/*",
        ],
    );
    run.ok();
    assert_eq!(doc["restaged_version"], 2, "{run}");
    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    let staged = status["staged"].as_array().unwrap();
    let board = staged.iter().find(|s| s["role"] == "board-a").unwrap();
    assert_eq!(board["version"], 2, "{run}");
    assert_eq!(board["met"], false, "{run}");
    assert_eq!(
        board["thresholds"][0]["may_still_sign"],
        serde_json::json!([frank]),
        "{run}"
    );

    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    let online = r.key("online");
    let online = Release::arg(&online);
    let (run, doc) = r.repo_json(
        "publish",
        &["--snapshot-key", online, "--timestamp-key", online],
    );
    run.code(SECURITY);
    assert_eq!(doc["reason"], "threshold-not-met", "{run}");
    assert_eq!(doc["roles"], serde_json::json!(["board-a"]), "{run}");
    assert_eq!(
        doc["missing"][0]["may_still_sign"],
        serde_json::json!([frank]),
        "{run}"
    );
    assert!(!r.metadata("2.targets.json").exists());
    // The old keys no longer approve board-a.
    r.sign("board-a", "dave").code(SECURITY);
    r.sign("board-a", "frank").ok();
    r.publish().ok();
    assert!(r.metadata("2.board-a.json").is_file());

    let server = r.serve();
    let root = r.metadata("1.root.json");
    assert!(
        tough_fetch(&server, &std::fs::read(&root).unwrap(), "board-a/fw.bin").unwrap() == bytes,
        "tough downloaded other bytes"
    );
    python_gets(
        &server,
        &root,
        &r.workdir("python"),
        &[("board-a/fw.bin", &bytes)],
    );
}

/// A delegation change that strands what the role already lists (paths
/// narrowed past its targets): approvers would sign a release clients can
/// never resolve. Refused at staging (`not-publishable`, naming the
/// target), with nothing written: no staged file, no audit line.
#[test]
fn staging_refuses_a_delegation_that_no_longer_covers_the_roles_targets() {
    let r = delegated("delegated_unpublishable");
    let file = r.write_file("fw.bin", &firmware(13, 500));
    r.add(&file, "board-a/fw.bin", "1.0.0", &["--role", "board-a"])
        .ok();
    let staged = fwsign_tests::tree(&r.dir.join("staged")).unwrap();
    let log = std::fs::read(r.dir.join("audit.log")).unwrap();
    let (dave, erin) = (r.public("dave"), r.public("erin"));
    let mut args = vec![
        "--role",
        "board-a",
        "--key",
        Release::arg(&dave),
        "--key",
        Release::arg(&erin),
        "--threshold",
        "2",
        "--paths",
        "board-b/*",
    ];
    let (run, doc) = r.repo_json("delegate", &args);
    run.code(USAGE).stderr_has("board-a/fw.bin");
    assert_eq!(doc["reason"], "not-publishable", "{run}");
    assert!(
        fwsign_tests::tree(&r.dir.join("staged")).unwrap() == staged,
        "staged files changed"
    );
    assert_eq!(
        std::fs::read(r.dir.join("audit.log")).unwrap(),
        log,
        "audit log changed"
    );

    // Widening the paths keeps the target covered: fine.
    args.push("board-a/*");
    r.repo("delegate", &args).ok();
}
