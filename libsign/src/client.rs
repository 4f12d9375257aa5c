//! A TUF update client: the complete client workflow of the TUF
//! specification (section 5), for Linux-based devices, update agents and CI.
//!
//! Every trust decision is made by [`crate::trusted_set::TrustedSet`] over
//! the `no_std` workflow steps; this module only orders the requests, keeps
//! the local copies and fetches through a [`Fetcher`], so an update agent can
//! plug in its own transport.
//!
//! Local state in the metadata directory is the exact bytes last accepted,
//! under non-versioned names: `root.json`, `timestamp.json`,
//! `snapshot.json`, `targets.json`, and `<enc(role)>.json` for delegated
//! roles, where `enc` is Python's `urllib.parse.quote(s, safe="")`. Nothing
//! that failed a check is ever stored.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;
use serde_json::Value;

use crate::atomic_write::{Mode, write_atomic};
use crate::key_types::KeyType;
use crate::trusted_set::{TimestampUpdate, TrustError, TrustedSet};
use crate::workflow::{Digests, WorkflowError};

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
/// Most delegated roles visited while searching for one target.
pub const MAX_DELEGATIONS: usize = 32;

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
    /// The downloaded target does not match its metadata.
    #[error("target {name:?}: {source}")]
    TargetMismatch {
        /// The target.
        name: String,
        /// Length or hash mismatch, or an unknown hash algorithm.
        #[source]
        source: WorkflowError,
    },
    /// The target's firmware fields refuse this device.
    #[error("target {name:?}: {why}")]
    FirmwareRefused {
        /// The target.
        name: String,
        /// Which device check failed.
        why: String,
    },
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

/// Python's `urllib.parse.quote(s, safe="")`, byte for byte: unreserved
/// characters `A-Z a-z 0-9 _ . - ~` are kept and every other UTF-8 byte is
/// written as uppercase `%XX`. Used for URLs and local file names, so no
/// role or target name can add a path separator.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The local file name of a role's metadata.
fn local_name(role: &str) -> String {
    format!("{}.json", quote(role))
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
    /// Its length.
    pub length: u64,
    /// Its hashes, in the order listed (canonical: by algorithm name).
    pub hashes: Vec<(String, String)>,
    /// Its `custom` object, if any.
    pub custom: Option<Value>,
}

impl TargetInfo {
    /// The firmware fields `custom.fwsign`, if any.
    pub fn firmware(&self) -> Option<&Value> {
        self.custom.as_ref()?.get("fwsign")
    }

    /// Checks the target against a device: its hardware ID must be listed
    /// and its security counter must not be below the installed one.
    pub fn check_device(
        &self,
        hardware_id: Option<&str>,
        installed_counter: Option<u64>,
    ) -> Result<(), ClientError> {
        if hardware_id.is_none() && installed_counter.is_none() {
            return Ok(());
        }
        let refuse = |why: String| ClientError::FirmwareRefused {
            name: self.name.clone(),
            why,
        };
        let fw = self
            .firmware()
            .ok_or_else(|| refuse("it carries no firmware fields (custom.fwsign)".into()))?;
        if let Some(id) = hardware_id {
            let listed = fw
                .get("hardware_ids")
                .and_then(Value::as_array)
                .is_some_and(|ids| ids.iter().any(|h| h.as_str() == Some(id)));
            if !listed {
                return Err(refuse(format!("hardware ID {id} is not listed")));
            }
        }
        if let Some(installed) = installed_counter {
            let counter = fw
                .get("security_counter")
                .and_then(Value::as_u64)
                .ok_or_else(|| refuse("it has no security_counter".into()))?;
            if counter < installed {
                return Err(refuse(format!(
                    "security counter {counter} is below the installed {installed} (rollback)"
                )));
            }
        }
        Ok(())
    }
}

/// The TUF client.
#[derive(Debug)]
pub struct Client<F: Fetcher> {
    config: ClientConfig,
    fetcher: F,
    trusted: TrustedSet,
    refreshed: bool,
    /// Targets roles as received, to verify a role again when another
    /// delegator reaches it.
    targets_raw: BTreeMap<String, Vec<u8>>,
    /// `(role, delegator)` pairs verified so far.
    verified_via: BTreeSet<(String, Option<String>)>,
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
        Ok(Self {
            config,
            fetcher,
            trusted,
            refreshed: false,
            targets_raw: BTreeMap::new(),
            verified_via: BTreeSet::new(),
        })
    }

    /// The trusted metadata so far.
    pub fn trusted(&self) -> &TrustedSet {
        &self.trusted
    }

    fn url(&self, file: &str) -> String {
        let base = &self.config.metadata_url;
        if base.ends_with('/') {
            format!("{base}{file}")
        } else {
            format!("{base}/{file}")
        }
    }

    fn fetch(&mut self, url: String, max_len: u64) -> Result<Option<Vec<u8>>, ClientError> {
        self.fetcher
            .fetch(&url, max_len)
            .map_err(|source| ClientError::Fetch { url, source })
    }

    fn fetch_required(&mut self, url: String, max_len: u64) -> Result<Vec<u8>, ClientError> {
        match self.fetch(url.clone(), max_len)? {
            Some(bytes) => Ok(bytes),
            None => Err(ClientError::NotFound { url }),
        }
    }

    fn persist(&self, role: &str, bytes: &[u8]) -> Result<(), ClientError> {
        let path = self.config.metadata_dir.join(local_name(role));
        write_atomic(&path, bytes, Mode::Public).map_err(io_err(&path))
    }

    fn local(&self, role: &str) -> Option<Vec<u8>> {
        fs::read(self.config.metadata_dir.join(local_name(role))).ok()
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
        self.update_targets("targets", None)?;
        self.refreshed = true;
        Ok(())
    }

    fn update_root(&mut self) -> Result<(), ClientError> {
        let start = self.trusted.root().common().version;
        let last = start.saturating_add(MAX_ROOT_ROTATIONS);
        let mut next = start.saturating_add(1);
        while next <= last {
            let url = self.url(&format!("{next}.root.json"));
            let Some(bytes) = self.fetch(url, MAX_ROOT_LENGTH)? else {
                break;
            };
            self.trusted.update_root(&bytes)?;
            // Persisted as soon as it verifies, so a later failure does not
            // lose the rotation.
            self.persist("root", &bytes)?;
            next = next.saturating_add(1);
        }
        self.trusted.check_root_expiry()?;
        Ok(())
    }

    fn update_timestamp(&mut self) -> Result<(), ClientError> {
        if let Some(local) = self.local("timestamp") {
            // Only a baseline against rollback; it may have expired, and keys
            // may have rotated since (then it is simply not used).
            let _ = self.trusted.update_timestamp_ignoring_expiry(&local);
        }
        let bytes = self.fetch_required(self.url("timestamp.json"), MAX_TIMESTAMP_LENGTH)?;
        match self.trusted.update_timestamp(&bytes)? {
            TimestampUpdate::Updated => self.persist("timestamp", &bytes)?,
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
        if let Some(local) = self.local("snapshot")
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
        let bytes = self.fetch_required(self.url(&file), length.unwrap_or(MAX_SNAPSHOT_LENGTH))?;
        self.trusted.update_snapshot(&bytes)?;
        self.persist("snapshot", &bytes)?;
        Ok(())
    }

    fn update_targets(&mut self, role: &str, parent: Option<&str>) -> Result<(), ClientError> {
        let key = (role.to_owned(), parent.map(str::to_owned));
        if self.verified_via.contains(&key) {
            return Ok(());
        }
        if let Some(raw) = self.targets_raw.get(role).cloned() {
            // Reached through another delegator (a diamond): verified again
            // with that delegator's keys and threshold.
            self.trusted.update_targets(role, parent, &raw)?;
            self.verified_via.insert(key);
            return Ok(());
        }
        let listed = self
            .trusted
            .snapshot()
            .ok_or_else(|| ClientError::Usage("no trusted snapshot".into()))?
            .role(&format!("{role}.json"))
            .map_err(|e| TrustError::Refused {
                role: "snapshot".into(),
                source: e,
            })?
            .ok_or_else(|| TrustError::Refused {
                role: role.to_owned(),
                source: WorkflowError::NotListed,
            })?;
        let (version, length) = (listed.version, listed.length);
        if let Some(local) = self.local(role)
            && self.trusted.update_targets(role, parent, &local).is_ok()
        {
            self.targets_raw.insert(role.to_owned(), local);
            self.verified_via.insert(key);
            return Ok(());
        }
        let file = if self.consistent() {
            format!("{version}.{}.json", quote(role))
        } else {
            format!("{}.json", quote(role))
        };
        let bytes = self.fetch_required(self.url(&file), length.unwrap_or(MAX_TARGETS_LENGTH))?;
        self.trusted.update_targets(role, parent, &bytes)?;
        self.persist(role, &bytes)?;
        self.targets_raw.insert(role.to_owned(), bytes);
        self.verified_via.insert(key);
        Ok(())
    }

    /// Finds `name` by the TUF delegation search: pre-order depth-first from
    /// `targets`, following only delegations whose paths cover the name,
    /// stopping at a terminating delegation, visiting each role once, and
    /// checking every delegated role exactly like a top-level one.
    pub fn find_target(&mut self, name: &str) -> Result<TargetInfo, ClientError> {
        if !self.refreshed {
            self.refresh()?;
        }
        let mut stack: Vec<(String, Option<String>)> = vec![("targets".into(), None)];
        // Visited by (role, delegator), as python-tuf does: a role reached
        // through a second delegator is searched (and verified) again.
        let mut visited: BTreeSet<(String, Option<String>)> = BTreeSet::new();
        while let Some((role, parent)) = stack.pop() {
            if visited.len() > MAX_DELEGATIONS {
                return Err(ClientError::DelegationLimit(name.to_owned()));
            }
            if visited.contains(&(role.clone(), parent.clone())) {
                continue;
            }
            let reached_before = visited.iter().any(|(r, _)| r == &role);
            match self.update_targets(&role, parent.as_deref()) {
                Ok(()) => {}
                // A diamond: the role was trusted through another delegator,
                // and is verified again with this one's keys. If they do not
                // vouch for it, this path is not followed (python-tuf skips
                // the role here too); it never becomes trusted through it.
                Err(ClientError::Trust(_)) if reached_before => {
                    visited.insert((role.clone(), parent.clone()));
                    continue;
                }
                Err(e) => return Err(e),
            }
            let view = self
                .trusted
                .targets(&role)
                .ok_or_else(|| ClientError::Usage(format!("role {role} not loaded")))?;
            if let Some(entry) = view.target(name).map_err(|e| TrustError::Refused {
                role: role.clone(),
                source: e.into(),
            })? {
                // The core refused non-string hashes when it read the entry.
                let mut hashes = Vec::new();
                for (alg, h) in entry.hashes.members() {
                    let (Some(alg), Some(h)) = (
                        String::from_utf8(alg.bytes().collect()).ok(),
                        h.as_str()
                            .and_then(|h| String::from_utf8(h.bytes().collect()).ok()),
                    ) else {
                        return Err(ClientError::TargetMismatch {
                            name: name.to_owned(),
                            source: WorkflowError::HashMismatch,
                        });
                    };
                    hashes.push((alg, h));
                }
                if let Some(order) = self
                    .targets_raw
                    .get(&role)
                    .and_then(|raw| hash_order(raw, name))
                {
                    hashes.sort_by_key(|(alg, _)| order.iter().position(|o| o == alg));
                }
                let custom = view
                    .envelope()
                    .signed()
                    .get("targets")
                    .and_then(|t| t.get(name))
                    .and_then(|t| t.get("custom"))
                    .and_then(|c| serde_json::from_slice(c.as_bytes()).ok());
                return Ok(TargetInfo {
                    name: name.to_owned(),
                    role,
                    length: entry.length,
                    hashes,
                    custom,
                });
            }
            visited.insert((role.clone(), parent.clone()));
            // Children in order, pushed reversed so the first is searched
            // first; a terminating match cuts off the rest.
            let mut children = Vec::new();
            for delegated in view.delegated_roles() {
                let Some(child) = delegated
                    .name()
                    .and_then(|n| String::from_utf8(n.bytes().collect()).ok())
                else {
                    continue;
                };
                if delegated.covers(name) {
                    children.push(child);
                    if delegated.terminating() {
                        // Roles after a terminating match are not searched,
                        // and neither is anything still on the stack.
                        stack.clear();
                        break;
                    }
                }
            }
            for child in children.into_iter().rev() {
                stack.push((child, Some(role.clone())));
            }
        }
        Err(ClientError::TargetNotFound(name.to_owned()))
    }

    /// Downloads a target into `target_dir` (as `enc(name)`), unless an
    /// identical copy is already there. At most `length` bytes are fetched
    /// and every listed hash is checked before the file is written.
    pub fn download(
        &mut self,
        target: &TargetInfo,
        target_dir: &Path,
        target_base_url: &str,
    ) -> Result<PathBuf, ClientError> {
        let path = target_dir.join(quote(&target.name));
        if let Ok(existing) = fs::read(&path)
            && check_target(target, &existing).is_ok()
        {
            return Ok(path);
        }
        let (_, first_hash) = target
            .hashes
            .first()
            .ok_or_else(|| ClientError::TargetMismatch {
                name: target.name.clone(),
                source: WorkflowError::HashMismatch,
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
        let bytes = self.fetch_required(url, target.length)?;
        check_target(target, &bytes)?;
        fs::create_dir_all(target_dir).map_err(io_err(target_dir))?;
        write_atomic(&path, &bytes, Mode::Public).map_err(io_err(&path))?;
        Ok(path)
    }
}

/// A JSON value that remembers the order of object members as written, to
/// find which hash a repository lists first (python-tuf fetches a target by
/// the first hash in file order, and canonical form sorts them).
enum Ordered {
    Map(Vec<(String, Ordered)>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
                    members.push((k, v));
                }
                Ok(Ordered::Map(members))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Ordered, A::Error> {
                while seq.next_element::<Ordered>()?.is_some() {}
                Ok(Ordered::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Ordered {
    fn get(&self, key: &str) -> Option<&Ordered> {
        match self {
            Ordered::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Ordered::Other => None,
        }
    }
}

/// The algorithms of `name`'s hashes in the order the raw targets file lists
/// them (the file was already accepted by the strict reader).
fn hash_order(raw: &[u8], name: &str) -> Option<Vec<String>> {
    let doc: Ordered = serde_json::from_slice(raw).ok()?;
    match doc
        .get("signed")?
        .get("targets")?
        .get(name)?
        .get("hashes")?
    {
        Ordered::Map(m) => Some(m.iter().map(|(k, _)| k.clone()).collect()),
        Ordered::Other => None,
    }
}

/// Checks bytes against a target's length and every listed hash.
fn check_target(target: &TargetInfo, bytes: &[u8]) -> Result<(), ClientError> {
    let mismatch = |source| ClientError::TargetMismatch {
        name: target.name.clone(),
        source,
    };
    if bytes.len() as u64 != target.length {
        return Err(mismatch(WorkflowError::LengthMismatch));
    }
    let mut digests = Digests::new(target.hashes.iter().any(|(alg, _)| alg == "sha512"));
    digests.update(bytes);
    let digests = digests.finish();
    for (algorithm, expected) in &target.hashes {
        digests.check_one(algorithm, expected).map_err(mismatch)?;
    }
    Ok(())
}

/// Fetches over HTTP(S) with `ureq` (rustls), reading at most the cap.
#[cfg(feature = "http")]
#[derive(Debug)]
pub struct HttpFetcher {
    agent: ureq::Agent,
}

#[cfg(feature = "http")]
impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "http")]
impl HttpFetcher {
    /// A fetcher with no retries and no redirects beyond ureq's defaults.
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build();
        Self {
            agent: config.into(),
        }
    }
}

#[cfg(feature = "http")]
impl Fetcher for HttpFetcher {
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError> {
        use std::io::Read;
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 403 || status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let mut body = Vec::new();
        let mut reader = response
            .into_body()
            .into_reader()
            .take(max_len.saturating_add(1));
        reader
            .read_to_end(&mut body)
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        if body.len() as u64 > max_len {
            return Err(FetchError::TooLong(max_len));
        }
        Ok(Some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quote_matches_python_urllib() {
        // urllib.parse.quote(s, safe="") for each.
        assert_eq!(quote("targets"), "targets");
        assert_eq!(quote("a/b"), "a%2Fb");
        assert_eq!(quote("../x"), "..%2Fx");
        assert_eq!(quote("a b?#%"), "a%20b%3F%23%25");
        assert_eq!(quote("é~_.-"), "%C3%A9~_.-");
        assert_eq!(quote("+=&"), "%2B%3D%26");
    }
}
