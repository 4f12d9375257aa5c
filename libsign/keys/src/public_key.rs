//! Public keys and TUF key objects: SPKI in PEM and DER, the key object
//! securesystemslib writes, [`key_id`], and signature verification.
//!
//! Separate from private keys because this is what must agree byte for byte
//! with python-tuf (a key ID is a hash over the key object), and it holds no
//! secret.

use core::fmt::{self, Write as _};

use fwsign_manifest_schema::canonical::{CanonicalError, to_canonical_vec};
use fwsign_manifest_schema::metadata::{Key, KeyVal};
use pkcs8::der::Decode;
use pkcs8::{Document, LineEnding};
use sha2::{Digest, Sha256};
use signature::Verifier;
use spki::{EncodePublicKey, SubjectPublicKeyInfoRef};

use super::algorithm::{Algorithm, classify};
use super::error::KeyError;
use super::{
    PUBLIC_KEY_LABEL, TUF_KEYTYPE_ECDSA, TUF_KEYTYPE_ECDSA_LEGACY, TUF_KEYTYPE_ED25519,
    TUF_SCHEME_ECDSA_P256, TUF_SCHEME_ED25519,
};

/// Lowercase hex, the form securesystemslib writes.
pub(super) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a String cannot fail");
    }
    out
}

/// Decodes hex of exactly `N` bytes (either case, as Python's
/// `bytes.fromhex` accepts).
fn hex_array<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    base16ct::mixed::decode(hex, &mut out).ok()?;
    Some(out)
}

/// A public key of one of the supported algorithms.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub(super) inner: PublicInner,
}

#[derive(Clone, PartialEq, Eq)]
pub(super) enum PublicInner {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm())
            .field("public", &hex_lower(&self.sec1_or_raw_bytes()))
            .finish()
    }
}

impl PublicKey {
    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            PublicInner::P256(_) => Algorithm::EcdsaP256,
            PublicInner::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// Reads a P-256 or Ed25519 public key from an SPKI PEM document
    /// (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        // Leading blank lines are common in hand-edited files and harmless;
        // the strict RFC 7468 decoder would refuse them.
        let (label, doc) =
            Document::from_pem(pem.trim_start()).map_err(|e| KeyError::Pem(e.to_string()))?;
        if label != PUBLIC_KEY_LABEL {
            return Err(KeyError::UnexpectedPemLabel {
                found: label.to_owned(),
                expected: PUBLIC_KEY_LABEL,
            });
        }
        Self::from_spki_der(doc.as_bytes())
    }

    /// Reads a P-256 or Ed25519 public key from a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::MalformedPublicKey(e.to_string()))?;
        let alg = classify(&spki.algorithm)?;
        let bytes = spki.subject_public_key.as_bytes().ok_or_else(|| {
            KeyError::MalformedPublicKey("the key's BIT STRING is not whole bytes".to_owned())
        })?;
        Self::from_algorithm_bytes(alg, bytes)
    }

    /// Builds a key from a SEC1 point (P-256) or the 32 raw bytes (Ed25519).
    fn from_algorithm_bytes(alg: Algorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        let inner = match alg {
            Algorithm::EcdsaP256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicInner::P256)
                .map_err(|_| {
                    KeyError::MalformedPublicKey("not a valid P-256 SEC1 point".to_owned())
                })?,
            Algorithm::Ed25519 => {
                let raw: &[u8; 32] = bytes.try_into().map_err(|_| {
                    KeyError::MalformedPublicKey(format!(
                        "an Ed25519 public key is 32 bytes, found {}",
                        bytes.len()
                    ))
                })?;
                ed25519_dalek::VerifyingKey::from_bytes(raw)
                    .map(PublicInner::Ed25519)
                    .map_err(|_| {
                        KeyError::MalformedPublicKey("not a valid Ed25519 point".to_owned())
                    })?
            }
        };
        Ok(Self { inner })
    }

    /// The key as a DER SubjectPublicKeyInfo (named curve and uncompressed
    /// point for P-256, as OpenSSL and pyca/cryptography write it).
    pub fn to_spki_der(&self) -> Vec<u8> {
        let doc = match &self.inner {
            PublicInner::P256(vk) => vk.to_public_key_der(),
            PublicInner::Ed25519(vk) => vk.to_public_key_der(),
        };
        doc.expect("a valid public key always encodes as SPKI")
            .into_vec()
    }

    /// The key as SPKI PEM, byte-identical to pyca/cryptography's
    /// `public_bytes(PEM, SubjectPublicKeyInfo)`: `-----BEGIN PUBLIC KEY-----`,
    /// base64 in 64-column lines, `\n` line ends and a final newline.
    ///
    /// The P-256 key ID is a hash over this text, so any other wrapping would
    /// give the same key a different ID than python-tuf gives it.
    pub fn to_spki_pem(&self) -> String {
        Document::try_from(self.to_spki_der())
            .and_then(|doc| doc.to_pem(PUBLIC_KEY_LABEL, LineEnding::LF))
            .expect("a DER SPKI always encodes as PEM")
    }

    /// Reads a TUF key object.
    ///
    /// Accepted: keytype `ecdsa` or `ecdsa-sha2-nistp256` with scheme
    /// `ecdsa-sha2-nistp256`, the public key as SPKI PEM or as a hex SEC1
    /// point; keytype and scheme `ed25519` with 64 hex digits. Fields other
    /// than `keytype`, `scheme` and `keyval.public` are ignored here (they
    /// still count in [`key_id`]).
    pub fn from_tuf_key(key: &Key) -> Result<Self, KeyError> {
        let public = key.keyval.public.as_str();
        match (key.keytype.as_str(), key.scheme.as_str()) {
            (TUF_KEYTYPE_ED25519, TUF_SCHEME_ED25519) => {
                let raw = hex_array::<32>(public).ok_or_else(|| {
                    KeyError::MalformedPublicKey(
                        "an ed25519 TUF key's keyval.public must be 64 hex digits".to_owned(),
                    )
                })?;
                Self::from_algorithm_bytes(Algorithm::Ed25519, &raw)
            }
            (TUF_KEYTYPE_ECDSA | TUF_KEYTYPE_ECDSA_LEGACY, TUF_SCHEME_ECDSA_P256) => {
                if public.trim_start().starts_with("-----BEGIN") {
                    let pk = Self::from_spki_pem(public)?;
                    if pk.algorithm() != Algorithm::EcdsaP256 {
                        return Err(KeyError::MalformedPublicKey(format!(
                            "keytype {:?} but keyval.public holds an {} key",
                            key.keytype,
                            pk.algorithm()
                        )));
                    }
                    return Ok(pk);
                }
                // Uncompressed (65 bytes) or compressed (33 bytes) SEC1.
                let mut buf = [0u8; 65];
                let sec1 = base16ct::mixed::decode(public, &mut buf).map_err(|_| {
                    KeyError::MalformedPublicKey(
                        "an ecdsa TUF key's keyval.public must be SPKI PEM or a hex SEC1 point"
                            .to_owned(),
                    )
                })?;
                Self::from_algorithm_bytes(Algorithm::EcdsaP256, sec1)
            }
            (keytype, scheme) => Err(KeyError::UnsupportedTufKey {
                keytype: keytype.to_owned(),
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// The key as securesystemslib writes it, and nothing more: Ed25519 as
    /// `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"<hex>"}}`,
    /// P-256 as `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256",
    /// "keyval":{"public":"<SPKI PEM>"}}`.
    pub fn to_tuf_key(&self) -> Key {
        let (keytype, scheme, public) = match &self.inner {
            PublicInner::Ed25519(vk) => (
                TUF_KEYTYPE_ED25519,
                TUF_SCHEME_ED25519,
                hex_lower(vk.as_bytes()),
            ),
            PublicInner::P256(_) => (TUF_KEYTYPE_ECDSA, TUF_SCHEME_ECDSA_P256, self.to_spki_pem()),
        };
        Key {
            keytype: keytype.to_owned(),
            scheme: scheme.to_owned(),
            keyval: KeyVal {
                public,
                unknown: Default::default(),
            },
            unknown: Default::default(),
        }
    }

    /// The key's TUF key ID: [`key_id`] of [`PublicKey::to_tuf_key`], the
    /// same ID python-tuf computes for the key.
    pub fn keyid(&self) -> String {
        key_id(&self.to_tuf_key()).expect("a key object fwsign built holds only strings")
    }

    /// Verifies `sig`, a signature as TUF stores it once hex-decoded: DER for
    /// ECDSA, 64 bytes for Ed25519.
    ///
    /// High-S ECDSA signatures are accepted: OpenSSL, and so python-tuf,
    /// makes them and accepts them, and P-256 ECDSA does not require low S.
    /// Ed25519 uses the strict check (canonical S, no small-order keys or R),
    /// so one signature cannot be re-encoded into a second valid one.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), signature::Error> {
        match &self.inner {
            PublicInner::P256(vk) => {
                let sig = p256::ecdsa::Signature::from_der(sig)?;
                vk.verify(msg, &sig)
            }
            PublicInner::Ed25519(vk) => {
                let sig = ed25519_dalek::Signature::from_slice(sig)?;
                vk.verify_strict(msg, &sig)
            }
        }
    }

    /// The raw key: the 65-byte uncompressed SEC1 point for P-256, the 32
    /// bytes for Ed25519 (the form a bootloader's key table holds).
    pub fn sec1_or_raw_bytes(&self) -> Vec<u8> {
        match &self.inner {
            PublicInner::P256(vk) => vk.to_sec1_point(false).as_bytes().to_vec(),
            PublicInner::Ed25519(vk) => vk.to_bytes().to_vec(),
        }
    }
}

/// TUF key ID: lowercase hex SHA-256 of the canonical JSON of
/// `{"keytype", "scheme", "keyval"}`, exactly securesystemslib's
/// `compute_default_keyid`.
///
/// `keyval` counts as it is, unknown fields inside it included; fields next
/// to the three (`keyid_hash_algorithms`, say) do not count.
///
/// # Errors
///
/// [`KeyError::KeyId`] when `keyval` holds a value canonical JSON cannot
/// represent (a float); securesystemslib cannot compute an ID for such a key
/// either.
pub fn key_id(key: &Key) -> Result<String, KeyError> {
    let keyval = serde_json::to_value(&key.keyval)
        .map_err(|e| KeyError::KeyId(CanonicalError::Serialize(e.to_string())))?;
    let meta = serde_json::json!({
        "keytype": key.keytype,
        "scheme": key.scheme,
        "keyval": keyval,
    });
    let canonical = to_canonical_vec(&meta).map_err(KeyError::KeyId)?;
    Ok(hex_lower(&Sha256::digest(&canonical)))
}
