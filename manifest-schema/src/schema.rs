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
        (
            "root.schema.json",
            render(schemars::schema_for!(Signed<Root>)),
        ),
        (
            "targets.schema.json",
            render(schemars::schema_for!(Signed<Targets>)),
        ),
        (
            "snapshot.schema.json",
            render(schemars::schema_for!(Signed<Snapshot>)),
        ),
        (
            "timestamp.schema.json",
            render(schemars::schema_for!(Signed<Timestamp>)),
        ),
        (
            "firmware.schema.json",
            render(schemars::schema_for!(FirmwareInfo)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::all_schemas;
    use std::path::Path;

    #[test]
    fn committed_schema_files_match_the_types() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
        let bless = std::env::var("FWSIGN_BLESS").as_deref() == Ok("1");
        let mut stale = Vec::new();
        for (name, generated) in all_schemas() {
            let path = dir.join(name);
            if bless {
                std::fs::write(&path, &generated).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(committed) if committed == generated => {}
                _ => stale.push(name),
            }
        }
        assert!(
            stale.is_empty(),
            "stale JSON Schema files {stale:?}: run `FWSIGN_BLESS=1 cargo test -p fwsign-manifest-schema schema` and commit them"
        );
    }

    #[test]
    fn schemas_describe_the_firmware_fields() {
        let firmware = all_schemas()
            .into_iter()
            .find(|(n, _)| *n == "firmware.schema.json")
            .unwrap()
            .1;
        for field in ["hardware_ids", "security_counter", "version", "sbom_sha256"] {
            assert!(firmware.contains(field), "{field}");
        }
    }
}
