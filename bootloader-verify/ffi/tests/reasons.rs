//! The written-out `fwsign_status_t` (cbindgen reads source, so it cannot
//! come from a macro) and the reason-code tables of the docs agree with the
//! verifier's one list of reasons, `reason_table!`: every reason has its
//! status under the same number and name, every status from 1 to 98 is a
//! reason, and each docs table row is a status.

#![allow(unsafe_code, reason = "calling fwsign_status_name")]
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a broken fixture should fail the test loudly"
)]

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::Path;

use fwsign_bootloader_verify::Reason;
use fwsign_bootloader_verify_ffi::fwsign_status_name;
use fwsign_bootloader_verify_ffi::fwsign_status_t::{self, *};

/// What `fwsign_status_name` returns for this code.
fn c_status_name(code: i32) -> String {
    // SAFETY: fwsign_status_name returns a static NUL-terminated string.
    let name = unsafe { CStr::from_ptr(fwsign_status_name(code)) };
    name.to_str().unwrap().to_owned()
}

/// The enum's own spelling of a status (`FWSIGN_ERR_IMAGE_HASH_MISMATCH`),
/// which cbindgen copies into the header.
fn c_identifier(status: fwsign_status_t) -> String {
    format!("{status:?}")
}

#[test]
fn every_reason_has_its_status_under_the_same_number_and_name() {
    for &reason in Reason::ALL {
        let status = fwsign_status_t::from_reason(reason);
        assert_eq!(status as i32, reason.code(), "{reason:?}");
        assert_eq!(c_identifier(status), reason.c_name(), "{reason:?}");
        assert_eq!(fwsign_status_t::from_code(reason.code()), Some(status));
        let short = reason.c_name().strip_prefix("FWSIGN_ERR_").unwrap();
        assert_eq!(c_status_name(reason.code()), short, "{reason:?}");
        assert_eq!(status.name().to_str().unwrap(), short, "{reason:?}");
    }
}

#[test]
fn every_status_is_ok_a_reason_or_an_argument_error() {
    let by_code: BTreeMap<i32, Reason> = Reason::ALL.iter().map(|&r| (r.code(), r)).collect();
    assert_eq!(by_code.len(), Reason::ALL.len(), "reason codes are unique");
    let mut last = -1;
    let mut reasons = 0;
    for &status in fwsign_status_t::all() {
        let code = status as i32;
        assert!(
            code > last,
            "{status:?}: all() is in code order, no repeats"
        );
        last = code;
        assert_eq!(fwsign_status_t::from_code(code), Some(status));
        let name = status.name().to_str().unwrap();
        assert_eq!(c_status_name(code), name);
        match code {
            0 => {
                assert_eq!(status, FWSIGN_OK);
                assert_eq!(name, "OK");
            }
            1..=98 => {
                let reason = by_code
                    .get(&code)
                    .unwrap_or_else(|| panic!("{status:?} is not in reason_table!"));
                assert_eq!(fwsign_status_t::from_reason(*reason), status);
                assert_eq!(c_identifier(status), reason.c_name());
                reasons += 1;
            }
            _ => {
                assert!(!by_code.contains_key(&code));
                assert_eq!(c_identifier(status), format!("FWSIGN_ERR_{name}"));
            }
        }
    }
    assert_eq!(reasons, Reason::ALL.len());
    // Every variant of the enum is in all(): `name` matches on `self` with
    // no catch-all arm over the same lists `all` is made of, so a status
    // missing from them does not compile. The sizes pin it once more.
    assert_eq!(fwsign_status_t::all().len(), 1 + Reason::ALL.len() + 7);
    assert_eq!(c_status_name(-1), "UNKNOWN");
    assert_eq!(c_status_name(30), "UNKNOWN");
}

/// The `(code, name)` rows of each markdown table in `doc` whose header's
/// second column is `` `FWSIGN_ERR_...` ``: one `Vec` per table. `name` is
/// the row's backquoted name, `FWSIGN_OK`'s `(`FWSIGN_OK`)` row read as `OK`.
fn reason_tables(doc: &str) -> Vec<Vec<(i32, String)>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let mut tables = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let header = cells(line);
        if !(line.starts_with('|') && header.len() >= 2 && header[1] == "`FWSIGN_ERR_...`") {
            continue;
        }
        assert_eq!(header[0], "code", "{doc}: {line}");
        lines.next(); // the |---| row
        let mut rows = Vec::new();
        while let Some(row) = lines.next_if(|l| l.starts_with('|')) {
            let row = cells(row);
            let code: i32 = row[0].parse().unwrap_or_else(|_| panic!("{doc}: {row:?}"));
            let name = match row[1].as_str() {
                "(`FWSIGN_OK`)" => "OK".to_owned(),
                quoted => quoted
                    .strip_prefix('`')
                    .and_then(|n| n.strip_suffix('`'))
                    .unwrap_or_else(|| panic!("{doc}: {row:?}"))
                    .to_owned(),
            };
            rows.push((code, name));
        }
        tables.push(rows);
    }
    tables
}

fn all_statuses() -> Vec<(i32, String)> {
    fwsign_status_t::all()
        .iter()
        .map(|s| (*s as i32, s.name().to_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn the_integration_guide_lists_every_status() {
    let tables = reason_tables("bootloader-integration.md");
    assert_eq!(tables.len(), 1, "one reason-code table");
    assert_eq!(tables[0], all_statuses());
}

#[test]
fn the_device_format_rows_are_statuses() {
    let all = all_statuses();
    let tables = reason_tables("device-format.md");
    assert!(!tables.is_empty(), "the chain refusals table");
    for row in tables.iter().flatten() {
        assert!(all.contains(row), "device-format.md: {row:?}");
    }
}
