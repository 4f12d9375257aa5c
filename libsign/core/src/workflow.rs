//! The TUF client workflow's checks (specification section 5), one function
//! per step, over canonical envelopes and with caller memory.
//!
//! The TUF client, `bundle verify` and the bootloader all run these, so the
//! rules against rollback, freeze and mix-and-match attacks exist once. Each
//! function takes what the step trusts already and the new document, and
//! returns a view of the new document only if every check passed.
//!
//! `now` is `None` where a caller has no trusted time (a device without a
//! clock) or has decided to report expiry itself (`bundle verify` without
//! `--require-fresh`); expiry is then not checked here.

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::reader::{Json, JsonStr, Kind};
use sha2::{Digest, Sha256, Sha512};

use crate::key_types::KeyType;
use crate::verify::{
    Common, Envelope, RootView, TargetsView, ThresholdReport, ThresholdWork, VerifyError, member,
};

/// Why a step of the workflow refused a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The document itself is invalid or its signatures do not meet the
    /// threshold.
    Verify(VerifyError),
    /// The role's version is lower than the one already trusted (rollback
    /// attack).
    Rollback {
        /// The version trusted so far.
        trusted: u64,
        /// The version offered.
        offered: u64,
    },
    /// A new root's version is not exactly one more than the trusted one.
    RootVersionNotNext {
        /// The version trusted so far.
        trusted: u64,
        /// The version offered.
        offered: u64,
    },
    /// The version differs from the one the referring metadata lists
    /// (mix-and-match attack).
    VersionMismatch {
        /// The version listed by the referring metadata.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// The referring metadata does not list this role.
    NotListed,
    /// A role the trusted snapshot lists is missing from the new one.
    RoleRemoved,
    /// The length differs from the one listed.
    LengthMismatch,
    /// A listed hash does not match.
    HashMismatch,
    /// A listed hash uses an algorithm fwsign cannot compute.
    UnknownHashAlgorithm,
    /// The document has expired (freeze attack).
    Expired,
}

impl From<VerifyError> for WorkflowError {
    fn from(e: VerifyError) -> Self {
        Self::Verify(e)
    }
}

impl core::fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Verify(e) => e.fmt(f),
            Self::Rollback { trusted, offered } => write!(
                f,
                "version {offered} is older than the trusted version {trusted} (rollback)"
            ),
            Self::RootVersionNotNext { trusted, offered } => write!(
                f,
                "root version {offered} does not follow the trusted root version {trusted}"
            ),
            Self::VersionMismatch { expected, found } => write!(
                f,
                "version {found} differs from version {expected} listed by the referring metadata"
            ),
            Self::NotListed => f.write_str("the referring metadata does not list this role"),
            Self::RoleRemoved => f.write_str("a role listed by the trusted snapshot was removed"),
            Self::LengthMismatch => f.write_str("length differs from the listed length"),
            Self::HashMismatch => f.write_str("hash differs from the listed hash"),
            Self::UnknownHashAlgorithm => {
                f.write_str("a listed hash uses an algorithm fwsign does not support")
            }
            Self::Expired => f.write_str("metadata has expired"),
        }
    }
}

impl core::error::Error for WorkflowError {}

/// TUF's one expiry rule (spec 5.3.10 and its siblings): metadata has
/// expired when `expires <= now`; without a `now` (a repository reading its
/// own published state) nothing has.
pub fn check_expiry(expires: UnixTime, now: Option<UnixTime>) -> Result<(), WorkflowError> {
    match now {
        Some(now) if expires <= now => Err(WorkflowError::Expired),
        _ => Ok(()),
    }
}

/// Spec 5.3: accepts root N+1 when a threshold of the trusted root's root
/// keys *and* a threshold of its own root keys signed it.
pub fn verify_root_update<'a>(
    trusted: &RootView<'_>,
    new: Envelope<'a>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<RootView<'a>, WorkflowError> {
    let candidate = RootView::new(new)?;
    trusted
        .verify_role("root", &new, key_types, work)?
        .require()?;
    candidate
        .verify_role("root", &new, key_types, work)?
        .require()?;
    let trusted_version = trusted.common().version;
    let offered = candidate.common().version;
    if Some(offered) != trusted_version.checked_add(1) {
        return Err(WorkflowError::RootVersionNotNext {
            trusted: trusted_version,
            offered,
        });
    }
    Ok(candidate)
}

/// Checks a root against its own threshold (a trusted root provisioned or
/// given by a user is still checked to be well-formed and self-signed).
pub fn verify_root_self<'a>(
    root: Envelope<'a>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<RootView<'a>, WorkflowError> {
    let view = RootView::new(root)?;
    view.verify_role("root", &root, key_types, work)?
        .require()?;
    Ok(view)
}

/// A view of a timestamp role.
#[derive(Debug, Clone, Copy)]
pub struct TimestampView<'a> {
    /// Version of the timestamp.
    pub version: u64,
    /// Its expiry.
    pub expires: UnixTime,
    /// The `snapshot.json` entry.
    pub snapshot: MetaEntry<'a>,
}

/// A `meta` entry: the version (and optionally length and hashes) of a
/// metadata file.
#[derive(Debug, Clone, Copy)]
pub struct MetaEntry<'a> {
    /// The listed version.
    pub version: u64,
    /// The listed length, if any.
    pub length: Option<u64>,
    /// The listed hashes, if any.
    pub hashes: Option<Json<'a>>,
}

impl<'a> MetaEntry<'a> {
    /// Reads one `meta` entry (`{"version": N, "length": L, "hashes": H}`),
    /// for a caller that indexes a snapshot's listing once
    /// ([`SnapshotView::entries`]) instead of searching it per role.
    pub fn from_json(entry: Json<'a>) -> Result<Self, WorkflowError> {
        let version =
            entry
                .get("version")
                .and_then(|v| v.as_u64())
                .ok_or(VerifyError::Malformed(detail!(
                    "meta version must be an integer"
                )))?;
        let length = match entry.get("length") {
            None => None,
            Some(l) => Some(l.as_u64().ok_or(VerifyError::Malformed(detail!(
                "meta length must be an integer"
            )))?),
        };
        let hashes = match entry.get("hashes") {
            None => None,
            Some(h) if h.kind() == Kind::Object => Some(h),
            Some(_) => {
                return Err(
                    VerifyError::Malformed(detail!("meta hashes must be an object")).into(),
                );
            }
        };
        Ok(Self {
            version,
            length,
            hashes,
        })
    }

    /// Checks `raw` (the bytes as received) against the listed length and
    /// every listed hash.
    pub fn check_bytes(&self, raw: &[u8]) -> Result<(), WorkflowError> {
        if let Some(length) = self.length
            && u64::try_from(raw.len()).ok() != Some(length)
        {
            return Err(WorkflowError::LengthMismatch);
        }
        if let Some(hashes) = self.hashes {
            check_hashes(hashes, raw)?;
        }
        Ok(())
    }
}

/// SHA-256 (and, when asked for, SHA-512) of data fed in pieces: the one
/// place where a file, an image streamed from a bundle, or downloaded bytes
/// are checked against the hashes metadata lists.
#[derive(Debug, Clone)]
pub struct Digests {
    sha256: Sha256,
    sha512: Option<Sha512>,
    length: u64,
}

/// Finished [`Digests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedDigests {
    /// Bytes hashed.
    pub length: u64,
    /// Their SHA-256.
    pub sha256: [u8; 32],
    /// Their SHA-512, if it was computed.
    pub sha512: Option<[u8; 64]>,
}

impl Digests {
    /// Starts hashing; SHA-512 only when `sha512` (it doubles the cost on
    /// large images and most metadata lists SHA-256 alone).
    pub fn new(sha512: bool) -> Self {
        Self {
            sha256: Sha256::new(),
            sha512: sha512.then(Sha512::new),
            length: 0,
        }
    }

    /// Digests to check against a `hashes` object: SHA-512 when it lists it.
    pub fn for_hashes(hashes: Json<'_>) -> Self {
        Self::new(hashes.members().any(|(alg, _)| alg.eq_str("sha512")))
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(h) = self.sha512.as_mut() {
            h.update(data);
        }
        let n = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.length = self.length.saturating_add(n);
    }

    /// The digests of everything added.
    pub fn finish(self) -> FinishedDigests {
        FinishedDigests {
            length: self.length,
            sha256: self.sha256.finalize().into(),
            sha512: self.sha512.map(|h| h.finalize().into()),
        }
    }
}

impl FinishedDigests {
    /// Checks one listed hash. An algorithm fwsign cannot compute (or did
    /// not compute) fails: a hash that cannot be checked must not be skipped.
    pub fn check_one(&self, algorithm: &str, expected_hex: &str) -> Result<(), WorkflowError> {
        let digest: &[u8] = match (algorithm, &self.sha512) {
            ("sha256", _) => &self.sha256,
            ("sha512", Some(d)) => d,
            _ => return Err(WorkflowError::UnknownHashAlgorithm),
        };
        if hex_str_eq(expected_hex.as_bytes(), digest) {
            Ok(())
        } else {
            Err(WorkflowError::HashMismatch)
        }
    }

    /// Checks every hash in a `hashes` object.
    pub fn check(&self, hashes: Json<'_>) -> Result<(), WorkflowError> {
        for (algorithm, expected) in hashes.members() {
            let algorithm = algorithm
                .as_plain()
                .ok_or(WorkflowError::UnknownHashAlgorithm)?;
            let expected = expected
                .as_str()
                .and_then(|e| e.as_plain())
                .ok_or(WorkflowError::HashMismatch)?;
            self.check_one(algorithm, expected)?;
        }
        Ok(())
    }
}

/// Checks `data` against every hash in a `hashes` object.
pub fn check_hashes(hashes: Json<'_>, data: &[u8]) -> Result<(), WorkflowError> {
    let mut digests = Digests::for_hashes(hashes);
    digests.update(data);
    digests.finish().check(hashes)
}

/// Whether hex string `expected` (either case) spells `digest`.
pub fn hex_eq(expected: JsonStr<'_>, digest: &[u8]) -> bool {
    expected
        .plain_bytes()
        .is_some_and(|e| hex_str_eq(e, digest))
}

fn hex_str_eq(expected: &[u8], digest: &[u8]) -> bool {
    let mut buf = [0u8; 64];
    super::hex::decode(expected, &mut buf).is_some_and(|decoded| decoded == digest)
}

fn meta_of<'a>(signed: Json<'a>, name: &str) -> Result<Option<MetaEntry<'a>>, WorkflowError> {
    let meta = member(
        signed,
        "meta",
        Kind::Object,
        detail!("meta must be an object"),
    )?;
    match meta.get(name) {
        None => Ok(None),
        Some(entry) => MetaEntry::from_json(entry).map(Some),
    }
}

impl<'a> TimestampView<'a> {
    /// Reads a timestamp envelope (no signature is checked).
    pub fn new(envelope: &Envelope<'a>) -> Result<Self, WorkflowError> {
        let common = envelope.common("timestamp")?;
        let snapshot = meta_of(envelope.signed(), "snapshot.json")?.ok_or(
            VerifyError::Malformed(detail!("timestamp must list snapshot.json")),
        )?;
        Ok(Self {
            version: common.version,
            expires: common.expires,
            snapshot,
        })
    }
}

/// Spec 5.4: a new timestamp, signed by the root's timestamp threshold, not
/// older than the trusted one, not pointing to an older snapshot, and not
/// expired.
pub fn verify_timestamp<'a>(
    root: &RootView<'_>,
    new: Envelope<'a>,
    trusted: Option<&TimestampView<'_>>,
    now: Option<UnixTime>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<TimestampView<'a>, WorkflowError> {
    let view = TimestampView::new(&new)?;
    root.verify_role("timestamp", &new, key_types, work)?
        .require()?;
    if let Some(trusted) = trusted {
        if view.version < trusted.version {
            return Err(WorkflowError::Rollback {
                trusted: trusted.version,
                offered: view.version,
            });
        }
        if view.snapshot.version < trusted.snapshot.version {
            return Err(WorkflowError::Rollback {
                trusted: trusted.snapshot.version,
                offered: view.snapshot.version,
            });
        }
    }
    check_expiry(view.expires, now)?;
    Ok(view)
}

/// A view of a snapshot role.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotView<'a> {
    /// Version of the snapshot.
    pub version: u64,
    /// Its expiry.
    pub expires: UnixTime,
    meta: Json<'a>,
}

impl<'a> SnapshotView<'a> {
    /// Reads a snapshot envelope (no signature is checked).
    pub fn new(envelope: &Envelope<'a>) -> Result<Self, WorkflowError> {
        let (common, meta) = envelope.common_and("snapshot", "meta")?;
        let meta = meta
            .filter(|m| m.kind() == Kind::Object)
            .ok_or(VerifyError::Malformed(detail!(
                "snapshot meta must be an object"
            )))?;
        Ok(Self {
            version: common.version,
            expires: common.expires,
            meta,
        })
    }

    /// The entry for `ROLE.json`, if listed.
    pub fn role(&self, file_name: &str) -> Result<Option<MetaEntry<'a>>, WorkflowError> {
        match self.meta.get(file_name) {
            None => Ok(None),
            Some(entry) => MetaEntry::from_json(entry).map(Some),
        }
    }

    /// The entry for targets role `role` (its `ROLE.json` key), if listed;
    /// the role name as bytes, so no file name is formatted.
    pub fn targets_role(&self, role: &[u8]) -> Result<Option<MetaEntry<'a>>, WorkflowError> {
        for (key, entry) in self.meta.members() {
            if key
                .bytes()
                .eq(role.iter().copied().chain(b".json".iter().copied()))
            {
                return MetaEntry::from_json(entry).map(Some);
            }
        }
        Ok(None)
    }

    /// Every `(file name, entry)` listed.
    pub fn entries(&self) -> impl Iterator<Item = (JsonStr<'a>, Json<'a>)> + 'a {
        self.meta.members()
    }
}

/// Spec 5.5: a new snapshot whose bytes match the timestamp's listing,
/// signed by the root's snapshot threshold, with the version the timestamp
/// names, listing every role the trusted snapshot listed at no older
/// version, and not expired.
#[allow(
    clippy::too_many_arguments,
    reason = "each input is a distinct piece of trusted state the step needs"
)]
pub fn verify_snapshot<'a>(
    root: &RootView<'_>,
    timestamp: &TimestampView<'_>,
    raw: &[u8],
    new: Envelope<'a>,
    trusted: Option<&SnapshotView<'_>>,
    now: Option<UnixTime>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<SnapshotView<'a>, WorkflowError> {
    timestamp.snapshot.check_bytes(raw)?;
    let view = SnapshotView::new(&new)?;
    root.verify_role("snapshot", &new, key_types, work)?
        .require()?;
    if let Some(trusted) = trusted {
        for (name, old) in trusted.entries() {
            let old = MetaEntry::from_json(old)?;
            let new_entry = view
                .meta
                .members()
                .find(|(n, _)| n.eq_json_str(&name))
                .map(|(_, e)| MetaEntry::from_json(e))
                .transpose()?
                .ok_or(WorkflowError::RoleRemoved)?;
            if new_entry.version < old.version {
                return Err(WorkflowError::Rollback {
                    trusted: old.version,
                    offered: new_entry.version,
                });
            }
        }
    }
    if view.version != timestamp.snapshot.version {
        return Err(WorkflowError::VersionMismatch {
            expected: timestamp.snapshot.version,
            found: view.version,
        });
    }
    check_expiry(view.expires, now)?;
    Ok(view)
}

/// Who delegates a targets role: the root (for `targets`) or a targets role.
#[derive(Debug, Clone, Copy)]
pub enum Delegator<'d> {
    /// Top-level `targets`, delegated by root.
    Root(&'d RootView<'d>),
    /// A delegated role, delegated by this targets role.
    Targets(&'d TargetsView<'d>),
}

/// A targets role read, and signed by the threshold `delegator` sets for it.
fn signed_targets<'a>(
    delegator: Delegator<'_>,
    role: &[u8],
    new: Envelope<'a>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<(TargetsView<'a>, ThresholdReport), WorkflowError> {
    let view = TargetsView::new(new)?;
    let report = match delegator {
        Delegator::Root(root) => root.verify_role(role, &new, key_types, work)?,
        Delegator::Targets(parent) => parent.verify_delegated(role, &new, key_types, work)?,
    }
    .require()?;
    Ok((view, report))
}

/// Spec 5.6 and 5.6.x for delegations: a targets role whose bytes match the
/// snapshot's listing, signed by the threshold its delegator sets, with the
/// version the snapshot names, and not expired.
#[allow(
    clippy::too_many_arguments,
    reason = "each input is a distinct piece of trusted state the step needs"
)]
pub fn verify_targets<'a>(
    delegator: Delegator<'_>,
    role: &[u8],
    snapshot: &SnapshotView<'_>,
    raw: &[u8],
    new: Envelope<'a>,
    now: Option<UnixTime>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<(TargetsView<'a>, ThresholdReport), WorkflowError> {
    let listed = snapshot
        .targets_role(role)?
        .ok_or(WorkflowError::NotListed)?;
    verify_targets_listed(delegator, role, &listed, raw, new, now, key_types, work)
}

/// [`verify_targets`] with the snapshot's entry for `role` found already:
/// for a caller checking every role of a large snapshot, which indexes its
/// listing once rather than searching it for each role (a linear search
/// per role made verifying a thousand bins quadratic).
#[allow(
    clippy::too_many_arguments,
    reason = "each input is a distinct piece of trusted state the step needs"
)]
pub fn verify_targets_listed<'a>(
    delegator: Delegator<'_>,
    role: &[u8],
    listed: &MetaEntry<'_>,
    raw: &[u8],
    new: Envelope<'a>,
    now: Option<UnixTime>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<(TargetsView<'a>, ThresholdReport), WorkflowError> {
    listed.check_bytes(raw)?;
    let (view, report) = signed_targets(delegator, role, new, key_types, work)?;
    check_listed_common(listed, view.common(), now)?;
    Ok((view, report))
}

/// The checks of [`verify_targets_listed`] that do not depend on the
/// signatures, for a document whose signatures were verified before under
/// the same delegator document (a host re-checking an unchanged role
/// against a new snapshot): `raw` matches the listing's length and hashes,
/// `common` (the document's own version and expiry) has the listed version,
/// and it has not expired.
pub fn verify_targets_listed_again(
    listed: &MetaEntry<'_>,
    raw: &[u8],
    common: Common,
    now: Option<UnixTime>,
) -> Result<(), WorkflowError> {
    listed.check_bytes(raw)?;
    check_listed_common(listed, common, now)
}

/// The version a snapshot lists, and expiry.
fn check_listed_common(
    listed: &MetaEntry<'_>,
    common: Common,
    now: Option<UnixTime>,
) -> Result<(), WorkflowError> {
    if common.version != listed.version {
        return Err(WorkflowError::VersionMismatch {
            expected: listed.version,
            found: common.version,
        });
    }
    check_expiry(common.expires, now)
}

/// The device's form of spec 5.6 for a targets role carried in a firmware
/// slot, where there is no snapshot: signed by the threshold its delegator
/// sets, not older than the version the device last accepted for that role
/// (an old, validly signed role replayed with a since-revoked key is
/// refused), and not expired when the device has trusted time.
pub fn verify_targets_offline<'a>(
    delegator: Delegator<'_>,
    role: &(impl AsRef<[u8]> + ?Sized),
    new: Envelope<'a>,
    last_accepted: Option<u64>,
    now: Option<UnixTime>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<(TargetsView<'a>, ThresholdReport), WorkflowError> {
    let (view, report) = signed_targets(delegator, role.as_ref(), new, key_types, work)?;
    let version = view.common().version;
    if let Some(trusted) = last_accepted
        && version < trusted
    {
        return Err(WorkflowError::Rollback {
            trusted,
            offered: version,
        });
    }
    check_expiry(view.common().expires, now)?;
    Ok((view, report))
}
