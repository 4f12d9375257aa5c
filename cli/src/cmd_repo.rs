//! `fwsign repo` and `fwsign sign-payload`.

use std::path::{Path, PathBuf};

use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_repo::approval::{decode_signature, sign_payload as sign_payload_file};
use fwsign_repo::lock::{LockKind, RepoLock};
use fwsign_repo::payload_batch::{is_payload_batch, is_signature_batch};
use fwsign_repo::publish::PublishStep;
use fwsign_repo::staging::{
    AddOptions, DelegateOptions, NewTarget, OnExisting, Progress, RotateOptions, TargetChange,
    targets_from_dir, targets_from_list,
};
use fwsign_repo::{ExpiryPolicy, InitOptions, RepoError, Repository, RoleApproval, parse_duration};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::args::{HashArg, RepoCommand, SignPayloadArgs};
use crate::cmd_repo_report::{audit, status};
use crate::failure::Failure;
use crate::key_ref::{KeyResolver, load_public};
use crate::output::Output;
use crate::{lock_timeout, now};

pub(crate) fn open(dir: &Path) -> Result<Repository, Failure> {
    Ok(Repository::open(dir)?)
}

/// Takes `repo`'s lock for `command` (`--lock-timeout`): exclusive for a
/// command that changes the repository, held until the returned value is
/// dropped (taking it removes the temporary files killed commands left);
/// shared for one that only reads it. A read-only copy is read without the
/// lock, with a warning saying so.
pub(crate) fn lock(
    repo: &Repository,
    kind: LockKind,
    command: &str,
    out: &Output,
) -> Result<RepoLock, Failure> {
    let held = repo.lock(kind, command, lock_timeout())?;
    crate::cmd_repo_forward::note_exclusive(repo.dir(), kind);
    if let Some(reason) = held.unlocked_reason() {
        out.warn(reason);
    }
    Ok(held)
}

/// [`open`] and [`lock`] for a command that changes the repository.
fn open_exclusive(
    dir: &Path,
    command: &str,
    out: &Output,
) -> Result<(Repository, RepoLock), Failure> {
    let repo = open(dir)?;
    let held = lock(&repo, LockKind::Exclusive, command, out)?;
    Ok((repo, held))
}

/// The files `repo add` stages, with their target names: each FILE by its
/// file name (or `--name`), each DIR recursively by paths relative to it,
/// then the `--files-from` list (`-`: standard input); `--prefix` before
/// every name. The naming rules live in the library
/// (`fwsign_repo::staging::targets_from_dir`, `targets_from_list`).
fn add_sources(
    files: &[PathBuf],
    files_from: Option<&Path>,
    name: Option<String>,
    prefix: Option<&str>,
) -> Result<Vec<NewTarget>, Failure> {
    let single_file = files.len() == 1 && files_from.is_none() && !files[0].is_dir();
    if name.is_some() && !single_file {
        return Err(Failure::usage(
            "--name names one file; give one FILE or use --prefix",
        ));
    }
    let mut targets = Vec::new();
    for file in files {
        if file.is_dir() {
            targets.extend(targets_from_dir(file, prefix)?);
            continue;
        }
        if !file.is_file() {
            return Err(Failure::usage(format!(
                "{}: no such file or directory",
                file.display()
            )));
        }
        let base = match &name {
            Some(n) => n.clone(),
            None => file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| {
                    Failure::usage(format!("{}: has no usable file name", file.display()))
                })?
                .to_owned(),
        };
        targets.push(NewTarget {
            file: file.clone(),
            name: match prefix {
                Some(p) => format!("{}/{base}", p.trim_end_matches('/')),
                None => base,
            },
        });
    }
    if let Some(list) = files_from {
        let (text, source) = if list == Path::new("-") {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| Failure::usage(format!("standard input: {e}")))?;
            (text, "standard input".to_owned())
        } else {
            let text = std::fs::read_to_string(list)
                .map_err(|e| Failure::usage(format!("{}: {e}", list.display())))?;
            (text, list.display().to_string())
        };
        let listed = targets_from_list(&text, &source, prefix)?;
        for t in &listed {
            if !t.file.is_file() {
                return Err(Failure::usage(format!(
                    "{}: no such file (listed in {source} for {})",
                    t.file.display(),
                    t.name
                )));
            }
        }
        targets.extend(listed);
    }
    Ok(targets)
}

/// The test-only fault point (`FWSIGN_TEST_CRASH_AT`): a step name at which
/// the process aborts, to prove an interrupted command leaves the
/// repository whole and its successor cleans up. Unset in normal use.
fn crash_at() -> Option<String> {
    std::env::var("FWSIGN_TEST_CRASH_AT").ok()
}

fn split_pair<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str), Failure> {
    text.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| Failure::usage(format!("{what} {text:?}: expected KEY=VALUE")))
}

pub(crate) fn duration(text: &str) -> Result<i64, Failure> {
    Ok(parse_duration(text)?)
}

pub(crate) fn approval_json(a: &RoleApproval) -> Value {
    json!({
        "role": a.role,
        "version": a.version,
        "met": a.is_met(),
        "thresholds": a.reports.iter().map(|(by, r)| json!({
            "by": by,
            "valid": r.valid,
            "threshold": r.threshold,
            "signed_by": r.signed_by,
            "may_still_sign": r.may_still_sign,
            "owners": a.owners.only(r.signed_by.iter().chain(&r.may_still_sign)),
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn say_approval(out: &Output, a: &RoleApproval) {
    for (by, r) in &a.reports {
        out.say(format!(
            "  {} v{} ({by}): {} of {} signatures{}{}",
            a.role,
            a.version,
            r.valid,
            r.threshold,
            if r.signed_by.is_empty() {
                String::new()
            } else {
                format!(": {}", a.owners.labels(&r.signed_by))
            },
            if r.is_met() { "; threshold met" } else { "" }
        ));
        if !r.is_met() && !r.may_still_sign.is_empty() {
            out.say(format!(
                "    may still sign: {}",
                a.owners.labels(&r.may_still_sign)
            ));
        }
    }
}

pub(crate) fn run(cmd: RepoCommand, out: &Output) -> Result<(), Failure> {
    match cmd {
        RepoCommand::Init {
            dir,
            root_keys,
            root_threshold,
            targets_keys,
            targets_threshold,
            snapshot_key,
            timestamp_key,
            expires,
            allow_shared_key,
            key_owners,
        } => {
            let owners = crate::cmd_repo_owners::parse_key_owners(&key_owners)?;
            let mut expiry = ExpiryPolicy::default();
            for e in &expires {
                let (role, d) = split_pair(e, "--expires")?;
                expiry.set(role, duration(d)?)?;
            }
            let load_all = |paths: &[PathBuf]| -> Result<Vec<_>, Failure> {
                paths.iter().map(|p| load_public(p)).collect()
            };
            let options = InitOptions {
                root_keys: load_all(&root_keys)?,
                root_threshold,
                targets_keys: load_all(&targets_keys)?,
                targets_threshold,
                snapshot_key: load_public(&snapshot_key)?,
                timestamp_key: load_public(&timestamp_key)?,
                expiry,
                allow_shared_key,
            };
            // The directory exists before the lock can be taken in it; two
            // inits at once: the second finds the first's repository.
            let created = !dir.exists();
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::io(format!("{}: {e}", dir.display())))?;
            let held = RepoLock::acquire(&dir, LockKind::Exclusive, "repo init", lock_timeout())
                .map_err(RepoError::from)?;
            crate::cmd_repo_forward::note_exclusive(&dir, LockKind::Exclusive);
            if let Err(e) = Repository::init_with_owners(&dir, &options, &owners, now()) {
                // Refused before writing anything: leave no directory behind
                // that this command made only to hold the lock in.
                if created && !matches!(e, RepoError::AlreadyInitialised(_)) {
                    let _ = std::fs::remove_file(dir.join(fwsign_repo::lock::LOCK_FILE));
                    drop(held);
                    let _ = std::fs::remove_dir(&dir);
                }
                return Err(e.into());
            }
            drop(held);
            out.say(format!(
                "initialised {}: root v1 (threshold {root_threshold} of {}) and targets v1 (threshold {targets_threshold} of {}) staged",
                dir.display(),
                root_keys.len(),
                targets_keys.len()
            ));
            out.say("next: add targets with `fwsign repo add`, then approvers sign with `fwsign repo sign`");
            for a in &owners {
                out.say(format!("  key {} is held by {}", a.keyid, a.owner));
            }
            out.result(&json!({
                "ok": true,
                "dir": dir,
                "staged": ["root", "targets"],
                "owners": owners.iter().map(|a| json!({"keyid": a.keyid, "owner": a.owner})).collect::<Vec<_>>(),
            }));
            Ok(())
        }
        RepoCommand::Add {
            dir,
            files,
            files_from,
            hardware_ids,
            version,
            security_counter,
            name,
            prefix,
            role,
            custom,
            hash,
            min_bootloader_version,
            sbom_sha256,
            sbom,
            replace,
        } => {
            let targets = add_sources(&files, files_from.as_deref(), name, prefix.as_deref())?;
            let mut custom_fields = Vec::new();
            for c in &custom {
                let (k, v) = split_pair(c, "--custom")?;
                let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
                custom_fields.push((k.to_owned(), value));
            }
            let options = AddOptions {
                role,
                targets,
                hardware_ids,
                version,
                security_counter,
                min_bootloader_version,
                sbom_sha256,
                sbom,
                sha512: hash.contains(&HashArg::Sha512),
                custom: custom_fields,
            };
            let show = out.progress_visible();
            let mut bar: Option<ProgressBar> = None;
            let crash_while_copying = crash_at().as_deref() == Some("add-copying");
            let mut progress = |p: Progress<'_>| match p {
                Progress::Start { name, total } if show && total >= 4 * 1024 * 1024 => {
                    let b = ProgressBar::new(total);
                    if let Ok(style) = ProgressStyle::with_template(
                        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
                    ) {
                        b.set_style(style);
                    }
                    b.set_message(name.to_owned());
                    bar = Some(b);
                }
                Progress::Advance(n) => {
                    if crash_while_copying {
                        std::process::abort();
                    }
                    if let Some(b) = &bar {
                        b.inc(n);
                    }
                }
                Progress::Finish => {
                    if let Some(b) = bar.take() {
                        b.finish_and_clear();
                    }
                }
                Progress::Start { .. } => {}
            };
            let (repo, _lock) = open_exclusive(&dir, "repo add", out)?;
            let on_existing = if replace {
                OnExisting::Replace
            } else {
                OnExisting::Refuse
            };
            // Whose approvals the add drops: those on the role, or on each
            // bin its targets route to (routed once), before and after.
            // Into hashed bins when `--role` names a set of them.
            let mut touched = Vec::new();
            let mut signed_before = Vec::new();
            let routed = repo.add_routed_reporting(
                &options,
                on_existing,
                now(),
                &mut progress,
                &mut |routing| {
                    touched = routing.roles();
                    for role in &touched {
                        signed_before.push(repo.staged_signers(role)?);
                    }
                    Ok(())
                },
            )?;
            let added: Vec<_> = routed.iter().map(|(_, t)| t).collect();
            let mut dropped = Vec::new();
            for (role, before) in touched.iter().zip(&signed_before) {
                match crate::cmd_repo_owners::report_dropped(&repo, role, before, out)? {
                    serde_json::Value::Array(items) => dropped.extend(items),
                    other => dropped.push(other),
                }
            }
            out.say_each(routed.iter().map(|(role, t)| {
                let (name, len, sha) = (&t.name, t.length, &t.hashes["sha256"]);
                match t.change {
                    TargetChange::Unchanged => format!(
                        "{role} already lists {name} with these bytes and fields (sha256 {sha}): nothing staged"
                    ),
                    TargetChange::Updated => {
                        format!("staged new fields for {name} in {role} (same bytes, sha256 {sha})")
                    }
                    TargetChange::Replaced => format!(
                        "replaced {name} in {role} with other bytes ({len} bytes, sha256 {sha})"
                    ),
                    _ => format!("staged {name} ({len} bytes, sha256 {sha}) in {role}"),
                }
            }));
            #[derive(serde::Serialize)]
            struct Added<'a> {
                ok: bool,
                role: &'a str,
                added: Vec<&'a fwsign_repo::staging::AddedTarget>,
                dropped_approvals: Vec<serde_json::Value>,
            }
            out.result_of(&Added {
                ok: true,
                role: &options.role,
                added,
                dropped_approvals: dropped,
            });
            Ok(())
        }
        RepoCommand::Remove { dir, name, role } => {
            let (repo, _lock) = open_exclusive(&dir, "repo remove", out)?;
            repo.remove(&role, &name, now())?;
            out.say(format!("staged the removal of {name} from {role}"));
            out.result(&json!({"ok": true, "role": role, "removed": name}));
            Ok(())
        }
        RepoCommand::Delegate {
            dir,
            role,
            keys,
            threshold,
            paths,
            hashed_bins,
            terminating,
            allow_shared_key,
            key_owners,
        } => {
            let owners = crate::cmd_repo_owners::parse_key_owners(&key_owners)?;
            if let Some(bins) = hashed_bins {
                return crate::cmd_repo_delegations::delegate_hashed_bins(
                    &dir,
                    role,
                    &keys,
                    threshold,
                    bins,
                    allow_shared_key,
                    out,
                );
            }
            let keys = keys
                .iter()
                .map(|k| load_public(k))
                .collect::<Result<Vec<_>, _>>()?;
            let (repo, _lock) = open_exclusive(&dir, "repo delegate", out)?;
            let signed_before = repo.staged_signers("targets")?;
            let restaged = repo.delegate_with_owners(
                &DelegateOptions {
                    role: role.clone(),
                    keys,
                    threshold,
                    paths: paths.clone(),
                    terminating,
                    allow_shared_key,
                },
                &owners,
                now(),
            )?;
            let dropped =
                crate::cmd_repo_owners::report_dropped(&repo, "targets", &signed_before, out)?;
            out.say(format!(
                "staged delegation of {} to {role} (threshold {threshold})",
                paths.join(", ")
            ));
            if let Some(version) = restaged {
                out.say(format!(
                    "staged {role} v{version} again (same targets, signatures cleared): its new keys must sign it (`fwsign repo sign --role {role}`)"
                ));
            }
            out.result(&json!({
                "ok": true,
                "role": role,
                "paths": paths,
                "threshold": threshold,
                "restaged_version": restaged,
                "owners": owners.iter().map(|a| json!({"keyid": a.keyid, "owner": a.owner})).collect::<Vec<_>>(),
                "dropped_approvals": dropped,
            }));
            Ok(())
        }
        RepoCommand::Status {
            dir,
            check_expiry,
            roles,
        } => status(&dir, check_expiry.as_deref(), &roles, out),
        RepoCommand::Sign {
            dir,
            role,
            key,
            key_opts,
        } => {
            if fwsign_repo::bins::is_pattern(&role) {
                return crate::cmd_repo_delegations::sign_matching(
                    &dir, &role, &key, &key_opts, out,
                );
            }
            let repo = open(&dir)?;
            let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
            let signer = keys.signer(&key)?;
            // The slow half (passphrase, PIN, touch) without the lock; then
            // the signature is added under it, if the role still has the
            // bytes that were signed.
            let (approval, _lock) = repo.sign_under_lock(&role, signer.as_ref(), now(), || {
                lock(&repo, LockKind::Exclusive, "repo sign", out)
            })?;
            out.say(format!("{} signed {role}", signer.keyid()));
            say_approval(out, &approval);
            out.result(
                &json!({"ok": true, "keyid": signer.keyid(), "approval": approval_json(&approval)}),
            );
            Ok(())
        }
        RepoCommand::MergeSignatures { dir, other } => {
            let (repo, _lock) = open_exclusive(&dir, "repo merge-signatures", out)?;
            if !other.join("staged").is_dir() {
                return Err(Failure::usage(format!(
                    "{}: has no staged/ directory to merge from",
                    other.display()
                )));
            }
            let report = repo.merge_signatures(&other, now())?;
            for (role, keyid) in &report.added {
                let who = repo.key_owners_for(role)?.label(keyid);
                out.say(format!("merged {who}'s signature on {role}"));
            }
            for role in &report.conflicts {
                out.warn(format!(
                    "{role}: the other copy stages different content; nothing merged for it"
                ));
            }
            if report.added.is_empty() {
                out.say("no new signatures");
            }
            out.result(&json!({"ok": true, "added": report.added, "conflicts": report.conflicts}));
            Ok(())
        }
        RepoCommand::ExportPayload {
            dir,
            role,
            out: path,
        } => {
            if fwsign_repo::bins::is_pattern(&role) {
                return crate::cmd_repo_batch::export(&dir, &role, &path, out);
            }
            let repo = open(&dir)?;
            let _lock = lock(&repo, LockKind::Shared, "repo export-payload", out)?;
            let info = repo.export_payload(&role, &path)?;
            out.say(format!(
                "wrote {} ({} v{}, sha256 {}) and {}.json",
                path.display(),
                info.role,
                info.version,
                info.sha256,
                path.display()
            ));
            out.result(&json!({"ok": true, "payload": path, "info": info}));
            Ok(())
        }
        RepoCommand::ImportSignature {
            dir,
            role,
            public,
            sig,
        } => {
            let raw = std::fs::read(&sig)
                .map_err(|e| Failure::usage(format!("{}: {e}", sig.display())))?;
            if is_signature_batch(&raw) {
                return crate::cmd_repo_batch::import(&dir, role.as_deref(), &public, &sig, out);
            }
            let role = role.ok_or_else(|| {
                Failure::usage(format!(
                    "{}: one signature: give --role ROLE (the role it signs)",
                    sig.display()
                ))
            })?;
            let key = load_public(&public)?;
            let bytes = decode_signature(&raw, key.algorithm())
                .map_err(|e| Failure::usage(format!("{}: {e}", sig.display())))?;
            let (repo, _lock) = open_exclusive(&dir, "repo import-signature", out)?;
            let approval = repo.import_signature(&role, &key, &bytes, now())?;
            out.say(format!("imported {}'s signature on {role}", key.keyid()));
            say_approval(out, &approval);
            out.result(
                &json!({"ok": true, "keyid": key.keyid(), "approval": approval_json(&approval)}),
            );
            Ok(())
        }
        RepoCommand::Publish {
            dir,
            snapshot_key,
            timestamp_key,
            key_opts,
        } => {
            let repo = open(&dir)?;
            let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
            let snapshot = keys.signer(&snapshot_key)?;
            let timestamp = keys.signer(&timestamp_key)?;
            let held = lock(&repo, LockKind::Exclusive, "repo publish", out)?;
            repo.remove_stale_target_temporaries(&held)?;
            // Test-only fault point: kill the process at a named step, to
            // prove a publish interrupted anywhere leaves the old repository
            // whole.
            let crash_at = crash_at();
            let published = repo.publish(
                snapshot.as_ref(),
                timestamp.as_ref(),
                now(),
                &mut |step: PublishStep| {
                    if crash_at.as_deref() == Some(step.name()) {
                        std::process::abort();
                    }
                },
            );
            let outcome = match published {
                Ok(outcome) => outcome,
                // Nothing to do is not a failure (a publish job on every push).
                Err(RepoError::NothingStaged(_)) => {
                    out.say(format!(
                        "nothing is staged in {}: nothing to publish",
                        dir.display()
                    ));
                    out.result(
                        &json!({"ok": true, "published": false, "reason": "nothing-staged"}),
                    );
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            out.say(format!("published: {}", outcome.summary()));
            out.say_each(
                outcome
                    .targets_published
                    .iter()
                    .map(|t| format!("  target {t}")),
            );
            for w in &outcome.warnings {
                out.warn(w.to_string());
            }
            let warnings: Vec<Value> = outcome
                .warnings
                .iter()
                .map(|w| {
                    let mut v = serde_json::to_value(w).unwrap_or(Value::Null);
                    v["message"] = Value::from(w.to_string());
                    v
                })
                .collect();
            out.result(&json!({"ok": true, "published": outcome, "warnings": warnings}));
            Ok(())
        }
        RepoCommand::RotateRoot {
            dir,
            add_key,
            remove_key,
            threshold,
            expires,
            allow_shared_key,
            key_owners,
        } => {
            let mut options = RotateOptions {
                allow_shared_key,
                owners: crate::cmd_repo_owners::parse_key_owners(&key_owners)?,
                ..RotateOptions::default()
            };
            for a in &add_key {
                let (role, path) = split_pair(a, "--add-key")?;
                options
                    .add
                    .push((role.to_owned(), load_public(Path::new(path))?));
            }
            for r in &remove_key {
                let (role, keyid) = split_pair(r, "--remove-key")?;
                options.remove.push((role.to_owned(), keyid.to_owned()));
            }
            for t in &threshold {
                let (role, n) = split_pair(t, "--threshold")?;
                let n: u64 = n.parse().map_err(|_| {
                    Failure::usage(format!("--threshold {t:?}: N must be a number"))
                })?;
                options.thresholds.push((role.to_owned(), n));
            }
            options.expires = expires.as_deref().map(duration).transpose()?;
            let (repo, _lock) = open_exclusive(&dir, "repo rotate-root", out)?;
            let signed_before = repo.staged_signers("root")?;
            let version = repo.rotate_root(&options, now())?;
            let dropped =
                crate::cmd_repo_owners::report_dropped(&repo, "root", &signed_before, out)?;
            out.say(format!(
                "staged root v{version}; it needs a threshold of the old and of the new root keys"
            ));
            out.result(&json!({"ok": true, "root_version": version, "dropped_approvals": dropped}));
            Ok(())
        }
        RepoCommand::Refresh {
            dir,
            snapshot_key,
            timestamp_key,
            within,
            key_opts,
        } => {
            let repo = open(&dir)?;
            let within = duration(&within)?;
            let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
            let snapshot = keys.signer(&snapshot_key)?;
            let timestamp = keys.signer(&timestamp_key)?;
            let _lock = lock(&repo, LockKind::Exclusive, "repo refresh", out)?;
            let outcome = repo.refresh(snapshot.as_ref(), timestamp.as_ref(), within, now())?;
            match (outcome.snapshot_version, outcome.timestamp_version) {
                (None, None) => out.say("nothing due"),
                (s, t) => out.say(format!(
                    "re-signed{}{}",
                    s.map(|v| format!(" snapshot v{v}")).unwrap_or_default(),
                    t.map(|v| format!(" timestamp v{v}")).unwrap_or_default()
                )),
            }
            out.result(&json!({"ok": true, "refreshed": outcome}));
            Ok(())
        }
        RepoCommand::RefreshTimestamp {
            dir,
            timestamp_key,
            key_opts,
        } => {
            let repo = open(&dir)?;
            let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
            let timestamp = keys.signer(&timestamp_key)?;
            let _lock = lock(&repo, LockKind::Exclusive, "repo refresh-timestamp", out)?;
            let version = repo.refresh_timestamp(timestamp.as_ref(), now())?;
            out.say(format!("re-signed timestamp v{version}"));
            out.result(&json!({"ok": true, "timestamp_version": version}));
            Ok(())
        }
        RepoCommand::Extend { dir, role, expires } => {
            let secs = duration(&expires)?;
            if fwsign_repo::bins::is_pattern(&role) {
                return crate::cmd_repo_delegations::extend_matching(&dir, &role, secs, out);
            }
            let (repo, _lock) = open_exclusive(&dir, "repo extend", out)?;
            let version = repo.extend(&role, secs, now())?;
            out.say(format!(
                "staged {role} v{version} with a new expiry; it needs approval as usual"
            ));
            out.result(&json!({"ok": true, "role": role, "version": version}));
            Ok(())
        }
        RepoCommand::Audit {
            dir,
            expect_head,
            forward,
            format,
            sd_id,
            cursor,
            ca,
        } => {
            let args = crate::cmd_repo_forward::ForwardArgs {
                forward,
                format,
                sd_id,
                cursor,
                ca,
            };
            if args.any() {
                crate::cmd_repo_forward::audit_forward(&dir, args, out)
            } else {
                if args.sd_id.is_some() || args.cursor.is_some() {
                    return Err(Failure::usage(
                        "--sd-id and --cursor apply to --forward or --format",
                    ));
                }
                audit(&dir, expect_head.as_deref(), out)
            }
        }
        RepoCommand::Undelegate {
            dir,
            role,
            from,
            recursive,
        } => {
            let (repo, _lock) = open_exclusive(&dir, "repo undelegate", out)?;
            crate::cmd_repo_delegations::undelegate(&repo, role, from, recursive, out)
        }
        RepoCommand::Targets { dir, staged } => crate::cmd_repo_targets::targets(&dir, staged, out),
        RepoCommand::Verify {
            dir,
            at,
            print_files,
        } => crate::cmd_repo_verify::verify(&dir, at.as_deref(), print_files, out),
        RepoCommand::Push(args) => crate::cmd_repo_push::push(args, out),
    }
}

pub(crate) fn sign_payload(args: SignPayloadArgs, out: &Output) -> Result<(), Failure> {
    let keys = KeyResolver::new(args.key_opts.passphrase_env.as_deref());
    let signer = keys.signer(&args.key)?;
    if std::fs::read(&args.file).is_ok_and(|bytes| is_payload_batch(&bytes)) {
        return crate::cmd_repo_batch::sign(&args.file, signer.as_ref(), &args.out, out);
    }
    let (info, sig) = sign_payload_file(&args.file, signer.as_ref())?;
    let hex = base16ct::lower::encode_string(&sig.0);
    write_atomic(&args.out, format!("{hex}\n").as_bytes(), Mode::Public)
        .map_err(|e| Failure::io(format!("{}: {e}", args.out.display())))?;
    out.say(format!(
        "{} signed {} v{} (sha256 {}); signature in {}",
        signer.keyid(),
        info.role,
        info.version,
        info.sha256,
        args.out.display()
    ));
    out.result(&json!({"ok": true, "keyid": signer.keyid(), "info": info, "signature": args.out}));
    Ok(())
}
