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

mod audit_forward;
mod audit_insider;
mod bins_batch;
mod bootloader_version;
mod canonical_vectors;
mod cli_docs;
mod client_cache;
mod client_delegations;
mod client_names;
mod client_python_tuf;
mod client_support;
mod client_workflow;
mod device_pack;
mod device_tools;
mod hashed_bins;
mod hsm_release;
mod identify;
mod identify_current;
mod identify_names;
mod key_backup;
mod key_backup_print;
mod key_handling;
mod key_owners;
mod keyids;
mod ocpp_certs;
mod ocpp_requests;
mod ocpp_sign;
mod ocpp_support;
mod ocpp_verify;
mod path_rules;
mod peers;
mod properties;
mod published_verify;
mod python_tuf_repo;
mod release_audit;
mod release_cli;
mod release_crash;
mod release_delegation;
mod release_job;
mod release_keys;
mod release_names;
mod release_payload;
mod release_root_rotation;
mod release_support;
mod release_tough;
mod release_workflow;
mod repo_add_sources;
mod repo_concurrency;
mod repo_push;
mod repo_push_store;
mod repo_status_reasons;
mod s3_server;
mod sbom;
mod sbom_lifecycle;
mod search_table;
mod succinct_roles;
mod threshold_attacks;
mod unknown_fields;
