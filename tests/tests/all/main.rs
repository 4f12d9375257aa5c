//! fwsign's end-to-end and interoperability tests: one binary, one module per
//! concern, each test named after the attack or the peer behaviour it pins.
//!
//! Peers (python-tuf and securesystemslib in a venv) are real. Tests that need
//! one read its location from the environment `scripts/test` sets
//! (`FWSIGN_TEST_PYTHON`); run alone without it they say they skipped, and
//! with `FWSIGN_REQUIRE_PEERS=1` (as in CI) a missing peer fails them.

#![allow(
    clippy::unwrap_used,
    reason = "a test failing on a broken fixture is the point"
)]
#![allow(clippy::print_stderr, reason = "tests report which peer they skipped")]

mod canonical_vectors;
mod keyids;
mod peers;
mod properties;
mod python_tuf_repo;
mod threshold_attacks;
mod unknown_fields;
