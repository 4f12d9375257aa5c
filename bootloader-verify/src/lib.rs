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
//!   Every refusal is a [`Reason`], a stable code for the C ABI.
//! - All trust decisions are made by `fwsign-sign`'s verification core (the
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
pub mod slot;
pub mod verifier;
pub mod version_order;

pub use fwsign_sign::key_types::BUILTIN as KEY_TYPES;
pub use fwsign_sign::target_check::BootloaderVersion;
pub use hash_engine::{Sha256Engine, SoftwareSha256};
pub use verifier::{
    AcceptedVersion, Device, Flash, FlashError, HASH_CHUNK, MAX_CHAIN, MAX_KEYS_PER_ROLE,
    RoleVersion, StoreError, Verified, Workspace, verify_slot,
};

/// Why a slot was refused. The numeric values are the C ABI's reason codes
/// and never change meaning.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
#[non_exhaustive]
pub enum Reason {
    /// Reading flash failed.
    FlashRead = 1,
    /// No slot header (an empty or erased slot).
    SlotEmpty = 2,
    /// A slot format version this verifier does not know.
    SlotFormat = 3,
    /// Header size or lengths do not fit the slot.
    SlotLayout = 4,
    /// The trailer is missing or malformed (a truncated or garbage slot).
    TrailerMalformed = 5,
    /// The trailer is larger than the metadata buffer.
    MetadataTooLarge = 6,
    /// The provisioned root cannot be read.
    TrustedRootInvalid = 7,
    /// A root update in the slot is malformed.
    RootUpdateMalformed = 8,
    /// A root update is not signed by a threshold of the old and of the new
    /// root keys.
    RootUpdateNotSigned = 9,
    /// A root update's version is not exactly one more than the current.
    RootUpdateVersion = 10,
    /// The `store_root` callback could not store a verified root.
    RootStoreFailed = 11,
    /// A targets role in the chain is malformed.
    TargetsMalformed = 12,
    /// A targets role is not signed by the threshold its delegator sets.
    TargetsNotSigned = 13,
    /// A targets role is older than the version last accepted (replay).
    TargetsRollback = 14,
    /// The chain does not start at `targets`, or a role is not delegated by
    /// the role before it.
    DelegationMissing = 15,
    /// A role on the chain is delegated by the role before it, but not for
    /// the target's path.
    PathNotDelegated = 16,
    /// No role on the chain lists the target (the chain ends before the
    /// ordered search finds it).
    TargetNotListed = 17,
    /// The target has no firmware fields (`custom.fwsign`).
    FirmwareFieldsMissing = 18,
    /// The target does not list this device's hardware ID.
    HardwareIdMismatch = 19,
    /// The image's length differs from the signed length.
    ImageLengthMismatch = 20,
    /// The image's SHA-256 differs from the signed hash.
    ImageHashMismatch = 21,
    /// The image's security counter is below the installed one (rollback).
    SecurityCounterRollback = 22,
    /// Metadata has expired at the device's trusted time.
    Expired = 23,
    /// A role lists more keys than the verifier's working memory holds.
    CapacityExceeded = 24,
    /// The chain has more roles than [`MAX_CHAIN`].
    ChainTooLong = 25,
    /// The slot does not name its target.
    NoTargetName = 26,
    /// A role before the last on the chain lists the target: the ordered
    /// search stops there, so the later role (which may be a weaker one,
    /// a nightly role say) does not answer for the target.
    TargetListedEarlier = 27,
    /// The next role on the chain is delegated by the role before it and
    /// covers the target, but an earlier delegation of that role covers it
    /// too (a terminating one ends the search there): the ordered search
    /// does not go where the chain goes.
    DelegationShadowed = 28,
    /// The image needs a newer bootloader (`min_bootloader_version`) than
    /// this one ([`Device::bootloader_version`]).
    BootloaderTooOld = 29,
}

/// Prints [`Reason::name`], so the two never disagree.
impl core::fmt::Debug for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl Reason {
    /// The stable numeric code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The variant's name (`"ImageHashMismatch"`), for logs: a bootloader
    /// can print it without linking `core::fmt`, which `{:?}` would.
    pub fn name(self) -> &'static str {
        match self {
            Self::FlashRead => "FlashRead",
            Self::SlotEmpty => "SlotEmpty",
            Self::SlotFormat => "SlotFormat",
            Self::SlotLayout => "SlotLayout",
            Self::TrailerMalformed => "TrailerMalformed",
            Self::MetadataTooLarge => "MetadataTooLarge",
            Self::TrustedRootInvalid => "TrustedRootInvalid",
            Self::RootUpdateMalformed => "RootUpdateMalformed",
            Self::RootUpdateNotSigned => "RootUpdateNotSigned",
            Self::RootUpdateVersion => "RootUpdateVersion",
            Self::RootStoreFailed => "RootStoreFailed",
            Self::TargetsMalformed => "TargetsMalformed",
            Self::TargetsNotSigned => "TargetsNotSigned",
            Self::TargetsRollback => "TargetsRollback",
            Self::DelegationMissing => "DelegationMissing",
            Self::PathNotDelegated => "PathNotDelegated",
            Self::TargetNotListed => "TargetNotListed",
            Self::FirmwareFieldsMissing => "FirmwareFieldsMissing",
            Self::HardwareIdMismatch => "HardwareIdMismatch",
            Self::ImageLengthMismatch => "ImageLengthMismatch",
            Self::ImageHashMismatch => "ImageHashMismatch",
            Self::SecurityCounterRollback => "SecurityCounterRollback",
            Self::Expired => "Expired",
            Self::CapacityExceeded => "CapacityExceeded",
            Self::ChainTooLong => "ChainTooLong",
            Self::NoTargetName => "NoTargetName",
            Self::TargetListedEarlier => "TargetListedEarlier",
            Self::DelegationShadowed => "DelegationShadowed",
            Self::BootloaderTooOld => "BootloaderTooOld",
        }
    }
}
