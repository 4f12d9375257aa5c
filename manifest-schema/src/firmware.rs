//! The firmware fields fwsign puts on a target, under `custom.fwsign`.
//!
//! TUF leaves `custom` to applications; namespacing ours under one key keeps
//! other tools' custom fields (and theirs ours) from colliding. The device
//! reads the same fields from canonical bytes with the zero-copy reader.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::metadata::UnknownFields;
use crate::reader::{Json, Kind};

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
            && !is_sha256_hex(d)
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

    /// `Some` when `fields` (the value of `custom.fwsign`, read in place)
    /// plainly reads as firmware fields that pass [`FirmwareInfo::check`]:
    /// each rule of the typed reading and of the check seen to hold,
    /// nothing built. `None` when in doubt; [`crate::metadata::TargetFile::firmware`]
    /// then decides. A role's check runs this for each of its entries, and
    /// building and dropping 10^5 `FirmwareInfo`s was a tenth of reading a
    /// role of 10^5 targets.
    pub(crate) fn plainly_valid(fields: Json<'_>) -> Option<()> {
        if fields.kind() != Kind::Object {
            return None;
        }
        let [
            hardware_ids,
            version,
            counter,
            minimum,
            sbom_sha256,
            sbom_target,
        ] = fields.get_each([
            "hardware_ids",
            "version",
            "security_counter",
            "min_bootloader_version",
            "sbom_sha256",
            "sbom_target",
        ]);
        let hardware_ids = hardware_ids.filter(|h| h.kind() == Kind::Array)?;
        let mut listed = false;
        for id in hardware_ids.items() {
            if id.as_str()?.is_empty() {
                return None;
            }
            listed = true;
        }
        if !listed {
            return None;
        }
        semver::Version::parse(version?.as_str()?.as_plain()?).ok()?;
        counter?.as_u64()?;
        if let Some(minimum) = minimum {
            semver::Version::parse(minimum.as_str()?.as_plain()?).ok()?;
        }
        if let Some(digest) = sbom_sha256
            && !is_sha256_hex(digest.as_str()?.as_plain()?)
        {
            return None;
        }
        if let Some(name) = sbom_target
            && (name.as_str()?.is_empty() || sbom_sha256.is_none())
        {
            return None;
        }
        Some(())
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

/// Whether `digest` is a SHA-256 as 64 lowercase hex digits.
fn is_sha256_hex(digest: &str) -> bool {
    digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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

    /// The in-place check never accepts fields the typed reading refuses:
    /// for each `custom`, whether the role's check accepts the entry is
    /// whether [`TargetFile::firmware`] reads it, and the plain cases are
    /// decided in place.
    #[test]
    fn fields_decided_in_place_are_those_the_typed_reading_accepts() {
        use crate::metadata::TargetFile;
        let hex = "ab".repeat(32);
        let plain = [
            r#"{"hardware_ids":["evc-a1"],"security_counter":3,"version":"1.0.0"}"#.to_owned(),
            format!(
                r#"{{"hardware_ids":["a","b"],"min_bootloader_version":"2.1.0","sbom_sha256":"{hex}","sbom_target":"x.cdx.json","security_counter":0,"version":"2.0.0-rc.1","zz":{{"a":[1,null]}}}}"#
            ),
            r#"{"hardware_ids":["a\"b"],"security_counter":1,"version":"1.0.0+b7"}"#.to_owned(),
        ];
        let others = [
            r#"{"hardware_ids":[],"security_counter":3,"version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":[""],"security_counter":3,"version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":[1],"security_counter":3,"version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":"evc","security_counter":3,"version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":["a"],"security_counter":3,"version":"1.0"}"#.to_owned(),
            r#"{"hardware_ids":["a"],"security_counter":3,"version":1}"#.to_owned(),
            r#"{"hardware_ids":["a"],"security_counter":-1,"version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":["a"],"security_counter":"3","version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":["a"],"version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":["a"],"security_counter":3}"#.to_owned(),
            r#"{"hardware_ids":["a"],"min_bootloader_version":"x","security_counter":3,"version":"1.0.0"}"#.to_owned(),
            r#"{"hardware_ids":["a"],"min_bootloader_version":null,"security_counter":3,"version":"1.0.0"}"#.to_owned(),
            format!(
                r#"{{"hardware_ids":["a"],"sbom_sha256":"{}","security_counter":3,"version":"1.0.0"}}"#,
                hex.to_uppercase()
            ),
            r#"{"hardware_ids":["a"],"sbom_target":"x.cdx.json","security_counter":3,"version":"1.0.0"}"#.to_owned(),
            format!(
                r#"{{"hardware_ids":["a"],"sbom_sha256":"{hex}","sbom_target":"","security_counter":3,"version":"1.0.0"}}"#
            ),
            "5".to_owned(),
            "[]".to_owned(),
            "null".to_owned(),
        ];
        let entry = |fields: &str| -> TargetFile {
            let text = format!(
                r#"{{"custom":{{"fwsign":{fields}}},"hashes":{{"sha256":"{hex}"}},"length":1}}"#
            );
            serde_json::from_str(&text).unwrap()
        };
        for fields in plain.iter().chain(&others) {
            let target = entry(fields);
            let in_place = crate::reader::Json::parse_canonical(fields.as_bytes())
                .ok()
                .and_then(FirmwareInfo::plainly_valid);
            let read = target.firmware();
            if in_place.is_some() {
                assert!(read.is_ok(), "{fields}: {read:?}");
            }
            assert_eq!(target.firmware_is_valid(), read.is_ok(), "{fields}");
        }
        for fields in &plain {
            assert!(
                crate::reader::Json::parse_canonical(fields.as_bytes())
                    .ok()
                    .and_then(FirmwareInfo::plainly_valid)
                    .is_some(),
                "{fields}"
            );
        }
        // No `fwsign` member, or no `custom`: nothing to check.
        let other: TargetFile = serde_json::from_str(&format!(
            r#"{{"custom":{{"other":1}},"hashes":{{"sha256":"{hex}"}},"length":1}}"#
        ))
        .unwrap();
        assert!(other.firmware_is_valid());
    }
}
