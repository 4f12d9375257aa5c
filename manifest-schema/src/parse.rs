//! The host's reader for JSON as other tools write it.
//!
//! Metadata published by python-tuf and others is valid JSON but not
//! canonical: indented, with `\n`, `\uXXXX` escapes and surrogate pairs. The
//! host reads it here, fully unescaped, into a [`serde_json::Value`], and then
//! writes the canonical form with [`crate::canonical`] before any signature is
//! checked.
//!
//! This reader is stricter than `serde_json` where strictness matters for
//! signatures: a duplicate object key is an error (a parser that keeps the
//! first and one that keeps the last would see different documents), lone
//! surrogates are refused, and so are floats and integers beyond the `i64` and
//! `u64` ranges, which canonical JSON cannot carry.
//!
//! It is more lenient than RFC 8259 in one place: control characters may
//! stand raw inside strings (as with Python's `json.loads(strict=False)`).
//! Canonical JSON writes them raw, so a reader that refused them could not
//! read canonical files back; a raw character has only one meaning.

use serde_json::{Map, Number, Value};

mod de;
pub(crate) use de::from_canonical as typed_from_canonical;
pub(crate) use de::from_slice as typed_from_slice;

/// The deepest nesting accepted, to keep hostile input from exhausting the
/// stack.
pub const MAX_DEPTH: usize = 128;

/// Why a text is not acceptable JSON for TUF metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text ended inside a value, or was empty.
    #[error("JSON ends early at byte {offset}")]
    UnexpectedEnd {
        /// Byte offset of the end of input.
        offset: usize,
    },
    /// A byte that is not valid JSON at this place.
    #[error("invalid JSON at byte {offset}")]
    UnexpectedByte {
        /// Byte offset of the offending byte.
        offset: usize,
    },
    /// An object has the same key twice.
    #[error("duplicate object key {key:?} at byte {offset}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// Byte offset of the second occurrence.
        offset: usize,
    },
    /// A `\uXXXX` escape for half of a surrogate pair, not followed or not
    /// preceded by its other half.
    #[error("lone UTF-16 surrogate escape at byte {offset}")]
    LoneSurrogate {
        /// Byte offset of the escape.
        offset: usize,
    },
    /// An escape JSON does not define, or a bad `\u` escape.
    #[error("invalid string escape at byte {offset}")]
    InvalidEscape {
        /// Byte offset of the backslash.
        offset: usize,
    },
    /// Bytes that are not UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A number with a fraction or exponent: canonical JSON has integers only.
    #[error("number at byte {offset} is not an integer (canonical JSON has no floats)")]
    Float {
        /// Byte offset of the number.
        offset: usize,
    },
    /// An integer outside both the `i64` and the `u64` range.
    #[error("integer at byte {offset} is outside the i64 and u64 ranges")]
    IntegerOutOfRange {
        /// Byte offset of the number.
        offset: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("JSON nests deeper than {MAX_DEPTH} levels at byte {offset}")]
    TooDeep {
        /// Byte offset of the container that went too deep.
        offset: usize,
    },
    /// Something other than whitespace after the value.
    #[error("data after the JSON value at byte {offset}")]
    TrailingData {
        /// Byte offset of the first trailing byte.
        offset: usize,
    },
}

/// Parses one JSON value from `text` (RFC 8259, with the restrictions above).
pub fn parse_json(text: &[u8]) -> Result<Value, ParseError> {
    let mut parser = Parser { text, pos: 0 };
    // A UTF-8 byte order mark is not JSON; python-tuf never writes one.
    parser.skip_whitespace();
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != text.len() {
        return Err(ParseError::TrailingData { offset: parser.pos });
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Result<u8, ParseError> {
        self.text
            .get(self.pos)
            .copied()
            .ok_or(ParseError::UnexpectedEnd {
                offset: self.text.len(),
            })
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.text.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.peek()? == b {
            self.pos += 1;
            Ok(())
        } else {
            Err(ParseError::UnexpectedByte { offset: self.pos })
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            _ => Err(ParseError::UnexpectedByte { offset: self.pos }),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, ParseError> {
        let end = self.pos + word.len();
        match self.text.get(self.pos..end) {
            Some(found) if found == word => {
                self.pos = end;
                Ok(value)
            }
            Some(_) => Err(ParseError::UnexpectedByte { offset: self.pos }),
            None => Err(ParseError::UnexpectedEnd {
                offset: self.text.len(),
            }),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep { offset: self.pos });
        }
        self.pos += 1;
        let mut map = Map::new();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_whitespace();
            let key_offset = self.pos;
            if self.peek()? != b'"' {
                return Err(ParseError::UnexpectedByte { offset: self.pos });
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':')?;
            self.skip_whitespace();
            let value = self.value(depth)?;
            if map.contains_key(&key) {
                return Err(ParseError::DuplicateKey {
                    key,
                    offset: key_offset,
                });
            }
            map.insert(key, value);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(ParseError::UnexpectedByte { offset: self.pos }),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep { offset: self.pos });
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(ParseError::UnexpectedByte { offset: self.pos }),
            }
        }
    }

    fn hex4(&self, at: usize) -> Result<u16, ParseError> {
        let digits = self.text.get(at..at + 4).ok_or(ParseError::UnexpectedEnd {
            offset: self.text.len(),
        })?;
        let mut value: u16 = 0;
        for &d in digits {
            let nibble = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(ParseError::InvalidEscape { offset: at - 2 }),
            };
            value = (value << 4) | u16::from(nibble);
        }
        Ok(value)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let start = self.pos;
            // Copy the run of plain bytes in one go.
            while let Some(&b) = self.text.get(self.pos) {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            let run = &self.text[start..self.pos];
            if let Err(e) = std::str::from_utf8(run) {
                return Err(ParseError::InvalidUtf8 {
                    offset: start + e.valid_up_to(),
                });
            }
            out.extend_from_slice(run);
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    // Each run was checked on its own and escapes add whole
                    // characters, so the concatenation is UTF-8.
                    return String::from_utf8(out)
                        .map_err(|_| ParseError::InvalidUtf8 { offset: start });
                }
                _ => self.escape(&mut out)?,
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        let at = self.pos;
        self.pos += 1;
        let simple = match self.peek()? {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return Err(ParseError::InvalidEscape { offset: at }),
        };
        if let Some(b) = simple {
            out.push(b);
            self.pos += 1;
            return Ok(());
        }
        let unit = self.hex4(self.pos + 1)?;
        self.pos += 5;
        let code = match unit {
            0xD800..=0xDBFF => {
                // A high surrogate must be followed by an escaped low one.
                if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(ParseError::LoneSurrogate { offset: at });
                }
                let low = self.hex4(self.pos + 2)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(ParseError::LoneSurrogate { offset: at });
                }
                self.pos += 6;
                0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(ParseError::LoneSurrogate { offset: at }),
            other => u32::from(other),
        };
        let c = char::from_u32(code).ok_or(ParseError::InvalidEscape { offset: at })?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        if self.text.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while matches!(self.text.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.text[digits_start..self.pos];
        if digits.is_empty() {
            return Err(match self.text.get(self.pos) {
                None => ParseError::UnexpectedEnd {
                    offset: self.text.len(),
                },
                Some(_) => ParseError::UnexpectedByte { offset: self.pos },
            });
        }
        if digits.len() > 1 && digits[0] == b'0' {
            return Err(ParseError::UnexpectedByte {
                offset: digits_start + 1,
            });
        }
        if matches!(self.text.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return Err(ParseError::Float { offset: start });
        }
        // The slice holds only ASCII sign and digits.
        let literal = std::str::from_utf8(&self.text[start..self.pos])
            .map_err(|_| ParseError::UnexpectedByte { offset: start })?;
        if let Ok(v) = literal.parse::<u64>() {
            return Ok(Value::Number(Number::from(v)));
        }
        if let Ok(v) = literal.parse::<i64>() {
            return Ok(Value::Number(Number::from(v)));
        }
        Err(ParseError::IntegerOutOfRange { offset: start })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_python_tuf_style_json() {
        let text = "{\n  \"b\": [1, -2],\n  \"a\": \"caf\\u00e9 \\ud83d\\ude00\\n\"\n}\n";
        let v = parse_json(text.as_bytes()).unwrap();
        assert_eq!(v, json!({"a": "café 😀\n", "b": [1, -2]}));
    }

    #[test]
    fn raw_control_characters_are_read_as_canonical_json_writes_them() {
        let v = parse_json(b"{\"pem\":\"a\nb\x01\"}").unwrap();
        assert_eq!(v, json!({"pem": "a\nb\u{1}"}));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = parse_json(br#"{"a": 1, "a": 2}"#).unwrap_err();
        assert_eq!(
            e,
            ParseError::DuplicateKey {
                key: "a".into(),
                offset: 9
            }
        );
    }

    #[test]
    fn surrogates_must_pair() {
        assert!(matches!(
            parse_json(br#""\ud800""#),
            Err(ParseError::LoneSurrogate { .. })
        ));
        assert!(matches!(
            parse_json(br#""\udc00""#),
            Err(ParseError::LoneSurrogate { .. })
        ));
        assert!(matches!(
            parse_json(br#""\ud800\u0041""#),
            Err(ParseError::LoneSurrogate { .. })
        ));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            parse_json(b"18446744073709551615").unwrap(),
            json!(u64::MAX)
        );
        assert_eq!(
            parse_json(b"-9223372036854775808").unwrap(),
            json!(i64::MIN)
        );
        assert_eq!(
            parse_json(b"18446744073709551616"),
            Err(ParseError::IntegerOutOfRange { offset: 0 })
        );
        assert_eq!(
            parse_json(b"-9223372036854775809"),
            Err(ParseError::IntegerOutOfRange { offset: 0 })
        );
        assert_eq!(parse_json(b"1.0"), Err(ParseError::Float { offset: 0 }));
        assert_eq!(parse_json(b"2E5"), Err(ParseError::Float { offset: 0 }));
        assert!(parse_json(b"012").is_err());
        assert!(parse_json(b"-").is_err());
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"a\"}",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"nul",
            b"[] []",
            b"\"\xff\"",
        ] {
            assert!(parse_json(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            parse_json(deep.as_bytes()),
            Err(ParseError::TooDeep { .. })
        ));
    }
}
