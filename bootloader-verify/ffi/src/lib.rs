//! # fwsign-bootloader-verify-ffi: the C ABI of the device verifier
//!
//! A C bootloader links the static library this crate builds
//! (`libfwsign_bootloader_verify_ffi.a`) and includes
//! `include/fwsign_verify.h`, which cbindgen generates from this file (a test
//! fails when the committed header is stale). `docs/bootloader-integration.md`
//! is the guide.
//!
//! ## The ABI
//!
//! - Every exported function is prefixed `fwsign_` and returns a
//!   [`fwsign_status_t`] where it can fail: `FWSIGN_OK` (0), the verifier's
//!   [`Reason`] codes under the same numbers (`FWSIGN_ERR_*`, 1..=99), or an
//!   argument error (100 and up). A refusal is never `FWSIGN_OK`.
//! - Variable-length inputs are `(pointer, length)` pairs; outputs that have
//!   a fixed bound are fixed-size arrays in the output struct. An output that
//!   does not fit is `FWSIGN_ERR_OUTPUT_TRUNCATED`, never silently cut.
//! - Memory is the caller's: the metadata buffer is passed in, everything else
//!   lives on the stack. Nothing is allocated and nothing is kept between
//!   calls, so the functions are reentrant (the C callbacks permitting).
//! - Flash reads, the SHA-256 engine (optional: the `sha2` software hash is the
//!   default) and storing a rotated root are C callbacks with a `void *ctx`.
//! - On Arm the static library is built for `thumbv7em-none-eabihf`: the
//!   hard-float ABI, so the FPU must be enabled before any `fwsign_` call.
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

use core::ffi::{CStr, c_char, c_void};

use fwsign_bootloader_verify::boot_select::{self, SlotFacts, SlotState};
use fwsign_bootloader_verify::{
    AcceptedVersion, BootloaderVersion, Device, Flash, FlashError, KEY_TYPES, MAX_CHAIN, Reason,
    Sha256Engine, SoftwareSha256, StoreError, Verified, Workspace, verify_slot,
};
use fwsign_manifest_schema::expiry::UnixTime;

/// The ABI version this header describes; raised on any incompatible change.
/// Version 2: `fwsign_device_t` gained the bootloader's version
/// (`bootloader_version_major`, `_minor`, `_patch`, after `trusted_time`),
/// and the verifier follows the ordered TUF target search, with the new
/// statuses 27..=29.
pub const FWSIGN_ABI_VERSION: u32 = 2;
/// Most targets roles on a verified chain (`targets` and its delegations).
pub const FWSIGN_MAX_CHAIN: usize = 8;
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

const _: () = assert!(FWSIGN_MAX_CHAIN == MAX_CHAIN);

/// What a `fwsign_` call returned. `FWSIGN_OK` is 0; 1..=99 are the
/// verifier's refusal reasons (stable codes, the same numbers the Rust
/// `Reason` has); 100 and up are errors in the arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum fwsign_status_t {
    /// Success: the slot verified (or the call did what it says).
    FWSIGN_OK = 0,
    /// Reading flash failed.
    FWSIGN_ERR_FLASH_READ = 1,
    /// No slot header (an empty or erased slot).
    FWSIGN_ERR_SLOT_EMPTY = 2,
    /// A slot format version this verifier does not know.
    FWSIGN_ERR_SLOT_FORMAT = 3,
    /// Header size or lengths do not fit the slot.
    FWSIGN_ERR_SLOT_LAYOUT = 4,
    /// The trailer is missing or malformed (a truncated or garbage slot).
    FWSIGN_ERR_TRAILER_MALFORMED = 5,
    /// The trailer is larger than the metadata buffer.
    FWSIGN_ERR_METADATA_TOO_LARGE = 6,
    /// The provisioned root cannot be read.
    FWSIGN_ERR_TRUSTED_ROOT_INVALID = 7,
    /// A root update in the slot is malformed.
    FWSIGN_ERR_ROOT_UPDATE_MALFORMED = 8,
    /// A root update is not signed by a threshold of the old and the new keys.
    FWSIGN_ERR_ROOT_UPDATE_NOT_SIGNED = 9,
    /// A root update's version is not exactly one more than the current.
    FWSIGN_ERR_ROOT_UPDATE_VERSION = 10,
    /// The `store_root` callback could not store a verified root.
    FWSIGN_ERR_ROOT_STORE_FAILED = 11,
    /// A targets role in the chain is malformed.
    FWSIGN_ERR_TARGETS_MALFORMED = 12,
    /// A targets role is not signed by the threshold its delegator sets.
    FWSIGN_ERR_TARGETS_NOT_SIGNED = 13,
    /// A targets role is older than the version last accepted (replay).
    FWSIGN_ERR_TARGETS_ROLLBACK = 14,
    /// The chain does not start at `targets`, or a role is not delegated by
    /// the role before it.
    FWSIGN_ERR_DELEGATION_MISSING = 15,
    /// A role on the chain is delegated by the role before it, but not for
    /// the target's path.
    FWSIGN_ERR_PATH_NOT_DELEGATED = 16,
    /// No role on the chain lists the target.
    FWSIGN_ERR_TARGET_NOT_LISTED = 17,
    /// The target has no firmware fields (`custom.fwsign`).
    FWSIGN_ERR_FIRMWARE_FIELDS_MISSING = 18,
    /// The target does not list this device's hardware ID.
    FWSIGN_ERR_HARDWARE_ID_MISMATCH = 19,
    /// The image's length differs from the signed length.
    FWSIGN_ERR_IMAGE_LENGTH_MISMATCH = 20,
    /// The image's SHA-256 differs from the signed hash.
    FWSIGN_ERR_IMAGE_HASH_MISMATCH = 21,
    /// The image's security counter is below the installed one (rollback).
    FWSIGN_ERR_SECURITY_COUNTER_ROLLBACK = 22,
    /// Metadata has expired at the device's trusted time.
    FWSIGN_ERR_EXPIRED = 23,
    /// A role lists more keys than the verifier's working memory holds.
    FWSIGN_ERR_CAPACITY_EXCEEDED = 24,
    /// The chain has more roles than `FWSIGN_MAX_CHAIN`.
    FWSIGN_ERR_CHAIN_TOO_LONG = 25,
    /// The slot does not name its target.
    FWSIGN_ERR_NO_TARGET_NAME = 26,
    /// A role before the last on the chain lists the target: the ordered
    /// search stops there, so the later role does not answer for it.
    FWSIGN_ERR_TARGET_LISTED_EARLIER = 27,
    /// The next role on the chain is delegated and covers the target, but an
    /// earlier delegation of the role before it covers it too: the ordered
    /// search does not go where the chain goes.
    FWSIGN_ERR_DELEGATION_SHADOWED = 28,
    /// The image needs a newer bootloader (`min_bootloader_version`).
    FWSIGN_ERR_BOOTLOADER_TOO_OLD = 29,
    /// A refusal reason newer than this ABI (never returned by a library and
    /// header built together).
    FWSIGN_ERR_UNKNOWN_REASON = 99,
    /// A required pointer or callback is NULL (or a NULL pointer with a
    /// non-zero length).
    FWSIGN_ERR_NULL_POINTER = 100,
    /// The hardware ID or an accepted role name is not UTF-8.
    FWSIGN_ERR_INVALID_UTF8 = 101,
    /// A verified string does not fit its fixed-size output array; the slot
    /// must not boot on this status.
    FWSIGN_ERR_OUTPUT_TRUNCATED = 102,
    /// More than `FWSIGN_MAX_ACCEPTED` accepted role versions.
    FWSIGN_ERR_TOO_MANY_ACCEPTED = 103,
    /// The SHA-256 engine's callbacks reported an error.
    FWSIGN_ERR_HASH_ENGINE = 104,
    /// An argument is out of range (a length past `PTRDIFF_MAX`, an unknown
    /// slot state).
    FWSIGN_ERR_INVALID_ARGUMENT = 105,
}

use fwsign_status_t::*;

/// The reason-to-status mapping, the list of statuses and their names, from
/// the verifier's one list of reasons (`reason_table!`), with `FWSIGN_OK`
/// before it and the argument errors after it. `fwsign_status_t` itself
/// stays written out above: cbindgen reads source and does not expand
/// macros. A status missing from these lists, or a reason without its
/// status, does not compile; the tests check that the numbers agree.
macro_rules! status_tables {
    (
        after [$($after:ident),*]
        reasons { $( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $status:ident; )* }
    ) => {
        impl fwsign_status_t {
            /// The status for a verifier refusal: the same number as [`Reason::code`].
            pub fn from_reason(reason: Reason) -> Self {
                match reason {
                    $(Reason::$variant => fwsign_status_t::$status,)*
                    _ => FWSIGN_ERR_UNKNOWN_REASON,
                }
            }

            /// Every status, in code order.
            pub fn all() -> &'static [Self] {
                &[
                    FWSIGN_OK,
                    $(fwsign_status_t::$status,)*
                    $(fwsign_status_t::$after,)*
                ]
            }

            /// The status's name without the `FWSIGN_` / `FWSIGN_ERR_` prefix, as
            /// [`fwsign_status_name`] returns it.
            pub fn name(self) -> &'static CStr {
                match self {
                    FWSIGN_OK => c"OK",
                    $(fwsign_status_t::$status => short_name!($status),)*
                    $(fwsign_status_t::$after => short_name!($after),)*
                }
            }
        }
    };
}

/// `FWSIGN_ERR_IMAGE_HASH_MISMATCH` → `c"IMAGE_HASH_MISMATCH"`, evaluated
/// at compile time into a string of just those bytes.
macro_rules! short_name {
    ($status:ident) => {{
        const FULL: &[u8] = concat!(stringify!($status), "\0").as_bytes();
        const SHORT: [u8; FULL.len().saturating_sub(ERR_PREFIX.len())] = without_prefix(FULL);
        const NAME: &CStr = c_str(&SHORT);
        NAME
    }};
}

const ERR_PREFIX: &[u8] = b"FWSIGN_ERR_";

/// `full` without [`ERR_PREFIX`]'s length of bytes in front, `N` bytes long
/// (all zeros, which [`c_str`] refuses, when `full` is too short).
const fn without_prefix<const N: usize>(full: &[u8]) -> [u8; N] {
    match full.split_at_checked(ERR_PREFIX.len()) {
        Some((_, rest)) => match rest.first_chunk::<N>() {
            Some(short) => *short,
            None => [0; N],
        },
        None => [0; N],
    }
}

/// `bytes` (NUL-terminated, no NUL inside) as a C string, `"UNKNOWN"`
/// otherwise.
const fn c_str(bytes: &'static [u8]) -> &'static CStr {
    match CStr::from_bytes_with_nul(bytes) {
        Ok(name) => name,
        Err(_) => c"UNKNOWN",
    }
}

fwsign_bootloader_verify::reason_table!(status_tables! {
    after [
        FWSIGN_ERR_UNKNOWN_REASON,
        FWSIGN_ERR_NULL_POINTER,
        FWSIGN_ERR_INVALID_UTF8,
        FWSIGN_ERR_OUTPUT_TRUNCATED,
        FWSIGN_ERR_TOO_MANY_ACCEPTED,
        FWSIGN_ERR_HASH_ENGINE,
        FWSIGN_ERR_INVALID_ARGUMENT
    ]
});

impl fwsign_status_t {
    /// The status with this code, if any.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::all().iter().copied().find(|s| *s as i32 == code)
    }
}

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

const EMPTY_ROLE: fwsign_role_version_out_t = fwsign_role_version_out_t {
    role: [0; FWSIGN_ROLE_CAP],
    role_len: 0,
    version: 0,
};

const EMPTY_VERIFIED: fwsign_verified_t = fwsign_verified_t {
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

/// Turns a `(pointer, length)` pair from C into a slice. NULL is refused
/// unless `len` is 0 and `allow_null` holds.
///
/// # Safety
///
/// Unless NULL, `ptr` must be valid for reads of `len` bytes for `'a`, and
/// the bytes must not be written during `'a`.
unsafe fn slice_in<'a, T>(
    ptr: *const T,
    len: usize,
    allow_null: bool,
) -> Result<&'a [T], fwsign_status_t> {
    if ptr.is_null() {
        return if len == 0 && allow_null {
            Ok(&[])
        } else {
            Err(FWSIGN_ERR_NULL_POINTER)
        };
    }
    if core::mem::size_of::<T>()
        .checked_mul(len)
        .is_none_or(|bytes| bytes > isize::MAX as usize)
    {
        return Err(FWSIGN_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: `ptr` is not NULL, the caller guarantees it is valid for
    // `len` elements for `'a` and unaliased by writes, and the total size
    // was checked against `isize::MAX` above.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// As [`slice_in`], for UTF-8 text (checked, and kept as bytes, as the
/// verifier takes it: no `core::str::from_utf8` in the library).
///
/// # Safety
///
/// As [`slice_in`].
unsafe fn str_in<'a>(
    ptr: *const c_char,
    len: usize,
    allow_null: bool,
) -> Result<&'a [u8], fwsign_status_t> {
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { slice_in(ptr.cast::<u8>(), len, allow_null) }?;
    if fwsign_manifest_schema::reader::is_utf8(bytes) {
        Ok(bytes)
    } else {
        Err(FWSIGN_ERR_INVALID_UTF8)
    }
}

/// Copies `bytes` into `dst` NUL-terminated; `Err` when they do not fit.
fn copy_out(dst: &mut [c_char], bytes: &[u8]) -> Result<u32, fwsign_status_t> {
    // Room for the NUL.
    if bytes.len() >= dst.len() {
        return Err(FWSIGN_ERR_OUTPUT_TRUNCATED);
    }
    for (d, b) in dst.iter_mut().zip(bytes) {
        *d = *b as c_char;
    }
    for d in dst.iter_mut().skip(bytes.len()) {
        *d = 0;
    }
    u32::try_from(bytes.len()).map_err(|_| FWSIGN_ERR_OUTPUT_TRUNCATED)
}

fn verified_out(v: &Verified<'_>) -> Result<fwsign_verified_t, fwsign_status_t> {
    let mut out = EMPTY_VERIFIED;
    out.target_len = copy_out(&mut out.target, v.target)?;
    out.version_len = copy_out(&mut out.version, v.version)?;
    out.security_counter = v.security_counter;
    out.image_offset = v.image_offset;
    out.image_size = v.image_size;
    out.root_version = v.root_version;
    for (dst, src) in out.roles.iter_mut().zip(v.roles.iter().take(v.role_count)) {
        dst.role_len = copy_out(&mut dst.role, src.role)?;
        dst.version = src.version;
    }
    out.role_count = u32::try_from(v.role_count.min(FWSIGN_MAX_CHAIN))
        .map_err(|_| FWSIGN_ERR_OUTPUT_TRUNCATED)?;
    Ok(out)
}

/// Flash reads through the C callback.
struct CFlash {
    read: unsafe extern "C" fn(*mut c_void, u32, *mut u8, usize) -> i32,
    ctx: *mut c_void,
}

impl Flash for CFlash {
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError> {
        // SAFETY: `out` is a live, writable buffer of `out.len()` bytes for
        // the duration of the call; the callback's own contract (documented
        // on `fwsign_flash_read_fn`) is the C caller's to keep.
        let rc = unsafe { (self.read)(self.ctx, offset, out.as_mut_ptr(), out.len()) };
        if rc == 0 { Ok(()) } else { Err(FlashError) }
    }
}

/// A SHA-256 engine behind C callbacks. A failing callback is remembered
/// (the digest is then all zeros) and turns the result into
/// `FWSIGN_ERR_HASH_ENGINE`.
struct CSha256 {
    start: unsafe extern "C" fn(*mut c_void) -> i32,
    update: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
    finish: unsafe extern "C" fn(*mut c_void, *mut u8) -> i32,
    ctx: *mut c_void,
    failed: bool,
}

impl Sha256Engine for CSha256 {
    fn start(&mut self) {
        self.failed = false;
        // SAFETY: the callback gets back the context the C caller gave.
        if unsafe { (self.start)(self.ctx) } != 0 {
            self.failed = true;
        }
    }

    fn update(&mut self, data: &[u8]) {
        if self.failed {
            return;
        }
        // SAFETY: `data` is valid for reads of `data.len()` bytes during the
        // call.
        if unsafe { (self.update)(self.ctx, data.as_ptr(), data.len()) } != 0 {
            self.failed = true;
        }
    }

    fn finish(&mut self) -> [u8; 32] {
        let mut digest = [0u8; FWSIGN_SHA256_LEN];
        if self.failed {
            return digest;
        }
        // SAFETY: `digest` is a writable 32-byte buffer during the call.
        if unsafe { (self.finish)(self.ctx, digest.as_mut_ptr()) } != 0 {
            self.failed = true;
            return [0u8; FWSIGN_SHA256_LEN];
        }
        digest
    }
}

/// Checks the firmware slot read through `flash` (`slot_size` bytes) against
/// the trusted root and the device's facts, as `fwsign_bootloader_verify`'s
/// `verify_slot` does: root updates carried in the slot (each stored through
/// `store_root` once verified); the TUF ordered target search over the
/// slot's delegation chain, which must be exactly the roles the search
/// visits, each with its k-of-n approval; the hardware ID, the security
/// counter and `min_bootloader_version` against the device; the image's
/// length and SHA-256; and expiry when the device has trusted time.
///
/// Returns `FWSIGN_OK` and fills `*out` only when the image may boot;
/// otherwise `*out` is zeroed (when `out` is not NULL) and the status names
/// the reason. `metadata` is working memory for the slot's trailer (its
/// metadata), at least as large as the trailer; `sha256` may be NULL for the
/// built-in software SHA-256.
///
/// # Safety
///
/// - `root` must point to `root_len` readable bytes.
/// - `flash` must point to a valid `fwsign_flash_t` whose `read` callback is
///   safe to call with its `ctx`, any offset and a buffer of the given length,
///   and writes at most `len` bytes to `buf`.
/// - `device` must point to a valid `fwsign_device_t`: `hardware_id` to
///   `hardware_id_len` bytes, `accepted` (unless NULL with length 0) to
///   `accepted_len` entries whose `role` points to `role_len` bytes.
/// - `metadata` must point to `metadata_len` writable bytes that nothing else
///   reads or writes during the call.
/// - `sha256` must be NULL or point to a valid `fwsign_sha256_t` whose
///   callbacks are safe to call with its `ctx`.
/// - `store_root` must be safe to call with `store_ctx`.
/// - `out` must point to writable memory for one `fwsign_verified_t`.
/// - No input may be written by another thread during the call, and the
///   memory areas may not overlap `metadata` or `out`.
#[allow(
    clippy::too_many_arguments,
    reason = "mirrors verify_slot; each input is a distinct piece of device state"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fwsign_verify_slot(
    root: *const u8,
    root_len: usize,
    flash: *const fwsign_flash_t,
    slot_size: u32,
    device: *const fwsign_device_t,
    metadata: *mut u8,
    metadata_len: usize,
    sha256: *const fwsign_sha256_t,
    store_root: fwsign_store_root_fn,
    store_ctx: *mut c_void,
    out: *mut fwsign_verified_t,
) -> fwsign_status_t {
    if out.is_null() {
        return FWSIGN_ERR_NULL_POINTER;
    }
    // SAFETY: `out` is not NULL and the caller guarantees it is writable for
    // one `fwsign_verified_t`; `write` does not read the old contents.
    unsafe { out.write(EMPTY_VERIFIED) };
    // SAFETY: every pointer argument is forwarded under this function's
    // contract, which `verify_inner` shares.
    let result = unsafe {
        verify_inner(
            root,
            root_len,
            flash,
            slot_size,
            device,
            metadata,
            metadata_len,
            sha256,
            store_root,
            store_ctx,
        )
    };
    match result {
        Ok(verified) => {
            // SAFETY: as above.
            unsafe { out.write(verified) };
            FWSIGN_OK
        }
        Err(status) => status,
    }
}

/// The body of [`fwsign_verify_slot`], with `?` for argument errors.
///
/// # Safety
///
/// As [`fwsign_verify_slot`].
#[allow(
    clippy::too_many_arguments,
    reason = "the arguments of fwsign_verify_slot"
)]
unsafe fn verify_inner(
    root: *const u8,
    root_len: usize,
    flash: *const fwsign_flash_t,
    slot_size: u32,
    device: *const fwsign_device_t,
    metadata: *mut u8,
    metadata_len: usize,
    sha256: *const fwsign_sha256_t,
    store_root: fwsign_store_root_fn,
    store_ctx: *mut c_void,
) -> Result<fwsign_verified_t, fwsign_status_t> {
    // SAFETY: the caller guarantees `root` points to `root_len` bytes.
    let root = unsafe { slice_in(root, root_len, false) }?;
    // SAFETY: the caller guarantees `flash` is NULL or a valid struct.
    let flash = unsafe { flash.as_ref() }.ok_or(FWSIGN_ERR_NULL_POINTER)?;
    let mut flash = CFlash {
        read: flash.read.ok_or(FWSIGN_ERR_NULL_POINTER)?,
        ctx: flash.ctx,
    };
    // SAFETY: the caller guarantees `device` is NULL or a valid struct.
    let device = unsafe { device.as_ref() }.ok_or(FWSIGN_ERR_NULL_POINTER)?;
    // SAFETY: the caller guarantees the hardware ID's pointer and length.
    let hardware_id = unsafe { str_in(device.hardware_id, device.hardware_id_len, false) }?;
    // SAFETY: the caller guarantees the accepted list's pointer and length.
    let accepted_in = unsafe { slice_in(device.accepted, device.accepted_len, true) }?;
    if accepted_in.len() > FWSIGN_MAX_ACCEPTED {
        return Err(FWSIGN_ERR_TOO_MANY_ACCEPTED);
    }
    let mut accepted = [AcceptedVersion {
        role: b"",
        version: 0,
    }; FWSIGN_MAX_ACCEPTED];
    for (dst, src) in accepted.iter_mut().zip(accepted_in) {
        *dst = AcceptedVersion {
            // SAFETY: the caller guarantees each role's pointer and length.
            role: unsafe { str_in(src.role, src.role_len, false) }?,
            version: src.version,
        };
    }
    let device = Device {
        hardware_id,
        installed_counter: device.installed_counter,
        accepted: accepted
            .get(..accepted_in.len())
            .ok_or(FWSIGN_ERR_TOO_MANY_ACCEPTED)?,
        trusted_time: (device.has_trusted_time != 0).then_some(UnixTime(device.trusted_time)),
        bootloader_version: BootloaderVersion {
            major: device.bootloader_version_major,
            minor: device.bootloader_version_minor,
            patch: device.bootloader_version_patch,
        },
    };
    if metadata.is_null() {
        return Err(FWSIGN_ERR_NULL_POINTER);
    }
    if metadata_len > isize::MAX as usize {
        return Err(FWSIGN_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: `metadata` is not NULL; the caller guarantees it points to
    // `metadata_len` writable bytes nothing else touches during the call.
    let metadata = unsafe { core::slice::from_raw_parts_mut(metadata, metadata_len) };
    let store_root = store_root.ok_or(FWSIGN_ERR_NULL_POINTER)?;
    let mut store = |new_root: &[u8]| -> Result<(), StoreError> {
        // SAFETY: `new_root` is valid for reads during the call; the
        // callback's contract is the C caller's.
        let rc = unsafe { store_root(store_ctx, new_root.as_ptr(), new_root.len()) };
        if rc == 0 { Ok(()) } else { Err(StoreError) }
    };
    // SAFETY: the caller guarantees `sha256` is NULL or a valid struct.
    let engine = unsafe { sha256.as_ref() };
    let mut software = SoftwareSha256::default();
    let mut hardware = match engine {
        None => None,
        Some(e) => Some(CSha256 {
            start: e.start.ok_or(FWSIGN_ERR_NULL_POINTER)?,
            update: e.update.ok_or(FWSIGN_ERR_NULL_POINTER)?,
            finish: e.finish.ok_or(FWSIGN_ERR_NULL_POINTER)?,
            ctx: e.ctx,
            failed: false,
        }),
    };
    let hasher: &mut dyn Sha256Engine = match hardware.as_mut() {
        Some(h) => h,
        None => &mut software,
    };
    // On the caller's stack: the C ABI keeps its one-buffer contract.
    let mut workspace = Workspace::new();
    let result = verify_slot(
        root,
        &mut flash,
        slot_size,
        &device,
        metadata,
        &mut workspace,
        hasher,
        &mut store,
        KEY_TYPES,
    );
    if hardware.as_ref().is_some_and(|h| h.failed) {
        return Err(FWSIGN_ERR_HASH_ENGINE);
    }
    match result {
        Ok(v) => verified_out(&v),
        Err(reason) => Err(fwsign_status_t::from_reason(reason)),
    }
}

/// Decides which of two slots boots (A/B), from each slot's remembered state
/// and this boot's verification result: a verified trial boots once as a
/// trial (persist it `FAILED` first; the image confirms itself), otherwise the
/// newest verified confirmed slot; an unverified slot never boots.
///
/// # Safety
///
/// `slot_a` and `slot_b` must point to valid `fwsign_slot_facts_t` whose
/// `version` (when `verified`) points to `version_len` bytes; `out` must
/// point to writable memory for one `fwsign_boot_decision_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fwsign_choose_boot(
    slot_a: *const fwsign_slot_facts_t,
    slot_b: *const fwsign_slot_facts_t,
    out: *mut fwsign_boot_decision_t,
) -> fwsign_status_t {
    if out.is_null() {
        return FWSIGN_ERR_NULL_POINTER;
    }
    let nothing = fwsign_boot_decision_t {
        boot: FWSIGN_NONE,
        trial: 0,
        persist: [FWSIGN_NONE; 2],
    };
    // SAFETY: `out` is not NULL and the caller guarantees it is writable.
    unsafe { out.write(nothing) };
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    let (Some(a), Some(b)) = (unsafe { slot_a.as_ref() }, unsafe { slot_b.as_ref() }) else {
        return FWSIGN_ERR_NULL_POINTER;
    };
    // SAFETY: the caller guarantees `a`'s version pointer and length.
    let fa = match unsafe { facts_in(a) } {
        Ok(f) => f,
        Err(status) => return status,
    };
    // SAFETY: the caller guarantees `b`'s version pointer and length.
    let fb = match unsafe { facts_in(b) } {
        Ok(f) => f,
        Err(status) => return status,
    };
    let decision = boot_select::choose([fa, fb]);
    let slot_index = |i: usize| u8::try_from(i).unwrap_or(FWSIGN_NONE);
    let decided = fwsign_boot_decision_t {
        boot: decision.boot.map_or(FWSIGN_NONE, slot_index),
        trial: u8::from(decision.trial),
        persist: decision.persist.map(|p| p.map_or(FWSIGN_NONE, |s| s as u8)),
    };
    // SAFETY: as above.
    unsafe { out.write(decided) };
    FWSIGN_OK
}

/// # Safety
///
/// When `f.verified` is non-zero, `f.version` must point to `f.version_len`
/// readable bytes.
unsafe fn facts_in(f: &fwsign_slot_facts_t) -> Result<SlotFacts<'_>, fwsign_status_t> {
    let state = match f.state {
        FWSIGN_SLOT_EMPTY => SlotState::Empty,
        FWSIGN_SLOT_TRIAL => SlotState::Trial,
        FWSIGN_SLOT_CONFIRMED => SlotState::Confirmed,
        FWSIGN_SLOT_FAILED => SlotState::Failed,
        _ => return Err(FWSIGN_ERR_INVALID_ARGUMENT),
    };
    let verified = if f.verified != 0 {
        // SAFETY: forwarded from this function's contract.
        let version = unsafe { str_in(f.version, f.version_len, false) }?;
        Some((f.security_counter, version))
    } else {
        None
    };
    Ok(SlotFacts { state, verified })
}

/// The security counter to store once a booted image has confirmed itself:
/// the larger of the installed counter and the image's (never lower).
#[unsafe(no_mangle)]
pub extern "C" fn fwsign_confirm_counter(installed_counter: u64, image_counter: u64) -> u64 {
    boot_select::confirm(installed_counter, image_counter).security_counter
}

/// The name of a status (`"OK"`, `"IMAGE_HASH_MISMATCH"`, ...): a static
/// NUL-terminated string, `"UNKNOWN"` for a number that is no status.
#[unsafe(no_mangle)]
pub extern "C" fn fwsign_status_name(status: i32) -> *const c_char {
    fwsign_status_t::from_code(status)
        .map_or(c"UNKNOWN", fwsign_status_t::name)
        .as_ptr()
}

/// The ABI version the library was built with (`FWSIGN_ABI_VERSION`);
/// compare it with the header's at start-up.
#[unsafe(no_mangle)]
pub extern "C" fn fwsign_abi_version() -> u32 {
    FWSIGN_ABI_VERSION
}

#[cfg(all(not(feature = "std"), feature = "panic-handler", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Unreachable by construction; park the CPU so a watchdog resets it.
    loop {
        core::hint::spin_loop();
    }
}
