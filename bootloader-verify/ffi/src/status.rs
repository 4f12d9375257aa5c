//! What a call returns: [`fwsign_status_t`], its names and the ABI version.

use core::ffi::{CStr, c_char};

use fwsign_bootloader_verify::Reason;

use crate::FWSIGN_ABI_VERSION;

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
    /// slot state, a struct pointer not aligned for its type).
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
