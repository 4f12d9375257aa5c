//! Batches for offline approvers on the command line: `repo export-payload
//! --role PATTERN`, `sign-payload` over a payload batch and `repo
//! import-signature` of a signature batch (the format and its checks are
//! `fwsign_repo::payload_batch`).

use std::path::Path;

use fwsign_keys::TufSigner;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_repo::bins::TargetChanges;
use fwsign_repo::lock::LockKind;
use fwsign_repo::payload_batch::{read_payload_batch, read_signature_batch};
use serde_json::json;

use crate::cmd_repo::{approval_json, lock, open, say_approval};
use crate::failure::Failure;
use crate::key_ref::load_public;
use crate::now;
use crate::output::Output;

fn change_line(role: &str, version: u64, sha256: &str, changes: &TargetChanges) -> String {
    format!(
        "  {role} v{version} (sha256 {sha256}): {}",
        changes.summary()
    )
}

/// `repo export-payload --role PATTERN --out FILE`: one payload batch.
pub(crate) fn export(dir: &Path, pattern: &str, path: &Path, out: &Output) -> Result<(), Failure> {
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "repo export-payload", out)?;
    let exported = repo.export_payload_batch(pattern, path)?;
    out.say(format!(
        "wrote {} (a batch of {} role(s), sha256 {}):",
        path.display(),
        exported.entries.len(),
        exported.batch_sha256
    ));
    for e in &exported.entries {
        out.say(change_line(
            &e.info.role,
            e.info.version,
            &e.info.sha256,
            &e.changes,
        ));
    }
    out.say(
        "sign it offline with `fwsign sign-payload`; check the batch SHA-256 with the approver",
    );
    out.result(&json!({
        "ok": true,
        "batch": path,
        "batch_sha256": exported.batch_sha256,
        "entries": exported.entries,
    }));
    Ok(())
}

/// `sign-payload BATCH`: every entry checked against its description, what
/// each role's change lists shown, then every entry signed with `signer`.
pub(crate) fn sign(
    file: &Path,
    signer: &dyn TufSigner,
    path: &Path,
    out: &Output,
) -> Result<(), Failure> {
    let batch = read_payload_batch(file)?;
    out.say(format!(
        "{}: a batch of {} role(s), sha256 {}",
        file.display(),
        batch.entries().len(),
        batch.sha256()
    ));
    for e in batch.entries() {
        out.say(change_line(&e.role, e.version, &e.sha256, &e.changes));
    }
    let signed = batch.sign(signer)?;
    write_atomic(path, &signed.to_bytes()?, Mode::Public)
        .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
    out.say(format!(
        "{} signed {} role(s); signatures in {}",
        signer.keyid(),
        signed.signatures.len(),
        path.display()
    ));
    out.result(&json!({
        "ok": true,
        "keyid": signer.keyid(),
        "batch_sha256": batch.sha256(),
        "entries": batch
            .entries()
            .iter()
            .map(|e| json!({"role": e.role, "version": e.version, "sha256": e.sha256, "changes": e.changes}))
            .collect::<Vec<_>>(),
        "signature": path,
    }));
    Ok(())
}

/// `repo import-signature --sig BATCH`: every signature added, or none.
pub(crate) fn import(
    dir: &Path,
    pattern: Option<&str>,
    public: &Path,
    sig: &Path,
    out: &Output,
) -> Result<(), Failure> {
    let key = load_public(public)?;
    let batch = read_signature_batch(sig)?;
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Exclusive, "repo import-signature", out)?;
    let approvals = repo.import_signature_batch(&key, &batch, sig, pattern, now())?;
    out.say(format!(
        "imported {}'s signatures on {} role(s) from {}",
        key.keyid(),
        approvals.len(),
        sig.display()
    ));
    for approval in &approvals {
        out.say(format!("{}:", approval.role));
        say_approval(out, approval);
    }
    out.result(&json!({
        "ok": true,
        "keyid": key.keyid(),
        "approvals": approvals.iter().map(approval_json).collect::<Vec<_>>(),
    }));
    Ok(())
}
