//! Writing slots and roots in the forms flashing tools and firmware builds
//! take: a slot padded to its flash region with the erased value, Intel
//! HEX at a load address, and a root as a C array.

use std::string::String;
use std::vec::Vec;
use std::{fmt::Write as _, format};

/// Why a slot or root cannot be written in the form asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The slot is larger than the region it is padded to.
    LargerThanSlot {
        /// The slot's length.
        len: u64,
        /// The region's size.
        slot_size: u64,
    },
    /// The data would run past the 32-bit address space Intel HEX (with
    /// extended linear addresses) can address.
    AddressOverflow {
        /// The load address.
        base: u32,
        /// The data's length.
        len: u64,
    },
    /// Not a C identifier the array can be named.
    CName(String),
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::LargerThanSlot { len, slot_size } => write!(
                f,
                "the slot is {len} bytes, larger than the {slot_size}-byte region it is padded to"
            ),
            Self::AddressOverflow { base, len } => write!(
                f,
                "{len} bytes at base address {base:#010x} run past the 32-bit address space (last address {:#x})",
                u64::from(*base) + len.saturating_sub(1)
            ),
            Self::CName(name) => write!(
                f,
                "{name:?} is not a C identifier the array can be named (letters, digits and _, not starting with a digit, at most 63 characters, not a C keyword)"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Fills `slot` to `slot_size` bytes with `erased`, the value erased flash
/// reads as (0xff on most NOR flash), so the file programs the whole
/// region. The header, image and trailer are unchanged.
pub fn pad(slot: &mut Vec<u8>, slot_size: u32, erased: u8) -> Result<(), EncodeError> {
    let len = slot.len() as u64;
    if len > u64::from(slot_size) {
        return Err(EncodeError::LargerThanSlot {
            len,
            slot_size: u64::from(slot_size),
        });
    }
    slot.resize(slot_size as usize, erased);
    Ok(())
}

/// Bytes of data per Intel HEX data record.
pub const IHEX_RECORD_DATA: usize = 16;

fn record(out: &mut String, address: u16, kind: u8, data: &[u8]) {
    let [hi, lo] = address.to_be_bytes();
    // Records carry at most 16 data bytes here.
    let len = u8::try_from(data.len()).unwrap_or(u8::MAX);
    let mut sum = len.wrapping_add(hi).wrapping_add(lo).wrapping_add(kind);
    let _ = write!(out, ":{len:02X}{address:04X}{kind:02X}");
    for b in data {
        sum = sum.wrapping_add(*b);
        let _ = write!(out, "{b:02X}");
    }
    let _ = writeln!(out, "{:02X}", 0u8.wrapping_sub(sum));
}

/// `data` as Intel HEX loaded at `base`: an extended linear address record
/// (type 04) before the first data record and at every 64 KiB boundary,
/// data records (type 00) of [`IHEX_RECORD_DATA`] bytes that never cross
/// one, and the end-of-file record (type 01).
pub fn intel_hex(data: &[u8], base: u32) -> Result<String, EncodeError> {
    let len = data.len() as u64;
    if u64::from(base) + len > 1 << 32 {
        return Err(EncodeError::AddressOverflow { base, len });
    }
    let mut out = String::with_capacity(data.len() / IHEX_RECORD_DATA * 44 + 64);
    let mut upper: Option<u16> = None;
    let mut offset = 0usize;
    while offset < data.len() {
        // Checked above: base + offset < 2^32.
        let address = base as usize + offset;
        let high = (address >> 16) as u16;
        let low = (address & 0xffff) as u16;
        if upper != Some(high) {
            record(&mut out, 0, 0x04, &high.to_be_bytes());
            upper = Some(high);
        }
        let to_boundary = 0x1_0000 - usize::from(low);
        let n = IHEX_RECORD_DATA.min(data.len() - offset).min(to_boundary);
        record(&mut out, low, 0x00, &data[offset..offset + n]);
        offset += n;
    }
    record(&mut out, 0, 0x01, &[]);
    Ok(out)
}

/// C's keywords (C23 included), which cannot name the array.
const C_KEYWORDS: &[&str] = &[
    "alignas",
    "alignof",
    "auto",
    "bool",
    "break",
    "case",
    "char",
    "const",
    "constexpr",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "false",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "nullptr",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "struct",
    "switch",
    "thread_local",
    "true",
    "typedef",
    "typeof",
    "typeof_unqual",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_BitInt",
    "_Bool",
    "_Complex",
    "_Decimal128",
    "_Decimal32",
    "_Decimal64",
    "_Generic",
    "_Imaginary",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
];

/// Whether `name` can name a C array (and `name_len` its length): an
/// identifier of at most 63 characters (C's limit of significant internal
/// identifier characters) that is not a keyword.
pub fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
        && !C_KEYWORDS.contains(&name)
}

/// `bytes` as C source defining `const uint8_t NAME[N]` and
/// `const size_t NAME_len`, for firmware builds that embed them (the
/// provisioned root). `what` goes into the leading comment.
pub fn c_array(name: &str, bytes: &[u8], what: &str) -> Result<String, EncodeError> {
    if !is_c_identifier(name) {
        return Err(EncodeError::CName(name.into()));
    }
    let what = what.replace("*/", "* /");
    let mut out = format!(
        "/* {what}\n * Written by `fwsign device root --c-array {name}`; declare where used:\n *   extern const uint8_t {name}[{len}];\n *   extern const size_t {name}_len;\n */\n#include <stddef.h>\n#include <stdint.h>\n\nconst uint8_t {name}[{len}] = {{\n",
        len = bytes.len()
    );
    for line in bytes.chunks(12) {
        out.push_str("   ");
        for b in line {
            let _ = write!(out, " 0x{b:02x},");
        }
        out.push('\n');
    }
    let _ = write!(out, "}};\nconst size_t {name}_len = {};\n", bytes.len());
    Ok(out)
}
