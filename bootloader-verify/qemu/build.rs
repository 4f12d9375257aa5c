//! Puts `memory.x` on the linker's search path for cortex-m-rt's `link.x`.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::copy("memory.x", out.join("memory.x")) {
        panic!("memory.x: {e}");
    }
    // cortex-m-rt's `device` feature includes `device.x`, where a device
    // crate names its interrupt handlers; the board glue's vector table
    // (`board::__INTERRUPTS`) points every interrupt at the default handler,
    // so there is nothing to name.
    if let Err(e) = std::fs::write(
        out.join("device.x"),
        "/* no device interrupt handlers: see src/board.rs */\n",
    ) {
        panic!("device.x: {e}");
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("thumb")) {
        println!("cargo:rustc-link-arg=-Tlink.x");
    }
}
