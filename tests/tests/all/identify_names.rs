//! Approver names in `fwsign identify --repo` (issue 16): the names shown
//! for an approval are the ones the root (or delegating role) in force when
//! that targets version was published gives the keys, not the newest: an
//! owner renamed by a later `rotate-root` or re-delegation still appears
//! under the old name on the releases approved before the rename, and
//! under the new one on later releases.

use std::path::Path;

use fwsign_tests::Run;
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

/// The name `identify` shows for `who`'s approval of the image in `file`.
fn approver_name(r: &Release, file: &Path, who: &str) -> String {
    let run = identify(r, file);
    run.ok();
    let doc = json(&run);
    let m = only_match(&doc);
    m["owners"][r.keyid(who)]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("no name for {who}: {m}"))
        .to_owned()
}

#[test]
fn an_owner_renamed_by_a_later_root_keeps_the_old_name_on_older_releases() {
    let r = Release::new("identify_names_root");
    let alice = format!("{}=Alice Old", Release::arg(&r.public("alice")));
    let old = firmware(1, 4000);
    r.first_release_with(&["--key-owner", &alice], "fw-1.bin", &old, ["alice", "bob"]);

    // rotate-root renames alice's key; root v2 is published with it.
    let renamed = format!("{}=Alice New", r.keyid("alice"));
    r.repo("rotate-root", &["--key-owner", &renamed]).ok();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    r.publish().ok();
    // A later release, approved under root v2.
    let new = firmware(2, 4100);
    let path = r.write_file("fw-2.bin", &new);
    r.add(&path, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();

    let old_file = r.write_file("old.bin", &old);
    assert_eq!(approver_name(&r, &old_file, "alice"), "Alice Old");
    assert_eq!(approver_name(&r, &path, "alice"), "Alice New");
    // Human output too.
    r.fw.run([
        "identify",
        Release::arg(&old_file),
        "--repo",
        Release::arg(&r.dir),
    ])
    .ok()
    .stderr_has(&format!("released image: {FW_NAME}"))
    .stderr_has("Alice Old (");
}

#[test]
fn an_owner_renamed_by_a_re_delegation_keeps_the_old_name_on_older_releases() {
    let mut r = Release::new("identify_names_delegation");
    r.generate_key("dave");
    r.init();
    let dave = r.public("dave");
    let delegate = |name: &str| {
        let owner = format!("{}={name}", Release::arg(&dave));
        r.repo(
            "delegate",
            &[
                "--role",
                "board-b",
                "--key",
                Release::arg(&dave),
                "--threshold",
                "1",
                "--paths",
                "board-b/*",
                "--key-owner",
                &owner,
            ],
        )
        .ok();
    };
    delegate("Dave Old");
    let old = firmware(3, 3000);
    let old_path = r.write_file("b-1.bin", &old);
    r.add(
        &old_path,
        "board-b/fw-1.0.0.bin",
        "1.0.0",
        &["--role", "board-b"],
    )
    .ok();
    r.approve(["alice", "bob"]);
    r.sign("board-b", "dave").ok();
    r.publish().ok();

    // The same delegation again, naming dave's key differently.
    delegate("Dave New");
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();
    // A later board-b release, approved under the renaming targets version.
    let new = firmware(4, 3100);
    let new_path = r.write_file("b-2.bin", &new);
    r.add(
        &new_path,
        "board-b/fw-2.0.0.bin",
        "2.0.0",
        &["--role", "board-b"],
    )
    .ok();
    r.sign("board-b", "dave").ok();
    r.publish().ok();

    assert_eq!(approver_name(&r, &old_path, "dave"), "Dave Old");
    assert_eq!(approver_name(&r, &new_path, "dave"), "Dave New");
}
