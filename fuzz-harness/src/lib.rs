//! The logic of fwsign's fuzz targets.
//!
//! Each target in `fuzz/fuzz_targets/` (the cargo-fuzz package, built on the
//! stable toolchain with `--sanitizer none`) is a few lines that hand
//! libFuzzer's input to one function here. The same functions replay the
//! committed corpora (`fuzz/corpus/<target>/`) and the crash regressions
//! (`fuzz/regressions/<target>/`) under `cargo test`, so every seed and every
//! input that once failed is checked on each run without libFuzzer.
//!
//! A function returns normally when the property holds and panics (which
//! libFuzzer reports as a crash) when it does not:
//!
//! | target | property |
//! |---|---|
//! | [`canonical_reader`] | the canonical reader never panics; what it accepts it navigates consistently, and it is exactly the canonical form of what the strict parser reads |
//! | [`parse_json_vs_serde`] | `parse_json` and `serde_json` agree on every input both accept; each refuses the other accepts only for a documented reason |
//! | [`verify_slot`] | the device verifier never panics on any slot bytes; a refusal is a reason code; an accepted slot's image is one the fixed release signed for that name |
//! | [`verify_slot_structured`] | as [`verify_slot`], over slots assembled from the release's real envelopes, images and names, with device state and byte flips from the input |
//! | [`target_search`] | the ordered delegation search, over generated and really signed delegation graphs, loads the roles a python-tuf-style reference search loads, in the same order, and ends the same way |
//! | [`bundle_archive`] | opening and reading a bundle zip never panics |

#![forbid(unsafe_code)]

pub mod bundle;
pub mod canonical;
pub mod fixture;
pub mod keys;
pub mod parse;
pub mod replay;
pub mod search;
pub mod slot;

pub use bundle::bundle_archive;
pub use canonical::canonical_reader;
pub use parse::parse_json_vs_serde;
pub use search::target_search;
pub use search::target_search_outcome;
pub use slot::{verify_slot, verify_slot_structured};
pub use slot::{verify_slot_outcome, verify_slot_structured_outcome};

/// Reads a fuzz input a byte at a time; past its end every byte is zero, so
/// any input, even empty, decodes to something.
#[derive(Debug, Clone)]
pub struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    /// Reads `data` from the start.
    pub fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    /// The next byte, or 0 past the end.
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// One of `n` choices (`n` > 0).
    pub fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.0
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
