//! Spec 5.5: the snapshot: fetched only when the timestamp lists a new
//! one, matching the timestamp's version, length and hashes, capped in
//! size, not expired, and never rolling back or dropping a targets role.

use fwsign_tests::simulator::{Body, ENDLESS_LIMIT, PAST, Simulator, sha256_hex};

use crate::client_support::{endless_finished, init, paths, started};

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
fn endless_snapshot_without_listed_length_is_capped() {
    let (mut sim, client) = started("endless_snapshot");
    sim.update_snapshot();
    sim.server.set("/metadata/2.snapshot.json", Body::Endless);
    client.refresh().failed();
    let sent = endless_finished(&sim, 1);
    assert!(sent[0] < ENDLESS_LIMIT / 4, "read {} bytes", sent[0]);
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
