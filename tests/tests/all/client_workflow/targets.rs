//! Spec 5.6: the top-level targets: matching the snapshot's version and
//! hashes, and not expired. (Delegated roles and the target search are in
//! `client_delegations`.)

use fwsign_tests::simulator::{Body, PAST};

use crate::client_support::{paths, started};

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
