//! Why a bundle could not be written, opened or read ([`ArchiveError`]).
//! One variant per refusal, so a caller (and a test) can tell a hostile
//! archive from damage or an I/O failure.

use std::io;
use std::path::PathBuf;

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
    /// [`ArchiveLimits::max_entries`](super::ArchiveLimits::max_entries).
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
    /// An entry declares more bytes than [`ArchiveLimits`](super::ArchiveLimits) allows for its
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
    /// An entry's declared size is more than
    /// [`ArchiveLimits::max_ratio`](super::ArchiveLimits::max_ratio) times its
    /// compressed size: the signature of a decompression bomb.
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
    /// [`ArchiveLimits::max_total_size`](super::ArchiveLimits::max_total_size).
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
    /// [`ArchiveLimits::max_total_size`](super::ArchiveLimits::max_total_size).
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
