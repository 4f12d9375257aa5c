//! The byte formats between PKCS#11 and TUF: `CKA_EC_PARAMS` and
//! `CKA_EC_POINT` to a public key, raw `r || s` to low-S DER.

use fwsign_keys::{Algorithm, PublicKey};

/// DER of OID 1.2.840.10045.3.1.7 (prime256v1), as `CKA_EC_PARAMS` holds it.
pub(crate) const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of OID 1.3.101.112 (id-Ed25519, RFC 8410). SoftHSM2 2.6 and PKCS#11
/// 3.0 tokens accept it; some older tokens want the printable string.
pub(crate) const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER PrintableString "edwards25519", PKCS#11 3.0's other spelling.
const ED25519_PARAMS_NAME: &[u8] = b"\x13\x0cedwards25519";

/// SPKI prefixes: everything before the point, for the one curve each.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const ED25519_SPKI_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Which algorithm `CKA_EC_PARAMS` names, or a readable name of the curve
/// it names instead.
pub(crate) fn curve_of(params: &[u8]) -> Result<Algorithm, String> {
    if params == P256_PARAMS {
        return Ok(Algorithm::EcdsaP256);
    }
    if params == ED25519_PARAMS || params == ED25519_PARAMS_NAME {
        return Ok(Algorithm::Ed25519);
    }
    let known: [(&[u8], &str); 5] = [
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], "a P-384 key"),
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23], "a P-521 key"),
        (
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
            "a secp256k1 key",
        ),
        (&[0x06, 0x03, 0x2b, 0x65, 0x71], "an Ed448 key"),
        (b"\x13\x0aedwards448", "an Ed448 key"),
    ];
    if let Some((_, name)) = known.iter().find(|(bytes, _)| params == *bytes) {
        return Err((*name).to_owned());
    }
    Err(format!(
        "a key on an unsupported curve (EC params {})",
        crate::uri::hex(params)
    ))
}

/// The point inside `CKA_EC_POINT`: PKCS#11 says a DER OCTET STRING, but
/// some tokens (and SoftHSM2 for Ed25519 in some builds) return it raw. The
/// lengths tell the two apart: a raw uncompressed P-256 point is 65 bytes
/// and can start `04 41` like the wrapped form, which is 67.
pub(crate) fn unwrap_point(alg: Algorithm, point: &[u8]) -> Result<&[u8], String> {
    let len = match alg {
        Algorithm::EcdsaP256 => 65,
        Algorithm::Ed25519 => 32,
    };
    match point {
        raw if raw.len() == len => Ok(raw),
        [0x04, l, rest @ ..] if usize::from(*l) == len && rest.len() == len => Ok(rest),
        _ => Err(format!(
            "CKA_EC_POINT is {} bytes, neither a {len}-byte point nor one wrapped in an OCTET STRING",
            point.len()
        )),
    }
}

/// A public key from the curve and the (unwrapped) point.
pub(crate) fn public_key(alg: Algorithm, point: &[u8]) -> Result<PublicKey, String> {
    let point = unwrap_point(alg, point)?;
    let prefix = match alg {
        Algorithm::EcdsaP256 => P256_SPKI_PREFIX,
        Algorithm::Ed25519 => ED25519_SPKI_PREFIX,
    };
    let mut spki = Vec::with_capacity(prefix.len() + point.len());
    spki.extend_from_slice(prefix);
    spki.extend_from_slice(point);
    PublicKey::from_spki_der(&spki).map_err(|e| e.to_string())
}

/// `CKM_ECDSA`'s output (`r || s`, 32 bytes each) as TUF stores it: DER,
/// with S normalised to the lower half of the group order. Tokens return
/// high S about half the time, and strict verifiers refuse those.
pub(crate) fn ecdsa_der_low_s(raw: &[u8]) -> Result<Vec<u8>, String> {
    let sig = p256::ecdsa::Signature::from_slice(raw).map_err(|_| {
        format!(
            "CKM_ECDSA returned {} bytes that are not r || s on P-256",
            raw.len()
        )
    })?;
    Ok(sig.normalize_s().to_der().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwsign_keys::PrivateKey;
    use signature::Signer as _;

    #[test]
    fn curves_are_told_apart_by_ec_params() {
        assert_eq!(curve_of(P256_PARAMS), Ok(Algorithm::EcdsaP256));
        assert_eq!(curve_of(ED25519_PARAMS), Ok(Algorithm::Ed25519));
        assert_eq!(curve_of(b"\x13\x0cedwards25519"), Ok(Algorithm::Ed25519));
        assert!(
            curve_of(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22])
                .unwrap_err()
                .contains("P-384")
        );
        assert!(
            curve_of(b"\x13\x0aedwards448")
                .unwrap_err()
                .contains("Ed448")
        );
        assert!(curve_of(&[0x05, 0x00]).unwrap_err().contains("0500"));
    }

    #[test]
    fn ec_points_are_read_wrapped_and_raw() {
        for alg in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let pk = PrivateKey::generate(alg).unwrap().public_key().clone();
            let raw = pk.sec1_or_raw_bytes();
            let mut wrapped = vec![0x04, u8::try_from(raw.len()).unwrap()];
            wrapped.extend_from_slice(&raw);
            assert_eq!(public_key(alg, &raw).unwrap(), pk, "{alg} raw");
            assert_eq!(public_key(alg, &wrapped).unwrap(), pk, "{alg} wrapped");
            assert!(public_key(alg, &raw[1..]).is_err());
            assert!(public_key(alg, &wrapped[..wrapped.len() - 1]).is_err());
        }
        // A raw P-256 point whose X happens to start with 0x41 is still raw.
        let mut tricky = vec![0x04, 0x41];
        tricky.extend_from_slice(&[0u8; 63]);
        assert_eq!(
            unwrap_point(Algorithm::EcdsaP256, &tricky).unwrap().len(),
            65
        );
    }

    #[test]
    fn raw_ecdsa_signatures_become_low_s_der() {
        use p256::elliptic_curve::ff::PrimeField as _;
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let der = key.try_sign(b"m").unwrap().0;
        let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
        let (r, s) = sig.split_scalars();
        // The same signature with S replaced by n - S: what a token returns
        // half the time.
        let high = p256::ecdsa::Signature::from_scalars(r.to_repr(), (-*s).to_repr()).unwrap();
        assert_ne!(high.normalize_s(), high);
        for raw in [sig.to_bytes(), high.to_bytes()] {
            let out = ecdsa_der_low_s(&raw).unwrap();
            assert_eq!(out, der);
            key.public_key().verify(b"m", &out).unwrap();
        }
        assert!(ecdsa_der_low_s(&[0u8; 63]).is_err());
        assert!(
            ecdsa_der_low_s(&[0u8; 64]).is_err(),
            "r = s = 0 is not a signature"
        );
    }
}
