//! `fwsign_verify_slot`: the C callbacks as the verifier's `Flash` and
//! `Sha256Engine`, and the call itself.

use core::ffi::c_void;

use fwsign_bootloader_verify::{
    AcceptedVersion, BootloaderVersion, Device, Flash, FlashError, KEY_TYPES, Sha256Engine,
    SoftwareSha256, StoreError, Workspace, verify_slot,
};
use fwsign_manifest_schema::expiry::UnixTime;

use crate::boundary::{out_ok, ref_in, slice_in, str_in, verified_out};
use crate::status::fwsign_status_t::{self, *};
use crate::types::{
    EMPTY_VERIFIED, fwsign_device_t, fwsign_flash_t, fwsign_sha256_t, fwsign_store_root_fn,
    fwsign_verified_t,
};
use crate::{FWSIGN_MAX_ACCEPTED, FWSIGN_SHA256_LEN};

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
///
/// Alignment is checked, not assumed: `flash`, `device`, `sha256`,
/// `device->accepted` and `out` must be aligned for their types (as a C
/// compiler places them), and a misaligned one (a struct inside a packed
/// buffer, a cast from `uint8_t *`) is refused with
/// `FWSIGN_ERR_INVALID_ARGUMENT` before anything is read through it,
/// instead of being dereferenced (undefined behaviour). A misaligned `out`
/// is not written at all.
/// Byte pointers (`root`, `metadata`, the names) have no alignment.
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
    if let Err(status) = out_ok(out) {
        return status;
    }
    // SAFETY: `out` is not NULL and aligned (checked above), and the caller
    // guarantees it is writable for one `fwsign_verified_t`; `write` does
    // not read the old contents.
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
    // SAFETY: the caller guarantees `flash` is NULL, misaligned (both
    // refused by `ref_in`) or a valid struct.
    let flash = unsafe { ref_in(flash) }?;
    let mut flash = CFlash {
        read: flash.read.ok_or(FWSIGN_ERR_NULL_POINTER)?,
        ctx: flash.ctx,
    };
    // SAFETY: as for `flash`.
    let device = unsafe { ref_in(device) }?;
    // SAFETY: the caller guarantees the hardware ID's pointer and length.
    let hardware_id = unsafe { str_in(device.hardware_id, device.hardware_id_len, false) }?;
    // SAFETY: the caller guarantees the accepted list's pointer and length;
    // `slice_in` refuses it misaligned.
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
    // NULL selects the software hash; a misaligned engine is refused.
    let engine = if sha256.is_null() {
        None
    } else {
        // SAFETY: not NULL; the caller guarantees a valid struct, and
        // `ref_in` refuses it misaligned.
        Some(unsafe { ref_in(sha256) }?)
    };
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
