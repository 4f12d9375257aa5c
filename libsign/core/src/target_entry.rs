//! A target's entry in a targets role, as the verification core reads it:
//! its length and hashes, and fwsign's firmware fields (`custom.fwsign`)
//! that [`crate::target_check`] checks against a device. Re-exported from
//! [`crate::verify`], where the role views that hand them out live.

use fwsign_manifest_schema::reader::{Json, JsonStr, Kind};

use crate::verify::VerifyError;

/// A target entry: length, hashes and firmware fields.
#[derive(Debug, Clone, Copy)]
pub struct TargetEntry<'a> {
    /// Length in bytes.
    pub length: u64,
    /// The SHA-256 digest, hex, if listed.
    pub sha256: Option<JsonStr<'a>>,
    /// The SHA-512 digest, hex, if listed.
    pub sha512: Option<JsonStr<'a>>,
    /// The `hashes` object.
    pub hashes: Json<'a>,
    /// fwsign's firmware fields under `custom.fwsign`, if present.
    pub firmware: Option<FirmwareView<'a>>,
}

impl<'a> TargetEntry<'a> {
    pub(crate) fn from_json(entry: Json<'a>) -> Result<Self, VerifyError> {
        // One pass over the members: a lookup by name walks the entry up to
        // that name, and the host reads every entry of every role it loads.
        let [custom, hashes, length] = entry.get_each(["custom", "hashes", "length"]);
        let length = length
            .and_then(|l| l.as_u64())
            .ok_or(VerifyError::Malformed(detail!(
                "target length must be an integer"
            )))?;
        let hashes = hashes
            .filter(|h| h.kind() == Kind::Object)
            .ok_or(VerifyError::Malformed(detail!(
                "target hashes must be an object"
            )))?;
        // A hash that is not a string could not be checked; skipping it would
        // break "every listed hash is checked".
        let (mut listed, mut sha256, mut sha512) = (false, None, None);
        for (algorithm, h) in hashes.members() {
            let Some(digest) = h.as_str() else {
                return Err(VerifyError::Malformed(detail!(
                    "target hashes must be strings"
                )));
            };
            if algorithm.eq_str("sha256") {
                sha256 = Some(digest);
            } else if algorithm.eq_str("sha512") {
                sha512 = Some(digest);
            }
            listed = true;
        }
        if !listed {
            return Err(VerifyError::Malformed(detail!(
                "a target must list at least one hash"
            )));
        }
        let firmware = match custom.and_then(|c| c.get("fwsign")) {
            None => None,
            Some(fw) => Some(FirmwareView::from_json(fw)?),
        };
        Ok(Self {
            length,
            sha256,
            sha512,
            hashes,
            firmware,
        })
    }
}

/// The firmware fields a device checks, borrowed from the metadata.
#[derive(Debug, Clone, Copy)]
pub struct FirmwareView<'a> {
    /// Array of hardware ID strings.
    pub hardware_ids: Json<'a>,
    /// The semantic version string.
    pub version: JsonStr<'a>,
    /// The anti-rollback counter.
    pub security_counter: u64,
    /// The oldest bootloader that may run the image (a semantic version),
    /// if the release sets one.
    pub min_bootloader_version: Option<JsonStr<'a>>,
}

impl<'a> FirmwareView<'a> {
    fn from_json(fw: Json<'a>) -> Result<Self, VerifyError> {
        // One pass, as in `TargetEntry::from_json`; the checks below keep
        // the order in which the fields were looked up before.
        let [hardware_ids, minimum, counter, version] = fw.get_each([
            "hardware_ids",
            "min_bootloader_version",
            "security_counter",
            "version",
        ]);
        let hardware_ids =
            hardware_ids
                .filter(|h| h.kind() == Kind::Array)
                .ok_or(VerifyError::Malformed(detail!(
                    "custom.fwsign.hardware_ids must be an array"
                )))?;
        let version = version
            .and_then(|v| v.as_str())
            .ok_or(VerifyError::Malformed(detail!(
                "custom.fwsign.version must be a string"
            )))?;
        let security_counter = counter
            .and_then(|c| c.as_u64())
            .ok_or(VerifyError::Malformed(detail!(
                "custom.fwsign.security_counter must be an integer"
            )))?;
        let min_bootloader_version = match minimum {
            None => None,
            Some(v) => Some(v.as_str().ok_or(VerifyError::Malformed(detail!(
                "custom.fwsign.min_bootloader_version must be a string"
            )))?),
        };
        Ok(Self {
            hardware_ids,
            version,
            security_counter,
            min_bootloader_version,
        })
    }

    /// Whether the image may run on hardware `id`.
    pub fn allows_hardware(&self, id: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        let id = id.as_ref();
        self.hardware_ids
            .items()
            .any(|h| h.as_str().is_some_and(|h| h.eq_bytes(id)))
    }
}
