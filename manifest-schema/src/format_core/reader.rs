//! A zero-copy reader for canonical JSON, for the device and for the host's
//! verification path.
//!
//! [`Json::parse_canonical`] validates a whole document once: it must be
//! canonical JSON exactly as TUF (OLPC) defines it and securesystemslib writes
//! it. After that, navigation borrows from the input and never allocates.
//!
//! Accepting only canonical input is what lets a verifier check signatures
//! over the bytes as they stand: a signer signed the canonical form, so any
//! other spelling of the same document simply fails. It also closes parser
//! differentials: duplicate keys, unsorted keys, whitespace, escapes and
//! non-canonical numbers are refused here rather than interpreted.
//!
//! Canonical JSON, as checked here:
//! - no whitespace between tokens;
//! - object keys in strictly increasing order of their UTF-8 bytes (so a
//!   duplicate key is refused);
//! - strings are valid UTF-8 with only `\"` and `\\` escaped; every other
//!   character, control characters included, stands raw;
//! - numbers are integers without leading zeros, fraction or exponent, and
//!   never `-0`, in the range of `i64` or `u64`;
//! - `true`, `false` and `null` as usual.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use core::cmp::Ordering;

pub use super::json_str::{JsonStr, Unescaped};
pub use super::utf8::is_utf8;

/// The deepest nesting of arrays and objects a document may have.
///
/// TUF metadata nests about seven levels (`signed.delegations.roles[].paths`
/// and firmware fields under `custom`); the bound keeps the recursive validator
/// within a small, known stack on the device.
pub const MAX_DEPTH: usize = 32;

/// Why a document is not canonical JSON. Each variant carries the byte offset
/// at which the problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// The input ended inside a value, or was empty.
    UnexpectedEnd {
        /// Byte offset of the end of input.
        offset: usize,
    },
    /// A byte that canonical JSON does not allow here; whitespace between
    /// tokens is one such byte.
    UnexpectedByte {
        /// Byte offset of the offending byte.
        offset: usize,
    },
    /// A string escape other than `\"` and `\\` (canonical JSON writes every
    /// other character raw).
    NonCanonicalEscape {
        /// Byte offset of the backslash.
        offset: usize,
    },
    /// A string that is not valid UTF-8.
    InvalidUtf8 {
        /// Byte offset of the string's opening quote.
        offset: usize,
    },
    /// An object key that sorts before the key preceding it.
    KeysNotSorted {
        /// Byte offset of the key.
        offset: usize,
    },
    /// An object key that appears twice in one object.
    DuplicateKey {
        /// Byte offset of the second occurrence.
        offset: usize,
    },
    /// A number with a fraction, an exponent, a leading zero, or `-0`.
    NonCanonicalNumber {
        /// Byte offset of the number.
        offset: usize,
    },
    /// An integer outside both the `i64` and the `u64` range.
    IntegerOutOfRange {
        /// Byte offset of the number.
        offset: usize,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Byte offset of the container that went too deep.
        offset: usize,
    },
    /// Bytes after the end of the top-level value.
    TrailingData {
        /// Byte offset of the first trailing byte.
        offset: usize,
    },
}

impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::UnexpectedEnd { offset } => write!(f, "input ends early at byte {offset}"),
            Self::UnexpectedByte { offset } => {
                write!(f, "unexpected byte at offset {offset} (not canonical JSON)")
            }
            Self::NonCanonicalEscape { offset } => write!(
                f,
                "escape at offset {offset} is not canonical (only \\\" and \\\\ are escaped)"
            ),
            Self::InvalidUtf8 { offset } => write!(f, "string at offset {offset} is not UTF-8"),
            Self::KeysNotSorted { offset } => {
                write!(f, "object key at offset {offset} is out of order")
            }
            Self::DuplicateKey { offset } => write!(f, "duplicate object key at offset {offset}"),
            Self::NonCanonicalNumber { offset } => write!(
                f,
                "number at offset {offset} is not a canonical integer (no fraction, exponent or leading zero)"
            ),
            Self::IntegerOutOfRange { offset } => {
                write!(
                    f,
                    "integer at offset {offset} is outside the i64 and u64 ranges"
                )
            }
            Self::TooDeep { offset } => {
                write!(
                    f,
                    "nesting deeper than {MAX_DEPTH} levels at offset {offset}"
                )
            }
            Self::TrailingData { offset } => {
                write!(f, "data after the JSON value at offset {offset}")
            }
        }
    }
}

impl core::error::Error for ReadError {}

/// The type of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// An integer.
    Integer,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// One value inside a validated canonical document, borrowed from it.
///
/// A `Json` can only be made by [`Json::parse_canonical`], so navigation may
/// rely on well-formed input; it still never panics and simply finds nothing
/// if that trust were ever misplaced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Json<'a> {
    bytes: &'a [u8],
}

impl core::fmt::Debug for Json<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match core::str::from_utf8(self.bytes) {
            Ok(s) => write!(f, "Json({s})"),
            Err(_) => write!(f, "Json({:?})", self.bytes),
        }
    }
}

impl<'a> Json<'a> {
    /// Validates `doc` as one canonical JSON value and returns it.
    pub fn parse_canonical(doc: &'a [u8]) -> Result<Self, ReadError> {
        let end = validate_value(doc, 0, 0)?;
        if end != doc.len() {
            return Err(ReadError::TrailingData { offset: end });
        }
        Ok(Self { bytes: doc })
    }

    /// The value `bytes` holds, which [`crate::canonical::CanonicalBuf`]
    /// validated with [`Json::parse_canonical`] when it was made (its bytes
    /// never change after): the host reads one document many times, and
    /// each validation walks all of it.
    #[cfg(feature = "std")]
    pub(crate) fn validated(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Validates the canonical JSON value at the start of `text` and returns
    /// it; what follows it is not looked at. The host's streaming reader
    /// keeps a value of a larger text as it stands when it is canonical.
    #[cfg(feature = "std")]
    pub(crate) fn parse_canonical_prefix(text: &'a [u8]) -> Result<Self, ReadError> {
        let end = validate_value(text, 0, 0)?;
        let bytes = text
            .get(..end)
            .ok_or(ReadError::UnexpectedEnd { offset: text.len() })?;
        Ok(Self { bytes })
    }

    /// The value at the start of `text`, a slice of a document the reader
    /// validated already (a [`crate::canonical::CanonicalBuf`]'s), found
    /// without validating it again.
    #[cfg(feature = "std")]
    pub(crate) fn validated_prefix(text: &'a [u8]) -> Option<Self> {
        let end = skip_value(text, 0)?;
        text.get(..end).map(|bytes| Self { bytes })
    }

    /// The exact bytes of this value, as they stand in the document.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The value's type.
    pub fn kind(&self) -> Kind {
        match self.bytes.first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Integer,
        }
    }

    /// The members of an object, in document (sorted) order. Empty for any
    /// other kind of value.
    #[inline(never)] // flash: see the module note
    pub fn members(&self) -> Members<'a> {
        let (bytes, pos) = match self.kind() {
            Kind::Object => (self.bytes, 1),
            _ => (&[][..], 0),
        };
        Members { bytes, pos }
    }

    /// The member `key` of an object, if this is an object that has one.
    pub fn get(&self, key: &str) -> Option<Json<'a>> {
        self.get_bytes(key.as_bytes())
    }

    /// [`Json::get`] for a key given as bytes (a name read from a firmware
    /// slot, which the device never turns into `&str`).
    #[inline(never)] // flash: see the module note
    pub fn get_bytes(&self, key: &[u8]) -> Option<Json<'a>> {
        for (name, value) in self.members() {
            match name.cmp_bytes(key) {
                Ordering::Equal => return Some(value),
                // Keys are sorted: once past `key` it cannot come later.
                Ordering::Greater => return None,
                Ordering::Less => {}
            }
        }
        None
    }

    /// The members `names` of an object, read in one pass (`None` where
    /// absent, or for any other kind of value). [`Json::get`] walks the
    /// members up to the name each time; a reader of several fields of a
    /// large object (a role's `version`, after its `targets`) walks it once.
    pub fn get_each<const N: usize>(&self, names: [&str; N]) -> [Option<Json<'a>>; N] {
        let mut found = [None; N];
        self.fill_each(&names, &mut found);
        found
    }

    // flash: one out-of-line body for every `get_each` (see the module note)
    #[inline(never)]
    fn fill_each(&self, names: &[&str], found: &mut [Option<Json<'a>>]) {
        for (name, value) in self.members() {
            // The name's escapes looked for once, not once per wanted name;
            // lengths first, as most names wanted differ from it in length.
            let plain = name.plain_bytes();
            for (wanted, slot) in names.iter().zip(found.iter_mut()) {
                let wanted = wanted.as_bytes();
                let equal = match plain {
                    Some(plain) => plain.len() == wanted.len() && plain.iter().eq(wanted),
                    None => name.eq_bytes(wanted),
                };
                if equal {
                    *slot = Some(value);
                }
            }
        }
    }

    /// The items of an array, in order. Empty for any other kind of value.
    #[inline(never)] // flash: see the module note
    pub fn items(&self) -> Items<'a> {
        let (bytes, pos) = match self.kind() {
            Kind::Array => (self.bytes, 1),
            _ => (&[][..], 0),
        };
        Items { bytes, pos }
    }

    /// The string, if this is one.
    #[inline(never)] // flash: see the module note
    pub fn as_str(&self) -> Option<JsonStr<'a>> {
        match self.kind() {
            Kind::String => {
                let end = self.bytes.len().checked_sub(1)?;
                self.bytes.get(1..end).map(|raw| JsonStr { raw })
            }
            _ => None,
        }
    }

    /// The integer, if this is a non-negative one.
    pub fn as_u64(&self) -> Option<u64> {
        match parse_integer(self.bytes, 0) {
            Ok((_, Integer::Unsigned(v))) => Some(v),
            _ => None,
        }
    }

    /// The integer, if this is one within the `i64` range.
    pub fn as_i64(&self) -> Option<i64> {
        match parse_integer(self.bytes, 0) {
            Ok((_, Integer::Unsigned(v))) => i64::try_from(v).ok(),
            Ok((_, Integer::Negative(v))) => Some(v),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.bytes {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        self.bytes == b"null"
    }
}

/// The members of an object: `(key, value)` pairs.
#[derive(Clone, Debug)]
pub struct Members<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, Json<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let key_start = self.pos;
        if self.bytes.get(key_start) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(self.bytes, key_start)?;
        let value_start = key_end.checked_add(1)?; // past ':'
        let value_end = skip_value(self.bytes, value_start)?;
        let key = JsonStr {
            raw: self
                .bytes
                .get(key_start.checked_add(1)?..key_end.checked_sub(1)?)?,
        };
        let value = Json {
            bytes: self.bytes.get(value_start..value_end)?,
        };
        // Past ',' to the next key, or past the end of input after '}'.
        self.pos = value_end.saturating_add(1);
        Some((key, value))
    }
}

/// The items of an array. The default yields nothing.
#[derive(Clone, Debug, Default)]
pub struct Items<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = Json<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos;
        match self.bytes.get(start) {
            None | Some(b']') => return None,
            Some(_) => {}
        }
        let end = skip_value(self.bytes, start)?;
        let item = Json {
            bytes: self.bytes.get(start..end)?,
        };
        self.pos = end.saturating_add(1);
        Some(item)
    }
}

enum Integer {
    Unsigned(u64),
    Negative(i64),
}

fn byte(doc: &[u8], pos: usize) -> Result<u8, ReadError> {
    doc.get(pos)
        .copied()
        .ok_or(ReadError::UnexpectedEnd { offset: doc.len() })
}

/// Validates the value starting at `pos` and returns the offset just past it.
fn validate_value(doc: &[u8], pos: usize, depth: usize) -> Result<usize, ReadError> {
    match byte(doc, pos)? {
        b'{' => validate_object(doc, pos, depth),
        b'[' => validate_array(doc, pos, depth),
        b'"' => validate_string(doc, pos),
        b'-' | b'0'..=b'9' => parse_integer(doc, pos).map(|(end, _)| end),
        b't' => literal(doc, pos, b"true"),
        b'f' => literal(doc, pos, b"false"),
        b'n' => literal(doc, pos, b"null"),
        _ => Err(ReadError::UnexpectedByte { offset: pos }),
    }
}

fn enter(pos: usize, depth: usize) -> Result<usize, ReadError> {
    let depth = depth.saturating_add(1);
    if depth > MAX_DEPTH {
        return Err(ReadError::TooDeep { offset: pos });
    }
    Ok(depth)
}

fn validate_object(doc: &[u8], open: usize, depth: usize) -> Result<usize, ReadError> {
    let depth = enter(open, depth)?;
    let mut pos = open.saturating_add(1);
    if byte(doc, pos)? == b'}' {
        return Ok(pos.saturating_add(1));
    }
    let mut previous: Option<&[u8]> = None;
    loop {
        if byte(doc, pos)? != b'"' {
            return Err(ReadError::UnexpectedByte { offset: pos });
        }
        let key_end = validate_string(doc, pos)?;
        let key = doc
            .get(pos.saturating_add(1)..key_end.saturating_sub(1))
            .ok_or(ReadError::UnexpectedEnd { offset: doc.len() })?;
        if let Some(prev) = previous {
            let order = JsonStr { raw: prev }
                .bytes()
                .cmp(JsonStr { raw: key }.bytes());
            match order {
                Ordering::Less => {}
                Ordering::Equal => return Err(ReadError::DuplicateKey { offset: pos }),
                Ordering::Greater => return Err(ReadError::KeysNotSorted { offset: pos }),
            }
        }
        previous = Some(key);
        if byte(doc, key_end)? != b':' {
            return Err(ReadError::UnexpectedByte { offset: key_end });
        }
        let value_end = validate_value(doc, key_end.saturating_add(1), depth)?;
        match byte(doc, value_end)? {
            b',' => pos = value_end.saturating_add(1),
            b'}' => return Ok(value_end.saturating_add(1)),
            _ => return Err(ReadError::UnexpectedByte { offset: value_end }),
        }
    }
}

fn validate_array(doc: &[u8], open: usize, depth: usize) -> Result<usize, ReadError> {
    let depth = enter(open, depth)?;
    let mut pos = open.saturating_add(1);
    if byte(doc, pos)? == b']' {
        return Ok(pos.saturating_add(1));
    }
    loop {
        let end = validate_value(doc, pos, depth)?;
        match byte(doc, end)? {
            b',' => pos = end.saturating_add(1),
            b']' => return Ok(end.saturating_add(1)),
            _ => return Err(ReadError::UnexpectedByte { offset: end }),
        }
    }
}

fn validate_string(doc: &[u8], open: usize) -> Result<usize, ReadError> {
    let mut pos = open.saturating_add(1);
    loop {
        match byte(doc, pos)? {
            b'"' => break,
            b'\\' => match byte(doc, pos.saturating_add(1))? {
                b'"' | b'\\' => pos = pos.saturating_add(2),
                _ => return Err(ReadError::NonCanonicalEscape { offset: pos }),
            },
            _ => pos = pos.saturating_add(1),
        }
    }
    let content = doc
        .get(open.saturating_add(1)..pos)
        .ok_or(ReadError::UnexpectedEnd { offset: doc.len() })?;
    if !super::utf8::is_utf8(content) {
        return Err(ReadError::InvalidUtf8 { offset: open });
    }
    Ok(pos.saturating_add(1))
}

fn literal(doc: &[u8], pos: usize, word: &[u8]) -> Result<usize, ReadError> {
    let end = pos.saturating_add(word.len());
    match doc.get(pos..end) {
        Some(found) if found == word => Ok(end),
        Some(_) => Err(ReadError::UnexpectedByte { offset: pos }),
        None => Err(ReadError::UnexpectedEnd { offset: doc.len() }),
    }
}

/// Parses a canonical integer at `start`, returning the offset past it.
fn parse_integer(doc: &[u8], start: usize) -> Result<(usize, Integer), ReadError> {
    let negative = doc.get(start) == Some(&b'-');
    let digits_start = if negative {
        start.saturating_add(1)
    } else {
        start
    };
    let mut pos = digits_start;
    let mut magnitude: u64 = 0;
    let mut overflow = false;
    while let Some(&b) = doc.get(pos) {
        if !b.is_ascii_digit() {
            break;
        }
        let digit = u64::from(b.wrapping_sub(b'0'));
        match magnitude.checked_mul(10).and_then(|m| m.checked_add(digit)) {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        pos = pos.saturating_add(1);
    }
    let digit_count = pos.saturating_sub(digits_start);
    if digit_count == 0 {
        return match doc.get(pos) {
            None => Err(ReadError::UnexpectedEnd { offset: doc.len() }),
            Some(_) => Err(ReadError::UnexpectedByte { offset: pos }),
        };
    }
    let leading_zero = doc.get(digits_start) == Some(&b'0') && digit_count > 1;
    let fraction_or_exponent = matches!(doc.get(pos), Some(b'.' | b'e' | b'E'));
    if leading_zero || fraction_or_exponent || (negative && magnitude == 0 && !overflow) {
        return Err(ReadError::NonCanonicalNumber { offset: start });
    }
    if overflow {
        return Err(ReadError::IntegerOutOfRange { offset: start });
    }
    if negative {
        // The most negative i64 has no positive counterpart, so build it from
        // the magnitude minus one.
        let below = magnitude
            .checked_sub(1)
            .and_then(|m| i64::try_from(m).ok())
            .ok_or(ReadError::IntegerOutOfRange { offset: start })?;
        let value = below
            .checked_neg()
            .and_then(|v| v.checked_sub(1))
            .ok_or(ReadError::IntegerOutOfRange { offset: start })?;
        Ok((pos, Integer::Negative(value)))
    } else {
        Ok((pos, Integer::Unsigned(magnitude)))
    }
}

/// Skips a string in a validated document; `open` is its opening quote.
fn skip_string(doc: &[u8], open: usize) -> Option<usize> {
    let mut pos = open.checked_add(1)?;
    loop {
        match *doc.get(pos)? {
            b'"' => return pos.checked_add(1),
            b'\\' => pos = pos.checked_add(2)?,
            _ => pos = pos.checked_add(1)?,
        }
    }
}

/// Skips any value in a validated document, without re-validating it.
fn skip_value(doc: &[u8], start: usize) -> Option<usize> {
    match *doc.get(start)? {
        b'"' => skip_string(doc, start),
        b'{' | b'[' => {
            let mut depth: usize = 0;
            let mut pos = start;
            loop {
                match *doc.get(pos)? {
                    b'"' => {
                        pos = skip_string(doc, pos)?;
                        continue;
                    }
                    b'{' | b'[' => depth = depth.checked_add(1)?,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return pos.checked_add(1);
                        }
                    }
                    _ => {}
                }
                pos = pos.checked_add(1)?;
            }
        }
        _ => {
            let mut pos = start;
            while let Some(b) = doc.get(pos) {
                if matches!(b, b',' | b'}' | b']') {
                    break;
                }
                pos = pos.checked_add(1)?;
            }
            Some(pos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(doc: &str) -> ReadError {
        Json::parse_canonical(doc.as_bytes()).unwrap_err()
    }

    #[test]
    fn navigates_a_canonical_document() {
        let doc = br#"{"a":[1,-2,"x\"y"],"b":{"c":true,"d":null},"e":18446744073709551615}"#;
        let json = Json::parse_canonical(doc).unwrap();
        let items: Vec<_> = json.get("a").unwrap().items().collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_u64(), Some(1));
        assert_eq!(items[1].as_i64(), Some(-2));
        assert!(items[2].as_str().unwrap().eq_str("x\"y"));
        assert_eq!(items[2].as_str().unwrap().as_plain(), None);
        let b = json.get("b").unwrap();
        assert_eq!(b.as_bytes(), br#"{"c":true,"d":null}"#);
        assert_eq!(b.get("c").unwrap().as_bool(), Some(true));
        assert!(b.get("d").unwrap().is_null());
        assert_eq!(b.get("zz"), None);
        assert_eq!(json.get("e").unwrap().as_u64(), Some(u64::MAX));
        assert_eq!(json.get("e").unwrap().as_i64(), None);
        assert_eq!(json.get("0"), None);
    }

    #[test]
    fn get_each_finds_what_get_finds() {
        // Names in any order, repeated, absent, escaped, and empty; values
        // of every kind; and a value that is not an object at all.
        let doc = br#"{"":0,"\"q":1,"a":[1,{"v":2}],"b":{"c":true},"d":"x","e":null}"#;
        let json = Json::parse_canonical(doc).unwrap();
        let names = ["e", "a", "zz", "\"q", "", "b", "d", "a", "0"];
        let each = json.get_each(names);
        for (name, found) in names.iter().zip(each) {
            assert_eq!(found, json.get(name), "{name:?}");
        }
        assert_eq!(each[0].map(|v| v.is_null()), Some(true));
        assert_eq!(each[2], None);
        let scalar = json.get("d").unwrap();
        assert_eq!(scalar.get_each(["d", "x"]), [None, None]);
        let array = json.get("a").unwrap();
        assert_eq!(array.get_each(["v"]), [None]);
    }

    #[test]
    fn integer_limits() {
        let min = Json::parse_canonical(b"-9223372036854775808").unwrap();
        assert_eq!(min.as_i64(), Some(i64::MIN));
        assert_eq!(
            err("-9223372036854775809"),
            ReadError::IntegerOutOfRange { offset: 0 }
        );
        assert_eq!(
            err("18446744073709551616"),
            ReadError::IntegerOutOfRange { offset: 0 }
        );
    }

    #[test]
    fn refuses_non_canonical_spellings() {
        assert_eq!(err(r#"{"a": 1}"#), ReadError::UnexpectedByte { offset: 5 });
        assert_eq!(
            err(r#"{"b":1,"a":2}"#),
            ReadError::KeysNotSorted { offset: 7 }
        );
        assert_eq!(
            err(r#"{"a":1,"a":2}"#),
            ReadError::DuplicateKey { offset: 7 }
        );
        assert_eq!(err(r#""\n""#), ReadError::NonCanonicalEscape { offset: 1 });
        assert_eq!(
            err(r#""\u0041""#),
            ReadError::NonCanonicalEscape { offset: 1 }
        );
        assert_eq!(err("1.5"), ReadError::NonCanonicalNumber { offset: 0 });
        assert_eq!(err("1e3"), ReadError::NonCanonicalNumber { offset: 0 });
        assert_eq!(err("01"), ReadError::NonCanonicalNumber { offset: 0 });
        assert_eq!(err("-0"), ReadError::NonCanonicalNumber { offset: 0 });
        assert_eq!(err("[1] "), ReadError::TrailingData { offset: 3 });
        assert_eq!(err(""), ReadError::UnexpectedEnd { offset: 0 });
        assert_eq!(err("[1,"), ReadError::UnexpectedEnd { offset: 3 });
        assert_eq!(err("tru"), ReadError::UnexpectedEnd { offset: 3 });
        assert!(matches!(
            Json::parse_canonical(b"\"\xff\""),
            Err(ReadError::InvalidUtf8 { offset: 0 })
        ));
    }

    #[test]
    fn escaped_keys_sort_by_their_unescaped_bytes() {
        // '"' (0x22) sorts before '#' (0x23) once unescaped, although the
        // escaped spelling starts with '\' (0x5c).
        assert!(Json::parse_canonical(br##"{"\"":1,"#":2}"##).is_ok());
        assert!(Json::parse_canonical(br##"{"#":2,"\"":1}"##).is_err());
    }

    #[test]
    fn raw_control_characters_are_canonical() {
        let doc = b"\"a\nb\x00\"";
        let s = Json::parse_canonical(doc).unwrap().as_str().unwrap();
        assert_eq!(s.as_plain(), Some("a\nb\0"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(err(&deep), ReadError::TooDeep { .. }));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(Json::parse_canonical(ok.as_bytes()).is_ok());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let inputs: [&[u8]; 8] = [
            b"{",
            b"{\"",
            b"{\"a\"",
            b"{\"a\":",
            b"[-",
            b"\"\\",
            b"-",
            b"{\"a\":1,}",
        ];
        for input in inputs {
            assert!(Json::parse_canonical(input).is_err(), "{input:?}");
        }
    }
}
