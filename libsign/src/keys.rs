//! Key files, TUF key objects and key IDs, and the signing keys behind
//! [`TufSigner`].
//!
//! Everything here has to agree byte for byte with what python-tuf and
//! securesystemslib write, because a key ID is a hash over a serialisation:
//! [`PublicKey::to_tuf_key`] produces exactly securesystemslib's key object
//! (SPKI PEM as pyca/cryptography writes it for ECDSA, lowercase hex for
//! Ed25519) and [`key_id`] is securesystemslib's `compute_default_keyid`.
//!
//! Private keys are read from and written to PKCS#8, plain or encrypted with
//! PBES2, which is what both OpenSSL (`openssl pkcs8 -topk8 -v2 aes-256-cbc`)
//! and pyca/cryptography (`BestAvailableEncryption`) produce. Secret material
//! only ever sits in buffers that are wiped when dropped.

use core::fmt::{self, Write as _};
use core::str::FromStr;

use fwsign_manifest_schema::canonical::{CanonicalError, to_canonical_vec};
use fwsign_manifest_schema::metadata::{Key, KeyVal};
use pkcs8::der::Decode;
use pkcs8::der::asn1::OctetStringRef;
use pkcs8::pkcs5::{self, pbes2};
use pkcs8::{
    Document, EncryptedPrivateKeyInfoRef, LineEnding, ObjectIdentifier, PrivateKeyInfoRef,
    SecretDocument,
};
use sha2::{Digest, Sha256};
use signature::{SignatureEncoding, Signer, Verifier};
use spki::{AlgorithmIdentifierRef, EncodePublicKey, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

/// `id-ecPublicKey` (RFC 5480): the algorithm of every EC key; the curve is
/// in the parameters.
const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / `secp256r1` (RFC 5480).
const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `id-Ed25519` (RFC 8410).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// PEM label of an SPKI public key (RFC 7468 section 13).
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";
/// PEM label of a plain PKCS#8 private key (RFC 7468 section 10).
const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
/// PEM label of an encrypted PKCS#8 private key (RFC 7468 section 11).
const ENCRYPTED_PRIVATE_KEY_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// securesystemslib's names, which are what key IDs are computed over.
const TUF_KEYTYPE_ED25519: &str = "ed25519";
const TUF_SCHEME_ED25519: &str = "ed25519";
const TUF_KEYTYPE_ECDSA: &str = "ecdsa";
/// The keytype older securesystemslib releases wrote for P-256 keys; still
/// found in repositories made back then.
const TUF_KEYTYPE_ECDSA_LEGACY: &str = "ecdsa-sha2-nistp256";
const TUF_SCHEME_ECDSA_P256: &str = "ecdsa-sha2-nistp256";

// scrypt cost for keys we encrypt: pkcs8's own recommended parameters
// (`pbes2::Parameters::generate_scrypt`). N = 2^14 with r = 8 stays under
// OpenSSL 3's default 32 MiB scrypt memory limit, so `openssl pkey` can open
// what we write; a larger N would be refused there.
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const PBES2_SALT_LEN: usize = 16;
const AES_BLOCK_LEN: usize = 16;

// Both signing-key types must wipe their scalar or seed when dropped; that
// depends on crate features (ed25519-dalek's `zeroize`), so check it here
// rather than trust the manifest to keep saying so.
const _: () = {
    const fn zeroizes_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroizes_on_drop::<p256::ecdsa::SigningKey>();
    zeroizes_on_drop::<ed25519_dalek::SigningKey>();
};

/// Why a key could not be read, written, generated or identified.
///
/// No variant ever carries secret key material or a passphrase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An algorithm name given to [`Algorithm::from_str`] is not one fwsign knows.
    #[error("unknown key algorithm {0:?}: expected \"ecdsa-p256\" or \"ed25519\"")]
    UnknownAlgorithmName(String),
    /// The text is not a PEM document, or its armour or base64 is damaged.
    #[error("not a usable PEM document: {0}")]
    Pem(String),
    /// The PEM document is of another kind than the one expected (a private
    /// key where a public key belongs, or a legacy non-PKCS#8 key file).
    #[error("expected a PEM {expected:?} block, found {found:?}{hint}", hint = pem_label_hint(found))]
    UnexpectedPemLabel {
        /// The label the document has.
        found: String,
        /// The label (or labels) that would have been accepted.
        expected: &'static str,
    },
    /// The key is of an algorithm or curve fwsign does not support (RSA,
    /// P-384, Ed448, ...).
    #[error("unsupported key type: {0} (fwsign supports ECDSA P-256 and Ed25519)")]
    UnsupportedAlgorithm(String),
    /// The public key's encoding is damaged, or its bytes are not a point of
    /// the curve it claims.
    #[error("malformed public key: {0}")]
    MalformedPublicKey(String),
    /// A TUF key object names a keytype and scheme pair fwsign does not
    /// support.
    #[error("unsupported TUF key: keytype {keytype:?} with scheme {scheme:?}")]
    UnsupportedTufKey {
        /// The key object's `keytype`.
        keytype: String,
        /// The key object's `scheme`.
        scheme: String,
    },
    /// A key ID cannot be computed because the key object holds a value
    /// canonical JSON cannot represent (a floating-point number, say).
    #[error("cannot compute the key ID: {0}")]
    KeyId(#[source] CanonicalError),
    /// The private key's PKCS#8 structure is damaged or inconsistent.
    #[error("malformed private key: {0}")]
    MalformedPrivateKey(&'static str),
    /// The private key is encrypted and no passphrase was given.
    #[error("the private key is encrypted: a passphrase is needed")]
    PassphraseRequired,
    /// A passphrase was given for a private key that is not encrypted;
    /// refused (as pyca/cryptography does) so a key the user believes
    /// protected is not silently used in the clear.
    #[error("a passphrase was given but the private key is not encrypted")]
    PassphraseNotExpected,
    /// Decryption with the given passphrase failed: the passphrase is wrong,
    /// or the encrypted data is damaged (the two cannot be told apart).
    #[error("wrong passphrase for the encrypted private key (or the key file is damaged)")]
    WrongPassphrase,
    /// The private key is encrypted with a scheme fwsign does not implement
    /// (PBES1, DES, PBKDF2 with SHA-1, ...).
    #[error(
        "unsupported private key encryption: {0} (supported: PBES2 with scrypt or PBKDF2-HMAC-SHA-2, and AES)"
    )]
    UnsupportedEncryption(String),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    /// Encoding or encrypting a private key failed.
    #[error("cannot encode the private key: {0}")]
    Encoding(String),
}

/// A hint for the key files people most often hand over instead of PKCS#8.
fn pem_label_hint(found: &str) -> &'static str {
    match found {
        "EC PRIVATE KEY" | "RSA PRIVATE KEY" | "OPENSSH PRIVATE KEY" => {
            " (convert it to PKCS#8 with `openssl pkcs8 -topk8`)"
        }
        _ => "",
    }
}

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
fn classify(alg: &AlgorithmIdentifierRef<'_>) -> Result<Algorithm, KeyError> {
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

/// Lowercase hex, the form securesystemslib writes.
fn hex_lower(bytes: &[u8]) -> String {
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
    inner: PublicInner,
}

#[derive(Clone, PartialEq, Eq)]
enum PublicInner {
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

/// A private key held in this process. The secret is wiped when the value
/// is dropped; `Debug` shows the algorithm and key ID only.
pub struct PrivateKey {
    secret: SecretInner,
    public: PublicKey,
}

enum SecretInner {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm())
            .field("keyid", &self.public.keyid())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    fn from_p256(sk: p256::ecdsa::SigningKey) -> Self {
        let public = PublicKey {
            inner: PublicInner::P256(*sk.verifying_key()),
        };
        Self {
            secret: SecretInner::P256(sk),
            public,
        }
    }

    fn from_ed25519(sk: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey {
            inner: PublicInner::Ed25519(sk.verifying_key()),
        };
        Self {
            secret: SecretInner::Ed25519(sk),
            public,
        }
    }

    /// Generates a new key from the operating system's random number
    /// generator.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        match alg {
            Algorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                fill_random(seed.as_mut_slice())?;
                Ok(Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(
                    &seed,
                )))
            }
            Algorithm::EcdsaP256 => {
                // Rejection sampling, as elliptic-curve's own generator does:
                // 32 random bytes are a valid scalar unless zero or >= n,
                // which happens with probability about 2^-32, so a few
                // retries only fail if the generator is broken.
                for _ in 0..8 {
                    let mut candidate = Zeroizing::new([0u8; 32]);
                    fill_random(candidate.as_mut_slice())?;
                    if let Ok(sk) = p256::ecdsa::SigningKey::from_slice(candidate.as_slice()) {
                        return Ok(Self::from_p256(sk));
                    }
                }
                Err(KeyError::Rng(
                    "repeatedly produced bytes that are not a P-256 scalar".to_owned(),
                ))
            }
        }
    }

    /// Reads a PKCS#8 PEM private key: `PRIVATE KEY`, or `ENCRYPTED PRIVATE
    /// KEY` (PBES2 with scrypt or PBKDF2 and AES, as `openssl pkcs8 -topk8
    /// -v2 aes-256-cbc` and pyca/cryptography's `BestAvailableEncryption`
    /// write it), which needs `passphrase`.
    pub fn from_pkcs8_pem(pem: &str, passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let (label, doc) =
            SecretDocument::from_pem(pem.trim_start()).map_err(|e| KeyError::Pem(e.to_string()))?;
        if label != PRIVATE_KEY_LABEL && label != ENCRYPTED_PRIVATE_KEY_LABEL {
            return Err(KeyError::UnexpectedPemLabel {
                found: label.to_owned(),
                expected: "PRIVATE KEY\" or \"ENCRYPTED PRIVATE KEY",
            });
        }
        // The DER says whether the key is encrypted; the label is only a hint.
        Self::from_pkcs8_der(doc.as_bytes(), passphrase)
    }

    /// Reads a DER PKCS#8 private key, plain (`PrivateKeyInfo`) or encrypted
    /// (`EncryptedPrivateKeyInfo`, which needs `passphrase`).
    pub fn from_pkcs8_der(der: &[u8], passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        if let Ok(info) = PrivateKeyInfoRef::from_der(der) {
            if passphrase.is_some() {
                return Err(KeyError::PassphraseNotExpected);
            }
            return Self::from_private_key_info(info);
        }
        let encrypted = EncryptedPrivateKeyInfoRef::from_der(der).map_err(|_| {
            KeyError::MalformedPrivateKey(
                "neither a PKCS#8 PrivateKeyInfo nor an EncryptedPrivateKeyInfo",
            )
        })?;
        let passphrase = passphrase.ok_or(KeyError::PassphraseRequired)?;
        let plain = encrypted.decrypt(passphrase).map_err(decrypt_error)?;
        // AES-CBC has no integrity check: a wrong passphrase occasionally
        // yields valid padding, and then the plaintext is not DER.
        let info =
            PrivateKeyInfoRef::from_der(plain.as_bytes()).map_err(|_| KeyError::WrongPassphrase)?;
        Self::from_private_key_info(info)
    }

    fn from_private_key_info(info: PrivateKeyInfoRef<'_>) -> Result<Self, KeyError> {
        match classify(&info.algorithm)? {
            Algorithm::EcdsaP256 => p256::ecdsa::SigningKey::try_from(info)
                .map(Self::from_p256)
                .map_err(|_| KeyError::MalformedPrivateKey("not a valid P-256 ECPrivateKey")),
            Algorithm::Ed25519 => {
                // Parsed here rather than through ed25519's `KeypairBytes`,
                // which keeps a copy of the seed that is wiped only when the
                // `ed25519` crate's own `zeroize` feature is on, and
                // ed25519-dalek does not switch that on.
                let mut seed = Zeroizing::new([0u8; 32]);
                match info.private_key.as_bytes() {
                    // RFC 8410: CurvePrivateKey ::= OCTET STRING, nested
                    // inside the PKCS#8 privateKey OCTET STRING.
                    [0x04, 0x20, rest @ ..] if rest.len() == 32 => {
                        seed.copy_from_slice(rest);
                    }
                    _ => {
                        return Err(KeyError::MalformedPrivateKey(
                            "an Ed25519 private key must be a 32-byte OCTET STRING",
                        ));
                    }
                }
                let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
                // PKCS#8 v2 may carry the public key too; a mismatch means
                // the file was tampered with or assembled wrongly.
                if let Some(public) = info.public_key
                    && public.as_bytes() != Some(sk.verifying_key().as_bytes().as_slice())
                {
                    return Err(KeyError::MalformedPrivateKey(
                        "the public key in the PKCS#8 document does not match the private key",
                    ));
                }
                Ok(Self::from_ed25519(sk))
            }
        }
    }

    /// The plain PKCS#8 DER of the key.
    fn to_pkcs8_der(&self) -> Result<SecretDocument, KeyError> {
        match &self.secret {
            SecretInner::P256(sk) => {
                use pkcs8::EncodePrivateKey as _;
                sk.to_pkcs8_der()
                    .map_err(|e| KeyError::Encoding(e.to_string()))
            }
            SecretInner::Ed25519(sk) => {
                // PKCS#8 v1 without the public key, as OpenSSL and
                // pyca/cryptography write Ed25519 keys (ed25519-dalek's own
                // encoder writes v2, and via `KeypairBytes`; see above).
                let mut curve_private_key = Zeroizing::new([0u8; 34]);
                curve_private_key[0] = 0x04;
                curve_private_key[1] = 0x20;
                curve_private_key[2..].copy_from_slice(sk.as_bytes());
                let info = PrivateKeyInfoRef {
                    algorithm: AlgorithmIdentifierRef {
                        oid: ED25519_OID,
                        parameters: None,
                    },
                    private_key: OctetStringRef::new(curve_private_key.as_slice())
                        .map_err(|e| KeyError::Encoding(e.to_string()))?,
                    public_key: None,
                };
                SecretDocument::encode_msg(&info).map_err(|e| KeyError::Encoding(e.to_string()))
            }
        }
    }

    /// Writes the key as PKCS#8 PEM: `PRIVATE KEY` without a passphrase;
    /// with one, `ENCRYPTED PRIVATE KEY` using PBES2 with scrypt (N = 2^14,
    /// r = 8, p = 1, 16-byte salt) and AES-256-CBC, which OpenSSL 3 and
    /// pyca/cryptography both read.
    pub fn to_pkcs8_pem(&self, passphrase: Option<&[u8]>) -> Result<Zeroizing<String>, KeyError> {
        let plain = self.to_pkcs8_der()?;
        let Some(passphrase) = passphrase else {
            return plain
                .to_pem(PRIVATE_KEY_LABEL, LineEnding::LF)
                .map_err(|e| KeyError::Encoding(e.to_string()));
        };
        let info = PrivateKeyInfoRef::from_der(plain.as_bytes())
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        let encrypted = info
            .encrypt_with_params(pbes2_params()?, passphrase)
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        encrypted
            .to_pem(ENCRYPTED_PRIVATE_KEY_LABEL, LineEnding::LF)
            .map_err(|e| KeyError::Encoding(e.to_string()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }
}

/// Fresh PBES2 parameters: random salt and IV, scrypt, AES-256-CBC.
fn pbes2_params() -> Result<pbes2::Parameters, KeyError> {
    let mut salt = [0u8; PBES2_SALT_LEN];
    let mut iv = [0u8; AES_BLOCK_LEN];
    fill_random(&mut salt)?;
    fill_random(&mut iv)?;
    let scrypt = pkcs5::scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
        .map_err(|e| KeyError::Encoding(format!("scrypt parameters: {e}")))?;
    pbes2::Parameters::generate_scrypt_aes256cbc(scrypt, &salt, iv)
        .map_err(|e| KeyError::Encoding(e.to_string()))
}

/// Maps a PKCS#8 decryption failure to what the user can act on.
fn decrypt_error(err: pkcs8::Error) -> KeyError {
    match err {
        pkcs8::Error::EncryptedPrivateKey(inner) => match inner {
            pkcs5::Error::DecryptFailed => KeyError::WrongPassphrase,
            pkcs5::Error::UnsupportedAlgorithm { oid } => {
                KeyError::UnsupportedEncryption(format!("algorithm {oid}"))
            }
            pkcs5::Error::NoPbes1CryptSupport => {
                KeyError::UnsupportedEncryption("PBES1".to_owned())
            }
            pkcs5::Error::AlgorithmParametersInvalid { oid } => {
                KeyError::UnsupportedEncryption(format!("parameters of algorithm {oid}"))
            }
            other => KeyError::UnsupportedEncryption(other.to_string()),
        },
        // Decrypted, but the result is not DER: see `from_pkcs8_der`.
        pkcs8::Error::Asn1(_) => KeyError::WrongPassphrase,
        _ => KeyError::MalformedPrivateKey("the encrypted key could not be decrypted"),
    }
}

/// Fills `buf` from the operating system's random number generator.
fn fill_random(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Rng(e.to_string()))
}

/// A signature as TUF stores it, before hex: DER (ECDSA, low-S normalised)
/// or 64 bytes (Ed25519).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureBytes(pub Vec<u8>);

impl AsRef<[u8]> for SignatureBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for SignatureBytes {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl From<SignatureBytes> for Vec<u8> {
    fn from(sig: SignatureBytes) -> Self {
        sig.0
    }
}

impl SignatureEncoding for SignatureBytes {
    type Repr = Vec<u8>;
}

impl Signer<SignatureBytes> for PrivateKey {
    /// ECDSA P-256 over SHA-256 of `msg` (RFC 6979 deterministic nonce,
    /// normalised to low S so the signature is not malleable), or pure
    /// Ed25519.
    fn try_sign(&self, msg: &[u8]) -> Result<SignatureBytes, signature::Error> {
        match &self.secret {
            SecretInner::P256(sk) => {
                let sig: p256::ecdsa::Signature = sk.try_sign(msg)?;
                Ok(SignatureBytes(
                    sig.normalize_s().to_der().as_bytes().to_vec(),
                ))
            }
            SecretInner::Ed25519(sk) => {
                let sig: ed25519_dalek::Signature = sk.try_sign(msg)?;
                Ok(SignatureBytes(sig.to_bytes().to_vec()))
            }
        }
    }
}

/// What every signing key offers TUF code, so an HSM-held key (another
/// crate) plugs in behind the same trait as a key file.
pub trait TufSigner: Signer<SignatureBytes> {
    /// The public half of the signing key.
    fn public_key(&self) -> &PublicKey;

    /// The key's TUF key ID.
    fn keyid(&self) -> String {
        self.public_key().keyid()
    }
}

impl TufSigner for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        PrivateKey::public_key(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::ff::PrimeField as _;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const PASSPHRASE: &[u8] = b"correct horse battery staple";

    /// A P-384 key: a valid SPKI of a curve fwsign does not support.
    const P384_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEQZ+ppMnKjz8WGuFG+7o6TMT8LAPB1aNS
qtmX/RXbvUquC3goS3sGd2/c5K0dr6uHLzlcGprO173cg4aZKfgcxEsw9+hgYkD0
2md8YqqEFLyY6HYvImQHHPMnHyuffaIU
-----END PUBLIC KEY-----
";

    fn fixture_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/python-tuf-repo/keys")
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn both() -> [Algorithm; 2] {
        [Algorithm::EcdsaP256, Algorithm::Ed25519]
    }

    /// A fresh directory under the system temp dir, unique to this process
    /// and test.
    fn scratch_dir(test: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("fwsign-keys-{test}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Whether a missing peer tool may skip a test (it may not when
    /// FWSIGN_REQUIRE_PEERS=1, as in CI).
    fn skip_missing_peer(what: &str) {
        if std::env::var("FWSIGN_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!("{what} is not available and FWSIGN_REQUIRE_PEERS=1");
        }
        eprintln!(
            "skipped: {what} is not available (set FWSIGN_REQUIRE_PEERS=1 to make this fail)"
        );
    }

    fn run(cmd: &mut Command) -> std::process::Output {
        let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in both() {
            assert_eq!(alg.to_string().parse::<Algorithm>().unwrap(), alg);
        }
        assert_eq!(Algorithm::EcdsaP256.to_string(), "ecdsa-p256");
        assert_eq!(Algorithm::Ed25519.to_string(), "ed25519");
        assert!(matches!(
            "rsa".parse::<Algorithm>(),
            Err(KeyError::UnknownAlgorithmName(_))
        ));
    }

    #[test]
    fn generated_keys_sign_and_verify_and_reject_tampering() {
        for alg in both() {
            let key = PrivateKey::generate(alg).unwrap();
            assert_eq!(key.algorithm(), alg);
            let sig = key.try_sign(b"firmware image").unwrap();
            let pk = key.public_key();
            pk.verify(b"firmware image", &sig.0).unwrap();
            assert!(pk.verify(b"firmware imagE", &sig.0).is_err(), "{alg}");
            let mut bad = sig.0.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(pk.verify(b"firmware image", &bad).is_err(), "{alg}");
            // Another key of the same algorithm does not verify it.
            let other = PrivateKey::generate(alg).unwrap();
            assert!(
                other
                    .public_key()
                    .verify(b"firmware image", &sig.0)
                    .is_err()
            );
            // Through the trait, as TUF code sees a signer.
            let signer: &dyn TufSigner = &key;
            assert_eq!(signer.keyid(), pk.keyid());
            assert_eq!(SignatureEncoding::to_vec(&sig), sig.0);
        }
    }

    #[test]
    fn ed25519_signatures_are_64_bytes_and_other_lengths_refused() {
        let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let sig = key.try_sign(b"m").unwrap();
        assert_eq!(sig.0.len(), 64);
        assert!(key.public_key().verify(b"m", &sig.0[..63]).is_err());
        assert_eq!(key.public_key().sec1_or_raw_bytes().len(), 32);
    }

    #[test]
    fn p256_signatures_are_low_s_der_and_high_s_still_verifies() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let pk = key.public_key();
        assert_eq!(pk.sec1_or_raw_bytes().len(), 65);
        assert_eq!(pk.sec1_or_raw_bytes()[0], 0x04);
        for i in 0..16u8 {
            let msg = [i; 8];
            let sig = key.try_sign(&msg).unwrap();
            assert_eq!(sig.0[0], 0x30, "DER SEQUENCE");
            let parsed = p256::ecdsa::Signature::from_der(&sig.0).unwrap();
            assert_eq!(parsed.normalize_s(), parsed, "low S");
            // Deterministic (RFC 6979).
            assert_eq!(key.try_sign(&msg).unwrap(), sig);
            // The same signature with S replaced by n - S is valid ECDSA;
            // OpenSSL writes such signatures, so they must verify.
            let (r, s) = parsed.split_scalars();
            let high = p256::ecdsa::Signature::from_scalars(r.to_repr(), (-*s).to_repr()).unwrap();
            assert_ne!(high.normalize_s(), high);
            pk.verify(&msg, high.to_der().as_bytes()).unwrap();
        }
        // Raw r||s is not what TUF stores for ECDSA.
        let sig = key.try_sign(b"m").unwrap();
        let raw = p256::ecdsa::Signature::from_der(&sig.0).unwrap().to_bytes();
        assert!(pk.verify(b"m", &raw).is_err());
    }

    #[test]
    fn pkcs8_plain_round_trip() {
        for alg in both() {
            let key = PrivateKey::generate(alg).unwrap();
            let pem = key.to_pkcs8_pem(None).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{alg}");
            assert!(pem.ends_with("-----END PRIVATE KEY-----\n"), "{alg}");
            let back = PrivateKey::from_pkcs8_pem(&pem, None).unwrap();
            assert_eq!(back.public_key(), key.public_key());
            // Both algorithms sign deterministically: same key, same bytes.
            assert_eq!(back.try_sign(b"m").unwrap(), key.try_sign(b"m").unwrap());
            assert_eq!(
                back.to_pkcs8_pem(None).unwrap().as_str(),
                pem.as_str(),
                "{alg}"
            );
        }
    }

    #[test]
    fn pkcs8_encrypted_round_trip_and_passphrase_errors() {
        for alg in both() {
            let key = PrivateKey::generate(alg).unwrap();
            let pem = key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap();
            assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
            assert!(pem.ends_with("-----END ENCRYPTED PRIVATE KEY-----\n"));
            let back = PrivateKey::from_pkcs8_pem(&pem, Some(PASSPHRASE)).unwrap();
            assert_eq!(back.public_key(), key.public_key());
            assert!(matches!(
                PrivateKey::from_pkcs8_pem(&pem, Some(b"wrong")),
                Err(KeyError::WrongPassphrase)
            ));
            assert!(matches!(
                PrivateKey::from_pkcs8_pem(&pem, None),
                Err(KeyError::PassphraseRequired)
            ));
            // Fresh salt and IV every time.
            assert_ne!(key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap(), pem);
        }
    }

    #[test]
    fn plain_key_with_passphrase_is_refused() {
        let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let pem = key.to_pkcs8_pem(None).unwrap();
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(&pem, Some(PASSPHRASE)),
            Err(KeyError::PassphraseNotExpected)
        ));
    }

    #[test]
    fn malformed_and_foreign_private_keys_get_their_own_errors() {
        assert!(matches!(
            PrivateKey::from_pkcs8_pem("not pem", None),
            Err(KeyError::Pem(_))
        ));
        let public = PrivateKey::generate(Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .to_spki_pem();
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(&public, None),
            Err(KeyError::UnexpectedPemLabel { .. })
        ));
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n";
        let err = PrivateKey::from_pkcs8_pem(sec1, None).unwrap_err();
        assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");
        // Well-formed PEM around DER that is neither PKCS#8 structure.
        let junk = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(junk, None),
            Err(KeyError::MalformedPrivateKey(_))
        ));
        // An Ed25519 PKCS#8 whose inner OCTET STRING is too short.
        let der = SecretDocument::encode_msg(&PrivateKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: ED25519_OID,
                parameters: None,
            },
            private_key: OctetStringRef::new(&[0x04, 0x01, 0x00]).unwrap(),
            public_key: None,
        })
        .unwrap();
        assert!(matches!(
            PrivateKey::from_pkcs8_der(der.as_bytes(), None),
            Err(KeyError::MalformedPrivateKey(_))
        ));
    }

    #[test]
    fn ed25519_pkcs8_with_mismatched_public_key_is_refused() {
        let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let other = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let plain = key.to_pkcs8_der().unwrap();
        let info = PrivateKeyInfoRef::from_der(plain.as_bytes()).unwrap();
        let other_public = other.public_key().sec1_or_raw_bytes();
        let v2 = PrivateKeyInfoRef {
            public_key: Some(pkcs8::der::asn1::BitStringRef::new(0, &other_public).unwrap()),
            ..info.clone()
        };
        let der = SecretDocument::encode_msg(&v2).unwrap();
        assert!(matches!(
            PrivateKey::from_pkcs8_der(der.as_bytes(), None),
            Err(KeyError::MalformedPrivateKey(_))
        ));
        // With its own public key (PKCS#8 v2) it loads.
        let own_public = key.public_key().sec1_or_raw_bytes();
        let v2 = PrivateKeyInfoRef {
            public_key: Some(pkcs8::der::asn1::BitStringRef::new(0, &own_public).unwrap()),
            ..info
        };
        let der = SecretDocument::encode_msg(&v2).unwrap();
        let back = PrivateKey::from_pkcs8_der(der.as_bytes(), None).unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }

    #[test]
    fn private_key_debug_shows_no_secret() {
        let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        // PKCS#8 v1 Ed25519: the seed is the last 32 bytes.
        let seed_hex = hex_lower(&der.as_bytes()[der.as_bytes().len() - 32..]);
        let debug = format!("{key:?}");
        assert!(!debug.contains(&seed_hex), "{debug}");
        assert!(debug.contains(&key.public_key().keyid()), "{debug}");

        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let debug = format!("{key:?}");
        let SecretInner::P256(sk) = &key.secret else {
            unreachable!()
        };
        assert!(!debug.contains(&hex_lower(&sk.to_bytes())), "{debug}");
    }

    #[test]
    fn spki_pem_is_64_columns_with_final_newline_and_round_trips() {
        for alg in both() {
            let pk = PrivateKey::generate(alg).unwrap().public_key().clone();
            let pem = pk.to_spki_pem();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
            assert!(!pem.contains('\r'));
            let lines: Vec<&str> = pem.lines().collect();
            let body = &lines[1..lines.len() - 1];
            for line in &body[..body.len() - 1] {
                assert_eq!(line.len(), 64, "{pem}");
            }
            assert!(!body[body.len() - 1].is_empty() && body[body.len() - 1].len() <= 64);
            assert_eq!(PublicKey::from_spki_pem(&pem).unwrap(), pk);
            assert_eq!(PublicKey::from_spki_der(&pk.to_spki_der()).unwrap(), pk);
        }
    }

    #[test]
    fn public_key_errors_name_the_problem() {
        assert!(matches!(
            PublicKey::from_spki_pem("-----BEGIN PUBLIC KEY-----\n"),
            Err(KeyError::Pem(_))
        ));
        let err = PublicKey::from_spki_pem(P384_SPKI_PEM).unwrap_err();
        assert!(matches!(err, KeyError::UnsupportedAlgorithm(_)), "{err}");
        assert!(err.to_string().contains("P-384"), "{err}");
        let private = PrivateKey::generate(Algorithm::Ed25519)
            .unwrap()
            .to_pkcs8_pem(None)
            .unwrap();
        assert!(matches!(
            PublicKey::from_spki_pem(&private),
            Err(KeyError::UnexpectedPemLabel { .. })
        ));
        assert!(matches!(
            PublicKey::from_spki_der(&[0x30, 0x00]),
            Err(KeyError::MalformedPublicKey(_))
        ));
    }

    fn tuf_key(keytype: &str, scheme: &str, public: &str) -> Key {
        Key {
            keytype: keytype.to_owned(),
            scheme: scheme.to_owned(),
            keyval: KeyVal {
                public: public.to_owned(),
                unknown: Default::default(),
            },
            unknown: Default::default(),
        }
    }

    #[test]
    fn from_tuf_key_reads_pem_and_hex_ecdsa_and_hex_ed25519() {
        let p256 = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let pk = p256.public_key();
        let sec1_hex = hex_lower(&pk.sec1_or_raw_bytes());
        for keytype in ["ecdsa", "ecdsa-sha2-nistp256"] {
            let pem = tuf_key(keytype, "ecdsa-sha2-nistp256", &pk.to_spki_pem());
            assert_eq!(&PublicKey::from_tuf_key(&pem).unwrap(), pk);
            let hex = tuf_key(keytype, "ecdsa-sha2-nistp256", &sec1_hex);
            assert_eq!(&PublicKey::from_tuf_key(&hex).unwrap(), pk);
            let upper = tuf_key(keytype, "ecdsa-sha2-nistp256", &sec1_hex.to_uppercase());
            assert_eq!(&PublicKey::from_tuf_key(&upper).unwrap(), pk);
        }
        // Compressed SEC1 too.
        let compressed = hex_lower(
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&pk.sec1_or_raw_bytes())
                .unwrap()
                .to_sec1_point(true)
                .as_bytes(),
        );
        let key = tuf_key("ecdsa", "ecdsa-sha2-nistp256", &compressed);
        assert_eq!(&PublicKey::from_tuf_key(&key).unwrap(), pk);
        assert_eq!(PublicKey::from_tuf_key(&pk.to_tuf_key()).unwrap(), *pk);

        let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let pk = ed.public_key();
        let key = pk.to_tuf_key();
        assert_eq!(key.keyval.public, hex_lower(&pk.sec1_or_raw_bytes()));
        assert_eq!(&PublicKey::from_tuf_key(&key).unwrap(), pk);
    }

    #[test]
    fn from_tuf_key_refuses_unsupported_and_mismatched_keys() {
        let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let ed_hex = hex_lower(&ed.public_key().sec1_or_raw_bytes());
        let ed_pem = ed.public_key().to_spki_pem();
        let unsupported = [
            ("rsa", "rsassa-pss-sha256"),
            ("ed25519", "ecdsa-sha2-nistp256"),
            ("ecdsa", "ed25519"),
            ("ecdsa", "ecdsa-sha2-nistp384"),
        ];
        for (keytype, scheme) in unsupported {
            assert!(
                matches!(
                    PublicKey::from_tuf_key(&tuf_key(keytype, scheme, &ed_hex)),
                    Err(KeyError::UnsupportedTufKey { .. })
                ),
                "{keytype}/{scheme}"
            );
        }
        let malformed = [
            tuf_key("ed25519", "ed25519", &ed_hex[..62]),
            tuf_key("ed25519", "ed25519", &format!("{ed_hex}00")),
            tuf_key("ed25519", "ed25519", &ed_pem),
            tuf_key("ecdsa", "ecdsa-sha2-nistp256", &ed_pem),
            tuf_key("ecdsa", "ecdsa-sha2-nistp256", &ed_hex),
            tuf_key("ecdsa", "ecdsa-sha2-nistp256", "zz"),
        ];
        for key in &malformed {
            assert!(
                matches!(
                    PublicKey::from_tuf_key(key),
                    Err(KeyError::MalformedPublicKey(_))
                ),
                "{key:?}"
            );
        }
        assert!(matches!(
            PublicKey::from_tuf_key(&tuf_key("ecdsa", "ecdsa-sha2-nistp256", P384_SPKI_PEM)),
            Err(KeyError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn keyid_and_tuf_key_match_python_tuf_fixtures() {
        let dir = fixture_dir();
        let index: serde_json::Value =
            serde_json::from_str(&read(&dir.join("keyids.json"))).unwrap();
        let index = index.as_object().unwrap();
        let mut seen = std::collections::HashSet::new();
        for (name, entry) in index {
            let public_pem = read(&dir.join(entry["public_pem"].as_str().unwrap()));
            let pk = PublicKey::from_spki_pem(&public_pem).unwrap();
            seen.insert(pk.algorithm());
            assert_eq!(
                pk.to_spki_pem(),
                public_pem,
                "{name}: PEM differs from pyca's"
            );
            assert_eq!(
                serde_json::to_value(pk.to_tuf_key()).unwrap(),
                entry["key"],
                "{name}: key object"
            );
            assert_eq!(
                pk.keyid(),
                entry["keyid"].as_str().unwrap(),
                "{name}: keyid"
            );
            let key: Key = serde_json::from_value(entry["key"].clone()).unwrap();
            assert_eq!(key_id(&key).unwrap(), pk.keyid(), "{name}");
            assert_eq!(PublicKey::from_tuf_key(&key).unwrap(), pk, "{name}");

            let private_pem = Zeroizing::new(read(&dir.join(name)));
            let private = PrivateKey::from_pkcs8_pem(&private_pem, None).unwrap();
            assert_eq!(private.public_key(), &pk, "{name}: private key");
            let sig = private.try_sign(b"fixture").unwrap();
            pk.verify(b"fixture", &sig.0).unwrap();
            if pk.algorithm() == Algorithm::Ed25519 {
                // Written the way pyca/cryptography writes Ed25519 keys.
                assert_eq!(
                    private.to_pkcs8_pem(None).unwrap().as_str(),
                    private_pem.as_str(),
                    "{name}"
                );
            }
        }
        assert_eq!(seen.len(), 2, "the fixtures cover both algorithms");
    }

    #[test]
    fn key_id_counts_keyval_extras_but_not_outer_fields() {
        // root-1's key from the python-tuf fixture; IDs computed with
        // securesystemslib's encode_canonical + sha256.
        let json = serde_json::json!({
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": "ae05456df1305f94fc72627599a6aaea41f2da64c158dfd13f6aff7966b367c8"},
        });
        let plain: Key = serde_json::from_value(json.clone()).unwrap();
        let id = "3a294ddea4652ba527117590ca52c9bec46ed137124762ddd015e13123d79789";
        assert_eq!(key_id(&plain).unwrap(), id);

        let mut outer = json.clone();
        outer["keyid_hash_algorithms"] = serde_json::json!(["sha256", "sha512"]);
        let outer: Key = serde_json::from_value(outer).unwrap();
        assert_eq!(key_id(&outer).unwrap(), id);

        let mut inner = json;
        inner["keyval"]["private"] = serde_json::json!("");
        inner["keyval"]["note"] = serde_json::json!("caf\u{e9} \"q\"");
        let inner: Key = serde_json::from_value(inner).unwrap();
        assert_eq!(
            key_id(&inner).unwrap(),
            "ccd726e906d2fe07061f20e0b39e280151b7579ef34316d4d8443d7a1cd6e600"
        );
    }

    #[test]
    fn key_id_refuses_floats() {
        let key: Key = serde_json::from_value(serde_json::json!({
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": "00", "weight": 1.5},
        }))
        .unwrap();
        assert!(matches!(key_id(&key), Err(KeyError::KeyId(_))));
    }

    fn have_openssl() -> bool {
        Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    #[test]
    fn reads_and_writes_pkcs8_the_way_openssl_does() {
        if !have_openssl() {
            skip_missing_peer("openssl");
            return;
        }
        let dir = scratch_dir("openssl");
        let pass = format!("pass:{}", std::str::from_utf8(PASSPHRASE).unwrap());
        let algorithms: [(&str, &[&str]); 2] = [
            (
                "p256",
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            ),
            ("ed25519", &["-algorithm", "ED25519"]),
        ];
        for (name, genpkey_args) in algorithms {
            let plain = dir.join(format!("{name}.pem"));
            let encrypted = dir.join(format!("{name}.enc.pem"));
            let public = dir.join(format!("{name}.pub.pem"));
            run(Command::new("openssl")
                .arg("genpkey")
                .args(genpkey_args)
                .arg("-out")
                .arg(&plain));
            run(Command::new("openssl")
                .args([
                    "pkcs8",
                    "-topk8",
                    "-v2",
                    "aes-256-cbc",
                    "-passout",
                    &pass,
                    "-in",
                ])
                .arg(&plain)
                .arg("-out")
                .arg(&encrypted));
            run(Command::new("openssl")
                .args(["pkey", "-pubout", "-in"])
                .arg(&plain)
                .arg("-out")
                .arg(&public));
            let pk = PublicKey::from_spki_pem(&read(&public)).unwrap();
            // OpenSSL and pyca write the same SPKI PEM.
            assert_eq!(pk.to_spki_pem(), read(&public), "{name}");

            let enc_pem = Zeroizing::new(read(&encrypted));
            assert!(enc_pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
            let key = PrivateKey::from_pkcs8_pem(&enc_pem, Some(PASSPHRASE)).unwrap();
            assert_eq!(key.public_key(), &pk, "{name}");
            assert!(matches!(
                PrivateKey::from_pkcs8_pem(&enc_pem, Some(b"wrong")),
                Err(KeyError::WrongPassphrase)
            ));
            assert!(matches!(
                PrivateKey::from_pkcs8_pem(&enc_pem, None),
                Err(KeyError::PassphraseRequired)
            ));
            let plain_key =
                PrivateKey::from_pkcs8_pem(&Zeroizing::new(read(&plain)), None).unwrap();
            assert_eq!(plain_key.public_key(), &pk);

            // And OpenSSL opens what we write, scrypt-encrypted.
            let ours = dir.join(format!("{name}.ours.pem"));
            std::fs::write(
                &ours,
                key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap().as_bytes(),
            )
            .unwrap();
            let out = run(Command::new("openssl")
                .args(["pkey", "-pubout", "-passin", &pass, "-in"])
                .arg(&ours));
            assert_eq!(String::from_utf8(out.stdout).unwrap(), pk.to_spki_pem());
        }

        let p384 = dir.join("p384.pem");
        run(Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
            ])
            .arg(&p384));
        let err = PrivateKey::from_pkcs8_pem(&read(&p384), None).unwrap_err();
        assert!(matches!(err, KeyError::UnsupportedAlgorithm(_)), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_and_writes_pkcs8_the_way_pyca_cryptography_does() {
        let Ok(python) = std::env::var("FWSIGN_TEST_PYTHON") else {
            skip_missing_peer("FWSIGN_TEST_PYTHON (a python with pyca/cryptography)");
            return;
        };
        let dir = scratch_dir("pyca");
        // Writes a BestAvailableEncryption PKCS#8 key and its SPKI PEM per
        // algorithm, then checks every `<name>.ours.pem` it is handed back.
        let script = r#"
import sys, pathlib
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
d = pathlib.Path(sys.argv[2]); pw = sys.argv[3].encode()
if sys.argv[1] == "make":
    for name, key in (("p256", ec.generate_private_key(ec.SECP256R1())),
                      ("ed25519", ed25519.Ed25519PrivateKey.generate())):
        (d / f"{name}.enc.pem").write_bytes(key.private_bytes(
            s.Encoding.PEM, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(pw)))
        (d / f"{name}.pub.pem").write_bytes(key.public_key().public_bytes(
            s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
else:
    for name in ("p256", "ed25519"):
        key = s.load_pem_private_key((d / f"{name}.ours.pem").read_bytes(), pw)
        pub = key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)
        assert pub == (d / f"{name}.pub.pem").read_bytes(), name
"#;
        let pass = std::str::from_utf8(PASSPHRASE).unwrap();
        run(Command::new(&python)
            .args(["-c", script, "make"])
            .arg(&dir)
            .arg(pass));
        for name in ["p256", "ed25519"] {
            let pk = PublicKey::from_spki_pem(&read(&dir.join(format!("{name}.pub.pem")))).unwrap();
            let enc = Zeroizing::new(read(&dir.join(format!("{name}.enc.pem"))));
            let key = PrivateKey::from_pkcs8_pem(&enc, Some(PASSPHRASE)).unwrap();
            assert_eq!(key.public_key(), &pk, "{name}");
            std::fs::write(
                dir.join(format!("{name}.ours.pem")),
                key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap().as_bytes(),
            )
            .unwrap();
        }
        run(Command::new(&python)
            .args(["-c", script, "check"])
            .arg(&dir)
            .arg(pass));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
