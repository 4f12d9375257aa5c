//! The published state is loaded once and verified as a client verifies it
//! (issue 13): a repository whose published files were changed, planted or
//! deleted is reported by `repo status` and `repo verify` with each fault
//! named, and `refresh`, `device pack` and `bundle create` refuse to build
//! on it, writing nothing. What an interrupted publish leaves is a warning,
//! not a fault. Each test is named after the attack it stops.

use std::path::PathBuf;

use fwsign_keys::PrivateKey;
use fwsign_keys::document::sign;
use fwsign_manifest_schema::canonical::to_portable_bytes;
use fwsign_manifest_schema::metadata::{RoleKeys, Root, Signed};
use fwsign_tests::{Run, SECURITY, tree};
use serde_json::Value;

use crate::release_support::{FW_NAME, Release, firmware, json};

/// `repo refresh` with the online key, everything due.
fn refresh(r: &Release) -> Run {
    let online = r.key("online");
    r.repo(
        "refresh",
        &[
            "--snapshot-key",
            Release::arg(&online),
            "--timestamp-key",
            Release::arg(&online),
            "--within",
            "400d",
        ],
    )
}

/// `fwsign [--json] device pack` of `FW_NAME` into `scratch/slot.bin`.
fn device_pack(r: &Release, json_out: bool) -> (Run, PathBuf) {
    let slot = r.scratch.join("slot.bin");
    let mut args = vec![];
    if json_out {
        args.push("--json");
    }
    args.extend([
        "device",
        "pack",
        "--repo",
        Release::arg(&r.dir),
        "--target",
        FW_NAME,
        "--slot-size",
        "0x40000",
        "--out",
        Release::arg(&slot),
    ]);
    (r.fw.run(args), slot)
}

/// `fwsign --json bundle create` of `FW_NAME` into `scratch/update.zip`.
fn bundle_create(r: &Release) -> (Run, PathBuf) {
    let bundle = r.scratch.join("update.zip");
    let run = r.fw.run([
        "--json",
        "bundle",
        "create",
        Release::arg(&r.dir),
        "--target",
        FW_NAME,
        "--out",
        Release::arg(&bundle),
    ]);
    (run, bundle)
}

/// `--json repo verify`: the run and its document.
fn verify(r: &Release) -> (Run, Value) {
    r.repo_json("verify", &[])
}

/// The `(file, reason)` of every fault in a document.
fn faults(doc: &Value) -> Vec<(String, String)> {
    doc["faults"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["file"].as_str().unwrap_or_default().to_owned(),
                        f["reason"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts `doc` is a `verify-failed` refusal naming `file` with `reason`.
#[track_caller]
fn refused_naming(doc: &Value, file: &str, reason: &str) {
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["reason"], "verify-failed", "{doc}");
    assert!(
        faults(doc).iter().any(|(f, r)| f == file && r == reason),
        "no {reason} fault for {file} in {doc}"
    );
}

/// Every command that builds on the published state refuses it, naming
/// `file` with `reason`, and writes nothing: status and verify exit 1,
/// refresh, publish, device pack and bundle create refuse with the same
/// fault.
fn everything_refuses(r: &Release, file: &str, reason: &str) {
    let before = tree(&r.dir).unwrap();
    let (run, doc) = r.repo_json("status", &[]);
    run.code(SECURITY);
    refused_naming(&doc, file, reason);
    let (run, doc) = verify(r);
    run.code(SECURITY);
    refused_naming(&doc, file, reason);
    r.repo("verify", &[]).code(SECURITY).stderr_has(file);
    refresh(r).code(SECURITY).stderr_has(file);
    r.publish().code(SECURITY).stderr_has(file);
    let (run, slot) = device_pack(r, true);
    run.code(SECURITY);
    refused_naming(&json(&run), file, reason);
    assert!(!slot.exists(), "device pack wrote a slot");
    let (run, bundle) = bundle_create(r);
    run.code(SECURITY);
    refused_naming(&json(&run), file, reason);
    assert!(!bundle.exists(), "bundle create wrote a bundle");
    let after = tree(&r.dir).unwrap();
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, b)| {
            !p.starts_with(r.dir.join("audit.log")) && !before.iter().any(|(q, c)| q == p && c == b)
        })
        .map(|(p, _)| p.clone())
        .collect();
    assert!(
        changed.is_empty(),
        "written on a failing state: {changed:?}"
    );
}

/// A `security_counter` changed by hand in a published targets file: every
/// device refuses a slot built from it, so nothing may be built from it.
#[test]
fn hand_edited_security_counter_in_published_targets_is_refused() {
    let r = Release::new("verify_hand_edited_counter");
    r.first_release();
    verify(&r).0.ok();
    let path = r.metadata("1.targets.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"security_counter\":1"), "{text}");
    std::fs::write(
        &path,
        text.replace("\"security_counter\":1", "\"security_counter\":7"),
    )
    .unwrap();
    everything_refuses(&r, "metadata/1.targets.json", "role-not-verified");
}

/// A root version planted beside the chain, signed only by a key of the
/// attacker's: clients would refuse it, so it is a fault, not the newest
/// root.
#[test]
fn planted_root_signed_only_by_a_new_key_is_refused() {
    let mut r = Release::new("verify_planted_root");
    r.first_release();
    r.generate_key("mallory");
    let pem = std::fs::read_to_string(r.key("mallory")).unwrap();
    let mallory = PrivateKey::from_pkcs8_pem(&pem, None).unwrap();
    let mut root =
        Signed::<Root>::from_json_slice(&std::fs::read(r.metadata("1.root.json")).unwrap())
            .unwrap();
    root.signed.version = 2;
    let id = mallory.public_key().keyid();
    root.signed
        .keys
        .insert(id.clone(), mallory.public_key().to_tuf_key());
    for role in ["root", "targets", "snapshot", "timestamp"] {
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
    std::fs::write(r.metadata("2.root.json"), to_portable_bytes(&root).unwrap()).unwrap();
    everything_refuses(&r, "metadata/2.root.json", "root-not-verified");
}

/// The snapshot `timestamp.json` pins, deleted: clients cannot update.
#[test]
fn deleted_snapshot_is_refused() {
    let r = Release::new("verify_deleted_snapshot");
    r.first_release();
    std::fs::remove_file(r.metadata("1.snapshot.json")).unwrap();
    everything_refuses(&r, "metadata/1.snapshot.json", "snapshot-missing");
}

/// A published target file whose bytes were replaced: clients and devices
/// refuse it; `repo verify` names it, and `device pack` and `bundle create`
/// (which hash the image) refuse it.
#[test]
fn target_file_with_replaced_bytes_is_a_fault() {
    let r = Release::new("verify_replaced_target");
    r.first_release();
    let dir = r.dir.join("targets/board-a");
    let image = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with(".fw-1.0.0.bin"))
        .unwrap();
    std::fs::write(&image, firmware(99, 5000)).unwrap();
    let (run, doc) = verify(&r);
    run.code(SECURITY);
    let file = image
        .strip_prefix(&r.dir)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    refused_naming(&doc, &file, "target-mismatch");
    let (run, slot) = device_pack(&r, false);
    run.code(SECURITY);
    assert!(!slot.exists());
    let (run, bundle) = bundle_create(&r);
    run.code(SECURITY);
    assert!(!bundle.exists());
}

/// Files slipped into `metadata/` and `targets/` that no published role
/// references (a sync would upload them; a mirror would serve them).
#[test]
fn extra_unreferenced_files_are_listed() {
    let r = Release::new("verify_extra_files");
    r.first_release();
    std::fs::write(r.metadata("notes.json"), b"{}").unwrap();
    std::fs::write(r.dir.join("targets/board-a/extra.bin"), b"extra").unwrap();
    let (run, doc) = verify(&r);
    run.code(SECURITY);
    refused_naming(&doc, "metadata/notes.json", "unreferenced-file");
    refused_naming(&doc, "targets/board-a/extra.bin", "unreferenced-file");
    // The published state itself still verifies: status is unaffected.
    r.repo("status", &[]).ok();
}

/// Not an attack: a publish killed after writing its snapshot leaves an
/// orphan no timestamp names. It is a warning; `repo verify` passes, and
/// after the next publish too.
#[test]
fn orphan_of_a_killed_publish_is_a_warning_and_verify_passes() {
    let r = Release::new("verify_orphan");
    r.first_release();
    let file = r.write_file("fw-2.0.0.bin", &firmware(2, 3000));
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish_env(&[("FWSIGN_TEST_CRASH_AT", "snapshot-written")])
        .killed();
    let (run, doc) = verify(&r);
    run.ok();
    assert_eq!(doc["ok"], true, "{doc}");
    let warnings = doc["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["file"] == "metadata/2.snapshot.json" && w["reason"] == "orphan"),
        "{doc}"
    );
    r.repo("status", &[]).ok();
    r.publish().ok();
    verify(&r).0.ok();
}

/// A freeze in the making: `repo verify --at` a time after the roles'
/// expiry names each role clients would then refuse, so a CI job sees it
/// coming; at the time of the release it passes.
#[test]
fn verify_at_a_later_time_names_every_role_that_will_have_expired() {
    let r = Release::new("verify_at_later");
    r.first_release();
    r.repo("verify", &["--at", "2000-01-01T00:00:00Z"]).ok();
    let (run, doc) = r.repo_json("verify", &["--at", "2199-01-01T00:00:00Z"]);
    run.code(SECURITY);
    for file in [
        "metadata/1.root.json",
        "metadata/timestamp.json",
        "metadata/1.snapshot.json",
        "metadata/1.targets.json",
    ] {
        refused_naming(&doc, file, "expired");
    }
    r.repo("verify", &["--at", "tomorrow"])
        .code(fwsign_tests::USAGE);
}
