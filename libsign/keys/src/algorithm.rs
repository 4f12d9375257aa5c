//! The signature algorithms fwsign holds keys for ([`Algorithm`]), with their
//! TUF names, and which of them an SPKI or PKCS#8 algorithm identifier names.
//!
//! Separate because public keys, private keys and the CLI all name an
//! algorithm the same way.

use core::fmt;
use core::str::FromStr;

use pkcs8::ObjectIdentifier;
use spki::AlgorithmIdentifierRef;

use super::error::KeyError;
use super::{EC_PUBLIC_KEY_OID, ED25519_OID, P256_OID};

/// A signature algorithm fwsign can hold keys for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA over NIST P-256 with SHA-256 (TUF scheme `ecdsa-sha2-nistp256`).
    EcdsaP256,
    /// Pure Ed25519 (TUF scheme `ed25519`).
    Ed25519,
}

impl Algorithm {
    /// The name fwsign uses for the algorithm on its command line and in its
    /// own files: `ecdsa-p256` or `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ecdsa-p256" => Ok(Self::EcdsaP256),
            "ed25519" => Ok(Self::Ed25519),
            other => Err(KeyError::UnknownAlgorithmName(other.to_owned())),
        }
    }
}

/// Which supported algorithm an SPKI or PKCS#8 `AlgorithmIdentifier` names.
pub(super) fn classify(alg: &AlgorithmIdentifierRef<'_>) -> Result<Algorithm, KeyError> {
    if alg.oid == EC_PUBLIC_KEY_OID {
        return match alg.parameters_oid() {
            Ok(curve) if curve == P256_OID => Ok(Algorithm::EcdsaP256),
            Ok(curve) => Err(KeyError::UnsupportedAlgorithm(format!(
                "elliptic curve {}",
                oid_name(curve)
            ))),
            // Explicit curve parameters are legal ASN.1 but nobody should
            // sign firmware with them; named curves only.
            Err(_) => Err(KeyError::UnsupportedAlgorithm(
                "elliptic curve without a named-curve identifier".to_owned(),
            )),
        };
    }
    if alg.oid == ED25519_OID {
        // RFC 8410 section 3: the parameters MUST be absent.
        if alg.parameters.is_some() {
            return Err(KeyError::UnsupportedAlgorithm(
                "Ed25519 with algorithm parameters (RFC 8410 forbids them)".to_owned(),
            ));
        }
        return Ok(Algorithm::Ed25519);
    }
    Err(KeyError::UnsupportedAlgorithm(format!(
        "algorithm {}",
        oid_name(alg.oid)
    )))
}

/// A readable name for the OIDs people are likely to try, the number otherwise.
fn oid_name(oid: ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.3.132.0.10" => "secp256k1",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        _ => return format!("OID {oid}"),
    };
    format!("{name} (OID {oid})")
}
