//! The release workflow end to end through the `fwsign` binary: approvals
//! and their thresholds, what invalidates an approval, separation of duties,
//! keeping a repository fresh, and the two peers (python-tuf over HTTP,
//! tough over HTTP) verifying what was published.

use fwsign_tests::{SECURITY, USAGE, copy_dir, tree};

use crate::release_support::{
    FW_NAME, Release, firmware, json, python_fetch, python_gets, staged_entry,
};
use crate::release_tough::tough_fetch;

#[test]
fn two_of_three_approvers_publish_a_nested_target_python_tuf_and_tough_fetch_over_http() {
    let r = Release::new("two_of_three_release");
    // `key show --json` and `key generate --json` agree on the key ID.
    for name in ["alice", "bob", "carol"] {
        let show = r.fw.run([
            "--json".as_ref(),
            "key".as_ref(),
            "show".as_ref(),
            r.public(name).as_os_str(),
        ]);
        show.ok();
        assert_eq!(json(&show)["keyid"], r.keyid(name).as_str(), "{show}");
    }
    r.init();
    let bytes = firmware(1, 70_000);
    let file = r.write_file("fw-1.0.0.bin", &bytes);
    r.add(&file, FW_NAME, "1.0.0", &[]).ok();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();

    // One approval of two: refused, naming who may still sign.
    r.sign("targets", "alice").ok();
    let refused = r.publish();
    refused
        .code(SECURITY)
        .stderr_has("targets")
        .stderr_has(&r.keyid("bob"))
        .stderr_has(&r.keyid("carol"));
    // Alice is named as having signed (issue 16: "1 of 2: alice; may still
    // sign: ..."), never as missing.
    let targets_line = refused
        .stderr
        .lines()
        .find(|l| l.contains("targets (root)"))
        .unwrap_or_else(|| panic!("no targets line:\n{refused}"));
    let (signed, missing) = targets_line.split_once("may still sign").unwrap();
    assert!(signed.contains(&r.keyid("alice")), "{refused}");
    assert!(
        !missing.contains(&r.keyid("alice")),
        "alice already signed; she is not missing:\n{refused}"
    );
    assert!(tree(&r.dir.join("metadata")).unwrap().is_empty());
    assert!(tree(&r.dir.join("targets")).unwrap().is_empty());

    // Two of three: published.
    r.sign("targets", "bob").ok();
    let (run, out) = r.repo_json(
        "publish",
        &[
            "--snapshot-key",
            Release::arg(&r.key("online")),
            "--timestamp-key",
            Release::arg(&r.key("online")),
        ],
    );
    run.ok();
    assert_eq!(out["published"]["targets_published"][0], FW_NAME, "{run}");
    // The first release publishes every role; root is not a targets role.
    assert_eq!(
        out["published"]["changed_roles"].as_array().map(Vec::len),
        Some(out["published"]["roles"].as_object().map_or(0, |r| r.len())),
        "{run}"
    );

    let server = r.serve();
    let root = r.metadata("1.root.json");
    python_gets(&server, &root, &r.workdir("python"), &[(FW_NAME, &bytes)]);
    let before = server.requests().len();
    let got = tough_fetch(&server, &std::fs::read(&root).unwrap(), FW_NAME).unwrap();
    assert!(got == bytes, "tough downloaded other bytes");
    let tough_requests = &server.requests()[before..];
    assert!(
        tough_requests
            .iter()
            .any(|(p, s)| p.starts_with("/targets/") && p.ends_with("fw-1.0.0.bin") && *s == 200),
        "tough did not fetch the target over HTTP: {tough_requests:?}"
    );
}

#[test]
fn approval_is_dropped_when_the_staged_content_changes_after_it() {
    let r = Release::new("approval_dropped_on_change");
    r.stage_first(&firmware(1, 3000));
    r.sign("targets", "alice").ok();

    // Another file staged after alice approved: her signature is over other content.
    let other = r.write_file("fw-extra.bin", &firmware(2, 2000));
    r.add(&other, "board-a/fw-extra.bin", "1.0.0", &[]).ok();
    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    let targets = staged_entry(&status, "targets");
    assert_eq!(targets["met"], false, "{status}");
    assert_eq!(targets["thresholds"][0]["valid"], 0, "{status}");
    let dropped: Vec<&str> = targets["dropped_approvals"]["keyids"]
        .as_array()
        .unwrap_or_else(|| panic!("no dropped_approvals in {status}"))
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(dropped, [r.keyid("alice").as_str()], "{status}");

    // bob alone is one approval of two: refused, naming alice again as
    // someone who may (re-)sign.
    r.sign("targets", "bob").ok();
    r.publish()
        .code(SECURITY)
        .stderr_has(&r.keyid("alice"))
        .stderr_has(&r.keyid("carol"));
    // alice re-approves the new content: published.
    r.sign("targets", "alice").ok();
    r.publish().ok();
}

#[test]
fn key_shared_between_online_role_and_approvers_is_refused_at_init_unless_allowed() {
    let r = Release::new("shared_key_refused");
    // alice approves targets and would also be the online timestamp key.
    r.init_online(["online", "alice"], &[])
        .code(USAGE)
        .stderr_has("separation of duties");
    assert!(
        !r.dir.join("fwsign-repo.json").exists(),
        "a refused init must not leave a repository behind"
    );
    r.init_online(["alice", "online"], &[]).code(USAGE);
    r.init_online(["online", "alice"], &["--allow-shared-key"])
        .ok();
    assert!(r.dir.join("fwsign-repo.json").exists());
}

#[test]
fn expiring_timestamp_is_flagged_and_refresh_resigns_it() {
    let r = Release::new("expiring_timestamp_refresh");
    let bytes = firmware(3, 4000);
    r.first_release_with(
        &["--expires", "timestamp=1h"],
        "fw-1.0.0.bin",
        &bytes,
        ["alice", "carol"],
    );

    let flagged = r.repo("status", &["--check-expiry", "2h"]);
    flagged.code(SECURITY).stderr_has("timestamp");
    assert!(
        !flagged.stderr.contains("snapshot expires"),
        "snapshot (1w) is not due:\n{flagged}"
    );
    // (The JSON form of this refusal is pinned by
    // json_output_is_one_document_also_when_a_command_fails.)
    r.repo("status", &["--check-expiry", "30m"]).ok();

    let online = r.key("online");
    let refresh = |within: &str| {
        r.repo(
            "refresh",
            &[
                "--snapshot-key",
                Release::arg(&online),
                "--timestamp-key",
                Release::arg(&online),
                "--within",
                within,
            ],
        )
    };
    // Not due within 30 minutes: nothing re-signed.
    refresh("30m").ok();
    assert_eq!(r.timestamp_version(), 1);
    let server = r.serve();
    let root = r.metadata("1.root.json");
    let work = r.workdir("python");
    python_gets(&server, &root, &work, &[(FW_NAME, &bytes)]);

    refresh("2h").ok();
    assert_eq!(r.timestamp_version(), 2);
    refresh("2h").ok();
    assert_eq!(r.timestamp_version(), 3);
    // The same python-tuf client (cached state) and a fresh one accept it.
    python_gets(&server, &root, &work, &[(FW_NAME, &bytes)]);
    python_gets(
        &server,
        &root,
        &r.workdir("python-fresh"),
        &[(FW_NAME, &bytes)],
    );
    assert!(
        tough_fetch(&server, &std::fs::read(&root).unwrap(), FW_NAME).unwrap() == bytes,
        "tough downloaded other bytes"
    );
}

#[test]
fn expired_timestamp_is_refused_by_clients_until_refresh_keeps_the_repository_alive() {
    let r = Release::new("expired_timestamp_refresh");
    let bytes = firmware(4, 4000);
    r.first_release_with(
        &["--expires", "timestamp=12s"],
        "fw-1.0.0.bin",
        &bytes,
        ["alice", "bob"],
    );
    std::thread::sleep(std::time::Duration::from_secs(13));
    r.repo("status", &["--check-expiry", "1s"])
        .code(SECURITY)
        .stderr_has("timestamp");

    let server = r.serve();
    let root = r.metadata("1.root.json");
    let root_bytes = std::fs::read(&root).unwrap();
    let err = tough_fetch(&server, &root_bytes, FW_NAME).unwrap_err();
    assert!(err.to_lowercase().contains("expired"), "{err}");
    if let Some(fetch) = python_fetch(&server, &root, &[FW_NAME], &r.workdir("expired")) {
        assert!(!fetch.success, "python-tuf accepted an expired timestamp");
        assert!(fetch.stderr.contains("ExpiredMetadata"), "{}", fetch.stderr);
    }

    let online = r.key("online");
    r.repo(
        "refresh",
        &[
            "--snapshot-key",
            Release::arg(&online),
            "--timestamp-key",
            Release::arg(&online),
            "--within",
            "1m",
        ],
    )
    .ok();
    assert_eq!(r.timestamp_version(), 2);
    assert!(tough_fetch(&server, &root_bytes, FW_NAME).unwrap() == bytes);
    python_gets(
        &server,
        &root,
        &r.workdir("refreshed"),
        &[(FW_NAME, &bytes)],
    );
}

#[test]
fn staged_target_swapped_on_disk_after_approval_is_refused_at_publish() {
    let r = Release::new("staged_target_swapped");
    let v1 = r.first_release();
    let metadata_before = tree(&r.dir.join("metadata")).unwrap();
    let targets_before = tree(&r.dir.join("targets")).unwrap();

    let v2 = firmware(5, 5000);
    let file = r.write_file("fw-2.0.0.bin", &v2);
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    // Same length, one byte flipped: only the hash can tell.
    let staged = r.dir.join("staged/targets/targets/board-a/fw-2.0.0.bin");
    let mut evil = std::fs::read(&staged).unwrap();
    assert_eq!(evil, v2);
    evil[100] ^= 1;
    // Swapped: staged files are read-only, so a new file takes its name.
    std::fs::remove_file(&staged).unwrap();
    std::fs::write(&staged, &evil).unwrap();
    r.publish()
        .code(SECURITY)
        .stderr_has("board-a/fw-2.0.0.bin");
    assert_eq!(tree(&r.dir.join("metadata")).unwrap(), metadata_before);
    assert_eq!(tree(&r.dir.join("targets")).unwrap(), targets_before);
    // Deleted instead: refused the same way.
    std::fs::remove_file(&staged).unwrap();
    r.publish().code(SECURITY);
    assert_eq!(tree(&r.dir.join("metadata")).unwrap(), metadata_before);

    r.python_gets_published(&[(FW_NAME, &v1)]);
}

#[test]
fn signatures_merged_from_a_copy_of_the_repository_count_as_approvals() {
    let r = Release::new("merge_signatures_copy");
    let bytes = firmware(6, 3000);
    r.stage_first(&bytes);
    r.sign("targets", "alice").ok();

    // bob works on his own copy (as if on another machine).
    let copy = r.scratch.join("bob-copy");
    copy_dir(&r.dir, &copy).unwrap();
    r.fw.run([
        "repo".as_ref(),
        "sign".as_ref(),
        copy.as_os_str(),
        "--role".as_ref(),
        "targets".as_ref(),
        "--key".as_ref(),
        r.key("bob").as_os_str(),
    ])
    .ok();
    r.publish().code(SECURITY);

    let (run, merged) = r.repo_json("merge-signatures", &[Release::arg(&copy)]);
    run.ok();
    assert_eq!(merged["conflicts"].as_array().unwrap().len(), 0, "{merged}");
    assert!(
        merged["added"].to_string().contains(&r.keyid("bob")),
        "{merged}"
    );
    let (_, status) = r.repo_json("status", &[]);
    let targets = staged_entry(&status, "targets");
    assert_eq!(targets["thresholds"][0]["valid"], 2, "{status}");
    assert_eq!(targets["met"], true, "{status}");
    r.publish().ok();
    r.python_gets_published(&[(FW_NAME, &bytes)]);
}

#[test]
fn detached_signature_counts_as_approval_and_one_over_an_older_version_is_refused() {
    let r = Release::new("detached_signature");
    let bytes = firmware(7, 3000);
    r.stage_first(&bytes);

    let payload = r.scratch.join("targets.payload");
    r.export_payload(&payload).ok();
    assert!(r.scratch.join("targets.payload.json").is_file());
    let sig = r.scratch.join("carol.sig");
    r.sign_payload(&payload, "carol", &sig).ok();
    let import = |sig: &std::path::Path, key: &str| {
        r.repo(
            "import-signature",
            &[
                "--role",
                "targets",
                "--pub",
                Release::arg(&r.public(key)),
                "--sig",
                Release::arg(sig),
            ],
        )
    };
    import(&sig, "carol").ok();
    let (_, status) = r.repo_json("status", &[]);
    assert!(
        status.to_string().contains(&r.keyid("carol")),
        "carol's imported signature is not listed: {status}"
    );
    // carol's signature under bob's key is not bob's approval.
    import(&sig, "bob").code(SECURITY);

    // A payload exported, then the content changed: a signature over the
    // old payload is refused.
    let old_payload = r.scratch.join("old.payload");
    r.export_payload(&old_payload).ok();
    let other = r.write_file("fw-extra.bin", &firmware(8, 1000));
    r.add(&other, "board-a/fw-extra.bin", "1.0.0", &[]).ok();
    let stale = r.scratch.join("alice-stale.sig");
    r.sign_payload(&old_payload, "alice", &stale).ok();
    import(&stale, "alice")
        .code(SECURITY)
        .stderr_has(&r.keyid("alice"));
    // carol's approval was dropped by the change too; re-sign detached.
    let fresh_payload = r.scratch.join("fresh.payload");
    r.export_payload(&fresh_payload).ok();
    let fresh = r.scratch.join("carol-fresh.sig");
    r.sign_payload(&fresh_payload, "carol", &fresh).ok();
    import(&fresh, "carol").ok();
    r.publish().code(SECURITY);
    r.sign("targets", "alice").ok();
    r.publish().ok();
    r.python_gets_published(&[(FW_NAME, &bytes)]);
}

#[test]
fn forged_signature_in_a_merged_copy_is_not_counted() {
    // The other copy is not trusted: a signature entry claiming bob's key ID
    // over bytes bob never signed must not become an approval.
    let r = Release::new("merge_forged_signature");
    r.stage_first(&firmware(17, 3000));
    r.sign("targets", "alice").ok();
    let copy = r.scratch.join("forged-copy");
    copy_dir(&r.dir, &copy).unwrap();
    let staged = copy.join("staged/targets.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&staged).unwrap()).unwrap();
    let alice_sig = doc["signatures"][0]["sig"].as_str().unwrap().to_owned();
    doc["signatures"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"keyid": r.keyid("bob"), "sig": alice_sig}));
    std::fs::write(&staged, serde_json::to_vec(&doc).unwrap()).unwrap();

    let merge = r.repo("merge-signatures", &[Release::arg(&copy)]);
    assert!(
        matches!(merge.code, Some(0 | 1)),
        "merge-signatures failed oddly:\n{merge}"
    );
    let (_, status) = r.repo_json("status", &[]);
    let targets = staged_entry(&status, "targets");
    assert_eq!(targets["thresholds"][0]["valid"], 1, "{status}");
    r.publish().code(SECURITY);
}

/// Every `--json` run prints exactly one JSON document on stdout, also when
/// it fails, and that document carries the exit code.
#[test]
fn json_output_is_one_document_also_when_a_command_fails() {
    let r = Release::new("json_one_document");
    r.init_with(&["--expires", "timestamp=1h"]).ok();
    let file = r.write_file("fw-1.0.0.bin", &firmware(18, 1000));
    r.add(&file, FW_NAME, "1.0.0", &[]).ok();
    let online = r.key("online");
    let publish = [
        "--snapshot-key",
        Release::arg(&online),
        "--timestamp-key",
        Release::arg(&online),
    ];
    let one_doc = |sub: &str, args: &[&str], code: i32| {
        let mut all: Vec<std::ffi::OsString> = vec![
            "--json".into(),
            "repo".into(),
            sub.into(),
            r.dir.clone().into(),
        ];
        all.extend(args.iter().map(std::ffi::OsString::from));
        let run = r.fw.run(all);
        run.code(code);
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&run.stdout)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{run}"));
        assert_eq!(
            docs.len(),
            1,
            "expected one JSON document on stdout:\n{run}"
        );
        if code != 0 {
            assert_eq!(docs[0]["ok"], false, "{run}");
            assert_eq!(docs[0]["exit_code"], code, "{run}");
            // Scripts branch on the machine reason, never on the message.
            assert!(docs[0]["reason"].is_string(), "no reason:\n{run}");
        }
    };
    // Refused publish (threshold not met).
    one_doc("publish", &publish, SECURITY);
    // Bad name.
    one_doc("add", &Release::evil_name_args(&file), USAGE);
    r.approve(["alice", "bob"]);
    one_doc("publish", &publish, 0);
    one_doc("status", &["--check-expiry", "30m"], 0);
    // A role expiring within the window: exit 1 with one document.
    one_doc("status", &["--check-expiry", "2h"], SECURITY);
}
