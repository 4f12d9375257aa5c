//! Why a certificate could not be read, built or issued ([`CertError`]) and
//! why a certificate path was refused ([`ChainError`]).
//!
//! Kept apart from the code that raises them: the builders, the readers and
//! the chain check all raise [`CertError`], and the CLI maps both types to
//! exit codes.

use std::io;
use std::path::PathBuf;

use fwsign_keys::ErrorClass;
use fwsign_keys::{Algorithm, KeyError};

/// Why a certificate or request could not be read, built or issued.
///
/// Each variant names the file or certificate concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A certificate file could not be read.
    #[error("{}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The text holds no `CERTIFICATE` PEM block, or a damaged one, or a
    /// block of another kind (a key, a request).
    #[error("{what}: not a PEM certificate: {detail}")]
    Pem {
        /// The file or label the text came from.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// A file that should hold one certificate holds several.
    #[error("{what}: holds {count} certificates; give exactly one (intermediates go separately)")]
    NotOneCertificate {
        /// The file or label.
        what: String,
        /// How many it holds.
        count: usize,
    },
    /// The DER inside is not an X.509 certificate.
    #[error("{what}: not a valid X.509 certificate: {detail}")]
    Malformed {
        /// The file or label.
        what: String,
        /// The decoder's message.
        detail: String,
    },
    /// A subject distinguished name could not be parsed.
    #[error(
        "subject {subject:?}: {detail} (expected RFC 4514 form, e.g. \"CN=ACME Firmware Signing 2026,O=ACME,C=DE\")"
    )]
    Subject {
        /// The text given.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// A key for a certificate is not P-256; OCPP firmware signatures and
    /// fwsign's certificates are ECDSA P-256 only.
    #[error("{what}: is an {algorithm} key; certificates need an ECDSA P-256 key")]
    NotP256 {
        /// Which key (the CA key, the subject key, ...).
        what: String,
        /// The key's algorithm.
        algorithm: Algorithm,
    },
    /// A certificate holds a public key fwsign cannot use.
    #[error("{what}: its public key: {source}")]
    PublicKey {
        /// The certificate.
        what: String,
        /// Why the key was refused.
        #[source]
        source: KeyError,
    },
    /// The requested validity is outside what the profile allows.
    #[error("validity of {days} days for a {profile}: must be {min} to {max} days")]
    Validity {
        /// The days asked for.
        days: u32,
        /// The profile.
        profile: &'static str,
        /// The shortest allowed.
        min: u32,
        /// The longest allowed.
        max: u32,
    },
    /// A time cannot be written into a certificate (before 1970 or after 9999).
    #[error("time {0} cannot be written into a certificate")]
    Time(i64),
    /// The CA key does not belong to the CA certificate.
    #[error("{ca_cert}: the CA key given is not this certificate's key")]
    CaKeyMismatch {
        /// The CA certificate.
        ca_cert: String,
    },
    /// The issuing certificate is not a CA (no `CA:TRUE`, or no
    /// `keyCertSign`).
    #[error("{ca_cert}: is not a CA certificate ({detail}); it cannot issue certificates")]
    NotACa {
        /// The certificate.
        ca_cert: String,
        /// What it lacks.
        detail: &'static str,
    },
    /// The issuing CA's path length constraint forbids another CA below it.
    #[error("{ca_cert}: its pathLenConstraint is 0, so it cannot issue an intermediate CA")]
    PathLength {
        /// The CA certificate.
        ca_cert: String,
    },
    /// The issuing CA certificate has expired, or is not valid yet.
    #[error("{ca_cert}: not valid at {at} (valid {not_before} to {not_after})")]
    CaNotValid {
        /// The CA certificate.
        ca_cert: String,
        /// The time checked.
        at: String,
        /// Its notBefore.
        not_before: String,
        /// Its notAfter.
        not_after: String,
    },
    /// The key refused to sign (an HSM error, usually).
    #[error("signing the {what} failed")]
    Signing {
        /// What was being signed.
        what: &'static str,
        /// The signer's error.
        #[source]
        source: signature::Error,
    },
    /// The signature the key made does not verify with the key's public key:
    /// a faulty signer. Nothing was written.
    #[error("the {what} the key signed does not verify with its public key; the signer is faulty")]
    SignatureCheck {
        /// What was signed.
        what: &'static str,
    },
    /// The operating system's random number generator failed (serial numbers).
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    /// Encoding the certificate or request failed.
    #[error("cannot encode the {what}: {detail}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        detail: String,
    },
}

impl CertError {
    /// How a caller should treat this error: [`ErrorClass::Io`] for files and
    /// the signer (an HSM failure), [`ErrorClass::Usage`] for everything
    /// else, which is input that is not what it should be.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Read { .. }
            | Self::Signing { .. }
            | Self::SignatureCheck { .. }
            | Self::Rng(_) => ErrorClass::Io,
            _ => ErrorClass::Usage,
        }
    }
}

/// Why a certificate path was refused. Each variant names the certificate
/// (its file or position, and its subject).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate's notAfter is before the time checked.
    #[error("{cert}: expired at {not_after} (checked at {at})")]
    Expired {
        /// The certificate.
        cert: String,
        /// Its notAfter.
        not_after: String,
        /// The time checked.
        at: String,
    },
    /// A certificate's notBefore is after the time checked.
    #[error("{cert}: not valid before {not_before} (checked at {at})")]
    NotYetValid {
        /// The certificate.
        cert: String,
        /// Its notBefore.
        not_before: String,
        /// The time checked.
        at: String,
    },
    /// A certificate that issues another is not a CA: no `basicConstraints`
    /// with `CA:TRUE`, or a `keyUsage` without `keyCertSign`.
    #[error("{cert}: is not a CA ({detail}) but issued {child}")]
    NotACa {
        /// The issuing certificate.
        cert: String,
        /// What it lacks.
        detail: &'static str,
        /// The certificate it issued.
        child: String,
    },
    /// The signing certificate may not sign firmware: no `codeSigning`
    /// extended key usage, no `digitalSignature` key usage, or it is a CA;
    /// or a CA's extended key usage excludes code signing.
    #[error("{cert}: wrong usage: {detail}")]
    WrongUsage {
        /// The certificate.
        cert: String,
        /// What is wrong.
        detail: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error("{cert}: bad signature: it does not verify with the key of {issuer}")]
    BadSignature {
        /// The certificate.
        cert: String,
        /// The issuer whose key was used.
        issuer: String,
    },
    /// No given certificate, and not the root, issued this one.
    #[error(
        "{cert}: unknown issuer {issuer:?}: not the trusted root ({root}) nor any intermediate given"
    )]
    UnknownIssuer {
        /// The certificate.
        cert: String,
        /// Its issuer name.
        issuer: String,
        /// The trusted root.
        root: String,
    },
    /// The signing certificate is self-signed and is not the trusted root.
    #[error(
        "{cert}: is self-signed; a firmware-signing certificate must be issued by the trusted root ({root})"
    )]
    SelfSigned {
        /// The certificate.
        cert: String,
        /// The trusted root.
        root: String,
    },
    /// A CA's `pathLenConstraint` allows fewer intermediates below it.
    #[error(
        "{cert}: its pathLenConstraint {limit} allows fewer CAs below it than the path has ({below})"
    )]
    PathLength {
        /// The CA certificate.
        cert: String,
        /// Its constraint.
        limit: u8,
        /// Intermediates below it.
        below: usize,
    },
    /// More intermediates than [`MAX_INTERMEDIATES`](super::MAX_INTERMEDIATES),
    /// or a path that loops.
    #[error("the certificate path is longer than {max} intermediates, or loops")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A signature or key algorithm other than ECDSA P-256 with SHA-256.
    #[error("{cert}: unsupported algorithm: {detail}")]
    UnsupportedAlgorithm {
        /// The certificate.
        cert: String,
        /// What was found.
        detail: String,
    },
    /// A critical extension fwsign does not process; RFC 5280 requires
    /// refusing the certificate.
    #[error("{cert}: unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// The certificate.
        cert: String,
        /// The extension's OID.
        oid: String,
    },
    /// A certificate's structure or an extension's content is invalid.
    #[error("{cert}: malformed: {detail}")]
    Malformed {
        /// The certificate.
        cert: String,
        /// What is wrong.
        detail: String,
    },
}
