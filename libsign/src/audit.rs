//! The release audit log of a repository: `DIR/audit.log`.
//!
//! Every stage, signature, publish and refusal appends one line. The log
//! answers "who did what to this repository, and when", so it must not be
//! rewritable after the fact without that showing.
//!
//! ## Design
//!
//! Each line is one canonical JSON object (see
//! [`fwsign_manifest_schema::canonical`]) ending in `\n`:
//!
//! ```text
//! {"action":"sign","hash":"…","keyid":"…","prev":"…","role":"targets","seq":2,"time":"2025-01-01T00:00:00Z","version":3}
//! ```
//!
//! with the fields `action`, `detail`?, `hash`, `keyid`?, `prev`, `role`?,
//! `seq`, `targets`?, `time`, `version`? (optional ones are left out when
//! absent or empty). `hash` is the lowercase hex SHA-256 of the canonical JSON
//! of the same object without `hash`; `prev` is the previous line's `hash` (64
//! zeros on line 1); `seq` is the line number, from 1.
//!
//! The chain alone only proves the lines agree with each other: whoever can
//! write the file can also recompute every hash after an edit. What anchors
//! the log is the signed metadata. Each staging command records the log's
//! head (line number and hash, an [`AuditHead`]) in the role it stages, so
//! the approvers' signatures cover the history up to the staging; each
//! publish and refresh records it in the new snapshot. It is the
//! unrecognised field [`HEAD_FIELD`], which TUF clients keep and ignore but
//! the signatures cover. [`AuditLog::verify`] checks the chain and then every
//! such [`Anchor`]: the line it names must still exist with exactly that
//! hash. An edit, deletion, truncation or recomputation of any line up to
//! the newest anchor is therefore reported, with the line number. Lines
//! after the newest anchor are protected by the chain only, until the next
//! staging or publish, or by a head kept outside the repository (`repo
//! audit --expect-head LINE:SHA256`, an anchor like any other).
//!
//! Which metadata counts, and how it is verified first (the root chain, the
//! snapshot chain of [`ROOT_VERSION_FIELD`] and [`PREV_SNAPSHOT_FIELD`]), is
//! the repository's business: see `Repository::verify_audit`.
//!
//! Appends are serialised by an exclusive lock on the file itself, readers take
//! a shared one, and each line goes out in a single write followed by
//! `fsync`. A crash can still leave a last line without its newline; that
//! line is reported ([`AuditError::TornLine`]), never silently extended.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::canonical::{CanonicalError, to_canonical_vec};
use fwsign_manifest_schema::expiry::{UnixTime, parse_expires};
use fwsign_manifest_schema::parse::parse_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::atomic_write::sync_dir;

/// The name of the unrecognised field that carries the log's head: in each
/// snapshot (recorded at publish and refresh) and in each root, targets or
/// delegated role (recorded when it is staged).
pub const HEAD_FIELD: &str = "x-fwsign-audit-head";

/// The unrecognised snapshot field naming the root version the snapshot was
/// signed under (an integer).
pub const ROOT_VERSION_FIELD: &str = "x-fwsign-root-version";

/// The unrecognised snapshot field holding the lowercase hex SHA-256 of the
/// previous snapshot file (the one `timestamp.json` pinned when this one was
/// made, as published); absent in snapshot version 1.
pub const PREV_SNAPSHOT_FIELD: &str = "x-fwsign-prev-snapshot";

/// The unrecognised snapshot field naming the previous snapshot's version
/// (an integer). Versions are never reused, so a publish that was killed
/// after writing its snapshot leaves a gap: the previous snapshot is not
/// always version N-1. Absent, N-1 is meant (snapshots before this field).
pub const PREV_SNAPSHOT_VERSION_FIELD: &str = "x-fwsign-prev-snapshot-version";

/// The `prev` of line 1.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How much of the file's end is read at a time when looking for the last
/// line; most lines fit in one read.
const TAIL_CHUNK: u64 = 4096;

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

/// A position in the log: the value stored as [`HEAD_FIELD`],
/// `{"line": N, "sha256": "<hex>"}`.
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

/// A head recorded somewhere trusted, against which the log is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Where it was recorded, for messages: `metadata/3.snapshot.json`.
    pub source: String,
    /// The head recorded there.
    pub head: AuditHead,
}

/// What [`AuditLog::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// The number of lines, all of which chain correctly.
    pub lines: usize,
    /// The number of anchors, all of which matched.
    pub anchors_checked: usize,
    /// The log's last line, `None` for an empty or missing log.
    pub head: Option<AuditHead>,
}

/// Why the audit log could not be read, extended or verified.
///
/// The variants from [`AuditError::TornLine`] to
/// [`AuditError::AnchorMismatch`] mean the file is not as fwsign left it:
/// damaged by a crash or tampered with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The file could not be opened, locked, read or written.
    #[error("{}: cannot {op} the audit log: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// What was being done: `open`, `lock`, `read`, `write`, `sync`.
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The last line has no terminating newline: a write was cut short (a
    /// crash) or the file was cut. Appending after it would hide that, so the
    /// log must be repaired by hand first.
    #[error("{}:{line}: the last line is incomplete (no trailing newline)", path.display())]
    TornLine {
        /// The log file.
        path: PathBuf,
        /// The incomplete line's number.
        line: usize,
    },
    /// A line is not an audit entry as fwsign writes it: not JSON, not
    /// canonical, a missing, unknown or ill-formed field, an empty line.
    #[error("{}:{line}: not a valid audit line: {reason}", path.display())]
    Malformed {
        /// The log file.
        path: PathBuf,
        /// The line's number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A line's content does not hash to its `hash`: it was edited.
    #[error(
        "{}:{line}: the line was modified: its content hashes to {computed}, not to its recorded hash {stored}",
        path.display()
    )]
    HashMismatch {
        /// The log file.
        path: PathBuf,
        /// The line's number.
        line: usize,
        /// The `hash` the line carries.
        stored: String,
        /// What its content hashes to.
        computed: String,
    },
    /// A line's `seq` is not its line number: lines before it were deleted or
    /// inserted, or lines were reordered.
    #[error(
        "{}:{line}: the line says it is entry {found}: lines were deleted, inserted or reordered before it",
        path.display()
    )]
    SeqMismatch {
        /// The log file.
        path: PathBuf,
        /// The line's number.
        line: usize,
        /// The `seq` it carries.
        found: u64,
    },
    /// A line's `prev` is not the previous line's hash: the line before it
    /// was replaced or removed.
    #[error(
        "{}:{line}: the line does not follow the one before it (prev {found}, expected {expected})",
        path.display()
    )]
    PrevMismatch {
        /// The log file.
        path: PathBuf,
        /// The line's number.
        line: usize,
        /// The `prev` it carries.
        found: String,
        /// The previous line's hash (64 zeros for line 1).
        expected: String,
    },
    /// Signed metadata recorded a head at a line the log no longer has: the
    /// log was truncated (or emptied, or replaced).
    #[error(
        "{}: {anchor} records audit line {line}, but the log has only {lines} line(s): it was truncated",
        path.display()
    )]
    AnchorMissing {
        /// The log file.
        path: PathBuf,
        /// Where the head was recorded, e.g. `metadata/3.snapshot.json`.
        anchor: String,
        /// The line the anchor names.
        line: u64,
        /// How many lines the log has.
        lines: usize,
    },
    /// Signed metadata recorded a head whose line now has a different hash:
    /// that line, or one before it, was changed and the chain recomputed.
    #[error(
        "{}:{line}: {anchor} records hash {anchored} for this line, but it is now {found}: \
         the log was rewritten between line {first_suspect} and line {line}",
        path.display()
    )]
    AnchorMismatch {
        /// The log file.
        path: PathBuf,
        /// Where the head was recorded, e.g. `metadata/3.snapshot.json`.
        anchor: String,
        /// The line the anchor names.
        line: usize,
        /// The hash the anchor records.
        anchored: String,
        /// The hash the line has now.
        found: String,
        /// The first line that may have been changed: the line after the
        /// closest earlier anchor that still matches, or 1.
        first_suspect: usize,
    },
    /// An anchor itself is not a possible head (line 0, a hash that is not
    /// 64 lowercase hex digits); the metadata that carries it is wrong.
    #[error("{anchor}: invalid audit head: {reason}")]
    InvalidAnchor {
        /// Where the head was recorded.
        anchor: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An event cannot be recorded as given: an empty action, a control
    /// character (which would break the one-line format or a terminal showing
    /// the log) or a target hash that is not 64 lowercase hex digits.
    #[error("cannot record the audit event: {field} {reason}")]
    InvalidEvent {
        /// The field, e.g. `detail` or `targets["fw.bin"]`.
        field: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The clock is outside the years 1970 to 9999.
    #[error("cannot record the audit event: time {0} is outside 1970..=9999")]
    TimeOutOfRange(i64),
    /// The line could not be written as canonical JSON.
    #[error("cannot encode the audit line: {0}")]
    Encode(#[from] CanonicalError),
}

/// The audit log file of one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `path` (usually `DIR/audit.log`). Nothing is read or
    /// created until it is used.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line recording `event` at time `now` and returns the new
    /// head. Creates the file (mode 0644) if missing.
    ///
    /// The caller passes the clock so that tests are deterministic. Only the
    /// last line is read, under an exclusive lock, so appending stays cheap;
    /// it must be complete and well-formed, or nothing is written.
    pub fn append(&self, event: &AuditEvent, now: UnixTime) -> Result<AuditHead, AuditError> {
        check_event(event)?;
        let time = now.to_expires().ok_or(AuditError::TimeOutOfRange(now.0))?;

        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o644);
        }
        let mut file = options.open(&self.path).map_err(|e| self.io("open", e))?;
        // Held until `file` is dropped, so two appenders cannot both chain
        // onto the same last line.
        lock(&file, true).map_err(|e| self.io("lock", e))?;
        let len = file.metadata().map_err(|e| self.io("read", e))?.len();

        let (seq, prev) = match self.last_entry(&mut file, len)? {
            None => (1, GENESIS.to_owned()),
            Some(last) => {
                let seq = last
                    .seq
                    .checked_add(1)
                    .ok_or_else(|| self.malformed(last.line, "seq is at its maximum".to_owned()))?;
                (seq, last.hash)
            }
        };

        let body = Body::new(event, seq, prev, time);
        let (value, hash) = body.hashed()?;
        let mut line = to_canonical_vec(&value)?;
        line.push(b'\n');

        // One write so that a concurrent reader without the lock, or a
        // crash, sees the line whole or (at worst) torn, never interleaved.
        if let Err(e) = file.write_all(&line).and_then(|()| file.sync_all()) {
            // Best effort: take a partial line back out rather than leave a
            // torn line behind.
            let _ = file.set_len(len).and_then(|()| file.sync_all());
            return Err(self.io("write", e));
        }
        if len == 0 {
            // The file may be new: make its directory entry durable too.
            sync_dir(parent_dir(&self.path)).map_err(|e| self.io("sync", e))?;
        }
        Ok(AuditHead {
            line: seq,
            sha256: hash,
        })
    }

    /// The log's current head, `None` for an empty or missing log.
    ///
    /// Cheap: only the last line is read and checked (complete, well-formed,
    /// hashing to its `hash`); the chain is not. Use [`AuditLog::verify`] for
    /// that.
    pub fn head(&self) -> Result<Option<AuditHead>, AuditError> {
        let Some(mut file) = self.open_shared()? else {
            return Ok(None);
        };
        let len = file.metadata().map_err(|e| self.io("read", e))?.len();
        Ok(self.last_entry(&mut file, len)?.map(|e| e.head()))
    }

    /// Reads every line and checks the chain: each line complete and
    /// well-formed, hashing to its `hash`, with `seq` equal to its line
    /// number and `prev` equal to the previous line's hash. A missing file is
    /// an empty log.
    pub fn entries(&self) -> Result<Vec<AuditEntry>, AuditError> {
        let Some(mut file) = self.open_shared()? else {
            return Ok(Vec::new());
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| self.io("read", e))?;
        drop(file);

        let (body, terminated) = match bytes.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (bytes.as_slice(), false),
        };
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let count = body.split(|&b| b == b'\n').count();
        let mut entries: Vec<AuditEntry> = Vec::with_capacity(count);
        let mut expected_prev = GENESIS.to_owned();
        for (index, text) in body.split(|&b| b == b'\n').enumerate() {
            let line = index + 1;
            if line == count && !terminated {
                return Err(AuditError::TornLine {
                    path: self.path.clone(),
                    line,
                });
            }
            let entry = self.parse_line(text, line)?;
            if u64::try_from(line).ok() != Some(entry.seq) {
                return Err(AuditError::SeqMismatch {
                    path: self.path.clone(),
                    line,
                    found: entry.seq,
                });
            }
            if entry.prev != expected_prev {
                return Err(AuditError::PrevMismatch {
                    path: self.path.clone(),
                    line,
                    found: entry.prev,
                    expected: expected_prev,
                });
            }
            expected_prev.clone_from(&entry.hash);
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Full verification: the chain (as [`AuditLog::entries`]) and then every
    /// anchor, whose line must exist and carry exactly the recorded hash.
    ///
    /// Anchors are checked from the earliest line on, so a rewrite is
    /// reported at the first anchor it broke, together with the range of
    /// lines it must lie in.
    pub fn verify(&self, anchors: &[Anchor]) -> Result<AuditReport, AuditError> {
        let entries = self.entries()?;
        let mut sorted: Vec<&Anchor> = anchors.iter().collect();
        sorted.sort_by_key(|a| a.head.line);
        let mut first_suspect = 1;
        for anchor in sorted {
            check_anchor(anchor)?;
            let missing = || AuditError::AnchorMissing {
                path: self.path.clone(),
                anchor: anchor.source.clone(),
                line: anchor.head.line,
                lines: entries.len(),
            };
            let line = usize::try_from(anchor.head.line).map_err(|_| missing())?;
            let entry = line
                .checked_sub(1)
                .and_then(|i| entries.get(i))
                .ok_or_else(missing)?;
            if entry.hash != anchor.head.sha256 {
                return Err(AuditError::AnchorMismatch {
                    path: self.path.clone(),
                    anchor: anchor.source.clone(),
                    line,
                    anchored: anchor.head.sha256.clone(),
                    found: entry.hash.clone(),
                    first_suspect,
                });
            }
            first_suspect = line + 1;
        }
        Ok(AuditReport {
            lines: entries.len(),
            anchors_checked: anchors.len(),
            head: entries.last().map(AuditEntry::head),
        })
    }

    /// Opens the log for reading under a shared lock, so that no append is
    /// half-way through while it is read. `None` if it does not exist.
    fn open_shared(&self) -> Result<Option<File>, AuditError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("open", e)),
        };
        lock(&file, false).map_err(|e| self.io("lock", e))?;
        Ok(Some(file))
    }

    /// Reads and checks the last line of `file`, whose length is `len`.
    fn last_entry(&self, file: &mut File, len: u64) -> Result<Option<AuditEntry>, AuditError> {
        let Some((text, terminated)) = read_last_line(file, len).map_err(|e| self.io("read", e))?
        else {
            return Ok(None);
        };
        // The line number is only known by counting; the common case never
        // needs it, as the entry's `seq` is its line number.
        let line_number = |file: &mut File| -> Result<usize, AuditError> {
            count_lines(file).map_err(|e| self.io("read", e))
        };
        if !terminated {
            return Err(AuditError::TornLine {
                path: self.path.clone(),
                line: line_number(file)?,
            });
        }
        match parse_entry(&text) {
            Ok(parsed) => {
                let line = usize::try_from(parsed.body.seq).unwrap_or(usize::MAX);
                Ok(Some(parsed.into_entry(line)))
            }
            Err(fault) => Err(self.fault(fault, line_number(file)?)),
        }
    }

    fn parse_line(&self, text: &[u8], line: usize) -> Result<AuditEntry, AuditError> {
        parse_entry(text)
            .map(|parsed| parsed.into_entry(line))
            .map_err(|fault| self.fault(fault, line))
    }

    fn fault(&self, fault: Fault, line: usize) -> AuditError {
        match fault {
            Fault::Malformed(reason) => self.malformed(line, reason),
            Fault::Hash { stored, computed } => AuditError::HashMismatch {
                path: self.path.clone(),
                line,
                stored,
                computed,
            },
        }
    }

    fn malformed(&self, line: usize, reason: String) -> AuditError {
        AuditError::Malformed {
            path: self.path.clone(),
            line,
            reason,
        }
    }

    fn io(&self, op: &'static str, source: io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.clone(),
            op,
            source,
        }
    }
}

/// A line without its `hash`: the object the hash is computed over. The field
/// set is closed so that every accepted line has exactly one spelling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
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

impl Body {
    fn new(event: &AuditEvent, seq: u64, prev: String, time: String) -> Self {
        Self {
            action: event.action.clone(),
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
    fn hashed(&self) -> Result<(Value, String), CanonicalError> {
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
            targets: self.targets.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// A line that parsed and hashes correctly; its place in the chain is not
/// checked yet.
struct Parsed {
    body: Body,
    hash: String,
}

impl Parsed {
    fn into_entry(self, line: usize) -> AuditEntry {
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
enum Fault {
    Malformed(String),
    Hash { stored: String, computed: String },
}

/// Parses one line (without its newline) and checks its own hash.
fn parse_entry(text: &[u8]) -> Result<Parsed, Fault> {
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
fn check_event(event: &AuditEvent) -> Result<(), AuditError> {
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

fn check_anchor(anchor: &Anchor) -> Result<(), AuditError> {
    let invalid = |reason| AuditError::InvalidAnchor {
        anchor: anchor.source.clone(),
        reason,
    };
    if anchor.head.line == 0 {
        return Err(invalid("line 0 (lines count from 1)"));
    }
    if !is_sha256_hex(&anchor.head.sha256) {
        return Err(invalid("sha256 is not 64 lowercase hex digits"));
    }
    Ok(())
}

/// Takes an advisory lock on the whole file, released when it is closed:
/// exclusive for appending, shared for reading. A lock on the file itself,
/// not a lock file, so that a crash can never leave a stale lock behind.
fn lock(file: &File, exclusive: bool) -> io::Result<()> {
    if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    }
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The last line of a file of length `len`, without its newline, and whether
/// it had one. `None` for an empty file. Reads backwards from the end, so the
/// cost does not grow with the log.
fn read_last_line(file: &mut File, len: u64) -> io::Result<Option<(Vec<u8>, bool)>> {
    if len == 0 {
        return Ok(None);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    let terminated = last == *b"\n";
    let end = if terminated { len - 1 } else { len };

    let mut line = Vec::new();
    let mut start = end;
    while start > 0 {
        let size = start.min(TAIL_CHUNK);
        start -= size;
        let mut chunk = vec![0u8; usize::try_from(size).map_err(io::Error::other)?];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        let newline = chunk.iter().rposition(|&b| b == b'\n');
        if let Some(pos) = newline {
            chunk.drain(..=pos);
        }
        chunk.extend_from_slice(&line);
        line = chunk;
        if newline.is_some() {
            break;
        }
    }
    Ok(Some((line, terminated)))
}

/// The number of the last line of `file`: its newlines, plus one for an
/// unterminated last line.
fn count_lines(file: &mut File) -> io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = [0u8; 8192];
    let mut newlines = 0usize;
    let mut last = b'\n';
    loop {
        let n = file.read(&mut buf)?;
        let Some(read) = buf.get(..n).filter(|r| !r.is_empty()) else {
            break;
        };
        newlines += read.iter().filter(|&&b| b == b'\n').count();
        last = read.last().copied().unwrap_or(last);
    }
    Ok(if last == b'\n' {
        newlines
    } else {
        newlines + 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const T0: UnixTime = UnixTime(1_735_689_600); // 2025-01-01T00:00:00Z

    fn scratch(name: &str) -> AuditLog {
        let dir = std::env::temp_dir().join(format!("fwsign-audit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        AuditLog::new(dir.join("audit.log"))
    }

    fn event(action: &str, version: u64) -> AuditEvent {
        AuditEvent {
            action: action.into(),
            role: Some("targets".into()),
            version: Some(version),
            ..AuditEvent::default()
        }
    }

    /// A log of `n` lines; returns the head after each line.
    fn filled(name: &str, n: u64) -> (AuditLog, Vec<AuditHead>) {
        let log = scratch(name);
        let heads = (1..=n)
            .map(|i| {
                log.append(&event("stage", i), UnixTime(T0.0 + i as i64))
                    .unwrap()
            })
            .collect();
        (log, heads)
    }

    fn anchor(source: &str, head: &AuditHead) -> Anchor {
        Anchor {
            source: source.into(),
            head: head.clone(),
        }
    }

    fn lines(log: &AuditLog) -> Vec<String> {
        fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(log: &AuditLog, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(log.path(), text).unwrap();
    }

    /// What an attacker with write access does after editing: renumber and
    /// rehash every line so the chain is consistent again.
    fn recompute(log: &AuditLog) {
        let mut prev = GENESIS.to_owned();
        let mut out = Vec::new();
        for (i, text) in lines(log).iter().enumerate() {
            let mut value: Value = serde_json::from_str(text).unwrap();
            let map = value.as_object_mut().unwrap();
            map.remove("hash");
            map.insert("seq".into(), Value::from(i as u64 + 1));
            map.insert("prev".into(), Value::from(prev.clone()));
            let body: Body = serde_json::from_value(value).unwrap();
            let (value, hash) = body.hashed().unwrap();
            out.push(String::from_utf8(to_canonical_vec(&value).unwrap()).unwrap());
            prev = hash;
        }
        write_lines(log, &out);
    }

    #[test]
    fn append_and_head_round_trip() {
        let log = scratch("round-trip");
        assert_eq!(log.head().unwrap(), None);
        let first = log.append(&event("init", 1), T0).unwrap();
        assert_eq!(first.line, 1);
        assert_eq!(log.head().unwrap(), Some(first.clone()));
        let second = log.append(&event("stage", 2), T0).unwrap();
        assert_eq!(second.line, 2);
        assert_ne!(second.sha256, first.sha256);
        assert_eq!(log.head().unwrap(), Some(second.clone()));

        let text = lines(&log);
        assert_eq!(
            text[0],
            format!(
                "{{\"action\":\"init\",\"hash\":\"{}\",\"prev\":\"{GENESIS}\",\"role\":\"targets\",\
                 \"seq\":1,\"time\":\"2025-01-01T00:00:00Z\",\"version\":1}}",
                first.sha256
            )
        );
        assert!(text[1].contains(&format!("\"prev\":\"{}\"", first.sha256)));
        assert!(fs::read(log.path()).unwrap().ends_with(b"\n"));

        let report = log
            .verify(&[anchor("metadata/1.snapshot.json", &second)])
            .unwrap();
        assert_eq!(
            report,
            AuditReport {
                lines: 2,
                anchors_checked: 1,
                head: Some(second),
            }
        );
    }

    #[test]
    fn head_is_the_snapshot_field_value() {
        let head = AuditHead {
            line: 7,
            sha256: "ab".repeat(32),
        };
        let value = serde_json::to_value(&head).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"line": 7, "sha256": "ab".repeat(32)})
        );
        assert_eq!(serde_json::from_value::<AuditHead>(value).unwrap(), head);
    }

    #[test]
    fn entries_give_back_the_events() {
        let log = scratch("entries");
        let mut targets = BTreeMap::new();
        targets.insert("fw \"main\".bin".to_owned(), "0f".repeat(32));
        let events = [
            AuditEvent {
                action: "sign".into(),
                role: Some("targets".into()),
                version: Some(3),
                keyid: Some("ab".repeat(32)),
                targets,
                detail: None,
            },
            AuditEvent {
                action: "refuse".into(),
                detail: Some("threshold not met: 1 of 2 \\ \"quoted\" é".into()),
                ..AuditEvent::default()
            },
        ];
        for (i, e) in events.iter().enumerate() {
            log.append(e, UnixTime(T0.0 + i as i64 * 3600)).unwrap();
        }
        let entries = log.entries().unwrap();
        assert_eq!(entries.len(), 2);
        for (i, (entry, e)) in entries.iter().zip(&events).enumerate() {
            assert_eq!(&entry.event, e);
            assert_eq!(entry.line, i + 1);
            assert_eq!(entry.seq, i as u64 + 1);
        }
        assert_eq!(entries[0].prev, GENESIS);
        assert_eq!(entries[1].prev, entries[0].hash);
        assert_eq!(entries[1].time, "2025-01-01T01:00:00Z");
        assert!(!lines(&log)[1].contains("targets"));
    }

    #[test]
    fn missing_log_is_empty() {
        let log = scratch("missing");
        assert!(log.entries().unwrap().is_empty());
        assert_eq!(log.verify(&[]).unwrap().lines, 0);
    }

    #[test]
    fn events_that_would_break_the_format_are_refused() {
        let log = scratch("invalid-event");
        let multi = AuditEvent {
            action: "refuse".into(),
            detail: Some("line one\n{\"forged\":1}".into()),
            ..AuditEvent::default()
        };
        assert!(matches!(
            log.append(&multi, T0),
            Err(AuditError::InvalidEvent { ref field, .. }) if field == "detail"
        ));
        let mut bad_hash = event("stage", 1);
        bad_hash.targets.insert("fw.bin".into(), "ABC".into());
        assert!(matches!(
            log.append(&bad_hash, T0),
            Err(AuditError::InvalidEvent { .. })
        ));
        assert!(matches!(
            log.append(&AuditEvent::default(), T0),
            Err(AuditError::InvalidEvent { .. })
        ));
        assert!(matches!(
            log.append(&event("stage", 1), UnixTime(-1)),
            Err(AuditError::TimeOutOfRange(-1))
        ));
        assert_eq!(log.head().unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn new_log_is_0644() {
        use std::os::unix::fs::PermissionsExt;
        let (log, _) = filled("mode", 1);
        let mode = fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
        // The umask can only take bits away.
        assert_eq!(mode & !0o644, 0);
    }

    #[test]
    fn edit_is_detected() {
        let (log, _) = filled("edit", 4);
        let mut text = lines(&log);
        text[2] = text[2].replace("\"version\":3", "\"version\":9");
        write_lines(&log, &text);
        let err = log.verify(&[]).unwrap_err();
        assert!(
            matches!(err, AuditError::HashMismatch { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("audit.log:3:"), "{err}");
    }

    #[test]
    fn delete_is_detected() {
        let (log, _) = filled("delete", 4);
        let mut text = lines(&log);
        text.remove(1);
        write_lines(&log, &text);
        let err = log.verify(&[]).unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::SeqMismatch {
                    line: 2,
                    found: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn delete_with_renumbered_seq_is_detected() {
        let (log, _) = filled("delete-renumber", 4);
        let mut text = lines(&log);
        text.remove(1);
        write_lines(&log, &text);
        // Renumber and rehash only the line that moved; its `prev` still
        // names the deleted line.
        let mut value: Value = serde_json::from_str(&text[1]).unwrap();
        let map = value.as_object_mut().unwrap();
        map.remove("hash");
        map.insert("seq".into(), Value::from(2u64));
        let body: Body = serde_json::from_value(value).unwrap();
        let (value, _) = body.hashed().unwrap();
        text[1] = String::from_utf8(to_canonical_vec(&value).unwrap()).unwrap();
        write_lines(&log, &text);
        let err = log.verify(&[]).unwrap_err();
        assert!(
            matches!(err, AuditError::PrevMismatch { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn reorder_is_detected() {
        let (log, _) = filled("reorder", 4);
        let mut text = lines(&log);
        text.swap(1, 2);
        write_lines(&log, &text);
        let err = log.verify(&[]).unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::SeqMismatch {
                    line: 2,
                    found: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn truncate_below_anchor_is_detected() {
        let (log, heads) = filled("truncate", 5);
        let anchors = [
            anchor("metadata/2.snapshot.json", &heads[1]),
            anchor("metadata/3.snapshot.json", &heads[3]),
        ];
        log.verify(&anchors).unwrap();
        let text = lines(&log);
        write_lines(&log, &text[..2]);
        // The chain that is left is fine; only the anchor shows the loss.
        assert_eq!(log.entries().unwrap().len(), 2);
        let err = log.verify(&anchors).unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::AnchorMissing { ref anchor, line: 4, lines: 2, .. }
                    if anchor == "metadata/3.snapshot.json"
            ),
            "{err}"
        );
    }

    #[test]
    fn emptied_log_with_anchors_is_detected() {
        let (log, heads) = filled("emptied", 2);
        fs::write(log.path(), b"").unwrap();
        let err = log
            .verify(&[anchor("metadata/2.snapshot.json", &heads[0])])
            .unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::AnchorMissing {
                    line: 1,
                    lines: 0,
                    ..
                }
            ),
            "{err}"
        );
        fs::remove_file(log.path()).unwrap();
        let err = log
            .verify(&[anchor("metadata/2.snapshot.json", &heads[0])])
            .unwrap_err();
        assert!(
            matches!(err, AuditError::AnchorMissing { lines: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn recompute_after_edit_is_detected() {
        let (log, heads) = filled("recompute", 6);
        let anchors = [
            anchor("metadata/2.snapshot.json", &heads[0]),
            anchor("metadata/3.snapshot.json", &heads[3]),
            anchor("metadata/4.snapshot.json", &heads[5]),
        ];
        let mut text = lines(&log);
        text[2] = text[2].replace("\"version\":3", "\"version\":9");
        write_lines(&log, &text);
        recompute(&log);
        // The chain is consistent again ...
        assert_eq!(log.entries().unwrap().len(), 6);
        // ... but the first anchor after the edit no longer matches.
        let err = log.verify(&anchors).unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::AnchorMismatch { ref anchor, line: 4, first_suspect: 2, .. }
                    if anchor == "metadata/3.snapshot.json"
            ),
            "{err}"
        );
    }

    #[test]
    fn torn_last_line_is_detected() {
        let (log, _) = filled("torn", 3);
        let bytes = fs::read(log.path()).unwrap();
        fs::write(log.path(), &bytes[..bytes.len() - 10]).unwrap();
        let err = log.verify(&[]).unwrap_err();
        assert!(matches!(err, AuditError::TornLine { line: 3, .. }), "{err}");
        let err = log.head().unwrap_err();
        assert!(matches!(err, AuditError::TornLine { line: 3, .. }), "{err}");
        let err = log.append(&event("stage", 4), T0).unwrap_err();
        assert!(matches!(err, AuditError::TornLine { line: 3, .. }), "{err}");
        // Nothing was appended after the torn line.
        assert_eq!(fs::read(log.path()).unwrap(), &bytes[..bytes.len() - 10]);
        // A cut exactly at a line's newline leaves the whole line, minus the
        // newline: still torn, not silently accepted.
        fs::write(log.path(), &bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(
            log.append(&event("stage", 4), T0),
            Err(AuditError::TornLine { line: 3, .. })
        ));
    }

    #[test]
    fn garbage_line_is_detected() {
        let (log, _) = filled("garbage", 3);
        let mut text = lines(&log);
        text[1] = "not json at all".into();
        write_lines(&log, &text);
        let err = log.verify(&[]).unwrap_err();
        assert!(
            matches!(err, AuditError::Malformed { line: 2, .. }),
            "{err}"
        );

        // Valid JSON, but not canonical (reformatted): also refused.
        let (log, _) = filled("garbage-spaces", 2);
        let mut text = lines(&log);
        text[0] = text[0].replace(",\"", ", \"");
        write_lines(&log, &text);
        assert!(matches!(
            log.verify(&[]),
            Err(AuditError::Malformed { line: 1, .. })
        ));

        // A garbage last line stops appends.
        let (log, _) = filled("garbage-last", 2);
        let mut text = lines(&log);
        text[1] = "{}".into();
        write_lines(&log, &text);
        assert!(matches!(
            log.append(&event("stage", 3), T0),
            Err(AuditError::Malformed { line: 2, .. })
        ));
    }

    #[test]
    fn invalid_anchor_is_refused() {
        let (log, heads) = filled("bad-anchor", 1);
        let mut bad = anchor("metadata/2.snapshot.json", &heads[0]);
        bad.head.line = 0;
        assert!(matches!(
            log.verify(&[bad]),
            Err(AuditError::InvalidAnchor { .. })
        ));
    }

    #[test]
    fn expected_head_is_line_colon_sha256() {
        let head = AuditHead {
            line: 12,
            sha256: "0a".repeat(32),
        };
        let text = head.to_string();
        assert_eq!(text, format!("12:{}", "0a".repeat(32)));
        assert_eq!(text.parse::<AuditHead>().unwrap(), head);
        for bad in [
            String::new(),
            "12".to_owned(),
            format!("0:{}", "0a".repeat(32)),
            format!("-1:{}", "0a".repeat(32)),
            format!("+3:{}", "0a".repeat(32)),
            format!("x:{}", "0a".repeat(32)),
            format!("12:{}", "0A".repeat(32)),
            format!("12:{}", "0a".repeat(31)),
            format!("12:{}:", "0a".repeat(32)),
            format!("99999999999999999999999:{}", "0a".repeat(32)),
        ] {
            assert!(
                matches!(
                    bad.parse::<AuditHead>(),
                    Err(AuditError::InvalidAnchor { .. })
                ),
                "{bad:?} was accepted"
            );
        }
    }

    /// Lines after the newest anchor in signed metadata are protected by
    /// nothing in the repository: cutting them off leaves a log that
    /// verifies. A head kept outside (`--expect-head`) is what catches it,
    /// and also a cut followed by new lines up to the same length.
    #[test]
    fn truncation_after_the_last_anchor_is_caught_only_by_an_external_head() {
        let (log, heads) = filled("truncate-tail", 6);
        let anchors = [anchor("metadata/2.snapshot.json", &heads[2])];
        let witness = anchor("--expect-head", &heads[5]);
        log.verify(&[anchors[0].clone(), witness.clone()]).unwrap();

        let text = lines(&log);
        write_lines(&log, &text[..4]);
        assert_eq!(log.verify(&anchors).unwrap().lines, 4);
        let err = log
            .verify(&[anchors[0].clone(), witness.clone()])
            .unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::AnchorMissing { ref anchor, line: 6, lines: 4, .. }
                    if anchor == "--expect-head"
            ),
            "{err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");

        // Cut and refilled to the same length with other lines.
        log.append(&event("refuse", 5), T0).unwrap();
        log.append(&event("refuse", 6), T0).unwrap();
        assert_eq!(log.verify(&anchors).unwrap().lines, 6);
        let err = log.verify(&[anchors[0].clone(), witness]).unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::AnchorMismatch { ref anchor, line: 6, first_suspect: 4, .. }
                    if anchor == "--expect-head"
            ),
            "{err}"
        );
    }

    #[test]
    fn long_last_line_is_read_whole() {
        let log = scratch("long-line");
        log.append(&event("init", 1), T0).unwrap();
        let mut big = event("stage", 2);
        for i in 0..200 {
            big.targets
                .insert(format!("firmware-{i:04}.bin"), "1f".repeat(32));
        }
        let head = log.append(&big, T0).unwrap();
        assert!(fs::metadata(log.path()).unwrap().len() > 2 * TAIL_CHUNK);
        assert_eq!(log.head().unwrap(), Some(head.clone()));
        let next = log.append(&event("publish", 2), T0).unwrap();
        assert_eq!(next.line, 3);
        assert_eq!(log.entries().unwrap()[2].prev, head.sha256);
    }
}
