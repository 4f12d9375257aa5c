//! The integrator's host tools for the device verifier, through the real
//! binary: `device inspect` (the slot as stated, trusting nothing),
//! `device verify` (the device verifier's own decision and reason code),
//! `device pack --pad/--erased/--format ihex/--base`, `device root
//! --c-array`, and `device pack --from-root-version` past the newest root.

use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_tests::{IO, SECURITY, USAGE};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::release_support::{FW_NAME, Release, firmware, json};

/// `fwsign [--json] device pack` of `target` into `scratch/NAME` (slot
/// size 0x40000) with `extra`.
fn pack_as(r: &Release, target: &str, name: &str, extra: &[&str]) -> (fwsign_tests::Run, PathBuf) {
    let slot = r.scratch.join(name);
    let _ = std::fs::remove_file(&slot);
    let mut args = vec![
        "--json",
        "device",
        "pack",
        "--repo",
        Release::arg(&r.dir),
        "--target",
        target,
        "--slot-size",
        "0x40000",
        "--out",
        Release::arg(&slot),
    ];
    args.extend_from_slice(extra);
    (r.fw.run(args), slot)
}

/// A packed slot of `FW_NAME` that must succeed: its bytes and path.
fn packed(r: &Release, name: &str, extra: &[&str]) -> (Vec<u8>, PathBuf) {
    let (run, slot) = pack_as(r, FW_NAME, name, extra);
    run.ok();
    (std::fs::read(&slot).unwrap(), slot)
}

/// `device root --out scratch/NAME`: the provisioned root.
fn device_root(r: &Release, name: &str) -> PathBuf {
    let out = r.scratch.join(name);
    r.fw.run([
        "device",
        "root",
        "--repo",
        Release::arg(&r.dir),
        "--out",
        Release::arg(&out),
    ])
    .ok();
    out
}

fn inspect(r: &Release, slot: &Path, json_mode: bool) -> fwsign_tests::Run {
    let mut args = vec!["device", "inspect", Release::arg(slot)];
    if json_mode {
        args.insert(0, "--json");
    }
    r.fw.run(args)
}

/// `fwsign --json device verify SLOT --root ROOT --hardware-id evc-a1
/// --installed-counter 1` with `extra` (later flags of the same name win
/// only where clap allows; tests pass their own).
fn verify(r: &Release, slot: &Path, root: &Path, extra: &[&str]) -> fwsign_tests::Run {
    let mut args = vec![
        "--json",
        "device",
        "verify",
        Release::arg(slot),
        "--root",
        Release::arg(root),
    ];
    if !extra.contains(&"--hardware-id") {
        args.extend_from_slice(&["--hardware-id", "evc-a1"]);
    }
    if !extra.contains(&"--installed-counter") {
        args.extend_from_slice(&["--installed-counter", "1"]);
    }
    args.extend_from_slice(extra);
    r.fw.run(args)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// Whether a host tool runs; a run that requires peers fails without it.
fn have_tool(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() != Ok("1"),
            "{tool} is missing but FWSIGN_REQUIRE_PEERS=1"
        );
        eprintln!("skipped: {tool} not found");
    }
    found
}

#[test]
fn device_inspect_shows_a_packed_slot_and_a_tampered_one_without_trusting_it() {
    let r = Release::new("device_tools_inspect");
    let image = r.first_release();
    let (slot, slot_path) = packed(&r, "slot.bin", &[]);

    let run = inspect(&r, &slot_path, true);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["verified"], false);
    assert_eq!(doc["header"]["header_size"], 0x400);
    assert_eq!(doc["header"]["image_size"], image.len());
    assert_eq!(doc["image"]["sha256"], sha256_hex(&image));
    assert_eq!(doc["image"]["matches_listed"], true);
    assert_eq!(doc["file_size"], slot.len());
    let entries = doc["trailer"]["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["target", "root", "targets-role"], "{doc}");
    assert_eq!(entries[0]["name"], FW_NAME);
    let root = &entries[1]["metadata"];
    assert_eq!(root["version"], 1);
    assert_eq!(root["authorised"]["threshold"], 2);
    let root_signers = root["signature_keyids"].as_array().unwrap();
    assert!(
        root_signers.contains(&Value::from(r.keyid("root1"))),
        "{root}"
    );
    let targets = &entries[2]["metadata"];
    assert_eq!(entries[2]["name"], "targets");
    assert_eq!(targets["version"], 1);
    assert_eq!(targets["authorised"]["by"], "root v1");
    assert_eq!(targets["authorised"]["threshold"], 2);
    assert_eq!(targets["authorised"]["keyids"].as_array().unwrap().len(), 3);
    let signers = targets["signature_keyids"].as_array().unwrap();
    for approver in ["alice", "bob"] {
        assert!(
            signers.contains(&Value::from(r.keyid(approver))),
            "{targets}"
        );
    }
    assert!(!signers.contains(&Value::from(r.keyid("carol"))));
    assert_eq!(targets["target"]["version"], "1.0.0");
    assert_eq!(
        targets["target"]["hardware_ids"],
        serde_json::json!(["evc-a1"])
    );
    assert_eq!(targets["target"]["sha256"], sha256_hex(&image));

    // Human output: on stdout, with the header, entries and hash.
    let run = inspect(&r, &slot_path, false);
    run.ok();
    for needle in [
        "nothing verified",
        "header size 0x400",
        &sha256_hex(&image),
        "targets role targets",
        &r.keyid("alice"),
        "authorised by root v1: 2 of",
        "equals the sha256 the chain lists",
    ] {
        assert!(run.stdout.contains(needle), "{needle:?} missing:\n{run}");
    }

    // A tampered image and a tampered signature: inspect still shows
    // everything, trusting nothing; the device verifier refuses.
    let mut tampered = slot.clone();
    tampered[0x400 + 10] ^= 0x01;
    let needle = b"\"sig\":\"";
    let sig_at = tampered
        .windows(needle.len())
        .rposition(|w| w == needle)
        .unwrap()
        + needle.len();
    tampered[sig_at] = if tampered[sig_at] == b'0' { b'1' } else { b'0' };
    let bad = write(&r.scratch.join("tampered.bin"), &tampered);
    let run = inspect(&r, &bad, true);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["image"]["matches_listed"], false);
    assert_ne!(doc["image"]["sha256"], sha256_hex(&image));
    assert_eq!(doc["trailer"]["entries"][2]["metadata"]["readable"], true);
    let run = inspect(&r, &bad, false);
    run.ok();
    assert!(run.stdout.contains("DIFFERS"), "{run}");
    let root_bin = device_root(&r, "root.bin");
    let mut only_image = slot.clone();
    only_image[0x400 + 10] ^= 0x01;
    let only_image = write(&r.scratch.join("image-tampered.bin"), &only_image);
    let run = verify(&r, &only_image, &root_bin, &[]);
    run.code(SECURITY).stderr_has("IMAGE_HASH_MISMATCH (21");
    assert_eq!(json(&run)["code"], 21);
    let run = verify(&r, &bad, &root_bin, &[]);
    run.code(SECURITY);
    assert_eq!(json(&run)["decision"], "refused");
}

#[test]
fn device_inspect_refuses_a_malformed_slot_naming_the_file_and_the_problem() {
    let r = Release::new("device_tools_malformed");
    r.first_release();
    let (slot, _) = packed(&r, "slot.bin", &[]);
    let trailer_at = 0x400 + 5000;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.bin",
            slot[..slot.len() - 100].to_vec(),
            "truncated",
        ),
        (
            "short.bin",
            slot[..10].to_vec(),
            "shorter than the 32-byte slot header",
        ),
        ("erased.bin", vec![0xff; 4096], "no slot header"),
        (
            "header-size.bin",
            {
                let mut s = slot.clone();
                s[8..12].copy_from_slice(&0x300u32.to_le_bytes());
                s
            },
            "not a power of two",
        ),
        (
            "format.bin",
            {
                let mut s = slot.clone();
                s[4] = 9;
                s
            },
            "slot format 9",
        ),
        (
            "trailer.bin",
            {
                let mut s = slot.clone();
                s[trailer_at] = b'X';
                s
            },
            "not \"FWST\"",
        ),
        (
            "entry.bin",
            {
                // The second entry's kind byte (after the target name entry).
                let mut s = slot.clone();
                let name_len = FW_NAME.len();
                let second = trailer_at + 12 + (8 + name_len).div_ceil(4) * 4;
                s[second] = 9;
                s
            },
            "trailer entry 2 of 3",
        ),
    ];
    for (name, bytes, problem) in cases {
        let path = write(&r.scratch.join(name), &bytes);
        let run = inspect(&r, &path, false);
        run.code(USAGE).stderr_has(name).stderr_has(problem);
        let run = inspect(&r, &path, true);
        run.code(USAGE);
        assert_eq!(json(&run)["reason"], "slot-malformed");
    }
    inspect(&r, &r.scratch.join("missing.bin"), false)
        .code(IO)
        .stderr_has("missing.bin");
}

#[test]
fn device_verify_prints_the_device_verifiers_decision_and_reason_code() {
    let mut r = Release::new("device_tools_verify");
    r.first_release();
    let root_v1 = device_root(&r, "root-v1.bin");
    let (slot, slot_path) = packed(&r, "slot.bin", &[]);

    let run = verify(&r, &slot_path, &root_v1, &["--role-version", "targets=1"]);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["decision"], "boot");
    assert_eq!(doc["code"], 0);
    assert_eq!(doc["verified"]["target"], FW_NAME);
    assert_eq!(
        doc["verified"]["roles"],
        serde_json::json!([{"role": "targets", "version": 1}])
    );
    assert_eq!(doc["stored_root_version"], Value::Null);
    // Human output names the decision.
    let run = r.fw.run([
        "device",
        "verify",
        Release::arg(&slot_path),
        "--root",
        Release::arg(&root_v1),
        "--hardware-id",
        "evc-a1",
        "--installed-counter",
        "0",
    ]);
    run.ok().stderr_has("boot: FWSIGN_OK (0)");

    // Each device fact, refused with the device's reason code (exit 1).
    for (extra, code, name) in [
        (&["--hardware-id", "evc-b2"][..], 19, "HARDWARE_ID_MISMATCH"),
        (
            &["--installed-counter", "2"][..],
            22,
            "SECURITY_COUNTER_ROLLBACK",
        ),
        (&["--role-version", "targets=2"][..], 14, "TARGETS_ROLLBACK"),
        (&["--metadata-buffer", "100"][..], 6, "METADATA_TOO_LARGE"),
    ] {
        let run = verify(&r, &slot_path, &root_v1, extra);
        run.code(SECURITY).stderr_has(&format!("{name} ({code}"));
        let doc = json(&run);
        assert_eq!(doc["decision"], "refused", "{run}");
        assert_eq!(doc["code"], code, "{run}");
        assert_eq!(doc["name"], name);
        assert_eq!(doc["status"], format!("FWSIGN_ERR_{name}"));
        assert_eq!(doc["exit_code"], SECURITY);
    }
    // Bad slots are the device's refusals too.
    let truncated = write(&r.scratch.join("truncated.bin"), &slot[..slot.len() - 100]);
    let run = verify(&r, &truncated, &root_v1, &[]);
    run.code(SECURITY).stderr_has("SLOT_LAYOUT (4");
    let erased = write(&r.scratch.join("erased.bin"), &[0xff; 4096]);
    verify(&r, &erased, &root_v1, &[])
        .code(SECURITY)
        .stderr_has("SLOT_EMPTY (2");
    // A root that is not the provisioned canonical root.
    let junk = write(&r.scratch.join("junk-root.bin"), b"{}");
    verify(&r, &slot_path, &junk, &[])
        .code(SECURITY)
        .stderr_has("TRUSTED_ROOT_INVALID (7");

    // Usage and I/O errors are not decisions.
    for extra in [
        &["--role-version", "targets"][..],
        &["--role-version", "targets=x"][..],
        &["--role-version", "targets=1", "--role-version", "targets=2"][..],
        &["--bootloader-version", "1.0.0-rc.1"][..],
        &["--installed-counter", "-1"][..],
    ] {
        verify(&r, &slot_path, &root_v1, extra).code(USAGE);
    }
    verify(&r, &slot_path, &r.scratch.join("no-root.bin"), &[])
        .code(IO)
        .stderr_has("no-root.bin");
    verify(&r, &r.scratch.join("no-slot.bin"), &root_v1, &[])
        .code(IO)
        .stderr_has("no-slot.bin");

    // min_bootloader_version against --bootloader-version.
    let file = r.write_file("fw-2.0.0.bin", &firmware(2, 3000));
    r.add(
        &file,
        "board-a/fw-2.0.0.bin",
        "2.0.0",
        &["--min-bootloader-version", "1.4.0"],
    )
    .ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    // A root rotation too, so the new slot carries root v2.
    r.generate_key("root3");
    let add = format!("root={}", Release::arg(&r.public("root3")));
    r.repo("rotate-root", &["--add-key", &add]).ok();
    for k in ["root1", "root2", "root3"] {
        r.sign("root", k).ok();
    }
    r.publish().ok();
    let (run, new_slot) = pack_as(&r, "board-a/fw-2.0.0.bin", "slot2.bin", &[]);
    run.ok();
    let run = verify(&r, &new_slot, &root_v1, &["--bootloader-version", "1.3.9"]);
    run.code(SECURITY).stderr_has("BOOTLOADER_TOO_OLD (29");
    // The root update was verified and stored before the image was refused.
    assert_eq!(json(&run)["stored_root_version"], 2);
    let run = verify(&r, &new_slot, &root_v1, &["--bootloader-version", "1.4.0"]);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["verified"]["root_version"], 2);
    assert_eq!(doc["stored_root_version"], 2);
    // Without --bootloader-version the device runs the newest bootloader.
    verify(&r, &new_slot, &root_v1, &[]).ok();
}

/// Reads Intel HEX: every record's checksum checked, type 04 setting the
/// upper address, type 00 data (at most 16 bytes, never crossing 64 KiB),
/// ending with type 01. Returns the (address, data) records in order.
fn read_ihex(text: &str) -> Vec<(u32, Vec<u8>)> {
    let mut upper: Option<u32> = None;
    let mut records = Vec::new();
    let mut ended = false;
    for line in text.lines() {
        assert!(!ended, "a record after the end-of-file record");
        let hex = line.strip_prefix(':').expect("a record starts with ':'");
        assert_eq!(hex.to_ascii_uppercase(), hex, "upper-case hex");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b)),
            0,
            "checksum of {line}"
        );
        let len = usize::from(bytes[0]);
        assert_eq!(bytes.len(), len + 5, "{line}");
        let address = u32::from(u16::from_be_bytes([bytes[1], bytes[2]]));
        let data = &bytes[4..4 + len];
        match bytes[3] {
            0x00 => {
                assert!(len <= 16 && len > 0, "{line}");
                assert!(address + len as u32 <= 0x1_0000, "crosses 64 KiB: {line}");
                let upper = upper.expect("data before any type 04 record");
                records.push(((upper << 16) | address, data.to_vec()));
            }
            0x01 => {
                assert_eq!(line, ":00000001FF");
                ended = true;
            }
            0x04 => {
                assert_eq!((len, address), (2, 0), "{line}");
                upper = Some(u32::from(u16::from_be_bytes([data[0], data[1]])));
            }
            other => panic!("unexpected record type {other:02x}"),
        }
    }
    assert!(ended, "no end-of-file record");
    records
}

/// The bytes of contiguous records starting at `base`.
fn ihex_image(records: &[(u32, Vec<u8>)], base: u32) -> Vec<u8> {
    let mut image = Vec::new();
    for (address, data) in records {
        assert_eq!(
            *address,
            base + image.len() as u32,
            "records are contiguous"
        );
        image.extend_from_slice(data);
    }
    image
}

#[test]
fn device_pack_pads_the_slot_and_writes_intel_hex_at_a_base_address() {
    let r = Release::new("device_tools_pad_ihex");
    let image = r.first_release();
    let root = device_root(&r, "root.bin");
    let (slot, _) = packed(&r, "slot.bin", &[]);

    // --pad: the whole region, erased value after the trailer.
    let (padded, padded_path) = packed(&r, "padded.bin", &["--pad"]);
    assert_eq!(padded.len(), 0x40000);
    assert_eq!(&padded[..slot.len()], &slot[..]);
    assert!(padded[slot.len()..].iter().all(|b| *b == 0xff));
    verify(&r, &padded_path, &root, &[]).ok();
    let doc = json(&inspect(&r, &padded_path, true));
    assert_eq!(doc["unused"]["size"], 0x40000 - slot.len());
    assert_eq!(doc["unused"]["fill"], 0xff);
    let (zeroed, _) = packed(&r, "zeroed.bin", &["--pad", "--erased", "0x00"]);
    assert!(zeroed[slot.len()..].iter().all(|b| *b == 0));
    let (run, _) = pack_as(&r, FW_NAME, "x.bin", &["--erased", "0"]);
    run.code(USAGE);
    let (run, _) = pack_as(&r, FW_NAME, "x.bin", &["--pad", "--erased", "0x100"]);
    run.code(USAGE);
    // A region smaller than header + image + trailer: refused, nothing written.
    let run = r.fw.run([
        "device",
        "pack",
        "--repo",
        Release::arg(&r.dir),
        "--target",
        FW_NAME,
        "--slot-size",
        "0x1000",
        "--pad",
        "--out",
        Release::arg(&r.scratch.join("small.bin")),
    ]);
    run.code(USAGE).stderr_has("--slot-size is 4096");
    assert!(!r.scratch.join("small.bin").exists());
    assert!(image.len() > 0x1000);

    // Intel HEX at a base that is not 64 KiB aligned: records split at the
    // boundary, the bytes equal the binary slot.
    for (name, base, extra, expected) in [
        ("slot.hex", 0x0801_fff8u32, &[][..], &slot),
        ("padded.hex", 0x0804_0000, &["--pad"][..], &padded),
    ] {
        let base_arg = format!("{base:#x}");
        let mut args = vec!["--format", "ihex", "--base", &base_arg];
        args.extend_from_slice(extra);
        let (run, path) = pack_as(&r, FW_NAME, name, &args);
        run.ok();
        assert_eq!(json(&run)["format"], "ihex");
        let text = std::fs::read_to_string(&path).unwrap();
        let records = read_ihex(&text);
        assert_eq!(&ihex_image(&records, base), expected, "{name}");
        assert!(text.starts_with(&format!(":02000004{:04X}", base >> 16)));
        // inspect and verify read binary slots; Intel HEX is named as such.
        inspect(&r, &path, false)
            .code(USAGE)
            .stderr_has("Intel HEX");
        if have_tool("objcopy") {
            let bin = r.scratch.join(format!("{name}.objcopy.bin"));
            let status = Command::new("objcopy")
                .args(["-I", "ihex", "-O", "binary"])
                .arg(&path)
                .arg(&bin)
                .status()
                .unwrap();
            assert!(status.success());
            assert_eq!(&std::fs::read(&bin).unwrap(), expected, "objcopy of {name}");
        }
    }
    // Bad --base: not a number, past 4 GiB, missing, or without ihex.
    for extra in [
        &["--format", "ihex", "--base", "0xZZ"][..],
        &["--format", "ihex", "--base", "0x100000000"][..],
        &["--format", "ihex"][..],
        &["--format", "hex", "--base", "0"][..],
        &["--base", "0x08000000"][..],
    ] {
        let (run, path) = pack_as(&r, FW_NAME, "bad.hex", extra);
        run.code(USAGE);
        assert!(!path.exists(), "{run}");
    }
    let (run, path) = pack_as(
        &r,
        FW_NAME,
        "bad.hex",
        &["--pad", "--format", "ihex", "--base", "0xfffc1000"],
    );
    run.code(USAGE).stderr_has("32-bit address space");
    assert!(!path.exists());
}

#[test]
fn device_root_writes_the_trusted_root_as_a_c_array_that_compiles() {
    let r = Release::new("device_tools_c_array");
    r.first_release();
    let root = std::fs::read(device_root(&r, "root.bin")).unwrap();
    let c_file = r.scratch.join("trusted_root.c");
    let run = r.fw.run([
        "--json",
        "device",
        "root",
        "--repo",
        Release::arg(&r.dir),
        "--out",
        Release::arg(&c_file),
        "--c-array",
        "fwsign_trusted_root",
    ]);
    run.ok();
    assert_eq!(json(&run)["c_array"], "fwsign_trusted_root");
    let source = std::fs::read_to_string(&c_file).unwrap();
    assert!(
        source.contains("const uint8_t fwsign_trusted_root["),
        "{source}"
    );

    for bad in ["1root", "int", "root-v1", "", "r\u{e9}"] {
        let out = r.scratch.join("bad.c");
        let run = r.fw.run([
            "device",
            "root",
            "--repo",
            Release::arg(&r.dir),
            "--out",
            Release::arg(&out),
            "--c-array",
            bad,
        ]);
        run.code(USAGE);
        assert!(!out.exists(), "{run}");
    }

    if !have_tool("gcc") {
        return;
    }
    let main = write(
        &r.scratch.join("main.c"),
        b"#include <stdint.h>\n#include <stddef.h>\n#include <stdio.h>\n\
          extern const uint8_t fwsign_trusted_root[];\nextern const size_t fwsign_trusted_root_len;\n\
          int main(void) {\n  return fwrite(fwsign_trusted_root, 1, fwsign_trusted_root_len, stdout)\n\
          == fwsign_trusted_root_len ? 0 : 1;\n}\n",
    );
    let exe = r.scratch.join("dump_root");
    let output = Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
        .arg(&exe)
        .arg(&main)
        .arg(&c_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dumped = Command::new(&exe).output().unwrap();
    assert!(dumped.status.success());
    assert!(
        dumped.stdout == root,
        "the C array's bytes differ from root.bin"
    );
}

#[test]
fn device_pack_refuses_a_from_root_version_newer_than_the_newest_root() {
    let r = Release::new("device_tools_from_root");
    r.first_release();
    let (run, slot) = pack_as(&r, FW_NAME, "slot.bin", &["--from-root-version", "2"]);
    run.code(USAGE)
        .stderr_has("--from-root-version 2")
        .stderr_has("newest published root (version 1)");
    assert!(!slot.exists());
    let (run, _) = pack_as(&r, FW_NAME, "slot.bin", &["--from-root-version", "1"]);
    run.ok();
    assert_eq!(json(&run)["root_updates"], 0);
    let (run, _) = pack_as(&r, FW_NAME, "slot.bin", &["--from-root-version", "0"]);
    run.ok();
    assert_eq!(json(&run)["root_updates"], 1);
}

#[test]
fn device_intel_hex_writer_matches_a_published_record_and_refuses_overflow() {
    use fwsign_bootloader_verify::host::encode::{EncodeError, intel_hex, pad};
    // The data record of Intel HEX's common worked example (address 0x0100).
    let data = [
        0x21, 0x46, 0x01, 0x36, 0x01, 0x21, 0x47, 0x01, 0x36, 0x00, 0x7e, 0xfe, 0x09, 0xd2, 0x19,
        0x01,
    ];
    assert_eq!(
        intel_hex(&data, 0x0100).unwrap(),
        ":020000040000FA\n:10010000214601360121470136007EFE09D2190140\n:00000001FF\n"
    );
    assert_eq!(intel_hex(&[], 0x0800_0000).unwrap(), ":00000001FF\n");
    // The last byte of the address space is addressable; one more is not.
    assert!(intel_hex(&[0xaa], 0xffff_ffff).is_ok());
    assert!(matches!(
        intel_hex(&[0xaa, 0xbb], 0xffff_ffff),
        Err(EncodeError::AddressOverflow { .. })
    ));
    let mut slot = vec![1u8; 10];
    assert!(matches!(
        pad(&mut slot, 8, 0xff),
        Err(EncodeError::LargerThanSlot {
            len: 10,
            slot_size: 8
        })
    ));
    pad(&mut slot, 12, 0xff).unwrap();
    assert_eq!(slot, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0xff, 0xff]);
}
