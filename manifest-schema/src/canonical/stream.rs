//! A serde [`Serializer`] that writes canonical JSON straight from typed
//! values, without building a [`serde_json::Value`] of the document first.
//!
//! A targets role of 10^5 entries as a `Value` tree costs several KiB per
//! entry and a second walk; this writer costs the output bytes and, per open
//! object, a list of its member offsets. Objects are written as their members
//! arrive; when an object ends, its members are put in canonical order (keys
//! sorted by their UTF-8 bytes) by rearranging that object's bytes in place.
//! Members that arrive sorted (a `BTreeMap`, such as the targets map, which
//! is almost the whole document) are left where they are, so the common case
//! writes every byte once.
//!
//! The bytes are exactly those of [`super::write_canonical`] over
//! `serde_json::to_value` of the same value (the tests compare the two),
//! including its one quiet rule: a key given twice in one object (a flattened
//! `unknown` field that repeats a known one) keeps the last value, as a
//! `serde_json::Map` does.

use serde::ser::{self, Impossible, Serialize};

use super::{CanonicalError, write_string};

mod raw;

/// Writes `value` as canonical JSON into `out` (`escape_controls`: the
/// portable form, see [`super::to_portable_json`]).
pub(super) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    escape_controls: bool,
) -> Result<(), CanonicalError> {
    value.serialize(&mut Writer {
        out,
        escape_controls,
    })
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    escape_controls: bool,
}

impl ser::Error for CanonicalError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        CanonicalError::Serialize(msg.to_string())
    }
}

/// One member of an object being written: its key (unescaped, for sorting)
/// and where `"key":value` sits in the output.
struct Member {
    key: Box<str>,
    start: usize,
    end: usize,
}

/// An object being written.
pub(super) struct Object<'w, 'a> {
    writer: &'w mut Writer<'a>,
    /// Where the first member starts (just after `{`).
    body_start: usize,
    members: Vec<Member>,
    /// Whether the members so far arrived in strictly increasing key order.
    sorted: bool,
}

impl<'a> Writer<'a> {
    fn object(&mut self) -> Object<'_, 'a> {
        self.out.push(b'{');
        let body_start = self.out.len();
        Object {
            writer: self,
            body_start,
            members: Vec::new(),
            sorted: true,
        }
    }

    fn integer(&mut self, text: impl itoa_like::Integer) {
        text.write(self.out);
    }
}

/// Integers written in decimal without an allocation per number.
mod itoa_like {
    pub(super) trait Integer {
        fn write(self, out: &mut Vec<u8>);
    }
    impl Integer for u64 {
        fn write(self, out: &mut Vec<u8>) {
            let mut buf = [0u8; 20];
            let mut i = buf.len();
            let mut v = self;
            loop {
                i -= 1;
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            out.extend_from_slice(&buf[i..]);
        }
    }
    impl Integer for i64 {
        fn write(self, out: &mut Vec<u8>) {
            if self < 0 {
                out.push(b'-');
            }
            self.unsigned_abs().write(out);
        }
    }
}

impl Object<'_, '_> {
    fn begin_member(&mut self, key: &str) {
        if !self.members.is_empty() {
            self.writer.out.push(b',');
        }
        if let Some(last) = self.members.last()
            && last.key.as_bytes() >= key.as_bytes()
        {
            self.sorted = false;
        }
        let start = self.writer.out.len();
        write_string(key, self.writer.out, self.writer.escape_controls);
        self.writer.out.push(b':');
        self.members.push(Member {
            key: key.into(),
            start,
            end: start,
        });
    }

    fn end_member(&mut self) {
        if let Some(last) = self.members.last_mut() {
            last.end = self.writer.out.len();
        }
    }

    fn finish(self) {
        let Object {
            writer,
            body_start,
            mut members,
            sorted,
        } = self;
        if !sorted {
            // A stable sort, then keep the last of equal keys, as inserting
            // into a map would.
            members.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
            let mut kept: Vec<&Member> = Vec::with_capacity(members.len());
            for m in &members {
                match kept.last_mut() {
                    Some(prev) if prev.key == m.key => *prev = m,
                    _ => kept.push(m),
                }
            }
            let body = writer.out.split_off(body_start);
            for (i, m) in kept.iter().enumerate() {
                if i > 0 {
                    writer.out.push(b',');
                }
                let (start, end) = (m.start - body_start, m.end - body_start);
                writer.out.extend_from_slice(&body[start..end]);
            }
        }
        writer.out.push(b'}');
    }
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'w, 'a>;
    type SerializeTuple = Array<'w, 'a>;
    type SerializeTupleStruct = Array<'w, 'a>;
    type SerializeTupleVariant = VariantArray<'w, 'a>;
    type SerializeMap = MapWriter<'w, 'a>;
    type SerializeStruct = Object<'w, 'a>;
    type SerializeStructVariant = VariantObject<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonicalError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), CanonicalError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), CanonicalError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), CanonicalError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), CanonicalError> {
        // serde_json stores a non-negative i64 as a u64; the digits agree.
        self.integer(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), CanonicalError> {
        if let Ok(v) = u64::try_from(v) {
            self.integer(v);
        } else if let Ok(v) = i64::try_from(v) {
            self.integer(v);
        } else {
            return Err(CanonicalError::Serialize("number out of range".into()));
        }
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), CanonicalError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), CanonicalError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), CanonicalError> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), CanonicalError> {
        self.integer(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), CanonicalError> {
        let v = u64::try_from(v)
            .map_err(|_| CanonicalError::Serialize("number out of range".into()))?;
        self.integer(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), CanonicalError> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), CanonicalError> {
        // As the Value path: a float is refused, non-finite ones (which
        // serde_json turns into null) included.
        if v.is_finite() {
            Err(CanonicalError::Float(
                serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
            ))
        } else {
            self.out.extend_from_slice(b"null");
            Ok(())
        }
    }
    fn serialize_char(self, v: char) -> Result<(), CanonicalError> {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), CanonicalError> {
        write_string(v, self.out, self.escape_controls);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), CanonicalError> {
        // serde_json writes bytes as an array of numbers.
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CanonicalError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), CanonicalError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        if name == crate::raw_json::TOKEN {
            // A `RawJson`: its canonical text, copied (see `crate::raw_json`).
            return crate::raw_json::hand_off_text(|| value.serialize(raw::RawText(self)));
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let mut object = self.object();
        object.begin_member(variant);
        value.serialize(&mut *object.writer)?;
        object.end_member();
        object.finish();
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'w, 'a>, CanonicalError> {
        self.out.push(b'[');
        Ok(Array {
            writer: self,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'w, 'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'w, 'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantArray<'w, 'a>, CanonicalError> {
        let mut object = self.object();
        object.begin_member(variant);
        object.writer.out.push(b'[');
        Ok(VariantArray {
            object,
            first: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapWriter<'w, 'a>, CanonicalError> {
        Ok(MapWriter {
            object: self.object(),
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Object<'w, 'a>, CanonicalError> {
        Ok(self.object())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantObject<'w, 'a>, CanonicalError> {
        let mut outer = self.object();
        outer.begin_member(variant);
        // The inner object is written through the same output; its offsets
        // are kept apart from the outer object's.
        let body_start = {
            outer.writer.out.push(b'{');
            outer.writer.out.len()
        };
        Ok(VariantObject {
            outer,
            body_start,
            members: Vec::new(),
            sorted: true,
        })
    }
}

/// An array being written.
pub(super) struct Array<'w, 'a> {
    writer: &'w mut Writer<'a>,
    first: bool,
}

impl Array<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut *self.writer)
    }
    fn close(self) {
        self.writer.out.push(b']');
    }
}

impl ser::SerializeSeq for Array<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTuple for Array<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Array<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.close();
        Ok(())
    }
}

/// `{"Variant":[...]}`.
pub(super) struct VariantArray<'w, 'a> {
    object: Object<'w, 'a>,
    first: bool,
}

impl ser::SerializeTupleVariant for VariantArray<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        if !self.first {
            self.object.writer.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut *self.object.writer)
    }
    fn end(mut self) -> Result<(), CanonicalError> {
        self.object.writer.out.push(b']');
        self.object.end_member();
        self.object.finish();
        Ok(())
    }
}

impl ser::SerializeStruct for Object<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.begin_member(key);
        value.serialize(&mut *self.writer)?;
        self.end_member();
        Ok(())
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish();
        Ok(())
    }
}

/// `{"Variant":{...}}`: the inner object's members are tracked here, the
/// outer object holds the one member.
pub(super) struct VariantObject<'w, 'a> {
    outer: Object<'w, 'a>,
    body_start: usize,
    members: Vec<Member>,
    sorted: bool,
}

impl ser::SerializeStructVariant for VariantObject<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let mut inner = Object {
            writer: &mut *self.outer.writer,
            body_start: self.body_start,
            members: std::mem::take(&mut self.members),
            sorted: self.sorted,
        };
        inner.begin_member(key);
        value.serialize(&mut *inner.writer)?;
        inner.end_member();
        self.members = inner.members;
        self.sorted = inner.sorted;
        Ok(())
    }
    fn end(mut self) -> Result<(), CanonicalError> {
        Object {
            writer: &mut *self.outer.writer,
            body_start: self.body_start,
            members: self.members,
            sorted: self.sorted,
        }
        .finish();
        self.outer.end_member();
        self.outer.finish();
        Ok(())
    }
}

/// A map being written: keys go through [`MapKey`], which accepts what
/// serde_json accepts as a map key (strings, and integers, chars and bools
/// written as strings).
pub(super) struct MapWriter<'w, 'a> {
    object: Object<'w, 'a>,
}

impl ser::SerializeMap for MapWriter<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalError> {
        let key = key.serialize(MapKey)?;
        self.object.begin_member(&key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        value.serialize(&mut *self.object.writer)?;
        self.object.end_member();
        Ok(())
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.object.finish();
        Ok(())
    }
}

/// Turns a map key into its string, as serde_json's map-key serializer does.
struct MapKey;

fn key_must_be_a_string() -> CanonicalError {
    CanonicalError::Serialize("key must be a string".into())
}

impl ser::Serializer for MapKey {
    type Ok = String;
    type Error = CanonicalError;
    type SerializeSeq = Impossible<String, CanonicalError>;
    type SerializeTuple = Impossible<String, CanonicalError>;
    type SerializeTupleStruct = Impossible<String, CanonicalError>;
    type SerializeTupleVariant = Impossible<String, CanonicalError>;
    type SerializeMap = Impossible<String, CanonicalError>;
    type SerializeStruct = Impossible<String, CanonicalError>;
    type SerializeStructVariant = Impossible<String, CanonicalError>;

    fn serialize_str(self, v: &str) -> Result<String, CanonicalError> {
        Ok(v.to_owned())
    }
    fn serialize_char(self, v: char) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_f64(self, _v: f64) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, CanonicalError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, CanonicalError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, CanonicalError> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, CanonicalError> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests;
