//! `fwsign device inspect`: what a slot states, read with the device's own
//! parser (`fwsign_bootloader_verify::host::inspect`), trusting nothing.

use std::fmt::Write as _;
use std::path::Path;

use fwsign_bootloader_verify::host::inspect::{
    EntryReport, MetadataReport, SlotReport, TargetReport, inspect,
};
use fwsign_bootloader_verify::slot::EntryKind;
use serde_json::{Value, json};

use crate::args_device::InspectArgs;
use crate::failure::Failure;
use crate::output::Output;

/// Reads a slot file for the device tools: exit 3 when it cannot be read.
pub(crate) fn read_slot(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::io(format!("{}: {e}", path.display())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::TargetName => "target",
        EntryKind::Root => "root",
        EntryKind::Targets => "targets-role",
    }
}

pub(crate) fn run(args: &InspectArgs, out: &Output) -> Result<(), Failure> {
    let path = &args.slot;
    let bytes = read_slot(path)?;
    let report = inspect(&bytes).map_err(|e| {
        Failure::usage(format!("{}: not a readable slot: {e}", path.display())).with_document(
            json!({
                "reason": "slot-malformed",
                "slot": path,
            }),
        )
    })?;
    if out.is_json() {
        out.result(&document(path, &report));
    } else {
        out.data(&text(path, &report));
    }
    Ok(())
}

/// The listed SHA-256 of the slot's target, from the last role that lists
/// it (unverified), and whether the image's computed hash equals it.
fn listed_hash(report: &SlotReport<'_>) -> Option<(String, bool)> {
    let listed = report
        .entries
        .iter()
        .rev()
        .filter_map(|e| e.metadata.as_ref()?.as_ref().ok()?.target.as_ref())
        .find_map(|t| t.sha256.clone())?;
    let equal = listed.eq_ignore_ascii_case(&hex(&report.image_sha256));
    Some((listed, equal))
}

fn target_json(t: &TargetReport) -> Value {
    json!({
        "length": t.length,
        "sha256": t.sha256,
        "version": t.version,
        "security_counter": t.security_counter,
        "hardware_ids": t.hardware_ids,
        "min_bootloader_version": t.min_bootloader_version,
    })
}

fn metadata_json(m: &Result<MetadataReport, String>) -> Value {
    match m {
        Err(problem) => json!({ "readable": false, "problem": problem }),
        Ok(m) => json!({
            "readable": true,
            "version": m.version,
            "expires": m.expires,
            "signature_keyids": m.signature_keyids,
            "authorised": m.authorised.as_ref().map(|a| json!({
                "by": a.by,
                "threshold": a.threshold,
                "keyids": a.keyids,
            })),
            "target": m.target.as_ref().map(target_json),
        }),
    }
}

fn entry_json(e: &EntryReport) -> Value {
    let mut v = json!({
        "kind": kind_name(e.kind),
        "name": e.name,
        "size": e.size,
    });
    if let Some(m) = &e.metadata {
        v["metadata"] = metadata_json(m);
    }
    v
}

fn document(path: &Path, r: &SlotReport<'_>) -> Value {
    let listed = listed_hash(r);
    json!({
        "ok": true,
        "verified": false,
        "slot": path,
        "file_size": r.file_size,
        "header": {
            "header_size": r.header.header_size,
            "image_size": r.header.image_size,
            "trailer_size": r.header.trailer_size,
        },
        "image": {
            "offset": r.header.header_size,
            "size": r.image.len(),
            "sha256": hex(&r.image_sha256),
            "listed_sha256": listed.as_ref().map(|(l, _)| l),
            "matches_listed": listed.as_ref().map(|(_, m)| *m),
        },
        "trailer": {
            "offset": r.trailer_offset,
            "size": r.header.trailer_size,
            "entries": r.entries.iter().map(entry_json).collect::<Vec<_>>(),
        },
        "unused": {
            "size": r.unused,
            "fill": r.unused_fill,
        },
    })
}

fn metadata_text(s: &mut String, m: &Result<MetadataReport, String>) {
    let m = match m {
        Err(problem) => {
            let _ = writeln!(s, "      does not read: {problem}");
            return;
        }
        Ok(m) => m,
    };
    let _ = writeln!(
        s,
        "      version {}, expires {}",
        m.version,
        m.expires.as_deref().unwrap_or("(out of range)")
    );
    let _ = writeln!(
        s,
        "      signatures ({}): {}",
        m.signature_keyids.len(),
        if m.signature_keyids.is_empty() {
            "none".to_owned()
        } else {
            m.signature_keyids.join(", ")
        }
    );
    match &m.authorised {
        Some(a) => {
            let _ = writeln!(
                s,
                "      authorised by {}: {} of {}",
                a.by,
                a.threshold,
                a.keyids.join(", ")
            );
        }
        None => {
            let _ = writeln!(
                s,
                "      authorised keys: in the device's trusted root (not in the slot)"
            );
        }
    }
    if let Some(t) = &m.target {
        let _ = writeln!(
            s,
            "      lists the target: length {}, sha256 {}, version {}, security counter {}, hardware IDs [{}]{}",
            t.length,
            t.sha256.as_deref().unwrap_or("(none)"),
            t.version.as_deref().unwrap_or("(no firmware fields)"),
            t.security_counter
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            t.hardware_ids.join(", "),
            t.min_bootloader_version
                .as_ref()
                .map(|v| format!(", min bootloader {v}"))
                .unwrap_or_default()
        );
    }
}

fn text(path: &Path, r: &SlotReport<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "slot {} ({} bytes) -- as stated, nothing verified (fwsign device verify decides)",
        path.display(),
        r.file_size
    );
    let _ = writeln!(
        s,
        "header: header size {:#x}, image {} bytes, trailer {} bytes at {:#x}",
        r.header.header_size, r.header.image_size, r.header.trailer_size, r.trailer_offset
    );
    let _ = writeln!(s, "image sha256: {}", hex(&r.image_sha256));
    match listed_hash(r) {
        Some((_, true)) => {
            let _ = writeln!(s, "  equals the sha256 the chain lists (unverified)");
        }
        Some((listed, false)) => {
            let _ = writeln!(s, "  DIFFERS from the sha256 the chain lists: {listed}");
        }
        None => {
            let _ = writeln!(s, "  no role in the trailer lists a sha256 for the target");
        }
    }
    let _ = writeln!(s, "trailer: {} entries", r.entries.len());
    for (i, e) in (1..).zip(&r.entries) {
        let _ = match e.kind {
            EntryKind::TargetName => writeln!(s, "  {i}. target {}", e.name),
            EntryKind::Root => writeln!(s, "  {i}. root ({} bytes)", e.size),
            EntryKind::Targets => writeln!(s, "  {i}. targets role {} ({} bytes)", e.name, e.size),
        };
        if let Some(m) = &e.metadata {
            metadata_text(&mut s, m);
        }
    }
    match (r.unused, r.unused_fill) {
        (0, _) => {}
        (n, Some(fill)) => {
            let _ = writeln!(s, "unused: {n} bytes after the trailer, all {fill:#04x}");
        }
        (n, None) => {
            let _ = writeln!(s, "unused: {n} bytes after the trailer (mixed values)");
        }
    }
    s
}
