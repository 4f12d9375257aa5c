//! # fwsign-bootloader-verify: the device verifier
//!
//! A bootloader links this crate to decide whether a firmware image runs.
//! Where embedded verifiers usually accept any one valid signature from one
//! embedded key, this crate checks the TUF metadata the release approvers
//! signed: root key rotation; which targets role answers for the image, by
//! the verification core's one ordered target search (TUF 1.0.34 section
//! 5.6.7: pre-order through delegations that cover the name, the first role
//! that lists it wins, a covering `terminating` delegation ends the search),
//! with the slot's chain required to be exactly the roles that search
//! visits; the k-of-n threshold of every role on it; then the hardware ID,
//! the anti-rollback security counter and the image's
//! `min_bootloader_version` against the device, and the image's length and
//! SHA-256, before the image boots.
//!
//! ## Design
//!
//! - `no_std`, no allocator, no `unsafe`, and no panics on any input:
//!   indexing, unchecked arithmetic, `unwrap` and `panic!` are denied.
//!   Every refusal is a [`Reason`], a stable code for the C ABI; the codes
//!   are written once, in [`reason_table!`], which the C ABI crate expands
//!   too.
//! - All trust decisions are made by `fwsign-core`, the verification core (the
//!   same code `fwsign` and its TUF client run); this crate adds device
//!   policy: the slot format ([`slot`]), reading through a [`Flash`]
//!   callback, hashing through a [`Sha256Engine`] (a hardware engine can
//!   plug in), and A/B selection ([`boot_select`]).
//! - Memory comes from the caller: the trailer's metadata is read into a
//!   buffer the caller provides; threshold working memory is a
//!   caller-provided [`Workspace`] ([`MAX_KEYS_PER_ROLE`] keys), so it can
//!   be a `static` off the stack; the chain is at most [`MAX_CHAIN`] roles,
//!   and the target search's memory (a frame and a name per chain role,
//!   borrowing the metadata buffer) is in [`verify_slot`]'s stack frame;
//!   hashing uses a [`HASH_CHUNK`]-byte stack buffer.
//! - Signature backends are Cargo features (`p256`, `ed25519`); at least one
//!   is required.
//! - The device computes and requires SHA-256 only: a target entry without
//!   a SHA-256 is refused, and other listed hashes are not checked here.
//! - Expiry is checked only when the device has trusted time
//!   ([`Device::trusted_time`]); without a clock it is skipped, and rollback
//!   protection rests on the security counter and the role versions.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[cfg(not(any(feature = "p256", feature = "ed25519")))]
compile_error!(
    "fwsign-bootloader-verify needs a signature backend: enable `p256` and/or `ed25519`"
);

pub mod boot_select;
pub mod hash_engine;
#[cfg(feature = "std")]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "host-side reports and encoders over lengths they have just checked; never on the device"
)]
pub mod host;
mod reason;
pub mod slot;
pub mod verifier;
pub mod version_order;

pub use fwsign_core::key_types::BUILTIN as KEY_TYPES;
pub use fwsign_core::target_check::BootloaderVersion;
pub use hash_engine::{Sha256Engine, SoftwareSha256};
pub use reason::Reason;
pub use verifier::{
    AcceptedVersion, Device, Flash, FlashError, HASH_CHUNK, MAX_CHAIN, MAX_KEYS_PER_ROLE,
    RoleVersion, StoreError, Verified, Workspace, verify_slot,
};
