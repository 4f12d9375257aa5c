//! The firmware slot format, as `fwsign device pack` writes it and the
//! device reads it. All integers are little-endian.
//!
//! ```text
//! offset 0            header (HEADER_LEN bytes used, zero-padded to header_size)
//!   0  u32  magic        "FWSG"
//!   4  u16  format       1
//!   6  u16  reserved     0
//!   8  u32  header_size  power of two, >= 0x200: the image starts aligned,
//!                        so it can be linked for slot base + header_size
//!  12  u32  image_size
//!  16  u32  trailer_size
//!  20  u32  flags        0
//!  24  8 bytes reserved  0
//! offset header_size  the image
//! offset header_size + image_size   trailer
//!   0  u32  magic        "FWST"
//!   4  u32  trailer_size (equal to the header's)
//!   8  u16  entry count
//!  10  u16  reserved     0
//!  12  entries, each 4-byte aligned:
//!        u8 kind (1 target name, 2 root, 3 targets role), u8 reserved,
//!        u16 name length, u32 data length, name bytes, data bytes, padding
//! ```
//!
//! The header is not signed: everything it says is checked against signed
//! metadata (the image's length and hash) or only locates data that is.
//! Entries: one target name; root versions after the device's, ascending;
//! then the targets chain, top-level `targets` first, down to the role that
//! lists the image. Each metadata entry is a canonical JSON envelope.

/// `"FWSG"`.
pub const HEADER_MAGIC: [u8; 4] = *b"FWSG";
/// `"FWST"`.
pub const TRAILER_MAGIC: [u8; 4] = *b"FWST";
/// The format version written in the header.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the header that carry fields.
pub const HEADER_LEN: usize = 32;
/// The smallest header size (and image alignment).
pub const MIN_HEADER_SIZE: u32 = 0x200;
/// Bytes before the first trailer entry.
pub const TRAILER_PREFIX_LEN: usize = 12;
/// Bytes of an entry before its name.
pub const ENTRY_PREFIX_LEN: usize = 8;

/// Entry kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EntryKind {
    /// The name of the target the image is.
    TargetName = 1,
    /// A root metadata envelope.
    Root = 2,
    /// A targets role envelope; the entry's name is the role name.
    Targets = 3,
}

/// What is wrong with a slot's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayoutError {
    /// The header magic is wrong (an empty or foreign slot).
    HeaderMagic,
    /// A format version this verifier does not know.
    Format,
    /// `header_size` is not a power of two of at least 0x200.
    HeaderSize,
    /// The sizes do not fit in the slot.
    Bounds,
    /// The trailer magic or length is wrong.
    TrailerMagic,
    /// A trailer entry is malformed or runs past the trailer.
    Entry,
}

/// The parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Where the image starts.
    pub header_size: u32,
    /// The image's length.
    pub image_size: u32,
    /// The trailer's length.
    pub trailer_size: u32,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

impl Header {
    /// Parses the first [`HEADER_LEN`] bytes of a slot of `slot_size` bytes.
    pub fn parse(bytes: &[u8], slot_size: u32) -> Result<Self, LayoutError> {
        if bytes.get(..4) != Some(&HEADER_MAGIC[..]) {
            return Err(LayoutError::HeaderMagic);
        }
        if u16_at(bytes, 4) != Some(FORMAT_VERSION) {
            return Err(LayoutError::Format);
        }
        let header_size = u32_at(bytes, 8).ok_or(LayoutError::Bounds)?;
        let image_size = u32_at(bytes, 12).ok_or(LayoutError::Bounds)?;
        let trailer_size = u32_at(bytes, 16).ok_or(LayoutError::Bounds)?;
        if !header_size.is_power_of_two() || header_size < MIN_HEADER_SIZE {
            return Err(LayoutError::HeaderSize);
        }
        let end = header_size
            .checked_add(image_size)
            .and_then(|e| e.checked_add(trailer_size))
            .ok_or(LayoutError::Bounds)?;
        if end > slot_size || (trailer_size as usize) < TRAILER_PREFIX_LEN {
            return Err(LayoutError::Bounds);
        }
        Ok(Self {
            header_size,
            image_size,
            trailer_size,
        })
    }

    /// Offset of the trailer in the slot.
    pub fn trailer_offset(&self) -> u32 {
        // Checked in `parse`.
        self.header_size.saturating_add(self.image_size)
    }
}

/// One trailer entry, borrowed from the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'t> {
    /// What it holds.
    pub kind: EntryKind,
    /// Its name (role name; empty for roots).
    pub name: &'t [u8],
    /// Its data.
    pub data: &'t [u8],
}

/// The entries of a trailer read into memory.
#[derive(Debug, Clone)]
pub struct Entries<'t> {
    trailer: &'t [u8],
    pos: usize,
    left: u16,
}

/// Checks a trailer's prefix and returns its entries.
pub fn entries(trailer: &[u8]) -> Result<Entries<'_>, LayoutError> {
    if trailer.get(..4) != Some(&TRAILER_MAGIC[..]) {
        return Err(LayoutError::TrailerMagic);
    }
    let len = u32_at(trailer, 4).ok_or(LayoutError::TrailerMagic)?;
    if usize::try_from(len).ok() != Some(trailer.len()) {
        return Err(LayoutError::TrailerMagic);
    }
    let count = u16_at(trailer, 8).ok_or(LayoutError::Entry)?;
    Ok(Entries {
        trailer,
        pos: TRAILER_PREFIX_LEN,
        left: count,
    })
}

impl<'t> Iterator for Entries<'t> {
    type Item = Result<Entry<'t>, LayoutError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left = self.left.saturating_sub(1);
        Some(self.read_entry())
    }
}

impl<'t> Entries<'t> {
    fn read_entry(&mut self) -> Result<Entry<'t>, LayoutError> {
        let t = self.trailer;
        let kind = match t.get(self.pos) {
            Some(1) => EntryKind::TargetName,
            Some(2) => EntryKind::Root,
            Some(3) => EntryKind::Targets,
            _ => return Err(LayoutError::Entry),
        };
        let name_len =
            usize::from(u16_at(t, self.pos.saturating_add(2)).ok_or(LayoutError::Entry)?);
        let data_len =
            usize::try_from(u32_at(t, self.pos.saturating_add(4)).ok_or(LayoutError::Entry)?)
                .map_err(|_| LayoutError::Entry)?;
        let name_start = self
            .pos
            .checked_add(ENTRY_PREFIX_LEN)
            .ok_or(LayoutError::Entry)?;
        let data_start = name_start.checked_add(name_len).ok_or(LayoutError::Entry)?;
        let end = data_start.checked_add(data_len).ok_or(LayoutError::Entry)?;
        let name = t.get(name_start..data_start).ok_or(LayoutError::Entry)?;
        let data = t.get(data_start..end).ok_or(LayoutError::Entry)?;
        // Next entry at the next multiple of 4.
        self.pos = end
            .checked_add(3)
            .map(|e| e & !3)
            .ok_or(LayoutError::Entry)?;
        Ok(Entry { kind, name, data })
    }
}

/// Building slots on the host (`fwsign device pack`).
#[cfg(feature = "std")]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "host-side writer over lengths it has just checked; never on the device"
)]
pub mod pack {
    use std::vec::Vec;

    use super::{
        EntryKind, FORMAT_VERSION, HEADER_LEN, HEADER_MAGIC, MIN_HEADER_SIZE, TRAILER_MAGIC,
        TRAILER_PREFIX_LEN,
    };

    /// Why a slot cannot be built.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum PackError {
        /// `header_size` is not a power of two of at least 0x200.
        HeaderSize(u32),
        /// The slot would be larger than `slot_size`.
        TooLarge {
            /// The bytes needed.
            needed: u64,
            /// The slot size.
            slot_size: u64,
        },
        /// A name or entry is too long for the format.
        EntryTooLong,
    }

    impl core::fmt::Display for PackError {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self {
                Self::HeaderSize(h) => write!(
                    f,
                    "header size {h:#x} must be a power of two of at least {MIN_HEADER_SIZE:#x}"
                ),
                Self::TooLarge { needed, slot_size } => write!(
                    f,
                    "the slot needs {needed} bytes but --slot-size is {slot_size}"
                ),
                Self::EntryTooLong => {
                    f.write_str("a metadata entry is too large for the slot format")
                }
            }
        }
    }

    impl std::error::Error for PackError {}

    /// Builds a slot: header, image, trailer. `roots` are canonical root
    /// envelopes in ascending version; `chain` the canonical targets
    /// envelopes with their role names, from `targets` down.
    pub fn build_slot(
        header_size: u32,
        slot_size: u32,
        image: &[u8],
        target_name: &str,
        roots: &[Vec<u8>],
        chain: &[(std::string::String, Vec<u8>)],
    ) -> Result<Vec<u8>, PackError> {
        if !header_size.is_power_of_two() || header_size < MIN_HEADER_SIZE {
            return Err(PackError::HeaderSize(header_size));
        }
        let mut trailer = Vec::new();
        trailer.extend_from_slice(&TRAILER_MAGIC);
        trailer.extend_from_slice(&[0; 4]); // length, patched below
        let count = 1 + roots.len() + chain.len();
        let count = u16::try_from(count).map_err(|_| PackError::EntryTooLong)?;
        trailer.extend_from_slice(&count.to_le_bytes());
        trailer.extend_from_slice(&[0; 2]);
        debug_assert_eq!(trailer.len(), TRAILER_PREFIX_LEN);
        let mut push = |kind: EntryKind, name: &[u8], data: &[u8]| -> Result<(), PackError> {
            let name_len = u16::try_from(name.len()).map_err(|_| PackError::EntryTooLong)?;
            let data_len = u32::try_from(data.len()).map_err(|_| PackError::EntryTooLong)?;
            trailer.push(kind as u8);
            trailer.push(0);
            trailer.extend_from_slice(&name_len.to_le_bytes());
            trailer.extend_from_slice(&data_len.to_le_bytes());
            trailer.extend_from_slice(name);
            trailer.extend_from_slice(data);
            while trailer.len() % 4 != 0 {
                trailer.push(0);
            }
            Ok(())
        };
        push(EntryKind::TargetName, target_name.as_bytes(), &[])?;
        for root in roots {
            push(EntryKind::Root, b"", root)?;
        }
        for (role, envelope) in chain {
            push(EntryKind::Targets, role.as_bytes(), envelope)?;
        }
        let trailer_len = u32::try_from(trailer.len()).map_err(|_| PackError::EntryTooLong)?;
        trailer[4..8].copy_from_slice(&trailer_len.to_le_bytes());
        let image_len = u32::try_from(image.len()).map_err(|_| PackError::EntryTooLong)?;
        let needed = u64::from(header_size) + image.len() as u64 + trailer.len() as u64;
        if needed > u64::from(slot_size) {
            return Err(PackError::TooLarge {
                needed,
                slot_size: u64::from(slot_size),
            });
        }
        let mut slot = Vec::with_capacity(needed as usize);
        slot.extend_from_slice(&HEADER_MAGIC);
        slot.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        slot.extend_from_slice(&[0; 2]);
        slot.extend_from_slice(&header_size.to_le_bytes());
        slot.extend_from_slice(&image_len.to_le_bytes());
        slot.extend_from_slice(&trailer_len.to_le_bytes());
        slot.extend_from_slice(&0u32.to_le_bytes());
        slot.extend_from_slice(&[0; 8]);
        debug_assert_eq!(slot.len(), HEADER_LEN);
        slot.resize(header_size as usize, 0);
        slot.extend_from_slice(image);
        slot.extend_from_slice(&trailer);
        Ok(slot)
    }
}
