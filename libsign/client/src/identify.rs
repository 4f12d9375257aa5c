//! Golden images against a repository's current metadata (`fwsign identify
//! --metadata-url`): whether some bytes are an image the client would
//! accept today, and which, through the client's own refresh and target
//! search.
//!
//! Only the current metadata is searched: which names to ask for comes from
//! every targets role the trusted snapshot lists, and each name whose entry
//! has the image's length and SHA-256 is then looked up by
//! [`Client::find_target`], the same delegation search (hashed bins, TAP 15
//! succinct roles, path rules, terminating delegations) a download runs,
//! every role on the way checked by the core. A match is reported only when
//! the entry that search answers with has the image's length and SHA-256:
//! a role the search never reaches for that name, or reaches after another
//! role answered, does not make the image released. A role the snapshot
//! lists that cannot be fetched or read is an error rather than skipped:
//! the image might be in it, and "not released" must not rest on a role
//! nobody read. Earlier versions,
//! removals and superseding releases are history, which only the
//! repository's own published history holds (`fwsign identify --repo`).

use std::collections::BTreeSet;

use fwsign_core::workflow::WorkflowError;
use fwsign_keys::document::{CanonicalDocument, DocumentError, verify_role};
use fwsign_keys::trusted_set::TrustError;
use fwsign_manifest_schema::firmware::FirmwareInfo;
use fwsign_manifest_schema::metadata::{Root, Signed, Targets};
use fwsign_repo::key_owners::{self, KeyOwners};
use fwsign_repo::names::role_file;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Client, ClientError, Fetcher, refused};

/// One released image the bytes are, in the current metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CurrentMatch {
    /// The target name.
    pub name: String,
    /// The role whose entry the client's search answers with.
    pub role: String,
    /// The role the search reached it through (`root` for `targets`).
    pub delegated_by: String,
    /// The current (trusted) version of that role.
    pub role_version: u64,
    /// The key IDs whose signatures on that version count toward its
    /// threshold, against the delegator the search reached it through.
    pub approvers: Vec<String>,
    /// The owners of those keys, as that delegator (the current root, or
    /// the current delegating role) names them; left out when none is
    /// named.
    #[serde(skip_serializing_if = "KeyOwners::is_empty")]
    pub owners: KeyOwners,
    /// That role's threshold.
    pub threshold: u64,
    /// Its firmware fields, if it has them.
    pub firmware: Option<FirmwareInfo>,
}

/// What the bytes are, in the current metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CurrentIdentification {
    /// The bytes' SHA-256, lowercase hex.
    pub sha256: String,
    /// Their length.
    pub length: u64,
    /// Every current target they are (empty: not a released image, as far
    /// as the current metadata goes).
    pub matches: Vec<CurrentMatch>,
}

fn document(role: &str, raw: &[u8]) -> Result<CanonicalDocument, ClientError> {
    CanonicalDocument::from_json(raw).map_err(|source| {
        ClientError::Trust(TrustError::Document {
            role: role.to_owned(),
            source,
        })
    })
}

fn format_error(role: &str, e: fwsign_manifest_schema::Error) -> ClientError {
    ClientError::Trust(TrustError::Document {
        role: role.to_owned(),
        source: DocumentError::Format(e),
    })
}

impl<F: Fetcher> Client<F> {
    /// Identifies each image in `images` (the bytes of a file, or the
    /// images of a flash dump's slots) against the current metadata, after
    /// a refresh: see the module note. Any metadata the search needs that
    /// fails its checks is an error, exactly as for a download.
    pub fn identify_all(
        &mut self,
        images: &[&[u8]],
    ) -> Result<Vec<CurrentIdentification>, ClientError> {
        if !self.refreshed {
            self.refresh()?;
        }
        let candidates = self.candidates()?;
        let mut out = Vec::new();
        for bytes in images {
            let sha256 = base16ct::lower::encode_string(&Sha256::digest(bytes));
            let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
            let names: BTreeSet<&str> = candidates
                .iter()
                .flat_map(|c| &c.signed.targets)
                .filter(|(_, t)| t.length == length && t.hashes.get("sha256") == Some(&sha256))
                .map(|(name, _)| name.as_str())
                .collect();
            let mut matches = Vec::new();
            for name in names {
                if let Some(m) = self.confirm(name, length, &sha256)? {
                    matches.push(m);
                }
            }
            out.push(CurrentIdentification {
                sha256,
                length,
                matches,
            });
        }
        Ok(out)
    }

    /// Every targets role the trusted snapshot lists (unchecked beyond the
    /// listing: only used to find which names to look up), read as received
    /// (the local copy when it is the listed file, else fetched at the
    /// listed version and length), checked against the snapshot's listing
    /// (length and hashes, where listed). Nothing here is stored: a role is
    /// stored once the search has verified it.
    fn candidates(&mut self) -> Result<Vec<Signed<Targets>>, ClientError> {
        let consistent = self.consistent();
        let mut listed = Vec::new();
        {
            let snapshot = self
                .trusted
                .snapshot()
                .ok_or_else(|| ClientError::Usage("no trusted snapshot".into()))?;
            for (file, _) in snapshot.entries() {
                let Ok(file) = String::from_utf8(file.bytes().collect()) else {
                    continue;
                };
                let Some(role) = file.strip_suffix(".json") else {
                    continue;
                };
                let entry = snapshot
                    .targets_role(role.as_bytes())
                    .map_err(|e| refused("snapshot", e))?
                    .ok_or_else(|| refused(role, WorkflowError::NotListed))?;
                let local = std::fs::read(self.config.metadata_dir.join(role_file(role)))
                    .ok()
                    .filter(|raw| entry.check_bytes(raw).is_ok());
                listed.push((role.to_owned(), entry.version, entry.length, local));
            }
        }
        let mut candidates = Vec::new();
        for (role, version, length, local) in listed {
            let raw = match (self.verified_raw.get(&role), local) {
                (Some(raw), _) => raw.clone(),
                (None, Some(raw)) => raw,
                (None, None) => {
                    let raw = self
                        .remote()
                        .fetch_role(&role, version, length, consistent)?;
                    let snapshot = self
                        .trusted
                        .snapshot()
                        .ok_or_else(|| ClientError::Usage("no trusted snapshot".into()))?;
                    snapshot
                        .targets_role(role.as_bytes())
                        .map_err(|e| refused("snapshot", e))?
                        .ok_or_else(|| refused(&role, WorkflowError::NotListed))?
                        .check_bytes(&raw)
                        .map_err(|e| refused(&role, e))?;
                    raw
                }
            };
            let doc =
                Signed::<Targets>::from_json_slice(&raw).map_err(|e| format_error(&role, e))?;
            candidates.push(doc);
        }
        Ok(candidates)
    }

    /// The match for `name`, when the client's search answers for it with
    /// an entry of this length and SHA-256; `None` when it answers with
    /// other bytes or no role answers.
    fn confirm(
        &mut self,
        name: &str,
        length: u64,
        sha256: &str,
    ) -> Result<Option<CurrentMatch>, ClientError> {
        let info = match self.find_target(name) {
            Ok(info) => info,
            Err(ClientError::TargetNotFound(_) | ClientError::InvalidTargetName { .. }) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let same = info.length == length
            && info
                .hashes
                .iter()
                .any(|(alg, h)| alg == "sha256" && h == sha256);
        if !same {
            return Ok(None);
        }
        let role_doc = document(&info.role, &info.envelope)?;
        let (delegator_doc, owners) = if info.delegated_by == "root" {
            let raw = self.trusted.root_bytes();
            let root = Signed::<Root>::from_json_slice(raw).map_err(|e| format_error("root", e))?;
            (document("root", raw)?, key_owners::lookup(&root.signed))
        } else {
            let raw = self.verified_raw.get(&info.delegated_by).ok_or_else(|| {
                ClientError::Usage(format!("role {} was not loaded", info.delegated_by))
            })?;
            let parent = Signed::<Targets>::from_json_slice(raw)
                .map_err(|e| format_error(&info.delegated_by, e))?;
            (
                document(&info.delegated_by, raw)?,
                key_owners::lookup(&parent.signed),
            )
        };
        let report = verify_role(&delegator_doc, &info.role, &role_doc, &self.key_types).map_err(
            |source| {
                ClientError::Trust(TrustError::Document {
                    role: info.role.clone(),
                    source,
                })
            },
        )?;
        let doc = Signed::<Targets>::from_json_slice(role_doc.as_bytes())
            .map_err(|e| format_error(&info.role, e))?;
        let firmware = doc
            .signed
            .targets
            .get(name)
            .and_then(|t| t.firmware().ok().flatten());
        Ok(Some(CurrentMatch {
            name: name.to_owned(),
            role: info.role.clone(),
            delegated_by: info.delegated_by.clone(),
            role_version: doc.signed.version,
            owners: owners.only(&report.signed_by),
            approvers: report.signed_by,
            threshold: report.threshold,
            firmware,
        }))
    }
}
