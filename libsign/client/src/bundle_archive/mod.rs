//! The zip container of offline update bundles.
//!
//! An offline update (`update.zip`, installed through a commissioning app or
//! from a USB stick) carries TUF metadata and target images in one file:
//!
//! ```text
//! fwsign-bundle.json
//! metadata/1.root.json
//! metadata/timestamp.json
//! metadata/3.snapshot.json
//! metadata/3.targets.json
//! targets/board-a/fw-1.0.0.bin
//! ```
//!
//! This module is only the container. [`write_bundle`] writes one
//! reproducibly and atomically; [`BundleArchive`] opens one that came from
//! anywhere and hands out entry contents. Whether those contents can be
//! trusted is decided by the TUF checks elsewhere, which hash every byte they
//! use; what this module guarantees is that a hostile zip cannot step outside
//! the bundle's namespace (path traversal, symlinks, duplicate or ambiguous
//! names), exhaust memory or time (decompression bombs, oversized
//! directories), or show different contents to different zip readers
//! (prepended, appended or hidden bytes, local headers that disagree with the
//! central directory).
//!
//! ## Why this module parses part of the zip itself
//!
//! The `zip` crate is built for extracting whatever it is given, so it is
//! lenient where a bundle reader must not be: it accepts data prepended to
//! the archive (self-extracting executables) by detecting an archive offset,
//! searches the last 64 KiB for the end record (so appended bytes and archive
//! comments pass), keeps only the last of several entries with the same name,
//! and decodes names that are not UTF-8 as CP437. [`BundleArchive::open`]
//! therefore reads the end records and the central directory with its own
//! small parser first, refuses anything a canonical fwsign bundle would not
//! contain, and only then lets the `zip` crate parse the same bytes (at a
//! fixed offset of zero) and checks that both agree. The crate's
//! `validate_header_consistency` then compares every local header with its
//! central directory entry and refuses overlapping entries, which defeats the
//! overlapping-file decompression bombs that reuse one compressed stream for
//! many entries.
//!
//! Decompression (Deflate through `flate2` on `zlib-rs`, pure Rust) and CRC-32
//! checks are the crate's; the crate also fails a read as soon as an entry
//! produces more bytes than its declared size, so the size limits checked at
//! open bound what a read can produce, whatever the compressed stream says.
//!
//! ## Layout
//!
//! `writer` writes bundles; `reader` opens and reads them; `directory` is
//! the small parser of the end records and central directory described
//! above; `limits` holds what a bundle may contain and the checks both
//! directions apply; `error` what can go wrong.

use std::io::{self, Read, Write};

mod directory;
mod error;
mod limits;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

pub use error::ArchiveError;
pub use limits::{ArchiveLimits, RATIO_CHECK_ABOVE};
pub use reader::BundleArchive;
pub use writer::{EntrySource, write_bundle};

/// Entries under this prefix are target images; every other entry is
/// metadata. The two get different compression and different size limits.
pub const TARGETS_PREFIX: &str = "targets/";

/// The Deflate level metadata entries are written with. Fixed, because the
/// level changes the output bytes; 6 is zlib's own default and already
/// shrinks JSON metadata about as much as 9 does.
pub const METADATA_DEFLATE_LEVEL: i64 = 6;

// Shared by the reader and the writer.

const COPY_BUFFER: usize = 64 * 1024;

/// How [`copy_at_most`] stopped early.
pub(crate) enum CopyError {
    /// Reading failed.
    Read(io::Error),
    /// Writing failed.
    Write(io::Error),
    /// The input ran past the limit (this many bytes read so far); the
    /// bytes past it were not written.
    TooLong(u64),
}

/// Copies `input` to `out`, `buffer` bytes at a time (interrupted reads
/// retried), and returns how many bytes it copied: at most `limit`.
pub(crate) fn copy_at_most(
    input: &mut dyn Read,
    out: &mut dyn Write,
    limit: u64,
    buffer: usize,
) -> Result<u64, CopyError> {
    let mut buf = vec![0; buffer];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        total = total.saturating_add(n as u64);
        if total > limit {
            return Err(CopyError::TooLong(total));
        }
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
}

fn is_target(name: &str) -> bool {
    name.starts_with(TARGETS_PREFIX)
}
