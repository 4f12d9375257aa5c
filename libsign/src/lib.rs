//! # fwsign-sign: trust
//!
//! Keys, signatures and threshold verification for TUF metadata, and (with
//! the `std` feature) the host side built on them.
//!
//! ## Design
//!
//! Every trust decision (does this signature verify, is this threshold met,
//! does this target match) is made by one piece of code, [`verify`], which is
//! `no_std` and allocation-free. The bootloader links it directly; the host
//! reaches it through [`document`], which turns JSON as other tools write it
//! into canonical bytes first and then calls the very same functions with
//! working memory sized to its input. There is no second path that could skip
//! a check.
//!
//! - [`verify`]: envelopes, role views, [`verify::verify_threshold`].
//! - [`key_types`]: the [`key_types::KeyType`] trait and the P-256 and
//!   Ed25519 implementations a build registers (features `p256`, `ed25519`).
//! - `std` only: [`keys`] (key files, key IDs, the [`keys::TufSigner`] trait
//!   every signing key implements, file or HSM) and [`document`] (canonical
//!   documents, signing, detached signatures, threshold reports).
//!
//! Signing and verification use the RustCrypto [`signature`] traits, so a key
//! held in an HSM plugs in behind the same `Signer` as a key file.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

#[cfg(not(any(feature = "p256", feature = "ed25519")))]
compile_error!("fwsign-sign needs at least one signature backend: feature `p256` or `ed25519`");

// The device path: no panics, no unchecked arithmetic or indexing.
#[deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod trust_core;
pub use trust_core::{Sha256Stream, key_types, path_match, search, target_check, verify, workflow};

#[cfg(feature = "std")]
pub mod atomic_write;
#[cfg(feature = "std")]
pub mod audit;
#[cfg(feature = "std")]
pub mod bundle;
#[cfg(feature = "std")]
pub mod bundle_archive;
#[cfg(feature = "std")]
pub mod cert;
#[cfg(feature = "std")]
pub mod client;
#[cfg(feature = "std")]
pub mod document;
#[cfg(feature = "std")]
pub mod key_backup;
#[cfg(feature = "std")]
pub mod keys;
#[cfg(feature = "std")]
pub mod ocpp;
#[cfg(feature = "std")]
pub mod repo;
#[cfg(feature = "rsa")]
pub mod rsa_pss;
#[cfg(feature = "std")]
mod search_host;
#[cfg(feature = "std")]
pub mod trusted_set;

pub use fwsign_manifest_schema as schema;
