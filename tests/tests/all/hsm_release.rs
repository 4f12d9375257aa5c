//! A release signed with keys held in a real PKCS#11 token (SoftHSM2): the
//! root keys and one of two targets approvers in the token, the other
//! approver a passphrase-protected key file. The published repository must
//! verify with python-tuf.
//!
//! A PKCS#11 library reads its configuration once per process, so `fwsign`
//! runs as a child process with `SOFTHSM2_CONF` set on its command, and each
//! test has its own token directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fwsign_tests::Scratch;

use crate::peers;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn fwsign_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("fwsign");
    assert!(
        bin.exists(),
        "run `cargo build -p fwsign` first ({})",
        bin.display()
    );
    bin
}

struct Token {
    /// The token directory, removed when the test ends.
    dir: Scratch,
    conf: PathBuf,
}

/// A fresh SoftHSM2 token `release` (user PIN 1234) in its own directory,
/// or `None` when SoftHSM2 is not installed and peers are not required.
fn token(name: &str) -> Option<Token> {
    let have = Path::new(MODULE).exists()
        && Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_ok();
    if !have {
        if std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("SoftHSM2 is not installed but FWSIGN_REQUIRE_PEERS=1: run scripts/test");
        }
        eprintln!("skipped: SoftHSM2 not installed");
        return None;
    }
    let dir = Scratch::new(&format!("hsm-{name}"));
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
            "release",
            "--so-pin",
            "5678",
            "--pin",
            "1234",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Token { dir, conf })
}

impl Token {
    fn fwsign(&self, args: &[&str]) -> Output {
        Command::new(fwsign_bin())
            .current_dir(&self.dir)
            .env("SOFTHSM2_CONF", &self.conf)
            .env("FWSIGN_PIN", "1234")
            .env("APPROVER_PASS", "correct horse")
            .env_remove("FWSIGN_PASSPHRASE")
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.fwsign(args);
        assert!(
            out.status.success(),
            "fwsign {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn uri(object: &str) -> String {
    format!("pkcs11:token=release;object={object}?module-path={MODULE}&pin-source=env:FWSIGN_PIN")
}

#[test]
fn release_signed_in_the_hsm_verifies_with_python_tuf() {
    let Some(t) = token("release") else { return };
    for (object, alg) in [
        ("root-1", "ecdsa-p256"),
        ("root-2", "ed25519"),
        ("alice", "ecdsa-p256"),
        ("online", "ecdsa-p256"),
    ] {
        t.ok(&[
            "key",
            "generate",
            "--algorithm",
            alg,
            "--pkcs11",
            &uri(object),
            "--pub-out",
            &format!("{object}.pub.pem"),
        ]);
    }
    t.ok(&[
        "key",
        "generate",
        "--out",
        "bob.pem",
        "--passphrase-env",
        "APPROVER_PASS",
    ]);
    assert!(
        std::fs::read_to_string(t.dir.join("bob.pem"))
            .unwrap()
            .contains("ENCRYPTED PRIVATE KEY")
    );
    std::fs::write(t.dir.join("fw.bin"), vec![7u8; 20_000]).unwrap();
    t.ok(&[
        "repo",
        "init",
        "repo",
        "--root-key",
        "root-1.pub.pem",
        "--root-key",
        "root-2.pub.pem",
        "--root-threshold",
        "2",
        "--targets-key",
        "alice.pub.pem",
        "--targets-key",
        "bob.pub.pem",
        "--targets-threshold",
        "2",
        "--snapshot-key",
        "online.pub.pem",
        "--timestamp-key",
        "online.pub.pem",
    ]);
    t.ok(&[
        "repo",
        "add",
        "repo",
        "fw.bin",
        "--name",
        "board-a/fw-1.0.0.bin",
        "--hardware-id",
        "evc-a1",
        "--version",
        "1.0.0",
        "--security-counter",
        "1",
    ]);
    for object in ["root-1", "root-2"] {
        t.ok(&[
            "repo",
            "sign",
            "repo",
            "--role",
            "root",
            "--key",
            &uri(object),
        ]);
    }
    t.ok(&[
        "repo",
        "sign",
        "repo",
        "--role",
        "targets",
        "--key",
        &uri("alice"),
    ]);
    // One approval of two: refused.
    let refused = t.fwsign(&[
        "repo",
        "publish",
        "repo",
        "--snapshot-key",
        &uri("online"),
        "--timestamp-key",
        &uri("online"),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    // A wrong passphrase for the file key is an input error, not a refusal.
    let wrong = Command::new(fwsign_bin())
        .current_dir(&t.dir)
        .env("APPROVER_PASS", "wrong")
        .args([
            "repo",
            "sign",
            "repo",
            "--role",
            "targets",
            "--key",
            "bob.pem",
            "--passphrase-env",
            "APPROVER_PASS",
        ])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    t.ok(&[
        "repo",
        "sign",
        "repo",
        "--role",
        "targets",
        "--key",
        "bob.pem",
        "--passphrase-env",
        "APPROVER_PASS",
    ]);
    t.ok(&[
        "repo",
        "publish",
        "repo",
        "--snapshot-key",
        &uri("online"),
        "--timestamp-key",
        &uri("online"),
    ]);
    let Some(python) = peers::python() else {
        return;
    };
    let out = Command::new(python)
        .current_dir(&t.dir)
        .arg(peers::workspace_root().join("tests/tools/verify_repo.py"))
        .args([
            "repo/metadata",
            "repo/targets",
            "repo/metadata/1.root.json",
            "board-a/fw-1.0.0.bin",
            "--dir",
            "client",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python-tuf refused the HSM-signed repository: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read(t.dir.join("client/targets/board-a%2Ffw-1.0.0.bin")).unwrap();
    assert_eq!(got, vec![7u8; 20_000]);
}

#[test]
fn hsm_errors_name_what_is_wrong() {
    let Some(t) = token("errors") else { return };
    t.ok(&[
        "key",
        "generate",
        "--pkcs11",
        &uri("present"),
        "--pub-out",
        "present.pub.pem",
    ]);
    // `sign-payload` resolves its key before reading the payload, so each
    // failure below is the key's.
    let cases = [
        (
            format!("pkcs11:token=absent;object=x?module-path={MODULE}&pin-source=env:FWSIGN_PIN"),
            "not found",
            "\"release\"",
        ),
        (
            uri("absent-key"),
            "no private key",
            "keys present: \"present\"",
        ),
        (
            "pkcs11:token=release;object=x?module-path=/nonexistent/libpkcs11.so".to_owned(),
            "/nonexistent/libpkcs11.so",
            "/nonexistent/libpkcs11.so",
        ),
    ];
    for (reference, problem, listed) in cases {
        let out = t.fwsign(&[
            "sign-payload",
            "payload",
            "--key",
            &reference,
            "--out",
            "sig",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{reference}: {stderr}");
        assert!(stderr.contains(problem), "{reference}: {stderr}");
        assert!(stderr.contains(listed), "{reference}: {stderr}");
    }
    // A PIN in the URI is refused as a usage error, and never echoed.
    let out = t.fwsign(&[
        "sign-payload",
        "payload",
        "--key",
        &format!("pkcs11:token=release;object=present?module-path={MODULE}&pin-value=1234"),
        "--out",
        "sig",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("1234"));
    // Wrong PIN: exit 3, and the PIN is not echoed.
    let out = Command::new(fwsign_bin())
        .current_dir(&t.dir)
        .env("SOFTHSM2_CONF", &t.conf)
        .env("FWSIGN_PIN", "9999")
        .args([
            "key",
            "generate",
            "--pkcs11",
            &uri("other"),
            "--pub-out",
            "other.pub.pem",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("wrong PIN"), "{stderr}");
    assert!(!stderr.contains("9999"), "{stderr}");
    assert!(!t.dir.join("other.pub.pem").exists());
}

/// A payload batch of hashed bins (`repo export-payload --role 'bins-*'`)
/// signed on the offline machine with a key in the token: `sign-payload`
/// signs every entry through the one session (one PIN), and the import
/// verifies and adds them all, so the bins can be published.
#[test]
fn a_payload_batch_is_signed_with_a_key_in_the_hsm() {
    let Some(t) = token("batch") else { return };
    for object in ["root", "alice", "online", "dave"] {
        t.ok(&[
            "key",
            "generate",
            "--pkcs11",
            &uri(object),
            "--pub-out",
            &format!("{object}.pub.pem"),
        ]);
    }
    t.ok(&[
        "repo",
        "init",
        "repo",
        "--root-key",
        "root.pub.pem",
        "--root-threshold",
        "1",
        "--targets-key",
        "alice.pub.pem",
        "--targets-threshold",
        "1",
        "--snapshot-key",
        "online.pub.pem",
        "--timestamp-key",
        "online.pub.pem",
    ]);
    t.ok(&[
        "repo",
        "delegate",
        "repo",
        "--role",
        "bins",
        "--hashed-bins",
        "4",
        "--key",
        "dave.pub.pem",
        "--threshold",
        "1",
    ]);
    std::fs::write(t.dir.join("fw.bin"), vec![9u8; 4_000]).unwrap();
    t.ok(&[
        "repo",
        "add",
        "repo",
        "fw.bin",
        "--name",
        "board-a/fw-1.0.0.bin",
        "--hardware-id",
        "evc-a1",
        "--version",
        "1.0.0",
        "--security-counter",
        "1",
        "--role",
        "bins",
    ]);
    for (role, object) in [("root", "root"), ("targets", "alice")] {
        t.ok(&[
            "repo",
            "sign",
            "repo",
            "--role",
            role,
            "--key",
            &uri(object),
        ]);
    }
    t.ok(&[
        "repo",
        "export-payload",
        "repo",
        "--role",
        "bins-*",
        "--out",
        "bins.batch",
    ]);
    let signed = t.ok(&[
        "--json",
        "sign-payload",
        "bins.batch",
        "--key",
        &uri("dave"),
        "--out",
        "dave.sigs",
    ]);
    let signed: serde_json::Value = serde_json::from_str(signed.trim()).unwrap();
    assert_eq!(signed["entries"].as_array().unwrap().len(), 4, "{signed}");
    t.ok(&[
        "repo",
        "import-signature",
        "repo",
        "--pub",
        "dave.pub.pem",
        "--sig",
        "dave.sigs",
    ]);
    t.ok(&[
        "repo",
        "publish",
        "repo",
        "--snapshot-key",
        &uri("online"),
        "--timestamp-key",
        &uri("online"),
    ]);
    assert!(t.dir.join("repo/metadata/timestamp.json").exists());
}
