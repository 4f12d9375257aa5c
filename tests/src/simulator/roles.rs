//! The changes tests make to a [`Simulator`]'s roles: rotating and adding
//! top-level keys, delegating, listing targets.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use fwsign_manifest_schema::metadata::{DelegatedRole, Delegations, TargetFile};

use super::{Key, Simulator, empty_targets, keyid, new_key, sha256_hex, sha512_hex};

impl Simulator {
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
            hashes: [("sha256".to_owned(), sha256), ("sha512".to_owned(), sha512)].into(),
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
