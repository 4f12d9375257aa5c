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
//! [`HttpGet`] is a std-only
//! [`Fetcher`](fwsign_client::Fetcher) for driving the client library
//! directly.

use std::collections::BTreeMap;
use std::rc::Rc;

use fwsign_keys::document::sign;
use fwsign_keys::{Algorithm, PrivateKey};
use fwsign_manifest_schema::canonical::to_portable_json;
use fwsign_manifest_schema::metadata::{
    MetaFile, RoleKeys, Root, SPEC_VERSION, Signed, Snapshot, Targets, Timestamp,
};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};

mod client;
mod roles;
mod server;

pub use client::{CliClient, CliRun, HttpGet, PROXY_VARS, client_bin, fresh_dir, list, run_fwsign};
pub use server::{Body, ENDLESS_LIMIT, RepoServer};

/// An expiry no test reaches.
pub const FAR_FUTURE: &str = "2099-01-01T00:00:00Z";
/// An expiry every test has passed.
pub const PAST: &str = "2000-01-01T00:00:00Z";

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
}
