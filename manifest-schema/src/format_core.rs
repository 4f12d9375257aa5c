//! The device path: every module here is `no_std`, allocation-free, and
//! linted so it cannot panic (no indexing, unchecked arithmetic, `unwrap`,
//! `expect` or `panic!`). The verification core, `fwsign-core`, reads
//! metadata through exactly this; callers reach it through the re-exports at
//! the crate root (`fwsign_manifest_schema::reader`, `::expiry`).

pub mod expiry;
mod json_str;
pub mod reader;
mod utf8;
