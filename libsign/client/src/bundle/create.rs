//! [`create_bundle`]: packaging a published target and the metadata that
//! proves it. It runs the same workflow a device does before writing, so
//! fwsign never writes a bundle it would refuse.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::bundle_archive::{EntrySource, write_bundle};
use fwsign_core::key_types::BUILTIN;
use fwsign_core::target_check::{self, BootloaderVersion, DeviceFacts, TargetRefusal};
use fwsign_core::verify::TargetEntry;
use fwsign_keys::search_host::Arena;
use fwsign_keys::trusted_set::TrustedSet;
use fwsign_repo::names::{check_target_name, consistent_target_path, versioned_role_file};
use fwsign_repo::{RepoError, Repository};

use super::error::{BundleError, refused};
use super::extract::{HashingWriter, copy};
use super::manifest::manifest_bytes;
use super::search::search_bundle;
use super::{MANIFEST_NAME, json_string, timestamp_snapshot_version};

/// What [`create_bundle`] wrote.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BundleSummary {
    /// The bundle file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The target name.
    pub target: String,
    /// The image length.
    pub length: u64,
    /// The image's SHA-256, lowercase hex.
    pub sha256: String,
    /// The targets role that lists the target.
    pub role: String,
    /// The newest root version included.
    pub root_version: u64,
    /// The entries written, in order.
    pub entries: Vec<String>,
    /// The SBOM target included beside the image (`repo add --sbom`).
    pub sbom: Option<String>,
}

/// Packages `target` from `repo`'s published release into the bundle `out`.
///
/// The bundle holds every published root version, the timestamp, the
/// snapshot it names, every targets role the delegation search visits on
/// the way to the target, and the image. Before anything is written, the
/// metadata is walked through the client workflow from the oldest root (with
/// expiry not checked: a bundle may be made for devices whose clock is
/// behind) and the image is checked against its entry, so a bundle is never
/// written that a device would refuse for its content.
///
/// The output is byte-reproducible: the same published files give the same
/// bundle. It is replaced atomically; on error a previous `out` is left as
/// it was.
pub fn create_bundle(
    repo: &Repository,
    target: &str,
    out: &Path,
) -> Result<BundleSummary, BundleError> {
    let bundle = out.to_path_buf();
    check_target_name(target).map_err(|source| BundleError::Repository {
        path: bundle.clone(),
        source: Box::new(source),
    })?;
    let io_error = |file: &Path| {
        let bundle = bundle.clone();
        let file = file.to_path_buf();
        move |source| BundleError::Io {
            path: bundle,
            file,
            source,
        }
    };
    // The published state, verified once as a client verifies it (refused
    // with its faults when it does not verify); every metadata file in the
    // bundle is taken from the bytes that load verified, none read again.
    let published = repo
        .published()
        .map_err(|source| BundleError::Repository {
            path: bundle.clone(),
            source: Box::new(source),
        })?
        .filter(|p| p.timestamp.is_some())
        .ok_or_else(|| BundleError::NotPublished {
            path: bundle.clone(),
            dir: repo.dir().to_path_buf(),
        })?;
    let not_published = || BundleError::NotPublished {
        path: bundle.clone(),
        dir: repo.dir().to_path_buf(),
    };

    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut chain = (1u64..).zip(&published.root_chain);
    let (first, first_raw) = chain.next().ok_or_else(not_published)?;
    // The repository's own first root is the anchor here: what is checked is
    // that the published files form a chain a device can follow.
    let mut set = TrustedSet::new(first_raw, BUILTIN, None)
        .map_err(|source| refused(&bundle, "root", source))?;
    entries.push((format!("metadata/{first}.root.json"), first_raw.clone()));
    for (version, raw) in chain {
        set.update_root(raw)
            .map_err(|source| refused(&bundle, "root", source))?;
        entries.push((format!("metadata/{version}.root.json"), raw.clone()));
    }
    let root_version = set.root().common().version;

    let raw = published
        .files
        .get("timestamp.json")
        .ok_or_else(not_published)?;
    set.update_timestamp_ignoring_expiry(raw)
        .map_err(|source| refused(&bundle, "timestamp", source))?;
    entries.push(("metadata/timestamp.json".to_owned(), raw.clone()));
    let snapshot_version = timestamp_snapshot_version(&set, &bundle)?;
    let raw = published.snapshot_bytes().ok_or_else(not_published)?;
    set.update_snapshot_ignoring_expiry(raw)
        .map_err(|source| refused(&bundle, "snapshot", source))?;
    entries.push((
        format!("metadata/{snapshot_version}.snapshot.json"),
        raw.to_vec(),
    ));

    let mut fetched: Vec<(String, Vec<u8>)> = Vec::new();
    let arena = Arena::new();
    let mut fetch = |role: &str, version: u64| -> Result<Vec<u8>, BundleError> {
        let file = versioned_role_file(version, role);
        let raw = published
            .files
            .get(&file)
            .cloned()
            .ok_or_else(|| BundleError::Repository {
                path: bundle.clone(),
                source: Box::new(RepoError::Invalid(format!(
                    "metadata/{file} is not part of the verified published state"
                ))),
            })?;
        fetched.push((format!("metadata/{file}"), raw.clone()));
        Ok(raw)
    };
    // Expiry is not checked: a bundle may be made for devices whose clock is
    // behind.
    let hit = search_bundle(&set, &arena, &bundle, target, None, &mut fetch)?.ok_or_else(|| {
        BundleError::UnknownTarget {
            path: bundle.clone(),
            dir: repo.dir().to_path_buf(),
            target: target.to_owned(),
        }
    })?;
    let (entry, role) = (hit.entry, hit.role);

    // No device is known here; the check runs for the newest possible
    // bootloader, so it refuses only an entry no device could accept (a
    // `min_bootloader_version` that is not a semantic version).
    let any_device = DeviceFacts {
        bootloader_version: Some(BootloaderVersion {
            major: u32::MAX,
            minor: u32::MAX,
            patch: u32::MAX,
        }),
        ..DeviceFacts::default()
    };
    target_check::check_device(&entry, &any_device).map_err(|source| {
        BundleError::FirmwareRefused {
            path: bundle.clone(),
            target: target.to_owned(),
            source,
        }
    })?;
    let (image, sha256) = published_file(repo, &bundle, target, &entry)?;

    // The SBOM the entry names (`repo add --sbom`) goes along, found by the
    // same search (its roles are added to the bundle too) and bound to the
    // digest the firmware's approvers signed.
    let sbom = match hit.sbom {
        None => None,
        Some(reference) => {
            let name = json_string(reference.target).ok_or_else(|| BundleError::ImageMismatch {
                path: bundle.clone(),
                target: target.to_owned(),
                source: TargetRefusal::SbomMismatch,
            })?;
            let found = search_bundle(&set, &arena, &bundle, &name, None, &mut fetch)?.ok_or_else(
                || BundleError::UnknownTarget {
                    path: bundle.clone(),
                    dir: repo.dir().to_path_buf(),
                    target: name.clone(),
                },
            )?;
            target_check::check_sbom_entry(&reference, &found.entry).map_err(|source| {
                BundleError::ImageMismatch {
                    path: bundle.clone(),
                    target: name.clone(),
                    source,
                }
            })?;
            let (file, _) = published_file(repo, &bundle, &name, &found.entry)?;
            Some((name, file))
        }
    };
    // A role both searches loaded is one entry.
    for (name, raw) in fetched {
        if !entries.iter().any(|(n, _)| *n == name) {
            entries.push((name, raw));
        }
    }

    let manifest = manifest_bytes(target);
    let target_entry = format!("targets/{target}");
    let mut sources: Vec<(String, EntrySource<'_>)> =
        vec![(MANIFEST_NAME.to_owned(), EntrySource::Bytes(&manifest))];
    sources.extend(
        entries
            .iter()
            .map(|(name, raw)| (name.clone(), EntrySource::Bytes(raw))),
    );
    sources.push((target_entry, EntrySource::File(&image)));
    if let Some((name, file)) = &sbom {
        sources.push((format!("targets/{name}"), EntrySource::File(file)));
    }
    write_bundle(out, &sources)?;
    let size = fs::metadata(out).map_err(io_error(out))?.len();

    Ok(BundleSummary {
        path: bundle,
        size,
        target: target.to_owned(),
        length: entry.length,
        sha256,
        role,
        root_version,
        entries: sources.into_iter().map(|(name, _)| name).collect(),
        sbom: sbom.map(|(name, _)| name),
    })
}

/// The published file behind `name`'s entry, hashed and checked against
/// it (a bundle with a damaged file would only be refused on the device),
/// and its SHA-256.
fn published_file(
    repo: &Repository,
    bundle: &Path,
    name: &str,
    entry: &TargetEntry<'_>,
) -> Result<(PathBuf, String), BundleError> {
    let mismatch = |source| BundleError::ImageMismatch {
        path: bundle.to_path_buf(),
        target: name.to_owned(),
        source,
    };
    let served_by = entry
        .sha256
        .or_else(|| entry.hashes.members().next().and_then(|(_, h)| h.as_str()))
        .and_then(json_string)
        .ok_or_else(|| mismatch(TargetRefusal::Sha256Missing))?;
    let file = consistent_target_path(&repo.targets_dir(), name, &served_by).map_err(|source| {
        BundleError::Repository {
            path: bundle.to_path_buf(),
            source: Box::new(source),
        }
    })?;
    let io_error = |source| BundleError::Io {
        path: bundle.to_path_buf(),
        file: file.clone(),
        source,
    };
    let mut digests = HashingWriter::new(entry.hashes, None);
    let mut input = File::open(&file).map_err(io_error)?;
    copy(&mut input, &mut digests).map_err(io_error)?;
    let sha256 = digests.check(entry).map_err(mismatch)?;
    Ok((file, sha256))
}
