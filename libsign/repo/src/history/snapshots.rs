//! The live state and the snapshot chain: `timestamp.json` and the
//! snapshot it pins verified as a client does, then the walk back through
//! the chained snapshots, a snapshot file newer than the pinned one (an
//! interrupted publish's leftover, or a fault), and the unchained snapshots
//! from before the chain fields existed.

use std::path::PathBuf;

use fwsign_manifest_schema::metadata::{Signed, Snapshot, Timestamp};

use super::walk::{Listing, Walk};
use super::{
    Depth, Live, PinnedSnapshot, canonical, fault, named_root, parse, prev_snapshot,
    prev_snapshot_version, sha256_hex,
};
use crate::audit::{PREV_SNAPSHOT_FIELD, ROOT_VERSION_FIELD};
use crate::{RepoError, names, read_file, read_optional};
use fwsign_core::key_types::BUILTIN;
use fwsign_keys::document::{CanonicalDocument, verify_role};
use fwsign_keys::trusted_set::TrustedSet;

impl Walk<'_> {
    /// Verifies the live state and walks the snapshot chain back from it.
    /// `None` before the first publish; else the pinned snapshot and how
    /// many chained snapshots were walked.
    pub(super) fn snapshots(
        &mut self,
        listing: &Listing,
        chain: &[CanonicalDocument],
        live: Live,
    ) -> Result<Option<(PinnedSnapshot, usize)>, RepoError> {
        let ts_path = self.dir.join("timestamp.json");
        let Some(ts_bytes) = read_optional(&ts_path)? else {
            // A first publish interrupted before its timestamp leaves
            // `1.root.json` and `1.snapshot.json` at most; anything later
            // was published.
            if let Some(v) = listing.snapshots.last().filter(|&&v| v > 1) {
                return Err(fault(
                    &ts_path,
                    format!("missing, but snapshot version {v} was published (deleted?)"),
                ));
            }
            if let Some(v) = listing.roots.last().filter(|&&v| v > 1) {
                return Err(fault(
                    &ts_path,
                    format!("missing, but root version {v} was published (deleted?)"),
                ));
            }
            return Ok(None);
        };
        let newest = u64::try_from(chain.len()).unwrap_or(u64::MAX);
        if chain.is_empty() {
            return Err(fault(
                &ts_path,
                "published, but there is no root: metadata/1.root.json is missing",
            ));
        }
        let timestamp = parse::<Timestamp>(&ts_path, &ts_bytes)?;
        let mut version = timestamp
            .signed
            .meta
            .get("snapshot.json")
            .map(|m| m.version)
            .ok_or_else(|| fault(&ts_path, "pins no snapshot.json"))?;
        let mut path = self.snapshot_path(version);
        let mut bytes = read_optional(&path)?
            .ok_or_else(|| fault(&path, "missing, but timestamp.json pins it (deleted?)"))?;
        let pinned = PinnedSnapshot {
            version,
            sha256: sha256_hex(&bytes),
        };
        let mut doc = parse::<Snapshot>(&path, &bytes)?;

        // The live state, as a client checks it.
        let live_root = match (live, named_root(&path, &doc)?) {
            (Live::PendingRoot, Some(r)) if r.checked_add(1) == Some(newest) => r,
            _ => newest,
        };
        let live_path = self.root_path(live_root);
        let root_doc = usize::try_from(live_root)
            .ok()
            .and_then(|v| chain.get(v.wrapping_sub(1)))
            .ok_or_else(|| fault(&live_path, "missing"))?;
        let mut client = TrustedSet::new(root_doc.as_bytes(), BUILTIN, None)
            .map_err(|e| fault(&live_path, e.to_string()))?;
        client
            .update_timestamp_ignoring_expiry(&ts_bytes)
            .map_err(|e| {
                fault(
                    &ts_path,
                    format!("does not verify under root v{live_root}: {e}"),
                )
            })?;
        client.update_snapshot_ignoring_expiry(&bytes).map_err(|e| {
            fault(
                &path,
                format!(
                    "does not verify as the snapshot timestamp.json pins, under root v{live_root}: {e}"
                ),
            )
        })?;

        self.newer_snapshots(listing, &pinned, &doc, chain)?;

        // The chain, back from the pinned snapshot.
        let mut later: Option<(PathBuf, u64)> = None;
        let mut walked = 0;
        loop {
            if doc.signed.version != version {
                return Err(fault(
                    &path,
                    format!("says it is snapshot version {}", doc.signed.version),
                ));
            }
            let snapshot = canonical(&path, &bytes)?;
            let Some(root_version) = named_root(&path, &doc)? else {
                self.warnings.push(format!(
                    "{}: unchained (written before snapshots recorded {ROOT_VERSION_FIELD} and {PREV_SNAPSHOT_FIELD}): the walk stops here; it and the older snapshots are only checked to be signed under some root of the chain",
                    self.rel(&path)
                ));
                self.unchained(version, listing, chain)?;
                break;
            };
            let root = usize::try_from(root_version)
                .ok()
                .and_then(|v| chain.get(v.wrapping_sub(1)))
                .ok_or_else(|| {
                    fault(
                        &path,
                        format!(
                            "names root v{root_version}, which the verified root chain (v1 to v{newest}) does not have"
                        ),
                    )
                })?;
            if let Some((later_path, later_root)) = &later
                && root_version > *later_root
            {
                return Err(fault(
                    later_path,
                    format!(
                        "names root v{later_root}, older than the root v{root_version} the earlier {} names: snapshots never go back to an older root",
                        self.rel(&path)
                    ),
                ));
            }
            verify_role(root, "snapshot", &snapshot, BUILTIN)
                .and_then(|r| r.require())
                .map_err(|e| {
                    fault(
                        &path,
                        format!(
                            "not signed by the snapshot keys of root v{root_version}, the root it names: {e}"
                        ),
                    )
                })?;
            self.take_anchor(&path, &doc.signed.unknown)?;
            match self.depth {
                Depth::Full => self.roles(&path, &snapshot, &doc, root, root_version)?,
                Depth::Live if walked == 0 => self.live_roles(&path, &doc)?,
                Depth::Live => {}
            }
            walked += 1;

            let Some(prev_hash) = prev_snapshot(&path, &doc)? else {
                if version == 1 {
                    break;
                }
                return Err(fault(
                    &path,
                    format!(
                        "records no {PREV_SNAPSHOT_FIELD}: it does not link to snapshot version {}",
                        version - 1
                    ),
                ));
            };
            let Some(prev_version) = prev_snapshot_version(&path, &doc, version)? else {
                return Err(fault(
                    &path,
                    format!("snapshot version 1 records a {PREV_SNAPSHOT_FIELD}"),
                ));
            };
            let prev_path = self.snapshot_path(prev_version);
            let prev_bytes = read_optional(&prev_path)?.ok_or_else(|| {
                fault(
                    &prev_path,
                    format!("missing, but {} links to it (deleted?)", self.rel(&path)),
                )
            })?;
            let found = sha256_hex(&prev_bytes);
            if found != prev_hash {
                return Err(fault(
                    &prev_path,
                    format!(
                        "changed after it was published: it hashes to {found}, but {} records {prev_hash}",
                        self.rel(&path)
                    ),
                ));
            }
            doc = parse::<Snapshot>(&prev_path, &prev_bytes)?;
            later = Some((path, root_version));
            path = prev_path;
            bytes = prev_bytes;
            version = prev_version;
        }
        Ok(Some((pinned, walked)))
    }

    /// Snapshot files newer than the pinned one. Each publish interrupted
    /// after writing its snapshot leaves one, linked to the pinned snapshot
    /// (versions are never reused, so the next publish takes a newer one);
    /// each is checked like a link of the chain and its anchor counts (the
    /// log only grows after it). One that does not link to the pinned
    /// snapshot is what putting back an older `timestamp.json` leaves: the
    /// newer snapshots' anchors would silently stop counting.
    pub(super) fn newer_snapshots(
        &mut self,
        listing: &Listing,
        pinned: &PinnedSnapshot,
        pinned_doc: &Signed<Snapshot>,
        chain: &[CanonicalDocument],
    ) -> Result<(), RepoError> {
        let newer: Vec<u64> = listing
            .snapshots
            .range(pinned.version.saturating_add(1)..)
            .copied()
            .collect();
        for next in newer {
            self.newer_snapshot(next, pinned, pinned_doc, chain)?;
        }
        Ok(())
    }

    fn rolled_back(&self, version: u64, pinned: u64) -> RepoError {
        fault(
            &self.snapshot_path(version),
            format!(
                "newer than snapshot v{pinned}, which timestamp.json pins: was an older timestamp.json put back?"
            ),
        )
    }

    /// One snapshot file newer than the pinned one: signed under a root of
    /// the chain no older than the pinned snapshot's, and linked directly to
    /// the pinned snapshot (as every snapshot a killed publish leaves is).
    fn newer_snapshot(
        &mut self,
        next: u64,
        pinned: &PinnedSnapshot,
        pinned_doc: &Signed<Snapshot>,
        chain: &[CanonicalDocument],
    ) -> Result<(), RepoError> {
        let path = self.snapshot_path(next);
        let bytes = read_file(&path)?;
        // A file that is not snapshot version `next` at all (a killed
        // command's leftover, or anything else no timestamp could have
        // named) is an orphan: reported, never counted. Clients never fetch
        // it, so it cannot roll anything back.
        let parsed = parse::<Snapshot>(&path, &bytes)
            .ok()
            .zip(canonical(&path, &bytes).ok())
            .filter(|(doc, _)| doc.signed.version == next);
        let Some((doc, snapshot)) = parsed else {
            self.warnings.push(format!(
                "{}: an orphan (not snapshot version {next}; no timestamp names it): not counted",
                self.rel(&path)
            ));
            return Ok(());
        };
        let rolled_back = |version: u64| self.rolled_back(version, pinned.version);
        let floor = named_root(&path, pinned_doc)?.unwrap_or(1);
        match named_root(&path, &doc)? {
            // From an fwsign before the chain: as the unchained ones.
            None => {
                let signed = chain.iter().any(|root| {
                    verify_role(root, "snapshot", &snapshot, BUILTIN).is_ok_and(|r| r.is_met())
                });
                if !signed {
                    return Err(rolled_back(next));
                }
            }
            Some(root_version) => {
                let root = usize::try_from(root_version)
                    .ok()
                    .filter(|_| root_version >= floor)
                    .and_then(|v| chain.get(v.wrapping_sub(1)))
                    .ok_or_else(|| rolled_back(next))?;
                let signed =
                    verify_role(root, "snapshot", &snapshot, BUILTIN).is_ok_and(|r| r.is_met());
                let linked = prev_snapshot(&path, &doc)?.as_deref() == Some(&pinned.sha256)
                    && prev_snapshot_version(&path, &doc, next)? == Some(pinned.version);
                if !signed || !linked {
                    return Err(rolled_back(next));
                }
            }
        }
        self.take_anchor(&path, &doc.signed.unknown)
    }

    /// Snapshot `from` (unchained) and every older snapshot file: signed
    /// under some root of the chain, as before the chain existed.
    pub(super) fn unchained(
        &mut self,
        from: u64,
        listing: &Listing,
        chain: &[CanonicalDocument],
    ) -> Result<(), RepoError> {
        for &version in listing.snapshots.range(..=from).rev() {
            let path = self.snapshot_path(version);
            let bytes = read_file(&path)?;
            let doc = parse::<Snapshot>(&path, &bytes)?;
            let snapshot = canonical(&path, &bytes)?;
            let signed = chain.iter().any(|root| {
                verify_role(root, "snapshot", &snapshot, BUILTIN).is_ok_and(|r| r.is_met())
            });
            if !signed {
                return Err(fault(
                    &path,
                    "not signed by the snapshot keys of any root of the verified chain",
                ));
            }
            self.take_anchor(&path, &doc.signed.unknown)?;
            for (file, meta) in &doc.signed.meta {
                if let Some(role) = file.strip_suffix(".json") {
                    self.referenced
                        .insert(names::versioned_role_file(meta.version, role));
                }
            }
        }
        Ok(())
    }
}
