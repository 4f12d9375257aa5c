//! The baseline the verifier is measured against (`bench/device`): the same
//! runtime, board glue and console as the bootloader, calling only the
//! crypto the verifier's profile links, directly on the plain crates:
//! SHA-256 over an image, and signatures per algorithm over messages, with
//! keys and signatures in their raw forms (no PEM, hex or DER). Several
//! signatures are checked, because one ECDSA verification's cost varies
//! with its scalars; the per-signature figure is their mean.
//!
//! The case at `CASE_ADDR`, little-endian:
//!
//! ```text
//!   0  "FWCR"            magic
//!   4  u32  2            format
//!   8  u32  image_len    bytes of the image at SLOT_ADDR
//!  12  u32  message_len  bytes of each signed message
//!  16  u32  count        signatures per algorithm (at most 16)
//!  20  [32]  the image's SHA-256
//!  52  [65]  P-256 public key (SEC1, uncompressed), 3 zero bytes
//! 120  [32]  Ed25519 public key
//! 152  count times: [64] P-256 signature (r || s), [64] Ed25519
//!      signature, the message they sign (message_len bytes, padded to 4)
//! ```
//!
//! Output: `STACK`, `TICKS` as the bootloader prints them, then `OK` and
//! exit 0 when the digest and every signature check, else `FAIL <what>` and
//! exit 1.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use fwsign_bootloader_verify_qemu::case::Reader;
use fwsign_bootloader_verify_qemu::console::Line;
use fwsign_bootloader_verify_qemu::{
    CASE_ADDR, CASE_MAX, SLOT_ADDR, SLOT_MAX, board, exit_code, ticks,
};
use sha2::{Digest, Sha256};

#[cfg(not(any(feature = "p256", feature = "ed25519")))]
compile_error!("the baseline needs the profile's algorithms: enable `p256` and/or `ed25519`");

/// Most signatures per algorithm a case carries.
const MAX_SIGNED: usize = 16;

/// One message with its signature under each algorithm.
#[derive(Clone, Copy, Default)]
struct Signed<'a> {
    #[cfg_attr(not(feature = "p256"), allow(dead_code))]
    p256_sig: &'a [u8],
    #[cfg_attr(not(feature = "ed25519"), allow(dead_code))]
    ed25519_sig: &'a [u8],
    #[cfg_attr(not(any(feature = "p256", feature = "ed25519")), allow(dead_code))]
    message: &'a [u8],
}

/// One baseline case.
struct Case<'a> {
    image: &'a [u8],
    digest: [u8; 32],
    #[cfg_attr(not(feature = "p256"), allow(dead_code))]
    p256_key: &'a [u8],
    #[cfg_attr(not(feature = "ed25519"), allow(dead_code))]
    ed25519_key: [u8; 32],
    signed: [Signed<'a>; MAX_SIGNED],
    count: usize,
}

impl<'a> Case<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, &'static str> {
        let mut r = Reader::new(bytes);
        r.header(b"FWCR", 2)?;
        let image_len = r.length()?;
        if image_len > SLOT_MAX {
            return Err("image larger than the slot region");
        }
        let message_len = r.length()?;
        let count = r.length()?;
        if count == 0 || count > MAX_SIGNED {
            return Err("signature count out of range");
        }
        let digest = r.array()?;
        let p256_key = r.padded(65)?;
        let ed25519_key = r.array()?;
        let mut signed = [Signed::default(); MAX_SIGNED];
        for s in signed.iter_mut().take(count) {
            s.p256_sig = r.take(64)?;
            s.ed25519_sig = r.take(64)?;
            s.message = r.padded(message_len)?;
        }
        Ok(Self {
            image: board::psram(SLOT_ADDR, image_len),
            digest,
            p256_key,
            ed25519_key,
            signed,
            count,
        })
    }

    fn signed(&self) -> &[Signed<'a>] {
        self.signed.get(..self.count).unwrap_or(&[])
    }
}

/// Checks one P-256 signature as a plain `p256` user would.
#[cfg(all(feature = "p256", not(feature = "p256-asm")))]
fn p256_verifies(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(key) else {
        return false;
    };
    let Ok(sig) = p256::ecdsa::Signature::from_slice(sig) else {
        return false;
    };
    key.verify(message, &sig).is_ok()
}

/// Checks one P-256 signature as a plain `p256-cm4` user would: the point
/// decoded and checked, the message hashed with `sha2`, `r` and `s` as its
/// little-endian limbs.
#[cfg(feature = "p256-asm")]
fn p256_verifies(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    let (mut x, mut y) = ([0u32; 8], [0u32; 8]);
    if key.len() != 65 || !p256_cm4::octet_string_to_point(&mut x, &mut y, key) {
        return false;
    }
    let limbs = |be: &[u8]| {
        let mut out = [0u32; 8];
        for (limb, word) in out.iter_mut().zip(be.as_chunks::<4>().0.iter().rev()) {
            *limb = u32::from_be_bytes(*word);
        }
        out
    };
    let (r, s) = sig.split_at(sig.len().min(32));
    let digest: [u8; 32] = Sha256::digest(message).into();
    p256_cm4::verify(&x, &y, &digest, &limbs(r), &limbs(s))
}

/// Checks one Ed25519 signature as the verifier does (strictly).
#[cfg(feature = "ed25519")]
fn ed25519_verifies(key: &[u8; 32], message: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(key) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

/// What [`run`] measured: ticks, and whether every check passed.
struct Timings {
    #[cfg_attr(
        not(feature = "timing"),
        allow(dead_code, reason = "printed with `timing`")
    )]
    sha_ticks: u64,
    digest: [u8; 32],
    #[cfg(feature = "p256")]
    p256: (u64, bool),
    #[cfg(feature = "ed25519")]
    ed25519: (u64, bool),
}

/// Ticks for `check` over every signed message, and whether all passed.
#[cfg_attr(not(any(feature = "p256", feature = "ed25519")), allow(dead_code))]
fn time_all(signed: &[Signed<'_>], check: impl Fn(&Signed<'_>) -> bool) -> (u64, bool) {
    signed.iter().fold((0, true), |(total, ok), s| {
        let (t, good) = ticks::time(|| check(s));
        (total.saturating_add(t), ok && good)
    })
}

/// The crypto work, timed, behind a call boundary so the stack measured
/// below `main`'s frame is the crypto's whole stack.
#[inline(never)]
fn run(case: &Case<'_>) -> Timings {
    let (sha_ticks, digest) = ticks::time(|| {
        // Fed in the verifier's chunk size, as it reads flash.
        let mut h = Sha256::new();
        for chunk in case.image.chunks(fwsign_bootloader_verify::HASH_CHUNK) {
            h.update(chunk);
        }
        <[u8; 32]>::from(h.finalize())
    });
    Timings {
        sha_ticks,
        digest,
        #[cfg(feature = "p256")]
        p256: time_all(case.signed(), |s| {
            p256_verifies(case.p256_key, s.message, s.p256_sig)
        }),
        #[cfg(feature = "ed25519")]
        ed25519: time_all(case.signed(), |s| {
            ed25519_verifies(&case.ed25519_key, s.message, s.ed25519_sig)
        }),
    }
}

fn fail(what: &str) -> ! {
    Line::new().str("FAIL ").str(what).print();
    board::exit(exit_code::REFUSE)
}

#[entry]
fn main() -> ! {
    board::enable_fpu();
    #[cfg(feature = "timing")]
    {
        let Some(peripherals) = cortex_m::Peripherals::take() else {
            fail("peripherals taken")
        };
        ticks::start(peripherals.SYST);
    }
    let case = match Case::parse(board::psram(CASE_ADDR, CASE_MAX)) {
        Ok(case) => case,
        Err(why) => {
            Line::new().str("BADCASE ").str(why).print();
            board::exit(exit_code::BAD_CASE)
        }
    };
    #[cfg(feature = "timing")]
    let calibration = ticks::calibrate();
    let painted = board::paint_stack();
    let timings = run(&case);
    let stack = painted.used();
    Line::new()
        .str("STACK ")
        .u64(stack as u64)
        .str(" bytes")
        .print();
    #[cfg(feature = "timing")]
    {
        let count = case.count as u64;
        // Each check hashes its message; bench/device takes that out.
        let bytes: u64 = case.signed().iter().map(|s| s.message.len() as u64).sum();
        let mut line = ticks::line(calibration);
        line.str(" sha256=")
            .u64(timings.sha_ticks)
            .str(" sha256_bytes=")
            .u64(case.image.len() as u64);
        #[cfg(feature = "p256")]
        line.str(" p256=")
            .u64(timings.p256.0)
            .str(" p256_calls=")
            .u64(count)
            .str(" p256_bytes=")
            .u64(bytes);
        #[cfg(feature = "ed25519")]
        line.str(" ed25519=")
            .u64(timings.ed25519.0)
            .str(" ed25519_calls=")
            .u64(count)
            .str(" ed25519_bytes=")
            .u64(bytes);
        line.print();
    }
    if timings.digest != case.digest {
        fail("sha256");
    }
    #[cfg(feature = "p256")]
    if !timings.p256.1 {
        fail("p256");
    }
    #[cfg(feature = "ed25519")]
    if !timings.ed25519.1 {
        fail("ed25519");
    }
    Line::new().str("OK").print();
    board::exit(exit_code::BOOT)
}
