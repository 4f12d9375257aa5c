//! The signer: a private key in a token behind the same traits as a key
//! file, each signature made through the shared session and verified on
//! the host before it is returned.
//!
//! Apart from sessions because this is what the rest of fwsign sees of an
//! HSM key; it holds the signature encodings and the key's protection.

use std::fmt;

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use fwsign_keys::{Algorithm, PublicKey, SignatureBytes, TufSigner};
use sha2::{Digest as _, Sha256};

use crate::encoding;
use crate::error::{require_mechanism, sign_error};
use crate::objects::mechanisms;
use crate::{HsmError, HsmSession};

/// A private key in a token, usable wherever a key file is: it implements
/// [`signature::Signer<SignatureBytes>`] and [`TufSigner`].
///
/// It shares its [`HsmSession`]; signatures are made one at a time through
/// that session, and each is verified against the public key before it is
/// returned, so a token fault or a public object that belongs to another
/// key can never put a bad signature into metadata.
#[derive(Clone)]
pub struct HsmSigner {
    pub(crate) session: HsmSession,
    pub(crate) key: ObjectHandle,
    pub(crate) public: PublicKey,
    pub(crate) name: String,
}

impl fmt::Debug for HsmSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsmSigner")
            .field("token", &self.session.inner.token)
            .field("key", &self.name)
            .field("algorithm", &self.public.algorithm())
            .field("keyid", &self.public.keyid())
            .finish()
    }
}

/// The protection attributes of a key in a token, as the token reports
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyProtection {
    /// `CKA_SENSITIVE`: the key's value cannot be read.
    pub sensitive: bool,
    /// `CKA_EXTRACTABLE`: the key can be wrapped out of the token.
    pub extractable: bool,
    /// `CKA_ALWAYS_SENSITIVE`: it has been sensitive since it was made.
    pub always_sensitive: bool,
    /// `CKA_NEVER_EXTRACTABLE`: it has never been extractable.
    pub never_extractable: bool,
    /// `CKA_LOCAL`: it was generated in the token, not imported.
    pub local: bool,
    /// `CKA_SIGN`.
    pub sign: bool,
    /// `CKA_DECRYPT`.
    pub decrypt: bool,
    /// `CKA_DERIVE`.
    pub derive: bool,
    /// `CKA_UNWRAP`.
    pub unwrap: bool,
}

impl HsmSigner {
    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// The key as the URI named it (`object="..."`, `id=...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The session the signer uses.
    pub fn session(&self) -> &HsmSession {
        &self.session
    }

    /// Signs `msg` as TUF needs it: ECDSA P-256 over SHA-256 (hashed here,
    /// `CKM_ECDSA` in the token, DER with low S) or pure Ed25519
    /// (`CKM_EDDSA`, 64 bytes). The same as [`signature::Signer::try_sign`]
    /// with the error kept typed.
    pub fn sign_bytes(&self, msg: &[u8]) -> Result<SignatureBytes, HsmError> {
        let inner = &self.session.inner;
        let alg = self.public.algorithm();
        let (_, mechanism_type, purpose) = mechanisms(alg);
        require_mechanism(&inner.mechanisms, mechanism_type, &inner.token, purpose)?;
        let raw = {
            let session = self.session.session();
            let result = match alg {
                // SoftHSM2 2.6 has no CKM_ECDSA_SHA256, and hashing here
                // keeps the message off the token's (slow) link anyway.
                Algorithm::EcdsaP256 => {
                    session.sign(&Mechanism::Ecdsa, self.key, &Sha256::digest(msg))
                }
                Algorithm::Ed25519 => session.sign(
                    &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                    self.key,
                    msg,
                ),
            };
            result.map_err(|e| sign_error(e, &inner.token, &self.name, mechanism_type))?
        };
        let malformed = |why: String| HsmError::MalformedSignature {
            key: self.name.clone(),
            why,
        };
        let sig = match alg {
            Algorithm::EcdsaP256 => encoding::ecdsa_der_low_s(&raw).map_err(malformed)?,
            Algorithm::Ed25519 if raw.len() == 64 => raw,
            Algorithm::Ed25519 => {
                return Err(malformed(format!(
                    "CKM_EDDSA returned {} bytes, not 64",
                    raw.len()
                )));
            }
        };
        if self.public.verify(msg, &sig).is_err() {
            return Err(HsmError::SignatureMismatch {
                key: self.name.clone(),
            });
        }
        Ok(SignatureBytes(sig))
    }

    /// The key's protection attributes, as the token reports them.
    pub fn key_protection(&self) -> Result<KeyProtection, HsmError> {
        let attrs = self.session.session().get_attributes(
            self.key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
                AttributeType::Local,
                AttributeType::Sign,
                AttributeType::Decrypt,
                AttributeType::Derive,
                AttributeType::Unwrap,
            ],
        )?;
        let mut p = KeyProtection {
            sensitive: false,
            extractable: true,
            always_sensitive: false,
            never_extractable: false,
            local: false,
            sign: false,
            decrypt: false,
            derive: false,
            unwrap: false,
        };
        for attr in attrs {
            match attr {
                Attribute::Sensitive(v) => p.sensitive = v,
                Attribute::Extractable(v) => p.extractable = v,
                Attribute::AlwaysSensitive(v) => p.always_sensitive = v,
                Attribute::NeverExtractable(v) => p.never_extractable = v,
                Attribute::Local(v) => p.local = v,
                Attribute::Sign(v) => p.sign = v,
                Attribute::Decrypt(v) => p.decrypt = v,
                Attribute::Derive(v) => p.derive = v,
                Attribute::Unwrap(v) => p.unwrap = v,
                _ => {}
            }
        }
        Ok(p)
    }
}

impl signature::Signer<SignatureBytes> for HsmSigner {
    /// See [`HsmSigner::sign_bytes`]; the [`HsmError`] is the returned
    /// error's `source()`.
    fn try_sign(&self, msg: &[u8]) -> Result<SignatureBytes, signature::Error> {
        self.sign_bytes(msg).map_err(signature::Error::from_source)
    }
}

impl TufSigner for HsmSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
}
