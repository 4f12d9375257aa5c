//! Reading certificates: the parsed [`Certificate`] with its DER, PEM
//! files and chains, and the RFC 3339 times and subject names the CLI takes.
//!
//! Separate from building and checking because both of those read
//! certificates the same way, and the OCPP messages read them too.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use der::asn1::GeneralizedTime;
use der::{Decode, Encode, Reader, SliceReader};
use fwsign_manifest_schema::expiry::UnixTime;
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::time::Time;

use fwsign_keys::PublicKey;

use super::CERTIFICATE_LABEL;
use super::error::CertError;

/// A parsed X.509 certificate with its original DER and a label naming
/// where it came from (a file name, `chain.pem[2]`, `signingCertificate[1]`).
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    pub(super) x509: x509_cert::Certificate,
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
    pub(super) fn tbs_der(&self) -> der::Result<&[u8]> {
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
    pub(super) fn is_self_issued(&self) -> bool {
        let tbs = self.x509.tbs_certificate();
        tbs.subject() == tbs.issuer()
    }

    pub(super) fn subject_key_id(&self) -> Option<Vec<u8>> {
        match self
            .x509
            .tbs_certificate()
            .get_extension::<SubjectKeyIdentifier>()
        {
            Ok(Some((_, ski))) => Some(ski.0.as_bytes().to_vec()),
            _ => None,
        }
    }

    pub(super) fn authority_key_id(&self) -> Option<Vec<u8>> {
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

pub(super) fn to_time(time: UnixTime) -> Result<Time, CertError> {
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
