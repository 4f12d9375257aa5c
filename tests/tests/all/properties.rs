//! Property tests: canonical JSON is a fixed point, signatures verify, and
//! any single changed byte of signed content fails verification.

use std::collections::BTreeMap;

use fwsign_core::key_types::BUILTIN;
use fwsign_keys::document::{CanonicalDocument, sign, verify_role};
use fwsign_keys::{Algorithm, PrivateKey, TufSigner};
use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::metadata::{Key, RoleKeys, Root, Signed, TargetFile, Targets};
use fwsign_manifest_schema::parse::parse_json;
use fwsign_manifest_schema::reader::Json;
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_canonicalize_parse_is_stable(value in json_value(), pretty in any::<bool>()) {
        // Other tools' spellings: pretty or compact, \uXXXX-escaped.
        let text = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        let parsed = parse_json(&text).unwrap();
        prop_assert_eq!(&parsed, &value);
        let canonical = to_canonical_vec(&parsed).unwrap();
        // The device reader takes the canonical bytes as they are...
        Json::parse_canonical(&canonical).unwrap();
        // ...and reading them again on the host is a fixed point.
        let again = parse_json(&canonical).unwrap();
        prop_assert_eq!(&again, &value);
        prop_assert_eq!(to_canonical_vec(&again).unwrap(), canonical);
    }
}

fn algorithms() -> impl Strategy<Value = Algorithm> {
    prop_oneof![Just(Algorithm::EcdsaP256), Just(Algorithm::Ed25519)]
}

/// A root trusting `key` alone for targets, and a targets role listing one
/// target, signed by `key`.
fn signed_pair(key: &PrivateKey, name: &str, length: u64) -> (CanonicalDocument, Signed<Targets>) {
    let mut keys: BTreeMap<String, Key> = BTreeMap::new();
    keys.insert(key.keyid(), key.public_key().to_tuf_key());
    let mut roles = BTreeMap::new();
    for r in ["root", "targets", "snapshot", "timestamp"] {
        roles.insert(
            r.to_owned(),
            RoleKeys {
                keyids: vec![key.keyid()],
                threshold: 1,
                unknown: BTreeMap::new(),
            },
        );
    }
    let root = Signed {
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
    let mut files = BTreeMap::new();
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_owned(), "00".repeat(32));
    files.insert(
        name.to_owned(),
        TargetFile {
            length,
            hashes: hashes.into(),
            custom: None,
            unknown: BTreeMap::new(),
        },
    );
    let mut targets = Signed {
        signatures: vec![],
        signed: Targets {
            type_: "targets".into(),
            spec_version: "1.0.31".into(),
            version: 1,
            expires: "2099-01-01T00:00:00Z".into(),
            targets: files,
            delegations: None,
            unknown: BTreeMap::new(),
        },
        unknown: BTreeMap::new(),
    };
    sign(&mut targets, key).unwrap();
    (CanonicalDocument::from_signed(&root).unwrap(), targets)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sign_then_verify_holds_for_both_key_types(
        alg in algorithms(),
        name in "[a-z0-9._-]{1,12}(/[a-z0-9._-]{1,12}){0,2}",
        length in any::<u64>(),
    ) {
        let key = PrivateKey::generate(alg).unwrap();
        let (root, targets) = signed_pair(&key, &name, length);
        let doc = CanonicalDocument::from_signed(&targets).unwrap();
        let report = verify_role(&root, "targets", &doc, BUILTIN).unwrap();
        prop_assert!(report.is_met());
    }

    #[test]
    fn any_flipped_byte_in_signed_fails_verification(
        alg in algorithms(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let key = PrivateKey::generate(alg).unwrap();
        let (root, targets) = signed_pair(&key, "fw/app.bin", 4096);
        let doc = CanonicalDocument::from_signed(&targets).unwrap();
        let bytes = doc.as_bytes();
        let signed = doc.envelope().unwrap().signed_bytes();
        // Offset of `signed` inside the envelope.
        let start = signed.as_ptr() as usize - bytes.as_ptr() as usize;
        let at = start + position.index(signed.len());
        let mut tampered = bytes.to_vec();
        tampered[at] ^= flip;
        // Either the bytes are no longer a document, or it no longer verifies.
        if let Ok(doc) = CanonicalDocument::from_json(&tampered)
            && let Ok(report) = verify_role(&root, "targets", &doc, BUILTIN)
        {
            prop_assert!(!report.is_met(), "flipped byte {} still verified", at);
        }
    }
}
