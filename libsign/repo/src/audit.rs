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
//! with the fields `action`, `approver`?, `detail`?, `hash`, `keyid`?,
//! `prev`, `role`?, `seq`, `targets`?, `time`, `version`? (optional ones are
//! left out when absent or empty; `approver` is the name the signed metadata
//! gives `keyid`'s owner, see [`crate::key_owners`]). `hash` is the lowercase hex SHA-256 of the canonical JSON
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
//!
//! ## Layout
//!
//! `entry` is the line format, `log` the hash chain on disk, `verify` the
//! check against anchors, and `error` holds [`AuditError`]. [`forward`]
//! sends the log to a central log (syslog, OCSF) and is public as a module. The submodules
//! are private and everything public is re-exported here, so callers keep
//! writing `audit::AuditLog`.

mod entry;
mod error;
pub mod forward;
mod log;
#[cfg(test)]
mod tests;
mod verify;

pub use entry::{AuditEntry, AuditEvent, AuditHead};
pub use error::AuditError;
pub use log::AuditLog;
pub(crate) use log::TailMemo;
pub use verify::{Anchor, AuditReport};

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
