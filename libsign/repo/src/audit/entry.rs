//! The log format: the events fwsign records, one line as stored
//! ([`AuditEntry`]), the head ([`AuditHead`]), and how one line is written,
//! parsed and hashed (canonical JSON, its own SHA-256).
//!
//! Separate from the file handling: what a line is must read on its own,
//! since other tools may check the log with nothing but this description.

use std::collections::BTreeMap;

use fwsign_manifest_schema::canonical::{CanonicalError, to_canonical_vec};
use fwsign_manifest_schema::expiry::parse_expires;
use fwsign_manifest_schema::parse::parse_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::AuditError;
use super::verify::{Anchor, check_anchor};

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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Body {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    prev: String,
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

    /// The full line object (with `hash`) and the hash.
    pub(super) fn hashed(&self) -> Result<(Value, String), CanonicalError> {
        let value =
            serde_json::to_value(self).map_err(|e| CanonicalError::Serialize(e.to_string()))?;
        let hash = sha256_hex(&to_canonical_vec(&value)?);
        let mut value = value;
        if let Value::Object(map) = &mut value {
            map.insert("hash".to_owned(), Value::String(hash.clone()));
        }
        Ok((value, hash))
    }

    fn event(&self) -> AuditEvent {
        AuditEvent {
            action: self.action.clone(),
            role: self.role.clone(),
            version: self.version,
            keyid: self.keyid.clone(),
            approver: self.approver.clone(),
            targets: self.targets.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// A line that parsed and hashes correctly; its place in the chain is not
/// checked yet.
pub(super) struct Parsed {
    pub(super) body: Body,
    hash: String,
}

impl Parsed {
    pub(super) fn into_entry(self, line: usize) -> AuditEntry {
        AuditEntry {
            line,
            seq: self.body.seq,
            event: self.body.event(),
            time: self.body.time,
            prev: self.body.prev,
            hash: self.hash,
        }
    }
}

/// What is wrong with one line, before the line number is known.
pub(super) enum Fault {
    Malformed(String),
    Hash { stored: String, computed: String },
}

/// Parses one line (without its newline) and checks its own hash.
pub(super) fn parse_entry(text: &[u8]) -> Result<Parsed, Fault> {
    let bad = |reason: &str| Fault::Malformed(reason.to_owned());
    if text.is_empty() {
        return Err(bad("empty line"));
    }
    let value = parse_json(text).map_err(|e| Fault::Malformed(format!("not JSON: {e}")))?;
    // Byte-for-byte canonical: otherwise whitespace or escapes could be
    // changed without changing the hash.
    if to_canonical_vec(&value).ok().as_deref() != Some(text) {
        return Err(bad("not canonical JSON"));
    }
    let Value::Object(mut map) = value else {
        return Err(bad("not a JSON object"));
    };
    let stored = match map.remove("hash") {
        Some(Value::String(hash)) => hash,
        Some(_) => return Err(bad("`hash` is not a string")),
        None => return Err(bad("no `hash` field")),
    };
    let rest = Value::Object(map);
    let body: Body = serde_json::from_value(rest.clone())
        .map_err(|e| Fault::Malformed(format!("bad fields: {e}")))?;
    // `null` or an empty `targets` would be read as absent and then hash
    // differently from how fwsign writes the same entry.
    if serde_json::to_value(&body).ok().as_ref() != Some(&rest) {
        return Err(bad("a field is null or empty instead of left out"));
    }
    if !is_sha256_hex(&stored) {
        return Err(bad("`hash` is not 64 lowercase hex digits"));
    }
    if !is_sha256_hex(&body.prev) {
        return Err(bad("`prev` is not 64 lowercase hex digits"));
    }
    if parse_expires(body.time.as_bytes()).is_none() {
        return Err(bad("`time` is not YYYY-MM-DDTHH:MM:SSZ"));
    }
    if let Err(AuditError::InvalidEvent { field, reason }) = check_event(&body.event()) {
        return Err(Fault::Malformed(format!("{field} {reason}")));
    }
    let computed = match to_canonical_vec(&rest) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(e) => return Err(Fault::Malformed(e.to_string())),
    };
    if computed != stored {
        return Err(Fault::Hash { stored, computed });
    }
    Ok(Parsed { body, hash: stored })
}

/// Refuses what fwsign would not write: see [`AuditError::InvalidEvent`].
pub(super) fn check_event(event: &AuditEvent) -> Result<(), AuditError> {
    let invalid = |field: &str, reason| AuditError::InvalidEvent {
        field: field.to_owned(),
        reason,
    };
    let control = "contains a control character";
    let plain = |field: &str, text: &str| {
        if text.chars().any(char::is_control) {
            Err(invalid(field, control))
        } else {
            Ok(())
        }
    };
    if event.action.is_empty() {
        return Err(invalid("action", "is empty"));
    }
    plain("action", &event.action)?;
    for (field, text) in [
        ("role", &event.role),
        ("keyid", &event.keyid),
        ("approver", &event.approver),
        ("detail", &event.detail),
    ] {
        if let Some(text) = text {
            plain(field, text)?;
        }
    }
    for (name, hash) in &event.targets {
        let field = format!("targets[{name:?}]");
        plain(&field, name)?;
        if !is_sha256_hex(hash) {
            return Err(AuditError::InvalidEvent {
                field,
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
