//! fwsign-hsm against a real SoftHSM2 token; nothing is mocked.
//!
//! A PKCS#11 module reads its configuration (`SOFTHSM2_CONF`) once, at the
//! first `C_Initialize` of the process, and PKCS#11 keeps one login state
//! per token per process. So every test here runs its body in a child
//! process of this same test binary (`current_exe() NAME --exact`), started
//! with `SOFTHSM2_CONF` pointing at a token directory made for that test
//! alone with `softhsm2-util --init-token`. The parent makes the tokens,
//! starts the child and checks it ran and passed; the child does the
//! PKCS#11 work. Nothing sets environment variables in-process, which would
//! need `unsafe` in edition 2024, and no outer `SOFTHSM2_CONF` is needed or
//! used.
//!
//! Without SoftHSM2 installed the tests skip, unless
//! `FWSIGN_REQUIRE_PEERS=1` (as in CI), when they fail.

// Test helpers outside `#[test]` functions: clippy.toml's in-test
// allowances do not reach them.
#![allow(clippy::unwrap_used, clippy::print_stderr, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fwsign_hsm::{HsmContext, HsmError, HsmSession, HsmSigner, Pkcs11Uri};
use fwsign_keys::document::{sign, signing_payload};
use fwsign_keys::{Algorithm, PublicKey, TufSigner};
use fwsign_manifest_schema::metadata::Signed;
use signature::Signer as _;

const SO_PIN: &str = "so-pin-5678";
/// Every token's user PIN; children get it as `FWSIGN_TEST_PIN`.
const PIN: &str = "user-pin-1234";
const CHILD_ENV: &str = "FWSIGN_HSM_TEST_CHILD";

/// What a test body gets: the module and the token directory.
struct Hsm {
    module: PathBuf,
    dir: PathBuf,
}

impl Hsm {
    /// A URI for `object` on `token` with the PIN from `FWSIGN_TEST_PIN`.
    fn uri(&self, token: &str, object: &str) -> Pkcs11Uri {
        self.parse(&format!(
            "pkcs11:token={token};object={object}?module-path={}&pin-source=env:FWSIGN_TEST_PIN",
            self.module.display()
        ))
    }

    fn parse(&self, s: &str) -> Pkcs11Uri {
        Pkcs11Uri::parse(s, false).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}

fn softhsm_module() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FWSIGN_TEST_SOFTHSM_MODULE") {
        return Some(path.into());
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn require_peers() -> bool {
    std::env::var("FWSIGN_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `body` in a child process with a fresh token directory holding
/// `tokens` (each with user PIN [`PIN`]); `env` is added to the child's
/// environment. In the child itself, runs `body`.
fn isolated(name: &str, tokens: &[&str], env: &[(&str, &str)], body: fn(&Hsm)) {
    if std::env::var_os(CHILD_ENV).is_some() {
        let hsm = Hsm {
            module: std::env::var_os("FWSIGN_HSM_TEST_MODULE").unwrap().into(),
            dir: std::env::var_os("FWSIGN_HSM_TEST_DIR").unwrap().into(),
        };
        body(&hsm);
        return;
    }
    let Some(module) = softhsm_module() else {
        assert!(
            !require_peers(),
            "SoftHSM2 is not installed and FWSIGN_REQUIRE_PEERS=1"
        );
        eprintln!("skipped {name}: SoftHSM2 is not installed (apt-get install softhsm2)");
        return;
    };
    // Removed when this function returns or panics (a failed child).
    let scratch = tempfile::Builder::new()
        .prefix(&format!("fwsign-hsm-{name}-"))
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    for token in tokens {
        run(Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                token,
                "--so-pin",
                SO_PIN,
                "--pin",
                PIN,
            ]));
    }
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD_ENV, name)
        .env("FWSIGN_HSM_TEST_DIR", dir)
        .env("FWSIGN_HSM_TEST_MODULE", &module)
        .env("FWSIGN_TEST_PIN", PIN)
        .env_remove("FWSIGN_PKCS11_MODULE");
    for (k, v) in env {
        // `$MODULE` stands for the SoftHSM2 module found here.
        child.env(
            k,
            if *v == "$MODULE" {
                module.as_os_str()
            } else {
                v.as_ref()
            },
        );
    }
    let out = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed in its child process:\n{stdout}\n{stderr}"
    );
    // A renamed test would otherwise "pass" by running nothing.
    assert!(
        stdout.contains("1 passed"),
        "{name}: the child ran no test:\n{stdout}"
    );
    // Straight to the real stderr, past the harness's capture, so figures
    // like the signing rate show in a plain `cargo test`.
    std::io::stderr().write_all(&out.stderr).unwrap();
}

/// `#[test] fn NAME` running `body` via [`isolated`].
macro_rules! hsm_test {
    ($name:ident, tokens = [$($token:expr),*], env = [$(($k:expr, $v:expr)),*], $body:expr) => {
        #[test]
        fn $name() {
            isolated(stringify!($name), &[$($token),*], &[$(($k, $v)),*], $body);
        }
    };
    ($name:ident, tokens = [$($token:expr),*], $body:expr) => {
        hsm_test!($name, tokens = [$($token),*], env = [], $body);
    };
}

fn assert_low_s_der(sig: &[u8]) {
    let parsed = p256::ecdsa::Signature::from_der(sig).unwrap();
    assert_eq!(parsed.normalize_s(), parsed, "high S");
}

fn check_signer(signer: &HsmSigner, public: &PublicKey, alg: Algorithm) {
    assert_eq!(signer.public_key(), public);
    assert_eq!(signer.algorithm(), alg);
    assert_eq!(signer.keyid(), public.keyid());
    for i in 0..64u32 {
        let msg = format!("firmware image {i}");
        let sig = signer.try_sign(msg.as_bytes()).unwrap();
        public.verify(msg.as_bytes(), &sig.0).unwrap();
        assert!(public.verify(b"another image", &sig.0).is_err());
        match alg {
            Algorithm::EcdsaP256 => assert_low_s_der(&sig.0),
            Algorithm::Ed25519 => {
                assert_eq!(sig.0.len(), 64);
                // Ed25519 is deterministic, in the token too.
                assert_eq!(signer.try_sign(msg.as_bytes()).unwrap(), sig);
            }
        }
    }
    let p = signer.key_protection().unwrap();
    assert!(
        p.sensitive && !p.extractable && p.always_sensitive && p.never_extractable && p.local,
        "{p:?}"
    );
    assert!(p.sign && !p.decrypt && !p.derive && !p.unwrap, "{p:?}");
}

fn generate_sign_verify(hsm: &Hsm, alg: Algorithm) {
    let uri = hsm.uri("release", "targets-1");
    let session = HsmSession::open(&uri).unwrap();
    assert!(session.supports(alg), "SoftHSM2 lacks the {alg} mechanisms");
    let public = session.generate(&uri, alg).unwrap();
    assert_eq!(public.algorithm(), alg);
    // What `--pub-out` writes reads back as the same key.
    let pem = public.to_spki_pem();
    std::fs::write(hsm.dir.join("pub.pem"), &pem).unwrap();
    assert_eq!(
        PublicKey::from_spki_pem(&std::fs::read_to_string(hsm.dir.join("pub.pem")).unwrap())
            .unwrap(),
        public
    );
    check_signer(&session.signer(&uri).unwrap(), &public, alg);
    check_signer(&session.signer_for(&uri, alg).unwrap(), &public, alg);
    // Without an id in the URI, CKA_ID is the TUF key ID.
    let by_id = hsm.parse(&format!(
        "pkcs11:token=release;id={}?module-path={}&pin-source=env:FWSIGN_TEST_PIN",
        public
            .keyid()
            .as_bytes()
            .chunks(2)
            .map(|h| format!("%{}", std::str::from_utf8(h).unwrap()))
            .collect::<String>(),
        hsm.module.display()
    ));
    assert_eq!(session.signer(&by_id).unwrap().public_key(), &public);
    assert_eq!(session.key_labels().unwrap(), ["targets-1"]);
    drop(session);
    // The key persists in the token, and a later command finds it.
    let again = HsmContext::new().signer(&uri).unwrap();
    assert_eq!(again.public_key(), &public);
    // Generating the same label again is refused.
    let err = again.session().generate(&uri, alg).unwrap_err();
    assert!(matches!(err, HsmError::KeyExists { .. }), "{err}");
}

hsm_test!(
    generates_signs_and_verifies_p256,
    tokens = ["release"],
    |hsm| {
        generate_sign_verify(hsm, Algorithm::EcdsaP256);
    }
);

hsm_test!(
    generates_signs_and_verifies_ed25519,
    tokens = ["release"],
    |hsm| {
        generate_sign_verify(hsm, Algorithm::Ed25519);
    }
);

hsm_test!(
    ecdsa_signatures_are_always_low_s,
    tokens = ["release"],
    |hsm| {
        let uri = hsm.uri("release", "k");
        let ctx = HsmContext::new();
        let public = ctx.generate(&uri, Algorithm::EcdsaP256).unwrap();
        let signer = ctx.signer(&uri).unwrap();
        // SoftHSM2's ECDSA is randomised and high S about half the time, so 200
        // signatures all low S means the normalisation works (2^-200 otherwise).
        let mut distinct = std::collections::HashSet::new();
        for i in 0..200u32 {
            let msg = i.to_be_bytes();
            let sig = signer.try_sign(&msg).unwrap();
            assert_low_s_der(&sig.0);
            public.verify(&msg, &sig.0).unwrap();
            distinct.insert(sig.0);
        }
        assert_eq!(distinct.len(), 200);
    }
);

hsm_test!(
    signs_1000_metadata_documents_through_one_session,
    tokens = ["release"],
    |hsm| {
        let ctx = HsmContext::new();
        for (alg, object) in [
            (Algorithm::EcdsaP256, "targets-p256"),
            (Algorithm::Ed25519, "targets-ed25519"),
        ] {
            let uri = hsm.uri("release", object);
            let public = ctx.generate(&uri, alg).unwrap();
            let signer = ctx.signer_for(&uri, alg).unwrap();
            let mut docs: Vec<Signed<serde_json::Value>> = (0..1000)
                .map(|i| Signed {
                    signatures: Vec::new(),
                    signed: serde_json::json!({
                        "_type": "targets",
                        "spec_version": "1.0.31",
                        "version": i + 1,
                        "expires": "2030-01-01T00:00:00Z",
                        "targets": {
                            format!("firmware-{i}.bin"): {
                                "length": 1_048_576 + i,
                                "hashes": {"sha256": format!("{i:064x}")},
                            }
                        },
                    }),
                    unknown: Default::default(),
                })
                .collect();
            let start = Instant::now();
            for doc in &mut docs {
                sign(doc, &signer).unwrap();
            }
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "fwsign-hsm: {alg}: 1000 metadata documents signed through one SoftHSM2 session in {secs:.2} s: {:.0} signatures/s",
                1000.0 / secs
            );
            for doc in &docs {
                assert_eq!(doc.signatures.len(), 1);
                assert_eq!(doc.signatures[0].keyid, public.keyid());
                let sig = base16_decode(&doc.signatures[0].sig);
                public
                    .verify(&signing_payload(&doc.signed).unwrap(), &sig)
                    .unwrap();
                if alg == Algorithm::EcdsaP256 {
                    assert_low_s_der(&sig);
                }
            }
        }
        // Both keys, 2,000 signatures: one session, one login.
        assert_eq!(ctx.session_count(), 1);
    }
);

fn base16_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

hsm_test!(
    one_login_per_token_per_command,
    tokens = ["release", "staging"],
    |hsm| {
        let ctx = HsmContext::new();
        let root = hsm.uri("release", "root");
        let targets = hsm.uri("release", "targets");
        let staging = hsm.uri("staging", "snapshot");
        ctx.generate(&root, Algorithm::EcdsaP256).unwrap();
        ctx.generate(&targets, Algorithm::Ed25519).unwrap();
        ctx.generate(&staging, Algorithm::Ed25519).unwrap();
        let signers = [
            ctx.signer(&root).unwrap(),
            ctx.signer(&targets).unwrap(),
            ctx.signer(&staging).unwrap(),
        ];
        assert_eq!(ctx.session_count(), 2, "one session per token");
        assert_eq!(signers[0].session().token_label(), "release");
        assert_eq!(
            signers[1].session().slot_id(),
            signers[0].session().slot_id()
        );
        assert_eq!(signers[2].session().token_label(), "staging");
        // A later URI for an open token does not read its pin-source again.
        let no_pin = hsm.parse(&format!(
            "pkcs11:token=release;object=root?module-path={}",
            hsm.module.display()
        ));
        assert_eq!(
            ctx.signer(&no_pin).unwrap().public_key(),
            signers[0].public_key()
        );
        assert_eq!(ctx.session_count(), 2);
        for s in &signers {
            let sig = s.try_sign(b"m").unwrap();
            s.public_key().verify(b"m", &sig.0).unwrap();
        }
        // Signers outlive the context that made them, and work from threads.
        drop(ctx);
        std::thread::scope(|scope| {
            for s in &signers {
                scope.spawn(move || {
                    for _ in 0..20 {
                        let sig = s.try_sign(b"threads").unwrap();
                        s.public_key().verify(b"threads", &sig.0).unwrap();
                    }
                });
            }
        });
    }
);

hsm_test!(
    tokens_are_found_by_label_and_module_from_env,
    tokens = ["alpha", "beta", "gamma"],
    env = [("FWSIGN_PKCS11_MODULE", "$MODULE")],
    |hsm| {
        // No module-path: FWSIGN_PKCS11_MODULE names the module.
        for label in ["gamma", "alpha", "beta"] {
            let uri = hsm.parse(&format!(
                "pkcs11:token={label};object=k?pin-source=env:FWSIGN_TEST_PIN"
            ));
            assert!(uri.module_path.is_none());
            let session = HsmSession::open(&uri).unwrap();
            assert_eq!(session.token_label(), label);
            session.generate(&uri, Algorithm::Ed25519).unwrap();
        }
        // A URI that names no token is ambiguous with three present.
        let err = HsmSession::open(&hsm.parse("pkcs11:object=k?pin-source=env:FWSIGN_TEST_PIN"))
            .unwrap_err();
        assert!(
            matches!(&err, HsmError::AmbiguousToken { matching } if matching.len() == 3),
            "{err}"
        );
        // The other token attributes narrow the match too.
        let by_model = hsm.parse("pkcs11:token=beta;manufacturer=SoftHSM%20project;model=SoftHSM%20v2?pin-source=env:FWSIGN_TEST_PIN");
        assert_eq!(HsmSession::open(&by_model).unwrap().token_label(), "beta");
        // PIN from a file.
        let pin_file = hsm.dir.join("pin");
        std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        // A PIN file must be the owner's alone (refused otherwise).
        std::fs::set_permissions(
            &pin_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let from_file = hsm.parse(&format!(
            "pkcs11:token=alpha;object=k?pin-source=file:{}",
            pin_file.display()
        ));
        HsmContext::new().signer(&from_file).unwrap();
        // pin-value only when allowed.
        let with_value = format!("pkcs11:token=beta;object=k?pin-value={PIN}");
        assert!(matches!(
            Pkcs11Uri::parse(&with_value, false),
            Err(HsmError::PinValueRefused)
        ));
        HsmContext::new()
            .signer(&Pkcs11Uri::parse(&with_value, true).unwrap())
            .unwrap();
    }
);

hsm_test!(
    module_is_finalised_and_reloaded_within_a_process,
    tokens = ["release"],
    |hsm| {
        let uri = hsm.uri("release", "k");
        let public = HsmContext::new()
            .generate(&uri, Algorithm::EcdsaP256)
            .unwrap();
        for _ in 0..3 {
            // Each context is a command: loads, logs in, finalises on drop.
            let ctx = HsmContext::new();
            let signer = ctx.signer(&uri).unwrap();
            assert_eq!(signer.public_key(), &public);
            signer.try_sign(b"m").unwrap();
        }
    }
);

hsm_test!(mechanisms_report, tokens = ["release"], |hsm| {
    let session = HsmSession::open(&hsm.uri("release", "k")).unwrap();
    let version = Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .unwrap();
    eprintln!(
        "fwsign-hsm: SoftHSM2 {} at {}: ECDSA P-256 {}, Ed25519 (CKM_EDDSA) {}",
        String::from_utf8_lossy(&version.stdout).trim(),
        session.module_path().display(),
        session.supports(Algorithm::EcdsaP256),
        session.supports(Algorithm::Ed25519),
    );
    assert!(session.supports(Algorithm::EcdsaP256));
    assert!(session.supports(Algorithm::Ed25519));
});

// ---------------------------------------------------------------------------
// Errors, each against the real token

fn err_of<T: std::fmt::Debug>(r: Result<T, HsmError>) -> HsmError {
    r.expect_err("expected an error")
}

hsm_test!(error_module_not_found, tokens = [], |hsm| {
    let _ = hsm;
    let uri: Pkcs11Uri = "pkcs11:token=release;object=k?module-path=/nonexistent/libnothsm.so&pin-source=env:FWSIGN_TEST_PIN"
        .parse()
        .unwrap();
    let err = err_of(HsmSession::open(&uri));
    assert!(
        matches!(&err, HsmError::ModuleNotFound { path } if path == Path::new("/nonexistent/libnothsm.so")),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "PKCS#11 module not found: /nonexistent/libnothsm.so"
    );
    // A file that is not a PKCS#11 module.
    let not_module = hsm_not_a_module();
    let uri = Pkcs11Uri::parse(
        &format!("pkcs11:token=t?module-path={}", not_module.display()),
        false,
    )
    .unwrap();
    let err = err_of(HsmContext::new().session(&uri));
    assert!(matches!(err, HsmError::ModuleLoad { .. }), "{err:?}");
    // No module anywhere (FWSIGN_PKCS11_MODULE is removed for children).
    let err = err_of(HsmSession::open(
        &"pkcs11:token=t;object=k".parse().unwrap(),
    ));
    assert!(matches!(err, HsmError::NoModule), "{err:?}");
    assert!(err.to_string().contains("FWSIGN_PKCS11_MODULE"), "{err}");
});

fn hsm_not_a_module() -> PathBuf {
    // Any shared library without C_GetFunctionList will do.
    [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .unwrap_or_else(|| PathBuf::from("/etc/hostname"))
}

hsm_test!(
    error_token_not_found_lists_present_tokens,
    tokens = ["dev", "ci"],
    |hsm| {
        let err = err_of(HsmSession::open(&hsm.uri("release", "k")));
        let HsmError::TokenNotFound { wanted, present } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(wanted, "token=\"release\"");
        let mut present = present.clone();
        present.sort();
        assert_eq!(present, ["ci", "dev"]);
        let msg = err.to_string();
        assert!(msg.contains("\"dev\"") && msg.contains("\"ci\""), "{msg}");
    }
);

hsm_test!(
    error_wrong_pin,
    tokens = ["release"],
    env = [("WRONG_PIN", "not-the-pin-9999")],
    |hsm| {
        let uri = hsm.parse(&format!(
            "pkcs11:token=release;object=k?module-path={}&pin-source=env:WRONG_PIN",
            hsm.module.display()
        ));
        let err = err_of(HsmSession::open(&uri));
        assert!(
            matches!(&err, HsmError::WrongPin { token } if token == "release"),
            "{err:?}"
        );
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("not-the-pin") && !shown.contains(PIN),
            "{shown}"
        );
        // SoftHSM2 never locks: the right PIN still works afterwards.
        HsmSession::open(&hsm.uri("release", "k")).unwrap();
        // No PIN at all, and a pin-source that is not there.
        let no_pin = hsm.parse(&format!(
            "pkcs11:token=release?module-path={}",
            hsm.module.display()
        ));
        assert!(matches!(
            err_of(HsmSession::open(&no_pin)),
            HsmError::PinRequired { .. }
        ));
        let unset = hsm.parse(&format!(
            "pkcs11:token=release?module-path={}&pin-source=env:FWSIGN_UNSET_PIN_VAR",
            hsm.module.display()
        ));
        assert!(matches!(
            err_of(HsmSession::open(&unset)),
            HsmError::PinSource { .. }
        ));
        // A prompt fills in a missing PIN.
        let ctx = HsmContext::with_pin_prompt(|token| {
            assert_eq!(token, "release");
            Ok(zeroize::Zeroizing::new(PIN.as_bytes().to_vec()))
        });
        ctx.session(&no_pin).unwrap();
    }
);

hsm_test!(
    error_key_not_found_lists_labels,
    tokens = ["release"],
    |hsm| {
        let ctx = HsmContext::new();
        ctx.generate(&hsm.uri("release", "root-1"), Algorithm::EcdsaP256)
            .unwrap();
        ctx.generate(&hsm.uri("release", "targets-1"), Algorithm::Ed25519)
            .unwrap();
        let err = err_of(ctx.signer(&hsm.uri("release", "snapshot-1")));
        let HsmError::KeyNotFound {
            wanted,
            token,
            present,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(wanted, "object=\"snapshot-1\"");
        assert_eq!(token, "release");
        assert_eq!(present, &["root-1", "targets-1"]);
        assert_eq!(
            err.to_string(),
            "no private key object=\"snapshot-1\" on token \"release\"; keys present: \"root-1\", \"targets-1\""
        );
        // A URI naming no key at all.
        let err = err_of(ctx.signer(&hsm.parse(&format!(
            "pkcs11:token=release?module-path={}",
            hsm.module.display()
        ))));
        assert!(matches!(err, HsmError::InvalidUri { .. }), "{err:?}");
    }
);

hsm_test!(error_wrong_key_type, tokens = ["release"], |hsm| {
    let ctx = HsmContext::new();
    let ed = hsm.uri("release", "ed");
    let p256 = hsm.uri("release", "p256");
    ctx.generate(&ed, Algorithm::Ed25519).unwrap();
    ctx.generate(&p256, Algorithm::EcdsaP256).unwrap();
    // The role's key type is P-256; the URI names an Ed25519 key.
    let err = err_of(ctx.signer_for(&ed, Algorithm::EcdsaP256));
    assert!(matches!(err, HsmError::WrongKeyType { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "key object=\"ed\" is an Ed25519 key, but an ECDSA P-256 key is needed"
    );
    let err = err_of(ctx.signer_for(&p256, Algorithm::Ed25519));
    assert!(matches!(err, HsmError::WrongKeyType { .. }), "{err:?}");
    drop(ctx);

    // Keys fwsign cannot sign with at all, imported with softhsm2-util.
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(
            !require_peers(),
            "openssl is not available and FWSIGN_REQUIRE_PEERS=1"
        );
        eprintln!("skipped the RSA and P-384 part: openssl is not available");
        return;
    }
    let conf = std::env::var_os("SOFTHSM2_CONF").unwrap();
    for (name, args, found) in [
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            "a P-384 key",
        ),
        (
            "rsa",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
            "an RSA key",
        ),
    ] {
        let file = hsm.dir.join(format!("{name}.pem"));
        run(Command::new("openssl")
            .arg("genpkey")
            .args(args)
            .arg("-out")
            .arg(&file));
        run(Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .arg("--import")
            .arg(&file)
            .args([
                "--token", "release", "--label", name, "--id", "0384", "--force", "--pin", PIN,
            ]));
        let err = err_of(HsmContext::new().signer(&hsm.uri("release", name)));
        let HsmError::WrongKeyType { found: f, .. } = &err else {
            panic!("{name}: {err:?}");
        };
        assert_eq!(f, found, "{err}");
    }
});
