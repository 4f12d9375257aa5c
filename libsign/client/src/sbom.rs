//! The SBOM published with a firmware target (`repo add --sbom`), found
//! through trusted metadata: `client download --with-sbom`.

use fwsign_core::target_check::{check_sbom_entry, sbom_reference};
use fwsign_core::verify::{Envelope, TargetsView};

use crate::{Client, ClientError, Fetcher, TargetInfo, refused};

impl<F: Fetcher> Client<F> {
    /// The SBOM target `firmware`'s signed entry names
    /// (`custom.fwsign.sbom_target`), searched for like any target, and
    /// checked to list exactly the SHA-256 the firmware's entry records
    /// (`sbom_sha256`, the core's [`check_sbom_entry`]). Downloading the
    /// result then checks the bytes against that entry, so what is written
    /// is the SBOM the firmware's approvers signed.
    pub fn find_sbom(&mut self, firmware: &TargetInfo) -> Result<TargetInfo, ClientError> {
        let malformed = |e: fwsign_core::verify::VerifyError| refused(&firmware.role, e.into());
        let view = TargetsView::new(Envelope::parse(&firmware.envelope).map_err(malformed)?)
            .map_err(malformed)?;
        let reference = view
            .target_json(&firmware.name)
            .and_then(sbom_reference)
            .ok_or_else(|| ClientError::NoSbom(firmware.name.clone()))?;
        let name = String::from_utf8(reference.target.bytes().collect())
            .map_err(|_| ClientError::NoSbom(firmware.name.clone()))?;
        let sbom = self.find_target(&name)?;
        check_sbom_entry(&reference, &sbom.entry()?).map_err(|source| {
            ClientError::TargetMismatch {
                name: name.clone(),
                source,
            }
        })?;
        Ok(sbom)
    }
}
