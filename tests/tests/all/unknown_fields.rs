//! Fields fwsign does not know must survive reading and writing, at every
//! level, or metadata from other TUF tools (and newer fwsign versions) would
//! stop verifying once fwsign re-saved it.

use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::metadata::{Root, Signed, Snapshot, Targets, Timestamp};
use fwsign_manifest_schema::parse::parse_json;
use serde_json::{Value, json};

use crate::peers::data;

fn fixture(name: &str) -> Value {
    let text = std::fs::read(data(&format!("python-tuf-repo/metadata/{name}"))).unwrap();
    parse_json(&text).unwrap()
}

fn round_trip<T: fwsign_manifest_schema::metadata::RoleType>(value: &Value) {
    let text = serde_json::to_vec_pretty(value).unwrap();
    let typed = Signed::<T>::from_json_slice(&text).unwrap();
    assert_eq!(
        String::from_utf8(typed.to_canonical_json().unwrap()).unwrap(),
        String::from_utf8(to_canonical_vec(value).unwrap()).unwrap()
    );
}

fn extra() -> Value {
    json!({"nested": [1, {"deep": "v\u{1}"}], "flag": true, "n": null})
}

#[test]
fn unknown_fields_in_root_survive_at_every_level() {
    let mut v = fixture("1.root.json");
    v["x-envelope"] = extra();
    v["signatures"][0]["x-sig"] = extra();
    v["signed"]["x-signed"] = extra();
    let keyid = v["signed"]["keys"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    v["signed"]["keys"][&keyid]["keyid_hash_algorithms"] = json!(["sha256", "sha512"]);
    v["signed"]["keys"][&keyid]["keyval"]["x-keyval"] = extra();
    v["signed"]["roles"]["root"]["x-role"] = extra();
    round_trip::<Root>(&v);
}

#[test]
fn unknown_fields_in_targets_survive_at_every_level() {
    let mut v = fixture("1.targets.json");
    v["signed"]["x-signed"] = extra();
    v["signed"]["delegations"]["x-delegations"] = extra();
    v["signed"]["delegations"]["roles"][0]["x-role"] = extra();
    let t = &mut v["signed"]["targets"]["fw/app-1.0.0.bin"];
    t["x-target"] = extra();
    t["custom"]["other-tool"] = extra();
    t["custom"]["fwsign"]["x-future-field"] = extra();
    round_trip::<Targets>(&v);
}

#[test]
fn unknown_fields_in_snapshot_and_timestamp_survive() {
    let mut v = fixture("1.snapshot.json");
    v["signed"]["x-fwsign-audit-head"] = json!("ab".repeat(32));
    v["signed"]["meta"]["targets.json"]["x-meta"] = extra();
    round_trip::<Snapshot>(&v);
    let mut v = fixture("timestamp.json");
    v["signed"]["meta"]["snapshot.json"]["x-meta"] = extra();
    round_trip::<Timestamp>(&v);
}
