//! Which changes to staged roles can change which role delegates which
//! ([`StagedChanges`]), so an operation's memo of it knows when it is stale.

use std::collections::BTreeMap;

use fwsign_manifest_schema::metadata::{Signed, Targets};

#[cfg(doc)]
use crate::Repository;

/// A counter of the changes to staged roles, made through this
/// [`Repository`], that can change which role delegates which: a staged
/// role added or removed ([`Repository::staged_removed`]), or a role's
/// delegated role names changed ([`Repository::save_staged`]). Signing a
/// role, or adding a target to it, changes neither, so a command signing a
/// thousand bins reads who delegates what once. Another process cannot
/// change staged roles meanwhile: every command that reads them holds the
/// repository lock.
#[derive(Debug, Default)]
pub(crate) struct StagedChanges {
    count: std::sync::atomic::AtomicU64,
    /// The delegated role names of each staged role as last read or written
    /// (`None`: the root, which delegates no targets role).
    delegations: std::sync::Mutex<BTreeMap<String, Option<Vec<String>>>>,
}

impl StagedChanges {
    pub(crate) fn get(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Acquire)
    }

    fn bump(&self) {
        self.count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn known(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<Vec<String>>>> {
        // A poisoned map only ever lost an entry, which costs a re-read.
        self.delegations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `role` as read from disk.
    pub(crate) fn read(&self, role: &str, names: Option<Vec<String>>) {
        self.known().insert(role.to_owned(), names);
    }

    /// `role` written: counts a change unless its delegated names are the
    /// ones it had.
    pub(crate) fn written(&self, role: &str, names: Option<Vec<String>>) {
        let mut known = self.known();
        if known.get(role) != Some(&names) {
            self.bump();
        }
        known.insert(role.to_owned(), names);
    }

    /// `role` removed.
    pub(crate) fn removed(&self, role: &str) {
        self.known().remove(role);
        self.bump();
    }
}

impl Clone for StagedChanges {
    fn clone(&self) -> Self {
        Self {
            count: std::sync::atomic::AtomicU64::new(self.get()),
            delegations: std::sync::Mutex::new(self.known().clone()),
        }
    }
}

/// The delegated role names `doc` lists, when it is a targets role.
pub(crate) fn delegated_names<T: 'static>(doc: &Signed<T>) -> Option<Vec<String>> {
    (doc as &dyn std::any::Any)
        .downcast_ref::<Signed<Targets>>()
        .map(|d| d.signed.delegated_role_names())
}
