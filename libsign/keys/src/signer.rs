//! The signers: [`SignatureBytes`] as TUF stores them, `Signer` for a key
//! file, and the [`TufSigner`] trait every signing key implements.
//!
//! Separate because an HSM-held key (another crate) implements only this
//! part, and signing code depends on the trait, not on key files.

use signature::{SignatureEncoding, Signer};

use super::private_key::{PrivateKey, SecretInner};
use super::public_key::PublicKey;

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
