//! `fwsign identify FILE --repo DIR`: whether a file is a released image,
//! and which. The search is `fwsign_repo::identify` over the verified
//! published history; a firmware slot is recognised by the device's own
//! header parser and identified by its image. This module only prints.

use std::path::Path;

use fwsign_bootloader_verify::slot::Header;
use fwsign_repo::identify::{Identification, ImageMatch};
use fwsign_repo::lock::LockKind;
use serde_json::json;

use crate::cmd_repo::{lock, open};
use crate::failure::Failure;
use crate::output::Output;

/// The image a slot holds, found by its header; `None` when the file is
/// not a slot.
fn slot_image(bytes: &[u8]) -> Option<&[u8]> {
    let size = u32::try_from(bytes.len()).ok()?;
    let header = Header::parse(bytes, size).ok()?;
    let start = usize::try_from(header.header_size).ok()?;
    let end = start.checked_add(usize::try_from(header.image_size).ok()?)?;
    bytes.get(start..end)
}

fn say_match(out: &Output, m: &ImageMatch) {
    out.say(format!("released image: {}", m.name));
    match &m.firmware {
        Some(f) => out.say(format!(
            "  version {}, hardware {}, security counter {}",
            f.version,
            f.hardware_ids.join(", "),
            f.security_counter
        )),
        None => out.say("  no firmware fields"),
    }
    let versions = if m.first_role_version == m.last_role_version {
        format!("v{}", m.first_role_version)
    } else {
        format!("v{}-v{}", m.first_role_version, m.last_role_version)
    };
    out.say(format!(
        "  listed by {} {versions} (delegated by {}); approved by {} of {}: {}",
        m.role,
        m.delegated_by,
        m.approvers.len(),
        m.threshold,
        m.owners.labels(&m.approvers)
    ));
    out.say(format!(
        "  published {}",
        m.published_at
            .as_deref()
            .unwrap_or("(no publish event in the audit log)")
    ));
    if m.removed {
        out.say(format!(
            "  REMOVED: the newest {} no longer lists it under this name",
            m.role
        ));
    }
    for s in &m.superseded_by {
        out.say(format!(
            "  SUPERSEDED by {} (version {}, security counter {}, {} v{}) on {}",
            s.name,
            s.version,
            s.security_counter,
            s.role,
            s.role_version,
            s.hardware_ids.join(", ")
        ));
    }
    if !m.removed && m.superseded_by.is_empty() {
        out.say("  current: neither removed nor superseded");
    }
}

pub(crate) fn run(file: &Path, dir: &Path, out: &Output) -> Result<(), Failure> {
    let bytes = std::fs::read(file).map_err(|e| Failure::io(format!("{}: {e}", file.display())))?;
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "identify", out)?;
    let (slot, found): (bool, Identification) = match slot_image(&bytes) {
        Some(image) => (true, repo.identify(image)?),
        None => (false, repo.identify(&bytes)?),
    };
    if slot {
        out.say(format!(
            "{}: a firmware slot; identifying its image ({} bytes, sha256 {})",
            file.display(),
            found.length,
            found.sha256
        ));
    }
    let document = json!({
        "ok": !found.matches.is_empty(),
        "file": file.display().to_string(),
        "slot": slot,
        "sha256": found.sha256,
        "length": found.length,
        "released": !found.matches.is_empty(),
        "matches": found.matches,
    });
    if found.matches.is_empty() {
        return Err(Failure::security(format!(
            "{}: not a released image (sha256 {}, {} bytes, searched every published version in {})",
            file.display(),
            found.sha256,
            found.length,
            dir.display()
        ))
        .with_document(document));
    }
    for m in &found.matches {
        say_match(out, m);
    }
    out.result(&document);
    Ok(())
}
