//! Typed values straight from the text: a serde [`Deserializer`] over the
//! strict reader, so a metadata document of 10^5 targets is read into its
//! types without a [`serde_json::Value`] tree of the whole document first.
//!
//! It is a fast path, not a second definition of what is acceptable: it
//! refuses at least what [`super::parse_json`] refuses (duplicate keys, lone
//! surrogates, floats, integers beyond `i64`/`u64`, nesting past
//! [`super::MAX_DEPTH`], trailing data) and, when it accepts, yields the
//! value `serde_json::from_value(parse_json(text))` would. On any failure it
//! gives up without saying why; the caller then takes the tree path, which
//! produces the error users see. So errors and their precedence are those
//! of the tree path by construction.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::de::{self, Deserialize, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::Value;

use super::{MAX_DEPTH, Parser};

/// `T` read from `text`, or `None` when the fast path cannot (the caller
/// then takes the tree path for the verdict and the error).
pub(crate) fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Option<T> {
    read(text, false)
}

/// [`from_slice`] of a document the canonical reader has validated: it is
/// canonical JSON throughout, so no object can repeat a key and every
/// value in it is canonical already. What the strict reading would check
/// again is not (the same value results, and the same refusals).
pub(crate) fn from_canonical<T: DeserializeOwned>(
    buf: &crate::canonical::CanonicalBuf,
) -> Option<T> {
    read(buf.as_bytes(), true)
}

fn read<T: DeserializeOwned>(text: &[u8], canonical: bool) -> Option<T> {
    let mut de = Reader {
        parser: Parser { text, pos: 0 },
        depth: 0,
        canonical,
    };
    de.parser.skip_whitespace();
    let value = T::deserialize(&mut de).ok()?;
    de.parser.skip_whitespace();
    (de.parser.pos == text.len()).then_some(value)
}

/// Why the fast path gave up; never shown (see the module docs).
#[derive(Debug)]
pub(crate) struct GaveUp;

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the streaming reader gave up")
    }
}

impl std::error::Error for GaveUp {}

impl de::Error for GaveUp {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        GaveUp
    }
}

struct Reader<'de> {
    parser: Parser<'de>,
    depth: usize,
    /// The text is a validated canonical document ([`from_canonical`]).
    canonical: bool,
}

impl<'de> Reader<'de> {
    /// A string at the cursor (on its opening quote): borrowed from the
    /// text when it has no escapes, as most do.
    fn string(&mut self) -> Result<Cow<'de, str>, GaveUp> {
        let text = self.parser.text;
        let start = self.parser.pos + 1;
        let mut end = start;
        while let Some(&b) = text.get(end) {
            match b {
                b'"' => {
                    let s = std::str::from_utf8(&text[start..end]).map_err(|_| GaveUp)?;
                    self.parser.pos = end + 1;
                    return Ok(Cow::Borrowed(s));
                }
                b'\\' => break,
                _ => end += 1,
            }
        }
        self.parser.string().map(Cow::Owned).map_err(|_| GaveUp)
    }

    /// The canonical text of the value at the cursor, which moves past it.
    ///
    /// Canonical already (fwsign's own files, mostly): validated by the
    /// canonical reader, which refuses everything the strict reader refuses
    /// (duplicate and unsorted keys, floats, escapes other than `\"` and
    /// `\\`), and borrowed. Any other spelling: read by the strict rules
    /// (duplicate keys, depth and all) without keeping anything, then
    /// canonicalised as the tree path would.
    fn canonical_text(&mut self) -> Result<Cow<'de, str>, GaveUp> {
        let text = self.parser.text;
        let start = self.parser.pos;
        // The canonical reader's nesting bound counts from this value; the
        // whole document's bound must hold too.
        if self.depth + crate::reader::MAX_DEPTH <= MAX_DEPTH
            && let Some(value) = self.canonical_prefix(&text[start..])
        {
            let bytes = value.as_bytes();
            self.parser.pos = start + bytes.len();
            return std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|_| GaveUp);
        }
        de::IgnoredAny::deserialize(&mut *self)?;
        let canonical =
            crate::canonical::canonicalize(&text[start..self.parser.pos]).map_err(|_| GaveUp)?;
        String::from_utf8(canonical)
            .map(Cow::Owned)
            .map_err(|_| GaveUp)
    }

    /// The canonical value at the start of `text`: found in a validated
    /// document, validated otherwise.
    fn canonical_prefix(&self, text: &'de [u8]) -> Option<crate::reader::Json<'de>> {
        if self.canonical {
            crate::reader::Json::validated_prefix(text)
        } else {
            crate::reader::Json::parse_canonical_prefix(text).ok()
        }
    }

    fn enter(&mut self) -> Result<(), GaveUp> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(GaveUp);
        }
        self.parser.pos += 1;
        Ok(())
    }

    fn peek(&self) -> Result<u8, GaveUp> {
        self.parser.peek().map_err(|_| GaveUp)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), GaveUp> {
        let end = self.parser.pos + word.len();
        if self.parser.text.get(self.parser.pos..end) != Some(word) {
            return Err(GaveUp);
        }
        self.parser.pos = end;
        Ok(())
    }

    /// Moves past the separator before the next item of an object or array;
    /// `false` at its closing `close`.
    fn next_item(&mut self, first: &mut bool, close: u8) -> Result<bool, GaveUp> {
        self.parser.skip_whitespace();
        let b = self.peek()?;
        if b == close {
            self.parser.pos += 1;
            self.depth -= 1;
            return Ok(false);
        }
        if !std::mem::take(first) {
            if b != b',' {
                return Err(GaveUp);
            }
            self.parser.pos += 1;
            self.parser.skip_whitespace();
        } else if b == b',' {
            return Err(GaveUp);
        }
        Ok(true)
    }
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self.peek()? {
            b'{' => {
                self.enter()?;
                visitor.visit_map(Members {
                    reader: self,
                    first: true,
                    keys: Keys::default(),
                })
            }
            b'[' => {
                self.enter()?;
                visitor.visit_seq(Items {
                    reader: self,
                    first: true,
                })
            }
            b'"' => match self.string()? {
                Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
                Cow::Owned(s) => visitor.visit_string(s),
            },
            b'-' | b'0'..=b'9' => match self.parser.number().map_err(|_| GaveUp)? {
                Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                    (Some(v), _) => visitor.visit_u64(v),
                    (None, Some(v)) => visitor.visit_i64(v),
                    (None, None) => Err(GaveUp),
                },
                _ => Err(GaveUp),
            },
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            _ => Err(GaveUp),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        if name == crate::raw_json::TOKEN {
            // A `RawJson`: its canonical text, without a tree (see
            // `crate::raw_json` for the hand-off).
            let text = self.canonical_text()?;
            return visitor.visit_enum(RawText(text));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        // Unit variants only (as strings); anything else takes the tree path.
        if self.peek()? != b'"' {
            return Err(GaveUp);
        }
        let variant: String = self.string()?.into_owned();
        visitor.visit_enum(variant.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// The keys of one object seen so far, for refusing a duplicate.
///
/// Keys in strictly increasing order (every canonical object: every file
/// fwsign writes) cannot repeat, so each is compared with the last one only;
/// hashing the 10^5 names of a targets map into a set was a tenth of its
/// parse. From the first key out of order on, every key is looked up among
/// all seen (a list for small objects, a set for large ones).
#[derive(Default)]
struct Keys<'de> {
    /// Every key so far, in the order read, until they move to `many`.
    seen: Vec<Cow<'de, str>>,
    /// Whether a key came at or below the one before it.
    unordered: bool,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> Keys<'de> {
    /// Small unordered objects are searched in a list; large ones in a set.
    const LIST_LIMIT: usize = 16;

    /// `false` when `key` was seen before.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if !self.unordered {
            if self
                .seen
                .last()
                .is_none_or(|last| last.as_bytes() < key.as_bytes())
            {
                self.seen.push(key);
                return true;
            }
            self.unordered = true;
        }
        if self.many.is_empty() {
            if self.seen.len() < Self::LIST_LIMIT {
                if self.seen.contains(&key) {
                    return false;
                }
                self.seen.push(key);
                return true;
            }
            self.many.extend(self.seen.drain(..));
        }
        self.many.insert(key)
    }
}

struct Members<'r, 'de> {
    reader: &'r mut Reader<'de>,
    first: bool,
    keys: Keys<'de>,
}

impl<'de> de::MapAccess<'de> for Members<'_, 'de> {
    type Error = GaveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GaveUp> {
        if !self.reader.next_item(&mut self.first, b'}')? {
            return Ok(None);
        }
        if self.reader.peek()? != b'"' {
            return Err(GaveUp);
        }
        let key = self.reader.string()?;
        // A canonical document's keys are strictly increasing: none repeats.
        if !self.reader.canonical && !self.keys.insert(key.clone()) {
            return Err(GaveUp);
        }
        self.reader.parser.skip_whitespace();
        if self.reader.peek()? != b':' {
            return Err(GaveUp);
        }
        self.reader.parser.pos += 1;
        self.reader.parser.skip_whitespace();
        seed.deserialize(de::value::CowStrDeserializer::<GaveUp>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GaveUp> {
        seed.deserialize(&mut *self.reader)
    }
}

/// A `RawJson`'s canonical text, handed over as the enum variant
/// [`crate::raw_json::TOKEN`], which only `RawJson` asks for.
struct RawText<'de>(Cow<'de, str>);

impl<'de> de::EnumAccess<'de> for RawText<'de> {
    type Error = GaveUp;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), GaveUp> {
        let tag = seed.deserialize(de::value::BorrowedStrDeserializer::<GaveUp>::new(
            crate::raw_json::TOKEN,
        ))?;
        Ok((tag, self))
    }
}

impl<'de> de::VariantAccess<'de> for RawText<'de> {
    type Error = GaveUp;

    fn unit_variant(self) -> Result<(), GaveUp> {
        Err(GaveUp)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, GaveUp> {
        match self.0 {
            Cow::Borrowed(text) => {
                seed.deserialize(de::value::BorrowedStrDeserializer::<GaveUp>::new(text))
            }
            Cow::Owned(text) => seed.deserialize(text.into_deserializer()),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, GaveUp> {
        Err(GaveUp)
    }
}

struct Items<'r, 'de> {
    reader: &'r mut Reader<'de>,
    first: bool,
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = GaveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GaveUp> {
        if !self.reader.next_item(&mut self.first, b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

#[cfg(test)]
mod tests;
