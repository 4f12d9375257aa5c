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

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use zip::read::{ArchiveOffset, Config};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipArchive, ZipWriter};

use crate::atomic_write::{self, Mode};

/// Entries under this prefix are target images; every other entry is
/// metadata. The two get different compression and different size limits.
pub const TARGETS_PREFIX: &str = "targets/";

/// The Deflate level metadata entries are written with. Fixed, because the
/// level changes the output bytes; 6 is zlib's own default and already
/// shrinks JSON metadata about as much as 9 does.
pub const METADATA_DEFLATE_LEVEL: i64 = 6;

/// Entries declaring more than this many bytes must respect
/// [`ArchiveLimits::max_ratio`]. Below it a high ratio cannot cost anything
/// worth refusing for, and small files of repeated bytes legitimately
/// compress very well.
pub const RATIO_CHECK_ABOVE: u64 = 1 << 20;

/// What a bundle reader accepts. A limit is a refusal, never a truncation.
///
/// The per-entry limits are checked against the sizes the central directory
/// declares; reads then refuse any entry that decompresses to more than it
/// declared, so the declared sizes are binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Entries in the central directory, directories included. Checked
    /// before the directory is parsed, so a directory of millions of tiny
    /// headers costs nothing. Default 10 000: a bundle carries a handful of
    /// metadata files and a few images per board, so this leaves room for
    /// large delegation trees while bounding the parsed directory to a few
    /// megabytes.
    pub max_entries: usize,
    /// Declared size of one entry outside [`TARGETS_PREFIX`]. Default
    /// 16 MiB: well above the largest per-role caps TUF clients use (a few
    /// MiB for big targets metadata); callers pass tighter per-role caps to
    /// [`BundleArchive::read`].
    pub max_metadata_size: u64,
    /// Declared size of one target image. Default 4 GiB, the largest image a
    /// 32-bit device can address.
    pub max_target_size: u64,
    /// Declared size of all entries together, and also the budget all reads
    /// of one opened bundle draw from (see [`BundleArchive`]). Default 8 GiB:
    /// two maximal images.
    pub max_total_size: u64,
    /// Largest declared-size to compressed-size ratio, for entries above
    /// [`RATIO_CHECK_ABOVE`]. Default 1000: Deflate cannot exceed about
    /// 1032:1, so only streams built to be maximally compressible (bombs)
    /// reach it, while fwsign stores target images uncompressed (ratio 1).
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_metadata_size: 16 << 20,
            max_target_size: 4 << 30,
            max_total_size: 8 << 30,
            max_ratio: 1000,
        }
    }
}

/// Why a bundle could not be written, opened or read.
///
/// Names taken from a bundle are attacker-chosen, so messages print them
/// with `{:?}`: quoted and escaped, so a name cannot inject terminal control
/// sequences or pass itself off as part of the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The bundle file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The bundle file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The bundle (or its temporary file) could not be created or written.
    #[error("{}: cannot write the bundle: {source}", path.display())]
    Write {
        /// The bundle file being written.
        path: PathBuf,
        /// The operating system's or the zip writer's error.
        #[source]
        source: io::Error,
    },
    /// The file given as an entry's contents could not be read, or changed
    /// size while it was being copied in.
    #[error(
        "{}: cannot read {} for entry {name:?}: {source}",
        path.display(),
        source_path.display()
    )]
    ReadSource {
        /// The bundle file being written.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The file that was to fill it.
        source_path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file is not a zip archive at all: it neither starts with a zip
    /// header nor ends with a zip end record.
    #[error("{}: not a zip archive", path.display())]
    NotAZip {
        /// The bundle file.
        path: PathBuf,
    },
    /// The file starts like a zip archive but has no end-of-central-directory
    /// record: it was cut short (an interrupted copy, a full USB stick).
    #[error("{}: truncated: the zip end record is missing", path.display())]
    Truncated {
        /// The bundle file.
        path: PathBuf,
    },
    /// The zip archive does not start at the beginning of the file
    /// (something was prepended, as in self-extracting executables). Zip
    /// readers disagree about such files, so a bundle must not be one.
    #[error("{}: data before the first zip entry", path.display())]
    PrependedData {
        /// The bundle file.
        path: PathBuf,
    },
    /// Bytes follow the zip end record: appended data or an archive comment,
    /// neither of which fwsign writes.
    #[error(
        "{}: data after the zip end record (appended bytes or an archive comment)",
        path.display()
    )]
    TrailingData {
        /// The bundle file.
        path: PathBuf,
    },
    /// Bytes between entries, or between the last entry and the central
    /// directory, belong to no entry. fwsign writes no gaps (it never uses
    /// data descriptors), so a gap is content some reader might see and
    /// others not.
    #[error("{}: {len} bytes at offset {offset} belong to no zip entry", path.display())]
    HiddenData {
        /// The bundle file.
        path: PathBuf,
        /// Where the gap starts.
        offset: u64,
        /// How long it is.
        len: u64,
    },
    /// The zip structure is damaged or self-contradictory: end records or
    /// central directory headers that do not parse, local headers that
    /// disagree with the central directory, overlapping entries, or the `zip`
    /// crate seeing other entries than this module's own parser.
    #[error("{}: malformed zip archive: {source}", path.display())]
    Malformed {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The central directory lists more entries than
    /// [`ArchiveLimits::max_entries`].
    #[error("{}: {count} zip entries, more than the limit of {max}", path.display())]
    TooManyEntries {
        /// The bundle file.
        path: PathBuf,
        /// How many entries the end record declares.
        count: u64,
        /// The limit.
        max: usize,
    },
    /// An entry's name is not a safe relative path: empty, absolute, with a
    /// backslash, a colon (drive letter, NTFS stream), a control character,
    /// an empty, `.` or `..` segment, or not UTF-8. Such a name could write
    /// outside the directory a bundle is extracted to, or mean different
    /// files on different systems.
    #[error("{}: unsafe entry name {name:?}: {reason}", path.display())]
    UnsafeName {
        /// The bundle file.
        path: PathBuf,
        /// The entry name (lossily decoded if it is not UTF-8).
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// An entry is a symbolic link. Extracting one would let later entries be
    /// written through it, anywhere on the filesystem.
    #[error("{}: entry {name:?} is a symbolic link", path.display())]
    Symlink {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
    },
    /// An entry's Unix file type is neither a regular file nor, for names
    /// ending in `/`, a directory: a device, FIFO or socket, or a type that
    /// contradicts the name.
    #[error("{}: entry {name:?} has file type {mode:#o}", path.display())]
    SpecialFile {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The `S_IFMT` bits of its mode.
        mode: u32,
    },
    /// A directory entry (name ending in `/`) declares contents.
    #[error("{}: directory entry {name:?} declares {size} bytes of data", path.display())]
    DirectoryWithData {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// Its declared size.
        size: u64,
    },
    /// Two entries have the same name. Zip readers disagree about which one
    /// wins, so the TUF checks could pass on one and the installer use the
    /// other.
    #[error("{}: entry {name:?} appears more than once", path.display())]
    DuplicateEntry {
        /// The bundle file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
    /// A file entry's name is also a directory of another entry
    /// (`targets/a` and `targets/a/b`): no filesystem can hold both, and an
    /// extractor would overwrite one with the other.
    #[error("{}: entry {name:?} is both a file and a directory", path.display())]
    FileDirectoryClash {
        /// The bundle file.
        path: PathBuf,
        /// The name used both ways.
        name: String,
    },
    /// An entry is encrypted. Bundles are public; their integrity comes from
    /// TUF signatures, not from zip passwords.
    #[error("{}: entry {name:?} is encrypted", path.display())]
    Encrypted {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
    },
    /// An entry uses a compression method other than Stored (0) or Deflated
    /// (8). Only these two are compiled in, which keeps the decoder surface
    /// small.
    #[error("{}: entry {name:?} uses unsupported compression method {method}", path.display())]
    UnsupportedCompression {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The method number from the central directory.
        method: u16,
    },
    /// An entry carries an extra field other than ZIP64 sizes. fwsign writes
    /// none; some (Info-ZIP Unicode Path) rename the entry for some readers
    /// and not others.
    #[error("{}: entry {name:?} has an unexpected extra field {id:#06x}", path.display())]
    UnexpectedExtraField {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The extra field's header ID.
        id: u16,
    },
    /// An entry declares more bytes than [`ArchiveLimits`] allows for its
    /// kind (metadata or target).
    #[error("{}: entry {name:?} declares {size} bytes, more than the limit of {max}", path.display())]
    EntryTooLarge {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// Its declared size.
        size: u64,
        /// The limit for its kind.
        max: u64,
    },
    /// An entry's declared size is more than [`ArchiveLimits::max_ratio`]
    /// times its compressed size: the signature of a decompression bomb.
    #[error(
        "{}: entry {name:?} expands {compressed} bytes to {size}, beyond the ratio limit",
        path.display()
    )]
    RatioTooHigh {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// Its declared size.
        size: u64,
        /// Its compressed size.
        compressed: u64,
    },
    /// The declared sizes of all entries add up to more than
    /// [`ArchiveLimits::max_total_size`].
    #[error("{}: entries declare {total} bytes in all, more than the limit of {max}", path.display())]
    TotalTooLarge {
        /// The bundle file.
        path: PathBuf,
        /// The sum of the declared sizes.
        total: u64,
        /// The limit.
        max: u64,
    },
    /// No file entry has this name.
    #[error("{}: no entry {name:?}", path.display())]
    NotFound {
        /// The bundle file.
        path: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// An entry declares, or decompresses to, more than the cap the caller
    /// set for this read.
    #[error("{}: entry {name:?} is larger than the {cap} bytes allowed here", path.display())]
    ExceedsCap {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The caller's cap.
        cap: u64,
    },
    /// Reading this entry would take the bytes read from this bundle past
    /// [`ArchiveLimits::max_total_size`].
    #[error(
        "{}: reading entry {name:?} would exceed the {max}-byte read budget of the bundle",
        path.display()
    )]
    BudgetExhausted {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The budget.
        max: u64,
    },
    /// An entry decompressed to a different length than it declared, with a
    /// matching CRC-32: a forged header, since damage would break the CRC.
    #[error("{}: entry {name:?} declares {declared} bytes but holds {actual}", path.display())]
    SizeMismatch {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// Its declared size.
        declared: u64,
        /// What was read before the mismatch was found (for an entry longer
        /// than declared, the declared size plus what the last read added).
        actual: u64,
    },
    /// An entry's data is damaged: the Deflate stream is invalid, the CRC-32
    /// does not match, or it decompresses past its declared size (the `zip`
    /// crate refuses those bytes as it reads them, so a bomb with a forged
    /// small size stops there).
    #[error("{}: entry {name:?} is corrupt: {source}", path.display())]
    Corrupt {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The zip reader's error.
        #[source]
        source: io::Error,
    },
    /// The caller's output failed while an entry was streamed into it.
    #[error("{}: cannot write out entry {name:?}: {source}", path.display())]
    Output {
        /// The bundle file.
        path: PathBuf,
        /// The entry.
        name: String,
        /// The output's error.
        #[source]
        source: io::Error,
    },
}

/// Where an entry's contents come from when writing a bundle.
#[derive(Debug, Clone, Copy)]
pub enum EntrySource<'a> {
    /// Contents already in memory (metadata).
    Bytes(&'a [u8]),
    /// A file, streamed in a buffer at a time so a multi-gigabyte image never
    /// sits in memory. It must not change size while it is copied.
    File(&'a Path),
}

/// Writes a bundle to `out` with `entries` in the given order; the caller
/// sorts them, since the order is part of the output bytes.
///
/// The output is byte-reproducible: the same names and contents give the
/// same file, on any host. Every entry gets the 1980-01-01 00:00:00
/// timestamp, Unix mode 0644 and "made by Unix", no comment and no extra
/// fields (except ZIP64 sizes for an entry that needs them, decided from its
/// length alone). Target images (under [`TARGETS_PREFIX`]) are Stored: they
/// are usually compressed or encrypted already, and stored data lets an
/// installer hash or copy them without inflating. Metadata is Deflated at
/// [`METADATA_DEFLATE_LEVEL`]. Compressed bytes depend on the compressor
/// build (`zlib-rs`), so reproducibility holds for a given fwsign release;
/// nothing relies on it for security, as TUF hashes entry contents, never
/// the zip bytes.
///
/// Names are checked with the rules [`BundleArchive::open`] applies, so
/// fwsign never writes a bundle it would refuse to read.
///
/// The file is replaced atomically ([`atomic_write::write_atomic_with`]):
/// on any error the previous `out`, if any, is left as it was.
pub fn write_bundle(out: &Path, entries: &[(String, EntrySource<'_>)]) -> Result<(), ArchiveError> {
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    for name in &names {
        if let Some(reason) = name_fault(name) {
            return Err(ArchiveError::UnsafeName {
                path: out.to_path_buf(),
                name: (*name).to_owned(),
                reason,
            });
        }
    }
    check_namespace(out, &names, &[])?;

    // `write_atomic_with` deals in io::Error; the entry-level error is kept
    // aside so the caller learns which entry failed, not just that one did.
    let mut failure = None;
    let written = atomic_write::write_atomic_with(out, Mode::Public, |file| {
        write_entries(out, file, entries).map_err(|error| {
            failure = Some(error);
            io::Error::other("bundle entry failed")
        })
    });
    match (written, failure) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(error)) => Err(error),
        (Err(source), None) => Err(ArchiveError::Write {
            path: out.to_path_buf(),
            source,
        }),
    }
}

fn write_entries(
    out: &Path,
    file: &mut File,
    entries: &[(String, EntrySource<'_>)],
) -> Result<(), ArchiveError> {
    let write_error = |source: io::Error| ArchiveError::Write {
        path: out.to_path_buf(),
        source,
    };
    let zip_error = |error: zip::result::ZipError| write_error(error.into());

    let mut zip = ZipWriter::new(BufWriter::with_capacity(COPY_BUFFER, file));
    for (name, source) in entries {
        match source {
            EntrySource::Bytes(bytes) => {
                zip.start_file(name.as_str(), entry_options(name, bytes.len() as u64))
                    .map_err(zip_error)?;
                zip.write_all(bytes).map_err(write_error)?;
            }
            EntrySource::File(source_path) => {
                let source_error = |source: io::Error| ArchiveError::ReadSource {
                    path: out.to_path_buf(),
                    name: name.clone(),
                    source_path: source_path.to_path_buf(),
                    source,
                };
                let mut input = File::open(source_path).map_err(source_error)?;
                let len = input.metadata().map_err(source_error)?.len();
                zip.start_file(name.as_str(), entry_options(name, len))
                    .map_err(zip_error)?;
                let mut buf = vec![0; COPY_BUFFER];
                let mut copied = 0u64;
                loop {
                    let n = match input.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(source_error(e)),
                    };
                    copied += n as u64;
                    // The ZIP64 decision was made from `len`; a file that
                    // grew could overflow 32-bit sizes, and one that changed
                    // at all would make the bundle depend on timing.
                    if copied > len {
                        break;
                    }
                    zip.write_all(&buf[..n]).map_err(write_error)?;
                }
                if copied != len {
                    return Err(source_error(io::Error::other(
                        "the file changed size while it was being read",
                    )));
                }
            }
        }
    }
    let buffered = zip.finish().map_err(zip_error)?;
    buffered
        .into_inner()
        .map_err(|e| write_error(e.into_error()))?;
    Ok(())
}

fn entry_options(name: &str, len: u64) -> SimpleFileOptions {
    // Everything that would otherwise come from the clock or the host is
    // pinned, so the bytes depend on the inputs alone.
    let options = SimpleFileOptions::default()
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .system(System::Unix);
    if is_target(name) {
        options
            .compression_method(CompressionMethod::Stored)
            .large_file(len >= zip::ZIP64_BYTES_THR)
    } else {
        // Deflate may grow incompressible input by a few bytes per block; the
        // margin keeps the ZIP64 decision a function of the length alone.
        let worst_case = len.saturating_add(len / 1024).saturating_add(1024);
        options
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(METADATA_DEFLATE_LEVEL))
            .large_file(worst_case >= zip::ZIP64_BYTES_THR)
    }
}

/// An opened bundle whose structure has been validated (see
/// [`BundleArchive::open`]); entry contents are checked as they are read.
///
/// Every [`read`](Self::read) and [`stream`](Self::stream) charges the
/// entry's declared size to a budget of [`ArchiveLimits::max_total_size`],
/// so no sequence of reads can make one bundle cost more than that in
/// decompression. Reading an entry twice charges it twice: to hash a target
/// and extract it, stream it once into a writer that does both.
#[derive(Debug)]
pub struct BundleArchive {
    path: PathBuf,
    zip: ZipArchive<BufReader<File>>,
    files: Vec<FileEntry>,
    by_name: HashMap<String, usize>,
    limits: ArchiveLimits,
    charged: u64,
}

#[derive(Debug)]
struct FileEntry {
    name: String,
    index: usize,
    size: u64,
}

impl BundleArchive {
    /// Opens the bundle at `path` and validates its whole structure before
    /// any entry is read.
    ///
    /// The file must be exactly a zip archive: starting with its first local
    /// header, ending with its end record (no comment), every byte in between
    /// belonging to an entry or to the central directory; at most
    /// [`ArchiveLimits::max_entries`] entries.
    ///
    /// Every entry name must be a safe relative path: valid UTF-8,
    /// `/`-separated, no empty, `.` or `..` segment, no leading `/`, no
    /// backslash, no `:` (drive letters, NTFS streams), no control
    /// characters. Names are compared exactly: two names differing only in
    /// case are distinct here, so whoever extracts onto a case-insensitive
    /// filesystem must handle that. Directory entries are accepted only as
    /// `name/` without data, and are otherwise ignored. There must be no
    /// symlinks or other special files (judged from the Unix mode in the
    /// external attributes, whatever system claims to have made the entry),
    /// no duplicate names, no file whose name is a directory of another
    /// entry, no encryption, no compression other than Stored or Deflated, no
    /// extra fields besides ZIP64 sizes, and declared sizes within `limits`.
    pub fn open(path: &Path, limits: ArchiveLimits) -> Result<Self, ArchiveError> {
        let owned = || path.to_path_buf();
        let io_error = |source| ArchiveError::Io {
            path: owned(),
            source,
        };
        let malformed =
            |source: Box<dyn std::error::Error + Send + Sync + 'static>| ArchiveError::Malformed {
                path: owned(),
                source,
            };

        let file = File::open(path).map_err(io_error)?;
        let len = file.metadata().map_err(io_error)?.len();
        let mut reader = BufReader::new(file);

        let starts_like_zip = starts_like_zip(&mut reader, len).map_err(io_error)?;
        let end = match scan_end(&mut reader, len).map_err(io_error)? {
            EndScan::Found(end) => end,
            EndScan::Bad(reason) => return Err(malformed(reason.into())),
            EndScan::Trailing if starts_like_zip => {
                return Err(ArchiveError::TrailingData { path: owned() });
            }
            EndScan::Missing if starts_like_zip => {
                return Err(ArchiveError::Truncated { path: owned() });
            }
            EndScan::Trailing | EndScan::Missing => {
                return Err(ArchiveError::NotAZip { path: owned() });
            }
        };
        if !starts_like_zip {
            return Err(ArchiveError::PrependedData { path: owned() });
        }
        if end.entries > limits.max_entries as u64 {
            return Err(ArchiveError::TooManyEntries {
                path: owned(),
                count: end.entries,
                max: limits.max_entries,
            });
        }
        match end.cd_offset.checked_add(end.cd_size) {
            Some(cd_end) if cd_end == end.records_start => {}
            Some(cd_end) if cd_end < end.records_start => {
                return Err(ArchiveError::HiddenData {
                    path: owned(),
                    offset: cd_end,
                    len: end.records_start - cd_end,
                });
            }
            _ => {
                return Err(malformed(
                    "the central directory runs into the end record".into(),
                ));
            }
        }

        let raw = match read_central_directory(&mut reader, &end) {
            Ok(raw) => raw,
            Err(DirectoryFault::Io(e)) => return Err(io_error(e)),
            Err(DirectoryFault::Bad(reason)) => return Err(malformed(reason.into())),
        };
        check_raw_entries(path, &raw)?;

        // Only now, with the structure known to be canonical, does the zip
        // crate parse it; a fixed offset of zero stops it from looking for
        // an archive further into the file.
        let config = Config {
            archive_offset: ArchiveOffset::Known(0),
        };
        let mut zip = ZipArchive::with_config(config, reader).map_err(|e| malformed(e.into()))?;
        if zip.len() != raw.len() || zip.central_directory_start() != end.cd_offset {
            return Err(malformed(
                "the zip reader sees another central directory than fwsign's parser".into(),
            ));
        }
        zip.validate_header_consistency()
            .map_err(|e| malformed(e.into()))?;

        let mut files = Vec::new();
        let mut spans = Vec::with_capacity(raw.len());
        let mut total = 0u64;
        for (index, raw_entry) in raw.iter().enumerate() {
            let (size, compressed, header_start) = {
                let entry = zip.by_index_data(index).map_err(|e| malformed(e.into()))?;
                if entry.name_raw() != raw_entry.name.as_slice() {
                    return Err(malformed(
                        "the zip reader names an entry differently than fwsign's parser".into(),
                    ));
                }
                (entry.size(), entry.compressed_size(), entry.header_start())
            };
            let data_start = zip
                .by_index_raw(index)
                .map_err(|e| malformed(e.into()))?
                .data_start()
                .ok_or_else(|| malformed("an entry's data offset is unknown".into()))?;
            let data_end = data_start
                .checked_add(compressed)
                .ok_or_else(|| malformed("an entry ends beyond 2^64 bytes".into()))?;
            spans.push((header_start, data_end));

            // check_raw_entries has established that names are UTF-8.
            let name = String::from_utf8_lossy(&raw_entry.name).into_owned();
            if name.ends_with('/') {
                if size != 0 {
                    return Err(ArchiveError::DirectoryWithData {
                        path: owned(),
                        name,
                        size,
                    });
                }
                continue;
            }
            let max = if is_target(&name) {
                limits.max_target_size
            } else {
                limits.max_metadata_size
            };
            if size > max {
                return Err(ArchiveError::EntryTooLarge {
                    path: owned(),
                    name,
                    size,
                    max,
                });
            }
            if size > RATIO_CHECK_ABOVE && size > compressed.saturating_mul(limits.max_ratio) {
                return Err(ArchiveError::RatioTooHigh {
                    path: owned(),
                    name,
                    size,
                    compressed,
                });
            }
            total = total.saturating_add(size);
            files.push(FileEntry { name, index, size });
        }
        if total > limits.max_total_size {
            return Err(ArchiveError::TotalTooLarge {
                path: owned(),
                total,
                max: limits.max_total_size,
            });
        }
        check_layout(path, spans, end.cd_offset)?;

        let by_name = files
            .iter()
            .enumerate()
            .map(|(position, entry)| (entry.name.clone(), position))
            .collect();
        Ok(Self {
            path: owned(),
            zip,
            files,
            by_name,
            limits,
            charged: 0,
        })
    }

    /// The file entries' names, in archive order. Directory entries are not
    /// listed.
    pub fn names(&self) -> Vec<String> {
        self.files.iter().map(|entry| entry.name.clone()).collect()
    }

    /// The size entry `name` declares, if it exists. Reads refuse an entry
    /// that does not decompress to exactly this length, so it can be compared
    /// with a TUF target length before anything is read.
    pub fn declared_size(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).map(|&i| self.files[i].size)
    }

    /// Reads a (small) entry fully: metadata. Refuses an entry that declares
    /// or decompresses to more than `cap` bytes, whose length differs from the
    /// declared one, or whose CRC-32 does not match. Memory grows with the
    /// bytes actually decompressed, never with what the entry claims.
    pub fn read(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, ArchiveError> {
        let declared = self.lookup(name)?.size;
        let initial = usize::try_from(declared.min(cap).min(INITIAL_READ_CAPACITY)).unwrap_or(0);
        let mut contents = Vec::with_capacity(initial);
        self.stream(name, cap, &mut contents)?;
        Ok(contents)
    }

    /// Streams an entry into `out` a buffer at a time, with the checks of
    /// [`read`](Self::read), and returns its length: to hash a target image,
    /// and optionally extract it, in flat memory.
    ///
    /// The CRC-32 is verified only at the end of the entry, so `out` may have
    /// received bytes by the time an error is returned: whatever it builds
    /// must be discarded then (hash state, a temporary file).
    pub fn stream(
        &mut self,
        name: &str,
        cap: u64,
        out: &mut dyn Write,
    ) -> Result<u64, ArchiveError> {
        let (index, declared) = {
            let entry = self.lookup(name)?;
            (entry.index, entry.size)
        };
        let path = &self.path;
        let exceeds_cap = || ArchiveError::ExceedsCap {
            path: path.clone(),
            name: name.to_owned(),
            cap,
        };
        let mismatch = |actual| ArchiveError::SizeMismatch {
            path: path.clone(),
            name: name.to_owned(),
            declared,
            actual,
        };
        let corrupt = |source| ArchiveError::Corrupt {
            path: path.clone(),
            name: name.to_owned(),
            source,
        };

        if declared > cap {
            return Err(exceeds_cap());
        }
        if declared > self.limits.max_total_size.saturating_sub(self.charged) {
            return Err(ArchiveError::BudgetExhausted {
                path: path.clone(),
                name: name.to_owned(),
                max: self.limits.max_total_size,
            });
        }
        // Charged up front: the entry cannot produce more than it declares.
        self.charged += declared;

        let mut entry = self.zip.by_index(index).map_err(|e| corrupt(e.into()))?;
        let mut buf = vec![0; COPY_BUFFER];
        let mut total = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt(e)),
            };
            total += n as u64;
            // The zip crate already fails reads past the declared size; these
            // checks keep the guarantee local instead of trusting it.
            if total > cap {
                return Err(exceeds_cap());
            }
            if total > declared {
                return Err(mismatch(total));
            }
            out.write_all(&buf[..n])
                .map_err(|source| ArchiveError::Output {
                    path: path.clone(),
                    name: name.to_owned(),
                    source,
                })?;
        }
        if total != declared {
            return Err(mismatch(total));
        }
        Ok(total)
    }

    fn lookup(&self, name: &str) -> Result<&FileEntry, ArchiveError> {
        self.by_name
            .get(name)
            .map(|&i| &self.files[i])
            .ok_or_else(|| ArchiveError::NotFound {
                path: self.path.clone(),
                name: name.to_owned(),
            })
    }
}

const COPY_BUFFER: usize = 64 * 1024;
/// A read starts with at most this much memory and grows with what actually
/// decompresses, so a declared size alone never allocates.
const INITIAL_READ_CAPACITY: u64 = 1 << 20;

fn is_target(name: &str) -> bool {
    name.starts_with(TARGETS_PREFIX)
}

/// Why `name` (a file name, or a directory name without its trailing `/`)
/// is not a safe relative path, if it is not.
fn name_fault(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.starts_with('/') {
        return Some("absolute path");
    }
    if name.contains('\\') {
        return Some("backslash (a Windows path separator)");
    }
    if name.contains(':') {
        return Some("colon (a drive letter or an NTFS stream)");
    }
    if name.chars().any(char::is_control) {
        return Some("control character");
    }
    for segment in name.split('/') {
        match segment {
            "" => return Some("empty path segment"),
            "." | ".." => return Some("`.` or `..` path segment"),
            _ => {}
        }
    }
    None
}

/// Refuses duplicate names and names used both as a file and as a directory.
/// `dirs` are directory entry names without their trailing `/`.
fn check_namespace(path: &Path, files: &[&str], dirs: &[&str]) -> Result<(), ArchiveError> {
    let mut seen = HashSet::with_capacity(files.len());
    for name in files {
        if !seen.insert(*name) {
            return Err(ArchiveError::DuplicateEntry {
                path: path.to_path_buf(),
                name: (*name).to_owned(),
            });
        }
    }
    let clash = |name: &str| ArchiveError::FileDirectoryClash {
        path: path.to_path_buf(),
        name: name.to_owned(),
    };
    for name in files {
        for (slash, _) in name.match_indices('/') {
            if seen.contains(&name[..slash]) {
                return Err(clash(&name[..slash]));
            }
        }
    }
    for dir in dirs {
        if seen.contains(dir) {
            return Err(clash(dir));
        }
    }
    Ok(())
}

/// Checks on a central directory header that need nothing but its bytes.
fn check_raw_entries(path: &Path, raw: &[RawEntry]) -> Result<(), ArchiveError> {
    let mut seen = HashSet::with_capacity(raw.len());
    let mut files = Vec::with_capacity(raw.len());
    let mut dirs = Vec::new();
    for entry in raw {
        let lossy = || String::from_utf8_lossy(&entry.name).into_owned();
        let Ok(name) = std::str::from_utf8(&entry.name) else {
            return Err(ArchiveError::UnsafeName {
                path: path.to_path_buf(),
                name: lossy(),
                reason: "not valid UTF-8",
            });
        };
        // Duplicates are looked for before anything else: the zip crate
        // keeps one of them, so its view of the archive would already differ.
        if !seen.insert(name) {
            return Err(ArchiveError::DuplicateEntry {
                path: path.to_path_buf(),
                name: lossy(),
            });
        }
        let (is_dir, stem) = match name.strip_suffix('/') {
            Some(stem) => (true, stem),
            None => (false, name),
        };
        if let Some(reason) = name_fault(stem) {
            return Err(ArchiveError::UnsafeName {
                path: path.to_path_buf(),
                name: lossy(),
                reason,
            });
        }
        let file_type = (entry.external_attributes >> 16) & S_IFMT;
        match (file_type, is_dir) {
            (0, _) | (S_IFREG, false) | (S_IFDIR, true) => {}
            (S_IFLNK, _) => {
                return Err(ArchiveError::Symlink {
                    path: path.to_path_buf(),
                    name: lossy(),
                });
            }
            (mode, _) => {
                return Err(ArchiveError::SpecialFile {
                    path: path.to_path_buf(),
                    name: lossy(),
                    mode,
                });
            }
        }
        if entry.flags & ENCRYPTION_FLAGS != 0 || entry.method == METHOD_AES {
            return Err(ArchiveError::Encrypted {
                path: path.to_path_buf(),
                name: lossy(),
            });
        }
        if entry.method != METHOD_STORED && entry.method != METHOD_DEFLATED {
            return Err(ArchiveError::UnsupportedCompression {
                path: path.to_path_buf(),
                name: lossy(),
                method: entry.method,
            });
        }
        if let Some(id) = entry.unexpected_extra {
            return Err(ArchiveError::UnexpectedExtraField {
                path: path.to_path_buf(),
                name: lossy(),
                id,
            });
        }
        if is_dir {
            dirs.push(stem);
        } else {
            files.push(name);
        }
    }
    check_namespace(path, &files, &dirs)
}

/// Requires entries to tile the file from offset 0 up to the central
/// directory. `spans` are (local header start, data end) pairs.
fn check_layout(
    path: &Path,
    mut spans: Vec<(u64, u64)>,
    cd_offset: u64,
) -> Result<(), ArchiveError> {
    spans.sort_unstable();
    let mut expected = 0u64;
    // The central directory closes the tiling like one more span.
    for (start, end) in spans.into_iter().chain([(cd_offset, cd_offset)]) {
        if start == expected {
            expected = end;
            continue;
        }
        return Err(if expected == 0 {
            ArchiveError::PrependedData {
                path: path.to_path_buf(),
            }
        } else if start > expected {
            ArchiveError::HiddenData {
                path: path.to_path_buf(),
                offset: expected,
                len: start - expected,
            }
        } else {
            ArchiveError::Malformed {
                path: path.to_path_buf(),
                source: "zip entries overlap".into(),
            }
        });
    }
    Ok(())
}

// Zip format constants (APPNOTE.TXT sections 4.3 and 4.4).
const LOCAL_HEADER_SIG: [u8; 4] = *b"PK\x03\x04";
const CENTRAL_HEADER_SIG: [u8; 4] = *b"PK\x01\x02";
const EOCD_SIG: [u8; 4] = *b"PK\x05\x06";
const ZIP64_LOCATOR_SIG: [u8; 4] = *b"PK\x06\x07";
const ZIP64_EOCD_SIG: [u8; 4] = *b"PK\x06\x06";
const EOCD_LEN: u64 = 22;
const ZIP64_LOCATOR_LEN: u64 = 20;
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_HEADER_LEN: usize = 46;
const MAX_COMMENT_LEN: u64 = 0xffff;
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// Bit 0 (encrypted), bit 6 (strong encryption), bit 13 (masked headers).
const ENCRYPTION_FLAGS: u16 = 1 | (1 << 6) | (1 << 13);
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;
const METHOD_AES: u16 = 99;
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

fn le16(bytes: &[u8], at: usize) -> u16 {
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
fn starts_like_zip(reader: &mut BufReader<File>, len: u64) -> io::Result<bool> {
    if len < 4 {
        return Ok(false);
    }
    let mut head = [0; 4];
    read_at(reader, 0, &mut head)?;
    Ok(head == LOCAL_HEADER_SIG || head == EOCD_SIG)
}

/// The end records, as this module reads them.
struct EndRecords {
    cd_offset: u64,
    cd_size: u64,
    entries: u64,
    /// Where the end records (ZIP64 ones included) begin: the central
    /// directory must end exactly here.
    records_start: u64,
}

enum EndScan {
    Found(EndRecords),
    /// An end record exists, but not in the last 22 bytes.
    Trailing,
    /// No end record at all.
    Missing,
    Bad(&'static str),
}

/// Reads the end record, which must be the file's last 22 bytes (no archive
/// comment), and the ZIP64 records when its locator sits right before it.
fn scan_end(reader: &mut BufReader<File>, len: u64) -> io::Result<EndScan> {
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
struct RawEntry {
    name: Vec<u8>,
    flags: u16,
    method: u16,
    external_attributes: u32,
    /// The first extra field that is not ZIP64 sizes.
    unexpected_extra: Option<u16>,
}

enum DirectoryFault {
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
fn read_central_directory(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn scratch(name: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fwsign-bundle-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn stored() -> SimpleFileOptions {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .system(System::Unix)
    }

    /// A zip written by the zip crate itself, for tests that then damage it.
    fn raw_zip(entries: &[(&str, &[u8])], options: SimpleFileOptions) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// Replaces every occurrence of `from` (a benign name) with `to`, which
    /// must have the same length; a name appears once in the local header
    /// and once in the central directory.
    fn patch_name(bytes: &mut [u8], from: &[u8], to: &[u8]) {
        assert_eq!(from.len(), to.len());
        let mut hits = 0;
        let mut i = 0;
        while i + from.len() <= bytes.len() {
            if &bytes[i..i + from.len()] == from {
                bytes[i..i + from.len()].copy_from_slice(to);
                hits += 1;
            }
            i += 1;
        }
        assert_eq!(
            hits, 2,
            "expected the name in one local and one central header"
        );
    }

    fn central_header(bytes: &[u8]) -> usize {
        bytes
            .windows(4)
            .position(|w| w == CENTRAL_HEADER_SIG)
            .unwrap()
    }

    /// Patches a little-endian field in the first local header (at offset 0)
    /// and the first central directory header alike, so the two stay
    /// consistent and only the new value is under test.
    fn patch_both(bytes: &mut [u8], local_at: usize, central_at: usize, value: &[u8]) {
        let cd = central_header(bytes);
        bytes[local_at..local_at + value.len()].copy_from_slice(value);
        bytes[cd + central_at..cd + central_at + value.len()].copy_from_slice(value);
    }

    fn open_bytes(name: &str, bytes: &[u8]) -> Result<BundleArchive, ArchiveError> {
        open_bytes_with(name, bytes, ArchiveLimits::default())
    }

    fn open_bytes_with(
        name: &str,
        bytes: &[u8],
        limits: ArchiveLimits,
    ) -> Result<BundleArchive, ArchiveError> {
        let path = scratch(name).join("update.zip");
        std::fs::write(&path, bytes).unwrap();
        BundleArchive::open(&path, limits)
    }

    const ROOT: &[u8] = br#"{"signed":{"_type":"root","version":1},"signatures":[]}"#;
    const TIMESTAMP: &[u8] = br#"{"signed":{"_type":"timestamp","version":3}}"#;

    /// A realistic bundle; the nested target comes from a file.
    fn sample_bundle(dir: &Path, out: &Path) -> Vec<u8> {
        let image: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let image_path = dir.join("fw-1.0.0.bin");
        std::fs::write(&image_path, &image).unwrap();
        let entries = vec![
            ("fwsign-bundle.json".to_owned(), EntrySource::Bytes(b"{}")),
            ("metadata/1.root.json".to_owned(), EntrySource::Bytes(ROOT)),
            (
                "metadata/timestamp.json".to_owned(),
                EntrySource::Bytes(TIMESTAMP),
            ),
            (
                "targets/board-a/fw-1.0.0.bin".to_owned(),
                EntrySource::File(&image_path),
            ),
        ];
        write_bundle(out, &entries).unwrap();
        image
    }

    #[test]
    fn reproducible_output() {
        let dir = scratch("reproducible");
        let first = dir.join("first.zip");
        let second = dir.join("second.zip");
        sample_bundle(&dir, &first);
        sample_bundle(&dir, &second);
        let bytes = std::fs::read(&first).unwrap();
        assert_eq!(bytes, std::fs::read(&second).unwrap());
        // Rewriting in place replaces the file with the same bytes.
        sample_bundle(&dir, &first);
        assert_eq!(bytes, std::fs::read(&first).unwrap());

        // Nothing from the clock or the host made it in.
        let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
        for i in 0..zip.len() {
            let entry = zip.by_index_raw(i).unwrap();
            assert_eq!(entry.last_modified(), Some(DateTime::default()));
            assert_eq!(entry.unix_mode(), Some(0o100_644));
            assert_eq!(entry.extra_data(), None);
            let name = entry.name().unwrap().into_owned();
            let method = if name.starts_with(TARGETS_PREFIX) {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            };
            assert_eq!(entry.compression(), method, "{name}");
        }
    }

    #[test]
    fn round_trip_of_names_and_contents() {
        let dir = scratch("round-trip");
        let out = dir.join("update.zip");
        let image = sample_bundle(&dir, &out);
        let mut bundle = BundleArchive::open(&out, ArchiveLimits::default()).unwrap();
        assert_eq!(
            bundle.names(),
            [
                "fwsign-bundle.json",
                "metadata/1.root.json",
                "metadata/timestamp.json",
                "targets/board-a/fw-1.0.0.bin",
            ]
        );
        assert_eq!(bundle.read("metadata/1.root.json", 1 << 20).unwrap(), ROOT);
        assert_eq!(
            bundle.read("metadata/timestamp.json", 1 << 20).unwrap(),
            TIMESTAMP
        );
        let target = "targets/board-a/fw-1.0.0.bin";
        assert_eq!(bundle.declared_size(target), Some(image.len() as u64));
        let mut streamed = Vec::new();
        let len = bundle.stream(target, 1 << 20, &mut streamed).unwrap();
        assert_eq!(len, image.len() as u64);
        assert_eq!(streamed, image);
        assert!(matches!(
            bundle.read("metadata/absent.json", 1 << 20),
            Err(ArchiveError::NotFound { name, .. }) if name == "metadata/absent.json"
        ));
    }

    #[test]
    fn empty_bundle_round_trips() {
        let out = scratch("empty").join("update.zip");
        write_bundle(&out, &[]).unwrap();
        let bundle = BundleArchive::open(&out, ArchiveLimits::default()).unwrap();
        assert!(bundle.names().is_empty());
    }

    #[test]
    fn path_traversal_names_refused() {
        let evil = [
            "../evil",
            "/abs",
            "a/../../b",
            "C:\\x",
            "a\\b",
            "C:x",
            "a//b",
            "./a",
            "a/..",
            "a\0b",
            "a\u{1b}[2J",
        ];
        for name in evil {
            let benign = "q".repeat(name.len());
            let mut bytes = raw_zip(&[(&benign, b"payload")], stored());
            patch_name(&mut bytes, benign.as_bytes(), name.as_bytes());
            match open_bytes("traversal", &bytes) {
                Err(ArchiveError::UnsafeName { name: refused, .. }) => assert_eq!(refused, name),
                other => panic!("{name:?}: {other:?}"),
            }

            // The writer refuses to produce what the reader would refuse.
            let out = scratch("traversal-write").join("update.zip");
            let written = write_bundle(&out, &[(name.to_owned(), EntrySource::Bytes(b"x"))]);
            assert!(
                matches!(written, Err(ArchiveError::UnsafeName { .. })),
                "{name:?}"
            );
            assert!(!out.exists());
        }
    }

    #[test]
    fn non_utf8_name_refused() {
        let mut bytes = raw_zip(&[("qqqq", b"payload")], stored());
        patch_name(&mut bytes, b"qqqq", b"a\xffbc");
        assert!(matches!(
            open_bytes("non-utf8", &bytes),
            Err(ArchiveError::UnsafeName {
                reason: "not valid UTF-8",
                ..
            })
        ));
    }

    #[test]
    fn symlink_entry_refused() {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.add_symlink("targets/fw.bin", "/etc/shadow", stored())
            .unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(matches!(
            open_bytes("symlink", &bytes),
            Err(ArchiveError::Symlink { name, .. }) if name == "targets/fw.bin"
        ));
    }

    #[test]
    fn device_file_entry_refused() {
        let mut bytes = raw_zip(&[("metadata/a.json", b"{}")], stored());
        let cd = central_header(&bytes);
        let char_device: u32 = 0o020_644 << 16;
        bytes[cd + 38..cd + 42].copy_from_slice(&char_device.to_le_bytes());
        assert!(matches!(
            open_bytes("device", &bytes),
            Err(ArchiveError::SpecialFile {
                mode: 0o020_000,
                ..
            })
        ));
    }

    #[test]
    fn duplicate_entry_names_refused() {
        let mut bytes = raw_zip(
            &[
                ("metadata/a.json", b"{\"a\":1}"),
                ("metadata/b.json", b"{\"b\":2}"),
            ],
            stored(),
        );
        patch_name(&mut bytes, b"metadata/b.json", b"metadata/a.json");
        assert!(matches!(
            open_bytes("duplicate", &bytes),
            Err(ArchiveError::DuplicateEntry { name, .. }) if name == "metadata/a.json"
        ));

        let out = scratch("duplicate-write").join("update.zip");
        let twice = [
            ("metadata/a.json".to_owned(), EntrySource::Bytes(b"1")),
            ("metadata/a.json".to_owned(), EntrySource::Bytes(b"2")),
        ];
        assert!(matches!(
            write_bundle(&out, &twice),
            Err(ArchiveError::DuplicateEntry { .. })
        ));
    }

    #[test]
    fn file_that_is_also_a_directory_refused() {
        let bytes = raw_zip(&[("targets/x", b"1"), ("targets/x/y", b"2")], stored());
        assert!(matches!(
            open_bytes("clash", &bytes),
            Err(ArchiveError::FileDirectoryClash { name, .. }) if name == "targets/x"
        ));

        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("targets/x", stored()).unwrap();
        zip.add_directory("targets/x/", stored()).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(matches!(
            open_bytes("clash-dir", &bytes),
            Err(ArchiveError::FileDirectoryClash { name, .. }) if name == "targets/x"
        ));
    }

    #[test]
    fn directory_entries_are_ignored() {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.add_directory("targets/", stored()).unwrap();
        zip.start_file("targets/fw.bin", stored()).unwrap();
        zip.write_all(b"image").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let mut bundle = open_bytes("directory", &bytes).unwrap();
        assert_eq!(bundle.names(), ["targets/fw.bin"]);
        assert!(matches!(
            bundle.read("targets/", 10),
            Err(ArchiveError::NotFound { .. })
        ));
    }

    /// 200 MiB of zeros, deflated to about 200 KiB, built without ever
    /// holding the 200 MiB.
    fn bomb(name: &str) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(
            name,
            stored().compression_method(CompressionMethod::Deflated),
        )
        .unwrap();
        io::copy(&mut io::repeat(0).take(200 << 20), &mut zip).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn decompression_bomb_refused_by_ratio_and_size_before_reading() {
        let mut bytes = bomb("targets/bomb.bin");
        match open_bytes("bomb-ratio", &bytes) {
            Err(ArchiveError::RatioTooHigh {
                size, compressed, ..
            }) => {
                assert_eq!(size, 200 << 20);
                assert!(compressed < 300 << 10);
            }
            other => panic!("{other:?}"),
        }
        // The same stream as metadata is refused for its size alone.
        patch_name(&mut bytes, b"targets/bomb.bin", b"metadata/bomb.js");
        assert!(matches!(
            open_bytes("bomb-size", &bytes),
            Err(ArchiveError::EntryTooLarge {
                size: 209_715_200,
                max: 16_777_216,
                ..
            })
        ));
    }

    #[test]
    fn decompression_bomb_with_forged_small_size_stops_at_that_size() {
        let mut bytes = bomb("targets/bomb.bin");
        // Uncompressed size: offset 22 in the local header, 24 in the central one.
        patch_both(&mut bytes, 22, 24, &1000u32.to_le_bytes());
        let mut bundle = open_bytes("bomb-forged", &bytes).unwrap();
        assert_eq!(bundle.declared_size("targets/bomb.bin"), Some(1000));

        struct Counter(u64);
        impl Write for Counter {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0 += buf.len() as u64;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut counter = Counter(0);
        let streamed = bundle.stream("targets/bomb.bin", 4 << 30, &mut counter);
        assert!(
            matches!(streamed, Err(ArchiveError::Corrupt { .. })),
            "{streamed:?}"
        );
        assert!(counter.0 <= 1000, "{} bytes escaped", counter.0);
        assert!(matches!(
            bundle.read("targets/bomb.bin", 4 << 30),
            Err(ArchiveError::Corrupt { .. })
        ));
    }

    #[test]
    fn forged_longer_size_with_matching_crc_refused() {
        let options = stored().compression_method(CompressionMethod::Deflated);
        let mut bytes = raw_zip(&[("metadata/a.json", b"hello world")], options);
        patch_both(&mut bytes, 22, 24, &12u32.to_le_bytes());
        let mut bundle = open_bytes("forged-longer", &bytes).unwrap();
        assert!(matches!(
            bundle.read("metadata/a.json", 100),
            Err(ArchiveError::SizeMismatch {
                declared: 12,
                actual: 11,
                ..
            })
        ));
    }

    #[test]
    fn crc_mismatch_refused() {
        let mut bytes = raw_zip(&[("metadata/a.json", b"hello world")], stored());
        let data = bytes.windows(11).position(|w| w == b"hello world").unwrap();
        bytes[data] = b'j';
        let mut bundle = open_bytes("crc", &bytes).unwrap();
        assert!(matches!(
            bundle.read("metadata/a.json", 100),
            Err(ArchiveError::Corrupt { .. })
        ));
    }

    #[test]
    fn read_cap_and_read_budget_enforced() {
        let bytes = raw_zip(&[("metadata/a.json", &[b'x'; 100])], stored());
        let limits = ArchiveLimits {
            max_total_size: 150,
            ..ArchiveLimits::default()
        };
        let mut bundle = open_bytes_with("caps", &bytes, limits).unwrap();
        assert!(matches!(
            bundle.read("metadata/a.json", 99),
            Err(ArchiveError::ExceedsCap { cap: 99, .. })
        ));
        assert_eq!(bundle.read("metadata/a.json", 100).unwrap().len(), 100);
        assert!(matches!(
            bundle.read("metadata/a.json", 100),
            Err(ArchiveError::BudgetExhausted { max: 150, .. })
        ));
    }

    #[test]
    fn too_many_entries_refused() {
        let bytes = raw_zip(&[("a", b"1"), ("b", b"2"), ("c", b"3")], stored());
        let limits = ArchiveLimits {
            max_entries: 2,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            open_bytes_with("many", &bytes, limits),
            Err(ArchiveError::TooManyEntries {
                count: 3,
                max: 2,
                ..
            })
        ));
    }

    #[test]
    fn total_declared_size_over_limit_refused() {
        let bytes = raw_zip(&[("a", &[0; 100]), ("b", &[0; 100])], stored());
        let limits = ArchiveLimits {
            max_total_size: 150,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            open_bytes_with("total", &bytes, limits),
            Err(ArchiveError::TotalTooLarge { total: 200, .. })
        ));
    }

    #[test]
    fn encrypted_entry_refused() {
        let mut bytes = raw_zip(&[("metadata/a.json", b"{}")], stored());
        // General purpose flags: offset 6 in the local header, 8 in the central one.
        let flags = le16(&bytes, 6) | 1;
        patch_both(&mut bytes, 6, 8, &flags.to_le_bytes());
        assert!(matches!(
            open_bytes("encrypted", &bytes),
            Err(ArchiveError::Encrypted { .. })
        ));
    }

    #[test]
    fn unsupported_compression_refused() {
        let mut bytes = raw_zip(&[("metadata/a.json", b"{}")], stored());
        // Method: offset 8 in the local header, 10 in the central one; 12 is bzip2.
        patch_both(&mut bytes, 8, 10, &12u16.to_le_bytes());
        assert!(matches!(
            open_bytes("bzip2", &bytes),
            Err(ArchiveError::UnsupportedCompression { method: 12, .. })
        ));
    }

    #[test]
    fn unexpected_extra_field_refused() {
        let mut options =
            zip::write::FullFileOptions::default().compression_method(CompressionMethod::Stored);
        // An Info-ZIP Unicode Path field: a second name that some readers
        // use instead of the header's.
        let mut unicode_path = vec![1, 0, 0, 0, 0];
        unicode_path.extend_from_slice(b"../../etc/evil");
        options
            .add_extra_field(0x7075, unicode_path, false)
            .unwrap();
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("metadata/a.json", options).unwrap();
        zip.write_all(b"{}").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(matches!(
            open_bytes("extra", &bytes),
            Err(ArchiveError::UnexpectedExtraField { id: 0x7075, .. })
        ));
    }

    #[test]
    fn appended_data_and_comments_refused() {
        let bytes = raw_zip(&[("metadata/a.json", b"{}")], stored());
        let mut appended = bytes.clone();
        appended.extend_from_slice(b"junk after the end record");
        assert!(matches!(
            open_bytes("appended", &appended),
            Err(ArchiveError::TrailingData { .. })
        ));

        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.set_comment("see also: elsewhere").unwrap();
        zip.start_file("metadata/a.json", stored()).unwrap();
        let commented = zip.finish().unwrap().into_inner();
        assert!(matches!(
            open_bytes("comment", &commented),
            Err(ArchiveError::TrailingData { .. })
        ));
    }

    #[test]
    fn prepended_data_refused() {
        let bytes = raw_zip(&[("metadata/a.json", b"{}")], stored());
        let mut prepended = b"MZ\x90\x00 a self-extractor stub".to_vec();
        prepended.extend_from_slice(&bytes);
        assert!(matches!(
            open_bytes("prepended", &prepended),
            Err(ArchiveError::PrependedData { .. })
        ));
    }

    #[test]
    fn hidden_bytes_between_entries_refused() {
        // Move the central directory back by inserting bytes before it and
        // fixing the offset in the end record: a consistent zip that carries
        // bytes no entry accounts for.
        let bytes = raw_zip(&[("metadata/a.json", b"{}")], stored());
        let cd = central_header(&bytes);
        let mut hidden = bytes[..cd].to_vec();
        hidden.extend_from_slice(b"HIDDEN");
        hidden.extend_from_slice(&bytes[cd..]);
        let eocd = hidden.len() - 22;
        let offset = u32::try_from(cd + 6).unwrap();
        hidden[eocd + 16..eocd + 20].copy_from_slice(&offset.to_le_bytes());
        assert!(matches!(
            open_bytes("hidden", &hidden),
            Err(ArchiveError::HiddenData { len: 6, .. })
        ));
    }

    #[test]
    fn zip64_end_records_are_read() {
        // The writer switches to ZIP64 end records past 65 535 entries or
        // 4 GiB; an (empty) extensible data sector forces them here.
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.set_raw_zip64_extensible_data_sector(Box::new([]));
        zip.start_file("metadata/a.json", stored()).unwrap();
        zip.write_all(b"{}").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let locator = bytes.len() - 22 - 20;
        assert_eq!(bytes[locator..locator + 4], ZIP64_LOCATOR_SIG);
        let mut bundle = open_bytes("zip64", &bytes).unwrap();
        assert_eq!(bundle.read("metadata/a.json", 10).unwrap(), b"{}");

        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.set_raw_zip64_extensible_data_sector(Box::new(*b"hidden"));
        zip.start_file("metadata/a.json", stored()).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(matches!(
            open_bytes("zip64-extensible", &bytes),
            Err(ArchiveError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_or_corrupt_file_refused_cleanly() {
        let dir = scratch("truncated");
        let out = dir.join("update.zip");
        sample_bundle(&dir, &out);
        let bytes = std::fs::read(&out).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 1, 100] {
            assert!(
                matches!(
                    open_bytes("cut", &bytes[..cut]),
                    Err(ArchiveError::Truncated { .. })
                ),
                "cut at {cut}"
            );
        }

        // Damage the metadata part byte by byte (the image is too long to try
        // every offset): the reader refuses or reads, but never panics or
        // returns contents that fail their CRC.
        let small = raw_zip(
            &[("metadata/a.json", ROOT), ("metadata/b.json", TIMESTAMP)],
            stored().compression_method(CompressionMethod::Deflated),
        );
        for i in 0..small.len() {
            let mut damaged = small.clone();
            damaged[i] ^= 0x55;
            if let Ok(mut bundle) = open_bytes("flip", &damaged) {
                for name in bundle.names() {
                    if let Ok(contents) = bundle.read(&name, 1 << 20) {
                        assert!(contents == ROOT || contents == TIMESTAMP, "offset {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn not_a_zip_refused() {
        assert!(matches!(
            open_bytes("json", br#"{"signed":{}}"#),
            Err(ArchiveError::NotAZip { .. })
        ));
        assert!(matches!(
            open_bytes("empty-file", b""),
            Err(ArchiveError::NotAZip { .. })
        ));
        let missing = scratch("missing").join("update.zip");
        assert!(matches!(
            BundleArchive::open(&missing, ArchiveLimits::default()),
            Err(ArchiveError::Io { .. })
        ));
    }
}
