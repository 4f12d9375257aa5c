//! The P-256 arithmetic of [`super::key_types::EcdsaP256`] on Cortex-M4
//! assembly (`p256-cm4`, a Rust port of Emil Lenngren's P256-Cortex-M4),
//! built only with the `p256-asm` feature on an Arm target. Why this crate
//! and not another: `docs/architecture.md`, "Algorithms".
//!
//! Everything before the arithmetic is the RustCrypto backend's code: the
//! key text to a SEC1 point, the hex DER signature to `r || s`, the key's
//! identity over its compressed form. What `p256-cm4` is handed is shaped
//! so it cannot panic or misread it: a point of exactly 33 or 65 bytes with
//! tag `02`, `03` or `04` (its decoder indexes `input[1..33]`, and would
//! also take the hybrid `06`/`07` form RustCrypto refuses), scalars and
//! coordinates as its little-endian 32-bit limbs, and a 32-byte digest.
//! It checks what RustCrypto checks: coordinates below `p`, the point on the
//! curve (or, compressed, that `x` has a square root), `r` and `s` in
//! `1..n`; the final comparison is `r == x(u1·G + u2·Q) mod n`.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use fwsign_manifest_schema::reader::{Json, JsonStr};

use super::key_types::{KeyIdentity, Rejected, p256_identity, p256_raw_signature, p256_sec1_point};

/// A decoded key and signature, in `p256-cm4`'s limb form.
#[derive(Default)]
struct Decoded {
    x: [u32; 8],
    y: [u32; 8],
    r: [u32; 8],
    s: [u32; 8],
}

/// Checks `sig` over `message` with the key in `keyval`; the key's identity
/// when it verifies.
pub(crate) fn verify(
    keyval: Json<'_>,
    message: &[u8],
    sig: JsonStr<'_>,
) -> Result<KeyIdentity, Rejected> {
    // Filled in place and decoded out of line, as the RustCrypto backend
    // does: the decoding buffers are off the stack before the arithmetic.
    let mut decoded = Decoded::default();
    let identity = decode(keyval, sig, &mut decoded)?;
    // flash: the core's one SHA-256, see the module note.
    let digest = super::sha256_of(&[message]);
    if p256_cm4::verify(&decoded.x, &decoded.y, &digest, &decoded.r, &decoded.s) {
        Ok(identity)
    } else {
        Err(Rejected::BadSignature)
    }
}

#[inline(never)]
fn decode(keyval: Json<'_>, sig: JsonStr<'_>, out: &mut Decoded) -> Result<KeyIdentity, Rejected> {
    let mut buf = [0u8; 96];
    let point = p256_sec1_point(keyval, &mut buf)?;
    // Exactly the compressed and uncompressed forms, and nothing else,
    // reach `octet_string_to_point` (see the module's comment).
    let compressed = super::p256_encoding::compressed_point(point).ok_or(Rejected::BadKey)?;
    if !p256_cm4::octet_string_to_point(&mut out.x, &mut out.y, point) {
        return Err(Rejected::BadKey);
    }
    let raw = p256_raw_signature(sig)?;
    let (r, s) = raw.split_at(32);
    out.r = limbs(r);
    out.s = limbs(s);
    Ok(p256_identity(&compressed))
}

/// A 32-byte big-endian integer as eight little-endian 32-bit limbs, the
/// least significant first.
fn limbs(be: &[u8]) -> [u32; 8] {
    let mut out = [0u32; 8];
    let (words, _) = be.as_chunks::<4>();
    for (limb, word) in out.iter_mut().zip(words.iter().rev()) {
        *limb = u32::from_be_bytes(*word);
    }
    out
}
