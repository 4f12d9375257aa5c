//! The OCPP tests' fixture: a manufacturer PKI made with `fwsign cert`, a
//! firmware file, and the peers that judge fwsign's output: the `openssl`
//! command line (signatures, certificate paths, requests) and the official
//! OCPP JSON schemas from the PyPI package `ocpp`, checked with `jsonschema`
//! in the test venv.

use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_tests::{Fwsign, Run, Scratch};
use serde_json::Value;

use crate::peers;
use crate::release_support::firmware;

/// The 2.0.1 request schema inside the `ocpp` package.
pub(crate) const SCHEMA_V201: &str = "v201/schemas/UpdateFirmwareRequest.json";
/// The 1.6 security extension request schema inside the `ocpp` package.
pub(crate) const SCHEMA_V16: &str = "v16/schemas/SignedUpdateFirmware.json";

/// Whether a peer may be missing (it may not with FWSIGN_REQUIRE_PEERS=1).
fn skip(what: &str) -> bool {
    if std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{what} is not available but FWSIGN_REQUIRE_PEERS=1: run scripts/test");
    }
    eprintln!("skipped: {what} is not available");
    true
}

/// Whether the `openssl` command is here; says so when a test skips.
pub(crate) fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok || !skip("the openssl command")
}

/// One test's manufacturer PKI, built with `fwsign` in a scratch directory:
///
/// - `keys/{root,inter,signer}.pem` (P-256 key files);
/// - `root.crt`: the manufacturer root;
/// - `inter.crt`: an intermediate CA under it;
/// - `signer.crt`: a firmware-signing certificate under the intermediate;
/// - `fw.bin`: 200 kB of firmware.
pub(crate) struct Pki {
    /// The scratch directory; every path below is relative to it.
    pub scratch: Scratch,
    /// Runs `fwsign` in it.
    pub fw: Fwsign,
}

impl Pki {
    /// The keys, certificates and firmware above.
    pub(crate) fn new(test: &str) -> Self {
        let pki = Self::empty(test);
        for name in ["root", "inter", "signer"] {
            pki.key(name);
        }
        pki.ok(&[
            "cert",
            "ca",
            "--key",
            "keys/root.pem",
            "--subject",
            "CN=ACME Firmware Root CA,O=ACME Charging,C=DE",
            "--out",
            "root.crt",
        ]);
        pki.ok(&[
            "cert",
            "issue",
            "--ca-key",
            "keys/root.pem",
            "--ca-cert",
            "root.crt",
            "--key",
            "keys/inter.pem",
            "--subject",
            "CN=ACME Firmware CA 1,O=ACME Charging,C=DE",
            "--intermediate",
            "--out",
            "inter.crt",
        ]);
        pki.ok(&[
            "cert",
            "issue",
            "--ca-key",
            "keys/inter.pem",
            "--ca-cert",
            "inter.crt",
            "--pub",
            "keys/signer.pub.pem",
            "--subject",
            "CN=ACME Firmware Signing 2026,O=ACME Charging,C=DE",
            "--out",
            "signer.crt",
        ]);
        std::fs::write(pki.path("fw.bin"), firmware(7, 200_000)).unwrap();
        pki
    }

    /// Just the scratch directory and its `keys/`.
    pub(crate) fn empty(test: &str) -> Self {
        let scratch = Scratch::new(&format!("ocpp-{test}"));
        std::fs::create_dir_all(scratch.join("keys")).unwrap();
        let fw = Fwsign::new(scratch.path());
        Self { scratch, fw }
    }

    /// A path in the scratch directory.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.scratch.join(rel)
    }

    /// `keys/NAME.pem` and `keys/NAME.pub.pem`, P-256.
    pub(crate) fn key(&self, name: &str) {
        self.ok(&[
            "key",
            "generate",
            "--unencrypted",
            "--out",
            &format!("keys/{name}.pem"),
        ]);
    }

    /// `fwsign ARGS...`.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.fw.run(args)
    }

    /// `fwsign ARGS...`, which must succeed.
    #[track_caller]
    pub(crate) fn ok(&self, args: &[&str]) -> Run {
        let run = self.fw.run(args);
        run.ok();
        run
    }

    /// `fwsign --json ARGS...`, parsed (whatever the exit code).
    pub(crate) fn json(&self, args: &[&str]) -> (Run, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.fw.run(&all);
        let value = serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{run}"));
        (run, value)
    }

    /// `openssl ARGS...` in the scratch directory; returns its output.
    #[track_caller]
    pub(crate) fn openssl(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.scratch.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `openssl ARGS...`, which must fail.
    #[track_caller]
    pub(crate) fn openssl_fails(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.scratch.path())
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "openssl {} succeeded but should not have",
            args.join(" ")
        );
    }

    /// Checks with `openssl dgst -sha256 -verify` that `sig_b64` (the file
    /// as fwsign wrote it) is the signature OCPP wants over `file` by the
    /// key certified in `cert`: one line of padded Base64 of a DER
    /// ECDSA-Sig-Value ([`check_signature_text`]).
    #[track_caller]
    pub(crate) fn openssl_verifies_signature(&self, file: &str, sig_b64: &str, cert: &str) {
        let text = std::fs::read_to_string(self.path(sig_b64)).unwrap();
        check_signature_text(&text);
        let der = base64_decode(&text);
        let der_path = format!("{sig_b64}.der");
        std::fs::write(self.path(&der_path), &der).unwrap();
        let pub_path = format!("{cert}.pub.pem");
        let out = self.openssl(&["x509", "-in", cert, "-noout", "-pubkey"]);
        std::fs::write(self.path(&pub_path), &out.stdout).unwrap();
        let out = self.openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            &pub_path,
            "-signature",
            &der_path,
            file,
        ]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
            "{out:?}"
        );
    }

    /// Checks the certificate path with `openssl verify -purpose any`.
    #[track_caller]
    pub(crate) fn openssl_verifies_chain(&self, root: &str, untrusted: Option<&str>, cert: &str) {
        let mut args = vec!["verify", "-purpose", "any", "-CAfile", root];
        if let Some(inter) = untrusted {
            args.extend(["-untrusted", inter]);
        }
        args.push(cert);
        let out = self.openssl(&args);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(": OK"),
            "{out:?}"
        );
    }

    /// Makes `NAME.crt` for `keys/signer.pem` with OpenSSL and the given
    /// extension lines: self-signed, or issued by `ca` = (cert, key). For
    /// certificates fwsign refuses to make (no codeSigning, self-signed).
    pub(crate) fn openssl_cert(
        &self,
        name: &str,
        subject_cn: &str,
        extensions: &str,
        ca: Option<(&str, &str)>,
    ) {
        let conf = format!(
            "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext\n\
             [dn]\nCN = {subject_cn}\n[ext]\n{extensions}\n"
        );
        let cnf = format!("{name}.cnf");
        std::fs::write(self.path(&cnf), conf).unwrap();
        let out = format!("{name}.crt");
        match ca {
            None => {
                self.openssl(&[
                    "req",
                    "-x509",
                    "-new",
                    "-key",
                    "keys/signer.pem",
                    "-config",
                    &cnf,
                    "-days",
                    "365",
                    "-out",
                    &out,
                ]);
            }
            Some((ca_cert, ca_key)) => {
                let csr = format!("{name}.csr");
                self.openssl(&[
                    "req",
                    "-new",
                    "-key",
                    "keys/signer.pem",
                    "-config",
                    &cnf,
                    "-out",
                    &csr,
                ]);
                self.openssl(&[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    ca_cert,
                    "-CAkey",
                    ca_key,
                    "-set_serial",
                    "4242",
                    "-days",
                    "365",
                    "-extfile",
                    &cnf,
                    "-extensions",
                    "ext",
                    "-out",
                    &out,
                ]);
            }
        }
    }

    /// `openssl x509 -text` of a certificate.
    pub(crate) fn x509_text(&self, cert: &str) -> String {
        let out = self.openssl(&["x509", "-in", cert, "-noout", "-text"]);
        String::from_utf8(out.stdout).unwrap()
    }

    /// `fwsign ocpp update-firmware FILE` with the standard fields and
    /// `extra`, writing `out`.
    pub(crate) fn update_firmware(&self, file: &str, out: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "ocpp",
            "update-firmware",
            file,
            "--location",
            "https://firmware.example.com/acme/evc-a1/fw-1.0.0.bin",
            "--retrieve-at",
            "2026-12-01T02:00:00Z",
            "--request-id",
            "42",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `fwsign --json ocpp verify FILE --request REQUEST --root ROOT`
    /// plus `extra`.
    pub(crate) fn verify(
        &self,
        file: &str,
        request: &str,
        root: &str,
        extra: &[&str],
    ) -> (Run, Value) {
        let mut args = vec!["ocpp", "verify", file, "--request", request, "--root", root];
        args.extend_from_slice(extra);
        self.json(&args)
    }

    /// Runs the `ocpp` package's official schema `schema` over each request
    /// with `jsonschema` (formats checked); `Ok` or the validator's messages.
    /// `None` when this run has no test venv.
    pub(crate) fn schema_check(
        &self,
        schema: &str,
        requests: &[&str],
    ) -> Option<Result<(), String>> {
        let python = peers::python()?;
        let script = r#"
import json, sys
try:
    import importlib.resources, jsonschema, ocpp
except ImportError as e:
    print("MISSING", e); sys.exit(3)
schema = json.loads((importlib.resources.files("ocpp") / sys.argv[1]).read_text())
checker = jsonschema.FormatChecker()
# "date-time" is only checked with rfc3339-validator installed: never pass vacuously.
assert not checker.conforms("2026-13-01T00:00:00Z", "date-time"), "date-time is not checked"
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema, format_checker=checker)
bad = []
for path in sys.argv[2:]:
    for e in validator.iter_errors(json.load(open(path))):
        where = "/".join(map(str, e.absolute_path))
        bad.append(f"{path}: {where}: [{e.validator}] {e.message[:200]}")
print("\n".join(bad) if bad else "valid")
sys.exit(1 if bad else 0)
"#;
        let out = Command::new(&python)
            .arg("-c")
            .arg(script)
            .arg(schema)
            .args(requests)
            .current_dir(self.scratch.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        match out.status.code() {
            Some(0) => Some(Ok(())),
            Some(1) => Some(Err(stdout)),
            Some(3) => {
                skip(&format!(
                    "the ocpp and jsonschema packages in {} ({}; re-run scripts/test)",
                    python.display(),
                    stdout.trim()
                ));
                None
            }
            _ => panic!(
                "schema check failed to run:\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

/// The text of a signature fwsign wrote: one line, padded Base64 of a DER
/// ECDSA-Sig-Value (a SEQUENCE of two INTEGERs), not raw r||s. Its length
/// varies with the values: 72 bytes at most, 70 to 72 nearly always, 69 or
/// less when r or s happens to start with a zero byte (about one signature
/// in 500, which is how a bound of 70 made this test flaky).
#[track_caller]
pub(crate) fn check_signature_text(text: &str) {
    assert!(!text.contains('\n') && !text.contains(' '), "{text:?}");
    assert_eq!(text.len() % 4, 0, "not padded: {text}");
    let der = base64_decode(text);
    assert!((8..=72).contains(&der.len()), "{} bytes", der.len());
    assert_eq!(der[0], 0x30, "not a DER SEQUENCE (raw r||s?)");
    assert_eq!(usize::from(der[1]), der.len() - 2, "SEQUENCE length");
    assert_eq!(der[2], 0x02, "r is not a DER INTEGER");
}

/// Standard padded Base64, strictly.
pub(crate) fn base64_decode(text: &str) -> Vec<u8> {
    use base64ct::{Base64, Encoding};
    Base64::decode_vec(text.trim()).unwrap_or_else(|e| panic!("{text:?} is not Base64: {e}"))
}

/// The parsed request file.
pub(crate) fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
