//! Tests of key files, PKCS#8 encryption, TUF key objects and key IDs
//! (against securesystemslib's values) and signing.

use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_manifest_schema::metadata::{Key, KeyVal};
use p256::elliptic_curve::ff::PrimeField as _;
use pkcs8::der::Decode;
use pkcs8::der::asn1::OctetStringRef;
use pkcs8::{PrivateKeyInfoRef, SecretDocument};
use signature::{SignatureEncoding, Signer};
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

use super::private_key::SecretInner;
use super::public_key::hex_lower;
use super::*;

const PASSPHRASE: &[u8] = b"correct horse battery staple";

/// A P-384 key: a valid SPKI of a curve fwsign does not support.
const P384_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEQZ+ppMnKjz8WGuFG+7o6TMT8LAPB1aNS
qtmX/RXbvUquC3goS3sGd2/c5K0dr6uHLzlcGprO173cg4aZKfgcxEsw9+hgYkD0
2md8YqqEFLyY6HYvImQHHPMnHyuffaIU
-----END PUBLIC KEY-----
";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/python-tuf-repo/keys")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn both() -> [Algorithm; 2] {
    [Algorithm::EcdsaP256, Algorithm::Ed25519]
}

/// A fresh directory of this test's own under the system temp dir,
/// `fwsign-keys-TEST-XXXXXX`, and its path: the directory goes when the
/// guard is dropped (also when the test fails), so keep it bound.
fn scratch_dir(test: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix(&format!("fwsign-keys-{test}-"))
        .tempdir()
        .unwrap();
    let dir = guard.path().to_path_buf();
    (guard, dir)
}

/// Whether a missing peer tool may skip a test (it may not when
/// FWSIGN_REQUIRE_PEERS=1, as in CI).
fn skip_missing_peer(what: &str) {
    if std::env::var("FWSIGN_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
        panic!("{what} is not available and FWSIGN_REQUIRE_PEERS=1");
    }
    eprintln!("skipped: {what} is not available (set FWSIGN_REQUIRE_PEERS=1 to make this fail)");
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn algorithm_names_round_trip() {
    for alg in both() {
        assert_eq!(alg.to_string().parse::<Algorithm>().unwrap(), alg);
    }
    assert_eq!(Algorithm::EcdsaP256.to_string(), "ecdsa-p256");
    assert_eq!(Algorithm::Ed25519.to_string(), "ed25519");
    assert!(matches!(
        "rsa".parse::<Algorithm>(),
        Err(KeyError::UnknownAlgorithmName(_))
    ));
}

#[test]
fn generated_keys_sign_and_verify_and_reject_tampering() {
    for alg in both() {
        let key = PrivateKey::generate(alg).unwrap();
        assert_eq!(key.algorithm(), alg);
        let sig = key.try_sign(b"firmware image").unwrap();
        let pk = key.public_key();
        pk.verify(b"firmware image", &sig.0).unwrap();
        assert!(pk.verify(b"firmware imagE", &sig.0).is_err(), "{alg}");
        let mut bad = sig.0.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(pk.verify(b"firmware image", &bad).is_err(), "{alg}");
        // Another key of the same algorithm does not verify it.
        let other = PrivateKey::generate(alg).unwrap();
        assert!(
            other
                .public_key()
                .verify(b"firmware image", &sig.0)
                .is_err()
        );
        // Through the trait, as TUF code sees a signer.
        let signer: &dyn TufSigner = &key;
        assert_eq!(signer.keyid(), pk.keyid());
        assert_eq!(SignatureEncoding::to_vec(&sig), sig.0);
    }
}

#[test]
fn ed25519_signatures_are_64_bytes_and_other_lengths_refused() {
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let sig = key.try_sign(b"m").unwrap();
    assert_eq!(sig.0.len(), 64);
    assert!(key.public_key().verify(b"m", &sig.0[..63]).is_err());
    assert_eq!(key.public_key().sec1_or_raw_bytes().len(), 32);
}

#[test]
fn p256_signatures_are_low_s_der_and_high_s_still_verifies() {
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let pk = key.public_key();
    assert_eq!(pk.sec1_or_raw_bytes().len(), 65);
    assert_eq!(pk.sec1_or_raw_bytes()[0], 0x04);
    for i in 0..16u8 {
        let msg = [i; 8];
        let sig = key.try_sign(&msg).unwrap();
        assert_eq!(sig.0[0], 0x30, "DER SEQUENCE");
        let parsed = p256::ecdsa::Signature::from_der(&sig.0).unwrap();
        assert_eq!(parsed.normalize_s(), parsed, "low S");
        // Deterministic (RFC 6979).
        assert_eq!(key.try_sign(&msg).unwrap(), sig);
        // The same signature with S replaced by n - S is valid ECDSA;
        // OpenSSL writes such signatures, so they must verify.
        let (r, s) = parsed.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r.to_repr(), (-*s).to_repr()).unwrap();
        assert_ne!(high.normalize_s(), high);
        pk.verify(&msg, high.to_der().as_bytes()).unwrap();
    }
    // Raw r||s is not what TUF stores for ECDSA.
    let sig = key.try_sign(b"m").unwrap();
    let raw = p256::ecdsa::Signature::from_der(&sig.0).unwrap().to_bytes();
    assert!(pk.verify(b"m", &raw).is_err());
}

#[test]
fn pkcs8_plain_round_trip() {
    for alg in both() {
        let key = PrivateKey::generate(alg).unwrap();
        let pem = key.to_pkcs8_pem(None).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{alg}");
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"), "{alg}");
        let back = PrivateKey::from_pkcs8_pem(&pem, None).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        // Both algorithms sign deterministically: same key, same bytes.
        assert_eq!(back.try_sign(b"m").unwrap(), key.try_sign(b"m").unwrap());
        assert_eq!(
            back.to_pkcs8_pem(None).unwrap().as_str(),
            pem.as_str(),
            "{alg}"
        );
    }
}

#[test]
fn pkcs8_encrypted_round_trip_and_passphrase_errors() {
    for alg in both() {
        let key = PrivateKey::generate(alg).unwrap();
        let pem = key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END ENCRYPTED PRIVATE KEY-----\n"));
        let back = PrivateKey::from_pkcs8_pem(&pem, Some(PASSPHRASE)).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(&pem, Some(b"wrong")),
            Err(KeyError::WrongPassphrase)
        ));
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(&pem, None),
            Err(KeyError::PassphraseRequired)
        ));
        // Fresh salt and IV every time.
        assert_ne!(key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap(), pem);
    }
}

#[test]
fn plain_key_with_passphrase_is_refused() {
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let pem = key.to_pkcs8_pem(None).unwrap();
    assert!(matches!(
        PrivateKey::from_pkcs8_pem(&pem, Some(PASSPHRASE)),
        Err(KeyError::PassphraseNotExpected)
    ));
}

#[test]
fn malformed_and_foreign_private_keys_get_their_own_errors() {
    assert!(matches!(
        PrivateKey::from_pkcs8_pem("not pem", None),
        Err(KeyError::Pem(_))
    ));
    let public = PrivateKey::generate(Algorithm::Ed25519)
        .unwrap()
        .public_key()
        .to_spki_pem();
    assert!(matches!(
        PrivateKey::from_pkcs8_pem(&public, None),
        Err(KeyError::UnexpectedPemLabel { .. })
    ));
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n";
    let err = PrivateKey::from_pkcs8_pem(sec1, None).unwrap_err();
    assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");
    // Well-formed PEM around DER that is neither PKCS#8 structure.
    let junk = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        PrivateKey::from_pkcs8_pem(junk, None),
        Err(KeyError::MalformedPrivateKey(_))
    ));
    // An Ed25519 PKCS#8 whose inner OCTET STRING is too short.
    let der = SecretDocument::encode_msg(&PrivateKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: ED25519_OID,
            parameters: None,
        },
        private_key: OctetStringRef::new(&[0x04, 0x01, 0x00]).unwrap(),
        public_key: None,
    })
    .unwrap();
    assert!(matches!(
        PrivateKey::from_pkcs8_der(der.as_bytes(), None),
        Err(KeyError::MalformedPrivateKey(_))
    ));
}

#[test]
fn ed25519_pkcs8_with_mismatched_public_key_is_refused() {
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let other = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let plain = key.to_pkcs8_der().unwrap();
    let info = PrivateKeyInfoRef::from_der(plain.as_bytes()).unwrap();
    let other_public = other.public_key().sec1_or_raw_bytes();
    let v2 = PrivateKeyInfoRef {
        public_key: Some(pkcs8::der::asn1::BitStringRef::new(0, &other_public).unwrap()),
        ..info.clone()
    };
    let der = SecretDocument::encode_msg(&v2).unwrap();
    assert!(matches!(
        PrivateKey::from_pkcs8_der(der.as_bytes(), None),
        Err(KeyError::MalformedPrivateKey(_))
    ));
    // With its own public key (PKCS#8 v2) it loads.
    let own_public = key.public_key().sec1_or_raw_bytes();
    let v2 = PrivateKeyInfoRef {
        public_key: Some(pkcs8::der::asn1::BitStringRef::new(0, &own_public).unwrap()),
        ..info
    };
    let der = SecretDocument::encode_msg(&v2).unwrap();
    let back = PrivateKey::from_pkcs8_der(der.as_bytes(), None).unwrap();
    assert_eq!(back.public_key(), key.public_key());
}

#[test]
fn private_key_debug_shows_no_secret() {
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let der = key.to_pkcs8_der().unwrap();
    // PKCS#8 v1 Ed25519: the seed is the last 32 bytes.
    let seed_hex = hex_lower(&der.as_bytes()[der.as_bytes().len() - 32..]);
    let debug = format!("{key:?}");
    assert!(!debug.contains(&seed_hex), "{debug}");
    assert!(debug.contains(&key.public_key().keyid()), "{debug}");

    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let debug = format!("{key:?}");
    let SecretInner::P256(sk) = &key.secret else {
        unreachable!()
    };
    assert!(!debug.contains(&hex_lower(&sk.to_bytes())), "{debug}");
}

#[test]
fn spki_pem_is_64_columns_with_final_newline_and_round_trips() {
    for alg in both() {
        let pk = PrivateKey::generate(alg).unwrap().public_key().clone();
        let pem = pk.to_spki_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
        assert!(!pem.contains('\r'));
        let lines: Vec<&str> = pem.lines().collect();
        let body = &lines[1..lines.len() - 1];
        for line in &body[..body.len() - 1] {
            assert_eq!(line.len(), 64, "{pem}");
        }
        assert!(!body[body.len() - 1].is_empty() && body[body.len() - 1].len() <= 64);
        assert_eq!(PublicKey::from_spki_pem(&pem).unwrap(), pk);
        assert_eq!(PublicKey::from_spki_der(&pk.to_spki_der()).unwrap(), pk);
    }
}

#[test]
fn public_key_errors_name_the_problem() {
    assert!(matches!(
        PublicKey::from_spki_pem("-----BEGIN PUBLIC KEY-----\n"),
        Err(KeyError::Pem(_))
    ));
    let err = PublicKey::from_spki_pem(P384_SPKI_PEM).unwrap_err();
    assert!(matches!(err, KeyError::UnsupportedAlgorithm(_)), "{err}");
    assert!(err.to_string().contains("P-384"), "{err}");
    let private = PrivateKey::generate(Algorithm::Ed25519)
        .unwrap()
        .to_pkcs8_pem(None)
        .unwrap();
    assert!(matches!(
        PublicKey::from_spki_pem(&private),
        Err(KeyError::UnexpectedPemLabel { .. })
    ));
    assert!(matches!(
        PublicKey::from_spki_der(&[0x30, 0x00]),
        Err(KeyError::MalformedPublicKey(_))
    ));
}

fn tuf_key(keytype: &str, scheme: &str, public: &str) -> Key {
    Key {
        keytype: keytype.to_owned(),
        scheme: scheme.to_owned(),
        keyval: KeyVal {
            public: public.to_owned(),
            unknown: Default::default(),
        },
        unknown: Default::default(),
    }
}

#[test]
fn from_tuf_key_reads_pem_and_hex_ecdsa_and_hex_ed25519() {
    let p256 = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let pk = p256.public_key();
    let sec1_hex = hex_lower(&pk.sec1_or_raw_bytes());
    for keytype in ["ecdsa", "ecdsa-sha2-nistp256"] {
        let pem = tuf_key(keytype, "ecdsa-sha2-nistp256", &pk.to_spki_pem());
        assert_eq!(&PublicKey::from_tuf_key(&pem).unwrap(), pk);
        let hex = tuf_key(keytype, "ecdsa-sha2-nistp256", &sec1_hex);
        assert_eq!(&PublicKey::from_tuf_key(&hex).unwrap(), pk);
        let upper = tuf_key(keytype, "ecdsa-sha2-nistp256", &sec1_hex.to_uppercase());
        assert_eq!(&PublicKey::from_tuf_key(&upper).unwrap(), pk);
    }
    // Compressed SEC1 too.
    let compressed = hex_lower(
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&pk.sec1_or_raw_bytes())
            .unwrap()
            .to_sec1_point(true)
            .as_bytes(),
    );
    let key = tuf_key("ecdsa", "ecdsa-sha2-nistp256", &compressed);
    assert_eq!(&PublicKey::from_tuf_key(&key).unwrap(), pk);
    assert_eq!(PublicKey::from_tuf_key(&pk.to_tuf_key()).unwrap(), *pk);

    let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let pk = ed.public_key();
    let key = pk.to_tuf_key();
    assert_eq!(key.keyval.public, hex_lower(&pk.sec1_or_raw_bytes()));
    assert_eq!(&PublicKey::from_tuf_key(&key).unwrap(), pk);
}

#[test]
fn from_tuf_key_refuses_unsupported_and_mismatched_keys() {
    let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let ed_hex = hex_lower(&ed.public_key().sec1_or_raw_bytes());
    let ed_pem = ed.public_key().to_spki_pem();
    let unsupported = [
        ("rsa", "rsassa-pss-sha256"),
        ("ed25519", "ecdsa-sha2-nistp256"),
        ("ecdsa", "ed25519"),
        ("ecdsa", "ecdsa-sha2-nistp384"),
    ];
    for (keytype, scheme) in unsupported {
        assert!(
            matches!(
                PublicKey::from_tuf_key(&tuf_key(keytype, scheme, &ed_hex)),
                Err(KeyError::UnsupportedTufKey { .. })
            ),
            "{keytype}/{scheme}"
        );
    }
    let malformed = [
        tuf_key("ed25519", "ed25519", &ed_hex[..62]),
        tuf_key("ed25519", "ed25519", &format!("{ed_hex}00")),
        tuf_key("ed25519", "ed25519", &ed_pem),
        tuf_key("ecdsa", "ecdsa-sha2-nistp256", &ed_pem),
        tuf_key("ecdsa", "ecdsa-sha2-nistp256", &ed_hex),
        tuf_key("ecdsa", "ecdsa-sha2-nistp256", "zz"),
    ];
    for key in &malformed {
        assert!(
            matches!(
                PublicKey::from_tuf_key(key),
                Err(KeyError::MalformedPublicKey(_))
            ),
            "{key:?}"
        );
    }
    assert!(matches!(
        PublicKey::from_tuf_key(&tuf_key("ecdsa", "ecdsa-sha2-nistp256", P384_SPKI_PEM)),
        Err(KeyError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn keyid_and_tuf_key_match_python_tuf_fixtures() {
    let dir = fixture_dir();
    let index: serde_json::Value = serde_json::from_str(&read(&dir.join("keyids.json"))).unwrap();
    let index = index.as_object().unwrap();
    let mut seen = std::collections::HashSet::new();
    for (name, entry) in index {
        let public_pem = read(&dir.join(entry["public_pem"].as_str().unwrap()));
        let pk = PublicKey::from_spki_pem(&public_pem).unwrap();
        seen.insert(pk.algorithm());
        assert_eq!(
            pk.to_spki_pem(),
            public_pem,
            "{name}: PEM differs from pyca's"
        );
        assert_eq!(
            serde_json::to_value(pk.to_tuf_key()).unwrap(),
            entry["key"],
            "{name}: key object"
        );
        assert_eq!(
            pk.keyid(),
            entry["keyid"].as_str().unwrap(),
            "{name}: keyid"
        );
        let key: Key = serde_json::from_value(entry["key"].clone()).unwrap();
        assert_eq!(key_id(&key).unwrap(), pk.keyid(), "{name}");
        assert_eq!(PublicKey::from_tuf_key(&key).unwrap(), pk, "{name}");

        let private_pem = Zeroizing::new(read(&dir.join(name)));
        let private = PrivateKey::from_pkcs8_pem(&private_pem, None).unwrap();
        assert_eq!(private.public_key(), &pk, "{name}: private key");
        let sig = private.try_sign(b"fixture").unwrap();
        pk.verify(b"fixture", &sig.0).unwrap();
        if pk.algorithm() == Algorithm::Ed25519 {
            // Written the way pyca/cryptography writes Ed25519 keys.
            assert_eq!(
                private.to_pkcs8_pem(None).unwrap().as_str(),
                private_pem.as_str(),
                "{name}"
            );
        }
    }
    assert_eq!(seen.len(), 2, "the fixtures cover both algorithms");
}

#[test]
fn key_id_counts_keyval_extras_but_not_outer_fields() {
    // root-1's key from the python-tuf fixture; IDs computed with
    // securesystemslib's encode_canonical + sha256.
    let json = serde_json::json!({
        "keytype": "ed25519",
        "scheme": "ed25519",
        "keyval": {"public": "ae05456df1305f94fc72627599a6aaea41f2da64c158dfd13f6aff7966b367c8"},
    });
    let plain: Key = serde_json::from_value(json.clone()).unwrap();
    let id = "3a294ddea4652ba527117590ca52c9bec46ed137124762ddd015e13123d79789";
    assert_eq!(key_id(&plain).unwrap(), id);

    let mut outer = json.clone();
    outer["keyid_hash_algorithms"] = serde_json::json!(["sha256", "sha512"]);
    let outer: Key = serde_json::from_value(outer).unwrap();
    assert_eq!(key_id(&outer).unwrap(), id);

    let mut inner = json;
    inner["keyval"]["private"] = serde_json::json!("");
    inner["keyval"]["note"] = serde_json::json!("caf\u{e9} \"q\"");
    let inner: Key = serde_json::from_value(inner).unwrap();
    assert_eq!(
        key_id(&inner).unwrap(),
        "ccd726e906d2fe07061f20e0b39e280151b7579ef34316d4d8443d7a1cd6e600"
    );
}

#[test]
fn key_id_refuses_floats() {
    let key: Key = serde_json::from_value(serde_json::json!({
        "keytype": "ed25519",
        "scheme": "ed25519",
        "keyval": {"public": "00", "weight": 1.5},
    }))
    .unwrap();
    assert!(matches!(key_id(&key), Err(KeyError::KeyId(_))));
}

fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn reads_and_writes_pkcs8_the_way_openssl_does() {
    if !have_openssl() {
        skip_missing_peer("openssl");
        return;
    }
    let (scratch, dir) = scratch_dir("openssl");
    let pass = format!("pass:{}", std::str::from_utf8(PASSPHRASE).unwrap());
    let algorithms: [(&str, &[&str]); 2] = [
        (
            "p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
        ("ed25519", &["-algorithm", "ED25519"]),
    ];
    for (name, genpkey_args) in algorithms {
        let plain = dir.join(format!("{name}.pem"));
        let encrypted = dir.join(format!("{name}.enc.pem"));
        let public = dir.join(format!("{name}.pub.pem"));
        run(Command::new("openssl")
            .arg("genpkey")
            .args(genpkey_args)
            .arg("-out")
            .arg(&plain));
        run(Command::new("openssl")
            .args([
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-passout",
                &pass,
                "-in",
            ])
            .arg(&plain)
            .arg("-out")
            .arg(&encrypted));
        run(Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&plain)
            .arg("-out")
            .arg(&public));
        let pk = PublicKey::from_spki_pem(&read(&public)).unwrap();
        // OpenSSL and pyca write the same SPKI PEM.
        assert_eq!(pk.to_spki_pem(), read(&public), "{name}");

        let enc_pem = Zeroizing::new(read(&encrypted));
        assert!(enc_pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let key = PrivateKey::from_pkcs8_pem(&enc_pem, Some(PASSPHRASE)).unwrap();
        assert_eq!(key.public_key(), &pk, "{name}");
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(&enc_pem, Some(b"wrong")),
            Err(KeyError::WrongPassphrase)
        ));
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(&enc_pem, None),
            Err(KeyError::PassphraseRequired)
        ));
        let plain_key = PrivateKey::from_pkcs8_pem(&Zeroizing::new(read(&plain)), None).unwrap();
        assert_eq!(plain_key.public_key(), &pk);

        // And OpenSSL opens what we write, scrypt-encrypted.
        let ours = dir.join(format!("{name}.ours.pem"));
        std::fs::write(
            &ours,
            key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap().as_bytes(),
        )
        .unwrap();
        let out = run(Command::new("openssl")
            .args(["pkey", "-pubout", "-passin", &pass, "-in"])
            .arg(&ours));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), pk.to_spki_pem());
    }

    let p384 = dir.join("p384.pem");
    run(Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
        ])
        .arg(&p384));
    let err = PrivateKey::from_pkcs8_pem(&read(&p384), None).unwrap_err();
    assert!(matches!(err, KeyError::UnsupportedAlgorithm(_)), "{err}");
    drop(scratch);
}

#[test]
fn reads_and_writes_pkcs8_the_way_pyca_cryptography_does() {
    let Ok(python) = std::env::var("FWSIGN_TEST_PYTHON") else {
        skip_missing_peer("FWSIGN_TEST_PYTHON (a python with pyca/cryptography)");
        return;
    };
    let (scratch, dir) = scratch_dir("pyca");
    // Writes a BestAvailableEncryption PKCS#8 key and its SPKI PEM per
    // algorithm, then checks every `<name>.ours.pem` it is handed back.
    let script = r#"
import sys, pathlib
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
d = pathlib.Path(sys.argv[2]); pw = sys.argv[3].encode()
if sys.argv[1] == "make":
    for name, key in (("p256", ec.generate_private_key(ec.SECP256R1())),
                      ("ed25519", ed25519.Ed25519PrivateKey.generate())):
        (d / f"{name}.enc.pem").write_bytes(key.private_bytes(
            s.Encoding.PEM, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(pw)))
        (d / f"{name}.pub.pem").write_bytes(key.public_key().public_bytes(
            s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
else:
    for name in ("p256", "ed25519"):
        key = s.load_pem_private_key((d / f"{name}.ours.pem").read_bytes(), pw)
        pub = key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)
        assert pub == (d / f"{name}.pub.pem").read_bytes(), name
"#;
    let pass = std::str::from_utf8(PASSPHRASE).unwrap();
    run(Command::new(&python)
        .args(["-c", script, "make"])
        .arg(&dir)
        .arg(pass));
    for name in ["p256", "ed25519"] {
        let pk = PublicKey::from_spki_pem(&read(&dir.join(format!("{name}.pub.pem")))).unwrap();
        let enc = Zeroizing::new(read(&dir.join(format!("{name}.enc.pem"))));
        let key = PrivateKey::from_pkcs8_pem(&enc, Some(PASSPHRASE)).unwrap();
        assert_eq!(key.public_key(), &pk, "{name}");
        std::fs::write(
            dir.join(format!("{name}.ours.pem")),
            key.to_pkcs8_pem(Some(PASSPHRASE)).unwrap().as_bytes(),
        )
        .unwrap();
    }
    run(Command::new(&python)
        .args(["-c", script, "check"])
        .arg(&dir)
        .arg(pass));
    drop(scratch);
}
