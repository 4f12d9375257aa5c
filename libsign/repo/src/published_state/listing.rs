//! What `metadata/` holds, read once per load: the one enumeration of the
//! directory. Versions on disk (orphans of killed publishes included) decide
//! the next free version of a role; the history walk takes its root and
//! snapshot versions from here; `repo verify` its unreferenced files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

use crate::{RepoError, io_err, names};
use fwsign_keys::atomic_write::is_temp_name;

/// The files of `metadata/`, sorted by what their names say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// `N.ROLE.json` files: versions on disk per role (`root`, `snapshot`,
    /// `targets`, delegated roles).
    versions: BTreeMap<String, BTreeSet<u64>>,
    /// Whether `timestamp.json` exists.
    pub(crate) timestamp: bool,
    /// Temporary files a killed command left (removed by the next command
    /// holding the lock exclusively).
    pub(crate) temporaries: Vec<String>,
    /// Every other name (not a versioned role file, not `timestamp.json`,
    /// not a temporary file), directories included.
    pub(crate) others: Vec<String>,
}

/// `N` for a file name `N<suffix>` whose `N` is a version written the one
/// way fwsign writes it (no sign, no leading zero).
pub(crate) fn version_of(name: &str, suffix: &str) -> Option<u64> {
    let prefix = name.strip_suffix(suffix)?;
    let version: u64 = prefix.parse().ok()?;
    (version.to_string() == prefix).then_some(version)
}

/// `(role, version)` for a versioned role file name `N.ROLE.json`, with a
/// role name fwsign repositories allow (which quoting leaves as it is).
fn versioned(name: &str) -> Option<(&str, u64)> {
    let (number, rest) = name.split_once('.')?;
    let role = rest.strip_suffix(".json")?;
    names::check_role_name(role).ok()?;
    let version = version_of(number, "")?;
    Some((role, version))
}

impl Listing {
    /// Reads `dir` (`metadata/`); a missing directory holds nothing.
    pub(crate) fn read(dir: &Path) -> Result<Self, RepoError> {
        let mut listing = Self::default();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(io_err(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                listing.others.push(name.to_string_lossy().into_owned());
                continue;
            };
            let is_file = entry.file_type().map_err(io_err(dir))?.is_file();
            if !is_file {
                listing.others.push(name.to_owned());
            } else if name == "timestamp.json" {
                listing.timestamp = true;
            } else if is_temp_name(name) {
                listing.temporaries.push(name.to_owned());
            } else if let Some((role, version)) = versioned(name) {
                listing
                    .versions
                    .entry(role.to_owned())
                    .or_default()
                    .insert(version);
            } else {
                listing.others.push(name.to_owned());
            }
        }
        listing.others.sort();
        listing.temporaries.sort();
        Ok(listing)
    }

    /// The versions of `role` with a file `metadata/N.ROLE.json`, ascending.
    pub fn versions(&self, role: &str) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.versions
            .get(&names::quote(role))
            .into_iter()
            .flat_map(|v| v.iter().copied())
    }

    /// Whether `metadata/N.ROLE.json` exists for `role` at `version`.
    pub fn has(&self, role: &str, version: u64) -> bool {
        self.versions
            .get(&names::quote(role))
            .is_some_and(|v| v.contains(&version))
    }

    /// The highest version of `role` with a file `metadata/N.ROLE.json`,
    /// whether a timestamp ever referenced it or not (an orphan a killed
    /// publish left).
    pub fn highest(&self, role: &str) -> Option<u64> {
        self.versions(role).next_back()
    }

    /// Every role with a versioned file, and its versions.
    pub fn roles(&self) -> impl Iterator<Item = (&str, &BTreeSet<u64>)> + '_ {
        self.versions.iter().map(|(r, v)| (r.as_str(), v))
    }

    /// The version a new `role` document gets: `at_least`, or one more than
    /// the highest on disk when that is higher, so no version is ever
    /// written twice, orphans included.
    pub(crate) fn next_free_version(&self, role: &str, at_least: u64) -> Result<u64, RepoError> {
        let above_disk = match self.highest(role) {
            Some(v) => v.checked_add(1).ok_or_else(|| {
                RepoError::Invalid(format!("role {role}: version counter exhausted"))
            })?,
            None => 0,
        };
        Ok(at_least.max(above_disk))
    }
}
