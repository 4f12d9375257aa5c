//! Spec 5.2 and 5.3: the trusted root and its update: an invalid trusted
//! root, rotations checked against the old and the new thresholds, version
//! order, the rotation cap, persistence, expiry after the root loop, and
//! fast-forward recovery when the timestamp or snapshot keys rotate
//! (5.3.11).

use fwsign_tests::simulator::{Body, CliClient, FAR_FUTURE, PAST, Simulator, keyid, new_key};
use serde_json::{Value, json};

use super::{rotate_root_to_c_d, two_key_root};
use crate::client_support::{init, paths, started};

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
