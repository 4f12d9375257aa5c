//! Software bills of materials published with a release (`repo add
//! --sbom`): which formats are accepted, and the check of a document
//! against its format's official JSON schema.
//!
//! Accepted: CycloneDX 1.4, 1.5 and 1.6 JSON (`bomFormat: "CycloneDX"`,
//! `specVersion`) and SPDX 2.2 and 2.3 JSON (`spdxVersion: "SPDX-2.x"`).
//! The schemas are the official files, committed under `sbom-schemas/`
//! (where each came from is in its README) and compiled into the binary.
//! Every `$ref` between them resolves to those copies by `$id`; the
//! validator's loader refuses any other URL, so a check never reads the
//! network or the disk.
//!
//! The validator is `boon` (draft-07, which all five schemas declare); why
//! it and not `jsonschema` is in docs/architecture.md ("SBOMs").

use std::path::{Path, PathBuf};

use boon::{Compiler, Schemas, UrlLoader, ValidationError};
use serde_json::Value;

/// The bundled schemas, by `$id`.
const SCHEMAS: &[(&str, &str)] = &[
    (
        "http://cyclonedx.org/schema/bom-1.4.schema.json",
        include_str!("../sbom-schemas/bom-1.4.schema.json"),
    ),
    (
        "http://cyclonedx.org/schema/bom-1.5.schema.json",
        include_str!("../sbom-schemas/bom-1.5.schema.json"),
    ),
    (
        "http://cyclonedx.org/schema/bom-1.6.schema.json",
        include_str!("../sbom-schemas/bom-1.6.schema.json"),
    ),
    (
        "http://cyclonedx.org/schema/spdx.schema.json",
        include_str!("../sbom-schemas/spdx.schema.json"),
    ),
    (
        "http://cyclonedx.org/schema/jsf-0.82.schema.json",
        include_str!("../sbom-schemas/jsf-0.82.schema.json"),
    ),
    (
        "http://spdx.org/rdf/terms",
        include_str!("../sbom-schemas/spdx-2.2.schema.json"),
    ),
    (
        "http://spdx.org/rdf/terms/2.3",
        include_str!("../sbom-schemas/spdx-2.3.schema.json"),
    ),
];

/// An SBOM's format and version, as its document declares them and its
/// schema confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SbomFormat {
    /// CycloneDX JSON; the `specVersion` (`1.4`, `1.5` or `1.6`).
    CycloneDx(&'static str),
    /// SPDX JSON; the version (`2.2` or `2.3`).
    Spdx(&'static str),
}

impl SbomFormat {
    /// What is appended to the firmware's target name to name the SBOM's.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::CycloneDx(_) => ".cdx.json",
            Self::Spdx(_) => ".spdx.json",
        }
    }

    /// `cyclonedx` or `spdx`, as recorded in the SBOM target's custom field.
    pub fn name(self) -> &'static str {
        match self {
            Self::CycloneDx(_) => "cyclonedx",
            Self::Spdx(_) => "spdx",
        }
    }

    /// The format's version.
    pub fn version(self) -> &'static str {
        match self {
            Self::CycloneDx(v) | Self::Spdx(v) => v,
        }
    }

    fn schema_id(self) -> &'static str {
        match self {
            Self::CycloneDx("1.4") => "http://cyclonedx.org/schema/bom-1.4.schema.json",
            Self::CycloneDx("1.5") => "http://cyclonedx.org/schema/bom-1.5.schema.json",
            Self::CycloneDx(_) => "http://cyclonedx.org/schema/bom-1.6.schema.json",
            Self::Spdx("2.2") => "http://spdx.org/rdf/terms",
            Self::Spdx(_) => "http://spdx.org/rdf/terms/2.3",
        }
    }
}

impl std::fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CycloneDx(v) => write!(f, "CycloneDX {v}"),
            Self::Spdx(v) => write!(f, "SPDX {v}"),
        }
    }
}

/// Why an SBOM was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {why}", path.display())]
pub struct SbomError {
    /// The SBOM file.
    pub path: PathBuf,
    /// What is wrong: not JSON, not an accepted format and version, or the
    /// first schema error with its location in the document.
    pub why: String,
}

/// The format `doc` declares, if it is one fwsign accepts.
fn declared_format(doc: &Value) -> Result<SbomFormat, String> {
    let text = |key: &str| doc.get(key).and_then(Value::as_str);
    if let Some(format) = text("bomFormat") {
        if format != "CycloneDX" {
            return Err(format!("bomFormat {format:?} is not \"CycloneDX\""));
        }
        return match text("specVersion") {
            Some("1.4") => Ok(SbomFormat::CycloneDx("1.4")),
            Some("1.5") => Ok(SbomFormat::CycloneDx("1.5")),
            Some("1.6") => Ok(SbomFormat::CycloneDx("1.6")),
            Some(other) => Err(format!(
                "CycloneDX specVersion {other:?} is not accepted (1.4, 1.5 or 1.6)"
            )),
            None => Err("a CycloneDX document without a specVersion string".into()),
        };
    }
    match text("spdxVersion") {
        Some("SPDX-2.2") => Ok(SbomFormat::Spdx("2.2")),
        Some("SPDX-2.3") => Ok(SbomFormat::Spdx("2.3")),
        Some(other) => Err(format!(
            "spdxVersion {other:?} is not accepted (SPDX-2.2 or SPDX-2.3)"
        )),
        None => Err(
            "not a CycloneDX (bomFormat, specVersion 1.4-1.6) or SPDX (spdxVersion 2.2/2.3) JSON document"
                .into(),
        ),
    }
}

/// Refuses every URL: all the schemas are added as resources up front, so a
/// `$ref` to anything else is an error, never a fetch.
struct NoFetch;

impl UrlLoader for NoFetch {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("{url} is not bundled with fwsign and is never fetched").into())
    }
}

/// The deepest first error: the one that says what is wrong where, rather
/// than "does not match the schema".
fn first_leaf<'e, 's, 'v>(mut e: &'e ValidationError<'s, 'v>) -> &'e ValidationError<'s, 'v> {
    while let Some(first) = e.causes.first() {
        e = first;
    }
    e
}

/// Checks `bytes`, read from `path`, as an SBOM: JSON, an accepted format
/// and version, and valid against that version's official schema. Returns
/// the format.
pub fn check_sbom(path: &Path, bytes: &[u8]) -> Result<SbomFormat, SbomError> {
    let refuse = |why: String| SbomError {
        path: path.to_path_buf(),
        why,
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| refuse(format!("not JSON: {e}")))?;
    let format = declared_format(&doc).map_err(&refuse)?;
    let mut compiler = Compiler::new();
    compiler.use_loader(Box::new(NoFetch));
    for (id, text) in SCHEMAS {
        let schema: Value = serde_json::from_str(text)
            .map_err(|e| refuse(format!("bundled schema {id} is not JSON: {e}")))?;
        compiler
            .add_resource(id, schema)
            .map_err(|e| refuse(format!("bundled schema {id}: {e}")))?;
    }
    let mut schemas = Schemas::new();
    let index = compiler
        .compile(format.schema_id(), &mut schemas)
        .map_err(|e| refuse(format!("bundled {format} schema does not compile: {e}")))?;
    if let Err(e) = schemas.validate(&doc, index) {
        let leaf = first_leaf(&e);
        let at = leaf.instance_location.to_string();
        let at = if at.is_empty() { "/".to_owned() } else { at };
        return Err(refuse(format!(
            "not valid {format} (official JSON schema): at {at}: {}",
            leaf.kind
        )));
    }
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::{SbomFormat, check_sbom};
    use serde_json::json;
    use std::path::Path;

    fn check(doc: serde_json::Value) -> Result<SbomFormat, String> {
        check_sbom(Path::new("sbom.json"), doc.to_string().as_bytes()).map_err(|e| e.to_string())
    }

    fn cyclonedx(version: &str) -> serde_json::Value {
        json!({
            "bomFormat": "CycloneDX", "specVersion": version, "version": 1,
            "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
            "components": [{"type": "library", "name": "zlib", "version": "1.3.1",
                            "purl": "pkg:generic/zlib@1.3.1",
                            "licenses": [{"license": {"id": "Zlib"}}]}]
        })
    }

    fn spdx(version: &str) -> serde_json::Value {
        json!({
            "spdxVersion": format!("SPDX-{version}"), "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT", "name": "fw", "documentNamespace": "https://example.com/fw",
            "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: fwsign-test"]},
            "packages": [{"SPDXID": "SPDXRef-zlib", "name": "zlib", "downloadLocation": "NOASSERTION",
                      "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
                      "copyrightText": "NOASSERTION"}]
        })
    }

    #[test]
    fn every_accepted_version_checks_against_its_schema() {
        for v in ["1.4", "1.5", "1.6"] {
            assert_eq!(
                check(cyclonedx(v)),
                Ok(SbomFormat::CycloneDx(match v {
                    "1.4" => "1.4",
                    "1.5" => "1.5",
                    _ => "1.6",
                }))
            );
        }
        assert_eq!(check(spdx("2.2")), Ok(SbomFormat::Spdx("2.2")));
        assert_eq!(check(spdx("2.3")), Ok(SbomFormat::Spdx("2.3")));
    }

    #[test]
    fn a_schema_error_names_its_place_in_the_document() {
        let mut doc = cyclonedx("1.6");
        doc["components"][0]["type"] = json!("rocket");
        let err = check(doc).unwrap_err();
        assert!(
            err.starts_with("sbom.json: ") && err.contains("/components/0/type"),
            "{err}"
        );
        // A licence ID outside the bundled SPDX list ($ref to spdx.schema.json).
        let mut doc = cyclonedx("1.5");
        doc["components"][0]["licenses"][0]["license"]["id"] = json!("Not-A-Licence");
        let err = check(doc).unwrap_err();
        assert!(err.contains("/components/0/licenses/0"), "{err}");
        let mut doc = spdx("2.3");
        doc.as_object_mut().unwrap().remove("SPDXID");
        let err = check(doc).unwrap_err();
        assert!(err.contains("SPDXID"), "{err}");
    }

    #[test]
    fn other_formats_and_versions_are_refused() {
        assert!(check(cyclonedx("1.3")).unwrap_err().contains("1.3"));
        assert!(check(spdx("2.1")).unwrap_err().contains("SPDX-2.1"));
        assert!(
            check(json!({"hello": 1}))
                .unwrap_err()
                .contains("not a CycloneDX")
        );
        let err = check_sbom(Path::new("x.json"), b"{nope")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.json: not JSON"), "{err}");
    }
}
