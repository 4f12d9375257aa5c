//! `verify_slot` and `verify_slot_structured`: the device verifier over an
//! in-memory flash, trusting the fixed release's root version 1.

use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_bootloader_verify::{
    AcceptedVersion, Device, Flash, FlashError, KEY_TYPES, MAX_CHAIN, Reason, SoftwareSha256,
    StoreError, Workspace, verify_slot as verify,
};
use fwsign_core::verify::Envelope;
use fwsign_manifest_schema::expiry::UnixTime;
use sha2::{Digest, Sha256};

use crate::Bytes;
use crate::fixture::{Release, release, to_hex};

/// The metadata buffer a device hands the verifier.
const METADATA_BUFFER: usize = 64 * 1024;

/// What the device knows about itself. The one place a [`Device`] is built:
/// when its fields change, only this function does.
fn device<'a>(
    hardware_id: &'a [u8],
    installed_counter: u64,
    accepted: &'a [AcceptedVersion<'a>],
    trusted_time: Option<UnixTime>,
) -> Device<'a> {
    Device {
        hardware_id,
        installed_counter,
        accepted,
        trusted_time,
        // A bootloader newer than any min_bootloader_version the fixtures
        // set, so the fuzzer reaches every later check.
        bootloader_version: fwsign_core::target_check::BootloaderVersion {
            major: u32::MAX,
            minor: 0,
            patch: 0,
        },
    }
}

/// A slot in RAM; reads past its end fail, and so does every read from the
/// `fail_at`-th on (counting from 1) when set.
struct RamFlash<'s> {
    slot: &'s [u8],
    reads: usize,
    fail_at: Option<usize>,
}

impl Flash for RamFlash<'_> {
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError> {
        self.reads += 1;
        if self.fail_at.is_some_and(|n| self.reads >= n) {
            return Err(FlashError);
        }
        let start = usize::try_from(offset).map_err(|_| FlashError)?;
        let end = start.checked_add(out.len()).ok_or(FlashError)?;
        out.copy_from_slice(self.slot.get(start..end).ok_or(FlashError)?);
        Ok(())
    }
}

/// Verifies the slot `data` (the whole input is the slot) for a device that
/// is `evc-a1`, has installed counter 0, has accepted no role yet, and has
/// trusted time.
pub fn verify_slot(data: &[u8]) {
    let _ = verify_slot_outcome(data);
}

/// [`verify_slot`], returning the verifier's answer (for choosing seeds).
pub fn verify_slot_outcome(data: &[u8]) -> Result<(), Reason> {
    let r = release();
    let device = device(r.hardware_id.as_bytes(), 0, &[], Some(r.now));
    check(r, data, &device, None)
}

/// Assembles a slot from the release's real parts as the input chooses,
/// picks the device's state (hardware ID, installed counter, accepted role
/// versions, trusted time) and a flash failure, flips bytes of the assembled
/// slot (up to three bytes), and verifies it.
///
/// Half of the inputs (first byte even) start from a real slot's parts
/// (target name, image, roots, chain) and edit them a few times: another
/// name or image, a chain entry dropped, replaced or renamed, a root dropped
/// or added, an image byte changed. The others compose parts freely.
pub fn verify_slot_structured(data: &[u8]) {
    let _ = verify_slot_structured_outcome(data);
}

/// [`verify_slot_structured`], returning the verifier's answer (`None` when
/// the chosen parts make no slot).
pub fn verify_slot_structured_outcome(data: &[u8]) -> Option<Result<(), Reason>> {
    let r = release();
    let mut b = Bytes::new(data);

    let mut names: Vec<&str> = r.targets.iter().map(|t| t.name.as_str()).collect();
    names.extend(["evc-a1/other.bin", "board-b/fw.bin", "board-a/x/fw.bin", ""]);
    let role = |i: usize| (r.roles[i].0.clone(), r.roles[i].1.clone());

    let (mut target, mut image, mut roots, mut chain): (&str, Vec<u8>, Vec<Vec<u8>>, Vec<_>);
    if b.byte().is_multiple_of(2) {
        let recipe = &r.slots[b.pick(r.slots.len())];
        target = &recipe.target;
        image = r.images[recipe.image].clone();
        roots = recipe.roots.iter().map(|&i| r.roots[i].clone()).collect();
        chain = recipe.chain.iter().map(|&i| role(i)).collect();
        for _ in 0..b.pick(4) {
            match b.pick(8) {
                0 => target = names[b.pick(names.len())],
                1 => image = r.images[b.pick(r.images.len())].clone(),
                2 if !chain.is_empty() => {
                    chain.remove(b.pick(chain.len()));
                }
                3 if !chain.is_empty() => {
                    let at = b.pick(chain.len());
                    chain[at].1 = r.roles[b.pick(r.roles.len())].1.clone();
                }
                4 if !chain.is_empty() => {
                    let at = b.pick(chain.len());
                    chain[at].0 = r.roles[b.pick(r.roles.len())].0.clone();
                }
                5 if !roots.is_empty() => {
                    roots.remove(b.pick(roots.len()));
                }
                6 => roots.insert(
                    b.pick(roots.len() + 1),
                    r.roots[b.pick(r.roots.len())].clone(),
                ),
                _ => {
                    let at = usize::from(b.u16()) % image.len().max(1);
                    if let Some(byte) = image.get_mut(at) {
                        *byte ^= b.byte() | 1;
                    }
                }
            }
        }
    } else {
        target = names[b.pick(names.len())];
        image = match b.pick(r.images.len() + 1) {
            i if i < r.images.len() => r.images[i].clone(),
            _ => Vec::new(),
        };
        roots = (0..b.pick(4))
            .map(|_| r.roots[b.pick(r.roots.len())].clone())
            .collect();
        chain = (0..b.pick(MAX_CHAIN.min(5) + 1))
            .map(|_| {
                let (own, envelope) = role(b.pick(r.roles.len()));
                let name = if b.byte().is_multiple_of(4) {
                    r.roles[b.pick(r.roles.len())].0.clone()
                } else {
                    own
                };
                (name, envelope)
            })
            .collect();
    }
    let header_size = if b.byte().is_multiple_of(2) {
        0x200
    } else {
        0x400
    };

    let hardware_ids: [&[u8]; 4] = [r.hardware_id.as_bytes(), b"evc-b2", b"", b"evc-a1\0"];
    let hardware_id = hardware_ids.get(b.pick(8)).unwrap_or(&hardware_ids[0]);
    let counter = b.pick(8) as u64;
    let role_names: Vec<&str> = r.roles.iter().map(|(n, _)| n.as_str()).collect();
    let accepted: Vec<AcceptedVersion<'_>> = (0..b.pick(3))
        .map(|_| AcceptedVersion {
            role: role_names[b.pick(role_names.len())].as_bytes(),
            version: b.pick(4) as u64,
        })
        .collect();
    let time = match b.pick(4) {
        0 => None,
        1 => Some(UnixTime(r.now.0 + 400 * 86_400)),
        _ => Some(r.now),
    };
    let fail_at = match b.pick(8) {
        0 => Some(1 + b.pick(6)),
        _ => None,
    };

    let mut slot = build_slot(header_size, u32::MAX, &image, target, &roots, &chain).ok()?;
    // Up to three byte flips, (offset, xor) pairs.
    for _ in 0..b.pick(8).saturating_sub(4) {
        let at = usize::from(b.u16()) % slot.len();
        slot[at] ^= b.byte();
    }
    let device = device(hardware_id, counter, &accepted, time);
    Some(check(r, &slot, &device, fail_at))
}

/// Runs the verifier over `slot` and checks what it answered:
/// - a refusal is a reason with a positive code and its own name;
/// - a root handed to `store_root` signs what a root the release published
///   signs (its `signed` bytes are that root's);
/// - an accepted slot's chain starts at `targets` and fits the verifier's
///   memory, its image lies inside the slot, and (target name, image
///   SHA-256, length) is an entry some published targets role signed, with
///   a counter not below the installed one.
fn check(
    r: &Release,
    slot: &[u8],
    device: &Device<'_>,
    fail_at: Option<usize>,
) -> Result<(), Reason> {
    let slot_size = u32::try_from(slot.len()).map_err(|_| Reason::SlotLayout)?;
    let mut flash = RamFlash {
        slot,
        reads: 0,
        fail_at,
    };
    let mut metadata = vec![0u8; METADATA_BUFFER];
    let mut workspace = Workspace::new();
    let mut stored: Vec<Vec<u8>> = Vec::new();
    let result = verify(
        &r.trusted_root,
        &mut flash,
        slot_size,
        device,
        &mut metadata,
        &mut workspace,
        &mut SoftwareSha256::default(),
        &mut |root: &[u8]| -> Result<(), StoreError> {
            stored.push(root.to_vec());
            Ok(())
        },
        KEY_TYPES,
    );
    // What the root signs must be a published root's; the envelope as a
    // whole need not be byte-identical, because the signatures are not
    // signed: the verifier reads their hex in either case, so a slot may
    // carry `E` for `e` in a signature and still verify (regression
    // `verify_slot/store-root-uppercase-signature-hex`).
    for root in &stored {
        let signed = Envelope::parse(root)
            .expect("a stored root is an envelope")
            .signed_bytes();
        assert!(
            r.roots.iter().any(|published| {
                Envelope::parse(published).is_ok_and(|p| p.signed_bytes() == signed)
            }),
            "store_root was handed a root whose signed part the release never published"
        );
    }
    let verified = match result {
        Err(reason) => {
            check_reason(reason);
            return Err(reason);
        }
        Ok(verified) => verified,
    };
    assert!((1..=MAX_CHAIN).contains(&verified.role_count));
    assert_eq!(verified.roles[0].role, b"targets");
    let start = verified.image_offset as usize;
    let image = slot
        .get(start..start + verified.image_size as usize)
        .expect("an accepted image lies inside the slot");
    let signed = r.targets.iter().any(|t| {
        t.name.as_bytes() == verified.target
            && t.length == u64::from(verified.image_size)
            && t.sha256 == to_hex(&Sha256::digest(image))
    });
    assert!(
        signed,
        "a slot was accepted for {:?} with an image no published role signed for that name",
        String::from_utf8_lossy(verified.target)
    );
    assert!(verified.security_counter >= device.installed_counter);
    Ok(())
}

fn check_reason(reason: Reason) {
    assert!(reason.code() > 0, "reason codes are positive");
    assert!(!reason.name().is_empty());
    assert_eq!(format!("{reason:?}"), reason.name());
}
