//! Crossing the boundary: `(pointer, length)` pairs from C into slices, and
//! the verifier's result into the fixed-size output struct.

use core::ffi::c_char;

use fwsign_bootloader_verify::Verified;

use crate::FWSIGN_MAX_CHAIN;
use crate::status::fwsign_status_t::{self, *};
use crate::types::{EMPTY_VERIFIED, fwsign_verified_t};

/// Turns a `(pointer, length)` pair from C into a slice. NULL is refused
/// unless `len` is 0 and `allow_null` holds; a pointer not aligned for `T`
/// is `FWSIGN_ERR_INVALID_ARGUMENT` (a slice of a misaligned pointer is
/// undefined behaviour even when empty, and C casts make one easily).
///
/// # Safety
///
/// Unless NULL or misaligned, `ptr` must be valid for reads of `len`
/// elements for `'a`, and they must not be written during `'a`.
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
    if !ptr.is_aligned() {
        return Err(FWSIGN_ERR_INVALID_ARGUMENT);
    }
    if core::mem::size_of::<T>()
        .checked_mul(len)
        .is_none_or(|bytes| bytes > isize::MAX as usize)
    {
        return Err(FWSIGN_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: `ptr` is not NULL and is aligned for `T` (both checked
    // above), the caller guarantees it is valid for `len` elements for `'a`
    // and unaliased by writes, and the total size was checked against
    // `isize::MAX` above.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Turns a pointer to one struct from C into a reference: NULL is
/// `FWSIGN_ERR_NULL_POINTER`, a pointer not aligned for `T` is
/// `FWSIGN_ERR_INVALID_ARGUMENT`. A C caller can hand over a misaligned
/// pointer (a struct inside a packed buffer, a cast from `uint8_t *`); a
/// reference to it would be undefined behaviour, so it is refused instead.
///
/// # Safety
///
/// Unless NULL or misaligned, `ptr` must point to a valid `T` that is not
/// written during `'a`.
pub(crate) unsafe fn ref_in<'a, T>(ptr: *const T) -> Result<&'a T, fwsign_status_t> {
    if ptr.is_null() {
        return Err(FWSIGN_ERR_NULL_POINTER);
    }
    if !ptr.is_aligned() {
        return Err(FWSIGN_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: not NULL and aligned (checked above); the caller guarantees it
    // points to a valid `T` nothing writes during `'a`.
    Ok(unsafe { &*ptr })
}

/// Checks an output pointer before anything is written through it: NULL is
/// `FWSIGN_ERR_NULL_POINTER`, misaligned `FWSIGN_ERR_INVALID_ARGUMENT`
/// (`ptr::write` through a misaligned pointer is undefined behaviour).
pub(crate) fn out_ok<T>(ptr: *mut T) -> Result<(), fwsign_status_t> {
    if ptr.is_null() {
        Err(FWSIGN_ERR_NULL_POINTER)
    } else if !ptr.is_aligned() {
        Err(FWSIGN_ERR_INVALID_ARGUMENT)
    } else {
        Ok(())
    }
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
