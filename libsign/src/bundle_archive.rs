//! The zip container of offline update bundles (being written).
