//! Streaming SHA-256: the one copy the core and the device hash everything
//! with (the image, key identities, path hash prefixes, TAP 15 bins).
//!
//! The compression function is the `sha2` crate's
//! ([`sha2::block_api::compress256`], its unrolled or compact backend as the
//! build selects); the buffering and the FIPS 180-4 padding are here. The
//! crate's own buffer pads by clearing the block from an arbitrary offset,
//! which links compiler_builtins' `__aeabi_memclr` (208 B), which nothing
//! else on the device calls; here the padding is fed through `update`.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use sha2::block_api::compress256;

/// FIPS 180-4 section 5.3.3: SHA-256's initial hash value.
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Streaming SHA-256.
#[derive(Debug, Clone)]
pub struct Sha256Stream {
    state: [u32; 8],
    /// The bytes of the block being filled: the first `len % 64`.
    block: [u8; 64],
    /// Bytes added since the start (the padding's length field).
    len: u64,
}

impl Default for Sha256Stream {
    fn default() -> Self {
        Self {
            state: INITIAL,
            block: [0; 64],
            len: 0,
        }
    }
}

impl Sha256Stream {
    /// Adds bytes.
    #[inline(never)] // flash: see the module note
    pub fn update(&mut self, data: &[u8]) {
        // `len % 64`: below 64, so the cast loses nothing.
        let used = (self.len & 63) as usize;
        self.len = self.len.wrapping_add(data.len() as u64);
        let mut data = data;
        if used != 0 {
            let free = self.block.get_mut(used..).unwrap_or_default();
            let n = free.len().min(data.len());
            let (head, rest) = data.split_at_checked(n).unwrap_or((data, &[]));
            if let Some(into) = free.get_mut(..n) {
                into.copy_from_slice(head);
            }
            if n < free.len() {
                // The block is still not full (and `data` is used up).
                return;
            }
            compress256(&mut self.state, core::slice::from_ref(&self.block));
            data = rest;
        }
        // Whole blocks straight from the input, the rest kept.
        let (blocks, tail) = data.as_chunks::<64>();
        compress256(&mut self.state, blocks);
        if let Some(into) = self.block.get_mut(..tail.len()) {
            into.copy_from_slice(tail);
        }
    }

    /// The digest of everything added, and a fresh start.
    #[inline(never)] // flash: see the module note
    pub fn finish(&mut self) -> [u8; 32] {
        // FIPS 180-4 section 5.1.1: a 1 bit, zeros up to 56 bytes into a
        // block, and the message length in bits, big-endian; the last
        // `update` then compresses the final block.
        let bits = self.len.wrapping_shl(3);
        self.update(&[0x80]);
        // A zero at a time (at most 63 calls once per digest, a few hundred
        // instructions): no block of zeros in flash.
        while self.len & 63 != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let words = self.state.map(u32::to_be_bytes);
        self.state = INITIAL;
        self.len = 0;
        // 8 words of 4 bytes: always 32 (no zeroed array filled in place).
        words.as_flattened().try_into().unwrap_or_default()
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

#[cfg(test)]
#[path = "sha256_tests.rs"]
mod tests;
