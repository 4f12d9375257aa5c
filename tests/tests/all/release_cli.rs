//! What a release engineer relies on from the repository commands day to
//! day (issue 16): a name staged twice by mistake does not swap the bytes
//! approvers reviewed; `status` says what a delegation change does before
//! anyone signs it; `targets` says what is released and who approved it,
//! from the verified published state only; `undelegate` takes a role out
//! of every search while python-tuf and tough keep updating.

use fwsign_tests::{SECURITY, USAGE};
use serde_json::json;

use crate::release_support::{FW_NAME, Release, firmware, python_fetch, python_gets};
use crate::release_tough::tough_fetch;

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
/// that keeps the approval; new fields for the same bytes are a change;
/// `--replace` replaces the bytes.
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

    // The same bytes with another version: staged as a change (the
    // approvers signed other fields), no --replace needed.
    r.add(&good, FW_NAME, "1.0.1", &[])
        .ok()
        .stderr_has("staged new fields for");
    assert!(std::fs::read(&staged_file).unwrap() == approved);
    assert!(signed_by(&r, "targets").is_empty());

    // Asked for: replaced.
    r.sign("targets", "alice").ok();
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

/// The key IDs of `value` (a JSON array), sorted.
fn sorted_ids(value: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The key IDs of the named keys, sorted.
fn ids(r: &Release, keys: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = keys.iter().map(|k| r.keyid(k)).collect();
    ids.sort();
    ids
}

/// `repo targets` lists what is released (a `targets` entry and a
/// delegated role's) with firmware fields, size, the listing role, its
/// delegator and the approvers whose signatures count; `--staged` lists the
/// next release with the approvals so far. A published role edited on disk
/// is not listed as released: the command refuses (exit 1, verify-failed,
/// naming the file), as every command building on the published state does.
#[test]
fn targets_lists_what_is_released_and_who_approved_it_and_refuses_a_tampered_repository() {
    let mut r = Release::new("cli_targets");
    r.generate_key("dave");
    r.generate_key("erin");
    r.init();
    delegate(&r, "board-a", &["dave", "erin"], "2", &["board-a/*"], &[]).ok();
    let top = firmware(4, 4000);
    let board = firmware(5, 1234);
    let top_file = r.write_file("top.bin", &top);
    let board_file = r.write_file("board.bin", &board);
    r.add(
        &top_file,
        "evc-a1/fw-2.0.0.bin",
        "2.0.0",
        &["--hardware-id", "evc-a2"],
    )
    .ok();
    r.add(
        &board_file,
        "board-a/fw.bin",
        "1.1.0",
        &["--role", "board-a"],
    )
    .ok();
    r.sign("targets", "alice").ok();

    let (run, doc) = r.repo_json("targets", &["--staged"]);
    run.ok();
    assert_eq!(doc["state"], "staged", "{run}");
    let staged = doc["targets"].as_array().unwrap();
    assert_eq!(staged.len(), 2, "{run}");
    let top_entry = staged.iter().find(|t| t["role"] == "targets").unwrap();
    assert_eq!(top_entry["change"], "added");
    assert_eq!(sorted_ids(&top_entry["approvers"]), ids(&r, &["alice"]));
    assert_eq!(top_entry["threshold"], 2);
    r.repo("targets", &[])
        .ok()
        .stderr_has("no published targets");

    approve_and_publish(&r, &[("board-a", &["dave", "erin"])]);
    let (run, doc) = r.repo_json("targets", &[]);
    run.ok();
    assert_eq!(doc["state"], "published", "{run}");
    let listed = doc["targets"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{run}");
    let t = &listed[0];
    assert_eq!(t["name"], "evc-a1/fw-2.0.0.bin", "{run}");
    assert_eq!(t["role"], "targets");
    assert_eq!(t["delegated_by"], "root");
    assert_eq!(t["role_version"], 1);
    assert_eq!(t["length"], 4000);
    assert_eq!(t["firmware"]["version"], "2.0.0");
    assert_eq!(t["firmware"]["hardware_ids"], json!(["evc-a1", "evc-a2"]));
    assert_eq!(t["firmware"]["security_counter"], 1);
    assert_eq!(t["answers"], true);
    assert_eq!(sorted_ids(&t["approvers"]), ids(&r, &["alice", "bob"]));
    let b = &listed[1];
    assert_eq!(b["name"], "board-a/fw.bin", "{run}");
    assert_eq!(b["role"], "board-a");
    assert_eq!(b["delegated_by"], "targets");
    assert_eq!(b["length"], 1234);
    assert_eq!(sorted_ids(&b["approvers"]), ids(&r, &["dave", "erin"]));
    let run = r.repo("targets", &[]);
    run.ok()
        .stderr_has("evc-a1/fw-2.0.0.bin")
        .stderr_has("version 2.0.0, hardware evc-a1, evc-a2, security counter 1, 4000 bytes")
        .stderr_has("listed by board-a v1 (delegated by targets); approved by 2 of 2: ")
        .stderr_has(&r.keyid("dave")[..16]);
    assert!(
        r.repo("targets", &["--staged"])
            .stderr
            .contains("no staged targets")
    );

    // Someone edits the published board-a on disk (the version a CDN
    // serves): nothing lists it as released.
    let path = r.metadata("1.board-a.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"length\":1234", "\"length\":1235")).unwrap();
    let (run, doc) = r.repo_json("targets", &[]);
    run.code(SECURITY).stderr_has("metadata/1.board-a.json");
    assert_eq!(doc["reason"], "verify-failed", "{run}");
    assert!(doc.get("targets").is_none(), "{run}");
}

/// `repo undelegate` of a published delegated role. Stops a retired role's
/// targets from still being found (python-tuf no longer finds them) without
/// breaking clients: a python-tuf client that trusted the snapshot listing
/// the role keeps updating, since every later snapshot still lists the
/// role's last version (TUF clients refuse a snapshot that drops one), and
/// `repo verify` and `repo audit` pass. An unknown role is refused (exit 2,
/// `no-such-delegation`) with nothing written.
#[test]
fn undelegated_role_is_no_longer_searched_and_python_tuf_keeps_updating() {
    let mut r = Release::new("cli_undelegate");
    r.generate_key("dave");
    r.generate_key("erin");
    r.init();
    delegate(&r, "board-a", &["dave", "erin"], "2", &["board-a/*"], &[]).ok();
    let top = firmware(6, 2000);
    let board = firmware(7, 900);
    let top_file = r.write_file("top.bin", &top);
    let board_file = r.write_file("board.bin", &board);
    r.add(&top_file, "evc-a1/fw.bin", "1.0.0", &[]).ok();
    r.add(
        &board_file,
        "board-a/fw.bin",
        "1.0.0",
        &["--role", "board-a"],
    )
    .ok();
    approve_and_publish(&r, &[("board-a", &["dave", "erin"])]);
    let server = r.serve();
    let root = r.metadata("1.root.json");
    let client = r.workdir("python");
    python_gets(
        &server,
        &root,
        &client,
        &[("evc-a1/fw.bin", &top), ("board-a/fw.bin", &board)],
    );

    let log = std::fs::read(r.dir.join("audit.log")).unwrap();
    let (run, doc) = r.repo_json("undelegate", &["board-b"]);
    run.code(USAGE)
        .stderr_has("targets does not delegate to board-b");
    assert_eq!(doc["reason"], "no-such-delegation", "{run}");
    assert!(!r.dir.join("staged/targets.json").exists());
    assert_eq!(std::fs::read(r.dir.join("audit.log")).unwrap(), log);

    let (run, doc) = r.repo_json("undelegate", &["board-a"]);
    run.ok();
    assert_eq!(doc["unreachable_roles"], json!(["board-a"]), "{run}");
    assert_eq!(
        doc["unreachable_targets"],
        json!([{"role": "board-a", "name": "board-a/fw.bin"}]),
        "{run}"
    );
    r.repo("status", &[])
        .ok()
        .stderr_has("delegation removed: targets -> board-a");
    // The delegator's approvers decide it, as any change to `targets`.
    r.publish().code(SECURITY);
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();

    let snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.metadata("2.snapshot.json")).unwrap()).unwrap();
    assert_eq!(snapshot["signed"]["meta"]["board-a.json"]["version"], 1);
    let (run, listed) = r.repo_json("targets", &[]);
    run.ok();
    let names: Vec<&str> = listed["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["evc-a1/fw.bin"], "{run}");
    r.repo("verify", &[]).ok();
    r.repo("audit", &[]).ok();

    // The client that trusted snapshot 1 updates; the retired role's
    // target is not found any more.
    python_gets(&server, &root, &client, &[("evc-a1/fw.bin", &top)]);
    if let Some(fetch) = python_fetch(&server, &root, &["board-a/fw.bin"], &r.workdir("python-2")) {
        assert!(
            !fetch.success,
            "python-tuf still found the retired role's target"
        );
    }

    // Later releases keep listing the retired role.
    let next = firmware(8, 700);
    let next_file = r.write_file("next.bin", &next);
    r.add(&next_file, "evc-a1/fw-2.bin", "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();
    let snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.metadata("3.snapshot.json")).unwrap()).unwrap();
    assert_eq!(snapshot["signed"]["meta"]["board-a.json"]["version"], 1);
    python_gets(&server, &root, &client, &[("evc-a1/fw-2.bin", &next)]);
    let trusted = std::fs::read(&root).unwrap();
    assert!(
        tough_fetch(&server, &trusted, "evc-a1/fw-2.bin").unwrap() == next,
        "tough downloaded other bytes"
    );
    assert!(tough_fetch(&server, &trusted, "board-a/fw.bin").is_err());
    r.repo("verify", &[]).ok();
}

/// A sub-delegation only the removed role reaches (made by hand, as
/// another tool makes one): `undelegate` of its parent is refused (exit 2,
/// `would-strand-roles`, naming it) with nothing written, since clients
/// would silently stop finding its targets; `--from` removes the
/// sub-delegation itself, and once published python-tuf no longer finds
/// its target and still fetches the parent's.
#[test]
fn undelegate_refuses_to_strand_a_sub_delegation_and_removes_it_with_from() {
    let mut r = Release::new("cli_undelegate_sub");
    r.generate_key("dave");
    r.generate_key("erin");
    r.init();
    delegate(&r, "board-a", &["dave"], "1", &["board-a/*"], &[]).ok();
    // board-a delegates board-a-beta (erin), staged by hand.
    let repo = fwsign_repo::Repository::open(&r.dir).unwrap();
    let mut board: fwsign_manifest_schema::metadata::Signed<
        fwsign_manifest_schema::metadata::Targets,
    > = repo.load_staged("board-a").unwrap().unwrap();
    let mut beta = board.clone();
    let erin =
        fwsign_keys::PublicKey::from_spki_pem(&std::fs::read_to_string(r.public("erin")).unwrap())
            .unwrap();
    board.signed.delegations = Some(fwsign_manifest_schema::metadata::Delegations {
        keys: [(erin.keyid(), erin.to_tuf_key())].into(),
        roles: vec![fwsign_manifest_schema::metadata::DelegatedRole {
            name: "board-a-beta".into(),
            keyids: vec![erin.keyid()],
            threshold: 1,
            terminating: false,
            paths: Some(vec!["board-a/*".into()]),
            path_hash_prefixes: None,
            unknown: std::collections::BTreeMap::new(),
        }],
        unknown: std::collections::BTreeMap::new(),
    });
    beta.signed.unknown.clear();
    repo.save_staged("board-a", &board).unwrap();
    repo.save_staged("board-a-beta", &beta).unwrap();
    let (main, sub) = (firmware(9, 800), firmware(10, 600));
    let main_file = r.write_file("main.bin", &main);
    let sub_file = r.write_file("beta.bin", &sub);
    r.add(
        &main_file,
        "board-a/fw.bin",
        "1.0.0",
        &["--role", "board-a"],
    )
    .ok();
    r.add(
        &sub_file,
        "board-a/beta.bin",
        "1.1.0-beta",
        &["--role", "board-a-beta"],
    )
    .ok();
    approve_and_publish(&r, &[("board-a", &["dave"]), ("board-a-beta", &["erin"])]);

    let log = std::fs::read(r.dir.join("audit.log")).unwrap();
    let (run, doc) = r.repo_json("undelegate", &["board-a"]);
    run.code(USAGE)
        .stderr_has("board-a-beta")
        .stderr_has("--recursive");
    assert_eq!(doc["reason"], "would-strand-roles", "{run}");
    assert_eq!(doc["stranded"], json!(["board-a-beta"]), "{run}");
    assert!(!r.dir.join("staged/targets.json").exists());
    assert_eq!(std::fs::read(r.dir.join("audit.log")).unwrap(), log);

    let (run, doc) = r.repo_json("undelegate", &["board-a-beta", "--from", "board-a"]);
    run.ok();
    assert_eq!(doc["from"], "board-a", "{run}");
    assert_eq!(
        doc["unreachable_targets"],
        json!([{"role": "board-a-beta", "name": "board-a/beta.bin"}]),
        "{run}"
    );
    r.publish().code(SECURITY);
    r.sign("board-a", "dave").ok();
    r.publish().ok();
    r.repo("verify", &[]).ok();

    let server = r.serve();
    let root = r.metadata("1.root.json");
    python_gets(
        &server,
        &root,
        &r.workdir("python"),
        &[("board-a/fw.bin", &main)],
    );
    if let Some(fetch) = python_fetch(
        &server,
        &root,
        &["board-a/beta.bin"],
        &r.workdir("python-2"),
    ) {
        assert!(
            !fetch.success,
            "python-tuf still found the retired role's target"
        );
    }
}
