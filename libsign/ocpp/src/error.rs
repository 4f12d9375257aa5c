//! Why a signature or request could not be made, or a request not read
//! ([`OcppError`]).
//!
//! Kept apart because signing, building and parsing requests all raise it,
//! and the CLI maps it to exit codes.

use std::io::{self};
use std::path::PathBuf;

use crate::cert::CertError;
use fwsign_keys::Algorithm;
use fwsign_keys::ErrorClass;

use super::message::OcppVersion;

/// Why a signature or request could not be made, or a request not read.
///
/// Each variant names the file or field concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OcppError {
    /// A file could not be read.
    #[error("{}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The firmware file is larger than
    /// [`MAX_FIRMWARE_BYTES`](super::MAX_FIRMWARE_BYTES).
    #[error("{}: {size} bytes is more than the {max} fwsign signs", file.display())]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The signing key is not P-256: OCPP firmware signatures are ECDSA
    /// P-256 with SHA-256.
    #[error("the signing key is an {0} key; OCPP firmware signatures need an ECDSA P-256 key")]
    NotP256(Algorithm),
    /// The signing key is not the signing certificate's key.
    #[error("{cert}: the signing key given is not this certificate's key")]
    KeyCertificateMismatch {
        /// The certificate.
        cert: String,
    },
    /// A certificate could not be read or used.
    #[error(transparent)]
    Certificate(#[from] CertError),
    /// The key refused to sign (an HSM error, usually).
    #[error("signing the firmware failed")]
    Signing(#[source] signature::Error),
    /// The signature the key made is not DER or does not verify with the
    /// certificate's key: a faulty signer. Nothing was written.
    #[error(
        "the signature the key made does not verify with the certificate's key; the signer is faulty"
    )]
    SignatureCheck,
    /// A field is longer than the OCPP schema allows.
    #[error("{field}: {chars} characters is more than the {max} OCPP allows")]
    FieldTooLong {
        /// The field, as OCPP names it (`firmware.location`, ...).
        field: &'static str,
        /// Its length in characters.
        chars: usize,
        /// The schema's maxLength.
        max: usize,
    },
    /// A date-time field is not RFC 3339.
    #[error("{field}: {value:?} is not an RFC 3339 date-time like 2026-12-01T02:00:00Z")]
    DateTime {
        /// The field.
        field: &'static str,
        /// The text given.
        value: String,
    },
    /// A field's value is not acceptable.
    #[error("{field}: {detail}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A field the version requires is missing.
    #[error("{field} is required in OCPP {version}")]
    MissingField {
        /// The field.
        field: &'static str,
        /// The version.
        version: OcppVersion,
    },
    /// `customData` exists in OCPP 2.0.1 only.
    #[error("customData exists in OCPP 2.0.1 only, not in {0}")]
    CustomDataNotAllowed(OcppVersion),
    /// A version other than `1.6` or `2.0.1`.
    #[error("unknown OCPP version {0:?}: expected \"2.0.1\" or \"1.6\"")]
    UnknownVersion(String),
    /// A request file is not an UpdateFirmware or SignedUpdateFirmware
    /// payload (or an OCPP-J CALL carrying one).
    #[error("{what}: not an OCPP firmware update request: {detail}")]
    NotARequest {
        /// The file.
        what: String,
        /// What is wrong.
        detail: String,
    },
}

impl OcppError {
    /// How a caller should treat this error: [`ErrorClass::Io`] for files
    /// and the signer (an HSM failure), [`ErrorClass::Usage`] otherwise.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Read { .. } | Self::Signing(_) | Self::SignatureCheck => ErrorClass::Io,
            Self::Certificate(e) => e.class(),
            _ => ErrorClass::Usage,
        }
    }
}
