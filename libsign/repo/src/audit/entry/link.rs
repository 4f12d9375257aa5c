//! The chain walk's reading of a line: its `seq`, `prev` and `hash`, with
//! the verdict [`parse_entry`] gives, but without owning what the line
//! lists. A publish line of 10^5 targets read into [`Line`] built a map of
//! 10^5 owned names and hashes on every read of the log, and every command
//! reads the log once.
//!
//! The line is read with the canonical JSON reader, which refuses any text
//! that is not canonical JSON (sorted keys, none repeated, no whitespace,
//! only `\"` and `\\` escaped). The members must be exactly [`Line`]'s,
//! each of its type, `targets` a non-empty object of strings; then the text
//! is, byte for byte, what writing those fields gives, so it is held to the
//! same checks ([`fast_checks`]) as the map reading's fast path, and when
//! this accepts a line the map reading accepts it too with the same fields.
//! It never re-serialises the line, which took a third of the walk on a
//! line of 10^5 targets. Anything else goes to [`parse_entry`], which gives
//! the verdict.

use std::borrow::Cow;

use super::{EventFields, FastFields, Fault, TargetPairs, fast_checks, parse_entry};
use fwsign_manifest_schema::reader::{Json, JsonStr, Kind};

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
    let line = Json::parse_canonical(text).ok()?;
    let mut fields = Fields::default();
    for (name, value) in line.members() {
        let slot = match name.as_plain()? {
            "action" => &mut fields.action,
            "approver" => &mut fields.approver,
            "detail" => &mut fields.detail,
            "hash" => &mut fields.hash,
            "keyid" => &mut fields.keyid,
            "prev" => &mut fields.prev,
            "role" => &mut fields.role,
            "seq" => &mut fields.seq,
            "targets" => &mut fields.targets,
            "time" => &mut fields.time,
            "version" => &mut fields.version,
            // `Line` denies unknown fields.
            _ => return None,
        };
        *slot = Some(value);
    }
    let hash = string(fields.hash?)?;
    let prev = string(fields.prev?)?;
    let time = string(fields.time?)?;
    let action = string(fields.action?)?;
    let (approver, detail) = (optional(fields.approver)?, optional(fields.detail)?);
    let (keyid, role) = (optional(fields.keyid)?, optional(fields.role)?);
    let seq = fields.seq?.as_u64()?;
    if let Some(version) = fields.version {
        version.as_u64()?;
    }
    // `null` and `{}` read as no targets and are written back as nothing:
    // not this text, so left to the tree reading.
    let mut targets = Vec::new();
    if let Some(listed) = fields.targets {
        if listed.kind() != Kind::Object {
            return None;
        }
        for (name, digest) in listed.members() {
            targets.push((unescaped(name), string(digest)?));
        }
        if targets.is_empty() {
            return None;
        }
    }
    let checked = FastFields {
        hash: &hash,
        prev: &prev,
        time: &time,
        event: EventFields {
            action: &action,
            role: role.as_deref(),
            keyid: keyid.as_deref(),
            approver: approver.as_deref(),
            detail: detail.as_deref(),
            targets: TargetPairs::Read(&targets),
        },
    };
    // The reader took the text as canonical JSON of exactly `Line`'s
    // fields, each of its type, the targets' names strictly increasing
    // (canonical keys): the text is what writing those fields gives.
    fast_checks(text, &checked, text)?;
    Some(Link {
        seq,
        prev: prev.into_owned(),
        hash: hash.into_owned(),
    })
}

/// The members of a line, as the reader found them.
#[derive(Default)]
struct Fields<'a> {
    action: Option<Json<'a>>,
    approver: Option<Json<'a>>,
    detail: Option<Json<'a>>,
    hash: Option<Json<'a>>,
    keyid: Option<Json<'a>>,
    prev: Option<Json<'a>>,
    role: Option<Json<'a>>,
    seq: Option<Json<'a>>,
    targets: Option<Json<'a>>,
    time: Option<Json<'a>>,
    version: Option<Json<'a>>,
}

/// The string `value`, unescaped; `None` when it is not a string.
fn string(value: Json<'_>) -> Option<Cow<'_, str>> {
    value.as_str().map(unescaped)
}

/// An optional string member: `Some(None)` when absent, `None` when it is
/// not a string (`null` included, which `Line` reads as absent and does not
/// write back).
fn optional(value: Option<Json<'_>>) -> Option<Option<Cow<'_, str>>> {
    match value {
        None => Some(None),
        Some(v) => string(v).map(Some),
    }
}

/// `text` unescaped, borrowed when it has no escapes.
fn unescaped(text: JsonStr<'_>) -> Cow<'_, str> {
    match text.as_plain() {
        Some(plain) => Cow::Borrowed(plain),
        // The reader checked the text is UTF-8; unescaping `\"` and `\\`
        // keeps it so, and lossy never replaces anything.
        None => {
            let bytes: Vec<u8> = text.bytes().collect();
            Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
        }
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
        // What the reader takes as canonical but `Line` reads otherwise or
        // refuses: an unknown member, `null` for an absent one, a number
        // for a string, a string for a number.
        variants.push(text.replacen("\"version\":3}", "\"version\":3,\"zz\":1}", 1));
        variants.push(text.replacen(",\"detail\"", ",\"approver\":null,\"detail\"", 1));
        variants.push(text.replacen(&format!("\"{}\"", "ab".repeat(32)), "1", 1));
        variants.push(text.replacen("\"version\":3", "\"version\":\"3\"", 1));
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
        for changed in &variants[1..] {
            assert_ne!(changed, &text, "each variant changes the line");
        }
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
