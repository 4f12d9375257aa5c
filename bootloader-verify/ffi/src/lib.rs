//! # fwsign-bootloader-verify-ffi: the C ABI of the device verifier
//!
//! A C bootloader links the static library this crate builds
//! (`libfwsign_bootloader_verify_ffi.a`) and includes
//! `include/fwsign_verify.h`, which cbindgen generates from this crate's
//! source (a test fails when the committed header is stale).
//! `docs/bootloader-integration.md` is the guide.
//!
//! ## The ABI
//!
//! - Every exported function is prefixed `fwsign_` and returns a
//!   [`fwsign_status_t`] where it can fail: `FWSIGN_OK` (0), the verifier's
//!   [`Reason`](fwsign_bootloader_verify::Reason) codes under the same
//!   numbers (`FWSIGN_ERR_*`, 1..=99), or an argument error (100 and up). A
//!   refusal is never `FWSIGN_OK`.
//! - Variable-length inputs are `(pointer, length)` pairs; outputs that have
//!   a fixed bound are fixed-size arrays in the output struct. An output that
//!   does not fit is `FWSIGN_ERR_OUTPUT_TRUNCATED`, never silently cut.
//! - Struct pointers must be aligned for their type; the library checks it
//!   before forming a reference or writing an output through one, and a
//!   misaligned pointer is `FWSIGN_ERR_INVALID_ARGUMENT`, never undefined
//!   behaviour (`boundary::ref_in`, `boundary::out_ok`, `boundary::slice_in`).
//! - The capacities (`FWSIGN_MAX_KEYS_PER_ROLE`, `FWSIGN_MAX_CHAIN`,
//!   `FWSIGN_MAX_ACCEPTED`, `FWSIGN_METADATA_LEN`) are constants in the
//!   header, equal to the verifier's (checked at compile time and by
//!   `tests/capacities.rs`).
//! - Memory is the caller's: the metadata buffer is passed in, everything else
//!   lives on the stack. Nothing is allocated and nothing is kept between
//!   calls, so the functions are reentrant (the C callbacks permitting).
//! - Flash reads, the SHA-256 engine (optional: the `sha2` software hash is the
//!   default) and storing a rotated root are C callbacks with a `void *ctx`.
//! - On Arm the static library is built for `thumbv7em-none-eabihf`: the
//!   hard-float ABI, so the FPU must be enabled before any `fwsign_` call.
//!
//! ## Layout
//!
//! This file holds the constants; `status` the statuses (their mapping from
//! the verifier's reasons, their names) and the ABI version; `types` the
//! callbacks and structs; `boundary` the checked conversions of C pointers
//! into slices and of a verified slot into its output struct; `verify`
//! `fwsign_verify_slot`; `boot` A/B selection.
//!
//! ## Features
//!
//! - `std` (default): host builds; the static library carries std's panic
//!   handler, so a host C program links it as is.
//! - `p256`, `ed25519` (default): the signature algorithms; at least one.
//! - `panic-handler`: for device builds without `std` linked into C-only
//!   firmware, a `#[panic_handler]` that parks the CPU. The verifier cannot
//!   panic by construction (indexing, unchecked arithmetic, `unwrap` and
//!   `panic!` are denied); the handler only satisfies the linker.

#![cfg_attr(not(feature = "std"), no_std)]
#![allow(
    unsafe_code,
    reason = "the C ABI: raw pointers and callbacks from C become references here, the only crate that does so"
)]
#![allow(
    non_camel_case_types,
    reason = "the C names (`fwsign_status_t`, `FWSIGN_OK`, ...) are the ABI, and cbindgen copies them"
)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

// Modules in the order of the functions in the generated header (cbindgen
// emits them as it meets them), hence one group each.
mod types;

mod boundary;

mod verify;

mod boot;

mod status;

pub use boot::{fwsign_choose_boot, fwsign_confirm_counter};
pub use status::{fwsign_abi_version, fwsign_status_name, fwsign_status_t};
pub use types::{
    fwsign_boot_decision_t, fwsign_device_t, fwsign_flash_read_fn, fwsign_flash_t,
    fwsign_role_version_out_t, fwsign_role_version_t, fwsign_sha256_finish_fn,
    fwsign_sha256_start_fn, fwsign_sha256_t, fwsign_sha256_update_fn, fwsign_slot_facts_t,
    fwsign_store_root_fn, fwsign_verified_t,
};
pub use verify::fwsign_verify_slot;

use fwsign_bootloader_verify::{MAX_CHAIN, MAX_KEYS_PER_ROLE};

/// The ABI version this header describes; raised on any incompatible change.
/// Version 2: `fwsign_device_t` gained the bootloader's version
/// (`bootloader_version_major`, `_minor`, `_patch`, after `trusted_time`),
/// and the verifier follows the ordered TUF target search, with the new
/// statuses 27..=29.
pub const FWSIGN_ABI_VERSION: u32 = 2;
/// Most targets roles a slot carries on its chain (`targets` and its
/// delegations): the verifier's `MAX_CHAIN`. A longer chain is
/// `FWSIGN_ERR_CHAIN_TOO_LONG`; `fwsign device pack` refuses to pack one.
pub const FWSIGN_MAX_CHAIN: usize = 8;
/// Most key IDs one role (a root role or a targets role on the chain) may
/// list: the verifier's threshold working memory, `MAX_KEYS_PER_ROLE`. A
/// role listing more is `FWSIGN_ERR_CAPACITY_EXCEEDED`.
pub const FWSIGN_MAX_KEYS_PER_ROLE: usize = 16;
/// The metadata buffer to give `fwsign_verify_slot`, in bytes (16 KiB): the
/// size docs/device-format.md recommends and `fwsign device pack
/// --metadata-buffer` assumes by default, so a slot that tool packs fits it.
/// A bootloader with less RAM passes its real size to `device pack`.
pub const FWSIGN_METADATA_LEN: usize = 16 * 1024;
/// Most entries in `fwsign_device_t.accepted`.
pub const FWSIGN_MAX_ACCEPTED: usize = 32;
/// Bytes of `fwsign_verified_t.target`, the terminating NUL included.
pub const FWSIGN_TARGET_CAP: usize = 128;
/// Bytes of `fwsign_verified_t.version`, the terminating NUL included.
pub const FWSIGN_VERSION_CAP: usize = 64;
/// Bytes of `fwsign_role_version_out_t.role`, the terminating NUL included.
pub const FWSIGN_ROLE_CAP: usize = 64;
/// Bytes of a SHA-256 digest.
pub const FWSIGN_SHA256_LEN: usize = 32;

/// Slot state: nothing installed.
pub const FWSIGN_SLOT_EMPTY: u8 = 0;
/// Slot state: a new image, to be tried once.
pub const FWSIGN_SLOT_TRIAL: u8 = 1;
/// Slot state: an image that booted and confirmed itself.
pub const FWSIGN_SLOT_CONFIRMED: u8 = 2;
/// Slot state: an image that was tried and did not confirm, or was refused.
pub const FWSIGN_SLOT_FAILED: u8 = 3;
/// "No slot" in `fwsign_boot_decision_t.boot`, "leave as is" in its `persist`.
pub const FWSIGN_NONE: u8 = 0xFF;

// The header's capacities are the verifier's, checked at compile time (and
// by tests/capacities.rs against the C header).
const _: () = assert!(FWSIGN_MAX_CHAIN == MAX_CHAIN);
const _: () = assert!(FWSIGN_MAX_KEYS_PER_ROLE == MAX_KEYS_PER_ROLE);

#[cfg(all(not(feature = "std"), feature = "panic-handler", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Unreachable by construction; park the CPU so a watchdog resets it.
    loop {
        core::hint::spin_loop();
    }
}
