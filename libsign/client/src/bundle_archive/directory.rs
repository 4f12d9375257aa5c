//! fwsign's own reader of the zip end records and central directory
//! (APPNOTE.TXT 4.3 and 4.4), run before the `zip` crate sees the file so
//! that what that crate is lenient about (prepended or appended bytes,
//! duplicate names, non-UTF-8 names) is refused first.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

// Zip format constants (APPNOTE.TXT sections 4.3 and 4.4).
const LOCAL_HEADER_SIG: [u8; 4] = *b"PK\x03\x04";
pub(super) const CENTRAL_HEADER_SIG: [u8; 4] = *b"PK\x01\x02";
const EOCD_SIG: [u8; 4] = *b"PK\x05\x06";
pub(super) const ZIP64_LOCATOR_SIG: [u8; 4] = *b"PK\x06\x07";
const ZIP64_EOCD_SIG: [u8; 4] = *b"PK\x06\x06";
const EOCD_LEN: u64 = 22;
const ZIP64_LOCATOR_LEN: u64 = 20;
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_HEADER_LEN: usize = 46;
const MAX_COMMENT_LEN: u64 = 0xffff;
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// Bit 0 (encrypted), bit 6 (strong encryption), bit 13 (masked headers).
pub(super) const ENCRYPTION_FLAGS: u16 = 1 | (1 << 6) | (1 << 13);
pub(super) const METHOD_STORED: u16 = 0;
pub(super) const METHOD_DEFLATED: u16 = 8;
pub(super) const METHOD_AES: u16 = 99;
pub(super) const S_IFMT: u32 = 0o170_000;
pub(super) const S_IFREG: u32 = 0o100_000;
pub(super) const S_IFDIR: u32 = 0o040_000;
pub(super) const S_IFLNK: u32 = 0o120_000;

pub(super) fn le16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from(le32(bytes, at)) | (u64::from(le32(bytes, at + 4)) << 32)
}

fn read_at(reader: &mut BufReader<File>, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    reader.seek(SeekFrom::Start(offset))?;
    reader.read_exact(buf)
}

/// Whether the file begins with a local header, or is an empty archive.
pub(super) fn starts_like_zip(reader: &mut BufReader<File>, len: u64) -> io::Result<bool> {
    if len < 4 {
        return Ok(false);
    }
    let mut head = [0; 4];
    read_at(reader, 0, &mut head)?;
    Ok(head == LOCAL_HEADER_SIG || head == EOCD_SIG)
}

/// The end records, as this module reads them.
pub(super) struct EndRecords {
    pub(super) cd_offset: u64,
    pub(super) cd_size: u64,
    pub(super) entries: u64,
    /// Where the end records (ZIP64 ones included) begin: the central
    /// directory must end exactly here.
    pub(super) records_start: u64,
}

pub(super) enum EndScan {
    Found(EndRecords),
    /// An end record exists, but not in the last 22 bytes.
    Trailing,
    /// No end record at all.
    Missing,
    Bad(&'static str),
}

/// Reads the end record, which must be the file's last 22 bytes (no archive
/// comment), and the ZIP64 records when its locator sits right before it.
pub(super) fn scan_end(reader: &mut BufReader<File>, len: u64) -> io::Result<EndScan> {
    if len < EOCD_LEN {
        return Ok(EndScan::Missing);
    }
    let eocd_start = len - EOCD_LEN;
    let mut eocd = [0; EOCD_LEN as usize];
    read_at(reader, eocd_start, &mut eocd)?;
    if eocd[..4] != EOCD_SIG || le16(&eocd, 20) != 0 {
        // Only to tell appended data from truncation in the error: look for
        // a complete end record where the zip crate would (a comment is at
        // most 64 KiB); a cut-off one means the file was truncated.
        let window = len.min(EOCD_LEN + MAX_COMMENT_LEN);
        let mut tail = vec![0; window as usize];
        read_at(reader, len - window, &mut tail)?;
        let complete = tail.len().saturating_sub(EOCD_LEN as usize - 4);
        let found = tail[..complete].windows(4).any(|w| w == EOCD_SIG);
        return Ok(if found {
            EndScan::Trailing
        } else {
            EndScan::Missing
        });
    }
    if le16(&eocd, 4) != 0 || le16(&eocd, 6) != 0 {
        return Ok(EndScan::Bad("multi-disk archives are not supported"));
    }

    if let Some(locator_start) = eocd_start.checked_sub(ZIP64_LOCATOR_LEN) {
        let mut locator = [0; ZIP64_LOCATOR_LEN as usize];
        read_at(reader, locator_start, &mut locator)?;
        if locator[..4] == ZIP64_LOCATOR_SIG {
            if le32(&locator, 4) != 0 || le32(&locator, 16) > 1 {
                return Ok(EndScan::Bad("multi-disk archives are not supported"));
            }
            // The record must sit right before its locator and carry no
            // "extensible data": fwsign writes none, and it would be bytes
            // that no entry accounts for.
            let record_start = le64(&locator, 8);
            if record_start.checked_add(ZIP64_EOCD_LEN as u64) != Some(locator_start) {
                return Ok(EndScan::Bad("the ZIP64 end record is out of place"));
            }
            let mut record = [0; ZIP64_EOCD_LEN];
            read_at(reader, record_start, &mut record)?;
            // The size field counts the bytes after its own 12.
            if record[..4] != ZIP64_EOCD_SIG || le64(&record, 4) != ZIP64_EOCD_LEN as u64 - 12 {
                return Ok(EndScan::Bad("the ZIP64 end record is malformed"));
            }
            if le32(&record, 16) != 0 || le32(&record, 20) != 0 {
                return Ok(EndScan::Bad("multi-disk archives are not supported"));
            }
            return Ok(EndScan::Found(EndRecords {
                entries: le64(&record, 32),
                cd_size: le64(&record, 40),
                cd_offset: le64(&record, 48),
                records_start: record_start,
            }));
        }
    }
    Ok(EndScan::Found(EndRecords {
        entries: u64::from(le16(&eocd, 10)),
        cd_size: u64::from(le32(&eocd, 12)),
        cd_offset: u64::from(le32(&eocd, 16)),
        records_start: eocd_start,
    }))
}

/// One central directory header, as far as this module's checks need it.
pub(super) struct RawEntry {
    pub(super) name: Vec<u8>,
    pub(super) flags: u16,
    pub(super) method: u16,
    pub(super) external_attributes: u32,
    /// The first extra field that is not ZIP64 sizes.
    pub(super) unexpected_extra: Option<u16>,
}

pub(super) enum DirectoryFault {
    Io(io::Error),
    Bad(&'static str),
}

impl From<io::Error> for DirectoryFault {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            Self::Bad("the central directory is cut short")
        } else {
            Self::Io(error)
        }
    }
}

/// Walks the central directory: exactly `entries` headers filling exactly
/// `cd_size` bytes. The entry count has been checked against the limit, so
/// this allocates for at most that many names.
pub(super) fn read_central_directory(
    reader: &mut BufReader<File>,
    end: &EndRecords,
) -> Result<Vec<RawEntry>, DirectoryFault> {
    reader.seek(SeekFrom::Start(end.cd_offset))?;
    let capacity = end.entries.min(end.cd_size / CENTRAL_HEADER_LEN as u64);
    let mut entries = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut consumed = 0u64;
    for _ in 0..end.entries {
        let mut fixed = [0; CENTRAL_HEADER_LEN];
        reader.read_exact(&mut fixed)?;
        if fixed[..4] != CENTRAL_HEADER_SIG {
            return Err(DirectoryFault::Bad("a central directory header is missing"));
        }
        let name_len = usize::from(le16(&fixed, 28));
        let extra_len = usize::from(le16(&fixed, 30));
        let comment_len = le16(&fixed, 32);
        let mut name = vec![0; name_len];
        reader.read_exact(&mut name)?;
        let mut extra = vec![0; extra_len];
        reader.read_exact(&mut extra)?;
        reader.seek_relative(i64::from(comment_len))?;
        consumed += (CENTRAL_HEADER_LEN + name_len + extra_len) as u64 + u64::from(comment_len);

        let mut unexpected_extra = None;
        let mut rest = extra.as_slice();
        while !rest.is_empty() {
            let (Some(header), Some(body)) = (rest.get(..4), rest.get(4..)) else {
                return Err(DirectoryFault::Bad("an extra field header is cut short"));
            };
            let id = le16(header, 0);
            let Some(next) = body.get(usize::from(le16(header, 2))..) else {
                return Err(DirectoryFault::Bad("an extra field runs past its header"));
            };
            if id != ZIP64_EXTRA_ID && unexpected_extra.is_none() {
                unexpected_extra = Some(id);
            }
            rest = next;
        }
        entries.push(RawEntry {
            name,
            flags: le16(&fixed, 8),
            method: le16(&fixed, 10),
            external_attributes: le32(&fixed, 38),
            unexpected_extra,
        });
    }
    if consumed != end.cd_size {
        return Err(DirectoryFault::Bad(
            "the central directory's size does not match its headers",
        ));
    }
    Ok(entries)
}
