//! The audit log against an insider: someone with write access to the
//! repository directory, with or without an old or the online key, tries to
//! rewrite history so that `fwsign repo audit` still says it is intact.
//! Each test is named after the attack it stops (issue 13).

use fwsign_keys::PrivateKey;
use fwsign_keys::document::sign;
use fwsign_manifest_schema::canonical::{to_canonical_vec, to_portable_bytes};
use fwsign_manifest_schema::metadata::{RoleKeys, Root, Signed, Snapshot, Timestamp};
use fwsign_tests::{Run, SECURITY, USAGE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::release_support::{FW_NAME, Release, firmware, python_gets};
use crate::release_tough::tough_fetch;

const FW2: &str = "board-a/fw-2.0.0.bin";

fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

fn private(r: &Release, name: &str) -> PrivateKey {
    PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(r.key(name)).unwrap(), None).unwrap()
}

fn read(r: &Release, name: &str) -> Vec<u8> {
    std::fs::read(r.metadata(name)).unwrap()
}

fn signed_field(r: &Release, name: &str, field: &str) -> Value {
    let v: Value = serde_json::from_slice(&read(r, name)).unwrap();
    v["signed"][field].clone()
}

/// `repo refresh` that always re-signs the snapshot (and the timestamp).
fn refresh(r: &Release, snapshot_key: &str) -> Run {
    let (s, t) = (r.key(snapshot_key), r.key("online"));
    r.repo(
        "refresh",
        &[
            "--snapshot-key",
            Release::arg(&s),
            "--timestamp-key",
            Release::arg(&t),
            "--within",
            "400d",
        ],
    )
}

fn publish_with(r: &Release, snapshot_key: &str) -> Run {
    let (s, t) = (r.key(snapshot_key), r.key("online"));
    r.repo(
        "publish",
        &[
            "--snapshot-key",
            Release::arg(&s),
            "--timestamp-key",
            Release::arg(&t),
        ],
    )
}

/// Stages `FW2` in targets with alice's and bob's approvals.
fn stage_second_release(r: &Release) -> Vec<u8> {
    let v2 = firmware(2, 3000);
    let file = r.write_file("fw-2.0.0.bin", &v2);
    r.add(&file, FW2, "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    v2
}

/// Release 1 (snapshot 1), a refresh (2), release 2 (3), then root v2
/// replacing the snapshot key `online` with `online2`, published (4) and
/// refreshed (5).
fn history_with_rotation(test: &str) -> (Release, Vec<u8>, Vec<u8>) {
    let mut r = Release::new(test);
    r.generate_key("online2");
    let v1 = r.first_release();
    refresh(&r, "online").ok();
    let v2 = stage_second_release(&r);
    r.publish().ok();
    let add = format!("snapshot={}", Release::arg(&r.public("online2")));
    let remove = format!("snapshot={}", r.keyid("online"));
    r.repo("rotate-root", &["--add-key", &add, "--remove-key", &remove])
        .ok();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    publish_with(&r, "online2").ok();
    refresh(&r, "online2").ok();
    assert_eq!(r.timestamp_version(), 5);
    (r, v1, v2)
}

/// Rewrites snapshot `version` with `edit`, re-signed with `key`; returns
/// the new file's bytes.
fn resign_snapshot(
    r: &Release,
    version: u64,
    key: &PrivateKey,
    edit: impl FnOnce(&mut Snapshot),
) -> Vec<u8> {
    let name = format!("{version}.snapshot.json");
    let mut doc = Signed::<Snapshot>::from_json_slice(&read(r, &name)).unwrap();
    edit(&mut doc.signed);
    doc.signatures.clear();
    sign(&mut doc, key).unwrap();
    let bytes = to_portable_bytes(&doc).unwrap();
    std::fs::write(r.metadata(&name), &bytes).unwrap();
    bytes
}

/// A new timestamp pinning snapshot `version`, signed with `key`.
fn forge_timestamp(r: &Release, version: u64, key: &PrivateKey) {
    let snapshot = read(r, &format!("{version}.snapshot.json"));
    let mut doc = Signed::<Timestamp>::from_json_slice(&read(r, "timestamp.json")).unwrap();
    doc.signed.version += 1;
    let meta = doc.signed.meta.get_mut("snapshot.json").unwrap();
    meta.version = version;
    meta.length = Some(snapshot.len() as u64);
    meta.hashes = Some([("sha256".to_owned(), sha256_hex(&snapshot))].into());
    doc.signatures.clear();
    sign(&mut doc, key).unwrap();
    std::fs::write(
        r.metadata("timestamp.json"),
        to_portable_bytes(&doc).unwrap(),
    )
    .unwrap();
}

fn log_lines(r: &Release) -> Vec<String> {
    std::fs::read_to_string(r.dir.join("audit.log"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes `lines` as the log after recomputing every `seq`, `prev` and
/// `hash`, as anyone who can write the file can; returns the new head.
fn write_recomputed(r: &Release, lines: &[String]) -> Value {
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let mut e: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        e.remove("hash");
        e.insert("seq".into(), Value::from(i + 1));
        e.insert("prev".into(), Value::from(prev.clone()));
        let hash = sha256_hex(&to_canonical_vec(&Value::Object(e.clone())).unwrap());
        e.insert("hash".into(), Value::from(hash.clone()));
        out.push_str(&String::from_utf8(to_canonical_vec(&Value::Object(e)).unwrap()).unwrap());
        out.push('\n');
        prev = hash;
    }
    std::fs::write(r.dir.join("audit.log"), out).unwrap();
    json!({"line": lines.len(), "sha256": prev})
}

/// `repo --json audit`'s last line, the head.
fn audit_head(r: &Release, extra: &[&str]) -> (Run, Value) {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--json".into(),
        "repo".into(),
        "audit".into(),
        r.dir.clone().into(),
    ];
    args.extend(extra.iter().map(Into::into));
    let run = r.fw.run(args);
    let last = run.stdout.lines().last().unwrap_or_default().to_owned();
    let value = serde_json::from_str(&last).unwrap_or(Value::Null);
    (run, value)
}

#[test]
fn happy_path_stays_clean_across_releases_refreshes_and_a_root_rotation() {
    let (r, v1, v2) = history_with_rotation("insider_happy_path");
    r.repo("audit", &[])
        .ok()
        .stderr_has("root chain v1 to v2, 5 snapshot(s) chained");

    // The chain fields, as the issue specifies them.
    for version in 2..=5u64 {
        let name = format!("{version}.snapshot.json");
        let prev = read(&r, &format!("{}.snapshot.json", version - 1));
        assert_eq!(
            signed_field(&r, &name, "x-fwsign-prev-snapshot"),
            sha256_hex(&prev)
        );
        let root = if version >= 4 { 2 } else { 1 };
        assert_eq!(signed_field(&r, &name, "x-fwsign-root-version"), root);
    }
    assert!(signed_field(&r, "1.snapshot.json", "x-fwsign-prev-snapshot").is_null());
    // Staged roles carry the head at their staging, covered by approvers.
    for name in [
        "1.root.json",
        "2.root.json",
        "1.targets.json",
        "2.targets.json",
    ] {
        let head = signed_field(&r, name, "x-fwsign-audit-head");
        assert!(head["line"].as_u64().unwrap() >= 1, "{name}: {head}");
        assert_eq!(head["sha256"].as_str().unwrap().len(), 64, "{name}: {head}");
    }

    // --json: one line per event, then the head, which --expect-head takes.
    let lines = log_lines(&r);
    let (run, head) = audit_head(&r, &[]);
    run.ok();
    assert_eq!(run.stdout.lines().count(), lines.len() + 1, "{run}");
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(
        head,
        json!({"head": {"line": lines.len(), "sha256": last["hash"]}}),
        "{run}"
    );
    let expect = format!("{}:{}", lines.len(), last["hash"].as_str().unwrap());
    r.repo("audit", &["--expect-head", &expect]).ok();

    // The peers still read it, from root 1 through the rotation.
    let server = r.serve();
    let root1 = r.metadata("1.root.json");
    python_gets(
        &server,
        &root1,
        &r.workdir("python"),
        &[(FW_NAME, &v1), (FW2, &v2)],
    );
    assert!(tough_fetch(&server, &read(&r, "1.root.json"), FW2).unwrap() == v2);
}

#[test]
fn planted_root_outside_the_signed_chain_is_a_fault() {
    let mut r = Release::new("insider_planted_root");
    r.first_release();
    r.generate_key("mallory");
    let mallory = private(&r, "mallory");

    // Root v2 naming mallory for root and snapshot, signed by mallory only:
    // before, any `*.root.json` counted, so mallory's snapshots would too.
    let mut root = Signed::<Root>::from_json_slice(&read(&r, "1.root.json")).unwrap();
    root.signed.version = 2;
    let id = mallory.public_key().keyid();
    root.signed
        .keys
        .insert(id.clone(), mallory.public_key().to_tuf_key());
    for role in ["root", "snapshot"] {
        root.signed.roles.insert(
            role.into(),
            RoleKeys {
                keyids: vec![id.clone()],
                threshold: 1,
                unknown: Default::default(),
            },
        );
    }
    root.signatures.clear();
    sign(&mut root, &mallory).unwrap();
    let planted = to_portable_bytes(&root).unwrap();
    std::fs::write(r.metadata("2.root.json"), &planted).unwrap();
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/2.root.json: not part of the verified root chain");
    // Staging over it is refused too.
    let file = r.write_file("fw-2.0.0.bin", &firmware(2, 100));
    r.add(&file, FW2, "2.0.0", &[])
        .code(SECURITY)
        .stderr_has("2.root.json");
    std::fs::remove_file(r.metadata("2.root.json")).unwrap();

    // After a gap, and under a name no chain has.
    std::fs::write(r.metadata("7.root.json"), &planted).unwrap();
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/7.root.json: not part of the verified root chain: metadata/2.root.json is missing");
    std::fs::remove_file(r.metadata("7.root.json")).unwrap();
    std::fs::write(r.metadata("backup.root.json"), &planted).unwrap();
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/backup.root.json: named like a root");
    std::fs::remove_file(r.metadata("backup.root.json")).unwrap();
    r.repo("audit", &[]).ok();
}

#[test]
fn deleted_snapshot_and_role_files_are_noticed() {
    let r = Release::new("insider_deleted_files");
    r.first_release();
    refresh(&r, "online").ok();
    refresh(&r, "online").ok();
    r.repo("audit", &[]).ok();
    for (name, why) in [
        (
            "2.snapshot.json",
            "metadata/2.snapshot.json: missing, but metadata/3.snapshot.json links to it",
        ),
        (
            "1.snapshot.json",
            "metadata/1.snapshot.json: missing, but metadata/2.snapshot.json links to it",
        ),
        (
            "3.snapshot.json",
            "metadata/3.snapshot.json: missing, but timestamp.json pins it",
        ),
        (
            "1.targets.json",
            "metadata/1.targets.json: missing, but metadata/3.snapshot.json lists it",
        ),
        (
            "timestamp.json",
            "metadata/timestamp.json: missing, but snapshot version 3 was published",
        ),
    ] {
        let path = r.metadata(name);
        let kept = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        r.repo("audit", &[]).code(SECURITY).stderr_has(why);
        std::fs::write(&path, kept).unwrap();
    }
    r.repo("audit", &[]).ok();
}

#[test]
fn rewritten_log_anchored_by_a_later_publish_is_caught_by_the_earlier_anchors() {
    let r = Release::new("insider_rewrite_then_publish");
    r.first_release();
    stage_second_release(&r);
    // Line 2 records staging release 1's image; the insider changes its
    // size and recomputes the chain, which is then consistent again.
    let mut lines = log_lines(&r);
    assert!(
        lines[1].contains("\"detail\":\"add 5000 bytes\""),
        "{}",
        lines[1]
    );
    lines[1] = lines[1].replace("add 5000 bytes", "add 4000 bytes");
    let forged_head = write_recomputed(&r, &lines);

    // Nothing anchors the rewritten log: staging and publishing refuse.
    let file = r.write_file("fw-3.0.0.bin", &firmware(3, 100));
    r.add(&file, "board-a/fw-3.0.0.bin", "3.0.0", &[])
        .code(SECURITY)
        .stderr_has("metadata/1.targets.json records hash");
    r.publish()
        .code(SECURITY)
        .stderr_has("the log was rewritten");
    assert_eq!(r.timestamp_version(), 1);

    // The online key holder anchors it anyway, in a snapshot made by hand
    // (as an earlier fwsign would have): the anchors the approvers signed
    // in targets v1 still disagree.
    let online = private(&r, "online");
    let prev = sha256_hex(&read(&r, "1.snapshot.json"));
    std::fs::copy(r.metadata("1.snapshot.json"), r.metadata("2.snapshot.json")).unwrap();
    resign_snapshot(&r, 2, &online, |s| {
        s.version = 2;
        s.unknown.insert("x-fwsign-audit-head".into(), forged_head);
        s.unknown
            .insert("x-fwsign-prev-snapshot".into(), prev.into());
    });
    forge_timestamp(&r, 2, &online);
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("audit.log:2: metadata/1.targets.json records hash");
}

#[test]
fn old_snapshot_resigned_with_a_rotated_out_key_is_refused() {
    let (r, _, _) = history_with_rotation("insider_rotated_out_key");
    let old = private(&r, "online");
    let names: Vec<String> = (1..=5)
        .map(|v| format!("{v}.snapshot.json"))
        .chain(["timestamp.json".to_owned()])
        .collect();
    let keep: Vec<(String, Vec<u8>)> = names.iter().map(|n| (n.clone(), read(&r, n))).collect();

    // Snapshot 2 re-signed with the old key, its anchor moved back to line 1
    // (so lines after it could be rewritten): snapshot 3's link breaks.
    let lines = log_lines(&r);
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    resign_snapshot(&r, 2, &old, |s| {
        s.unknown.insert(
            "x-fwsign-audit-head".into(),
            json!({"line": 1, "sha256": first["hash"]}),
        );
    });
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/2.snapshot.json: changed after it was published")
        .stderr_has("metadata/3.snapshot.json records");

    // Every snapshot re-signed with the old key, links recomputed, under
    // root v1 (and a timestamp from the online timestamp key, which was not
    // rotated): the live snapshot does not verify under root v2.
    let mut prev: Option<String> = None;
    for version in 1..=5u64 {
        let bytes = resign_snapshot(&r, version, &old, |s| {
            s.unknown.insert("x-fwsign-root-version".into(), 1.into());
            if let Some(p) = prev.take() {
                s.unknown.insert("x-fwsign-prev-snapshot".into(), p.into());
            }
        });
        prev = Some(sha256_hex(&bytes));
    }
    forge_timestamp(&r, 5, &old);
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/5.snapshot.json: does not verify as the snapshot timestamp.json pins, under root v2");

    // A new snapshot 6 going back to root v1, correctly linked, with its
    // timestamp: clients and `repo audit` refuse it under root v2, and the
    // next publish, which accepts a live state one root behind (what a
    // publish interrupted after writing its root leaves), refuses it by
    // the root-version order.
    for (name, bytes) in keep {
        std::fs::write(r.metadata(&name), bytes).unwrap();
    }
    let file = r.write_file("fw-3.0.0.bin", &firmware(3, 100));
    r.add(&file, "board-a/fw-3.0.0.bin", "3.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    let prev = sha256_hex(&read(&r, "5.snapshot.json"));
    std::fs::copy(r.metadata("5.snapshot.json"), r.metadata("6.snapshot.json")).unwrap();
    resign_snapshot(&r, 6, &old, |s| {
        s.version = 6;
        s.unknown.insert("x-fwsign-root-version".into(), 1.into());
        s.unknown
            .insert("x-fwsign-prev-snapshot".into(), prev.into());
        s.unknown
            .insert("x-fwsign-prev-snapshot-version".into(), 5.into());
    });
    forge_timestamp(&r, 6, &old);
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/6.snapshot.json: does not verify as the snapshot timestamp.json pins, under root v2");
    publish_with(&r, "online2")
        .code(SECURITY)
        .stderr_has("metadata/6.snapshot.json: names root v1, older than the root v2 the earlier metadata/5.snapshot.json names");
}

#[test]
fn truncation_after_the_last_anchor_is_caught_by_expect_head() {
    let r = Release::new("insider_truncated_tail");
    r.first_release();
    stage_second_release(&r);
    // What a CI job keeps outside the repository after its run.
    let (run, head) = audit_head(&r, &[]);
    run.ok();
    let expect = format!(
        "{}:{}",
        head["head"]["line"],
        head["head"]["sha256"].as_str().unwrap()
    );

    // Cut back to the head the published snapshot records: every anchor in
    // signed, published metadata still matches, so only the witness tells.
    let anchored = signed_field(&r, "1.snapshot.json", "x-fwsign-audit-head");
    let keep = anchored["line"].as_u64().unwrap() as usize;
    let lines = log_lines(&r);
    assert!(keep < lines.len());
    let mut text = lines[..keep].join("\n");
    text.push('\n');
    std::fs::write(r.dir.join("audit.log"), text).unwrap();
    r.repo("audit", &[]).ok();
    r.repo("audit", &["--expect-head", &expect])
        .code(SECURITY)
        .stderr_has("--expect-head records audit line")
        .stderr_has("truncated");
    r.repo("audit", &["--expect-head", "3:xyz"]).code(USAGE);
    // The release staged over the lost lines cannot be published either:
    // its approved anchor names a line the log no longer has.
    r.publish()
        .code(SECURITY)
        .stderr_has("targets v2 (being published)");
}

#[test]
fn snapshot_from_before_the_chain_is_reported_unchained_not_a_fault() {
    let r = Release::new("insider_unchained");
    r.first_release();
    // What an fwsign from before the snapshot chain published.
    let online = private(&r, "online");
    resign_snapshot(&r, 1, &online, |s| {
        s.unknown.remove("x-fwsign-root-version");
    });
    forge_timestamp(&r, 1, &online);
    r.repo("audit", &[])
        .ok()
        .stderr_has("metadata/1.snapshot.json: unchained");
    // The next publish links to it; the walk stops there, with the warning.
    stage_second_release(&r);
    r.publish().ok();
    r.repo("audit", &[])
        .ok()
        .stderr_has("1 snapshot(s) chained")
        .stderr_has("metadata/1.snapshot.json: unchained");
}

/// Not an attack: the one state publish and refresh accept and `repo audit`
/// does not (the live snapshot one root behind). A publish killed after
/// writing a root that replaces the snapshot key must still be finishable.
#[test]
fn publish_interrupted_after_writing_a_rotated_root_can_be_finished() {
    let mut r = Release::new("insider_interrupted_rotation");
    r.generate_key("online2");
    r.first_release();
    let add = format!("snapshot={}", Release::arg(&r.public("online2")));
    let remove = format!("snapshot={}", r.keyid("online"));
    r.repo("rotate-root", &["--add-key", &add, "--remove-key", &remove])
        .ok();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    let (s, t) = (r.key("online2"), r.key("online"));
    let args = [
        "--snapshot-key",
        Release::arg(&s),
        "--timestamp-key",
        Release::arg(&t),
    ];
    r.repo_env(
        "publish",
        &args,
        &[("FWSIGN_TEST_CRASH_AT", "metadata-written")],
    )
    .killed();
    assert!(r.metadata("2.root.json").is_file());
    // Clients that fetch root v2 now refuse snapshot v1, and so does audit.
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/1.snapshot.json: does not verify as the snapshot timestamp.json pins, under root v2");
    // Root v2 is live once written, so its staging was cleared: a refresh
    // (or the next publish) signs the snapshot under it. A publish with
    // nothing staged says so and succeeds (exit 0, nothing written).
    publish_with(&r, "online2")
        .ok()
        .stderr_has("nothing is staged");
    // Until then status and verify name the interrupted publish.
    r.repo("status", &[])
        .code(SECURITY)
        .stderr_has("[publish-interrupted]");
    r.repo("verify", &[])
        .code(SECURITY)
        .stderr_has("publish-interrupted");
    refresh(&r, "online2").ok();
    r.repo("audit", &[])
        .ok()
        .stderr_has("root chain v1 to v2, 2 snapshot(s) chained");
    r.repo("verify", &[]).ok();
}

#[test]
fn older_timestamp_put_back_is_noticed_or_caught_by_expect_head() {
    let r = Release::new("insider_timestamp_rollback");
    r.first_release();
    let pins_1 = read(&r, "timestamp.json");
    refresh(&r, "online").ok();
    let pins_2 = read(&r, "timestamp.json");
    refresh(&r, "online").ok();
    let (run, head) = audit_head(&r, &[]);
    run.ok();
    let expect = format!(
        "{}:{}",
        head["head"]["line"],
        head["head"]["sha256"].as_str().unwrap()
    );

    // An older timestamp.json (from git history, a backup, the CDN) put
    // back: the newer snapshots' anchors would stop counting.
    std::fs::write(r.metadata("timestamp.json"), &pins_1).unwrap();
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/3.snapshot.json: newer than snapshot v1, which timestamp.json pins");

    // One snapshot back looks like a publish interrupted after writing its
    // snapshot, whose anchor still counts: a rewrite below it is caught.
    std::fs::write(r.metadata("timestamp.json"), &pins_2).unwrap();
    r.repo("audit", &[]).ok();
    let mut lines = log_lines(&r);
    let refresh_line = lines
        .iter()
        .position(|l| l.contains("\"action\":\"refresh\""))
        .unwrap();
    lines[refresh_line] = lines[refresh_line].replace("timestamp v2", "timestamp v9");
    write_recomputed(&r, &lines);
    r.repo("audit", &[])
        .code(SECURITY)
        .stderr_has("metadata/3.snapshot.json records hash");

    // With that snapshot deleted too, nothing signed in the repository
    // mentions the rewritten lines any more: the head kept outside does.
    std::fs::remove_file(r.metadata("3.snapshot.json")).unwrap();
    r.repo("audit", &[]).ok();
    r.repo("audit", &["--expect-head", &expect])
        .code(SECURITY)
        .stderr_has("--expect-head records hash");
}
