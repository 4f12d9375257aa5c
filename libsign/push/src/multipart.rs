//! Large target files go up in parts, and an interrupted push resumes its
//! uploads: the upload ID of every unfinished multipart upload is kept in
//! the repository (`.fwsign-push-uploads.json`, replaced atomically), so
//! the next push asks the store which parts it holds and sends only the
//! rest. The file is read and hashed whole either way, and the upload is
//! completed only when the bytes are the length and SHA-256 the metadata
//! lists; completion is conditional (`If-None-Match: *`), so an object
//! another push wrote meanwhile is never replaced.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use fwsign_keys::atomic_write::{Mode, write_atomic};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::PushError;
use crate::store::{Condition, ObjectStore, WriteOptions, WriteOutcome};

/// The state file's name inside the repository.
pub const STATE_FILE: &str = ".fwsign-push-uploads.json";

/// S3 allows at most this many parts.
const MAX_PARTS: u64 = 10_000;

/// The smallest part S3 accepts (every part but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Unfinished uploads by store and key.
    uploads: BTreeMap<String, Pending>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    upload_id: String,
    length: u64,
    sha256: String,
    part_size: u64,
    /// Parts sent so far: number, entity tag, length (a store need not
    /// list a part's tag, and completion needs it).
    #[serde(default)]
    parts: Vec<(u16, String, u64)>,
}

/// The resumable-upload record of one repository.
#[derive(Debug)]
pub(crate) struct Uploads {
    path: PathBuf,
    state: State,
}

impl Uploads {
    /// Reads the record; a missing or unreadable one holds nothing (its
    /// uploads are then started again, never trusted blindly).
    pub(crate) fn open(repo_dir: &Path) -> Self {
        let path = repo_dir.join(STATE_FILE);
        let state = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self { path, state }
    }

    fn save(&self) -> Result<(), PushError> {
        if self.state.uploads.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(PushError::Io {
                    path: self.path.clone(),
                    source,
                }),
            };
        }
        let bytes = serde_json::to_vec_pretty(&self.state).expect("the record serialises");
        write_atomic(&self.path, &bytes, Mode::Public).map_err(|source| PushError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// What a multipart upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartsSent {
    /// Parts uploaded now.
    pub sent: usize,
    /// Parts an earlier, interrupted push had uploaded.
    pub resumed: usize,
    pub outcome: WriteOutcome,
}

/// The part size for a file: the configured one, raised so the file fits
/// in S3's part limit.
fn part_size_for(length: u64, configured: u64) -> u64 {
    configured
        .max(MIN_PART_SIZE)
        .max(length.div_ceil(MAX_PARTS))
}

/// The target file being uploaded and what the metadata says it is.
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub length: u64,
    pub sha256: &'a str,
}

/// Uploads `source` to `key` in parts, resuming an upload an earlier push
/// left unfinished. `on_sent` hears each part's length as it is sent.
pub(crate) fn upload(
    store: &mut dyn ObjectStore,
    uploads: &mut Uploads,
    key: &str,
    source: &Source<'_>,
    options: &WriteOptions,
    configured_part_size: u64,
    on_sent: &mut dyn FnMut(u64),
) -> Result<PartsSent, PushError> {
    let record_key = format!("{} {key}", store.describe());
    let part_size = part_size_for(source.length, configured_part_size);
    let wanted = |p: &Pending| {
        p.length == source.length && p.sha256 == source.sha256 && p.part_size == part_size
    };
    let mut held: BTreeMap<u16, (String, u64)> = BTreeMap::new();
    let mut upload_id = None;
    if let Some(pending) = uploads.state.uploads.get(&record_key).filter(|p| wanted(p))
        && let Some(parts) = store.list_parts(key, &pending.upload_id)?
    {
        // A part counts as held when the store lists it at the length sent;
        // its tag is the store's, else the one recorded when it was sent.
        for part in parts {
            let recorded = pending
                .parts
                .iter()
                .find(|(n, _, size)| *n == part.number && *size == part.size)
                .map(|(_, etag, _)| etag.clone());
            if let Some(etag) = part.etag.or(recorded) {
                held.insert(part.number, (etag, part.size));
            }
        }
        upload_id = Some(pending.upload_id.clone());
    }
    let upload_id = match upload_id {
        Some(id) => id,
        None => {
            let id = store.create_multipart(key, options)?;
            uploads.state.uploads.insert(
                record_key.clone(),
                Pending {
                    upload_id: id.clone(),
                    length: source.length,
                    sha256: source.sha256.to_owned(),
                    part_size,
                    parts: Vec::new(),
                },
            );
            uploads.save()?;
            id
        }
    };

    let io = |e: std::io::Error| PushError::Io {
        path: source.path.to_path_buf(),
        source: e,
    };
    let mut file = File::open(source.path).map_err(io)?;
    let mut hasher = sha2::Sha256::new();
    let mut etags = Vec::new();
    let (mut sent, mut resumed, mut total) = (0, 0, 0u64);
    let mut buffer = Vec::new();
    for number in 1..=source.length.div_ceil(part_size).max(1) {
        let number = u16::try_from(number).expect("at most 10,000 parts");
        buffer.clear();
        (&mut file)
            .take(part_size)
            .read_to_end(&mut buffer)
            .map_err(io)?;
        hasher.update(&buffer);
        total += buffer.len() as u64;
        match held.get(&number) {
            Some((etag, size)) if *size == buffer.len() as u64 => {
                etags.push(etag.clone());
                resumed += 1;
            }
            _ => {
                let etag = store.upload_part(key, &upload_id, number, &buffer)?;
                on_sent(buffer.len() as u64);
                sent += 1;
                if let Some(pending) = uploads.state.uploads.get_mut(&record_key) {
                    pending.parts.retain(|(n, _, _)| *n != number);
                    pending
                        .parts
                        .push((number, etag.clone(), buffer.len() as u64));
                    uploads.save()?;
                }
                etags.push(etag);
            }
        }
    }
    let digest = base16ct::lower::encode_string(&hasher.finalize());
    // One more byte than listed is enough to know the file grew.
    let grew = file.read(&mut [0u8; 1]).map_err(io)? > 0;
    if grew || total != source.length || digest != source.sha256 {
        return Err(PushError::LocalTargetChanged {
            path: source.path.to_path_buf(),
            name: source.name.to_owned(),
        });
    }
    let outcome = store.complete_multipart(key, &upload_id, &etags, &Condition::Absent)?;
    uploads.state.uploads.remove(&record_key);
    uploads.save()?;
    Ok(PartsSent {
        sent,
        resumed,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::{MIN_PART_SIZE, part_size_for};

    #[test]
    fn parts_fit_the_store_limit() {
        assert_eq!(part_size_for(1, 0), MIN_PART_SIZE);
        let huge = 200 * 1024 * 1024 * 1024;
        assert!(huge / part_size_for(huge, MIN_PART_SIZE) <= 10_000);
    }
}
