//! The C ABI, called from Rust through its `extern "C"` functions exactly as
//! C calls it: raw pointers, callbacks with `void *` contexts, status codes.
//! Slots come from real repositories built with the release library.

#![allow(unsafe_code, reason = "calling the C ABI under test")]
#![allow(
    clippy::unwrap_used,
    reason = "a broken fixture should fail the test loudly"
)]
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc,
    reason = "test callbacks over test-owned buffers"
)]

use std::ffi::{CStr, c_void};
use std::ptr;
use std::sync::OnceLock;

use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_bootloader_verify::{Reason, Sha256Engine, SoftwareSha256};
use fwsign_bootloader_verify_ffi::fwsign_status_t::{self, *};
use fwsign_bootloader_verify_ffi::*;
use fwsign_keys::{Algorithm, PrivateKey};
use fwsign_repo::Repository;
use fwsign_repo::staging::RotateOptions;

#[path = "../../tests/support/release_fixture.rs"]
mod release_fixture;

use release_fixture::{NOW, add, add_needing, image, release, release_with};

const SLOT: u32 = 0x20000;
const LONG_NAME: &str = "evc-a1/a-target-name-longer-than-the-one-hundred-and-twenty-seven-bytes-fwsign_verified_t-holds-for-it-so-the-abi-must-say-truncated.bin";

struct Fixture {
    root_v1: Vec<u8>,
    good: Vec<u8>,
    delegated: Vec<u8>,
    long_name: Vec<u8>,
    needs_2_1: Vec<u8>,
    image_len: u32,
}

fn slot_for(repo: &Repository, target: &str, from_root: u64) -> Vec<u8> {
    let m = repo.device_material(target, from_root).unwrap();
    let image = std::fs::read(&m.image).unwrap();
    build_slot(0x400, SLOT, &image, target, &m.roots, &m.chain).unwrap()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // The shared release, plus a target whose name is too long for
        // `fwsign_verified_t`.
        let r = release_with("shared", |repo, dir| {
            let long = image(dir, "long.bin", 3, 700);
            add(repo, "targets", &long, LONG_NAME, 5, "1.2.0");
            let needs = image(dir, "needs-2.1.bin", 6, 900);
            add_needing(
                repo,
                "targets",
                &needs,
                "evc-a1/needs-2.1.bin",
                5,
                "1.4.0",
                Some("2.1.0"),
            );
        });
        Fixture {
            root_v1: r.repo.published_roots().unwrap().remove(0).1,
            good: slot_for(&r.repo, "evc-a1/fw.bin", 1),
            delegated: slot_for(&r.repo, "board-a/fw.bin", 1),
            long_name: slot_for(&r.repo, LONG_NAME, 1),
            needs_2_1: slot_for(&r.repo, "evc-a1/needs-2.1.bin", 1),
            image_len: 5000,
        }
    })
}

// --- C callbacks, as a C bootloader would write them ----------------------

/// The flash context: the slot's bytes.
struct RamFlash<'a> {
    bytes: &'a [u8],
    fail: bool,
}

unsafe extern "C" fn ram_read(ctx: *mut c_void, offset: u32, buf: *mut u8, len: usize) -> i32 {
    let flash = unsafe { &*(ctx as *const RamFlash<'_>) };
    let start = offset as usize;
    match flash.bytes.get(start..start + len) {
        Some(src) if !flash.fail => {
            unsafe { ptr::copy_nonoverlapping(src.as_ptr(), buf, len) };
            0
        }
        _ => -1,
    }
}

/// The root store context: every root stored, or a failing store.
#[derive(Default)]
struct RootStore {
    stored: Vec<Vec<u8>>,
    fail: bool,
}

unsafe extern "C" fn store(ctx: *mut c_void, root: *const u8, len: usize) -> i32 {
    let store = unsafe { &mut *(ctx as *mut RootStore) };
    if store.fail {
        return 1;
    }
    store
        .stored
        .push(unsafe { std::slice::from_raw_parts(root, len) }.to_vec());
    0
}

/// A "hardware" SHA-256 engine: software underneath, counting bytes, and
/// able to fail or to lie.
#[derive(Default)]
struct Engine {
    inner: SoftwareSha256,
    bytes: usize,
    fail_update: bool,
    lie: bool,
}

unsafe extern "C" fn engine_start(ctx: *mut c_void) -> i32 {
    let e = unsafe { &mut *(ctx as *mut Engine) };
    e.inner.start();
    e.bytes = 0;
    0
}

unsafe extern "C" fn engine_update(ctx: *mut c_void, data: *const u8, len: usize) -> i32 {
    let e = unsafe { &mut *(ctx as *mut Engine) };
    if e.fail_update {
        return 5;
    }
    e.inner
        .update(unsafe { std::slice::from_raw_parts(data, len) });
    e.bytes += len;
    0
}

unsafe extern "C" fn engine_finish(ctx: *mut c_void, digest: *mut u8) -> i32 {
    let e = unsafe { &mut *(ctx as *mut Engine) };
    let mut d = e.inner.finish();
    if e.lie {
        d[0] ^= 1;
    }
    unsafe { ptr::copy_nonoverlapping(d.as_ptr(), digest, 32) };
    0
}

fn engine(e: &mut Engine) -> fwsign_sha256_t {
    fwsign_sha256_t {
        start: Some(engine_start),
        update: Some(engine_update),
        finish: Some(engine_finish),
        ctx: (e as *mut Engine).cast(),
    }
}

// --- one call -------------------------------------------------------------

struct Call<'a> {
    root: &'a [u8],
    slot: &'a [u8],
    hardware_id: &'a [u8],
    counter: u64,
    accepted: Vec<(&'a str, u64)>,
    metadata_len: usize,
    flash_fails: bool,
    bootloader: (u32, u32, u32),
}

impl<'a> Call<'a> {
    fn new(root: &'a [u8], slot: &'a [u8]) -> Self {
        Self {
            root,
            slot,
            hardware_id: b"evc-a1",
            counter: 0,
            accepted: vec![],
            metadata_len: 64 * 1024,
            flash_fails: false,
            bootloader: (1, 0, 0),
        }
    }

    fn run(
        &self,
        sha: Option<&fwsign_sha256_t>,
        roots: &mut RootStore,
    ) -> (fwsign_status_t, fwsign_verified_t) {
        let mut flash_ctx = RamFlash {
            bytes: self.slot,
            fail: self.flash_fails,
        };
        let flash = fwsign_flash_t {
            read: Some(ram_read),
            ctx: (&mut flash_ctx as *mut RamFlash<'_>).cast(),
        };
        let accepted: Vec<fwsign_role_version_t> = self
            .accepted
            .iter()
            .map(|(role, version)| fwsign_role_version_t {
                role: role.as_ptr().cast(),
                role_len: role.len(),
                version: *version,
            })
            .collect();
        let device = fwsign_device_t {
            hardware_id: self.hardware_id.as_ptr().cast(),
            hardware_id_len: self.hardware_id.len(),
            installed_counter: self.counter,
            accepted: if accepted.is_empty() {
                ptr::null()
            } else {
                accepted.as_ptr()
            },
            accepted_len: accepted.len(),
            has_trusted_time: 1,
            trusted_time: NOW.0,
            bootloader_version_major: self.bootloader.0,
            bootloader_version_minor: self.bootloader.1,
            bootloader_version_patch: self.bootloader.2,
        };
        let mut metadata = vec![0u8; self.metadata_len];
        // Garbage in the output: the call must overwrite all of it.
        let mut out = std::mem::MaybeUninit::<fwsign_verified_t>::uninit();
        unsafe { ptr::write_bytes(out.as_mut_ptr(), 0xA5, 1) };
        let status = unsafe {
            fwsign_verify_slot(
                self.root.as_ptr(),
                self.root.len(),
                &flash,
                SLOT,
                &device,
                metadata.as_mut_ptr(),
                metadata.len(),
                sha.map_or(ptr::null(), |s| s as *const fwsign_sha256_t),
                Some(store),
                (roots as *mut RootStore).cast(),
                out.as_mut_ptr(),
            )
        };
        (status, unsafe { out.assume_init() })
    }

    fn status(&self) -> fwsign_status_t {
        self.run(None, &mut RootStore::default()).0
    }
}

fn text(bytes: &[std::ffi::c_char], len: u32) -> String {
    let raw: Vec<u8> = bytes.iter().map(|b| *b as u8).collect();
    assert_eq!(raw[len as usize], 0, "NUL-terminated");
    String::from_utf8(raw[..len as usize].to_vec()).unwrap()
}

fn is_zeroed(v: &fwsign_verified_t) -> bool {
    v.target_len == 0
        && v.version_len == 0
        && v.security_counter == 0
        && v.image_offset == 0
        && v.image_size == 0
        && v.root_version == 0
        && v.role_count == 0
        && v.target.iter().chain(&v.version).all(|c| *c == 0)
        && v.roles.iter().all(|r| r.role_len == 0 && r.version == 0)
}

// --- tests ----------------------------------------------------------------

#[test]
fn a_good_slot_verifies_through_the_c_abi() {
    let f = fixture();
    let (status, v) = Call::new(&f.root_v1, &f.good).run(None, &mut RootStore::default());
    assert_eq!(status, FWSIGN_OK);
    assert_eq!(text(&v.target, v.target_len), "evc-a1/fw.bin");
    assert_eq!(text(&v.version, v.version_len), "1.2.0");
    assert_eq!(v.security_counter, 5);
    assert_eq!((v.image_offset, v.image_size), (0x400, f.image_len));
    assert_eq!(v.root_version, 1);
    assert_eq!(v.role_count, 1);
    assert_eq!(text(&v.roles[0].role, v.roles[0].role_len), "targets");
    assert!(v.roles[0].version >= 1);
}

#[test]
fn a_delegated_slot_reports_its_chain() {
    let f = fixture();
    let (status, v) = Call::new(&f.root_v1, &f.delegated).run(None, &mut RootStore::default());
    assert_eq!(status, FWSIGN_OK);
    assert_eq!(v.role_count, 2);
    assert_eq!(text(&v.roles[1].role, v.roles[1].role_len), "board-a");
    assert_eq!(text(&v.target, v.target_len), "board-a/fw.bin");
}

#[test]
fn refusals_return_the_reason_code_and_a_zeroed_output() {
    let f = fixture();
    let mut tampered = f.good.clone();
    tampered[0x400 + 100] ^= 1;
    let (status, v) = Call::new(&f.root_v1, &tampered).run(None, &mut RootStore::default());
    assert_eq!(status, FWSIGN_ERR_IMAGE_HASH_MISMATCH);
    assert_eq!(status as i32, Reason::ImageHashMismatch.code());
    assert!(is_zeroed(&v));

    let wrong_board = Call {
        hardware_id: b"evc-b2",
        ..Call::new(&f.root_v1, &f.good)
    };
    assert_eq!(wrong_board.status(), FWSIGN_ERR_HARDWARE_ID_MISMATCH);

    let newer_installed = Call {
        counter: 6,
        ..Call::new(&f.root_v1, &f.good)
    };
    assert_eq!(
        newer_installed.status(),
        FWSIGN_ERR_SECURITY_COUNTER_ROLLBACK
    );

    let replay = Call {
        accepted: vec![("targets", 99)],
        ..Call::new(&f.root_v1, &f.good)
    };
    assert_eq!(replay.status(), FWSIGN_ERR_TARGETS_ROLLBACK);

    let small_buffer = Call {
        metadata_len: 64,
        ..Call::new(&f.root_v1, &f.good)
    };
    assert_eq!(small_buffer.status(), FWSIGN_ERR_METADATA_TOO_LARGE);

    let flash_fails = Call {
        flash_fails: true,
        ..Call::new(&f.root_v1, &f.good)
    };
    assert_eq!(flash_fails.status(), FWSIGN_ERR_FLASH_READ);

    let erased = vec![0xffu8; SLOT as usize];
    assert_eq!(
        Call::new(&f.root_v1, &erased).status(),
        FWSIGN_ERR_SLOT_EMPTY
    );
    assert_eq!(
        Call::new(b"{}", &f.good).status(),
        FWSIGN_ERR_TRUSTED_ROOT_INVALID
    );
}

#[test]
fn the_bootloader_version_in_the_device_struct_meets_min_bootloader_version() {
    let f = fixture();
    let with = |bootloader| Call {
        bootloader,
        ..Call::new(&f.root_v1, &f.needs_2_1)
    };
    assert_eq!(with((2, 0, 9)).status(), FWSIGN_ERR_BOOTLOADER_TOO_OLD);
    assert_eq!(with((0, 0, 0)).status(), FWSIGN_ERR_BOOTLOADER_TOO_OLD);
    assert_eq!(with((2, 1, 0)).status(), FWSIGN_OK);
    assert_eq!(with((3, 0, 0)).status(), FWSIGN_OK);
}

#[test]
fn a_string_too_long_for_its_array_is_an_error_not_a_cut() {
    let f = fixture();
    let (status, v) = Call::new(&f.root_v1, &f.long_name).run(None, &mut RootStore::default());
    assert_eq!(status, FWSIGN_ERR_OUTPUT_TRUNCATED);
    assert!(is_zeroed(&v));
}

#[test]
fn null_pointers_are_refused() {
    let f = fixture();
    let mut flash_ctx = RamFlash {
        bytes: &f.good,
        fail: false,
    };
    let flash = fwsign_flash_t {
        read: Some(ram_read),
        ctx: (&mut flash_ctx as *mut RamFlash<'_>).cast(),
    };
    let no_read = fwsign_flash_t {
        read: None,
        ctx: ptr::null_mut(),
    };
    let hw = b"evc-a1";
    let device = fwsign_device_t {
        hardware_id: hw.as_ptr().cast(),
        hardware_id_len: hw.len(),
        installed_counter: 0,
        accepted: ptr::null(),
        accepted_len: 0,
        has_trusted_time: 0,
        trusted_time: 0,
        bootloader_version_major: 1,
        bootloader_version_minor: 0,
        bootloader_version_patch: 0,
    };
    let mut roots = RootStore::default();
    let store_ctx: *mut c_void = (&mut roots as *mut RootStore).cast();
    let mut metadata = vec![0u8; 64 * 1024];
    let mut out = std::mem::MaybeUninit::<fwsign_verified_t>::uninit();
    let root = &f.root_v1;
    let call = |root: *const u8,
                flash: *const fwsign_flash_t,
                device: *const fwsign_device_t,
                metadata: *mut u8,
                sha: *const fwsign_sha256_t,
                store_fn: fwsign_store_root_fn,
                out: *mut fwsign_verified_t| unsafe {
        fwsign_verify_slot(
            root,
            f.root_v1.len(),
            flash,
            SLOT,
            device,
            metadata,
            64 * 1024,
            sha,
            store_fn,
            store_ctx,
            out,
        )
    };
    let m = metadata.as_mut_ptr();
    let o = out.as_mut_ptr();
    let r = root.as_ptr();
    let s = Some(store as unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32);
    // The baseline succeeds, so each NULL below is what fails.
    assert_eq!(call(r, &flash, &device, m, ptr::null(), s, o), FWSIGN_OK);
    assert_eq!(
        call(ptr::null(), &flash, &device, m, ptr::null(), s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(
        call(r, ptr::null(), &device, m, ptr::null(), s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(
        call(r, &no_read, &device, m, ptr::null(), s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(
        call(r, &flash, ptr::null(), m, ptr::null(), s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(
        call(r, &flash, &device, ptr::null_mut(), ptr::null(), s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(
        call(r, &flash, &device, m, ptr::null(), None, o),
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(
        call(r, &flash, &device, m, ptr::null(), s, ptr::null_mut()),
        FWSIGN_ERR_NULL_POINTER
    );
    let half_engine = fwsign_sha256_t {
        start: Some(engine_start),
        update: None,
        finish: Some(engine_finish),
        ctx: ptr::null_mut(),
    };
    assert_eq!(
        call(r, &flash, &device, m, &half_engine, s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    let no_id = fwsign_device_t {
        hardware_id: ptr::null(),
        ..device
    };
    assert_eq!(
        call(r, &flash, &no_id, m, ptr::null(), s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    let dangling_list = fwsign_device_t {
        accepted_len: 1,
        ..device
    };
    assert_eq!(
        call(r, &flash, &dangling_list, m, ptr::null(), s, o),
        FWSIGN_ERR_NULL_POINTER
    );
    let bad_utf8 = [0xffu8, 0xfe];
    let not_text = fwsign_device_t {
        hardware_id: bad_utf8.as_ptr().cast(),
        hardware_id_len: 2,
        ..device
    };
    assert_eq!(
        call(r, &flash, &not_text, m, ptr::null(), s, o),
        FWSIGN_ERR_INVALID_UTF8
    );
    let role = fwsign_role_version_t {
        role: b"targets".as_ptr().cast(),
        role_len: 7,
        version: 1,
    };
    let many = vec![role; FWSIGN_MAX_ACCEPTED + 1];
    let too_many = fwsign_device_t {
        accepted: many.as_ptr(),
        accepted_len: many.len(),
        ..device
    };
    assert_eq!(
        call(r, &flash, &too_many, m, ptr::null(), s, o),
        FWSIGN_ERR_TOO_MANY_ACCEPTED
    );
    let enough = fwsign_device_t {
        accepted_len: FWSIGN_MAX_ACCEPTED,
        ..too_many
    };
    assert_eq!(call(r, &flash, &enough, m, ptr::null(), s, o), FWSIGN_OK);
}

#[test]
fn a_hardware_sha256_engine_plugs_in_through_callbacks() {
    let f = fixture();
    let call = Call::new(&f.root_v1, &f.good);
    let mut e = Engine::default();
    let sha = engine(&mut e);
    let (status, _) = call.run(Some(&sha), &mut RootStore::default());
    assert_eq!(status, FWSIGN_OK);
    assert_eq!(e.bytes, f.image_len as usize, "the engine hashed the image");

    let mut failing = Engine {
        fail_update: true,
        ..Engine::default()
    };
    let sha = engine(&mut failing);
    assert_eq!(
        call.run(Some(&sha), &mut RootStore::default()).0,
        FWSIGN_ERR_HASH_ENGINE
    );

    let mut lying = Engine {
        lie: true,
        ..Engine::default()
    };
    let sha = engine(&mut lying);
    assert_eq!(
        call.run(Some(&sha), &mut RootStore::default()).0,
        FWSIGN_ERR_IMAGE_HASH_MISMATCH
    );
}

#[test]
fn a_rotated_root_is_handed_to_store_root_and_a_failed_store_refuses() {
    let r = release("rotated");
    let root_v1 = r.repo.published_roots().unwrap().remove(0).1;
    let old = r.repo.device_material("evc-a1/fw.bin", 1).unwrap();
    // Root v2 moves targets to approver 1 and a new key, and targets is
    // re-approved under it.
    let extra = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    r.repo
        .rotate_root(
            &RotateOptions {
                add: vec![("targets".into(), extra.public_key().clone())],
                remove: vec![("targets".into(), r.approvers[0].public_key().keyid())],
                ..RotateOptions::default()
            },
            NOW,
        )
        .unwrap();
    for k in &r.root_keys {
        r.repo.sign("root", k, NOW).unwrap();
    }
    r.repo.extend("targets", 90 * 86_400, NOW).unwrap();
    r.repo.sign("targets", &r.approvers[1], NOW).unwrap();
    r.repo.sign("targets", &extra, NOW).unwrap();
    r.repo
        .publish(&r.online, &r.online, NOW, &mut |_| {})
        .unwrap();
    // Replay: root v2 with the old targets, signed by the removed key.
    let new = r.repo.device_material("evc-a1/fw.bin", 1).unwrap();
    let image = std::fs::read(&old.image).unwrap();
    let slot = build_slot(0x400, SLOT, &image, "evc-a1/fw.bin", &new.roots, &old.chain).unwrap();
    let root_v2 = r.repo.published_roots().unwrap().pop().unwrap().1;

    // The root verifies and is stored; the targets signed by the removed
    // key no longer meets the threshold.
    let mut roots = RootStore::default();
    let (status, _) = Call::new(&root_v1, &slot).run(None, &mut roots);
    assert_eq!(status, FWSIGN_ERR_TARGETS_NOT_SIGNED);
    assert_eq!(roots.stored, vec![root_v2.clone()]);

    let mut failing = RootStore {
        fail: true,
        ..RootStore::default()
    };
    let (status, _) = Call::new(&root_v1, &slot).run(None, &mut failing);
    assert_eq!(status, FWSIGN_ERR_ROOT_STORE_FAILED);

    // A device already on root v2 stores nothing.
    let mut roots = RootStore::default();
    let (status, _) = Call::new(&root_v2, &slot).run(None, &mut roots);
    assert_eq!(status, FWSIGN_ERR_TARGETS_NOT_SIGNED);
    assert!(roots.stored.is_empty());
}

#[test]
fn status_codes_are_the_reason_codes_and_have_names() {
    for &reason in Reason::ALL {
        let status = fwsign_status_t::from_reason(reason);
        assert_ne!(status, FWSIGN_ERR_UNKNOWN_REASON, "{reason:?}");
        assert_eq!(status as i32, reason.code(), "{reason:?}");
    }
    // Every reason code 1..=29 has its status; argument errors are >= 100.
    let codes: Vec<i32> = fwsign_status_t::all().iter().map(|s| *s as i32).collect();
    for code in 1..=29 {
        assert!(codes.contains(&code), "{code}");
    }
    let mut names = std::collections::BTreeSet::new();
    for s in fwsign_status_t::all() {
        let name = unsafe { CStr::from_ptr(fwsign_status_name(*s as i32)) };
        assert_eq!(name, s.name());
        assert!(names.insert(name.to_owned()), "duplicate name {name:?}");
    }
    let name = |code| {
        unsafe { CStr::from_ptr(fwsign_status_name(code)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(name(0), "OK");
    assert_eq!(name(21), "IMAGE_HASH_MISMATCH");
    assert_eq!(name(100), "NULL_POINTER");
    assert_eq!(name(-1), "UNKNOWN");
    assert_eq!(name(27), "TARGET_LISTED_EARLIER");
    assert_eq!(name(28), "DELEGATION_SHADOWED");
    assert_eq!(name(29), "BOOTLOADER_TOO_OLD");
    assert_eq!(name(30), "UNKNOWN");
    assert_eq!(fwsign_abi_version(), FWSIGN_ABI_VERSION);
    assert_eq!(
        FWSIGN_ABI_VERSION, 2,
        "fwsign_device_t gained the bootloader version"
    );
}

fn facts(state: u8, verified: Option<(u64, &'static str)>) -> fwsign_slot_facts_t {
    let (counter, version) = verified.unwrap_or((0, ""));
    fwsign_slot_facts_t {
        state,
        verified: u8::from(verified.is_some()),
        security_counter: counter,
        version: if verified.is_some() {
            version.as_ptr().cast()
        } else {
            ptr::null()
        },
        version_len: version.len(),
    }
}

fn choose(a: fwsign_slot_facts_t, b: fwsign_slot_facts_t) -> (fwsign_status_t, [u8; 4]) {
    let mut out = fwsign_boot_decision_t {
        boot: 7,
        trial: 7,
        persist: [7, 7],
    };
    let status = unsafe { fwsign_choose_boot(&a, &b, &mut out) };
    (
        status,
        [out.boot, out.trial, out.persist[0], out.persist[1]],
    )
}

#[test]
fn ab_selection_through_the_c_abi() {
    let old = facts(FWSIGN_SLOT_CONFIRMED, Some((5, "1.2.0")));
    // A verified trial boots once as a trial, persisted FAILED first.
    assert_eq!(
        choose(old, facts(FWSIGN_SLOT_TRIAL, Some((6, "1.3.0")))),
        (FWSIGN_OK, [1, 1, FWSIGN_NONE, FWSIGN_SLOT_FAILED])
    );
    // A trial that does not verify is failed and the confirmed slot boots.
    assert_eq!(
        choose(old, facts(FWSIGN_SLOT_TRIAL, None)),
        (FWSIGN_OK, [0, 0, FWSIGN_NONE, FWSIGN_SLOT_FAILED])
    );
    // The newer of two confirmed slots boots.
    assert_eq!(
        choose(old, facts(FWSIGN_SLOT_CONFIRMED, Some((5, "1.10.0")))),
        (FWSIGN_OK, [1, 0, FWSIGN_NONE, FWSIGN_NONE])
    );
    // Nothing verified: nothing boots.
    assert_eq!(
        choose(
            facts(FWSIGN_SLOT_CONFIRMED, None),
            facts(FWSIGN_SLOT_EMPTY, None)
        ),
        (FWSIGN_OK, [FWSIGN_NONE, 0, FWSIGN_NONE, FWSIGN_NONE])
    );
    // Bad arguments.
    assert_eq!(choose(facts(9, None), old).0, FWSIGN_ERR_INVALID_ARGUMENT);
    let no_version = fwsign_slot_facts_t {
        version: ptr::null(),
        ..old
    };
    assert_eq!(choose(no_version, old).0, FWSIGN_ERR_NULL_POINTER);
    let mut out = fwsign_boot_decision_t {
        boot: 0,
        trial: 0,
        persist: [0, 0],
    };
    assert_eq!(
        unsafe { fwsign_choose_boot(ptr::null(), &old, &mut out) },
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(out.boot, FWSIGN_NONE);
    assert_eq!(
        unsafe { fwsign_choose_boot(&old, &old, ptr::null_mut()) },
        FWSIGN_ERR_NULL_POINTER
    );
    assert_eq!(fwsign_confirm_counter(5, 6), 6);
    assert_eq!(fwsign_confirm_counter(7, 6), 7);
}
