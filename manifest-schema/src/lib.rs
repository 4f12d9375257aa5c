//! # fwsign-manifest-schema: the format
//!
//! The metadata fwsign signs is TUF 1.0 (root, targets with delegations,
//! snapshot, timestamp), signed over canonical JSON. This crate is the format
//! and nothing more: it decides no trust. Two ways in:
//!
//! - [`reader`] (always, `no_std`, no allocation): validates that a byte slice
//!   is canonical JSON and navigates it without copying. The verification core
//!   (`fwsign-core`) runs on it on the host and on the device alike.
//! - With the `std` feature: [`parse`] reads JSON as other tools write it
//!   (indented, escaped) strictly (duplicate keys, lone surrogates, floats and
//!   out-of-range integers refused); [`canonical`] writes the canonical bytes
//!   every signature covers; [`metadata`] and [`firmware`] are serde types that
//!   keep unknown fields; [`schema`] produces the committed JSON Schema files.
//!
//! The host path is: any JSON text -> [`parse::parse_json`] ->
//! [`canonical::to_canonical_vec`] -> [`reader::Json::parse_canonical`] -> the
//! verification core. The device starts at the third step.
//!
//! Documents of 10^5 targets and more do not go through a
//! [`serde_json::Value`] tree where a typed or streaming path exists:
//! [`canonical::to_canonical_bytes`] writes typed metadata straight to
//! canonical bytes, [`metadata::Signed::from_json_slice`] reads the text
//! straight into the types (the tree path still decides every refusal), and
//! [`canonical::canonicalize`] checks fwsign's own files with the canonical
//! reader instead of re-writing them.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

// The reader and the expiry parser are on the device path: no panics, no
// unchecked arithmetic or indexing (their unit tests may index and unwrap).
#[cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
mod format_core;
pub use format_core::{expiry, reader};

#[cfg(feature = "std")]
pub mod canonical;
#[cfg(feature = "std")]
pub mod firmware;
#[cfg(feature = "std")]
pub mod hashes;
#[cfg(feature = "std")]
pub mod metadata;
#[cfg(feature = "std")]
pub mod parse;
#[cfg(feature = "std")]
pub mod raw_json;
#[cfg(feature = "std")]
pub mod schema;

/// Everything that can be wrong with a metadata document's format.
#[cfg(feature = "std")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not acceptable JSON.
    #[error(transparent)]
    Parse(#[from] parse::ParseError),
    /// The value cannot be written as canonical JSON.
    #[error(transparent)]
    Canonical(#[from] canonical::CanonicalError),
    /// The JSON does not have the shape of the metadata expected.
    #[error("not valid TUF metadata: {0}")]
    Format(String),
    /// `_type` names another role.
    #[error("expected {expected} metadata, found _type {found:?}")]
    WrongType {
        /// The role type expected.
        expected: &'static str,
        /// The `_type` found.
        found: String,
    },
    /// A role's threshold is 0, which any signature list would meet.
    #[error("role {role:?} has threshold 0; a threshold must be at least 1")]
    ThresholdZero {
        /// The role.
        role: String,
    },
    /// Two signatures in one envelope name the same key ID.
    #[error("key ID {keyid} signs twice in one document")]
    DuplicateSignature {
        /// The repeated key ID.
        keyid: String,
    },
    /// `expires` is not `YYYY-MM-DDTHH:MM:SSZ`.
    #[error("expires {0:?} is not of the form YYYY-MM-DDTHH:MM:SSZ")]
    BadExpires(String),
    /// `spec_version` is not a TUF 1.x version.
    #[error("unsupported spec_version {0:?} (fwsign reads TUF 1.x)")]
    SpecVersion(String),
}
