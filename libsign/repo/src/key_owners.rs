//! Who holds each approver key: owners' names in signed metadata.
//!
//! A name lives in the same signed document as the key it names, in the
//! unrecognised top-level field [`OWNERS_FIELD`] of `signed`:
//! `{"KEYID": {"name": "...", "email": "..."}}`. Root names the top-level
//! roles' keys; a delegating targets role names its delegations' keys. So a
//! name is covered by exactly the signatures that cover the key, and the key
//! objects (which python-tuf and tough hash into key IDs, and which tough
//! re-serialises without fields it does not know) stay as the TUF
//! specification writes them.
//!
//! Names are shown, never trusted: every display of approvers reads them
//! through [`lookup`] from the document that lists the keys (the verified
//! published one, or the staged one when showing staged state), and only
//! for keys that document lists. A name is at most [`MAX_NAME_CHARS`]
//! characters, without control characters or the Unicode formatting
//! characters that reorder or hide text on a terminal (bidirectional
//! overrides and isolates, marks, line separators): a name must read the
//! same to every approver who sees it. A stored entry breaking those rules
//! (hand-written metadata) is left out of the display rather than shown.

use std::collections::{BTreeMap, BTreeSet};

use fwsign_manifest_schema::metadata::{Key, Root, Targets, UnknownFields};
use fwsign_manifest_schema::reader::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RepoError;

/// The unrecognised `signed` field holding the owners of the keys the
/// document lists.
pub const OWNERS_FIELD: &str = "x-fwsign-key-owners";

/// The longest name, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 64;

/// The longest e-mail address, in characters (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The person (or team) holding one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyOwner {
    /// Their name, as approvers will read it.
    pub name: String,
    /// Their e-mail address, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Whether `c` may change how the text around it reads without being seen:
/// bidirectional embeddings, overrides, isolates and marks (the "Trojan
/// Source" characters), line and paragraph separators, the byte order mark
/// and interlinear annotations.
fn is_hidden_formatting(c: char) -> bool {
    matches!(c,
        '\u{061C}'                // Arabic letter mark
        | '\u{200E}' | '\u{200F}' // left-to-right / right-to-left marks
        | '\u{2028}' | '\u{2029}' // line / paragraph separators
        | '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2066}'..='\u{2069}' // isolates
        | '\u{FEFF}'              // byte order mark / zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
    )
}

/// The first rule `text` breaks as a name or e-mail field, if any.
fn check_text(text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("is empty".into());
    }
    if text.trim() != text {
        return Err("starts or ends with white space".into());
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(format!(
            "is {chars} characters long; at most {max} are allowed"
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "contains the control character U+{:04X}",
            u32::from(c)
        ));
    }
    if let Some(c) = text.chars().find(|c| is_hidden_formatting(*c)) {
        return Err(format!(
            "contains U+{:04X}, a bidirectional or invisible formatting character that can make a name read as another",
            u32::from(c)
        ));
    }
    if text.contains(['<', '>']) {
        return Err("contains < or > (write NAME <EMAIL>)".into());
    }
    Ok(())
}

impl KeyOwner {
    /// An owner from a name and an optional e-mail address, checked.
    pub fn new(name: &str, email: Option<&str>) -> Result<Self, RepoError> {
        let invalid = |why: String| RepoError::InvalidKeyOwner {
            owner: match email {
                Some(e) => format!("{name} <{e}>"),
                None => name.to_owned(),
            },
            why,
        };
        check_text(name, MAX_NAME_CHARS).map_err(|why| invalid(format!("the name {why}")))?;
        if let Some(email) = email {
            check_text(email, MAX_EMAIL_CHARS)
                .map_err(|why| invalid(format!("the e-mail address {why}")))?;
            let plausible = email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@')
            }) && !email.chars().any(char::is_whitespace);
            if !plausible {
                return Err(invalid(
                    "the e-mail address is not of the form LOCAL@DOMAIN".into(),
                ));
            }
        }
        Ok(Self {
            name: name.to_owned(),
            email: email.map(str::to_owned),
        })
    }

    /// Parses `NAME` or `NAME <EMAIL>` (the form of `--key-owner`'s value).
    pub fn parse(text: &str) -> Result<Self, RepoError> {
        match text.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
            Some((name, email)) => Self::new(name.trim_end(), Some(email)),
            None => Self::new(text, None),
        }
    }

    fn is_valid(&self) -> bool {
        Self::new(&self.name, self.email.as_deref()).is_ok_and(|checked| &checked == self)
    }
}

impl std::fmt::Display for KeyOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.email {
            Some(email) => write!(f, "{} <{email}>", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// One `--key-owner`: a key ID and who holds that key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerAssignment {
    /// The key's ID.
    pub keyid: String,
    /// Its owner.
    pub owner: KeyOwner,
}

/// The owners a document gives the keys it lists, by key ID. Serialises as
/// `{"KEYID": {"name": ..., "email": ...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct KeyOwners(BTreeMap<String, KeyOwner>);

impl KeyOwners {
    /// The owner of `keyid`, if named.
    pub fn get(&self, keyid: &str) -> Option<&KeyOwner> {
        self.0.get(keyid)
    }

    /// Whether no key is named.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `keyid` as people read it: `NAME (first 16 hex digits)` when named,
    /// else the key ID as it is.
    pub fn label(&self, keyid: &str) -> String {
        match self.get(keyid) {
            Some(owner) => format!("{} ({})", owner.name, keyid.get(..16).unwrap_or(keyid)),
            None => keyid.to_owned(),
        }
    }

    /// [`KeyOwners::label`] of each key, joined with `, `.
    pub fn labels<'k>(&self, keyids: impl IntoIterator<Item = &'k String>) -> String {
        keyids
            .into_iter()
            .map(|k| self.label(k))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The owners of `keyids` only (what a `--json` object shows beside
    /// those key IDs).
    pub fn only<'k>(&self, keyids: impl IntoIterator<Item = &'k String>) -> Self {
        Self(
            keyids
                .into_iter()
                .filter_map(|k| self.get(k).map(|o| (k.clone(), o.clone())))
                .collect(),
        )
    }

    /// Adds `other`'s names for keys this has no name for.
    pub fn merge(&mut self, other: &Self) {
        for (keyid, owner) in &other.0 {
            self.0.entry(keyid.clone()).or_insert_with(|| owner.clone());
        }
    }

    /// `{"name": ..., "email": ...}` of `keyid`'s owner, or `null`.
    pub fn json(&self, keyid: &str) -> Value {
        self.get(keyid)
            .and_then(|o| serde_json::to_value(o).ok())
            .unwrap_or(Value::Null)
    }
}

/// A document that lists keys and may name their owners.
#[derive(Debug, Clone, Copy)]
pub enum Delegator<'d> {
    /// A root: its key table (every top-level role's keys).
    Root(&'d Root),
    /// A targets role: its delegations' key table.
    Targets(&'d Targets),
}

impl<'d> From<&'d Root> for Delegator<'d> {
    fn from(root: &'d Root) -> Self {
        Self::Root(root)
    }
}

impl<'d> From<&'d Targets> for Delegator<'d> {
    fn from(targets: &'d Targets) -> Self {
        Self::Targets(targets)
    }
}

impl<'d> Delegator<'d> {
    fn listed(self) -> Option<&'d BTreeMap<String, Key>> {
        match self {
            Self::Root(root) => Some(&root.keys),
            Self::Targets(targets) => targets.delegations.as_ref().map(|d| &d.keys),
        }
    }

    fn unknown(self) -> &'d UnknownFields {
        match self {
            Self::Root(root) => &root.unknown,
            Self::Targets(targets) => &targets.unknown,
        }
    }
}

/// The one look-up of key owners: the names `delegator` gives the keys it
/// lists. Every display of approvers calls this, with the document that
/// authorises those keys (verified published metadata, or the staged
/// document when showing staged state). Entries for keys the document does
/// not list, and entries that break the name rules, are left out.
pub fn lookup<'d>(delegator: impl Into<Delegator<'d>>) -> KeyOwners {
    let delegator = delegator.into();
    let Some(listed) = delegator.listed() else {
        return KeyOwners::default();
    };
    let Some(Value::Object(map)) = delegator.unknown().get(OWNERS_FIELD) else {
        return KeyOwners::default();
    };
    KeyOwners(
        map.iter()
            .filter(|(keyid, _)| listed.contains_key(*keyid))
            .filter_map(|(keyid, v)| {
                serde_json::from_value::<KeyOwner>(v.clone())
                    .ok()
                    .filter(KeyOwner::is_valid)
                    .map(|o| (keyid.clone(), o))
            })
            .collect(),
    )
}

/// [`lookup`] from a delegator's verified canonical `signed` object, read
/// in place rather than through its typed model (the history walk reads
/// every published version of every delegating role this way).
pub(crate) fn lookup_signed(signed: Json<'_>) -> KeyOwners {
    let keys = match signed.get("_type").and_then(|t| t.as_str()) {
        Some(t) if t.eq_str("root") => signed.get("keys"),
        _ => signed.get("delegations").and_then(|d| d.get("keys")),
    };
    let (Some(keys), Some(owners)) = (keys, signed.get(OWNERS_FIELD)) else {
        return KeyOwners::default();
    };
    let Ok(map) = serde_json::from_slice::<BTreeMap<String, Value>>(owners.as_bytes()) else {
        return KeyOwners::default();
    };
    KeyOwners(
        map.into_iter()
            .filter(|(keyid, _)| keys.get(keyid).is_some())
            .filter_map(|(keyid, v)| {
                serde_json::from_value::<KeyOwner>(v)
                    .ok()
                    .filter(KeyOwner::is_valid)
                    .map(|o| (keyid, o))
            })
            .collect(),
    )
}

/// The names a whole published state gives: root's, then each targets
/// role's for its delegations (a key named in several places shows the
/// first name found). For events that name a key without saying which role
/// it signed for (`repo audit`).
pub fn lookup_published(published: &super::Published) -> KeyOwners {
    let mut owners = lookup(&published.root.signed);
    for doc in published.targets.values() {
        owners.merge(&lookup(&doc.signed));
    }
    owners
}

impl super::operation::Operation<'_> {
    /// The owners the document authorising `role`'s keys names, as the next
    /// release will have it: for root, the staged root's names and then the
    /// published root's; for a top-level role, the current root's; for a
    /// delegated role, its delegator's.
    pub(crate) fn owners_for_role(&self, role: &str) -> Result<KeyOwners, RepoError> {
        if role == "root" {
            let mut owners = lookup(&self.current_root()?.signed);
            if let Some(published) = self.published()? {
                owners.merge(&lookup(&published.root.signed));
            }
            return Ok(owners);
        }
        match self.delegator_of(role)? {
            None => Ok(lookup(&self.current_root()?.signed)),
            Some(parent) => Ok(self
                .current_targets(&parent)?
                .map(|doc| lookup(&doc.signed))
                .unwrap_or_default()),
        }
    }

    /// The name of `keyid`'s owner for `role` (an audit event's approver).
    pub(crate) fn approver_name(
        &self,
        role: &str,
        keyid: &str,
    ) -> Result<Option<String>, RepoError> {
        Ok(self
            .owners_for_role(role)?
            .get(keyid)
            .map(|o| o.name.clone()))
    }
}

impl super::Repository {
    /// The owners the document authorising `role`'s keys names, as the next
    /// release will have it (staged, else published).
    pub fn key_owners_for(&self, role: &str) -> Result<KeyOwners, RepoError> {
        self.operation().owners_for_role(role)
    }

    /// The key IDs whose signatures the staged `role` holds now (empty when
    /// it is not staged): compared before and after an edit, whose approvals
    /// the edit dropped.
    pub fn staged_signers(&self, role: &str) -> Result<Vec<String>, RepoError> {
        /// The envelope's signatures alone: `signed` is skipped, not built
        /// (a staged role of 10^5 targets costs a typed parse otherwise, and
        /// `repo add` asks before and after its edit). A report, not a
        /// trust decision: publish verifies every signature.
        #[derive(Deserialize)]
        struct Signatures {
            signatures: Vec<KeyIdOnly>,
        }
        #[derive(Deserialize)]
        struct KeyIdOnly {
            keyid: String,
        }
        crate::names::check_role_name(role)?;
        let path = self.staged_path(role);
        let Some(bytes) = crate::read_optional(&path)? else {
            return Ok(Vec::new());
        };
        // The files fwsign writes open with the signatures (canonical key
        // order): read that array alone, not the 20 MB after it.
        if let Some(rest) = bytes.strip_prefix(br#"{"signatures":"#)
            && let Some(Ok(signatures)) = serde_json::Deserializer::from_slice(rest)
                .into_iter::<Vec<KeyIdOnly>>()
                .next()
        {
            return Ok(signatures.into_iter().map(|s| s.keyid).collect());
        }
        if let Ok(envelope) = serde_json::from_slice::<Signatures>(&bytes) {
            return Ok(envelope.signatures.into_iter().map(|s| s.keyid).collect());
        }
        // Not even an envelope: the typed reader names what is wrong.
        let signatures = if role == "root" {
            crate::parse_doc::<Root>(&path, &bytes)?.signatures
        } else {
            crate::parse_doc::<Targets>(&path, &bytes)?.signatures
        };
        Ok(signatures.into_iter().map(|s| s.keyid).collect())
    }
}

/// Refuses an assignment for a key `role` does not list.
pub fn check_listed(
    role: &str,
    listed: &BTreeSet<String>,
    assignments: &[OwnerAssignment],
) -> Result<(), RepoError> {
    match assignments.iter().find(|a| !listed.contains(&a.keyid)) {
        Some(a) => Err(RepoError::KeyOwnerNotListed {
            role: role.to_owned(),
            keyid: a.keyid.clone(),
        }),
        None => Ok(()),
    }
}

/// Writes `assignments` into `unknown` (the `signed` fields of the document
/// listing `listed`), keeping earlier names of keys still listed and
/// dropping names of keys no longer listed. Returns whether the field
/// changed.
pub(crate) fn store(
    unknown: &mut UnknownFields,
    listed: &BTreeMap<String, Key>,
    assignments: &[OwnerAssignment],
) -> Result<bool, RepoError> {
    let mut owners: BTreeMap<String, Value> = match unknown.get(OWNERS_FIELD) {
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(k, _)| listed.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => BTreeMap::new(),
    };
    for a in assignments {
        let value = serde_json::to_value(&a.owner)
            .map_err(|e| RepoError::Invalid(format!("cannot serialise a key owner: {e}")))?;
        owners.insert(a.keyid.clone(), value);
    }
    let new = (!owners.is_empty()).then(|| Value::Object(owners.into_iter().collect()));
    let before = unknown.get(OWNERS_FIELD).cloned();
    match &new {
        Some(v) => {
            unknown.insert(OWNERS_FIELD.to_owned(), v.clone());
        }
        None => {
            unknown.remove(OWNERS_FIELD);
        }
    }
    Ok(before != new)
}

/// Checks and stores `owners` in a root being staged: each must name a key
/// the root lists. Names of keys it no longer lists are dropped.
pub(crate) fn store_in_root(root: &mut Root, owners: &[OwnerAssignment]) -> Result<(), RepoError> {
    check_listed("root", &root.keys.keys().cloned().collect(), owners)?;
    store(&mut root.unknown, &root.keys, owners).map(drop)
}

/// Checks and stores `owners` in a delegating role being staged: each must
/// name a key its delegation to `role` lists. Names of keys no delegation
/// lists any more are dropped.
pub(crate) fn store_in_delegator(
    parent: &mut Targets,
    role: &str,
    owners: &[OwnerAssignment],
) -> Result<(), RepoError> {
    let Some(delegations) = &parent.delegations else {
        return check_listed(role, &BTreeSet::new(), owners);
    };
    let listed: BTreeSet<String> = delegations
        .roles
        .iter()
        .filter(|r| r.name == role)
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    check_listed(role, &listed, owners)?;
    store(&mut parent.unknown, &delegations.keys, owners).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_emails_parse() {
        let o = KeyOwner::parse("Alice Müller <alice@example.com>").unwrap();
        assert_eq!(o.name, "Alice Müller");
        assert_eq!(o.email.as_deref(), Some("alice@example.com"));
        let o = KeyOwner::parse("Bob").unwrap();
        assert_eq!((o.name.as_str(), o.email), ("Bob", None));
        assert_eq!(
            KeyOwner::parse("Carol <c@x>").unwrap().to_string(),
            "Carol <c@x>"
        );
    }

    /// Trojan Source: a right-to-left override makes "Mallory" read as
    /// someone else on the approver's terminal.
    #[test]
    fn bidi_controls_and_long_names_are_refused() {
        for bad in [
            "Eve\u{202E}yrollaM",
            "Eve\u{2066}x\u{2069}",
            "Eve\u{200F}",
            "Eve\u{1b}[2J",
            "Eve\nMallory",
            "",
            " Eve",
            "Eve <not-an-email>",
            "Eve <a@b> x",
        ] {
            assert!(KeyOwner::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(KeyOwner::parse(&"é".repeat(64)).is_ok(), "64 characters");
        assert!(KeyOwner::parse(&"é".repeat(65)).is_err(), "65 characters");
    }
}
