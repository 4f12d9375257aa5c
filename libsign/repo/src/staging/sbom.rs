//! `repo add --sbom`: the SBOM published beside a firmware file, as its own
//! target in the same role.
//!
//! The firmware's signed fields record the SBOM's target name and SHA-256
//! (`custom.fwsign.sbom_target`, `sbom_sha256`), so the approvers who sign
//! the firmware sign the SBOM's bytes with it: an SBOM swapped afterwards
//! fails both its own entry's hashes and the firmware's `sbom_sha256`.
//!
//! The SBOM's entry carries no firmware fields (`custom.fwsign`), so the
//! core's device check refuses it as an image whenever a device says
//! anything of itself (`TargetRefusal::NoFirmwareFields`): a device or an
//! update agent never installs it. What it carries instead,
//! `custom.fwsign_sbom` (`describes`, `format`, `version`), is for people
//! and tools listing the role; python-tuf and tough ignore custom fields.

use std::path::Path;

use fwsign_manifest_schema::metadata::TargetFile;
use fwsign_manifest_schema::raw_json::RawJson;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::names::check_target_name;
use super::{AddOptions, RepoError, Repository};
use crate::sbom::{SbomFormat, check_sbom};

/// The custom field an SBOM target carries instead of firmware fields.
pub(super) const SBOM_CUSTOM_KEY: &str = "fwsign_sbom";

/// An SBOM read once and checked, ready to stage.
pub(super) struct PreparedSbom {
    /// Its bytes: the ones checked, hashed and staged.
    pub(super) bytes: Vec<u8>,
    /// Its format, as the schema confirmed.
    pub(super) format: SbomFormat,
    /// Its target name: the firmware's with the format's suffix.
    pub(super) name: String,
    /// The firmware's target name.
    pub(super) describes: String,
    /// Lowercase hex SHA-256 of `bytes`.
    pub(super) sha256: String,
}

/// Reads and checks the SBOM `options.sbom` names, for the one firmware
/// file of `options`.
pub(super) fn prepare(options: &AddOptions, path: &Path) -> Result<PreparedSbom, RepoError> {
    if options.sbom_sha256.is_some() {
        return Err(RepoError::Invalid(
            "--sbom and --sbom-sha256 both given: --sbom records the SBOM's SHA-256 itself; give one of them".into(),
        ));
    }
    let [firmware] = options.targets.as_slice() else {
        return Err(RepoError::Invalid(format!(
            "--sbom describes one firmware file, and this add stages {}; add each image with its own SBOM",
            options.targets.len()
        )));
    };
    let bytes = std::fs::read(path).map_err(|source| RepoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let format = check_sbom(path, &bytes)?;
    let name = format!("{}{}", firmware.name, format.suffix());
    check_target_name(&name)?;
    let sha256 = base16ct::lower::encode_string(&Sha256::digest(&bytes));
    Ok(PreparedSbom {
        bytes,
        format,
        name,
        describes: firmware.name.clone(),
        sha256,
    })
}

impl Repository {
    /// The target name `repo add --sbom` gives the SBOM of `options` (the
    /// firmware's name with its format's suffix), the file read and
    /// checked; `None` without `--sbom`. For routing over hashed bins
    /// before the add: the add reads the file again, and a file changed
    /// in between to another format names a target the routed bin does
    /// not cover, which the add refuses.
    pub(crate) fn sbom_name(&self, options: &AddOptions) -> Result<Option<String>, RepoError> {
        match &options.sbom {
            Some(path) => Ok(Some(prepare(options, path)?.name)),
            None => Ok(None),
        }
    }
}

impl PreparedSbom {
    /// The SBOM's target entry, given its staged hashes.
    pub(super) fn entry(
        &self,
        length: u64,
        hashes: std::collections::BTreeMap<String, String>,
    ) -> Result<TargetFile, RepoError> {
        let custom = RawJson::from_value(&json!({
            SBOM_CUSTOM_KEY: {
                "describes": self.describes,
                "format": self.format.name(),
                "version": self.format.version(),
            }
        }))
        .map_err(|e| RepoError::Invalid(e.to_string()))?;
        Ok(TargetFile {
            length,
            hashes: hashes.into(),
            custom: Some(custom),
            unknown: Default::default(),
        })
    }
}
