//! The push itself: check the bucket, compare, upload in order, swap the
//! timestamp, read back (see the crate documentation).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_repo::Repository;
use fwsign_repo::lock::LockKind;
use serde::Serialize;
use sha2::Digest;

use crate::plan::{self, Content, Item};
use crate::readback::{self, Origin, ReadBack};
use crate::s3::Destination;
use crate::store::{Condition, ObjectStore, WriteOptions, WriteOutcome};
use crate::timestamp::{self, MAX_METADATA, Remote};
use crate::{
    Conflict, DEFAULT_TIMESTAMP_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL, MIN_PART_SIZE, PushError,
    multipart,
};

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Check and report what would be uploaded; write nothing.
    pub dry_run: bool,
    /// `Cache-Control` of `timestamp.json`.
    pub timestamp_cache_control: String,
    /// Files larger than this go up in parts of this size (at least 5 MiB).
    pub part_size: u64,
    /// Keys per ListObjectsV2 page (1000 on S3).
    pub list_page_size: u16,
    /// Read back through this base URL (CDN or origin) instead of the
    /// store's signed requests.
    pub verify_url: Option<String>,
    /// The time the read-back checks expiry against.
    pub now: UnixTime,
    /// How long to wait for the repository lock.
    pub lock_timeout: Duration,
}

impl PushOptions {
    /// The defaults: 16 MiB parts, 1000 keys a page, a one-minute timestamp.
    pub fn new(now: UnixTime) -> Self {
        Self {
            dry_run: false,
            timestamp_cache_control: DEFAULT_TIMESTAMP_CACHE_CONTROL.to_owned(),
            part_size: 16 * 1024 * 1024,
            list_page_size: 1000,
            verify_url: None,
            now,
            lock_timeout: fwsign_repo::lock::DEFAULT_TIMEOUT,
        }
    }
}

/// Progress, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushEvent<'a> {
    /// The comparison is done: this many objects and bytes will go up.
    Planned {
        /// Objects to upload, `timestamp.json` included.
        objects: usize,
        /// Their bytes.
        bytes: u64,
    },
    /// Bytes sent (a whole object, or one part).
    Sent {
        /// How many.
        bytes: u64,
    },
    /// An object is in the bucket.
    Uploaded {
        /// Its key.
        key: &'a str,
    },
}

/// What a push did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// `s3://BUCKET/PREFIX`.
    pub destination: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// The local timestamp's version.
    pub timestamp_version: u64,
    /// The bucket's timestamp version before the push, if it had one.
    pub bucket_timestamp_version: Option<u64>,
    /// ListObjectsV2 pages read (the bucket is listed once).
    pub list_pages: usize,
    /// Keys uploaded (or to upload), in order; `timestamp.json` last.
    pub uploaded: Vec<String>,
    /// Objects already in the bucket with the same content.
    pub skipped: usize,
    /// Bytes sent.
    pub bytes_uploaded: u64,
    /// Parts of an interrupted upload that were not sent again.
    pub resumed_parts: usize,
    /// Whether the store was probed for conditional writes (first push).
    pub conditional_writes_checked: bool,
    /// Lost races on `timestamp.json` that were read and checked again.
    pub timestamp_retries: u32,
    /// The read-back (absent on a dry run).
    pub read_back: Option<ReadBack>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&sha2::Sha256::digest(bytes))
}

/// Whether the object at `key` holds `item`'s content, fetching what the
/// listing cannot tell. `Err` with the reason when it differs.
fn same_content(
    store: &mut dyn ObjectStore,
    key: &str,
    item: &Item,
) -> Result<Result<(), String>, PushError> {
    match &item.content {
        Content::Metadata(bytes) => match store.get(key, bytes.len() as u64 + 1)? {
            None => Ok(Err("listed, then gone".to_owned())),
            Some(found) if found.bytes == *bytes => Ok(Ok(())),
            Some(found) => Ok(Err(format!(
                "{} bytes that differ from the local file's {}",
                found.bytes.len(),
                bytes.len()
            ))),
        },
        Content::Target { length, sha256, .. } => {
            let Some(head) = store.head(key)? else {
                return Ok(Err("listed, then gone".to_owned()));
            };
            if head.size != *length {
                return Ok(Err(format!("{} bytes, not {length}", head.size)));
            }
            let theirs = match head.sha256 {
                Some(s) => s,
                // Uploaded by something else (`aws s3 sync`): hash it.
                None => match store.get(key, *length)? {
                    Some(found) => sha256_hex(&found.bytes),
                    None => return Ok(Err("listed, then gone".to_owned())),
                },
            };
            if theirs.eq_ignore_ascii_case(sha256) {
                Ok(Ok(()))
            } else {
                Ok(Err(format!("sha256 {theirs}, not {sha256}")))
            }
        }
    }
}

/// Pushes the published state of the repository at `repo_dir` to
/// `destination` through `store`. See the crate documentation.
pub fn push(
    repo_dir: &Path,
    destination: &Destination,
    store: &mut dyn ObjectStore,
    options: &PushOptions,
    on_event: &mut dyn FnMut(PushEvent<'_>),
) -> Result<PushReport, PushError> {
    let repo = Repository::open(repo_dir)?;
    // Exclusive: a publish must not change the state being pushed, and
    // the resumable-upload record has one writer.
    let kind = if options.dry_run {
        LockKind::Shared
    } else {
        LockKind::Exclusive
    };
    let _lock = repo.lock(kind, "repo push", options.lock_timeout)?;
    let published = repo
        .published()?
        .ok_or_else(|| PushError::NotPublished(repo_dir.to_path_buf()))?;
    let plan = plan::plan(&repo, &published)?;
    let prefix = destination.prefix.as_str();
    let timestamp_key = format!("{prefix}metadata/timestamp.json");

    // 1. The bucket's timestamp, before anything else.
    let fetched = store.get(&timestamp_key, MAX_METADATA)?;
    let remote = timestamp::check(&repo, &plan, &timestamp_key, fetched)?;

    // 2. One listing, then the comparison: every conflict is found before
    //    anything is written.
    let (listed, list_pages) = store.list(prefix, options.list_page_size)?;
    let listed: BTreeMap<String, u64> = listed.into_iter().map(|o| (o.key, o.size)).collect();
    let live = remote
        .snapshot_version()
        .map(|v| plan::live_in_bucket(&repo, v))
        .unwrap_or_default();
    let mut to_upload: Vec<&Item> = Vec::new();
    let mut conflicts = Vec::new();
    let mut skipped = 0;
    for item in &plan.items {
        let key = format!("{prefix}{}", item.relative);
        let Some(&size) = listed.get(&key) else {
            to_upload.push(item);
            continue;
        };
        if size != item.len() {
            conflicts.push(Conflict {
                key,
                reason: format!("{size} bytes, not {}", item.len()),
            });
            continue;
        }
        if matches!(item.content, Content::Target { .. })
            && live.get(&item.relative) == Some(&item.len())
        {
            skipped += 1;
            continue;
        }
        match same_content(store, &key, item)? {
            Ok(()) => skipped += 1,
            Err(reason) => conflicts.push(Conflict { key, reason }),
        }
    }
    if !conflicts.is_empty() {
        return Err(PushError::Conflicts(conflicts));
    }

    let mut report = PushReport {
        destination: format!("s3://{}/{prefix}", destination.bucket),
        dry_run: options.dry_run,
        timestamp_version: plan.timestamp_version,
        bucket_timestamp_version: remote.version(plan.timestamp_version),
        list_pages,
        uploaded: Vec::new(),
        skipped,
        bytes_uploaded: 0,
        resumed_parts: 0,
        conditional_writes_checked: false,
        timestamp_retries: 0,
        read_back: None,
    };
    let timestamp_due = !matches!(remote, Remote::Current { .. });
    if options.dry_run {
        report.uploaded = to_upload
            .iter()
            .map(|i| format!("{prefix}{}", i.relative))
            .collect();
        if timestamp_due {
            report.uploaded.push(timestamp_key);
        }
        return Ok(report);
    }

    // 3. A first push proves the store honours conditional writes.
    if remote == Remote::Absent {
        timestamp::probe_conditional_writes(store, prefix)?;
        report.conditional_writes_checked = true;
    }

    // 4. Targets, then versioned metadata (the plan's order).
    let total: u64 = to_upload.iter().map(|i| i.len()).sum::<u64>()
        + if timestamp_due {
            plan.timestamp.len() as u64
        } else {
            0
        };
    on_event(PushEvent::Planned {
        objects: to_upload.len() + usize::from(timestamp_due),
        bytes: total,
    });
    let mut uploads = multipart::Uploads::open(repo.dir());
    let mut uploaded_targets = Vec::new();
    let part_size = options.part_size.max(MIN_PART_SIZE);
    for item in to_upload {
        let key = format!("{prefix}{}", item.relative);
        let outcome = match &item.content {
            Content::Metadata(bytes) => {
                let options = WriteOptions {
                    cache_control: IMMUTABLE_CACHE_CONTROL.to_owned(),
                    sha256: sha256_hex(bytes),
                    condition: Condition::Absent,
                };
                let outcome = store.put(&key, bytes, &options)?;
                on_event(PushEvent::Sent {
                    bytes: bytes.len() as u64,
                });
                report.bytes_uploaded += bytes.len() as u64;
                outcome
            }
            Content::Target {
                path,
                name,
                length,
                sha256,
            } => {
                let write = WriteOptions {
                    cache_control: IMMUTABLE_CACHE_CONTROL.to_owned(),
                    sha256: sha256.clone(),
                    condition: Condition::Absent,
                };
                let outcome = if *length > part_size {
                    let source = multipart::Source {
                        path,
                        name,
                        length: *length,
                        sha256,
                    };
                    let mut sent = 0;
                    let parts = multipart::upload(
                        store,
                        &mut uploads,
                        &key,
                        &source,
                        &write,
                        part_size,
                        &mut |n| {
                            sent += n;
                            on_event(PushEvent::Sent { bytes: n });
                        },
                    )?;
                    report.bytes_uploaded += sent;
                    report.resumed_parts += parts.resumed;
                    parts.outcome
                } else {
                    let bytes = std::fs::read(path).map_err(|source| PushError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    if bytes.len() as u64 != *length || sha256_hex(&bytes) != *sha256 {
                        return Err(PushError::LocalTargetChanged {
                            path: path.clone(),
                            name: name.clone(),
                        });
                    }
                    let outcome = store.put(&key, &bytes, &write)?;
                    on_event(PushEvent::Sent { bytes: *length });
                    report.bytes_uploaded += length;
                    outcome
                };
                if !uploaded_targets.contains(name) {
                    uploaded_targets.push(name.clone());
                }
                outcome
            }
        };
        if outcome == WriteOutcome::PreconditionFailed {
            // Written by someone else since the listing: fine only if it
            // is the same content.
            if let Err(reason) = same_content(store, &key, item)? {
                return Err(PushError::Conflicts(vec![Conflict { key, reason }]));
            }
        }
        on_event(PushEvent::Uploaded { key: &key });
        report.uploaded.push(key);
    }

    // 5. timestamp.json last, as a compare-and-swap.
    if timestamp_due {
        report.timestamp_retries = timestamp::swap(
            store,
            &repo,
            &plan,
            &timestamp_key,
            &options.timestamp_cache_control,
            remote,
        )?;
        on_event(PushEvent::Sent {
            bytes: plan.timestamp.len() as u64,
        });
        report.bytes_uploaded += plan.timestamp.len() as u64;
        on_event(PushEvent::Uploaded {
            key: &timestamp_key,
        });
        report.uploaded.push(timestamp_key);
    }

    // 6. Read it back as clients will.
    let first_root = published
        .root_chain
        .first()
        .ok_or_else(|| PushError::NotPublished(repo_dir.to_path_buf()))?;
    let origin = match &options.verify_url {
        Some(url) => Origin::Url(url),
        None => Origin::Store { store, prefix },
    };
    report.read_back = Some(readback::read_back(
        origin,
        first_root,
        plan.timestamp_version,
        &uploaded_targets,
        options.now,
    )?);
    Ok(report)
}
