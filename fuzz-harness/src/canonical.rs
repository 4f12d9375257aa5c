//! `canonical_reader`: the device's zero-copy canonical JSON reader.

use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::parse::parse_json;
use fwsign_manifest_schema::reader::{Json, Kind, is_utf8};

/// Validates `data` with [`Json::parse_canonical`] and, when it is accepted,
/// walks the whole document with every navigation helper.
///
/// Never panics on any input; besides, for every accepted document:
/// - each member is found again by [`Json::get_bytes`] with its unescaped
///   key, and keys strictly increase (sorted, no duplicates);
/// - the typed accessors agree with [`Json::kind`];
/// - the strict host parser reads it, and the canonical writer writes exactly
///   the same bytes back: the reader accepts canonical JSON and nothing else.
///
/// Also checks the reader's UTF-8 validator against `core`'s on the input.
pub fn canonical_reader(data: &[u8]) {
    assert_eq!(
        is_utf8(data),
        std::str::from_utf8(data).is_ok(),
        "reader::is_utf8 disagrees with core::str::from_utf8"
    );
    let Ok(doc) = Json::parse_canonical(data) else {
        return;
    };
    assert_eq!(doc.as_bytes(), data);
    walk(doc);
    let value = parse_json(data).expect("canonical JSON is JSON the strict parser reads");
    let written = to_canonical_vec(&value).expect("a parsed value has a canonical form");
    assert_eq!(
        written, data,
        "the reader accepted bytes that are not the canonical form of their value"
    );
}

fn walk(value: Json<'_>) {
    let kind = value.kind();
    assert_eq!(value.as_str().is_some(), kind == Kind::String);
    assert_eq!(value.as_bool().is_some(), kind == Kind::Bool);
    assert_eq!(value.is_null(), kind == Kind::Null);
    if value.as_u64().is_some() || value.as_i64().is_some() {
        assert_eq!(kind, Kind::Integer);
    }
    if kind == Kind::Integer {
        assert!(value.as_u64().is_some() || value.as_i64().is_some());
    }
    if let Some(s) = value.as_str() {
        let unescaped: Vec<u8> = s.bytes().collect();
        assert_eq!(s.len(), unescaped.len());
        assert_eq!(s.is_empty(), unescaped.is_empty());
        assert!(s.eq_bytes(&unescaped) && s.eq_json_str(&s));
        assert!(
            std::str::from_utf8(&unescaped).is_ok(),
            "a validated string is UTF-8 once unescaped"
        );
        if let Some(plain) = s.plain_bytes() {
            assert_eq!(plain, unescaped);
            assert_eq!(s.as_plain().map(str::as_bytes), Some(plain));
        }
    }
    let mut previous: Option<Vec<u8>> = None;
    let mut members = 0usize;
    for (key, member) in value.members() {
        members += 1;
        let name: Vec<u8> = key.bytes().collect();
        if let Some(previous) = &previous {
            assert!(*previous < name, "object keys out of order");
        }
        assert_eq!(key.cmp_bytes(&name), core::cmp::Ordering::Equal);
        let found = value
            .get_bytes(&name)
            .expect("every member is found by its key");
        assert_eq!(found.as_bytes(), member.as_bytes());
        if let Ok(text) = std::str::from_utf8(&name) {
            assert_eq!(
                value.get(text).map(|j| j.as_bytes()),
                Some(member.as_bytes())
            );
        }
        walk(member);
        previous = Some(name);
    }
    if kind != Kind::Object {
        assert_eq!(members, 0);
        assert!(value.get("").is_none());
    }
    let mut items = 0usize;
    for item in value.items() {
        items += 1;
        walk(item);
    }
    if kind != Kind::Array {
        assert_eq!(items, 0);
    }
}
