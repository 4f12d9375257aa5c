//! Why a slot was refused: [`Reason`], from the one list of reason codes,
//! [`reason_table!`](crate::reason_table).

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

/// The device's refusal reasons, written once: for each, its doc, the
/// [`Reason`] variant, its stable code and its C ABI status
/// (`fwsign_status_t`, the same number).
///
/// `reason_table!(then! { ARGS })` expands to `then! { ARGS reasons { ... } }`
/// with one `/// doc` `Variant = code, C_STATUS;` entry per reason, in code
/// order, so each place that needs the list builds from it: this crate
/// [`Reason`] with its names and [`Reason::ALL`]; the C ABI crate
/// (`fwsign-bootloader-verify-ffi`) its reason-to-status mapping, its status
/// names and its list of statuses. What cannot be generated is checked
/// against it by tests: `fwsign_status_t` is written out in the C ABI crate
/// (cbindgen reads source and does not expand macros), and the reason-code
/// tables in `docs/bootloader-integration.md` and `docs/device-format.md`.
///
/// A code never changes meaning; a new reason takes the next free code
/// below 99, and `fwsign_status_t` gains its status with the same number.
#[macro_export]
macro_rules! reason_table {
    ($then:ident ! { $($args:tt)* }) => {
        $then! {
            $($args)*
            reasons {
                /// Reading flash failed.
                FlashRead = 1, FWSIGN_ERR_FLASH_READ;
                /// No slot header (an empty or erased slot).
                SlotEmpty = 2, FWSIGN_ERR_SLOT_EMPTY;
                /// A slot format version this verifier does not know.
                SlotFormat = 3, FWSIGN_ERR_SLOT_FORMAT;
                /// Header size or lengths do not fit the slot.
                SlotLayout = 4, FWSIGN_ERR_SLOT_LAYOUT;
                /// The trailer is missing or malformed (a truncated or garbage slot).
                TrailerMalformed = 5, FWSIGN_ERR_TRAILER_MALFORMED;
                /// The trailer is larger than the metadata buffer.
                MetadataTooLarge = 6, FWSIGN_ERR_METADATA_TOO_LARGE;
                /// The provisioned root cannot be read.
                TrustedRootInvalid = 7, FWSIGN_ERR_TRUSTED_ROOT_INVALID;
                /// A root update in the slot is malformed.
                RootUpdateMalformed = 8, FWSIGN_ERR_ROOT_UPDATE_MALFORMED;
                /// A root update is not signed by a threshold of the old and of the new
                /// root keys.
                RootUpdateNotSigned = 9, FWSIGN_ERR_ROOT_UPDATE_NOT_SIGNED;
                /// A root update's version is not exactly one more than the current.
                RootUpdateVersion = 10, FWSIGN_ERR_ROOT_UPDATE_VERSION;
                /// The `store_root` callback could not store a verified root.
                RootStoreFailed = 11, FWSIGN_ERR_ROOT_STORE_FAILED;
                /// A targets role in the chain is malformed.
                TargetsMalformed = 12, FWSIGN_ERR_TARGETS_MALFORMED;
                /// A targets role is not signed by the threshold its delegator sets.
                TargetsNotSigned = 13, FWSIGN_ERR_TARGETS_NOT_SIGNED;
                /// A targets role is older than the version last accepted (replay).
                TargetsRollback = 14, FWSIGN_ERR_TARGETS_ROLLBACK;
                /// The chain does not start at `targets`, or a role is not delegated by
                /// the role before it.
                DelegationMissing = 15, FWSIGN_ERR_DELEGATION_MISSING;
                /// A role on the chain is delegated by the role before it, but not for
                /// the target's path.
                PathNotDelegated = 16, FWSIGN_ERR_PATH_NOT_DELEGATED;
                /// No role on the chain lists the target (the chain ends before the
                /// ordered search finds it).
                TargetNotListed = 17, FWSIGN_ERR_TARGET_NOT_LISTED;
                /// The target has no firmware fields (`custom.fwsign`).
                FirmwareFieldsMissing = 18, FWSIGN_ERR_FIRMWARE_FIELDS_MISSING;
                /// The target does not list this device's hardware ID.
                HardwareIdMismatch = 19, FWSIGN_ERR_HARDWARE_ID_MISMATCH;
                /// The image's length differs from the signed length.
                ImageLengthMismatch = 20, FWSIGN_ERR_IMAGE_LENGTH_MISMATCH;
                /// The image's SHA-256 differs from the signed hash.
                ImageHashMismatch = 21, FWSIGN_ERR_IMAGE_HASH_MISMATCH;
                /// The image's security counter is below the installed one (rollback).
                SecurityCounterRollback = 22, FWSIGN_ERR_SECURITY_COUNTER_ROLLBACK;
                /// Metadata has expired at the device's trusted time.
                Expired = 23, FWSIGN_ERR_EXPIRED;
                /// A role lists more keys than the verifier's working memory holds.
                CapacityExceeded = 24, FWSIGN_ERR_CAPACITY_EXCEEDED;
                /// The chain has more roles than [`MAX_CHAIN`](crate::MAX_CHAIN).
                ChainTooLong = 25, FWSIGN_ERR_CHAIN_TOO_LONG;
                /// The slot does not name its target.
                NoTargetName = 26, FWSIGN_ERR_NO_TARGET_NAME;
                /// A role before the last on the chain lists the target: the ordered
                /// search stops there, so the later role (which may be a weaker one,
                /// a nightly role say) does not answer for the target.
                TargetListedEarlier = 27, FWSIGN_ERR_TARGET_LISTED_EARLIER;
                /// The next role on the chain is delegated by the role before it and
                /// covers the target, but an earlier delegation of that role covers it
                /// too (a terminating one ends the search there): the ordered search
                /// does not go where the chain goes.
                DelegationShadowed = 28, FWSIGN_ERR_DELEGATION_SHADOWED;
                /// The image needs a newer bootloader (`min_bootloader_version`) than
                /// this one ([`Device::bootloader_version`](crate::Device::bootloader_version)).
                BootloaderTooOld = 29, FWSIGN_ERR_BOOTLOADER_TOO_OLD;
            }
        }
    };
}

/// Builds [`Reason`] from [`reason_table!`](crate::reason_table).
macro_rules! define_reason {
    (reasons { $( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $status:ident; )* }) => {
        /// Why a slot was refused. The numeric values are the C ABI's reason
        /// codes and never change meaning.
        #[derive(Clone, Copy, PartialEq, Eq)]
        #[repr(i32)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[doc = $doc])* $variant = $code, )*
        }

        impl Reason {
            /// Every reason, in code order.
            pub const ALL: &'static [Reason] = &[$(Self::$variant),*];

            /// The variant's name (`"ImageHashMismatch"`), for logs without
            /// `core::fmt`, which `{:?}` would link (flash).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)*
                }
            }

            /// The C ABI's status for this reason (`"FWSIGN_ERR_IMAGE_HASH_MISMATCH"`):
            /// `fwsign_status_t` has it under the same number.
            pub fn c_name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($status),)*
                }
            }
        }
    };
}

crate::reason_table!(define_reason! {});

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
}
