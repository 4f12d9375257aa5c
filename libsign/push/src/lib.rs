//! # fwsign-push: publishing a repository to S3-compatible object storage
//!
//! `fwsign repo push DIR s3://BUCKET/PREFIX` copies a published repository
//! to the bucket a CDN serves chargers from, so that a client reading the
//! bucket at any moment sees the previous release or the new one, never a
//! timestamp whose snapshot is not there yet, and never an older release
//! than it saw before.
//!
//! ## Design
//!
//! - **What goes up** ([`plan`](crate::plan)): only files the published metadata references,
//!   taken from the published state `fwsign-repo` loads and verifies as a
//!   client would (never `staged/`, `audit.log`, temporary files or
//!   orphans). Target files first, then the versioned metadata, then
//!   `timestamp.json` last.
//! - **Before anything is uploaded** ([`timestamp`](crate::timestamp)): the bucket's `timestamp.json`
//!   is read; a push is refused when it is at or above the local version,
//!   or names a snapshot this repository never published (a copy of the
//!   repository that is behind, or another repository's bucket). The bucket
//!   is listed once (ListObjectsV2 pages). An object already there with the
//!   same content is skipped (metadata compared byte for byte, targets by
//!   length and the SHA-256 a push stores as object metadata); with other
//!   content it is a refusal naming it, never an overwrite. Every new object
//!   is written with `If-None-Match: *`, so a concurrent writer cannot be
//!   overwritten either.
//! - **The one replaced object**, `timestamp.json`, is swapped with
//!   `If-Match` on the entity tag read (`If-None-Match: *` when absent); a
//!   lost race is read and checked again. A first push proves the store
//!   honours conditional writes before relying on them.
//! - **Large files** go up in parts and resume after an interruption
//!   ([`multipart`](crate::multipart)).
//! - **After the push** ([`readback`](crate::readback)) the bucket (or `--verify-url`) is read back
//!   through `fwsign-client`'s full workflow from `1.root.json`, and every
//!   target uploaded is downloaded and checked. Trust decisions stay in the
//!   core: this crate only orders requests and compares bytes.
//! - **Requests** go through the [`store::ObjectStore`] trait; [`s3::S3Store`] is
//!   S3 over `rusty-s3`'s SigV4 signing and `ureq`.
//!
//! The library never prints: progress reaches the caller as [`PushEvent`]s.

#![forbid(unsafe_code)]

mod multipart;
mod plan;
mod push;
pub mod readback;
pub mod s3;
pub mod store;
mod timestamp;

use std::path::PathBuf;

use fwsign_client::ClientError;
use fwsign_keys::ErrorClass;
use fwsign_repo::RepoError;

pub use multipart::{MIN_PART_SIZE, STATE_FILE};
pub use push::{PushEvent, PushOptions, PushReport, push};
pub use readback::ReadBack;
pub use store::StoreError;

/// The default `Cache-Control` of `timestamp.json`: clients poll it.
pub const DEFAULT_TIMESTAMP_CACHE_CONTROL: &str = "public, max-age=60";

/// The `Cache-Control` of every versioned or hash-named file: its name
/// changes whenever its content does.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// One object that is in the bucket with other content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    /// The object's key.
    pub key: String,
    /// How it differs.
    pub reason: String,
}

/// Why a push refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The repository could not be opened, locked or loaded (its published
    /// state does not verify, for example).
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Nothing was published yet: there is nothing to push.
    #[error("{0}: nothing is published yet (run `fwsign repo publish` first)")]
    NotPublished(PathBuf),
    /// A published target lists no SHA-256, which a push stores with it.
    #[error("target {0} lists no sha256 hash; push needs one to compare objects")]
    NoSha256(String),
    /// A request to the store failed.
    #[error("object store: {0}")]
    Store(#[from] StoreError),
    /// The bucket's timestamp is at or above the local one: this copy of
    /// the repository is behind, and pushing it would roll clients back.
    #[error(
        "{key} is version {bucket_version}, not older than this repository's {local_version}: \
         refusing to push a copy that is behind the bucket (nothing was uploaded)"
    )]
    BucketNotBehind {
        /// The timestamp's key.
        key: String,
        /// Its version in the bucket.
        bucket_version: u64,
        /// The local version.
        local_version: u64,
    },
    /// The bucket's timestamp names a snapshot this repository never
    /// published: the bucket belongs to another repository.
    #[error(
        "{key} names snapshot version {version}, which this repository never published ({reason}); \
         refusing to push over another repository (nothing was uploaded)"
    )]
    ForeignSnapshot {
        /// The timestamp's key.
        key: String,
        /// The snapshot version it names.
        version: u64,
        /// What does not match.
        reason: String,
    },
    /// The bucket's timestamp is not TUF timestamp metadata.
    #[error("{key} in the bucket is not a readable timestamp: {reason} (nothing was uploaded)")]
    RemoteTimestampUnreadable {
        /// The timestamp's key.
        key: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// Objects the push would write are in the bucket with other content;
    /// none is overwritten.
    #[error("{} in the bucket with other content: {} (nothing is overwritten)",
        if .0.len() == 1 { "an object is" } else { "objects are" },
        .0.iter().map(|c| format!("{} ({})", c.key, c.reason)).collect::<Vec<_>>().join("; "))]
    Conflicts(Vec<Conflict>),
    /// The store ignored `If-None-Match: *`, so it cannot keep two pushes
    /// from overwriting each other's `timestamp.json`.
    #[error("{store} does not honour conditional writes ({reason}); refusing to push to it")]
    ConditionalWritesIgnored {
        /// The store.
        store: String,
        /// What the probe saw.
        reason: String,
    },
    /// The store sent no entity tag with the timestamp, so it cannot be
    /// replaced conditionally.
    #[error("{0}: the store sent no ETag, so it cannot be replaced conditionally")]
    NoEntityTag(String),
    /// Other pushes kept replacing `timestamp.json` between this push's
    /// reads and its conditional write.
    #[error("{key}: replaced by other pushes {attempts} times in a row; try again")]
    TimestampContended {
        /// The timestamp's key.
        key: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A target file on disk no longer has the length and SHA-256 its
    /// metadata lists.
    #[error("{}: no longer the bytes target {name} lists (length or sha256 differs)", .path.display())]
    LocalTargetChanged {
        /// The file.
        path: PathBuf,
        /// The target name.
        name: String,
    },
    /// What clients would see after the push does not verify.
    #[error("read-back from {from} does not verify: {source}")]
    ReadBackFailed {
        /// The bucket or `--verify-url`.
        from: String,
        /// The client's refusal.
        #[source]
        source: Box<ClientError>,
    },
    /// The bucket still serves an older timestamp than the one pushed.
    #[error("read-back from {from}: clients get timestamp version {seen}, not the {pushed} pushed")]
    ReadBackStale {
        /// The bucket.
        from: String,
        /// The version read.
        seen: u64,
        /// The version pushed.
        pushed: u64,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl PushError {
    /// How a caller should treat this error: refusals are security (exit 1
    /// in the CLI), store and disk failures I/O.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Repo(e) => e.class(),
            Self::NotPublished(_) | Self::NoSha256(_) => ErrorClass::Usage,
            Self::Store(_) | Self::Io { .. } | Self::TimestampContended { .. } => ErrorClass::Io,
            _ => ErrorClass::Security,
        }
    }

    /// The machine reason for `--json`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Repo(e) => e.reason(),
            Self::NotPublished(_) => "not-published",
            Self::NoSha256(_) => "no-sha256",
            Self::Store(_) => "store-failed",
            Self::BucketNotBehind { .. } => "bucket-not-behind",
            Self::ForeignSnapshot { .. } => "foreign-snapshot",
            Self::RemoteTimestampUnreadable { .. } => "bucket-timestamp-unreadable",
            Self::Conflicts(_) => "object-conflict",
            Self::ConditionalWritesIgnored { .. } => "conditional-writes-ignored",
            Self::NoEntityTag(_) => "no-etag",
            Self::TimestampContended { .. } => "timestamp-contended",
            Self::LocalTargetChanged { .. } => "local-target-changed",
            Self::ReadBackFailed { .. } => "read-back-failed",
            Self::ReadBackStale { .. } => "read-back-stale",
            Self::Io { .. } => "io",
        }
    }
}
