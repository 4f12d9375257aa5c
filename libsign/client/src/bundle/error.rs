//! Why a bundle was refused or could not be made ([`BundleError`]), what
//! was accepted with a caveat ([`BundleWarning`]), and the constructors of
//! workflow refusals that creating and verifying share.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;

use crate::bundle_archive::ArchiveError;
use fwsign_core::target_check::TargetRefusal;
use fwsign_core::workflow::WorkflowError;
use fwsign_keys::ErrorClass;
use fwsign_keys::trusted_set::TrustError;
use fwsign_repo::RepoError;

use super::{FORMAT_VERSION, MAX_DELEGATIONS};

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
    /// The trusted root given to [`verify_bundle`](super::verify_bundle) is not root metadata
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
    /// [`create_bundle`](super::create_bundle): the repository has published nothing yet.
    #[error("{}: {} has no published release", path.display(), dir.display())]
    NotPublished {
        /// The bundle file to be written.
        path: PathBuf,
        /// The repository.
        dir: PathBuf,
    },
    /// [`create_bundle`](super::create_bundle): the published release does not list the target.
    #[error("{}: the published release of {} does not list target {target:?}", path.display(), dir.display())]
    UnknownTarget {
        /// The bundle file to be written.
        path: PathBuf,
        /// The repository.
        dir: PathBuf,
        /// The target name asked for.
        target: String,
    },
    /// [`create_bundle`](super::create_bundle): the repository refused an operation (an invalid
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

/// Something [`verify_bundle`](super::verify_bundle) accepted but the caller should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleWarning {
    /// The timestamp or snapshot had expired at the time checked. Accepted
    /// without
    /// [`VerifyOptions::require_fresh`](super::VerifyOptions::require_fresh):
    /// it says the bundle is not the newest release, not that its content is
    /// untrusted.
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

pub(super) fn refused(path: &Path, role: &str, source: TrustError) -> BundleError {
    BundleError::Refused {
        path: path.to_path_buf(),
        role: role.to_owned(),
        source,
    }
}

/// A workflow refusal of `role` for a reason found outside [`TrustedSet`].
pub(super) fn refused_because(path: &Path, role: &str, source: WorkflowError) -> BundleError {
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
pub(super) fn out_of_order(path: &Path, role: &'static str) -> BundleError {
    refused(
        path,
        role,
        TrustError::OutOfOrder {
            role: role.to_owned(),
            needs: role,
        },
    )
}
