//! `fwsign identify FILE --repo DIR`: whether a file is a released image,
//! and which. The search is `fwsign_repo::identify` over the verified
//! published history; a firmware slot, or a flash dump holding slots, is
//! recognised by the device's own header parser and identified by the
//! images its slots hold. This module only prints.

use std::path::Path;

use fwsign_bootloader_verify::slot::{HEADER_MAGIC, Header, TRAILER_MAGIC};
use fwsign_repo::identify::{Identification, ImageMatch};
use fwsign_repo::lock::LockKind;
use serde_json::{Value, json};

use crate::cmd_repo::{lock, open};
use crate::failure::Failure;
use crate::output::Output;

/// A slot found in the file: where its header starts, and its image.
struct FoundSlot<'b> {
    offset: usize,
    image: &'b [u8],
}

/// The slot whose header starts at `offset`, when one does: the header
/// parses within the rest of the file and the trailer it points at starts
/// with the trailer magic (so image bytes that happen to spell the header
/// magic are not taken for a slot). Returns the slot and where it ends.
fn slot_at(bytes: &[u8], offset: usize) -> Option<(FoundSlot<'_>, usize)> {
    let rest = bytes.get(offset..)?;
    let size = u32::try_from(rest.len()).unwrap_or(u32::MAX);
    let header = Header::parse(rest, size).ok()?;
    let start = usize::try_from(header.header_size).ok()?;
    let end = start.checked_add(usize::try_from(header.image_size).ok()?)?;
    let trailer_end = end.checked_add(usize::try_from(header.trailer_size).ok()?)?;
    if rest.get(end..end.checked_add(4)?)? != TRAILER_MAGIC {
        return None;
    }
    let image = rest.get(start..end)?;
    Some((
        FoundSlot { offset, image },
        offset.checked_add(trailer_end)?,
    ))
}

/// Every slot in `bytes`: the file itself when it is a slot, or the slots
/// of a flash dump, wherever they start (a dump need not begin at a slot
/// or sector boundary, so every offset holding the header magic is tried).
fn find_slots(bytes: &[u8]) -> Vec<FoundSlot<'_>> {
    let mut slots = Vec::new();
    let mut at = 0;
    while let Some(pos) = bytes.get(at..).and_then(|rest| {
        rest.windows(HEADER_MAGIC.len())
            .position(|w| w == HEADER_MAGIC)
    }) {
        let offset = at + pos;
        match slot_at(bytes, offset) {
            Some((slot, end)) => {
                slots.push(slot);
                at = end;
            }
            None => at = offset + 1,
        }
    }
    slots
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
    // The SBOM approved with the image (`repo add --sbom`); in --json it is
    // the firmware fields' sbom_target and sbom_sha256.
    if let Some(f) = &m.firmware
        && let (Some(name), Some(sha)) = (&f.sbom_target, &f.sbom_sha256)
    {
        out.say(format!(
            "  SBOM: {name} (sha256 {sha}), approved with the image"
        ));
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

fn slot_document(slot: &FoundSlot<'_>, found: &Identification) -> Value {
    json!({
        "offset": slot.offset,
        "sha256": found.sha256,
        "length": found.length,
        "released": !found.matches.is_empty(),
        "matches": found.matches,
    })
}

pub(crate) fn run(file: &Path, dir: &Path, out: &Output) -> Result<(), Failure> {
    let bytes = std::fs::read(file).map_err(|e| Failure::io(format!("{}: {e}", file.display())))?;
    let repo = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "identify", out)?;
    let slots = find_slots(&bytes);
    if slots.is_empty() {
        let found = repo.identify(&bytes)?;
        let document = json!({
            "ok": !found.matches.is_empty(),
            "file": file.display().to_string(),
            "slot": false,
            "sha256": found.sha256,
            "length": found.length,
            "released": !found.matches.is_empty(),
            "matches": found.matches,
        });
        return report_one(file, dir, &found, document, out);
    }
    let images: Vec<&[u8]> = slots.iter().map(|s| s.image).collect();
    let results = repo.identify_all(&images)?;
    // One slot at the start of the file: a slot `device pack` wrote.
    if let ([slot], [found]) = (slots.as_slice(), results.as_slice())
        && slot.offset == 0
    {
        out.say(format!(
            "{}: a firmware slot; identifying its image ({} bytes, sha256 {})",
            file.display(),
            found.length,
            found.sha256
        ));
        let document = json!({
            "ok": !found.matches.is_empty(),
            "file": file.display().to_string(),
            "slot": true,
            "sha256": found.sha256,
            "length": found.length,
            "released": !found.matches.is_empty(),
            "matches": found.matches,
            "slots": [slot_document(slot, found)],
        });
        return report_one(file, dir, found, document, out);
    }
    // A flash dump: every slot in it must hold a released image.
    out.say(format!(
        "{}: a flash dump holding {} slot(s)",
        file.display(),
        slots.len()
    ));
    let foreign: Vec<String> = slots
        .iter()
        .zip(&results)
        .filter(|(_, found)| found.matches.is_empty())
        .map(|(slot, _)| format!("{:#x}", slot.offset))
        .collect();
    for (slot, found) in slots.iter().zip(&results) {
        out.say(format!(
            "slot at {:#x}: image of {} bytes, sha256 {}",
            slot.offset, found.length, found.sha256
        ));
        if found.matches.is_empty() {
            out.say("  NOT a released image");
        }
        for m in &found.matches {
            say_match(out, m);
        }
    }
    let document = json!({
        "ok": foreign.is_empty(),
        "file": file.display().to_string(),
        "slot": true,
        "dump": true,
        "released": foreign.is_empty(),
        "slots": slots.iter().zip(&results).map(|(s, f)| slot_document(s, f)).collect::<Vec<_>>(),
    });
    if !foreign.is_empty() {
        return Err(Failure::security(format!(
            "{}: the slot(s) at {} hold no released image (searched every published version in {})",
            file.display(),
            foreign.join(", "),
            dir.display()
        ))
        .with_document(document));
    }
    out.result(&document);
    Ok(())
}

/// Prints one identification, or refuses a file that is no released image.
fn report_one(
    file: &Path,
    dir: &Path,
    found: &Identification,
    document: Value,
    out: &Output,
) -> Result<(), Failure> {
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
