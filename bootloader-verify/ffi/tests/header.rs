//! The committed C header matches what cbindgen generates from the source.
//! `FWSIGN_BLESS=1 cargo test -p fwsign-bootloader-verify-ffi --test header`
//! rewrites it.

#![allow(
    clippy::unwrap_used,
    reason = "a broken fixture should fail the test loudly"
)]

use std::path::Path;

#[test]
fn committed_header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .unwrap();
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/fwsign_verify.h");
    if std::env::var("FWSIGN_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `FWSIGN_BLESS=1 cargo test -p fwsign-bootloader-verify-ffi --test header` and commit it",
        path.display()
    );
}
