//! Tests of writing bundles and of refusing hostile or damaged archives,
//! most built byte by byte.

use std::io::{self, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipArchive, ZipWriter};

use super::directory::{CENTRAL_HEADER_SIG, ZIP64_LOCATOR_SIG, le16};
use super::*;

/// A fresh directory of the test's own under the system temp dir, and its
/// path: the directory is removed when the guard is dropped (also when the
/// test fails), so keep the guard bound for the whole test.
fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix(&format!("fwsign-bundle-{name}-"))
        .tempdir()
        .unwrap();
    let dir = guard.path().to_path_buf();
    (guard, dir)
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
    let (_scratch, dir) = scratch(name);
    let path = dir.join("update.zip");
    std::fs::write(&path, bytes).unwrap();
    // The archive reads through the file it opened, so the directory may
    // go when this returns.
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
    let (_scratch, dir) = scratch("reproducible");
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
    let (_scratch, dir) = scratch("round-trip");
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
    let (_scratch, dir) = scratch("empty");
    let out = dir.join("update.zip");
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
        let (_scratch, dir) = scratch("traversal-write");
        let out = dir.join("update.zip");
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

    let (_scratch, dir) = scratch("duplicate-write");
    let out = dir.join("update.zip");
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
    let (_scratch, dir) = scratch("truncated");
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
    let (_scratch, dir) = scratch("missing");
    let missing = dir.join("update.zip");
    assert!(matches!(
        BundleArchive::open(&missing, ArchiveLimits::default()),
        Err(ArchiveError::Io { .. })
    ));
}
