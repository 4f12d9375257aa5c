//! Offline update bundles: one published target and the TUF metadata that
//! proves it, in one zip file for installs without a network (a
//! commissioning app, a USB stick).
//!
//! ```text
//! fwsign-bundle.json        {"format_version": 1, "target": "board-a/fw-1.0.0.bin"}
//! metadata/1.root.json      every root version, so any older device can walk the chain
//! metadata/2.root.json
//! metadata/timestamp.json
//! metadata/7.snapshot.json
//! metadata/7.targets.json   and the delegated roles the search for the target visits
//! metadata/3.board-a.json
//! targets/board-a/fw-1.0.0.bin
//! ```
//!
//! [`create_bundle`] packages a target from a published [`Repository`];
//! [`verify_bundle`] checks a bundle the way a device does, from the root it
//! trusts. Both run the same client workflow through
//! [`TrustedSet`], so fwsign never writes a
//! bundle whose metadata it would refuse, and no trust decision is made here:
//! signatures, thresholds, versions and expiry are the workflow's, the
//! target search is the core's [`crate::search::search_target`] (the one
//! the TUF client, `device pack` and the bootloader run), and the checks on
//! the entry are the core's [`crate::target_check`] (hardware ID, security
//! counter, bootloader version; the image's length and every listed hash).
//! What this module adds is the order of the steps and where each file
//! comes from.
//!
//! The zip container, and its defences against hostile archives (path
//! traversal, symlinks, duplicate entries, decompression bombs), are
//! [`crate::bundle_archive`]'s.
//!
//! ## Expiry
//!
//! A bundle is made once and installed for weeks, while a timestamp lives a
//! day and a snapshot a week. So an expired timestamp or snapshot is only a
//! [`BundleWarning`] unless [`VerifyOptions::require_fresh`] is set. Root,
//! targets and delegated roles carry the release decision and are refused
//! once expired, as a networked client would.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::reader::{Json, JsonStr};
use serde::{Deserialize, Serialize};

use crate::atomic_write::sync_dir;
use crate::bundle_archive::{
    ArchiveError, ArchiveLimits, BundleArchive, EntrySource, write_bundle,
};
use crate::key_types::BUILTIN;
use crate::repo::names::{check_target_name, consistent_target_path, versioned_role_file};
use crate::repo::{ErrorClass, RepoError, Repository};
use crate::search::{RoleBytes, RoleLoader, SearchError, SnapshotCheck};
use crate::search_host::{self, Arena, Memory, role_name};
use crate::target_check::{self, BootloaderVersion, DeviceFacts, TargetRefusal};
use crate::trusted_set::{TrustError, TrustedSet};
use crate::verify::{Envelope, TargetEntry, ThresholdWork};
use crate::workflow::{Delegator, SnapshotView, WorkflowError, verify_targets};

/// The entry that marks a zip file as an fwsign bundle and names its target.
pub const MANIFEST_NAME: &str = "fwsign-bundle.json";

/// The bundle format this build writes and reads. A reader refuses other
/// versions rather than guess what a newer layout means.
pub const FORMAT_VERSION: u64 = 1;

/// Most delegated roles the target search loads besides the top-level
/// `targets` (the core's [`crate::search::MAX_DELEGATIONS`], python-tuf's
/// `max_delegations`). Bounds the work a hostile delegation tree can cause.
pub const MAX_DELEGATIONS: usize = crate::search::MAX_DELEGATIONS;

/// Most root versions one verification walks through (python-tuf's
/// `max_root_rotations`).
pub const MAX_ROOT_ROTATIONS: u64 = 256;

// Largest accepted metadata entries, python-tuf's defaults: far above what
// real repositories write, low enough that a bundle cannot make a reader
// hold much memory for JSON.
const MANIFEST_MAX: u64 = 64 << 10;
const ROOT_MAX: u64 = 512_000;
const TIMESTAMP_MAX: u64 = 16_384;
const SNAPSHOT_MAX: u64 = 2_000_000;
const TARGETS_MAX: u64 = 5_000_000;

const COPY_BUFFER: usize = 256 * 1024;

/// Why a bundle could not be created or was refused.
///
/// Every message starts with the bundle file. Names taken from a bundle
/// (targets, roles, hardware IDs) are printed with `{:?}`, so a hostile name
/// cannot pass itself off as part of the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The zip container was refused (path traversal, symlinks, duplicate
    /// entries, decompression bombs, damage), or could not be read or
    /// written. The archive error names the bundle file.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The zip file is not an fwsign bundle: `fwsign-bundle.json` is missing
    /// or not the document this format defines.
    #[error("{}: not an fwsign bundle: {reason}", path.display())]
    NotABundle {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong with `fwsign-bundle.json`.
        reason: String,
    },
    /// `fwsign-bundle.json` declares a format version this build does not
    /// read.
    #[error(
        "{}: bundle format version {found} is not supported (this fwsign reads version {FORMAT_VERSION})",
        path.display()
    )]
    UnsupportedFormat {
        /// The bundle file.
        path: PathBuf,
        /// The declared version.
        found: u64,
    },
    /// An entry the verification needs is not in the bundle: the timestamp,
    /// the snapshot it names, a targets role the search visits, or the
    /// target image.
    #[error("{}: missing entry {entry:?}", path.display())]
    MissingEntry {
        /// The bundle file.
        path: PathBuf,
        /// The entry name.
        entry: String,
    },
    /// The trusted root given to [`verify_bundle`] is not root metadata
    /// signed by its own threshold.
    #[error("{}: the trusted root is not usable: {source}", path.display())]
    TrustedRoot {
        /// The bundle file.
        path: PathBuf,
        /// Why the root was refused.
        #[source]
        source: TrustError,
    },
    /// The TUF workflow refused a metadata file: a signature threshold not
    /// met, a root that does not chain from the trusted one, a rollback, a
    /// version or hash that differs from what the referring role lists, or
    /// expired metadata.
    #[error("{}: {source}", path.display())]
    Refused {
        /// The bundle file.
        path: PathBuf,
        /// The role whose metadata was refused.
        role: String,
        /// The workflow's reason.
        #[source]
        source: TrustError,
    },
    /// No trusted targets role reachable through delegations that cover the
    /// name lists the target.
    #[error("{}: target {target:?} is not listed by any trusted targets role", path.display())]
    TargetNotFound {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
    },
    /// The target is not found, and a delegated role the search did not
    /// enter (its delegation does not cover the name) lists it: the role
    /// signed for a path it was not given. A diagnosis of a miss only: the
    /// search decided, and this names why it found nothing.
    #[error(
        "{}: target {target:?} is listed by role {role:?}, but {delegator:?} does not delegate that path to it",
        path.display()
    )]
    OutsideDelegation {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
        /// The role that lists it.
        role: String,
        /// The role whose delegation does not cover it.
        delegator: String,
    },
    /// The delegation search would load more than [`MAX_DELEGATIONS`]
    /// delegated roles.
    #[error(
        "{}: target {target:?} not found within {MAX_DELEGATIONS} delegated roles",
        path.display()
    )]
    DelegationLimit {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
    },
    /// The image does not match its trusted target entry: another length, a
    /// hash that differs, or a hash algorithm fwsign cannot check. The image
    /// was tampered with or damaged.
    #[error("{}: image {target:?} refused: {source}", path.display())]
    ImageMismatch {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
        /// Which check failed.
        #[source]
        source: TargetRefusal,
    },
    /// The target's firmware fields refuse this device for a reason other
    /// than those below: it needs a newer bootloader, it sets a
    /// `min_bootloader_version` and no bootloader version was given, or that
    /// field is not a semantic version.
    #[error("{}: target {target:?} refused: {source}", path.display())]
    FirmwareRefused {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
        /// The core's reason.
        #[source]
        source: TargetRefusal,
    },
    /// A hardware ID or installed counter was given, but the target carries
    /// no firmware fields (`custom.fwsign`) to check them against.
    #[error("{}: target {target:?} has no firmware fields to check", path.display())]
    NotFirmware {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
    },
    /// The firmware is not for this device's hardware.
    #[error(
        "{}: target {target:?} is not for hardware {hardware_id:?} (it lists {allowed:?})",
        path.display()
    )]
    HardwareMismatch {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
        /// The device's hardware ID.
        hardware_id: String,
        /// The hardware IDs the target lists.
        allowed: Vec<String>,
    },
    /// The firmware's security counter is below the device's installed one:
    /// installing it would roll back a security fix.
    #[error(
        "{}: target {target:?} has security counter {security_counter}, below the installed {installed} (rollback)",
        path.display()
    )]
    CounterRollback {
        /// The bundle file.
        path: PathBuf,
        /// The target name.
        target: String,
        /// The target's counter.
        security_counter: u64,
        /// The device's installed counter.
        installed: u64,
    },
    /// [`create_bundle`]: the repository has published nothing yet.
    #[error("{}: {} has no published release", path.display(), dir.display())]
    NotPublished {
        /// The bundle file to be written.
        path: PathBuf,
        /// The repository.
        dir: PathBuf,
    },
    /// [`create_bundle`]: the published release does not list the target.
    #[error("{}: the published release of {} does not list target {target:?}", path.display(), dir.display())]
    UnknownTarget {
        /// The bundle file to be written.
        path: PathBuf,
        /// The repository.
        dir: PathBuf,
        /// The target name asked for.
        target: String,
    },
    /// [`create_bundle`]: the repository refused an operation (an invalid
    /// target name, unreadable metadata).
    #[error("{}: {source}", path.display())]
    Repository {
        /// The bundle file to be written.
        path: PathBuf,
        /// The repository's error (boxed: it is large, and rare here).
        #[source]
        source: Box<RepoError>,
    },
    /// A file other than the bundle could not be read or written: repository
    /// files when creating, the extracted image when verifying.
    #[error("{}: {}: {source}", path.display(), file.display())]
    Io {
        /// The bundle file.
        path: PathBuf,
        /// The file that failed.
        file: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl BundleError {
    /// How a caller should treat this error: [`ErrorClass::Security`] for
    /// refusals (tampering, hostile archives, untrusted or expired metadata,
    /// rollback, a target missing from trusted metadata, the wrong
    /// hardware), [`ErrorClass::Usage`] for inputs that are not what they
    /// should be (not a bundle, a truncated copy, an unusable trusted root,
    /// a missing entry, an unknown target to package), [`ErrorClass::Io`]
    /// for the file system.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Archive(e) => match e {
                ArchiveError::Io { .. }
                | ArchiveError::Write { .. }
                | ArchiveError::ReadSource { .. }
                | ArchiveError::Output { .. } => ErrorClass::Io,
                // An interrupted copy, or a file that was never a bundle.
                ArchiveError::NotAZip { .. } | ArchiveError::Truncated { .. } => ErrorClass::Usage,
                // Everything else is a structure fwsign never writes, or
                // contents that fail their CRC: treat as hostile.
                _ => ErrorClass::Security,
            },
            Self::NotABundle { .. }
            | Self::UnsupportedFormat { .. }
            | Self::MissingEntry { .. }
            | Self::TrustedRoot { .. }
            | Self::NotPublished { .. }
            | Self::UnknownTarget { .. } => ErrorClass::Usage,
            Self::Refused { .. }
            | Self::TargetNotFound { .. }
            | Self::OutsideDelegation { .. }
            | Self::DelegationLimit { .. }
            | Self::ImageMismatch { .. }
            | Self::FirmwareRefused { .. }
            | Self::NotFirmware { .. }
            | Self::HardwareMismatch { .. }
            | Self::CounterRollback { .. } => ErrorClass::Security,
            Self::Repository { source, .. } => source.class(),
            Self::Io { .. } => ErrorClass::Io,
        }
    }
}

/// Something [`verify_bundle`] accepted but the caller should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleWarning {
    /// The timestamp or snapshot had expired at the time checked. Accepted
    /// without [`VerifyOptions::require_fresh`]: it says the bundle is not
    /// the newest release, not that its content is untrusted.
    Expired {
        /// `timestamp` or `snapshot`.
        role: String,
        /// When it expired.
        expires: UnixTime,
    },
}

impl fmt::Display for BundleWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expired { role, expires } => {
                let when = expires
                    .to_expires()
                    .unwrap_or_else(|| format!("{} (Unix time)", expires.0));
                write!(
                    f,
                    "{role} expired at {when}; a newer release may exist (accepted without --require-fresh)"
                )
            }
        }
    }
}

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
}

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
}

/// `fwsign-bundle.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format_version: u64,
    target: String,
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
    entries.extend(fetched);
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
    let served_by = entry
        .sha256
        .or_else(|| entry.hashes.members().next().and_then(|(_, h)| h.as_str()))
        .and_then(json_string)
        .ok_or_else(|| BundleError::ImageMismatch {
            path: bundle.clone(),
            target: target.to_owned(),
            source: TargetRefusal::Sha256Missing,
        })?;
    let image =
        consistent_target_path(&repo.targets_dir(), target, &served_by).map_err(|source| {
            BundleError::Repository {
                path: bundle.clone(),
                source: Box::new(source),
            }
        })?;
    // Hashing the published file first costs a second read of the image,
    // but a bundle with a damaged image would only be refused on the device.
    let mut digests = Digests::new(entry.hashes, None);
    let mut input = File::open(&image).map_err(io_error(&image))?;
    copy(&mut input, &mut digests).map_err(io_error(&image))?;
    let sha256 = digests
        .check(&entry)
        .map_err(|source| BundleError::ImageMismatch {
            path: bundle.clone(),
            target: target.to_owned(),
            source,
        })?;

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
    })
}

/// Checks the bundle at `path` as a device would, trusting only
/// `trusted_root` (root metadata JSON), and with
/// [`VerifyOptions::extract_to`] writes out the image once every check has
/// passed.
///
/// The steps, each of which refuses the bundle:
/// 1. the zip container is opened with [`ArchiveLimits::default`] and must
///    carry `fwsign-bundle.json` of format [`FORMAT_VERSION`];
/// 2. starting from the trusted root, `metadata/N.root.json` for N = trusted
///    version + 1, + 2, ... is applied in order while present (each signed
///    by the old and the new root thresholds); versions at or below the
///    trusted one are ignored; the final root must not have expired;
/// 3. `metadata/timestamp.json` and the snapshot it names are checked
///    (expiry only with [`VerifyOptions::require_fresh`]; otherwise an
///    expired one becomes a [`BundleWarning`]);
/// 4. the target is searched for by the core's search, as the TUF client
///    and the bootloader search ([`crate::search::search_target`]):
///    `targets` first, then depth-first through delegated roles in order,
///    entering only delegations whose paths cover the name, the first role
///    listing it answering, stopping at a terminating one, each role once,
///    loading at most [`MAX_DELEGATIONS`] delegated roles; every role loaded
///    must be listed by the snapshot, signed by the threshold of the
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
///    any refusal nothing is left behind.
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
    if options.require_fresh {
        set.update_timestamp(&raw)
    } else {
        set.update_timestamp_ignoring_expiry(&raw)
    }
    .map_err(|source| refused(&bundle, "timestamp", source))?;
    let (timestamp_version, timestamp_expires) = set
        .timestamp()
        .map(|t| (t.version, t.expires))
        .ok_or_else(|| out_of_order(&bundle, "timestamp"))?;
    if timestamp_expires <= options.now {
        warnings.push(BundleWarning::Expired {
            role: "timestamp".to_owned(),
            expires: timestamp_expires,
        });
    }

    let snapshot_version = timestamp_snapshot_version(&set, &bundle)?;
    let name = format!("metadata/{snapshot_version}.snapshot.json");
    let raw = read_entry(&mut archive, &bundle, &name, SNAPSHOT_MAX)?;
    if options.require_fresh {
        set.update_snapshot(&raw)
    } else {
        set.update_snapshot_ignoring_expiry(&raw)
    }
    .map_err(|source| refused(&bundle, "snapshot", source))?;
    let snapshot_expires = set
        .snapshot()
        .map(|s| s.expires)
        .ok_or_else(|| out_of_order(&bundle, "snapshot"))?;
    if snapshot_expires <= options.now {
        warnings.push(BundleWarning::Expired {
            role: "snapshot".to_owned(),
            expires: snapshot_expires,
        });
    }

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
    let mut digests = Digests::new(entry.hashes, extraction.as_mut().map(|e| &mut e.file));
    // A failed stream may have written part of the image: the temporary
    // file is removed when `extraction` drops.
    archive.stream(&image_name, entry.length, &mut digests)?;
    let sha256 = digests.check(&entry).map_err(mismatch)?;

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

    Ok(VerifiedBundle {
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

fn refused(path: &Path, role: &str, source: TrustError) -> BundleError {
    BundleError::Refused {
        path: path.to_path_buf(),
        role: role.to_owned(),
        source,
    }
}

/// A workflow refusal of `role` for a reason found outside [`TrustedSet`].
fn refused_because(path: &Path, role: &str, source: WorkflowError) -> BundleError {
    refused(
        path,
        role,
        TrustError::Refused {
            role: role.to_owned(),
            source,
        },
    )
}

/// A step's result missing right after the step succeeded; cannot happen
/// with a working [`TrustedSet`], reported rather than panicking.
fn out_of_order(path: &Path, role: &'static str) -> BundleError {
    refused(
        path,
        role,
        TrustError::OutOfOrder {
            role: role.to_owned(),
            needs: role,
        },
    )
}

/// The unescaped text of a JSON string, if it is UTF-8.
fn json_string(s: JsonStr<'_>) -> Option<String> {
    String::from_utf8(s.bytes().collect()).ok()
}

fn timestamp_snapshot_version(set: &TrustedSet, path: &Path) -> Result<u64, BundleError> {
    set.timestamp()
        .map(|t| t.snapshot.version)
        .ok_or_else(|| out_of_order(path, "timestamp"))
}

fn manifest_bytes(target: &str) -> Vec<u8> {
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        target: target.to_owned(),
    };
    let mut bytes =
        serde_json::to_vec_pretty(&manifest).expect("a struct of a number and a string serializes");
    bytes.push(b'\n');
    bytes
}

/// Reads `fwsign-bundle.json` and returns the target name.
fn read_manifest(archive: &mut BundleArchive, path: &Path) -> Result<String, BundleError> {
    let not_a_bundle = |reason: String| BundleError::NotABundle {
        path: path.to_path_buf(),
        reason,
    };
    if archive.declared_size(MANIFEST_NAME).is_none() {
        return Err(not_a_bundle(format!("no {MANIFEST_NAME}")));
    }
    let raw = archive.read(MANIFEST_NAME, MANIFEST_MAX)?;
    let value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| not_a_bundle(format!("{MANIFEST_NAME}: {e}")))?;
    // The version is read on its own first: a newer format may change every
    // other field, and deserves "unsupported", not "malformed".
    let format_version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            not_a_bundle(format!(
                "{MANIFEST_NAME}: format_version must be a non-negative integer"
            ))
        })?;
    if format_version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedFormat {
            path: path.to_path_buf(),
            found: format_version,
        });
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| not_a_bundle(format!("{MANIFEST_NAME}: {e}")))?;
    // The name becomes a path under --extract-to; fwsign repositories only
    // publish names that pass this check.
    check_target_name(&manifest.target)
        .map_err(|e| not_a_bundle(format!("{MANIFEST_NAME}: {e}")))?;
    Ok(manifest.target)
}

/// Reads a metadata entry, telling a missing entry apart from a refused one.
fn read_entry(
    archive: &mut BundleArchive,
    path: &Path,
    name: &str,
    cap: u64,
) -> Result<Vec<u8>, BundleError> {
    if archive.declared_size(name).is_none() {
        return Err(BundleError::MissingEntry {
            path: path.to_path_buf(),
            entry: name.to_owned(),
        });
    }
    Ok(archive.read(name, cap)?)
}

/// Reads targets role `role` at `version`: from the bundle when verifying,
/// from the repository when creating.
type Fetch<'a> = dyn FnMut(&str, u64) -> Result<Vec<u8>, BundleError> + 'a;

/// Where the search found the target.
struct Hit<'a> {
    entry: TargetEntry<'a>,
    role: String,
    roles_searched: Vec<String>,
}

/// The bundle's [`RoleLoader`]: each role at the version the trusted
/// snapshot lists, read through `fetch`. The search checks it.
struct BundleLoader<'f, 'g, 'a> {
    arena: &'a Arena,
    snapshot: SnapshotView<'a>,
    fetch: &'f mut Fetch<'g>,
    path: &'f Path,
    memory: Memory,
}

impl<'a> RoleLoader<'a> for BundleLoader<'_, '_, 'a> {
    type Error = BundleError;

    fn load(
        &mut self,
        role: &'a [u8],
        _delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, BundleError> {
        let name = role_name(role);
        let listed = self
            .snapshot
            .targets_role(role)
            .map_err(|source| refused_because(self.path, "snapshot", source))?;
        // Not listed: the search refuses the role as missing.
        let Some(listed) = listed else {
            return Ok(None);
        };
        let raw = (self.fetch)(&name, listed.version)?;
        self.arena.role(&raw).map(Some).map_err(|source| {
            refused(
                self.path,
                &name,
                TrustError::Document {
                    role: name.clone(),
                    source,
                },
            )
        })
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.memory.work(keyids)
    }
}

/// Searches for `target` with the core's search over the trusted snapshot
/// (`now`: expiry of the roles loaded, `None` when creating). `Ok(None)`:
/// no searched role lists it.
fn search_bundle<'a>(
    set: &'a TrustedSet,
    arena: &'a Arena,
    path: &Path,
    target: &str,
    now: Option<UnixTime>,
    fetch: &mut Fetch<'_>,
) -> Result<Option<Hit<'a>>, BundleError> {
    let snapshot = set
        .snapshot()
        .ok_or_else(|| out_of_order(path, "snapshot"))?;
    let root = set.root();
    let mut loader = BundleLoader {
        arena,
        snapshot,
        fetch,
        path,
        memory: Memory::default(),
    };
    let check = SnapshotCheck { snapshot, now };
    let outcome = search_host::run(&root, &check, target, &mut loader, BUILTIN).map_err(|e| {
        match e {
            SearchError::Load(e) => e,
            SearchError::Missing { role, .. } => {
                refused_because(path, &role_name(role), WorkflowError::NotListed)
            }
            SearchError::Refused { role, error } => refused_because(path, &role_name(role), error),
            // DelegationLimit, CapacityExceeded, and any reason added later.
            _ => BundleError::DelegationLimit {
                path: path.to_path_buf(),
                target: target.to_owned(),
            },
        }
    })?;
    let roles_searched = outcome.visits.iter().map(|v| role_name(v.role)).collect();
    match outcome.found {
        Some(found) => Ok(Some(Hit {
            entry: found.entry,
            role: role_name(found.role),
            roles_searched,
        })),
        None => {
            diagnose_miss(&outcome, &mut loader, now, target)?;
            Ok(None)
        }
    }
}

/// After a miss: if a role the search did not enter (its delegation does not
/// cover the name) lists the target anyway, says so, since it is a role
/// signing beyond its delegation rather than a typo. Only a diagnosis: the
/// search has already decided the target is not found, and this only picks
/// the message. A role is named only once the core verified it against its
/// delegator; one that cannot be loaded or verified is passed over.
fn diagnose_miss<'a>(
    outcome: &search_host::Outcome<'a>,
    loader: &mut BundleLoader<'_, '_, 'a>,
    now: Option<UnixTime>,
    target: &str,
) -> Result<(), BundleError> {
    let mut loads: usize = 0;
    for visit in &outcome.visits {
        let Some(parent) = visit.view else { continue };
        for delegation in parent.delegated_roles() {
            let Some(name) = delegation.name().and_then(|n| n.plain_bytes()) else {
                continue;
            };
            if delegation.covers(target) || outcome.visits.iter().any(|v| v.role == name) {
                continue;
            }
            if loads >= MAX_DELEGATIONS {
                return Ok(());
            }
            loads = loads.saturating_add(1);
            let Ok(Some(bytes)) = loader.load(name, visit.role) else {
                continue;
            };
            let Ok(envelope) = Envelope::parse(bytes.canonical) else {
                continue;
            };
            let keyids = parent
                .delegated_role(name)
                .and_then(|d| d.keys().ok())
                .map_or(0, |k| k.keyid_count());
            let verified = verify_targets(
                Delegator::Targets(&parent),
                name,
                &loader.snapshot,
                bytes.raw,
                envelope,
                now,
                BUILTIN,
                &mut loader.memory.work(keyids),
            );
            if let Ok((view, _)) = verified
                && matches!(view.target(target), Ok(Some(_)))
            {
                return Err(BundleError::OutsideDelegation {
                    path: loader.path.to_path_buf(),
                    target: target.to_owned(),
                    role: role_name(name),
                    delegator: role_name(visit.role),
                });
            }
        }
    }
    Ok(())
}

/// Hashes what is written (through the core's [`crate::workflow::Digests`],
/// the one hash-check rule), optionally copying it to a file first.
struct Digests<'f> {
    digests: crate::workflow::Digests,
    copy: Option<&'f mut File>,
}

impl<'f> Digests<'f> {
    fn new(hashes: Json<'_>, copy: Option<&'f mut File>) -> Self {
        Self {
            digests: crate::workflow::Digests::for_hashes(hashes),
            copy,
        }
    }

    /// Checks the length and every listed hash (the core's
    /// [`target_check::check_image_digests`]; the core refuses an entry
    /// that lists no hash when it reads it), and returns the SHA-256 in hex.
    fn check(self, entry: &TargetEntry<'_>) -> Result<String, TargetRefusal> {
        let finished = self.digests.finish();
        target_check::check_image_digests(entry, &finished)?;
        Ok(base16ct::lower::encode_string(&finished.sha256))
    }
}

impl Write for Digests<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The copy goes first so what is hashed is exactly what was written.
        let n = match self.copy.as_mut() {
            Some(file) => file.write(buf)?,
            None => buf.len(),
        };
        self.digests.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.copy.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

fn copy(input: &mut File, out: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0; COPY_BUFFER];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => out.write_all(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// An image being extracted: a temporary file in the extraction directory,
/// removed on drop unless [`Extraction::finish`] moved it into place.
struct Extraction {
    dir: PathBuf,
    temp: PathBuf,
    file: File,
    done: bool,
}

impl Extraction {
    fn start(dir: &Path) -> Result<Self, (PathBuf, io::Error)> {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let temp = dir.join(format!(
            ".fwsign-extract-{}-{unique}.tmp",
            std::process::id()
        ));
        let mut options = OpenOptions::new();
        // create_new: never follows a planted symlink, never reuses a file.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o644);
        }
        let file = options.open(&temp).map_err(|e| (temp.clone(), e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            temp,
            file,
            done: false,
        })
    }

    /// Moves the verified image to `dir/<target>`, creating the directories
    /// of a nested name without following symlinks.
    fn finish(mut self, target: &str) -> Result<PathBuf, (PathBuf, io::Error)> {
        self.file.sync_all().map_err(|e| (self.temp.clone(), e))?;
        let mut dest = self.dir.clone();
        let segments: Vec<&str> = target.split('/').collect();
        let (base, parents) = segments
            .split_last()
            .ok_or_else(|| (dest.clone(), io::Error::other("empty target name")))?;
        for segment in parents {
            dest.push(segment);
            match fs::symlink_metadata(&dest) {
                Ok(meta) if meta.is_dir() && !meta.file_type().is_symlink() => {}
                Ok(_) => {
                    return Err((
                        dest,
                        io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "exists and is not a directory (symbolic links are not followed)",
                        ),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&dest).map_err(|e| (dest.clone(), e))?;
                }
                Err(e) => return Err((dest, e)),
            }
        }
        let parent = dest.clone();
        dest.push(base);
        if fs::symlink_metadata(&dest).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err((
                dest,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "is a symbolic link; fwsign does not write through links",
                ),
            ));
        }
        fs::rename(&self.temp, &dest).map_err(|e| (dest.clone(), e))?;
        self.done = true;
        sync_dir(&parent).map_err(|e| (parent.clone(), e))?;
        if parent != self.dir {
            sync_dir(&self.dir).map_err(|e| (self.dir.clone(), e))?;
        }
        Ok(dest)
    }
}

impl Drop for Extraction {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: the file holds unverified bytes and is useless.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::keys::{Algorithm, PrivateKey};
    use crate::repo::staging::{AddOptions, DelegateOptions, NewTarget, RotateOptions};
    use crate::repo::{ExpiryPolicy, InitOptions};
    use crate::verify::VerifyError;

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    /// 2023-11-14T22:13:20Z: every repository here is published then.
    const PUBLISHED: UnixTime = UnixTime(1_700_000_000);
    const TARGET: &str = "board-a/fw-1.0.0.bin";
    const HARDWARE: &str = "evc-a1";
    const COUNTER: u64 = 3;

    fn scratch(name: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fwsign-bundle-rs-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn image() -> Vec<u8> {
        (0..300_000u32).map(|i| (i % 251) as u8).collect()
    }

    struct Fixture {
        dir: PathBuf,
        repo: Repository,
        root: PrivateKey,
        targets: PrivateKey,
        snapshot: PrivateKey,
        timestamp: PrivateKey,
    }

    impl Fixture {
        /// A repository with `TARGET` published at `PUBLISHED`.
        fn new(name: &str) -> Self {
            let dir = scratch(name);
            let key = || PrivateKey::generate(Algorithm::Ed25519).unwrap();
            let (root, targets, snapshot, timestamp) = (key(), key(), key(), key());
            let options = InitOptions {
                root_keys: vec![root.public_key().clone()],
                root_threshold: 1,
                targets_keys: vec![targets.public_key().clone()],
                targets_threshold: 1,
                snapshot_key: snapshot.public_key().clone(),
                timestamp_key: timestamp.public_key().clone(),
                expiry: ExpiryPolicy::default(),
                allow_shared_key: false,
            };
            let repo = Repository::init(dir.join("repo"), &options, PUBLISHED).unwrap();
            let fixture = Self {
                dir,
                repo,
                root,
                targets,
                snapshot,
                timestamp,
            };
            fixture.add("targets", TARGET, &image());
            fixture.repo.sign("root", &fixture.root, PUBLISHED).unwrap();
            fixture
                .repo
                .sign("targets", &fixture.targets, PUBLISHED)
                .unwrap();
            fixture.publish(PUBLISHED);
            fixture
        }

        fn add(&self, role: &str, name: &str, contents: &[u8]) {
            let file = self.dir.join("image.bin");
            fs::write(&file, contents).unwrap();
            let options = AddOptions {
                role: role.to_owned(),
                targets: vec![NewTarget {
                    file,
                    name: name.to_owned(),
                }],
                hardware_ids: vec![HARDWARE.to_owned(), "evc-a2".to_owned()],
                version: "1.0.0".to_owned(),
                security_counter: COUNTER,
                min_bootloader_version: None,
                sbom_sha256: None,
                sha512: true,
                custom: vec![],
            };
            self.repo.add(&options, PUBLISHED, &mut |_| {}).unwrap();
        }

        fn publish(&self, now: UnixTime) {
            self.repo
                .publish(&self.snapshot, &self.timestamp, now, &mut |_| {})
                .unwrap();
        }

        fn root_bytes(&self, version: u64) -> Vec<u8> {
            fs::read(
                self.repo
                    .metadata_dir()
                    .join(format!("{version}.root.json")),
            )
            .unwrap()
        }

        fn bundle(&self, name: &str) -> PathBuf {
            let out = self.dir.join(name);
            create_bundle(&self.repo, TARGET, &out).unwrap();
            out
        }
    }

    /// Checks `hours` after publishing.
    fn at(hours: i64) -> VerifyOptions {
        VerifyOptions::at(UnixTime(PUBLISHED.0 + hours * HOUR))
    }

    /// A device's checks, `hours` after publishing.
    /// The role and the workflow step's reason of a refusal by the TUF
    /// checks, for matching in assertions.
    fn refusal(err: &BundleError) -> Option<(&str, &WorkflowError)> {
        match err {
            BundleError::Refused {
                role,
                source: TrustError::Refused { source, .. },
                ..
            } => Some((role.as_str(), source)),
            _ => None,
        }
    }

    fn device(hours: i64) -> VerifyOptions {
        VerifyOptions {
            hardware_id: Some(HARDWARE.to_owned()),
            installed_counter: Some(COUNTER),
            ..at(hours)
        }
    }

    /// Copies bundle `src` to `dst`, passing every entry through `edit`
    /// (`None` drops it), the way an attacker with a zip tool would.
    fn rewrite(src: &Path, dst: &Path, mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>) {
        let mut archive = BundleArchive::open(src, ArchiveLimits::default()).unwrap();
        let mut entries = Vec::new();
        for name in archive.names() {
            let contents = archive.read(&name, 1 << 30).unwrap();
            if let Some(contents) = edit(&name, contents) {
                entries.push((name, contents));
            }
        }
        let sources: Vec<(String, EntrySource<'_>)> = entries
            .iter()
            .map(|(name, contents)| (name.clone(), EntrySource::Bytes(contents)))
            .collect();
        write_bundle(dst, &sources).unwrap();
    }

    fn is_empty_dir(dir: &Path) -> bool {
        fs::read_dir(dir).unwrap().next().is_none()
    }

    #[test]
    fn created_bundle_verifies_and_extracts() {
        let f = Fixture::new("round-trip");
        let out = f.dir.join("update.zip");
        let summary = create_bundle(&f.repo, TARGET, &out).unwrap();
        assert_eq!(summary.target, TARGET);
        assert_eq!(summary.role, "targets");
        assert_eq!(summary.root_version, 1);
        assert_eq!(summary.length, image().len() as u64);
        assert_eq!(summary.size, fs::metadata(&out).unwrap().len());
        assert_eq!(
            summary.entries,
            [
                MANIFEST_NAME,
                "metadata/1.root.json",
                "metadata/timestamp.json",
                "metadata/1.snapshot.json",
                "metadata/1.targets.json",
                "targets/board-a/fw-1.0.0.bin",
            ]
        );

        let extract = scratch("round-trip-extract");
        let options = VerifyOptions {
            extract_to: Some(extract.clone()),
            ..device(1)
        };
        let verified = verify_bundle(&out, &f.root_bytes(1), &options).unwrap();
        assert_eq!(verified.target, TARGET);
        assert_eq!(verified.sha256, summary.sha256);
        assert_eq!(
            verified.sha256,
            base16ct::lower::encode_string(&<sha2::Sha256 as sha2::Digest>::digest(image()))
        );
        assert_eq!(verified.length, image().len() as u64);
        assert_eq!(verified.firmware_version.as_deref(), Some("1.0.0"));
        assert_eq!(verified.security_counter, Some(COUNTER));
        assert_eq!(verified.hardware_ids, [HARDWARE, "evc-a2"]);
        assert_eq!(verified.role, "targets");
        assert_eq!(verified.roles_searched, ["targets"]);
        assert_eq!(verified.root_version, 1);
        assert!(verified.warnings.is_empty(), "{:?}", verified.warnings);
        let extracted = extract.join("board-a").join("fw-1.0.0.bin");
        assert_eq!(verified.extracted_to.as_deref(), Some(extracted.as_path()));
        assert_eq!(fs::read(&extracted).unwrap(), image());
        // Only the image: no temporary file left beside it.
        assert_eq!(fs::read_dir(&extract).unwrap().count(), 1);
    }

    #[test]
    fn reproducible_output() {
        let f = Fixture::new("reproducible");
        let first = f.bundle("first.zip");
        let second = f.bundle("second.zip");
        assert_eq!(fs::read(first).unwrap(), fs::read(second).unwrap());
    }

    #[test]
    fn tampered_image_refused_and_nothing_extracted() {
        let f = Fixture::new("tampered");
        let genuine = f.bundle("update.zip");
        let tampered = f.dir.join("tampered.zip");
        rewrite(&genuine, &tampered, |name, mut contents| {
            if name.starts_with("targets/") {
                contents[1000] ^= 0x01;
            }
            Some(contents)
        });
        let extract = scratch("tampered-extract");
        let options = VerifyOptions {
            extract_to: Some(extract.clone()),
            ..device(1)
        };
        let err = verify_bundle(&tampered, &f.root_bytes(1), &options).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::ImageMismatch {
                    source: TargetRefusal::HashMismatch,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Security);
        assert!(is_empty_dir(&extract));
    }

    #[test]
    fn truncated_image_refused_by_length() {
        let f = Fixture::new("truncated-image");
        let genuine = f.bundle("update.zip");
        let shorter = f.dir.join("shorter.zip");
        rewrite(&genuine, &shorter, |name, mut contents| {
            if name.starts_with("targets/") {
                contents.pop();
            }
            Some(contents)
        });
        let err = verify_bundle(&shorter, &f.root_bytes(1), &at(1)).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::ImageMismatch {
                    source: TargetRefusal::LengthMismatch,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn wrong_hardware_id_refused_and_nothing_extracted() {
        let f = Fixture::new("hardware");
        let out = f.bundle("update.zip");
        let extract = scratch("hardware-extract");
        let options = VerifyOptions {
            hardware_id: Some("other-board".to_owned()),
            extract_to: Some(extract.clone()),
            ..at(1)
        };
        let err = verify_bundle(&out, &f.root_bytes(1), &options).unwrap_err();
        match &err {
            BundleError::HardwareMismatch {
                hardware_id,
                allowed,
                ..
            } => {
                assert_eq!(hardware_id, "other-board");
                assert_eq!(allowed, &[HARDWARE, "evc-a2"]);
            }
            other => panic!("{other}"),
        }
        assert_eq!(err.class(), ErrorClass::Security);
        assert!(is_empty_dir(&extract));
    }

    #[test]
    fn security_counter_rollback_refused() {
        let f = Fixture::new("rollback");
        let out = f.bundle("update.zip");
        let options = VerifyOptions {
            installed_counter: Some(COUNTER + 1),
            ..at(1)
        };
        let err = verify_bundle(&out, &f.root_bytes(1), &options).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::CounterRollback {
                    security_counter: COUNTER,
                    installed: 4,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Security);
        // Reinstalling the same counter is not a rollback.
        verify_bundle(&out, &f.root_bytes(1), &device(1)).unwrap();
    }

    #[test]
    fn expired_timestamp_warned_but_accepted_unless_require_fresh() {
        let f = Fixture::new("stale");
        let out = f.bundle("update.zip");
        // Two days on: the one-day timestamp has expired, the one-week
        // snapshot and the 90-day targets have not.
        let verified = verify_bundle(&out, &f.root_bytes(1), &device(48)).unwrap();
        assert_eq!(verified.warnings.len(), 1, "{:?}", verified.warnings);
        assert!(matches!(
            &verified.warnings[0],
            BundleWarning::Expired { role, expires } if role == "timestamp" && expires.0 == PUBLISHED.0 + DAY
        ));

        let fresh = VerifyOptions {
            require_fresh: true,
            ..device(48)
        };
        let err = verify_bundle(&out, &f.root_bytes(1), &fresh).unwrap_err();
        assert!(
            matches!(refusal(&err), Some(("timestamp", WorkflowError::Expired))),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Security);

        // Eight days on, the snapshot too.
        let verified = verify_bundle(&out, &f.root_bytes(1), &device(8 * 24)).unwrap();
        let roles: Vec<_> = verified
            .warnings
            .iter()
            .map(|BundleWarning::Expired { role, .. }| role.as_str())
            .collect();
        assert_eq!(roles, ["timestamp", "snapshot"]);
    }

    #[test]
    fn expired_targets_refused() {
        let f = Fixture::new("expired-targets");
        let out = f.bundle("update.zip");
        let err = verify_bundle(&out, &f.root_bytes(1), &device(100 * 24)).unwrap_err();
        assert!(
            matches!(refusal(&err), Some(("targets", WorkflowError::Expired))),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Security);
    }

    #[test]
    fn expired_root_refused() {
        let f = Fixture::new("expired-root");
        let out = f.bundle("update.zip");
        let err = verify_bundle(&out, &f.root_bytes(1), &device(400 * 24)).unwrap_err();
        assert!(
            matches!(&err, BundleError::Refused { role, .. } if role == "root"),
            "{err}"
        );
    }

    #[test]
    fn bundle_signed_under_an_untrusted_root_refused() {
        let f = Fixture::new("untrusted");
        let other = Fixture::new("untrusted-other");
        let out = f.bundle("update.zip");
        let err = verify_bundle(&out, &other.root_bytes(1), &device(1)).unwrap_err();
        assert!(
            matches!(
                refusal(&err),
                Some((
                    "timestamp",
                    WorkflowError::Verify(VerifyError::ThresholdNotMet { .. })
                ))
            ),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Security);

        // Nor can the other repository's root be slipped in as version 2.
        let forged = f.dir.join("forged.zip");
        let other_root = other.root_bytes(1);
        rewrite(&out, &forged, |_, contents| Some(contents));
        let mut archive = BundleArchive::open(&forged, ArchiveLimits::default()).unwrap();
        let mut entries: Vec<(String, Vec<u8>)> = archive
            .names()
            .into_iter()
            .map(|name| {
                let contents = archive.read(&name, 1 << 30).unwrap();
                (name, contents)
            })
            .collect();
        entries.insert(2, ("metadata/2.root.json".to_owned(), other_root));
        let sources: Vec<(String, EntrySource<'_>)> = entries
            .iter()
            .map(|(n, c)| (n.clone(), EntrySource::Bytes(c)))
            .collect();
        write_bundle(&forged, &sources).unwrap();
        let err = verify_bundle(&forged, &f.root_bytes(1), &device(1)).unwrap_err();
        assert!(
            matches!(&err, BundleError::Refused { role, .. } if role == "root"),
            "{err}"
        );
    }

    #[test]
    fn root_chain_followed_from_the_trusted_version() {
        let f = Fixture::new("rotation");
        let options = RotateOptions {
            expires: Some(400 * DAY),
            ..RotateOptions::default()
        };
        f.repo.rotate_root(&options, PUBLISHED).unwrap();
        f.repo.sign("root", &f.root, PUBLISHED).unwrap();
        f.publish(PUBLISHED);
        let out = f.bundle("update.zip");
        let summary = create_bundle(&f.repo, TARGET, &out).unwrap();
        assert_eq!(summary.root_version, 2);
        assert!(summary.entries.contains(&"metadata/2.root.json".to_owned()));

        let from_v1 = verify_bundle(&out, &f.root_bytes(1), &device(1)).unwrap();
        assert_eq!(from_v1.root_version, 2);
        // A device already on version 2 skips version 1.
        let from_v2 = verify_bundle(&out, &f.root_bytes(2), &device(1)).unwrap();
        assert_eq!(from_v2.root_version, 2);

        // Without version 2 the chain ends at 1; the online keys did not
        // change, so the rest still verifies under version 1.
        let stripped = f.dir.join("stripped.zip");
        rewrite(&out, &stripped, |name, contents| {
            (name != "metadata/2.root.json").then_some(contents)
        });
        let verified = verify_bundle(&stripped, &f.root_bytes(1), &device(1)).unwrap();
        assert_eq!(verified.root_version, 1);
    }

    #[test]
    fn delegated_target_found_through_its_delegation() {
        let f = Fixture::new("delegated");
        let board_key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let delegate = |role: &str, paths: &[&str], terminating| DelegateOptions {
            role: role.to_owned(),
            keys: vec![board_key.public_key().clone()],
            threshold: 1,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            terminating,
            allow_shared_key: false,
        };
        // Searched in order: `other` does not cover the name and is skipped,
        // `board-a` covers it but does not list it, `board-a-2` does.
        f.repo
            .delegate(&delegate("other", &["board-b/*"], false), PUBLISHED)
            .unwrap();
        f.repo
            .delegate(&delegate("board-a", &["board-a/*"], false), PUBLISHED)
            .unwrap();
        f.repo
            .delegate(&delegate("board-a-2", &["board-a/*"], false), PUBLISHED)
            .unwrap();
        let name = "board-a/fw-2.0.0.bin";
        f.add("board-a-2", name, b"second image");
        for role in ["other", "board-a", "board-a-2"] {
            f.repo.sign(role, &board_key, PUBLISHED).unwrap();
        }
        f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
        f.publish(PUBLISHED);

        let out = f.dir.join("update.zip");
        let summary = create_bundle(&f.repo, name, &out).unwrap();
        assert_eq!(summary.role, "board-a-2");
        assert!(
            summary
                .entries
                .contains(&"metadata/1.board-a.json".to_owned())
        );
        assert!(
            !summary
                .entries
                .contains(&"metadata/1.other.json".to_owned())
        );
        let verified = verify_bundle(&out, &f.root_bytes(1), &device(1)).unwrap();
        assert_eq!(verified.role, "board-a-2");
        assert_eq!(verified.roles_searched, ["targets", "board-a", "board-a-2"]);

        // A role the search needs is missing from the bundle.
        let partial = f.dir.join("partial.zip");
        rewrite(&out, &partial, |entry, contents| {
            (entry != "metadata/1.board-a.json").then_some(contents)
        });
        let err = verify_bundle(&partial, &f.root_bytes(1), &device(1)).unwrap_err();
        assert!(
            matches!(&err, BundleError::MissingEntry { entry, .. } if entry == "metadata/1.board-a.json"),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Usage);

        // A terminating `board-a` ends the search before `board-a-2`.
        f.repo
            .delegate(&delegate("board-a", &["board-a/*"], true), PUBLISHED)
            .unwrap();
        f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
        f.publish(PUBLISHED);
        let err = create_bundle(&f.repo, name, &f.dir.join("terminated.zip")).unwrap_err();
        assert!(matches!(err, BundleError::UnknownTarget { .. }), "{err}");
    }

    #[test]
    fn target_listed_outside_its_delegation_refused() {
        let f = Fixture::new("outside");
        let board_key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let delegate = |paths: &[&str]| DelegateOptions {
            role: "board-a".to_owned(),
            keys: vec![board_key.public_key().clone()],
            threshold: 1,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            terminating: false,
            allow_shared_key: false,
        };
        let name = "board-a/fw-2.0.0.bin";
        f.repo
            .delegate(&delegate(&["board-a/*"]), PUBLISHED)
            .unwrap();
        f.add("board-a", name, b"second image");
        f.repo.sign("board-a", &board_key, PUBLISHED).unwrap();
        f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
        f.publish(PUBLISHED);
        let out = f.dir.join("update.zip");
        create_bundle(&f.repo, name, &out).unwrap();

        // The delegation narrows; board-a still lists the old name. Staged
        // by hand: `delegate` refuses to strand a listed target
        // (repo/publishable.rs), but a repository written otherwise can
        // hold this state, and the bundle must refuse it.
        let mut narrowed = f.repo.current_targets("targets").unwrap().unwrap();
        narrowed.signatures.clear();
        narrowed.signed.version += 1;
        for role in &mut narrowed.signed.delegations.as_mut().unwrap().roles {
            role.paths = Some(vec!["board-b/*".to_owned()]);
        }
        f.repo.save_staged("targets", &narrowed).unwrap();
        f.repo.sign("targets", &f.targets, PUBLISHED).unwrap();
        f.publish(PUBLISHED);
        let err = create_bundle(&f.repo, name, &f.dir.join("outside.zip")).unwrap_err();
        assert!(
            matches!(
                &err,
                BundleError::OutsideDelegation { role, delegator, .. }
                    if role == "board-a" && delegator == "targets"
            ),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Security);
    }

    #[test]
    fn unknown_target_not_packaged() {
        let f = Fixture::new("unknown");
        let out = f.dir.join("update.zip");
        let err = create_bundle(&f.repo, "board-a/nope.bin", &out).unwrap_err();
        assert!(matches!(err, BundleError::UnknownTarget { .. }), "{err}");
        assert_eq!(err.class(), ErrorClass::Usage);
        let err = create_bundle(&f.repo, "../escape", &out).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Usage);
        assert!(!out.exists());
    }

    #[test]
    fn unpublished_repository_refused() {
        let dir = scratch("unpublished");
        let key = || PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let options = InitOptions {
            root_keys: vec![key().public_key().clone()],
            root_threshold: 1,
            targets_keys: vec![key().public_key().clone()],
            targets_threshold: 1,
            snapshot_key: key().public_key().clone(),
            timestamp_key: key().public_key().clone(),
            expiry: ExpiryPolicy::default(),
            allow_shared_key: false,
        };
        let repo = Repository::init(dir.join("repo"), &options, PUBLISHED).unwrap();
        let err = create_bundle(&repo, TARGET, &dir.join("update.zip")).unwrap_err();
        assert!(matches!(err, BundleError::NotPublished { .. }), "{err}");
    }

    #[test]
    fn target_name_swapped_in_manifest_refused() {
        // The manifest is unsigned: naming another target than the image
        // only makes the search look for that name.
        let f = Fixture::new("manifest-swap");
        let out = f.bundle("update.zip");
        let swapped = f.dir.join("swapped.zip");
        rewrite(&out, &swapped, |name, contents| {
            Some(if name == MANIFEST_NAME {
                manifest_bytes("board-a/other.bin")
            } else {
                contents
            })
        });
        let err = verify_bundle(&swapped, &f.root_bytes(1), &device(1)).unwrap_err();
        assert!(matches!(err, BundleError::TargetNotFound { .. }), "{err}");
        assert_eq!(err.class(), ErrorClass::Security);
    }

    #[test]
    fn not_a_bundle_or_other_format_refused() {
        let f = Fixture::new("format");
        let out = f.bundle("update.zip");

        let without = f.dir.join("without.zip");
        rewrite(&out, &without, |name, contents| {
            (name != MANIFEST_NAME).then_some(contents)
        });
        let err = verify_bundle(&without, &f.root_bytes(1), &device(1)).unwrap_err();
        assert!(matches!(err, BundleError::NotABundle { .. }), "{err}");
        assert_eq!(err.class(), ErrorClass::Usage);

        let newer = f.dir.join("newer.zip");
        rewrite(&out, &newer, |name, contents| {
            Some(if name == MANIFEST_NAME {
                br#"{"format_version": 2, "target": "x", "layout": "new"}"#.to_vec()
            } else {
                contents
            })
        });
        let err = verify_bundle(&newer, &f.root_bytes(1), &device(1)).unwrap_err();
        assert!(
            matches!(err, BundleError::UnsupportedFormat { found: 2, .. }),
            "{err}"
        );

        let no_snapshot = f.dir.join("no-snapshot.zip");
        rewrite(&out, &no_snapshot, |name, contents| {
            (!name.ends_with(".snapshot.json")).then_some(contents)
        });
        let err = verify_bundle(&no_snapshot, &f.root_bytes(1), &device(1)).unwrap_err();
        assert!(matches!(err, BundleError::MissingEntry { .. }), "{err}");

        let err = verify_bundle(&out, b"{\"not\": \"a root\"}", &device(1)).unwrap_err();
        assert!(matches!(err, BundleError::TrustedRoot { .. }), "{err}");
        assert_eq!(err.class(), ErrorClass::Usage);
    }

    #[test]
    fn tampered_metadata_refused() {
        let f = Fixture::new("tampered-metadata");
        let out = f.bundle("update.zip");
        let tampered = f.dir.join("tampered.zip");
        // Raise the counter in the targets role: the signature no longer
        // covers it, and the snapshot's hash no longer matches.
        rewrite(&out, &tampered, |name, contents| {
            Some(if name.ends_with(".targets.json") {
                String::from_utf8(contents)
                    .unwrap()
                    .replace("\"security_counter\":3", "\"security_counter\":9")
                    .into_bytes()
            } else {
                contents
            })
        });
        let err = verify_bundle(&tampered, &f.root_bytes(1), &device(1)).unwrap_err();
        assert!(
            matches!(&err, BundleError::Refused { role, .. } if role == "targets"),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Security);
    }

    #[test]
    fn missing_extract_directory_refused_and_not_created() {
        let f = Fixture::new("no-extract-dir");
        let out = f.bundle("update.zip");
        let missing = f.dir.join("missing-extract-dir");
        let options = VerifyOptions {
            extract_to: Some(missing),
            ..at(1)
        };
        let err = verify_bundle(&out, &f.root_bytes(1), &options).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Io);
        assert!(!f.dir.join("missing-extract-dir").exists());
    }
}
