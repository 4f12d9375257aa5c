//! The capacities the C header exports are the verifier's own, and the C
//! example and the guide use the metadata size the header states: a
//! bootloader built from them holds every slot `fwsign device pack` makes by
//! default, and refuses nothing the verifier could check.

#![allow(
    clippy::unwrap_used,
    reason = "a broken fixture should fail the test loudly"
)]

use std::path::Path;

use fwsign_bootloader_verify::{MAX_CHAIN, MAX_KEYS_PER_ROLE};
use fwsign_bootloader_verify_ffi::{
    FWSIGN_MAX_ACCEPTED, FWSIGN_MAX_CHAIN, FWSIGN_MAX_KEYS_PER_ROLE, FWSIGN_METADATA_LEN,
};

fn read(relative: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(dir.join(relative)).unwrap()
}

/// `#define NAME VALUE` in the committed header.
fn header_define(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} is not in fwsign_verify.h"))
        .trim()
        .to_owned()
}

#[test]
fn a_header_capacity_that_drifts_from_the_verifier_is_caught() {
    assert_eq!(FWSIGN_MAX_KEYS_PER_ROLE, MAX_KEYS_PER_ROLE);
    assert_eq!(FWSIGN_MAX_CHAIN, MAX_CHAIN);
    let header = read("include/fwsign_verify.h");
    for (name, value) in [
        ("FWSIGN_MAX_KEYS_PER_ROLE", MAX_KEYS_PER_ROLE),
        ("FWSIGN_MAX_CHAIN", MAX_CHAIN),
        ("FWSIGN_MAX_ACCEPTED", FWSIGN_MAX_ACCEPTED),
    ] {
        assert_eq!(header_define(&header, name), value.to_string(), "{name}");
    }
    // cbindgen writes the expression as the source spells it.
    assert_eq!(header_define(&header, "FWSIGN_METADATA_LEN"), "(16 * 1024)");
    assert_eq!(FWSIGN_METADATA_LEN, 16 * 1024);
}

#[test]
fn the_c_example_and_the_guide_size_the_metadata_buffer_from_the_header() {
    let example = read("examples/c/verify_example.c");
    assert!(
        example.contains("static uint8_t metadata[FWSIGN_METADATA_LEN];"),
        "the C example's metadata buffer is not FWSIGN_METADATA_LEN"
    );
    let guide = read("../../docs/bootloader-integration.md");
    assert!(
        guide.contains("static uint8_t metadata[FWSIGN_METADATA_LEN];"),
        "the guide's example buffer is not FWSIGN_METADATA_LEN"
    );
    assert!(guide.contains("`FWSIGN_METADATA_LEN` (16384"));
    let format = read("../../docs/device-format.md");
    assert!(format.contains("16 KiB is a comfortable buffer (`FWSIGN_METADATA_LEN`"));
}

#[test]
fn device_pack_checks_trailers_against_the_header_metadata_size_by_default() {
    // `fwsign device pack --metadata-buffer` defaults to the buffer the
    // header recommends, so its default refusal matches a bootloader built
    // with FWSIGN_METADATA_LEN. (Read as text: this crate does not depend on
    // the CLI.)
    let args = read("../../cli/src/args_device.rs");
    let want = format!("default_value = \"{FWSIGN_METADATA_LEN:#x}\"");
    let mut seen = 0;
    // `device pack` and `device verify` both take --metadata-buffer.
    for (at, _) in args.match_indices("metadata_buffer: u32") {
        let before = &args[..at];
        let attr = &before[before.rfind("#[arg(").unwrap()..];
        assert!(
            attr.contains(&want),
            "--metadata-buffer's default is not {FWSIGN_METADATA_LEN:#x}: {attr}"
        );
        seen += 1;
    }
    assert!(
        seen >= 2,
        "device pack's and device verify's --metadata-buffer"
    );
}
