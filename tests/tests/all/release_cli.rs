//! What a release engineer relies on from the repository commands day to
//! day (issue 16): a name staged twice by mistake does not swap the bytes
//! approvers reviewed; `status` says what a delegation change does before
//! anyone signs it.

use fwsign_tests::USAGE;
use serde_json::json;

use crate::release_support::{FW_NAME, Release, firmware};

/// The `signed_by` key IDs of staged `role` in `repo status --json`.
fn signed_by(r: &Release, role: &str) -> Vec<String> {
    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    status["staged"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == role)
        .map(|s| {
            s["thresholds"][0]["signed_by"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A second build staged under a name already staged: refused (exit 2,
/// `target-exists`, naming the name, both hashes and `--replace`) with the
/// approved bytes and the approval kept; the same bytes again are a no-op
/// that keeps the approval; `--replace` replaces and drops it.
#[test]
fn staging_other_bytes_under_a_staged_name_needs_replace_and_keeps_the_approved_bytes() {
    let r = Release::new("cli_add_replace");
    r.init();
    let approved = firmware(1, 3000);
    let good = r.write_file("good.bin", &approved);
    let other = r.write_file("other.bin", &firmware(2, 3000));
    r.add(&good, FW_NAME, "1.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    let staged_file = r.dir.join("staged/targets/targets").join(FW_NAME);
    let staged_meta = std::fs::read(r.dir.join("staged/targets.json")).unwrap();
    let log = std::fs::read(r.dir.join("audit.log")).unwrap();

    let mut args = vec![
        Release::arg(&other),
        "--name",
        FW_NAME,
        "--hardware-id",
        "evc-a1",
        "--version",
        "1.0.0",
        "--security-counter",
        "1",
    ];
    let (run, doc) = r.repo_json("add", &args);
    run.code(USAGE)
        .stderr_has(FW_NAME)
        .stderr_has("already staged")
        .stderr_has("--replace");
    assert_eq!(doc["reason"], "target-exists", "{run}");
    assert_eq!(doc["target"], FW_NAME, "{run}");
    assert_eq!(doc["listed"]["state"], "staged", "{run}");
    assert_ne!(doc["listed"]["sha256"], doc["new"]["sha256"], "{run}");
    assert!(
        std::fs::read(&staged_file).unwrap() == approved,
        "staged bytes changed"
    );
    assert_eq!(
        std::fs::read(r.dir.join("staged/targets.json")).unwrap(),
        staged_meta
    );
    assert_eq!(
        std::fs::read(r.dir.join("audit.log")).unwrap(),
        log,
        "audit log changed"
    );
    assert_eq!(signed_by(&r, "targets"), [r.keyid("alice")]);

    // The same bytes again: nothing changes, the approval stays.
    let (run, doc) = r.repo_json(
        "add",
        &[
            Release::arg(&good),
            "--name",
            FW_NAME,
            "--hardware-id",
            "evc-a1",
            "--version",
            "1.0.0",
            "--security-counter",
            "1",
        ],
    );
    run.ok();
    assert_eq!(doc["added"][0]["change"], "unchanged", "{run}");
    r.add(&good, FW_NAME, "1.0.0", &[])
        .ok()
        .stderr_has("nothing staged");
    assert_eq!(
        std::fs::read(r.dir.join("staged/targets.json")).unwrap(),
        staged_meta
    );
    assert_eq!(signed_by(&r, "targets"), [r.keyid("alice")]);

    // Asked for: replaced, and the approval of the old bytes dropped.
    args.push("--replace");
    let (run, doc) = r.repo_json("add", &args);
    run.ok();
    assert_eq!(doc["added"][0]["change"], "replaced", "{run}");
    assert!(std::fs::read(&staged_file).unwrap() == firmware(2, 3000));
    assert!(signed_by(&r, "targets").is_empty());
}

/// A released name staged again with other bytes (a rebuild reusing the
/// version in the name): refused, saying it is published; nothing staged.
#[test]
fn staging_other_bytes_under_a_published_name_is_refused() {
    let r = Release::new("cli_add_published");
    r.first_release();
    let other = r.write_file("rebuilt.bin", &firmware(3, 5000));
    r.add(&other, FW_NAME, "1.0.0", &[])
        .code(USAGE)
        .stderr_has("already published in targets");
    assert!(!r.dir.join("staged/targets.json").exists());
    assert!(!r.dir.join("staged/targets/targets").join(FW_NAME).exists());
    // Its own release bytes again: nothing to stage.
    let again = r.write_file("again.bin", &firmware(1, 5000));
    r.add(&again, FW_NAME, "1.0.0", &[]).ok();
    assert!(!r.dir.join("staged/targets.json").exists());
}

/// `repo delegate DIR --role ROLE --key keys/K.pub.pem... --threshold N
/// --paths P...` plus `extra`.
pub(crate) fn delegate(
    r: &Release,
    role: &str,
    keys: &[&str],
    threshold: &str,
    paths: &[&str],
    extra: &[&str],
) -> fwsign_tests::Run {
    let publics: Vec<std::path::PathBuf> = keys.iter().map(|k| r.public(k)).collect();
    let mut args = vec!["--role", role];
    for p in &publics {
        args.extend(["--key", Release::arg(p)]);
    }
    args.extend(["--threshold", threshold, "--paths"]);
    args.extend_from_slice(paths);
    args.extend_from_slice(extra);
    r.repo("delegate", &args)
}

/// Every staged role signed by the keys that may sign it here, and
/// published.
pub(crate) fn approve_and_publish(r: &Release, delegated: &[(&str, &[&str])]) {
    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    for staged in status["staged"].as_array().unwrap() {
        let role = staged["role"].as_str().unwrap();
        let keys: &[&str] = match role {
            "root" => &["root1", "root2"],
            "targets" => &["alice", "bob"],
            other => delegated
                .iter()
                .find(|(r, _)| *r == other)
                .map_or(&[], |(_, k)| k),
        };
        for k in keys {
            r.sign(role, k).ok();
        }
    }
    r.publish().ok();
}

/// A re-keyed, widened, now-terminating delegation and a new one: `status`
/// names each change (keys added and removed, threshold, paths,
/// terminating) in words and in `--json`, so approvers see who gains the
/// right to sign what before they sign `targets`.
#[test]
fn status_names_what_a_delegation_change_gives_and_takes_away() {
    let mut r = Release::new("cli_status_delegations");
    for k in ["dave", "erin", "frank"] {
        r.generate_key(k);
    }
    r.init();
    delegate(&r, "board-a", &["dave", "erin"], "2", &["board-a/*"], &[]).ok();
    approve_and_publish(&r, &[("board-a", &["dave", "erin"])]);

    delegate(
        &r,
        "board-a",
        &["frank"],
        "1",
        &["board-a/*", "board-a2/*"],
        &["--terminating"],
    )
    .ok();
    delegate(&r, "board-b", &["erin"], "1", &["board-b/*"], &[]).ok();
    let run = r.repo("status", &[]);
    run.ok()
        .stderr_has("delegation changed: targets -> board-a: keys added ")
        .stderr_has(&r.keyid("frank")[..16])
        .stderr_has("threshold 1 (was 2)")
        .stderr_has("paths board-a/*, board-a2/* (was paths board-a/*)")
        .stderr_has("now terminating")
        .stderr_has("delegation added: targets -> board-b (1 of 1 key(s)");
    assert!(!run.stderr.contains("delegations changed"), "{run}");

    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    let targets = status["staged"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == "targets")
        .unwrap();
    let changes = &targets["changes"];
    assert_eq!(changes["delegations_changed"], true, "{run}");
    let roles = changes["delegations"]["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2, "{run}");
    assert_eq!(roles[0]["role"], "board-a");
    assert_eq!(roles[0]["change"], "changed");
    assert_eq!(roles[0]["keys_added"], json!([r.keyid("frank")]));
    let mut removed = vec![r.keyid("dave"), r.keyid("erin")];
    removed.sort();
    assert_eq!(roles[0]["keys_removed"], json!(removed));
    assert_eq!(roles[0]["previous_threshold"], 2);
    assert_eq!(roles[0]["terminating"], true);
    assert_eq!(roles[1]["role"], "board-b");
    assert_eq!(roles[1]["change"], "added");
}
