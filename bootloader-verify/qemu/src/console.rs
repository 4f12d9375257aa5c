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

    /// Appends `n` in decimal.
    pub fn u64(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start = start.saturating_sub(1);
            if let Some(d) = digits.get_mut(start) {
                // `n % 10` is below 10, so the cast keeps every bit.
                *d = b'0'.saturating_add((n % 10) as u8);
            }
            n /= 10;
            if n == 0 || start == 0 {
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
