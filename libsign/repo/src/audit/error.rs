//! Why the audit log could not be read, extended or verified
//! ([`AuditError`]).
//!
//! Kept apart because appending, reading and verifying all raise it and the
//! repository and CLI match on its variants.

use std::io::{self};
use std::path::PathBuf;

use fwsign_manifest_schema::canonical::CanonicalError;

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
