//! Fixed keys, made from constant seeds, so the signed fixtures and the
//! graphs the search target generates are the same on every run.

use fwsign_keys::PrivateKey;

/// The Ed25519 key whose 32-byte seed is `seed` repeated.
pub fn ed25519(seed: u8) -> PrivateKey {
    // PKCS#8 v1 (RFC 8410): PrivateKeyInfo { 0, { id-Ed25519 }, OCTET STRING { OCTET STRING seed } }
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[seed; 32]);
    PrivateKey::from_pkcs8_der(&der, None).expect("a fixed Ed25519 PKCS#8 key")
}

/// The P-256 key whose scalar is `seed` repeated over 32 bytes (`seed` > 0,
/// so the scalar is in range).
pub fn p256(seed: u8) -> PrivateKey {
    assert!(seed > 0, "the zero scalar is not a key");
    // PKCS#8: PrivateKeyInfo { 0, { id-ecPublicKey, prime256v1 },
    // OCTET STRING ECPrivateKey { 1, OCTET STRING d } } (RFC 5915, no public key).
    let mut der = vec![
        0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25,
        0x02, 0x01, 0x01, 0x04, 0x20,
    ];
    der.extend_from_slice(&[seed; 32]);
    PrivateKey::from_pkcs8_der(&der, None).expect("a fixed P-256 PKCS#8 key")
}
