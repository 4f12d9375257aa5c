//! Running the device verifier on the host (`fwsign device verify`): the
//! same [`verify_slot`] a bootloader links, over a slot in memory, so a
//! slot can be checked before it is flashed. The decision and its reason
//! code are the device's; this module only supplies the flash, the buffers
//! and a `store_root` that keeps the root a device would store.

use std::string::String;
use std::vec;
use std::vec::Vec;

use fwsign_core::verify::{Envelope, RootView};
use fwsign_manifest_schema::expiry::UnixTime;

use crate::{
    AcceptedVersion, BootloaderVersion, Device, Flash, FlashError, KEY_TYPES, Reason,
    SoftwareSha256, StoreError, Workspace, verify_slot,
};

/// A slot held in memory, read as the device reads its flash: a read
/// outside it fails.
#[derive(Debug, Clone, Copy)]
pub struct SliceFlash<'a>(pub &'a [u8]);

impl Flash for SliceFlash<'_> {
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError> {
        let start = usize::try_from(offset).map_err(|_| FlashError)?;
        let end = start.checked_add(out.len()).ok_or(FlashError)?;
        out.copy_from_slice(self.0.get(start..end).ok_or(FlashError)?);
        Ok(())
    }
}

/// What the device knows about itself (the owned form of [`Device`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The board's hardware ID.
    pub hardware_id: String,
    /// The installed security counter.
    pub installed_counter: u64,
    /// The last accepted version of each targets role.
    pub accepted: Vec<(String, u64)>,
    /// The bootloader's own version.
    pub bootloader_version: BootloaderVersion,
    /// Trusted time, if the device has any (expiry is skipped without).
    pub trusted_time: Option<UnixTime>,
}

/// A slot the verifier accepted (the owned form of [`crate::Verified`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booted {
    /// The target name.
    pub target: String,
    /// The firmware version.
    pub version: String,
    /// The image's security counter.
    pub security_counter: u64,
    /// Where the image starts in the slot.
    pub image_offset: u32,
    /// The image's length.
    pub image_size: u32,
    /// The root version the checks ended on.
    pub root_version: u64,
    /// The chain's roles with their verified versions, in chain order (the
    /// versions a device stores once the image confirms itself).
    pub roles: Vec<(String, u64)>,
}

/// The verifier's decision on one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Accepted, or the reason code it was refused with.
    pub outcome: Result<Booted, Reason>,
    /// The root the verifier handed to `store_root` (a newer root the slot
    /// carries, verified against the trusted one), which a device stores
    /// even when the image is then refused.
    pub stored_root: Option<Vec<u8>>,
    /// That root's version.
    pub stored_root_version: Option<u64>,
}

fn owned(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs [`verify_slot`] on `slot` (the whole flash region: its length is
/// the slot size) for a device with `facts`, the provisioned
/// `trusted_root` (canonical JSON, as `fwsign device root` writes it) and
/// a metadata buffer of `metadata_buffer` bytes, with the software SHA-256
/// and every built-in key type, as the device does.
pub fn check_slot(
    slot: &[u8],
    trusted_root: &[u8],
    facts: &DeviceFacts,
    metadata_buffer: usize,
) -> Decision {
    let accepted: Vec<AcceptedVersion<'_>> = facts
        .accepted
        .iter()
        .map(|(role, version)| AcceptedVersion {
            role: role.as_bytes(),
            version: *version,
        })
        .collect();
    let device = Device {
        hardware_id: facts.hardware_id.as_bytes(),
        installed_counter: facts.installed_counter,
        accepted: &accepted,
        trusted_time: facts.trusted_time,
        bootloader_version: facts.bootloader_version,
    };
    let mut metadata = vec![0u8; metadata_buffer];
    let mut workspace = Workspace::new();
    let mut stored_root = None;
    let mut store = |root: &[u8]| -> Result<(), StoreError> {
        stored_root = Some(root.to_vec());
        Ok(())
    };
    // A region larger than 4 GiB cannot be a device's slot; the verifier
    // sees its first 4 GiB.
    let slot_size = u32::try_from(slot.len()).unwrap_or(u32::MAX);
    let outcome = verify_slot(
        trusted_root,
        &mut SliceFlash(slot),
        slot_size,
        &device,
        &mut metadata,
        &mut workspace,
        &mut SoftwareSha256::default(),
        &mut store,
        KEY_TYPES,
    )
    .map(|v| Booted {
        target: owned(v.target),
        version: owned(v.version),
        security_counter: v.security_counter,
        image_offset: v.image_offset,
        image_size: v.image_size,
        root_version: v.root_version,
        roles: v
            .roles
            .iter()
            .take(v.role_count)
            .map(|r| (owned(r.role), r.version))
            .collect(),
    });
    // Verified before it was handed over, so it reads.
    let stored_root_version = stored_root.as_deref().and_then(|root| {
        let envelope = Envelope::parse(root).ok()?;
        Some(RootView::new(envelope).ok()?.common().version)
    });
    Decision {
        outcome,
        stored_root,
        stored_root_version,
    }
}
