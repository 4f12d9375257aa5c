//! Staging a new root: keys added or removed, thresholds changed
//! (`repo rotate-root`), and the rules every root fwsign writes satisfies.

use std::collections::{BTreeMap, BTreeSet};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{RoleKeys, Root};

use super::super::names;
use super::super::{RepoError, Repository, check_separation, expires_at};
use super::RotateOptions;
use crate::audit::AuditEvent;

impl Repository {
    /// Stages root N+1 (or edits the staged root) with keys added or removed
    /// and thresholds changed. It must be signed by a threshold of the old
    /// and of the new root keys before it is published.
    pub fn rotate_root(&self, options: &RotateOptions, now: UnixTime) -> Result<u64, RepoError> {
        let op = self.operation();
        self.check_audit_before_staging(&op)?;
        let mut root = match self.load_staged::<Root>("root")? {
            Some(mut staged) => {
                staged.signed.version = op.next_free_version("root", staged.signed.version)?;
                staged
            }
            None => {
                let mut next = op
                    .published()?
                    .ok_or_else(|| RepoError::NotARepository(self.dir().to_path_buf()))?
                    .root
                    .clone();
                next.signatures.clear();
                let version =
                    next.signed.version.checked_add(1).ok_or_else(|| {
                        RepoError::Invalid("root version counter exhausted".into())
                    })?;
                next.signed.version = op.next_free_version("root", version)?;
                next.signed.expires = expires_at(now, self.expiry().root)?;
                next
            }
        };
        let known_role = |role: &str| -> Result<(), RepoError> {
            if names::TOP_LEVEL_ROLES.contains(&role) {
                Ok(())
            } else {
                Err(RepoError::Invalid(format!(
                    "{role:?} is not a top-level role (root, targets, snapshot, timestamp)"
                )))
            }
        };
        for (role, keyid) in &options.remove {
            known_role(role)?;
            let entry = root
                .signed
                .roles
                .get_mut(role)
                .ok_or_else(|| RepoError::Invalid(format!("root has no role {role}")))?;
            let before = entry.keyids.len();
            entry.keyids.retain(|k| k != keyid);
            if entry.keyids.len() == before {
                return Err(RepoError::Invalid(format!(
                    "role {role} has no key {keyid}"
                )));
            }
        }
        for (role, key) in &options.add {
            known_role(role)?;
            let keyid = key.keyid();
            let entry = root
                .signed
                .roles
                .entry(role.clone())
                .or_insert_with(|| RoleKeys {
                    keyids: vec![],
                    threshold: 1,
                    unknown: BTreeMap::new(),
                });
            if entry.keyids.contains(&keyid) {
                return Err(RepoError::SharedKey(format!(
                    "key {keyid} is listed twice for role {role}"
                )));
            }
            entry.keyids.push(keyid.clone());
            root.signed.keys.insert(keyid, key.to_tuf_key());
        }
        for (role, threshold) in &options.thresholds {
            known_role(role)?;
            root.signed
                .roles
                .get_mut(role)
                .ok_or_else(|| RepoError::Invalid(format!("root has no role {role}")))?
                .threshold = *threshold;
        }
        if let Some(secs) = options.expires {
            root.signed.expires = expires_at(now, secs)?;
        }
        check_root_writable(&root.signed, options.allow_shared_key)?;
        // Keys no role lists any more leave the key table.
        let used: BTreeSet<String> = root
            .signed
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.signed.keys.retain(|k, _| used.contains(k));
        crate::key_owners::store_in_root(&mut root.signed, &options.owners)?;
        let version = root.signed.version;
        self.check_stays_publishable(&op, Some(&root), &[])?;
        self.audit(
            &AuditEvent {
                action: "stage".into(),
                role: Some("root".into()),
                version: Some(version),
                detail: Some("rotate-root".into()),
                ..AuditEvent::default()
            },
            now,
        )?;
        self.record_audit_head(&mut root.signed.unknown)?;
        self.save_edited("root", root, now)?;
        Ok(version)
    }
}

/// The rules a root must satisfy before fwsign writes it: every top-level
/// role present, thresholds between 1 and the number of keys, no key twice
/// in a role, every key ID in the key table, and online keys separate from
/// approver keys unless allowed.
pub(crate) fn check_root_writable(root: &Root, allow_shared_key: bool) -> Result<(), RepoError> {
    for role in names::TOP_LEVEL_ROLES {
        let entry = root
            .roles
            .get(role)
            .ok_or_else(|| RepoError::Invalid(format!("root must define role {role}")))?;
        let mut seen = BTreeSet::new();
        for k in &entry.keyids {
            if !seen.insert(k) {
                return Err(RepoError::SharedKey(format!(
                    "key {k} is listed twice for role {role}"
                )));
            }
            if !root.keys.contains_key(k) {
                return Err(RepoError::Invalid(format!(
                    "role {role} lists key {k}, which the root does not define"
                )));
            }
        }
        if entry.threshold == 0
            || usize::try_from(entry.threshold).map_or(true, |t| t > entry.keyids.len())
        {
            return Err(RepoError::Invalid(format!(
                "role {role}: threshold {} must be between 1 and its {} key(s)",
                entry.threshold,
                entry.keyids.len()
            )));
        }
    }
    let ids = |role: &str| -> Vec<(String, String)> {
        root.roles
            .get(role)
            .map(|r| {
                r.keyids
                    .iter()
                    .map(|k| (role.to_owned(), k.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let online: Vec<_> = ids("snapshot")
        .into_iter()
        .chain(ids("timestamp"))
        .collect();
    let approvers: Vec<_> = ids("root").into_iter().chain(ids("targets")).collect();
    check_separation(&online, &approvers, allow_shared_key)
}
