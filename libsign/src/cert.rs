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
//! Every one of them signs through a [`TufSigner`], so a key held in an HSM
//! issues certificates exactly like a key file. Certificates are P-256 with
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

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::{
    ANY_EXTENDED_KEY_USAGE, ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_BASIC_CONSTRAINTS,
    ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME, ID_CE_SUBJECT_KEY_IDENTIFIER,
    ID_KP_CODE_SIGNING,
};
use const_oid::db::rfc5912::ECDSA_WITH_SHA_256;
use der::asn1::{GeneralizedTime, OctetString};
use der::referenced::OwnedToRef;
use der::{Decode, Encode, Reader, SliceReader};
use fwsign_manifest_schema::expiry::UnixTime;
use sha2::{Digest, Sha256};
use signature::{Keypair, Signer, Verifier};
use spki::{AlgorithmIdentifier, SignatureAlgorithmIdentifier, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::request::RequestBuilder;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

pub use x509_cert;

use crate::keys::{Algorithm, KeyError, PublicKey, TufSigner};
use crate::repo::ErrorClass;

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
    /// More intermediates than [`MAX_INTERMEDIATES`], or a path that loops.
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

/// A parsed X.509 certificate with its original DER and a label naming
/// where it came from (a file name, `chain.pem[2]`, `signingCertificate[1]`).
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    x509: x509_cert::Certificate,
    label: String,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Display for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label, self.subject())
    }
}

impl Certificate {
    /// Parses a DER certificate; `label` names it in errors.
    pub fn from_der(der: &[u8], label: impl Into<String>) -> Result<Self, CertError> {
        let label = label.into();
        let x509 = x509_cert::Certificate::from_der(der).map_err(|e| CertError::Malformed {
            what: label.clone(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            der: der.to_vec(),
            x509,
            label,
        })
    }

    /// Parses text holding exactly one PEM certificate.
    pub fn from_pem(pem: &str, label: impl Into<String>) -> Result<Self, CertError> {
        let label = label.into();
        let mut all = Self::chain_from_pem(pem, &label)?;
        if all.len() != 1 {
            return Err(CertError::NotOneCertificate {
                what: label,
                count: all.len(),
            });
        }
        let mut cert = all.remove(0);
        cert.label = label;
        Ok(cert)
    }

    /// Parses text holding one or more PEM certificates, in order; text
    /// between the blocks is ignored (RFC 7468 section 5.2). The `n`th is
    /// labelled `label[n]` (from 1) when there are several.
    pub fn chain_from_pem(pem: &str, label: &str) -> Result<Vec<Self>, CertError> {
        let blocks = pem_blocks(pem).map_err(|detail| CertError::Pem {
            what: label.to_owned(),
            detail,
        })?;
        if blocks.is_empty() {
            return Err(CertError::Pem {
                what: label.to_owned(),
                detail: "no -----BEGIN CERTIFICATE----- block".to_owned(),
            });
        }
        let several = blocks.len() > 1;
        blocks
            .iter()
            .enumerate()
            .map(|(i, block)| {
                let name = if several {
                    format!("{label}[{}]", i + 1)
                } else {
                    label.to_owned()
                };
                let (found, der) =
                    pem_rfc7468::decode_vec(block.as_bytes()).map_err(|e| CertError::Pem {
                        what: name.clone(),
                        detail: e.to_string(),
                    })?;
                if found != CERTIFICATE_LABEL {
                    return Err(CertError::Pem {
                        what: name,
                        detail: format!("found a {found:?} block"),
                    });
                }
                Self::from_der(&der, name)
            })
            .collect()
    }

    /// Reads a file holding exactly one PEM certificate, labelled with the
    /// file's path.
    pub fn read_pem_file(path: &Path) -> Result<Self, CertError> {
        Self::from_pem(&read_text(path)?, path.display().to_string())
    }

    /// Reads a file holding one or more PEM certificates.
    pub fn read_chain_file(path: &Path) -> Result<Vec<Self>, CertError> {
        Self::chain_from_pem(&read_text(path)?, &path.display().to_string())
    }

    /// The certificate's DER, exactly as read or built.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM: 64-column base64, `\n` line ends, a final
    /// newline (as `openssl x509` writes it).
    pub fn to_pem(&self) -> String {
        pem_rfc7468::encode_string(CERTIFICATE_LABEL, pem_rfc7468::LineEnding::LF, &self.der)
            .expect("a certificate's DER always encodes as PEM")
    }

    /// The parsed certificate.
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.x509
    }

    /// Where the certificate came from, as given when it was read.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Renames the certificate in messages.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The subject distinguished name, RFC 4514 style (`CN=...,O=...`).
    pub fn subject(&self) -> String {
        self.x509.tbs_certificate().subject().to_string()
    }

    /// The issuer distinguished name, RFC 4514 style.
    pub fn issuer(&self) -> String {
        self.x509.tbs_certificate().issuer().to_string()
    }

    /// The serial number, lowercase hex.
    pub fn serial_hex(&self) -> String {
        hex_lower(self.x509.tbs_certificate().serial_number().as_bytes())
    }

    /// SHA-256 of the DER, lowercase hex (`openssl x509 -fingerprint -sha256`
    /// without the colons).
    pub fn sha256_fingerprint(&self) -> String {
        hex_lower(&Sha256::digest(&self.der))
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> UnixTime {
        to_unix(self.x509.tbs_certificate().validity().not_before)
    }

    /// End of the validity period.
    pub fn not_after(&self) -> UnixTime {
        to_unix(self.x509.tbs_certificate().validity().not_after)
    }

    /// Whether `basicConstraints` says `CA:TRUE`.
    pub fn is_ca(&self) -> bool {
        matches!(
            self.x509.tbs_certificate().get_extension::<BasicConstraints>(),
            Ok(Some((_, bc))) if bc.ca
        )
    }

    /// The subject public key (P-256 or Ed25519; certificates fwsign builds
    /// are P-256).
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        let spki = self
            .x509
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| CertError::Malformed {
                what: self.label.clone(),
                detail: e.to_string(),
            })?;
        PublicKey::from_spki_der(&spki).map_err(|source| CertError::PublicKey {
            what: self.label.clone(),
            source,
        })
    }

    /// The DER of `tbsCertificate` exactly as it appears in the certificate:
    /// what the issuer signed, byte for byte.
    fn tbs_der(&self) -> der::Result<&[u8]> {
        let mut reader = SliceReader::new(&self.der)?;
        let tbs = reader.sequence(|r| {
            let tbs = r.tlv_bytes()?;
            r.tlv_bytes()?;
            r.tlv_bytes()?;
            Ok::<_, der::Error>(tbs)
        })?;
        reader.finish()?;
        Ok(tbs)
    }

    /// Whether the certificate's subject and issuer names are the same.
    fn is_self_issued(&self) -> bool {
        let tbs = self.x509.tbs_certificate();
        tbs.subject() == tbs.issuer()
    }

    fn subject_key_id(&self) -> Option<Vec<u8>> {
        match self
            .x509
            .tbs_certificate()
            .get_extension::<SubjectKeyIdentifier>()
        {
            Ok(Some((_, ski))) => Some(ski.0.as_bytes().to_vec()),
            _ => None,
        }
    }

    fn authority_key_id(&self) -> Option<Vec<u8>> {
        match self
            .x509
            .tbs_certificate()
            .get_extension::<AuthorityKeyIdentifier>()
        {
            Ok(Some((_, aki))) => aki.key_identifier.map(|k| k.as_bytes().to_vec()),
            _ => None,
        }
    }
}

fn read_text(path: &Path) -> Result<String, CertError> {
    let bytes = std::fs::read(path).map_err(|source| CertError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| CertError::Pem {
        what: path.display().to_string(),
        detail: "the file is not text".to_owned(),
    })
}

/// Splits text into its PEM blocks (each from `-----BEGIN` to the end of its
/// `-----END ...-----` line), ignoring text around them.
fn pem_blocks(text: &str) -> Result<Vec<String>, String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        match &mut current {
            None if line.starts_with("-----BEGIN ") => current = Some(format!("{line}\n")),
            None => {}
            Some(block) => {
                block.push_str(line);
                block.push('\n');
                if line.starts_with("-----END ") {
                    blocks.extend(current.take());
                }
            }
        }
    }
    if current.is_some() {
        return Err("a PEM block has no -----END line".to_owned());
    }
    Ok(blocks)
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_unix(time: Time) -> UnixTime {
    UnixTime(i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
}

fn to_time(time: UnixTime) -> Result<Time, CertError> {
    let secs = u64::try_from(time.0).map_err(|_| CertError::Time(time.0))?;
    let generalized = GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
        .map_err(|_| CertError::Time(time.0))?;
    // UTCTime through 2049, GeneralizedTime after, as RFC 5280 4.1.2.5 asks.
    Ok(Time::from(generalized.to_date_time()))
}

/// A time as `YYYY-MM-DDTHH:MM:SSZ` (or seconds since the epoch when out of
/// that form's range), for messages.
pub fn time_text(time: UnixTime) -> String {
    time.to_expires()
        .unwrap_or_else(|| format!("{} (Unix time)", time.0))
}

/// Parses an RFC 3339 date-time (`2026-12-01T02:00:00Z`,
/// `2026-12-01T03:00:00.250+01:00`) into seconds since the epoch.
///
/// Accepted: the `T` and `Z` separators in upper case, seconds 00 to 59
/// (no leap second), at most three fractional digits (OCPP 2.0.1's limit;
/// the fraction is ignored), `Z` or a `+HH:MM`/`-HH:MM` offset, years
/// 1970 to 9999. Anything else is `None`.
pub fn parse_rfc3339(text: &str) -> Option<UnixTime> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let year = digits(0..4)?;
    let month = digits(5..7)?;
    let day = digits(8..10)?;
    let hour = digits(11..13)?;
    let minute = digits(14..16)?;
    let second = digits(17..19)?;
    let mut rest = 19;
    if sep(rest, b'.') {
        let start = rest + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start || end - start > 3 {
            return None;
        }
        rest = end;
    }
    let offset = match b.get(rest)? {
        b'Z' if rest + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if rest + 6 == b.len() && sep(rest + 3, b':') => {
            let oh = digits(rest + 1..rest + 3)?;
            let om = digits(rest + 4..rest + 6)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let field = |v: i64| u32::try_from(v).ok();
    let local = fwsign_manifest_schema::expiry::from_civil(
        field(year)?,
        field(month)?,
        field(day)?,
        field(hour)?,
        field(minute)?,
        field(second)?,
    )?;
    Some(UnixTime(local.0 - offset * 60))
}

/// Parses a subject distinguished name: RFC 4514 (`CN=...,O=...,C=DE`,
/// most specific first) or OpenSSL's `/C=DE/O=.../CN=...`.
pub fn parse_subject(subject: &str) -> Result<Name, CertError> {
    let error = |detail: String| CertError::Subject {
        subject: subject.to_owned(),
        detail,
    };
    let trimmed = subject.trim();
    let text = match trimmed.strip_prefix('/') {
        // OpenSSL's form lists the RDNs in DER order; RFC 4514 the reverse.
        Some(slashed) => slashed.split('/').rev().collect::<Vec<_>>().join(","),
        None => trimmed.to_owned(),
    };
    if text.is_empty() {
        return Err(error("empty".to_owned()));
    }
    let name = Name::from_str(&text).map_err(|e| error(e.to_string()))?;
    if name.is_empty() {
        return Err(error("no attribute".to_owned()));
    }
    Ok(name)
}

/// What kind of certificate [`issue_certificate`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertProfile {
    /// A firmware-signing certificate: `CA:FALSE` (critical),
    /// `digitalSignature` (critical), extended key usage `codeSigning`.
    FirmwareSigning,
    /// An intermediate CA under the root: `CA:TRUE` with
    /// `pathLenConstraint` 0 (critical), `keyCertSign` and `cRLSign`
    /// (critical), extended key usage `codeSigning` so it can only issue
    /// for firmware signing.
    Intermediate,
}

impl CertProfile {
    /// The profile's default validity, in days.
    pub fn default_days(self) -> u32 {
        match self {
            Self::FirmwareSigning => SIGNER_DEFAULT_DAYS,
            Self::Intermediate => INTERMEDIATE_DEFAULT_DAYS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::FirmwareSigning => "firmware-signing certificate",
            Self::Intermediate => "intermediate CA certificate",
        }
    }

    fn day_range(self) -> (u32, u32) {
        match self {
            Self::FirmwareSigning => (SIGNER_MIN_DAYS, SIGNER_MAX_DAYS),
            Self::Intermediate => (1, CA_MAX_DAYS),
        }
    }
}

/// Options for [`build_root_ca`].
#[derive(Debug, Clone)]
pub struct RootOptions {
    /// The subject (and issuer) name.
    pub subject: Name,
    /// Start of validity.
    pub not_before: UnixTime,
    /// Validity in days (1 to [`CA_MAX_DAYS`]).
    pub days: u32,
}

/// Options for [`issue_certificate`].
#[derive(Debug, Clone)]
pub struct IssueOptions {
    /// What to issue.
    pub profile: CertProfile,
    /// The subject name.
    pub subject: Name,
    /// Start of validity (the current time, normally; earlier to re-issue).
    pub not_before: UnixTime,
    /// Validity in days: [`SIGNER_MIN_DAYS`] to [`SIGNER_MAX_DAYS`] for a
    /// signing certificate, 1 to [`CA_MAX_DAYS`] for an intermediate.
    pub days: u32,
    /// The current time: the CA certificate must be valid then.
    pub now: UnixTime,
}

/// Signs certificates and requests with a [`TufSigner`] holding a P-256 key,
/// in the form `x509-cert`'s builders take: a `Keypair` whose verifying key
/// encodes as SPKI, a signature algorithm identifier, and DER signatures.
struct P256CertSigner<'a> {
    inner: &'a dyn TufSigner,
    verifying: p256::ecdsa::VerifyingKey,
}

impl<'a> P256CertSigner<'a> {
    fn new(inner: &'a dyn TufSigner, what: &str) -> Result<Self, CertError> {
        let verifying = p256_key(inner.public_key(), what)?;
        Ok(Self { inner, verifying })
    }
}

fn p256_key(key: &PublicKey, what: &str) -> Result<p256::ecdsa::VerifyingKey, CertError> {
    if key.algorithm() != Algorithm::EcdsaP256 {
        return Err(CertError::NotP256 {
            what: what.to_owned(),
            algorithm: key.algorithm(),
        });
    }
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.sec1_or_raw_bytes()).map_err(|_| {
        CertError::PublicKey {
            what: what.to_owned(),
            source: KeyError::MalformedPublicKey("not a valid P-256 point".to_owned()),
        }
    })
}

impl Keypair for P256CertSigner<'_> {
    type VerifyingKey = p256::ecdsa::VerifyingKey;

    fn verifying_key(&self) -> Self::VerifyingKey {
        self.verifying
    }
}

impl SignatureAlgorithmIdentifier for P256CertSigner<'_> {
    type Params = der::AnyRef<'static>;

    // ecdsa-with-SHA256, parameters absent (RFC 5758 section 3.2).
    const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifier<Self::Params> = AlgorithmIdentifier {
        oid: ECDSA_WITH_SHA_256,
        parameters: None,
    };
}

impl Signer<p256::ecdsa::DerSignature> for P256CertSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<p256::ecdsa::DerSignature, signature::Error> {
        // Every TufSigner makes DER ECDSA-Sig-Value for P-256, which is
        // exactly the BIT STRING content X.509 wants.
        let sig = self.inner.try_sign(msg)?;
        p256::ecdsa::DerSignature::try_from(sig.0.as_slice())
    }
}

/// The builder profile fwsign uses for every certificate: the subject and
/// issuer given, the extensions given, then the key identifiers.
struct FwsignProfile {
    subject: Name,
    issuer: Name,
    extensions: Vec<Extension>,
    /// The issuer's subjectKeyIdentifier when it has one (so the AKI
    /// matches however the issuer computed it); otherwise derived from the
    /// issuer's key.
    issuer_key_id: Option<Vec<u8>>,
}

impl BuilderProfile for FwsignProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions = self.extensions.clone();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        extensions.push(ski.to_extension(tbs.subject(), &extensions)?);
        let key_identifier = match &self.issuer_key_id {
            Some(id) => OctetString::new(id.clone())?,
            None => AuthorityKeyIdentifier::try_from(issuer_spk)?
                .key_identifier
                .ok_or(x509_cert::builder::Error::MissingAttributes)?,
        };
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(key_identifier),
            ..Default::default()
        };
        extensions.push(aki.to_extension(tbs.subject(), &extensions)?);
        Ok(extensions)
    }
}

fn encoding(what: &'static str) -> impl Fn(der::Error) -> CertError {
    move |e| CertError::Encoding {
        what,
        detail: e.to_string(),
    }
}

fn ca_extensions(
    subject: &Name,
    path_len: Option<u8>,
    code_signing_only: bool,
) -> Result<Vec<Extension>, CertError> {
    let enc = encoding("certificate");
    let mut extensions = Vec::new();
    let bc = BasicConstraints {
        ca: true,
        path_len_constraint: path_len,
    };
    extensions.push(
        (true, &bc)
            .to_extension(subject, &extensions)
            .map_err(&enc)?,
    );
    let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    extensions.push(
        (true, &ku)
            .to_extension(subject, &extensions)
            .map_err(&enc)?,
    );
    if code_signing_only {
        let eku = ExtendedKeyUsage(vec![CODE_SIGNING]);
        extensions.push(
            (false, &eku)
                .to_extension(subject, &extensions)
                .map_err(&enc)?,
        );
    }
    Ok(extensions)
}

fn signing_extensions(subject: &Name) -> Result<Vec<Extension>, CertError> {
    let enc = encoding("certificate");
    let mut extensions = Vec::new();
    let bc = BasicConstraints {
        ca: false,
        path_len_constraint: None,
    };
    extensions.push(
        (true, &bc)
            .to_extension(subject, &extensions)
            .map_err(&enc)?,
    );
    let ku = KeyUsage(KeyUsages::DigitalSignature.into());
    extensions.push(
        (true, &ku)
            .to_extension(subject, &extensions)
            .map_err(&enc)?,
    );
    let eku = ExtendedKeyUsage(vec![CODE_SIGNING]);
    extensions.push(
        (false, &eku)
            .to_extension(subject, &extensions)
            .map_err(&enc)?,
    );
    Ok(extensions)
}

/// A positive serial number of 16 random bytes (RFC 5280 allows 20; CA/B
/// Forum asks for 64 random bits at least).
fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CertError::Rng(e.to_string()))?;
    // Clear the sign bit, and keep the first byte non-zero so the encoding
    // has the full length.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(encoding("serial number"))
}

fn validity(not_before: UnixTime, days: u32) -> Result<Validity, CertError> {
    let not_after = UnixTime(not_before.0 + i64::from(days) * DAY);
    Ok(Validity::new(to_time(not_before)?, to_time(not_after)?))
}

fn check_days(days: u32, profile: &'static str, min: u32, max: u32) -> Result<(), CertError> {
    if days < min || days > max {
        return Err(CertError::Validity {
            days,
            profile,
            min,
            max,
        });
    }
    Ok(())
}

/// Builds with `builder` and `signer`, then checks the new certificate's
/// signature with the signer's public key before handing it out.
fn build_and_check(
    builder: CertificateBuilder<FwsignProfile>,
    signer: &P256CertSigner<'_>,
    label: &str,
) -> Result<Certificate, CertError> {
    let x509 = builder
        .build::<_, p256::ecdsa::DerSignature>(signer)
        .map_err(|e| match e {
            x509_cert::builder::Error::Signature(source) => CertError::Signing {
                what: "certificate",
                source,
            },
            other => CertError::Encoding {
                what: "certificate",
                detail: other.to_string(),
            },
        })?;
    let der = x509.to_der().map_err(encoding("certificate"))?;
    let cert = Certificate::from_der(&der, label)?;
    let tbs = cert.tbs_der().map_err(encoding("certificate"))?;
    let sig =
        p256::ecdsa::DerSignature::try_from(cert.x509.signature().raw_bytes()).map_err(|_| {
            CertError::SignatureCheck {
                what: "certificate",
            }
        })?;
    signer
        .verifying
        .verify(tbs, &sig)
        .map_err(|_| CertError::SignatureCheck {
            what: "certificate",
        })?;
    Ok(cert)
}

/// Builds a self-signed manufacturer root with `key` (P-256; a key file or
/// an HSM key): `basicConstraints` `CA:TRUE` and `keyUsage` `keyCertSign`,
/// `cRLSign`, both critical, plus subject and authority key identifiers.
pub fn build_root_ca(key: &dyn TufSigner, options: &RootOptions) -> Result<Certificate, CertError> {
    check_days(options.days, "root CA certificate", 1, CA_MAX_DAYS)?;
    let signer = P256CertSigner::new(key, "the root key")?;
    let spki = x509_cert::SubjectPublicKeyInfo::from_key(&signer.verifying).map_err(|e| {
        CertError::Encoding {
            what: "certificate",
            detail: e.to_string(),
        }
    })?;
    let profile = FwsignProfile {
        subject: options.subject.clone(),
        issuer: options.subject.clone(),
        extensions: ca_extensions(&options.subject, None, false)?,
        issuer_key_id: None,
    };
    let builder = CertificateBuilder::new(
        profile,
        random_serial()?,
        validity(options.not_before, options.days)?,
        spki,
    )
    .map_err(|e| CertError::Encoding {
        what: "certificate",
        detail: e.to_string(),
    })?;
    build_and_check(builder, &signer, "root certificate")
}

/// Issues a certificate for `subject_key` under the CA certificate
/// `ca_cert`, signed with `ca_key` (P-256; a key file or an HSM key).
///
/// Refused before signing: a CA key that is not `ca_cert`'s key, a
/// `ca_cert` that is not a CA or not valid at [`IssueOptions::now`], an
/// intermediate under a CA with `pathLenConstraint` 0, a subject key that is
/// not P-256, a validity outside the profile's range.
pub fn issue_certificate(
    ca_key: &dyn TufSigner,
    ca_cert: &Certificate,
    subject_key: &PublicKey,
    options: &IssueOptions,
) -> Result<Certificate, CertError> {
    let (min, max) = options.profile.day_range();
    check_days(options.days, options.profile.name(), min, max)?;
    let signer = P256CertSigner::new(ca_key, "the CA key")?;
    let subject_vk = p256_key(subject_key, "the subject key")?;
    let ca_name = ca_cert.to_string();
    if ca_cert.public_key()? != *ca_key.public_key() {
        return Err(CertError::CaKeyMismatch { ca_cert: ca_name });
    }
    let tbs = ca_cert.x509.tbs_certificate();
    let bc = match tbs.get_extension::<BasicConstraints>() {
        Ok(Some((_, bc))) if bc.ca => bc,
        _ => {
            return Err(CertError::NotACa {
                ca_cert: ca_name,
                detail: "no basicConstraints CA:TRUE",
            });
        }
    };
    if let Ok(Some((_, ku))) = tbs.get_extension::<KeyUsage>()
        && !ku.key_cert_sign()
    {
        return Err(CertError::NotACa {
            ca_cert: ca_name,
            detail: "its keyUsage lacks keyCertSign",
        });
    }
    if options.profile == CertProfile::Intermediate && bc.path_len_constraint == Some(0) {
        return Err(CertError::PathLength { ca_cert: ca_name });
    }
    if options.now.0 < ca_cert.not_before().0 || options.now.0 > ca_cert.not_after().0 {
        return Err(CertError::CaNotValid {
            ca_cert: ca_name,
            at: time_text(options.now),
            not_before: time_text(ca_cert.not_before()),
            not_after: time_text(ca_cert.not_after()),
        });
    }
    let extensions = match options.profile {
        CertProfile::FirmwareSigning => signing_extensions(&options.subject)?,
        CertProfile::Intermediate => ca_extensions(&options.subject, Some(0), true)?,
    };
    let profile = FwsignProfile {
        subject: options.subject.clone(),
        issuer: tbs.subject().clone(),
        extensions,
        issuer_key_id: ca_cert.subject_key_id(),
    };
    let spki = x509_cert::SubjectPublicKeyInfo::from_key(&subject_vk).map_err(|e| {
        CertError::Encoding {
            what: "certificate",
            detail: e.to_string(),
        }
    })?;
    let builder = CertificateBuilder::new(
        profile,
        random_serial()?,
        validity(options.not_before, options.days)?,
        spki,
    )
    .map_err(|e| CertError::Encoding {
        what: "certificate",
        detail: e.to_string(),
    })?;
    build_and_check(builder, &signer, options.profile.name())
}

/// Builds a PKCS#10 certificate request for `key` (P-256; a key file or an
/// HSM key) and returns it as PEM (`CERTIFICATE REQUEST`).
///
/// The request asks, through its extension request attribute, for what a
/// firmware-signing certificate needs: `CA:FALSE`, `digitalSignature`
/// (both critical) and `codeSigning`. A corporate CA may or may not honour
/// requested extensions; `fwsign cert verify` tells whether what it issued
/// will be accepted.
pub fn build_csr(key: &dyn TufSigner, subject: &Name) -> Result<String, CertError> {
    let signer = P256CertSigner::new(key, "the key")?;
    let enc = encoding("certificate request");
    let mut builder = RequestBuilder::new(subject.clone()).map_err(|e| CertError::Encoding {
        what: "certificate request",
        detail: e.to_string(),
    })?;
    for ext in signing_extensions(subject)? {
        builder.add_extension(ext).map_err(&enc)?;
    }
    let request = builder
        .build::<_, p256::ecdsa::DerSignature>(&signer)
        .map_err(|e| match e {
            x509_cert::builder::Error::Signature(source) => CertError::Signing {
                what: "certificate request",
                source,
            },
            other => CertError::Encoding {
                what: "certificate request",
                detail: other.to_string(),
            },
        })?;
    // Check the request's proof of possession before handing it out.
    let info = request.info.to_der().map_err(&enc)?;
    let sig = p256::ecdsa::DerSignature::try_from(request.signature.raw_bytes()).map_err(|_| {
        CertError::SignatureCheck {
            what: "certificate request",
        }
    })?;
    signer
        .verifying
        .verify(&info, &sig)
        .map_err(|_| CertError::SignatureCheck {
            what: "certificate request",
        })?;
    let der = request.to_der().map_err(&enc)?;
    pem_rfc7468::encode_string(CSR_LABEL, pem_rfc7468::LineEnding::LF, &der).map_err(|e| {
        CertError::Encoding {
            what: "certificate request",
            detail: e.to_string(),
        }
    })
}

/// A path [`verify_signing_chain`] accepted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedChain {
    /// The path, signing certificate first, root last.
    pub path: Vec<Certificate>,
    /// The signing certificate's public key: what firmware signatures are
    /// checked with.
    pub signer_key: PublicKey,
    /// The time the path was checked at.
    pub checked_at: UnixTime,
}

impl VerifiedChain {
    /// The signing certificate.
    pub fn signer(&self) -> &Certificate {
        &self.path[0]
    }
}

/// Extensions [`verify_signing_chain`] understands; any other critical
/// extension refuses the certificate (RFC 5280 section 4.2).
const KNOWN_EXTENSIONS: [ObjectIdentifier; 6] = [
    ID_CE_BASIC_CONSTRAINTS,
    ID_CE_KEY_USAGE,
    ID_CE_EXT_KEY_USAGE,
    ID_CE_SUBJECT_KEY_IDENTIFIER,
    ID_CE_AUTHORITY_KEY_IDENTIFIER,
    // Names are not checked against anything, so a critical SAN changes
    // nothing here.
    ID_CE_SUBJECT_ALT_NAME,
];

/// Checks the certificate path of a firmware signature: `signer` (the
/// firmware-signing certificate), through `intermediates` (any order), to
/// `root`, the manufacturer root the charger trusts, at time `at`.
///
/// The checks, each a [`ChainError`] variant:
/// 1. at most [`MAX_INTERMEDIATES`] intermediates;
/// 2. a self-signed `signer` that is not `root` is [`ChainError::SelfSigned`];
/// 3. the path is built by issuer name: the root when it names the root,
///    otherwise an intermediate with that subject (preferring the one whose
///    subject key identifier matches the authority key identifier); none is
///    [`ChainError::UnknownIssuer`]. Each signature must be ECDSA P-256 with
///    SHA-256 and verify with the issuer's key over the exact `tbsCertificate`
///    bytes ([`ChainError::BadSignature`]; when the authority key identifier
///    shows another key made it, [`ChainError::UnknownIssuer`]);
/// 4. no certificate on the path, root included, has an unknown critical
///    extension or duplicate extensions;
/// 5. every certificate on the path, root included, is valid at `at`
///    ([`ChainError::Expired`], [`ChainError::NotYetValid`]);
/// 6. every issuer has `basicConstraints` `CA:TRUE`, and `keyCertSign` when
///    it has a `keyUsage` ([`ChainError::NotACa`]); its `pathLenConstraint`,
///    if any, covers the intermediates below it; a CA with an extended key
///    usage must list `codeSigning` or `anyExtendedKeyUsage`;
/// 7. `signer` is not a CA, has a `keyUsage` with `digitalSignature` and an
///    extended key usage with `codeSigning` (`anyExtendedKeyUsage` alone is
///    not enough), and a P-256 key ([`ChainError::WrongUsage`]).
///
/// Revocation is not checked: OCPP gives a charger no CRL or OCSP for
/// firmware certificates; rotate the signing certificate instead.
pub fn verify_signing_chain(
    signer: &Certificate,
    intermediates: &[Certificate],
    root: &Certificate,
    at: UnixTime,
) -> Result<VerifiedChain, ChainError> {
    if intermediates.len() > MAX_INTERMEDIATES {
        return Err(ChainError::TooLong {
            max: MAX_INTERMEDIATES,
        });
    }
    if signer.is_self_issued() && signer != root && verify_issued_by(signer, signer).is_ok() {
        return Err(ChainError::SelfSigned {
            cert: signer.to_string(),
            root: root.to_string(),
        });
    }

    // 3. Build the path.
    let mut path: Vec<&Certificate> = vec![signer];
    if signer != root {
        loop {
            let current = path[path.len() - 1];
            let issuer_name = current.x509.tbs_certificate().issuer();
            if issuer_name == root.x509.tbs_certificate().subject() {
                verify_link(current, root)?;
                path.push(root);
                break;
            }
            let wanted = current.authority_key_id();
            let mut candidates: Vec<&Certificate> = intermediates
                .iter()
                .filter(|c| c.x509.tbs_certificate().subject() == issuer_name)
                .filter(|c| !path.contains(c))
                .collect();
            // The one the authority key identifier points at first.
            candidates.sort_by_key(|c| wanted.is_none() || c.subject_key_id() != wanted);
            let Some(issuer) = candidates.first().copied() else {
                return Err(ChainError::UnknownIssuer {
                    cert: current.to_string(),
                    issuer: current.issuer(),
                    root: root.to_string(),
                });
            };
            verify_link(current, issuer)?;
            path.push(issuer);
            if path.len() > MAX_INTERMEDIATES + 2 {
                return Err(ChainError::TooLong {
                    max: MAX_INTERMEDIATES,
                });
            }
        }
    }

    // 4. Extensions every certificate must pass.
    for cert in &path {
        check_extensions(cert)?;
    }

    // 5. Validity.
    for cert in &path {
        if at.0 < cert.not_before().0 {
            return Err(ChainError::NotYetValid {
                cert: cert.to_string(),
                not_before: time_text(cert.not_before()),
                at: time_text(at),
            });
        }
        if at.0 > cert.not_after().0 {
            return Err(ChainError::Expired {
                cert: cert.to_string(),
                not_after: time_text(cert.not_after()),
                at: time_text(at),
            });
        }
    }

    // 6. Issuers.
    for (index, ca) in path.iter().enumerate().skip(1) {
        let child = path[index - 1];
        let tbs = ca.x509.tbs_certificate();
        let not_a_ca = |detail| ChainError::NotACa {
            cert: ca.to_string(),
            detail,
            child: child.to_string(),
        };
        let bc = match tbs.get_extension::<BasicConstraints>() {
            Ok(Some((_, bc))) if bc.ca => bc,
            Ok(Some(_)) => return Err(not_a_ca("basicConstraints says CA:FALSE")),
            _ => return Err(not_a_ca("no basicConstraints CA:TRUE")),
        };
        if let Ok(Some((_, ku))) = tbs.get_extension::<KeyUsage>()
            && !ku.key_cert_sign()
        {
            return Err(not_a_ca("its keyUsage lacks keyCertSign"));
        }
        // Intermediates strictly below this CA (the signer is not one).
        let below = index - 1;
        if let Some(limit) = bc.path_len_constraint
            && usize::from(limit) < below
        {
            return Err(ChainError::PathLength {
                cert: ca.to_string(),
                limit,
                below,
            });
        }
        if let Some(eku) = extended_key_usage(ca)?
            && !eku.contains(&CODE_SIGNING)
            && !eku.contains(&ANY_EXTENDED_KEY_USAGE)
        {
            return Err(ChainError::WrongUsage {
                cert: ca.to_string(),
                detail: "a CA whose extended key usage excludes codeSigning".to_owned(),
            });
        }
    }

    // 7. The signing certificate.
    check_signer_usage(signer)?;
    let signer_key = signer
        .public_key()
        .ok()
        .filter(|k| k.algorithm() == Algorithm::EcdsaP256)
        .ok_or_else(|| ChainError::UnsupportedAlgorithm {
            cert: signer.to_string(),
            detail: "the public key is not ECDSA P-256".to_owned(),
        })?;
    Ok(VerifiedChain {
        path: path.into_iter().cloned().collect(),
        signer_key,
        checked_at: at,
    })
}

/// The signing certificate's own usage checks (step 7 of
/// [`verify_signing_chain`]), and its validity at `at`, without a path: what
/// `fwsign ocpp sign` warns about before it signs.
pub fn check_signer_certificate(signer: &Certificate, at: UnixTime) -> Result<(), ChainError> {
    check_extensions(signer)?;
    check_signer_usage(signer)?;
    if at.0 < signer.not_before().0 {
        return Err(ChainError::NotYetValid {
            cert: signer.to_string(),
            not_before: time_text(signer.not_before()),
            at: time_text(at),
        });
    }
    if at.0 > signer.not_after().0 {
        return Err(ChainError::Expired {
            cert: signer.to_string(),
            not_after: time_text(signer.not_after()),
            at: time_text(at),
        });
    }
    Ok(())
}

fn check_signer_usage(signer: &Certificate) -> Result<(), ChainError> {
    let wrong = |detail: &str| ChainError::WrongUsage {
        cert: signer.to_string(),
        detail: detail.to_owned(),
    };
    let tbs = signer.x509.tbs_certificate();
    if signer.is_ca() {
        return Err(wrong(
            "a CA certificate; firmware must be signed with a CA:FALSE signing certificate",
        ));
    }
    match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, ku))) if ku.digital_signature() => {}
        Ok(Some(_)) => return Err(wrong("its keyUsage lacks digitalSignature")),
        _ => return Err(wrong("no keyUsage extension with digitalSignature")),
    }
    match extended_key_usage(signer)? {
        Some(eku) if eku.contains(&CODE_SIGNING) => Ok(()),
        Some(_) => Err(wrong(
            "its extended key usage lacks codeSigning (1.3.6.1.5.5.7.3.3)",
        )),
        None => Err(wrong(
            "no extended key usage extension with codeSigning (1.3.6.1.5.5.7.3.3)",
        )),
    }
}

fn extended_key_usage(cert: &Certificate) -> Result<Option<Vec<ObjectIdentifier>>, ChainError> {
    match cert
        .x509
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
    {
        Ok(found) => Ok(found.map(|(_, eku)| eku.0)),
        Err(e) => Err(ChainError::Malformed {
            cert: cert.to_string(),
            detail: format!("extended key usage: {e}"),
        }),
    }
}

fn check_extensions(cert: &Certificate) -> Result<(), ChainError> {
    let Some(extensions) = cert.x509.tbs_certificate().extensions() else {
        return Ok(());
    };
    let mut seen = Vec::new();
    for ext in extensions {
        if seen.contains(&ext.extn_id) {
            return Err(ChainError::Malformed {
                cert: cert.to_string(),
                detail: format!("extension {} appears twice", ext.extn_id),
            });
        }
        seen.push(ext.extn_id);
        if ext.critical && !KNOWN_EXTENSIONS.contains(&ext.extn_id) {
            return Err(ChainError::UnknownCriticalExtension {
                cert: cert.to_string(),
                oid: ext.extn_id.to_string(),
            });
        }
    }
    // The ones fwsign reads must decode.
    let tbs = cert.x509.tbs_certificate();
    let malformed = |what: &str, e: der::Error| ChainError::Malformed {
        cert: cert.to_string(),
        detail: format!("{what}: {e}"),
    };
    tbs.get_extension::<BasicConstraints>()
        .map_err(|e| malformed("basicConstraints", e))?;
    tbs.get_extension::<KeyUsage>()
        .map_err(|e| malformed("keyUsage", e))?;
    Ok(())
}

/// Checks that `issuer` signed `cert`, and says why not.
fn verify_link(cert: &Certificate, issuer: &Certificate) -> Result<(), ChainError> {
    match verify_issued_by(cert, issuer) {
        Ok(()) => Ok(()),
        Err(LinkFailure::Unsupported(detail)) => Err(ChainError::UnsupportedAlgorithm {
            cert: cert.to_string(),
            detail,
        }),
        Err(LinkFailure::Malformed(detail)) => Err(ChainError::Malformed {
            cert: cert.to_string(),
            detail,
        }),
        Err(LinkFailure::Signature) => {
            // Same name, but the key identifiers say another key issued it:
            // a certificate from another CA that happens to share the name.
            match (cert.authority_key_id(), issuer.subject_key_id()) {
                (Some(aki), Some(ski)) if aki != ski => Err(ChainError::UnknownIssuer {
                    cert: cert.to_string(),
                    issuer: cert.issuer(),
                    root: issuer.to_string(),
                }),
                _ => Err(ChainError::BadSignature {
                    cert: cert.to_string(),
                    issuer: issuer.to_string(),
                }),
            }
        }
    }
}

enum LinkFailure {
    Unsupported(String),
    Malformed(String),
    Signature,
}

fn verify_issued_by(cert: &Certificate, issuer: &Certificate) -> Result<(), LinkFailure> {
    let outer = cert.x509.signature_algorithm();
    let inner = cert.x509.tbs_certificate().signature();
    if outer != inner {
        return Err(LinkFailure::Malformed(
            "the signature algorithm inside and outside tbsCertificate differ".to_owned(),
        ));
    }
    // RFC 5758 3.2: ecdsa-with-SHA256 with the parameters absent.
    if outer.oid != ECDSA_WITH_SHA_256 || outer.parameters.is_some() {
        return Err(LinkFailure::Unsupported(format!(
            "signature algorithm {} (only ecdsa-with-SHA256 is accepted)",
            outer.oid
        )));
    }
    let spki = issuer.x509.tbs_certificate().subject_public_key_info();
    let key = p256::ecdsa::VerifyingKey::try_from(spki.owned_to_ref()).map_err(|_| {
        LinkFailure::Unsupported(format!(
            "its issuer {issuer} does not have an ECDSA P-256 key"
        ))
    })?;
    let sig = p256::ecdsa::Signature::from_der(cert.x509.signature().raw_bytes())
        .map_err(|_| LinkFailure::Signature)?;
    let tbs = cert
        .tbs_der()
        .map_err(|e| LinkFailure::Malformed(e.to_string()))?;
    // High S accepted: OpenSSL-made certificates have it half of the time.
    key.verify(tbs, &sig).map_err(|_| LinkFailure::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    const NOW: UnixTime = UnixTime(1_780_000_000); // 2026-05-28

    fn key() -> PrivateKey {
        PrivateKey::generate(Algorithm::EcdsaP256).unwrap()
    }

    fn root(key: &PrivateKey, cn: &str) -> Certificate {
        build_root_ca(
            key,
            &RootOptions {
                subject: parse_subject(&format!("CN={cn},O=ACME,C=DE")).unwrap(),
                not_before: NOW,
                days: ROOT_DEFAULT_DAYS,
            },
        )
        .unwrap()
    }

    fn issue(
        ca_key: &PrivateKey,
        ca: &Certificate,
        subject_key: &PrivateKey,
        profile: CertProfile,
        not_before: UnixTime,
        days: u32,
    ) -> Result<Certificate, CertError> {
        issue_certificate(
            ca_key,
            ca,
            subject_key.public_key(),
            &IssueOptions {
                profile,
                subject: parse_subject("CN=Firmware Signing,O=ACME,C=DE").unwrap(),
                not_before,
                days,
                now: NOW,
            },
        )
    }

    #[test]
    fn rfc3339_parses_utc_offsets_and_fractions_and_refuses_the_rest() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UnixTime(0)));
        assert_eq!(
            parse_rfc3339("2026-12-01T02:00:00Z"),
            Some(UnixTime(1_796_090_400))
        );
        assert_eq!(
            parse_rfc3339("2026-12-01T03:30:00.250+01:30"),
            parse_rfc3339("2026-12-01T02:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00-00:00").map(|t| t.0 % DAY),
            Some(0)
        );
        for bad in [
            "2026-12-01",
            "2026-12-01 02:00:00Z",
            "2026-12-01T02:00:00",
            "2026-12-01T02:00:00z",
            "2026-13-01T02:00:00Z",
            "2025-02-29T02:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T02:00:60Z",
            "2026-12-01T02:00:00.1234Z",
            "2026-12-01T02:00:00.Z",
            "2026-12-01T02:00:00+0100",
            "2026-12-01T02:00:00Z ",
            "1969-12-31T23:59:59Z",
            "+026-12-01T02:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn subjects_in_both_orders_give_the_same_name() {
        let a = parse_subject("CN=Root,O=ACME,C=DE").unwrap();
        let b = parse_subject("/C=DE/O=ACME/CN=Root").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "CN=Root,O=ACME,C=DE");
        assert!(matches!(parse_subject(""), Err(CertError::Subject { .. })));
        assert!(matches!(
            parse_subject("nonsense"),
            Err(CertError::Subject { .. })
        ));
    }

    #[test]
    fn root_intermediate_signer_chain_verifies() {
        let (rk, ik, sk) = (key(), key(), key());
        let root = root(&rk, "Root");
        assert!(root.is_ca());
        let inter = issue(&rk, &root, &ik, CertProfile::Intermediate, NOW, 3653).unwrap();
        let signer = issue(&ik, &inter, &sk, CertProfile::FirmwareSigning, NOW, 730).unwrap();
        assert!(!signer.is_ca());
        let at = UnixTime(NOW.0 + DAY);
        let chain = verify_signing_chain(&signer, std::slice::from_ref(&inter), &root, at).unwrap();
        assert_eq!(chain.path.len(), 3);
        assert_eq!(&chain.signer_key, sk.public_key());
        // Directly under the root too.
        let direct = issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 365).unwrap();
        verify_signing_chain(&direct, &[], &root, at).unwrap();
        // PEM round trip.
        let pem = format!("{}{}", signer.to_pem(), inter.to_pem());
        let parsed = Certificate::chain_from_pem(&pem, "chain").unwrap();
        assert_eq!(parsed, vec![signer.clone(), inter.clone()]);
        assert_eq!(parsed[1].label(), "chain[2]");
        assert!(matches!(
            Certificate::from_pem(&pem, "two"),
            Err(CertError::NotOneCertificate { count: 2, .. })
        ));
    }

    #[test]
    fn each_chain_failure_is_named() {
        let (rk, ik, sk, other_k) = (key(), key(), key(), key());
        let root = root(&rk, "Root");
        let at = UnixTime(NOW.0 + DAY);
        let signer = issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 730).unwrap();

        // Expired and not yet valid.
        let late = UnixTime(NOW.0 + 800 * DAY);
        assert!(matches!(
            verify_signing_chain(&signer, &[], &root, late),
            Err(ChainError::Expired { .. })
        ));
        let early = UnixTime(NOW.0 - DAY);
        assert!(matches!(
            verify_signing_chain(&signer, &[], &root, early),
            Err(ChainError::NotYetValid { .. })
        ));

        // Another root with another name: unknown issuer; with the same name
        // (other key): unknown issuer by key identifier.
        let other = self::root(&other_k, "Other Root");
        assert!(matches!(
            verify_signing_chain(&signer, &[], &other, at),
            Err(ChainError::UnknownIssuer { .. })
        ));
        let same_name = self::root(&other_k, "Root");
        assert!(matches!(
            verify_signing_chain(&signer, &[], &same_name, at),
            Err(ChainError::UnknownIssuer { .. })
        ));

        // A tampered signature.
        let mut der = signer.der().to_vec();
        let last = der.len() - 3;
        der[last] ^= 0x01;
        if let Ok(bad) = Certificate::from_der(&der, "tampered") {
            assert!(matches!(
                verify_signing_chain(&bad, &[], &root, at),
                Err(ChainError::BadSignature { .. })
            ));
        }

        // The root as signer, and a CA as signer: wrong usage.
        assert!(matches!(
            verify_signing_chain(&root, &[], &root, at),
            Err(ChainError::WrongUsage { .. })
        ));
        let inter = issue(&rk, &root, &ik, CertProfile::Intermediate, NOW, 3653).unwrap();
        assert!(matches!(
            verify_signing_chain(&inter, &[], &root, at),
            Err(ChainError::WrongUsage { .. })
        ));

        // A signing certificate that issued another: not a CA.
        let sneaky = issue_certificate(
            &sk,
            &signer,
            other_k.public_key(),
            &IssueOptions {
                profile: CertProfile::FirmwareSigning,
                subject: parse_subject("CN=Sneaky").unwrap(),
                not_before: NOW,
                days: 365,
                now: NOW,
            },
        );
        assert!(matches!(sneaky, Err(CertError::NotACa { .. })));

        // An intermediate under an intermediate breaks pathLen 0.
        let inter2 = issue(&ik, &inter, &other_k, CertProfile::Intermediate, NOW, 365);
        assert!(matches!(inter2, Err(CertError::PathLength { .. })));

        // A self-signed signer with every usage right.
        let self_signed = self_signed_signer(&sk);
        check_signer_certificate(&self_signed, at).unwrap();
        assert!(matches!(
            verify_signing_chain(&self_signed, &[], &root, at),
            Err(ChainError::SelfSigned { .. })
        ));
    }

    fn self_signed_signer(key: &PrivateKey) -> Certificate {
        let subject = parse_subject("CN=Self Signed,O=ACME").unwrap();
        let signer = P256CertSigner::new(key, "key").unwrap();
        let spki = x509_cert::SubjectPublicKeyInfo::from_key(&signer.verifying).unwrap();
        let profile = FwsignProfile {
            subject: subject.clone(),
            issuer: subject.clone(),
            extensions: signing_extensions(&subject).unwrap(),
            issuer_key_id: None,
        };
        let builder = CertificateBuilder::new(
            profile,
            random_serial().unwrap(),
            validity(NOW, 730).unwrap(),
            spki,
        )
        .unwrap();
        build_and_check(builder, &signer, "self-signed").unwrap()
    }

    #[test]
    fn issuing_refuses_bad_inputs() {
        let (rk, sk) = (key(), key());
        let root = root(&rk, "Root");
        assert!(matches!(
            issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 364),
            Err(CertError::Validity { .. })
        ));
        assert!(matches!(
            issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 1097),
            Err(CertError::Validity { .. })
        ));
        // The wrong CA key.
        assert!(matches!(
            issue(&sk, &root, &sk, CertProfile::FirmwareSigning, NOW, 730),
            Err(CertError::CaKeyMismatch { .. })
        ));
        // Ed25519 keys.
        let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        assert!(matches!(
            issue(&rk, &root, &ed, CertProfile::FirmwareSigning, NOW, 730),
            Err(CertError::NotP256 { .. })
        ));
        assert!(matches!(
            build_root_ca(
                &ed,
                &RootOptions {
                    subject: parse_subject("CN=x").unwrap(),
                    not_before: NOW,
                    days: 10
                }
            ),
            Err(CertError::NotP256 { .. })
        ));
        let csr = build_csr(&sk, &parse_subject("CN=Signer,O=ACME").unwrap()).unwrap();
        assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
    }
}
