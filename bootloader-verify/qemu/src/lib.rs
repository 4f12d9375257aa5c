//! Board support shared by the QEMU firmware images: the bootloader that runs
//! the device verifier (`src/main.rs`) and the crypto-only baseline it is
//! measured against (`src/bin/crypto-only.rs`).
//!
//! Both report through [`console`], which formats without `core::fmt`, so
//! neither image carries the formatting machinery a real bootloader would
//! not: the flash `bench/device` reports is the verifier's, not `fmt`'s.

#![no_std]

pub mod board;
pub mod case;
pub mod console;
pub mod ticks;
#[cfg(feature = "timing")]
pub mod timed;

/// Where QEMU's loader puts the case (the inputs other than the slot).
pub const CASE_ADDR: usize = 0x2100_0000;
/// Most bytes a case may take (up to the slot).
pub const CASE_MAX: usize = 0x10_0000;
/// Where QEMU's loader puts the slot (or, for the baseline, the image).
pub const SLOT_ADDR: usize = 0x2110_0000;
/// Most bytes the slot region may take (to the end of PSRAM).
pub const SLOT_MAX: usize = 0x0F0_0000;

/// Exit codes (semihosting `SYS_EXIT_EXTENDED`).
pub mod exit_code {
    /// The image boots (the baseline: every check passed).
    pub const BOOT: u32 = 0;
    /// The image is refused.
    pub const REFUSE: u32 = 1;
    /// The firmware panicked: never a refusal.
    pub const PANIC: u32 = 3;
    /// The case QEMU loaded is malformed.
    pub const BAD_CASE: u32 = 4;
}

/// The panic handler of both images: `PANIC` and the source location, then
/// exit 3. The message is not printed: formatting it would link `core::fmt`
/// into every image for a line that must never appear.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut line = console::Line::new();
    line.str("PANIC");
    if let Some(at) = info.location() {
        line.str(" ")
            .str(at.file())
            .str(":")
            .u64(u64::from(at.line()));
    }
    line.print();
    board::exit(exit_code::PANIC)
}
