//! Forwarding the audit log to a central log (a SIEM): each line as an
//! RFC 5424 syslog message over TCP ([`syslog`]) or as an OCSF JSON object
//! ([`ocsf`]), sent once per line in practice thanks to a [`Cursor`] kept
//! outside the repository.
//!
//! ## What is sent, and when
//!
//! [`forward_new`] first verifies the repository's audit log and history
//! (the chain and every signed anchor, as `repo audit` does), then checks
//! that the cursor's line still carries the cursor's hash. If either check
//! fails, the log was rewritten (or truncated, or its history no longer
//! verifies): one critical `audit-log-rewritten` event is sent, nothing
//! else, the cursor stays where it was and the call fails with
//! [`ForwardError::Rewritten`]. Otherwise every line after the cursor is
//! sent, the sink is asked to confirm delivery ([`Sink::finish`]), and only
//! then is the cursor moved, atomically, to the last line sent. An
//! interrupted run therefore sends some lines again on the next run: syslog
//! delivery is at least once, and every message carries the line number and
//! the line's SHA-256 so that a collector can drop duplicates.
//!
//! [`forward_after`] is the immediate path (`FWSIGN_SYSLOG`): the lines a
//! command just appended, the chain checked but no cursor, best effort.
//!
//! ## Severity
//!
//! Syslog severities ([`Severity`]): `notice` (5) for routine events,
//! `warning` (4) when approvals were dropped, `err` (3) for a refusal
//! (action `refuse`: threshold not met, a bad signature, an expired role, a
//! broken audit chain found while staging), `crit` (2) for a rewritten log.
//! The facility is 13, "log audit".
//!
//! Libraries never print: the OCSF output is a [`Sink`] the caller
//! implements (the CLI prints each object as one line on stdout).

pub mod ocsf;
pub mod syslog;
#[cfg(test)]
mod tests;
mod tls;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_keys::ErrorClass;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_manifest_schema::expiry::UnixTime;

use super::{AuditEntry, AuditHead, AuditLog};
use crate::{RepoError, Repository};

/// The MSGID (and OCSF `unmapped.event`) of the event sent when the log no
/// longer verifies or no longer holds the cursor's line.
pub const REWRITTEN_ACTION: &str = "audit-log-rewritten";

/// A syslog severity (RFC 5424 section 6.2.1), the ones fwsign uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// 2: the audit log was rewritten.
    Critical,
    /// 3: a refusal (threshold not met, bad signature, expired role, broken
    /// chain).
    Error,
    /// 4: approvals were dropped.
    Warning,
    /// 5: routine events (stage, sign, publish, refresh, ...).
    Notice,
}

impl Severity {
    /// The numeric severity of RFC 5424.
    pub fn code(self) -> u8 {
        match self {
            Self::Critical => 2,
            Self::Error => 3,
            Self::Warning => 4,
            Self::Notice => 5,
        }
    }

    /// The keyword of RFC 5424's table (`crit`, `err`, `warning`, `notice`).
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Critical => "crit",
            Self::Error => "err",
            Self::Warning => "warning",
            Self::Notice => "notice",
        }
    }

    /// The severity of a logged event, by its action.
    pub fn of_action(action: &str) -> Self {
        match action {
            REWRITTEN_ACTION => Self::Critical,
            "refuse" => Self::Error,
            "approvals-dropped" => Self::Warning,
            _ => Self::Notice,
        }
    }
}

/// A structured-data ID of the form `NAME@PEN` (RFC 5424 sections 6.3.2
/// and 7.2.2): a private SD-ID needs the organisation's IANA private
/// enterprise number. At most 32 printable US-ASCII characters, none of
/// `=`, space, `]` and `"`; NAME non-empty without `@`; PEN a number (or
/// dotted numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdId(String);

impl SdId {
    /// The SD-ID as written in messages.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SdId {
    type Err = ForwardError;

    fn from_str(text: &str) -> Result<Self, ForwardError> {
        let invalid = |reason| ForwardError::InvalidSdId {
            sd_id: text.to_owned(),
            reason,
        };
        if text.is_empty() || text.len() > 32 {
            return Err(invalid("must be 1 to 32 characters"));
        }
        if !text.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(invalid("must be printable US-ASCII without spaces"));
        }
        if text.bytes().any(|b| matches!(b, b'=' | b']' | b'"')) {
            return Err(invalid("must not contain '=', ']' or '\"'"));
        }
        let Some((name, pen)) = text.split_once('@') else {
            return Err(invalid(
                "must be NAME@PEN (a private SD-ID needs your IANA private enterprise number)",
            ));
        };
        if name.is_empty() {
            return Err(invalid("NAME before '@' is empty"));
        }
        let numeric = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !pen.split('.').all(numeric) {
            return Err(invalid(
                "PEN after the one '@' must be a private enterprise number (digits, optionally dotted)",
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

/// One event to forward: a log line, or the event fwsign raises itself
/// when the log was rewritten. Both output formats are built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardEvent {
    /// How serious.
    pub severity: Severity,
    /// When, `YYYY-MM-DDTHH:MM:SSZ`: the line's time, or now for a
    /// rewritten log.
    pub time: String,
    /// The event's action (`stage`, `refuse`, `audit-log-rewritten`, ...):
    /// the syslog MSGID.
    pub action: String,
    /// The role concerned, if one.
    pub role: Option<String>,
    /// The role's version concerned, if one.
    pub version: Option<u64>,
    /// The key that acted, if one.
    pub keyid: Option<String>,
    /// The name of its owner, when the log line records one.
    pub approver: Option<String>,
    /// The target names concerned.
    pub targets: Vec<String>,
    /// A refusal's reason, or what was found rewritten.
    pub detail: Option<String>,
    /// The log line number (for a rewritten log: the cursor's line).
    pub line: Option<u64>,
    /// The line's hash, by which a collector drops duplicates (for a
    /// rewritten log: the hash the cursor expected).
    pub sha256: Option<String>,
    /// A short human text.
    pub message: String,
}

impl ForwardEvent {
    /// The event of one log line.
    pub fn from_entry(entry: &AuditEntry) -> Self {
        let event = &entry.event;
        let mut message = format!("fwsign {}", event.action);
        if let Some(role) = &event.role {
            message.push(' ');
            message.push_str(role);
        }
        if let Some(version) = event.version {
            message.push_str(&format!(" v{version}"));
        }
        if !event.targets.is_empty() {
            message.push_str(&format!(" ({} target(s))", event.targets.len()));
        }
        if let Some(keyid) = &event.keyid {
            let short: String = keyid.chars().take(16).collect();
            match &event.approver {
                Some(name) => message.push_str(&format!(" by {name} (key {short})")),
                None => message.push_str(&format!(" by key {short}")),
            }
        }
        if let Some(detail) = &event.detail {
            message.push_str(": ");
            message.push_str(detail);
        }
        Self {
            severity: Severity::of_action(&event.action),
            time: entry.time.clone(),
            action: event.action.clone(),
            role: event.role.clone(),
            version: event.version,
            keyid: event.keyid.clone(),
            approver: event.approver.clone(),
            targets: event.targets.keys().cloned().collect(),
            detail: event.detail.clone(),
            line: Some(entry.seq),
            sha256: Some(entry.hash.clone()),
            message,
        }
    }

    /// The critical event for a log that was rewritten: `cursor` is where
    /// the last run stopped, if known; `detail` says what was found.
    pub fn rewritten(now: UnixTime, cursor: Option<&AuditHead>, detail: &str) -> Self {
        let detail: String = detail
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Self {
            severity: Severity::Critical,
            time: now
                .to_expires()
                .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned()),
            action: REWRITTEN_ACTION.to_owned(),
            role: None,
            version: None,
            keyid: None,
            approver: None,
            targets: Vec::new(),
            message: format!("fwsign audit log rewritten: {detail}"),
            detail: Some(detail),
            line: cursor.map(|c| c.line),
            sha256: cursor.map(|c| c.sha256.clone()),
        }
    }
}

/// Where events go: a syslog server ([`syslog::SyslogSink`]) or the
/// caller's own output (OCSF lines on stdout).
pub trait Sink {
    /// Hands one event over.
    fn send(&mut self, event: &ForwardEvent) -> Result<(), ForwardError>;
    /// Confirms everything sent so far was delivered (for TCP: the server
    /// acknowledged the end of the stream); the cursor moves only after it.
    fn finish(&mut self) -> Result<(), ForwardError>;
}

/// The position of the last line a scheduled job forwarded, kept in a file
/// outside the repository as `{"line": N, "sha256": "<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    path: PathBuf,
}

impl Cursor {
    /// The cursor file at `path`; nothing is read yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The cursor file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored head, `None` if the file does not exist yet (a first run
    /// forwards the whole log).
    pub fn load(&self) -> Result<Option<AuditHead>, ForwardError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(self.io("read", source)),
        };
        let malformed = |reason: String| ForwardError::CursorMalformed {
            path: self.path.clone(),
            reason,
        };
        let head: AuditHead = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(format!("not {{\"line\": N, \"sha256\": \"...\"}}: {e}")))?;
        // The same rules as a head given as LINE:SHA256.
        head.to_string()
            .parse::<AuditHead>()
            .map_err(|e| malformed(e.to_string()))?;
        Ok(Some(head))
    }

    /// Replaces the stored head atomically.
    pub fn store(&self, head: &AuditHead) -> Result<(), ForwardError> {
        let mut bytes = serde_json::to_vec(head).expect("a head serialises");
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes, Mode::Public).map_err(|e| self.io("write", e))
    }

    /// Refuses a cursor inside the repository: whoever can rewrite the log
    /// there could rewrite the cursor with it.
    fn check_outside(&self, repo_dir: &Path) -> Result<(), ForwardError> {
        let parent = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = parent
            .canonicalize()
            .map_err(|e| self.io("find the directory of", e))?;
        let repo = repo_dir
            .canonicalize()
            .map_err(|e| self.io("find the repository of", e))?;
        if parent.starts_with(&repo) {
            return Err(ForwardError::CursorInRepository {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    fn io(&self, op: &'static str, source: io::Error) -> ForwardError {
        ForwardError::CursorIo {
            path: self.path.clone(),
            op,
            source,
        }
    }
}

/// What a forwarding run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardReport {
    /// The events sent.
    pub sent: usize,
    /// The first line sent, if any.
    pub first: Option<u64>,
    /// The log's head after the run (where the cursor now points), `None`
    /// for an empty log.
    pub head: Option<AuditHead>,
}

/// The scheduled job: verifies the repository's audit log and history,
/// checks the cursor (if given), sends every line after it to `sink`, and
/// moves the cursor once the sink confirmed delivery. See the module
/// documentation for what happens when the log was rewritten.
pub fn forward_new(
    repo: &Repository,
    cursor: Option<&Cursor>,
    now: UnixTime,
    sink: &mut dyn Sink,
) -> Result<ForwardReport, ForwardError> {
    if let Some(cursor) = cursor {
        cursor.check_outside(repo.dir())?;
    }
    let position = match cursor {
        Some(cursor) => cursor.load()?,
        None => None,
    };
    if let Err(e) = repo.verify_audit() {
        if e.class() != ErrorClass::Security {
            return Err(ForwardError::Repo(Box::new(e)));
        }
        return Err(report_rewritten(
            sink,
            now,
            position.as_ref(),
            with_causes(&e),
        ));
    }
    let entries = repo
        .audit_log()
        .entries()
        .map_err(|e| ForwardError::Repo(Box::new(RepoError::from(e))))?;
    let after = match &position {
        None => 0,
        Some(head) => {
            let found = usize::try_from(head.line)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| entries.get(i));
            match found {
                Some(entry) if entry.hash == head.sha256 => head.line,
                Some(entry) => {
                    let detail = format!(
                        "line {} of {} now has hash {}, not {} as when it was forwarded",
                        head.line,
                        repo.audit_log().path().display(),
                        entry.hash,
                        head.sha256
                    );
                    return Err(report_rewritten(sink, now, Some(head), detail));
                }
                None => {
                    let detail = format!(
                        "{} has {} line(s), but line {} was already forwarded: the log was truncated",
                        repo.audit_log().path().display(),
                        entries.len(),
                        head.line
                    );
                    return Err(report_rewritten(sink, now, Some(head), detail));
                }
            }
        }
    };
    let report = send_after(&entries, after, sink)?;
    if let (Some(cursor), Some(head)) = (cursor, &report.head)
        && report.sent > 0
    {
        cursor.store(head)?;
    }
    Ok(report)
}

/// The immediate path: sends the lines of `log` after line `after` (those a
/// command just appended), the chain checked, no cursor.
pub fn forward_after(
    log: &AuditLog,
    after: u64,
    sink: &mut dyn Sink,
) -> Result<ForwardReport, ForwardError> {
    let entries = log
        .entries()
        .map_err(|e| ForwardError::Repo(Box::new(RepoError::from(e))))?;
    send_after(&entries, after, sink)
}

fn send_after(
    entries: &[AuditEntry],
    after: u64,
    sink: &mut dyn Sink,
) -> Result<ForwardReport, ForwardError> {
    let pending: Vec<&AuditEntry> = entries.iter().filter(|e| e.seq > after).collect();
    for entry in &pending {
        sink.send(&ForwardEvent::from_entry(entry))?;
    }
    if !pending.is_empty() {
        sink.finish()?;
    }
    Ok(ForwardReport {
        sent: pending.len(),
        first: pending.first().map(|e| e.seq),
        head: entries.last().map(AuditEntry::head),
    })
}

/// An error's message followed by its causes not already in it.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Sends the critical event (best effort: a failure to send is named in
/// the error) and returns the refusal.
fn report_rewritten(
    sink: &mut dyn Sink,
    now: UnixTime,
    cursor: Option<&AuditHead>,
    detail: String,
) -> ForwardError {
    let event = ForwardEvent::rewritten(now, cursor, &detail);
    let sent = sink.send(&event).and_then(|()| sink.finish());
    ForwardError::Rewritten {
        detail,
        not_sent: sent.err().map(|e| e.to_string()),
    }
}

/// Why forwarding failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The SD-ID given is not `NAME@PEN` as RFC 5424 allows.
    #[error("invalid SD-ID {sd_id:?}: {reason}")]
    InvalidSdId {
        /// What was given.
        sd_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server is not `syslog://HOST[:PORT]` or `syslog+tls://HOST[:PORT]`.
    #[error("invalid syslog server {server:?}: {reason}")]
    InvalidServer {
        /// What was given.
        server: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `syslog+tls://` server without the CA certificate to check it by,
    /// or a CA file that holds no usable certificate.
    #[error("syslog over TLS: {0}")]
    TlsSetup(String),
    /// The server could not be reached (resolved, connected to, or its TLS
    /// handshake completed).
    #[error("cannot connect to syslog server {server}: {source}")]
    Connect {
        /// The server.
        server: String,
        /// The operating system's or TLS error.
        #[source]
        source: io::Error,
    },
    /// The connection failed while sending, or the server did not confirm
    /// the end of the stream.
    #[error("cannot send to syslog server {server}: {source}")]
    Send {
        /// The server.
        server: String,
        /// The operating system's or TLS error.
        #[source]
        source: io::Error,
    },
    /// The caller's sink (standard output) failed.
    #[error("cannot write the events: {0}")]
    Output(#[source] io::Error),
    /// The cursor file could not be read or written.
    #[error("{}: cannot {op} the cursor file: {source}", path.display())]
    CursorIo {
        /// The cursor file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The cursor file is not `{"line": N, "sha256": "<64 hex>"}`.
    #[error("{}: not a cursor file: {reason}", path.display())]
    CursorMalformed {
        /// The cursor file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The cursor file is inside the repository, where whoever rewrites the
    /// log could rewrite it too.
    #[error("{}: keep the cursor file outside the repository", path.display())]
    CursorInRepository {
        /// The cursor file.
        path: PathBuf,
    },
    /// The log no longer verifies, or no longer holds the line the cursor
    /// names with the hash it recorded: it was rewritten or truncated. The
    /// critical event was sent (unless `not_sent` says why not); the cursor
    /// did not move.
    #[error(
        "the audit log was rewritten: {detail}{}",
        not_sent.as_ref().map(|e| format!(" (and the critical event could not be sent: {e})")).unwrap_or_default()
    )]
    Rewritten {
        /// What was found.
        detail: String,
        /// Why the critical event could not be delivered, if it was not.
        not_sent: Option<String>,
    },
    /// The repository or its log could not be read.
    #[error(transparent)]
    Repo(Box<RepoError>),
}

impl ForwardError {
    /// How a caller should treat it: a rewritten log is a security refusal,
    /// an unreachable server or an unwritable cursor an I/O failure, a bad
    /// SD-ID, server or cursor file a usage error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Rewritten { .. } => ErrorClass::Security,
            Self::Connect { .. } | Self::Send { .. } | Self::Output(_) | Self::CursorIo { .. } => {
                ErrorClass::Io
            }
            Self::Repo(e) => e.class(),
            _ => ErrorClass::Usage,
        }
    }

    /// The machine reason for `--json`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Rewritten { .. } => "audit-log-rewritten",
            Self::Connect { .. } | Self::Send { .. } => "syslog-unreachable",
            Self::Repo(e) => e.reason(),
            other => other.class().reason(),
        }
    }
}
