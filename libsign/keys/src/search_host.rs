//! The host's side of the one target search ([`fwsign_core::search`]): working
//! memory sized for the host, an arena that keeps the bytes a loader hands
//! to the search for as long as the search runs, and a record of what the
//! search visited.
//!
//! Nothing here decides anything. Which roles are searched, in which order,
//! when the search stops, and every check on a role it loads are
//! [`search_target`]'s; the TUF client, `bundle verify`, `bundle create`,
//! `device pack` and `repo publish` all reach it through [`run`] with their
//! own [`RoleLoader`] (the network and the client's cache, a zip, the
//! repository's files).

use bumpalo::Bump;

use crate::document::{CanonicalDocument, DocumentError};
use fwsign_core::key_types::{KeyIdentity, KeyType};
use fwsign_core::search::{
    Found, MAX_SEARCH_ROLES, RoleBytes, RoleCheck, RoleLoader, SearchError, SearchWork,
    search_target,
};
use fwsign_core::succinct::{BinName, SuccinctRoles};
use fwsign_core::verify::{RootView, TargetsView, ThresholdWork};

/// Keeps role bytes for a whole search: the loader's answers must outlive
/// every call to it, while the roles themselves arrive one at a time (from
/// the network, a zip, the disk).
#[derive(Debug, Default)]
pub struct Arena(Bump);

impl Arena {
    /// An empty arena.
    pub fn new() -> Self {
        Self(Bump::new())
    }

    /// A copy of `bytes` that lives as long as the arena.
    pub fn keep(&self, bytes: &[u8]) -> &[u8] {
        self.0.alloc_slice_copy(bytes)
    }

    /// A TAP 15 hashed bin's name, computed by the search, kept as long as
    /// the arena ([`RoleLoader::bin_name`]).
    pub fn bin_name(&self, bin: &BinName<'_>) -> &[u8] {
        let mut name = Vec::with_capacity(bin.len());
        for part in bin.parts() {
            name.extend_from_slice(part);
        }
        self.keep(&name)
    }

    /// A role's bytes as received and their canonical envelope (the host
    /// canonicalises what other tools write; fwsign's own files canonicalise
    /// to themselves minus escapes).
    pub fn role(&self, raw: &[u8]) -> Result<RoleBytes<'_>, DocumentError> {
        let canonical = CanonicalDocument::from_json(raw)?;
        let raw = self.keep(raw);
        let canonical = if canonical.as_bytes() == raw {
            raw
        } else {
            self.keep(canonical.as_bytes())
        };
        Ok(RoleBytes { raw, canonical })
    }
}

/// Threshold working memory, grown to each role's key count
/// ([`RoleLoader::work`]).
#[derive(Debug, Default)]
pub struct Memory {
    counted: Vec<KeyIdentity>,
    signed: Vec<bool>,
}

impl Memory {
    /// Working memory for a role with `keyids` key IDs.
    pub fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.counted.clear();
        self.counted.resize(keyids, KeyIdentity::default());
        self.signed.clear();
        self.signed.resize(keyids, false);
        ThresholdWork {
            counted: &mut self.counted,
            signed: &mut self.signed,
        }
    }
}

/// One role the search loaded, in the order it loaded them.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    /// The role.
    pub role: &'a [u8],
    /// The role it was reached through (`b"root"` for `targets`).
    pub delegator: &'a [u8],
    /// The role as verified (`None` if it failed its checks).
    pub view: Option<TargetsView<'a>>,
}

/// What one search found, and how.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    /// The entry, if a searched role lists the target.
    pub found: Option<Found<'a>>,
    /// The roles from `targets` down to the one listing the target (empty
    /// when not found).
    pub path: Vec<&'a [u8]>,
    /// Every role loaded, in search order.
    pub visits: Vec<Visit<'a>>,
}

impl<'a> Outcome<'a> {
    /// The roles the search loaded that are not on the path to the entry:
    /// covering roles searched before the lister that do not list the name.
    pub fn side_roles(&self) -> impl Iterator<Item = &Visit<'a>> + '_ {
        self.visits.iter().filter(|v| !self.path.contains(&v.role))
    }

    /// The verified view of a visited role.
    pub fn view(&self, role: &[u8]) -> Option<TargetsView<'a>> {
        self.visits
            .iter()
            .find(|v| v.role == role)
            .and_then(|v| v.view)
    }
}

/// Records every load and every verified view, passing everything through.
struct Recording<'l, 'a, L> {
    inner: &'l mut L,
    visits: Vec<Visit<'a>>,
}

impl<'a, L: RoleLoader<'a>> RoleLoader<'a> for Recording<'_, 'a, L> {
    type Error = L::Error;

    fn load(
        &mut self,
        role: &'a [u8],
        delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, Self::Error> {
        self.visits.push(Visit {
            role,
            delegator,
            view: None,
        });
        self.inner.load(role, delegator)
    }

    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]> {
        self.inner.bin_name(bins, bin)
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.inner.work(keyids)
    }

    fn verified(&mut self, role: &'a [u8], delegator: &'a [u8], view: &TargetsView<'a>) {
        if let Some(visit) = self.visits.iter_mut().rev().find(|v| v.role == role) {
            visit.view = Some(*view);
        }
        self.inner.verified(role, delegator, view);
    }
}

/// Runs [`search_target`] for `target` with host-sized memory (every role
/// the search may load), recording what it visited.
pub fn run<'a, L: RoleLoader<'a>>(
    root: &RootView<'_>,
    check: &dyn RoleCheck,
    target: &str,
    loader: &mut L,
    key_types: &[&dyn KeyType],
) -> Result<Outcome<'a>, SearchError<'a, L::Error>> {
    let mut frames = vec![None; MAX_SEARCH_ROLES];
    let mut visited: Vec<&'a [u8]> = vec![&[]; MAX_SEARCH_ROLES];
    let mut recording = Recording {
        inner: loader,
        visits: Vec::new(),
    };
    let mut work = SearchWork {
        frames: &mut frames,
        visited: &mut visited,
    };
    let found = search_target(
        root,
        check,
        target.as_bytes(),
        &mut recording,
        key_types,
        &mut work,
    )?;
    let path = match &found {
        Some(found) => work.path(found).collect(),
        None => Vec::new(),
    };
    Ok(Outcome {
        found,
        path,
        visits: recording.visits,
    })
}

/// A role name the search handed out, for messages and maps (the reader
/// checked it is UTF-8; anything else is shown escaped).
pub fn role_name(role: &[u8]) -> String {
    String::from_utf8_lossy(role).into_owned()
}
