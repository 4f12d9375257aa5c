//! A minimal bootloader on QEMU's `mps2-an386` (Cortex-M4F): it checks the
//! slot QEMU loaded against the trusted root and device facts QEMU loaded,
//! with `fwsign-bootloader-verify`, and reports through semihosting.
//!
//! One firmware build serves every test case: the inputs are files that
//! `qemu-system-arm -device loader,file=...,addr=...` places in PSRAM:
//!
//! ```text
//! CASE_ADDR (0x2100_0000): the case, little-endian
//!   0  "FWCA"            magic
//!   4  u32  1            format
//!   8  u32  slot_size    bytes of the slot region at SLOT_ADDR
//!  12  u32  root_len     bytes of the trusted root (canonical JSON)
//!  16  u64  installed security counter
//!  24  i64  trusted time (Unix seconds)
//!  32  u32  has trusted time (0 or 1)
//!  36  u32  hardware ID length
//!  40  u32  accepted role versions (at most 8)
//!  44  u32  0
//!  48  hardware ID, zero-padded to 4 bytes
//!      per accepted role: u32 name length, u32 0, u64 version,
//!                         name zero-padded to 4 bytes
//!      the trusted root
//! SLOT_ADDR (0x2110_0000): the slot, as `fwsign device pack` wrote it;
//!   the rest of the slot region reads as zeros (PSRAM starts zeroed).
//! ```
//!
//! Output: `STACK <bytes>` (the stack's high-water mark during
//! verification), then one line: `BOOT <target> <version> counter=<n> root=v<n>
//! chain=<role>@<version>,...` and exit 0, or `REFUSE <code> <Reason>` and
//! exit 1. A panic prints `PANIC` and exits 3, so it never passes as a
//! refusal; a malformed case prints `BADCASE` and exits 4.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use fwsign_bootloader_verify::{
    AcceptedVersion, Device, Flash, FlashError, KEY_TYPES, SoftwareSha256, StoreError, verify_slot,
};
use fwsign_manifest_schema::expiry::UnixTime;

mod board;

/// Where QEMU's loader puts the case.
const CASE_ADDR: usize = 0x2100_0000;
/// Most bytes a case may take (up to the slot).
const CASE_MAX: usize = 0x10_0000;
/// Where QEMU's loader puts the slot.
const SLOT_ADDR: usize = 0x2110_0000;
/// Most bytes the slot region may take (to the end of PSRAM).
const SLOT_MAX: usize = 0x0F0_0000;
/// Most accepted role versions a case carries.
const MAX_ACCEPTED: usize = 8;
/// Working memory for the slot's metadata (its trailer).
const METADATA_LEN: usize = 64 * 1024;

/// Exit codes (semihosting `SYS_EXIT_EXTENDED`).
const EXIT_BOOT: u32 = 0;
const EXIT_REFUSE: u32 = 1;
const EXIT_PANIC: u32 = 3;
const EXIT_BAD_CASE: u32 = 4;

/// The device facts and trusted root of one case.
struct Case<'a> {
    slot_size: u32,
    root: &'a [u8],
    hardware_id: &'a str,
    installed_counter: u64,
    trusted_time: Option<UnixTime>,
    accepted: [AcceptedVersion<'a>; MAX_ACCEPTED],
    accepted_len: usize,
}

/// Reads the case's little-endian fields in order.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("length overflow")?;
        let out = self.bytes.get(self.pos..end).ok_or("case truncated")?;
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().map_err(|_| "u32")?))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| "u64")?))
    }

    fn len(&mut self) -> Result<usize, &'static str> {
        usize::try_from(self.u32()?).map_err(|_| "length")
    }

    /// `n` bytes, then the padding to the next multiple of 4.
    fn padded(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let out = self.take(n)?;
        let pad = n.wrapping_neg() & 3;
        self.take(pad)?;
        Ok(out)
    }
}

impl<'a> Case<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, &'static str> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4)? != b"FWCA" {
            return Err("no case magic (is the case loaded at 0x21000000?)");
        }
        if r.u32()? != 1 {
            return Err("unknown case format");
        }
        let slot_size = r.u32()?;
        if usize::try_from(slot_size).map_or(true, |s| s > SLOT_MAX) {
            return Err("slot size larger than the slot region");
        }
        let root_len = r.len()?;
        let installed_counter = r.u64()?;
        let time = i64::from_le_bytes(r.take(8)?.try_into().map_err(|_| "i64")?);
        let has_time = r.u32()? != 0;
        let hardware_id_len = r.len()?;
        let accepted_len = r.len()?;
        r.u32()?;
        if accepted_len > MAX_ACCEPTED {
            return Err("too many accepted role versions");
        }
        let hardware_id = core::str::from_utf8(r.padded(hardware_id_len)?)
            .map_err(|_| "hardware ID is not UTF-8")?;
        let mut accepted = [AcceptedVersion {
            role: "",
            version: 0,
        }; MAX_ACCEPTED];
        for slot in accepted.iter_mut().take(accepted_len) {
            let role_len = r.len()?;
            r.u32()?;
            let version = r.u64()?;
            let role =
                core::str::from_utf8(r.padded(role_len)?).map_err(|_| "role is not UTF-8")?;
            *slot = AcceptedVersion { role, version };
        }
        let root = r.take(root_len)?;
        Ok(Self {
            slot_size,
            root,
            hardware_id,
            installed_counter,
            trusted_time: has_time.then_some(UnixTime(time)),
            accepted,
            accepted_len,
        })
    }
}

/// The slot region, read as flash.
struct PsramFlash(&'static [u8]);

impl Flash for PsramFlash {
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError> {
        let start = usize::try_from(offset).map_err(|_| FlashError)?;
        let end = start.checked_add(out.len()).ok_or(FlashError)?;
        out.copy_from_slice(self.0.get(start..end).ok_or(FlashError)?);
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    // cortex-m-rt's reset handler enables the FPU before `main` on this
    // hard-float target; this makes it explicit (and is idempotent), as a C
    // bootloader must before its first `fwsign_` call.
    board::enable_fpu();
    let case = match Case::parse(board::psram(CASE_ADDR, CASE_MAX)) {
        Ok(case) => case,
        Err(why) => {
            hprintln!("BADCASE {}", why);
            board::exit(EXIT_BAD_CASE)
        }
    };
    // `slot_size` was checked against SLOT_MAX in `Case::parse`.
    let slot = board::psram(SLOT_ADDR, case.slot_size as usize);
    let device = Device {
        hardware_id: case.hardware_id,
        installed_counter: case.installed_counter,
        accepted: case.accepted.get(..case.accepted_len).unwrap_or(&[]),
        trusted_time: case.trusted_time,
    };
    let Some(metadata) = cortex_m::singleton!(: [u8; METADATA_LEN] = [0; METADATA_LEN]) else {
        hprintln!("BADCASE metadata buffer taken");
        board::exit(EXIT_BAD_CASE)
    };
    board::paint_stack();
    // A real bootloader writes the root to the two-copy root store here
    // (docs/device-format.md); the test reports it.
    let mut store_root = |root: &[u8]| -> Result<(), StoreError> {
        hprintln!("STORE-ROOT {} bytes", root.len());
        Ok(())
    };
    let result = verify_slot(
        case.root,
        &mut PsramFlash(slot),
        case.slot_size,
        &device,
        metadata,
        &mut SoftwareSha256::default(),
        &mut store_root,
        KEY_TYPES,
    );
    // The verifier's own stack, without the metadata buffer (a static).
    hprintln!("STACK {} bytes", board::stack_used());
    match result {
        Ok(v) => {
            let mut chain = ChainText::default();
            for role in v.roles.iter().take(v.role_count) {
                chain.push(role.role, role.version);
            }
            hprintln!(
                "BOOT {} {} counter={} root=v{} image={:#x}+{} chain={}",
                v.target,
                v.version,
                v.security_counter,
                v.root_version,
                v.image_offset,
                v.image_size,
                chain.as_str()
            );
            board::exit(EXIT_BOOT)
        }
        Err(reason) => {
            hprintln!("REFUSE {} {:?}", reason.code(), reason);
            board::exit(EXIT_REFUSE)
        }
    }
}

/// `role@version,...` in a fixed buffer (no allocator).
struct ChainText {
    buf: [u8; 256],
    len: usize,
}

impl Default for ChainText {
    fn default() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl ChainText {
    fn push(&mut self, role: &str, version: u64) {
        use core::fmt::Write;
        let sep = if self.len == 0 { "" } else { "," };
        // A chain too long for the buffer is only cut in the printout.
        let _ = write!(self, "{sep}{role}@{version}");
    }

    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("?")
    }
}

impl core::fmt::Write for ChainText {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    board::print_raw(format_args!("PANIC {info}"));
    board::exit(EXIT_PANIC)
}
