//! `fwsign identify FILE --repo DIR`: golden images. A released image is
//! named with its firmware fields, listing role, approvers and publish
//! time; a slot `device pack` made is identified by its image; an image a
//! later release supersedes (same hardware, higher counter) says so; a file
//! matching nothing is exit 1, "not a released image".

use std::path::Path;

use fwsign_tests::{Run, SECURITY};
use serde_json::Value;

use crate::release_support::{FW_NAME, Release, firmware, json};

fn identify(r: &Release, file: &Path) -> Run {
    r.fw.run([
        "--json",
        "identify",
        Release::arg(file),
        "--repo",
        Release::arg(&r.dir),
    ])
}

fn only_match(doc: &Value) -> &Value {
    let matches = doc["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{doc}");
    &matches[0]
}

#[test]
fn a_released_image_and_the_slot_packed_from_it_are_identified() {
    let r = Release::new("identify_released");
    let bytes = r.first_release();
    let file = r.write_file("copy.bin", &bytes);
    let run = identify(&r, &file);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["released"], true, "{doc}");
    assert_eq!(doc["slot"], false, "{doc}");
    let m = only_match(&doc);
    assert_eq!(m["name"], FW_NAME);
    assert_eq!(m["role"], "targets");
    assert_eq!(m["delegated_by"], "root");
    assert_eq!(m["firmware"]["version"], "1.0.0");
    assert_eq!(m["firmware"]["hardware_ids"][0], "evc-a1");
    assert_eq!(m["firmware"]["security_counter"], 1);
    let approvers: Vec<&str> = m["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for who in ["alice", "bob"] {
        assert!(approvers.contains(&r.keyid(who).as_str()), "{who}: {m}");
    }
    assert!(
        m["published_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{m}"
    );
    assert_eq!(m["removed"], false);
    assert!(m["superseded_by"].as_array().unwrap().is_empty(), "{m}");

    let slot = r.write_file("slot.bin", &packed_slot(&r));
    let run = identify(&r, &slot);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["slot"], true, "{doc}");
    assert_eq!(only_match(&doc)["name"], FW_NAME);

    // Human output names it too.
    r.fw.run([
        "identify",
        Release::arg(&slot),
        "--repo",
        Release::arg(&r.dir),
    ])
    .ok()
    .stderr_has("released image: board-a/fw-1.0.0.bin");
}

#[test]
fn an_image_a_later_release_supersedes_says_so() {
    let r = Release::new("identify_superseded");
    let old = r.first_release();
    let new = r.write_file("fw-2.0.0.bin", &firmware(2, 6000));
    r.repo(
        "add",
        &[
            Release::arg(&new),
            "--name",
            "board-a/fw-2.0.0.bin",
            "--hardware-id",
            "evc-a1",
            "--version",
            "2.0.0",
            "--security-counter",
            "2",
        ],
    )
    .ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();

    let file = r.write_file("old.bin", &old);
    let run = identify(&r, &file);
    run.ok();
    let doc = json(&run);
    let m = only_match(&doc);
    assert_eq!(m["name"], FW_NAME);
    let by = m["superseded_by"].as_array().unwrap();
    assert_eq!(by.len(), 1, "{m}");
    assert_eq!(by[0]["name"], "board-a/fw-2.0.0.bin");
    assert_eq!(by[0]["security_counter"], 2);
    assert_eq!(by[0]["hardware_ids"][0], "evc-a1");

    // The new image is current.
    let run = identify(&r, &new);
    run.ok();
    let doc = json(&run);
    let m = only_match(&doc);
    assert!(m["superseded_by"].as_array().unwrap().is_empty(), "{m}");
    assert_eq!(m["firmware"]["version"], "2.0.0");
}

#[test]
fn a_foreign_file_is_not_a_released_image() {
    let r = Release::new("identify_foreign");
    r.first_release();
    let foreign = r.write_file("foreign.bin", &firmware(9, 5000));
    let run = r.fw.run([
        "identify",
        Release::arg(&foreign),
        "--repo",
        Release::arg(&r.dir),
    ]);
    run.code(SECURITY).stderr_has("not a released image");
    let run = identify(&r, &foreign);
    run.code(SECURITY);
    assert_eq!(json(&run)["released"], false);
}

/// Packs the first release's image into a slot and returns its bytes.
pub(crate) fn packed_slot(r: &Release) -> Vec<u8> {
    let slot = r.scratch.join("dump-slot.bin");
    r.fw.run([
        "device",
        "pack",
        "--repo",
        Release::arg(&r.dir),
        "--target",
        FW_NAME,
        "--slot-size",
        "0x40000",
        "--out",
        Release::arg(&slot),
    ])
    .ok();
    std::fs::read(&slot).unwrap()
}

#[test]
fn a_flash_dump_is_identified_by_the_slots_it_holds() {
    let r = Release::new("identify_dump");
    r.first_release();
    let slot = packed_slot(&r);
    // A bootloader region before the slot, with the header magic in it
    // (not followed by a valid header): it is not taken for a slot.
    let mut dump = vec![0x5au8; 0x1003];
    dump[0x100..0x104].copy_from_slice(b"FWSG");
    let offset = dump.len();
    dump.extend_from_slice(&slot);
    dump.extend_from_slice(&[0xff; 0x2000]);
    let file = r.write_file("dump.bin", &dump);
    let run = identify(&r, &file);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["dump"], true, "{doc}");
    assert_eq!(doc["released"], true, "{doc}");
    let slots = doc["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 1, "{doc}");
    assert_eq!(slots[0]["offset"], offset, "{doc}");
    assert_eq!(slots[0]["matches"][0]["name"], FW_NAME, "{doc}");
}

/// Attack: an image patched in a device's flash (one byte of the slot's
/// image changed; header and trailer left as they were) is reported, with
/// the slot's offset, and the dump is not a released image.
#[test]
fn a_tampered_slot_in_a_flash_dump_is_named() {
    let r = Release::new("identify_dump_tampered");
    r.first_release();
    let slot = packed_slot(&r);
    let header_size = u32::from_le_bytes(slot[8..12].try_into().unwrap()) as usize;
    let mut tampered = slot.clone();
    tampered[header_size + 10] ^= 0x01;
    let mut dump = slot.clone();
    dump.extend_from_slice(&[0xff; 0x100]);
    let second = dump.len();
    dump.extend_from_slice(&tampered);
    let file = r.write_file("dump.bin", &dump);
    let run = identify(&r, &file);
    run.code(SECURITY);
    let doc = json(&run);
    assert_eq!(doc["released"], false, "{doc}");
    let slots = doc["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2, "{doc}");
    assert_eq!(slots[0]["released"], true, "{doc}");
    assert_eq!(slots[1]["released"], false, "{doc}");
    assert_eq!(slots[1]["offset"], second, "{doc}");
    r.fw.run([
        "identify",
        Release::arg(&file),
        "--repo",
        Release::arg(&r.dir),
    ])
    .code(SECURITY)
    .stderr_has(&format!("{second:#x}"));
}

#[test]
fn an_image_removed_from_its_role_says_so() {
    let r = Release::new("identify_removed");
    let bytes = r.first_release();
    r.repo("remove", &[FW_NAME]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();
    let file = r.write_file("old.bin", &bytes);
    let run = identify(&r, &file);
    // Still a released image (history is searched), marked removed.
    run.ok();
    let doc = json(&run);
    let m = only_match(&doc);
    assert_eq!(m["removed"], true, "{m}");
    r.fw.run([
        "identify",
        Release::arg(&file),
        "--repo",
        Release::arg(&r.dir),
    ])
    .ok()
    .stderr_has("REMOVED");
}
