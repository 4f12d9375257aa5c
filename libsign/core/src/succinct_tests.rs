//! Bin numbers and names against python-tuf 7.0.1's `SuccinctRoles`
//! (`get_role_for_target`, `suffix_len`, `is_delegated_role`): the values
//! below were printed by python-tuf itself.

#![allow(
    clippy::arithmetic_side_effects,
    reason = "test setup computes bin counts; overflow is impossible at these sizes"
)]

use fwsign_manifest_schema::reader::Json;

use super::*;

fn succinct(bit_length: u32, doc: &mut Vec<u8>) -> SuccinctRoles<'_> {
    *doc =
        format!(r#"{{"bit_length":{bit_length},"keyids":[],"name_prefix":"bins","threshold":1}}"#)
            .into_bytes();
    SuccinctRoles::from_json(Json::parse_canonical(doc).unwrap()).unwrap()
}

fn name(s: &SuccinctRoles<'_>, target: &str) -> String {
    s.bin_name(s.bin_for(target.as_bytes())).to_string()
}

#[test]
fn bins_match_python_tuf() {
    let cases: &[(u32, &str, &str)] = &[
        (1, "a", "bins-1"),
        (1, "firmware/x.bin", "bins-0"),
        (4, "a", "bins-c"),
        (5, "a", "bins-19"),
        (5, "b/c.bin", "bins-04"),
        (10, "firmware/board-1/v1.bin", "bins-31f"),
        (10, "x", "bins-0b5"),
        (16, "a", "bins-ca97"),
        (32, "a", "bins-ca978112"),
        (32, "firmware/board-1/v1.bin", "bins-c7f993ab"),
    ];
    for &(bit_length, target, expected) in cases {
        let mut doc = Vec::new();
        let s = succinct(bit_length, &mut doc);
        assert_eq!(name(&s, target), expected, "{bit_length} {target}");
        let bin = s.bin_of(expected.as_bytes()).unwrap();
        assert_eq!(bin, s.bin_for(target.as_bytes()));
        assert!(s.bin_name(bin).matches(expected.as_bytes()));
        let mut out = [0u8; 16];
        assert_eq!(
            s.bin_name(bin).write(&mut out).unwrap(),
            expected.as_bytes()
        );
    }
}

#[test]
fn suffix_length_is_the_digits_of_the_last_bin() {
    // python-tuf: len(f"{2**bit_length - 1:x}")
    for bit_length in 1..=32u32 {
        let last = (1u64 << bit_length) - 1;
        assert_eq!(
            suffix_len(bit_length),
            format!("{last:x}").len(),
            "{bit_length}"
        );
    }
}

#[test]
fn every_bin_name_round_trips() {
    let mut doc = Vec::new();
    let s = succinct(8, &mut doc);
    assert_eq!(s.number_of_bins(), 256);
    for bin in 0..256u32 {
        let text = s.bin_name(bin).to_string();
        assert_eq!(text, format!("bins-{bin:02x}"));
        assert_eq!(s.bin_of(text.as_bytes()), Some(bin));
    }
    // python-tuf accepts `bins-FF` (int(suffix, 16)); the core names bins in
    // lowercase only, as python-tuf computes them, and refuses the rest.
    for not_a_bin in [
        "bins-FF", "bins-100", "bins-f", "bins--1", "bins-+f", "binsff", "",
    ] {
        assert_eq!(s.bin_of(not_a_bin.as_bytes()), None, "{not_a_bin}");
    }
}

#[test]
fn a_name_that_does_not_fit_the_buffer_is_not_written() {
    let mut doc = Vec::new();
    let s = succinct(32, &mut doc);
    let mut small = [0u8; 8];
    assert!(s.bin_name(7).write(&mut small).is_none());
}
