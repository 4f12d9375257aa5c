//! The verification core: every trust decision fwsign makes.
//!
//! It runs unchanged on the host and on the device (`no_std`, no allocator):
//! the bootloader, the TUF client, `bundle verify`, `repo status` and
//! `repo publish` all call [`verify_threshold`] over canonical bytes. Working
//! memory comes from the caller ([`ThresholdWork`]); running out of it is
//! [`VerifyError::CapacityExceeded`], never a silent truncation.
//!
//! The rules, as python-tuf applies them and a little stricter where that
//! closes an attack:
//! - a role is trusted when at least `threshold` signatures from distinct
//!   authorised keys verify over the canonical bytes of `signed`;
//! - "distinct" means distinct key material ([`KeyIdentity`]): one public key
//!   listed under two key IDs counts once;
//! - a key ID that signs twice in one envelope makes the whole document
//!   invalid, whatever the threshold;
//! - signatures by keys the role does not authorise, by keys of types this
//!   build lacks, and empty or malformed signatures are ignored;
//! - a threshold of 0 is invalid metadata.
//!
//! Role, target and hardware names are taken as `&str` or as UTF-8 bytes
//! (`impl AsRef<[u8]>`): the device reads them from a firmware slot and never
//! turns bytes into `&str`.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use fwsign_manifest_schema::expiry::{UnixTime, parse_expires};
use fwsign_manifest_schema::reader::{Items, Json, JsonStr, Kind, ReadError};

use crate::key_types::{KeyIdentity, KeyType};
use crate::succinct::{BinName, SuccinctRoles};
pub use crate::target_entry::{FirmwareView, TargetEntry};

/// Why metadata could not be verified or does not meet its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The document is not canonical JSON.
    Json(ReadError),
    /// A field the format requires is missing or has the wrong type (which
    /// one, for people; empty without the `std` feature).
    Malformed(&'static str),
    /// `_type` is not the role type expected.
    WrongRoleType {
        /// The `_type` expected.
        expected: &'static str,
    },
    /// The delegator does not list the role being verified.
    UnknownRole,
    /// A role's threshold is 0, which any signature list would meet.
    ThresholdZero,
    /// One key ID signs twice in one envelope.
    DuplicateSignature,
    /// Fewer distinct authorised keys signed than the threshold requires.
    ThresholdNotMet {
        /// Valid signatures from distinct authorised keys.
        valid: u32,
        /// The role's threshold (`u32::MAX` stands for any larger one;
        /// 32 bits for flash, see the module note).
        threshold: u32,
    },
    /// The caller's working memory is too small for this document (for
    /// what; empty without the `std` feature).
    CapacityExceeded(&'static str),
}

impl From<ReadError> for VerifyError {
    fn from(e: ReadError) -> Self {
        Self::Json(e)
    }
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not canonical JSON: {e}"),
            Self::Malformed(what) => write!(f, "malformed metadata: {what}"),
            Self::WrongRoleType { expected } => write!(f, "expected {expected} metadata"),
            Self::UnknownRole => f.write_str("the delegating metadata does not list this role"),
            Self::ThresholdZero => f.write_str("threshold is 0; it must be at least 1"),
            Self::DuplicateSignature => f.write_str("one key ID signs twice in one document"),
            Self::ThresholdNotMet { valid, threshold } => write!(
                f,
                "{valid} valid signature(s) from distinct authorised keys, threshold is {threshold}"
            ),
            Self::CapacityExceeded(what) => write!(f, "working memory too small for {what}"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// A signed metadata document: `{"signatures": [...], "signed": {...}}`.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    signatures: Json<'a>,
    signed: Json<'a>,
}

impl<'a> Envelope<'a> {
    /// Reads a canonical envelope. The signed bytes are taken as they stand.
    pub fn parse(doc: &'a [u8]) -> Result<Self, VerifyError> {
        Self::from_root(Json::parse_canonical(doc)?)
    }

    /// [`Envelope::parse`] of a document the reader has validated already.
    pub fn from_root(root: Json<'a>) -> Result<Self, VerifyError> {
        let signatures = member(
            root,
            "signatures",
            Kind::Array,
            detail!("signatures must be an array"),
        )?;
        let signed = member(
            root,
            "signed",
            Kind::Object,
            detail!("signed must be an object"),
        )?;
        Ok(Self { signatures, signed })
    }

    /// The canonical bytes every signature covers.
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.signed.as_bytes()
    }

    /// The `signed` object.
    pub fn signed(&self) -> Json<'a> {
        self.signed
    }

    /// The `signatures` array.
    pub fn signatures(&self) -> Json<'a> {
        self.signatures
    }

    /// Checks `_type` and returns the fields every role has.
    pub fn common(&self, expected: &'static str) -> Result<Common, VerifyError> {
        self.common_and(expected, "").map(|(common, _)| common)
    }

    /// [`Envelope::common`], and the member `extra` of `signed` if it has
    /// one, read in the same pass: each lookup by name walks the members up
    /// to it, and `version` comes after `targets` (or a snapshot's `meta`),
    /// which a catalogue's host reads at 10^5 entries.
    pub(crate) fn common_and(
        &self,
        expected: &'static str,
        extra: &str,
    ) -> Result<(Common, Option<Json<'a>>), VerifyError> {
        let [role_type, spec, version, expires, found] =
            self.signed
                .get_each(["_type", "spec_version", "version", "expires", extra]);
        let type_ok = role_type
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.eq_str(expected));
        if !type_ok {
            return Err(VerifyError::WrongRoleType { expected });
        }
        // As python-tuf: `spec_version` is `1.Y` or `1.Y.Z`, digits only.
        let spec_ok = spec
            .and_then(|v| v.as_str())
            .and_then(|v| v.plain_bytes())
            .is_some_and(spec_version_ok);
        if !spec_ok {
            return Err(VerifyError::Malformed(detail!(
                "spec_version must be 1.Y or 1.Y.Z"
            )));
        }
        let version =
            version
                .and_then(|v| v.as_u64())
                .filter(|v| *v >= 1)
                .ok_or(VerifyError::Malformed(detail!(
                    "version must be an integer of at least 1"
                )))?;
        let expires = expires
            .and_then(|e| e.as_str())
            .and_then(|e| e.plain_bytes())
            .and_then(parse_expires)
            .ok_or(VerifyError::Malformed(detail!(
                "expires must be YYYY-MM-DDTHH:MM:SSZ"
            )))?;
        Ok((Common { version, expires }, found))
    }
}

/// Whether `v` is a TUF 1 `spec_version`: `1.Y` or `1.Y.Z`, each part one
/// or more ASCII digits (python-tuf's check).
fn spec_version_ok(v: &[u8]) -> bool {
    let mut parts: usize = 0;
    let mut digits: usize = 0;
    for &b in v {
        if b == b'.' {
            if digits == 0 {
                return false;
            }
            parts = parts.saturating_add(1);
            digits = 0;
        } else if b.is_ascii_digit() {
            digits = digits.saturating_add(1);
        } else {
            return false;
        }
    }
    let major_is_one = v.first() == Some(&b'1') && v.get(1).is_none_or(|b| *b == b'.');
    major_is_one && digits > 0 && (parts == 1 || parts == 2)
}

/// The member `key` of `object` when it is a value of `kind`; otherwise the
/// metadata is malformed, for the reason `detail` gives people.
#[inline(always)] // flash: see the module note
pub(crate) fn member<'a>(
    object: Json<'a>,
    key: &str,
    kind: Kind,
    detail: &'static str,
) -> Result<Json<'a>, VerifyError> {
    object
        .get(key)
        .filter(|v| v.kind() == kind)
        .ok_or(VerifyError::Malformed(detail))
}

/// Fields every role carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Common {
    /// The role's version.
    pub version: u64,
    /// When the role expires.
    pub expires: UnixTime,
}

/// The key IDs and threshold a delegator gives a role.
#[derive(Debug, Clone, Copy)]
pub struct RoleKeys<'a> {
    /// The array of authorised key IDs.
    pub keyids: Json<'a>,
    /// At least 1.
    pub threshold: u64,
}

impl<'a> RoleKeys<'a> {
    /// Reads `{"keyids": [...], "threshold": N, ...}`.
    pub fn from_json(role: Json<'a>) -> Result<Self, VerifyError> {
        let keyids = member(
            role,
            "keyids",
            Kind::Array,
            detail!("role keyids must be an array"),
        )?;
        let threshold =
            role.get("threshold")
                .and_then(|t| t.as_u64())
                .ok_or(VerifyError::Malformed(detail!(
                    "role threshold must be an integer"
                )))?;
        if threshold == 0 {
            return Err(VerifyError::ThresholdZero);
        }
        Ok(Self { keyids, threshold })
    }

    /// How many key IDs the role lists.
    pub fn keyid_count(&self) -> usize {
        self.keyids.items().count()
    }
}

/// Most signatures one envelope may carry; more is malformed metadata. Far
/// above any real threshold, and it bounds the duplicate-key-ID check.
pub const MAX_SIGNATURES: usize = 1024;

/// Caller-provided working memory for one threshold check.
#[derive(Debug)]
pub struct ThresholdWork<'w> {
    /// Identities of keys already counted; needs one slot per distinct key
    /// that can sign (at most the role's key-ID count).
    pub counted: &'w mut [KeyIdentity],
    /// One flag per key ID of the role, set when that key ID's signature
    /// counted.
    pub signed: &'w mut [bool],
}

/// The outcome of a threshold check. Which key IDs signed is in
/// [`ThresholdWork::signed`], by position in the role's key IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThresholdReport {
    /// Valid signatures from distinct authorised keys.
    pub valid: usize,
    /// The role's threshold.
    pub threshold: u64,
}

impl ThresholdReport {
    /// Whether the threshold is met.
    pub fn is_met(&self) -> bool {
        u64::try_from(self.valid).is_ok_and(|v| v >= self.threshold)
    }

    /// `Ok` when the threshold is met, [`VerifyError::ThresholdNotMet`]
    /// otherwise.
    pub fn require(self) -> Result<Self, VerifyError> {
        if self.is_met() {
            Ok(self)
        } else {
            Err(VerifyError::ThresholdNotMet {
                valid: u32::try_from(self.valid).unwrap_or(u32::MAX),
                threshold: u32::try_from(self.threshold).unwrap_or(u32::MAX),
            })
        }
    }
}

/// Counts the valid signatures in `envelope` from distinct keys that `role`
/// authorises, with keys looked up in `keys` (the delegator's key table,
/// key ID -> key object).
///
/// Errors only for documents that are invalid whatever the threshold (a key
/// ID signing twice, a threshold of 0) or when `work` is too small; a
/// threshold not met is reported, not an error (see
/// [`ThresholdReport::require`]).
pub fn verify_threshold(
    envelope: &Envelope<'_>,
    keys: Json<'_>,
    role: &RoleKeys<'_>,
    key_types: &[&dyn KeyType],
    work: &mut ThresholdWork<'_>,
) -> Result<ThresholdReport, VerifyError> {
    if role.threshold == 0 {
        return Err(VerifyError::ThresholdZero);
    }
    reject_repeated_keyids(envelope.signatures)?;
    let message = envelope.signed_bytes();
    let mut counted: usize = 0;
    let mut flags = work.signed.iter_mut();
    for keyid in role.keyids.items() {
        let flag = flags
            .next()
            .ok_or(VerifyError::CapacityExceeded(detail!("the role's key IDs")))?;
        *flag = false;
        let Some(keyid) = keyid.as_str() else {
            continue;
        };
        let Some(sig) = signature_by(envelope.signatures, keyid) else {
            continue;
        };
        let Some(key) = lookup(keys, keyid) else {
            continue;
        };
        let Some(identity) = check_one(key, message, sig, key_types) else {
            continue;
        };
        let already = work
            .counted
            .get(..counted)
            .ok_or(VerifyError::CapacityExceeded(detail!("counted keys")))?
            .contains(&identity);
        if already {
            continue;
        }
        let slot = work
            .counted
            .get_mut(counted)
            .ok_or(VerifyError::CapacityExceeded(detail!("counted keys")))?;
        *slot = identity;
        counted = counted.saturating_add(1);
        *flag = true;
    }
    Ok(ThresholdReport {
        valid: counted,
        threshold: role.threshold,
    })
}

// flash: the lookups below are plain loops on purpose (see the module note).

/// A key ID may sign once per document. Comparing every pair needs no
/// memory; the list is capped at [`MAX_SIGNATURES`] first, so a mirror that
/// pads a role with fake signatures costs a verifier bounded time.
fn reject_repeated_keyids(signatures: Json<'_>) -> Result<(), VerifyError> {
    if signatures.items().nth(MAX_SIGNATURES).is_some() {
        return Err(VerifyError::Malformed(detail!(
            "more signatures than MAX_SIGNATURES"
        )));
    }
    let mut rest = signatures.items();
    while let Some(a) = rest.next() {
        let Some(a_id) = keyid_of(a) else {
            continue;
        };
        for b in rest.clone() {
            if keyid_of(b).is_some_and(|b_id| b_id.eq_json_str(&a_id)) {
                return Err(VerifyError::DuplicateSignature);
            }
        }
    }
    Ok(())
}

fn keyid_of(signature: Json<'_>) -> Option<JsonStr<'_>> {
    signature.get("keyid")?.as_str()
}

fn signature_by<'a>(signatures: Json<'a>, keyid: JsonStr<'_>) -> Option<JsonStr<'a>> {
    for s in signatures.items() {
        if keyid_of(s).is_some_and(|id| id.eq_json_str(&keyid))
            && let Some(sig) = s.get("sig").and_then(|sig| sig.as_str())
        {
            return Some(sig);
        }
    }
    None
}

fn lookup<'a>(keys: Json<'a>, keyid: JsonStr<'_>) -> Option<Json<'a>> {
    for (id, key) in keys.members() {
        if id.eq_json_str(&keyid) {
            return Some(key);
        }
    }
    None
}

fn check_one(
    key: Json<'_>,
    message: &[u8],
    sig: JsonStr<'_>,
    key_types: &[&dyn KeyType],
) -> Option<KeyIdentity> {
    if sig.is_empty() {
        return None;
    }
    let keytype = key.get("keytype")?.as_str()?;
    let scheme = key.get("scheme")?.as_str()?;
    let keyval = key.get("keyval").filter(|k| k.kind() == Kind::Object)?;
    for kt in key_types {
        if kt.handles(keytype, scheme) {
            return kt.verify(keyval, message, sig).ok();
        }
    }
    None
}

/// The root role: the key table and roles of the top-level roles.
#[derive(Debug, Clone, Copy)]
pub struct RootView<'a> {
    envelope: Envelope<'a>,
    common: Common,
    keys: Json<'a>,
    roles: Json<'a>,
}

impl<'a> RootView<'a> {
    /// Reads a root envelope (no signature is checked yet).
    pub fn new(envelope: Envelope<'a>) -> Result<Self, VerifyError> {
        let common = envelope.common("root")?;
        let keys = member(
            envelope.signed,
            "keys",
            Kind::Object,
            detail!("root keys must be an object"),
        )?;
        let roles = member(
            envelope.signed,
            "roles",
            Kind::Object,
            detail!("root roles must be an object"),
        )?;
        Ok(Self {
            envelope,
            common,
            keys,
            roles,
        })
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope<'a> {
        &self.envelope
    }

    /// Version and expiry.
    pub fn common(&self) -> Common {
        self.common
    }

    /// The key table.
    pub fn keys(&self) -> Json<'a> {
        self.keys
    }

    /// The keys and threshold of a top-level role.
    pub fn role(&self, name: &(impl AsRef<[u8]> + ?Sized)) -> Result<RoleKeys<'a>, VerifyError> {
        let role = self
            .roles
            .get_bytes(name.as_ref())
            .ok_or(VerifyError::UnknownRole)?;
        RoleKeys::from_json(role)
    }

    /// Whether consistent snapshots are in use.
    pub fn consistent_snapshot(&self) -> bool {
        self.envelope
            .signed
            .get("consistent_snapshot")
            .and_then(|c| c.as_bool())
            .unwrap_or(false)
    }

    /// Checks `envelope` against the threshold this root sets for `role`.
    pub fn verify_role(
        &self,
        role: &(impl AsRef<[u8]> + ?Sized),
        envelope: &Envelope<'_>,
        key_types: &[&dyn KeyType],
        work: &mut ThresholdWork<'_>,
    ) -> Result<ThresholdReport, VerifyError> {
        self.verify_role_bytes(role.as_ref(), envelope, key_types, work)
    }

    /// [`RootView::verify_role`] for one name type: called with literal
    /// names and with names read as bytes, one body serves both.
    fn verify_role_bytes(
        &self,
        role: &[u8],
        envelope: &Envelope<'_>,
        key_types: &[&dyn KeyType],
        work: &mut ThresholdWork<'_>,
    ) -> Result<ThresholdReport, VerifyError> {
        let keys = self.role(role)?;
        verify_threshold(envelope, self.keys, &keys, key_types, work)
    }
}

/// A targets role, top-level or delegated.
#[derive(Debug, Clone, Copy)]
pub struct TargetsView<'a> {
    envelope: Envelope<'a>,
    common: Common,
    targets: Json<'a>,
}

impl<'a> TargetsView<'a> {
    /// Reads a targets envelope (no signature is checked yet).
    pub fn new(envelope: Envelope<'a>) -> Result<Self, VerifyError> {
        let (common, targets) = envelope.common_and("targets", "targets")?;
        let targets = targets
            .filter(|t| t.kind() == Kind::Object)
            .ok_or(VerifyError::Malformed(detail!("targets must be an object")))?;
        let view = Self {
            envelope,
            common,
            targets,
        };
        // Every entry is read once here, so a malformed one refuses the whole
        // role when it is loaded (as python-tuf does), not only when that
        // target is looked up.
        for (_, entry) in view.targets.members() {
            TargetEntry::from_json(entry)?;
        }
        // TAP 15: `delegations` has exactly one of `roles` and
        // `succinct_roles` (python-tuf refuses neither and both alike), and
        // `succinct_roles` is well formed. A member set to `null` is absent,
        // as python-tuf reads it (`dict.pop(name, None)`).
        if let Some(delegations) = view.envelope.signed.get("delegations") {
            let roles = delegations.get("roles").filter(|j| j.kind() != Kind::Null);
            let succinct = delegations
                .get("succinct_roles")
                .filter(|j| j.kind() != Kind::Null);
            if roles.is_some() == succinct.is_some() {
                return Err(VerifyError::Malformed(detail!(
                    "delegations need exactly one of roles and succinct_roles"
                )));
            }
            if let Some(succinct) = succinct {
                SuccinctRoles::from_json(succinct)?;
            }
        }
        // As python-tuf: a delegated role may not be unnamed or named after a
        // top-level role, whose metadata file it would otherwise shadow; no
        // name is delegated twice (the search looks delegations up by name,
        // so a second entry could give one role two sets of keys); and each
        // has exactly one of `paths` and `path_hash_prefixes`.
        // One pass over the list (flash: see the module note).
        let mut rest = view.delegated_roles();
        while let Some(role) = rest.next() {
            if role.paths().is_some() == role.path_hash_prefixes().is_some() {
                return Err(VerifyError::Malformed(detail!(
                    "a delegation needs exactly one of paths and path_hash_prefixes"
                )));
            }
            let name = role.name().ok_or(VerifyError::Malformed(detail!(
                "a delegated role must have a name"
            )))?;
            if name.is_empty()
                || ["root", "targets", "snapshot", "timestamp"]
                    .iter()
                    .any(|top| name.eq_str(top))
            {
                return Err(VerifyError::Malformed(detail!(
                    "delegated roles cannot be empty or use top-level role names"
                )));
            }
            for later in rest.clone() {
                if later.name().is_some_and(|n| n.eq_json_str(&name)) {
                    return Err(VerifyError::Malformed(detail!(
                        "a role is delegated twice in one delegations list"
                    )));
                }
            }
        }
        Ok(view)
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope<'a> {
        &self.envelope
    }

    /// Version and expiry.
    pub fn common(&self) -> Common {
        self.common
    }

    /// The entry for target `name`, if this role lists it.
    pub fn target(
        &self,
        name: &(impl AsRef<[u8]> + ?Sized),
    ) -> Result<Option<TargetEntry<'a>>, VerifyError> {
        match self.targets.get_bytes(name.as_ref()) {
            None => Ok(None),
            Some(entry) => TargetEntry::from_json(entry).map(Some),
        }
    }

    /// The raw entry listed for `name`, for the host's readers of fields a
    /// device never checks ([`crate::target_check::sbom_reference`]).
    pub fn target_json(&self, name: &(impl AsRef<[u8]> + ?Sized)) -> Option<Json<'a>> {
        self.targets.get_bytes(name.as_ref())
    }

    /// The key table of the delegations, if there are any.
    pub fn delegation_keys(&self) -> Option<Json<'a>> {
        self.envelope.signed.get("delegations")?.get("keys")
    }

    /// The delegated roles, in search order.
    pub fn delegated_roles(&self) -> impl Iterator<Item = DelegatedRoleView<'a>> + Clone + 'a {
        self.delegation_items()
            .map(|role| DelegatedRoleView { role, bin: None })
    }

    /// The `roles` entries as JSON, in order (empty without delegations or
    /// with `succinct_roles`): one reading for the view and the search.
    pub(crate) fn delegation_items(&self) -> Items<'a> {
        self.envelope
            .signed
            .get("delegations")
            .and_then(|d| d.get("roles"))
            .map(|r| r.items())
            .unwrap_or_default()
    }

    /// The TAP 15 hashed bins this role delegates to, if it lists
    /// `succinct_roles` (checked when the view was made).
    pub fn succinct_roles(&self) -> Option<SuccinctRoles<'a>> {
        let json = self
            .envelope
            .signed
            .get("delegations")?
            .get("succinct_roles")?;
        SuccinctRoles::from_json(json).ok()
    }

    /// The delegated role `name`, if this role delegates to it: listed by
    /// name, or one of its TAP 15 hashed bins.
    #[allow(
        clippy::manual_find,
        reason = "flash: smaller than `find` (see the module note)"
    )]
    pub fn delegated_role(
        &self,
        name: &(impl AsRef<[u8]> + ?Sized),
    ) -> Option<DelegatedRoleView<'a>> {
        let name = name.as_ref();
        for role in self.delegated_roles() {
            if role.name().is_some_and(|n| n.eq_bytes(name)) {
                return Some(role);
            }
        }
        let succinct = self.succinct_roles()?;
        let bin = succinct.bin_of(name)?;
        Some(DelegatedRoleView {
            role: succinct.json(),
            bin: Some((succinct, bin)),
        })
    }

    /// Checks a delegated role's envelope against the keys and threshold
    /// this role gives it.
    pub fn verify_delegated(
        &self,
        role: &(impl AsRef<[u8]> + ?Sized),
        envelope: &Envelope<'_>,
        key_types: &[&dyn KeyType],
        work: &mut ThresholdWork<'_>,
    ) -> Result<ThresholdReport, VerifyError> {
        let delegated = self.delegated_role(role).ok_or(VerifyError::UnknownRole)?;
        let keys = self
            .delegation_keys()
            .filter(|k| k.kind() == Kind::Object)
            .ok_or(VerifyError::Malformed(detail!(
                "delegations keys must be an object"
            )))?;
        verify_threshold(envelope, keys, &delegated.keys()?, key_types, work)
    }
}

/// One delegated role entry: listed in `roles`, or one TAP 15 hashed bin
/// of `succinct_roles`.
#[derive(Debug, Clone, Copy)]
pub struct DelegatedRoleView<'a> {
    /// The `roles` entry, or the `succinct_roles` object.
    role: Json<'a>,
    /// The bins and the one this stands for, when `role` is
    /// `succinct_roles` (read once: flash, see the module note).
    bin: Option<(SuccinctRoles<'a>, u32)>,
}

impl<'a> DelegatedRoleView<'a> {
    pub(crate) fn from_json(role: Json<'a>) -> Self {
        Self { role, bin: None }
    }

    /// The bin `target` belongs to among `succinct`, as a delegation.
    pub(crate) fn bin_for(succinct: &SuccinctRoles<'a>, target: &[u8]) -> Self {
        Self {
            role: succinct.json(),
            bin: Some((*succinct, succinct.bin_for(target))),
        }
    }

    /// The role's name as listed (`None` for a hashed bin, whose name no
    /// document spells out: see [`Self::bin_name`]).
    pub fn name(&self) -> Option<JsonStr<'a>> {
        if self.bin.is_some() {
            return None;
        }
        self.role.get("name")?.as_str()
    }

    /// The TAP 15 hashed bins and the bin this stands for, if it is one.
    pub fn bin(&self) -> Option<(SuccinctRoles<'a>, u32)> {
        self.bin
    }

    /// The name of the TAP 15 hashed bin this stands for, if it is one.
    pub fn bin_name(&self) -> Option<BinName<'a>> {
        let (succinct, bin) = self.bin?;
        Some(succinct.bin_name(bin))
    }

    /// Its keys and threshold.
    pub fn keys(&self) -> Result<RoleKeys<'a>, VerifyError> {
        RoleKeys::from_json(self.role)
    }

    /// Whether the search stops here when the path matches (every hashed
    /// bin is terminating, TAP 15).
    pub fn terminating(&self) -> bool {
        self.bin.is_some()
            || self
                .role
                .get("terminating")
                .and_then(|t| t.as_bool())
                .unwrap_or(false)
    }

    /// The `paths` patterns, if given.
    pub fn paths(&self) -> Option<Json<'a>> {
        self.role.get("paths")
    }

    /// The `path_hash_prefixes`, if given.
    pub fn path_hash_prefixes(&self) -> Option<Json<'a>> {
        self.role.get("path_hash_prefixes")
    }

    /// Whether this delegation covers target `path` (python-tuf 7's rule,
    /// see [`crate::path_match`]).
    pub fn covers(&self, path: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        if let Some((succinct, bin)) = self.bin {
            return succinct.bin_for(path.as_ref()) == bin;
        }
        crate::path_match::delegation_covers(self.paths(), self.path_hash_prefixes(), path.as_ref())
    }
}
