//! Delegations on the command line: what a staged role changes in them
//! (`repo status`), `repo undelegate`, and hashed bins (`repo delegate
//! --hashed-bins`, and `repo sign` / `repo extend` over a role pattern).

use std::path::{Path, PathBuf};

use fwsign_repo::Repository;
use fwsign_repo::bins::{HashedBinsOptions, matching_roles};
use fwsign_repo::delegation_changes::{DelegationChangeKind, DelegationChanges};
use fwsign_repo::key_owners::KeyOwners;
use fwsign_repo::lock::LockKind;
use fwsign_repo::staging::UndelegateOptions;
use serde_json::json;

use crate::args::KeyOpts;
use crate::cmd_repo::{approval_json, lock, open, say_approval};
use crate::failure::Failure;
use crate::key_ref::{KeyResolver, load_public};
use crate::now;
use crate::output::Output;

/// Key IDs shortened to 16 digits, each after its owner's name when the
/// document authorising them names one (`--json` has the IDs whole): the
/// one format of key changes, for delegations and for a staged root.
pub(crate) fn keys(list: &[String], owners: &KeyOwners) -> String {
    list.iter()
        .map(|k| match owners.get(k) {
            Some(owner) => format!("{} ({})", owner.name, k.get(..16).unwrap_or(k)),
            None => k.get(..16).unwrap_or(k).to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn scope(paths: Option<&Vec<String>>, prefixes: Option<&Vec<String>>) -> String {
    match (paths, prefixes) {
        (Some(p), _) => format!("paths {}", p.join(", ")),
        (None, Some(h)) => format!("path hash prefixes {}", h.join(", ")),
        (None, None) => "no paths".to_owned(),
    }
}

/// One line per delegation added, removed or changed, saying what it was
/// and what it becomes (key IDs shortened to 16 digits; `--json` has them
/// whole).
pub(crate) fn say_delegation_changes(
    out: &Output,
    role: &str,
    changes: &DelegationChanges,
    owners: &KeyOwners,
) {
    for c in &changes.roles {
        let now = scope(c.paths.as_ref(), c.path_hash_prefixes.as_ref());
        let was = scope(
            c.previous_paths.as_ref(),
            c.previous_path_hash_prefixes.as_ref(),
        );
        let terminating = |t: Option<bool>| if t == Some(true) { ", terminating" } else { "" };
        match c.change {
            DelegationChangeKind::Added => out.say(format!(
                "  delegation added: {role} -> {} ({} of {} key(s): {}; {now}{})",
                c.role,
                c.threshold.unwrap_or(0),
                c.keys_added.len(),
                keys(&c.keys_added, owners),
                terminating(c.terminating)
            )),
            DelegationChangeKind::Removed => out.say(format!(
                "  delegation removed: {role} -> {} (was {} of {} key(s); {was}{}): clients no longer search it",
                c.role,
                c.previous_threshold.unwrap_or(0),
                c.keys_removed.len(),
                terminating(c.previous_terminating)
            )),
            _ => {
                let mut what = Vec::new();
                if !c.keys_added.is_empty() {
                    what.push(format!("keys added {}", keys(&c.keys_added, owners)));
                }
                if !c.keys_removed.is_empty() {
                    what.push(format!("keys removed {}", keys(&c.keys_removed, owners)));
                }
                if c.threshold != c.previous_threshold {
                    what.push(format!(
                        "threshold {} (was {})",
                        c.threshold.unwrap_or(0),
                        c.previous_threshold.unwrap_or(0)
                    ));
                }
                if now != was {
                    what.push(format!("{now} (was {was})"));
                }
                if c.terminating != c.previous_terminating {
                    what.push(if c.terminating == Some(true) {
                        "now terminating".to_owned()
                    } else {
                        "no longer terminating".to_owned()
                    });
                }
                out.say(format!(
                    "  delegation changed: {role} -> {}: {}",
                    c.role,
                    what.join("; ")
                ));
            }
        }
    }
    if changes.order_changed {
        out.say(format!(
            "  delegation order changed in {role}: the search visits its roles in another order (the first role listing a name answers for it)"
        ));
    }
}

/// `repo undelegate`: the library stages it (under the lock the caller
/// holds); this says what clients stop finding once it is published.
pub(crate) fn undelegate(
    repo: &Repository,
    role: String,
    from: Option<String>,
    recursive: bool,
    out: &Output,
) -> Result<(), Failure> {
    let options = UndelegateOptions {
        role,
        from,
        recursive,
    };
    let done = repo.undelegate(&options, crate::now())?;
    out.say(format!(
        "staged {} v{} without its delegation to {}; it needs {}'s approvers (`fwsign repo sign --role {}`)",
        done.from,
        done.version,
        done.role,
        done.from,
        done.from
    ));
    if !done.unreachable_roles.is_empty() {
        out.say(format!(
            "once published, clients no longer search {}; their last versions stay listed in the snapshot, as clients require",
            done.unreachable_roles.join(", ")
        ));
    }
    if done.unreachable_targets.is_empty() {
        out.say("no targets become unreachable");
    } else {
        out.say("once published, clients no longer find these targets:");
        for (role, name) in &done.unreachable_targets {
            out.say(format!("  {name} (listed by {role})"));
        }
    }
    for role in &done.discarded_staged {
        out.say(format!(
            "discarded staged {role} (its staged targets and approvals): no delegation reaches it any more"
        ));
    }
    out.result(&json!({
        "ok": true,
        "role": done.role,
        "from": done.from,
        "version": done.version,
        "unreachable_roles": done.unreachable_roles,
        "unreachable_targets": done
            .unreachable_targets
            .iter()
            .map(|(role, name)| json!({"role": role, "name": name}))
            .collect::<Vec<_>>(),
        "discarded_staged": done.discarded_staged,
    }));
    Ok(())
}

/// `repo delegate --hashed-bins N`: stages the bins, their groups and the
/// delegations in `targets`; says who must sign what.
pub(crate) fn delegate_hashed_bins(
    dir: &Path,
    set: String,
    keys: &[PathBuf],
    threshold: u64,
    bins: u32,
    allow_shared_key: bool,
    out: &Output,
) -> Result<(), Failure> {
    let keys = keys
        .iter()
        .map(|k| load_public(k))
        .collect::<Result<Vec<_>, _>>()?;
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Exclusive, "repo delegate", out)?;
    let staged = repo.delegate_hashed_bins(
        &HashedBinsOptions {
            set: set.clone(),
            bins,
            keys,
            threshold,
            allow_shared_key,
        },
        now(),
    )?;
    let (first, last) = (
        staged.bins.first().cloned().unwrap_or_default(),
        staged.bins.last().cloned().unwrap_or_default(),
    );
    if staged.groups.is_empty() {
        out.say(format!(
            "staged {bins} hashed bins {first} .. {last} under targets (threshold {threshold}, terminating)"
        ));
    } else {
        out.say(format!(
            "staged {bins} hashed bins {first} .. {last} in {} groups {} .. {} under targets (threshold {threshold}, terminating)",
            staged.groups.len(),
            staged.groups.first().cloned().unwrap_or_default(),
            staged.groups.last().cloned().unwrap_or_default(),
        ));
    }
    out.say(format!(
        "targets needs its approvers (`fwsign repo sign --role targets`); every bin{} needs {threshold} of the bins' approvers (`fwsign repo sign --role '{set}-*'`)",
        if staged.groups.is_empty() { "" } else { " and group" }
    ));
    out.say(format!(
        "add targets with `fwsign repo add --role {set}`: each goes to its bin"
    ));
    out.result(&json!({
        "ok": true,
        "set": set,
        "bins": staged.bins,
        "groups": staged.groups,
        "threshold": threshold,
    }));
    Ok(())
}

/// `repo sign --role PATTERN`: every staged role the pattern matches,
/// signed with one key unlock (one passphrase or PIN); each role's staged
/// change is shown before it is signed.
pub(crate) fn sign_matching(
    dir: &Path,
    pattern: &str,
    key: &str,
    key_opts: &KeyOpts,
    out: &Output,
) -> Result<(), Failure> {
    let repo = open(dir)?;
    let roles = matching_roles(&repo.staged_roles()?, pattern);
    if roles.is_empty() {
        return Err(Failure::usage(format!(
            "no staged role matches {pattern:?} (`fwsign repo status` lists them)"
        )));
    }
    let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
    let signer = keys.signer(key)?;
    // The slow half for every role without the lock, as `repo sign` does
    // for one; then all signatures are added under it. One read of the
    // published state and of each staged role for the report and both
    // halves (a release may re-stage hundreds of bins).
    let mut approvals = Vec::with_capacity(roles.len());
    let _lock = repo.sign_all_under_lock(
        &roles,
        signer.as_ref(),
        now(),
        &mut |role, change| out.say(format!("{role}: {}", change.summary())),
        || lock(&repo, LockKind::Exclusive, "repo sign", out),
        &mut |approval| {
            out.say(format!("{} signed {}", signer.keyid(), approval.role));
            say_approval(out, &approval);
            approvals.push(approval_json(&approval));
        },
    )?;
    out.result(&json!({
        "ok": true,
        "keyid": signer.keyid(),
        "pattern": pattern,
        "approvals": approvals,
    }));
    Ok(())
}

/// `repo extend --role PATTERN`: re-stages every staged or published
/// delegated targets role the pattern matches with the new expiry.
pub(crate) fn extend_matching(
    dir: &Path,
    pattern: &str,
    secs: i64,
    out: &Output,
) -> Result<(), Failure> {
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Exclusive, "repo extend", out)?;
    let mut roles = repo.staged_roles()?;
    if let Some(published) = repo.published()? {
        roles.extend(published.targets.keys().cloned());
    }
    roles.retain(|r| !["root", "targets", "snapshot", "timestamp"].contains(&r.as_str()));
    let roles = matching_roles(&roles, pattern);
    if roles.is_empty() {
        return Err(Failure::usage(format!(
            "no delegated role matches {pattern:?}"
        )));
    }
    let versions = repo.extend_all(&roles, secs, now())?;
    let mut staged = Vec::with_capacity(roles.len());
    for (role, version) in roles.iter().zip(versions) {
        out.say(format!("staged {role} v{version} with a new expiry"));
        staged.push(json!({"role": role, "version": version}));
    }
    out.say(format!(
        "{} role(s) need approval as usual (`fwsign repo sign --role '{pattern}'`)",
        roles.len()
    ));
    out.result(&json!({"ok": true, "pattern": pattern, "staged": staged}));
    Ok(())
}
