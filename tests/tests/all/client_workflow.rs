//! `fwsign client` against the repository simulator: the TUF client
//! workflow (spec section 5) step by step, each test named after the
//! attack or step, asserting the exact requests where they are meaningful.
//!
//! Every check goes through the CLI (exit 0 or exactly 1) except the fixed
//! start-time check, which drives the library with a chosen `now`.
//!
//! One module per step of the workflow, in the spec's order: `start_time`
//! (5.1), `root` (5.2 and 5.3), `timestamp` (5.4), `snapshot` (5.5),
//! `targets` (5.6), `download` (5.7) and `firmware` (fwsign's device checks
//! on a target); `refresh` holds what spans the steps (the request
//! sequence, local state, the command line's contract). The fixtures the
//! modules share are here.

use fwsign_client::{Client, ClientConfig, ClientError};
use fwsign_core::key_types::BUILTIN;
use fwsign_manifest_schema::expiry::parse_expires;
use fwsign_manifest_schema::raw_json::RawJson;
use fwsign_tests::simulator::{CliClient, HttpGet, Key, Simulator, fresh_dir, new_key};
use serde_json::json;

use crate::client_support::init;

mod download;
mod firmware;
mod refresh;
mod root;
mod snapshot;
mod start_time;
mod targets;
mod timestamp;

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

fn with_target(name: &str, target: &str, data: &[u8]) -> (Simulator, CliClient) {
    let mut sim = Simulator::new();
    sim.add_target("targets", target, data);
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init(name, &sim);
    (sim, client)
}

fn firmware_repo(name: &str) -> (Simulator, CliClient) {
    let mut sim = Simulator::new();
    sim.add_target("targets", "fw.bin", b"firmware").custom = Some(
        RawJson::from_value(&json!({
            "fwsign": {"hardware_ids": ["evc-a1", "evc-a2"], "version": "1.2.0", "security_counter": 3}
        }))
        .unwrap(),
    );
    sim.add_target("targets", "plain.bin", b"no firmware fields");
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    let client = init(name, &sim);
    (sim, client)
}
