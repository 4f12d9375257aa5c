//! `bundle_archive`: the bundle zip reader over arbitrary bytes.

use std::cell::RefCell;
use std::io;
use std::path::PathBuf;

use fwsign_client::bundle_archive::{ArchiveLimits, BundleArchive, TARGETS_PREFIX};

/// Most bytes read from one entry: beyond any fuzz input's decompressed
/// size, well within memory.
const READ_CAP: u64 = 64 << 20;

thread_local! {
    /// One scratch file name per thread (the reader opens a path).
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let thread = format!("{:?}", std::thread::current().id())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>();
        Self(std::env::temp_dir().join(format!(
            "fwsign-fuzz-bundle-{}-{thread}.zip",
            std::process::id()
        )))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `data` to a scratch file, opens it with [`BundleArchive::open`]
/// and the default limits, removes the file's name, and reads every entry it lists: metadata with
/// [`BundleArchive::read`], target images streamed into a sink. Never
/// panics; an error is an answer.
pub fn bundle_archive(data: &[u8]) {
    SCRATCH.with(|scratch| {
        let path = scratch.borrow().0.clone();
        std::fs::write(&path, data).expect("writing the scratch file");
        let opened = BundleArchive::open(&path, ArchiveLimits::default());
        // The archive reads through its open file; the name can go now, so
        // a fuzzing process (which never runs thread-local destructors)
        // leaves no file behind.
        let _ = std::fs::remove_file(&path);
        let Ok(mut archive) = opened else {
            return;
        };
        let names = archive.names();
        for name in &names {
            let declared = archive
                .declared_size(name)
                .expect("a listed name has a declared size");
            if name.starts_with(TARGETS_PREFIX) {
                if let Ok(n) = archive.stream(name, READ_CAP, &mut io::sink()) {
                    assert_eq!(n, declared, "a read returned other than the declared size");
                }
            } else if let Ok(bytes) = archive.read(name, READ_CAP) {
                assert_eq!(bytes.len() as u64, declared);
            }
        }
        assert!(archive.declared_size("no/such/entry").is_none());
    });
}
