//! The canonical JSON writer: the bytes every signature is made over.
//!
//! This is canonical JSON as TUF specifies it (OLPC) and as securesystemslib's
//! `encode_canonical` writes it, byte for byte:
//! - object keys sorted by their UTF-8 bytes, no whitespace;
//! - integers only;
//! - in strings only `"` and `\` are escaped; every other character, control
//!   characters and PEM newlines included, is written raw;
//! - no Unicode normalisation.
//!
//! It is not RFC 8785 (JCS), which escapes control characters and sorts keys
//! by UTF-16 code units; a JCS library would produce different bytes and
//! break every signature made by python-tuf.

use serde_json::Value;

mod stream;

/// Why a value cannot be written as canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// A floating-point number: canonical JSON has integers only.
    #[error("canonical JSON has integers only, found the number {0}")]
    Float(String),
    /// The value could not be turned into JSON at all (a serde error while
    /// converting a typed value).
    #[error("cannot represent the value as JSON: {0}")]
    Serialize(String),
}

/// Writes `value` as canonical JSON into `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    write_value(value, out, false)
}

fn write_value(
    value: &Value,
    out: &mut Vec<u8>,
    escape_controls: bool,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(v) = n.as_u64() {
                out.extend_from_slice(v.to_string().as_bytes());
            } else if let Some(v) = n.as_i64() {
                out.extend_from_slice(v.to_string().as_bytes());
            } else {
                return Err(CanonicalError::Float(n.to_string()));
            }
        }
        Value::String(s) => write_string(s, out, escape_controls),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out, escape_controls)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map keeps insertion order when
            // some crate in the build turns on `preserve_order`.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out, escape_controls);
                out.push(b':');
                write_value(item, out, escape_controls)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>, escape_controls: bool) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            0x00..=0x1f if escape_controls => write_control_escape(b, out),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// The portable form's escape for a control character.
fn write_control_escape(b: u8, out: &mut Vec<u8>) {
    match b {
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
    }
}

/// Writes `text`, which is canonical JSON already, as it stands, or in the
/// portable form. Canonical JSON has no whitespace between tokens, so every
/// control character in it stands inside a string, and escaping each one is
/// what [`write_string`] does to the strings of the same value. (No byte of
/// a multi-byte UTF-8 sequence is below 0x80.)
fn write_canonical_text(text: &str, out: &mut Vec<u8>, escape_controls: bool) {
    if !escape_controls {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    // Runs without a control character (all of a 10^5-target role's text,
    // often) are copied whole rather than a byte at a time.
    let bytes = text.as_bytes();
    let mut from = 0;
    for (at, &b) in bytes.iter().enumerate() {
        if b < 0x20 {
            out.extend_from_slice(bytes.get(from..at).unwrap_or_default());
            write_control_escape(b, out);
            from = at + 1;
        }
    }
    out.extend_from_slice(bytes.get(from..).unwrap_or_default());
}

/// The canonical JSON of `value`.
pub fn to_canonical_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

/// The canonical JSON of any serializable value (a metadata type, say).
///
/// Written straight from the value (no [`Value`] tree of the document), with
/// the same bytes as [`to_canonical_vec`] of its `serde_json::to_value`.
pub fn to_canonical_bytes<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    stream::write(value, &mut out, false)?;
    Ok(out)
}

/// The canonical form with control characters escaped as RFC 8259 requires:
/// keys sorted, no whitespace, integers only, and every character below
/// U+0020 written as an escape.
///
/// This is how fwsign writes metadata *files*. Canonical JSON itself carries
/// control characters raw (the newlines of a PEM key), which strict JSON
/// readers such as python-tuf's `json.loads` refuse; this form is read by all
/// of them and canonicalises back to exactly the bytes that were signed.
pub fn to_portable_json(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write_value(value, &mut out, true)?;
    Ok(out)
}

/// [`to_portable_json`] of any serializable value.
pub fn to_portable_bytes<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    stream::write(value, &mut out, true)?;
    Ok(out)
}

/// [`to_portable_bytes`] of `doc`, whose `signed` part has the canonical
/// bytes `signed` made already (its signing payload): the same bytes,
/// without serialising the role again. A 10^5-target role that only gains
/// a signature was serialised twice more for it: to write it and to check
/// its approvals.
///
/// `signed` must be [`to_canonical_bytes`] of `doc.signed`; it is copied
/// as it stands (its control characters escaped), not checked again.
pub fn signed_to_portable_bytes<T>(
    doc: &crate::metadata::Signed<T>,
    signed: &[u8],
) -> Result<Vec<u8>, CanonicalError> {
    /// The envelope's members as `Signed`'s own `Serialize` gives them
    /// (its unknown fields flattened beside the two it knows), with
    /// `signed` handed over as text; the writer sorts the members.
    struct Envelope<'a, T> {
        doc: &'a crate::metadata::Signed<T>,
        signed: &'a str,
    }
    impl<T> serde::Serialize for Envelope<'_, T> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("signatures", &self.doc.signatures)?;
            map.serialize_entry("signed", &crate::raw_json::CanonicalTextRef(self.signed))?;
            for (key, value) in &self.doc.unknown {
                map.serialize_entry(key, value)?;
            }
            map.end()
        }
    }
    let signed = std::str::from_utf8(signed)
        .map_err(|e| CanonicalError::Serialize(format!("a signing payload is not UTF-8: {e}")))?;
    let mut out = Vec::with_capacity(signed.len().saturating_add(1024));
    stream::write(&Envelope { doc, signed }, &mut out, true)?;
    Ok(out)
}

/// Reads JSON as any tool writes it and returns its canonical form.
///
/// Text that is canonical already, or fwsign's portable form of it (control
/// characters escaped), which is what fwsign itself writes, is checked and
/// copied without a [`Value`] tree: `unescape_portable` turns control
/// escapes back into the raw characters they stand for, and when the result
/// is canonical JSON (the reader the verification core uses says so) it is
/// the canonical form, since it reads as the same value. Any other text is
/// parsed and written again.
pub fn canonicalize(text: &[u8]) -> Result<Vec<u8>, crate::Error> {
    canonicalize_checked(text).map(CanonicalForm::into_bytes)
}

/// [`canonicalize`], keeping what it learnt: text that was canonical
/// already comes back as a [`CanonicalBuf`], which the reader need not
/// validate again.
pub fn canonicalize_checked(text: &[u8]) -> Result<CanonicalForm, crate::Error> {
    if let Some(bytes) = unescape_portable(text)
        && let Ok(checked) = CanonicalBuf::new(bytes)
    {
        return Ok(CanonicalForm::Checked(checked));
    }
    let value = crate::parse::parse_json(text)?;
    Ok(CanonicalForm::Written(to_canonical_vec(&value)?))
}

/// What [`canonicalize_checked`] made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalForm {
    /// The text was canonical (or fwsign's portable form of it), and the
    /// reader accepted it.
    Checked(CanonicalBuf),
    /// The text was parsed and written canonically; the reader has not
    /// looked at the result.
    Written(Vec<u8>),
}

impl CanonicalForm {
    /// The canonical bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Checked(buf) => buf.as_bytes(),
            Self::Written(bytes) => bytes,
        }
    }

    /// The canonical bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Checked(buf) => buf.bytes,
            Self::Written(bytes) => bytes,
        }
    }
}

/// Bytes the verification core's reader accepted as one canonical JSON
/// value ([`crate::reader::Json::parse_canonical`]), kept so that reading
/// them again does not validate them again. Immutable once made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalBuf {
    bytes: Vec<u8>,
}

impl CanonicalBuf {
    /// Validates `bytes`; the reader's error when it refuses them.
    pub fn new(bytes: Vec<u8>) -> Result<Self, crate::reader::ReadError> {
        crate::reader::Json::parse_canonical(&bytes)?;
        Ok(Self { bytes })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The value, without validating it again.
    pub fn json(&self) -> crate::reader::Json<'_> {
        crate::reader::Json::validated(&self.bytes)
    }
}

/// `text` with every `\n`, `\r`, `\t` and `\u00XX` (below U+0020) escape
/// in a string replaced by the character itself; `None` on any other escape
/// but `\"` and `\\` (which canonical JSON keeps), or one cut short.
fn unescape_portable(text: &[u8]) -> Option<Vec<u8>> {
    // No escape at all (fwsign's own files, most of the time): the text
    // itself, copied whole rather than a byte at a time.
    if !text.contains(&b'\\') {
        return Some(text.to_vec());
    }
    let mut out = Vec::with_capacity(text.len());
    let mut in_string = false;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if !in_string {
            in_string = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = false,
            b'\\' => {
                let (raw, len) = match *text.get(i + 1)? {
                    b'"' | b'\\' => {
                        out.extend_from_slice(&text[i..i + 2]);
                        i += 2;
                        continue;
                    }
                    b'n' => (b'\n', 2),
                    b'r' => (b'\r', 2),
                    b't' => (b'\t', 2),
                    b'u' => {
                        let hex = std::str::from_utf8(text.get(i + 2..i + 6)?).ok()?;
                        let unit = u8::from_str_radix(hex, 16).ok().filter(|u| *u < 0x20)?;
                        if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                            return None;
                        }
                        (unit, 6)
                    }
                    _ => return None,
                };
                out.push(raw);
                i += len;
                continue;
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_escapes_only_quote_and_backslash() {
        let v = json!({"b": "x\"y\\z\n\u{1}", "a": [true, null, -3], "é": {}, "Z": 1});
        assert_eq!(
            to_canonical_vec(&v).unwrap(),
            "{\"Z\":1,\"a\":[true,null,-3],\"b\":\"x\\\"y\\\\z\n\u{1}\",\"é\":{}}".as_bytes()
        );
    }

    #[test]
    fn portable_json_escapes_controls_and_canonicalises_back() {
        let v = json!({"pem": "-----BEGIN\nabc\n", "c": "\u{1}\t\r\"", "é": 1});
        let portable = to_portable_json(&v).unwrap();
        assert_eq!(
            std::str::from_utf8(&portable).unwrap(),
            "{\"c\":\"\\u0001\\t\\r\\\"\",\"pem\":\"-----BEGIN\\nabc\\n\",\"é\":1}"
        );
        // serde_json (a strict reader) accepts it, and it canonicalises to
        // the canonical bytes.
        let back: Value = serde_json::from_slice(&portable).unwrap();
        assert_eq!(
            to_canonical_vec(&back).unwrap(),
            to_canonical_vec(&v).unwrap()
        );
        assert_eq!(
            canonicalize(&portable).unwrap(),
            to_canonical_vec(&v).unwrap()
        );
    }

    #[test]
    fn canonical_and_portable_text_canonicalise_as_the_tree_path_does() {
        let v = json!({"pem": "-----BEGIN\nabc\n\u{0}\u{1f}", "q": "\"\\\u{7f}é", "n": [-1, 0, 7]});
        let canonical = to_canonical_vec(&v).unwrap();
        let portable = to_portable_json(&v).unwrap();
        for text in [&canonical, &portable] {
            assert_eq!(canonicalize(text).unwrap(), canonical);
        }
        // Spellings the fast path does not take still canonicalise.
        for text in [
            "{\"n\":[-1,0,7],\"pem\":\"-----BEGIN\\nabc\\n\\u0000\\u001f\",\"q\":\"\\\"\\\\\\u007f\u{e9}\"}",
            "{\"q\":\"\\\"\\\\\u{7f}é\", \"n\":[-1,0,7],\"pem\":\"-----BEGIN\\nabc\\n\\u0000\\u001F\"}",
        ] {
            assert_eq!(canonicalize(text.as_bytes()).unwrap(), canonical, "{text}");
        }
        // And what is not JSON is refused as before.
        for text in [
            "{\"a\":\"\\u00\"}",
            "{\"a\":1,\"a\":1}",
            "[\"\\",
            "{\"a\":1.0}",
        ] {
            assert!(canonicalize(text.as_bytes()).is_err(), "{text}");
        }
    }

    /// A role that only gains a signature is written from its payload:
    /// byte for byte what serialising it gives, with control characters in
    /// the role escaped and members other tools put in the envelope kept.
    #[test]
    fn an_envelope_from_its_payload_is_the_envelope_serialised() {
        use crate::metadata::{Signature, Signed};
        let signed = json!({"_type": "targets", "pem": "-----BEGIN\nabc\n\u{1}", "targets": {"a\tb": {"length": 3}}, "version": 2});
        let mut doc = Signed {
            signatures: vec![Signature {
                keyid: "ab".into(),
                sig: "cd".into(),
                unknown: [("x-tool".to_owned(), json!("note"))].into(),
            }],
            signed,
            unknown: [
                ("a-first".to_owned(), json!(1)),
                ("z-last".to_owned(), json!({"c": "\u{2}"})),
            ]
            .into(),
        };
        for _ in 0..2 {
            let payload = to_canonical_bytes(&doc.signed).unwrap();
            assert_eq!(
                signed_to_portable_bytes(&doc, &payload).unwrap(),
                to_portable_bytes(&doc).unwrap()
            );
            doc.unknown.clear();
        }
        // Text that is not UTF-8 cannot be a payload.
        assert!(signed_to_portable_bytes(&doc, b"\xff").is_err());
    }

    #[test]
    fn floats_are_refused() {
        assert_eq!(
            to_canonical_vec(&json!({"a": 1.5})),
            Err(CanonicalError::Float("1.5".into()))
        );
    }

    #[test]
    fn output_is_read_back_by_the_canonical_reader() {
        let v = json!({"k": ["\"", "\\", "\u{7f}", "😀"], "n": u64::MAX, "m": i64::MIN});
        let bytes = to_canonical_vec(&v).unwrap();
        crate::reader::Json::parse_canonical(&bytes).unwrap();
    }
}
