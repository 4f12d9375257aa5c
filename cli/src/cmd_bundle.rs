//! `fwsign bundle` (being written).
