//! Output lines on the host's console through semihosting, formatted without
//! `core::fmt` (which would add several KiB to the measured flash).

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

    /// Appends `n` in decimal. The digits come from [`div10`], which
    /// divides in 32-bit steps: a 64-bit division is a library routine
    /// (`__aeabi_uldivmod`, about 0.9 KiB) that nothing else in the images
    /// needs, and it would count as bootloader flash.
    pub fn u64(&mut self, n: u64) -> &mut Self {
        // Filled from the end: the least significant digit comes first.
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = n;
        loop {
            let (quotient, digit) = div10(rest);
            start = start.saturating_sub(1);
            if let Some(slot) = digits.get_mut(start) {
                *slot = b'0' | digit;
            }
            rest = quotient;
            if rest == 0 {
                break;
            }
        }
        self.bytes(digits.get(start..).unwrap_or(&[]))
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

/// `n / 10` and `n % 10`, by long division in 32-bit steps: the high
/// word, then the low word's two 16-bit halves, each step dividing a number
/// below `10 << 16` (or a whole `u32`), which the Cortex-M4 does without a
/// library routine. Smaller than the table of the twenty powers of ten a
/// `u64` holds (160 B of flash on its own) and the subtraction loop over it.
fn div10(n: u64) -> (u64, u8) {
    let (high, low) = ((n >> 32) as u32, n as u32);
    let (q_high, r) = (high / 10, high % 10);
    // `r` < 10, so each `part` < 10 << 16: no overflow.
    let part = (r << 16) | (low >> 16);
    let (q_mid, r) = (part / 10, part % 10);
    let part = (r << 16) | (low & 0xffff);
    let (q_low, r) = (part / 10, part % 10);
    let quotient = (u64::from(q_high) << 32) | u64::from((q_mid << 16) | q_low);
    // `r` < 10: it fits a `u8`.
    (quotient, r as u8)
}
