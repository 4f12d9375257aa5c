//! The device path: every module here is `no_std`, allocation-free, and
//! linted so it cannot panic (no indexing, unchecked arithmetic, `unwrap`,
//! `expect` or `panic!`). The bootloader links exactly this; the host reaches
//! it through the re-exports at the crate root (`fwsign_sign::verify`, ...).

pub mod key_types;
#[cfg(feature = "p256")]
pub(crate) mod p256_encoding;
pub mod path_match;
pub mod verify;
pub mod workflow;
