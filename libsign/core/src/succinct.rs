//! TAP 15 succinct hashed bins: a delegator lists one `succinct_roles`
//! object instead of `roles`, standing for `2^bit_length` roles named
//! `NAME_PREFIX-SUFFIX`, where SUFFIX is the bin number in lowercase hex,
//! zero-padded to the digits of the largest bin. Target path `p` belongs to
//! the bin numbered by the top `bit_length` bits of the first four bytes of
//! SHA-256(`p`), read big-endian; every bin has the object's keys and
//! threshold, and every bin is terminating (TAP 15; python-tuf 7.0.1's
//! `Delegations.get_roles_for_target` yields each bin as terminating).
//!
//! No document spells a bin's name out, so the search asks its loader to
//! keep the name it computes ([`crate::search::RoleLoader::bin_name`]); what
//! is computed here is a [`BinName`], a prefix borrowed from the delegator
//! and a suffix of at most eight digits, without allocating.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use fwsign_manifest_schema::reader::{Json, JsonStr, Kind};

use crate::verify::{RoleKeys, VerifyError};

/// The most hex digits a bin suffix has (`bit_length` 32).
pub const MAX_SUFFIX_LEN: usize = 8;

/// A delegator's `succinct_roles`, checked.
#[derive(Debug, Clone, Copy)]
pub struct SuccinctRoles<'a> {
    json: Json<'a>,
    bit_length: u32,
    name_prefix: &'a [u8],
}

impl<'a> SuccinctRoles<'a> {
    /// Reads and checks a `succinct_roles` object as python-tuf 7.0.1 does:
    /// `bit_length` an integer from 1 to 32, `name_prefix` a string, and
    /// keys and threshold as any delegated role has them.
    pub fn from_json(json: Json<'a>) -> Result<Self, VerifyError> {
        if json.kind() != Kind::Object {
            return Err(VerifyError::Malformed(detail!(
                "succinct_roles must be an object"
            )));
        }
        RoleKeys::from_json(json)?;
        let bit_length = json
            .get("bit_length")
            .and_then(|b| b.as_u64())
            .filter(|b| (1..=32).contains(b))
            .and_then(|b| u32::try_from(b).ok())
            .ok_or(VerifyError::Malformed(detail!(
                "succinct_roles bit_length must be an integer from 1 to 32"
            )))?;
        // Escaped prefixes are refused: a bin's name is compared byte for
        // byte with the names loaders and snapshots hold.
        let name_prefix = json
            .get("name_prefix")
            .and_then(|n| n.as_str())
            .and_then(|n: JsonStr<'a>| n.plain_bytes())
            .ok_or(VerifyError::Malformed(detail!(
                "succinct_roles name_prefix must be a plain string"
            )))?;
        Ok(Self {
            json,
            bit_length,
            name_prefix,
        })
    }

    /// The object, for its keys and threshold.
    pub fn json(&self) -> Json<'a> {
        self.json
    }

    /// `bit_length`, 1 to 32.
    pub fn bit_length(&self) -> u32 {
        self.bit_length
    }

    /// `name_prefix`.
    pub fn name_prefix(&self) -> &'a [u8] {
        self.name_prefix
    }

    /// How many bins: `2^bit_length`.
    pub fn number_of_bins(&self) -> u64 {
        1u64.checked_shl(self.bit_length).unwrap_or(0)
    }

    /// The hex digits of every bin's suffix: those of the largest bin
    /// number (python-tuf: `len(f"{number_of_bins - 1:x}")`).
    pub fn suffix_len(&self) -> usize {
        suffix_len(self.bit_length)
    }

    /// The bin `target` belongs to.
    pub fn bin_for(&self, target: &[u8]) -> u32 {
        bin_for(self.bit_length, target)
    }

    /// The name of bin `bin` (`bin` is taken modulo the number of bins).
    pub fn bin_name(&self, bin: u32) -> BinName<'a> {
        let len = self.suffix_len();
        let mut suffix = [b'0'; MAX_SUFFIX_LEN];
        let mut rest = bin;
        for digit in suffix.iter_mut().take(len).rev() {
            *digit = hex_digit(rest & 0xf);
            rest = rest.checked_shr(4).unwrap_or(0);
        }
        BinName {
            prefix: self.name_prefix,
            suffix,
            suffix_len: len,
        }
    }

    /// The bin number `name` stands for, if it names one of these bins:
    /// the prefix, `-`, and exactly [`Self::suffix_len`] lowercase hex
    /// digits of a number below [`Self::number_of_bins`].
    pub fn bin_of(&self, name: &[u8]) -> Option<u32> {
        let suffix = name
            .strip_prefix(self.name_prefix)?
            .strip_prefix(b"-".as_slice())?;
        if suffix.len() != self.suffix_len() {
            return None;
        }
        // At most eight digits, so the shifts lose nothing (flash: no
        // checked 64-bit arithmetic, see the module note).
        let mut bin: u32 = 0;
        for &c in suffix {
            let digit = match c {
                b'0'..=b'9' => c.wrapping_sub(b'0'),
                b'a'..=b'f' => c.wrapping_sub(b'a').wrapping_add(10),
                _ => return None,
            };
            bin = bin.wrapping_shl(4) | u32::from(digit);
        }
        // Below 2^bit_length: nothing above the top `bit_length` bits.
        (bin.checked_shr(self.bit_length).unwrap_or(0) == 0).then_some(bin)
    }

    /// The keys and threshold every bin has.
    pub fn keys(&self) -> Result<RoleKeys<'a>, VerifyError> {
        RoleKeys::from_json(self.json)
    }
}

/// The hex digits of a bin suffix for `bit_length` (1 to 32): ceil(bits/4).
pub fn suffix_len(bit_length: u32) -> usize {
    let digits = bit_length.saturating_add(3) / 4;
    usize::try_from(digits.clamp(1, 8)).unwrap_or(MAX_SUFFIX_LEN)
}

/// The bin of `target` among `2^bit_length` (TAP 15): the first four bytes
/// of its SHA-256, big-endian, shifted right by `32 - bit_length`.
pub fn bin_for(bit_length: u32, target: &[u8]) -> u32 {
    let digest = crate::sha256_of(&[target]);
    let top = digest
        .first_chunk::<4>()
        .map(|b| u32::from_be_bytes(*b))
        .unwrap_or(0);
    let shift = 32u32.saturating_sub(bit_length.clamp(1, 32));
    top.checked_shr(shift).unwrap_or(0)
}

fn hex_digit(nibble: u32) -> u8 {
    let nibble = u8::try_from(nibble & 0xf).unwrap_or(0);
    if nibble < 10 {
        b'0'.saturating_add(nibble)
    } else {
        b'a'.saturating_add(nibble.saturating_sub(10))
    }
}

/// A bin's name, computed: `prefix-suffix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinName<'a> {
    prefix: &'a [u8],
    suffix: [u8; MAX_SUFFIX_LEN],
    suffix_len: usize,
}

impl<'a> BinName<'a> {
    /// The delegator's `name_prefix`.
    pub fn prefix(&self) -> &'a [u8] {
        self.prefix
    }

    /// The bin number's hex digits.
    pub fn suffix(&self) -> &[u8] {
        self.suffix.get(..self.suffix_len).unwrap_or(&[])
    }

    /// The name's length in bytes.
    pub fn len(&self) -> usize {
        self.prefix
            .len()
            .saturating_add(1)
            .saturating_add(self.suffix_len)
    }

    /// Never: a bin's name has at least `-` and one digit.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The name's bytes in order: prefix, `-`, suffix.
    pub fn parts(&self) -> [&[u8]; 3] {
        [self.prefix, b"-", self.suffix()]
    }

    /// Whether `name` is this name.
    pub fn matches(&self, name: &[u8]) -> bool {
        name.strip_prefix(self.prefix)
            .and_then(|rest| rest.strip_prefix(b"-".as_slice()))
            .is_some_and(|suffix| suffix == self.suffix())
    }

    /// Writes the name into `out`, returning the bytes written, or `None`
    /// when `out` is too small.
    pub fn write<'o>(&self, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let len = self.len();
        let mut at: usize = 0;
        for part in self.parts() {
            let end = at.checked_add(part.len())?;
            out.get_mut(at..end)?.copy_from_slice(part);
            at = end;
        }
        out.get(..len)
    }
}

#[cfg(feature = "std")]
impl core::fmt::Display for BinName<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for part in self.parts() {
            f.write_str(&String::from_utf8_lossy(part))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "succinct_tests.rs"]
mod tests;
