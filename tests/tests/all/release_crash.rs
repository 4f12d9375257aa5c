//! A publish killed at any step leaves the previously published repository
//! whole (clients keep verifying the old release, `timestamp.json` is
//! untouched, `repo verify` passes with what the kill left as warnings), and
//! re-running publish cleans up and completes the release (`repo verify`
//! passes again).

use fwsign_tests::tree;

use crate::release_support::{FW_NAME, Release, firmware, python_gets};
use crate::release_tough::tough_fetch;

fn publish_killed_at(point: &str) {
    let r = Release::new(&format!("publish_killed_at_{point}"));
    let v1 = r.first_release();
    let server = r.serve();
    let root = r.metadata("1.root.json");
    let root_bytes = std::fs::read(&root).unwrap();
    // A client that saw the first release, and keeps its cache throughout.
    let client = r.workdir("python-cached");
    python_gets(&server, &root, &client, &[(FW_NAME, &v1)]);

    let v2 = firmware(12, 9000);
    let file = r.write_file("fw-2.0.0.bin", &v2);
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    let timestamp = std::fs::read(r.metadata("timestamp.json")).unwrap();
    let before = tree(&r.dir.join("metadata")).unwrap();

    r.publish_env(&[("FWSIGN_TEST_CRASH_AT", point)]).killed();
    assert!(
        std::fs::read(r.metadata("timestamp.json")).unwrap() == timestamp,
        "timestamp.json changed in a publish killed at {point}"
    );
    // Files the old release references are untouched (new ones may exist).
    let after = tree(&r.dir.join("metadata")).unwrap();
    for (path, bytes) in &before {
        assert!(
            after.iter().any(|(p, b)| p == path && b == bytes),
            "{} changed in a publish killed at {point}",
            path.display()
        );
    }
    // What the kill left (orphans, copied target files, temporaries) is a
    // warning, never a fault: the published state still verifies.
    let (run, doc) = r.repo_json("verify", &[]);
    run.ok();
    assert_eq!(doc["ok"], true, "{doc}");
    assert!(doc["faults"].as_array().unwrap().is_empty(), "{doc}");
    assert!(
        !doc["warnings"].as_array().unwrap().is_empty(),
        "the kill at {point} left nothing to warn of: {doc}"
    );
    upload_list_leaves_out_the_warnings(&r, &doc);
    python_gets(&server, &root, &client, &[(FW_NAME, &v1)]);
    python_gets(
        &server,
        &root,
        &r.workdir("python-fresh"),
        &[(FW_NAME, &v1)],
    );
    assert!(tough_fetch(&server, &root_bytes, FW_NAME).unwrap() == v1);
    assert!(
        tough_fetch(&server, &root_bytes, "board-a/fw-2.0.0.bin").is_err(),
        "the interrupted release is visible to tough"
    );

    r.publish().ok();
    assert_eq!(r.timestamp_version(), 2);
    // The next command removed the temporaries; nothing unreferenced stays
    // but the orphans the kill wrote, which are warnings.
    let (run, doc) = r.repo_json("verify", &[]);
    run.ok();
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["reason"] == "orphan"),
        "{doc}"
    );
    upload_list_leaves_out_the_warnings(&r, &doc);
    python_gets(
        &server,
        &root,
        &client,
        &[(FW_NAME, &v1), ("board-a/fw-2.0.0.bin", &v2)],
    );
    assert!(tough_fetch(&server, &root_bytes, "board-a/fw-2.0.0.bin").unwrap() == v2);
    r.repo("audit", &[]).ok();
}

/// What an upload sends (`repo verify --print-files`, the release job's
/// list) never includes what an interrupted publish left: an orphan or a
/// temporary uploaded by a sync would be served to clients. Every listed
/// file exists, `timestamp.json` is last.
fn upload_list_leaves_out_the_warnings(r: &Release, verify: &serde_json::Value) {
    let run = r.repo("verify", &["--print-files"]);
    run.ok();
    let listed: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(listed.last(), Some(&"metadata/timestamp.json"), "{run}");
    for file in &listed {
        assert!(r.dir.join(file).is_file(), "{file} listed but missing");
    }
    for w in verify["warnings"].as_array().unwrap() {
        let file = w["file"].as_str().unwrap();
        assert!(
            !listed.contains(&file),
            "{file} ({}) would be uploaded",
            w["reason"]
        );
    }
}

#[test]
fn publish_killed_while_copying_a_target_leaves_the_old_release_whole() {
    publish_killed_at("target-copied");
}

#[test]
fn publish_killed_after_targets_written_leaves_the_old_release_whole() {
    publish_killed_at("targets-written");
}

#[test]
fn publish_killed_after_metadata_written_leaves_the_old_release_whole() {
    publish_killed_at("metadata-written");
}

#[test]
fn publish_killed_after_snapshot_written_leaves_the_old_release_whole() {
    publish_killed_at("snapshot-written");
}
