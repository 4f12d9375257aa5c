//! Making certificates: the self-signed manufacturer root, intermediate CAs
//! and firmware-signing certificates issued under them, and PKCS#10
//! requests, each signed through a [`TufSigner`](fwsign_keys::TufSigner).
//!
//! Separate from the chain check: issuing is what a manufacturer does once,
//! checking is what every charger (and `fwsign ocpp verify`) does.

use const_oid::db::rfc5912::ECDSA_WITH_SHA_256;
use der::Encode;
use der::asn1::OctetString;
use fwsign_manifest_schema::expiry::UnixTime;
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
use x509_cert::time::Validity;

use fwsign_keys::{Algorithm, KeyError, PublicKey, TufSigner};

use super::error::CertError;
use super::parse::{Certificate, time_text, to_time};
use super::{
    CA_MAX_DAYS, CODE_SIGNING, CSR_LABEL, DAY, INTERMEDIATE_DEFAULT_DAYS, SIGNER_DEFAULT_DAYS,
    SIGNER_MAX_DAYS, SIGNER_MIN_DAYS,
};

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
pub(super) struct P256CertSigner<'a> {
    inner: &'a dyn TufSigner,
    pub(super) verifying: p256::ecdsa::VerifyingKey,
}

impl<'a> P256CertSigner<'a> {
    pub(super) fn new(inner: &'a dyn TufSigner, what: &str) -> Result<Self, CertError> {
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
pub(super) struct FwsignProfile {
    pub(super) subject: Name,
    pub(super) issuer: Name,
    pub(super) extensions: Vec<Extension>,
    /// The issuer's subjectKeyIdentifier when it has one (so the AKI
    /// matches however the issuer computed it); otherwise derived from the
    /// issuer's key.
    pub(super) issuer_key_id: Option<Vec<u8>>,
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
    let bc = BasicConstraints {
        ca: true,
        path_len_constraint: path_len,
    };
    let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    usage_extensions(subject, bc, ku, code_signing_only)
}

pub(super) fn signing_extensions(subject: &Name) -> Result<Vec<Extension>, CertError> {
    let bc = BasicConstraints {
        ca: false,
        path_len_constraint: None,
    };
    let ku = KeyUsage(KeyUsages::DigitalSignature.into());
    usage_extensions(subject, bc, ku, true)
}

/// Basic constraints and key usage (both critical) and, when
/// `code_signing`, an extended key usage of code signing (not critical).
fn usage_extensions(
    subject: &Name,
    bc: BasicConstraints,
    ku: KeyUsage,
    code_signing: bool,
) -> Result<Vec<Extension>, CertError> {
    let enc = encoding("certificate");
    let mut extensions = Vec::new();
    let ext = (true, &bc).to_extension(subject, &extensions);
    extensions.push(ext.map_err(&enc)?);
    let ext = (true, &ku).to_extension(subject, &extensions);
    extensions.push(ext.map_err(&enc)?);
    if code_signing {
        let eku = ExtendedKeyUsage(vec![CODE_SIGNING]);
        let ext = (false, &eku).to_extension(subject, &extensions);
        extensions.push(ext.map_err(&enc)?);
    }
    Ok(extensions)
}

/// A positive serial number of 16 random bytes (RFC 5280 allows 20; CA/B
/// Forum asks for 64 random bits at least).
pub(super) fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CertError::Rng(e.to_string()))?;
    // Clear the sign bit, and keep the first byte non-zero so the encoding
    // has the full length.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(encoding("serial number"))
}

pub(super) fn validity(not_before: UnixTime, days: u32) -> Result<Validity, CertError> {
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
/// The certificate `profile` describes for `subject_key`, valid for `days`
/// from `not_before` under a fresh serial, signed by `signer` and checked
/// against its key.
pub(super) fn build_and_check(
    profile: FwsignProfile,
    subject_key: &p256::ecdsa::VerifyingKey,
    not_before: UnixTime,
    days: u32,
    signer: &P256CertSigner<'_>,
    label: &str,
) -> Result<Certificate, CertError> {
    let malformed = |e: &dyn std::fmt::Display| CertError::Encoding {
        what: "certificate",
        detail: e.to_string(),
    };
    let spki = x509_cert::SubjectPublicKeyInfo::from_key(subject_key).map_err(|e| malformed(&e))?;
    let builder =
        CertificateBuilder::new(profile, random_serial()?, validity(not_before, days)?, spki)
            .map_err(|e| malformed(&e))?;
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
    let profile = FwsignProfile {
        subject: options.subject.clone(),
        issuer: options.subject.clone(),
        extensions: ca_extensions(&options.subject, None, false)?,
        issuer_key_id: None,
    };
    build_and_check(
        profile,
        &signer.verifying,
        options.not_before,
        options.days,
        &signer,
        "root certificate",
    )
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
    build_and_check(
        profile,
        &subject_vk,
        options.not_before,
        options.days,
        &signer,
        options.profile.name(),
    )
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
