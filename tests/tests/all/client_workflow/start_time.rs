//! Spec 5.1: one fixed start time for the whole run; every expiry is
//! checked against it, never against a clock read again.

use std::time::Duration;

use fwsign_tests::simulator::{Body, Simulator};

use super::library_refresh;
use crate::client_support::{format_expires, init, unix_now};

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
