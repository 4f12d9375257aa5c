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
//!   4  u32  2            format
//!   8  u32  slot_size    bytes of the slot region at SLOT_ADDR
//!  12  u32  root_len     bytes of the trusted root (canonical JSON)
//!  16  u64  installed security counter
//!  24  i64  trusted time (Unix seconds)
//!  32  u32  has trusted time (0 or 1)
//!  36  u32  hardware ID length
//!  40  u32  accepted role versions (at most 8)
//!  44  u32  0
//!  48  u32  bootloader version: major
//!  52  u32  minor
//!  56  u32  patch
//!  60  u32  0
//!  64  hardware ID, zero-padded to 4 bytes
//!      per accepted role: u32 name length, u32 0, u64 version,
//!                         name zero-padded to 4 bytes
//!      the trusted root
//! SLOT_ADDR (0x2110_0000): the slot, as `fwsign device pack` wrote it;
//!   the rest of the slot region reads as zeros (PSRAM starts zeroed).
//! ```
//!
//! Output: `STACK <bytes>` (the stack's high-water mark during
//! verification); with the `timing` feature, `TICKS ...` (SysTick ticks spent in the whole verification,
//! in each signature algorithm and in hashing the image, with a calibration
//! figure: instruction counts under `qemu-system-arm -icount shift=0`, read by
//! `bench/device`); then one line: `BOOT <target> <version> counter=<n>
//! root=v<n> image=<offset>+<size> chain=<role>@<version>,...` and exit 0, or
//! `REFUSE <code>` and exit 1. A panic prints `PANIC` and exits 3,
//! so it never passes as a refusal; a malformed case prints `BADCASE` and
//! exits 4.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use fwsign_bootloader_verify::{
    AcceptedVersion, BootloaderVersion, Device, Flash, FlashError, StoreError, Workspace,
    verify_slot,
};
use fwsign_bootloader_verify_qemu::case::Reader;
use fwsign_bootloader_verify_qemu::console::Line;
use fwsign_bootloader_verify_qemu::{
    CASE_ADDR, CASE_MAX, SLOT_ADDR, SLOT_MAX, board, exit_code, ticks,
};
use fwsign_manifest_schema::expiry::UnixTime;

/// Most accepted role versions a case carries.
const MAX_ACCEPTED: usize = 8;
/// Working memory for the slot's metadata (its trailer).
const METADATA_LEN: usize = 64 * 1024;

/// The device facts and trusted root of one case.
struct Case<'a> {
    slot_size: u32,
    root: &'a [u8],
    hardware_id: &'a [u8],
    installed_counter: u64,
    trusted_time: Option<UnixTime>,
    bootloader_version: BootloaderVersion,
    accepted: [AcceptedVersion<'a>; MAX_ACCEPTED],
    accepted_len: usize,
}

impl<'a> Case<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, &'static str> {
        let mut r = Reader::new(bytes);
        r.header(b"FWCA", 2)?;
        let slot_size = r.u32()?;
        if usize::try_from(slot_size).map_or(true, |s| s > SLOT_MAX) {
            return Err("slot size larger than the slot region");
        }
        let root_len = r.length()?;
        let installed_counter = r.u64()?;
        let time = r.i64()?;
        let has_time = r.u32()? != 0;
        let hardware_id_len = r.length()?;
        let accepted_len = r.length()?;
        r.u32()?;
        let bootloader_version = BootloaderVersion {
            major: r.u32()?,
            minor: r.u32()?,
            patch: r.u32()?,
        };
        r.u32()?;
        if accepted_len > MAX_ACCEPTED {
            return Err("too many accepted role versions");
        }
        // Bytes, as the verifier takes them: no `core::str::from_utf8` in
        // the image (see `fwsign_bootloader_verify::Device`).
        let hardware_id = r.padded(hardware_id_len)?;
        let mut accepted = [AcceptedVersion {
            role: b"",
            version: 0,
        }; MAX_ACCEPTED];
        for slot in accepted.iter_mut().take(accepted_len) {
            let role_len = r.length()?;
            r.u32()?;
            let version = r.u64()?;
            let role = r.padded(role_len)?;
            *slot = AcceptedVersion { role, version };
        }
        let root = r.take(root_len)?;
        Ok(Self {
            slot_size,
            root,
            hardware_id,
            installed_counter,
            trusted_time: has_time.then_some(UnixTime(time)),
            bootloader_version,
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

/// The algorithms this build links: timed in place with `timing`, else the
/// verifier's own list, as a bootloader links it.
#[cfg(feature = "timing")]
mod plug {
    use fwsign_bootloader_verify_qemu::timed::Timed;
    use fwsign_core::key_types::KeyType;

    #[cfg(feature = "p256")]
    pub static P256: Timed = Timed::new(&fwsign_core::key_types::EcdsaP256);
    #[cfg(feature = "ed25519")]
    pub static ED25519: Timed = Timed::new(&fwsign_core::key_types::Ed25519);

    pub static KEY_TYPES: &[&dyn KeyType] = &[
        #[cfg(feature = "p256")]
        &P256,
        #[cfg(feature = "ed25519")]
        &ED25519,
    ];

    /// The image hash, timed.
    pub type Hasher = fwsign_bootloader_verify_qemu::timed::TimedSha256;
}

#[cfg(not(feature = "timing"))]
mod plug {
    pub use fwsign_core::key_types::BUILTIN as KEY_TYPES;

    /// The image hash: the verifier's software SHA-256.
    pub type Hasher = fwsign_bootloader_verify::SoftwareSha256;
}

use plug::{Hasher, KEY_TYPES};

/// One verification, timed, behind a call boundary so the stack measured
/// below `main`'s frame is the verifier's whole stack.
#[inline(never)]
fn verify<'m>(
    case: &Case<'m>,
    slot: &'static [u8],
    device: &Device<'_>,
    metadata: &'m mut [u8],
    workspace: &mut Workspace,
    sha: &mut Hasher,
) -> (
    u64,
    Result<fwsign_bootloader_verify::Verified<'m>, fwsign_bootloader_verify::Reason>,
) {
    // A real bootloader writes the root to the two-copy root store here
    // (docs/device-format.md); the test reports it.
    let mut store_root = |root: &[u8]| -> Result<(), StoreError> {
        Line::new()
            .str("STORE-ROOT ")
            .u64(root.len() as u64)
            .str(" bytes")
            .print();
        Ok(())
    };
    ticks::time(|| {
        verify_slot(
            case.root,
            &mut PsramFlash(slot),
            case.slot_size,
            device,
            metadata,
            workspace,
            sha,
            &mut store_root,
            KEY_TYPES,
        )
    })
}

fn bad_case(why: &str) -> ! {
    Line::new().str("BADCASE ").str(why).print();
    board::exit(exit_code::BAD_CASE)
}

#[entry]
fn main() -> ! {
    // cortex-m-rt's reset handler enables the FPU before `main` on this
    // hard-float target; this makes it explicit (and is idempotent), as a C
    // bootloader must before its first `fwsign_` call.
    board::enable_fpu();
    #[cfg(feature = "timing")]
    {
        let Some(peripherals) = cortex_m::Peripherals::take() else {
            bad_case("peripherals taken")
        };
        ticks::start(peripherals.SYST);
    }
    let case = match Case::parse(board::psram(CASE_ADDR, CASE_MAX)) {
        Ok(case) => case,
        Err(why) => bad_case(why),
    };
    // `slot_size` was checked against SLOT_MAX in `Case::parse`.
    let slot = board::psram(SLOT_ADDR, case.slot_size as usize);
    let device = Device {
        hardware_id: case.hardware_id,
        installed_counter: case.installed_counter,
        accepted: case.accepted.get(..case.accepted_len).unwrap_or(&[]),
        trusted_time: case.trusted_time,
        bootloader_version: case.bootloader_version,
    };
    let Some(metadata) = cortex_m::singleton!(: [u8; METADATA_LEN] = [0; METADATA_LEN]) else {
        bad_case("metadata buffer taken")
    };
    // Statics, as a bootloader keeps them: off the stack.
    let Some(workspace) = cortex_m::singleton!(: Workspace = Workspace::new()) else {
        bad_case("workspace taken")
    };
    #[cfg(feature = "timing")]
    let calibration = ticks::calibrate();
    let mut sha = Hasher::default();
    let painted = board::paint_stack();
    let (verify_ticks, result) = verify(&case, slot, &device, metadata, workspace, &mut sha);
    let stack = painted.used();
    // The verifier's own stack: everything below this frame (the metadata
    // buffer is a static).
    Line::new()
        .str("STACK ")
        .u64(stack as u64)
        .str(" bytes")
        .print();
    #[cfg(feature = "timing")]
    {
        let mut line = ticks::line(calibration);
        line.str(" verify=")
            .u64(verify_ticks)
            .str(" sha256=")
            .u64(sha.ticks)
            .str(" sha256_bytes=")
            .u64(sha.bytes);
        #[cfg(feature = "p256")]
        plug::P256.report(&mut line, "p256");
        #[cfg(feature = "ed25519")]
        plug::ED25519.report(&mut line, "ed25519");
        line.print();
    }
    #[cfg(not(feature = "timing"))]
    let _ = (verify_ticks, &sha);
    // By reference: moving the verdict out copies it whole.
    match &result {
        Ok(v) => {
            let mut line = Line::new();
            line.str("BOOT ")
                .bytes(v.target)
                .str(" ")
                .bytes(v.version)
                .str(" counter=")
                .u64(v.security_counter)
                .str(" root=v")
                .u64(v.root_version)
                .str(" image=")
                .u64(v.image_offset.into())
                .str("+")
                .u64(v.image_size.into())
                .str(" chain=");
            for (i, role) in v.roles.iter().take(v.role_count).enumerate() {
                if i > 0 {
                    line.str(",");
                }
                line.bytes(role.role).str("@").u64(role.version);
            }
            line.print();
            board::exit(exit_code::BOOT)
        }
        Err(reason) => {
            // The code alone, as a bootloader would log it: the names
            // (`Reason::name`) would add about 0.6 KiB of flash.
            Line::new().str("REFUSE ").i64(reason.code().into()).print();
            board::exit(exit_code::REFUSE)
        }
    }
}
