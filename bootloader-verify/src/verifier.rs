//! Checking one slot, in the order a bootloader must:
//!
//! 1. root updates carried in the slot (each N+1, signed by a threshold of
//!    the old and of the new root keys), the newest handed to `store_root`;
//!    then root expiry, when the device has trusted time;
//! 2. the target search: the verification core's one ordered search
//!    ([`fwsign_core::search::search_target`], TUF 1.0.34 section 5.6.7)
//!    over the slot's targets chain. Each role it loads is signed by a
//!    threshold of distinct keys its delegator lists, not older than the
//!    version last accepted, and not expired (with trusted time). The chain
//!    must be exactly the roles the search visits, in order, ending at the
//!    role that lists the target (see [`verify_slot`] for the refusals);
//! 3. the device checks on the entry found
//!    ([`fwsign_core::target_check::check_device`]): firmware fields, the
//!    hardware ID, the security counter, `min_bootloader_version`. These
//!    need no image bytes, so a slot for another board, an older counter or
//!    a newer bootloader is refused before its image is read;
//! 4. the image ([`fwsign_core::target_check::check_image_sha256`]): its
//!    length and its SHA-256, streamed from flash. The device computes and
//!    requires SHA-256 only: an entry without one is refused, and other
//!    listed hashes (SHA-512) are not checked on the device.
//!
//! Every signature, threshold and target decision is `fwsign-core`'s
//! verification core, the same code the release tooling and the TUF client
//! run; this module maps its outcomes to [`Reason`] codes.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use fwsign_core::key_types::{KeyIdentity, KeyType};
use fwsign_core::search::{
    Frame, OfflineCheck, RoleBytes, RoleFloors, RoleLoader, SearchError, SearchWork, search_target,
};
use fwsign_core::succinct::SuccinctRoles;
use fwsign_core::target_check::{
    BootloaderVersion, DeviceFacts, TargetRefusal, check_device, check_image_sha256,
};
use fwsign_core::verify::{
    Envelope, RootView, TargetEntry, TargetsView, ThresholdWork, VerifyError,
};
use fwsign_core::workflow::{WorkflowError, verify_root_update};
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::reader::is_utf8;

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
/// Names here and in [`Verified`] are UTF-8 bytes, not `&str` (flash: see
/// the module note). The verifier checks the names it reads from the slot
/// with `fwsign_manifest_schema::reader::is_utf8`.
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
    /// The running bootloader's version, checked against an image's
    /// `min_bootloader_version` (an image that sets none runs on any).
    pub bootloader_version: BootloaderVersion,
}

/// The role-version floors of the search's offline check: the last
/// accepted version of each role.
impl RoleFloors for Device<'_> {
    fn floor(&self, role: &[u8]) -> Option<u64> {
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

// flash: the mappings to reason codes are out of line (see the module note).
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

#[inline(never)]
fn entry_refusal(e: TargetRefusal) -> Reason {
    match e {
        TargetRefusal::NoFirmwareFields => Reason::FirmwareFieldsMissing,
        TargetRefusal::HardwareIdNotListed => Reason::HardwareIdMismatch,
        TargetRefusal::SecurityCounterRollback { .. } => Reason::SecurityCounterRollback,
        // The device always gives its version, so "required" cannot occur.
        TargetRefusal::BootloaderTooOld | TargetRefusal::BootloaderVersionRequired => {
            Reason::BootloaderTooOld
        }
        TargetRefusal::LengthMismatch => Reason::ImageLengthMismatch,
        // The device computes SHA-256 only: an entry without one cannot be
        // checked, and is refused as an image that does not match.
        TargetRefusal::HashMismatch
        | TargetRefusal::Sha256Missing
        | TargetRefusal::UnknownHashAlgorithm => Reason::ImageHashMismatch,
        _ => Reason::TargetsMalformed,
    }
}

/// The slot's targets chain as the search's source of roles.
///
/// The chain is a path: it hands out its next role only when the search
/// asks for exactly that role, delegated by the role it handed out before
/// (`b"root"` for `targets`). Anything else is `Ok(None)`, which ends the
/// search with [`SearchError::Missing`]; [`misplaced`] then says how the
/// chain departs from the search. So every role the search loads is a
/// chain entry, in chain order, and the chain is accepted only if the
/// search visits it all and finds the target in its last role: a device
/// never relies on roles the slot does not show it.
struct ChainLoader<'m, 'w, 'r> {
    /// The trailer's entries after the last role handed out.
    rest: slot::Entries<'m>,
    /// The role handed out last (`b"root"` before `targets`).
    previous: &'m [u8],
    /// Its envelope (empty before `targets`): [`misplaced`] reads it again
    /// rather than this keeping a view on the stack throughout the search.
    previous_envelope: &'m [u8],
    /// The verified roles with their versions, in chain order.
    roles: &'r mut [RoleVersion<'m>; MAX_CHAIN],
    /// Entries of `roles` used.
    count: usize,
    /// The threshold bookkeeping, lent to each check in turn.
    workspace: &'w mut Workspace,
}

impl<'m> ChainLoader<'m, '_, '_> {
    /// The next targets entry of the chain, and the entries after it.
    fn next_role(&self) -> Result<Option<(slot::Entry<'m>, slot::Entries<'m>)>, Reason> {
        let mut rest = self.rest.clone();
        while let Some(entry) = rest.next() {
            let entry = entry.map_err(layout)?;
            if entry.kind == EntryKind::Targets {
                if !is_utf8(entry.name) {
                    return Err(Reason::TargetsMalformed);
                }
                return Ok(Some((entry, rest)));
            }
        }
        Ok(None)
    }
}

impl<'m> RoleLoader<'m> for ChainLoader<'m, '_, '_> {
    type Error = Reason;

    fn load(
        &mut self,
        role: &'m [u8],
        delegator: &'m [u8],
    ) -> Result<Option<RoleBytes<'m>>, Reason> {
        let Some((entry, rest)) = self.next_role()? else {
            return Ok(None);
        };
        if entry.name != role || delegator != self.previous {
            return Ok(None);
        }
        self.rest = rest;
        self.previous = entry.name;
        self.previous_envelope = entry.data;
        // The slot carries canonical envelopes: what was signed is what
        // is checked.
        Ok(Some(RoleBytes {
            raw: entry.data,
            canonical: entry.data,
        }))
    }

    fn bin_name(&mut self, bins: &SuccinctRoles<'m>, bin: u32) -> Option<&'m [u8]> {
        // A TAP 15 bin's name is in no document; the slot's next chain entry
        // carries it. Any other entry is not this bin: the search then finds
        // the bin missing, and `misplaced` says how the chain departs. Read
        // with `bin_of`, which `delegated_role` links anyway, rather than
        // formatting the name (flash: see docs/performance.md).
        match self.next_role() {
            Ok(Some((entry, _))) if bins.bin_of(entry.name) == Some(bin) => Some(entry.name),
            _ => None,
        }
    }

    fn work(&mut self, _keyids: usize) -> ThresholdWork<'_> {
        // A role with more key IDs than the workspace holds fails its check
        // with a capacity error (`Reason::CapacityExceeded`).
        ThresholdWork {
            counted: &mut self.workspace.counted,
            signed: &mut self.workspace.signed,
        }
    }

    fn verified(&mut self, role: &'m [u8], _delegator: &'m [u8], view: &TargetsView<'m>) {
        // At most MAX_CHAIN roles are handed out (checked before the search).
        if let Some(slot) = self.roles.get_mut(self.count) {
            *slot = RoleVersion {
                role,
                version: view.common().version,
            };
            self.count = self.count.saturating_add(1);
        }
    }
}

/// Why the chain's next role is not the one the search visits next (or
/// is left over when the search ended), judged against the role before it.
/// The search asks for roles in its own order; the chain may only follow
/// that order, so a role it does not reach is refused even when its
/// delegator does delegate it.
#[inline(never)]
fn misplaced(loader: &ChainLoader<'_, '_, '_>, target: &[u8]) -> Reason {
    let next = match loader.next_role() {
        Ok(Some((next, _))) => next,
        // The chain ended and the search wanted more: no role it visited
        // (all of them shown) lists the target.
        Ok(None) => return Reason::TargetNotListed,
        Err(reason) => return reason,
    };
    if loader.previous_envelope.is_empty() {
        // The chain does not start at `targets`.
        return Reason::DelegationMissing;
    }
    // Verified when it was handed out (the search fails on a role that
    // does not verify, and never asks past it).
    let Ok(parent) = Envelope::parse(loader.previous_envelope).and_then(TargetsView::new) else {
        return Reason::TargetsMalformed;
    };
    match parent.delegated_role(next.name) {
        None => Reason::DelegationMissing,
        Some(d) if !d.covers(target) => Reason::PathNotDelegated,
        // Delegated and covering, yet not where the search goes: an earlier
        // covering delegation (terminating or not) comes first.
        Some(_) => Reason::DelegationShadowed,
    }
}

/// The checks on a slot of `slot_size` bytes in `flash` against the
/// trusted root and the device's facts. `metadata` receives the slot's
/// trailer and must be at least as large as it (else
/// [`Reason::MetadataTooLarge`]); `workspace` is the threshold bookkeeping
/// (its previous contents do not matter).
/// `store_root` is called with the newest root carried in the slot once it
/// verifies, before the image is checked; it returns `Err` if it could not
/// store it. The result borrows names from the metadata buffer; the
/// trusted root shares its lifetime, because the core's search takes the
/// root and the roles it loads with one lifetime.
///
/// The targets chain must be exactly what the ordered target search visits
/// (see the module documentation). Besides a role failing its own checks,
/// the refusals for a chain that departs from the search are:
/// - [`Reason::TargetListedEarlier`]: a role before the last lists the
///   target (the search stops at the first role that lists it; a later,
///   perhaps weaker, role is never asked);
/// - [`Reason::DelegationShadowed`]: the next role is delegated by the one
///   before it and covers the target, but an earlier delegation in that
///   role's list covers it too, so the search goes there first (and a
///   terminating one ends the search there);
/// - [`Reason::DelegationMissing`]: the chain does not start at `targets`,
///   or the next role is not delegated by the one before it;
/// - [`Reason::PathNotDelegated`]: it is delegated, but not for the target;
/// - [`Reason::TargetNotListed`]: the chain ends and no role on it lists the
///   target;
/// - [`Reason::ChainTooLong`]: more than [`MAX_CHAIN`] roles.
#[allow(
    clippy::too_many_arguments,
    reason = "each input is a distinct piece of device state; the C ABI mirrors it"
)]
pub fn verify_slot<'m>(
    trusted_root: &'m [u8],
    flash: &mut dyn Flash,
    slot_size: u32,
    device: &Device<'_>,
    metadata: &'m mut [u8],
    workspace: &mut Workspace,
    hasher: &mut dyn Sha256Engine,
    store_root: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
    key_types: &[&dyn KeyType],
) -> Result<Verified<'m>, Reason> {
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
    let mut chain_len: usize = 0;
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
                let mut work = ThresholdWork {
                    counted: &mut workspace.counted,
                    signed: &mut workspace.signed,
                };
                root = verify_root_update(&root, env, key_types, &mut work).map_err(root_update)?;
                newest_root = Some(entry.data);
            }
            EntryKind::Targets => chain_len = chain_len.saturating_add(1),
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
    if chain_len > MAX_CHAIN {
        return Err(Reason::ChainTooLong);
    }

    // Step 2: the ordered target search over the chain.
    let mut roles = [RoleVersion::default(); MAX_CHAIN];
    let (entry, role_count) = search_chain(
        &root, trailer, target, device, workspace, &mut roles, key_types,
    )?;

    // Step 3: the device's facts, before any image byte is read.
    let facts = DeviceFacts {
        hardware_id: Some(device.hardware_id),
        installed_counter: Some(device.installed_counter),
        bootloader_version: Some(device.bootloader_version),
    };
    check_device(&entry, &facts).map_err(entry_refusal)?;
    let firmware = entry.firmware.ok_or(Reason::FirmwareFieldsMissing)?;
    let version = firmware
        .version
        .plain_bytes()
        .ok_or(Reason::TargetsMalformed)?;

    // Step 4: the image: its length and SHA-256.
    let digest = hash_image(flash, &header, hasher)?;
    check_image_sha256(&entry, u64::from(header.image_size), &digest).map_err(entry_refusal)?;
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

/// Step 2 of [`verify_slot`]: the ordered target search over the slot's
/// chain, with its memory (a frame and a name per chain role, borrowing the
/// metadata buffer) in this function's frame. Returns the entry found and
/// how many of `roles` it filled. Out of line, so that the root updates,
/// the device checks and the image hash do not carry the search's memory.
#[inline(never)]
fn search_chain<'m>(
    root: &RootView<'m>,
    trailer: &'m [u8],
    target: &'m [u8],
    device: &Device<'_>,
    workspace: &mut Workspace,
    roles: &mut [RoleVersion<'m>; MAX_CHAIN],
    key_types: &[&dyn KeyType],
) -> Result<(TargetEntry<'m>, usize), Reason> {
    // `Default`, not `[const { None }; N]`: the constant fills every frame's
    // bytes (a `memset` routine, 184 B of flash), `Default` writes only the
    // tags, and in place (no temporary frame array on the stack).
    let mut frames: [Option<Frame<'m>>; MAX_CHAIN] = Default::default();
    let mut visited: [&'m [u8]; MAX_CHAIN] = [b""; MAX_CHAIN];
    let mut search = SearchWork {
        frames: &mut frames,
        visited: &mut visited,
    };
    let mut loader = ChainLoader {
        rest: slot::entries(trailer).map_err(layout)?,
        previous: b"root",
        previous_envelope: b"",
        roles,
        count: 0,
        workspace,
    };
    let check = OfflineCheck {
        floors: device,
        now: device.trusted_time,
    };
    let found = match search_target(root, &check, target, &mut loader, key_types, &mut search) {
        Ok(Some(found)) => found,
        Ok(None) | Err(SearchError::Missing { .. }) => return Err(misplaced(&loader, target)),
        Err(SearchError::Load(reason)) => return Err(reason),
        Err(SearchError::Refused { error, .. }) => return Err(targets_error(error)),
        Err(_) => return Err(Reason::ChainTooLong),
    };
    // The search stops at the first role that lists the target; chain
    // roles after it were never asked.
    if loader.next_role()?.is_some() {
        return Err(Reason::TargetListedEarlier);
    }
    Ok((found.entry, loader.count))
}
