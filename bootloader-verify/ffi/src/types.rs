//! The ABI's callbacks and structs: the device's facts in, the verified slot
//! and the boot decision out.

use core::ffi::{c_char, c_void};

use crate::{FWSIGN_MAX_CHAIN, FWSIGN_ROLE_CAP, FWSIGN_TARGET_CAP, FWSIGN_VERSION_CAP};

/// Reads `len` bytes at `offset` of the slot into `buf`. Returns 0 on
/// success, anything else on failure (the slot is then refused with
/// `FWSIGN_ERR_FLASH_READ`). Reads at or past the slot's end must fail.
pub type fwsign_flash_read_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, offset: u32, buf: *mut u8, len: usize) -> i32>;

/// The slot's flash: a read callback and its context.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct fwsign_flash_t {
    /// The read callback (required).
    pub read: fwsign_flash_read_fn,
    /// Passed to `read` unchanged.
    pub ctx: *mut c_void,
}

/// Begins a new SHA-256 digest. Returns 0 on success.
pub type fwsign_sha256_start_fn = Option<unsafe extern "C" fn(ctx: *mut c_void) -> i32>;
/// Adds `len` bytes at `data` to the digest. Returns 0 on success.
pub type fwsign_sha256_update_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize) -> i32>;
/// Writes the digest of everything since `start` to `digest` (32 bytes).
/// Returns 0 on success.
pub type fwsign_sha256_finish_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, digest: *mut u8) -> i32>;

/// A SHA-256 engine (a hardware hash peripheral): three callbacks and their
/// context. Any callback returning non-zero makes the call return
/// `FWSIGN_ERR_HASH_ENGINE`, never `FWSIGN_OK`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct fwsign_sha256_t {
    /// Begins a digest (required).
    pub start: fwsign_sha256_start_fn,
    /// Adds bytes (required).
    pub update: fwsign_sha256_update_fn,
    /// Ends the digest (required).
    pub finish: fwsign_sha256_finish_fn,
    /// Passed to each callback unchanged.
    pub ctx: *mut c_void,
}

/// Stores a newly verified root (canonical JSON, `root_len` bytes) in the
/// device's root store before the image is checked. Returns 0 once the root
/// is stored durably, anything else on failure (the slot is then refused
/// with `FWSIGN_ERR_ROOT_STORE_FAILED`). `root` is valid only during the call.
pub type fwsign_store_root_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, root: *const u8, root_len: usize) -> i32>;

/// The last accepted version of one targets role.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct fwsign_role_version_t {
    /// The role name (UTF-8, `role_len` bytes, no NUL needed).
    pub role: *const c_char,
    /// Bytes at `role`.
    pub role_len: usize,
    /// The version last accepted.
    pub version: u64,
}

/// What the device knows about itself.
///
/// Changed in ABI version 2: the bootloader's version
/// (`bootloader_version_major`, `_minor`, `_patch`) was added at the end.
/// Code written for version 1 must set them; a zeroed field means version
/// 0.0.0, which any image with a `min_bootloader_version` above it refuses.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct fwsign_device_t {
    /// This board's hardware ID (UTF-8, `hardware_id_len` bytes).
    pub hardware_id: *const c_char,
    /// Bytes at `hardware_id`.
    pub hardware_id_len: usize,
    /// The installed security counter.
    pub installed_counter: u64,
    /// The last accepted version of each targets role seen so far (may be
    /// NULL when `accepted_len` is 0).
    pub accepted: *const fwsign_role_version_t,
    /// Entries at `accepted`, at most `FWSIGN_MAX_ACCEPTED`.
    pub accepted_len: usize,
    /// Non-zero when `trusted_time` holds trusted time; expiry is checked
    /// only then.
    pub has_trusted_time: u8,
    /// Trusted time, seconds since 1970-01-01 UTC.
    pub trusted_time: i64,
    /// The running bootloader's version, `major.minor.patch`: an image whose
    /// `min_bootloader_version` is newer is refused
    /// (`FWSIGN_ERR_BOOTLOADER_TOO_OLD`). Added in ABI version 2.
    pub bootloader_version_major: u32,
    /// See `bootloader_version_major`.
    pub bootloader_version_minor: u32,
    /// See `bootloader_version_major`.
    pub bootloader_version_patch: u32,
}

/// A role on the verified chain, with its version.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct fwsign_role_version_out_t {
    /// The role name, NUL-terminated.
    pub role: [c_char; FWSIGN_ROLE_CAP],
    /// Bytes of `role` before the NUL.
    pub role_len: u32,
    /// The version verified (store it once the image confirms itself).
    pub version: u64,
}

/// A slot that passed every check. Filled with zeros on any other status.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct fwsign_verified_t {
    /// The target name, NUL-terminated.
    pub target: [c_char; FWSIGN_TARGET_CAP],
    /// Bytes of `target` before the NUL.
    pub target_len: u32,
    /// The firmware version (semantic version), NUL-terminated.
    pub version: [c_char; FWSIGN_VERSION_CAP],
    /// Bytes of `version` before the NUL.
    pub version_len: u32,
    /// The image's security counter.
    pub security_counter: u64,
    /// Where the image starts in the slot (the header size).
    pub image_offset: u32,
    /// The image's length.
    pub image_size: u32,
    /// The root version the checks ended on.
    pub root_version: u64,
    /// The targets roles on the chain, `targets` first.
    pub roles: [fwsign_role_version_out_t; FWSIGN_MAX_CHAIN],
    /// Entries of `roles` used.
    pub role_count: u32,
}

pub(crate) const EMPTY_ROLE: fwsign_role_version_out_t = fwsign_role_version_out_t {
    role: [0; FWSIGN_ROLE_CAP],
    role_len: 0,
    version: 0,
};

pub(crate) const EMPTY_VERIFIED: fwsign_verified_t = fwsign_verified_t {
    target: [0; FWSIGN_TARGET_CAP],
    target_len: 0,
    version: [0; FWSIGN_VERSION_CAP],
    version_len: 0,
    security_counter: 0,
    image_offset: 0,
    image_size: 0,
    root_version: 0,
    roles: [EMPTY_ROLE; FWSIGN_MAX_CHAIN],
    role_count: 0,
};

/// One slot's facts for A/B selection.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct fwsign_slot_facts_t {
    /// The remembered state: one of `FWSIGN_SLOT_*`.
    pub state: u8,
    /// Non-zero when `fwsign_verify_slot` returned `FWSIGN_OK` for it at this
    /// boot; the fields below are read only then.
    pub verified: u8,
    /// `fwsign_verified_t.security_counter`.
    pub security_counter: u64,
    /// `fwsign_verified_t.version` (UTF-8, `version_len` bytes).
    pub version: *const c_char,
    /// Bytes at `version`.
    pub version_len: usize,
}

/// What to boot, and what to persist first.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct fwsign_boot_decision_t {
    /// The slot to boot (0 or 1), or `FWSIGN_NONE`: nothing bootable.
    pub boot: u8,
    /// Non-zero when it boots as a trial: it must confirm itself.
    pub trial: u8,
    /// For each slot, the `FWSIGN_SLOT_*` state to persist *before* jumping
    /// to the image, or `FWSIGN_NONE` to leave it as is.
    pub persist: [u8; 2],
}
