//! # fwsign-keys: keys, signing and verified documents on the host
//!
//! The host half of trust, built on `fwsign-core`: key files and TUF key
//! objects, the [`TufSigner`] trait every signing key implements (a key
//! file here, an HSM key in `fwsign-hsm`), canonical documents and their
//! signatures ([`document`]), the client workflow's trusted set
//! ([`trusted_set`]: every check is the core's), the host's target search
//! ([`search_host`]'s arena and memory around the core's search), crash-safe
//! file writes ([`atomic_write`]) and k-of-n key backup ([`key_backup`]).
//! [`ErrorClass`] is the one vocabulary every host library's errors are
//! classified in, which the CLI maps to exit codes.
//!
//! ## Keys
//!
//! Everything here has to agree byte for byte with what python-tuf and
//! securesystemslib write, because a key ID is a hash over a serialisation:
//! [`PublicKey::to_tuf_key`] produces exactly securesystemslib's key object
//! (SPKI PEM as pyca/cryptography writes it for ECDSA, lowercase hex for
//! Ed25519) and [`key_id`] is securesystemslib's `compute_default_keyid`.
//!
//! Private keys are read from and written to PKCS#8, plain or encrypted with
//! PBES2, which is what both OpenSSL (`openssl pkcs8 -topk8 -v2 aes-256-cbc`)
//! and pyca/cryptography (`BestAvailableEncryption`) produce. Secret material
//! only ever sits in buffers that are wiped when dropped.
//!
//! ## Layout
//!
//! `algorithm` names the algorithms, `public_key` holds SPKI, TUF key objects
//! and key IDs, `private_key` holds key files and PKCS#8 encryption, `signer`
//! holds [`TufSigner`], and `error` holds [`KeyError`]. The submodules are
//! private and everything public is re-exported at the crate root
//! (`fwsign_keys::PrivateKey`).

#![forbid(unsafe_code)]

use pkcs8::ObjectIdentifier;

pub mod atomic_write;
pub mod document;
mod error_class;
pub mod key_backup;
#[cfg(feature = "rsa")]
pub mod rsa_pss;
pub mod search_host;
pub mod secret_file;
pub mod trusted_set;

pub use error_class::ErrorClass;

mod algorithm;
mod error;
mod private_key;
mod public_key;
mod signer;
#[cfg(test)]
mod tests;

pub use algorithm::Algorithm;
pub use error::KeyError;
pub use private_key::PrivateKey;
pub use public_key::{PublicKey, key_id};
pub use signer::{SignatureBytes, TufSigner};

/// `id-ecPublicKey` (RFC 5480): the algorithm of every EC key; the curve is
/// in the parameters.
const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / `secp256r1` (RFC 5480).
const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `id-Ed25519` (RFC 8410).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// PEM label of an SPKI public key (RFC 7468 section 13).
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";
/// PEM label of a plain PKCS#8 private key (RFC 7468 section 10).
const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
/// PEM label of an encrypted PKCS#8 private key (RFC 7468 section 11).
const ENCRYPTED_PRIVATE_KEY_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// securesystemslib's names, which are what key IDs are computed over.
const TUF_KEYTYPE_ED25519: &str = "ed25519";
const TUF_SCHEME_ED25519: &str = "ed25519";
const TUF_KEYTYPE_ECDSA: &str = "ecdsa";
/// The keytype older securesystemslib releases wrote for P-256 keys; still
/// found in repositories made back then.
const TUF_KEYTYPE_ECDSA_LEGACY: &str = "ecdsa-sha2-nistp256";
const TUF_SCHEME_ECDSA_P256: &str = "ecdsa-sha2-nistp256";

// scrypt cost for keys we encrypt: pkcs8's own recommended parameters
// (`pbes2::Parameters::generate_scrypt`). N = 2^14 with r = 8 stays under
// OpenSSL 3's default 32 MiB scrypt memory limit, so `openssl pkey` can open
// what we write; a larger N would be refused there.
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const PBES2_SALT_LEN: usize = 16;
const AES_BLOCK_LEN: usize = 16;

// Both signing-key types must wipe their scalar or seed when dropped; that
// depends on crate features (ed25519-dalek's `zeroize`), so check it here
// rather than trust the manifest to keep saying so.
const _: () = {
    const fn zeroizes_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroizes_on_drop::<p256::ecdsa::SigningKey>();
    zeroizes_on_drop::<ed25519_dalek::SigningKey>();
};
