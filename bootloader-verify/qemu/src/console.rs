//! Output lines on the host's console through semihosting, formatted without
//! `core::fmt` (which would add several KiB to the measured flash).

/// 10^19 down to 1: every power of ten a `u64` holds.
const POWERS_OF_TEN: [u64; 20] = [
    10_000_000_000_000_000_000,
    1_000_000_000_000_000_000,
    100_000_000_000_000_000,
    10_000_000_000_000_000,
    1_000_000_000_000_000,
    100_000_000_000_000,
    10_000_000_000_000,
    1_000_000_000_000,
    100_000_000_000,
    10_000_000_000,
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// One output line, built in a fixed buffer and printed at once. Text past
/// the buffer is cut: the output is for tests and benchmarks.
pub struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; 512],
            len: 0,
        }
    }

    /// Appends bytes, cut at the buffer's end. Out of line: inlined at
    /// every call it would put the harness's own code into the flash figures
    /// `bench/device` reports.
    #[inline(never)]
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        for &c in b {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = c;
                self.len = self.len.saturating_add(1);
            }
        }
        self
    }

    /// Appends text.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends `n` in decimal. The digits come from subtracting powers of
    /// ten, not from dividing: a 64-bit division is a library routine
    /// (`__aeabi_uldivmod`, about 0.9 KiB) that nothing else in the images
    /// needs, and it would count as bootloader flash.
    pub fn u64(&mut self, n: u64) -> &mut Self {
        let mut rest = n;
        let mut started = false;
        for (i, &power) in POWERS_OF_TEN.iter().enumerate() {
            let mut digit = b'0';
            while rest >= power {
                rest = rest.wrapping_sub(power);
                digit = digit.wrapping_add(1);
            }
            // Leading zeros are skipped; the last digit is always printed.
            if digit != b'0' || started || i + 1 == POWERS_OF_TEN.len() {
                started = true;
                self.bytes(&[digit]);
            }
        }
        self
    }

    /// Appends `n` in decimal, with its sign.
    pub fn i64(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.str("-");
        }
        self.u64(n.unsigned_abs())
    }

    /// Prints the line and a newline.
    pub fn print(&mut self) {
        self.str("\n");
        crate::board::write_console(self.buf.get(..self.len).unwrap_or(&[]));
    }
}
