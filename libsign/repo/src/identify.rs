//! Golden images (`fwsign identify`): whether some bytes are a released
//! image, and which. Every published version of every targets role is
//! searched, as the history walk ([`Repository::verify_audit`]) verified
//! it; nothing under `metadata/` is read here by hand.
//!
//! An image is listed by a role when a verified version of that role has a
//! target with the same length and SHA-256. It is *removed* when the newest
//! published version of that role no longer lists this hash under the name,
//! and *superseded* when any published role lists an image for an
//! overlapping hardware ID with a higher security counter. When it was
//! published comes from the audit log's first `publish` event naming the
//! target with this hash (published metadata records no time of its own).

use std::collections::BTreeMap;

use fwsign_manifest_schema::firmware::FirmwareInfo;
use fwsign_manifest_schema::metadata::{Signed, Targets};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::history::VerifiedRole;
use crate::key_owners::KeyOwners;
use crate::{RepoError, Repository};

/// A later image that replaces an identified one on some hardware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Superseder {
    /// Its target name.
    pub name: String,
    /// The role that lists it.
    pub role: String,
    /// The first version of that role that lists it.
    pub role_version: u64,
    /// Its firmware version.
    pub version: String,
    /// Its security counter.
    pub security_counter: u64,
    /// The hardware IDs it shares with the identified image.
    pub hardware_ids: Vec<String>,
}

/// One released image the bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImageMatch {
    /// The target name.
    pub name: String,
    /// The role that listed it.
    pub role: String,
    /// The role delegating to it (`root` for `targets`).
    pub delegated_by: String,
    /// The first published version of the role listing it.
    pub first_role_version: u64,
    /// The last published version of the role listing it.
    pub last_role_version: u64,
    /// The key IDs whose signatures counted on the first version.
    pub approvers: Vec<String>,
    /// The owners of those keys, by the names the delegator in force when
    /// the first version was published gives them
    /// ([`crate::history::VerifiedRole::owners`]: a later rename does not
    /// change who approved an old release); left out when none is named.
    #[serde(skip_serializing_if = "KeyOwners::is_empty")]
    pub owners: KeyOwners,
    /// That role's threshold.
    pub threshold: u64,
    /// Its firmware fields, if it has them.
    pub firmware: Option<FirmwareInfo>,
    /// When it was published (the audit log's `publish` event), if recorded.
    pub published_at: Option<String>,
    /// The newest published version of the role no longer lists this hash
    /// under this name.
    pub removed: bool,
    /// Images for an overlapping hardware ID with a higher counter.
    pub superseded_by: Vec<Superseder>,
}

/// What the bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Identification {
    /// The bytes' SHA-256, lowercase hex.
    pub sha256: String,
    /// Their length.
    pub length: u64,
    /// Every released image they are (empty: not a released image).
    pub matches: Vec<ImageMatch>,
}

struct Listed<'v> {
    file: &'v VerifiedRole,
    doc: Signed<Targets>,
}

impl Repository {
    /// Identifies `bytes` against every published version of every
    /// targets role, after verifying the history (refused, naming the
    /// fault, when it does not verify).
    pub fn identify(&self, bytes: &[u8]) -> Result<Identification, RepoError> {
        let mut all = self.identify_all(&[bytes])?;
        all.pop()
            .ok_or_else(|| RepoError::Invalid("identify: no result for the image".into()))
    }

    /// [`Repository::identify`] for several images (the slots of a flash
    /// dump) against one verification of the history, in order.
    pub fn identify_all(&self, images: &[&[u8]]) -> Result<Vec<Identification>, RepoError> {
        let verified = self.verify_audit()?;
        let mut files: Vec<Listed<'_>> = Vec::new();
        for file in &verified.verified_roles {
            let doc = Signed::<Targets>::from_json_slice(&file.raw)
                .map_err(|e| RepoError::Invalid(format!("{} v{}: {e}", file.role, file.version)))?;
            files.push(Listed { file, doc });
        }
        files.sort_by(|a, b| (&a.file.role, a.file.version).cmp(&(&b.file.role, b.file.version)));
        images
            .iter()
            .map(|bytes| self.identify_in(&files, bytes))
            .collect()
    }

    fn identify_in(&self, files: &[Listed<'_>], bytes: &[u8]) -> Result<Identification, RepoError> {
        let sha256 = base16ct::lower::encode_string(&Sha256::digest(bytes));
        let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let newest: BTreeMap<&str, &Listed<'_>> =
            files.iter().map(|l| (l.file.role.as_str(), l)).collect();
        let mut found: BTreeMap<(String, String), ImageMatch> = BTreeMap::new();
        for l in files {
            for (name, target) in &l.doc.signed.targets {
                if target.length != length || target.hashes.get("sha256") != Some(&sha256) {
                    continue;
                }
                let key = (l.file.role.clone(), name.clone());
                if let Some(m) = found.get_mut(&key) {
                    m.last_role_version = l.file.version;
                    continue;
                }
                let still = newest.get(l.file.role.as_str()).is_some_and(|n| {
                    n.doc
                        .signed
                        .targets
                        .get(name)
                        .and_then(|t| t.hashes.get("sha256"))
                        == Some(&sha256)
                });
                found.insert(
                    key,
                    ImageMatch {
                        name: name.clone(),
                        role: l.file.role.clone(),
                        delegated_by: l.file.delegated_by.clone(),
                        first_role_version: l.file.version,
                        last_role_version: l.file.version,
                        approvers: l.file.approvers.clone(),
                        owners: l.file.owners.only(&l.file.approvers),
                        threshold: l.file.threshold,
                        firmware: target.firmware().ok().flatten(),
                        published_at: None,
                        removed: !still,
                        superseded_by: Vec::new(),
                    },
                );
            }
        }
        let mut matches: Vec<ImageMatch> = found.into_values().collect();
        for m in &mut matches {
            m.superseded_by = superseders(files, m.firmware.as_ref());
        }
        if !matches.is_empty() {
            let entries = self
                .audit_log()
                .entries()
                .map_err(|e| RepoError::Invalid(format!("audit log: {e}")))?;
            for m in &mut matches {
                m.published_at = entries
                    .iter()
                    .find(|e| {
                        e.event.action == "publish" && e.event.targets.get(&m.name) == Some(&sha256)
                    })
                    .map(|e| e.time.clone());
            }
        }
        Ok(Identification {
            sha256,
            length,
            matches,
        })
    }
}

/// Every image any published role lists for a hardware ID `firmware`
/// shares, with a higher security counter (each name once, at the first
/// role version listing it).
fn superseders(files: &[Listed<'_>], firmware: Option<&FirmwareInfo>) -> Vec<Superseder> {
    let Some(mine) = firmware else {
        return Vec::new();
    };
    let mut out: BTreeMap<(String, String, String), Superseder> = BTreeMap::new();
    for l in files {
        for (name, target) in &l.doc.signed.targets {
            let Ok(Some(theirs)) = target.firmware() else {
                continue;
            };
            if theirs.security_counter <= mine.security_counter {
                continue;
            }
            let shared: Vec<String> = theirs
                .hardware_ids
                .iter()
                .filter(|h| mine.hardware_ids.contains(h))
                .cloned()
                .collect();
            if shared.is_empty() {
                continue;
            }
            let sha = target.hashes.get("sha256").cloned().unwrap_or_default();
            out.entry((l.file.role.clone(), name.clone(), sha))
                .or_insert_with(|| Superseder {
                    name: name.clone(),
                    role: l.file.role.clone(),
                    role_version: l.file.version,
                    version: theirs.version.clone(),
                    security_counter: theirs.security_counter,
                    hardware_ids: shared,
                });
        }
    }
    out.into_values().collect()
}
