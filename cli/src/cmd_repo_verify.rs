//! `fwsign repo verify`: the whole published repository checked as a client
//! would, at a given time, with each fault named (file, role, what) and
//! what interrupted commands left reported as warnings. Read-only: takes the
//! repository lock shared (a read-only copy is checked without it).

use std::path::Path;

use fwsign_repo::lock::LockKind;
use serde_json::json;

use crate::cmd_bundle::{parse_at, time_text};
use crate::cmd_repo::{lock, open};
use crate::failure::Failure;
use crate::now;
use crate::output::Output;

pub(crate) fn verify(
    dir: &Path,
    at: Option<&str>,
    print_files: bool,
    out: &Output,
) -> Result<(), Failure> {
    let at = match at {
        Some(text) => parse_at(text)?,
        None => now(),
    };
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "repo verify", out)?;
    let report = repo.verify_published(at)?;
    for w in &report.warnings {
        out.warn(w.to_string());
    }
    let document = json!({
        "ok": report.is_ok(),
        "checked_at": time_text(at),
        "root_version": report.root_version,
        "snapshot_version": report.snapshot_version,
        "target_files": report.target_files,
        "faults": report.faults.iter().map(|f| f.to_json()).collect::<Vec<_>>(),
        "warnings": report.warnings.iter().map(|w| json!({
            "file": w.file,
            "role": w.role,
            "reason": w.reason,
            "message": w.what,
        })).collect::<Vec<_>>(),
    });
    if !report.is_ok() {
        for f in &report.faults {
            out.say(format!("  FAULT {f} [{}]", f.kind.reason()));
        }
        let mut document = document;
        document["reason"] = json!("verify-failed");
        return Err(Failure::security(format!(
            "{}: {} fault(s) at {}:{}",
            dir.display(),
            report.faults.len(),
            time_text(at),
            fwsign_repo::published_state::fault_list(&report.faults)
        ))
        .with_document(document));
    }
    let published = match report.snapshot_version {
        Some(s) => format!(
            "root chain v1 to v{}, snapshot v{s}, every targets role and {} target file(s)",
            report.root_version, report.target_files
        ),
        None => "nothing published yet".to_owned(),
    };
    out.say(format!(
        "verified {} at {}: {published}; {} warning(s)",
        dir.display(),
        time_text(at),
        report.warnings.len()
    ));
    if print_files {
        if out.is_json() {
            let mut document = document;
            document["files"] = json!(report.published_files);
            out.result(&document);
        } else {
            // The list is the command's output, for an upload step to read.
            let mut text = String::new();
            for file in &report.published_files {
                text.push_str(&file.to_string_lossy());
                text.push('\n');
            }
            std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())
                .map_err(|e| Failure::io(format!("stdout: {e}")))?;
        }
        return Ok(());
    }
    out.result(&document);
    Ok(())
}
