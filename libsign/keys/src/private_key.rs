//! Private key files: generating keys, reading and writing PKCS#8, plain or
//! encrypted with PBES2 (scrypt, AES-256-CBC).
//!
//! Separate because this is the only place secret material is decoded or
//! encoded; everything here keeps it in buffers wiped on drop.

use core::fmt;

use pkcs8::der::Decode;
use pkcs8::der::asn1::OctetStringRef;
use pkcs8::pkcs5::{self, pbes2};
use pkcs8::{EncryptedPrivateKeyInfoRef, LineEnding, PrivateKeyInfoRef, SecretDocument};
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

use super::algorithm::{Algorithm, classify};
use super::error::KeyError;
use super::public_key::{PublicInner, PublicKey};
use super::{
    AES_BLOCK_LEN, ED25519_OID, ENCRYPTED_PRIVATE_KEY_LABEL, PBES2_SALT_LEN, PRIVATE_KEY_LABEL,
    SCRYPT_LOG_N, SCRYPT_P, SCRYPT_R,
};

/// A private key held in this process. The secret is wiped when the value
/// is dropped; `Debug` shows the algorithm and key ID only.
pub struct PrivateKey {
    pub(super) secret: SecretInner,
    public: PublicKey,
}

pub(super) enum SecretInner {
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
    pub(super) fn to_pkcs8_der(&self) -> Result<SecretDocument, KeyError> {
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
