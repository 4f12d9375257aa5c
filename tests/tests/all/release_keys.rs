//! Key files: private keys are written 0600, never overwritten, and an
//! encrypted key signs only with its passphrase.

use fwsign_tests::{OK, USAGE};

use crate::release_support::{FW_NAME, Release, firmware, json};

#[cfg(unix)]
#[test]
fn key_generate_writes_a_0600_private_key_and_its_public_key() {
    use std::os::unix::fs::PermissionsExt;

    let r = Release::new("key_generate_files");
    let private = r.key("alice");
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key mode {mode:o}");
    let pem = std::fs::read_to_string(&private).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let public = std::fs::read_to_string(r.public("alice")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    assert!(!public.contains("PRIVATE"));
    // Both files name the same key.
    for path in [r.key("alice"), r.public("alice")] {
        let run = r.fw.run([
            "--json".as_ref(),
            "key".as_ref(),
            "show".as_ref(),
            path.as_os_str(),
        ]);
        run.ok();
        assert_eq!(json(&run)["keyid"], r.keyid("alice").as_str());
    }
    // An existing key is never overwritten.
    r.fw.run([
        "key".as_ref(),
        "generate".as_ref(),
        "--unencrypted".as_ref(),
        "--out".as_ref(),
        private.as_os_str(),
    ])
    .code(USAGE)
    .stderr_has("already exists");
    assert_eq!(std::fs::read_to_string(&private).unwrap(), pem);
    // Ed25519 too.
    let ed = r.scratch.join("keys/ed.pem");
    r.fw.run([
        "key".as_ref(),
        "generate".as_ref(),
        "--unencrypted".as_ref(),
        "--algorithm".as_ref(),
        "ed25519".as_ref(),
        "--out".as_ref(),
        ed.as_os_str(),
    ])
    .ok();
    let mode = std::fs::metadata(&ed).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(r.scratch.join("keys/ed.pub.pem").is_file());
}

#[test]
fn encrypted_key_signs_only_with_its_passphrase() {
    let mut r = Release::new("encrypted_key_passphrase");
    // Replace alice's key with an encrypted one.
    std::fs::remove_file(r.key("alice")).unwrap();
    std::fs::remove_file(r.public("alice")).unwrap();
    let keyid = r.generate_key_with(
        "alice",
        &["--passphrase-env", "ALICE_PASS"],
        &[("ALICE_PASS", "correct horse battery staple")],
    );
    let private = r.key("alice");
    let pem = std::fs::read_to_string(&private).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );
    // The passphrase is not in the file.
    assert!(!pem.contains("correct horse"));

    r.init();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    let bytes = firmware(16, 2000);
    let file = r.write_file("fw-1.0.0.bin", &bytes);
    r.add(&file, FW_NAME, "1.0.0", &[]).ok();
    let key = Release::arg(&private).to_owned();
    let sign = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["--role", "targets", "--key", key.as_str()];
        args.extend_from_slice(extra);
        r.repo_env("sign", &args, env)
    };
    // No passphrase (and no terminal to ask on).
    sign(&[], &[]).code(USAGE);
    // The wrong one.
    sign(
        &[("ALICE_PASS", "wrong")],
        &["--passphrase-env", "ALICE_PASS"],
    )
    .code(USAGE);
    sign(&[("FWSIGN_PASSPHRASE", "wrong")], &[]).code(USAGE);
    // The variable named but unset.
    sign(&[], &["--passphrase-env", "ALICE_PASS"]).code(USAGE);
    let (_, status) = r.repo_json("status", &[]);
    let targets = status["staged"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == "targets")
        .unwrap();
    assert_eq!(targets["thresholds"][0]["valid"], 0, "{status}");
    // The right one, by named variable and by the default variable.
    sign(
        &[("ALICE_PASS", "correct horse battery staple")],
        &["--passphrase-env", "ALICE_PASS"],
    )
    .code(OK);
    let run = r.fw.run_env(
        [
            "--json".as_ref(),
            "key".as_ref(),
            "show".as_ref(),
            private.as_os_str(),
            "--passphrase-env".as_ref(),
            "P".as_ref(),
        ],
        &[("P", "correct horse battery staple")],
    );
    run.ok();
    assert_eq!(json(&run)["keyid"], keyid.as_str());
    r.sign("targets", "bob").ok();
    r.publish().ok();
}
