//! The device path: every module here is `no_std`, allocation-free, and
//! linted so it cannot panic (no indexing, unchecked arithmetic, `unwrap`,
//! `expect` or `panic!`). The bootloader links exactly this; the host reaches
//! it through the re-exports at the crate root (`fwsign_sign::verify`, ...).

pub mod key_types;
#[cfg(feature = "p256")]
pub(crate) mod p256_encoding;
pub mod path_match;
pub mod verify;
pub mod workflow;

/// SHA-256 over `parts` in order. One out-of-line copy for the key
/// identities and path hash prefixes: inlined at each use, the hash's
/// buffering code costs a bootloader several hundred bytes per copy.
#[inline(never)]
pub(crate) fn sha256_of(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}
