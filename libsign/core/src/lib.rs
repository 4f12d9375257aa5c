//! # fwsign-core: the verification core
//!
//! Every trust decision fwsign makes is made here, once: does this signature
//! verify, is this threshold met, which role answers for a target name (the
//! TUF target search, spec 5.6.7), does this target's length, hash and
//! hardware binding match, is a version a rollback. The crate is `no_std`,
//! allocation-free and linted so it cannot panic (no indexing, unchecked
//! arithmetic, `unwrap`, `expect` or `panic!`): it is the only part of
//! `libsign/` a bootloader links (through `fwsign-bootloader-verify`).
//!
//! ## Design
//!
//! The core reads canonical JSON in place ([`verify::Envelope`],
//! [`verify::RootView`], [`verify::TargetsView`]: zero-copy views over the
//! signed bytes) and checks signatures through one trait,
//! [`key_types::KeyType`], with a P-256 and an Ed25519 implementation a
//! build registers by feature (`p256`, `ed25519`; `p256-asm` swaps in a
//! Cortex-M4 assembly P-256 on Arm). The host reaches the very same
//! functions through `fwsign-keys` (its `document` and `trusted_set`
//! modules turn JSON as other tools write it into canonical bytes first, and
//! size working memory to the input), so there is no second path that could
//! skip a check.
//!
//! - [`verify`]: envelopes, role views, [`verify::verify_threshold`].
//! - [`key_types`]: the signature backends.
//! - [`workflow`]: the client workflow's per-role checks (versions, expiry,
//!   the hashes and lengths one role lists for another).
//! - [`search`]: the target search over delegations.
//! - [`target_check`]: a found target against the device's facts.
//! - [`path_match`]: TUF's path patterns and hash-prefix bins.
//! - [`succinct`]: TAP 15 `succinct_roles` (hashed bins named by
//!   computation rather than listed).
//!
//! Where code is shaped for flash size rather than for reading (out-of-line
//! steps, loops kept instead of iterator chains), the reason is in
//! `docs/performance.md` ("Flash size: where the core is shaped for it").

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// The device path: no panics, no unchecked arithmetic or indexing.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[cfg(not(any(feature = "p256", feature = "ed25519")))]
compile_error!("fwsign-core needs at least one signature backend: feature `p256` or `ed25519`");

/// A `VerifyError` detail for people; empty without `std` (a device reports
/// reason codes and never prints it).
macro_rules! detail {
    ($text:literal) => {{
        #[cfg(feature = "std")]
        let text = $text;
        #[cfg(not(feature = "std"))]
        let text = "";
        text
    }};
}

pub(crate) mod hex;
pub mod key_types;
#[cfg(all(feature = "p256-asm", target_arch = "arm"))]
mod p256_cm4;
#[cfg(feature = "p256")]
pub(crate) mod p256_encoding;
pub mod path_match;
pub mod search;
mod sha256;
pub mod succinct;
pub mod target_check;
mod target_entry;
pub mod verify;
pub mod workflow;

pub use sha256::Sha256Stream;
pub(crate) use sha256::sha256_of;
