//! `parse_json_vs_serde`: the host's strict JSON parser against `serde_json`.
//!
//! `parse_json` is stricter than `serde_json` on purpose, so the two are
//! compared only where both accept; where one accepts and the other refuses,
//! the reason must be one of the documented differences:
//!
//! | accepted by | refused by | why |
//! |---|---|---|
//! | `serde_json` | `parse_json` | duplicate keys, floats (fraction or exponent), integers outside the `i64` and `u64` ranges: canonical JSON cannot carry them |
//! | `parse_json` | `serde_json` | raw control characters inside strings (canonical JSON writes them raw); nesting of exactly 128 levels (`serde_json`'s recursion limit stops at 127, `parse_json`'s `MAX_DEPTH` at 128) |
//!
//! Lone surrogates are refused by both. Agreement on values: equal `serde_json::Value`s, except that `-0` is the
//! integer 0 to `parse_json` (as to Python's `json.loads`) and the float
//! `-0.0` to `serde_json`.

use fwsign_manifest_schema::parse::{MAX_DEPTH, ParseError, parse_json};
use serde_json::Value;

/// Runs both parsers over `data` and panics on a disagreement that is not
/// one of the documented ones.
pub fn parse_json_vs_serde(data: &[u8]) {
    let ours = parse_json(data);
    let theirs = serde_json::from_slice::<Value>(data);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            assert!(
                agree(&ours, &theirs),
                "parse_json and serde_json read different values: {ours:?} / {theirs:?}"
            );
            round_trip(&ours);
        }
        (Ok(ours), Err(theirs)) => {
            let text = theirs.to_string();
            let control = text.contains("control character");
            let depth = text.contains("recursion limit") && nesting(data) == MAX_DEPTH;
            assert!(
                control || depth,
                "parse_json accepted what serde_json refuses ({text}): {ours:?}"
            );
            round_trip(&ours);
        }
        (Err(ours), Ok(theirs)) => {
            assert!(
                matches!(
                    ours,
                    ParseError::DuplicateKey { .. }
                        | ParseError::Float { .. }
                        | ParseError::IntegerOutOfRange { .. }
                ),
                "parse_json refused ({ours:?}) what serde_json reads as {theirs:?}"
            );
        }
        (Err(_), Err(_)) => {}
    }
}

/// A value `parse_json` read survives serde_json's writer: both parsers read
/// the written text back to the same value (the writer escapes control
/// characters, so `serde_json` accepts it).
fn round_trip(value: &Value) {
    let text = serde_json::to_vec(value).expect("a JSON value serializes");
    let again = parse_json(&text).expect("parse_json reads serde_json's output");
    assert_eq!(&again, value);
    if nesting(&text) < MAX_DEPTH {
        let theirs: Value = serde_json::from_slice(&text).expect("serde_json reads its own output");
        assert!(agree(value, &theirs));
    }
}

/// Equal values, with `-0` read as the integer 0 by one and as `-0.0` by the
/// other.
fn agree(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Number(a), Value::Number(b)) => {
            a == b
                || (a.as_i64() == Some(0)
                    && b.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| agree(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| agree(x, y)))
        }
        _ => ours == theirs,
    }
}

/// The deepest nesting of arrays and objects in JSON text, outside strings.
fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
