//! `fwsign ocpp sign`: the signature OCPP expects, checked with OpenSSL, from
//! a key file and from a key in a real PKCS#11 token (SoftHSM2); and a
//! signature OpenSSL made, checked by fwsign.

use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_tests::{Fwsign, SECURITY, USAGE};

use crate::ocpp_support::{Pki, base64_decode, check_signature_text, have_openssl, read_json};

#[test]
fn file_key_signature_verifies_with_openssl() {
    if !have_openssl() {
        return;
    }
    let pki = Pki::new("sign_file_key");
    pki.ok(&[
        "ocpp",
        "sign",
        "fw.bin",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
        "--chain",
        "inter.crt",
        "--root",
        "root.crt",
        "--out",
        "fw.sig",
    ]);
    pki.openssl_verifies_signature("fw.bin", "fw.sig", "signer.crt");
    pki.openssl_verifies_chain("root.crt", Some("inter.crt"), "signer.crt");

    // On stdout without --out: the same format, one line.
    let run = pki.ok(&[
        "ocpp",
        "sign",
        "fw.bin",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
    ]);
    check_signature_text(run.stdout.trim_end_matches('\n'));
    // With --json the signature is in the document.
    let (run, doc) = pki.json(&[
        "ocpp",
        "sign",
        "fw.bin",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
    ]);
    run.ok();
    check_signature_text(doc["signature"].as_str().unwrap());
    assert_eq!(doc["length"], 200_000);

    // A tampered file does not verify with OpenSSL either.
    let mut bytes = std::fs::read(pki.path("fw.bin")).unwrap();
    bytes[1234] ^= 0x80;
    std::fs::write(pki.path("tampered.bin"), &bytes).unwrap();
    std::fs::write(
        pki.path("fw.sig.der"),
        base64_decode(&std::fs::read_to_string(pki.path("fw.sig")).unwrap()),
    )
    .unwrap();
    pki.openssl_fails(&[
        "dgst",
        "-sha256",
        "-verify",
        "signer.crt.pub.pem",
        "-signature",
        "fw.sig.der",
        "tampered.bin",
    ]);
}

#[test]
fn only_the_certificates_p256_key_signs() {
    let pki = Pki::new("sign_refusals");
    // Ed25519: exit 2.
    pki.ok(&[
        "key",
        "generate",
        "--unencrypted",
        "--algorithm",
        "ed25519",
        "--out",
        "keys/ed.pem",
    ]);
    pki.run(&[
        "ocpp",
        "sign",
        "fw.bin",
        "--key",
        "keys/ed.pem",
        "--cert",
        "signer.crt",
        "--out",
        "ed.sig",
    ])
    .code(USAGE)
    .stderr_has("P-256");
    assert!(!pki.path("ed.sig").exists());
    // Another P-256 key than the certificate's: exit 2.
    pki.run(&[
        "ocpp",
        "sign",
        "fw.bin",
        "--key",
        "keys/root.pem",
        "--cert",
        "signer.crt",
        "--out",
        "x.sig",
    ])
    .code(USAGE)
    .stderr_has("not this certificate's key");
    // With --root, a path that does not verify signs nothing: exit 1.
    pki.run(&[
        "ocpp",
        "sign",
        "fw.bin",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
        "--root",
        "root.crt",
        "--out",
        "x.sig",
    ])
    .code(SECURITY)
    .stderr_has("unknown issuer");
    assert!(!pki.path("x.sig").exists());
    // A missing file: exit 3.
    pki.run(&[
        "ocpp",
        "sign",
        "missing.bin",
        "--key",
        "keys/signer.pem",
        "--cert",
        "signer.crt",
    ])
    .code(3)
    .stderr_has("missing.bin");
}

#[test]
fn openssl_made_signature_verifies_in_fwsign() {
    if !have_openssl() {
        return;
    }
    let pki = Pki::new("sign_openssl_peer");
    pki.update_firmware(
        "fw.bin",
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
    // Replace fwsign's signature with OpenSSL's (high S half of the time).
    for round in 0..4 {
        let out = pki.openssl(&["dgst", "-sha256", "-sign", "keys/signer.pem", "fw.bin"]);
        let sig = {
            use base64ct::{Base64, Encoding};
            Base64::encode_string(&out.stdout)
        };
        let mut request = read_json(&pki.path("request.json"));
        request["firmware"]["signature"] = sig.into();
        let name = format!("openssl-{round}.json");
        std::fs::write(
            pki.path(&name),
            serde_json::to_vec_pretty(&request).unwrap(),
        )
        .unwrap();
        let (run, doc) = pki.verify("fw.bin", &name, "root.crt", &[]);
        run.ok();
        assert_eq!(doc["status"], "SignatureVerified", "{doc}");
    }
}

const MODULE_CANDIDATES: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
];
const PIN: &str = "4321";

/// A fresh SoftHSM2 token `ocpp` in `dir/tokens`; the config file's path, or
/// `None` when SoftHSM2 is not installed and peers are not required.
fn softhsm_token(dir: &Path) -> Option<(PathBuf, &'static str)> {
    let module = MODULE_CANDIDATES
        .into_iter()
        .find(|m| Path::new(m).is_file());
    let tool = Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .is_ok();
    let Some(module) = module.filter(|_| tool) else {
        if std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("SoftHSM2 is not installed but FWSIGN_REQUIRE_PEERS=1: run scripts/test");
        }
        eprintln!("skipped: SoftHSM2 not installed");
        return None;
    };
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            "ocpp",
            "--so-pin",
            "8765",
            "--pin",
            PIN,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((conf, module))
}

#[test]
fn hsm_key_signs_certificates_and_firmware_that_openssl_verifies() {
    if !have_openssl() {
        return;
    }
    let pki = Pki::empty("sign_hsm");
    let Some((conf, module)) = softhsm_token(&pki.path("hsm")) else {
        return;
    };
    // Every fwsign run gets the token's configuration and PIN; a PKCS#11
    // module reads its configuration once per process.
    let fw = Fwsign::new(pki.scratch.path())
        .with_env("SOFTHSM2_CONF", &conf)
        .with_env("FWSIGN_PIN", PIN);
    let uri = |object: &str| {
        format!("pkcs11:token=ocpp;object={object}?module-path={module}&pin-source=env:FWSIGN_PIN")
    };
    let ok = |args: &[&str]| {
        let run = fw.run(args);
        run.ok();
        run
    };
    for (object, public) in [("root-ca", "root.pub.pem"), ("signer", "signer.pub.pem")] {
        ok(&[
            "key",
            "generate",
            "--pkcs11",
            &uri(object),
            "--pub-out",
            public,
        ]);
    }
    ok(&[
        "cert",
        "ca",
        "--key",
        &uri("root-ca"),
        "--subject",
        "CN=ACME HSM Root,O=ACME Charging,C=DE",
        "--out",
        "root.crt",
    ]);
    ok(&[
        "cert",
        "issue",
        "--ca-key",
        &uri("root-ca"),
        "--ca-cert",
        "root.crt",
        "--key",
        &uri("signer"),
        "--subject",
        "CN=ACME HSM Signing,O=ACME Charging,C=DE",
        "--out",
        "signer.crt",
    ]);
    ok(&[
        "cert",
        "csr",
        "--key",
        &uri("signer"),
        "--subject",
        "CN=ACME HSM Signing,O=ACME Charging",
        "--out",
        "signer.csr",
    ]);
    pki.openssl(&["req", "-in", "signer.csr", "-verify", "-noout"]);
    pki.openssl_verifies_chain("root.crt", None, "signer.crt");
    // The certificate holds the token's key.
    let from_cert = pki
        .openssl(&["x509", "-in", "signer.crt", "-noout", "-pubkey"])
        .stdout;
    assert_eq!(
        from_cert,
        std::fs::read(pki.path("signer.pub.pem")).unwrap()
    );

    std::fs::write(
        pki.path("fw.bin"),
        crate::release_support::firmware(9, 300_000),
    )
    .unwrap();
    ok(&[
        "ocpp",
        "sign",
        "fw.bin",
        "--key",
        &uri("signer"),
        "--cert",
        "signer.crt",
        "--root",
        "root.crt",
        "--out",
        "fw.sig",
    ]);
    pki.openssl_verifies_signature("fw.bin", "fw.sig", "signer.crt");

    // The whole CSMS request from the token, checked as the charger does.
    ok(&[
        "ocpp",
        "update-firmware",
        "fw.bin",
        "--location",
        "https://fw.example.com/fw.bin",
        "--retrieve-at",
        "2026-12-01T02:00:00Z",
        "--request-id",
        "7",
        "--key",
        &uri("signer"),
        "--cert",
        "signer.crt",
        "--ocpp",
        "1.6",
        "--out",
        "request.json",
    ]);
    let (run, doc) = pki.verify("fw.bin", "request.json", "root.crt", &[]);
    run.ok();
    assert_eq!(doc["status"], "SignatureVerified", "{doc}");
    let _ = std::fs::remove_dir_all(pki.path("hsm"));
}
