//! `fwsign identify FILE --metadata-url URL --root ROOT` (issue 16, golden
//! images through the client): the repository served over HTTP on
//! 127.0.0.1, searched as the TUF client finds targets, current metadata
//! only. A released image is named with its role, version and approvers; a
//! slot and a flash dump are identified by their images; a foreign file is
//! exit 1; the output says history needs `--repo`. Attacks: metadata a
//! server tampered with is refused (the client's exit 1), never reported as
//! released; an image listed by a hashed bin its name's hash does not
//! select is not released (the client never asks that bin for it).

use std::path::{Path, PathBuf};

use fwsign_tests::simulator::{RepoServer, fresh_dir, sha256_hex};
use fwsign_tests::{Run, SECURITY, StaticServer, USAGE};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::identify::packed_slot;
use crate::peers::{python, workspace_root};
use crate::release_support::{FW_NAME, Release, firmware, json};

/// `fwsign [--json] identify FILE --metadata-url URL --root ROOT`.
fn identify_at(r: &Release, url: &str, root: &Path, file: &Path, json_out: bool) -> Run {
    let mut args = Vec::new();
    if json_out {
        args.push("--json");
    }
    args.extend([
        "identify",
        Release::arg(file),
        "--metadata-url",
        url,
        "--root",
        Release::arg(root),
    ]);
    r.fw.run(args)
}

/// [`identify_at`] against `server`'s `metadata/`, trusting the
/// repository's `1.root.json`, with `--json`.
fn identify(r: &Release, server: &StaticServer, file: &Path) -> Run {
    identify_at(
        r,
        &server.url("metadata/"),
        &r.metadata("1.root.json"),
        file,
        true,
    )
}

fn only_match(doc: &Value) -> &Value {
    let matches = doc["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{doc}");
    &matches[0]
}

fn says_history_needs_repo(doc: &Value) {
    assert_eq!(doc["history"], false, "{doc}");
    assert!(
        doc["history_note"]
            .as_str()
            .is_some_and(|n| n.contains("--repo") && n.contains("superseded")),
        "{doc}"
    );
}

#[test]
fn a_released_image_its_slot_and_a_dump_are_identified_through_the_client() {
    let r = Release::new("identify_url_released");
    let alice = format!("{}=Alice", Release::arg(&r.public("alice")));
    r.init_with(&["--key-owner", &alice]).ok();
    let bytes = firmware(1, 5000);
    let path = r.write_file("fw-1.0.0.bin", &bytes);
    r.add(&path, FW_NAME, "1.0.0", &[]).ok();
    r.approve(["alice", "bob"]);
    r.publish().ok();
    let server = r.serve();

    let file = r.write_file("copy.bin", &bytes);
    let run = identify(&r, &server, &file);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["released"], true, "{doc}");
    assert_eq!(doc["slot"], false, "{doc}");
    says_history_needs_repo(&doc);
    let m = only_match(&doc);
    assert_eq!(m["name"], FW_NAME);
    assert_eq!(m["role"], "targets");
    assert_eq!(m["delegated_by"], "root");
    assert_eq!(m["role_version"], 1);
    assert_eq!(m["threshold"], 2);
    assert_eq!(m["firmware"]["version"], "1.0.0");
    assert_eq!(m["firmware"]["hardware_ids"][0], "evc-a1");
    let approvers: Vec<&str> = m["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(approvers.len(), 2, "{m}");
    for who in ["alice", "bob"] {
        assert!(approvers.contains(&r.keyid(who).as_str()), "{who}: {m}");
    }
    // The name the trusted root gives alice's key.
    assert_eq!(m["owners"][r.keyid("alice")]["name"], "Alice", "{m}");
    // No history fields: this mode cannot know them.
    for field in ["removed", "superseded_by", "published_at"] {
        assert!(m.get(field).is_none(), "{field}: {m}");
    }

    // Human output: the image, its approvers by name, and the note.
    identify_at(
        &r,
        &server.url("metadata/"),
        &r.metadata("1.root.json"),
        &file,
        false,
    )
    .ok()
    .stderr_has("released image: board-a/fw-1.0.0.bin")
    .stderr_has("approved by 2 of 2: ")
    .stderr_has("Alice (")
    .stderr_has("need --repo");

    // A slot `device pack` wrote, and a flash dump holding it.
    let slot = packed_slot(&r);
    let slot_file = r.write_file("slot.bin", &slot);
    let run = identify(&r, &server, &slot_file);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["slot"], true, "{doc}");
    assert_eq!(only_match(&doc)["name"], FW_NAME);
    says_history_needs_repo(&doc);
    let mut dump = vec![0x5au8; 0x801];
    let offset = dump.len();
    dump.extend_from_slice(&slot);
    dump.extend_from_slice(&[0xff; 0x400]);
    let dump_file = r.write_file("dump.bin", &dump);
    let run = identify(&r, &server, &dump_file);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["dump"], true, "{doc}");
    let slots = doc["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 1, "{doc}");
    assert_eq!(slots[0]["offset"], offset, "{doc}");
    assert_eq!(slots[0]["matches"][0]["name"], FW_NAME, "{doc}");
}

#[test]
fn a_foreign_file_is_not_a_released_image_through_the_client() {
    let r = Release::new("identify_url_foreign");
    r.first_release();
    let server = r.serve();
    let foreign = r.write_file("foreign.bin", &firmware(9, 5000));
    identify_at(
        &r,
        &server.url("metadata/"),
        &r.metadata("1.root.json"),
        &foreign,
        false,
    )
    .code(SECURITY)
    .stderr_has("not a released image")
    .stderr_has("history needs --repo");
    let run = identify(&r, &server, &foreign);
    run.code(SECURITY);
    let doc = json(&run);
    assert_eq!(doc["released"], false, "{doc}");
    says_history_needs_repo(&doc);
}

/// An image a delegated role lists is found through the delegation, with
/// the approvers' names the delegating role gives them.
#[test]
fn an_image_a_delegated_role_lists_is_identified_with_the_delegators_names() {
    let mut r = Release::new("identify_url_delegated");
    r.generate_key("dave");
    r.init();
    let dave = r.public("dave");
    let owner = format!("{}=Dave", Release::arg(&dave));
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
    let bytes = firmware(4, 3000);
    let path = r.write_file("b.bin", &bytes);
    r.add(
        &path,
        "board-b/fw-2.0.0.bin",
        "2.0.0",
        &["--role", "board-b"],
    )
    .ok();
    r.approve(["alice", "bob"]);
    r.sign("board-b", "dave").ok();
    r.publish().ok();
    let server = r.serve();
    let run = identify(&r, &server, &path);
    run.ok();
    let doc = json(&run);
    let m = only_match(&doc);
    assert_eq!(m["name"], "board-b/fw-2.0.0.bin", "{m}");
    assert_eq!(m["role"], "board-b", "{m}");
    assert_eq!(m["delegated_by"], "targets", "{m}");
    assert_eq!(m["approvers"][0], r.keyid("dave"), "{m}");
    assert_eq!(m["owners"][r.keyid("dave")]["name"], "Dave", "{m}");
}

/// Copies `from` into a fresh directory (to serve a tampered copy).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Attack: a server (or whoever can write to it) changes the released
/// image's entry in `targets.json` (its signatures left as they were) so
/// that a patched image would match it. The client refuses the metadata
/// (exit 1, as `fwsign client` does), and the patched image is never
/// reported as released.
#[test]
fn identify_refuses_targets_metadata_tampered_on_the_server() {
    let r = Release::new("identify_url_tampered");
    r.first_release();
    let patched = firmware(66, 5000);
    let served = r.scratch.join("served");
    copy_dir(&r.dir, &served);
    let genuine = sha256_hex(&firmware(1, 5000));
    let forged = sha256_hex(&patched);
    let mut tampered = 0;
    for entry in std::fs::read_dir(served.join("metadata")).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with("targets.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains(&genuine) {
            std::fs::write(&path, text.replace(&genuine, &forged)).unwrap();
            tampered += 1;
        }
    }
    assert!(tampered > 0, "no targets file lists the image");
    let server = StaticServer::start(&served).unwrap();
    let file = r.write_file("patched.bin", &patched);
    let run = identify(&r, &server, &file);
    run.code(SECURITY);
    let doc = json(&run);
    assert_ne!(doc["released"], true, "{doc}");
    let url = server.url("metadata/");
    let run = identify_at(&r, &url, &r.metadata("1.root.json"), &file, false);
    run.code(SECURITY).stderr_has("targets");
    assert!(!run.stderr.contains("released image:"), "{run}");
    // The genuine image is not reported either: nothing is trusted from a
    // refused role.
    let genuine_file = r.write_file("genuine.bin", &firmware(1, 5000));
    identify(&r, &server, &genuine_file).code(SECURITY);
}

#[test]
fn identify_needs_a_trusted_root_with_a_metadata_url() {
    let r = Release::new("identify_url_usage");
    r.first_release();
    let file = r.write_file("copy.bin", &firmware(1, 5000));
    r.fw.run([
        "identify",
        Release::arg(&file),
        "--metadata-url",
        "http://127.0.0.1:9/metadata/",
    ])
    .code(USAGE)
    .stderr_has("--root");
    r.fw.run([
        "identify",
        Release::arg(&file),
        "--repo",
        Release::arg(&r.dir),
        "--metadata-url",
        "http://127.0.0.1:9/metadata/",
        "--root",
        Release::arg(&r.metadata("1.root.json")),
    ])
    .code(USAGE);
}

/// The bytes make_client_repos.py's `content(label)` writes.
fn content(label: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < 2048 {
        out.extend_from_slice(&Sha256::digest(format!("{label}:{i}").as_bytes()));
        i += 1;
    }
    out.truncate(2048);
    out
}

/// A python-tuf repository with TAP 15 succinct hashed bins
/// (tests/tools/make_succinct_repo.py), served on 127.0.0.1.
/// `test` names the build directory (one per test: they run in parallel).
fn succinct_repo(py: &Path, name: &str, test: &str) -> (PathBuf, RepoServer) {
    let out = fresh_dir(&format!("identify_url_{test}"));
    let run = std::process::Command::new(py)
        .arg(workspace_root().join("tests/tools/make_succinct_repo.py"))
        .arg(&out)
        .arg(name)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dir = out.join(name);
    let server = RepoServer::from_dir(&dir);
    (dir, server)
}

/// Every image of a succinct-bins repository is found in the bin its
/// name's hash selects (and one through a role a bin delegates to).
#[test]
fn images_listed_by_succinct_hashed_bins_are_identified() {
    let Some(py) = python() else { return };
    let (dir, server) = succinct_repo(&py, "succinct", "succinct");
    let r = Release::new("identify_url_succinct");
    let url = format!("{}/metadata/", server.base_url());
    let bins: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bins.json")).unwrap()).unwrap();
    for (target, role) in [
        ("fw/board-a/1.0.bin", None),
        ("a", None),
        ("nested/deep.bin", Some("nested")),
    ] {
        let file = r.write_file("image.bin", &content(&format!("succinct:{target}")));
        let run = identify_at(&r, &url, &dir.join("trusted-root.json"), &file, true);
        run.ok();
        let doc = json(&run);
        let m = only_match(&doc);
        assert_eq!(m["name"], target, "{doc}");
        let bin = bins[target].as_str().unwrap();
        match role {
            None => {
                assert_eq!(m["role"], bin, "{doc}");
                assert_eq!(m["delegated_by"], "targets", "{doc}");
            }
            Some(role) => {
                assert_eq!(m["role"], role, "{doc}");
                assert_eq!(m["delegated_by"], bin, "{doc}");
            }
        }
        assert_eq!(m["approvers"].as_array().unwrap().len(), 1, "{doc}");
    }
}

/// Attack: whoever holds the bins' key lists an image in a bin its name's
/// hash does not select. The client never asks that bin for the name, so
/// the image is not a released one (exit 1), though a bin lists it.
#[test]
fn an_image_listed_by_a_bin_its_hash_does_not_select_is_not_released() {
    let Some(py) = python() else { return };
    let (dir, server) = succinct_repo(&py, "succinct-wrong", "succinct_wrong");
    let r = Release::new("identify_url_succinct_wrong");
    let url = format!("{}/metadata/", server.base_url());
    let file = r.write_file("a.bin", &content("succinct-wrong:a"));
    let run = identify_at(&r, &url, &dir.join("trusted-root.json"), &file, true);
    run.code(SECURITY);
    assert_eq!(json(&run)["released"], false, "{run}");
    // An image its own bin lists is found in the same repository.
    let file = r.write_file("b.bin", &content("succinct-wrong:b/c.bin"));
    identify_at(&r, &url, &dir.join("trusted-root.json"), &file, true).ok();
}

/// Attack: the server changes the entry of a hashed bin the snapshot lists
/// by version only (no length or hashes, as python-tuf writes bins), so
/// only the bin's signatures stand between a forged entry and the client.
/// The bin's signature no longer verifies: refused (exit 1), and the
/// forged image is never reported as released.
#[test]
fn identify_refuses_a_bin_whose_signature_a_tampering_server_broke() {
    let Some(py) = python() else { return };
    let (dir, _) = succinct_repo(&py, "succinct", "succinct_source");
    let target = "fw/board-a/1.0.bin";
    let bins: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bins.json")).unwrap()).unwrap();
    let bin = bins[target].as_str().unwrap();
    let served = fresh_dir("identify_url_succinct_tampered");
    copy_dir(&dir, &served);
    let forged = b"patched firmware".repeat(64);
    let bin_file = served.join(format!("metadata/1.{bin}.json"));
    let text = std::fs::read_to_string(&bin_file).unwrap();
    let genuine = content(&format!("succinct:{target}"));
    let (from, to) = (sha256_hex(&genuine), sha256_hex(&forged));
    assert!(text.contains(&from), "{text}");
    // python-tuf writes compact JSON.
    let from_len = format!("\"length\":{}", genuine.len());
    assert!(text.contains(&from_len), "{text}");
    let text = text
        .replace(&from, &to)
        .replace(&from_len, &format!("\"length\":{}", forged.len()));
    std::fs::write(&bin_file, text).unwrap();
    let server = RepoServer::from_dir(&served);
    let r = Release::new("identify_url_succinct_tampered");
    let url = format!("{}/metadata/", server.base_url());
    let file = r.write_file("forged.bin", &forged);
    let root = dir.join("trusted-root.json");
    let run = identify_at(&r, &url, &root, &file, false);
    run.code(SECURITY)
        .stderr_has(bin)
        .stderr_has("valid signature");
    assert!(!run.stderr.contains("released image:"), "{run}");
    let run = identify_at(&r, &url, &root, &file, true);
    run.code(SECURITY);
    assert_ne!(json(&run)["released"], true, "{run}");
}
