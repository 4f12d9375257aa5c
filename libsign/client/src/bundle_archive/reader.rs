//! [`BundleArchive`]: opening a bundle from anywhere, validating its whole
//! structure before any entry is read, and handing out entry contents
//! within the limits and the total read budget.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use zip::ZipArchive;
use zip::read::{ArchiveOffset, Config};

use super::directory::{
    DirectoryFault, EndScan, read_central_directory, scan_end, starts_like_zip,
};
use super::error::ArchiveError;
use super::limits::{ArchiveLimits, RATIO_CHECK_ABOVE, check_layout, check_raw_entries};
use super::{COPY_BUFFER, CopyError, copy_at_most, is_target};

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
        // The zip crate already fails reads past the declared size (at most
        // `cap`); the limit keeps the guarantee local instead of trusting it.
        let total = match copy_at_most(&mut entry, out, declared, COPY_BUFFER) {
            Ok(total) => total,
            Err(CopyError::Read(e)) => return Err(corrupt(e)),
            Err(CopyError::TooLong(total)) if total > cap => return Err(exceeds_cap()),
            Err(CopyError::TooLong(total)) => return Err(mismatch(total)),
            Err(CopyError::Write(source)) => {
                return Err(ArchiveError::Output {
                    path: path.clone(),
                    name: name.to_owned(),
                    source,
                });
            }
        };
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

/// A read starts with at most this much memory and grows with what actually
/// decompresses, so a declared size alone never allocates.
const INITIAL_READ_CAPACITY: u64 = 1 << 20;
