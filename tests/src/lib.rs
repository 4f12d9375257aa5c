//! Shared helpers for the end-to-end and interoperability tests.
