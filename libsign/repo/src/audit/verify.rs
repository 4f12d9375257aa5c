//! Verification against anchors: heads recorded in signed metadata
//! ([`Anchor`]) that the log's lines must still match, and the
//! [`AuditReport`] of a full check.
//!
//! Separate because the chain alone only proves the lines agree with each
//! other; the anchors are what make a rewrite show.

use std::collections::{HashMap, HashSet};

use super::entry::{AuditHead, is_sha256_hex, parse_link};
use super::error::AuditError;
use super::log::{AuditLog, LogTail, TailMemo};

/// A head recorded somewhere trusted, against which the log is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Where it was recorded, for messages: `metadata/3.snapshot.json`.
    pub source: String,
    /// The head recorded there.
    pub head: AuditHead,
}

/// What [`AuditLog::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// The number of lines, all of which chain correctly.
    pub lines: usize,
    /// The number of anchors, all of which matched.
    pub anchors_checked: usize,
    /// The log's last line, `None` for an empty or missing log.
    pub head: Option<AuditHead>,
}

impl AuditLog {
    /// Full verification: the chain (as [`AuditLog::entries`]) and then every
    /// anchor, whose line must exist and carry exactly the recorded hash.
    ///
    /// Anchors are checked from the earliest line on, so a rewrite is
    /// reported at the first anchor it broke, together with the range of
    /// lines it must lie in.
    pub fn verify(&self, anchors: &[Anchor]) -> Result<AuditReport, AuditError> {
        self.verify_after(anchors, &TailMemo::default())
    }

    /// [`AuditLog::verify`], leaving the end of the log it verified in
    /// `tail` for the append that follows.
    pub(crate) fn verify_after(
        &self,
        anchors: &[Anchor],
        tail: &TailMemo,
    ) -> Result<AuditReport, AuditError> {
        // Only the hashes of the anchored lines and of the last line are
        // kept: the log is read a line at a time and its events dropped.
        let anchored: HashSet<u64> = anchors.iter().map(|a| a.head.line).collect();
        let mut hashes: HashMap<usize, String> = HashMap::new();
        let mut head = None;
        // Each line's place in the chain is all this needs: read without
        // the targets a line lists ([`parse_link`]).
        let (lines, len) = self.walk_chain(parse_link, |line, link| {
            if u64::try_from(line).is_ok_and(|l| anchored.contains(&l)) {
                hashes.insert(line, link.hash.clone());
            }
            head = Some(AuditHead {
                line: link.seq,
                sha256: link.hash,
            });
        })?;
        let mut sorted: Vec<&Anchor> = anchors.iter().collect();
        sorted.sort_by_key(|a| a.head.line);
        let mut first_suspect = 1;
        for anchor in sorted {
            check_anchor(anchor)?;
            let missing = || AuditError::AnchorMissing {
                path: self.path.clone(),
                anchor: anchor.source.clone(),
                line: anchor.head.line,
                lines,
            };
            let line = usize::try_from(anchor.head.line).map_err(|_| missing())?;
            let hash = hashes.get(&line).ok_or_else(missing)?;
            if *hash != anchor.head.sha256 {
                return Err(AuditError::AnchorMismatch {
                    path: self.path.clone(),
                    anchor: anchor.source.clone(),
                    line,
                    anchored: anchor.head.sha256.clone(),
                    found: hash.clone(),
                    first_suspect,
                });
            }
            first_suspect = line + 1;
        }
        tail.set(head.clone().map(|head| LogTail { len, head }));
        Ok(AuditReport {
            lines,
            anchors_checked: anchors.len(),
            head,
        })
    }
}

pub(super) fn check_anchor(anchor: &Anchor) -> Result<(), AuditError> {
    let invalid = |reason| AuditError::InvalidAnchor {
        anchor: anchor.source.clone(),
        reason,
    };
    if anchor.head.line == 0 {
        return Err(invalid("line 0 (lines count from 1)"));
    }
    if !is_sha256_hex(&anchor.head.sha256) {
        return Err(invalid("sha256 is not 64 lowercase hex digits"));
    }
    Ok(())
}
