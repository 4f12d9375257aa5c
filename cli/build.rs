//! Compiles in this build's date (`FWSIGN_BUILD_EPOCH`, Unix seconds), the
//! floor below which `fwsign` refuses to trust the system clock: a machine
//! whose clock reads earlier than the build (a dead RTC battery, 1970) would
//! otherwise run every expiry check against the past and accept metadata
//! long expired.
//!
//! The date is `SOURCE_DATE_EPOCH` when set (reproducible builds), else the
//! date of the commit being built, else the date this rule was written.

#![allow(
    clippy::print_stdout,
    reason = "a build script speaks to cargo on stdout"
)]

use std::process::Command;

/// 2026-12-01T00:00:00Z: the floor when neither source is available (a
/// source tarball without git).
const FALLBACK_EPOCH: u64 = 1_796_083_200;

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(commit_epoch)
        .unwrap_or(FALLBACK_EPOCH);
    println!("cargo:rustc-env=FWSIGN_BUILD_EPOCH={epoch}");
}

fn commit_epoch() -> Option<u64> {
    let out = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}
