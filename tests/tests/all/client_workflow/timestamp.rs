//! Spec 5.4: the timestamp: fetched every run, taken only when newer,
//! refused when expired or rolled back, and the snapshot version it lists
//! never going back.

use fwsign_tests::simulator::{Body, PAST};

use crate::client_support::{paths, started};

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
