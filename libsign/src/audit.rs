//! The hash-chained audit log (being written).
