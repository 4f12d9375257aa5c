//! The bucket's `timestamp.json`: the check made before anything is
//! uploaded, the compare-and-swap that replaces it last, and the probe that
//! a store honours the conditional writes that swap relies on.
//!
//! The timestamp is the one object clients read to learn that a release
//! exists, so it is the one object a push ever replaces, and only with a
//! newer version of the same repository: `If-Match` on the entity tag read
//! (`If-None-Match: *` when there was none). When the precondition fails,
//! another push got there first; its timestamp is read and checked again,
//! and this push goes on only if it is still behind.

use fwsign_manifest_schema::metadata::{Signed, Timestamp};
use fwsign_repo::Repository;
use sha2::Digest;

use crate::PushError;
use crate::plan::Plan;
use crate::store::{Condition, FetchedObject, ObjectStore, WriteOptions, WriteOutcome};

/// The most a metadata file read back from the bucket may be.
pub(crate) const MAX_METADATA: u64 = 64 * 1024 * 1024;

/// How many times a lost race on `timestamp.json` is read and checked again.
const MAX_SWAPS: u32 = 8;

/// The bucket's timestamp as checked against the local repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remote {
    /// No `timestamp.json`: a first push.
    Absent,
    /// An older timestamp of this repository.
    Behind {
        version: u64,
        snapshot_version: u64,
        etag: Option<String>,
    },
    /// Byte for byte the local timestamp: this release is already live.
    Current { snapshot_version: u64 },
}

impl Remote {
    pub(crate) fn version(&self, local: u64) -> Option<u64> {
        match self {
            Self::Absent => None,
            Self::Behind { version, .. } => Some(*version),
            Self::Current { .. } => Some(local),
        }
    }

    pub(crate) fn snapshot_version(&self) -> Option<u64> {
        match self {
            Self::Absent => None,
            Self::Behind {
                snapshot_version, ..
            }
            | Self::Current { snapshot_version } => Some(*snapshot_version),
        }
    }
}

fn digest_hex(algorithm: &str, bytes: &[u8]) -> Option<String> {
    let digest = match algorithm {
        "sha256" => sha2::Sha256::digest(bytes).to_vec(),
        "sha512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return None,
    };
    Some(base16ct::lower::encode_string(&digest))
}

/// Checks the bucket's timestamp (as read, `None` when absent) against the
/// local plan: refused when it is at or above the local version, or names a
/// snapshot this repository never published.
pub(crate) fn check(
    repo: &Repository,
    plan: &Plan,
    key: &str,
    fetched: Option<FetchedObject>,
) -> Result<Remote, PushError> {
    let Some(fetched) = fetched else {
        return Ok(Remote::Absent);
    };
    let unreadable = |reason: String| PushError::RemoteTimestampUnreadable {
        key: key.to_owned(),
        reason,
    };
    let doc = Signed::<Timestamp>::from_json_slice(&fetched.bytes)
        .map_err(|e| unreadable(e.to_string()))?;
    let meta = doc
        .signed
        .meta
        .get("snapshot.json")
        .ok_or_else(|| unreadable("it lists no snapshot.json".to_owned()))?;
    let snapshot_version = meta.version;
    if fetched.bytes == plan.timestamp {
        return Ok(Remote::Current { snapshot_version });
    }
    let version = doc.signed.version;
    if version >= plan.timestamp_version {
        return Err(PushError::BucketNotBehind {
            key: key.to_owned(),
            bucket_version: version,
            local_version: plan.timestamp_version,
        });
    }
    // The snapshot it names must be one this repository published, with
    // the length and hashes the timestamp gives.
    let snapshot_name = format!("{snapshot_version}.snapshot.json");
    let foreign = |reason: String| PushError::ForeignSnapshot {
        key: key.to_owned(),
        version: snapshot_version,
        reason,
    };
    let local = match std::fs::read(repo.metadata_dir().join(&snapshot_name)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(foreign(format!(
                "metadata/{snapshot_name} does not exist here"
            )));
        }
        Err(e) => {
            return Err(PushError::Io {
                path: repo.metadata_dir().join(&snapshot_name),
                source: e,
            });
        }
    };
    if let Some(length) = meta.length
        && length != local.len() as u64
    {
        return Err(foreign(format!(
            "it lists {length} bytes, metadata/{snapshot_name} has {}",
            local.len()
        )));
    }
    for (algorithm, listed) in meta.hashes.iter().flatten() {
        if let Some(ours) = digest_hex(algorithm, &local)
            && !ours.eq_ignore_ascii_case(listed)
        {
            return Err(foreign(format!(
                "its {algorithm} is {listed}, metadata/{snapshot_name}'s is {ours}"
            )));
        }
    }
    Ok(Remote::Behind {
        version,
        snapshot_version,
        etag: fetched.etag,
    })
}

/// Replaces the bucket's `timestamp.json` with the local one, as a
/// compare-and-swap on what `remote` was read as. Returns how many lost
/// races were read and checked again.
pub(crate) fn swap(
    store: &mut dyn ObjectStore,
    repo: &Repository,
    plan: &Plan,
    key: &str,
    cache_control: &str,
    mut remote: Remote,
) -> Result<u32, PushError> {
    let sha256 = digest_hex("sha256", &plan.timestamp).unwrap_or_default();
    for retries in 0..MAX_SWAPS {
        let condition = match &remote {
            Remote::Current { .. } => return Ok(retries),
            Remote::Absent => Condition::Absent,
            Remote::Behind { etag: Some(e), .. } => Condition::Matches(e.clone()),
            Remote::Behind { etag: None, .. } => {
                return Err(PushError::NoEntityTag(key.to_owned()));
            }
        };
        let options = WriteOptions {
            cache_control: cache_control.to_owned(),
            sha256: sha256.clone(),
            condition,
        };
        match store.put(key, &plan.timestamp, &options)? {
            WriteOutcome::Written => return Ok(retries),
            WriteOutcome::PreconditionFailed => {
                let fetched = store.get(key, MAX_METADATA)?;
                remote = check(repo, plan, key, fetched)?;
            }
        }
    }
    Err(PushError::TimestampContended {
        key: key.to_owned(),
        attempts: MAX_SWAPS,
    })
}

/// Checks that the store honours `If-None-Match: *`: a first write to a
/// fresh key must succeed and a second must fail. A store that ignores the
/// header would let two pushes overwrite each other's `timestamp.json`.
/// The probe object is removed afterwards.
pub(crate) fn probe_conditional_writes(
    store: &mut dyn ObjectStore,
    prefix: &str,
) -> Result<(), PushError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let key = format!(
        "{prefix}metadata/.fwsign-conditional-write-probe-{}-{nanos}",
        std::process::id()
    );
    let body = b"fwsign conditional write probe\n";
    let options = WriteOptions {
        cache_control: "no-store".to_owned(),
        sha256: digest_hex("sha256", body).unwrap_or_default(),
        condition: Condition::Absent,
    };
    let first = store.put(&key, body, &options)?;
    let second = if first == WriteOutcome::Written {
        Some(store.put(&key, body, &options)?)
    } else {
        None
    };
    // Best effort: a store that forbids deletes keeps a 31-byte object.
    let _ = store.delete(&key);
    match (first, second) {
        (WriteOutcome::Written, Some(WriteOutcome::PreconditionFailed)) => Ok(()),
        (WriteOutcome::PreconditionFailed, _) => Err(PushError::ConditionalWritesIgnored {
            store: store.describe(),
            reason: "a conditional write to a new key was refused".to_owned(),
        }),
        _ => Err(PushError::ConditionalWritesIgnored {
            store: store.describe(),
            reason: "a second write with If-None-Match: * replaced the object".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::digest_hex;

    #[test]
    fn digests_are_lowercase_hex() {
        assert_eq!(
            digest_hex("sha256", b"").unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(digest_hex("md5", b"").is_none());
    }
}
