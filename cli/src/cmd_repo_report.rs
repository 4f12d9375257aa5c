//! `fwsign repo status` and `fwsign repo audit`: what a repository holds,
//! what is staged against it and who still has to approve, and whether its
//! audit log and published history are intact. Read-only: both take the
//! repository lock shared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fwsign_manifest_schema::metadata::{Root, Signed, Targets};
use fwsign_repo::audit::{Anchor, AuditHead};
use fwsign_repo::delegation_changes::{DelegationChanges, delegation_changes};
use fwsign_repo::key_owners::{KeyOwners, lookup};
use fwsign_repo::lock::LockKind;
use fwsign_repo::published_state::Fault;
use fwsign_repo::{Published, RepoError, Repository};
use serde_json::{Value, json};

use crate::cmd_repo::{approval_json, lock, open, say_approval};
use crate::cmd_repo_delegations::{keys, say_delegation_changes};
use crate::cmd_repo_expiry::expiry_report;
use crate::failure::Failure;
use crate::output::Output;

/// What changed in a staged role against the published one, and for a
/// targets role what changed in its delegations.
/// What a staged role changes: the `--json` object; for a targets role, its
/// delegation changes; and the names the documents authorising the keys
/// concerned give them (for root: the staged root's, then the published
/// root's; for a targets role, as the delegation changes have them).
type Changes = (Value, Option<(DelegationChanges, KeyOwners)>, KeyOwners);

fn changes(
    role: &str,
    repo: &Repository,
    published: Option<&Published>,
) -> Result<Changes, RepoError> {
    if role == "root" {
        let Some(staged) = repo.load_staged::<Root>("root")? else {
            return Ok((Value::Null, None, KeyOwners::default()));
        };
        let before: Option<&Signed<Root>> = published.map(|p| &p.root);
        let mut owners = lookup(&staged.signed);
        if let Some(b) = before {
            owners.merge(&lookup(&b.signed));
        }
        let mut keys = BTreeMap::new();
        for (name, r) in &staged.signed.roles {
            let old: BTreeSet<&String> = before
                .and_then(|b| b.signed.roles.get(name))
                .map(|o| o.keyids.iter().collect())
                .unwrap_or_default();
            let new: BTreeSet<&String> = r.keyids.iter().collect();
            let added: Vec<_> = new.difference(&old).collect();
            let removed: Vec<_> = old.difference(&new).collect();
            let old_threshold = before
                .and_then(|b| b.signed.roles.get(name))
                .map(|o| o.threshold);
            if !added.is_empty() || !removed.is_empty() || old_threshold != Some(r.threshold) {
                keys.insert(
                    name.clone(),
                    json!({
                        "keys_added": added,
                        "keys_removed": removed,
                        "owners": owners.only(added.iter().chain(&removed).map(|k| **k)),
                        "threshold": r.threshold,
                        "previous_threshold": old_threshold,
                    }),
                );
            }
        }
        return Ok((json!({"roles_changed": keys}), None, owners));
    }
    let Some(staged) = repo.load_staged::<Targets>(role)? else {
        return Ok((Value::Null, None, KeyOwners::default()));
    };
    let before: Option<&Signed<Targets>> = published.and_then(|p| p.targets.get(role));
    let old = before.map(|b| &b.signed.targets);
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (name, entry) in &staged.signed.targets {
        match old.and_then(|o| o.get(name)) {
            None => added.push(name.clone()),
            Some(prev) if prev != entry => changed.push(name.clone()),
            Some(_) => {}
        }
    }
    let removed: Vec<String> = old
        .map(|o| {
            o.keys()
                .filter(|n| !staged.signed.targets.contains_key(*n))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let delegations = delegation_changes(
        before.and_then(|b| b.signed.delegations.as_ref()),
        staged.signed.delegations.as_ref(),
    );
    // The delegations' keys, named by this role (staged, then published).
    let mut owners = lookup(&staged.signed);
    if let Some(b) = before {
        owners.merge(&lookup(&b.signed));
    }
    let value = json!({
        "delegations_key_owners": owners,
        "targets_added": added,
        "targets_removed": removed,
        "targets_changed": changed,
        "delegations_changed": !delegations.is_empty(),
        "delegations": delegations,
    });
    Ok((value, Some((delegations, owners)), KeyOwners::default()))
}

pub(crate) fn status(
    dir: &Path,
    check_expiry: Option<&str>,
    only: &[String],
    out: &Output,
) -> Result<(), Failure> {
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "repo status", out)?;
    // Status never refuses a published state that fails verification: it
    // reports each fault with its reason and exits 1.
    let loaded = repo.load_published()?;
    if !loaded.faults.is_empty() {
        return Err(published_faults(dir, &loaded.faults, out));
    }
    let published = loaded.published.as_ref();
    let mut roles = Vec::new();
    let mut signers_by_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut signer_names: BTreeMap<String, String> = BTreeMap::new();
    match published {
        Some(p) => out.say(format!(
            "published: root v{}{}",
            p.root.signed.version,
            p.snapshot
                .as_ref()
                .map(|s| format!(", snapshot v{}", s.signed.version))
                .unwrap_or_else(|| ", nothing else yet".into())
        )),
        None => out.say("published: nothing yet"),
    }
    let expiry = expiry_report(&repo, published, check_expiry, only, out)?;
    let approvals = repo.approvals_with(&loaded)?;
    if approvals.is_empty() {
        out.say("staged: nothing");
    }
    for a in &approvals {
        let (change, delegations, root_owners) = changes(&a.role, &repo, published)?;
        out.say(format!(
            "staged {} v{}{}",
            a.role,
            a.version,
            if a.is_met() {
                ": ready to publish"
            } else {
                ": awaiting approval"
            }
        ));
        if let Some(roles) = change.get("roles_changed").and_then(Value::as_object) {
            for (role, c) in roles {
                let list = |k: &str| -> Vec<String> {
                    c[k].as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let mut what = Vec::new();
                for (field, label) in [
                    ("keys_added", "keys added"),
                    ("keys_removed", "keys removed"),
                ] {
                    let keyids = list(field);
                    if !keyids.is_empty() {
                        what.push(format!("{label} {}", keys(&keyids, &root_owners)));
                    }
                }
                what.push(format!(
                    "threshold {}{}",
                    c["threshold"],
                    match c["previous_threshold"].as_u64() {
                        Some(p) => format!(" (was {p})"),
                        None => String::new(),
                    }
                ));
                out.say(format!("  {role}: {}", what.join("; ")));
            }
        } else if let Some(obj) = change.as_object() {
            for (k, v) in obj.iter().filter(|(k, _)| !k.starts_with("delegations")) {
                let empty = v.as_array().is_some_and(Vec::is_empty)
                    || v.as_object().is_some_and(|o| o.is_empty())
                    || v == &Value::Bool(false);
                if !empty {
                    out.say(format!("  {}: {v}", k.replace('_', " ")));
                }
            }
        }
        if let Some((d, owners)) = &delegations {
            say_delegation_changes(out, &a.role, d, owners);
        }
        say_approval(out, a);
        let dropped = repo.dropped_approvals(&a.role)?;
        if let Some(d) = &dropped {
            out.say(format!(
                "  approvals dropped at {} because the content changed after them: {}",
                d.time,
                a.owners.labels(&d.keyids)
            ));
        }
        for (_, r) in &a.reports {
            for k in &r.signed_by {
                if let Some(owner) = a.owners.get(k) {
                    signer_names.insert(k.clone(), owner.name.clone());
                }
            }
        }
        for (_, r) in &a.reports {
            signers_by_role
                .entry(a.role.clone())
                .or_default()
                .extend(r.signed_by.iter().cloned());
        }
        let mut v = approval_json(a);
        v["changes"] = change;
        v["dropped_approvals"] = serde_json::to_value(&dropped).unwrap_or(Value::Null);
        if let Some(d) = &dropped {
            v["dropped_approvals"]["owners"] = json!(a.owners.only(&d.keyids));
        }
        roles.push(v);
    }
    // Separation of duties: one key approving two roles of one release.
    let mut warnings = Vec::new();
    let names: Vec<&String> = signers_by_role.keys().collect();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            for k in signers_by_role[*a].intersection(&signers_by_role[*b]) {
                let who = signer_names
                    .get(k)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                let w = format!("key {k}{who} signed both {a} and {b} in this release");
                out.warn(&w);
                warnings.push(w);
            }
        }
    }
    let document = json!({
        "ok": expiry.failure.is_none(),
        "published": published.map(|p| json!({
            "root": p.root.signed.version,
            "snapshot": p.snapshot.as_ref().map(|s| s.signed.version),
            "timestamp": p.timestamp.as_ref().map(|t| t.signed.version),
            "targets": p.targets.iter().map(|(r, d)| (r.clone(), d.signed.version)).collect::<BTreeMap<_, _>>(),
        })),
        "staged": roles,
        "warnings": warnings,
        "roles": expiry.roles,
        "expiring": expiry.expiring,
    });
    if let Some((reason, message)) = expiry.failure {
        let mut document = document;
        document["reason"] = json!(reason);
        return Err(Failure::security(message).with_document(document));
    }
    out.result(&document);
    Ok(())
}

/// `repo status` on a published state with faults: each named, with its
/// reason; the failure carries them (`reason: verify-failed`).
fn published_faults(dir: &Path, faults: &[Fault], out: &Output) -> Failure {
    out.say(format!(
        "published: FAILS VERIFICATION ({} fault(s)); run `fwsign repo verify {}` for the full check",
        faults.len(),
        dir.display()
    ));
    for f in faults {
        out.say(format!("  {f} [{}]", f.kind.reason()));
    }
    // The same message and document as every command that refuses it.
    Failure::from(RepoError::VerifyFailed {
        dir: dir.to_path_buf(),
        faults: faults.to_vec(),
    })
}

pub(crate) fn audit(dir: &Path, expect_head: Option<&str>, out: &Output) -> Result<(), Failure> {
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "repo audit", out)?;
    let witnesses = match expect_head {
        Some(text) => vec![Anchor {
            source: "--expect-head".into(),
            head: text
                .parse::<AuditHead>()
                .map_err(|e| Failure::usage(format!("--expect-head: {e}")))?,
        }],
        None => Vec::new(),
    };
    let report = repo.verify_audit_with(&witnesses)?;
    for warning in &report.warnings {
        out.warn(warning);
    }
    if out.is_json() {
        // JSON lines, one per event, for a central log (SIEM), then the
        // head, for a CI job to keep outside the repository.
        let entries = repo.audit_log().entries().map_err(RepoError::from)?;
        // Names for key IDs from the verified published metadata; the name
        // an event recorded when it happened is its `approver`.
        let owners = repo
            .published()?
            .map(|p| fwsign_repo::key_owners::lookup_published(&p))
            .unwrap_or_default();
        for e in entries {
            out.data(&format!(
                "{}\n",
                json!({
                    "line": e.line,
                    "time": e.time,
                    "action": e.event.action,
                    "role": e.event.role,
                    "version": e.event.version,
                    "keyid": e.event.keyid,
                    "approver": e.event.approver,
                    "owner": e.event.keyid.as_deref().map(|k| owners.json(k)),
                    "targets": e.event.targets,
                    "detail": e.event.detail,
                    "hash": e.hash,
                    "prev": e.prev,
                    "repository": dir,
                })
            ));
        }
        out.data(&format!("{}\n", json!({ "head": report.log.head })));
    } else {
        let history = if report.roots == 0 {
            "nothing published yet".to_owned()
        } else {
            format!(
                "root chain v1 to v{}, {} snapshot(s) chained, {} targets role file(s)",
                report.roots, report.snapshots, report.role_files
            )
        };
        out.say(format!(
            "audit log verified: {} line(s), chain intact, {} anchor(s) match ({history}{})",
            report.log.lines,
            report.log.anchors_checked,
            if witnesses.is_empty() {
                ""
            } else {
                ", --expect-head"
            }
        ));
        if let Some(head) = &report.log.head {
            out.say(format!("head: {head}"));
        }
    }
    Ok(())
}
