//! What a charger checks before installing an update: the certificate path
//! to its trusted root, the signature over the firmware file, and the
//! [`FirmwareRefusal`] (with the status and security event to report) when
//! one fails. Also tells an fwsign bundle from a plain firmware file.
//!
//! Separate because it is the charger's side; it reads messages and
//! certificates but never signs.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use base64ct::{Base64, Encoding};
use fwsign_manifest_schema::expiry::UnixTime;
use sha2::{Digest, Sha256};
use signature::hazmat::PrehashVerifier;

use crate::cert::{CertError, Certificate, ChainError, VerifiedChain, verify_signing_chain};
use fwsign_client::bundle::MANIFEST_NAME;
use fwsign_client::bundle_archive::{ArchiveLimits, BundleArchive};
use fwsign_keys::ErrorClass;
use fwsign_keys::{Algorithm, PublicKey};

use super::message::{FirmwareStatus, SecurityEvent};

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
/// [`fwsign_client::bundle::verify_bundle`] checks.
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
pub(super) fn verify_prehashed(
    key: &PublicKey,
    digest: &[u8],
    der: &[u8],
) -> Result<(), signature::Error> {
    if key.algorithm() != Algorithm::EcdsaP256 {
        return Err(signature::Error::new());
    }
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.sec1_or_raw_bytes())?;
    let sig = p256::ecdsa::Signature::from_der(der)?;
    vk.verify_prehash(digest, &sig)
}

pub(super) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
