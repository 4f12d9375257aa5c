//! An in-process TUF repository simulator for the client tests, after the
//! TUF conformance suite's `RepositorySimulator`.
//!
//! A [`Simulator`] holds the four top-level roles and any delegated targets
//! roles as fwsign's typed metadata, signs them with Ed25519 keys it
//! generated (deterministic signatures, so re-rendering unchanged metadata
//! gives the same bytes and the length and hashes other roles list stay
//! right), and writes them as portable JSON (canonical, control characters
//! escaped) that strict readers accept. A test mutates any role — versions,
//! expiry, keys, signers, delegations, raw JSON edits before or after
//! signing — and publishes; [`RepoServer`] serves the result over HTTP/1.1
//! on `127.0.0.1` from a background thread and records every request in
//! order, so a test can assert exactly what a client asked for.
//!
//! Paths served: metadata under `/metadata/` (`<N>.root.json`,
//! `timestamp.json`, `<N>.<quote(role)>.json`; unversioned names too when
//! consistent snapshots are off) and targets under `/targets/`
//! (`<dir>/<hash>.<basename>` for every listed hash). Top-level roles are
//! signed by [`Simulator::signers`], delegated ones by
//! [`Simulator::delegated_signers`], so a delegated role may have any name,
//! top-level names included. Responses can also be a status, a delay or an
//! endless body ([`Body`]), and any path can be overridden.
//!
//! [`CliClient`] runs the `fwsign client` binary against a server, and
//! [`HttpGet`] is a std-only [`Fetcher`] for driving the client library
//! directly.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use fwsign_client::{FetchError, Fetcher};
use fwsign_keys::document::sign;
use fwsign_keys::{Algorithm, PrivateKey};
use fwsign_manifest_schema::canonical::to_portable_json;
use fwsign_manifest_schema::metadata::{
    DelegatedRole, Delegations, MetaFile, RoleKeys, Root, SPEC_VERSION, Signed, Snapshot,
    TargetFile, Targets, Timestamp,
};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};

/// An expiry no test reaches.
pub const FAR_FUTURE: &str = "2099-01-01T00:00:00Z";
/// An expiry every test has passed.
pub const PAST: &str = "2000-01-01T00:00:00Z";

/// How long the server waits on one connection's reads and writes.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head the server reads.
const MAX_HEAD: usize = 16 * 1024;
/// Most bytes an endless response sends before giving up.
pub const ENDLESS_LIMIT: u64 = 256 * 1024 * 1024;

/// Python's `urllib.parse.quote(s, safe="")`, written independently of
/// fwsign's so the tests check fwsign's encoding rather than reuse it.
pub fn py_quote(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lowercase hex SHA-512.
pub fn sha512_hex(data: &[u8]) -> String {
    hex(&Sha512::digest(data))
}

/// What the server answers for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `200 OK` with these bytes.
    Bytes(Vec<u8>),
    /// `200 OK` with a body that never ends (spaces, until the client
    /// hangs up or [`ENDLESS_LIMIT`] bytes were sent): the endless-data
    /// attack.
    Endless,
    /// This status with an empty body.
    Status(u16),
    /// `200 OK` with these bytes, sent after this delay (for checks that a
    /// client uses one start time for the whole run).
    Delayed(Duration, Vec<u8>),
}

#[derive(Debug, Default)]
struct Shared {
    files: BTreeMap<String, Body>,
    log: Vec<String>,
    endless_sent: Vec<u64>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A minimal HTTP/1.1 server on `127.0.0.1:0`: GET only (anything else is
/// `405`), `404` for unknown paths, one connection at a time, every
/// response `Connection: close`, reads and writes bounded by timeouts.
/// It stops when dropped.
#[derive(Debug)]
pub struct RepoServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Default for RepoServer {
    fn default() -> Self {
        Self::start()
    }
}

impl RepoServer {
    /// Starts an empty server.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn start() -> Self {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a port on 127.0.0.1");
        let addr = listener.local_addr().expect("the bound address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = handle(stream, &shared);
                    }
                }
            })
        };
        Self {
            addr,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// Starts a server for every file under `dir`, at `/<relative path>`.
    ///
    /// # Panics
    ///
    /// When `dir` cannot be read.
    pub fn from_dir(dir: &Path) -> Self {
        let server = Self::start();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).expect("read the served directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let rel = path.strip_prefix(dir).expect("under the served directory");
                    let url: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    let bytes = std::fs::read(&path).expect("read a served file");
                    server.set(&format!("/{}", url.join("/")), Body::Bytes(bytes));
                }
            }
        }
        server
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `body` at `path` (as the request line spells it, starting
    /// with `/`, percent-encoding included).
    pub fn set(&self, path: &str, body: Body) {
        lock(&self.shared).files.insert(path.to_owned(), body);
    }

    /// Stops serving `path` (then `404`).
    pub fn remove(&self, path: &str) {
        lock(&self.shared).files.remove(path);
    }

    /// The bytes served at `path`, if it serves bytes.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        match lock(&self.shared).files.get(path) {
            Some(Body::Bytes(b)) => Some(b.clone()),
            _ => None,
        }
    }

    /// Every path served.
    pub fn paths(&self) -> Vec<String> {
        lock(&self.shared).files.keys().cloned().collect()
    }

    /// Every request so far, in order: the path for a GET, `METHOD path`
    /// for anything else.
    pub fn log(&self) -> Vec<String> {
        lock(&self.shared).log.clone()
    }

    /// [`RepoServer::log`], and forgets it.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.shared).log)
    }

    /// Bytes sent by each finished endless response, in order.
    pub fn endless_sent(&self) -> Vec<u64> {
        lock(&self.shared).endless_sent.clone()
    }
}

impl Drop for RepoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(io::Error::other("request head too long"));
        }
        if stream.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(head)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

fn write_status(stream: &mut TcpStream, code: u16) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {code} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        reason(code)
    )
}

fn write_bytes(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )?;
    stream.write_all(bytes)
}

fn handle(mut stream: TcpStream, shared: &Mutex<Shared>) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) => (m.to_owned(), t.to_owned()),
        _ => return write_status(&mut stream, 400),
    };
    let body = {
        let mut s = lock(shared);
        if method == "GET" {
            s.log.push(target.clone());
            Some(s.files.get(&target).cloned())
        } else {
            s.log.push(format!("{method} {target}"));
            None
        }
    };
    match body {
        None => write_status(&mut stream, 405)?,
        Some(None) => write_status(&mut stream, 404)?,
        Some(Some(Body::Status(code))) => write_status(&mut stream, code)?,
        Some(Some(Body::Delayed(delay, bytes))) => {
            std::thread::sleep(delay);
            write_bytes(&mut stream, &bytes)?;
        }
        Some(Some(Body::Bytes(bytes))) => write_bytes(&mut stream, &bytes)?,
        Some(Some(Body::Endless)) => {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                  Connection: close\r\n\r\n",
            )?;
            let chunk = [b' '; 16 * 1024];
            let mut sent: u64 = 0;
            while sent < ENDLESS_LIMIT {
                match stream.write(&chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sent += n as u64,
                }
            }
            lock(shared).endless_sent.push(sent);
        }
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// A signing key shared between the roles and delegations that use it.
pub type Key = Rc<PrivateKey>;

/// An edit to a role's JSON, applied at every rendering.
pub type Edit = Box<dyn Fn(&mut Value)>;

/// An edit to a role's rendered bytes, applied at every rendering.
pub type BytesEdit = Box<dyn Fn(Vec<u8>) -> Vec<u8>>;

/// A new Ed25519 key (deterministic signatures).
///
/// # Panics
///
/// When the system's random generator fails.
pub fn new_key() -> Key {
    Rc::new(PrivateKey::generate(Algorithm::Ed25519).expect("generate an Ed25519 key"))
}

/// The key ID of `key`.
pub fn keyid(key: &PrivateKey) -> String {
    key.public_key().keyid()
}

fn empty_targets() -> Targets {
    Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: FAR_FUTURE.into(),
        targets: BTreeMap::new(),
        delegations: None,
        unknown: BTreeMap::new(),
    }
}

fn meta(version: u64) -> MetaFile {
    MetaFile {
        version,
        length: None,
        hashes: None,
        unknown: BTreeMap::new(),
    }
}

/// The URL path (under `/targets`) of target `name` with hash prefix `hash`.
pub fn target_path(name: &str, hash: &str) -> String {
    match name.rsplit_once('/') {
        Some((dir, base)) => format!("/targets/{dir}/{hash}.{base}"),
        None => format!("/targets/{hash}.{name}"),
    }
}

/// A TUF repository whose metadata tests change at will, served over HTTP.
pub struct Simulator {
    /// The HTTP server and its request log.
    pub server: RepoServer,
    /// The root being edited; published with [`Simulator::publish_root`].
    pub root: Root,
    /// The timestamp.
    pub timestamp: Timestamp,
    /// The snapshot.
    pub snapshot: Snapshot,
    /// `targets` and every delegated targets role, by role name.
    pub targets: BTreeMap<String, Targets>,
    /// The keys that sign each top-level role (`root`, `timestamp`,
    /// `snapshot`, `targets`) when it is rendered.
    pub signers: BTreeMap<String, Vec<Key>>,
    /// The keys that sign each delegated role (kept apart, so a delegated
    /// role may be named like a top-level one).
    pub delegated_signers: BTreeMap<String, Vec<Key>>,
    /// Whether [`Simulator::update_snapshot`] and
    /// [`Simulator::update_timestamp`] list length and SHA-256 in `meta`.
    pub meta_hashes: bool,
    /// Write metadata indented (still valid JSON, not canonical) instead of
    /// portable canonical JSON.
    pub pretty: bool,
    /// Target contents by the hex of each of their hashes: a listed target
    /// is served when one of its listed hashes names known contents.
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// Edits of a role's `signed` JSON before it is signed.
    pub edit_signed: BTreeMap<String, Edit>,
    /// Edits of a role's whole envelope after it is signed.
    pub edit_envelope: BTreeMap<String, Edit>,
    /// Edits of a role's final bytes (key order, whitespace, corruption).
    pub edit_bytes: BTreeMap<String, BytesEdit>,
    roots: BTreeMap<u64, Vec<u8>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("server", &self.server)
            .field("root_version", &self.root.version)
            .finish_non_exhaustive()
    }
}

impl Default for Simulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Simulator {
    /// A repository with consistent snapshots, one key per top-level role
    /// (threshold 1), every role at version 1 and expiring in 2099, root v1
    /// published, and everything served.
    pub fn new() -> Self {
        let mut root = Root {
            type_: "root".into(),
            spec_version: SPEC_VERSION.into(),
            consistent_snapshot: true,
            version: 1,
            expires: FAR_FUTURE.into(),
            keys: BTreeMap::new(),
            roles: BTreeMap::new(),
            unknown: BTreeMap::new(),
        };
        let mut signers = BTreeMap::new();
        for role in ["root", "timestamp", "snapshot", "targets"] {
            let key = new_key();
            root.keys.insert(keyid(&key), key.public_key().to_tuf_key());
            root.roles.insert(
                role.into(),
                RoleKeys {
                    keyids: vec![keyid(&key)],
                    threshold: 1,
                    unknown: BTreeMap::new(),
                },
            );
            signers.insert(role.to_owned(), vec![key]);
        }
        let snapshot = Snapshot {
            type_: "snapshot".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires: FAR_FUTURE.into(),
            meta: BTreeMap::from([("targets.json".to_owned(), meta(1))]),
            unknown: BTreeMap::new(),
        };
        let timestamp = Timestamp {
            type_: "timestamp".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires: FAR_FUTURE.into(),
            meta: BTreeMap::from([("snapshot.json".to_owned(), meta(1))]),
            unknown: BTreeMap::new(),
        };
        let mut sim = Self {
            server: RepoServer::start(),
            root,
            timestamp,
            snapshot,
            targets: BTreeMap::from([("targets".to_owned(), empty_targets())]),
            signers,
            delegated_signers: BTreeMap::new(),
            meta_hashes: false,
            pretty: false,
            blobs: BTreeMap::new(),
            edit_signed: BTreeMap::new(),
            edit_envelope: BTreeMap::new(),
            edit_bytes: BTreeMap::new(),
            roots: BTreeMap::new(),
        };
        sim.publish_root();
        sim.publish();
        sim
    }

    /// Base URL of the metadata (`.../metadata/`).
    pub fn metadata_url(&self) -> String {
        format!("{}/metadata/", self.server.base_url())
    }

    /// Base URL of the targets (`.../targets/`).
    pub fn targets_url(&self) -> String {
        format!("{}/targets/", self.server.base_url())
    }

    /// The published root of `version`.
    ///
    /// # Panics
    ///
    /// When that version was not published.
    pub fn root_bytes(&self, version: u64) -> Vec<u8> {
        self.roots
            .get(&version)
            .cloned()
            .unwrap_or_else(|| panic!("root v{version} was not published"))
    }

    /// The `signed` JSON of `role` as it stands (before edits): a
    /// top-level role by its name, any other name a delegated role.
    ///
    /// # Panics
    ///
    /// When there is no such role.
    pub fn signed_value(&self, role: &str) -> Value {
        let v = match role {
            "root" => serde_json::to_value(&self.root),
            "timestamp" => serde_json::to_value(&self.timestamp),
            "snapshot" => serde_json::to_value(&self.snapshot),
            other => return self.targets_value(other),
        };
        v.expect("metadata serialises")
    }

    /// The `signed` JSON of targets role `role` (`targets` or delegated).
    ///
    /// # Panics
    ///
    /// When there is no such role.
    pub fn targets_value(&self, role: &str) -> Value {
        let t = self
            .targets
            .get(role)
            .unwrap_or_else(|| panic!("no targets role {role:?}"));
        serde_json::to_value(t).expect("metadata serialises")
    }

    /// The keys that sign targets role `role` (`targets` or delegated).
    pub fn targets_signers(&self, role: &str) -> Vec<Key> {
        let map = if role == "targets" {
            &self.signers
        } else {
            &self.delegated_signers
        };
        map.get(role).cloned().unwrap_or_default()
    }

    /// `role` (a top-level role by its name, any other name a delegated
    /// role) rendered as served: edited, signed by `keys`, edited again.
    /// Edits are looked up by role name.
    pub fn render_with(&self, role: &str, keys: &[Key]) -> Vec<u8> {
        self.render_value(role, self.signed_value(role), keys)
    }

    /// Targets role `role` (`targets` or delegated, whatever its name)
    /// rendered as served, signed by its signers.
    pub fn render_targets(&self, role: &str) -> Vec<u8> {
        self.render_value(role, self.targets_value(role), &self.targets_signers(role))
    }

    fn render_value(&self, role: &str, mut signed: Value, keys: &[Key]) -> Vec<u8> {
        if let Some(edit) = self.edit_signed.get(role) {
            edit(&mut signed);
        }
        let mut doc = Signed {
            signatures: Vec::new(),
            signed,
            unknown: BTreeMap::new(),
        };
        for key in keys {
            sign(&mut doc, key.as_ref()).expect("sign metadata");
        }
        let mut envelope = serde_json::to_value(&doc).expect("metadata serialises");
        if let Some(edit) = self.edit_envelope.get(role) {
            edit(&mut envelope);
        }
        let bytes = if self.pretty {
            serde_json::to_vec_pretty(&envelope).expect("metadata serialises")
        } else {
            to_portable_json(&envelope).expect("metadata has no floats")
        };
        match self.edit_bytes.get(role) {
            Some(edit) => edit(bytes),
            None => bytes,
        }
    }

    /// `role` rendered as served, signed by its signers: a top-level role
    /// by its name, any other name a delegated role.
    pub fn render(&self, role: &str) -> Vec<u8> {
        match role {
            "root" | "timestamp" | "snapshot" => {
                let keys = self.signers.get(role).cloned().unwrap_or_default();
                self.render_with(role, &keys)
            }
            other => self.render_targets(other),
        }
    }

    /// Signs the current root with the root signers and serves it as
    /// `<version>.root.json`.
    pub fn publish_root(&mut self) {
        let keys = self.signers.get("root").cloned().unwrap_or_default();
        self.publish_root_with(&keys);
    }

    /// Signs the current root with exactly `keys` and serves it as
    /// `<version>.root.json`.
    pub fn publish_root_with(&mut self, keys: &[Key]) {
        let bytes = self.render_with("root", keys);
        self.server.set(
            &format!("/metadata/{}.root.json", self.root.version),
            Body::Bytes(bytes.clone()),
        );
        self.roots.insert(self.root.version, bytes);
    }

    /// Serves every role as it stands (no version or `meta` changes):
    /// timestamp, the current snapshot and targets versions, and every
    /// listed target whose contents are known under each of its hashes.
    pub fn publish(&mut self) {
        let consistent = self.root.consistent_snapshot;
        let roles: Vec<String> = self.targets.keys().cloned().collect();
        for role in &roles {
            let bytes = self.render_targets(role);
            let version = self.targets[role].version;
            let q = py_quote(role);
            self.server.set(
                &format!("/metadata/{version}.{q}.json"),
                Body::Bytes(bytes.clone()),
            );
            if !consistent {
                self.server
                    .set(&format!("/metadata/{q}.json"), Body::Bytes(bytes));
            }
        }
        let snapshot = self.render("snapshot");
        self.server.set(
            &format!("/metadata/{}.snapshot.json", self.snapshot.version),
            Body::Bytes(snapshot.clone()),
        );
        if !consistent {
            self.server
                .set("/metadata/snapshot.json", Body::Bytes(snapshot));
        }
        self.server.set(
            "/metadata/timestamp.json",
            Body::Bytes(self.render("timestamp")),
        );
        for t in self.targets.values() {
            for (name, file) in &t.targets {
                let Some(data) = file.hashes.values().find_map(|h| self.blobs.get(h)) else {
                    continue;
                };
                for h in file.hashes.values() {
                    self.server
                        .set(&target_path(name, h), Body::Bytes(data.clone()));
                }
                if !consistent {
                    self.server
                        .set(&format!("/targets/{name}"), Body::Bytes(data.clone()));
                }
            }
        }
    }

    fn meta_for(&self, version: u64, bytes: impl FnOnce() -> Vec<u8>) -> MetaFile {
        let mut m = meta(version);
        if self.meta_hashes {
            let bytes = bytes();
            m.length = Some(bytes.len() as u64);
            m.hashes = Some(BTreeMap::from([("sha256".to_owned(), sha256_hex(&bytes))]));
        }
        m
    }

    /// Lists the current snapshot in the timestamp, bumps the timestamp
    /// version and publishes.
    pub fn update_timestamp(&mut self) {
        let m = self.meta_for(self.snapshot.version, || self.render("snapshot"));
        self.timestamp.meta.insert("snapshot.json".into(), m);
        self.timestamp.version += 1;
        self.publish();
    }

    /// Lists every targets role's current version in the snapshot, bumps
    /// the snapshot version, then [`Simulator::update_timestamp`].
    pub fn update_snapshot(&mut self) {
        let roles: Vec<(String, u64)> = self
            .targets
            .iter()
            .map(|(r, t)| (r.clone(), t.version))
            .collect();
        for (role, version) in roles {
            let m = self.meta_for(version, || self.render_targets(&role));
            self.snapshot.meta.insert(format!("{role}.json"), m);
        }
        self.snapshot.version += 1;
        self.update_timestamp();
    }

    /// Replaces the keys of top-level `role` in the root by one new key,
    /// which becomes its only signer. The root is not published.
    pub fn rotate_keys(&mut self, role: &str) -> Key {
        let key = new_key();
        let entry = self
            .root
            .roles
            .get_mut(role)
            .unwrap_or_else(|| panic!("no top-level role {role:?}"));
        entry.keyids = vec![keyid(&key)];
        entry.threshold = 1;
        self.root
            .keys
            .insert(keyid(&key), key.public_key().to_tuf_key());
        let used: BTreeSet<String> = self
            .root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        self.root.keys.retain(|id, _| used.contains(id));
        self.signers.insert(role.to_owned(), vec![Rc::clone(&key)]);
        key
    }

    /// Adds `key` to top-level `role` in the root (and as a signer).
    pub fn add_key(&mut self, role: &str, key: &Key) {
        self.root
            .keys
            .insert(keyid(key), key.public_key().to_tuf_key());
        let entry = self
            .root
            .roles
            .get_mut(role)
            .unwrap_or_else(|| panic!("no top-level role {role:?}"));
        if !entry.keyids.contains(&keyid(key)) {
            entry.keyids.push(keyid(key));
        }
        self.signers
            .entry(role.to_owned())
            .or_default()
            .push(Rc::clone(key));
    }

    /// `delegator` delegates `name` for `paths` to `keys` with `threshold`.
    /// A new role (version 1, no targets) is created if needed, signed by
    /// `keys`; an existing role keeps its signers. Snapshot is not updated.
    ///
    /// # Panics
    ///
    /// When `delegator` does not exist.
    pub fn delegate_with(
        &mut self,
        delegator: &str,
        name: &str,
        paths: &[&str],
        terminating: bool,
        keys: &[Key],
        threshold: u64,
    ) {
        let parent = self
            .targets
            .get_mut(delegator)
            .unwrap_or_else(|| panic!("no delegator {delegator:?}"));
        let delegations = parent.delegations.get_or_insert_with(|| Delegations {
            keys: BTreeMap::new(),
            roles: Vec::new(),
            unknown: BTreeMap::new(),
        });
        for key in keys {
            delegations
                .keys
                .insert(keyid(key), key.public_key().to_tuf_key());
        }
        delegations.roles.push(DelegatedRole {
            name: name.to_owned(),
            keyids: keys.iter().map(|k| keyid(k)).collect(),
            threshold,
            terminating,
            paths: Some(paths.iter().map(|p| (*p).to_owned()).collect()),
            path_hash_prefixes: None,
            unknown: BTreeMap::new(),
        });
        if !self.targets.contains_key(name) {
            self.targets.insert(name.to_owned(), empty_targets());
            self.delegated_signers
                .insert(name.to_owned(), keys.to_vec());
        }
    }

    /// [`Simulator::delegate_with`] with threshold 1 and the role's
    /// existing first signer, or a new key for a new role. Returns the key.
    pub fn delegate(
        &mut self,
        delegator: &str,
        name: &str,
        paths: &[&str],
        terminating: bool,
    ) -> Key {
        let key = self
            .delegated_signers
            .get(name)
            .and_then(|s| s.first().cloned())
            .unwrap_or_else(new_key);
        self.delegate_with(
            delegator,
            name,
            paths,
            terminating,
            std::slice::from_ref(&key),
            1,
        );
        key
    }

    /// Lists target `name` with `data` (length, SHA-256 and SHA-512) in
    /// `role` and keeps the contents to serve. Versions are not changed.
    ///
    /// # Panics
    ///
    /// When `role` does not exist.
    pub fn add_target(&mut self, role: &str, name: &str, data: &[u8]) -> &mut TargetFile {
        let (sha256, sha512) = (sha256_hex(data), sha512_hex(data));
        self.blobs.insert(sha256.clone(), data.to_vec());
        self.blobs.insert(sha512.clone(), data.to_vec());
        let file = TargetFile {
            length: data.len() as u64,
            hashes: BTreeMap::from([("sha256".to_owned(), sha256), ("sha512".to_owned(), sha512)]),
            custom: None,
            unknown: BTreeMap::new(),
        };
        let targets = self
            .targets
            .get_mut(role)
            .unwrap_or_else(|| panic!("no role {role:?}"));
        targets.targets.insert(name.to_owned(), file);
        targets
            .targets
            .get_mut(name)
            .expect("the target just inserted")
    }
}

/// What one run of the `fwsign` binary did.
#[derive(Debug, Clone)]
pub struct CliRun {
    /// The arguments, for messages.
    pub args: Vec<String>,
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliRun {
    /// Asserts exit 0.
    ///
    /// # Panics
    ///
    /// When the run did not exit 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success from {self}");
        self
    }

    /// Asserts exit exactly 1 (the client contract's only failure code).
    ///
    /// # Panics
    ///
    /// When the run did not exit 1.
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert_eq!(self.code, Some(1), "expected exit 1 from {self}");
        self
    }
}

impl std::fmt::Display for CliRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fwsign {}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// The `fwsign` binary next to the test executable
/// (`target/<profile>/deps/all-*` -> `target/<profile>/fwsign`).
///
/// # Panics
///
/// When it has not been built.
pub fn client_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .join(format!("fwsign{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p fwsign` first",
        bin.display()
    );
    bin
}

/// A fixed directory for test `name` under `target/<profile>/`, emptied.
///
/// # Panics
///
/// When it cannot be cleared or created.
pub fn fresh_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .join("fwsign-client-tests")
        .join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot clear {}: {e}", dir.display()),
    }
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Environment variables that would send loopback requests to a proxy.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// Runs `fwsign ARGS...`.
pub fn run_fwsign<S: AsRef<OsStr>>(args: &[S]) -> CliRun {
    let mut cmd = Command::new(client_bin());
    cmd.args(args);
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
    let out = cmd.output().expect("run fwsign");
    CliRun {
        args: args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `fwsign client` with a metadata directory, a target directory and the
/// URLs of one repository.
#[derive(Debug, Clone)]
pub struct CliClient {
    /// The scratch directory holding the others.
    pub dir: PathBuf,
    /// `--metadata-dir`.
    pub metadata_dir: PathBuf,
    /// `--target-dir`.
    pub target_dir: PathBuf,
    /// `--metadata-url`.
    pub metadata_url: String,
    /// `--target-base-url`.
    pub targets_url: String,
}

impl CliClient {
    /// A client in `dir` (metadata in `dir/metadata`, targets in
    /// `dir/targets`) for the given URLs.
    pub fn new(dir: &Path, metadata_url: &str, targets_url: &str) -> Self {
        Self {
            dir: dir.to_path_buf(),
            metadata_dir: dir.join("metadata"),
            target_dir: dir.join("targets"),
            metadata_url: metadata_url.to_owned(),
            targets_url: targets_url.to_owned(),
        }
    }

    /// A client for a simulator's repository, in [`fresh_dir`]`(name)`.
    pub fn for_sim(name: &str, sim: &Simulator) -> Self {
        Self::new(&fresh_dir(name), &sim.metadata_url(), &sim.targets_url())
    }

    /// `client --metadata-dir DIR init ROOT` with `root` written to a file
    /// beside the metadata directory.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    pub fn init(&self, root: &[u8]) -> CliRun {
        let file = self.dir.join("trusted-root.json");
        std::fs::write(&file, root).expect("write the trusted root");
        run_fwsign(&[
            OsStr::new("client"),
            OsStr::new("--metadata-dir"),
            self.metadata_dir.as_os_str(),
            OsStr::new("init"),
            file.as_os_str(),
        ])
    }

    /// `client --metadata-url URL --metadata-dir DIR refresh`.
    pub fn refresh(&self) -> CliRun {
        run_fwsign(&[
            OsStr::new("client"),
            OsStr::new("--metadata-url"),
            OsStr::new(&self.metadata_url),
            OsStr::new("--metadata-dir"),
            self.metadata_dir.as_os_str(),
            OsStr::new("refresh"),
        ])
    }

    /// `client ... --target-name N... --target-dir TDIR --target-base-url
    /// TURL download EXTRA...`.
    pub fn download(&self, names: &[&str], extra: &[&str]) -> CliRun {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("client"),
            OsStr::new("--metadata-url"),
            OsStr::new(&self.metadata_url),
            OsStr::new("--metadata-dir"),
            self.metadata_dir.as_os_str(),
        ];
        for n in names {
            args.push(OsStr::new("--target-name"));
            args.push(OsStr::new(n));
        }
        args.extend([
            OsStr::new("--target-dir"),
            self.target_dir.as_os_str(),
            OsStr::new("--target-base-url"),
            OsStr::new(&self.targets_url),
            OsStr::new("download"),
        ]);
        args.extend(extra.iter().map(OsStr::new));
        run_fwsign(&args)
    }

    /// The names of the files in the metadata directory.
    pub fn metadata_files(&self) -> BTreeSet<String> {
        list(&self.metadata_dir)
    }

    /// The names of the files in the target directory.
    pub fn target_files(&self) -> BTreeSet<String> {
        list(&self.target_dir)
    }

    /// A file of the metadata directory.
    pub fn stored(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.metadata_dir.join(name)).ok()
    }
}

/// The names in `dir` (empty when it does not exist).
pub fn list(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A std-only HTTP/1.1 [`Fetcher`] (plain `http://` only), reading at most
/// `max_len + 1` bytes of a body, for driving `fwsign_client`
/// directly against a [`RepoServer`].
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpGet;

impl Fetcher for HttpGet {
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let transport = |e: io::Error| FetchError::Transport(e.to_string());
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| FetchError::Transport(format!("not an http URL: {url}")))?;
        let (host, path) = match rest.split_once('/') {
            Some((h, p)) => (h, format!("/{p}")),
            None => (rest, "/".to_owned()),
        };
        let mut stream = TcpStream::connect(host).map_err(transport)?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(transport)?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .map_err(transport)?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).map_err(transport)?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| FetchError::Transport(format!("bad status line {status_line:?}")))?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(transport)? == 0 || line == "\r\n" {
                break;
            }
        }
        if status == 403 || status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let mut body = Vec::new();
        reader
            .take(max_len.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(transport)?;
        if body.len() as u64 > max_len {
            return Err(FetchError::TooLong(max_len));
        }
        Ok(Some(body))
    }
}
