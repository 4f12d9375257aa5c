//! SBOMs approved with each release (issue 16): `repo add --sbom` publishes
//! the SBOM as its own target beside the image and records its name and
//! SHA-256 in the image's signed fields, so the approvers who sign the image
//! sign the SBOM; `bundle create` carries it, `client download --with-sbom`
//! and python-tuf fetch it, and a swapped SBOM is refused.

use std::path::{Path, PathBuf};

use fwsign_tests::{SECURITY, USAGE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::release_support::{FW_NAME, Release, firmware, json};

pub(crate) const SBOM_NAME: &str = "board-a/fw-1.0.0.bin.cdx.json";

pub(crate) fn cyclonedx(component_version: &str) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata": {"component": {"type": "firmware", "name": "fw", "version": "1.0.0"}},
        "components": [{"type": "library", "name": "mbedtls", "version": component_version,
                        "purl": format!("pkg:generic/mbedtls@{component_version}"),
                        "licenses": [{"license": {"id": "Apache-2.0"}}]}]
    }))
    .unwrap()
}

fn spdx(version: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "spdxVersion": format!("SPDX-{version}"), "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT", "name": "fw", "documentNamespace": "https://example.com/fw-1.0.0",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: fwsign-test"]},
        "packages": [{"SPDXID": "SPDXRef-mbedtls", "name": "mbedtls", "downloadLocation": "NOASSERTION",
                      "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
                      "copyrightText": "NOASSERTION"}]
    }))
    .unwrap()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

/// A repository with `FW_NAME` staged with `sbom` (root approved, targets
/// not yet); returns the image's bytes.
pub(crate) fn staged_with_sbom(r: &Release, sbom: &Path) -> Vec<u8> {
    r.init();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    let bytes = firmware(3, 3000);
    let file = r.write_file("fw-1.0.0.bin", &bytes);
    let add = r.add(
        &file,
        FW_NAME,
        "1.0.0",
        &["--json", "--sbom", Release::arg(sbom)],
    );
    add.ok();
    bytes
}

/// `fwsign client download --target-name FW_NAME --with-sbom` as an
/// update agent on hardware evc-a1, into a fresh `clients/WORK-out`.
pub(crate) fn download_with_sbom(r: &Release, work: &str) -> (fwsign_tests::Run, PathBuf) {
    r.client_download(&r.serve(), work, FW_NAME, &["--json"], &["--with-sbom"])
}

/// `fwsign --json bundle create` of `FW_NAME` into `update.zip` in the
/// scratch directory; the run and the bundle's path.
pub(crate) fn bundle_create(r: &Release) -> (fwsign_tests::Run, PathBuf) {
    let bundle = r.scratch.join("update.zip");
    let run = r.fw.run([
        "--json",
        "bundle",
        "create",
        Release::arg(&r.dir),
        "--target",
        FW_NAME,
        "--out",
        Release::arg(&bundle),
    ]);
    (run, bundle)
}

/// A repository with `FW_NAME` published with the CycloneDX SBOM
/// `cyclonedx("3.6.0")`, approved by alice and bob; returns it with the
/// image's bytes and the SBOM's.
pub(crate) fn published_with_sbom(test: &str) -> (Release, Vec<u8>, Vec<u8>) {
    let r = Release::new(test);
    let sbom = cyclonedx("3.6.0");
    let sbom_file = r.write_file("fw.cdx.json", &sbom);
    let image = staged_with_sbom(&r, &sbom_file);
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();
    (r, image, sbom)
}

/// Someone with write access to the CDN (or the repository's published
/// files) swaps the published SBOM `sbom` for another of the same length
/// ("3.6.1" for "3.6.0"), so the hash check is what must refuse it.
pub(crate) fn swap_published_sbom(r: &Release, sbom: &[u8]) {
    let published = r
        .dir
        .join("targets/board-a")
        .join(format!("{}.fw-1.0.0.bin.cdx.json", sha256_hex(sbom)));
    std::fs::remove_file(&published).unwrap();
    let swapped = cyclonedx("3.6.1");
    assert_eq!(swapped.len(), sbom.len());
    std::fs::write(&published, &swapped).unwrap();
}

fn published_targets(r: &Release) -> Value {
    let raw = std::fs::read(r.metadata("2.targets.json"))
        .or_else(|_| std::fs::read(r.metadata("1.targets.json")))
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

#[test]
fn sbom_published_approved_bundled_and_fetched_by_fwsign_and_python_tuf() {
    let r = Release::new("sbom_released");
    let sbom = cyclonedx("3.6.0");
    let sbom_file = r.write_file("fw.cdx.json", &sbom);
    let image = staged_with_sbom(&r, &sbom_file);
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();

    // The image's signed entry names the SBOM and its digest; the SBOM's
    // own entry carries no firmware fields.
    let targets = published_targets(&r);
    let fw = &targets["signed"]["targets"][FW_NAME]["custom"]["fwsign"];
    assert_eq!(fw["sbom_target"], SBOM_NAME);
    assert_eq!(fw["sbom_sha256"], sha256_hex(&sbom));
    let entry = &targets["signed"]["targets"][SBOM_NAME];
    assert_eq!(entry["hashes"]["sha256"], sha256_hex(&sbom));
    assert!(entry["custom"].get("fwsign").is_none(), "{entry}");
    assert_eq!(entry["custom"]["fwsign_sbom"]["describes"], FW_NAME);

    // fwsign's client writes both beside each other.
    let (run, out) = download_with_sbom(&r, "agent");
    run.ok();
    assert_eq!(json(&run)["downloaded"][0]["sbom"]["name"], SBOM_NAME);
    assert!(std::fs::read(out.join("board-a%2Ffw-1.0.0.bin")).unwrap() == image);
    assert!(std::fs::read(out.join("board-a%2Ffw-1.0.0.bin.cdx.json")).unwrap() == sbom);

    // python-tuf reads the same repository, SBOM target included.
    r.python_gets_published(&[(FW_NAME, &image), (SBOM_NAME, &sbom)]);

    // The bundle carries it.
    let (created, bundle) = bundle_create(&r);
    created.ok();
    let doc = json(&created);
    assert_eq!(doc["sbom"], SBOM_NAME);
    assert!(
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == &format!("targets/{SBOM_NAME}")),
        "{doc}"
    );

    // bundle verify checks it and writes it beside the image.
    let extract = r.workdir("extract");
    let verified = r.fw.run([
        "--json",
        "bundle",
        "verify",
        Release::arg(&bundle),
        "--root",
        Release::arg(&r.metadata("1.root.json")),
        "--hardware-id",
        "evc-a1",
        "--extract-to",
        Release::arg(&extract),
    ]);
    verified.ok();
    assert_eq!(json(&verified)["sbom"], SBOM_NAME);
    assert!(std::fs::read(extract.join(SBOM_NAME)).unwrap() == sbom);
    assert!(std::fs::read(extract.join(FW_NAME)).unwrap() == image);

    // identify names it beside the image.
    let image_file = r.scratch.join("files/fw-1.0.0.bin");
    r.fw.run([
        "identify",
        Release::arg(&image_file),
        "--repo",
        Release::arg(&r.dir),
    ])
    .ok()
    .stderr_has(&format!("SBOM: {SBOM_NAME}"));
}

#[test]
fn sbom_is_never_installable_as_firmware_on_a_device() {
    let (r, _, _) = published_with_sbom("sbom_not_firmware");
    let (run, out) = r.client_download(&r.serve(), "sbom-as-firmware", SBOM_NAME, &[], &[]);
    run.code(SECURITY).stderr_has("firmware fields");
    assert!(std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn sbom_swapped_after_approval_is_refused() {
    let r = Release::new("sbom_swapped");
    let sbom = cyclonedx("3.6.0");
    let sbom_file = r.write_file("fw.cdx.json", &sbom);
    staged_with_sbom(&r, &sbom_file);
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();

    // Re-staging another SBOM after the approvals changes the signed image
    // entry (its sbom_sha256): the approvals are dropped, publish refuses.
    let other = r.write_file("other.cdx.json", &cyclonedx("2.28.0"));
    let restaged = r.add(
        &r.scratch.join("files/fw-1.0.0.bin"),
        FW_NAME,
        "1.0.0",
        &["--sbom", Release::arg(&other), "--replace"],
    );
    restaged.ok();
    r.publish().code(SECURITY);
    // Approved again with the original SBOM, and published.
    r.add(
        &r.scratch.join("files/fw-1.0.0.bin"),
        FW_NAME,
        "1.0.0",
        &["--sbom", Release::arg(&sbom_file), "--replace"],
    )
    .ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();

    // Someone with write access to the CDN swaps the published SBOM.
    swap_published_sbom(&r, &sbom);
    let (run, out) = download_with_sbom(&r, "swapped");
    run.code(SECURITY).stderr_has("fw-1.0.0.bin.cdx.json");
    assert!(!out.join("board-a%2Ffw-1.0.0.bin.cdx.json").exists());
    // bundle create refuses to package it.
    bundle_create(&r)
        .0
        .code(SECURITY)
        .stderr_has("fw-1.0.0.bin.cdx.json");
}

#[test]
fn repo_add_refuses_an_invalid_sbom_naming_the_file_and_accepts_spdx() {
    let r = Release::new("sbom_invalid");
    r.init();
    let image = r.write_file("fw-1.0.0.bin", &firmware(4, 1000));
    let mut bad: Value = serde_json::from_slice(&cyclonedx("3.6.0")).unwrap();
    bad["components"][0]["type"] = json!("rocket");
    let bad_file = r.write_file("bad.cdx.json", &serde_json::to_vec(&bad).unwrap());
    r.add(
        &image,
        FW_NAME,
        "1.0.0",
        &["--sbom", Release::arg(&bad_file)],
    )
    .code(USAGE)
    .stderr_has("bad.cdx.json")
    .stderr_has("/components/0/type");
    assert!(
        !r.dir.join("staged/targets.json").exists() || {
            let staged = std::fs::read_to_string(r.dir.join("staged/targets.json")).unwrap();
            !staged.contains("fw-1.0.0.bin")
        }
    );

    // Both flags: exit 2.
    let good = r.write_file("fw.cdx.json", &cyclonedx("3.6.0"));
    let digest = sha256_hex(b"x");
    r.add(
        &image,
        FW_NAME,
        "1.0.0",
        &["--sbom", Release::arg(&good), "--sbom-sha256", &digest],
    )
    .code(USAGE)
    .stderr_has("--sbom");

    // SPDX 2.2 and 2.3 are accepted, named .spdx.json.
    for (version, name) in [("2.2", "a/fw.bin"), ("2.3", "b/fw.bin")] {
        let file = r.write_file(&format!("fw-{version}.spdx.json"), &spdx(version));
        let run = r.add(
            &image,
            name,
            "1.0.0",
            &["--json", "--sbom", Release::arg(&file)],
        );
        run.ok();
        let added = json(&run)["added"].clone();
        assert!(
            added
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["name"] == format!("{name}.spdx.json")),
            "{added}"
        );
    }
    // An SPDX version fwsign does not accept is refused by name.
    let old = r.write_file("old.spdx.json", &spdx("2.1"));
    r.add(&image, "c/fw.bin", "1.0.0", &["--sbom", Release::arg(&old)])
        .code(USAGE)
        .stderr_has("old.spdx.json")
        .stderr_has("SPDX-2.1");
}
