//! `repo status`'s expiry report (every published role with its version and
//! expiry, `--check-expiry` narrowed by `--role`) and the machine `reason`
//! every `--json` failure carries, which CI jobs branch on.

use std::process::{Command, Stdio};
use std::time::Duration;

use fwsign_repo::Repository;
use fwsign_repo::lock::LockKind;
use fwsign_tests::{SECURITY, USAGE, fwsign_bin};
use serde_json::Value;

use crate::release_support::{FW_NAME, Release, firmware};

/// Initialises with `extra`, stages `FW_NAME`, has root and targets
/// approved and publishes.
fn published(test: &str, extra: &[&str]) -> Release {
    let r = Release::new(test);
    r.first_release_with(extra, "fw.bin", &firmware(40, 1000), ["alice", "bob"]);
    r
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect()
}

/// Stops two failures of an expiry watch: a role expiring unnoticed (every
/// published role is listed with its expiry, and soon-expiring ones are
/// flagged), and a CI watch that fails every day on the timestamp, which
/// teaches people to ignore it (`--role` narrows it to root and targets).
#[test]
fn status_lists_every_role_and_a_watch_on_root_and_targets_ignores_the_timestamp() {
    let r = published("status_expiry_roles", &["--expires", "timestamp=1h"]);
    let (run, doc) = r.repo_json("status", &[]);
    run.ok();
    assert_eq!(
        names(&doc["roles"]),
        ["root", "timestamp", "snapshot", "targets"]
    );
    for role in doc["roles"].as_array().unwrap() {
        assert_eq!(role["version"], 1, "{run}");
        assert!(role["expires"].as_str().unwrap().ends_with('Z'), "{run}");
        assert_eq!(role["state"], "ok", "{run}");
    }

    // Watching everything trips on the 1-hour timestamp...
    let (run, doc) = r.repo_json("status", &["--check-expiry", "2h"]);
    run.code(SECURITY);
    assert_eq!(doc["reason"], "expiring", "{run}");
    assert_eq!(names(&doc["expiring"]), ["timestamp"], "{run}");
    // ...watching root and targets does not, until they are due.
    let watch = |window: &str| {
        r.repo_json(
            "status",
            &[
                "--check-expiry",
                window,
                "--role",
                "root",
                "--role",
                "targets",
            ],
        )
    };
    watch("2h").0.ok();
    let (run, doc) = watch("100d");
    run.code(SECURITY).stderr_has("targets");
    assert_eq!(names(&doc["expiring"]), ["targets"], "{run}");
    assert_eq!(doc["reason"], "expiring", "{run}");
    // A watched role that does not exist is a mistake, not a silent pass.
    r.repo("status", &["--check-expiry", "1d", "--role", "board-z"])
        .code(USAGE)
        .stderr_has("board-z");

    // "Soon" is a quarter of the role's configured period: with timestamps
    // now issued for 4 hours, the 1-hour one left is flagged.
    let config = r.dir.join("fwsign-repo.json");
    let mut c: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["expiry"]["timestamp"] = Value::from(4 * 3600);
    std::fs::write(&config, serde_json::to_vec(&c).unwrap()).unwrap();
    let (run, doc) = r.repo_json("status", &[]);
    run.ok();
    let states: Vec<&str> = doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["ok", "expiring", "ok", "ok"], "{run}");
    r.repo("status", &[]).ok().stderr_has("EXPIRES SOON");
}

/// A publish job must tell "waiting for these approvers" from a broken
/// repository without parsing English: the refusal names the reason and,
/// per role, the key IDs that may still sign.
#[test]
fn json_failures_name_a_stable_reason_and_what_to_act_on() {
    let r = Release::new("json_reasons");
    r.init();
    let file = r.write_file("fw.bin", &firmware(41, 1000));
    r.add(&file, FW_NAME, "1.0.0", &[]).ok();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    r.sign("targets", "alice").ok();

    let online = r.key("online");
    let online = Release::arg(&online);
    let (run, doc) = r.repo_json(
        "publish",
        &["--snapshot-key", online, "--timestamp-key", online],
    );
    run.code(SECURITY);
    assert_eq!(doc["reason"], "threshold-not-met", "{run}");
    assert_eq!(doc["roles"], serde_json::json!(["targets"]), "{run}");
    let missing = &doc["missing"][0];
    assert_eq!(missing["role"], "targets", "{run}");
    assert_eq!(
        (missing["valid"].as_u64(), missing["threshold"].as_u64()),
        (Some(1), Some(2))
    );
    let may_sign: Vec<&str> = missing["may_still_sign"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(may_sign.contains(&r.keyid("bob").as_str()), "{run}");
    assert!(may_sign.contains(&r.keyid("carol").as_str()), "{run}");
    assert!(!may_sign.contains(&r.keyid("alice").as_str()), "{run}");

    // A role with nothing staged, a bad name, no repository, a failure
    // outside `repo` (fallback by class): each has its reason.
    let bob = r.key("bob");
    let (run, doc) = r.repo_json("export-payload", &["--role", "snapshot", "--out", "x"]);
    run.code(USAGE);
    assert_eq!(doc["reason"], "nothing-staged", "{run}");
    let (run, doc) = r.repo_json("add", &Release::evil_name_args(&file));
    run.code(USAGE);
    assert_eq!(doc["reason"], "invalid-name", "{run}");
    let run = r.fw.run(["--json", "repo", "status", "no-such-repo"]);
    run.code(USAGE);
    assert_eq!(
        crate::release_support::json(&run)["reason"],
        "not-a-repository"
    );
    // A command line clap refuses (`--role` needs `--check-expiry`).
    let (run, doc) = r.repo_json("status", &["--role", "root"]);
    run.code(USAGE);
    assert_eq!(doc["reason"], "usage", "{run}");
    let run = r.fw.run(["--json", "key", "show", "no-such-key.pem"]);
    assert_ne!(run.code, Some(0), "{run}");
    assert!(
        crate::release_support::json(&run)["reason"].is_string(),
        "{run}"
    );

    // `role-changed`: bob signs while another command holds the lock and
    // changes staged targets; his signature over the old bytes is refused,
    // with the versions, rather than silently dropped or misapplied.
    let repo = Repository::open(&r.dir).unwrap();
    let held = repo
        .lock(LockKind::Exclusive, "test", Duration::from_secs(5))
        .unwrap();
    let child = Command::new(fwsign_bin())
        .args(["--json", "repo", "sign"])
        .arg(&r.dir)
        .args(["--role", "targets", "--key"])
        .arg(&bob)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child signs without the lock, then waits for it.
    std::thread::sleep(Duration::from_millis(1500));
    let now = fwsign_manifest_schema::expiry::UnixTime(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap(),
    );
    repo.extend("targets", 30 * 86_400, now).unwrap();
    drop(held);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(SECURITY), "{stdout}");
    let doc: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(doc["reason"], "role-changed", "{stdout}");
    assert_eq!(doc["role"], "targets", "{stdout}");
}

/// An expired targets role: clients refuse it whatever the timestamp says.
/// Stops a scheduled `refresh` that keeps re-signing snapshot and timestamp
/// over a dead repository, everyone's dashboards green: `refresh` refuses
/// (`expired`), naming the role and the keys that must re-sign it, `status`
/// flags it, and once the approvers re-sign it `refresh` runs again.
#[test]
fn refresh_refuses_an_expired_targets_role_naming_the_approvers_who_must_act() {
    let r = Release::new("refresh_expired_targets");
    let alice_owner = format!("{}=Alice Chen", Release::arg(&r.public("alice")));
    r.first_release_with(
        &["--expires", "targets=3s", "--key-owner", &alice_owner],
        "fw.bin",
        &firmware(40, 1000),
        ["alice", "bob"],
    );
    let expired = || {
        let (run, doc) = r.repo_json("status", &[]);
        run.ok();
        doc["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["role"] == "targets" && x["state"] == "expired")
    };
    let start = std::time::Instant::now();
    while !expired() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "targets never expired"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    r.repo("status", &[]).ok().stderr_has("EXPIRED");
    let (run, doc) = r.repo_json("status", &["--check-expiry", "1h", "--role", "targets"]);
    run.code(SECURITY);
    assert_eq!(doc["reason"], "expired", "{run}");

    let online = r.key("online");
    let online = Release::arg(&online);
    let refresh = ["--snapshot-key", online, "--timestamp-key", online];
    let timestamp = std::fs::read(r.metadata("timestamp.json")).unwrap();
    let (run, doc) = r.repo_json("refresh", &refresh);
    run.code(SECURITY);
    assert_eq!(doc["reason"], "expired", "{run}");
    assert_eq!(doc["roles"], serde_json::json!(["targets"]), "{run}");
    let role = &doc["expired"][0];
    assert_eq!(role["delegator"], "root", "{run}");
    assert_eq!(role["threshold"], 2, "{run}");
    let mut approvers: Vec<String> = ["alice", "bob", "carol"].map(|k| r.keyid(k)).into();
    approvers.sort();
    let mut keyids: Vec<String> = serde_json::from_value(role["keyids"].clone()).unwrap();
    keyids.sort();
    assert_eq!(keyids, approvers, "{run}");
    assert_eq!(role["owners"][r.keyid("alice")]["name"], "Alice Chen");
    // Named keys read as everywhere else, "NAME (first 16 hex digits)";
    // unnamed ones as their key ID.
    let alice = r.keyid("alice");
    let alice_label = format!("Alice Chen ({})", &alice[..16]);
    r.repo("refresh", &refresh)
        .code(SECURITY)
        .stderr_has("targets v1 expired")
        .stderr_has("2 of its 3 key(s)")
        .stderr_has(&alice_label)
        .stderr_has(&r.keyid("bob"));
    // The refusal in the audit log (and so at the SIEM) names the role and
    // version that expired, and who must re-sign it.
    let log = std::fs::read_to_string(r.dir.join("audit.log")).unwrap();
    let refusal: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(refusal["action"], "refuse", "{refusal}");
    assert_eq!(refusal["role"], "targets", "{refusal}");
    assert_eq!(refusal["version"], 1, "{refusal}");
    let detail = refusal["detail"].as_str().unwrap();
    assert!(detail.contains(&alice_label), "{detail}");
    assert_eq!(
        std::fs::read(r.metadata("timestamp.json")).unwrap(),
        timestamp,
        "nothing re-signed"
    );

    // The approvers re-sign targets; refresh works again.
    r.repo("extend", &["--role", "targets", "--expires", "90d"])
        .ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    r.publish().ok();
    r.repo("refresh", &refresh).ok();
}
