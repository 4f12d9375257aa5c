//! OCPP secure firmware updates: the signature and request a CSMS sends,
//! and the checks the charger makes before it installs.
//!
//! An EV charger gets firmware from its CSMS (central system) with an OCPP
//! `UpdateFirmwareRequest` (OCPP 2.0.1) or `SignedUpdateFirmware.req` (OCPP
//! 1.6 security extension). Besides where to download and when, the request
//! carries a firmware-signing certificate (PEM) and a signature. The charger
//! checks the certificate against the manufacturer root it was built with,
//! downloads the file, checks the signature over it, and reports
//! `SignatureVerified` or `InvalidSignature` (or refuses the request with
//! `InvalidCertificate`), raising the matching security event.
//!
//! ## The signature
//!
//! [`sign_firmware`] makes what OCPP expects and what
//! `openssl dgst -sha256 -sign key.pem FILE | base64 -w0` produces: ECDSA
//! P-256 over SHA-256 of the whole file, DER `ECDSA-Sig-Value` (70 to 72
//! bytes), as one line of padded Base64. Never a raw `r || s`. Only P-256
//! keys sign; the key must be the signing certificate's, and the signature is
//! verified with the certificate's key before it is handed out.
//!
//! ## The request
//!
//! [`UpdateFirmwareRequest`] builds either version's payload and checks the
//! official schemas' limits first ([`MAX_LOCATION_CHARS`],
//! [`MAX_SIGNING_CERTIFICATE_CHARS`], [`MAX_SIGNATURE_CHARS`], RFC 3339
//! times, `customData` in 2.0.1 only), so nothing a charger would reject is
//! written.
//!
//! ## The charger's side
//!
//! [`verify_firmware`] is the check a charger's update agent runs, for agents
//! written in Rust: the certificate path to the manufacturer root
//! ([`crate::cert::verify_signing_chain`]), then the signature over the file
//! (streamed, not held in memory). A refusal says which
//! [`FirmwareStatus`] and [`SecurityEvent`] the charger reports.
//!
//! When the firmware ships as an fwsign update bundle (see
//! [`crate::bundle`]), the OCPP signature covers the bundle file, so one file
//! carries both layers: the OCPP signature the charger's OCPP stack checks,
//! and the multi-party TUF approval inside, checked with
//! [`crate::bundle::verify_bundle`]. [`is_fwsign_bundle`] tells them apart.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64ct::{Base64, Encoding};
use fwsign_manifest_schema::expiry::UnixTime;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use signature::hazmat::PrehashVerifier;

use crate::bundle::MANIFEST_NAME;
use crate::bundle_archive::{ArchiveLimits, BundleArchive};
use crate::cert::{
    CertError, Certificate, ChainError, VerifiedChain, parse_rfc3339, verify_signing_chain,
};
use crate::keys::{Algorithm, PublicKey, TufSigner};
use crate::repo::ErrorClass;

/// Longest `firmware.location` both schemas allow.
pub const MAX_LOCATION_CHARS: usize = 512;
/// Longest `firmware.signingCertificate` both schemas allow: room for the
/// signing certificate and a few intermediates.
pub const MAX_SIGNING_CERTIFICATE_CHARS: usize = 5_500;
/// Longest `firmware.signature` both schemas allow.
pub const MAX_SIGNATURE_CHARS: usize = 800;
/// Longest `customData.vendorId` (OCPP 2.0.1).
pub const MAX_VENDOR_ID_CHARS: usize = 255;
/// Largest file [`sign_firmware_file`] signs. Signing keys (HSMs included)
/// take the whole message, so the file is read into memory; 4 GiB is the
/// largest image a 32-bit charger controller can address, as for bundles.
pub const MAX_FIRMWARE_BYTES: u64 = 4 << 30;

/// Which OCPP message to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcppVersion {
    /// OCPP 1.6 with the security extension: `SignedUpdateFirmware.req`.
    V16,
    /// OCPP 2.0.1: `UpdateFirmwareRequest`.
    V201,
}

impl OcppVersion {
    /// `1.6` or `2.0.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V16 => "1.6",
            Self::V201 => "2.0.1",
        }
    }

    /// The OCPP-J action name: `SignedUpdateFirmware` or `UpdateFirmware`.
    pub fn action(self) -> &'static str {
        match self {
            Self::V16 => "SignedUpdateFirmware",
            Self::V201 => "UpdateFirmware",
        }
    }
}

impl fmt::Display for OcppVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OcppVersion {
    type Err = OcppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.6" => Ok(Self::V16),
            "2.0.1" => Ok(Self::V201),
            other => Err(OcppError::UnknownVersion(other.to_owned())),
        }
    }
}

/// The firmware status a charger reports for a signed update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FirmwareStatus {
    /// `FirmwareStatusNotification` `SignatureVerified`: the certificate
    /// path and the signature are good; installation may go on.
    SignatureVerified,
    /// `FirmwareStatusNotification` `InvalidSignature`: the signature does
    /// not verify over the downloaded file (or is missing or malformed).
    InvalidSignature,
    /// The `UpdateFirmware` response status `InvalidCertificate`: the
    /// signing certificate does not lead to the manufacturer root.
    InvalidCertificate,
}

impl FirmwareStatus {
    /// The status as OCPP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignatureVerified => "SignatureVerified",
            Self::InvalidSignature => "InvalidSignature",
            Self::InvalidCertificate => "InvalidCertificate",
        }
    }

    /// The security event a charger raises with this status, if any.
    pub fn security_event(self) -> Option<SecurityEvent> {
        match self {
            Self::SignatureVerified => None,
            Self::InvalidSignature => Some(SecurityEvent::InvalidFirmwareSignature),
            Self::InvalidCertificate => Some(SecurityEvent::InvalidFirmwareSigningCertificate),
        }
    }
}

impl fmt::Display for FirmwareStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The security event (OCPP security whitepaper / 2.0.1 appendix) a charger
/// reports with a refused firmware update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityEvent {
    /// `InvalidFirmwareSignature`.
    InvalidFirmwareSignature,
    /// `InvalidFirmwareSigningCertificate`.
    InvalidFirmwareSigningCertificate,
}

impl SecurityEvent {
    /// The event type as OCPP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFirmwareSignature => "InvalidFirmwareSignature",
            Self::InvalidFirmwareSigningCertificate => "InvalidFirmwareSigningCertificate",
        }
    }
}

impl fmt::Display for SecurityEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The firmware file is larger than [`MAX_FIRMWARE_BYTES`].
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

/// A firmware signature as OCPP carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FirmwareSignature {
    /// The DER `ECDSA-Sig-Value` (70 to 72 bytes).
    pub der: Vec<u8>,
    /// The DER as one line of padded Base64: the `signature` field.
    pub base64: String,
    /// SHA-256 of the file signed, lowercase hex.
    pub sha256: String,
    /// Length of the file signed.
    pub length: u64,
}

/// Signs `firmware` for OCPP with `key`, which must be P-256 and the key of
/// `signing_certificate`. The signature is checked with the certificate's
/// key before it is returned.
pub fn sign_firmware(
    firmware: &[u8],
    key: &dyn TufSigner,
    signing_certificate: &Certificate,
) -> Result<FirmwareSignature, OcppError> {
    let public = key.public_key();
    if public.algorithm() != Algorithm::EcdsaP256 {
        return Err(OcppError::NotP256(public.algorithm()));
    }
    let cert_key = signing_certificate.public_key()?;
    if cert_key != *public {
        return Err(OcppError::KeyCertificateMismatch {
            cert: signing_certificate.to_string(),
        });
    }
    let sig = key.try_sign(firmware).map_err(OcppError::Signing)?;
    let digest = Sha256::digest(firmware);
    verify_prehashed(&cert_key, &digest, &sig.0).map_err(|_| OcppError::SignatureCheck)?;
    Ok(FirmwareSignature {
        base64: Base64::encode_string(&sig.0),
        der: sig.0,
        sha256: hex_lower(&digest),
        length: firmware.len() as u64,
    })
}

/// [`sign_firmware`] over the file at `path` (read whole, at most
/// [`MAX_FIRMWARE_BYTES`]).
pub fn sign_firmware_file(
    path: &Path,
    key: &dyn TufSigner,
    signing_certificate: &Certificate,
) -> Result<FirmwareSignature, OcppError> {
    let read_error = |source| OcppError::Read {
        file: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_FIRMWARE_BYTES {
        return Err(OcppError::TooLarge {
            file: path.to_path_buf(),
            size,
            max: MAX_FIRMWARE_BYTES,
        });
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // `take` so a file growing while it is read cannot pass the limit.
    file.take(MAX_FIRMWARE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() as u64 > MAX_FIRMWARE_BYTES {
        return Err(OcppError::TooLarge {
            file: path.to_path_buf(),
            size: data.len() as u64,
            max: MAX_FIRMWARE_BYTES,
        });
    }
    sign_firmware(&data, key, signing_certificate)
}

/// The `signingCertificate` field: the signing certificate's PEM, then each
/// intermediate's, in order.
pub fn signing_certificate_pem(signer: &Certificate, intermediates: &[Certificate]) -> String {
    std::iter::once(signer)
        .chain(intermediates)
        .map(Certificate::to_pem)
        .collect()
}

/// An `UpdateFirmwareRequest` (2.0.1) or `SignedUpdateFirmware.req` (1.6)
/// payload.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateFirmwareRequest {
    /// Which message.
    pub version: OcppVersion,
    /// `requestId`.
    pub request_id: i32,
    /// `retries`: download attempts before giving up (not negative).
    pub retries: Option<i32>,
    /// `retryInterval`: seconds between attempts (not negative).
    pub retry_interval: Option<i32>,
    /// `firmware.location`: the download URI.
    pub location: String,
    /// `firmware.retrieveDateTime` (RFC 3339), written as given.
    pub retrieve_date_time: String,
    /// `firmware.installDateTime` (RFC 3339), written as given.
    pub install_date_time: Option<String>,
    /// `firmware.signingCertificate`: PEM, signing certificate first
    /// (required in 1.6).
    pub signing_certificate: Option<String>,
    /// `firmware.signature`: Base64 DER (required in 1.6).
    pub signature: Option<String>,
    /// `customData` (2.0.1 only): an object with a `vendorId` string.
    pub custom_data: Option<Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadOut<'a> {
    request_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_interval: Option<i32>,
    firmware: FirmwareOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_data: Option<&'a Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FirmwareOut<'a> {
    location: &'a str,
    retrieve_date_time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    install_date_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_certificate: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a str>,
}

fn check_length(field: &'static str, text: &str, max: usize) -> Result<(), OcppError> {
    // JSON Schema's maxLength counts characters (code points), not bytes.
    let chars = text.chars().count();
    if chars > max {
        return Err(OcppError::FieldTooLong { field, chars, max });
    }
    Ok(())
}

fn check_date_time(field: &'static str, text: &str) -> Result<(), OcppError> {
    parse_rfc3339(text)
        .map(|_| ())
        .ok_or_else(|| OcppError::DateTime {
            field,
            value: text.to_owned(),
        })
}

impl UpdateFirmwareRequest {
    /// Checks every field against the version's schema: lengths, RFC 3339
    /// times, non-negative retry counts, the fields 1.6 requires, and
    /// `customData` (2.0.1 only, an object with a `vendorId` string of at
    /// most [`MAX_VENDOR_ID_CHARS`]).
    pub fn check(&self) -> Result<(), OcppError> {
        if self.location.is_empty() {
            return Err(OcppError::InvalidField {
                field: "firmware.location",
                detail: "empty".to_owned(),
            });
        }
        if self
            .location
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(OcppError::InvalidField {
                field: "firmware.location",
                detail: "a URI has no spaces or control characters".to_owned(),
            });
        }
        check_length("firmware.location", &self.location, MAX_LOCATION_CHARS)?;
        check_date_time("firmware.retrieveDateTime", &self.retrieve_date_time)?;
        if let Some(install) = &self.install_date_time {
            check_date_time("firmware.installDateTime", install)?;
        }
        for (field, value) in [
            ("retries", self.retries),
            ("retryInterval", self.retry_interval),
        ] {
            if let Some(v) = value
                && v < 0
            {
                return Err(OcppError::InvalidField {
                    field,
                    detail: format!("{v} is negative"),
                });
            }
        }
        if let Some(pem) = &self.signing_certificate {
            check_length(
                "firmware.signingCertificate",
                pem,
                MAX_SIGNING_CERTIFICATE_CHARS,
            )?;
        }
        if let Some(sig) = &self.signature {
            check_length("firmware.signature", sig, MAX_SIGNATURE_CHARS)?;
        }
        match self.version {
            OcppVersion::V16 => {
                if self.signing_certificate.is_none() {
                    return Err(OcppError::MissingField {
                        field: "firmware.signingCertificate",
                        version: self.version,
                    });
                }
                if self.signature.is_none() {
                    return Err(OcppError::MissingField {
                        field: "firmware.signature",
                        version: self.version,
                    });
                }
                if self.custom_data.is_some() {
                    return Err(OcppError::CustomDataNotAllowed(self.version));
                }
            }
            OcppVersion::V201 => {
                if let Some(custom) = &self.custom_data {
                    match custom.get("vendorId") {
                        Some(Value::String(id)) => {
                            check_length("customData.vendorId", id, MAX_VENDOR_ID_CHARS)?;
                        }
                        _ => {
                            return Err(OcppError::InvalidField {
                                field: "customData",
                                detail: "needs a \"vendorId\" string".to_owned(),
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The payload as pretty-printed JSON, fields in the schema's order,
    /// after [`Self::check`].
    pub fn to_json(&self) -> Result<String, OcppError> {
        self.check()?;
        let payload = PayloadOut {
            request_id: self.request_id,
            retries: self.retries,
            retry_interval: self.retry_interval,
            firmware: FirmwareOut {
                location: &self.location,
                retrieve_date_time: &self.retrieve_date_time,
                install_date_time: self.install_date_time.as_deref(),
                signing_certificate: self.signing_certificate.as_deref(),
                signature: self.signature.as_deref(),
            },
            custom_data: self.custom_data.as_ref(),
        };
        let mut text = serde_json::to_string_pretty(&payload)
            .expect("a payload of strings and integers serializes");
        text.push('\n');
        Ok(text)
    }

    /// The payload as a JSON value, after [`Self::check`].
    pub fn to_value(&self) -> Result<Value, OcppError> {
        let text = self.to_json()?;
        Ok(serde_json::from_str(&text).expect("JSON fwsign just wrote parses"))
    }
}

/// The parts of a received firmware update request the charger's checks use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// The action, when the request was an OCPP-J CALL.
    pub action: Option<String>,
    /// `requestId`.
    pub request_id: Option<i64>,
    /// `firmware.location`.
    pub location: String,
    /// `firmware.signingCertificate`.
    pub signing_certificate: Option<String>,
    /// `firmware.signature`.
    pub signature: Option<String>,
}

/// Reads a firmware update request: the payload object of either version,
/// or an OCPP-J CALL `[2, "<id>", "UpdateFirmware" | "SignedUpdateFirmware",
/// {payload}]`. `what` names the source in errors.
pub fn parse_request(json: &str, what: &str) -> Result<ReceivedRequest, OcppError> {
    let bad = |detail: &str| OcppError::NotARequest {
        what: what.to_owned(),
        detail: detail.to_owned(),
    };
    let value: Value = serde_json::from_str(json).map_err(|e| OcppError::NotARequest {
        what: what.to_owned(),
        detail: format!("not JSON: {e}"),
    })?;
    let (action, payload) = match value {
        Value::Array(items) => match items.as_slice() {
            [
                Value::Number(kind),
                Value::String(_),
                Value::String(action),
                payload,
            ] if kind.as_u64() == Some(2) => {
                if action != "UpdateFirmware" && action != "SignedUpdateFirmware" {
                    return Err(bad(&format!("a CALL of {action:?}")));
                }
                (Some(action.clone()), payload.clone())
            }
            _ => return Err(bad("an array that is not an OCPP-J CALL")),
        },
        other => (None, other),
    };
    let firmware = payload
        .get("firmware")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no \"firmware\" object"))?;
    let text = |key: &str| -> Result<Option<String>, OcppError> {
        match firmware.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("firmware.{key} is not a string"))),
        }
    };
    Ok(ReceivedRequest {
        action,
        request_id: payload.get("requestId").and_then(Value::as_i64),
        location: text("location")?.ok_or_else(|| bad("no firmware.location"))?,
        signing_certificate: text("signingCertificate")?,
        signature: text("signature")?,
    })
}

/// Why a charger refuses a firmware update: each variant maps to the
/// [`FirmwareStatus`] and [`SecurityEvent`] it reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FirmwareRefusal {
    /// The request has no `signingCertificate`. `InvalidCertificate`.
    #[error("the request carries no signingCertificate")]
    NoCertificate,
    /// `signingCertificate` is not PEM certificates. `InvalidCertificate`.
    #[error("signingCertificate: {0}")]
    UnreadableCertificate(#[source] CertError),
    /// The certificate path to the manufacturer root fails.
    /// `InvalidCertificate`.
    #[error("{0}")]
    Chain(#[source] ChainError),
    /// The request has no `signature`. `InvalidSignature`.
    #[error("the request carries no signature")]
    NoSignature,
    /// `signature` is not padded standard Base64. `InvalidSignature`.
    #[error("signature: not padded Base64")]
    NotBase64,
    /// `signature` is not a DER ECDSA signature. `InvalidSignature`.
    #[error("signature: {len} bytes that are not a DER ECDSA-Sig-Value{hint}", hint = if *len == 64 { " (64 bytes looks like a raw r||s signature; OCPP wants DER)" } else { "" })]
    NotDer {
        /// The decoded length.
        len: usize,
    },
    /// The signature does not verify over the file with the signing
    /// certificate's key. `InvalidSignature`.
    #[error("{what}: the signature does not verify over the file with the key of {cert}")]
    Mismatch {
        /// The firmware file.
        what: String,
        /// The signing certificate.
        cert: String,
    },
    /// The firmware could not be read: no status, the check did not happen.
    #[error("{what}: {source}")]
    Read {
        /// The firmware file.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl FirmwareRefusal {
    /// The status the charger reports; `None` when the firmware could not be
    /// read, so nothing was decided.
    pub fn status(&self) -> Option<FirmwareStatus> {
        match self {
            Self::NoCertificate | Self::UnreadableCertificate(_) | Self::Chain(_) => {
                Some(FirmwareStatus::InvalidCertificate)
            }
            Self::NoSignature | Self::NotBase64 | Self::NotDer { .. } | Self::Mismatch { .. } => {
                Some(FirmwareStatus::InvalidSignature)
            }
            Self::Read { .. } => None,
        }
    }

    /// The security event the charger raises.
    pub fn security_event(&self) -> Option<SecurityEvent> {
        self.status().and_then(FirmwareStatus::security_event)
    }

    /// [`ErrorClass::Security`] for a refusal, [`ErrorClass::Io`] when the
    /// firmware could not be read.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Read { .. } => ErrorClass::Io,
            _ => ErrorClass::Security,
        }
    }
}

/// A firmware update that passed [`verify_firmware`]: the charger reports
/// [`FirmwareStatus::SignatureVerified`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedFirmware {
    /// The certificate path accepted.
    pub chain: VerifiedChain,
    /// The firmware's length.
    pub length: u64,
    /// The firmware's SHA-256, lowercase hex.
    pub sha256: String,
}

/// What a charger does with a signed firmware update, in its order:
///
/// 1. `signing_certificate` (PEM, signing certificate first, then
///    intermediates) must lead to `root` at time `at` under
///    [`verify_signing_chain`]'s rules; otherwise
///    [`FirmwareStatus::InvalidCertificate`];
/// 2. `signature` must be padded Base64 of a DER ECDSA P-256 signature that
///    verifies over SHA-256 of `firmware` (streamed) with the signing
///    certificate's key; otherwise [`FirmwareStatus::InvalidSignature`].
///    High-S signatures are accepted, since OpenSSL makes them.
///
/// `what` names the firmware in messages.
pub fn verify_firmware(
    firmware: impl Read,
    what: &str,
    signing_certificate: Option<&str>,
    signature: Option<&str>,
    root: &Certificate,
    at: UnixTime,
) -> Result<VerifiedFirmware, FirmwareRefusal> {
    let pem = signing_certificate.ok_or(FirmwareRefusal::NoCertificate)?;
    let mut certs = Certificate::chain_from_pem(pem, "signingCertificate")
        .map_err(FirmwareRefusal::UnreadableCertificate)?;
    let signer = certs.remove(0).with_label("signingCertificate");
    let chain = verify_signing_chain(&signer, &certs, root, at).map_err(FirmwareRefusal::Chain)?;

    let text = signature.ok_or(FirmwareRefusal::NoSignature)?;
    // Whitespace is dropped so a signature wrapped over lines still reads;
    // anything else must be standard padded Base64.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = Base64::decode_vec(&compact).map_err(|_| FirmwareRefusal::NotBase64)?;
    if p256::ecdsa::Signature::from_der(&der).is_err() {
        return Err(FirmwareRefusal::NotDer { len: der.len() });
    }

    let (digest, length) = hash_reader(firmware).map_err(|source| FirmwareRefusal::Read {
        what: what.to_owned(),
        source,
    })?;
    verify_prehashed(&chain.signer_key, &digest, &der).map_err(|_| FirmwareRefusal::Mismatch {
        what: what.to_owned(),
        cert: chain.signer().to_string(),
    })?;
    Ok(VerifiedFirmware {
        chain,
        length,
        sha256: hex_lower(&digest),
    })
}

/// [`verify_firmware`] over the file at `path`.
pub fn verify_firmware_file(
    path: &Path,
    signing_certificate: Option<&str>,
    signature: Option<&str>,
    root: &Certificate,
    at: UnixTime,
) -> Result<VerifiedFirmware, FirmwareRefusal> {
    let what = path.display().to_string();
    // Opened first only to report a missing file as such; the checks on the
    // certificate still come before the file is read.
    let file = File::open(path).map_err(|source| FirmwareRefusal::Read {
        what: what.clone(),
        source,
    })?;
    verify_firmware(
        io::BufReader::new(file),
        &what,
        signing_certificate,
        signature,
        root,
        at,
    )
}

/// Whether the file at `path` is an fwsign update bundle (a zip archive
/// holding `fwsign-bundle.json`), whose TUF approval
/// [`crate::bundle::verify_bundle`] checks.
pub fn is_fwsign_bundle(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let is_zip = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04";
    is_zip
        && BundleArchive::open(path, ArchiveLimits::default())
            .is_ok_and(|archive| archive.declared_size(MANIFEST_NAME).is_some())
}

fn hash_reader(mut reader: impl Read) -> io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut length = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        length += n as u64;
    }
    Ok((hasher.finalize().into(), length))
}

/// Verifies a DER ECDSA P-256 signature over a SHA-256 digest.
fn verify_prehashed(key: &PublicKey, digest: &[u8], der: &[u8]) -> Result<(), signature::Error> {
    if key.algorithm() != Algorithm::EcdsaP256 {
        return Err(signature::Error::new());
    }
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.sec1_or_raw_bytes())?;
    let sig = p256::ecdsa::Signature::from_der(der)?;
    vk.verify_prehash(digest, &sig)
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{
        CertProfile, IssueOptions, RootOptions, build_root_ca, issue_certificate, parse_subject,
    };
    use crate::keys::PrivateKey;

    const NOW: UnixTime = UnixTime(1_780_000_000);

    struct Pki {
        root: Certificate,
        signer: Certificate,
        key: PrivateKey,
    }

    fn pki() -> Pki {
        let rk = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let root = build_root_ca(
            &rk,
            &RootOptions {
                subject: parse_subject("CN=Root,O=ACME").unwrap(),
                not_before: NOW,
                days: 7305,
            },
        )
        .unwrap();
        let signer = issue_certificate(
            &rk,
            &root,
            key.public_key(),
            &IssueOptions {
                profile: CertProfile::FirmwareSigning,
                subject: parse_subject("CN=Signer,O=ACME").unwrap(),
                not_before: NOW,
                days: 730,
                now: NOW,
            },
        )
        .unwrap();
        Pki { root, signer, key }
    }

    fn request(version: OcppVersion) -> UpdateFirmwareRequest {
        UpdateFirmwareRequest {
            version,
            request_id: 7,
            retries: Some(3),
            retry_interval: Some(60),
            location: "https://fw.example.com/fw.bin".to_owned(),
            retrieve_date_time: "2026-12-01T02:00:00Z".to_owned(),
            install_date_time: None,
            signing_certificate: Some("PEM".to_owned()),
            signature: Some("SIG".to_owned()),
            custom_data: None,
        }
    }

    #[test]
    fn signature_is_padded_base64_der_and_verifies() {
        let p = pki();
        let firmware = b"firmware image".repeat(1000);
        let sig = sign_firmware(&firmware, &p.key, &p.signer).unwrap();
        assert!((70..=72).contains(&sig.der.len()), "{}", sig.der.len());
        assert_eq!(sig.base64.len(), sig.der.len().div_ceil(3) * 4);
        assert!(!sig.base64.contains('\n'));
        let pem = signing_certificate_pem(&p.signer, &[]);
        let ok = verify_firmware(
            &firmware[..],
            "fw",
            Some(&pem),
            Some(&sig.base64),
            &p.root,
            NOW,
        )
        .unwrap();
        assert_eq!(ok.length, firmware.len() as u64);
        assert_eq!(ok.sha256, sig.sha256);

        let mut tampered = firmware.clone();
        tampered[10] ^= 1;
        let err = verify_firmware(
            &tampered[..],
            "fw",
            Some(&pem),
            Some(&sig.base64),
            &p.root,
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.status(), Some(FirmwareStatus::InvalidSignature));
        assert_eq!(
            err.security_event(),
            Some(SecurityEvent::InvalidFirmwareSignature)
        );

        // Raw r||s is refused as such.
        let raw = p256::ecdsa::Signature::from_der(&sig.der)
            .unwrap()
            .to_bytes();
        let err = verify_firmware(
            &firmware[..],
            "fw",
            Some(&pem),
            Some(&Base64::encode_string(&raw)),
            &p.root,
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, FirmwareRefusal::NotDer { len: 64 }), "{err}");
        assert!(err.to_string().contains("r||s"));

        // Missing certificate, and a certificate from elsewhere.
        let err = verify_firmware(&firmware[..], "fw", None, Some(&sig.base64), &p.root, NOW)
            .unwrap_err();
        assert_eq!(err.status(), Some(FirmwareStatus::InvalidCertificate));
        let other = pki();
        let err = verify_firmware(
            &firmware[..],
            "fw",
            Some(&pem),
            Some(&sig.base64),
            &other.root,
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.status(), Some(FirmwareStatus::InvalidCertificate));
        assert_eq!(
            err.security_event(),
            Some(SecurityEvent::InvalidFirmwareSigningCertificate)
        );
    }

    #[test]
    fn signing_refuses_other_keys() {
        let p = pki();
        let other = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        assert!(matches!(
            sign_firmware(b"x", &other, &p.signer),
            Err(OcppError::KeyCertificateMismatch { .. })
        ));
        let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        assert!(matches!(
            sign_firmware(b"x", &ed, &p.signer),
            Err(OcppError::NotP256(Algorithm::Ed25519))
        ));
    }

    #[test]
    fn request_limits_are_checked_one_past_each() {
        for version in [OcppVersion::V16, OcppVersion::V201] {
            let ok = request(version);
            ok.check().unwrap();
            let mut r = ok.clone();
            r.location = format!("https://x/{}", "a".repeat(MAX_LOCATION_CHARS - 10));
            r.check().unwrap();
            r.location.push('a');
            assert!(matches!(
                r.check(),
                Err(OcppError::FieldTooLong {
                    field: "firmware.location",
                    chars: 513,
                    max: 512
                })
            ));
            let mut r = ok.clone();
            r.signing_certificate = Some("é".repeat(MAX_SIGNING_CERTIFICATE_CHARS));
            r.check().unwrap();
            r.signing_certificate = Some("é".repeat(MAX_SIGNING_CERTIFICATE_CHARS + 1));
            assert!(matches!(r.check(), Err(OcppError::FieldTooLong { .. })));
            let mut r = ok.clone();
            r.signature = Some("A".repeat(MAX_SIGNATURE_CHARS + 1));
            assert!(matches!(r.check(), Err(OcppError::FieldTooLong { .. })));
            let mut r = ok.clone();
            r.retrieve_date_time = "tomorrow".to_owned();
            assert!(matches!(r.check(), Err(OcppError::DateTime { .. })));
            let mut r = ok.clone();
            r.retries = Some(-1);
            assert!(matches!(r.check(), Err(OcppError::InvalidField { .. })));
        }
        let mut r = request(OcppVersion::V16);
        r.signature = None;
        assert!(matches!(r.check(), Err(OcppError::MissingField { .. })));
        let mut r = request(OcppVersion::V16);
        r.custom_data = Some(Map::new());
        assert!(matches!(r.check(), Err(OcppError::CustomDataNotAllowed(_))));
        let mut r = request(OcppVersion::V201);
        r.custom_data = Some(serde_json::from_str(r#"{"vendorId": "acme"}"#).unwrap());
        let json = r.to_json().unwrap();
        assert!(json.find("requestId").unwrap() < json.find("firmware").unwrap());
        let parsed = parse_request(&json, "r").unwrap();
        assert_eq!(parsed.signature.as_deref(), Some("SIG"));
        let call = format!("[2, \"abc\", \"UpdateFirmware\", {json}]");
        assert_eq!(parse_request(&call, "r").unwrap().request_id, Some(7));
        r.custom_data = Some(serde_json::from_str(r#"{"vendor": "acme"}"#).unwrap());
        assert!(matches!(r.check(), Err(OcppError::InvalidField { .. })));
    }
}
