//! Writing a bundle: reproducible bytes (pinned timestamps, modes and
//! compression), streamed images, and an atomic replace of the output.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use fwsign_keys::atomic_write::{self, Mode};

use super::error::ArchiveError;
use super::limits::{check_namespace, name_fault};
use super::{COPY_BUFFER, CopyError, METADATA_DEFLATE_LEVEL, copy_at_most, is_target};

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
/// length alone). Target images (under [`TARGETS_PREFIX`](super::TARGETS_PREFIX)) are Stored: they
/// are usually compressed or encrypted already, and stored data lets an
/// installer hash or copy them without inflating. Metadata is Deflated at
/// [`METADATA_DEFLATE_LEVEL`]. Compressed bytes depend on the compressor
/// build (`zlib-rs`), so reproducibility holds for a given fwsign release;
/// nothing relies on it for security, as TUF hashes entry contents, never
/// the zip bytes.
///
/// Names are checked with the rules [`BundleArchive::open`](super::BundleArchive::open) applies, so
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
                // The ZIP64 decision was made from `len`; a file that grew
                // could overflow 32-bit sizes, and one that changed at all
                // would make the bundle depend on timing.
                match copy_at_most(&mut input, &mut zip, len, COPY_BUFFER) {
                    Ok(copied) if copied == len => {}
                    Ok(_) | Err(CopyError::TooLong(_)) => {
                        return Err(source_error(io::Error::other(
                            "the file changed size while it was being read",
                        )));
                    }
                    Err(CopyError::Read(e)) => return Err(source_error(e)),
                    Err(CopyError::Write(e)) => return Err(write_error(e)),
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
