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

/// The SBOM approved with an image, as [`Client::image_sbom`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageSbom {
    /// The firmware target the image is, whose signed entry names the SBOM.
    pub firmware: TargetInfo,
    /// The SBOM target, its entry bound to the firmware's `sbom_sha256`.
    pub sbom: TargetInfo,
}

impl<F: Fetcher> Client<F> {
    /// The SBOM approved with `image` (`identify --sbom-out`): the image is
    /// identified against the current metadata ([`Client::identify_all`]:
    /// the names whose entry the search answers with are this image's
    /// length and SHA-256), and each such firmware's SBOM found by
    /// [`Client::find_sbom`]. Refused when the image is no current target
    /// ([`ClientError::NotCurrent`]), when none of its entries names an
    /// SBOM ([`ClientError::NoSbom`]), and when its names name different
    /// SBOMs ([`ClientError::SbomAmbiguous`]). Downloading the result's
    /// `sbom` checks its bytes against its entry.
    pub fn image_sbom(&mut self, image: &[u8]) -> Result<ImageSbom, ClientError> {
        let identified = self
            .identify_all(&[image])?
            .pop()
            .ok_or_else(|| ClientError::Usage("identify: no result for the image".into()))?;
        let Some(first) = identified.matches.first() else {
            return Err(ClientError::NotCurrent {
                sha256: identified.sha256,
            });
        };
        let mut found: Vec<ImageSbom> = Vec::new();
        for m in &identified.matches {
            // The same search, over the same trusted state, that confirmed
            // the match: the entry it answers with is this image's.
            let firmware = self.find_target(&m.name)?;
            match self.find_sbom(&firmware) {
                Ok(sbom) => found.push(ImageSbom { firmware, sbom }),
                Err(ClientError::NoSbom(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let Some(chosen) = found.first() else {
            return Err(ClientError::NoSbom(first.name.clone()));
        };
        if found
            .iter()
            .any(|f| f.sbom.name != chosen.sbom.name || f.sbom.hashes != chosen.sbom.hashes)
        {
            return Err(ClientError::SbomAmbiguous(
                found
                    .iter()
                    .map(|f| format!("{} names {}", f.firmware.name, f.sbom.name))
                    .collect(),
            ));
        }
        found
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::NoSbom(first.name.clone()))
    }
}
