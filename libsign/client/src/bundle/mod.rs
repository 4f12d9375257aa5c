//! Offline update bundles: one published target and the TUF metadata that
//! proves it, in one zip file for installs without a network (a
//! commissioning app, a USB stick).
//!
//! ```text
//! fwsign-bundle.json        {"format_version": 1, "target": "board-a/fw-1.0.0.bin"}
//! metadata/1.root.json      every root version, so any older device can walk the chain
//! metadata/2.root.json
//! metadata/timestamp.json
//! metadata/7.snapshot.json
//! metadata/7.targets.json   and the delegated roles the search for the target visits
//! metadata/3.board-a.json
//! targets/board-a/fw-1.0.0.bin
//! ```
//!
//! [`create_bundle`] packages a target from a published
//! [`Repository`](fwsign_repo::Repository);
//! [`verify_bundle`] checks a bundle the way a device does, from the root it
//! trusts. Both run the same client workflow through
//! [`TrustedSet`], so fwsign never writes a
//! bundle whose metadata it would refuse, and no trust decision is made here:
//! signatures, thresholds, versions and expiry are the workflow's, the
//! target search is the core's [`fwsign_core::search::search_target`] (the one
//! the TUF client, `device pack` and the bootloader run), and the checks on
//! the entry are the core's [`fwsign_core::target_check`] (hardware ID, security
//! counter, bootloader version; the image's length and every listed hash).
//! What this module adds is the order of the steps and where each file
//! comes from.
//!
//! The zip container, and its defences against hostile archives (path
//! traversal, symlinks, duplicate entries, decompression bombs), are
//! [`crate::bundle_archive`]'s.
//!
//! ## Expiry
//!
//! A bundle is made once and installed for weeks, while a timestamp lives a
//! day and a snapshot a week. So an expired timestamp or snapshot is only a
//! [`BundleWarning`] unless [`VerifyOptions::require_fresh`] is set. Root,
//! targets and delegated roles carry the release decision and are refused
//! once expired, as a networked client would.
//!
//! ## Layout
//!
//! `create` and `verify` hold the two entry points and the order of their
//! steps; `manifest` the `fwsign-bundle.json` entry; `search` the role
//! loader both hand to the core's target search; `extract` the one-pass
//! hash-and-copy of the image; `error` what can go wrong. The limits below
//! stay here because both directions share them.

use std::path::Path;

use fwsign_manifest_schema::reader::JsonStr;

use fwsign_keys::trusted_set::TrustedSet;

mod create;
mod error;
mod extract;
mod manifest;
mod search;
#[cfg(test)]
mod tests;
mod verify;

pub use create::{BundleSummary, create_bundle};
use error::out_of_order;
pub use error::{BundleError, BundleWarning};
pub use verify::{VerifiedBundle, VerifyOptions, verify_bundle};

/// The entry that marks a zip file as an fwsign bundle and names its target.
pub const MANIFEST_NAME: &str = "fwsign-bundle.json";

/// The bundle format this build writes and reads. A reader refuses other
/// versions rather than guess what a newer layout means.
pub const FORMAT_VERSION: u64 = 1;

/// Most delegated roles the target search loads besides the top-level
/// `targets` (the core's [`fwsign_core::search::MAX_DELEGATIONS`], python-tuf's
/// `max_delegations`). Bounds the work a hostile delegation tree can cause.
pub const MAX_DELEGATIONS: usize = fwsign_core::search::MAX_DELEGATIONS;

/// Most root versions one verification walks through (python-tuf's
/// `max_root_rotations`).
pub const MAX_ROOT_ROTATIONS: u64 = 256;

// Largest accepted metadata entries, python-tuf's defaults: far above what
// real repositories write, low enough that a bundle cannot make a reader
// hold much memory for JSON.
const MANIFEST_MAX: u64 = 64 << 10;
const ROOT_MAX: u64 = 512_000;
const TIMESTAMP_MAX: u64 = 16_384;
const SNAPSHOT_MAX: u64 = 2_000_000;
const TARGETS_MAX: u64 = 5_000_000;

const COPY_BUFFER: usize = 256 * 1024;

// Small steps both `create` and `verify` take.

/// The unescaped text of a JSON string, if it is UTF-8.
fn json_string(s: JsonStr<'_>) -> Option<String> {
    String::from_utf8(s.bytes().collect()).ok()
}

fn timestamp_snapshot_version(set: &TrustedSet, path: &Path) -> Result<u64, BundleError> {
    set.timestamp()
        .map(|t| t.snapshot.version)
        .ok_or_else(|| out_of_order(path, "timestamp"))
}
