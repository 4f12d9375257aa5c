//! The device path: every module here is `no_std`, allocation-free, and
//! linted so it cannot panic (no indexing, unchecked arithmetic, `unwrap`,
//! `expect` or `panic!`). The bootloader links exactly this; the host reaches
//! it through the re-exports at the crate root (`fwsign_sign::verify`, ...).

/// A `VerifyError` detail for people. A device reports reason codes and never
/// prints it, so without `std` it is empty and its text (about 1 KiB in all)
/// stays out of the bootloader's flash.
macro_rules! detail {
    ($text:literal) => {{
        #[cfg(feature = "std")]
        let text = $text;
        #[cfg(not(feature = "std"))]
        let text = "";
        text
    }};
}

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
