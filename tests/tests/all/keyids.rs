//! Key IDs agree with live python-tuf: for keys fwsign generates, the key
//! object fwsign writes and the key ID it computes are exactly what
//! securesystemslib derives from the same public key file. A mismatch here
//! means python-tuf clients would not find fwsign's signatures.

use std::path::PathBuf;
use std::process::Command;

use fwsign_keys::{Algorithm, PrivateKey, PublicKey};

use crate::peers;

/// Writes `pk` as SPKI PEM to a fresh file and returns its path.
fn write_public_pem(pk: &PublicKey, tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "fwsign-keyids-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key.pub.pem");
    std::fs::write(&path, pk.to_spki_pem()).unwrap();
    path
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
    let pem_path = write_public_pem(pk, &alg.to_string());

    let script = peers::workspace_root().join("tests/tools/keyid.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&pem_path)
        .output()
        .unwrap_or_else(|e| panic!("running {} {}: {e}", python.display(), script.display()));
    if let Some(dir) = pem_path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
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
