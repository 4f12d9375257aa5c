//! `min_bootloader_version`: an image built for a newer bootloader must not
//! be installed on a device whose bootloader cannot start it (it would
//! brick the device). `fwsign client download` and `fwsign bundle verify`
//! check it through the core's `target_check::check_device`, and need the
//! device's `--bootloader-version` to do so; `repo add` refuses a minimum a
//! device could misread.

use fwsign_tests::{OK, SECURITY, USAGE};

use crate::release_support::{Release, firmware, json};

const NAME: &str = "evc-a1/fw-2.0.0.bin";

/// A published release of `NAME` that needs bootloader 2.1.0.
fn release(test: &str) -> (Release, Vec<u8>) {
    let r = Release::new(test);
    r.init();
    let bytes = firmware(7, 4000);
    let file = r.write_file("fw.bin", &bytes);
    r.add(&file, NAME, "2.0.0", &["--min-bootloader-version", "2.1.0"])
        .ok();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();
    (r, bytes)
}

/// `fwsign client download NAME` with `flags` after `download`.
fn download(r: &Release, work: &str, flags: &[&str]) -> fwsign_tests::Run {
    let server = r.serve();
    let state = r.workdir(&format!("{work}-state"));
    let out = r.workdir(&format!("{work}-out"));
    r.fw.run([
        "client",
        "--metadata-dir",
        Release::arg(&state),
        "init",
        Release::arg(&r.metadata("1.root.json")),
    ])
    .ok();
    let mut args = vec![
        "client".to_owned(),
        "--metadata-url".to_owned(),
        server.url("metadata/"),
        "--metadata-dir".to_owned(),
        Release::arg(&state).to_owned(),
        "--target-name".to_owned(),
        NAME.to_owned(),
        "--target-dir".to_owned(),
        Release::arg(&out).to_owned(),
        "--target-base-url".to_owned(),
        server.url("targets/"),
        "download".to_owned(),
    ];
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    let run = r.fw.run(args);
    let written = out.join("evc-a1%2Ffw-2.0.0.bin");
    assert_eq!(
        written.exists(),
        run.code == Some(OK),
        "an image is written exactly when the download succeeds:\n{run}"
    );
    run
}

#[test]
fn client_refuses_an_image_for_a_newer_bootloader_and_needs_the_version_to_check() {
    let (r, bytes) = release("bootloader_client");
    // No version given: refused, naming the flag that gives it.
    download(&r, "none", &["--hardware-id", "evc-a1"])
        .code(SECURITY)
        .stderr_has("min_bootloader_version")
        .stderr_has("--bootloader-version");
    download(&r, "old", &["--bootloader-version", "2.0.9"])
        .code(SECURITY)
        .stderr_has("newer bootloader");
    // A prerelease of the device's bootloader is not a version it can claim.
    download(&r, "pre", &["--bootloader-version", "2.1.0-rc1"]).code(SECURITY);
    download(&r, "equal", &["--bootloader-version", "2.1.0"]).ok();
    download(&r, "newer", &["--bootloader-version", "10.0.0"]).ok();
    let out = r.scratch.join("clients/newer-out/evc-a1%2Ffw-2.0.0.bin");
    assert!(std::fs::read(out).unwrap() == bytes);
}

#[test]
fn bundle_verify_refuses_an_image_for_a_newer_bootloader_and_needs_the_version_to_check() {
    let (r, _) = release("bootloader_bundle");
    let bundle = r.scratch.join("update.zip");
    r.fw.run([
        "bundle",
        "create",
        Release::arg(&r.dir),
        "--target",
        NAME,
        "--out",
        Release::arg(&bundle),
    ])
    .ok();
    let root = r.metadata("1.root.json");
    let verify = |flags: &[&str]| {
        let mut args = vec![
            "--json",
            "bundle",
            "verify",
            Release::arg(&bundle),
            "--root",
            Release::arg(&root),
        ];
        args.extend_from_slice(flags);
        r.fw.run(args)
    };
    verify(&[])
        .code(SECURITY)
        .stderr_has("min_bootloader_version")
        .stderr_has("--bootloader-version");
    verify(&["--bootloader-version", "1.9.0"])
        .code(SECURITY)
        .stderr_has("newer bootloader");
    verify(&["--bootloader-version", "2.1"]).code(USAGE);
    let run = verify(&["--bootloader-version", "2.1.0", "--hardware-id", "evc-a1"]);
    run.ok();
    assert_eq!(json(&run)["min_bootloader_version"], "2.1.0");
}

#[test]
fn repo_add_refuses_a_prerelease_min_bootloader_version() {
    let r = Release::new("bootloader_prerelease");
    r.init();
    let file = r.write_file("fw.bin", &firmware(8, 100));
    r.add(
        &file,
        NAME,
        "2.0.0",
        &["--min-bootloader-version", "2.0.0-rc1"],
    )
    .code(USAGE)
    .stderr_has("2.0.0-rc1")
    .stderr_has("prerelease");
    r.add(
        &file,
        NAME,
        "2.0.0",
        &["--min-bootloader-version", "2.0.0+build7"],
    )
    .code(USAGE);
    assert!(!r.dir.join("staged/targets/targets/evc-a1").exists());
    // A prerelease firmware version is fine: only the bootloader minimum is
    // compared by devices as three numbers.
    r.add(
        &file,
        NAME,
        "2.0.0-rc1",
        &["--min-bootloader-version", "2.0.0"],
    )
    .ok();
}
