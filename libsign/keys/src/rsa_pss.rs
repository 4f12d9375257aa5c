//! RSA-PSS with SHA-256 (`rsassa-pss-sha256`), verification only, for the
//! host TUF client: repositories made by other tools use RSA keys, and a
//! client must count their signatures. The device never links this.

use fwsign_manifest_schema::reader::{Json, JsonStr};
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::pss::{Signature, VerifyingKey};
use sha2::Sha256;
use signature::Verifier;

use fwsign_core::key_types::{KeyIdentity, KeyType, Rejected, public_text};

/// `keytype` `rsa`, `scheme` `rsassa-pss-sha256`, public key as PEM
/// (SubjectPublicKeyInfo, or PKCS#1 `RSA PUBLIC KEY`), signature hex; any
/// salt length (securesystemslib and others differ).
#[derive(Debug, Clone, Copy, Default)]
pub struct RsaPssSha256;

fn public_key(keyval: Json<'_>) -> Result<RsaPublicKey, Rejected> {
    let pem = core::str::from_utf8(public_text(keyval)?).map_err(|_| Rejected::BadKey)?;
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|_| Rejected::BadKey)
}

impl KeyType for RsaPssSha256 {
    fn name(&self) -> &'static str {
        "rsassa-pss-sha256"
    }

    fn handles(&self, keytype: JsonStr<'_>, scheme: JsonStr<'_>) -> bool {
        keytype.eq_str("rsa") && scheme.eq_str("rsassa-pss-sha256")
    }

    fn verify(
        &self,
        keyval: Json<'_>,
        message: &[u8],
        sig: JsonStr<'_>,
    ) -> Result<KeyIdentity, Rejected> {
        use rsa::pkcs8::EncodePublicKey;
        let key = public_key(keyval)?;
        let hex = sig.as_plain().ok_or(Rejected::BadSignature)?;
        let bytes = base16ct::mixed::decode_vec(hex).map_err(|_| Rejected::BadSignature)?;
        let signature =
            Signature::try_from(bytes.as_slice()).map_err(|_| Rejected::BadSignature)?;
        VerifyingKey::<Sha256>::new_with_auto_salt_len(key.clone())
            .verify(message, &signature)
            .map_err(|_| Rejected::BadSignature)?;
        let der = key.to_public_key_der().map_err(|_| Rejected::BadKey)?;
        Ok(KeyIdentity::of(b"rsa", der.as_bytes()))
    }
}

/// The key types the host client registers: the device's, plus RSA-PSS.
pub const HOST_KEY_TYPES: &[&dyn KeyType] = &[
    &fwsign_core::key_types::EcdsaP256,
    &fwsign_core::key_types::Ed25519,
    &RsaPssSha256,
];
