//! Checking one slot, in the order a bootloader must:
//!
//! 1. root updates carried in the slot (each N+1, signed by a threshold of
//!    the old and of the new root keys), the newest handed to `store_root`;
//! 2. each targets role on the chain, signed by a threshold of distinct keys
//!    its delegator lists, and not older than the version last accepted;
//! 3. the target path within every delegation on the chain;
//! 4. the hardware ID, the image's length and SHA-256, the security counter;
//! 5. expiry, when the device has trusted time.
//!
//! Every signature and threshold decision is `fwsign-sign`'s verification
//! core, the same code the release tooling and the TUF client run.

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::reader::is_utf8;
use fwsign_sign::key_types::{KeyIdentity, KeyType};
use fwsign_sign::verify::{Envelope, RootView, TargetsView, ThresholdWork, VerifyError};
use fwsign_sign::workflow::{
    Delegator, WorkflowError, hex_eq, verify_root_update, verify_targets_offline,
};

use crate::Reason;
use crate::hash_engine::Sha256Engine;
use crate::slot::{self, EntryKind, HEADER_LEN, Header, LayoutError};

/// Most keys a role may list: the size of the threshold working memory in
/// [`Workspace`] (33 bytes a key).
pub const MAX_KEYS_PER_ROLE: usize = 16;
/// Most targets roles on a chain: `targets` and up to seven delegations.
pub const MAX_CHAIN: usize = 8;
/// Bytes of image hashed per flash read (stack buffer).
pub const HASH_CHUNK: usize = 256;

/// The verifier's working memory besides the metadata buffer: the
/// threshold bookkeeping for one role (the identities of the keys counted
/// so far, [`MAX_KEYS_PER_ROLE`] of them, 528 bytes).
///
/// The caller provides it, as it provides the metadata buffer, so that it
/// can live in a `static` rather than on the stack: the stack's deepest
/// point is the signature arithmetic, reached while this is in use.
#[derive(Debug, Clone)]
pub struct Workspace {
    counted: [KeyIdentity; MAX_KEYS_PER_ROLE],
    signed: [bool; MAX_KEYS_PER_ROLE],
}

impl Workspace {
    /// Zeroed working memory (`const`, for a `static`).
    pub const fn new() -> Self {
        Self {
            counted: [KeyIdentity([0; 32]); MAX_KEYS_PER_ROLE],
            signed: [false; MAX_KEYS_PER_ROLE],
        }
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

/// A flash read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashError;

/// The `store_root` callback could not store a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreError;

/// Reads the slot's flash.
pub trait Flash {
    /// Fills `out` from `offset` in the slot.
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError>;
}

/// The last accepted version of one targets role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedVersion<'a> {
    /// The role name (UTF-8 bytes; `b"targets"`).
    pub role: &'a [u8],
    /// Its version.
    pub version: u64,
}

/// What the device knows about itself.
///
/// Names here and in [`Verified`] are UTF-8 bytes, not `&str`: making a
/// `&str` of bytes read at run time links `core::str::from_utf8` (about
/// 0.8 KiB), and the verifier needs none. The verifier checks the names it
/// reads from the slot with `fwsign_manifest_schema::reader::is_utf8`.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// This board's hardware ID (UTF-8 bytes, `b"evc-a1"`).
    pub hardware_id: &'a [u8],
    /// The installed security counter.
    pub installed_counter: u64,
    /// The last accepted version of each targets role seen so far.
    pub accepted: &'a [AcceptedVersion<'a>],
    /// Trusted time, if the device has any; expiry is skipped without.
    pub trusted_time: Option<UnixTime>,
}

impl Device<'_> {
    fn accepted_version(&self, role: &[u8]) -> Option<u64> {
        self.accepted
            .iter()
            .find(|a| a.role == role)
            .map(|a| a.version)
    }
}

/// A role version to store once the image has booted and confirmed itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoleVersion<'m> {
    /// The role name (UTF-8 bytes, borrowed from the metadata buffer).
    pub role: &'m [u8],
    /// The version verified.
    pub version: u64,
}

/// A slot that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified<'m> {
    /// The target name (UTF-8 bytes).
    pub target: &'m [u8],
    /// The firmware version (a semantic version, as UTF-8 bytes).
    pub version: &'m [u8],
    /// The image's security counter.
    pub security_counter: u64,
    /// Where the image starts in the slot.
    pub image_offset: u32,
    /// The image's length.
    pub image_size: u32,
    /// The root version the checks ended on.
    pub root_version: u64,
    /// The targets roles on the chain with their versions, in chain order.
    pub roles: [RoleVersion<'m>; MAX_CHAIN],
    /// How many entries of `roles` are used.
    pub role_count: usize,
}

/// The SHA-256 of the image, read in [`HASH_CHUNK`]-byte chunks. Out of
/// line, so its chunk buffer is not part of [`verify_slot`]'s frame while
/// signatures are checked (the deepest stack).
#[inline(never)]
fn hash_image(
    flash: &mut dyn Flash,
    header: &Header,
    hasher: &mut dyn Sha256Engine,
) -> Result<[u8; 32], Reason> {
    hasher.start();
    let mut chunk = [0u8; HASH_CHUNK];
    let mut offset: u32 = 0;
    while offset < header.image_size {
        let left = header.image_size.saturating_sub(offset);
        let n = usize::try_from(left).map_or(HASH_CHUNK, |l| l.min(HASH_CHUNK));
        let buf = chunk.get_mut(..n).ok_or(Reason::FlashRead)?;
        flash
            .read(header.header_size.saturating_add(offset), buf)
            .map_err(|FlashError| Reason::FlashRead)?;
        hasher.update(buf);
        offset = offset.saturating_add(u32::try_from(n).map_err(|_| Reason::FlashRead)?);
    }
    Ok(hasher.finish())
}

// The mappings to reason codes are out of line: inlined at each `map_err`,
// their matches would repeat across `verify_slot`.
#[inline(never)]
fn layout(e: LayoutError) -> Reason {
    match e {
        LayoutError::HeaderMagic => Reason::SlotEmpty,
        LayoutError::Format => Reason::SlotFormat,
        LayoutError::HeaderSize | LayoutError::Bounds => Reason::SlotLayout,
        LayoutError::TrailerMagic | LayoutError::Entry => Reason::TrailerMalformed,
    }
}

#[inline(never)]
fn root_update(e: WorkflowError) -> Reason {
    match e {
        WorkflowError::RootVersionNotNext { .. } => Reason::RootUpdateVersion,
        WorkflowError::Verify(VerifyError::ThresholdNotMet { .. })
        | WorkflowError::Verify(VerifyError::DuplicateSignature) => Reason::RootUpdateNotSigned,
        WorkflowError::Verify(VerifyError::CapacityExceeded(_)) => Reason::CapacityExceeded,
        _ => Reason::RootUpdateMalformed,
    }
}

#[inline(never)]
fn targets_error(e: WorkflowError) -> Reason {
    match e {
        WorkflowError::Rollback { .. } => Reason::TargetsRollback,
        WorkflowError::Expired => Reason::Expired,
        WorkflowError::Verify(VerifyError::ThresholdNotMet { .. })
        | WorkflowError::Verify(VerifyError::DuplicateSignature) => Reason::TargetsNotSigned,
        WorkflowError::Verify(VerifyError::UnknownRole) => Reason::DelegationMissing,
        WorkflowError::Verify(VerifyError::CapacityExceeded(_)) => Reason::CapacityExceeded,
        _ => Reason::TargetsMalformed,
    }
}

/// Checks the slot in `flash` (of `slot_size` bytes) against the trusted
/// root and the device's facts. `metadata` receives the slot's trailer and
/// must be at least as large as it (else [`Reason::MetadataTooLarge`]);
/// `workspace` is the threshold bookkeeping (its previous contents do not
/// matter).
/// `store_root` is called with the newest root carried in the slot once it
/// verifies, before the image is checked; it returns `Err` if it could not
/// store it.
#[allow(
    clippy::too_many_arguments,
    reason = "each input is a distinct piece of device state; the C ABI mirrors it"
)]
pub fn verify_slot<'m>(
    trusted_root: &[u8],
    flash: &mut dyn Flash,
    slot_size: u32,
    device: &Device<'_>,
    metadata: &'m mut [u8],
    workspace: &mut Workspace,
    hasher: &mut dyn Sha256Engine,
    store_root: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
    key_types: &[&dyn KeyType],
) -> Result<Verified<'m>, Reason> {
    let mut work = ThresholdWork {
        counted: &mut workspace.counted,
        signed: &mut workspace.signed,
    };

    // The layout.
    let mut head = [0u8; HEADER_LEN];
    flash
        .read(0, &mut head)
        .map_err(|FlashError| Reason::FlashRead)?;
    let header = Header::parse(&head, slot_size).map_err(layout)?;
    let trailer_len = usize::try_from(header.trailer_size).map_err(|_| Reason::MetadataTooLarge)?;
    let trailer_buf = metadata
        .get_mut(..trailer_len)
        .ok_or(Reason::MetadataTooLarge)?;
    flash
        .read(header.trailer_offset(), trailer_buf)
        .map_err(|FlashError| Reason::FlashRead)?;
    // From here on the buffer is only read, for as long as the result lives.
    let metadata: &'m [u8] = metadata;
    let trailer = metadata
        .get(..trailer_len)
        .ok_or(Reason::MetadataTooLarge)?;

    // Step 1: root updates.
    let trusted = Envelope::parse(trusted_root).map_err(|_| Reason::TrustedRootInvalid)?;
    let mut root = RootView::new(trusted).map_err(|_| Reason::TrustedRootInvalid)?;
    let mut newest_root: Option<&'m [u8]> = None;
    let mut target_name: Option<&'m [u8]> = None;
    for entry in slot::entries(trailer).map_err(layout)? {
        let entry = entry.map_err(layout)?;
        match entry.kind {
            EntryKind::TargetName => target_name = Some(entry.name),
            EntryKind::Root => {
                let env = Envelope::parse(entry.data).map_err(|_| Reason::RootUpdateMalformed)?;
                let version = RootView::new(env)
                    .map_err(|_| Reason::RootUpdateMalformed)?
                    .common()
                    .version;
                // Roots the device already has are skipped, not refused: a
                // slot packed for older devices carries them.
                if version <= root.common().version {
                    continue;
                }
                root = verify_root_update(&root, env, key_types, &mut work).map_err(root_update)?;
                newest_root = Some(entry.data);
            }
            EntryKind::Targets => {}
        }
    }
    if let Some(new_root) = newest_root {
        store_root(new_root).map_err(|StoreError| Reason::RootStoreFailed)?;
    }
    if let Some(now) = device.trusted_time
        && root.common().expires <= now
    {
        return Err(Reason::Expired);
    }
    let target = target_name
        .filter(|n| !n.is_empty() && is_utf8(n))
        .ok_or(Reason::NoTargetName)?;

    // Steps 2 and 3: the targets chain.
    let mut roles = [RoleVersion::default(); MAX_CHAIN];
    let mut role_count: usize = 0;
    let mut parent: Option<TargetsView<'m>> = None;
    for entry in slot::entries(trailer).map_err(layout)? {
        let entry = entry.map_err(layout)?;
        if entry.kind != EntryKind::Targets {
            continue;
        }
        let role = entry.name;
        if !is_utf8(role) {
            return Err(Reason::TargetsMalformed);
        }
        let env = Envelope::parse(entry.data).map_err(|_| Reason::TargetsMalformed)?;
        let last = device.accepted_version(entry.name);
        let delegator = match &parent {
            None if role == b"targets" => Delegator::Root(&root),
            None => return Err(Reason::DelegationMissing),
            Some(p) => {
                let delegation = p.delegated_role(role).ok_or(Reason::DelegationMissing)?;
                if !delegation.covers(target) {
                    return Err(Reason::PathNotDelegated);
                }
                Delegator::Targets(p)
            }
        };
        let (view, _) = verify_targets_offline(
            delegator,
            role,
            env,
            last,
            device.trusted_time,
            key_types,
            &mut work,
        )
        .map_err(targets_error)?;
        let slot = roles.get_mut(role_count).ok_or(Reason::ChainTooLong)?;
        *slot = RoleVersion {
            role,
            version: view.common().version,
        };
        role_count = role_count.saturating_add(1);
        parent = Some(view);
    }
    let lister = parent.ok_or(Reason::TargetNotListed)?;

    // Step 4: the target itself.
    let entry = lister
        .target(target)
        .map_err(|_| Reason::TargetsMalformed)?
        .ok_or(Reason::TargetNotListed)?;
    let firmware = entry.firmware.ok_or(Reason::FirmwareFieldsMissing)?;
    if !firmware.allows_hardware(device.hardware_id) {
        return Err(Reason::HardwareIdMismatch);
    }
    if entry.length != u64::from(header.image_size) {
        return Err(Reason::ImageLengthMismatch);
    }
    let expected = entry.sha256.ok_or(Reason::ImageHashMismatch)?;
    if !hex_eq(expected, &hash_image(flash, &header, hasher)?) {
        return Err(Reason::ImageHashMismatch);
    }
    if firmware.security_counter < device.installed_counter {
        return Err(Reason::SecurityCounterRollback);
    }
    let version = firmware
        .version
        .plain_bytes()
        .ok_or(Reason::TargetsMalformed)?;
    Ok(Verified {
        target,
        version,
        security_counter: firmware.security_counter,
        image_offset: header.header_size,
        image_size: header.image_size,
        root_version: root.common().version,
        roles,
        role_count,
    })
}
