//! A repository made by python-tuf 7 (`tests/tools/make_python_tuf_repo.py`,
//! expiry 2099): fwsign reads it as published (compact JSON with `\uXXXX`
//! and `\n` escapes, not canonical), canonicalises it once and verifies
//! every role with its threshold through the same core the device runs.

use fwsign_core::key_types::BUILTIN;
use fwsign_core::verify::{Envelope, TargetsView};
use fwsign_keys::document::{CanonicalDocument, verify_role};
use fwsign_manifest_schema::metadata::{Root, Signed, Targets};
use sha2::{Digest, Sha256};

use crate::peers::data;

fn doc(name: &str) -> CanonicalDocument {
    let text = std::fs::read(data(&format!("python-tuf-repo/metadata/{name}"))).unwrap();
    CanonicalDocument::from_json(&text).unwrap()
}

#[test]
fn python_tuf_root_verifies_with_its_own_threshold() {
    let root = doc("1.root.json");
    let report = verify_role(&root, "root", &root, BUILTIN).unwrap();
    assert_eq!(report.threshold, 2);
    assert_eq!(report.valid, 2);
    assert!(report.may_still_sign.is_empty());
}

#[test]
fn python_tuf_targets_snapshot_timestamp_verify_against_root() {
    let root = doc("1.root.json");
    let targets = verify_role(&root, "targets", &doc("1.targets.json"), BUILTIN).unwrap();
    // Two of three approvers signed: threshold met, one may still sign.
    assert_eq!((targets.valid, targets.threshold), (2, 2));
    assert_eq!(targets.may_still_sign.len(), 1);
    verify_role(&root, "snapshot", &doc("1.snapshot.json"), BUILTIN)
        .unwrap()
        .require()
        .unwrap();
    verify_role(&root, "timestamp", &doc("timestamp.json"), BUILTIN)
        .unwrap()
        .require()
        .unwrap();
}

#[test]
fn python_tuf_delegated_role_verifies_against_its_delegator() {
    let targets = doc("1.targets.json");
    let board = doc("1.board-a.json");
    let report = verify_role(&targets, "board-a", &board, BUILTIN).unwrap();
    assert!(report.is_met());
    // Checked against the wrong delegator (root has no role board-a) it is
    // refused, not waved through.
    assert!(verify_role(&doc("1.root.json"), "board-a", &board, BUILTIN).is_err());
}

#[test]
fn a_role_signed_by_keys_of_another_role_does_not_verify() {
    // snapshot.json is signed by the snapshot key only; checked as targets it
    // must count zero valid signatures.
    let root = doc("1.root.json");
    let report = verify_role(&root, "targets", &doc("1.snapshot.json"), BUILTIN).unwrap();
    assert_eq!(report.valid, 0);
    assert!(report.require().is_err());
}

#[test]
fn target_and_firmware_fields_are_found_and_match_the_file() {
    let targets = doc("1.targets.json");
    let view = TargetsView::new(Envelope::parse(targets.as_bytes()).unwrap()).unwrap();
    let entry = view.target("fw/app-1.0.0.bin").unwrap().unwrap();
    let fw = entry.firmware.unwrap();
    assert!(fw.allows_hardware("evc-a1"));
    assert!(!fw.allows_hardware("evc-b2"));
    assert_eq!(fw.security_counter, 3);
    assert!(fw.version.eq_str("1.0.0"));
    let file = std::fs::read(data("python-tuf-repo/files/fw/app-1.0.0.bin")).unwrap();
    assert_eq!(entry.length, file.len() as u64);
    let digest = base16ct::lower::encode_string(&Sha256::digest(&file));
    assert!(entry.sha256.unwrap().eq_str(&digest));
    assert!(view.target("fw/absent.bin").unwrap().is_none());
}

#[test]
fn typed_parse_keeps_every_byte_python_tuf_signed() {
    // Reading into fwsign's serde types and writing back must give the same
    // canonical bytes, or re-saving a repository would break its signatures.
    for name in ["1.root.json", "1.targets.json", "1.board-a.json"] {
        let text = std::fs::read(data(&format!("python-tuf-repo/metadata/{name}"))).unwrap();
        let canonical = CanonicalDocument::from_json(&text).unwrap();
        let again = if name == "1.root.json" {
            CanonicalDocument::from_signed(&Signed::<Root>::from_json_slice(&text).unwrap())
        } else {
            CanonicalDocument::from_signed(&Signed::<Targets>::from_json_slice(&text).unwrap())
        }
        .unwrap();
        assert_eq!(canonical, again, "{name}");
    }
}
