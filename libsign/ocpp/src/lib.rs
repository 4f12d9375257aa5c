//! # fwsign-ocpp: OCPP firmware updates and their X.509 certificates
//!
//! OCPP secure firmware updates: the signature and request a CSMS sends,
//! and the checks the charger makes before it installs; and the X.509
//! firmware-signing certificates they carry ([`cert`]: build, parse, check
//! a chain). `ocpp verify --tuf-root` also checks the firmware against a TUF
//! bundle, so this crate depends on `fwsign-client` for the bundle reader;
//! nothing depends on this crate but the CLI.
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
//! P-256 over SHA-256 of the whole file, DER `ECDSA-Sig-Value` (at most 72
//! bytes, usually 70 to 72), as one line of padded Base64. Never a raw `r || s`. Only P-256
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
//! [`fwsign_client::bundle`]), the OCPP signature covers the bundle file, so one file
//! carries both layers: the OCPP signature the charger's OCPP stack checks,
//! and the multi-party TUF approval inside, checked with
//! [`fwsign_client::bundle::verify_bundle`]. [`is_fwsign_bundle`] tells them apart.
//!
//! ## Layout
//!
//! `message` holds the OCPP messages, `sign` the manufacturer's side,
//! `verify` the charger's checks, and `error` holds [`OcppError`]. The
//! submodules are private and everything public is re-exported here, so
//! callers keep writing `ocpp::sign_firmware`.

#![forbid(unsafe_code)]

pub mod cert;
mod error;
mod message;
mod sign;
#[cfg(test)]
mod tests;
mod verify;

pub use error::OcppError;
pub use message::{
    FirmwareStatus, OcppVersion, ReceivedRequest, SecurityEvent, UpdateFirmwareRequest,
    parse_request,
};
pub use sign::{FirmwareSignature, sign_firmware, sign_firmware_file, signing_certificate_pem};
pub use verify::{
    FirmwareRefusal, VerifiedFirmware, is_fwsign_bundle, verify_firmware, verify_firmware_file,
};

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
