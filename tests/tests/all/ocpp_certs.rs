//! `fwsign cert`: the certificates OpenSSL accepts, and each path failure
//! `fwsign cert verify` names.

use fwsign_tests::{SECURITY, USAGE};

use crate::ocpp_support::{Pki, have_openssl};

#[test]
fn root_intermediate_and_signer_have_the_profile_and_openssl_accepts_the_path() {
    if !have_openssl() {
        return;
    }
    let pki = Pki::new("cert_profile");
    let root = pki.x509_text("root.crt");
    assert!(root.contains("Basic Constraints: critical"), "{root}");
    assert!(root.contains("CA:TRUE"), "{root}");
    assert!(root.contains("Key Usage: critical"), "{root}");
    assert!(root.contains("Certificate Sign, CRL Sign"), "{root}");
    assert!(
        root.contains("ecdsa-with-SHA256") && root.contains("P-256"),
        "{root}"
    );
    assert!(
        root.contains("Issuer: C = DE, O = ACME Charging, CN = ACME Firmware Root CA"),
        "{root}"
    );

    let inter = pki.x509_text("inter.crt");
    assert!(inter.contains("CA:TRUE, pathlen:0"), "{inter}");

    let signer = pki.x509_text("signer.crt");
    assert!(signer.contains("Basic Constraints: critical"), "{signer}");
    assert!(signer.contains("CA:FALSE"), "{signer}");
    assert!(signer.contains("Key Usage: critical"), "{signer}");
    assert!(signer.contains("Digital Signature"), "{signer}");
    assert!(signer.contains("Extended Key Usage"), "{signer}");
    assert!(signer.contains("Code Signing"), "{signer}");
    assert!(signer.contains("NIST CURVE: P-256"), "{signer}");
    assert!(!signer.contains("Certificate Sign"), "{signer}");

    pki.openssl_verifies_chain("root.crt", None, "inter.crt");
    pki.openssl_verifies_chain("root.crt", Some("inter.crt"), "signer.crt");
    // And OpenSSL's own check of the root's self-signature.
    pki.openssl(&["verify", "-check_ss_sig", "-CAfile", "root.crt", "root.crt"]);

    let (run, doc) = pki.json(&[
        "cert",
        "verify",
        "--root",
        "root.crt",
        "signer.crt",
        "inter.crt",
    ]);
    run.ok();
    let path = doc["chain"]["path"].as_array().unwrap();
    assert_eq!(path.len(), 3, "{doc}");
    assert_eq!(
        path[0]["subject"],
        "CN=ACME Firmware Signing 2026,O=ACME Charging,C=DE"
    );

    // Validity: 2 years by default for the signer, refused outside 1 to 3.
    for days in ["364", "1097"] {
        pki.run(&[
            "cert",
            "issue",
            "--ca-key",
            "keys/root.pem",
            "--ca-cert",
            "root.crt",
            "--pub",
            "keys/signer.pub.pem",
            "--subject",
            "CN=x",
            "--days",
            days,
            "--out",
            "x.crt",
        ])
        .code(USAGE)
        .stderr_has("365 to 1096 days");
    }
    assert!(!pki.path("x.crt").exists());
    // A certificate is never overwritten.
    pki.run(&[
        "cert",
        "ca",
        "--key",
        "keys/root.pem",
        "--subject",
        "CN=Again",
        "--out",
        "root.crt",
    ])
    .code(USAGE)
    .stderr_has("already exists");
    // An Ed25519 key cannot make a certificate.
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
        "cert",
        "ca",
        "--key",
        "keys/ed.pem",
        "--subject",
        "CN=Ed",
        "--out",
        "ed.crt",
    ])
    .code(USAGE)
    .stderr_has("ECDSA P-256");
    // The wrong CA key.
    pki.run(&[
        "cert",
        "issue",
        "--ca-key",
        "keys/signer.pem",
        "--ca-cert",
        "root.crt",
        "--pub",
        "keys/signer.pub.pem",
        "--subject",
        "CN=x",
        "--out",
        "x.crt",
    ])
    .code(USAGE)
    .stderr_has("not this certificate's key");
}

#[test]
fn csr_is_a_valid_pkcs10_request_for_code_signing() {
    if !have_openssl() {
        return;
    }
    let pki = Pki::empty("cert_csr");
    pki.key("signer");
    pki.ok(&[
        "cert",
        "csr",
        "--key",
        "keys/signer.pem",
        "--subject",
        "CN=ACME Firmware Signing 2027,O=ACME Charging,C=DE",
        "--out",
        "signer.csr",
    ]);
    let out = pki.openssl(&["req", "-in", "signer.csr", "-verify", "-noout", "-text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let all = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        all.contains("verify OK") || all.contains("Certificate request self-signature verify OK"),
        "{all}"
    );
    assert!(text.contains("CN = ACME Firmware Signing 2027"), "{text}");
    assert!(text.contains("Code Signing"), "{text}");
    assert!(text.contains("Digital Signature"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    // The request's key is the key's.
    let from_csr = pki.openssl(&["req", "-in", "signer.csr", "-noout", "-pubkey"]);
    let public = std::fs::read(pki.path("keys/signer.pub.pem")).unwrap();
    assert_eq!(from_csr.stdout, public);
}

#[test]
fn cert_verify_names_each_failure() {
    if !have_openssl() {
        return;
    }
    let pki = Pki::new("cert_failures");
    let verify = |signer: &str, extra: &[&str]| {
        let mut args = vec!["cert", "verify", "--root", "root.crt", signer];
        args.extend_from_slice(extra);
        pki.run(&args)
    };
    verify("signer.crt", &["inter.crt"]).ok();

    // Expired: issued in 2020 for a year.
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
    verify("expired.crt", &[])
        .code(SECURITY)
        .stderr_has("expired at 2020-12-31T00:00:00Z");
    // Not yet valid, and later expired, checked --at.
    verify("signer.crt", &["inter.crt", "--at", "2000-01-01T00:00:00Z"])
        .code(SECURITY)
        .stderr_has("not valid before");
    verify("signer.crt", &["inter.crt", "--at", "2099-01-01T00:00:00Z"])
        .code(SECURITY)
        .stderr_has("expired at");
    // The intermediate is missing: unknown issuer.
    verify("signer.crt", &[])
        .code(SECURITY)
        .stderr_has("unknown issuer");
    // Another manufacturer's root.
    pki.key("other");
    pki.ok(&[
        "cert",
        "ca",
        "--key",
        "keys/other.pem",
        "--subject",
        "CN=Other Root",
        "--out",
        "other.crt",
    ]);
    pki.run(&[
        "cert",
        "verify",
        "--root",
        "other.crt",
        "signer.crt",
        "inter.crt",
    ])
    .code(SECURITY)
    .stderr_has("unknown issuer");
    // Without the codeSigning usage (OpenSSL's `-purpose any` would accept it).
    pki.openssl_cert(
        "nocs",
        "No Code Signing",
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth",
        Some(("root.crt", "keys/root.pem")),
    );
    pki.openssl_verifies_chain("root.crt", None, "nocs.crt");
    verify("nocs.crt", &[])
        .code(SECURITY)
        .stderr_has("wrong usage")
        .stderr_has("codeSigning");
    // Without digitalSignature.
    pki.openssl_cert(
        "nods",
        "No Digital Signature",
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,keyEncipherment\nextendedKeyUsage = codeSigning",
        Some(("root.crt", "keys/root.pem")),
    );
    verify("nods.crt", &[])
        .code(SECURITY)
        .stderr_has("digitalSignature");
    // Self-signed, with every usage right.
    pki.openssl_cert(
        "selfsigned",
        "Self Signed Signer",
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = codeSigning",
        None,
    );
    verify("selfsigned.crt", &[])
        .code(SECURITY)
        .stderr_has("self-signed");
    // Issued by a signing certificate, which is not a CA.
    pki.openssl_cert(
        "undersigner",
        "Under The Signer",
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = codeSigning",
        Some(("signer.crt", "keys/signer.pem")),
    );
    verify("undersigner.crt", &["signer.crt", "inter.crt"])
        .code(SECURITY)
        .stderr_has("is not a CA");
    // A CA as the signing certificate.
    verify("inter.crt", &[])
        .code(SECURITY)
        .stderr_has("wrong usage");
    // A tampered signature.
    let mut der = pki
        .openssl(&["x509", "-in", "signer.crt", "-outform", "DER"])
        .stdout;
    let at = der.len() - 5;
    der[at] ^= 0x01;
    std::fs::write(pki.path("tampered.der"), &der).unwrap();
    pki.openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        "tampered.der",
        "-out",
        "tampered.crt",
    ]);
    pki.openssl_fails(&[
        "verify",
        "-CAfile",
        "root.crt",
        "-untrusted",
        "inter.crt",
        "tampered.crt",
    ]);
    verify("tampered.crt", &["inter.crt"])
        .code(SECURITY)
        .stderr_has("bad signature");
    // Not a certificate at all: a usage error.
    verify("keys/signer.pem", &[])
        .code(USAGE)
        .stderr_has("PRIVATE KEY");
}
