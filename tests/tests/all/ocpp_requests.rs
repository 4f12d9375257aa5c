//! `fwsign ocpp update-firmware`: requests that the official OCPP JSON
//! schemas (from the PyPI package `ocpp`) accept, checked with `jsonschema`
//! and its date-time format check, and field limits enforced before anything
//! is written.

use crate::ocpp_support::{Pki, SCHEMA_V16, SCHEMA_V201, check_signature_text, read_json};
use fwsign_tests::USAGE;

const SIGN: [&str; 6] = [
    "--key",
    "keys/signer.pem",
    "--cert",
    "signer.crt",
    "--chain",
    "inter.crt",
];

fn with_sign<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args: Vec<&str> = SIGN.to_vec();
    args.extend_from_slice(extra);
    args
}

#[test]
fn requests_validate_against_the_official_ocpp_schemas() {
    let pki = Pki::new("requests_schema");
    let max_location = format!("https://fw.example.com/{}", "a".repeat(512 - 23));
    assert_eq!(max_location.chars().count(), 512);
    let full = [
        "--install-at",
        "2026-12-01T03:30:00.250+01:00",
        "--retries",
        "3",
        "--retry-interval",
        "120",
    ];
    pki.update_firmware("fw.bin", "v201-min.json", &SIGN).ok();
    let mut args = with_sign(&full);
    args.extend([
        "--custom-data",
        r#"{"vendorId": "com.acme.charging", "rollout": "wave-1"}"#,
    ]);
    pki.update_firmware("fw.bin", "v201-full.json", &args).ok();
    let mut args = with_sign(&["--ocpp", "1.6"]);
    pki.update_firmware("fw.bin", "v16-min.json", &args).ok();
    args.extend(full);
    pki.update_firmware("fw.bin", "v16-full.json", &args).ok();
    pki.run(&[
        "ocpp",
        "update-firmware",
        "fw.bin",
        "--location",
        &max_location,
        "--retrieve-at",
        "2026-12-01T02:00:00Z",
        "--request-id",
        "0",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
        "--out",
        "v201-max-location.json",
    ])
    .ok();

    // What fwsign wrote.
    let full = read_json(&pki.path("v201-full.json"));
    assert_eq!(full["requestId"], 42);
    assert_eq!(full["retries"], 3);
    assert_eq!(full["retryInterval"], 120);
    assert_eq!(full["customData"]["vendorId"], "com.acme.charging");
    let firmware = &full["firmware"];
    assert_eq!(
        firmware["location"],
        "https://firmware.example.com/acme/evc-a1/fw-1.0.0.bin"
    );
    // Times are written as given.
    assert_eq!(firmware["retrieveDateTime"], "2026-12-01T02:00:00Z");
    assert_eq!(firmware["installDateTime"], "2026-12-01T03:30:00.250+01:00");
    // Signing certificate first, then the intermediate, as PEM.
    let leaf = std::fs::read_to_string(pki.path("signer.crt")).unwrap();
    let inter = std::fs::read_to_string(pki.path("inter.crt")).unwrap();
    assert_eq!(
        firmware["signingCertificate"],
        format!("{leaf}{inter}").as_str()
    );
    check_signature_text(firmware["signature"].as_str().unwrap());
    let v16 = read_json(&pki.path("v16-full.json"));
    assert!(v16.get("customData").is_none());
    assert_eq!(
        v16["firmware"]["signingCertificate"],
        firmware["signingCertificate"]
    );

    // The official schemas accept them (formats checked).
    let Some(result) = pki.schema_check(
        SCHEMA_V201,
        &["v201-min.json", "v201-full.json", "v201-max-location.json"],
    ) else {
        return;
    };
    result.unwrap();
    pki.schema_check(SCHEMA_V16, &["v16-min.json", "v16-full.json"])
        .unwrap()
        .unwrap();

    // The validator is not vacuous: customData is not 1.6, one character
    // more in location is not 2.0.1, a bad date is not either.
    let refused = pki
        .schema_check(SCHEMA_V16, &["v201-full.json"])
        .unwrap()
        .unwrap_err();
    assert!(refused.contains("customData"), "{refused}");
    let mut long = read_json(&pki.path("v201-max-location.json"));
    long["firmware"]["location"] = format!("{max_location}a").into();
    std::fs::write(pki.path("long.json"), long.to_string()).unwrap();
    let mut bad_date = read_json(&pki.path("v201-min.json"));
    bad_date["firmware"]["retrieveDateTime"] = "2026-02-30T02:00:00Z".into();
    std::fs::write(pki.path("bad-date.json"), bad_date.to_string()).unwrap();
    for (file, what) in [("long.json", "[maxLength]"), ("bad-date.json", "[format]")] {
        let refused = pki.schema_check(SCHEMA_V201, &[file]).unwrap().unwrap_err();
        assert!(refused.contains(what), "{refused}");
    }

    // --json carries the payload too, and the charger accepts it.
    let (run, doc) = pki.json(&[
        "ocpp",
        "update-firmware",
        "fw.bin",
        "--location",
        "https://x.example/fw.bin",
        "--retrieve-at",
        "2026-12-01T02:00:00Z",
        "--request-id",
        "-5",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
    ]);
    run.ok();
    assert_eq!(doc["request"]["requestId"], -5);
    assert_eq!(doc["action"], "UpdateFirmware");
}

#[test]
fn one_past_each_field_limit_is_refused_before_writing() {
    let pki = Pki::new("requests_limits");
    pki.update_firmware("fw.bin", "request.json", &SIGN).ok();
    let good = std::fs::read(pki.path("request.json")).unwrap();
    let refused = |args: &[&str], what: &str| {
        for out in ["request.json", "new.json"] {
            let mut all = vec![
                "ocpp",
                "update-firmware",
                "fw.bin",
                "--retrieve-at",
                "2026-12-01T02:00:00Z",
                "--request-id",
                "1",
                "--out",
                out,
            ];
            all.extend_from_slice(args);
            pki.run(&all).code(USAGE).stderr_has(what);
        }
        // Nothing written, nothing replaced.
        assert!(!pki.path("new.json").exists(), "{what}");
        assert_eq!(
            std::fs::read(pki.path("request.json")).unwrap(),
            good,
            "{what}"
        );
    };

    // firmware.location: 513 characters (512 passes in the schema test).
    let location = format!("https://fw.example.com/{}", "a".repeat(513 - 23));
    let mut args = vec!["--location", location.as_str()];
    args.extend(SIGN);
    refused(&args, "firmware.location: 513 characters");

    // firmware.signingCertificate: enough intermediates to pass 5,500.
    let leaf = std::fs::metadata(pki.path("signer.crt")).unwrap().len() as usize;
    let inter = std::fs::metadata(pki.path("inter.crt")).unwrap().len() as usize;
    let copies = (5_501 - leaf).div_ceil(inter);
    let mut args = vec![
        "--location",
        "https://fw.example.com/fw.bin",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
    ];
    for _ in 0..copies {
        args.extend(["--chain", "inter.crt"]);
    }
    refused(&args, "firmware.signingCertificate");
    // One fewer fits (and the charger still accepts the repeated chain).
    if leaf + (copies - 1) * inter <= 5_500 {
        let mut fits = args.clone();
        fits.truncate(fits.len() - 2);
        let mut all = vec![
            "ocpp",
            "update-firmware",
            "fw.bin",
            "--retrieve-at",
            "2026-12-01T02:00:00Z",
            "--request-id",
            "1",
            "--out",
            "fits.json",
        ];
        all.extend_from_slice(&fits);
        pki.run(&all).ok();
    }
    // firmware.signature cannot pass 800 from fwsign: a P-256 DER signature
    // is at most 96 Base64 characters (the library's limit is unit-tested).

    // customData.vendorId: 256 characters (255 passes).
    let vendor = |n: usize| format!(r#"{{"vendorId": "{}"}}"#, "v".repeat(n));
    let (ok_vendor, long_vendor) = (vendor(255), vendor(256));
    let mut args = vec![
        "--location",
        "https://fw.example.com/fw.bin",
        "--custom-data",
    ];
    args.push(&long_vendor);
    args.extend(SIGN);
    refused(&args, "customData.vendorId: 256 characters");
    args[3] = &ok_vendor;
    let mut all = vec![
        "ocpp",
        "update-firmware",
        "fw.bin",
        "--retrieve-at",
        "2026-12-01T02:00:00Z",
        "--request-id",
        "1",
        "--out",
        "vendor.json",
    ];
    all.extend_from_slice(&args);
    pki.run(&all).ok();

    // customData in 1.6, a missing vendorId, bad times, negative retries.
    let base = ["--location", "https://fw.example.com/fw.bin"];
    let cases: [(&[&str], &str); 6] = [
        (
            &["--ocpp", "1.6", "--custom-data", r#"{"vendorId": "x"}"#],
            "customData",
        ),
        (&["--custom-data", r#"{"vendor": "x"}"#], "vendorId"),
        (&["--custom-data", "[1]"], "--custom-data"),
        (
            &["--install-at", "2026-02-30T00:00:00Z"],
            "firmware.installDateTime",
        ),
        (&["--install-at", "2026-12-01 03:00:00"], "RFC 3339"),
        (&["--retries", "-1"], "retries"),
    ];
    for (extra, what) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        args.extend(SIGN);
        refused(&args, what);
    }
    let mut args: Vec<&str> = vec!["--location", "https://fw.example.com/with space"];
    args.extend(SIGN);
    refused(&args, "firmware.location");

    // And a refused retrieve time on its own.
    pki.run(&[
        "ocpp",
        "update-firmware",
        "fw.bin",
        "--location",
        "https://fw.example.com/fw.bin",
        "--retrieve-at",
        "2026-12-01T02:00:00",
        "--request-id",
        "1",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
        "--out",
        "new.json",
    ])
    .code(USAGE)
    .stderr_has("firmware.retrieveDateTime");
    assert!(!pki.path("new.json").exists());
}
