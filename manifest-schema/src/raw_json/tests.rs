//! `custom` as canonical text gives the bytes the `Value` tree gave, reads
//! and refuses what the tree path reads and refuses, and still works with
//! serializers and deserializers that know nothing of the hand-off.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::RawJson;
use crate::Error;
use crate::canonical::{to_canonical_bytes, to_canonical_vec, to_portable_bytes, to_portable_json};
use crate::firmware::FirmwareInfo;
use crate::metadata::{Signed, TargetFile, Targets};
use crate::parse::{ParseError, parse_json, typed_from_slice};

/// A targets document with one target whose `custom` is `custom` (JSON text
/// as another tool may write it), indented and with keys out of order.
fn document(custom: &str) -> String {
    format!(
        "{{\n  \"signed\": {{\n    \"version\": 3, \"_type\": \"targets\", \"spec_version\": \"1.0.31\",\n    \
         \"expires\": \"2030-01-01T00:00:00Z\",\n    \"targets\": {{\n      \"fw.bin\": {{\n        \
         \"length\": 4, \"custom\": {custom},\n        \"hashes\": {{\"sha256\": \"00\"}}\n      }}\n    }}\n  }},\n  \
         \"signatures\": []\n}}\n"
    )
}

/// Reads `text` as a targets document and checks every form fwsign writes
/// against the oracle: the same forms of the strict reader's `Value` tree.
fn assert_as_the_tree_writes(text: &str) -> Signed<Targets> {
    let tree = parse_json(text.as_bytes()).unwrap();
    let doc = Signed::<Targets>::from_json_slice(text.as_bytes()).unwrap();
    assert_eq!(
        doc.to_canonical_json().unwrap(),
        to_canonical_vec(&tree).unwrap(),
        "{text}"
    );
    assert_eq!(
        doc.signed_bytes().unwrap(),
        to_canonical_vec(&tree["signed"]).unwrap()
    );
    assert_eq!(
        to_portable_bytes(&doc).unwrap(),
        to_portable_json(&tree).unwrap()
    );
    // The tree path reads the same document.
    assert_eq!(Signed::<Targets>::from_value(tree.clone()).unwrap(), doc);
    // And a serializer that does not know the hand-off gets the value.
    assert_eq!(serde_json::to_value(&doc).unwrap(), tree);
    doc
}

#[test]
fn odd_custom_gives_the_canonical_bytes_the_tree_gave() {
    for custom in [
        // Nested, unknown fields, keys out of order, whitespace.
        r#"{ "z": [1, {"b": null, "a": [true, false]}], "fwsign": {"version": "1.0.0",
            "security_counter": 2, "hardware_ids": ["a"], "x-future": {"n": -9223372036854775808}},
            "other-tool": {"deep": [[[[]]]], "max": 18446744073709551615} }"#,
        // Escapes: \u, surrogate pairs, control characters (raw in canonical
        // JSON, escaped in the portable form), quote and backslash.
        r#"{"s": "caf\u00e9 \ud83d\ude00 \n\t\r\u0001\u001f \" \\ \/ é😀", "\u00e9": 1, "e": 2}"#,
        // Control characters raw in the text, as canonical JSON has them.
        "{\"pem\":\"-----BEGIN\nabc\n\u{1}\"}",
        // Canonical already (taken as it stands).
        r#"{"a":{"b":[1,-2,"x\"y\\"]},"c":null}"#,
        // Not an object: custom is whatever JSON the tool put there.
        r#"[1, "two", {"three": 3}]"#,
        r#""just a string""#,
        "7",
        "{}",
    ] {
        let text = document(custom);
        // The streaming reader, not the tree path, read it.
        assert!(
            typed_from_slice::<Signed<Targets>>(text.as_bytes()).is_some(),
            "{text}"
        );
        let doc = assert_as_the_tree_writes(&text);
        let raw = doc.signed.targets["fw.bin"].custom.clone().unwrap();
        let tree = parse_json(custom.as_bytes()).unwrap();
        assert_eq!(raw.as_str().as_bytes(), to_canonical_vec(&tree).unwrap());
        assert_eq!(raw.to_value().unwrap(), tree);
    }
}

#[test]
fn null_custom_is_read_as_absent_as_before() {
    // As `Option<Value>` read it: `null` is `None`, and not written back.
    let text = document("null");
    let doc = Signed::<Targets>::from_json_slice(text.as_bytes()).unwrap();
    assert_eq!(doc.signed.targets["fw.bin"].custom, None);
    let mut tree = parse_json(text.as_bytes()).unwrap();
    let entry = tree["signed"]["targets"]["fw.bin"].as_object_mut().unwrap();
    entry.remove("custom");
    assert_eq!(
        doc.to_canonical_json().unwrap(),
        to_canonical_vec(&tree).unwrap()
    );
}

/// Attack: a custom object with a key twice. One reader keeping the first
/// and another the last would see different firmware fields under one
/// signature; the strict reader refuses the document, on both paths.
#[test]
fn a_duplicate_key_inside_custom_is_refused() {
    for custom in [
        r#"{"fwsign": {"version": "1.0.0"}, "fwsign": {"version": "9.0.0"}}"#,
        // Canonical spelling otherwise, which the canonical reader checks.
        r#"{"a":1,"a":1}"#,
        r#"{"x":{"a":1,"a":2}}"#,
        // The same key spelt with an escape.
        r#"{"a\u0062": 1, "ab": 2}"#,
    ] {
        let text = document(custom);
        assert!(typed_from_slice::<Signed<Targets>>(text.as_bytes()).is_none());
        let err = Signed::<Targets>::from_json_slice(text.as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::Parse(ParseError::DuplicateKey { .. })),
            "{custom}: {err}"
        );
        assert!(RawJson::from_json(custom.as_bytes()).is_err());
    }
}

#[test]
fn what_the_tree_path_refuses_inside_custom_is_refused() {
    for (custom, expected) in [
        (r#"{"n": 1.5}"#, "not an integer"),
        (r#"{"n": 1e3}"#, "not an integer"),
        (r#"{"n": -0.0}"#, "not an integer"),
        (r#"{"n": 18446744073709551616}"#, "outside the i64"),
        (r#"{"s": "\ud800"}"#, "surrogate"),
        (r#"{"s": "\x"}"#, "escape"),
        (r#"{"n": 01}"#, "invalid JSON"),
        (r#"{"a": 1,}"#, "invalid JSON"),
    ] {
        let text = document(custom);
        let err = Signed::<Targets>::from_json_slice(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{custom}: {err}");
    }
}

#[test]
fn nesting_inside_custom_counts_towards_the_document_limit() {
    // custom sits at depth 5: envelope, signed, targets, entry, custom.
    let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    // 124 levels reach depth 128, the limit: read (past the canonical
    // reader's own limit, so through the strict reader), and written back.
    let deepest = assert_as_the_tree_writes(&document(&nested(124)));
    assert!(
        deepest.signed.targets["fw.bin"]
            .firmware()
            .unwrap()
            .is_none()
    );
    // 33 levels, canonical, is past the canonical reader's limit only.
    assert_as_the_tree_writes(&document(&nested(33)));
    let err = Signed::<Targets>::from_json_slice(document(&nested(125)).as_bytes()).unwrap_err();
    assert!(
        matches!(err, Error::Parse(ParseError::TooDeep { .. })),
        "{err}"
    );
}

fn target_with(custom: Value) -> TargetFile {
    TargetFile {
        length: 1,
        hashes: [("sha256".to_owned(), "00".to_owned())].into(),
        custom: Some(RawJson::from_value(&custom).unwrap()),
        unknown: Default::default(),
    }
}

#[test]
fn firmware_fields_are_read_and_set_keeping_other_custom_fields() {
    let fwsign = json!({"hardware_ids": ["evc-a1"], "version": "1.2.0", "security_counter": 3,
                        "x-later": {"k": [1]}});
    let mut target = target_with(json!({"fwsign": fwsign, "other": {"b": 1, "a": "\n"}}));
    let info = target.firmware().unwrap().unwrap();
    assert_eq!(
        info,
        serde_json::from_value::<FirmwareInfo>(fwsign).unwrap()
    );

    let mut newer = info.clone();
    newer.security_counter = 4;
    target.set_firmware(&newer).unwrap();
    assert_eq!(target.firmware().unwrap(), Some(newer.clone()));
    assert_eq!(
        target.custom.as_ref().unwrap().to_value().unwrap()["other"],
        json!({"a": "\n", "b": 1})
    );

    // No custom: the firmware fields make one.
    let mut bare = TargetFile {
        custom: None,
        ..target.clone()
    };
    assert_eq!(bare.firmware().unwrap(), None);
    bare.set_firmware(&newer).unwrap();
    assert_eq!(bare.firmware().unwrap(), Some(newer));

    // Malformed firmware fields are an error naming them, as before.
    let bad = target_with(json!({"fwsign": {"version": 1}}));
    let err = bad.firmware().unwrap_err().to_string();
    assert!(
        err.starts_with("not valid TUF metadata: custom.fwsign:"),
        "{err}"
    );
    assert!(target_with(json!({"fwsign": "x"})).firmware().is_err());
    // custom that is not an object has no firmware fields, and takes none.
    let mut list = target_with(json!([1]));
    assert_eq!(list.firmware().unwrap(), None);
    assert!(list.set_firmware(&info).is_err());
}

#[test]
fn floats_are_refused_when_made_from_a_tree() {
    assert!(RawJson::from_value(&json!({"a": 1.5})).is_err());
    let mut custom = RawJson::from_value(&json!({})).unwrap();
    assert!(custom.insert("a", json!(0.5)).is_err());
    // A tree that already holds a float is refused on the tree path too,
    // where the canonical writer used to refuse it later.
    let mut tree = parse_json(document("{}").as_bytes()).unwrap();
    tree["signed"]["targets"]["fw.bin"]["custom"] = json!({"f": 2.5});
    assert!(Signed::<Targets>::from_value(tree).is_err());
}

#[test]
fn other_serializers_and_deserializers_see_a_json_value() {
    let value = json!({"b": ["\u{1}", -1], "a": {"é": null}});
    let raw = RawJson::from_value(&value).unwrap();
    assert_eq!(serde_json::to_value(&raw).unwrap(), value);
    let text = serde_json::to_string(&raw).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    assert_eq!(serde_json::from_str::<RawJson>(&text).unwrap(), raw);
    assert_eq!(
        serde_json::from_value::<RawJson>(value.clone()).unwrap(),
        raw
    );
    // Nested in a type written by the canonical writer, and alone.
    assert_eq!(
        to_canonical_bytes(&raw).unwrap(),
        to_canonical_vec(&value).unwrap()
    );
    assert_eq!(
        to_portable_bytes(&vec![raw.clone(), raw]).unwrap(),
        to_portable_json(&json!([value, value])).unwrap()
    );
}

/// A JSON value: the leaves and keys canonical JSON treats specially.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof!["[a-z_]{0,3}", "[\"\\\\\u{1}\n é😀a-c]{0,3}"];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        "[\"\\\\\u{0}-\u{1f}a-z é😀\u{7f}/]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any custom value, written by serde_json (escaped, in its own key
    /// order) or indented: the document's bytes are the tree's.
    #[test]
    fn any_custom_gives_the_canonical_bytes_the_tree_gave(
        // `null` is read as no custom (see above).
        custom in any_json().prop_filter("not null", |v| !v.is_null())
    ) {
        for text in [
            serde_json::to_string(&custom).unwrap(),
            serde_json::to_string_pretty(&custom).unwrap(),
            String::from_utf8(to_canonical_vec(&custom).unwrap()).unwrap(),
            String::from_utf8(to_portable_json(&custom).unwrap()).unwrap(),
        ] {
            assert_as_the_tree_writes(&document(&text));
        }
    }
}
