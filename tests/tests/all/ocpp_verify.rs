//! `fwsign ocpp verify`: what the charger reports for each way a signed
//! firmware update can be wrong, and an fwsign bundle carrying both the TUF
//! approval and the OCPP signature.

use fwsign_tests::{SECURITY, USAGE};
use serde_json::Value;

use crate::ocpp_support::{Pki, have_openssl, read_json};
use crate::release_support::{FW_NAME, Release};

const GOOD_USAGE: &str = "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = codeSigning";

/// Asserts a refusal: exit 1, the OCPP status and security event, and
/// `reason` mentioning `why`.
#[track_caller]
fn assert_refused(pki: &Pki, file: &str, request: &str, status: &str, event: &str, why: &str) {
    let (run, doc) = pki.verify(file, request, "root.crt", &[]);
    run.code(SECURITY).stderr_has(status).stderr_has(event);
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["status"], status, "{doc}");
    assert_eq!(doc["security_event"], event, "{doc}");
    assert!(
        doc["reason"].as_str().unwrap().contains(why),
        "expected {why:?} in {doc}"
    );
}

/// `request.json` with `firmware.FIELD` replaced (or removed with `None`).
fn edited(pki: &Pki, name: &str, field: &str, value: Option<Value>) {
    let mut request = read_json(&pki.path("request.json"));
    let firmware = request["firmware"].as_object_mut().unwrap();
    match value {
        Some(v) => firmware.insert(field.to_owned(), v),
        None => firmware.remove(field),
    };
    std::fs::write(pki.path(name), request.to_string()).unwrap();
}

#[test]
fn charger_reports_the_status_for_each_refusal() {
    if !have_openssl() {
        return;
    }
    let pki = Pki::new("verify_statuses");
    let sign = |cert: &str, out: &str, chain: &[&str]| {
        let mut args = vec!["--key", "keys/signer.pem", "--cert", cert];
        for c in chain {
            args.extend(["--chain", c]);
        }
        pki.update_firmware("fw.bin", out, &args).ok();
    };
    sign("signer.crt", "request.json", &["inter.crt"]);

    // The good one: SignatureVerified, exit 0, no event.
    let (run, doc) = pki.verify("fw.bin", "request.json", "root.crt", &[]);
    run.ok();
    assert_eq!(doc["status"], "SignatureVerified", "{doc}");
    assert_eq!(doc["security_event"], Value::Null);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["chain"]["path"].as_array().unwrap().len(), 3);
    // As an OCPP-J CALL too.
    let call = format!(
        "[2, \"19223201\", \"UpdateFirmware\", {}]",
        std::fs::read_to_string(pki.path("request.json")).unwrap()
    );
    std::fs::write(pki.path("call.json"), call).unwrap();
    pki.verify("fw.bin", "call.json", "root.crt", &[]).0.ok();

    // A tampered file: InvalidSignature.
    let mut bytes = std::fs::read(pki.path("fw.bin")).unwrap();
    bytes[100_000] ^= 0x01;
    std::fs::write(pki.path("tampered.bin"), &bytes).unwrap();
    assert_refused(
        &pki,
        "tampered.bin",
        "request.json",
        "InvalidSignature",
        "InvalidFirmwareSignature",
        "does not verify",
    );

    // A certificate without the codeSigning usage: InvalidCertificate.
    pki.openssl_cert(
        "nocs",
        "No Code Signing",
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth",
        Some(("root.crt", "keys/root.pem")),
    );
    let warned = pki.update_firmware(
        "fw.bin",
        "nocs.json",
        &["--key", "keys/signer.pem", "--cert", "nocs.crt"],
    );
    warned.ok().stderr_has("warning").stderr_has("codeSigning");
    assert_refused(
        &pki,
        "fw.bin",
        "nocs.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "codeSigning",
    );

    // An expired certificate.
    pki.ok(&[
        "cert",
        "issue",
        "--ca-key",
        "keys/root.pem",
        "--ca-cert",
        "root.crt",
        "--pub",
        "keys/signer.pub.pem",
        "--subject",
        "CN=Expired Signer",
        "--not-before",
        "2020-01-01T00:00:00Z",
        "--days",
        "365",
        "--out",
        "expired.crt",
    ]);
    sign("expired.crt", "expired.json", &[]);
    assert_refused(
        &pki,
        "fw.bin",
        "expired.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "expired",
    );

    // A certificate from another manufacturer's root.
    pki.key("other");
    pki.ok(&[
        "cert",
        "ca",
        "--key",
        "keys/other.pem",
        "--subject",
        "CN=Other Root,O=Other",
        "--out",
        "other-root.crt",
    ]);
    pki.ok(&[
        "cert",
        "issue",
        "--ca-key",
        "keys/other.pem",
        "--ca-cert",
        "other-root.crt",
        "--pub",
        "keys/signer.pub.pem",
        "--subject",
        "CN=Other Signer",
        "--out",
        "other.crt",
    ]);
    sign("other.crt", "other.json", &[]);
    pki.verify("fw.bin", "other.json", "other-root.crt", &[])
        .0
        .ok();
    assert_refused(
        &pki,
        "fw.bin",
        "other.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "unknown issuer",
    );
    // The same root name with another key is still another root.
    pki.ok(&[
        "cert",
        "ca",
        "--key",
        "keys/other.pem",
        "--subject",
        "CN=ACME Firmware Root CA,O=ACME Charging,C=DE",
        "--out",
        "lookalike-root.crt",
    ]);
    pki.ok(&[
        "cert",
        "issue",
        "--ca-key",
        "keys/other.pem",
        "--ca-cert",
        "lookalike-root.crt",
        "--pub",
        "keys/signer.pub.pem",
        "--subject",
        "CN=Lookalike Signer",
        "--out",
        "lookalike.crt",
    ]);
    sign("lookalike.crt", "lookalike.json", &[]);
    assert_refused(
        &pki,
        "fw.bin",
        "lookalike.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "unknown issuer",
    );

    // A self-signed signing certificate.
    pki.openssl_cert("selfsigned", "Self Signed Signer", GOOD_USAGE, None);
    sign("selfsigned.crt", "selfsigned.json", &[]);
    assert_refused(
        &pki,
        "fw.bin",
        "selfsigned.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "self-signed",
    );

    // The intermediate left out of the request.
    sign("signer.crt", "no-chain.json", &[]);
    assert_refused(
        &pki,
        "fw.bin",
        "no-chain.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "unknown issuer",
    );

    // Missing and malformed fields.
    edited(&pki, "no-cert.json", "signingCertificate", None);
    assert_refused(
        &pki,
        "fw.bin",
        "no-cert.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "no signingCertificate",
    );
    edited(
        &pki,
        "garbage-cert.json",
        "signingCertificate",
        Some("hello".into()),
    );
    assert_refused(
        &pki,
        "fw.bin",
        "garbage-cert.json",
        "InvalidCertificate",
        "InvalidFirmwareSigningCertificate",
        "signingCertificate",
    );
    edited(&pki, "no-sig.json", "signature", None);
    assert_refused(
        &pki,
        "fw.bin",
        "no-sig.json",
        "InvalidSignature",
        "InvalidFirmwareSignature",
        "no signature",
    );
    // A raw r||s signature (what some tools emit) is refused as such.
    let request = read_json(&pki.path("request.json"));
    let der =
        crate::ocpp_support::base64_decode(request["firmware"]["signature"].as_str().unwrap());
    let raw = raw_r_s(&der);
    let raw_b64 = {
        use base64ct::{Base64, Encoding};
        Base64::encode_string(&raw)
    };
    edited(&pki, "raw.json", "signature", Some(raw_b64.into()));
    assert_refused(
        &pki,
        "fw.bin",
        "raw.json",
        "InvalidSignature",
        "InvalidFirmwareSignature",
        "r||s",
    );

    // --at: the good request years later.
    let (run, doc) = pki.verify(
        "fw.bin",
        "request.json",
        "root.crt",
        &["--at", "2031-01-01T00:00:00Z"],
    );
    run.code(SECURITY);
    assert_eq!(doc["status"], "InvalidCertificate");
    // Not a request at all: a usage error, no status.
    pki.run(&[
        "ocpp",
        "verify",
        "fw.bin",
        "--request",
        "fw.bin",
        "--root",
        "root.crt",
    ])
    .code(USAGE);
}

/// DER ECDSA-Sig-Value -> the 64-byte r || s.
fn raw_r_s(der: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 2;
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        let int = &der[i + 2..i + 2 + len];
        let int = if int.len() == 33 { &int[1..] } else { int };
        out.extend(std::iter::repeat_n(0, 32 - int.len()));
        out.extend_from_slice(int);
        i += 2 + len;
    }
    assert_eq!(out.len(), 64);
    out
}

#[test]
fn bundle_carries_the_tuf_approval_and_the_ocpp_signature() {
    // The release: a TUF repository approved 2 of 3, and its bundle.
    let release = Release::new("ocpp_bundle_release");
    release.first_release();
    let bundle = release.scratch.join("update.zip");
    release
        .fw
        .run([
            "bundle".as_ref(),
            "create".as_ref(),
            release.dir.as_os_str(),
            "--target".as_ref(),
            FW_NAME.as_ref(),
            "--out".as_ref(),
            bundle.as_os_str(),
        ])
        .ok();

    // The OCPP layer over the very same file.
    let pki = Pki::new("verify_bundle");
    std::fs::copy(&bundle, pki.path("update.zip")).unwrap();
    std::fs::copy(release.metadata("1.root.json"), pki.path("1.root.json")).unwrap();
    pki.ok(&[
        "ocpp",
        "sign",
        "update.zip",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
        "--out",
        "update.zip.sig",
    ]);
    if have_openssl() {
        pki.openssl_verifies_signature("update.zip", "update.zip.sig", "signer.crt");
    }
    pki.update_firmware(
        "update.zip",
        "request.json",
        &[
            "--key",
            "keys/signer.pem",
            "--cert",
            "signer.crt",
            "--chain",
            "inter.crt",
        ],
    )
    .ok();

    // Both layers, as the charger checks them.
    let (run, doc) = pki.verify(
        "update.zip",
        "request.json",
        "root.crt",
        &["--tuf-root", "1.root.json"],
    );
    run.ok();
    assert_eq!(doc["status"], "SignatureVerified", "{doc}");
    assert_eq!(doc["tuf"]["ok"], true, "{doc}");
    assert_eq!(doc["tuf"]["target"], FW_NAME);
    assert_eq!(doc["tuf"]["version"], "1.0.0");
    // Without the TUF root, the OCPP layer alone, and a warning.
    let (run, doc) = pki.verify("update.zip", "request.json", "root.crt", &[]);
    run.ok().stderr_has("TUF approval was not checked");
    assert_eq!(doc["tuf"]["checked"], false);

    // A tampered bundle fails both layers.
    let mut bytes = std::fs::read(pki.path("update.zip")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(pki.path("tampered.zip"), &bytes).unwrap();
    let (run, doc) = pki.verify(
        "tampered.zip",
        "request.json",
        "root.crt",
        &["--tuf-root", "1.root.json"],
    );
    run.code(SECURITY).stderr_has("TUF approval");
    assert_eq!(doc["status"], "InvalidSignature", "{doc}");
    assert_eq!(doc["tuf"]["ok"], false, "{doc}");

    // A plain file is not a bundle: the TUF layer cannot be checked.
    pki.update_firmware(
        "fw.bin",
        "fw.json",
        &[
            "--key",
            "keys/signer.pem",
            "--cert",
            "signer.crt",
            "--chain",
            "inter.crt",
        ],
    )
    .ok();
    let (run, doc) = pki.verify(
        "fw.bin",
        "fw.json",
        "root.crt",
        &["--tuf-root", "1.root.json"],
    );
    run.code(USAGE);
    assert_eq!(doc["status"], "SignatureVerified", "{doc}");
    assert_eq!(doc["tuf"]["ok"], false, "{doc}");
}
