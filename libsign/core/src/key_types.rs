//! The signature algorithms the verification core can check, behind one
//! trait, so each build registers what it links: the device P-256 and/or
//! Ed25519, the host also RSA-PSS for reading other tools' repositories.
//!
//! A signature whose key type no registered [`KeyType`] handles simply does
//! not count toward a threshold; it is not an error, because a repository may
//! legitimately list keys this build cannot check.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use fwsign_manifest_schema::reader::{Json, JsonStr};

/// The identity of a key's material, independent of its key ID and of how
/// its public key is spelled (PEM or hex, `ecdsa` or
/// `ecdsa-sha2-nistp256`): SHA-256 over an algorithm tag and the normalised
/// public key. Thresholds count distinct identities, never key IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyIdentity(pub [u8; 32]);

impl KeyIdentity {
    /// The identity of `public` (normalised public key bytes) under `tag`.
    pub fn of(tag: &[u8], public: &[u8]) -> Self {
        Self(super::sha256_of(&[tag, &[0], public]))
    }
}

/// Why one signature does not count. Deliberately coarse, like
/// [`signature::Error`]: which step of a signature check failed tells an
/// attacker more than it helps a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejected {
    /// The public key cannot be read.
    BadKey,
    /// The signature is malformed or does not verify.
    BadSignature,
}

/// A signature algorithm the verification core can check.
///
/// Not `Debug` (flash: see the module note); `dyn KeyType` prints its
/// [`KeyType::name`].
pub trait KeyType: Sync {
    /// A short name for logs (`"ecdsa-p256"`).
    fn name(&self) -> &'static str;

    /// Whether this implementation handles keys with this `keytype` and
    /// `scheme`.
    fn handles(&self, keytype: JsonStr<'_>, scheme: JsonStr<'_>) -> bool;

    /// Checks `sig` (the hex string from the envelope) over `message` with
    /// the key whose `keyval` object is given, and returns the key's
    /// identity when it verifies.
    fn verify(
        &self,
        keyval: Json<'_>,
        message: &[u8],
        sig: JsonStr<'_>,
    ) -> Result<KeyIdentity, Rejected>;
}

impl core::fmt::Debug for dyn KeyType + '_ {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A key's `keyval.public` text (unescaped, as every key type stores it), as
/// the UTF-8 bytes the reader checked: the device never makes a `&str` of it.
/// Public for key types registered outside the core (the host's RSA-PSS).
pub fn public_text<'a>(keyval: Json<'a>) -> Result<&'a [u8], Rejected> {
    keyval
        .get("public")
        .and_then(|p| p.as_str())
        .and_then(|s| s.plain_bytes())
        .ok_or(Rejected::BadKey)
}

/// Decodes hex (either case) into `out`, returning the decoded bytes.
fn hex_into<'o>(hex: JsonStr<'_>, out: &'o mut [u8]) -> Result<&'o [u8], Rejected> {
    let text = hex.plain_bytes().ok_or(Rejected::BadSignature)?;
    super::hex::decode(text, out).ok_or(Rejected::BadSignature)
}

/// ECDSA over NIST P-256 with SHA-256 (`ecdsa-sha2-nistp256`), keys as SPKI
/// PEM (securesystemslib's form) or hex SEC1 points, signatures as hex DER.
///
/// The arithmetic comes from one of two backends, chosen at build time: the
/// RustCrypto `p256` crate (the default, and always on the host), or, with
/// the `p256-asm` feature on an Arm target, the Cortex-M4 assembly of
/// `p256-cm4` (`p256_cm4.rs`). Decoding the key and signature and the key's
/// identity are the same code for both, so the two accept the same inputs
/// and count the same keys; only the curve arithmetic differs.
#[cfg(feature = "p256")]
#[derive(Debug, Clone, Copy, Default)]
pub struct EcdsaP256;

/// Whether this build verifies P-256 with `p256-cm4` (see [`EcdsaP256`]).
pub const P256_ASM: bool = cfg!(all(feature = "p256-asm", target_arch = "arm"));

#[cfg(feature = "p256")]
impl KeyType for EcdsaP256 {
    fn name(&self) -> &'static str {
        "ecdsa-p256"
    }

    fn handles(&self, keytype: JsonStr<'_>, scheme: JsonStr<'_>) -> bool {
        (keytype.eq_str("ecdsa") || keytype.eq_str("ecdsa-sha2-nistp256"))
            && scheme.eq_str("ecdsa-sha2-nistp256")
    }

    #[cfg(all(feature = "p256-asm", target_arch = "arm"))]
    fn verify(
        &self,
        keyval: Json<'_>,
        message: &[u8],
        sig: JsonStr<'_>,
    ) -> Result<KeyIdentity, Rejected> {
        super::p256_cm4::verify(keyval, message, sig)
    }

    #[cfg(not(all(feature = "p256-asm", target_arch = "arm")))]
    fn verify(
        &self,
        keyval: Json<'_>,
        message: &[u8],
        sig: JsonStr<'_>,
    ) -> Result<KeyIdentity, Rejected> {
        // Filled in place: a returned tuple is copied through the caller's
        // frame, which is live during the deepest stack (`check`).
        let mut decoded = None;
        let identity = Self::decode(keyval, sig, &mut decoded)?;
        let (public, signature) = decoded.as_ref().ok_or(Rejected::BadKey)?;
        Self::check(public, message, signature)?;
        Ok(identity)
    }
}

/// The SEC1 point a key's `keyval.public` spells (PEM SubjectPublicKeyInfo
/// or hex), decoded into `buf`, unvalidated: both backends start here.
#[cfg(feature = "p256")]
pub(crate) fn p256_sec1_point<'b>(
    keyval: Json<'_>,
    buf: &'b mut [u8; 96],
) -> Result<&'b [u8], Rejected> {
    let public = public_text(keyval)?;
    if public.starts_with(b"-----BEGIN") {
        let der = super::p256_encoding::pem_public_key(public, buf).ok_or(Rejected::BadKey)?;
        super::p256_encoding::spki_point(der).ok_or(Rejected::BadKey)
    } else {
        super::hex::decode(public, buf).ok_or(Rejected::BadKey)
    }
}

/// A hex DER ECDSA signature as `r || s` (big-endian, 32 bytes each), not
/// yet range-checked: both backends refuse `r` or `s` outside `1..n`.
#[cfg(feature = "p256")]
pub(crate) fn p256_raw_signature(sig: JsonStr<'_>) -> Result<[u8; 64], Rejected> {
    let mut buf = [0u8; 80];
    let der = hex_into(sig, &mut buf)?;
    super::p256_encoding::ecdsa_signature(der).ok_or(Rejected::BadSignature)
}

/// The identity of a P-256 key given as a SEC1 point the backend has
/// validated: over its compressed form, which is the same however the key
/// was spelled (PEM or hex, either point form), taken from the bytes as
/// given, so no field arithmetic is spent re-encoding the point.
#[cfg(feature = "p256")]
pub(crate) fn p256_identity(compressed: &[u8; 33]) -> KeyIdentity {
    KeyIdentity::of(b"ecdsa-p256", compressed)
}

#[cfg(feature = "p256")]
impl EcdsaP256 {
    /// Reads the public key from `keyval.public`.
    pub fn public_key(keyval: Json<'_>) -> Result<p256::PublicKey, Rejected> {
        Self::decode_key(keyval).map(|(public, _)| public)
    }

    /// The public key and its compressed SEC1 encoding, which its identity
    /// is computed over.
    fn decode_key(keyval: Json<'_>) -> Result<(p256::PublicKey, [u8; 33]), Rejected> {
        let mut buf = [0u8; 96];
        let point = p256_sec1_point(keyval, &mut buf)?;
        // Validated as a point first: only then is the compressed form a
        // faithful name for it.
        let key = p256::PublicKey::from_sec1_bytes(point).map_err(|_| Rejected::BadKey)?;
        let compressed = super::p256_encoding::compressed_point(point).ok_or(Rejected::BadKey)?;
        Ok((key, compressed))
    }

    /// The key, the signature and the key's identity, worked out out of
    /// line: on a device the buffers this needs are off the stack again
    /// before the curve arithmetic takes its deepest frames.
    #[cfg(not(all(feature = "p256-asm", target_arch = "arm")))]
    #[inline(never)]
    fn decode(
        keyval: Json<'_>,
        sig: JsonStr<'_>,
        out: &mut Option<(p256::PublicKey, p256::ecdsa::Signature)>,
    ) -> Result<KeyIdentity, Rejected> {
        let (public, compressed) = Self::decode_key(keyval)?;
        let raw = p256_raw_signature(sig)?;
        let signature =
            p256::ecdsa::Signature::from_slice(&raw).map_err(|_| Rejected::BadSignature)?;
        *out = Some((public, signature));
        Ok(p256_identity(&compressed))
    }

    /// The signature check itself, out of line so the curve arithmetic's
    /// frame is not merged with (and enlarged by) the decoding around it.
    #[cfg(not(all(feature = "p256-asm", target_arch = "arm")))]
    #[inline(never)]
    fn check(
        public: &p256::PublicKey,
        message: &[u8],
        signature: &p256::ecdsa::Signature,
    ) -> Result<(), Rejected> {
        if P256_RING {
            #[cfg(feature = "p256-ring")]
            return p256_check_ring(public, message, signature);
        }
        p256_check_rustcrypto(public, message, signature)
    }
}

/// Whether this build verifies P-256 with ring (see the `p256-ring`
/// feature): host builds that enable it, never a device's.
pub const P256_RING: bool = cfg!(all(
    feature = "p256-ring",
    not(all(feature = "p256-asm", target_arch = "arm"))
));

/// RustCrypto's check of a decoded signature over `message`.
#[cfg(all(feature = "p256", not(all(feature = "p256-asm", target_arch = "arm"))))]
pub(crate) fn p256_check_rustcrypto(
    public: &p256::PublicKey,
    message: &[u8],
    signature: &p256::ecdsa::Signature,
) -> Result<(), Rejected> {
    use signature::Verifier;
    p256::ecdsa::VerifyingKey::from(public)
        .verify(message, signature)
        .map_err(|_| Rejected::BadSignature)
}

/// ring's check of the same decoded key and signature: the point (which
/// RustCrypto has validated) uncompressed, and `r || s`, which the
/// signature type holds in `1..n`.
#[cfg(feature = "p256-ring")]
pub(crate) fn p256_check_ring(
    public: &p256::PublicKey,
    message: &[u8],
    signature: &p256::ecdsa::Signature,
) -> Result<(), Rejected> {
    use p256::elliptic_curve::sec1::ToSec1Point;
    let point = public.to_sec1_point(false);
    let raw = signature.to_bytes();
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        point.as_bytes(),
    )
    .verify(message, &raw)
    .map_err(|_| Rejected::BadSignature)
}

/// Ed25519 (`ed25519`), keys and signatures as hex. Verification is strict
/// (RFC 8032 with small-order keys and non-canonical encodings refused), so
/// one signature cannot be re-encoded into a second that also verifies.
#[cfg(feature = "ed25519")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Ed25519;

#[cfg(feature = "ed25519")]
impl KeyType for Ed25519 {
    fn name(&self) -> &'static str {
        "ed25519"
    }

    fn handles(&self, keytype: JsonStr<'_>, scheme: JsonStr<'_>) -> bool {
        keytype.eq_str("ed25519") && scheme.eq_str("ed25519")
    }

    fn verify(
        &self,
        keyval: Json<'_>,
        message: &[u8],
        sig: JsonStr<'_>,
    ) -> Result<KeyIdentity, Rejected> {
        let public = public_text(keyval)?;
        let mut key_bytes = [0u8; 32];
        let decoded = super::hex::decode(public, &mut key_bytes).ok_or(Rejected::BadKey)?;
        if decoded.len() != 32 {
            return Err(Rejected::BadKey);
        }
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).map_err(|_| Rejected::BadKey)?;
        let mut sig_bytes = [0u8; 64];
        if hex_into(sig, &mut sig_bytes)?.len() != 64 {
            return Err(Rejected::BadSignature);
        }
        let signature = ed25519_dalek::Signature::from_bytes(&sig_bytes);
        key.verify_strict(message, &signature)
            .map_err(|_| Rejected::BadSignature)?;
        Ok(KeyIdentity::of(b"ed25519", &key_bytes))
    }
}

/// The key types this build links, in the order they are tried.
pub const BUILTIN: &[&dyn KeyType] = &[
    #[cfg(feature = "p256")]
    &EcdsaP256,
    #[cfg(feature = "ed25519")]
    &Ed25519,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Attack: one approver's P-256 key listed again in another spelling
    /// (hex instead of PEM, compressed instead of uncompressed) to be counted
    /// twice. Every spelling must yield the same identity.
    #[cfg(feature = "p256")]
    #[test]
    fn a_p256_key_has_one_identity_however_it_is_spelled() {
        use p256::elliptic_curve::sec1::ToSec1Point;
        use p256::pkcs8::EncodePublicKey;
        use signature::Signer;

        let signing = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let public = p256::PublicKey::from(signing.verifying_key());
        let message = b"{\"signed\":{}}";
        let sig: p256::ecdsa::Signature = signing.sign(message);
        let sig_hex = base16ct::lower::encode_string(sig.to_der().as_bytes());

        let pem = public
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        let spellings = [
            pem,
            base16ct::lower::encode_string(public.to_sec1_point(false).as_bytes()),
            base16ct::upper::encode_string(public.to_sec1_point(true).as_bytes()),
        ];
        let identities: Vec<KeyIdentity> = spellings
            .iter()
            .map(|spelled| {
                // Canonical JSON keeps the PEM's newlines raw.
                let canonical = |v: serde_json::Value| {
                    fwsign_manifest_schema::canonical::to_canonical_vec(&v).unwrap()
                };
                let keyval = canonical(serde_json::json!({ "public": spelled }));
                let sig_json = canonical(serde_json::json!(sig_hex));
                let keyval = Json::parse_canonical(&keyval).unwrap();
                let sig = Json::parse_canonical(&sig_json).unwrap().as_str().unwrap();
                EcdsaP256.verify(keyval, message, sig).unwrap()
            })
            .collect();
        assert!(identities.windows(2).all(|w| w[0] == w[1]));
    }

    /// The host's two P-256 backends give the same answer on every
    /// Wycheproof ECDSA P-256/SHA-256 vector whose key and signature the
    /// shared decoding accepts (the others never reach a backend): a
    /// signature one backend takes and the other refuses would make a
    /// verdict depend on how fwsign was built.
    #[cfg(feature = "p256-ring")]
    #[test]
    fn ring_and_rustcrypto_agree_on_every_wycheproof_p256_vector() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/wycheproof/ecdsa_secp256r1_sha256_test.json"
        );
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let hex = |t: &str| base16ct::mixed::decode_vec(t).unwrap();
        let (mut accepted, mut refused) = (0, 0);
        for group in doc["testGroups"].as_array().unwrap() {
            let point = hex(group["publicKey"]["uncompressed"].as_str().unwrap());
            let Ok(public) = p256::PublicKey::from_sec1_bytes(&point) else {
                continue;
            };
            for test in group["tests"].as_array().unwrap() {
                let msg = hex(test["msg"].as_str().unwrap());
                let der = hex(test["sig"].as_str().unwrap());
                let Ok(sig) = p256::ecdsa::Signature::from_der(&der) else {
                    continue;
                };
                let ours = p256_check_rustcrypto(&public, &msg, &sig).is_ok();
                let ring = p256_check_ring(&public, &msg, &sig).is_ok();
                assert_eq!(ours, ring, "tcId {}: {}", test["tcId"], test["comment"]);
                if ours {
                    accepted += 1;
                } else {
                    refused += 1;
                }
            }
        }
        assert!(
            accepted > 100 && refused > 20,
            "{accepted} accepted, {refused} refused"
        );
        println!("{accepted} accepted and {refused} refused by both");
        const { assert!(P256_RING) };
    }
}
