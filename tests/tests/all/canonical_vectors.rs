//! Golden vectors from securesystemslib's `encode_canonical`
//! (`tests/tools/make_canonical_vectors.py`): fwsign's canonical JSON must be
//! byte-identical, or no signature made by python-tuf would verify.

use base64ct::{Base64, Encoding};
use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::parse::{ParseError, parse_json};
use fwsign_manifest_schema::reader::Json;
use serde_json::Value;

use crate::peers::data;

fn vectors() -> Vec<Value> {
    let text = std::fs::read(data("canonical-json/vectors.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

fn b64(v: &Value, field: &str) -> Vec<u8> {
    Base64::decode_vec(v[field].as_str().unwrap()).unwrap()
}

#[test]
fn canonical_json_matches_securesystemslib_byte_for_byte() {
    let mut checked = 0;
    for v in vectors()
        .iter()
        .filter(|v| v.get("canonical_b64").is_some())
    {
        let name = v["name"].as_str().unwrap();
        let input = b64(v, "input_b64");
        let expected = b64(v, "canonical_b64");
        let value = parse_json(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours = to_canonical_vec(&value).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        // The device reader accepts exactly these bytes, and reading them on
        // the host again changes nothing.
        Json::parse_canonical(&expected).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            to_canonical_vec(&parse_json(&expected).unwrap()).unwrap(),
            expected
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} vectors");
}

#[test]
fn inputs_securesystemslib_mishandles_are_refused_with_a_named_error() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v.get("reject").is_some()) {
        let name = v["name"].as_str().unwrap();
        let tag = v["reject"].as_str().unwrap();
        let input = b64(v, "input_b64");
        let err = parse_json(&input).expect_err(name);
        let matches = match tag {
            "integer-out-of-range" => matches!(err, ParseError::IntegerOutOfRange { .. }),
            "float" => matches!(err, ParseError::Float { .. }),
            "duplicate-key" => matches!(err, ParseError::DuplicateKey { .. }),
            "lone-surrogate" => matches!(err, ParseError::LoneSurrogate { .. }),
            "trailing-data" => matches!(err, ParseError::TrailingData { .. }),
            "invalid-utf8" => matches!(err, ParseError::InvalidUtf8 { .. }),
            "invalid-json" => matches!(err, ParseError::UnexpectedByte { .. }),
            other => panic!("{name}: unknown reject tag {other}"),
        };
        assert!(matches, "{name}: expected {tag}, got {err:?}");
        // The device reader refuses them too.
        assert!(Json::parse_canonical(&input).is_err(), "{name}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} reject vectors");
}
