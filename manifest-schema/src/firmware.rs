//! The firmware fields fwsign puts on a target, under `custom.fwsign`.
//!
//! TUF leaves `custom` to applications; namespacing ours under one key keeps
//! other tools' custom fields (and theirs ours) from colliding. The device
//! reads the same fields from canonical bytes with the zero-copy reader.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::metadata::UnknownFields;

/// What a device needs to know about a firmware image before it boots it.
///
/// In a target's `custom` object:
/// ```json
/// {"fwsign": {"hardware_ids": ["evc-a1"], "security_counter": 3, "version": "1.0.0"}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FirmwareInfo {
    /// Hardware IDs the image may run on; a device refuses an image that
    /// does not list its own. At least one.
    pub hardware_ids: Vec<String>,
    /// The firmware version, a semantic version (`1.4.0`, `2.0.0-rc.1`).
    pub version: String,
    /// Anti-rollback counter: a device refuses an image whose counter is
    /// below the one it has installed, and raises its own on confirm.
    pub security_counter: u64,
    /// The oldest bootloader version (semantic version) that can start this
    /// image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_bootloader_version: Option<String>,
    /// Lowercase hex SHA-256 of the image's software bill of materials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_sha256: Option<String>,
    /// The target name under which the SBOM is published, in the same
    /// role (`repo add --sbom`): the firmware name with `.cdx.json` or
    /// `.spdx.json` appended. Set only together with `sbom_sha256`, which
    /// binds the SBOM's bytes to this signed entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_target: Option<String>,
    /// Fields added by later versions or other tools.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl FirmwareInfo {
    /// The key under `custom` that holds these fields.
    pub const CUSTOM_KEY: &'static str = "fwsign";

    /// Checks the fields' formats.
    pub fn check(&self) -> Result<(), Error> {
        if self.hardware_ids.is_empty() || self.hardware_ids.iter().any(String::is_empty) {
            return Err(Error::Format(
                "firmware hardware_ids must list at least one non-empty ID".into(),
            ));
        }
        semver::Version::parse(&self.version).map_err(|e| {
            Error::Format(format!(
                "firmware version {:?} is not a semantic version: {e}",
                self.version
            ))
        })?;
        if let Some(v) = &self.min_bootloader_version {
            semver::Version::parse(v).map_err(|e| {
                Error::Format(format!(
                    "min_bootloader_version {v:?} is not a semantic version: {e}"
                ))
            })?;
        }
        if let Some(d) = &self.sbom_sha256
            && (d.len() != 64 || !d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(Error::Format(format!(
                "sbom_sha256 {d:?} is not 64 lowercase hex digits"
            )));
        }
        // A name without a digest would let the SBOM's bytes change without
        // any approver signing the change.
        if let Some(name) = &self.sbom_target
            && (name.is_empty() || self.sbom_sha256.is_none())
        {
            return Err(Error::Format(format!(
                "sbom_target {name:?} needs a non-empty name and sbom_sha256 beside it"
            )));
        }
        Ok(())
    }

    /// [`FirmwareInfo::check`], plus the rules for fields fwsign writes into
    /// a new release: `min_bootloader_version` is a plain `X.Y.Z`. Devices
    /// compare a bootloader's three numbers only (fwsign-core's
    /// `target_check`), so a prerelease minimum such as `2.0.0-rc1` would
    /// be read as `2.0.0`, which is not what it says (and build metadata
    /// would be ignored). Metadata already
    /// published, or written by other tools, is still read with
    /// [`FirmwareInfo::check`].
    pub fn check_new(&self) -> Result<(), Error> {
        self.check()?;
        if let Some(v) = &self.min_bootloader_version
            && let Ok(parsed) = semver::Version::parse(v)
            && (!parsed.pre.is_empty() || !parsed.build.is_empty())
        {
            return Err(Error::Format(format!(
                "min_bootloader_version {v:?} has a prerelease or build suffix; devices compare bootloader versions as X.Y.Z only, so give a release version (for example {}.{}.{})",
                parsed.major, parsed.minor, parsed.patch
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::FirmwareInfo;

    fn with_minimum(minimum: &str) -> FirmwareInfo {
        FirmwareInfo {
            hardware_ids: vec!["evc-a1".into()],
            version: "2.0.0-rc.1".into(),
            security_counter: 1,
            min_bootloader_version: Some(minimum.into()),
            sbom_sha256: None,
            sbom_target: None,
            unknown: Default::default(),
        }
    }

    #[test]
    fn new_releases_need_a_plain_minimum_bootloader_version() {
        with_minimum("2.0.0").check_new().unwrap();
        for suffixed in ["2.0.0-rc1", "2.0.0-rc.1", "2.0.0+build7"] {
            let info = with_minimum(suffixed);
            // Readable where others wrote it ...
            info.check().unwrap();
            // ... but not written into a new release.
            let err = info.check_new().unwrap_err().to_string();
            assert!(err.contains(suffixed) && err.contains("2.0.0"), "{err}");
        }
        assert!(with_minimum("2").check_new().is_err());
    }
}
