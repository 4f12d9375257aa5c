//! Strings inside a canonical document ([`JsonStr`]), which the reader
//! hands out without unescaping them: compared, matched and unescaped
//! ([`Unescaped`]) in place. Re-exported from [`super::reader`].

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use core::cmp::Ordering;

/// A string inside a canonical document: its raw content between the quotes,
/// where `\"` and `\\` may still stand escaped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    pub(super) raw: &'a [u8],
}

impl core::fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("\"")?;
        for b in self.bytes() {
            write!(f, "{}", char::from(b).escape_debug())?;
        }
        f.write_str("\"")
    }
}

impl<'a> JsonStr<'a> {
    /// The unescaped bytes of the string.
    pub fn bytes(&self) -> Unescaped<'a> {
        Unescaped {
            raw: self.raw,
            pos: 0,
        }
    }

    /// The string itself when it has no escapes (the common case: key IDs,
    /// hashes, PEM keys, target names), without copying.
    pub fn as_plain(&self) -> Option<&'a str> {
        core::str::from_utf8(self.plain_bytes()?).ok()
    }

    /// [`JsonStr::as_plain`] as bytes, which the reader has already checked
    /// are UTF-8: what the device path uses, so that it never needs
    /// `core::str::from_utf8` (see the `utf8` module).
    pub fn plain_bytes(&self) -> Option<&'a [u8]> {
        #[allow(
            clippy::manual_contains,
            reason = "flash: `contains` links core's memchr (see the module note)"
        )]
        if self.raw.iter().any(|&b| b == b'\\') {
            return None;
        }
        Some(self.raw)
    }

    /// Compares the unescaped string with `other` by UTF-8 bytes, the order
    /// canonical JSON sorts keys in.
    pub fn cmp_str(&self, other: &str) -> Ordering {
        self.cmp_bytes(other.as_bytes())
    }

    /// [`JsonStr::cmp_str`] against bytes.
    pub fn cmp_bytes(&self, other: &[u8]) -> Ordering {
        // Without escapes the raw bytes are the string: compared in place,
        // not a call to `Unescaped::next` per byte (a tenth of the host's
        // load of 1,056 roles went to comparing member names that way).
        match self.plain_bytes() {
            Some(plain) => plain.iter().cmp(other),
            None => self.bytes().cmp(other.iter().copied()),
        }
    }

    /// Whether the unescaped string equals `other`.
    pub fn eq_str(&self, other: &str) -> bool {
        self.eq_bytes(other.as_bytes())
    }

    /// Whether the unescaped string equals the bytes `other`.
    #[inline(never)] // flash: see the module note
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        // As in `cmp_bytes`.
        match self.plain_bytes() {
            Some(plain) => plain.iter().eq(other),
            None => self.bytes().eq(other.iter().copied()),
        }
    }

    /// Whether two strings are equal once unescaped.
    pub fn eq_json_str(&self, other: &JsonStr<'_>) -> bool {
        self.bytes().eq(other.bytes())
    }

    /// The length of the unescaped string in bytes.
    pub fn len(&self) -> usize {
        self.bytes().count()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// The unescaped bytes of a [`JsonStr`].
#[derive(Clone, Debug)]
pub struct Unescaped<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    #[inline(never)] // flash: see the module note
    fn next(&mut self) -> Option<u8> {
        let b = *self.raw.get(self.pos)?;
        if b == b'\\' {
            let escaped = *self.raw.get(self.pos.saturating_add(1))?;
            self.pos = self.pos.saturating_add(2);
            Some(escaped)
        } else {
            self.pos = self.pos.saturating_add(1);
            Some(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::Json;

    /// Plain strings are compared in place, escaped ones once unescaped:
    /// both give the order and equality of the unescaped bytes.
    #[test]
    fn strings_compare_by_their_unescaped_bytes() {
        let doc = br#"["ab","a\\b","a\"b"]"#;
        let items: Vec<_> = Json::parse_canonical(doc).unwrap().items().collect();
        let [plain, backslash, quote] = [0, 1, 2].map(|i| items[i].as_str().unwrap());
        for (s, text) in [(plain, "ab"), (backslash, "a\\b"), (quote, "a\"b")] {
            assert!(s.eq_str(text) && !s.eq_str("a") && !s.eq_str("abc"));
            assert_eq!(s.cmp_str(text), Ordering::Equal);
            assert_eq!(s.cmp_str("a"), Ordering::Greater);
            assert_eq!(s.cmp_str("b"), Ordering::Less);
        }
        assert_eq!(quote.cmp_str("a\\b"), Ordering::Less); // '"' < '\\'
    }
}
