//! A JSON value kept as its canonical bytes: a target's `custom`.
//!
//! A targets role of 10^5 entries read into [`serde_json::Value`] trees
//! spends most of its time building, cloning and re-writing the trees of the
//! entries' `custom` objects, which fwsign reads only for `custom.fwsign`.
//! [`RawJson`] holds the value's canonical JSON instead: cloning it shares
//! the bytes, and the canonical writer copies them as they stand.
//!
//! Two serde hand-offs, each only between this crate's own reader and writer
//! and this type, make that cheap; everything else sees an ordinary JSON
//! value through a [`Value`] round trip:
//! - reading: the streaming reader ([`crate::parse`]) answers a request for
//!   the newtype struct named `TOKEN` with an enum variant of that name
//!   holding the value's canonical text (the text as it stands when it is
//!   canonical already, else canonicalised). No JSON deserializer produces
//!   an enum for a newtype-struct request, so another deserializer's value
//!   (serde_json's `from_value`, say) takes the [`Value`] path.
//! - writing: [`RawJson`] serializes as the newtype struct `TOKEN`. The
//!   canonical writer ([`crate::canonical`]) marks the hand-off on this
//!   thread and takes the text as a string; any other serializer leaves the
//!   mark unset and is given the [`Value`].
//!
//! Either way the bytes are those of the [`Value`] path: canonical JSON
//! is one spelling per value, so equal canonical text means an equal value.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Error;
use crate::canonical::{CanonicalError, to_canonical_vec};
use crate::reader::Json;

/// The newtype-struct name the crate's reader and writer recognise.
pub(crate) const TOKEN: &str = "$fwsign_manifest_schema::private::RawJson";

/// A JSON value (integers only, as canonical JSON has), held as its
/// canonical JSON text. Cheap to clone; compares equal exactly when the
/// values are equal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Arc<str>);

impl RawJson {
    /// The value, written as canonical JSON. A float is refused, as the
    /// canonical writer refuses it.
    pub fn from_value(value: &Value) -> Result<Self, CanonicalError> {
        let bytes = to_canonical_vec(value)?;
        let text = String::from_utf8(bytes)
            .map_err(|e| CanonicalError::Serialize(format!("canonical JSON not UTF-8: {e}")))?;
        Ok(Self(text.into()))
    }

    /// Reads JSON as any tool writes it, with the strict reader's rules
    /// ([`crate::parse::parse_json`]), and keeps its canonical form.
    pub fn from_json(text: &[u8]) -> Result<Self, Error> {
        let bytes = crate::canonical::canonicalize(text)?;
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::Format(format!("canonical JSON not UTF-8: {e}")))?;
        Ok(Self(text.into()))
    }

    /// `text`, if it is canonical JSON already: what the reader hands over.
    fn from_canonical(text: &str) -> Option<Self> {
        Json::parse_canonical(text.as_bytes())
            .is_ok()
            .then(|| Self(text.into()))
    }

    /// The canonical JSON text. Control characters in strings stand raw in
    /// it, as canonical JSON writes them.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as a tree, for the callers that need one.
    pub fn to_value(&self) -> Result<Value, Error> {
        Ok(crate::parse::parse_json(self.0.as_bytes())?)
    }

    /// The value, read in place without validating it again: every way of
    /// making a `RawJson` holds canonical JSON (the canonical writer's
    /// output, or text the reader accepted), which the reader's navigation
    /// reads at any depth. A role's check reads each entry's `custom` this
    /// way, 10^5 times for a catalogue.
    pub(crate) fn json(&self) -> Json<'_> {
        Json::validated(self.0.as_bytes())
    }

    /// The canonical text of member `key`, if this is an object that has
    /// one; `None` from `Err` when the value nests deeper than the
    /// canonical reader goes (the caller then reads [`RawJson::to_value`]).
    pub(crate) fn member(&self, key: &str) -> Result<Option<&str>, ()> {
        let json = Json::parse_canonical(self.0.as_bytes()).map_err(|_| ())?;
        // The member is a whole value inside the validated text, which is
        // UTF-8; a slice of it at value boundaries is too.
        Ok(json
            .get(key)
            .and_then(|member| std::str::from_utf8(member.as_bytes()).ok()))
    }

    /// Sets member `key` of this object to `value`, keeping every other
    /// member. Refused when this is not an object, or `value` holds a float.
    pub fn insert(&mut self, key: &str, value: Value) -> Result<(), Error> {
        let mut tree = self.to_value()?;
        let Value::Object(map) = &mut tree else {
            return Err(Error::Format("custom is not an object".into()));
        };
        map.insert(key.to_owned(), value);
        *self = Self::from_value(&tree)?;
        Ok(())
    }

    /// The object `{key: value}`.
    pub fn object_with(key: &str, value: Value) -> Result<Self, Error> {
        let mut map = Map::new();
        map.insert(key.to_owned(), value);
        Ok(Self::from_value(&Value::Object(map))?)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawJson").field(&&*self.0).finish()
    }
}

thread_local! {
    /// Set by the canonical writer just before it asks a [`TOKEN`] newtype
    /// for its content, and taken by the first [`Content`] to be asked: so
    /// only the writer's own request sees it.
    static WRITER_TAKES_TEXT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `write` (the canonical writer serializing a [`TOKEN`] newtype's
/// content) with the hand-off marked, and clears the mark after.
pub(crate) fn hand_off_text<R>(write: impl FnOnce() -> R) -> R {
    WRITER_TAKES_TEXT.with(|mark| mark.set(true));
    let result = write();
    WRITER_TAKES_TEXT.with(|mark| mark.set(false));
    result
}

/// The content of the [`TOKEN`] newtype.
struct Content<'a>(&'a RawJson);

impl Serialize for Content<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if WRITER_TAKES_TEXT.with(|mark| mark.replace(false)) {
            serializer.serialize_str(self.0.as_str())
        } else {
            let value = self.0.to_value().map_err(serde::ser::Error::custom)?;
            value.serialize(serializer)
        }
    }
}

/// Canonical text borrowed for one write by the canonical writer, under
/// the same hand-off as [`RawJson`]: for text made by this crate's writer
/// already (a role's signing payload, see
/// [`crate::canonical::signed_to_portable_bytes`]), which copying into a
/// [`RawJson`] would only duplicate. Any other serializer is refused.
pub(crate) struct CanonicalTextRef<'a>(pub(crate) &'a str);

/// The content of [`CanonicalTextRef`]'s [`TOKEN`] newtype.
struct TextContent<'a>(&'a str);

impl Serialize for TextContent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if WRITER_TAKES_TEXT.with(|mark| mark.replace(false)) {
            serializer.serialize_str(self.0)
        } else {
            Err(serde::ser::Error::custom(
                "borrowed canonical text is written by the canonical writer only",
            ))
        }
    }
}

impl Serialize for CanonicalTextRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(TOKEN, &TextContent(self.0))
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(TOKEN, &Content(self))
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(TOKEN, RawJsonVisitor)
    }
}

struct RawJsonVisitor;

impl RawJsonVisitor {
    fn from_tree<E: de::Error>(value: &Value) -> Result<RawJson, E> {
        RawJson::from_value(value).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for RawJsonVisitor {
    type Value = RawJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    // The crate's reader: the canonical text, checked again here so that
    // nothing but canonical JSON is ever held.
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<RawJson, A::Error> {
        let (tag, variant) = data.variant::<&'de str>()?;
        if tag != TOKEN {
            return Err(de::Error::custom("expected a JSON value, found an enum"));
        }
        de::VariantAccess::newtype_variant_seed(variant, CanonicalText)
    }

    // Every other deserializer: the value itself, through a tree.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<RawJson, D::Error> {
        Self::from_tree(&Value::deserialize(d)?)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawJson, A::Error> {
        Self::from_tree(&Value::deserialize(de::value::MapAccessDeserializer::new(
            map,
        ))?)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<RawJson, A::Error> {
        Self::from_tree(&Value::deserialize(de::value::SeqAccessDeserializer::new(
            seq,
        ))?)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawJson, E> {
        Self::from_tree(&Value::String(v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawJson, E> {
        Self::from_tree(&Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawJson, E> {
        Self::from_tree(&Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawJson, E> {
        Self::from_tree(&Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawJson, E> {
        Self::from_tree(&Value::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawJson, E> {
        Self::from_tree(&Value::Null)
    }
}

/// The canonical text in the reader's enum variant.
struct CanonicalText;

impl<'de> de::DeserializeSeed<'de> for CanonicalText {
    type Value = RawJson;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawJson, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for CanonicalText {
    type Value = RawJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("canonical JSON text")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawJson, E> {
        RawJson::from_canonical(v).ok_or_else(|| E::custom("not canonical JSON text"))
    }
}

// The schema of any JSON value, as `Option<Value>` had.
impl JsonSchema for RawJson {
    fn inline_schema() -> bool {
        Value::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        Value::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        Value::json_schema(generator)
    }
}

#[cfg(test)]
mod tests;
