//! Keeping a published repository fresh between releases: a new
//! timestamp (`refresh_timestamp`), or a new snapshot and timestamp
//! (`refresh`), signed with the online keys; apart from `publish`, whose
//! file is long enough without them.

#[allow(
    clippy::wildcard_imports,
    reason = "the publish module's own helpers and imports"
)]
use super::*;

impl Repository {
    /// Re-signs the timestamp (next version, fresh expiry) over the current
    /// snapshot, whatever its expiry.
    pub fn refresh_timestamp(
        &self,
        timestamp_signer: &dyn TufSigner,
        now: UnixTime,
    ) -> Result<u64, RepoError> {
        let op = self.operation();
        let published = op
            .published()?
            .ok_or_else(|| RepoError::Invalid("nothing is published yet".into()))?;
        let (Some(timestamp), Some(snapshot), Some(snapshot_bytes)) = (
            &published.timestamp,
            &published.snapshot,
            published.snapshot_bytes(),
        ) else {
            return Err(RepoError::Invalid("nothing is published yet".into()));
        };
        let root_doc = canonical_of("root", &published.root)?;
        let next = self.new_timestamp(
            &root_doc,
            op.next_free_version("timestamp", timestamp.signed.version.saturating_add(1))?,
            snapshot_bytes,
            snapshot.signed.version,
            timestamp_signer,
            now,
        )?;
        let bytes = file_bytes("timestamp", &next)?;
        verify_release::check_online(published, None, &bytes, now)?;
        let path = self.metadata_dir().join("timestamp.json");
        drop(op);
        write_atomic(&path, &bytes, Mode::Public).map_err(io_err(&path))?;
        self.audit(
            &AuditEvent {
                action: "refresh".into(),
                role: Some("timestamp".into()),
                version: Some(next.signed.version),
                ..AuditEvent::default()
            },
            now,
        )?;
        Ok(next.signed.version)
    }

    /// Re-signs snapshot and timestamp when they expire within `within`
    /// seconds of `now`, so a published repository stays fresh between
    /// releases. Refuses ([`RepoError::Expired`]) while root, targets or a
    /// delegated role has expired: only its approvers can fix that.
    pub fn refresh(
        &self,
        snapshot_signer: &dyn TufSigner,
        timestamp_signer: &dyn TufSigner,
        within: i64,
        now: UnixTime,
    ) -> Result<RefreshOutcome, RepoError> {
        // The published state, verified once; what is written below is
        // built from these bytes and checked against them before the write.
        let op = self.operation();
        let published = op
            .published()?
            .ok_or_else(|| RepoError::Invalid("nothing is published yet".into()))?;
        let (Some(timestamp), Some(snapshot), Some(current_snapshot)) = (
            &published.timestamp,
            &published.snapshot,
            published.snapshot_bytes(),
        ) else {
            return Err(RepoError::Invalid("nothing is published yet".into()));
        };
        // Clients refuse an expired root, targets or delegated role whatever
        // snapshot and timestamp say: re-signing those would only hide that
        // the repository is dead. Refused, naming the approvers who must act.
        let expired = published.expired_approved_roles(now);
        if !expired.is_empty() {
            let err = RepoError::Expired(expired);
            self.refuse(&err, now)?;
            return Err(err);
        }
        let due = |expires: &str| {
            parse_expires(expires.as_bytes()).is_none_or(|t| t.0 <= now.0.saturating_add(within))
        };
        // A publish killed after writing a new root left the live snapshot
        // signed under the previous one: re-signing it finishes the release.
        let finishing = op
            .load()?
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::PublishInterrupted);
        let snapshot_due = finishing || due(&snapshot.signed.expires);
        let timestamp_due = snapshot_due || due(&timestamp.signed.expires);
        let mut outcome = RefreshOutcome {
            snapshot_version: None,
            timestamp_version: None,
        };
        if !timestamp_due {
            return Ok(outcome);
        }
        let root_doc = canonical_of("root", &published.root)?;
        let metadata_dir = self.metadata_dir();
        let (new_snapshot, snapshot_doc, snapshot_version) = if snapshot_due {
            let mut next = snapshot.clone();
            next.signatures.clear();
            next.signed.version =
                op.next_free_version("snapshot", next.signed.version.saturating_add(1))?;
            next.signed.expires = expires_at(now, self.expiry().snapshot)?;
            self.anchor_audit_log(&op, &mut next.signed, published.root.signed.version, None)?;
            self.sign_online(&root_doc, "snapshot", &mut next, snapshot_signer)?;
            let doc = file_bytes("snapshot", &next)?;
            let version = next.signed.version;
            (true, doc, version)
        } else {
            (false, current_snapshot.to_vec(), snapshot.signed.version)
        };
        let next_ts = self.new_timestamp(
            &root_doc,
            op.next_free_version("timestamp", timestamp.signed.version.saturating_add(1))?,
            &snapshot_doc,
            snapshot_version,
            timestamp_signer,
            now,
        )?;
        let ts_doc = file_bytes("timestamp", &next_ts)?;
        // What a client would do with the new files, before any is written.
        verify_release::check_online(
            published,
            new_snapshot.then_some(snapshot_doc.as_slice()),
            &ts_doc,
            now,
        )?;
        drop(op);
        if new_snapshot {
            let path = metadata_dir.join(format!("{snapshot_version}.snapshot.json"));
            create_published(&path, &snapshot_doc)?;
            outcome.snapshot_version = Some(snapshot_version);
        }
        let path = metadata_dir.join("timestamp.json");
        write_atomic(&path, &ts_doc, Mode::Public).map_err(io_err(&path))?;
        outcome.timestamp_version = Some(next_ts.signed.version);
        self.audit(
            &AuditEvent {
                action: "refresh".into(),
                version: outcome.snapshot_version,
                detail: Some(format!(
                    "snapshot {}, timestamp v{}",
                    outcome
                        .snapshot_version
                        .map_or("unchanged".to_owned(), |v| format!("v{v}")),
                    next_ts.signed.version
                )),
                ..AuditEvent::default()
            },
            now,
        )?;
        Ok(outcome)
    }
}
