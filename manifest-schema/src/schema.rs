//! JSON Schema for every role, generated from the types.
//!
//! The files under `manifest-schema/schema/` are committed so that people and
//! other tools can validate metadata without Rust; a test fails when they no
//! longer match the types (run it with `FWSIGN_BLESS=1` to rewrite them).

use crate::firmware::FirmwareInfo;
use crate::metadata::{Root, Signed, Snapshot, Targets, Timestamp};

/// Each committed schema file's name and its generated content.
pub fn all_schemas() -> Vec<(&'static str, String)> {
    fn render(schema: schemars::Schema) -> String {
        let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
        text.push('\n');
        text
    }
    vec![
        ("root.schema.json", render(schemars::schema_for!(Signed<Root>))),
        ("targets.schema.json", render(schemars::schema_for!(Signed<Targets>))),
        ("snapshot.schema.json", render(schemars::schema_for!(Signed<Snapshot>))),
        ("timestamp.schema.json", render(schemars::schema_for!(Signed<Timestamp>))),
        ("firmware.schema.json", render(schemars::schema_for!(FirmwareInfo))),
    ]
}
