//! Named approvers (issue 16): `--key-owner KEY=NAME` stores the name in
//! the signed document that lists the key (root for the top-level roles, the
//! delegating targets role for its delegations), every display shows it
//! beside the key ID, python-tuf and tough still read the repository, and a
//! name changed by hand without re-signing is refused.

use fwsign_tests::{SECURITY, USAGE};
use serde_json::Value;

use crate::release_support::{FW_NAME, Release, firmware, staged_entry};
use crate::release_tough::tough_fetch;

const OWNERS_FIELD: &str = "x-fwsign-key-owners";
const BOARD_B_FW: &str = "board-b/fw-2.0.0.bin";

/// A repository with names at both levels: root names root1, alice (by key
/// file), bob (by key ID, with an e-mail address) and carol; targets
/// delegates `board-b/*` to dave, named "Dave" in targets.
fn named(test: &str) -> Release {
    let mut r = Release::new(test);
    r.generate_key("dave");
    let (alice, carol, root1) = (r.public("alice"), r.public("carol"), r.public("root1"));
    let alice_owner = format!("{}=Alice Müller", Release::arg(&alice));
    let bob_owner = format!("{}=Bob <bob@example.com>", r.keyid("bob"));
    let carol_owner = format!("{}=Carol", Release::arg(&carol));
    let root_owner = format!("{}=Rita Root", Release::arg(&root1));
    r.init_with(&[
        "--key-owner",
        &alice_owner,
        "--key-owner",
        &bob_owner,
        "--key-owner",
        &carol_owner,
        "--key-owner",
        &root_owner,
    ])
    .ok();
    let dave = r.public("dave");
    let dave_owner = format!("{}=Dave", Release::arg(&dave));
    r.repo(
        "delegate",
        &[
            "--role",
            "board-b",
            "--key",
            Release::arg(&dave),
            "--threshold",
            "1",
            "--paths",
            "board-b/*",
            "--key-owner",
            &dave_owner,
        ],
    )
    .ok();
    r
}

/// Stages FW_NAME in targets and BOARD_B_FW in board-b; returns the bytes.
fn stage_both(r: &Release) -> (Vec<u8>, Vec<u8>) {
    let (a, b) = (firmware(1, 3000), firmware(2, 2000));
    let fa = r.write_file("fw-a.bin", &a);
    r.add(&fa, FW_NAME, "1.0.0", &[]).ok();
    let fb = r.write_file("fw-b.bin", &b);
    r.add(&fb, BOARD_B_FW, "2.0.0", &["--role", "board-b"]).ok();
    (a, b)
}

fn signed_field(path: &std::path::Path) -> Value {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["signed"][OWNERS_FIELD].clone()
}

#[test]
fn names_at_both_levels_are_signed_and_python_tuf_and_tough_still_verify() {
    let r = named("owners_both_levels_peers");
    let (a, b) = stage_both(&r);
    r.approve(["alice", "bob"]);
    r.sign("board-b", "dave").ok();
    r.publish().ok();

    // Where the names live: root's `signed` for root's keys, targets'
    // `signed` for the delegation's keys; the key objects are untouched.
    let root = signed_field(&r.metadata("1.root.json"));
    assert_eq!(root[r.keyid("alice")]["name"], "Alice Müller");
    assert_eq!(root[r.keyid("bob")]["email"], "bob@example.com");
    assert_eq!(root[r.keyid("root1")]["name"], "Rita Root");
    assert!(root.get(r.keyid("dave")).is_none(), "{root}");
    let targets = signed_field(&r.metadata("1.targets.json"));
    assert_eq!(targets[r.keyid("dave")]["name"], "Dave");
    let targets_doc: Value =
        serde_json::from_slice(&std::fs::read(r.metadata("1.targets.json")).unwrap()).unwrap();
    let dave_key = &targets_doc["signed"]["delegations"]["keys"][r.keyid("dave")];
    assert_eq!(
        dave_key.as_object().unwrap().len(),
        3,
        "key object is keytype, scheme, keyval only: {dave_key}"
    );

    // `identify` names who approved the image.
    let image = r.scratch.join("files/fw-b.bin");
    let run = r.fw.run([
        "--json",
        "identify",
        Release::arg(&image),
        "--repo",
        Release::arg(&r.dir),
    ]);
    run.ok();
    let found: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        found["matches"][0]["owners"][r.keyid("dave")]["name"],
        "Dave",
        "{run}"
    );

    // tough re-serialises what it verifies and drops fields it does not
    // know in some structures: it must still verify root, targets (with the
    // delegation's names) and the delegated role.
    let server = r.serve();
    let trusted = std::fs::read(r.metadata("1.root.json")).unwrap();
    assert_eq!(tough_fetch(&server, &trusted, FW_NAME).unwrap(), a);
    assert_eq!(tough_fetch(&server, &trusted, BOARD_B_FW).unwrap(), b);
    drop(server);
    // python-tuf too (skipped, saying so, without the peer).
    r.python_gets_published(&[(FW_NAME, &a), (BOARD_B_FW, &b)]);
}

#[test]
fn status_publish_refusal_audit_and_json_show_names_beside_key_ids() {
    let r = named("owners_status_json");
    stage_both(&r);
    r.sign("targets", "alice").ok();

    let run = r.repo("status", &[]);
    run.ok();
    // The report is for people: on stderr; --json is on stdout.
    let alice = r.keyid("alice");
    let short = |k: &str| k[..16].to_owned();
    assert!(
        run.stderr.contains(&format!(
            "1 of 2 signatures: Alice Müller ({})",
            short(&alice)
        )),
        "{run}"
    );
    assert!(
        run.stderr.contains(&format!(
            "may still sign: Bob ({}), Carol ({})",
            short(&r.keyid("bob")),
            short(&r.keyid("carol"))
        )),
        "{run}"
    );
    assert!(run.stderr.contains("may still sign: Dave ("), "{run}");
    assert!(run.stderr.contains("may still sign: Rita Root ("), "{run}");
    // The staged delegation names its key's owner, as the delegating role
    // records it.
    assert!(
        run.stderr.contains(&format!(
            "delegation added: targets -> board-b (1 of 1 key(s): Dave ({})",
            short(&r.keyid("dave"))
        )),
        "{run}"
    );

    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    let threshold = &staged_entry(&status, "targets")["thresholds"][0];
    assert_eq!(threshold["signed_by"][0], alice.as_str());
    assert_eq!(threshold["owners"][&alice]["name"], "Alice Müller");
    assert_eq!(
        threshold["owners"][r.keyid("bob")]["email"],
        "bob@example.com"
    );
    assert_eq!(
        staged_entry(&status, "targets")["changes"]["delegations_key_owners"][r.keyid("dave")]["name"],
        "Dave"
    );
    let delegated = &staged_entry(&status, "board-b")["thresholds"][0];
    assert_eq!(delegated["owners"][r.keyid("dave")]["name"], "Dave");

    // The publish refusal names who signed and who may still sign.
    let run = r.publish();
    run.code(SECURITY)
        .stderr_has("Alice Müller (")
        .stderr_has("may still sign: Bob (");
    let online = r.key("online");
    let (run, refusal) = r.repo_json(
        "publish",
        &[
            "--snapshot-key",
            Release::arg(&online),
            "--timestamp-key",
            Release::arg(&online),
        ],
    );
    run.code(SECURITY);
    let missing = refusal["missing"].as_array().unwrap();
    let targets = missing.iter().find(|m| m["role"] == "targets").unwrap();
    assert_eq!(targets["owners"][r.keyid("carol")]["name"], "Carol");

    // `repo sign --json` names the signer beside its key ID.
    let bob = r.key("bob");
    let (run, signed) = r.repo_json("sign", &["--role", "targets", "--key", Release::arg(&bob)]);
    run.ok();
    assert_eq!(
        signed["approval"]["thresholds"][0]["owners"][r.keyid("bob")]["name"],
        "Bob"
    );

    // The audit log records the approver's name with each signature.
    let run = r.fw.run(["--json", "repo", "audit", Release::arg(&r.dir)]);
    run.ok();
    let signs: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "sign")
        .collect();
    assert!(
        signs
            .iter()
            .any(|e| e["keyid"] == alice.as_str() && e["approver"] == "Alice Müller"),
        "{run}"
    );
    assert!(signs.iter().any(|e| e["approver"] == "Bob"), "{run}");
}

#[test]
fn repo_add_after_approvals_says_at_once_whose_approvals_it_dropped() {
    let r = named("owners_add_drops");
    stage_both(&r);
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    let more = r.write_file("fw-c.bin", &firmware(3, 100));
    let run = r.add(&more, "board-a/fw-1.0.1.bin", "1.0.1", &[]);
    run.ok()
        .stderr_has("dropped the approvals of")
        .stderr_has("Alice Müller (")
        .stderr_has("Carol (");
    let more = r.write_file("fw-d.bin", &firmware(4, 100));
    r.sign("targets", "bob").ok();
    let (run, doc) = r.repo_json(
        "add",
        &[
            Release::arg(&more),
            "--name",
            "board-a/fw-1.0.2.bin",
            "--hardware-id",
            "evc-a1",
            "--version",
            "1.0.2",
            "--security-counter",
            "1",
        ],
    );
    run.ok();
    let dropped = doc["dropped_approvals"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{doc}");
    assert_eq!(dropped[0]["keyid"], r.keyid("bob").as_str());
    assert_eq!(dropped[0]["owner"]["name"], "Bob");
    // The audit log records whose approvals were dropped, by name.
    let run = r.fw.run(["--json", "repo", "audit", Release::arg(&r.dir)]);
    run.ok();
    assert!(
        run.stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .any(|e| e["action"] == "approvals-dropped" && e["approver"] == "Carol"),
        "{run}"
    );
}

/// Attack: owner-name substitution. Someone with write access to the
/// repository (or the CDN) edits an owner's name in signed metadata, without
/// re-signing, so that approvers and auditors read that another person
/// holds (or used) a key. The name is inside `signed`: the signatures no
/// longer verify, and the edit is refused.
#[test]
fn an_owner_name_edited_by_hand_without_re_signing_is_refused() {
    let r = named("owners_substitution_attack");
    let (a, b) = stage_both(&r);
    r.approve(["alice", "bob"]);
    r.sign("board-b", "dave").ok();

    // Staged: the approvals collected over "Dave" no longer count.
    let staged = r.dir.join("staged/targets.json");
    let text = std::fs::read_to_string(&staged).unwrap();
    assert!(text.contains("\"Dave\""));
    let original = text.clone();
    std::fs::write(&staged, text.replace("\"Dave\"", "\"Mallory\"")).unwrap();
    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    assert_eq!(staged_entry(&status, "targets")["met"], false, "{status}");
    r.publish().code(SECURITY);
    std::fs::write(&staged, original).unwrap();
    r.publish().ok();

    // Published: the name in targets and in root, each edited in place.
    let server = r.serve();
    let trusted = std::fs::read(r.metadata("1.root.json")).unwrap();
    assert_eq!(tough_fetch(&server, &trusted, BOARD_B_FW).unwrap(), b);
    let targets = r.metadata("1.targets.json");
    let text = std::fs::read_to_string(&targets).unwrap();
    std::fs::write(&targets, text.replace("\"Dave\"", "\"Mallory\"")).unwrap();
    r.repo("verify", &[]).code(SECURITY).stderr_has("targets");
    let err = tough_fetch(&server, &trusted, FW_NAME).unwrap_err();
    assert!(err.contains("refused") || err.contains("cannot"), "{err}");
    std::fs::write(&targets, text).unwrap();
    assert_eq!(tough_fetch(&server, &trusted, FW_NAME).unwrap(), a);

    let root = r.metadata("1.root.json");
    let text = std::fs::read_to_string(&root).unwrap();
    std::fs::write(&root, text.replace("Alice Müller", "Mallory")).unwrap();
    r.repo("verify", &[]).code(SECURITY).stderr_has("root");
    r.repo("status", &[]).code(SECURITY);
}

#[test]
fn invalid_names_and_names_for_unlisted_keys_are_refused_as_usage_errors() {
    let mut r = Release::new("owners_invalid");
    r.generate_key("dave");
    let alice = r.public("alice");
    let alice = Release::arg(&alice);
    let cases = [
        // Trojan Source: the override makes the name read backwards.
        (format!("{alice}=Eve\u{202E}yrollaM"), "bidirectional"),
        (format!("{alice}=Eve\u{2067}x\u{2069}"), "bidirectional"),
        (format!("{alice}={}", "x".repeat(65)), "65 characters"),
        (format!("{alice}=Eve\u{1b}[2J"), "control character"),
        (format!("{alice}=Eve <not an address>"), "e-mail"),
        (format!("{alice}="), "KEY=NAME"),
    ];
    for (arg, why) in &cases {
        r.init_with(&["--key-owner", arg])
            .code(USAGE)
            .stderr_has(why);
        assert!(!r.dir.exists(), "a refused init left {}", r.dir.display());
    }
    // 64 characters, counted as characters, not bytes.
    let ok = format!("{alice}={}", "é".repeat(64));
    let dave = r.public("dave");
    let dave_owner = format!("{}=Dave", Release::arg(&dave));
    // dave is not one of root's keys.
    r.init_with(&["--key-owner", &dave_owner, "--key-owner", &ok])
        .code(USAGE)
        .stderr_has(&r.keyid("dave"));
    assert!(!r.dir.exists());
    r.init_with(&["--key-owner", &ok]).ok();

    // At delegate: a key the delegation does not list; a bad name.
    let args = |owner: &str| -> Vec<String> {
        [
            "--role",
            "board-b",
            "--key",
            Release::arg(&dave),
            "--threshold",
            "1",
            "--paths",
            "board-b/*",
            "--key-owner",
            owner,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let before = std::fs::read(r.dir.join("staged/targets.json")).unwrap();
    for owner in [
        format!("{alice}=Alice"),
        format!("{}=D\u{200F}ave", Release::arg(&dave)),
    ] {
        let a = args(&owner);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        r.repo("delegate", &a).code(USAGE);
        assert_eq!(
            std::fs::read(r.dir.join("staged/targets.json")).unwrap(),
            before,
            "a refused delegate changed staged targets"
        );
    }
}

#[test]
fn rotate_root_names_an_added_key_and_status_shows_it() {
    let mut r = Release::new("owners_rotate_root");
    r.generate_key("dave");
    r.first_release_with(&[], "fw.bin", &firmware(5, 100), ["alice", "bob"]);
    let dave = r.public("dave");
    let add = format!("targets={}", Release::arg(&dave));
    let owner = format!("{}=Dave D. <dave@example.com>", Release::arg(&dave));
    r.repo("rotate-root", &["--add-key", &add, "--key-owner", &owner])
        .ok();
    let staged = signed_field(&r.dir.join("staged/root.json"));
    assert_eq!(staged[r.keyid("dave")]["name"], "Dave D.");
    let (run, status) = r.repo_json("status", &[]);
    run.ok();
    let changed = &staged_entry(&status, "root")["changes"]["roles_changed"]["targets"];
    assert_eq!(
        changed["owners"][r.keyid("dave")]["email"],
        "dave@example.com"
    );
    // People reviewing the rotation read whose key it adds, as for a
    // delegation change: name and key ID, not a bare count.
    let dave_id = r.keyid("dave");
    r.repo("status", &[]).ok().stderr_has(&format!(
        "targets: keys added Dave D. ({}); threshold 2 (was 2)",
        &dave_id[..16]
    ));
    // A name for a key the new root does not list.
    let alien = format!("{}=Nobody", "ab".repeat(32));
    r.repo("rotate-root", &["--key-owner", &alien])
        .code(USAGE)
        .stderr_has("does not list");
}
