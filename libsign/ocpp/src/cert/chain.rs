//! Checking a firmware signature's certificate path the way a charger does
//! (RFC 5280 path validation, restricted to what a firmware signature
//! needs): [`verify_signing_chain`] and the signing certificate's own usage
//! checks.
//!
//! Separate from building so the checks a charger relies on read on their
//! own, without the issuing code around them.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::{
    ANY_EXTENDED_KEY_USAGE, ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_BASIC_CONSTRAINTS,
    ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME, ID_CE_SUBJECT_KEY_IDENTIFIER,
};
use const_oid::db::rfc5912::ECDSA_WITH_SHA_256;
use der::referenced::OwnedToRef;
use fwsign_manifest_schema::expiry::UnixTime;
use signature::Verifier;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use fwsign_keys::{Algorithm, PublicKey};

use super::error::ChainError;
use super::parse::{Certificate, time_text};
use super::{CODE_SIGNING, MAX_INTERMEDIATES};

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
