//! Streaming SHA-256, the `sha2` crate's: the one copy the core and the
//! device hash everything with (the image, key identities, path hash
//! prefixes, TAP 15 bins).
//!
//! The whole hash, padding included, is the crate's: fwsign implements no
//! part of a cryptographic primitive. (Doing the buffering and padding here
//! over `sha2`'s compression function would save about 260 B of device
//! flash, docs/performance.md says where; it was not taken.)

/// Streaming SHA-256.
#[derive(Debug, Clone, Default)]
pub struct Sha256Stream(sha2::Sha256);

impl Sha256Stream {
    /// Adds bytes.
    #[inline(never)] // flash: see the crate note
    pub fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }

    /// The digest of everything added, and a fresh start.
    #[inline(never)] // flash: see the crate note
    pub fn finish(&mut self) -> [u8; 32] {
        // In place: `finalize(take(..))` builds a fresh state and moves the
        // old one out first (8 B more flash, 100 B more stack).
        sha2::Digest::finalize_reset(&mut self.0).into()
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
