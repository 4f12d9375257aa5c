//! The streaming reader agrees with the tree path wherever it accepts, and
//! refuses what the tree path refuses.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{from_canonical, from_slice};
use crate::canonical::CanonicalBuf;
use crate::parse::parse_json;

/// Whenever the fast path accepts, the tree path accepts the same value.
fn agrees(text: &[u8]) {
    if let Some(fast) = from_slice::<Value>(text) {
        assert_eq!(
            Some(fast),
            parse_json(text).ok(),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn reads_what_python_tuf_writes() {
    let text = "{\n  \"b\": [1, -2, {}],\n  \"a\": \"caf\\u00e9 \\ud83d\\ude00\\n\", \"c\": null, \"d\": [true, false]\n}\n";
    assert_eq!(
        from_slice::<Value>(text.as_bytes()),
        Some(json!({"a": "café 😀\n", "b": [1, -2, {}], "c": null, "d": [true, false]}))
    );
}

/// A role read from its validated canonical bytes is the role read from
/// its file: firmware and other `custom` fields (kept as canonical text),
/// unknown fields at every level, escapes, delegations.
#[test]
fn a_validated_role_reads_as_its_file_does() {
    use crate::metadata::{Signed, Targets};
    let hex = "ab".repeat(32);
    let text = format!(
        r#"{{"signatures":[{{"keyid":"{hex}","sig":"00"}}],"signed":{{"_type":"targets","delegations":{{"keys":{{}},"roles":[{{"keyids":[],"name":"bins-0","path_hash_prefixes":["0"],"terminating":true,"threshold":1}}]}},"expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{{"a\"b.bin":{{"custom":{{"fwsign":{{"hardware_ids":["evc"],"security_counter":1,"version":"1.0.0"}},"other":{{"deep":[[1,{{"x":null}}]]}}}},"hashes":{{"sha256":"{hex}"}},"length":5,"x-tool":[1,"two"]}},"plain.bin":{{"hashes":{{"sha256":"{hex}","sha512":"{hex}{hex}"}},"length":0}}}},"version":3,"x-top":{{"k":"v"}}}}}}"#
    );
    let buf = CanonicalBuf::new(text.clone().into_bytes()).unwrap();
    let validated = Signed::<Targets>::from_canonical(&buf).unwrap();
    assert_eq!(
        validated,
        Signed::<Targets>::from_json_slice(text.as_bytes()).unwrap()
    );
    assert_eq!(validated.signed.targets.len(), 2);
    // The fast reading took it (a refusal there would fall back and hide
    // a difference).
    assert!(from_canonical::<Signed<Targets>>(&buf).is_some());
}

#[test]
fn refuses_what_the_tree_path_refuses() {
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    for text in [
        r#"{"a": 1, "a": 2}"#,
        r#"{"a\u0062": 1, "ab": 2}"#,
        r#""\ud800""#,
        r#"[1.0]"#,
        r#"[1e3]"#,
        r#"[18446744073709551616]"#,
        r#"[-9223372036854775809]"#,
        r#"[01]"#,
        r#"{"a":1}x"#,
        r#"{"a":1,}"#,
        r#"[1,]"#,
        r#"[,1]"#,
        r#"{,"a":1}"#,
        r#"{"a" 1}"#,
        r#"{"a":1 "b":2}"#,
        "\"\\x\"",
        "",
        &deep,
    ] {
        assert!(from_slice::<Value>(text.as_bytes()).is_none(), "{text}");
        assert!(parse_json(text.as_bytes()).is_err(), "{text}");
    }
    assert!(from_slice::<Value>(b"\"\x01\xff\"").is_none());
    assert!(parse_json(b"\"\x01\xff\"").is_err());
    // A duplicate among many keys (the set, not the list) is found too.
    let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
    assert!(from_slice::<Value>(format!("{{{many}\"k39\":0}}").as_bytes()).is_none());
    agrees(format!("{{{many}\"k40\":0}}").as_bytes());
    // Keys in increasing order are compared with the last only; a repeat
    // of any earlier one, spelled plainly or escaped, is still found, in
    // small and large objects.
    let sorted: String = (0..100).map(|i| format!("\"a{i:03}\":{i},")).collect();
    for repeat in ["a050", "a099", "a000", "\\u0061050"] {
        let text = format!("{{{sorted}\"{repeat}\":0}}");
        assert!(from_slice::<Value>(text.as_bytes()).is_none(), "{repeat}");
        assert!(parse_json(text.as_bytes()).is_err(), "{repeat}");
    }
    for text in [r#"{"b":1,"a":2,"b":3}"#, r#"{"a":1,"b":2,"\u0061":3}"#] {
        assert!(from_slice::<Value>(text.as_bytes()).is_none(), "{text}");
    }
    for text in [
        format!("{{{sorted}\"a100\":0}}"),
        format!("{{{sorted}\"0\":0}}"),
        r#"{"b":1,"a":2,"c":3}"#.to_owned(),
    ] {
        assert!(from_slice::<Value>(text.as_bytes()).is_some(), "{text}");
        agrees(text.as_bytes());
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        "[\"\\\\\u{0}-\u{1f}a-z é😀]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("[a-c\"\\\\]{0,3}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_value_reads_back_through_the_fast_path(value in any_json()) {
        for text in [
            serde_json::to_vec(&value).unwrap(),
            serde_json::to_vec_pretty(&value).unwrap(),
            crate::canonical::to_canonical_vec(&value).unwrap(),
        ] {
            prop_assert_eq!(from_slice::<Value>(&text), Some(value.clone()));
            // Read as a validated canonical document, where it is one.
            if let Ok(buf) = CanonicalBuf::new(text.clone()) {
                prop_assert_eq!(from_canonical::<Value>(&buf), Some(value.clone()));
            }
            // And the canonicaliser, fast path or not, agrees with the tree.
            prop_assert_eq!(
                crate::canonical::canonicalize(&text).unwrap(),
                crate::canonical::to_canonical_vec(&value).unwrap()
            );
        }
    }

    #[test]
    fn mangled_text_is_never_read_differently(
        value in any_json(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut text = serde_json::to_vec(&value).unwrap();
        let at = cut.index(text.len());
        text.insert(at, byte);
        agrees(&text);
        if let Ok(buf) = CanonicalBuf::new(text.clone()) {
            prop_assert_eq!(from_canonical::<Value>(&buf), from_slice::<Value>(&text));
        }
        let tree = parse_json(&text).ok().map(|v| crate::canonical::to_canonical_vec(&v).unwrap());
        prop_assert_eq!(crate::canonical::canonicalize(&text).ok(), tree);
        text.truncate(at);
        agrees(&text);
    }
}
