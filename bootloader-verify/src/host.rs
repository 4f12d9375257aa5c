//! The host side of the device formats (feature `std`; never on the
//! device), for `fwsign device inspect`, `fwsign device verify` and the
//! flashing formats of `fwsign device pack` and `fwsign device root`.
//!
//! - [`inspect`] reads a slot with the device's own parser
//!   ([`crate::slot::Header::parse`], [`crate::slot::entries`]) and
//!   describes it, trusting nothing;
//! - [`check`] runs [`crate::verify_slot`], the device's verifier, over a
//!   slot in memory, and returns its decision;
//! - [`encode`] writes a slot padded to the flash region, as Intel HEX, and
//!   a root as a C array.
//!
//! Nothing here prints or decides trust itself: every decision is
//! [`crate::verify_slot`]'s, which is the verification core's.

pub mod check;
pub mod encode;
pub mod inspect;
