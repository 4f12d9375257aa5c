//! # fwsign-client: the TUF client and offline bundles
//!
//! A TUF update client: the complete client workflow of the TUF
//! specification (section 5), for Linux-based devices, update agents and CI;
//! and the offline bundle ([`bundle`], a zip container read by
//! [`bundle_archive`]) that carries the same metadata to a device with no
//! network. Both verify through `fwsign-keys`' trusted set and the core's
//! search. `bundle create` reads a published repository, so this crate
//! depends on `fwsign-repo` (for that and for TUF's file names,
//! [`fwsign_repo::names`]).
//!
//! Every trust decision is made by the `no_std` core: the top-level steps
//! through [`fwsign_keys::trusted_set::TrustedSet`], and the target search (spec
//! 5.6.7: which role answers for a name, and every delegated role's checks)
//! by [`fwsign_core::search::search_target`], the same search `bundle verify`,
//! `device pack` and the bootloader run. This module only orders the
//! requests, keeps the local copies and fetches through a [`Fetcher`], so an
//! update agent can plug in its own transport.
//!
//! Local state in the metadata directory is the exact bytes last accepted,
//! under non-versioned names: `root.json`, `timestamp.json`,
//! `snapshot.json`, `targets.json`, and `<quote(role)>.json` for delegated
//! roles, where [`quote`] is Python's `urllib.parse.quote(s, safe="")` (the
//! repository's [`fwsign_repo::names::role_file`]). Nothing that failed a
//! check is ever stored: a fetched role is written once the core has
//! verified it. Two trusted roles whose file names differ only in case (or
//! Unicode normalisation) are refused, since a case-insensitive file system
//! would store them in one file.

#![forbid(unsafe_code)]

pub mod bundle;
pub mod bundle_archive;
mod hash_order;
#[cfg(feature = "http")]
mod http;
pub mod identify;
mod loader;
mod sbom;

pub use sbom::ImageSbom;

#[cfg(feature = "http")]
pub use http::HttpFetcher;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;
use serde_json::Value;

use fwsign_core::key_types::KeyType;
use fwsign_core::search::{SearchError, SnapshotCheck};
use fwsign_core::target_check::{self, DeviceFacts, TargetRefusal};
use fwsign_core::verify::{Envelope, TargetEntry, TargetsView};
use fwsign_core::workflow::{Digests, WorkflowError};
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_keys::search_host::{self, Arena, Memory, role_name};
use fwsign_keys::trusted_set::{TimestampUpdate, TrustError, TrustedSet};
use fwsign_repo::names::file_name_key;
pub use fwsign_repo::names::quote;
use hash_order::hash_order;
use loader::{Attempt, Loader, Remote, Source};

/// Largest root accepted (python-tuf's default).
pub const MAX_ROOT_LENGTH: u64 = 512_000;
/// Largest timestamp accepted.
pub const MAX_TIMESTAMP_LENGTH: u64 = 16_384;
/// Largest snapshot accepted when the timestamp does not list its length.
pub const MAX_SNAPSHOT_LENGTH: u64 = 2_000_000;
/// Largest targets role accepted when the snapshot does not list its length.
pub const MAX_TARGETS_LENGTH: u64 = 5_000_000;
/// Most root versions followed in one refresh.
pub const MAX_ROOT_ROTATIONS: u64 = 256;
/// Most delegated roles visited while searching for one target (the core's
/// [`fwsign_core::search::MAX_DELEGATIONS`]).
pub const MAX_DELEGATIONS: usize = fwsign_core::search::MAX_DELEGATIONS;

/// The top-level roles, whose local files no delegated role may share.
const TOP_LEVEL_ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with an error status other than 403 or 404.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The response was longer than allowed (endless data attack).
    #[error("more than {0} bytes")]
    TooLong(u64),
    /// The transport failed.
    #[error("{0}")]
    Transport(String),
}

/// Fetches bytes by URL. Implementations must never return more than
/// `max_len` bytes, stop reading as soon as the limit is passed, and report
/// 403 and 404 as `Ok(None)`.
pub trait Fetcher {
    /// Fetches `url`, at most `max_len` bytes.
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError>;
}

/// Why the client refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A fetch failed.
    #[error("{url}: {source}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        #[source]
        source: FetchError,
    },
    /// A required file is not on the server.
    #[error("{url}: not found")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// Metadata failed a check of the TUF workflow.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// Local files could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No trusted targets role lists the target.
    #[error("target {0:?} is not listed by any trusted targets role")]
    TargetNotFound(String),
    /// The delegation search visited too many roles.
    #[error("delegation search for {0:?} visited more than {MAX_DELEGATIONS} roles")]
    DelegationLimit(String),
    /// A target name that would not name a file in the target directory
    /// (empty, `.` or `..`); refused before anything is read or written.
    #[error("target name {name:?} is refused: {why}")]
    InvalidTargetName {
        /// The name.
        name: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// A delegated role whose local file name, compared as a
    /// case-insensitive, Unicode-normalising file system does, is another
    /// trusted role's: storing it would overwrite that role's copy
    /// (`Root.json` over `root.json`).
    #[error(
        "delegated role {role:?} is refused: its local file {file:?} is trusted role {other:?}'s on a case-insensitive file system"
    )]
    RoleNameCollision {
        /// The delegated role.
        role: String,
        /// Its local file name.
        file: String,
        /// The trusted role it collides with.
        other: String,
    },
    /// The downloaded target does not match its metadata.
    #[error("target {name:?}: {source}")]
    TargetMismatch {
        /// The target.
        name: String,
        /// Length or hash mismatch, or an unknown hash algorithm.
        #[source]
        source: TargetRefusal,
    },
    /// The target's firmware fields refuse this device.
    #[error("target {name:?} is refused for this device: {source}")]
    FirmwareRefused {
        /// The target.
        name: String,
        /// Which device check failed.
        #[source]
        source: TargetRefusal,
    },
    /// `--with-sbom` for a target whose signed entry names no SBOM target
    /// (`custom.fwsign.sbom_target`).
    #[error("target {0:?} names no SBOM (its signed entry has no custom.fwsign.sbom_target)")]
    NoSbom(String),
    /// An image asked for its SBOM (`identify --sbom-out`) that no target
    /// of the current metadata is: nothing in force approves an SBOM for
    /// it.
    #[error(
        "the image (sha256 {sha256}) is not a target of the current metadata: no SBOM approved with it is in force"
    )]
    NotCurrent {
        /// The image's SHA-256, lowercase hex.
        sha256: String,
    },
    /// An image released under several names whose signed entries name
    /// different SBOMs: which one to return is not the client's to guess.
    #[error("the image is released under several names naming different SBOMs: {}", .0.join(", "))]
    SbomAmbiguous(Vec<String>),
    /// The client was used wrongly (for example no trusted root).
    #[error("{0}")]
    Usage(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ClientError + '_ {
    move |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn refused(role: &str, source: WorkflowError) -> ClientError {
    ClientError::Trust(TrustError::Refused {
        role: role.to_owned(),
        source,
    })
}

/// A [`Fetcher`] over files on this machine: each URL is a path (a
/// repository's `metadata/` and `targets/` directories, read as a client
/// reads them from a server). A path with a `..` component is refused, and
/// a missing file is "not found", as a 404 is.
#[derive(Debug, Clone, Copy, Default)]
pub struct DirFetcher;

impl Fetcher for DirFetcher {
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError> {
        use std::io::Read;
        let path = Path::new(url);
        if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(FetchError::Transport(format!(
                "{url}: a path with `..` is refused"
            )));
        }
        let file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FetchError::Transport(format!("{url}: {e}"))),
        };
        let mut bytes = Vec::new();
        file.take(max_len.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| FetchError::Transport(format!("{url}: {e}")))?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max_len {
            return Err(FetchError::TooLong(max_len));
        }
        Ok(Some(bytes))
    }
}

/// Refuses target names that do not name a file of their own in the target
/// directory, where a target is written as `quote(name)`: the empty name,
/// `.` and `..` (every other name quotes to a plain file name).
pub fn check_target_name(name: &str) -> Result<(), ClientError> {
    let why = match name {
        "" => "it is empty",
        "." | ".." => "it names a directory, not a file",
        _ => return Ok(()),
    };
    Err(ClientError::InvalidTargetName {
        name: name.to_owned(),
        why,
    })
}

/// Where the client keeps its state and fetches from.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The local metadata directory.
    pub metadata_dir: PathBuf,
    /// Base URL of the metadata (with or without a trailing `/`).
    pub metadata_url: String,
    /// The one time expiry is checked against for the whole run.
    pub now: UnixTime,
}

/// A target found in trusted metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// The target name.
    pub name: String,
    /// The role that lists it.
    pub role: String,
    /// The role the search reached it through (`root` for `targets`):
    /// whose keys and threshold its signatures were checked against.
    pub delegated_by: String,
    /// Its length.
    pub length: u64,
    /// Its hashes, in the order listed (canonical: by algorithm name).
    pub hashes: Vec<(String, String)>,
    /// Its `custom` object, if any.
    pub custom: Option<Value>,
    /// The listing role's canonical envelope, as the search verified it:
    /// the entry the core's checks read.
    envelope: Vec<u8>,
}

impl TargetInfo {
    /// The firmware fields `custom.fwsign`, if any (for display; the checks
    /// read the signed entry through the core).
    pub fn firmware(&self) -> Option<&Value> {
        self.custom.as_ref()?.get("fwsign")
    }

    /// The signed entry, read from the verified role.
    fn entry(&self) -> Result<TargetEntry<'_>, ClientError> {
        let malformed = |e: fwsign_core::verify::VerifyError| refused(&self.role, e.into());
        let view = TargetsView::new(Envelope::parse(&self.envelope).map_err(malformed)?)
            .map_err(malformed)?;
        view.target(&self.name)
            .map_err(malformed)?
            .ok_or_else(|| ClientError::TargetNotFound(self.name.clone()))
    }

    /// Checks the target against a device, through the core's
    /// [`target_check::check_device`]: the hardware ID listed, the security
    /// counter not below the installed one, the bootloader at least the
    /// image's `min_bootloader_version` (an image that sets one is refused
    /// when no bootloader version is given).
    pub fn check_device(&self, facts: &DeviceFacts<'_>) -> Result<(), ClientError> {
        target_check::check_device(&self.entry()?, facts).map_err(|source| {
            ClientError::FirmwareRefused {
                name: self.name.clone(),
                source,
            }
        })
    }
}

/// Checks image bytes against the signed entry: the length and every listed
/// hash ([`target_check::check_image_digests`]).
fn check_image(entry: &TargetEntry<'_>, bytes: &[u8]) -> Result<(), TargetRefusal> {
    let mut digests = Digests::for_hashes(entry.hashes);
    digests.update(bytes);
    target_check::check_image_digests(entry, &digests.finish())
}

/// The TUF client.
#[derive(Debug)]
pub struct Client<F: Fetcher> {
    config: ClientConfig,
    fetcher: F,
    key_types: Vec<&'static dyn KeyType>,
    trusted: TrustedSet,
    refreshed: bool,
    /// Targets roles as received that passed their checks in this run, by
    /// role. Later searches are served these bytes instead of a request;
    /// the core verifies them again, against the delegator each search
    /// reaches the role through.
    verified_raw: BTreeMap<String, Vec<u8>>,
    /// The file-name key ([`file_name_key`]) of every role trusted so far,
    /// and that role.
    file_keys: BTreeMap<String, String>,
}

/// Stores a trusted root to start from (`client init`): no network request.
pub fn init(metadata_dir: &Path, trusted_root: &[u8]) -> Result<(), ClientError> {
    fs::create_dir_all(metadata_dir).map_err(io_err(metadata_dir))?;
    let path = metadata_dir.join("root.json");
    write_atomic(&path, trusted_root, Mode::Public).map_err(io_err(&path))
}

impl<F: Fetcher> Client<F> {
    /// Loads the trusted root from the metadata directory; it must be valid
    /// and signed by its own threshold, before any request is made.
    pub fn new(
        config: ClientConfig,
        fetcher: F,
        key_types: &[&'static dyn KeyType],
    ) -> Result<Self, ClientError> {
        let path = config.metadata_dir.join("root.json");
        let root = fs::read(&path).map_err(io_err(&path))?;
        let trusted = TrustedSet::new(&root, key_types, Some(config.now))?;
        let file_keys = TOP_LEVEL_ROLES
            .iter()
            .map(|r| (file_name_key(r), (*r).to_owned()))
            .collect();
        Ok(Self {
            config,
            fetcher,
            key_types: key_types.to_vec(),
            trusted,
            refreshed: false,
            verified_raw: BTreeMap::new(),
            file_keys,
        })
    }

    /// The trusted metadata so far.
    pub fn trusted(&self) -> &TrustedSet {
        &self.trusted
    }

    fn remote(&mut self) -> Remote<'_, F> {
        Remote {
            fetcher: &mut self.fetcher,
            config: &self.config,
        }
    }

    fn consistent(&self) -> bool {
        self.trusted.root().consistent_snapshot()
    }

    /// Runs the whole workflow: root chain, timestamp, snapshot, top-level
    /// targets.
    pub fn refresh(&mut self) -> Result<(), ClientError> {
        self.update_root()?;
        self.update_timestamp()?;
        self.update_snapshot()?;
        self.update_top_level_targets()?;
        self.refreshed = true;
        Ok(())
    }

    fn update_root(&mut self) -> Result<(), ClientError> {
        let start = self.trusted.root().common().version;
        let last = start.saturating_add(MAX_ROOT_ROTATIONS);
        let mut next = start.saturating_add(1);
        while next <= last {
            let mut remote = self.remote();
            let url = remote.url(&format!("{next}.root.json"));
            let Some(bytes) = remote.fetch(url, MAX_ROOT_LENGTH)? else {
                break;
            };
            self.trusted.update_root(&bytes)?;
            // Persisted as soon as it verifies, so a later failure does not
            // lose the rotation.
            self.remote().persist("root", &bytes)?;
            next = next.saturating_add(1);
        }
        self.trusted.check_root_expiry()?;
        Ok(())
    }

    fn update_timestamp(&mut self) -> Result<(), ClientError> {
        if let Some(local) = self.remote().local("timestamp") {
            // Only a baseline against rollback; it may have expired, and keys
            // may have rotated since (then it is simply not used).
            let _ = self.trusted.update_timestamp_ignoring_expiry(&local);
        }
        let mut remote = self.remote();
        let url = remote.url("timestamp.json");
        let bytes = remote.fetch_required(url, MAX_TIMESTAMP_LENGTH)?;
        match self.trusted.update_timestamp(&bytes)? {
            TimestampUpdate::Updated => self.remote().persist("timestamp", &bytes)?,
            TimestampUpdate::Unchanged => self.trusted.check_timestamp_expiry()?,
        }
        Ok(())
    }

    fn update_snapshot(&mut self) -> Result<(), ClientError> {
        let (version, length) = {
            let ts = self
                .trusted
                .timestamp()
                .ok_or_else(|| ClientError::Usage("no trusted timestamp".into()))?;
            (ts.snapshot.version, ts.snapshot.length)
        };
        if let Some(local) = self.remote().local("snapshot")
            && self.trusted.load_local_snapshot(&local).is_ok()
        {
            let local_version = self.trusted.snapshot().map(|s| s.version);
            if local_version == Some(version) && self.trusted.update_snapshot(&local).is_ok() {
                return Ok(());
            }
        }
        let file = if self.consistent() {
            format!("{version}.snapshot.json")
        } else {
            "snapshot.json".to_owned()
        };
        let mut remote = self.remote();
        let url = remote.url(&file);
        let bytes = remote.fetch_required(url, length.unwrap_or(MAX_SNAPSHOT_LENGTH))?;
        self.trusted.update_snapshot(&bytes)?;
        self.remote().persist("snapshot", &bytes)?;
        Ok(())
    }

    /// Spec 5.6 for top-level `targets` (the search starts from it, and
    /// checks it again): the local copy if it verifies, else fetched.
    fn update_top_level_targets(&mut self) -> Result<(), ClientError> {
        let listed = self
            .trusted
            .snapshot()
            .ok_or_else(|| ClientError::Usage("no trusted snapshot".into()))?
            .targets_role(b"targets")
            .map_err(|e| refused("snapshot", e))?
            .ok_or_else(|| refused("targets", WorkflowError::NotListed))?;
        let (version, length) = (listed.version, listed.length);
        if let Some(local) = self.remote().local("targets")
            && self.trusted.update_targets("targets", None, &local).is_ok()
        {
            self.verified_raw.insert("targets".to_owned(), local);
            return Ok(());
        }
        let consistent = self.consistent();
        let bytes = self
            .remote()
            .fetch_role("targets", version, length, consistent)?;
        self.trusted.update_targets("targets", None, &bytes)?;
        self.remote().persist("targets", &bytes)?;
        self.verified_raw.insert("targets".to_owned(), bytes);
        Ok(())
    }

    /// Finds `name` by the TUF delegation search, which the core runs
    /// ([`fwsign_core::search::search_target`]): pre-order depth-first from
    /// `targets`, entering only delegations whose paths cover the name, the
    /// first role listing it answering, a terminating delegation ending the
    /// search, each role visited once, and every role checked against the
    /// delegator it is reached through, exactly like a top-level one. A
    /// role that fails its checks fails the search (python-tuf 7 raises
    /// too); only a local copy from an earlier run that fails them is
    /// fetched again.
    pub fn find_target(&mut self, name: &str) -> Result<TargetInfo, ClientError> {
        check_target_name(name)?;
        if !self.refreshed {
            self.refresh()?;
        }
        let mut refetch = BTreeSet::new();
        loop {
            match self.search(name, &refetch)? {
                Attempt::Done(info) => return Ok(info),
                // Each role is fetched again at most once, so this ends.
                Attempt::Refetch(role) => {
                    refetch.insert(role);
                }
            }
        }
    }

    /// One run of the search.
    fn search(&mut self, name: &str, refetch: &BTreeSet<String>) -> Result<Attempt, ClientError> {
        let arena = Arena::new();
        let consistent = self.consistent();
        let root = self.trusted.root();
        let snapshot = self
            .trusted
            .snapshot()
            .ok_or_else(|| ClientError::Usage("no trusted snapshot".into()))?;
        let mut loader = Loader {
            arena: &arena,
            remote: Remote {
                fetcher: &mut self.fetcher,
                config: &self.config,
            },
            consistent,
            snapshot,
            verified_raw: &mut self.verified_raw,
            file_keys: &mut self.file_keys,
            refetch,
            served: Vec::new(),
            memory: Memory::default(),
            persist_error: None,
        };
        let check = SnapshotCheck {
            snapshot,
            now: Some(self.config.now),
        };
        let result = search_host::run(&root, &check, name, &mut loader, &self.key_types);
        if let Some(e) = loader.persist_error.take() {
            return Err(e);
        }
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(SearchError::Refused { role, error }) => {
                let role_text = role_name(role);
                return match loader.served(role) {
                    Some((_, Source::Disk)) if !refetch.contains(&role_text) => {
                        Ok(Attempt::Refetch(role_text))
                    }
                    _ => Err(refused(&role_text, error)),
                };
            }
            Err(SearchError::Load(e)) => return Err(e),
            Err(SearchError::Missing { role, .. }) => {
                return Err(refused(&role_name(role), WorkflowError::NotListed));
            }
            // DelegationLimit, CapacityExceeded, and any reason added later.
            Err(_) => {
                return Err(ClientError::DelegationLimit(name.to_owned()));
            }
        };
        let found = outcome
            .found
            .ok_or_else(|| ClientError::TargetNotFound(name.to_owned()))?;
        let role = role_name(found.role);
        let delegated_by = outcome
            .path
            .iter()
            .rev()
            .nth(1)
            .map_or_else(|| "root".to_owned(), |r| role_name(r));
        let (bytes, _) = loader
            .served(found.role)
            .ok_or_else(|| ClientError::Usage(format!("role {role} was not loaded")))?;
        // The core refused non-string hashes when it read the entry.
        let mut hashes = Vec::new();
        for (alg, h) in found.entry.hashes.members() {
            let (Some(alg), Some(h)) = (
                String::from_utf8(alg.bytes().collect()).ok(),
                h.as_str()
                    .and_then(|h| String::from_utf8(h.bytes().collect()).ok()),
            ) else {
                return Err(ClientError::TargetMismatch {
                    name: name.to_owned(),
                    source: TargetRefusal::HashMismatch,
                });
            };
            hashes.push((alg, h));
        }
        if let Some(order) = hash_order(bytes.raw, name) {
            hashes.sort_by_key(|(alg, _)| order.iter().position(|o| o == alg));
        }
        let custom = found
            .view
            .envelope()
            .signed()
            .get("targets")
            .and_then(|t| t.get(name))
            .and_then(|t| t.get("custom"))
            .and_then(|c| serde_json::from_slice(c.as_bytes()).ok());
        Ok(Attempt::Done(TargetInfo {
            name: name.to_owned(),
            role,
            delegated_by,
            length: found.entry.length,
            hashes,
            custom,
            envelope: bytes.canonical.to_vec(),
        }))
    }

    /// Downloads a target into `target_dir` (as `quote(name)`), unless an
    /// identical copy is already there. At most `length` bytes are fetched,
    /// and the length and every listed hash are checked by the core
    /// ([`target_check::check_image_digests`]) before the file is written.
    pub fn download(
        &mut self,
        target: &TargetInfo,
        target_dir: &Path,
        target_base_url: &str,
    ) -> Result<PathBuf, ClientError> {
        check_target_name(&target.name)?;
        let entry = target.entry()?;
        let path = target_dir.join(quote(&target.name));
        if let Ok(existing) = fs::read(&path)
            && check_image(&entry, &existing).is_ok()
        {
            return Ok(path);
        }
        let bytes = self.fetch_target(target, target_base_url)?;
        fs::create_dir_all(target_dir).map_err(io_err(target_dir))?;
        write_atomic(&path, &bytes, Mode::Public).map_err(io_err(&path))?;
        Ok(path)
    }

    /// Downloads a target to the file `path` (replaced atomically, as
    /// [`Client::download`] replaces its copy), its length and every
    /// listed hash checked by the core first: on any refusal nothing is
    /// written and a file already at `path` stays as it was.
    pub fn download_to(
        &mut self,
        target: &TargetInfo,
        target_base_url: &str,
        path: &Path,
    ) -> Result<(), ClientError> {
        let bytes = self.fetch_target(target, target_base_url)?;
        write_atomic(path, &bytes, Mode::Public).map_err(io_err(path))
    }

    /// Fetches a target's bytes (at most its listed length) and checks
    /// them against its signed entry ([`target_check::check_image_digests`]).
    fn fetch_target(
        &mut self,
        target: &TargetInfo,
        target_base_url: &str,
    ) -> Result<Vec<u8>, ClientError> {
        check_target_name(&target.name)?;
        let entry = target.entry()?;
        let (_, first_hash) = target
            .hashes
            .first()
            .ok_or_else(|| ClientError::TargetMismatch {
                name: target.name.clone(),
                source: TargetRefusal::HashMismatch,
            })?;
        let remote = if self.consistent() {
            match target.name.rsplit_once('/') {
                Some((dir, base)) => format!("{dir}/{first_hash}.{base}"),
                None => format!("{first_hash}.{}", target.name),
            }
        } else {
            target.name.clone()
        };
        let url = if target_base_url.ends_with('/') {
            format!("{target_base_url}{remote}")
        } else {
            format!("{target_base_url}/{remote}")
        };
        let bytes = self.remote().fetch_required(url, entry.length)?;
        check_image(&entry, &bytes).map_err(|source| ClientError::TargetMismatch {
            name: target.name.clone(),
            source,
        })?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::{ClientError, DirFetcher, FetchError, Fetcher, check_target_name, quote};

    #[test]
    fn dir_fetcher_reads_within_the_limit_and_refuses_parent_components() {
        let dir = std::env::temp_dir().join(format!("fwsign-dir-fetcher-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("metadata")).unwrap();
        let file = dir.join("metadata/1.root.json");
        std::fs::write(&file, b"0123456789").unwrap();
        let url = file.to_str().unwrap();
        let mut fetcher = DirFetcher;
        assert_eq!(fetcher.fetch(url, 10).unwrap().unwrap(), b"0123456789");
        // An endless-data server, played by a file longer than allowed.
        assert!(matches!(fetcher.fetch(url, 9), Err(FetchError::TooLong(9))));
        // A missing file is "not found", as a 404 is.
        let missing = dir.join("metadata/2.root.json");
        assert!(
            fetcher
                .fetch(missing.to_str().unwrap(), 10)
                .unwrap()
                .is_none()
        );
        // A path climbing out of the directory is refused, not read.
        let climbing = format!("{}/metadata/../metadata/1.root.json", dir.display());
        assert!(matches!(
            fetcher.fetch(&climbing, 10),
            Err(FetchError::Transport(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn target_names_that_are_not_files_of_their_own_are_refused() {
        for bad in ["", ".", ".."] {
            assert!(
                matches!(
                    check_target_name(bad),
                    Err(ClientError::InvalidTargetName { .. })
                ),
                "{bad:?}"
            );
        }
        // Everything else quotes to one plain file name.
        for ok in ["...", "../x", "a/..", "./", "fw.bin", " "] {
            check_target_name(ok).unwrap();
            let file = quote(ok);
            assert!(file != "." && file != ".." && !file.contains('/'), "{ok:?}");
        }
    }
}
