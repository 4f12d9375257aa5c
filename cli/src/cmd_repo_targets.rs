//! `fwsign repo targets`: what is released (or staged), target by target.
//! Everything listed comes from `fwsign_repo::catalogue`, which reads the
//! verified published state and counts approvals with the core's threshold
//! check; this module only prints.

use std::path::Path;

use fwsign_repo::catalogue::{ListedTarget, StagedChange};
use fwsign_repo::lock::LockKind;
use serde_json::json;

use crate::cmd_repo::{lock, open};
use crate::failure::Failure;
use crate::output::Output;

fn short(keyid: &str) -> &str {
    keyid.get(..16).unwrap_or(keyid)
}

fn say_target(out: &Output, t: &ListedTarget) {
    let change = match t.change {
        Some(StagedChange::Added) => " [added]",
        Some(StagedChange::Changed) => " [changed]",
        Some(StagedChange::Removed) => " [removed]",
        _ => "",
    };
    out.say(format!("{}{change}", t.name));
    let mut facts = Vec::new();
    match (&t.firmware, &t.firmware_error) {
        (Some(f), _) => {
            facts.push(format!("version {}", f.version));
            facts.push(format!("hardware {}", f.hardware_ids.join(", ")));
            facts.push(format!("security counter {}", f.security_counter));
        }
        (None, Some(e)) => facts.push(format!("firmware fields unreadable: {e}")),
        (None, None) => facts.push("no firmware fields".into()),
    }
    facts.push(format!("{} bytes", t.length));
    if let Some(sha) = t.hashes.get("sha256") {
        facts.push(format!("sha256 {sha}"));
    }
    out.say(format!("  {}", facts.join(", ")));
    let approvers: Vec<String> = t
        .approvers
        .iter()
        .map(|k| match t.owners.get(k) {
            Some(owner) => format!("{} ({})", owner.name, short(k)),
            None => short(k).to_owned(),
        })
        .collect();
    out.say(format!(
        "  listed by {} v{} (delegated by {}); approved by {} of {}{}{}",
        t.role,
        t.role_version,
        t.delegated_by,
        t.approvers.len(),
        t.threshold,
        if approvers.is_empty() { "" } else { ": " },
        approvers.join(", ")
    ));
    if t.answers == Some(false) {
        out.say(
            "  NOT what clients get: the target search answers this name from another role first, or not at all",
        );
    }
}

/// `repo targets DIR [--staged]`.
pub(crate) fn targets(dir: &Path, staged: bool, out: &Output) -> Result<(), Failure> {
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "repo targets", out)?;
    let (state, listed) = if staged {
        ("staged", repo.staged_targets()?)
    } else {
        ("published", repo.published_targets()?)
    };
    if listed.is_empty() {
        out.say(format!("no {state} targets in {}", dir.display()));
    }
    for t in &listed {
        say_target(out, t);
    }
    out.result(&json!({"ok": true, "state": state, "targets": listed}));
    Ok(())
}
