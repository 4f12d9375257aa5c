//! Key IDs agree with live python-tuf: for keys fwsign generates, the key
//! object fwsign writes and the key ID it computes are exactly what
//! securesystemslib derives from the same public key file. A mismatch here
//! means python-tuf clients would not find fwsign's signatures.

use std::path::PathBuf;
use std::process::Command;

use fwsign_keys::{Algorithm, PrivateKey, PublicKey};
use fwsign_tests::Scratch;

use crate::peers;

/// Writes `pk` as SPKI PEM to a file in a fresh scratch directory; returns
/// the directory (removed when dropped) and the file's path.
fn write_public_pem(pk: &PublicKey, tag: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(&format!("keyids-{tag}"));
    let path = dir.join("key.pub.pem");
    std::fs::write(&path, pk.to_spki_pem()).unwrap();
    (dir, path)
}

/// Asks securesystemslib (`tests/tools/keyid.py`) for the key ID and key
/// object of a freshly generated fwsign key, and compares them with
/// fwsign's.
fn assert_keyid_matches_python_tuf(alg: Algorithm) {
    let Some(python) = peers::python() else {
        return;
    };
    let key = PrivateKey::generate(alg).unwrap();
    let pk = key.public_key();
    let (pem_dir, pem_path) = write_public_pem(pk, &alg.to_string());

    let script = peers::workspace_root().join("tests/tools/keyid.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&pem_path)
        .output()
        .unwrap_or_else(|e| panic!("running {} {}: {e}", python.display(), script.display()));
    drop(pem_dir);
    assert!(
        out.status.success(),
        "keyid.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(
        serde_json::to_value(pk.to_tuf_key()).unwrap(),
        theirs["key"],
        "{alg}: key object differs from securesystemslib's"
    );
    assert_eq!(
        serde_json::Value::String(pk.keyid()),
        theirs["keyid"],
        "{alg}: key ID differs from securesystemslib's"
    );
    // And the signer's view agrees with the key's.
    assert_eq!(fwsign_keys::TufSigner::keyid(&key), pk.keyid(), "{alg}");
}

#[test]
fn keyid_matches_python_tuf_for_ed25519() {
    assert_keyid_matches_python_tuf(Algorithm::Ed25519);
}

#[test]
fn keyid_matches_python_tuf_for_p256() {
    assert_keyid_matches_python_tuf(Algorithm::EcdsaP256);
}
