//! The streaming writer against the reference: `write_canonical` (and the
//! portable form) over `serde_json::to_value` of the same value.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use crate::canonical::{
    CanonicalError, to_canonical_bytes, to_canonical_vec, to_portable_bytes, to_portable_json,
};
use crate::metadata::{Signed, Targets};

fn reference<T: Serialize>(value: &T) -> (Vec<u8>, Vec<u8>) {
    let tree = serde_json::to_value(value).unwrap();
    (
        to_canonical_vec(&tree).unwrap(),
        to_portable_json(&tree).unwrap(),
    )
}

fn assert_same<T: Serialize>(value: &T) {
    let (canonical, portable) = reference(value);
    assert_eq!(to_canonical_bytes(value).unwrap(), canonical);
    assert_eq!(to_portable_bytes(value).unwrap(), portable);
}

fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        "[a-z_]{0,4}",
        "[\"\\\\\u{1}\n é😀a-c]{0,3}",
        Just("\"".to_owned()),
        Just("#".to_owned()),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        "[\"\\\\\u{0}-\u{1f}a-z é😀\u{7f}]{0,6}".prop_map(Value::String),
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
    #[test]
    fn any_json_value_writes_the_reference_bytes(value in any_json()) {
        let (canonical, portable) = reference(&value);
        prop_assert_eq!(to_canonical_bytes(&value).unwrap(), canonical);
        prop_assert_eq!(to_portable_bytes(&value).unwrap(), portable);
    }
}

#[test]
fn struct_fields_out_of_order_and_flattened_members_are_sorted() {
    #[derive(Serialize)]
    struct Inner {
        z: u8,
        a: Vec<i32>,
        #[serde(flatten)]
        rest: BTreeMap<String, Value>,
    }
    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(u8, String),
        Struct { y: u8, b: u8 },
    }
    #[derive(Serialize)]
    struct Outer {
        version: u64,
        inner: Inner,
        shapes: Vec<Shape>,
        bytes: serde_bytes_like::Bytes,
        none: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        #[serde(flatten)]
        unknown: BTreeMap<String, Value>,
    }
    mod serde_bytes_like {
        pub(super) struct Bytes(pub(super) Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }
    let value = Outer {
        version: 7,
        inner: Inner {
            z: 1,
            a: vec![-1, 2],
            rest: [("m".to_owned(), json!({"q": [1, {"b": 2, "a": 1}]}))].into(),
        },
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(3),
            Shape::Tuple(4, "x\n".into()),
            Shape::Struct { y: 5, b: 6 },
        ],
        bytes: serde_bytes_like::Bytes(vec![0, 255]),
        none: None,
        skipped: None,
        unknown: [
            ("a-first".to_owned(), json!("\"\\")),
            ("zz".to_owned(), json!(null)),
        ]
        .into(),
    };
    assert_same(&value);
}

#[test]
fn a_flattened_key_repeating_a_field_keeps_the_last_as_a_map_does() {
    #[derive(Serialize)]
    struct Doc {
        version: u64,
        #[serde(flatten)]
        unknown: BTreeMap<String, Value>,
    }
    let doc = Doc {
        version: 1,
        unknown: [("version".to_owned(), json!(2)), ("a".to_owned(), json!(0))].into(),
    };
    assert_same(&doc);
    assert_eq!(to_canonical_bytes(&doc).unwrap(), br#"{"a":0,"version":2}"#);
}

#[test]
fn floats_are_refused_and_non_finite_ones_are_null() {
    assert_eq!(
        to_canonical_bytes(&json!({"a": 1.5})),
        Err(CanonicalError::Float("1.5".into()))
    );
    assert_eq!(
        to_canonical_bytes(&2.5f64),
        Err(CanonicalError::Float("2.5".into()))
    );
    assert_eq!(to_canonical_bytes(&f64::NAN).unwrap(), b"null");
    assert_eq!(
        to_canonical_bytes(&[i64::MIN]).unwrap(),
        b"[-9223372036854775808]"
    );
    assert_eq!(
        to_canonical_bytes(&u64::MAX).unwrap(),
        b"18446744073709551615"
    );
}

#[test]
fn map_keys_that_are_not_strings_are_written_as_serde_json_writes_them() {
    let by_number: BTreeMap<u32, &str> = [(10, "b"), (9, "a")].into();
    assert_same(&by_number);
    assert_eq!(
        to_canonical_bytes(&by_number).unwrap(),
        br#"{"10":"b","9":"a"}"#
    );
    let by_list: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
    assert!(matches!(
        to_canonical_bytes(&by_list),
        Err(CanonicalError::Serialize(_))
    ));
}

#[test]
fn a_targets_document_with_unknown_fields_writes_the_reference_bytes() {
    let text = br#"{"signatures":[{"keyid":"ab","sig":"cd","x-extra":1}],
      "signed":{"_type":"targets","spec_version":"1.0.31","version":3,
      "expires":"2030-01-01T00:00:00Z","x-top":{"k":[1,2]},
      "targets":{"b.bin":{"length":1,"hashes":{"sha256":"00"},"custom":{"fwsign":
        {"hardware_ids":["h"],"version":"1.0.0","security_counter":1},"other":"\u0001"}},
        "a.bin":{"length":2,"hashes":{"sha512":"11","sha256":"22"},"z-unknown":true}},
      "delegations":{"keys":{},"roles":[{"name":"r","keyids":[],"threshold":1,
        "terminating":false,"paths":["x/*"],"x-role":0}],"succinct_roles":null}},
      "x-envelope":"e"}"#;
    let doc = Signed::<Targets>::from_json_slice(text).unwrap();
    assert_same(&doc);
    assert_same(&doc.signed);
}
