//! [`ObjectStore`]: the requests a push makes, as a trait, so the push logic
//! is the same whatever carries them. [`crate::s3::S3Store`] is the real
//! one (signed S3 requests); tests wrap it to interrupt an upload or to
//! write between a read and a conditional write, deterministically.

use std::fmt;

/// An object as a bucket listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The full key.
    pub key: String,
    /// Its length in bytes.
    pub size: u64,
}

/// An object read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedObject {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its entity tag as the store sent it (quotes included), the value a
    /// conditional write names in `If-Match`.
    pub etag: Option<String>,
}

/// What a `HEAD` request tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// Its length in bytes.
    pub size: u64,
    /// The SHA-256 a push stored with it (`x-amz-meta-sha256`), if any.
    pub sha256: Option<String>,
    /// Its `Cache-Control`, if any.
    pub cache_control: Option<String>,
}

/// The condition a write is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `If-None-Match: *`: only when no object has the key.
    Absent,
    /// `If-Match: ETAG`: only when the object is still the one read.
    Matches(String),
}

/// How an object is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// `Cache-Control`.
    pub cache_control: String,
    /// The SHA-256 (lowercase hex) stored as `x-amz-meta-sha256`.
    pub sha256: String,
    /// The precondition.
    pub condition: Condition,
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written.
    Written,
    /// Not written: the precondition failed (HTTP 412, or 409 for a
    /// conflicting concurrent conditional write).
    PreconditionFailed,
}

/// A part of a multipart upload the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// Its number, from 1.
    pub number: u16,
    /// Its entity tag, when the store lists it.
    pub etag: Option<String>,
    /// Its length.
    pub size: u64,
}

/// A request the store could not carry out: the transport failed or it
/// answered with a status the request does not expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    /// The request (`PUT`, `ListObjectsV2`, ...).
    pub request: &'static str,
    /// The key (or prefix) it was for.
    pub key: String,
    /// What went wrong: the status and the store's message, or the
    /// transport's error.
    pub detail: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.request, self.key, self.detail)
    }
}

impl std::error::Error for StoreError {}

/// The object store a push writes to. Keys are full keys (the prefix
/// included).
pub trait ObjectStore {
    /// Where the store is, for messages (`s3://bucket` at an endpoint).
    fn describe(&self) -> String;

    /// Every object under `prefix`, through as many list pages as it takes
    /// (at most `page_size` keys each). Returns the objects and the number
    /// of pages requested.
    fn list(
        &mut self,
        prefix: &str,
        page_size: u16,
    ) -> Result<(Vec<ListedObject>, usize), StoreError>;

    /// The object, at most `max_len` bytes (longer is an error); `None`
    /// when there is none (404, or 403 where listing is not allowed).
    fn get(&mut self, key: &str, max_len: u64) -> Result<Option<FetchedObject>, StoreError>;

    /// The object's length and stored SHA-256; `None` when there is none.
    fn head(&mut self, key: &str) -> Result<Option<ObjectHead>, StoreError>;

    /// Writes `body` under `key` in one request.
    fn put(
        &mut self,
        key: &str,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, StoreError>;

    /// Removes an object (the conditional-write probe's).
    fn delete(&mut self, key: &str) -> Result<(), StoreError>;

    /// Starts a multipart upload; returns its upload ID.
    fn create_multipart(&mut self, key: &str, options: &WriteOptions)
    -> Result<String, StoreError>;

    /// Uploads part `number` (from 1); returns its entity tag.
    fn upload_part(
        &mut self,
        key: &str,
        upload_id: &str,
        number: u16,
        body: &[u8],
    ) -> Result<String, StoreError>;

    /// The parts an upload holds; `None` when the store no longer knows the
    /// upload (completed or aborted).
    fn list_parts(
        &mut self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError>;

    /// Completes an upload from its parts' entity tags in order, under
    /// `condition` (the object must still be absent).
    fn complete_multipart(
        &mut self,
        key: &str,
        upload_id: &str,
        etags: &[String],
        condition: &Condition,
    ) -> Result<WriteOutcome, StoreError>;
}
