//! The audit log is hash-chained and anchored in signed snapshots: editing,
//! deleting or truncating lines is detected by `fwsign repo audit`.

use fwsign_tests::SECURITY;
use serde_json::Value;

use crate::release_support::Release;

/// A published repository and its audit log's lines.
fn published(test: &str) -> (Release, Vec<String>) {
    let r = Release::new(test);
    r.first_release();
    r.repo("audit", &[]).ok();
    let text = std::fs::read_to_string(r.dir.join("audit.log")).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines.len() >= 6, "too few audit lines: {lines:?}");
    (r, lines)
}

fn write_lines(r: &Release, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(r.dir.join("audit.log"), text).unwrap();
}

#[test]
fn audit_log_line_edited_is_detected_with_its_line_number() {
    let (r, mut lines) = published("audit_line_edited");
    // Line 2 records staging the target ("action":"stage"); one byte changed.
    assert!(lines[1].contains("\"action\":\"stage\""), "{}", lines[1]);
    lines[1] = lines[1].replacen("\"action\":\"stage\"", "\"action\":\"stagE\"", 1);
    write_lines(&r, &lines);
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("audit.log:2:");
}

#[test]
fn audit_log_line_deleted_is_detected() {
    let (r, mut lines) = published("audit_line_deleted");
    lines.remove(2);
    write_lines(&r, &lines);
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("audit.log:3:");
}

#[test]
fn audit_log_truncated_is_detected() {
    let (r, lines) = published("audit_truncated");
    // Cut back to the first line: the chain is intact but the snapshot's
    // anchor names a line that is gone.
    write_lines(&r, &lines[..1]);
    r.repo("audit", &[]).code(SECURITY).stderr_has("truncated");
    // Emptied.
    std::fs::write(r.dir.join("audit.log"), b"").unwrap();
    r.repo("audit", &[]).code(SECURITY);
    // Cut mid-line.
    let mut torn = lines[..3].join("\n");
    torn.push('\n');
    torn.push_str(&lines[3][..20]);
    std::fs::write(r.dir.join("audit.log"), torn).unwrap();
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("audit.log:4");
}

#[test]
fn audit_json_prints_one_json_line_per_event() {
    let (r, lines) = published("audit_json_lines");
    let run = r.fw.run([
        "--json".as_ref(),
        "repo".as_ref(),
        "audit".as_ref(),
        r.dir.as_os_str(),
    ]);
    run.ok();
    let mut events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // The last line is the head, for a CI job to keep (`--expect-head`).
    let head = events.pop().unwrap();
    assert_eq!(head["head"]["line"], lines.len(), "{run}");
    assert_eq!(events.len(), lines.len(), "{run}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["line"], i + 1, "{e}");
        assert!(e["action"].is_string(), "{e}");
        assert_eq!(e["hash"].as_str().unwrap().len(), 64, "{e}");
    }
    assert_eq!(events[0]["action"], "init");
    assert!(events.iter().any(|e| e["action"] == "publish"), "{run}");
}

#[test]
fn audit_log_rewritten_with_a_recomputed_chain_is_caught_by_the_snapshot_anchor() {
    // Whoever can write the log can recompute every hash after removing a
    // line (here: alice's approval). The chain is then consistent; only the
    // head recorded in the signed snapshot can tell.
    let (r, lines) = published("audit_chain_recomputed");
    let mut entries: Vec<serde_json::Map<String, Value>> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let alice = r.keyid("alice");
    let before = entries.len();
    entries.retain(|e| e.get("keyid").and_then(Value::as_str) != Some(alice.as_str()));
    assert_eq!(entries.len(), before - 1, "alice's approval line not found");
    let mut prev = "0".repeat(64);
    let mut rewritten = Vec::new();
    for (i, mut e) in entries.into_iter().enumerate() {
        e.remove("hash");
        e.insert("seq".into(), Value::from(i + 1));
        e.insert("prev".into(), Value::from(prev.clone()));
        let body =
            fwsign_manifest_schema::canonical::to_canonical_vec(&Value::Object(e.clone())).unwrap();
        let hash = base16ct::lower::encode_string(&<sha2::Sha256 as sha2::Digest>::digest(&body));
        e.insert("hash".into(), Value::from(hash.clone()));
        let line = fwsign_manifest_schema::canonical::to_canonical_vec(&Value::Object(e)).unwrap();
        rewritten.push(String::from_utf8(line).unwrap());
        prev = hash;
    }
    write_lines(&r, &rewritten);
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("snapshot")
        .stderr_has("rewritten");
}

/// A publish refused for a threshold not met is what a SIEM alerts on: the
/// refusal must say which role and version were refused and whose approval
/// was not enough, in fields a collector can match, not only in free text.
/// Stops an insider's unapproved release attempt reaching the central log
/// as an anonymous "refuse" that nobody can attribute.
#[test]
fn a_publish_refused_below_threshold_names_role_version_and_signer_for_the_siem() {
    let r = Release::new("audit_refusal_fields");
    let alice_owner = format!("{}=Alice Chen", Release::arg(&r.public("alice")));
    r.first_release_with(
        &["--key-owner", &alice_owner],
        "fw-1.0.0.bin",
        &crate::release_support::firmware(1, 5000),
        ["alice", "bob"],
    );
    let file = r.write_file("fw-2.0.0.bin", &crate::release_support::firmware(2, 3000));
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.publish().code(SECURITY);

    let alice = r.keyid("alice");
    let log = std::fs::read_to_string(r.dir.join("audit.log")).unwrap();
    let refusal: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(refusal["action"], "refuse", "{refusal}");
    assert_eq!(refusal["role"], "targets", "{refusal}");
    assert_eq!(refusal["version"], 2, "{refusal}");
    assert_eq!(refusal["keyid"], alice.as_str(), "{refusal}");
    assert_eq!(refusal["approver"], "Alice Chen", "{refusal}");
    let detail = refusal["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("not enough approvals: targets (root): 1 of 2 signatures: Alice Chen ("),
        "{detail}"
    );
    assert!(detail.contains("may still sign: "), "{detail}");

    // The same fields reach syslog as structured data.
    let run = r.fw.run([
        "repo",
        "audit",
        Release::arg(&r.dir),
        "--format",
        "syslog",
        "--sd-id",
        "fwsign@32473",
    ]);
    run.ok();
    let message = run.stdout.lines().last().unwrap();
    for param in [
        "event=\"refuse\"".to_owned(),
        "role=\"targets\"".to_owned(),
        "version=\"2\"".to_owned(),
        format!("keyid=\"{alice}\""),
        "approver=\"Alice Chen\"".to_owned(),
    ] {
        assert!(message.contains(&param), "{param} in {message}");
    }
    assert!(message.starts_with("<107>1 "), "severity err: {message}");
}
