//! Creating a repository: the key checks every role's key list passes
//! (no key twice, a reachable threshold, online keys apart from approver
//! keys) and `Repository::init`, which stages root version 1 and an empty
//! targets role.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{Key, RoleKeys, Root, SPEC_VERSION, Signed, Targets};

use super::{ExpiryPolicy, RepoConfig, RepoError, Repository, expires_at, io_err};
use crate::audit::AuditEvent;
use crate::key_owners::{self, OwnerAssignment};
use fwsign_keys::PublicKey;
use fwsign_keys::atomic_write::{Mode, write_atomic};

/// Options for [`Repository::init`].
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Root keys.
    pub root_keys: Vec<PublicKey>,
    /// Root threshold.
    pub root_threshold: u64,
    /// Targets approver keys.
    pub targets_keys: Vec<PublicKey>,
    /// Targets threshold.
    pub targets_threshold: u64,
    /// The online snapshot key.
    pub snapshot_key: PublicKey,
    /// The online timestamp key.
    pub timestamp_key: PublicKey,
    /// Expiry periods.
    pub expiry: ExpiryPolicy,
    /// Accept keys shared between online and approver roles.
    pub allow_shared_key: bool,
}

/// Checks a role's key list: no key twice, and the threshold reachable.
pub(crate) fn check_role_keys(
    role: &str,
    keys: &[PublicKey],
    threshold: u64,
) -> Result<(), RepoError> {
    if threshold == 0 {
        return Err(RepoError::Invalid(format!(
            "role {role}: threshold must be at least 1"
        )));
    }
    let mut seen = BTreeSet::new();
    for k in keys {
        if !seen.insert(k.keyid()) {
            return Err(RepoError::SharedKey(format!(
                "key {} is listed twice for role {role}",
                k.keyid()
            )));
        }
    }
    if usize::try_from(threshold).map_or(true, |t| t > keys.len()) {
        return Err(RepoError::Invalid(format!(
            "role {role}: threshold {threshold} exceeds its {} key(s)",
            keys.len()
        )));
    }
    Ok(())
}

/// Refuses one key both online and approving, unless allowed.
pub(crate) fn check_separation(
    online: &[(String, String)],
    approvers: &[(String, String)],
    allow_shared_key: bool,
) -> Result<(), RepoError> {
    if allow_shared_key {
        return Ok(());
    }
    for (online_role, online_id) in online {
        for (approver_role, approver_id) in approvers {
            if online_id == approver_id {
                return Err(RepoError::SharedKey(format!(
                    "key {online_id} is both an online {online_role} key and a {approver_role} approver key"
                )));
            }
        }
    }
    Ok(())
}

fn role_keys(keys: &[PublicKey], threshold: u64) -> RoleKeys {
    RoleKeys {
        keyids: keys.iter().map(PublicKey::keyid).collect(),
        threshold,
        unknown: BTreeMap::new(),
    }
}

/// An empty targets role.
pub(crate) fn empty_targets(version: u64, expires: String) -> Targets {
    Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires,
        targets: BTreeMap::new(),
        delegations: None,
        unknown: BTreeMap::new(),
    }
}

impl Repository {
    /// Stages root version 1 and an empty targets role in a new repository.
    pub fn init(
        dir: impl Into<PathBuf>,
        options: &InitOptions,
        now: UnixTime,
    ) -> Result<Self, RepoError> {
        Self::init_with_owners(dir, options, &[], now)
    }

    /// [`Repository::init`], naming the holders of root's keys
    /// (`--key-owner`) in the staged root ([`crate::key_owners`]). An owner
    /// for a key the root does not list is refused before anything is
    /// written.
    pub fn init_with_owners(
        dir: impl Into<PathBuf>,
        options: &InitOptions,
        owners: &[OwnerAssignment],
        now: UnixTime,
    ) -> Result<Self, RepoError> {
        let dir = dir.into();
        if dir.join("fwsign-repo.json").exists()
            || dir.join("metadata").exists()
            || dir.join("staged").exists()
        {
            return Err(RepoError::AlreadyInitialised(dir));
        }
        check_role_keys("root", &options.root_keys, options.root_threshold)?;
        check_role_keys("targets", &options.targets_keys, options.targets_threshold)?;
        let online = [
            ("snapshot".to_owned(), options.snapshot_key.keyid()),
            ("timestamp".to_owned(), options.timestamp_key.keyid()),
        ];
        let approvers: Vec<(String, String)> = options
            .root_keys
            .iter()
            .map(|k| ("root".to_owned(), k.keyid()))
            .chain(
                options
                    .targets_keys
                    .iter()
                    .map(|k| ("targets".to_owned(), k.keyid())),
            )
            .collect();
        check_separation(&online, &approvers, options.allow_shared_key)?;

        let mut keys: BTreeMap<String, Key> = BTreeMap::new();
        for k in options
            .root_keys
            .iter()
            .chain(&options.targets_keys)
            .chain([&options.snapshot_key, &options.timestamp_key])
        {
            keys.insert(k.keyid(), k.to_tuf_key());
        }
        let mut roles = BTreeMap::new();
        roles.insert(
            "root".to_owned(),
            role_keys(&options.root_keys, options.root_threshold),
        );
        roles.insert(
            "targets".to_owned(),
            role_keys(&options.targets_keys, options.targets_threshold),
        );
        roles.insert(
            "snapshot".to_owned(),
            role_keys(std::slice::from_ref(&options.snapshot_key), 1),
        );
        roles.insert(
            "timestamp".to_owned(),
            role_keys(std::slice::from_ref(&options.timestamp_key), 1),
        );
        let mut root = Signed {
            signatures: vec![],
            signed: Root {
                type_: "root".into(),
                spec_version: SPEC_VERSION.into(),
                consistent_snapshot: true,
                version: 1,
                expires: expires_at(now, options.expiry.root)?,
                keys,
                roles,
                unknown: BTreeMap::new(),
            },
            unknown: BTreeMap::new(),
        };
        key_owners::store_in_root(&mut root.signed, owners)?;
        let mut targets = Signed {
            signatures: vec![],
            signed: empty_targets(1, expires_at(now, options.expiry.targets)?),
            unknown: BTreeMap::new(),
        };
        let repo = Self {
            dir,
            config: RepoConfig {
                format: 1,
                expiry: options.expiry.clone(),
            },
            staged_changes: super::StagedChanges::default(),
            audit_tail: crate::audit::TailMemo::default(),
        };
        // A log left in the directory must verify before it is extended.
        repo.check_audit_before_staging(&repo.operation())?;
        for sub in ["", "staged", "staged/targets", "metadata", "targets"] {
            let path = repo.dir.join(sub);
            fs::create_dir_all(&path).map_err(io_err(&path))?;
        }
        // The line comes first, so the head staged in root and targets
        // covers it.
        repo.audit(
            &AuditEvent {
                action: "init".into(),
                role: Some("root".into()),
                version: Some(1),
                ..AuditEvent::default()
            },
            now,
        )?;
        repo.record_audit_head(&mut root.signed.unknown)?;
        repo.record_audit_head(&mut targets.signed.unknown)?;
        repo.save_staged("root", &root)?;
        repo.save_staged("targets", &targets)?;
        let config = serde_json::to_vec_pretty(&repo.config).map_err(|e| {
            RepoError::Invalid(format!(
                "cannot serialise the repository configuration: {e}"
            ))
        })?;
        let config_path = repo.dir.join("fwsign-repo.json");
        write_atomic(&config_path, &config, Mode::Public).map_err(io_err(&config_path))?;
        Ok(repo)
    }
}
