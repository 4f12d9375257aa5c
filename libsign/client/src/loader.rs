//! The client's side of the target search: [`Remote`], the server and the
//! metadata directory (requests, local copies, storing what verified), and
//! [`Loader`], the [`RoleLoader`] the core's search pulls delegated roles
//! through, over memory, cache and network.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use super::{ClientConfig, ClientError, Fetcher, MAX_TARGETS_LENGTH, TargetInfo, io_err, refused};
use fwsign_core::search::{RoleBytes, RoleLoader};
use fwsign_core::succinct::SuccinctRoles;
use fwsign_core::verify::{TargetsView, ThresholdWork};
use fwsign_core::workflow::SnapshotView;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_keys::search_host::{Arena, Memory, role_name};
use fwsign_keys::trusted_set::TrustError;
use fwsign_repo::names::{file_name_key, role_file, versioned_role_file};

/// The server and the metadata directory: requests, local copies, and
/// storing what verified.
pub(super) struct Remote<'c, F> {
    pub(super) fetcher: &'c mut F,
    pub(super) config: &'c ClientConfig,
}

impl<F: Fetcher> Remote<'_, F> {
    pub(super) fn url(&self, file: &str) -> String {
        let base = &self.config.metadata_url;
        if base.ends_with('/') {
            format!("{base}{file}")
        } else {
            format!("{base}/{file}")
        }
    }

    pub(super) fn fetch(
        &mut self,
        url: String,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        self.fetcher
            .fetch(&url, max_len)
            .map_err(|source| ClientError::Fetch { url, source })
    }

    pub(super) fn fetch_required(
        &mut self,
        url: String,
        max_len: u64,
    ) -> Result<Vec<u8>, ClientError> {
        match self.fetch(url.clone(), max_len)? {
            Some(bytes) => Ok(bytes),
            None => Err(ClientError::NotFound { url }),
        }
    }

    /// Targets role `role` at the version and length the snapshot lists:
    /// `N.ROLE.json` with consistent snapshots, `ROLE.json` without.
    pub(super) fn fetch_role(
        &mut self,
        role: &str,
        version: u64,
        length: Option<u64>,
        consistent: bool,
    ) -> Result<Vec<u8>, ClientError> {
        let file = if consistent {
            versioned_role_file(version, role)
        } else {
            role_file(role)
        };
        self.fetch_required(self.url(&file), length.unwrap_or(MAX_TARGETS_LENGTH))
    }

    pub(super) fn persist(&self, role: &str, bytes: &[u8]) -> Result<(), ClientError> {
        let path = self.config.metadata_dir.join(role_file(role));
        write_atomic(&path, bytes, Mode::Public).map_err(io_err(&path))
    }

    pub(super) fn local(&self, role: &str) -> Option<Vec<u8>> {
        fs::read(self.config.metadata_dir.join(role_file(role))).ok()
    }
}

/// Where a role's bytes came from in one search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Verified earlier in this run.
    Memory,
    /// The local copy from an earlier run.
    Disk,
    /// Fetched now.
    Network,
}

/// The client's [`RoleLoader`]: a role verified earlier in this run, else
/// the local copy when it is the file the snapshot lists, else the network.
/// It decides nothing: every role it hands out is checked by the search.
pub(super) struct Loader<'c, 'a, F> {
    pub(super) arena: &'a Arena,
    pub(super) remote: Remote<'c, F>,
    pub(super) consistent: bool,
    pub(super) snapshot: SnapshotView<'c>,
    pub(super) verified_raw: &'c mut BTreeMap<String, Vec<u8>>,
    pub(super) file_keys: &'c mut BTreeMap<String, String>,
    /// Roles whose local copy the search refused: fetched instead.
    pub(super) refetch: &'c BTreeSet<String>,
    pub(super) served: Vec<(&'a [u8], RoleBytes<'a>, Source)>,
    pub(super) memory: Memory,
    /// A verified role that could not be stored, reported at the next load.
    pub(super) persist_error: Option<ClientError>,
}

impl<'a, F: Fetcher> Loader<'_, 'a, F> {
    pub(super) fn served(&self, role: &[u8]) -> Option<(RoleBytes<'a>, Source)> {
        self.served
            .iter()
            .rev()
            .find(|(r, ..)| *r == role)
            .map(|(_, bytes, source)| (*bytes, *source))
    }

    fn bytes(&self, role: &str, raw: &[u8]) -> Result<RoleBytes<'a>, ClientError> {
        self.arena.role(raw).map_err(|source| {
            ClientError::Trust(TrustError::Document {
                role: role.to_owned(),
                source,
            })
        })
    }
}

impl<'a, F: Fetcher> RoleLoader<'a> for Loader<'_, 'a, F> {
    type Error = ClientError;

    fn load(
        &mut self,
        role: &'a [u8],
        _delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, ClientError> {
        if let Some(e) = self.persist_error.take() {
            return Err(e);
        }
        let name = std::str::from_utf8(role)
            .map_err(|_| ClientError::Usage("a delegated role name is not UTF-8".into()))?;
        // Before the local file is read or written.
        let file = role_file(name);
        if let Some(other) = self.file_keys.get(&file_name_key(name))
            && other != name
        {
            return Err(ClientError::RoleNameCollision {
                role: name.to_owned(),
                file,
                other: other.clone(),
            });
        }
        if let Some(raw) = self.verified_raw.get(name) {
            let bytes = self.bytes(name, raw)?;
            self.served.push((role, bytes, Source::Memory));
            return Ok(Some(bytes));
        }
        let listed = self
            .snapshot
            .targets_role(role)
            .map_err(|e| refused("snapshot", e))?;
        // Not listed: the search reports the role missing, without a request.
        let Some(listed) = listed else {
            return Ok(None);
        };
        // The local copy is used when it is the file the snapshot lists (its
        // length and hashes, where listed) and the search has not refused
        // it already; the search checks it like a fetched one.
        let local = (!self.refetch.contains(name))
            .then(|| self.remote.local(name))
            .flatten()
            .filter(|raw| listed.check_bytes(raw).is_ok())
            .and_then(|raw| self.arena.role(&raw).ok());
        let (bytes, source) = match local {
            Some(bytes) => (bytes, Source::Disk),
            None => {
                let raw =
                    self.remote
                        .fetch_role(name, listed.version, listed.length, self.consistent)?;
                (self.bytes(name, &raw)?, Source::Network)
            }
        };
        self.served.push((role, bytes, source));
        Ok(Some(bytes))
    }

    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]> {
        Some(self.arena.bin_name(&bins.bin_name(bin)))
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.memory.work(keyids)
    }

    fn verified(&mut self, role: &'a [u8], _delegator: &'a [u8], _view: &TargetsView<'a>) {
        let Some((bytes, source)) = self.served(role) else {
            return;
        };
        let name = role_name(role);
        self.file_keys
            .entry(file_name_key(&name))
            .or_insert_with(|| name.clone());
        if source == Source::Network
            && self.persist_error.is_none()
            && let Err(e) = self.remote.persist(&name, bytes.raw)
        {
            self.persist_error = Some(e);
        }
        if source != Source::Memory {
            self.verified_raw.insert(name, bytes.raw.to_vec());
        }
    }
}

/// How one run of the search ended.
pub(super) enum Attempt {
    Done(TargetInfo),
    /// The search refused the local copy of this role: run it again with
    /// the role fetched (python-tuf loads the local copy, and fetches when
    /// it does not verify).
    Refetch(String),
}
