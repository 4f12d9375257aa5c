//! The C example's two-copy root store and device-state store
//! (`examples/c/stores.c`), tested on the host by the C harness
//! `tests/c/store_power_cut.c`: power lost at every write and erase step of
//! an update (each step torn several ways), bit rot, rollback, an erased
//! store. The harness is compiled here with the system C compiler (`$CC`,
//! else `cc`), with AddressSanitizer and UBSan where the compiler has them,
//! so an out-of-bounds read in the store code fails the test too.
//!
//! One test per failure the stores must survive; each runs one scenario of
//! the harness and passes when it exits 0.

#![allow(
    clippy::unwrap_used,
    reason = "a broken fixture should fail the test loudly"
)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the tests report what the harness checked, and a build without sanitizers"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "../../tests/support/release_fixture.rs"]
mod release_fixture;

fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// Compiles the harness once per test binary; returns its path.
fn harness() -> &'static Path {
    static HARNESS: OnceLock<PathBuf> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store_power_cut-{}", std::process::id()));
        let ex = dir.join("examples/c");
        let base = |sanitize: bool| {
            let mut cmd = Command::new(compiler());
            cmd.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-g"]);
            if sanitize {
                cmd.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]);
            }
            cmd.arg("-I")
                .arg(dir.join("include"))
                .arg("-I")
                .arg(&ex)
                .arg("-o")
                .arg(&out)
                .arg(dir.join("tests/c/store_power_cut.c"))
                .arg(ex.join("stores.c"))
                .arg(ex.join("nor_flash.c"))
                .arg(ex.join("sha256.c"));
            cmd
        };
        let sanitized = base(true).output().unwrap();
        if !sanitized.status.success() {
            // A compiler without the sanitizer runtimes still builds the
            // harness; a compile error shows up again here, and fails.
            let plain = base(false).output().unwrap();
            assert!(
                plain.status.success(),
                "compiling the store harness with {} failed:\n{}",
                compiler(),
                String::from_utf8_lossy(&plain.stderr)
            );
            eprintln!("store harness built without sanitizers (not available)");
        }
        out
    })
}

/// Runs one scenario; panics with its output unless it exits 0.
fn scenario(args: &[&str]) -> String {
    let out = Command::new(harness()).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "store harness {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{stdout}");
    stdout
}

#[test]
fn power_cut_at_every_root_store_write_keeps_the_old_or_the_new_root() {
    let out = scenario(&["root-power-cut"]);
    // Each layout was swept: one copy, two copies, a garbage copy, copy B
    // being provisioned.
    assert_eq!(out.matches("never anything else").count(), 4, "{out}");
}

#[test]
fn power_cut_at_every_state_store_write_keeps_the_old_or_the_new_state() {
    let out = scenario(&["state-power-cut"]);
    assert_eq!(out.matches("never anything else").count(), 3, "{out}");
}

#[test]
fn bit_rot_in_the_newest_copy_falls_back_to_the_older_copy_not_garbage() {
    scenario(&["bit-rot"]);
}

#[test]
fn an_older_root_is_never_stored_over_a_newer_one() {
    scenario(&["root-rollback"]);
}

#[test]
fn an_erased_store_reads_as_unprovisioned_not_as_zero_counters() {
    scenario(&["empty"]);
}

#[test]
fn confirming_an_image_only_raises_the_counter_and_role_versions() {
    scenario(&["confirm"]);
}

#[test]
fn a_published_root_is_stored_and_read_back_with_its_version() {
    let r = release_fixture::release("stores");
    let (version, bytes) = r.repo.published_roots().unwrap().remove(0);
    let path = r.dir.join("root-v1.json");
    std::fs::write(&path, bytes).unwrap();
    scenario(&["real-root", path.to_str().unwrap(), &version.to_string()]);
}
