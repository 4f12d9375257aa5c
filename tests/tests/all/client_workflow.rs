//! `fwsign client` against the repository simulator: the TUF client
//! workflow (spec section 5) step by step, each test named after the
//! attack or step, asserting the exact requests where they are meaningful.
//!
//! Every check goes through the CLI (exit 0 or exactly 1) except the fixed
//! start-time check, which drives the library with a chosen `now`.

use std::time::Duration;

use fwsign_client::{Client, ClientConfig, ClientError};
use fwsign_core::key_types::BUILTIN;
use fwsign_manifest_schema::expiry::parse_expires;
use fwsign_tests::simulator::{
    Body, CliClient, ENDLESS_LIMIT, FAR_FUTURE, HttpGet, Key, PAST, Simulator, fresh_dir, keyid,
    new_key, run_fwsign, sha256_hex, sha512_hex, target_path,
};
use serde_json::{Value, json};

use crate::client_support::{
    FIRST_REFRESH, endless_finished, format_expires, init, paths, started, unix_now,
};

// ---- refresh: the request sequence and local state -----------------------

#[test]
fn init_stores_the_root_and_first_refresh_fetches_root_timestamp_snapshot_targets() {
    let (sim, client) = started("init_and_first_refresh");
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
    client.refresh().ok();
    assert_eq!(sim.server.take_log(), paths(FIRST_REFRESH));
    assert_eq!(
        client.metadata_files(),
        [
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
        .map(String::from)
        .into()
    );
}

#[test]
fn unchanged_local_metadata_is_reused_not_fetched_again() {
    let (sim, client) = started("reuse_local_metadata");
    client.refresh().ok();
    sim.server.take_log();
    client.refresh().ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
}

#[test]
fn new_snapshot_with_unchanged_targets_fetches_only_the_snapshot() {
    let (mut sim, client) = started("new_snapshot_only");
    client.refresh().ok();
    sim.update_snapshot();
    sim.server.take_log();
    client.refresh().ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json", "2.snapshot.json"])
    );
    assert_eq!(
        client.stored("snapshot.json").unwrap(),
        sim.server.get("/metadata/2.snapshot.json").unwrap()
    );
}

#[test]
fn equal_version_timestamp_is_neither_stored_nor_followed() {
    let (mut sim, client) = started("equal_version_timestamp");
    client.refresh().ok();
    let trusted = client.stored("timestamp.json").unwrap();
    // Same timestamp version, different content pointing at a new snapshot.
    sim.snapshot.version += 1;
    sim.timestamp.meta.get_mut("snapshot.json").unwrap().version = 2;
    sim.timestamp.expires = "2098-01-01T00:00:00Z".into();
    sim.publish();
    assert_ne!(sim.server.get("/metadata/timestamp.json").unwrap(), trusted);
    sim.server.take_log();
    client.refresh().ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
    assert_eq!(client.stored("timestamp.json").unwrap(), trusted);
}

#[test]
fn metadata_is_stored_as_the_exact_bytes_received() {
    let mut sim = Simulator::new();
    // Indented JSON: valid, not canonical, so a client that re-serialised
    // what it stored would be caught.
    sim.pretty = true;
    sim.update_snapshot();
    let client = init("exact_bytes", &sim);
    client.refresh().ok();
    for (file, served) in [
        ("timestamp.json", "/metadata/timestamp.json"),
        ("snapshot.json", "/metadata/2.snapshot.json"),
        ("targets.json", "/metadata/1.targets.json"),
    ] {
        let served = sim.server.get(served).unwrap();
        assert!(served.contains(&b'\n'), "{file} is served indented");
        assert_eq!(client.stored(file).unwrap(), served, "{file}");
    }
}

#[test]
fn only_the_known_json_names_are_in_the_metadata_dir() {
    let mut sim = Simulator::new();
    sim.delegate("targets", "board-a", &["board-a/*"], false);
    sim.add_target("board-a", "board-a/fw.bin", b"firmware");
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    sim.root.version += 1;
    sim.publish_root();
    let client = init("known_json_names", &sim);
    client.download(&["board-a/fw.bin"], &[]).ok();
    let json: Vec<String> = client
        .metadata_files()
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(
        json,
        [
            "board-a.json",
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
    );
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(2));
}

#[test]
fn requests_are_get_only_and_a_failed_request_is_not_retried() {
    let (sim, client) = started("no_retries");
    sim.server
        .set("/metadata/timestamp.json", Body::Status(500));
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
    assert!(!client.metadata_files().contains("timestamp.json"));
}

#[test]
fn missing_timestamp_fails() {
    let (sim, client) = started("missing_timestamp");
    sim.server.remove("/metadata/timestamp.json");
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
}

#[test]
fn usage_errors_exit_1_without_a_request() {
    let (sim, client) = started("usage_errors");
    let dir = client.metadata_dir.to_str().unwrap();
    let url = sim.metadata_url();
    let tdir = client.target_dir.to_str().unwrap();
    let turl = sim.targets_url();
    let cases: Vec<Vec<&str>> = vec![
        vec!["client"],
        vec!["client", "--metadata-dir", dir],
        vec!["client", "refresh"],
        vec!["client", "--metadata-dir", dir, "refresh"],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "frobnicate",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--bogus",
            "refresh",
        ],
        vec!["client", "--metadata-dir", dir, "init"],
        // download without --target-dir, --target-base-url or a name
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-name",
            "x",
            "--target-base-url",
            &turl,
            "download",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-name",
            "x",
            "--target-dir",
            tdir,
            "download",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-dir",
            tdir,
            "--target-base-url",
            &turl,
            "download",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-name",
            "x",
            "--target-dir",
            tdir,
            "--target-base-url",
            &turl,
            "download",
            "--installed-counter",
            "minus-one",
        ],
    ];
    for args in cases {
        run_fwsign(&args).failed();
    }
    assert_eq!(sim.server.take_log(), Vec::<String>::new());
}

// ---- the trusted root ------------------------------------------------------

#[test]
fn init_with_an_invalid_root_fails_the_next_refresh_before_any_request() {
    let sim = Simulator::new();
    let good = sim.root_bytes(1);
    let mut bad_roots: Vec<(&str, Vec<u8>)> = vec![
        ("not_json", b"this is not json".to_vec()),
        (
            "not_a_root",
            sim.server.get("/metadata/timestamp.json").unwrap(),
        ),
    ];
    // A signature that does not verify.
    let mut v: Value = serde_json::from_slice(&good).unwrap();
    let sig = v["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    v["signatures"][0]["sig"] = Value::String(format!("{flipped}{}", &sig[1..]));
    bad_roots.push(("bad_signature", serde_json::to_vec(&v).unwrap()));
    // Unsigned.
    let mut v: Value = serde_json::from_slice(&good).unwrap();
    v["signatures"] = json!([]);
    bad_roots.push(("unsigned", serde_json::to_vec(&v).unwrap()));
    // Threshold 2, one signature.
    let mut two = Simulator::new();
    two.root.roles.get_mut("root").unwrap().threshold = 2;
    two.add_key("root", &new_key());
    let first = two.signers["root"][0].clone();
    two.publish_root_with(&[first]);
    bad_roots.push(("below_threshold", two.root_bytes(1)));

    for (name, root) in bad_roots {
        let client = CliClient::for_sim(&format!("bad_root_{name}"), &sim);
        client.init(&root);
        client.refresh().failed();
        client.download(&["fw.bin"], &[]).failed();
        assert_eq!(sim.server.take_log(), Vec::<String>::new(), "{name}");
        assert!(
            !client.metadata_files().contains("timestamp.json"),
            "{name}"
        );
    }
}

/// v1 with root keys {a, b}, threshold 2; returns them.
fn two_key_root(sim: &mut Simulator) -> (Key, Key) {
    let a = sim.signers["root"][0].clone();
    let b = new_key();
    sim.add_key("root", &b);
    sim.root.roles.get_mut("root").unwrap().threshold = 2;
    sim.publish_root();
    (a, b)
}

/// Root v2 with root keys {c, d}, threshold 2.
fn rotate_root_to_c_d(sim: &mut Simulator) -> (Key, Key) {
    let c = sim.rotate_keys("root");
    let d = new_key();
    sim.add_key("root", &d);
    sim.root.roles.get_mut("root").unwrap().threshold = 2;
    sim.root.version = 2;
    (c, d)
}

#[test]
fn root_rotation_signed_by_old_and_new_thresholds_is_accepted() {
    let mut sim = Simulator::new();
    let (a, b) = two_key_root(&mut sim);
    let client = init("root_rotation_ok", &sim);
    let (c, d) = rotate_root_to_c_d(&mut sim);
    sim.publish_root_with(&[a, b, c, d]);
    client.refresh().ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "3.root.json",
            "timestamp.json",
            "1.snapshot.json",
            "1.targets.json"
        ])
    );
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(2));
}

#[test]
fn root_rotation_without_the_old_threshold_is_refused() {
    let mut sim = Simulator::new();
    let (a, _b) = two_key_root(&mut sim);
    let client = init("root_rotation_old_threshold", &sim);
    let (c, d) = rotate_root_to_c_d(&mut sim);
    sim.publish_root_with(&[a, c, d]);
    client.refresh().failed();
    assert_eq!(sim.server.take_log(), paths(&["2.root.json"]));
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
}

#[test]
fn root_rotation_without_the_new_threshold_is_refused() {
    let mut sim = Simulator::new();
    let (a, b) = two_key_root(&mut sim);
    let client = init("root_rotation_new_threshold", &sim);
    let (c, _d) = rotate_root_to_c_d(&mut sim);
    sim.publish_root_with(&[a, b, c]);
    client.refresh().failed();
    assert_eq!(sim.server.take_log(), paths(&["2.root.json"]));
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
}

#[test]
fn root_duplicate_signatures_do_not_meet_a_threshold_of_two() {
    let mut sim = Simulator::new();
    let (a, _b) = two_key_root(&mut sim);
    let client = init("root_duplicate_signatures", &sim);
    sim.root.version = 2;
    // a's signature twice, b's not at all.
    sim.edit_envelope.insert(
        "root".into(),
        Box::new(|env: &mut Value| {
            let sigs = env["signatures"].as_array_mut().unwrap();
            let first = sigs[0].clone();
            sigs.push(first);
        }),
    );
    sim.publish_root_with(&[a]);
    client.refresh().failed();
    assert_eq!(sim.server.take_log(), paths(&["2.root.json"]));
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
}

#[test]
fn root_keyid_listed_twice_does_not_meet_a_threshold_of_two() {
    let mut sim = Simulator::new();
    let a = sim.signers["root"][0].clone();
    let client = init("root_keyid_listed_twice", &sim);
    let c = sim.rotate_keys("root");
    let entry = sim.root.roles.get_mut("root").unwrap();
    entry.keyids = vec![keyid(&c), keyid(&c)];
    entry.threshold = 2;
    sim.root.version = 2;
    sim.publish_root_with(&[a, c]);
    client.refresh().failed();
    assert_eq!(sim.server.take_log(), paths(&["2.root.json"]));
}

#[test]
fn root_version_must_be_exactly_trusted_plus_one() {
    for (name, version) in [("skip", 3), ("same", 1)] {
        let mut sim = Simulator::new();
        let client = init(&format!("root_version_not_next_{name}"), &sim);
        sim.root.version = version;
        let bytes = sim.render("root");
        sim.server.set("/metadata/2.root.json", Body::Bytes(bytes));
        client.refresh().failed();
        assert_eq!(sim.server.take_log(), paths(&["2.root.json"]), "{name}");
        assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
    }
}

#[test]
fn root_rotations_are_capped_at_256_per_refresh() {
    let mut sim = Simulator::new();
    let client = init("root_rotation_cap", &sim);
    for v in 2..=300 {
        sim.root.version = v;
        sim.publish_root();
    }
    client.refresh().ok();
    let mut expected: Vec<String> = (2..=257).map(|v| format!("{v}.root.json")).collect();
    expected.extend(["timestamp.json", "1.snapshot.json", "1.targets.json"].map(String::from));
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(sim.server.take_log(), paths(&expected));
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(257));
}

#[test]
fn each_verified_root_is_persisted_before_a_later_one_fails() {
    let mut sim = Simulator::new();
    let client = init("root_persisted_early", &sim);
    sim.root.version = 2;
    sim.publish_root();
    sim.root.version = 3;
    sim.publish_root_with(&[new_key()]);
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "3.root.json"])
    );
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(2));
}

#[test]
fn expired_final_root_is_refused_after_the_root_loop() {
    let mut sim = Simulator::new();
    let client = init("expired_final_root", &sim);
    sim.root.version = 2;
    sim.root.expires = PAST.into();
    sim.publish_root();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "3.root.json"])
    );
    // It verified, so it was kept (spec 5.3.8) before the expiry check.
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(2));
}

#[test]
fn expired_intermediate_root_is_fine_when_the_final_one_is_not() {
    let mut sim = Simulator::new();
    let client = init("expired_intermediate_root", &sim);
    sim.root.version = 2;
    sim.root.expires = PAST.into();
    sim.publish_root();
    sim.root.version = 3;
    sim.root.expires = FAR_FUTURE.into();
    sim.publish_root();
    client.refresh().ok();
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(3));
}

#[test]
fn expired_trusted_root_can_still_be_updated() {
    let mut sim = Simulator::new();
    sim.root.expires = PAST.into();
    sim.publish_root();
    let client = init("expired_trusted_root", &sim);
    sim.root.version = 2;
    sim.root.expires = FAR_FUTURE.into();
    sim.publish_root();
    client.refresh().ok();
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(2));
}

// ---- freeze: expiry against the start time ---------------------------------

#[test]
fn expired_timestamp_is_refused_and_not_stored() {
    let (mut sim, client) = started("expired_timestamp");
    sim.timestamp.expires = PAST.into();
    sim.update_timestamp();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
    assert!(!client.metadata_files().contains("timestamp.json"));
}

#[test]
fn expired_trusted_timestamp_with_an_equal_remote_version_is_refused() {
    // The stored timestamp was valid when stored and has expired since; the
    // repository still serves that version (a freeze): not newer, so not
    // taken, and the trusted one is checked for expiry instead.
    let (mut sim, client) = started("expired_equal_timestamp");
    sim.timestamp.expires = PAST.into();
    sim.update_timestamp();
    let expired = sim.server.get("/metadata/timestamp.json").unwrap();
    std::fs::write(client.metadata_dir.join("timestamp.json"), &expired).unwrap();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
}

#[test]
fn expired_snapshot_is_refused_and_not_stored() {
    let (mut sim, client) = started("expired_snapshot");
    sim.snapshot.expires = PAST.into();
    sim.update_snapshot();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json", "2.snapshot.json"])
    );
    assert!(!client.metadata_files().contains("snapshot.json"));
}

#[test]
fn expired_targets_is_refused_and_not_stored() {
    let (mut sim, client) = started("expired_targets");
    let t = sim.targets.get_mut("targets").unwrap();
    t.expires = PAST.into();
    t.version += 1;
    sim.update_snapshot();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "2.snapshot.json",
            "2.targets.json"
        ])
    );
    assert!(!client.metadata_files().contains("targets.json"));
}

#[test]
fn expiry_is_checked_against_the_start_time_of_the_run() {
    // The snapshot expires 5 s after the run starts and is served 7 s late:
    // a client that read the clock again would call it expired.
    let mut sim = Simulator::new();
    let client = init("fixed_start_time_cli", &sim);
    sim.snapshot.expires = format_expires(unix_now() + 5);
    sim.update_snapshot();
    let snapshot = sim.server.get("/metadata/2.snapshot.json").unwrap();
    sim.server.set(
        "/metadata/2.snapshot.json",
        Body::Delayed(Duration::from_secs(7), snapshot),
    );
    client.refresh().ok();
}

fn library_refresh(sim: &Simulator, name: &str, now: &str) -> Result<(), ClientError> {
    let dir = fresh_dir(name);
    fwsign_client::init(&dir, &sim.root_bytes(1)).unwrap();
    let config = ClientConfig {
        metadata_dir: dir,
        metadata_url: sim.metadata_url(),
        now: parse_expires(now.as_bytes()).unwrap(),
    };
    Client::new(config, HttpGet, BUILTIN)?.refresh()
}

#[test]
fn library_checks_expiry_against_the_given_now_only() {
    let mut sim = Simulator::new();
    sim.timestamp.expires = "2090-01-01T00:00:00Z".into();
    sim.update_timestamp();
    // Expiry is `expires <= now`: one second before is fine, the instant
    // itself is expired, whatever the machine's clock says.
    library_refresh(&sim, "library_now_before", "2089-12-31T23:59:59Z").unwrap();
    assert!(library_refresh(&sim, "library_now_at", "2090-01-01T00:00:00Z").is_err());
    // And long ago, metadata that expired by the wall clock is fine.
    sim.timestamp.expires = "2001-01-01T00:00:01Z".into();
    sim.snapshot.expires = "2001-01-01T00:00:01Z".into();
    sim.update_snapshot();
    library_refresh(&sim, "library_now_long_ago", "2001-01-01T00:00:00Z").unwrap();
}

// ---- rollback and mix-and-match --------------------------------------------

#[test]
fn timestamp_rollback_is_refused() {
    let (mut sim, client) = started("timestamp_rollback");
    let v1 = sim.server.get("/metadata/timestamp.json").unwrap();
    sim.update_timestamp();
    client.refresh().ok();
    let v2 = client.stored("timestamp.json").unwrap();
    sim.server.set("/metadata/timestamp.json", Body::Bytes(v1));
    sim.server.take_log();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
    assert_eq!(client.stored("timestamp.json").unwrap(), v2);
}

#[test]
fn snapshot_version_rollback_in_timestamp_meta_is_refused() {
    let (mut sim, client) = started("snapshot_meta_rollback");
    sim.update_snapshot();
    client.refresh().ok();
    let trusted = client.stored("timestamp.json").unwrap();
    sim.snapshot.version = 1;
    sim.update_timestamp();
    sim.server.take_log();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
    assert_eq!(client.stored("timestamp.json").unwrap(), trusted);
}

#[test]
fn targets_version_rollback_in_snapshot_meta_is_refused() {
    let (mut sim, client) = started("targets_meta_rollback");
    sim.targets.get_mut("targets").unwrap().version = 2;
    sim.update_snapshot();
    client.refresh().ok();
    let trusted = client.stored("snapshot.json").unwrap();
    sim.targets.get_mut("targets").unwrap().version = 1;
    sim.update_snapshot();
    sim.server.take_log();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json", "3.snapshot.json"])
    );
    assert_eq!(client.stored("snapshot.json").unwrap(), trusted);
}

#[test]
fn role_removed_from_snapshot_is_refused() {
    let mut sim = Simulator::new();
    sim.delegate("targets", "a", &["*"], false);
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init("role_removed_from_snapshot", &sim);
    client.refresh().ok();
    let trusted = client.stored("snapshot.json").unwrap();
    sim.snapshot.meta.remove("a.json");
    sim.snapshot.version += 1;
    sim.update_timestamp();
    sim.server.take_log();
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json", "3.snapshot.json"])
    );
    assert_eq!(client.stored("snapshot.json").unwrap(), trusted);
}

#[test]
fn snapshot_version_differing_from_timestamp_meta_is_refused() {
    let (mut sim, client) = started("snapshot_version_mismatch");
    let v1 = sim.server.get("/metadata/1.snapshot.json").unwrap();
    sim.update_snapshot();
    sim.server.set("/metadata/2.snapshot.json", Body::Bytes(v1));
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json", "2.snapshot.json"])
    );
    assert!(!client.metadata_files().contains("snapshot.json"));
}

#[test]
fn targets_version_differing_from_snapshot_meta_is_refused() {
    let (mut sim, client) = started("targets_version_mismatch");
    let v1 = sim.server.get("/metadata/1.targets.json").unwrap();
    sim.targets.get_mut("targets").unwrap().version = 2;
    sim.update_snapshot();
    sim.server.set("/metadata/2.targets.json", Body::Bytes(v1));
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "2.snapshot.json",
            "2.targets.json"
        ])
    );
    assert!(!client.metadata_files().contains("targets.json"));
}

#[test]
fn snapshot_hash_mismatch_with_timestamp_meta_is_refused() {
    let (mut sim, client) = started("snapshot_hash_mismatch");
    sim.meta_hashes = true;
    sim.update_snapshot();
    // Same version, re-signed with other content: the hash in the timestamp
    // no longer matches.
    sim.snapshot.expires = "2098-01-01T00:00:00Z".into();
    let other = sim.render("snapshot");
    sim.server
        .set("/metadata/2.snapshot.json", Body::Bytes(other));
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json", "2.snapshot.json"])
    );
    assert!(!client.metadata_files().contains("snapshot.json"));
}

#[test]
fn snapshot_length_mismatch_with_timestamp_meta_is_refused() {
    for (name, delta) in [("shorter", -1i64), ("longer", 1)] {
        let (mut sim, client) = started(&format!("snapshot_length_mismatch_{name}"));
        sim.update_snapshot();
        let len = sim.render("snapshot").len() as i64;
        let meta = sim.timestamp.meta.get_mut("snapshot.json").unwrap();
        meta.length = Some(u64::try_from(len + delta).unwrap());
        sim.timestamp.version += 1;
        sim.publish();
        client.refresh().failed();
        assert_eq!(
            sim.server.take_log(),
            paths(&["2.root.json", "timestamp.json", "2.snapshot.json"]),
            "{name}"
        );
        assert!(!client.metadata_files().contains("snapshot.json"));
    }
}

#[test]
fn unknown_hash_algorithm_in_timestamp_meta_is_refused() {
    let (mut sim, client) = started("unknown_hash_algorithm_meta");
    sim.meta_hashes = true;
    sim.update_snapshot();
    let meta = sim.timestamp.meta.get_mut("snapshot.json").unwrap();
    meta.hashes
        .as_mut()
        .unwrap()
        .insert("blake2b-256".into(), sha256_hex(b"whatever"));
    sim.timestamp.version += 1;
    sim.publish();
    client.refresh().failed();
    assert!(!client.metadata_files().contains("snapshot.json"));
}

#[test]
fn targets_hash_mismatch_with_snapshot_meta_is_refused() {
    let (mut sim, client) = started("targets_hash_mismatch");
    sim.meta_hashes = true;
    sim.targets.get_mut("targets").unwrap().version = 2;
    sim.update_snapshot();
    sim.targets.get_mut("targets").unwrap().expires = "2098-01-01T00:00:00Z".into();
    let other = sim.render("targets");
    sim.server
        .set("/metadata/2.targets.json", Body::Bytes(other));
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "2.snapshot.json",
            "2.targets.json"
        ])
    );
    assert!(!client.metadata_files().contains("targets.json"));
}

#[test]
fn metadata_signed_by_the_wrong_key_is_refused_and_not_stored() {
    for role in ["timestamp", "snapshot", "targets"] {
        let (mut sim, client) = started(&format!("wrong_key_{role}"));
        sim.signers.insert(role.into(), vec![new_key()]);
        sim.targets.get_mut("targets").unwrap().version += 1;
        sim.update_snapshot();
        client.refresh().failed();
        assert!(
            !client.metadata_files().contains(&format!("{role}.json")),
            "{role}"
        );
    }
}

// ---- fast-forward recovery ---------------------------------------------------

#[test]
fn timestamp_fast_forward_recovery_after_timestamp_key_rotation() {
    let (mut sim, client) = started("timestamp_fast_forward");
    sim.timestamp.version = 99_998;
    sim.update_timestamp();
    client.refresh().ok();
    // Without a key rotation the reset timestamp is a rollback.
    sim.timestamp.version = 0;
    sim.update_timestamp();
    client.refresh().failed();
    sim.rotate_keys("timestamp");
    sim.root.version = 2;
    sim.publish_root();
    sim.update_timestamp();
    sim.server.take_log();
    client.refresh().ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "3.root.json", "timestamp.json"])
    );
    assert_eq!(
        client.stored("timestamp.json").unwrap(),
        sim.server.get("/metadata/timestamp.json").unwrap()
    );
}

#[test]
fn snapshot_fast_forward_recovery_after_snapshot_and_timestamp_key_rotation() {
    // As python-tuf: the snapshot recovers when the timestamp key rotates
    // too (the trusted timestamp pins the snapshot version otherwise).
    let (mut sim, client) = started("snapshot_fast_forward");
    sim.snapshot.version = 99_999;
    sim.update_timestamp();
    client.refresh().ok();
    sim.rotate_keys("snapshot");
    sim.rotate_keys("timestamp");
    sim.root.version = 2;
    sim.publish_root();
    sim.snapshot.version = 1;
    sim.update_timestamp();
    sim.server.take_log();
    client.refresh().ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "3.root.json",
            "timestamp.json",
            "1.snapshot.json"
        ])
    );
    assert_eq!(
        client.stored("snapshot.json").unwrap(),
        sim.server.get("/metadata/1.snapshot.json").unwrap()
    );
}

// ---- endless data ---------------------------------------------------------

#[test]
fn endless_metadata_is_capped() {
    for path in ["/metadata/2.root.json", "/metadata/timestamp.json"] {
        let (sim, client) = started(&format!(
            "endless_metadata_{}",
            path.trim_start_matches("/metadata/").replace('.', "_")
        ));
        sim.server.set(path, Body::Endless);
        client.refresh().failed();
        let sent = endless_finished(&sim, 1);
        assert_eq!(sent.len(), 1, "{path}");
        assert!(
            sent[0] < ENDLESS_LIMIT / 4,
            "{path}: read {} bytes",
            sent[0]
        );
    }
}

#[test]
fn endless_snapshot_without_listed_length_is_capped() {
    let (mut sim, client) = started("endless_snapshot");
    sim.update_snapshot();
    sim.server.set("/metadata/2.snapshot.json", Body::Endless);
    client.refresh().failed();
    let sent = endless_finished(&sim, 1);
    assert!(sent[0] < ENDLESS_LIMIT / 4, "read {} bytes", sent[0]);
}

// ---- targets ------------------------------------------------------------------

fn with_target(name: &str, target: &str, data: &[u8]) -> (Simulator, CliClient) {
    let mut sim = Simulator::new();
    sim.add_target("targets", target, data);
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init(name, &sim);
    (sim, client)
}

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

// ---- firmware checks ---------------------------------------------------------

fn firmware_repo(name: &str) -> (Simulator, CliClient) {
    let mut sim = Simulator::new();
    sim.add_target("targets", "fw.bin", b"firmware").custom = Some(json!({
        "fwsign": {"hardware_ids": ["evc-a1", "evc-a2"], "version": "1.2.0", "security_counter": 3}
    }));
    sim.add_target("targets", "plain.bin", b"no firmware fields");
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init(name, &sim);
    (sim, client)
}

#[test]
fn hardware_id_not_listed_is_refused_before_download() {
    let (sim, client) = firmware_repo("hardware_id_refused");
    client
        .download(&["fw.bin"], &["--hardware-id", "evc-b1"])
        .failed();
    assert!(
        sim.server
            .take_log()
            .iter()
            .all(|p| p.starts_with("/metadata/"))
    );
    assert!(client.target_files().is_empty());
}

#[test]
fn security_counter_below_installed_is_refused() {
    let (sim, client) = firmware_repo("installed_counter_refused");
    client
        .download(&["fw.bin"], &["--installed-counter", "4"])
        .failed();
    assert!(
        sim.server
            .take_log()
            .iter()
            .all(|p| p.starts_with("/metadata/"))
    );
    assert!(client.target_files().is_empty());
}

#[test]
fn matching_hardware_id_and_equal_counter_are_accepted() {
    let (_sim, client) = firmware_repo("firmware_accepted");
    client
        .download(
            &["fw.bin"],
            &["--hardware-id", "evc-a2", "--installed-counter", "3"],
        )
        .ok();
    assert_eq!(client.target_files(), ["fw.bin".to_owned()].into());
}

#[test]
fn target_without_firmware_fields_is_refused_when_device_checks_are_asked() {
    let (_sim, client) = firmware_repo("no_firmware_fields");
    client
        .download(&["plain.bin"], &["--hardware-id", "evc-a1"])
        .failed();
    client
        .download(&["plain.bin"], &["--installed-counter", "0"])
        .failed();
    client.download(&["plain.bin"], &[]).ok();
}
