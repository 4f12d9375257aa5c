//! Offline update bundles (being written).
