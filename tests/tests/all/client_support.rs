//! Shared set-up for the `fwsign client` tests (client_*.rs).

use std::time::{Duration, Instant};

use fwsign_tests::simulator::{CliClient, Simulator};

/// Metadata request paths: `"2.root.json"` -> `"/metadata/2.root.json"`;
/// paths starting with `/` are kept as they are.
pub(crate) fn paths(items: &[&str]) -> Vec<String> {
    items
        .iter()
        .map(|p| {
            if p.starts_with('/') {
                (*p).to_owned()
            } else {
                format!("/metadata/{p}")
            }
        })
        .collect()
}

/// The requests of a first refresh of an unchanged simulator.
pub(crate) const FIRST_REFRESH: &[&str] = &[
    "2.root.json",
    "timestamp.json",
    "1.snapshot.json",
    "1.targets.json",
];

/// A simulator and a CLI client initialised with its root v1 (checked to
/// have made no request).
pub(crate) fn started(name: &str) -> (Simulator, CliClient) {
    let sim = Simulator::new();
    let client = init(name, &sim);
    (sim, client)
}

/// A CLI client for `sim`, initialised with its root v1; the request log
/// is empty afterwards.
pub(crate) fn init(name: &str, sim: &Simulator) -> CliClient {
    let client = CliClient::for_sim(name, sim);
    client.init(&sim.root_bytes(1)).ok();
    assert_eq!(
        sim.server.take_log(),
        Vec::<String>::new(),
        "init made a request"
    );
    client
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (1970 to 9999).
pub(crate) fn format_expires(secs: i64) -> String {
    fwsign_manifest_schema::expiry::UnixTime(secs)
        .to_expires()
        .unwrap()
}

/// Seconds since the epoch, now.
pub(crate) fn unix_now() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs).unwrap()
}

/// Waits until the server has finished `n` endless responses and returns
/// how many bytes each sent.
pub(crate) fn endless_finished(sim: &Simulator, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = sim.server.endless_sent();
        if sent.len() >= n || Instant::now() > deadline {
            return sent;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn format_expires_matches_known_dates() {
    assert_eq!(format_expires(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_expires(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(format_expires(4_102_444_799), "2099-12-31T23:59:59Z");
}
