//! Wycheproof's ECDSA P-256/SHA-256 vectors through the device's P-256 key
//! type, on the device build: the verifier's `EcdsaP256` exactly as a
//! threshold check calls it (`KeyType::verify` on the `keyval` object and
//! the hex DER signature string), with whichever backend this firmware was
//! built with (RustCrypto, or `p256-cm4` with the `p256-asm` feature).
//! `scripts/test-device` runs it once per backend and checks that every
//! `valid` vector is accepted, every `invalid` one refused, and that both
//! backends give the same answer on every record (`answers=`, a digest of
//! the accept/refuse sequence).
//!
//! The case at `CASE_ADDR` (`make_case.py wycheproof`), little-endian:
//!
//! ```text
//!   0  "FWWY"            magic
//!   4  u32  1            format
//!   8  u32  records
//!  12  per record: u32 tcId, u32 expected (0 invalid, 1 valid,
//!      2 acceptable), u32 keyval length, u32 signature length, u32 message
//!      length, then each of those three, zero-padded to 4 bytes: the
//!      canonical `{"public":...}` object, the canonical JSON string of the
//!      hex signature, the message
//! ```
//!
//! Output: `FAIL tcId=<id> expected=<0|1> got=<0|1>` for each valid vector
//! refused or invalid one accepted, then one line `WYCHEPROOF backend=<asm|
//! rustcrypto> records=<n> valid=<accepted>/<n> invalid=<refused>/<n>
//! acceptable=<accepted>/<n> answers=<hex>` and exit 0 when nothing failed,
//! else 1; a malformed case prints `BADCASE` and exits 4.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use fwsign_bootloader_verify_qemu::case::Reader;
use fwsign_bootloader_verify_qemu::console::Line;
use fwsign_bootloader_verify_qemu::{CASE_ADDR, CASE_MAX, board, exit_code};
use fwsign_core::key_types::{EcdsaP256, KeyType, P256_ASM};
use fwsign_manifest_schema::reader::Json;

#[cfg(not(feature = "p256"))]
compile_error!(
    "the Wycheproof firmware checks P-256: enable `p256` (and `p256-asm` for the assembly)"
);

/// Tally of one run.
#[derive(Default)]
struct Tally {
    records: u64,
    /// (accepted or refused as expected, of) per expected result.
    valid: (u64, u64),
    invalid: (u64, u64),
    /// (accepted, of): either answer passes; it must only agree between
    /// backends, which `answers` shows.
    acceptable: (u64, u64),
    /// FNV-1a (64-bit) over each record's tcId and answer, in order.
    answers: u64,
}

impl Tally {
    fn new() -> Self {
        Self {
            answers: 0xcbf2_9ce4_8422_2325,
            ..Self::default()
        }
    }

    fn fold(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.answers = (self.answers ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn bad_case(why: &str) -> ! {
    Line::new().str("BADCASE ").str(why).print();
    board::exit(exit_code::BAD_CASE)
}

/// One record's answer: whether `EcdsaP256` accepts it. A record whose
/// key object or signature string is not canonical JSON is a broken case.
fn accepts(keyval: &[u8], sig: &[u8], message: &[u8]) -> Result<bool, &'static str> {
    let keyval = Json::parse_canonical(keyval).map_err(|_| "keyval is not canonical JSON")?;
    let sig = Json::parse_canonical(sig)
        .ok()
        .and_then(|s| s.as_str())
        .ok_or("signature is not a canonical JSON string")?;
    Ok(EcdsaP256.verify(keyval, message, sig).is_ok())
}

fn run(case: &[u8]) -> Result<Tally, &'static str> {
    let mut r = Reader::new(case);
    r.header(b"FWWY", 1)?;
    let records = r.u32()?;
    let mut tally = Tally::new();
    for _ in 0..records {
        let id = r.u32()?;
        let expected = r.u32()?;
        let keyval_len = r.length()?;
        let sig_len = r.length()?;
        let message_len = r.length()?;
        let keyval = r.padded(keyval_len)?;
        let sig = r.padded(sig_len)?;
        let message = r.padded(message_len)?;
        let accepted = accepts(keyval, sig, message)?;
        tally.records = tally.records.saturating_add(1);
        tally.fold(&id.to_le_bytes());
        tally.fold(&[u8::from(accepted)]);
        let (count, wanted) = match expected {
            0 => (&mut tally.invalid, Some(false)),
            1 => (&mut tally.valid, Some(true)),
            2 => (&mut tally.acceptable, None),
            _ => return Err("unknown expected result"),
        };
        count.1 = count.1.saturating_add(1);
        let good = wanted.is_none_or(|w| w == accepted);
        if good && (wanted.is_some() || accepted) {
            count.0 = count.0.saturating_add(1);
        }
        if !good {
            Line::new()
                .str("FAIL tcId=")
                .u64(id.into())
                .str(" expected=")
                .u64(expected.into())
                .str(" got=")
                .u64(u8::from(accepted).into())
                .print();
        }
    }
    Ok(tally)
}

/// Appends ` NAME=<good>/<of>`.
fn pair(line: &mut Line, name: &str, (good, of): (u64, u64)) {
    line.str(" ").str(name).str("=").u64(good).str("/").u64(of);
}

#[entry]
fn main() -> ! {
    board::enable_fpu();
    let tally = match run(board::psram(CASE_ADDR, CASE_MAX)) {
        Ok(tally) => tally,
        Err(why) => bad_case(why),
    };
    let mut line = Line::new();
    line.str("WYCHEPROOF backend=")
        .str(if P256_ASM { "asm" } else { "rustcrypto" })
        .str(" records=")
        .u64(tally.records);
    pair(&mut line, "valid", tally.valid);
    pair(&mut line, "invalid", tally.invalid);
    pair(&mut line, "acceptable", tally.acceptable);
    line.str(" answers=");
    for shift in (0..16).rev() {
        let nibble = (tally.answers >> (shift * 4)) & 0xf;
        let digit = b"0123456789abcdef"
            .get(nibble as usize)
            .copied()
            .unwrap_or(b'?');
        line.bytes(&[digit]);
    }
    line.print();
    let all_good = tally.valid.0 == tally.valid.1 && tally.invalid.0 == tally.invalid.1;
    board::exit(if all_good {
        exit_code::BOOT
    } else {
        exit_code::REFUSE
    })
}
