//! X.509 certificates for firmware signing: the manufacturer root, optional
//! intermediate CAs and the firmware-signing certificate an EV charger checks
//! before it installs an update it received through OCPP.
//!
//! ## What this module makes
//!
//! - [`build_root_ca`]: a self-signed manufacturer root (`CA:TRUE`, critical;
//!   `keyCertSign` and `cRLSign`, critical; long validity), for trials and
//!   for manufacturers without a PKI of their own.
//! - [`issue_certificate`] with [`CertProfile::FirmwareSigning`]: a
//!   firmware-signing certificate (`CA:FALSE`, critical; `digitalSignature`,
//!   critical; extended key usage `codeSigning` 1.3.6.1.5.5.7.3.3; P-256;
//!   one to three years). With [`CertProfile::Intermediate`]: an
//!   intermediate CA (`CA:TRUE`, `pathLenConstraint` 0) that issues signing
//!   certificates under the root.
//! - [`build_csr`]: a PKCS#10 request carrying the same extensions as a
//!   request, for manufacturers whose corporate CA issues the certificate.
//!
//! Every one of them signs through a
//! [`TufSigner`](fwsign_keys::TufSigner), so a key held in an HSM issues
//! certificates exactly like a key file. Certificates are P-256 with
//! ECDSA-with-SHA-256 only: that is what OCPP's firmware signatures use, and
//! one algorithm leaves nothing to negotiate. After signing, each certificate
//! is verified with the key it claims, so a faulty HSM or a key that does not
//! match the CA certificate is caught before anything is written.
//!
//! ## What this module checks
//!
//! [`verify_signing_chain`] is the certificate half of what a charger does
//! (RFC 5280 path validation, restricted to what a firmware signature needs):
//! a path from the signing certificate through the given intermediates to
//! the trusted root by issuer name, each signature checked with the issuer's
//! P-256 key, every certificate (the root too) valid at the time given,
//! `basicConstraints` `CA:TRUE` and `keyCertSign` on every issuer, path
//! length constraints, no unknown critical extension, and on the signing
//! certificate `digitalSignature` and `codeSigning`. Each refusal is a named
//! [`ChainError`] variant.
//!
//! Building and checking use the RustCrypto `x509-cert` 0.3 generation, the
//! one that goes with `p256` 0.14 and `signature` 3; there is no OpenSSL.
//!
//! ## Layout
//!
//! `parse` reads certificates, `build` makes them, `chain` checks a path,
//! and `error` holds both error types. The submodules are private and
//! everything public is re-exported here, so callers keep writing
//! `cert::Certificate`.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::ID_KP_CODE_SIGNING;

pub use x509_cert;

mod build;
mod chain;
mod error;
mod parse;
#[cfg(test)]
mod tests;

pub use build::{
    CertProfile, IssueOptions, RootOptions, build_csr, build_root_ca, issue_certificate,
};
pub use chain::{VerifiedChain, check_signer_certificate, verify_signing_chain};
pub use error::{CertError, ChainError};
pub use parse::{Certificate, parse_rfc3339, parse_subject, time_text};

/// `id-kp-codeSigning` (RFC 5280 section 4.2.1.12): the extended key usage a
/// firmware-signing certificate must carry.
pub const CODE_SIGNING: ObjectIdentifier = ID_KP_CODE_SIGNING;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Default validity of a manufacturer root: 20 years. A root is provisioned
/// into chargers at the factory and replaced only by a firmware update, so it
/// has to outlive the chargers' service life.
pub const ROOT_DEFAULT_DAYS: u32 = 7_305;
/// Default validity of an intermediate CA: 10 years.
pub const INTERMEDIATE_DEFAULT_DAYS: u32 = 3_653;
/// Default validity of a firmware-signing certificate: 2 years.
pub const SIGNER_DEFAULT_DAYS: u32 = 730;
/// Shortest firmware-signing certificate fwsign issues: one year.
pub const SIGNER_MIN_DAYS: u32 = 365;
/// Longest firmware-signing certificate fwsign issues: three years (with
/// a leap day). A signing certificate in every charger's request should be
/// rotated, not kept for the root's lifetime.
pub const SIGNER_MAX_DAYS: u32 = 1_096;
/// Longest CA certificate fwsign issues: 50 years, far past any charger's
/// life; anything longer is more likely a typo than a plan.
pub const CA_MAX_DAYS: u32 = 18_263;
/// Most intermediates [`verify_signing_chain`] follows. OCPP carries the
/// chain in one field of at most 5,500 characters, room for about six PEM
/// certificates; real chains have one intermediate at most.
pub const MAX_INTERMEDIATES: usize = 4;

/// PEM label of a certificate (RFC 7468 section 5).
const CERTIFICATE_LABEL: &str = "CERTIFICATE";
/// PEM label of a PKCS#10 request (RFC 7468 section 7).
const CSR_LABEL: &str = "CERTIFICATE REQUEST";
