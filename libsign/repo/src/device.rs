//! What `fwsign device pack` and `fwsign device root` take from a published
//! repository: the verified root chain and the chain of targets roles the
//! core's search takes to a target, from the one verified load.

use std::path::PathBuf;

use super::{Published, RepoError, Repository, names, resolve};
use fwsign_core::workflow::Digests;
use fwsign_keys::document::CanonicalDocument;

/// What a device slot carries for one published target (`fwsign device
/// pack`): canonical envelopes, since the device checks signed bytes as
/// they stand.
#[derive(Debug, Clone)]
pub struct DeviceMaterial {
    /// Canonical root envelopes after the given version, ascending.
    pub roots: Vec<Vec<u8>>,
    /// The targets chain, `targets` first, down to the role listing the
    /// target: role name and canonical envelope. It is the path the core's
    /// search takes, and the search visits no other role.
    pub chain: Vec<(String, Vec<u8>)>,
    /// For each role on the chain, how many key IDs its delegator
    /// authorises (the threshold memory a device needs for it).
    pub chain_keyids: Vec<usize>,
    /// For each carried root, how many key IDs its `root` role lists.
    pub root_keyids: Vec<usize>,
    /// The published target file.
    pub image: PathBuf,
    /// The target's length.
    pub length: u64,
    /// The target's SHA-256 as listed (lowercase hex), which the image must
    /// hash to.
    pub sha256: String,
}

/// What a device verifier can hold (`fwsign-bootloader-verify`'s
/// `MAX_CHAIN`, `MAX_KEYS_PER_ROLE` and the metadata buffer the bootloader
/// gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCapacity {
    /// Most targets roles on a chain.
    pub max_chain: usize,
    /// Most key IDs a role may list.
    pub max_keys_per_role: usize,
    /// The metadata buffer, in bytes: the slot's trailer must fit.
    pub metadata_buffer: usize,
}

impl DeviceMaterial {
    /// The published image, read once and checked against the listed
    /// length and SHA-256 (the core's hash check): a device refuses a slot
    /// whose image differs, so none is built from one.
    pub fn read_image(&self) -> Result<Vec<u8>, RepoError> {
        let image = std::fs::read(&self.image).map_err(|source| RepoError::Io {
            path: self.image.clone(),
            source,
        })?;
        let mut digests = Digests::new(false);
        digests.update(&image);
        let digests = digests.finish();
        let why = if digests.length != self.length {
            Some(format!(
                "{} bytes, but the metadata lists {}",
                digests.length, self.length
            ))
        } else if digests.check_one("sha256", &self.sha256).is_err() {
            Some(format!(
                "its sha256 differs from the listed {} (replaced?)",
                self.sha256
            ))
        } else {
            None
        };
        match why {
            None => Ok(image),
            Some(why) => Err(RepoError::PublishedTargetChanged {
                path: self.image.clone(),
                why,
            }),
        }
    }

    /// Refuses material a device with `capacity` could not verify: a chain
    /// longer than it holds, a role (or carried root) with more key IDs than
    /// its threshold memory, or a trailer of `trailer_size` bytes larger
    /// than its metadata buffer. The device would refuse such a slot with a
    /// capacity error; packing it would only ship a slot that never boots.
    pub fn check_capacity(
        &self,
        target: &str,
        capacity: &DeviceCapacity,
        trailer_size: usize,
    ) -> Result<(), RepoError> {
        let refuse = |why: String| RepoError::DeviceCapacity {
            target: target.to_owned(),
            why,
        };
        if self.chain.len() > capacity.max_chain {
            return Err(refuse(format!(
                "the chain has {} roles ({}), and the device verifier holds at most {}",
                self.chain.len(),
                self.chain
                    .iter()
                    .map(|(r, _)| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" -> "),
                capacity.max_chain
            )));
        }
        for ((role, _), keyids) in self.chain.iter().zip(&self.chain_keyids) {
            if *keyids > capacity.max_keys_per_role {
                return Err(refuse(format!(
                    "role {role} has {keyids} key IDs, and the device verifier checks at most {} per role",
                    capacity.max_keys_per_role
                )));
            }
        }
        for keyids in &self.root_keyids {
            if *keyids > capacity.max_keys_per_role {
                return Err(refuse(format!(
                    "a carried root lists {keyids} root key IDs, and the device verifier checks at most {} per role",
                    capacity.max_keys_per_role
                )));
            }
        }
        if trailer_size > capacity.metadata_buffer {
            return Err(refuse(format!(
                "the slot's metadata (trailer) is {trailer_size} bytes, larger than the device's {}-byte metadata buffer (carry fewer roots with --from-root-version, or give the bootloader's buffer size with --metadata-buffer)",
                capacity.metadata_buffer
            )));
        }
        Ok(())
    }
}

/// The canonical form of a verified published file (what a device checks
/// signatures over).
fn canonical(file: &str, bytes: &[u8]) -> Result<CanonicalDocument, RepoError> {
    CanonicalDocument::from_json(bytes).map_err(|source| RepoError::Document {
        context: format!("metadata/{file}"),
        source,
    })
}

/// The verified published state, refused when nothing is published yet.
fn live(repo: &Repository) -> Result<Published, RepoError> {
    repo.published()?
        .filter(|p| p.snapshot.is_some())
        .ok_or_else(|| RepoError::Invalid("nothing is published yet".into()))
}

impl Repository {
    /// Every root version of the verified chain, ascending, as canonical
    /// envelopes.
    pub fn published_roots(&self) -> Result<Vec<(u64, Vec<u8>)>, RepoError> {
        match self.published()? {
            Some(published) => published.canonical_roots(0),
            None => Ok(Vec::new()),
        }
    }

    /// The published versions of the targets roles, from the snapshot the
    /// timestamp names: `targets` first, then the delegated roles by name
    /// (the role-version floors a device is manufactured with).
    pub fn published_role_versions(&self) -> Result<Vec<(String, u64)>, RepoError> {
        Ok(live(self)?.role_versions())
    }

    /// The metadata a device needs to verify published target `name`: roots
    /// after `from_root_version`, and the chain the core's target search
    /// ([`fwsign_core::search::search_target`], the device's own search) takes to
    /// the role listing it, all from the verified published state (refused
    /// when it does not verify). A `from_root_version` above the newest
    /// published root is refused ([`RepoError::Invalid`]): no device holds
    /// a root that was never published; 0 carries every root.
    ///
    /// Refused when the search visits a role the chain does not carry (a
    /// covering delegation searched before the lister, whose role does not
    /// list the name): the device, holding only the chain, could not repeat
    /// the search that picked it. The refusal names that delegation.
    pub fn device_material(
        &self,
        name: &str,
        from_root_version: u64,
    ) -> Result<DeviceMaterial, RepoError> {
        names::check_target_name(name)?;
        let published = live(self)?;
        let carried = published.canonical_roots(from_root_version)?;
        let newest = published.root.signed.version;
        if from_root_version > newest {
            return Err(RepoError::Invalid(format!(
                "--from-root-version {from_root_version} is newer than the newest published root (version {newest}): no device can have a root that was never published (0 carries every root)"
            )));
        }
        let root_file = format!("{newest}.root.json");
        let root = published
            .root_chain
            .last()
            .ok_or_else(|| RepoError::Invalid("nothing is published yet".into()))?;
        let root = canonical(&root_file, root)?;
        let snapshot_bytes = published
            .snapshot_bytes()
            .ok_or_else(|| RepoError::Invalid("nothing is published yet".into()))?;
        let snapshot = canonical("snapshot", snapshot_bytes)?;
        let mut read = |role: &str, version: u64| published.role_version_bytes(role, version);
        let resolution = resolve::resolve(&root, &snapshot, name, &mut read)?.ok_or_else(|| {
            RepoError::Invalid(format!(
                "no published targets role lists {name} (as the target search resolves it)"
            ))
        })?;
        if let Some(side) = resolution.side.first() {
            let entry = resolve::delegation(&published.targets, &side.delegator, &side.role);
            return Err(RepoError::DeviceRefused {
                target: name.to_owned(),
                why: format!(
                    "{}, and the search visits {} (which does not list it) before the chain {}; a device carries only that chain and could not repeat the search. Order {}'s delegation after the one leading to {}, narrow its paths, or list the target in {}",
                    resolve::describe(&side.delegator, entry, &side.role),
                    side.role,
                    resolution.path().join(" -> "),
                    side.role,
                    resolution.lister(),
                    side.role,
                ),
            });
        }
        // A target without firmware fields (an SBOM) makes a slot every
        // device refuses (FIRMWARE_FIELDS_MISSING): refused here instead,
        // by the same core check.
        if let Some(refusal) = resolution.device_refusal {
            return Err(RepoError::DeviceRefused {
                target: name.to_owned(),
                why: format!(
                    "{refusal}, so every device would refuse the slot (FIRMWARE_FIELDS_MISSING); pack a firmware target instead"
                ),
            });
        }
        let sha256 = resolution
            .sha256
            .clone()
            .ok_or_else(|| RepoError::Invalid(format!("{name} has no sha256 hash")))?;
        let image = names::consistent_target_path(&self.targets_dir(), name, &sha256)?;
        // The published file is checked when it is read
        // ([`DeviceMaterial::read_image`]): a replaced image would only be
        // refused by every device.
        let mut root_keyids = Vec::new();
        for (_, bytes) in &carried {
            let keyids = fwsign_core::verify::Envelope::parse(bytes)
                .and_then(fwsign_core::verify::RootView::new)
                .and_then(|r| r.role("root"))
                .map(|k| k.keyid_count())
                .map_err(|source| RepoError::Document {
                    context: "published root".into(),
                    source: source.into(),
                })?;
            root_keyids.push(keyids);
        }
        Ok(DeviceMaterial {
            roots: carried.into_iter().map(|(_, bytes)| bytes).collect(),
            chain_keyids: resolution.chain.iter().map(|c| c.keyids).collect(),
            chain: resolution
                .chain
                .into_iter()
                .map(|c| (c.role, c.envelope))
                .collect(),
            root_keyids,
            image,
            length: resolution.length,
            sha256,
        })
    }
}

impl Published {
    /// The verified chain's roots after `from_version`, ascending, as
    /// canonical envelopes (what a device checks signatures over).
    pub fn canonical_roots(&self, from_version: u64) -> Result<Vec<(u64, Vec<u8>)>, RepoError> {
        let mut roots = Vec::new();
        for (version, bytes) in (1u64..).zip(&self.root_chain) {
            if version > from_version {
                let doc = canonical(&format!("{version}.root.json"), bytes)?;
                roots.push((version, doc.as_bytes().to_vec()));
            }
        }
        Ok(roots)
    }

    /// The live versions of the targets roles: `targets` first, then the
    /// delegated roles by name.
    pub fn role_versions(&self) -> Vec<(String, u64)> {
        let mut versions: Vec<(String, u64)> = self
            .targets
            .iter()
            .map(|(role, doc)| (role.clone(), doc.signed.version))
            .collect();
        versions.sort_by_key(|(role, _)| (role != "targets", role.clone()));
        versions
    }
}
