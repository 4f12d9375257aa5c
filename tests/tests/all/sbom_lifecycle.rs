//! The SBOM over a release's life (issue 16): `identify --sbom-out` returns
//! the SBOM approved with an image (from a repository, or through the
//! client), `repo remove` takes a firmware's SBOM with it and will not
//! orphan a firmware's reference, `repo add --sbom` into hashed bins lists
//! the SBOM in the bin its own name routes to, and tough reads both.

use std::path::{Path, PathBuf};

use fwsign_tests::{SECURITY, USAGE};
use serde_json::Value;

use crate::release_support::{FW_NAME, Release, json};
use crate::release_tough::tough_fetch;
use crate::sbom::{
    SBOM_NAME, bundle_create, cyclonedx, download_with_sbom, published_with_sbom, staged_with_sbom,
    swap_published_sbom,
};

/// The image as the release engineer kept it (`staged_with_sbom` wrote it).
fn image_file(r: &Release) -> PathBuf {
    r.scratch.join("files/fw-1.0.0.bin")
}

/// `fwsign --json identify IMAGE --repo DIR --sbom-out OUT`.
fn identify_repo_sbom(r: &Release, out: &Path) -> fwsign_tests::Run {
    r.fw.run([
        "--json",
        "identify",
        Release::arg(&image_file(r)),
        "--repo",
        Release::arg(&r.dir),
        "--sbom-out",
        Release::arg(out),
    ])
}

/// `fwsign --json identify IMAGE --metadata-url ... --sbom-out OUT`
/// through the client against `server`, plus `extra`.
fn identify_remote_sbom(
    r: &Release,
    server: &fwsign_tests::StaticServer,
    out: &Path,
    extra: &[&str],
) -> fwsign_tests::Run {
    let mut args = vec![
        "--json".to_owned(),
        "identify".to_owned(),
        Release::arg(&image_file(r)).to_owned(),
        "--metadata-url".to_owned(),
        server.url("metadata/"),
        "--root".to_owned(),
        Release::arg(&r.metadata("1.root.json")).to_owned(),
        "--sbom-out".to_owned(),
        Release::arg(out).to_owned(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    r.fw.run(args)
}

#[test]
fn identify_sbom_out_writes_the_approved_sbom_from_the_repo_and_through_the_client() {
    let (r, _, sbom) = published_with_sbom("sbom_identify_out");
    let out = r.scratch.join("from-repo.cdx.json");
    let run = identify_repo_sbom(&r, &out);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["sbom"]["name"], SBOM_NAME, "{doc}");
    assert_eq!(doc["sbom"]["describes"], FW_NAME, "{doc}");
    assert_eq!(doc["sbom"]["path"], Release::arg(&out), "{doc}");
    assert!(std::fs::read(&out).unwrap() == sbom);
    // People are told where it went; asked again, the file is replaced.
    r.fw.run([
        "identify",
        Release::arg(&image_file(&r)),
        "--repo",
        Release::arg(&r.dir),
        "--sbom-out",
        Release::arg(&out),
    ])
    .ok()
    .stderr_has(&format!(
        "SBOM {SBOM_NAME} (approved with {FW_NAME}) written to"
    ));
    assert!(std::fs::read(&out).unwrap() == sbom);

    // Through the client: the current metadata and the CDN's targets.
    let server = r.serve();
    let out = r.scratch.join("from-cdn.cdx.json");
    let targets = server.url("targets/");
    let run = identify_remote_sbom(&r, &server, &out, &["--target-base-url", &targets]);
    run.ok();
    assert_eq!(json(&run)["sbom"]["name"], SBOM_NAME);
    assert!(std::fs::read(&out).unwrap() == sbom);

    // Without a base URL there is nowhere to fetch it from: exit 2, before
    // any request.
    let missing = r.scratch.join("nowhere.cdx.json");
    identify_remote_sbom(&r, &server, &missing, &[])
        .code(USAGE)
        .stderr_has("--target-base-url");
    assert!(!missing.exists());
}

#[test]
fn identify_sbom_out_refuses_an_image_with_no_sbom_and_writes_nothing() {
    let r = Release::new("sbom_identify_none");
    r.first_release();
    let out = r.scratch.join("none.cdx.json");
    r.fw.run([
        "identify",
        Release::arg(&image_file(&r)),
        "--repo",
        Release::arg(&r.dir),
        "--sbom-out",
        Release::arg(&out),
    ])
    .code(SECURITY)
    .stderr_has("names no SBOM");
    assert!(!out.exists());
}

/// The attack: someone who can write the repository's published files (or
/// the CDN) swaps the SBOM after the approvers signed the image. Both ways
/// of asking `identify` for it refuse, write nothing, and leave a file
/// already at the path as it was.
#[test]
fn identify_sbom_out_refuses_an_sbom_swapped_after_approval_and_writes_nothing() {
    let (r, _, sbom) = published_with_sbom("sbom_identify_swapped");
    swap_published_sbom(&r, &sbom);
    let out = r.scratch.join("sbom.cdx.json");
    identify_repo_sbom(&r, &out)
        .code(SECURITY)
        .stderr_has(SBOM_NAME)
        .stderr_has("nothing written");
    assert!(!out.exists());

    std::fs::write(&out, b"kept").unwrap();
    let server = r.serve();
    let targets = server.url("targets/");
    identify_remote_sbom(&r, &server, &out, &["--target-base-url", &targets])
        .code(SECURITY)
        .stderr_has(SBOM_NAME);
    assert_eq!(std::fs::read(&out).unwrap(), b"kept");
}

/// The names `staged/ROLE.json` lists.
fn staged_names(r: &Release, role: &str) -> Vec<String> {
    let text = std::fs::read(r.dir.join(format!("staged/{role}.json"))).unwrap();
    let doc: Value = serde_json::from_slice(&text).unwrap();
    doc["signed"]["targets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn repo_remove_takes_the_firmwares_sbom_with_it_and_refuses_to_orphan_the_reference() {
    let (r, _, _) = published_with_sbom("sbom_remove");
    // The SBOM alone, while the firmware's signed fields still name it.
    r.repo("remove", &[SBOM_NAME])
        .code(USAGE)
        .stderr_has(SBOM_NAME)
        .stderr_has(FW_NAME);
    assert!(!r.dir.join("staged/targets.json").exists());

    // The firmware: its SBOM goes with it, in one staged change.
    r.repo("remove", &[FW_NAME]).ok();
    let left = staged_names(&r, "targets");
    assert!(
        !left.iter().any(|n| n == FW_NAME || n == SBOM_NAME),
        "{left:?}"
    );
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();
}

#[test]
fn tough_reads_a_repository_with_an_sbom_target() {
    let (r, image, sbom) = published_with_sbom("sbom_tough");
    let server = r.serve();
    let root = std::fs::read(r.metadata("1.root.json")).unwrap();
    assert!(tough_fetch(&server, &root, FW_NAME).unwrap() == image);
    assert!(tough_fetch(&server, &root, SBOM_NAME).unwrap() == sbom);
}

/// The bins of set `bins` whose staged role lists `name`.
fn bins_listing(r: &Release, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(r.dir.join("staged")).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        if let Some(role) = file
            .strip_prefix("bins-")
            .and_then(|f| f.strip_suffix(".json"))
            && staged_names(r, &format!("bins-{role}"))
                .iter()
                .any(|n| n == name)
        {
            found.push(format!("bins-{role}"));
        }
    }
    found
}

/// 16 hashed bins: the firmware's name and its SBOM's route to different
/// bins (bins-e and bins-8). The SBOM is listed in the bin its own name
/// routes to, as clients find it; fwsign's client, bundles and tough all
/// fetch it, and `repo remove` takes it out of its bin with the firmware.
#[test]
fn sbom_into_hashed_bins_is_listed_in_its_own_bin_and_found_by_every_reader() {
    let mut r = Release::new("sbom_hashed_bins");
    r.generate_key("dave");
    r.generate_key("erin");
    let sbom = cyclonedx("3.6.0");
    let sbom_file = r.write_file("fw.cdx.json", &sbom);
    r.init();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    let (dave, erin) = (r.public("dave"), r.public("erin"));
    r.repo(
        "delegate",
        &[
            "--role",
            "bins",
            "--hashed-bins",
            "16",
            "--key",
            Release::arg(&dave),
            "--key",
            Release::arg(&erin),
            "--threshold",
            "2",
        ],
    )
    .ok();
    let image = crate::release_support::firmware(3, 3000);
    let file = r.write_file("fw-1.0.0.bin", &image);
    r.add(
        &file,
        FW_NAME,
        "1.0.0",
        &["--role", "bins", "--sbom", Release::arg(&sbom_file)],
    )
    .ok();
    let (fw_bins, sbom_bins) = (bins_listing(&r, FW_NAME), bins_listing(&r, SBOM_NAME));
    assert_eq!(fw_bins.len(), 1, "{fw_bins:?}");
    assert_eq!(sbom_bins.len(), 1, "{sbom_bins:?}");
    assert_ne!(fw_bins, sbom_bins, "the test needs names in two bins");
    for key in ["alice", "bob"] {
        r.sign("targets", key).ok();
    }
    for key in ["dave", "erin"] {
        r.repo(
            "sign",
            &["--role", "bins-*", "--key", Release::arg(&r.key(key))],
        )
        .ok();
    }
    r.publish().ok();

    let (run, out) = download_with_sbom(&r, "agent");
    run.ok();
    assert_eq!(json(&run)["downloaded"][0]["sbom"]["role"], sbom_bins[0]);
    assert!(std::fs::read(out.join("board-a%2Ffw-1.0.0.bin.cdx.json")).unwrap() == sbom);
    let server = r.serve();
    let root = std::fs::read(r.metadata("1.root.json")).unwrap();
    assert!(tough_fetch(&server, &root, SBOM_NAME).unwrap() == sbom);
    assert!(tough_fetch(&server, &root, FW_NAME).unwrap() == image);
    let (created, _) = bundle_create(&r);
    created.ok();
    assert_eq!(json(&created)["sbom"], SBOM_NAME);

    // Removing the SBOM from its bin alone is refused; removing the
    // firmware from its bin takes the SBOM out of the other.
    r.repo("remove", &["--role", &sbom_bins[0], SBOM_NAME])
        .code(USAGE)
        .stderr_has(FW_NAME);
    r.repo("remove", &["--role", &fw_bins[0], FW_NAME]).ok();
    assert!(bins_listing(&r, FW_NAME).is_empty());
    assert!(bins_listing(&r, SBOM_NAME).is_empty());
}

#[test]
fn sbom_staged_in_a_role_is_removed_with_its_firmware_before_any_publish() {
    let r = Release::new("sbom_remove_staged");
    let sbom_file = r.write_file("fw.cdx.json", &cyclonedx("3.6.0"));
    staged_with_sbom(&r, &sbom_file);
    let copy = r
        .dir
        .join("staged/targets/targets/board-a/fw-1.0.0.bin.cdx.json");
    assert!(copy.exists());
    r.repo("remove", &[FW_NAME]).ok();
    assert!(staged_names(&r, "targets").is_empty());
    // The staged copy went too.
    assert!(!copy.exists());
}
