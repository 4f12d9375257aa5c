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

pub(crate) mod hex;
pub mod key_types;
#[cfg(all(feature = "p256-asm", target_arch = "arm"))]
mod p256_cm4;
#[cfg(feature = "p256")]
pub(crate) mod p256_encoding;
pub mod path_match;
pub mod search;
pub mod target_check;
mod target_entry;
pub mod verify;
pub mod workflow;

/// Streaming SHA-256 (the `sha2` crate's) with its steps out of line, so a
/// bootloader carries one copy of the hash's buffering code for everything
/// it hashes: the image (through `fwsign-bootloader-verify`'s software hash
/// engine), key identities and path hash prefixes. Inlined at each use, that
/// code costs several hundred bytes of flash per copy.
#[derive(Debug, Clone, Default)]
pub struct Sha256Stream(sha2::Sha256);

impl Sha256Stream {
    /// Adds bytes.
    #[inline(never)]
    pub fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }

    /// The digest of everything added, and a fresh start.
    #[inline(never)]
    pub fn finish(&mut self) -> [u8; 32] {
        sha2::Digest::finalize(core::mem::take(&mut self.0)).into()
    }
}

/// SHA-256 over `parts` in order.
pub(crate) fn sha256_of(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256Stream::default();
    for part in parts {
        h.update(part);
    }
    h.finish()
}
