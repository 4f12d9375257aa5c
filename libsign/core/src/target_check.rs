//! The checks on the entry the target search found, against a device and
//! against the image: the one place where the TUF client, `bundle verify`
//! and the bootloader decide whether an image may run on a device.
//!
//! - [`check_device`]: the firmware fields (`custom.fwsign`) against what a
//!   device says of itself: its hardware ID is listed, the image's security
//!   counter is not below the installed one, and the bootloader is at least
//!   the image's `min_bootloader_version`. These need no image bytes, so a
//!   caller runs them before it reads or downloads the image.
//! - [`check_image_sha256`]: the device's image check: the signed length,
//!   and the signed SHA-256, which must be listed (a device computes no
//!   other hash).
//! - [`check_image_digests`]: the host's image check: the signed length and
//!   every listed hash (an algorithm fwsign cannot compute is a refusal, not
//!   a pass).
//! - [`sbom_reference`] and [`check_sbom_entry`]: the host's check that an
//!   SBOM target is the one a firmware entry's approvers signed (`repo add
//!   --sbom`). A device never calls them, so its image links neither.

use fwsign_manifest_schema::reader::{Json, JsonStr};

use crate::verify::{FirmwareView, TargetEntry};
use crate::workflow::{FinishedDigests, WorkflowError, hex_eq};

/// A bootloader's version, as three numbers (`major.minor.patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BootloaderVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl BootloaderVersion {
    /// Reads `major.minor.patch` (a semantic version's core: digits, no
    /// leading zeros), followed by nothing or by a `-` prerelease or `+`
    /// build suffix, which [`BootloaderVersion::parse_core`] ignores.
    pub fn parse_core(text: &[u8]) -> Option<Self> {
        let mut parts = [0u32; 3];
        let mut index: usize = 0;
        let mut digits: usize = 0;
        let mut rest_ok = true;
        for &b in text {
            match b {
                b'0'..=b'9' => {
                    let part = parts.get_mut(index)?;
                    if digits == 1 && *part == 0 {
                        return None;
                    }
                    *part = part
                        .checked_mul(10)?
                        .checked_add(u32::from(b.saturating_sub(b'0')))?;
                    digits = digits.saturating_add(1);
                }
                b'.' if digits > 0 && index < 2 => {
                    index = index.saturating_add(1);
                    digits = 0;
                }
                b'-' | b'+' if digits > 0 && index == 2 => {
                    rest_ok = true;
                    break;
                }
                _ => {
                    rest_ok = false;
                    break;
                }
            }
        }
        let [major, minor, patch] = parts;
        (rest_ok && index == 2 && digits > 0).then_some(Self {
            major,
            minor,
            patch,
        })
    }

    /// Whether this bootloader satisfies `minimum` (a semantic version).
    /// Semantic-version precedence: a release outranks every prerelease of
    /// the same `major.minor.patch`, so only the three numbers decide.
    /// `None` when `minimum` is not a semantic version.
    pub fn satisfies(&self, minimum: &[u8]) -> Option<bool> {
        Some(*self >= Self::parse_core(minimum)?)
    }
}

/// What a device says of itself. A `None` fact is not checked (a host
/// fetching an image for no particular device), except that an image with a
/// `min_bootloader_version` needs a bootloader version.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceFacts<'d> {
    /// The board's hardware ID (UTF-8 bytes).
    pub hardware_id: Option<&'d [u8]>,
    /// The installed security counter.
    pub installed_counter: Option<u64>,
    /// The running bootloader's version.
    pub bootloader_version: Option<BootloaderVersion>,
}

impl DeviceFacts<'_> {
    fn any(&self) -> bool {
        self.hardware_id.is_some()
            || self.installed_counter.is_some()
            || self.bootloader_version.is_some()
    }
}

/// Why an image may not run on a device, or does not match its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetRefusal {
    /// The target has no firmware fields (`custom.fwsign`) to check the
    /// device against.
    NoFirmwareFields,
    /// The target does not list the device's hardware ID.
    HardwareIdNotListed,
    /// The image's security counter is below the installed one (rollback).
    SecurityCounterRollback {
        /// The image's counter.
        image: u64,
        /// The device's installed counter.
        installed: u64,
    },
    /// The image needs a newer bootloader than the device runs.
    BootloaderTooOld,
    /// The image has a `min_bootloader_version` and no bootloader version
    /// was given to check it against.
    BootloaderVersionRequired,
    /// The image's `min_bootloader_version` is not a semantic version.
    MinBootloaderVersionMalformed,
    /// The image's length differs from the signed length.
    LengthMismatch,
    /// A listed hash does not match the image.
    HashMismatch,
    /// The entry lists no SHA-256, the one hash a device computes.
    Sha256Missing,
    /// A listed hash uses an algorithm fwsign cannot compute.
    UnknownHashAlgorithm,
    /// An SBOM target's listed SHA-256 is not the `sbom_sha256` its
    /// firmware's signed entry records (or it lists none).
    SbomMismatch,
}

impl core::fmt::Display for TargetRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoFirmwareFields => f.write_str("it carries no firmware fields (custom.fwsign)"),
            Self::HardwareIdNotListed => f.write_str("the hardware ID is not listed"),
            Self::SecurityCounterRollback { image, installed } => write!(
                f,
                "security counter {image} is below the installed {installed} (rollback)"
            ),
            Self::BootloaderTooOld => {
                f.write_str("it needs a newer bootloader (min_bootloader_version)")
            }
            Self::BootloaderVersionRequired => f.write_str(
                "it sets min_bootloader_version, and no bootloader version was given to check it",
            ),
            Self::MinBootloaderVersionMalformed => {
                f.write_str("its min_bootloader_version is not a semantic version")
            }
            Self::LengthMismatch => f.write_str("length differs from the signed length"),
            Self::HashMismatch => f.write_str("hash differs from the signed hash"),
            Self::Sha256Missing => f.write_str("the target lists no sha256 hash"),
            Self::UnknownHashAlgorithm => {
                f.write_str("a listed hash uses an algorithm fwsign does not support")
            }
            Self::SbomMismatch => f.write_str(
                "the SBOM's listed SHA-256 is not the sbom_sha256 the firmware's approvers signed",
            ),
        }
    }
}

impl core::error::Error for TargetRefusal {}

/// The SBOM a firmware entry names: `custom.fwsign.sbom_target` and
/// `custom.fwsign.sbom_sha256`, both strings.
#[derive(Debug, Clone, Copy)]
pub struct SbomReference<'a> {
    /// The SBOM's target name.
    pub target: JsonStr<'a>,
    /// Its SHA-256, lowercase hex, as the firmware's approvers signed it.
    pub sha256: JsonStr<'a>,
}

/// The SBOM reference in a firmware's raw entry
/// ([`crate::verify::TargetsView::target_json`]); `None` when the entry
/// names no SBOM target (an `sbom_sha256` alone names an SBOM published
/// elsewhere) or either field is not a string.
pub fn sbom_reference(entry: Json<'_>) -> Option<SbomReference<'_>> {
    let fw = entry.get("custom")?.get("fwsign")?;
    Some(SbomReference {
        target: fw.get("sbom_target")?.as_str()?,
        sha256: fw.get("sbom_sha256")?.as_str()?,
    })
}

/// Checks that the SBOM target's entry lists as its SHA-256 exactly the
/// digest the firmware's entry records: the SBOM's bytes, which the
/// download or bundle then checks against that entry, are the ones the
/// firmware's approvers signed, whichever role lists the SBOM.
pub fn check_sbom_entry(
    reference: &SbomReference<'_>,
    sbom: &TargetEntry<'_>,
) -> Result<(), TargetRefusal> {
    let signed = reference.sha256.plain_bytes();
    let listed = sbom.sha256.and_then(|s| s.plain_bytes());
    match (signed, listed) {
        (Some(signed), Some(listed)) if signed.eq_ignore_ascii_case(listed) => Ok(()),
        _ => Err(TargetRefusal::SbomMismatch),
    }
}

/// Checks the firmware fields against the device (no image bytes needed).
/// With no facts at all, a target passes unless it sets a
/// `min_bootloader_version` (a plain download of an image that needs a
/// particular bootloader must say which bootloader it is for).
pub fn check_device(entry: &TargetEntry<'_>, facts: &DeviceFacts<'_>) -> Result<(), TargetRefusal> {
    match device_firmware(entry) {
        Ok(firmware) => check_firmware(firmware, facts),
        // With no facts to check, a file that is not firmware (an SBOM)
        // may be downloaded as it is.
        Err(_) if !facts.any() => Ok(()),
        Err(refusal) => Err(refusal),
    }
}

/// The firmware fields a device checks an image by, or
/// [`TargetRefusal::NoFirmwareFields`] for an entry without them (an SBOM
/// or another file published beside the firmware). The one answer to "can
/// a device take this target at all": [`check_device`] asks it for the
/// device, and `fwsign device pack` asks it before writing a slot, so no
/// slot is written that every device would refuse.
pub fn device_firmware<'e, 'a>(
    entry: &'e TargetEntry<'a>,
) -> Result<&'e FirmwareView<'a>, TargetRefusal> {
    entry
        .firmware
        .as_ref()
        .ok_or(TargetRefusal::NoFirmwareFields)
}

fn check_firmware(
    firmware: &FirmwareView<'_>,
    facts: &DeviceFacts<'_>,
) -> Result<(), TargetRefusal> {
    if let Some(id) = facts.hardware_id
        && !firmware.allows_hardware(id)
    {
        return Err(TargetRefusal::HardwareIdNotListed);
    }
    if let Some(installed) = facts.installed_counter
        && firmware.security_counter < installed
    {
        return Err(TargetRefusal::SecurityCounterRollback {
            image: firmware.security_counter,
            installed,
        });
    }
    if let Some(minimum) = firmware.min_bootloader_version {
        let minimum: JsonStr<'_> = minimum;
        let bootloader = facts
            .bootloader_version
            .ok_or(TargetRefusal::BootloaderVersionRequired)?;
        let satisfied = minimum
            .plain_bytes()
            .and_then(|m| bootloader.satisfies(m))
            .ok_or(TargetRefusal::MinBootloaderVersionMalformed)?;
        if !satisfied {
            return Err(TargetRefusal::BootloaderTooOld);
        }
    }
    Ok(())
}

/// The device's image check: `length` bytes whose SHA-256 is `sha256`
/// against the signed length and SHA-256.
pub fn check_image_sha256(
    entry: &TargetEntry<'_>,
    length: u64,
    sha256: &[u8; 32],
) -> Result<(), TargetRefusal> {
    if entry.length != length {
        return Err(TargetRefusal::LengthMismatch);
    }
    let expected = entry.sha256.ok_or(TargetRefusal::Sha256Missing)?;
    if !hex_eq(expected, sha256) {
        return Err(TargetRefusal::HashMismatch);
    }
    Ok(())
}

/// The host's image check: the signed length and every listed hash.
pub fn check_image_digests(
    entry: &TargetEntry<'_>,
    digests: &FinishedDigests,
) -> Result<(), TargetRefusal> {
    if entry.length != digests.length {
        return Err(TargetRefusal::LengthMismatch);
    }
    digests.check(entry.hashes).map_err(|e| match e {
        WorkflowError::UnknownHashAlgorithm => TargetRefusal::UnknownHashAlgorithm,
        _ => TargetRefusal::HashMismatch,
    })
}

#[cfg(test)]
mod tests {
    use fwsign_manifest_schema::reader::Json;
    use serde_json::json;

    use super::*;

    fn entry_json(fwsign: serde_json::Value) -> Vec<u8> {
        let entry = json!({
            "length": 4,
            "hashes": {"sha256": "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"},
            "custom": {"fwsign": fwsign},
        });
        fwsign_manifest_schema::canonical::to_canonical_vec(&entry).unwrap()
    }

    fn facts(bootloader: Option<(u32, u32, u32)>) -> DeviceFacts<'static> {
        DeviceFacts {
            hardware_id: Some(b"evc-a1"),
            installed_counter: Some(3),
            bootloader_version: bootloader.map(|(major, minor, patch)| BootloaderVersion {
                major,
                minor,
                patch,
            }),
        }
    }

    fn check(fwsign: serde_json::Value, facts: &DeviceFacts<'_>) -> Result<(), TargetRefusal> {
        let bytes = entry_json(fwsign);
        let entry = TargetEntry::from_json(Json::parse_canonical(&bytes).unwrap()).unwrap();
        check_device(&entry, facts)
    }

    #[test]
    fn bootloader_versions_parse_as_semantic_version_cores() {
        let v = |t: &str| BootloaderVersion::parse_core(t.as_bytes());
        assert_eq!(
            v("1.20.3"),
            Some(BootloaderVersion {
                major: 1,
                minor: 20,
                patch: 3
            })
        );
        assert!(v("1.2.3-rc.1").is_some() && v("1.2.3+build.5").is_some());
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.02.3",
            "1.2.x",
            "4294967296.0.0",
        ] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
        let running = v("2.0.0").unwrap();
        assert_eq!(running.satisfies(b"2.0.0"), Some(true));
        assert_eq!(running.satisfies(b"2.0.0-rc.1"), Some(true));
        assert_eq!(running.satisfies(b"1.9.99"), Some(true));
        assert_eq!(running.satisfies(b"2.0.1"), Some(false));
        assert_eq!(running.satisfies(b"10.0.0"), Some(false));
        assert_eq!(running.satisfies(b"two"), None);
    }

    /// Attack: an SBOM (or any file without firmware fields) offered as an
    /// image. The device check and `device pack` both ask
    /// [`device_firmware`]; with no device facts (a plain download) the
    /// file is still fetchable.
    #[test]
    fn a_target_without_firmware_fields_is_refused_for_a_device() {
        let bytes = fwsign_manifest_schema::canonical::to_canonical_vec(&json!({
            "length": 4,
            "hashes": {"sha256": "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"},
        }))
        .unwrap();
        let entry = TargetEntry::from_json(Json::parse_canonical(&bytes).unwrap()).unwrap();
        assert_eq!(
            device_firmware(&entry).err(),
            Some(TargetRefusal::NoFirmwareFields)
        );
        assert_eq!(
            check_device(&entry, &facts(Some((1, 0, 0)))),
            Err(TargetRefusal::NoFirmwareFields)
        );
        let none = DeviceFacts {
            hardware_id: None,
            installed_counter: None,
            bootloader_version: None,
        };
        assert_eq!(check_device(&entry, &none), Ok(()));
        let firmware = entry_json(
            json!({"hardware_ids": ["evc-a1"], "version": "1.0.0", "security_counter": 3}),
        );
        let entry = TargetEntry::from_json(Json::parse_canonical(&firmware).unwrap()).unwrap();
        assert!(device_firmware(&entry).is_ok());
    }

    /// Attack: an image built for a newer bootloader (say, one that enables
    /// a hardware check the old one lacks) offered to an old bootloader.
    #[test]
    fn min_bootloader_version_is_enforced() {
        let fw = json!({"hardware_ids": ["evc-a1"], "version": "1.0.0", "security_counter": 3,
                        "min_bootloader_version": "2.1.0"});
        assert_eq!(check(fw.clone(), &facts(Some((2, 1, 0)))), Ok(()));
        assert_eq!(check(fw.clone(), &facts(Some((3, 0, 0)))), Ok(()));
        assert_eq!(
            check(fw.clone(), &facts(Some((2, 0, 9)))),
            Err(TargetRefusal::BootloaderTooOld)
        );
        assert_eq!(
            check(fw, &facts(None)),
            Err(TargetRefusal::BootloaderVersionRequired)
        );
        let bad = json!({"hardware_ids": ["evc-a1"], "version": "1.0.0", "security_counter": 3,
                         "min_bootloader_version": "latest"});
        assert_eq!(
            check(bad, &facts(Some((9, 9, 9)))),
            Err(TargetRefusal::MinBootloaderVersionMalformed)
        );
    }

    #[test]
    fn hardware_id_and_counter_are_checked() {
        let fw = |hw: &str, counter: u64| json!({"hardware_ids": [hw], "version": "1.0.0", "security_counter": counter});
        assert_eq!(check(fw("evc-a1", 3), &facts(None)), Ok(()));
        assert_eq!(
            check(fw("evc-b2", 3), &facts(None)),
            Err(TargetRefusal::HardwareIdNotListed)
        );
        assert_eq!(
            check(fw("evc-a1", 2), &facts(None)),
            Err(TargetRefusal::SecurityCounterRollback {
                image: 2,
                installed: 3
            })
        );
        // No facts: a plain download of any target.
        let bytes = entry_json(fw("evc-b2", 0));
        let entry = TargetEntry::from_json(Json::parse_canonical(&bytes).unwrap()).unwrap();
        assert_eq!(check_device(&entry, &DeviceFacts::default()), Ok(()));
    }

    #[test]
    fn the_image_is_checked_by_length_and_sha256() {
        let bytes =
            entry_json(json!({"hardware_ids": ["x"], "version": "1.0.0", "security_counter": 0}));
        let entry = TargetEntry::from_json(Json::parse_canonical(&bytes).unwrap()).unwrap();
        let digest = crate::sha256_of(&[b"abcd"]);
        assert_eq!(check_image_sha256(&entry, 4, &digest), Ok(()));
        assert_eq!(
            check_image_sha256(&entry, 5, &digest),
            Err(TargetRefusal::LengthMismatch)
        );
        let other = crate::sha256_of(&[b"abce"]);
        assert_eq!(
            check_image_sha256(&entry, 4, &other),
            Err(TargetRefusal::HashMismatch)
        );
        let mut d = crate::workflow::Digests::for_hashes(entry.hashes);
        d.update(b"abcd");
        assert_eq!(check_image_digests(&entry, &d.finish()), Ok(()));
    }
}
