//! The chain walk's reading of a line: its `seq`, `prev` and `hash`, with
//! the verdict [`parse_entry`] gives, but without owning what the line
//! lists. A publish line of 10^5 targets read into [`Line`] built a map of
//! 10^5 owned names and hashes on every read of the log, and every command
//! reads the log once.
//!
//! [`LineRef`] is [`Line`] with its text borrowed where the line has no
//! escapes and its targets as the pairs in the order written. It is held to
//! the same checks ([`fast_checks`]), including that the line is, byte for
//! byte, the canonical form of what was read. Its targets must be in
//! strictly increasing order, which the canonical form of a map has and
//! nothing else written from [`Line`]'s map can have, so when this
//! accepts a line the map reading accepts it too with the same fields.
//! Anything else goes to [`parse_entry`], which gives the verdict.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::{EventFields, FastFields, Fault, TargetPairs, fast_checks, parse_entry};
use fwsign_manifest_schema::canonical::to_canonical_bytes;

/// A line's place in the chain.
pub(in crate::audit) struct Link {
    /// Its `seq`.
    pub(in crate::audit) seq: u64,
    /// Its `prev`.
    pub(in crate::audit) prev: String,
    /// Its `hash`.
    pub(in crate::audit) hash: String,
}

/// Reads a line's place in the chain, with [`parse_entry`]'s verdict.
pub(in crate::audit) fn parse_link(text: &[u8]) -> Result<Link, Fault> {
    if let Some(link) = parse_link_fast(text) {
        return Ok(link);
    }
    parse_entry(text).map(|parsed| Link {
        seq: parsed.body.seq,
        prev: parsed.body.prev,
        hash: parsed.hash,
    })
}

fn parse_link_fast(text: &[u8]) -> Option<Link> {
    let line: LineRef<'_> = serde_json::from_slice(text).ok()?;
    let fields = FastFields {
        hash: &line.hash,
        prev: &line.prev,
        time: &line.time,
        event: EventFields {
            action: &line.action,
            role: line.role.as_deref(),
            keyid: line.keyid.as_deref(),
            approver: line.approver.as_deref(),
            detail: line.detail.as_deref(),
            targets: TargetPairs::Read(&line.targets.0),
        },
    };
    fast_checks(text, &fields, &to_canonical_bytes(&line).ok()?)?;
    Some(Link {
        seq: line.seq,
        prev: line.prev.into_owned(),
        hash: line.hash.into_owned(),
    })
}

/// [`Line`](super::Line), borrowed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineRef<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    approver: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    detail: Option<Cow<'a, str>>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    keyid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    prev: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    role: Option<Cow<'a, str>>,
    seq: u64,
    #[serde(default, borrow, skip_serializing_if = "TargetsRef::is_empty")]
    targets: TargetsRef<'a>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
}

/// A line's targets as written, names strictly increasing.
#[derive(Default)]
struct TargetsRef<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl TargetsRef<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for TargetsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, hash) in &self.0 {
            map.serialize_entry(name.as_ref(), hash.as_ref())?;
        }
        map.end()
    }
}

/// A string borrowed from the line when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TargetsRef<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for PairsVisitor<'a> {
            type Value = TargetsRef<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("target names to hashes, names in increasing order")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((Text(name), Text(hash))) = map.next_entry::<Text<'a>, Text<'a>>()? {
                    // Out of order or repeated: not a canonical map, so
                    // not a line the fast reading takes.
                    if pairs
                        .last()
                        .is_some_and(|(last, _)| last.as_bytes() >= name.as_bytes())
                    {
                        return Err(serde::de::Error::custom("targets out of order"));
                    }
                    pairs.push((name, hash));
                }
                Ok(TargetsRef(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The borrowed reading gives the map reading's verdict and chain
    /// fields on every line: as written, with targets out of order,
    /// repeated or escaped, and damaged.
    #[test]
    fn a_link_reads_as_the_entry_does() {
        use crate::audit::entry::{AuditEvent, Body};
        let mut event = AuditEvent {
            action: "publish".into(),
            role: Some("bins-0a".into()),
            version: Some(3),
            detail: Some("quote \" and \\u00e9 é".into()),
            ..AuditEvent::default()
        };
        for i in 0..50 {
            event
                .targets
                .insert(format!("fw/\"{i:03}\".bin"), "ab".repeat(32));
        }
        let body = Body::new(&event, 7, "0".repeat(64), "2026-12-07T10:00:00Z".into());
        let (line, _) = body.line().unwrap();
        let text = String::from_utf8(line).unwrap();
        let mut variants = vec![text.clone()];
        // Targets swapped, one repeated, an escape for a plain character,
        // a byte changed, whitespace, a field dropped.
        variants.push(text.replacen("fw/\\\"000\\\".bin", "fw/\\\"001\\\".bin", 1));
        variants.push(text.replacen("\"fw/", "\"f\\u0077/", 1));
        variants.push(text.replacen("publish", "pubLish", 1));
        variants.push(text.replacen(":7,", ": 7,", 1));
        variants.push(text.replacen("\"role\":\"bins-0a\",", "", 1));
        variants.push(text.replacen("\"version\":3", "\"version\":3,\"targets\":{}", 1));
        // Each again with its hash made right for the changed text: what
        // someone rewriting the log would write.
        let rehash = |v: &String| {
            use sha2::{Digest, Sha256};
            let at = v.find(",\"hash\":\"").unwrap();
            let end = at + 9 + 64 + 1;
            let rest = format!("{}{}", &v[..at], &v[end..]);
            let hash = base16ct::lower::encode_string(&Sha256::digest(rest.as_bytes()));
            format!("{},\"hash\":\"{hash}\"{}", &v[..at], &v[end..])
        };
        let rehashed: Vec<String> = variants.iter().map(rehash).collect();
        assert_eq!(rehashed[0], text);
        variants.extend(rehashed);
        for v in &variants {
            let entry = parse_entry(v.as_bytes());
            let link = parse_link(v.as_bytes());
            match (&entry, &link) {
                (Ok(e), Ok(l)) => {
                    assert_eq!(
                        (e.body.seq, &e.body.prev, &e.hash),
                        (l.seq, &l.prev, &l.hash)
                    );
                }
                (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
                _ => panic!("verdicts differ on {v}"),
            }
        }
        assert!(parse_link_fast(text.as_bytes()).is_some());
        assert!(parse_link(variants[3].as_bytes()).is_err());
    }
}
