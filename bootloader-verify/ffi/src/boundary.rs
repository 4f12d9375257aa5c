//! Crossing the boundary: `(pointer, length)` pairs from C into slices, and
//! the verifier's result into the fixed-size output struct.

use core::ffi::c_char;

use fwsign_bootloader_verify::Verified;

use crate::FWSIGN_MAX_CHAIN;
use crate::status::fwsign_status_t::{self, *};
use crate::types::{EMPTY_VERIFIED, fwsign_verified_t};

/// Turns a `(pointer, length)` pair from C into a slice. NULL is refused
/// unless `len` is 0 and `allow_null` holds.
///
/// # Safety
///
/// Unless NULL, `ptr` must be valid for reads of `len` bytes for `'a`, and
/// the bytes must not be written during `'a`.
pub(crate) unsafe fn slice_in<'a, T>(
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
pub(crate) unsafe fn str_in<'a>(
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

pub(crate) fn verified_out(v: &Verified<'_>) -> Result<fwsign_verified_t, fwsign_status_t> {
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
