//! The fixed release the slot targets verify against: a real repository made
//! with fwsign's release library from fixed keys (`keys`), published twice
//! with a root rotation in between, by `tests/corpus.rs`'s `make_fixtures`
//! (an ignored test; run it to remake this file and the seeds).
//!
//! `data/release.json` holds the device's trusted root (version 1), every
//! published root and targets-role envelope (canonical, as `fwsign device
//! pack` carries them), the target images, and every (name, SHA-256,
//! length) that some published targets role signed: no slot may be
//! accepted for anything else.

use std::sync::OnceLock;

use fwsign_manifest_schema::expiry::UnixTime;
use serde_json::Value;

/// The fixture file, embedded so fuzz binaries need no files at run time.
pub const RELEASE_JSON: &str = include_str!("../data/release.json");

/// A target entry some published role signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTarget {
    /// The target name.
    pub name: String,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Its length.
    pub length: u64,
}

/// The parts of a real slot `fwsign device pack` would write, as indices
/// into [`Release`]'s lists.
#[derive(Debug, Clone)]
pub struct SlotRecipe {
    /// The target name.
    pub target: String,
    /// Index into [`Release::images`].
    pub image: usize,
    /// Indices into [`Release::roots`].
    pub roots: Vec<usize>,
    /// Indices into [`Release::roles`], `targets` first.
    pub chain: Vec<usize>,
}

/// The release, decoded.
#[derive(Debug)]
pub struct Release {
    /// The time the release was made at; the devices' trusted time.
    pub now: UnixTime,
    /// Root version 1: what the device was provisioned with.
    pub trusted_root: Vec<u8>,
    /// Every published root, ascending (version 1 first).
    pub roots: Vec<Vec<u8>>,
    /// Every published targets-role envelope with its role name.
    pub roles: Vec<(String, Vec<u8>)>,
    /// The target images (each is some published target's contents).
    pub images: Vec<Vec<u8>>,
    /// Every target entry some published targets role signed.
    pub targets: Vec<SignedTarget>,
    /// The hardware ID the targets are released for.
    pub hardware_id: String,
    /// Real slots' parts.
    pub slots: Vec<SlotRecipe>,
}

/// The release, decoded once.
pub fn release() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| decode(RELEASE_JSON))
}

fn decode(text: &str) -> Release {
    let v: Value = serde_json::from_str(text).expect("data/release.json is JSON");
    let string = |v: &Value| v.as_str().expect("a string").to_owned();
    let list = |key: &str| -> Vec<Value> {
        v.get(key)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("data/release.json lacks {key}: run make_fixtures"))
            .clone()
    };
    Release {
        now: UnixTime(v["now"].as_i64().expect("now")),
        trusted_root: string(&v["trusted_root"]).into_bytes(),
        roots: list("roots")
            .iter()
            .map(|r| string(r).into_bytes())
            .collect(),
        roles: list("roles")
            .iter()
            .map(|r| (string(&r[0]), string(&r[1]).into_bytes()))
            .collect(),
        images: list("images")
            .iter()
            .map(|i| from_hex(i.as_str().expect("hex")))
            .collect(),
        targets: list("targets")
            .iter()
            .map(|t| SignedTarget {
                name: string(&t["name"]),
                sha256: string(&t["sha256"]),
                length: t["length"].as_u64().expect("length"),
            })
            .collect(),
        hardware_id: string(&v["hardware_id"]),
        slots: list("slots")
            .iter()
            .map(|s| {
                let indices = |key: &str| -> Vec<usize> {
                    s[key]
                        .as_array()
                        .expect("indices")
                        .iter()
                        .map(|i| i.as_u64().expect("an index") as usize)
                        .collect()
                };
                SlotRecipe {
                    target: string(&s["target"]),
                    image: s["image"].as_u64().expect("image") as usize,
                    roots: indices("roots"),
                    chain: indices("chain"),
                }
            })
            .collect(),
    }
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}
