//! Misaligned pointers from C: each struct pointer the ABI would turn into a
//! reference (or write through) is refused with `FWSIGN_ERR_INVALID_ARGUMENT`
//! when it is not aligned for its type, before anything is read or written
//! through it. A C caller makes one easily (a struct inside a packed buffer,
//! a cast from `uint8_t *`); dereferencing it would be undefined behaviour.
//!
//! Each test first makes the same call with aligned pointers and checks it
//! gets past the argument checks (to the erased slot, refused with a reason
//! code), so the misalignment is what fails.

#![allow(unsafe_code, reason = "calling the C ABI under test")]
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc,
    reason = "test callbacks over test-owned buffers"
)]

use std::ffi::c_void;
use std::mem::{align_of, size_of};
use std::ptr;

use fwsign_bootloader_verify_ffi::fwsign_status_t::{self, *};
use fwsign_bootloader_verify_ffi::*;

const SLOT: u32 = 4096;

/// Storage aligned for every ABI struct, handing out pointers one byte past
/// an aligned address: misaligned for anything with alignment above 1.
#[repr(C, align(16))]
struct Misaligned([u8; 1024]);

impl Misaligned {
    fn new() -> Box<Self> {
        Box::new(Self([0xA5; 1024]))
    }

    /// A misaligned pointer holding `value` (copied unaligned).
    fn holding<T: Copy>(&mut self, value: T) -> *mut T {
        assert!(size_of::<T>() < self.0.len());
        let p = unsafe { self.0.as_mut_ptr().add(1) }.cast::<T>();
        assert!(align_of::<T>() > 1 && !p.is_aligned());
        unsafe { ptr::write_unaligned(p, value) };
        p
    }

    /// A misaligned pointer to untouched (0xA5) bytes, for an output.
    fn output<T>(&mut self) -> *mut T {
        let p = unsafe { self.0.as_mut_ptr().add(1) }.cast::<T>();
        assert!(!p.is_aligned());
        p
    }

    fn untouched(&self) -> bool {
        self.0.iter().all(|b| *b == 0xA5)
    }
}

unsafe extern "C" fn erased_read(_: *mut c_void, offset: u32, buf: *mut u8, len: usize) -> i32 {
    if offset as usize + len > SLOT as usize {
        return -1;
    }
    unsafe { ptr::write_bytes(buf, 0xFF, len) };
    0
}

unsafe extern "C" fn store_nothing(_: *mut c_void, _: *const u8, _: usize) -> i32 {
    1
}

unsafe extern "C" fn sha_start(_: *mut c_void) -> i32 {
    0
}

unsafe extern "C" fn sha_update(_: *mut c_void, _: *const u8, _: usize) -> i32 {
    0
}

unsafe extern "C" fn sha_finish(_: *mut c_void, _: *mut u8) -> i32 {
    0
}

const HW: &[u8] = b"evc-a1";
const ROLE: &[u8] = b"targets";

fn flash() -> fwsign_flash_t {
    fwsign_flash_t {
        read: Some(erased_read),
        ctx: ptr::null_mut(),
    }
}

fn engine() -> fwsign_sha256_t {
    fwsign_sha256_t {
        start: Some(sha_start),
        update: Some(sha_update),
        finish: Some(sha_finish),
        ctx: ptr::null_mut(),
    }
}

fn device(accepted: *const fwsign_role_version_t, accepted_len: usize) -> fwsign_device_t {
    fwsign_device_t {
        hardware_id: HW.as_ptr().cast(),
        hardware_id_len: HW.len(),
        installed_counter: 0,
        accepted,
        accepted_len,
        has_trusted_time: 0,
        trusted_time: 0,
        bootloader_version_major: 1,
        bootloader_version_minor: 0,
        bootloader_version_patch: 0,
    }
}

fn role() -> fwsign_role_version_t {
    fwsign_role_version_t {
        role: ROLE.as_ptr().cast(),
        role_len: ROLE.len(),
        version: 1,
    }
}

/// `fwsign_verify_slot` over an erased slot with these struct pointers.
fn verify(
    flash: *const fwsign_flash_t,
    device: *const fwsign_device_t,
    sha256: *const fwsign_sha256_t,
    out: *mut fwsign_verified_t,
) -> fwsign_status_t {
    let root = b"{}";
    let mut metadata = [0u8; 256];
    unsafe {
        fwsign_verify_slot(
            root.as_ptr(),
            root.len(),
            flash,
            SLOT,
            device,
            metadata.as_mut_ptr(),
            metadata.len(),
            sha256,
            Some(store_nothing),
            ptr::null_mut(),
            out,
        )
    }
}

/// The aligned baseline got past every argument check to the slot itself.
fn past_the_arguments(status: fwsign_status_t) -> bool {
    let code = status as i32;
    (1..100).contains(&code)
}

fn aligned_out() -> Box<fwsign_verified_t> {
    Box::new(unsafe { std::mem::zeroed() })
}

#[test]
fn a_misaligned_device_struct_is_refused_not_read() {
    let mut out = aligned_out();
    let d = device(ptr::null(), 0);
    assert!(past_the_arguments(verify(
        &flash(),
        &d,
        ptr::null(),
        &mut *out
    )));
    let mut buf = Misaligned::new();
    let p = buf.holding(d);
    assert_eq!(
        verify(&flash(), p, ptr::null(), &mut *out),
        FWSIGN_ERR_INVALID_ARGUMENT
    );
}

#[test]
fn a_misaligned_flash_struct_is_refused_not_read() {
    let mut out = aligned_out();
    let d = device(ptr::null(), 0);
    let mut buf = Misaligned::new();
    let p = buf.holding(flash());
    assert_eq!(
        verify(p, &d, ptr::null(), &mut *out),
        FWSIGN_ERR_INVALID_ARGUMENT
    );
}

#[test]
fn a_misaligned_hash_engine_struct_is_refused_not_read() {
    let mut out = aligned_out();
    let d = device(ptr::null(), 0);
    let e = engine();
    assert!(past_the_arguments(verify(&flash(), &d, &e, &mut *out)));
    let mut buf = Misaligned::new();
    let p = buf.holding(e);
    assert_eq!(
        verify(&flash(), &d, p, &mut *out),
        FWSIGN_ERR_INVALID_ARGUMENT
    );
}

#[test]
fn a_misaligned_accepted_role_list_is_refused_not_read() {
    let mut out = aligned_out();
    let list = [role(), role()];
    let d = device(list.as_ptr(), list.len());
    assert!(past_the_arguments(verify(
        &flash(),
        &d,
        ptr::null(),
        &mut *out
    )));
    let mut buf = Misaligned::new();
    let p = buf.holding(list);
    let d = device(p.cast(), list.len());
    assert_eq!(
        verify(&flash(), &d, ptr::null(), &mut *out),
        FWSIGN_ERR_INVALID_ARGUMENT
    );
}

#[test]
fn a_misaligned_verified_output_is_refused_and_never_written() {
    let d = device(ptr::null(), 0);
    let mut buf = Misaligned::new();
    let out = buf.output::<fwsign_verified_t>();
    assert_eq!(
        verify(&flash(), &d, ptr::null(), out),
        FWSIGN_ERR_INVALID_ARGUMENT
    );
    assert!(buf.untouched(), "nothing written through a misaligned out");
}

fn facts() -> fwsign_slot_facts_t {
    fwsign_slot_facts_t {
        state: FWSIGN_SLOT_EMPTY,
        verified: 0,
        security_counter: 0,
        version: ptr::null(),
        version_len: 0,
    }
}

#[test]
fn misaligned_slot_facts_are_refused_not_read() {
    let a = facts();
    let mut out = fwsign_boot_decision_t {
        boot: 0,
        trial: 0,
        persist: [0; 2],
    };
    assert_eq!(unsafe { fwsign_choose_boot(&a, &a, &mut out) }, FWSIGN_OK);
    let mut buf = Misaligned::new();
    let p = buf.holding(a);
    assert_eq!(
        unsafe { fwsign_choose_boot(p, &a, &mut out) },
        FWSIGN_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { fwsign_choose_boot(&a, p, &mut out) },
        FWSIGN_ERR_INVALID_ARGUMENT
    );
    // Refused, the decision still says "boot nothing". (The decision
    // itself is all bytes, alignment 1: every pointer to it is aligned.)
    assert_eq!(out.boot, FWSIGN_NONE);
    assert_eq!(align_of::<fwsign_boot_decision_t>(), 1);
}
