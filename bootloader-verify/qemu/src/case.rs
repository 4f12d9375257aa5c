//! Reading the little-endian cases QEMU's loader places in PSRAM.

/// Reads a case's fields in order.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Checks the case's magic and format version, which every case starts
    /// with.
    pub fn header(&mut self, magic: &[u8; 4], format: u32) -> Result<(), &'static str> {
        if self.take(4)? != magic {
            return Err("no case magic (is the case loaded at 0x21000000?)");
        }
        if self.u32()? != format {
            return Err("unknown case format");
        }
        Ok(())
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("length overflow")?;
        let out = self.bytes.get(self.pos..end).ok_or("case truncated")?;
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        self.take(N)?.try_into().map_err(|_| "case truncated")
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A little-endian `i64`.
    pub fn i64(&mut self) -> Result<i64, &'static str> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A `u32` length.
    pub fn length(&mut self) -> Result<usize, &'static str> {
        usize::try_from(self.u32()?).map_err(|_| "length")
    }

    /// `n` bytes, then the padding to the next multiple of 4.
    pub fn padded(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let out = self.take(n)?;
        self.take(n.wrapping_neg() & 3)?;
        Ok(out)
    }
}
