//! SHA-256 over the image, in software or on a hardware engine.
//!
//! For images of hundreds of KiB the hash costs more than the signatures, so
//! a bootloader on a chip with a SHA-256 peripheral plugs it in here (from C,
//! through the callbacks of the FFI crate).

use fwsign_core::Sha256Stream;

/// A SHA-256 implementation: `start`, any number of `update`s, `finish`.
pub trait Sha256Engine {
    /// Begins a new digest.
    fn start(&mut self);
    /// Adds bytes.
    fn update(&mut self, data: &[u8]);
    /// The digest of everything since `start`.
    fn finish(&mut self) -> [u8; 32];
}

/// The `sha2` crate's software SHA-256, the default: the same out-of-line
/// copy the verification core hashes keys and paths with.
#[derive(Debug, Clone, Default)]
pub struct SoftwareSha256 {
    state: Sha256Stream,
}

impl Sha256Engine for SoftwareSha256 {
    fn start(&mut self) {
        self.state = Sha256Stream::default();
    }

    fn update(&mut self, data: &[u8]) {
        self.state.update(data);
    }

    fn finish(&mut self) -> [u8; 32] {
        self.state.finish()
    }
}
