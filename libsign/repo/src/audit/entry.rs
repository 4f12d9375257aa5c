//! The log format: the events fwsign records, one line as stored
//! ([`AuditEntry`]), the head ([`AuditHead`]), and how one line is written,
//! parsed and hashed (canonical JSON, its own SHA-256).
//!
//! Separate from the file handling: what a line is must read on its own,
//! since other tools may check the log with nothing but this description.

use std::collections::BTreeMap;

use fwsign_manifest_schema::canonical::{CanonicalError, to_canonical_bytes};
use fwsign_manifest_schema::expiry::parse_expires;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::AuditError;
use super::verify::{Anchor, check_anchor};

mod link;
#[cfg(test)]
mod tests;
mod tree;

pub(super) use link::{Link, parse_link};

/// One event to record: what happened, to which role, version, key and
/// targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// What happened: `init`, `stage`, `sign`, `import-signature`,
    /// `approvals-dropped`, `publish`, `refuse`, `merge-signatures`,
    /// `refresh`, …
    pub action: String,
    /// The role concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The role's metadata version concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The key that acted (signed, was imported), if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// The name of that key's owner, as the signed metadata authorising the
    /// key named it when the event was recorded
    /// ([`key_owners`](crate::key_owners)), if named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// Target name to lowercase hex SHA-256 of its contents; left out of the
    /// line when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, String>,
    /// Free text: a refusal's reason, the other copy's head for
    /// `merge-signatures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A line as stored: the event and the chain fields around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The line number in the file, from 1.
    pub line: usize,
    /// The `seq` field; equal to `line` in a log that verifies.
    pub seq: u64,
    /// When the line was appended, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    /// What was recorded.
    pub event: AuditEvent,
    /// The previous line's hash (64 zeros on line 1).
    pub prev: String,
    /// This line's hash.
    pub hash: String,
}

impl AuditEntry {
    /// The head of the log if this is its last line.
    pub fn head(&self) -> AuditHead {
        AuditHead {
            line: self.seq,
            sha256: self.hash.clone(),
        }
    }
}

/// A position in the log: the value stored as
/// [`HEAD_FIELD`](super::HEAD_FIELD), `{"line": N, "sha256": "<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    /// The line number, from 1.
    pub line: u64,
    /// That line's `hash`.
    pub sha256: String,
}

impl std::fmt::Display for AuditHead {
    /// `LINE:SHA256`, the form `repo audit --expect-head` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.sha256)
    }
}

impl std::str::FromStr for AuditHead {
    type Err = AuditError;

    /// Parses `LINE:SHA256` (a line number from 1, 64 lowercase hex digits).
    fn from_str(text: &str) -> Result<Self, AuditError> {
        let invalid = |reason| AuditError::InvalidAnchor {
            anchor: format!("{text:?}"),
            reason,
        };
        let (line, sha256) = text
            .split_once(':')
            .ok_or_else(|| invalid("expected LINE:SHA256"))?;
        if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("LINE is not a line number"));
        }
        let line: u64 = line
            .parse()
            .map_err(|_| invalid("LINE is not a line number"))?;
        let head = Self {
            line,
            sha256: sha256.to_owned(),
        };
        check_anchor(&Anchor {
            source: format!("{text:?}"),
            head: head.clone(),
        })?;
        Ok(head)
    }
}

/// A line without its `hash`: the object the hash is computed over. The field
/// set is closed so that every accepted line has exactly one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Body {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    pub(super) prev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    pub(super) seq: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    targets: BTreeMap<String, String>,
    time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
}

impl Body {
    pub(super) fn new(event: &AuditEvent, seq: u64, prev: String, time: String) -> Self {
        Self {
            action: event.action.clone(),
            approver: event.approver.clone(),
            detail: event.detail.clone(),
            keyid: event.keyid.clone(),
            prev,
            role: event.role.clone(),
            seq,
            targets: event.targets.clone(),
            time,
            version: event.version,
        }
    }

    /// The full line object (with `hash`) and the hash: the tree the
    /// writer's [`Body::line`] is held to in tests.
    #[cfg(test)]
    pub(super) fn hashed(&self) -> Result<(serde_json::Value, String), CanonicalError> {
        use fwsign_manifest_schema::canonical::to_canonical_vec;
        use serde_json::Value;
        let value =
            serde_json::to_value(self).map_err(|e| CanonicalError::Serialize(e.to_string()))?;
        let hash = sha256_hex(&to_canonical_vec(&value)?);
        let mut value = value;
        if let Value::Object(map) = &mut value {
            map.insert("hash".to_owned(), Value::String(hash.clone()));
        }
        Ok((value, hash))
    }

    /// The line as written (canonical JSON with `hash`, no newline) and the
    /// hash, from the typed fields: what [`Body::hashed`] gives, written out,
    /// without a tree of the line (a stage line of 10^5 targets made one of
    /// 10^5 entries on every add).
    pub(super) fn line(&self) -> Result<(Vec<u8>, String), CanonicalError> {
        let hash = sha256_hex(&to_canonical_bytes(self)?);
        let line = to_canonical_bytes(&WrittenLine {
            body: self,
            hash: &hash,
        })?;
        Ok((line, hash))
    }

    fn fields(&self) -> EventFields<'_> {
        EventFields {
            action: &self.action,
            role: self.role.as_deref(),
            keyid: self.keyid.as_deref(),
            approver: self.approver.as_deref(),
            detail: self.detail.as_deref(),
            targets: TargetPairs::Map(&self.targets),
        }
    }
}

/// A body with its `hash`, as a line is written (the canonical writer puts
/// `hash` in its sorted place among the body's fields).
#[derive(Serialize)]
struct WrittenLine<'a> {
    #[serde(flatten)]
    body: &'a Body,
    hash: &'a str,
}

/// A line that parsed and hashes correctly; its place in the chain is not
/// checked yet.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Parsed {
    pub(super) body: Body,
    pub(super) hash: String,
}

/// What the chain walk reads of a line: its place in the chain.
pub(super) trait Chained {
    fn seq(&self) -> u64;
    fn prev(&self) -> &str;
    fn hash(&self) -> &str;
}

impl Chained for Parsed {
    fn seq(&self) -> u64 {
        self.body.seq
    }
    fn prev(&self) -> &str {
        &self.body.prev
    }
    fn hash(&self) -> &str {
        &self.hash
    }
}

impl Chained for Link {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev(&self) -> &str {
        &self.prev
    }
    fn hash(&self) -> &str {
        &self.hash
    }
}

impl Parsed {
    pub(super) fn into_entry(self, line: usize) -> AuditEntry {
        let Body {
            action,
            approver,
            detail,
            keyid,
            prev,
            role,
            seq,
            targets,
            time,
            version,
        } = self.body;
        AuditEntry {
            line,
            seq,
            time,
            event: AuditEvent {
                action,
                role,
                version,
                keyid,
                approver,
                targets,
                detail,
            },
            prev,
            hash: self.hash,
        }
    }
}

/// What is wrong with one line, before the line number is known.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Fault {
    Malformed(String),
    Hash { stored: String, computed: String },
}

/// Parses one line (without its newline) and checks its own hash.
///
/// A line fwsign wrote is accepted by [`parse_entry_fast`] in one pass
/// over its bytes. Anything else goes to the tree reading
/// ([`tree::parse_entry_tree`]), which then gives the verdict and the error:
/// the fast path accepts only lines the tree reading accepts, with the same
/// result (the tests in `entry/tests.rs` hold it to that).
pub(super) fn parse_entry(text: &[u8]) -> Result<Parsed, Fault> {
    match parse_entry_fast(text) {
        Some(parsed) => Ok(parsed),
        None => tree::parse_entry_tree(text),
    }
}

/// A whole line as stored, `hash` included: the fields of [`Body`] plus
/// `hash`, read straight from the line's bytes and written back out.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    prev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    seq: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    targets: BTreeMap<String, String>,
    time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
}

/// The members of a line that sort before `hash` (keys in canonical
/// order): their canonical form, less its closing brace, is where the
/// `hash` member starts in the line.
#[derive(Serialize)]
struct BeforeHash<'a> {
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    approver: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// `,"hash":"<64 hex>"`: the bytes the `hash` member takes in a line,
/// with the comma before it (`action` always precedes it).
const HASH_MEMBER_LEN: usize = 9 + 64 + 1;

/// The one-pass check of a line: `Some` only if the tree reading would
/// accept it with the same result; `None` when in doubt.
///
/// Why accepting here implies accepting there: the typed [`Line`] is read
/// from the bytes (serde_json, no tree), every field check of the tree
/// reading is made on it, and then the line must be, byte for byte, the
/// canonical form of that [`Line`]. So the text is canonical JSON of a
/// value with exactly these fields; whatever the typed reading would have
/// let pass (a duplicate key, where the last wins; `null` or an empty
/// `targets`, read as absent; an escape for a plain character; whitespace)
/// writes back differently and is left to the tree reading. A canonical
/// object with one member taken out, with its comma, is the canonical form
/// of the rest (members are written one after the other in key order, and
/// `hash` is never first, since `action` sorts before it, nor last, since
/// `prev` sorts after), so the line's bytes less its `hash` member are the
/// bytes the tree reading hashes.
fn parse_entry_fast(text: &[u8]) -> Option<Parsed> {
    let line: Line = serde_json::from_slice(text).ok()?;
    let fields = FastFields {
        hash: &line.hash,
        prev: &line.prev,
        time: &line.time,
        event: line.fields(),
    };
    fast_checks(text, &fields, &to_canonical_bytes(&line).ok()?)?;
    Some(line.into_parsed())
}

/// What the one-pass checks read of a line.
struct FastFields<'a> {
    hash: &'a str,
    prev: &'a str,
    time: &'a str,
    event: EventFields<'a>,
}

/// The checks of [`parse_entry_fast`] on a line read as `fields`, whose
/// canonical form is `canonical`: `Some` when the tree reading would accept
/// it with the same result.
fn fast_checks(text: &[u8], fields: &FastFields<'_>, canonical: &[u8]) -> Option<()> {
    if !is_sha256_hex(fields.hash)
        || !is_sha256_hex(fields.prev)
        || parse_expires(fields.time.as_bytes()).is_none()
    {
        return None;
    }
    check_event_fields(&fields.event).ok()?;
    if canonical != text {
        return None;
    }
    let before = BeforeHash {
        action: fields.event.action,
        approver: fields.event.approver,
        detail: fields.event.detail,
    };
    let at = to_canonical_bytes(&before).ok()?.len().checked_sub(1)?;
    let end = at.checked_add(HASH_MEMBER_LEN)?;
    let member = text.get(at..end)?;
    let expected = [b",\"hash\":\"", fields.hash.as_bytes(), b"\""].concat();
    if member != expected.as_slice() {
        return None;
    }
    let mut sha = Sha256::new();
    sha.update(text.get(..at)?);
    sha.update(text.get(end..)?);
    (base16ct::lower::encode_string(&sha.finalize()) == fields.hash).then_some(())
}

impl Line {
    fn fields(&self) -> EventFields<'_> {
        EventFields {
            action: &self.action,
            role: self.role.as_deref(),
            keyid: self.keyid.as_deref(),
            approver: self.approver.as_deref(),
            detail: self.detail.as_deref(),
            targets: TargetPairs::Map(&self.targets),
        }
    }

    fn into_parsed(self) -> Parsed {
        Parsed {
            body: Body {
                action: self.action,
                approver: self.approver,
                detail: self.detail,
                keyid: self.keyid,
                prev: self.prev,
                role: self.role,
                seq: self.seq,
                targets: self.targets,
                time: self.time,
                version: self.version,
            },
            hash: self.hash,
        }
    }
}

/// The fields of an event that [`check_event_fields`] checks, borrowed
/// from an [`AuditEvent`] or from a line being read.
pub(super) struct EventFields<'a> {
    action: &'a str,
    role: Option<&'a str>,
    keyid: Option<&'a str>,
    approver: Option<&'a str>,
    detail: Option<&'a str>,
    targets: TargetPairs<'a>,
}

/// An event's targets, as a map or, read from a line, as its pairs.
#[derive(Clone, Copy)]
enum TargetPairs<'a> {
    Map(&'a BTreeMap<String, String>),
    Read(&'a [(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)]),
}

impl<'a> TargetPairs<'a> {
    fn each(self) -> Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a> {
        match self {
            Self::Map(map) => Box::new(map.iter().map(|(n, h)| (n.as_str(), h.as_str()))),
            Self::Read(pairs) => Box::new(pairs.iter().map(|(n, h)| (n.as_ref(), h.as_ref()))),
        }
    }
}

/// Refuses what fwsign would not write: see [`AuditError::InvalidEvent`].
pub(super) fn check_event(event: &AuditEvent) -> Result<(), AuditError> {
    check_event_fields(&EventFields {
        action: &event.action,
        role: event.role.as_deref(),
        keyid: event.keyid.as_deref(),
        approver: event.approver.as_deref(),
        detail: event.detail.as_deref(),
        targets: TargetPairs::Map(&event.targets),
    })
}

fn check_event_fields(event: &EventFields<'_>) -> Result<(), AuditError> {
    let invalid = |field: &str, reason| AuditError::InvalidEvent {
        field: field.to_owned(),
        reason,
    };
    let control = "contains a control character";
    let has_control = |text: &str| text.chars().any(char::is_control);
    let plain = |field: &str, text: &str| {
        if has_control(text) {
            Err(invalid(field, control))
        } else {
            Ok(())
        }
    };
    if event.action.is_empty() {
        return Err(invalid("action", "is empty"));
    }
    plain("action", event.action)?;
    for (field, text) in [
        ("role", event.role),
        ("keyid", event.keyid),
        ("approver", event.approver),
        ("detail", event.detail),
    ] {
        if let Some(text) = text {
            plain(field, text)?;
        }
    }
    // The field is named only for a refusal: a publish line lists every
    // target, and formatting each name cost a tenth of reading the log.
    let field = |name: &str| format!("targets[{name:?}]");
    for (name, hash) in event.targets.each() {
        if has_control(name) {
            return Err(invalid(&field(name), control));
        }
        if !is_sha256_hex(hash) {
            return Err(AuditError::InvalidEvent {
                field: field(name),
                reason: "is not a SHA-256 as 64 lowercase hex digits",
            });
        }
    }
    Ok(())
}

pub(super) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}
