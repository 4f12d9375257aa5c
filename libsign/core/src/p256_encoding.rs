//! The encodings P-256 material arrives in: a public key as a PEM `PUBLIC
//! KEY` block around a SubjectPublicKeyInfo (securesystemslib's form), and a
//! signature as a DER ECDSA-Sig-Value.
//!
//! The PEM armour is read leniently (any ASCII whitespace in the body, CRLF
//! or LF), as python-tuf's `cryptography` reads it; that is safe because
//! thresholds count the decoded, validated point, never the text. The
//! Base64 inside is decoded here too, strictly (canonical, padded): a public
//! key needs no constant-time decoder. Host tests check agreement with
//! `base64ct`.
//!
//! No general DER decoder: DER gives every value exactly one encoding, and
//! for these two fixed shapes the strict decoders (`spki`, and `ecdsa`'s
//! `der` support) accept precisely the byte strings matched here, so
//! matching them directly loses nothing.
//! Host tests check agreement with those decoders on valid and mutated
//! inputs, so the device accepts what the host accepts.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

/// `AlgorithmIdentifier { id-ecPublicKey, namedCurve prime256v1 }`, the only
/// parameters a P-256 SPKI may carry (`spki` refuses explicit curves too).
const P256_ALGORITHM: [u8; 21] = [
    0x30, 0x13, // SEQUENCE, 19 bytes
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, // 1.2.840.10045.2.1
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, // 1.2.840.10045.3.1.7
];

/// Bytes of a P-256 scalar (`r`, `s`).
const SCALAR_LEN: usize = 32;

const PEM_BEGIN: &[u8] = b"-----BEGIN PUBLIC KEY-----";
const PEM_END: &[u8] = b"-----END PUBLIC KEY-----";
/// Base64 characters of the longest P-256 SPKI (91 bytes).
const PEM_BODY_MAX: usize = 124;

/// The DER inside a PEM `PUBLIC KEY` block, decoded into `out`. `None` for
/// any other label, text around the block, or a body that is not canonical
/// padded Base64 of at most 91 bytes.
pub(crate) fn pem_public_key<'o>(text: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let body = text
        .trim_ascii_end()
        .strip_prefix(PEM_BEGIN)?
        .strip_suffix(PEM_END)?;
    let mut compact = [0u8; PEM_BODY_MAX];
    let mut len: usize = 0;
    for &b in body.iter().filter(|b| !b.is_ascii_whitespace()) {
        *compact.get_mut(len)? = b;
        len = len.checked_add(1)?;
    }
    base64_decode(compact.get(..len)?, out)
}

/// Canonical padded Base64 (RFC 4648, section 4) decoded into `out`: `None`
/// for a length that is not a multiple of 4, a character outside the
/// alphabet, padding anywhere but the end, non-zero unused bits, or an
/// `out` too small.
fn base64_decode<'o>(text: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let (quads, rest) = text.as_chunks::<4>();
    if !rest.is_empty() {
        return None;
    }
    let mut len: usize = 0;
    let last = quads.len().saturating_sub(1);
    for (i, &[a, b, c, d]) in quads.iter().enumerate() {
        let (a, b) = (sextet(a)?, sextet(b)?);
        let (c, d, n) = match (c, d) {
            (b'=', b'=') if i == last && b & 0x0f == 0 => (0, 0, 1),
            (c, b'=') if i == last => {
                let c = sextet(c)?;
                if c & 0x03 != 0 {
                    return None;
                }
                (c, 0, 2)
            }
            (c, d) => (sextet(c)?, sextet(d)?, 3),
        };
        let bytes = [
            a.wrapping_shl(2) | b.wrapping_shr(4),
            b.wrapping_shl(4) | c.wrapping_shr(2),
            c.wrapping_shl(6) | d,
        ];
        let end = len.checked_add(n)?;
        out.get_mut(len..end)?.copy_from_slice(bytes.get(..n)?);
        len = end;
    }
    out.get(..len)
}

/// The value of one Base64 character.
fn sextet(c: u8) -> Option<u8> {
    // Each arm's subtraction stays in range: `c` lies in the arm's range.
    match c {
        b'A'..=b'Z' => Some(c.wrapping_sub(b'A')),
        b'a'..=b'z' => Some(c.wrapping_sub(b'a').wrapping_add(26)),
        b'0'..=b'9' => Some(c.wrapping_sub(b'0').wrapping_add(52)),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// The SEC1 point inside a P-256 SubjectPublicKeyInfo, unvalidated (the
/// caller decodes it as a point). `None` for anything else.
pub(crate) fn spki_point(der: &[u8]) -> Option<&[u8]> {
    // Every P-256 SPKI is under 128 bytes, so its lengths are short-form; a
    // long-form length here is either non-minimal or too long to be one.
    let body = short_tlv(der, 0x30)?;
    let rest = body.strip_prefix(&P256_ALGORITHM)?;
    let bits = short_tlv(rest, 0x03)?;
    // A key's BIT STRING has no unused bits.
    match bits {
        [0x00, point @ ..] => Some(point),
        _ => None,
    }
}

/// The compressed SEC1 form (`02`/`03` and x) of a SEC1 point given
/// compressed or uncompressed; `None` for anything else (the identity point
/// among it). Does not check that the point is on the curve.
pub(crate) fn compressed_point(point: &[u8]) -> Option<[u8; 33]> {
    let (tag, x) = match point {
        [0x04, xy @ ..] if xy.len() == 64 => {
            let (x, y) = xy.split_at(32);
            (0x02 | (y.last()? & 1), x)
        }
        [tag @ (0x02 | 0x03), x @ ..] if x.len() == 32 => (*tag, x),
        _ => return None,
    };
    let mut out = [0u8; 33];
    let (first, rest) = out.split_first_mut()?;
    *first = tag;
    rest.copy_from_slice(x);
    Some(out)
}

/// The ECDSA-Sig-Value `SEQUENCE { r INTEGER, s INTEGER }` as `r || s`, each
/// left-padded to 32 bytes. Range checks (zero, at least the group order)
/// are left to the backend (`p256::ecdsa::Signature::from_slice`, as
/// `ecdsa` leaves them to `from_scalars`, or `p256_cm4::verify`).
pub(crate) fn ecdsa_signature(der: &[u8]) -> Option<[u8; 64]> {
    let body = short_tlv(der, 0x30)?;
    let (r, rest) = unsigned_integer(body)?;
    let (s, rest) = unsigned_integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    let (r_out, s_out) = out.split_at_mut(SCALAR_LEN);
    right_align(r, r_out)?;
    right_align(s, s_out)?;
    Some(out)
}

/// The contents of a TLV with `tag` and a short-form length that spans all
/// of `input`.
fn short_tlv(input: &[u8], tag: u8) -> Option<&[u8]> {
    match input {
        [t, len, body @ ..] if *t == tag && *len < 0x80 && usize::from(*len) == body.len() => {
            Some(body)
        }
        _ => None,
    }
}

/// A minimally encoded, non-negative INTEGER at the start of `input`: its
/// magnitude (without the sign byte) and the bytes after it.
fn unsigned_integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let [0x02, len, rest @ ..] = input else {
        return None;
    };
    if *len >= 0x80 {
        return None;
    }
    let (value, rest) = rest.split_at_checked(usize::from(*len))?;
    let magnitude = match value {
        [] => return None,
        // A leading zero is allowed only to keep a high bit from reading
        // as a sign.
        [0x00, next, ..] if *next < 0x80 => return None,
        [0x00, tail @ ..] if !tail.is_empty() => tail,
        [first, ..] if *first >= 0x80 => return None,
        all => all,
    };
    Some((magnitude, rest))
}

/// Copies `value` into the end of `out`, zero-filling the front.
fn right_align(value: &[u8], out: &mut [u8]) -> Option<()> {
    let start = out.len().checked_sub(value.len())?;
    out.get_mut(start..)?.copy_from_slice(value);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePublicKey;
    use proptest::prelude::*;

    /// A fixed P-256 key's SPKI, uncompressed and compressed.
    fn spkis() -> [Vec<u8>; 2] {
        use p256::elliptic_curve::sec1::ToSec1Point;
        use p256::pkcs8::EncodePublicKey;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).expect("valid scalar");
        let public = secret.public_key();
        let uncompressed = public.to_public_key_der().expect("spki").into_vec();
        let point = public.to_sec1_point(true);
        let mut compressed = vec![0x30, 0x39];
        compressed.extend_from_slice(&P256_ALGORITHM);
        compressed.extend_from_slice(&[0x03, 0x22, 0x00]);
        compressed.extend_from_slice(point.as_bytes());
        [uncompressed, compressed]
    }

    fn signature_der() -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).expect("valid scalar");
        let sig: p256::ecdsa::Signature = key.sign(b"fwsign");
        sig.to_der().as_bytes().to_vec()
    }

    /// What `spki` makes of `der`, as the point bytes it would decode.
    fn reference_spki(der: &[u8]) -> Option<p256::PublicKey> {
        p256::PublicKey::from_public_key_der(der).ok()
    }

    fn ours_spki(der: &[u8]) -> Option<p256::PublicKey> {
        spki_point(der).and_then(|p| p256::PublicKey::from_sec1_bytes(p).ok())
    }

    fn ours_signature(der: &[u8]) -> Option<p256::ecdsa::Signature> {
        ecdsa_signature(der).and_then(|b| p256::ecdsa::Signature::from_slice(&b).ok())
    }

    #[test]
    fn compressed_point_agrees_with_p256() {
        use p256::elliptic_curve::sec1::ToSec1Point;
        for seed in 1u8..=40 {
            let public = p256::SecretKey::from_slice(&[seed; 32])
                .expect("valid scalar")
                .public_key();
            let want = public.to_sec1_point(true);
            for form in [false, true] {
                let given = public.to_sec1_point(form);
                assert_eq!(
                    compressed_point(given.as_bytes()).map(|c| c.to_vec()),
                    Some(want.as_bytes().to_vec())
                );
            }
        }
    }

    #[test]
    fn reads_both_point_forms_as_spki_does() {
        for der in spkis() {
            assert_eq!(ours_spki(&der), reference_spki(&der));
            assert!(ours_spki(&der).is_some());
        }
    }

    #[test]
    fn reads_signatures_as_ecdsa_does() {
        let der = signature_der();
        let ours = ours_signature(&der).expect("our parser reads a valid signature");
        assert_eq!(Some(ours), p256::ecdsa::Signature::from_der(&der).ok());
    }

    #[test]
    fn refuses_non_minimal_and_negative_integers() {
        // r = 1 written with a needless leading zero; s = 1.
        assert_eq!(
            ecdsa_signature(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]),
            None
        );
        // r negative.
        assert_eq!(
            ecdsa_signature(&[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01]),
            None
        );
        // A long-form length for a short SEQUENCE.
        assert_eq!(
            ecdsa_signature(&[0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]),
            None
        );
    }

    fn reference_base64(text: &[u8]) -> Option<Vec<u8>> {
        use base64ct::Encoding;
        base64ct::Base64::decode_vec(core::str::from_utf8(text).ok()?).ok()
    }

    fn ours_base64(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = [0u8; 128];
        base64_decode(text, &mut out).map(<[u8]>::to_vec)
    }

    #[test]
    fn reads_a_securesystemslib_pem_key() {
        // As python-tuf's securesystemslib writes an ecdsa key's `public`.
        use p256::pkcs8::EncodePublicKey;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).expect("valid scalar");
        let pem = secret
            .public_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem");
        let mut out = [0u8; 96];
        let der = pem_public_key(pem.as_bytes(), &mut out).expect("our PEM reader");
        assert_eq!(der, spkis()[0].as_slice());
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(pem_public_key(crlf.as_bytes(), &mut [0u8; 96]), Some(der));
        assert_eq!(
            pem_public_key(pem.replace("PUBLIC", "PRIVATE").as_bytes(), &mut [0u8; 96]),
            None
        );
    }

    proptest! {
        #[test]
        fn base64_round_trips_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..92)) {
            use base64ct::Encoding;
            let text = base64ct::Base64::encode_string(&bytes);
            prop_assert_eq!(ours_base64(text.as_bytes()), Some(bytes));
        }

        // Agreement on mutated encodings: a character changed, the text cut
        // or extended; either both decoders refuse or both read the same.
        #[test]
        fn base64_agrees_with_base64ct(
            bytes in proptest::collection::vec(any::<u8>(), 1..40),
            at in 0usize..56, byte in prop::sample::select(b"AQgw+/=aZ09\n-_".to_vec()),
            cut in 0usize..60,
        ) {
            use base64ct::Encoding;
            let mut text = base64ct::Base64::encode_string(&bytes).into_bytes();
            if let Some(b) = text.get_mut(at) { *b = byte; }
            text.truncate(cut);
            prop_assert_eq!(ours_base64(&text), reference_base64(&text));
        }

        // Agreement on mutations of valid encodings: a byte changed, the
        // input cut or extended. A disagreement would let the host and the
        // device count different keys or signatures.
        #[test]
        fn spki_agrees_with_the_spki_crate(
            which in 0usize..2, at in 0usize..91, byte in any::<u8>(), cut in 0usize..95,
            extra in proptest::collection::vec(any::<u8>(), 0..3),
        ) {
            let mut der = spkis()[which].clone();
            if let Some(b) = der.get_mut(at) { *b = byte; }
            der.truncate(cut);
            der.extend_from_slice(&extra);
            prop_assert_eq!(ours_spki(&der), reference_spki(&der));
        }

        #[test]
        fn signature_agrees_with_ecdsa_der(
            at in 0usize..72, byte in any::<u8>(), cut in 0usize..74,
            extra in proptest::collection::vec(any::<u8>(), 0..3),
        ) {
            let mut der = signature_der();
            if let Some(b) = der.get_mut(at) { *b = byte; }
            der.truncate(cut);
            der.extend_from_slice(&extra);
            prop_assert_eq!(
                ours_signature(&der),
                p256::ecdsa::Signature::from_der(&der).ok()
            );
        }

        #[test]
        fn signature_agrees_on_any_small_integers(
            r in proptest::collection::vec(any::<u8>(), 0..35),
            s in proptest::collection::vec(any::<u8>(), 0..35),
        ) {
            let mut der = vec![0x30, 0];
            for v in [&r, &s] {
                der.push(0x02);
                der.push(v.len() as u8);
                der.extend_from_slice(v);
            }
            der[1] = der.len().saturating_sub(2) as u8;
            prop_assert_eq!(
                ours_signature(&der),
                p256::ecdsa::Signature::from_der(&der).ok()
            );
        }
    }
}
