//! The reference reading of one line, through a [`Value`] tree: parse with
//! the strict reader, compare with the canonical form, convert to the typed
//! fields, compare back, hash the canonical form of the rest.
//!
//! Slow on a long line (it walks and copies the line's tree five times), so
//! [`super::parse_entry`] only comes here when its one-pass check did not
//! accept a line: the verdict, the error and its wording on a damaged or
//! tampered line are therefore exactly this function's.

use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::expiry::parse_expires;
use fwsign_manifest_schema::parse::parse_json;
use serde_json::Value;

use super::{Body, Fault, Parsed, check_event_fields, is_sha256_hex, sha256_hex};
use crate::audit::error::AuditError;

/// Parses one line (without its newline) and checks its own hash.
pub(super) fn parse_entry_tree(text: &[u8]) -> Result<Parsed, Fault> {
    let bad = |reason: &str| Fault::Malformed(reason.to_owned());
    if text.is_empty() {
        return Err(bad("empty line"));
    }
    let value = parse_json(text).map_err(|e| Fault::Malformed(format!("not JSON: {e}")))?;
    // Byte-for-byte canonical: otherwise whitespace or escapes could be
    // changed without changing the hash.
    if to_canonical_vec(&value).ok().as_deref() != Some(text) {
        return Err(bad("not canonical JSON"));
    }
    let Value::Object(mut map) = value else {
        return Err(bad("not a JSON object"));
    };
    let stored = match map.remove("hash") {
        Some(Value::String(hash)) => hash,
        Some(_) => return Err(bad("`hash` is not a string")),
        None => return Err(bad("no `hash` field")),
    };
    let rest = Value::Object(map);
    let body: Body = serde_json::from_value(rest.clone())
        .map_err(|e| Fault::Malformed(format!("bad fields: {e}")))?;
    // `null` or an empty `targets` would be read as absent and then hash
    // differently from how fwsign writes the same entry.
    if serde_json::to_value(&body).ok().as_ref() != Some(&rest) {
        return Err(bad("a field is null or empty instead of left out"));
    }
    if !is_sha256_hex(&stored) {
        return Err(bad("`hash` is not 64 lowercase hex digits"));
    }
    if !is_sha256_hex(&body.prev) {
        return Err(bad("`prev` is not 64 lowercase hex digits"));
    }
    if parse_expires(body.time.as_bytes()).is_none() {
        return Err(bad("`time` is not YYYY-MM-DDTHH:MM:SSZ"));
    }
    if let Err(AuditError::InvalidEvent { field, reason }) = check_event_fields(&body.fields()) {
        return Err(Fault::Malformed(format!("{field} {reason}")));
    }
    let computed = match to_canonical_vec(&rest) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(e) => return Err(Fault::Malformed(e.to_string())),
    };
    if computed != stored {
        return Err(Fault::Hash { stored, computed });
    }
    Ok(Parsed { body, hash: stored })
}
