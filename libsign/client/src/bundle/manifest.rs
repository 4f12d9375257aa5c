//! `fwsign-bundle.json`, the entry that marks a zip as a bundle and names
//! its target, and reading metadata entries with a size cap. Its format
//! version is checked before anything else so a newer layout is reported
//! as unsupported rather than malformed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bundle_archive::BundleArchive;
use fwsign_repo::names::check_target_name;

use super::error::BundleError;
use super::{FORMAT_VERSION, MANIFEST_MAX, MANIFEST_NAME};

/// `fwsign-bundle.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format_version: u64,
    target: String,
}

pub(super) fn manifest_bytes(target: &str) -> Vec<u8> {
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        target: target.to_owned(),
    };
    let mut bytes =
        serde_json::to_vec_pretty(&manifest).expect("a struct of a number and a string serializes");
    bytes.push(b'\n');
    bytes
}

/// Reads `fwsign-bundle.json` and returns the target name.
pub(super) fn read_manifest(
    archive: &mut BundleArchive,
    path: &Path,
) -> Result<String, BundleError> {
    let not_a_bundle = |reason: String| BundleError::NotABundle {
        path: path.to_path_buf(),
        reason,
    };
    if archive.declared_size(MANIFEST_NAME).is_none() {
        return Err(not_a_bundle(format!("no {MANIFEST_NAME}")));
    }
    let raw = archive.read(MANIFEST_NAME, MANIFEST_MAX)?;
    let value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| not_a_bundle(format!("{MANIFEST_NAME}: {e}")))?;
    // The version is read on its own first: a newer format may change every
    // other field, and deserves "unsupported", not "malformed".
    let format_version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            not_a_bundle(format!(
                "{MANIFEST_NAME}: format_version must be a non-negative integer"
            ))
        })?;
    if format_version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedFormat {
            path: path.to_path_buf(),
            found: format_version,
        });
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| not_a_bundle(format!("{MANIFEST_NAME}: {e}")))?;
    // The name becomes a path under --extract-to; fwsign repositories only
    // publish names that pass this check.
    check_target_name(&manifest.target)
        .map_err(|e| not_a_bundle(format!("{MANIFEST_NAME}: {e}")))?;
    Ok(manifest.target)
}

/// Reads a metadata entry, telling a missing entry apart from a refused one.
pub(super) fn read_entry(
    archive: &mut BundleArchive,
    path: &Path,
    name: &str,
    cap: u64,
) -> Result<Vec<u8>, BundleError> {
    if archive.declared_size(name).is_none() {
        return Err(BundleError::MissingEntry {
            path: path.to_path_buf(),
            entry: name.to_owned(),
        });
    }
    Ok(archive.read(name, cap)?)
}
