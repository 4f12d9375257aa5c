//! Wycheproof test vectors through fwsign's signature verification
//! (`KeyType::verify`, the function every threshold check calls): ECDSA
//! P-256 with SHA-256 and DER signatures, and Ed25519.
//!
//! Every `valid` vector must be accepted and every `invalid` one refused.
//! Wycheproof marks some vectors `acceptable` (legitimate implementations
//! differ on them: BER-encoded signatures in older releases, for one);
//! fwsign's answer for each is recorded in [`ACCEPTABLE`], and a vector
//! marked `acceptable` that is not listed there fails the test, so a new
//! vector file cannot slip an unreviewed case through. The committed files
//! (`tests/data/wycheproof/`, see the README there) have none.
//!
//! P-256 keys are checked in both spellings fwsign reads: the hex SEC1 point
//! and the SubjectPublicKeyInfo PEM.

#![allow(
    clippy::unwrap_used,
    reason = "a broken vector file should fail loudly"
)]
#![allow(clippy::print_stdout, reason = "the test reports what it ran")]

use std::collections::BTreeMap;
use std::path::PathBuf;

use fwsign_core::key_types::{EcdsaP256, Ed25519, KeyType};
use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::reader::Json;
use serde_json::{Value, json};

/// fwsign's recorded answer for each `acceptable` vector: (file, tcId,
/// accepted). Empty: the committed files mark no vector acceptable (their
/// BER-encoded ECDSA signatures are `invalid`, and fwsign refuses BER).
const ACCEPTABLE: &[(&str, u64, bool)] = &[];

fn vectors(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/wycheproof")
        .join(file);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex in a vector");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Canonical JSON bytes of `value`, for the reader.
fn canonical(value: &Value) -> Vec<u8> {
    to_canonical_vec(value).unwrap()
}

/// Whether `key_type` accepts the hex signature `sig` over `msg` with the
/// key object `keyval` (`{"public": ...}`), as the threshold check calls it.
fn verifies(key_type: &dyn KeyType, keyval: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let keyval = Json::parse_canonical(keyval).unwrap();
    let sig = Json::parse_canonical(sig).unwrap().as_str().unwrap();
    key_type.verify(keyval, msg, sig).is_ok()
}

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    by_flag: BTreeMap<String, usize>,
}

/// Runs every test of `file`; `keyvals` gives the key objects to try for a
/// test group (each must give the same answer).
fn run(file: &str, key_type: &dyn KeyType, keyvals: impl Fn(&Value) -> Vec<Vec<u8>>) -> Counts {
    let doc = vectors(file);
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    let mut listed = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let keys = keyvals(group);
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let msg = hex(test["msg"].as_str().unwrap());
            let sig = canonical(&test["sig"]);
            let answers: Vec<bool> = keys
                .iter()
                .map(|k| verifies(key_type, k, &msg, &sig))
                .collect();
            let accepted = answers[0];
            if answers.iter().any(|a| *a != accepted) {
                failures.push(format!("tcId {id}: key spellings disagree: {answers:?}"));
            }
            let result = test["result"].as_str().unwrap();
            let expected = match result {
                "valid" => {
                    counts.valid += 1;
                    true
                }
                "invalid" => {
                    counts.invalid += 1;
                    false
                }
                "acceptable" => {
                    counts.acceptable += 1;
                    match ACCEPTABLE.iter().find(|(f, t, _)| *f == file && *t == id) {
                        Some((_, _, recorded)) => {
                            listed += 1;
                            *recorded
                        }
                        None => {
                            failures.push(format!(
                                "tcId {id} is acceptable and fwsign {} it: record it in ACCEPTABLE",
                                if accepted { "accepts" } else { "refuses" }
                            ));
                            accepted
                        }
                    }
                }
                other => panic!("tcId {id}: unknown result {other}"),
            };
            for flag in test["flags"].as_array().unwrap() {
                *counts
                    .by_flag
                    .entry(flag.as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
            if accepted != expected {
                failures.push(format!(
                    "tcId {id} ({result}, {}): fwsign {}",
                    test["comment"],
                    if accepted { "accepts" } else { "refuses" }
                ));
            }
        }
    }
    let total: usize = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["tests"].as_array().unwrap().len())
        .sum();
    assert_eq!(total as u64, doc["numberOfTests"].as_u64().unwrap());
    assert_eq!(
        listed,
        ACCEPTABLE.iter().filter(|(f, _, _)| *f == file).count(),
        "ACCEPTABLE lists a vector the file does not mark acceptable"
    );
    println!(
        "{file}: {total} vectors: {} valid accepted, {} invalid refused, {} acceptable (recorded); flags {:?}",
        counts.valid, counts.invalid, counts.acceptable, counts.by_flag
    );
    assert!(failures.is_empty(), "{file}:\n{}", failures.join("\n"));
    counts
}

#[test]
fn wycheproof_ecdsa_p256_sha256_der() {
    let counts = run("ecdsa_secp256r1_sha256_test.json", &EcdsaP256, |group| {
        assert_eq!(group["type"], "EcdsaVerify");
        assert_eq!(group["sha"], "SHA-256");
        let key = &group["publicKey"];
        assert_eq!(key["curve"], "secp256r1");
        vec![
            canonical(&json!({"public": key["uncompressed"]})),
            canonical(&json!({"public": group["publicKeyPem"]})),
        ]
    });
    assert!(counts.valid > 100 && counts.invalid > 200, "{counts:?}");
}

#[test]
fn wycheproof_ed25519() {
    let counts = run("ed25519_test.json", &Ed25519, |group| {
        assert_eq!(group["type"], "EddsaVerify");
        let key = &group["publicKey"];
        assert_eq!(key["curve"], "edwards25519");
        vec![canonical(&json!({"public": key["pk"]}))]
    });
    assert!(counts.valid > 50 && counts.invalid > 50, "{counts:?}");
}
