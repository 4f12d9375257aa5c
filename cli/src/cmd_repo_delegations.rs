//! Delegations on the command line: what a staged role changes in them
//! (`repo status`) and `repo undelegate`.

use fwsign_repo::Repository;
use fwsign_repo::delegation_changes::{DelegationChangeKind, DelegationChanges};
use fwsign_repo::staging::UndelegateOptions;
use serde_json::json;

use crate::failure::Failure;
use crate::output::Output;

fn short(keyid: &str) -> &str {
    keyid.get(..16).unwrap_or(keyid)
}

fn keys(list: &[String]) -> String {
    list.iter().map(|k| short(k)).collect::<Vec<_>>().join(", ")
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
pub(crate) fn say_delegation_changes(out: &Output, role: &str, changes: &DelegationChanges) {
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
                keys(&c.keys_added),
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
                    what.push(format!("keys added {}", keys(&c.keys_added)));
                }
                if !c.keys_removed.is_empty() {
                    what.push(format!("keys removed {}", keys(&c.keys_removed)));
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
