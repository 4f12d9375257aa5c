//! Signing firmware the way OCPP carries it: an ECDSA P-256 signature over
//! the file's SHA-256, and the `signingCertificate` chain in PEM.
//!
//! Separate from verification: signing runs at the manufacturer with a key
//! (possibly in an HSM), verification is what a charger does.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

use crate::cert::Certificate;
use fwsign_keys::{Algorithm, TufSigner};

use super::MAX_FIRMWARE_BYTES;
use super::error::OcppError;
use super::verify::{hex_lower, verify_prehashed};

/// A firmware signature as OCPP carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FirmwareSignature {
    /// The DER `ECDSA-Sig-Value` (at most 72 bytes, usually 70 to 72).
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
