//! Threshold verification, one test per attack it stops. Each builds a
//! small root whose `targets` role needs 2 of 3 keys and attacks it.

use std::collections::BTreeMap;

use fwsign_core::key_types::{BUILTIN, EcdsaP256, KeyType};
use fwsign_core::verify::VerifyError;
use fwsign_keys::document::{CanonicalDocument, DocumentError, sign, verify_role};
use fwsign_keys::{Algorithm, PrivateKey, TufSigner};
use fwsign_manifest_schema::metadata::{Key, RoleKeys, Root, Signature, Signed, Targets};
use signature::Signer;

struct Fixture {
    approvers: Vec<PrivateKey>,
    snapshot: PrivateKey,
    root: Signed<Root>,
}

fn role(keys: &[&PrivateKey], threshold: u64) -> RoleKeys {
    RoleKeys {
        keyids: keys.iter().map(|k| k.keyid()).collect(),
        threshold,
        unknown: BTreeMap::new(),
    }
}

fn fixture() -> Fixture {
    let approvers = vec![
        PrivateKey::generate(Algorithm::EcdsaP256).unwrap(),
        PrivateKey::generate(Algorithm::Ed25519).unwrap(),
        PrivateKey::generate(Algorithm::EcdsaP256).unwrap(),
    ];
    let root_key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let snapshot = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let mut keys: BTreeMap<String, Key> = BTreeMap::new();
    for k in approvers.iter().chain([&root_key, &snapshot]) {
        keys.insert(k.keyid(), k.public_key().to_tuf_key());
    }
    let mut roles = BTreeMap::new();
    roles.insert("root".into(), role(&[&root_key], 1));
    roles.insert(
        "targets".into(),
        role(&approvers.iter().collect::<Vec<_>>(), 2),
    );
    roles.insert("snapshot".into(), role(&[&snapshot], 1));
    roles.insert("timestamp".into(), role(&[&snapshot], 1));
    let mut root = Signed {
        signatures: vec![],
        signed: Root {
            type_: "root".into(),
            spec_version: "1.0.31".into(),
            consistent_snapshot: true,
            version: 1,
            expires: "2099-01-01T00:00:00Z".into(),
            keys,
            roles,
            unknown: BTreeMap::new(),
        },
        unknown: BTreeMap::new(),
    };
    sign(&mut root, &root_key).unwrap();
    Fixture {
        approvers,
        snapshot,
        root,
    }
}

fn targets() -> Signed<Targets> {
    Signed {
        signatures: vec![],
        signed: Targets {
            type_: "targets".into(),
            spec_version: "1.0.31".into(),
            version: 1,
            expires: "2099-01-01T00:00:00Z".into(),
            targets: BTreeMap::new(),
            delegations: None,
            unknown: BTreeMap::new(),
        },
        unknown: BTreeMap::new(),
    }
}

fn check(root: &Signed<Root>, doc: &Signed<Targets>) -> Result<usize, DocumentError> {
    let root = CanonicalDocument::from_signed(root).unwrap();
    let doc = CanonicalDocument::from_signed(doc).unwrap();
    verify_role(&root, "targets", &doc, BUILTIN).map(|r| r.valid)
}

#[test]
fn threshold_met_by_two_distinct_approvers() {
    let f = fixture();
    let mut t = targets();
    sign(&mut t, &f.approvers[0]).unwrap();
    assert_eq!(check(&f.root, &t).unwrap(), 1);
    sign(&mut t, &f.approvers[1]).unwrap();
    assert_eq!(check(&f.root, &t).unwrap(), 2);
}

#[test]
fn duplicate_signatures_from_one_key_are_rejected() {
    // Attack: one approver's signature pasted twice to look like two.
    let f = fixture();
    let mut t = targets();
    sign(&mut t, &f.approvers[0]).unwrap();
    let copy = t.signatures[0].clone();
    t.signatures.push(copy);
    assert!(matches!(
        check(&f.root, &t),
        Err(DocumentError::Verify(VerifyError::DuplicateSignature))
    ));
}

#[test]
fn one_key_listed_under_two_keyids_counts_once() {
    // Attack: root lists one public key under a second, made-up key ID, and
    // that key signs under both names.
    let mut f = fixture();
    let alias = "alias-of-approver-0".to_owned();
    let key = f.approvers[0].public_key().to_tuf_key();
    f.root.signed.keys.insert(alias.clone(), key);
    f.root
        .signed
        .roles
        .get_mut("targets")
        .unwrap()
        .keyids
        .push(alias.clone());
    let mut t = targets();
    sign(&mut t, &f.approvers[0]).unwrap();
    let mut second = t.signatures[0].clone();
    second.keyid = alias;
    t.signatures.push(second);
    assert_eq!(check(&f.root, &t).unwrap(), 1);
}

#[test]
fn signature_by_a_key_of_another_role_is_not_counted() {
    // Attack: the online snapshot key (compromised on a server) signs the
    // offline targets role.
    let f = fixture();
    let mut t = targets();
    sign(&mut t, &f.approvers[0]).unwrap();
    sign(&mut t, &f.snapshot).unwrap();
    assert_eq!(check(&f.root, &t).unwrap(), 1);
}

#[test]
fn threshold_of_zero_is_rejected_at_parse_time() {
    // Attack: a root whose targets threshold is 0 would accept unsigned
    // targets.
    let mut f = fixture();
    f.root.signed.roles.get_mut("targets").unwrap().threshold = 0;
    let text = serde_json::to_vec(&f.root).unwrap();
    assert!(matches!(
        Signed::<Root>::from_json_slice(&text),
        Err(fwsign_manifest_schema::Error::ThresholdZero { .. })
    ));
    // And the verification core refuses it on its own.
    assert!(matches!(
        check(&f.root, &targets()),
        Err(DocumentError::Verify(VerifyError::ThresholdZero))
    ));
}

#[test]
fn signature_over_non_canonical_bytes_is_rejected() {
    // Attack surface: a signer (or a tool) that signs the pretty-printed
    // text rather than the canonical form; a verifier accepting it would
    // accept documents whose meaning depends on the parser.
    let f = fixture();
    let mut t = targets();
    let pretty = serde_json::to_vec_pretty(&t.signed).unwrap();
    for approver in &f.approvers[..2] {
        let sig = approver.try_sign(&pretty).unwrap();
        t.signatures.push(Signature {
            keyid: approver.keyid(),
            sig: base16ct::lower::encode_string(&sig.0),
            unknown: BTreeMap::new(),
        });
    }
    assert_eq!(check(&f.root, &t).unwrap(), 0);
}

#[test]
fn any_change_to_signed_content_invalidates_approvals() {
    // Attack: swapping a target after approval.
    let f = fixture();
    let mut t = targets();
    sign(&mut t, &f.approvers[0]).unwrap();
    sign(&mut t, &f.approvers[1]).unwrap();
    t.signed.version = 2;
    assert_eq!(check(&f.root, &t).unwrap(), 0);
}

#[test]
fn empty_and_malformed_signatures_are_ignored() {
    let f = fixture();
    let mut t = targets();
    sign(&mut t, &f.approvers[0]).unwrap();
    for (keyid, sig) in [
        (f.approvers[1].keyid(), String::new()),
        (f.approvers[2].keyid(), "zz-not-hex".to_owned()),
    ] {
        t.signatures.push(Signature {
            keyid,
            sig,
            unknown: BTreeMap::new(),
        });
    }
    assert_eq!(check(&f.root, &t).unwrap(), 1);
}

#[test]
fn signature_of_a_key_type_this_build_lacks_does_not_count() {
    // A verifier built with P-256 only (as a P-256-only device is) counts no
    // Ed25519 signature, and that is not an error.
    let f = fixture();
    let mut t = targets();
    sign(&mut t, &f.approvers[0]).unwrap(); // P-256
    sign(&mut t, &f.approvers[1]).unwrap(); // Ed25519
    let root = CanonicalDocument::from_signed(&f.root).unwrap();
    let doc = CanonicalDocument::from_signed(&t).unwrap();
    let p256_only: &[&dyn KeyType] = &[&EcdsaP256];
    let report = verify_role(&root, "targets", &doc, p256_only).unwrap();
    assert_eq!(report.valid, 1);
    assert!(!report.is_met());
}

#[test]
fn report_names_who_signed_and_who_may_still_sign() {
    let f = fixture();
    let mut t = targets();
    sign(&mut t, &f.approvers[2]).unwrap();
    let root = CanonicalDocument::from_signed(&f.root).unwrap();
    let doc = CanonicalDocument::from_signed(&t).unwrap();
    let report = verify_role(&root, "targets", &doc, BUILTIN).unwrap();
    assert_eq!(report.signed_by, vec![f.approvers[2].keyid()]);
    let mut missing = vec![f.approvers[0].keyid(), f.approvers[1].keyid()];
    missing.sort();
    let mut got = report.may_still_sign.clone();
    got.sort();
    assert_eq!(got, missing);
    assert!(matches!(
        report.require(),
        Err(DocumentError::Verify(VerifyError::ThresholdNotMet {
            valid: 1,
            threshold: 2
        }))
    ));
}
