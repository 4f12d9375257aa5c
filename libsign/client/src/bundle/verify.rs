//! [`verify_bundle`]: checking a bundle as a device does, from the root it
//! trusts, and extracting the image only once every check has passed. Kept
//! apart from creation because its inputs are hostile and its options
//! (clock, device facts, freshness) are the device's.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;

use crate::bundle_archive::{ArchiveLimits, BundleArchive};
use fwsign_core::key_types::BUILTIN;
use fwsign_core::target_check::{self, BootloaderVersion, DeviceFacts, TargetRefusal};
use fwsign_keys::search_host::Arena;
use fwsign_keys::trusted_set::TrustedSet;
use fwsign_repo::names::versioned_role_file;

use super::error::{BundleError, BundleWarning, out_of_order, refused};
use super::extract::{Extraction, HashingWriter};
use super::manifest::{read_entry, read_manifest};
use super::search::search_bundle;
use super::{
    MAX_ROOT_ROTATIONS, ROOT_MAX, SNAPSHOT_MAX, TARGETS_MAX, TIMESTAMP_MAX, json_string,
    timestamp_snapshot_version,
};

/// What [`verify_bundle`] checks beyond the metadata.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The time expiry is checked against, once for the whole run.
    pub now: UnixTime,
    /// This device's hardware ID: the target must list it.
    pub hardware_id: Option<String>,
    /// This device's installed security counter: the target's must be at
    /// least this.
    pub installed_counter: Option<u64>,
    /// This device's bootloader version: a target's `min_bootloader_version`
    /// must not be above it, and a target that sets one is refused without
    /// it.
    pub bootloader_version: Option<BootloaderVersion>,
    /// Refuse an expired timestamp or snapshot instead of warning.
    pub require_fresh: bool,
    /// Write the verified image to this existing directory, at its target
    /// name, once every check has passed.
    pub extract_to: Option<PathBuf>,
}

impl VerifyOptions {
    /// Metadata checks only, at `now`: no device checks, no extraction.
    pub fn at(now: UnixTime) -> Self {
        Self {
            now,
            hardware_id: None,
            installed_counter: None,
            bootloader_version: None,
            require_fresh: false,
            extract_to: None,
        }
    }
}

/// A bundle that passed every check.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedBundle {
    /// The target name.
    pub target: String,
    /// The image length in bytes.
    pub length: u64,
    /// The image's SHA-256, lowercase hex, as computed over the image.
    pub sha256: String,
    /// The firmware version (`custom.fwsign.version`), if the target has
    /// firmware fields.
    pub firmware_version: Option<String>,
    /// The security counter, if the target has firmware fields.
    pub security_counter: Option<u64>,
    /// The oldest bootloader that may start the image, if it sets one.
    pub min_bootloader_version: Option<String>,
    /// The hardware IDs the target lists (empty without firmware fields).
    pub hardware_ids: Vec<String>,
    /// The targets role that lists the target.
    pub role: String,
    /// The targets roles loaded, in search order (`targets` first).
    pub roles_searched: Vec<String>,
    /// The root version the chain reached.
    pub root_version: u64,
    /// The timestamp version.
    pub timestamp_version: u64,
    /// The snapshot version.
    pub snapshot_version: u64,
    /// Accepted problems, such as an expired timestamp.
    pub warnings: Vec<BundleWarning>,
    /// Where the image was written, with [`VerifyOptions::extract_to`].
    pub extracted_to: Option<PathBuf>,
    /// The SBOM the image's entry names, when the bundle carries it
    /// (checked against the digest the image's approvers signed).
    pub sbom: Option<String>,
    /// Where the SBOM was written, beside the image.
    pub sbom_extracted_to: Option<PathBuf>,
}

/// Checks the bundle at `path` as a device would, trusting only
/// `trusted_root` (root metadata JSON), and with
/// [`VerifyOptions::extract_to`] writes out the image once every check has
/// passed.
///
/// The steps, each of which refuses the bundle:
/// 1. the zip container is opened with [`ArchiveLimits::default`] and must
///    carry `fwsign-bundle.json` of format [`FORMAT_VERSION`](super::FORMAT_VERSION);
/// 2. starting from the trusted root, `metadata/N.root.json` for N = trusted
///    version + 1, + 2, ... is applied in order while present (each signed
///    by the old and the new root thresholds); versions at or below the
///    trusted one are ignored; the final root must not have expired;
/// 3. `metadata/timestamp.json` and the snapshot it names are checked
///    (expiry only with [`VerifyOptions::require_fresh`]; otherwise an
///    expired one becomes a [`BundleWarning`]);
/// 4. the target is searched for by the core's search, as the TUF client
///    and the bootloader search ([`fwsign_core::search::search_target`]):
///    `targets` first, then depth-first through delegated roles in order,
///    entering only delegations whose paths cover the name, the first role
///    listing it answering, stopping at a terminating one, each role once,
///    loading at most [`MAX_DELEGATIONS`](super::MAX_DELEGATIONS) delegated
///    roles; every role loaded must be listed by the snapshot, signed by the threshold of the
///    delegator it is reached through and not expired;
/// 5. the core's device checks ([`target_check::check_device`]): with
///    [`VerifyOptions::hardware_id`] the target's hardware IDs must list it,
///    with [`VerifyOptions::installed_counter`] its security counter must be
///    at least that (both refuse a target without firmware fields), and a
///    target with a `min_bootloader_version` needs
///    [`VerifyOptions::bootloader_version`] at least that. These come
///    before the image is read, so a bundle for other hardware costs no
///    image read;
/// 6. `targets/<name>` is streamed once: its length and every listed hash
///    must match. With extraction the stream also goes to a temporary file
///    in the directory, renamed to `<dir>/<name>` only after the check; on
///    any refusal nothing is left behind;
/// 7. when the target's entry names an SBOM (`custom.fwsign.sbom_target`)
///    and the bundle carries `targets/<sbom>`, the SBOM is searched for
///    the same way, its entry must list the `sbom_sha256` the image's
///    approvers signed (the core's `check_sbom_entry`), and it is streamed
///    and checked like the image (and extracted beside it). A bundle
///    without it (made before SBOMs travelled in bundles) passes without.
pub fn verify_bundle(
    path: &Path,
    trusted_root: &[u8],
    options: &VerifyOptions,
) -> Result<VerifiedBundle, BundleError> {
    let bundle = path.to_path_buf();
    if let Some(dir) = &options.extract_to {
        // Checked first so a typo costs nothing; the directory is not
        // created, because a refusal must leave nothing behind.
        let meta = fs::metadata(dir).map_err(|source| BundleError::Io {
            path: bundle.clone(),
            file: dir.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(BundleError::Io {
                path: bundle,
                file: dir.clone(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
    }

    let mut archive = BundleArchive::open(path, ArchiveLimits::default())?;
    let target = read_manifest(&mut archive, &bundle)?;

    let mut set = TrustedSet::new(trusted_root, BUILTIN, Some(options.now)).map_err(|source| {
        BundleError::TrustedRoot {
            path: bundle.clone(),
            source,
        }
    })?;
    let mut version = set.root().common().version;
    for _ in 0..MAX_ROOT_ROTATIONS {
        let Some(next) = version.checked_add(1) else {
            break;
        };
        let name = format!("metadata/{next}.root.json");
        if archive.declared_size(&name).is_none() {
            break;
        }
        let raw = archive.read(&name, ROOT_MAX)?;
        set.update_root(&raw)
            .map_err(|source| refused(&bundle, "root", source))?;
        version = next;
    }
    set.check_root_expiry()
        .map_err(|source| refused(&bundle, "root", source))?;

    let mut warnings = Vec::new();
    let raw = read_entry(
        &mut archive,
        &bundle,
        "metadata/timestamp.json",
        TIMESTAMP_MAX,
    )?;
    offer_fresh(
        &mut set,
        Role::Timestamp,
        &raw,
        &bundle,
        options,
        &mut warnings,
    )?;
    let timestamp_version = set
        .timestamp()
        .map(|t| t.version)
        .ok_or_else(|| out_of_order(&bundle, "timestamp"))?;

    let snapshot_version = timestamp_snapshot_version(&set, &bundle)?;
    let name = format!("metadata/{snapshot_version}.snapshot.json");
    let raw = read_entry(&mut archive, &bundle, &name, SNAPSHOT_MAX)?;
    offer_fresh(
        &mut set,
        Role::Snapshot,
        &raw,
        &bundle,
        options,
        &mut warnings,
    )?;

    let arena = Arena::new();
    let mut fetch = |role: &str, version: u64| {
        let name = format!("metadata/{}", versioned_role_file(version, role));
        read_entry(&mut archive, &bundle, &name, TARGETS_MAX)
    };
    let hit = search_bundle(
        &set,
        &arena,
        &bundle,
        &target,
        Some(options.now),
        &mut fetch,
    )?
    .ok_or_else(|| BundleError::TargetNotFound {
        path: bundle.clone(),
        target: target.clone(),
    })?;
    let (entry, role, roles_searched) = (hit.entry, hit.role, hit.roles_searched);
    // The SBOM the image's entry names (`repo add --sbom`), when the bundle
    // carries it (`bundle create` does; an older bundle may not): found by
    // the same search and bound to the digest the image's approvers signed
    // (the core's `check_sbom_entry`), then streamed and checked like the
    // image.
    let sbom = match hit.sbom {
        None => None,
        Some(reference) => match json_string(reference.target) {
            Some(name) if archive.declared_size(&format!("targets/{name}")).is_some() => {
                let mut fetch = |role: &str, version: u64| {
                    let name = format!("metadata/{}", versioned_role_file(version, role));
                    read_entry(&mut archive, &bundle, &name, TARGETS_MAX)
                };
                let found =
                    search_bundle(&set, &arena, &bundle, &name, Some(options.now), &mut fetch)?
                        .ok_or_else(|| BundleError::TargetNotFound {
                            path: bundle.clone(),
                            target: name.clone(),
                        })?;
                target_check::check_sbom_entry(&reference, &found.entry).map_err(|source| {
                    BundleError::ImageMismatch {
                        path: bundle.clone(),
                        target: name.clone(),
                        source,
                    }
                })?;
                Some((name, found.entry))
            }
            _ => None,
        },
    };

    let firmware = entry.firmware;
    let hardware_ids: Vec<String> = firmware
        .map(|fw| {
            fw.hardware_ids
                .items()
                .filter_map(|h| h.as_str().and_then(json_string))
                .collect()
        })
        .unwrap_or_default();
    // The core's device checks, before the image is read.
    let facts = DeviceFacts {
        hardware_id: options.hardware_id.as_deref().map(str::as_bytes),
        installed_counter: options.installed_counter,
        bootloader_version: options.bootloader_version,
    };
    if let Err(refusal) = target_check::check_device(&entry, &facts) {
        return Err(match refusal {
            TargetRefusal::NoFirmwareFields => BundleError::NotFirmware {
                path: bundle,
                target,
            },
            TargetRefusal::HardwareIdNotListed => BundleError::HardwareMismatch {
                path: bundle,
                target,
                hardware_id: options.hardware_id.clone().unwrap_or_default(),
                allowed: hardware_ids,
            },
            TargetRefusal::SecurityCounterRollback { image, installed } => {
                BundleError::CounterRollback {
                    path: bundle,
                    target,
                    security_counter: image,
                    installed,
                }
            }
            source => BundleError::FirmwareRefused {
                path: bundle,
                target,
                source,
            },
        });
    }

    let image_name = format!("targets/{target}");
    let mismatch = |source| BundleError::ImageMismatch {
        path: bundle.clone(),
        target: target.clone(),
        source,
    };
    match archive.declared_size(&image_name) {
        None => {
            return Err(BundleError::MissingEntry {
                path: bundle,
                entry: image_name,
            });
        }
        // Refused before reading: the archive holds the entry to its
        // declared size, so a different one cannot match.
        Some(declared) if declared != entry.length => {
            return Err(mismatch(TargetRefusal::LengthMismatch));
        }
        Some(_) => {}
    }
    let mut extraction = match &options.extract_to {
        Some(dir) => Some(
            Extraction::start(dir).map_err(|(file, source)| BundleError::Io {
                path: bundle.clone(),
                file,
                source,
            })?,
        ),
        None => None,
    };
    let mut digests = HashingWriter::new(entry.hashes, extraction.as_mut().map(|e| &mut e.file));
    // A failed stream may have written part of the image: the temporary
    // file is removed when `extraction` drops.
    archive.stream(&image_name, entry.length, &mut digests)?;
    let sha256 = digests.check(&entry).map_err(mismatch)?;

    // The SBOM is checked (and held in its temporary file) before either
    // file is put in place, so a refusal leaves nothing behind.
    let sbom_pending = match &sbom {
        Some((name, sbom_entry)) => Some(check_sbom(
            &mut archive,
            &bundle,
            name,
            sbom_entry,
            options,
        )?),
        None => None,
    };
    let extracted_to = match extraction {
        Some(extraction) => {
            Some(
                extraction
                    .finish(&target)
                    .map_err(|(file, source)| BundleError::Io {
                        path: bundle.clone(),
                        file,
                        source,
                    })?,
            )
        }
        None => None,
    };

    let sbom_extracted_to = match (sbom_pending.flatten(), &sbom) {
        (Some(pending), Some((name, _))) => Some(pending.finish(name).map_err(
            |(file, source)| BundleError::Io {
                path: bundle.clone(),
                file,
                source,
            },
        )?),
        _ => None,
    };

    Ok(VerifiedBundle {
        sbom: sbom.map(|(name, _)| name),
        sbom_extracted_to,
        length: entry.length,
        sha256,
        firmware_version: firmware.and_then(|fw| json_string(fw.version)),
        security_counter: firmware.map(|fw| fw.security_counter),
        min_bootloader_version: firmware
            .and_then(|fw| fw.min_bootloader_version)
            .and_then(json_string),
        hardware_ids,
        role,
        roles_searched,
        root_version: version,
        timestamp_version,
        snapshot_version,
        warnings,
        extracted_to,
        target,
    })
}

/// Streams the SBOM entry `targets/<name>` once, checking its length and
/// every listed hash; with extraction, into a temporary file the caller
/// puts beside the image once everything has passed.
fn check_sbom(
    archive: &mut BundleArchive,
    bundle: &Path,
    name: &str,
    entry: &fwsign_core::verify::TargetEntry<'_>,
    options: &VerifyOptions,
) -> Result<Option<Extraction>, BundleError> {
    let mismatch = |source| BundleError::ImageMismatch {
        path: bundle.to_path_buf(),
        target: name.to_owned(),
        source,
    };
    let entry_name = format!("targets/{name}");
    if archive.declared_size(&entry_name) != Some(entry.length) {
        return Err(mismatch(TargetRefusal::LengthMismatch));
    }
    let io = |(file, source)| BundleError::Io {
        path: bundle.to_path_buf(),
        file,
        source,
    };
    let mut extraction = match &options.extract_to {
        Some(dir) => Some(Extraction::start(dir).map_err(io)?),
        None => None,
    };
    let mut digests = HashingWriter::new(entry.hashes, extraction.as_mut().map(|e| &mut e.file));
    archive.stream(&entry_name, entry.length, &mut digests)?;
    digests.check(entry).map_err(mismatch)?;
    Ok(extraction)
}

/// The two roles step 3 checks.
#[derive(Clone, Copy)]
enum Role {
    Timestamp,
    Snapshot,
}

/// Step 3 for one role: `raw` offered to `set` as `role`, its expiry
/// enforced with [`VerifyOptions::require_fresh`] and otherwise a
/// [`BundleWarning`] when it has passed.
fn offer_fresh(
    set: &mut TrustedSet,
    role: Role,
    raw: &[u8],
    bundle: &Path,
    options: &VerifyOptions,
    warnings: &mut Vec<BundleWarning>,
) -> Result<(), BundleError> {
    let strict = options.require_fresh;
    let (name, offered) = match role {
        Role::Timestamp if strict => ("timestamp", set.update_timestamp(raw).map(drop)),
        Role::Timestamp => (
            "timestamp",
            set.update_timestamp_ignoring_expiry(raw).map(drop),
        ),
        Role::Snapshot if strict => ("snapshot", set.update_snapshot(raw)),
        Role::Snapshot => ("snapshot", set.update_snapshot_ignoring_expiry(raw)),
    };
    offered.map_err(|source| refused(bundle, name, source))?;
    let expires = match role {
        Role::Timestamp => set.timestamp().map(|t| t.expires),
        Role::Snapshot => set.snapshot().map(|s| s.expires),
    }
    .ok_or_else(|| out_of_order(bundle, name))?;
    if expires <= options.now {
        warnings.push(BundleWarning::Expired {
            role: name.to_owned(),
            expires,
        });
    }
    Ok(())
}
