//! Spec 5.7: fetching a target: the URL by its first listed hash (or its
//! plain name without consistent snapshots), every listed hash and the
//! length checked, the cached copy reused only while it matches, and
//! nothing written for a target that fails.

use fwsign_tests::simulator::{
    Body, ENDLESS_LIMIT, Simulator, sha256_hex, sha512_hex, target_path,
};
use serde_json::{Value, json};

use super::with_target;
use crate::client_support::{endless_finished, init, paths};

#[test]
fn download_fetches_the_target_by_first_hash_and_writes_it_quoted() {
    let data = b"firmware image".as_slice();
    let (sim, client) = with_target("download_basic", "dir/sub/fw.bin", data);
    client.download(&["dir/sub/fw.bin"], &[]).ok();
    let target_url = format!("/targets/dir/sub/{}.fw.bin", sha256_hex(data));
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "2.snapshot.json",
            "2.targets.json",
            &target_url
        ])
    );
    assert_eq!(
        std::fs::read(client.target_dir.join("dir%2Fsub%2Ffw.bin")).unwrap(),
        data
    );
    assert_eq!(
        client.target_files(),
        ["dir%2Fsub%2Ffw.bin".to_owned()].into()
    );
}

#[test]
fn second_download_of_an_unchanged_target_makes_no_target_request() {
    let (sim, client) = with_target("artifact_cache", "fw.bin", b"cached firmware");
    client.download(&["fw.bin"], &[]).ok();
    sim.server.take_log();
    client.download(&["fw.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
}

#[test]
fn a_changed_cached_target_is_downloaded_again() {
    let (sim, client) = with_target("artifact_cache_stale", "fw.bin", b"cached firmware");
    client.download(&["fw.bin"], &[]).ok();
    std::fs::write(client.target_dir.join("fw.bin"), b"tampered").unwrap();
    sim.server.take_log();
    client.download(&["fw.bin"], &[]).ok();
    let log = sim.server.take_log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log[2].starts_with("/targets/"), "{log:?}");
    assert_eq!(
        std::fs::read(client.target_dir.join("fw.bin")).unwrap(),
        b"cached firmware"
    );
}

#[test]
fn target_substitution_is_refused_and_nothing_is_written() {
    let data = b"the real firmware".as_slice();
    let (sim, client) = with_target("target_substitution", "fw.bin", data);
    for h in [sha256_hex(data), sha512_hex(data)] {
        sim.server.set(
            &target_path("fw.bin", &h),
            Body::Bytes(b"the evil firmware".to_vec()),
        );
    }
    client.download(&["fw.bin"], &[]).failed();
    assert!(client.target_files().is_empty());
}

#[test]
fn target_longer_than_listed_is_refused_even_with_a_matching_prefix() {
    let data = b"the real firmware".as_slice();
    let (sim, client) = with_target("target_too_long", "fw.bin", data);
    let mut longer = data.to_vec();
    longer.extend_from_slice(b" and more");
    sim.server.set(
        &target_path("fw.bin", &sha256_hex(data)),
        Body::Bytes(longer),
    );
    client.download(&["fw.bin"], &[]).failed();
    assert!(client.target_files().is_empty());
}

#[test]
fn endless_target_is_capped_at_its_listed_length() {
    let data = vec![7u8; 1000];
    let (sim, client) = with_target("endless_target", "fw.bin", &data);
    sim.server
        .set(&target_path("fw.bin", &sha256_hex(&data)), Body::Endless);
    client.download(&["fw.bin"], &[]).failed();
    let sent = endless_finished(&sim, 1);
    assert!(sent[0] < ENDLESS_LIMIT / 4, "read {} bytes", sent[0]);
    assert!(client.target_files().is_empty());
}

#[test]
fn every_listed_hash_is_checked() {
    let mut sim = Simulator::new();
    let data = b"firmware".as_slice();
    let entry = sim.add_target("targets", "fw.bin", data);
    // sha256 (the one in the URL) is right, sha512 is not.
    entry.hashes.insert("sha512".into(), sha512_hex(b"other"));
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init("every_hash_checked", &sim);
    client.download(&["fw.bin"], &[]).failed();
    assert!(client.target_files().is_empty());
}

#[test]
fn unknown_hash_algorithm_is_refused() {
    let mut sim = Simulator::new();
    let data = b"firmware".as_slice();
    let entry = sim.add_target("targets", "fw.bin", data);
    entry
        .hashes
        .insert("blake2b-256".into(), sha256_hex(b"whatever"));
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init("unknown_hash_algorithm", &sim);
    client.download(&["fw.bin"], &[]).failed();
    assert!(client.target_files().is_empty());
}

#[test]
fn non_string_hash_value_is_refused() {
    // A hash the client cannot read must not be skipped.
    let mut sim = Simulator::new();
    let data = b"firmware".as_slice();
    sim.add_target("targets", "fw.bin", data);
    sim.edit_signed.insert(
        "targets".into(),
        Box::new(|signed: &mut Value| {
            signed["targets"]["fw.bin"]["hashes"]["sha512"] = json!(12345);
        }),
    );
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init("non_string_hash", &sim);
    client.download(&["fw.bin"], &[]).failed();
    assert!(client.target_files().is_empty());
}

#[test]
fn target_url_uses_the_first_hash_listed_in_the_file() {
    // The signature covers the canonical form, so reordering keys in the
    // file keeps it valid; "first listed" is the file's order (as
    // python-tuf reads it), here sha512 before sha256.
    let mut sim = Simulator::new();
    let data = b"firmware".as_slice();
    let (h256, h512) = (sha256_hex(data), sha512_hex(data));
    sim.add_target("targets", "fw.bin", data);
    let (a, b) = (
        format!("\"sha256\":\"{h256}\",\"sha512\":\"{h512}\""),
        format!("\"sha512\":\"{h512}\",\"sha256\":\"{h256}\""),
    );
    sim.edit_bytes.insert(
        "targets".into(),
        Box::new(move |bytes: Vec<u8>| {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.contains(&a));
            text.replace(&a, &b).into_bytes()
        }),
    );
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    sim.server.remove(&target_path("fw.bin", &h256));
    let client = init("first_hash_in_file_order", &sim);
    client.download(&["fw.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log().last().unwrap(),
        &target_path("fw.bin", &h512)
    );
}

#[test]
fn unknown_target_fails_without_a_target_request() {
    let (sim, client) = with_target("unknown_target", "fw.bin", b"firmware");
    client.download(&["other.bin"], &[]).failed();
    assert!(
        sim.server
            .take_log()
            .iter()
            .all(|p| p.starts_with("/metadata/"))
    );
}

#[test]
fn first_failing_target_stops_the_download() {
    let mut sim = Simulator::new();
    sim.add_target("targets", "a.bin", b"aaa");
    sim.add_target("targets", "c.bin", b"ccc");
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init("first_failure_stops", &sim);
    client
        .download(&["a.bin", "missing.bin", "c.bin"], &[])
        .failed();
    let log = sim.server.take_log();
    assert!(log.contains(&target_path("a.bin", &sha256_hex(b"aaa"))));
    assert!(!log.contains(&target_path("c.bin", &sha256_hex(b"ccc"))));
    assert!(!client.target_files().contains("c.bin"));
}

#[test]
fn several_targets_are_downloaded_in_one_run() {
    let mut sim = Simulator::new();
    sim.add_target("targets", "a.bin", b"aaa");
    sim.add_target("targets", "b/c.bin", b"ccc");
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init("several_targets", &sim);
    client.download(&["a.bin", "b/c.bin"], &[]).ok();
    assert_eq!(
        client.target_files(),
        ["a.bin".to_owned(), "b%2Fc.bin".to_owned()].into()
    );
}

#[test]
fn urls_without_a_trailing_slash_work_the_same() {
    let (sim, mut client) = with_target("urls_without_slash", "d/fw.bin", b"firmware");
    client.metadata_url = client.metadata_url.trim_end_matches('/').to_owned();
    client.targets_url = client.targets_url.trim_end_matches('/').to_owned();
    client.download(&["d/fw.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log().last().unwrap(),
        &target_path("d/fw.bin", &sha256_hex(b"firmware"))
    );
}

#[test]
fn consistent_snapshot_off_uses_unversioned_names() {
    let mut sim = Simulator::new();
    sim.root.consistent_snapshot = false;
    sim.publish_root();
    let data = b"firmware".as_slice();
    sim.add_target("targets", "d/fw.bin", data);
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init("consistent_snapshot_off", &sim);
    client.download(&["d/fw.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "snapshot.json",
            "targets.json",
            "/targets/d/fw.bin"
        ])
    );
}
