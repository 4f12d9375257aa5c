//! The roles one delegator delegates, read, checked and parsed ahead of the
//! depth-first walk on every core.
//!
//! In a repository of hashed bins one role delegates a thousand others, and
//! each is a signature check and a parse that depends on nothing but the
//! delegator: done one after another they were most of a staging command's
//! time. They run here at once, through the same
//! [`TrustedSet::check_targets`] the walk calls; the walk then takes each
//! result in its own order, so verdicts and the order of faults are the
//! same as checking them one by one. A role that cannot be read here is left
//! to the walk, which reads it again and reports the fault.
//!
//! A single large role (a flat repository's `targets`) is parsed into its
//! typed document on a second core while the first checks it.

use std::collections::BTreeMap;
use std::path::Path;

use fwsign_keys::trusted_set::{CheckedTargets, TrustError, TrustedSet};
use fwsign_manifest_schema::metadata::{Signed, Snapshot, Targets};

use super::super::{names, read_optional};
use crate::staging::parallel::{CHECKS_WORTH_THREADS, map_parallel};

/// One delegated role, checked ahead under its delegator.
pub(super) struct Ahead {
    /// The file's bytes.
    pub(super) bytes: Vec<u8>,
    /// The client's check under the delegator.
    pub(super) checked: Result<CheckedTargets, TrustError>,
    /// The typed document (its parse error as text), when the check passed.
    pub(super) typed: Option<Typed>,
}

/// A role's typed document, or why it does not parse.
pub(super) type Typed = Result<Signed<Targets>, String>;

/// One role's check, and what was also made of its bytes when it passed.
pub(crate) type Checked<X> = (Result<CheckedTargets, TrustError>, Option<X>);

/// Checks `children` (role name and bytes), all delegated by `parent`, on
/// every core, each with `also` run on its bytes and its check in the same
/// worker when the check passed; in order. `None` when there are too few to be worth
/// threads: the caller's walk checks them one by one. The load and
/// publish's release check both take their delegators' roles this way;
/// the release check passes the load's set as `known`
/// ([`TrustedSet::check_targets_known`]).
pub(crate) fn check_delegated<X: Send>(
    set: &TrustedSet,
    known: Option<&TrustedSet>,
    parent: &str,
    children: &[(&str, &[u8])],
    also: impl Fn(&[u8], &CheckedTargets) -> X + Sync,
) -> Option<Vec<Checked<X>>> {
    if children.len() < CHECKS_WORTH_THREADS {
        return None;
    }
    map_parallel(
        children,
        // Each worker reads the delegator's view once for all its roles.
        || set.delegated_by(parent),
        |delegated, (role, bytes), _| {
            let checked = delegated.check_targets_known(role, bytes, known);
            let extra = checked.as_ref().ok().map(|c| also(bytes, c));
            Ok((checked, extra))
        },
        &mut |_| {},
    )
    // The work never fails, so neither does the pool.
    .ok()
}

/// Checks every role of `children` (delegated by `parent`) that the
/// snapshot lists and `metadata/` holds, and parses those that pass, by
/// role name. A role that cannot be read is left to the walk.
pub(super) fn check_children(
    metadata: &Path,
    snapshot: &Signed<Snapshot>,
    set: &TrustedSet,
    files: &BTreeMap<String, Vec<u8>>,
    parent: &str,
    children: &[&str],
) -> BTreeMap<String, Ahead> {
    if children.len() < CHECKS_WORTH_THREADS {
        return BTreeMap::new();
    }
    let read: Vec<(&str, Vec<u8>)> = children
        .iter()
        .filter_map(|&role| {
            let meta = snapshot.signed.meta.get(&names::role_file(role))?;
            let name = names::versioned_role_file(meta.version, role);
            let bytes = match files.get(&name) {
                Some(b) => b.clone(),
                None => read_optional(&metadata.join(&name)).ok()??,
            };
            Some((role, bytes))
        })
        .collect();
    let items: Vec<(&str, &[u8])> = read.iter().map(|(r, b)| (*r, b.as_slice())).collect();
    // Read from the bytes the check validated, where it kept them.
    let Some(checked) = check_delegated(set, None, parent, &items, |bytes, checked| {
        match checked.validated() {
            Some(validated) => Signed::<Targets>::from_canonical(validated),
            None => Signed::<Targets>::from_json_slice(bytes),
        }
        .map_err(|e| e.to_string())
    }) else {
        return BTreeMap::new();
    };
    read.into_iter()
        .zip(checked)
        .map(|((role, bytes), (checked, typed))| {
            (
                role.to_owned(),
                Ahead {
                    bytes,
                    checked,
                    typed,
                },
            )
        })
        .collect()
}

/// A role this large is parsed into its typed document on a second core
/// while the first checks it: in a flat repository of 10^5 targets the one
/// role is 20 MB, and the check and the parse are each a pass over all of it.
const PARSE_BESIDE_AT: usize = 1 << 20;

/// The walk's own check of one role, with its typed parse beside it when
/// the role is large and not parsed yet (`parsed`). The parse is wasted only
/// when the check refuses the role.
pub(super) fn check_and_parse(
    set: &TrustedSet,
    role: &str,
    parent: Option<&str>,
    bytes: &[u8],
    parsed: impl Fn(&str) -> bool,
) -> (Result<CheckedTargets, TrustError>, Option<Typed>) {
    if bytes.len() < PARSE_BESIDE_AT || parsed(role) {
        return (set.check_targets(role, parent, bytes), None);
    }
    std::thread::scope(|scope| {
        let typed =
            scope.spawn(|| Signed::<Targets>::from_json_slice(bytes).map_err(|e| e.to_string()));
        let checked = set.check_targets(role, parent, bytes);
        let typed = typed
            .join()
            .unwrap_or_else(|_| Err("the thread parsing it panicked".to_owned()));
        (checked, Some(typed))
    })
}
