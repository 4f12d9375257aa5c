//! Why a key could not be read, written, generated or identified
//! ([`KeyError`]).
//!
//! Kept apart because every part of this module raises it, and the
//! certificate, OCPP and CLI code match on it.

use fwsign_manifest_schema::canonical::CanonicalError;

/// Why a key could not be read, written, generated or identified.
///
/// No variant ever carries secret key material or a passphrase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An algorithm name given to
    /// [`Algorithm::from_str`](super::Algorithm#method.from_str) is not one fwsign
    /// knows.
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
    /// A file holding a secret (a private key, a PIN) can be read by group
    /// or others; refused before it is read, as OpenSSH refuses such a key.
    #[error(
        "{}: holds a secret but group or others have access (mode {mode:04o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    ExposedSecretFile {
        /// The file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
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
