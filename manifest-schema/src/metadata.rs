//! Serde types for TUF 1.0 metadata, for building, editing and displaying it.
//!
//! These types never decide trust: signatures and thresholds are checked by
//! the verification core (`fwsign-core`) over canonical bytes. What they
//! guarantee is that nothing is lost: every object keeps the fields it does
//! not know in `unknown`, and writing it back produces the same canonical
//! bytes, so metadata from other TUF tools still verifies after fwsign has
//! read and re-written it.

use std::collections::BTreeMap;

use schemars::JsonSchema;

pub use crate::hashes::Hashes;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::Error;
use crate::canonical::to_canonical_bytes;
use crate::firmware::FirmwareInfo;
use crate::raw_json::RawJson;

/// Fields fwsign does not know, kept as they were read.
pub type UnknownFields = BTreeMap<String, Value>;

/// The TUF specification version fwsign writes.
pub const SPEC_VERSION: &str = "1.0.31";

/// A signed metadata document: the envelope around one role's `signed` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Signed<T> {
    /// Signatures over the canonical JSON of `signed`. A key ID appears at
    /// most once.
    pub signatures: Vec<Signature>,
    /// The role's content.
    pub signed: T,
    /// Fields other tools put in the envelope.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Signature {
    /// Names the key in the delegator's key table.
    pub keyid: String,
    /// Hex: DER for ECDSA, 64 raw bytes for Ed25519.
    pub sig: String,
    /// Fields other tools put beside a signature.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A public key as TUF lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Key {
    /// `ed25519`, `ecdsa` (or `ecdsa-sha2-nistp256`), `rsa`.
    pub keytype: String,
    /// `ed25519`, `ecdsa-sha2-nistp256`, `rsassa-pss-sha256`.
    pub scheme: String,
    /// The public key material.
    pub keyval: KeyVal,
    /// Fields other tools put on a key (securesystemslib's
    /// `keyid_hash_algorithms`, for one).
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The public part of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyVal {
    /// Hex (Ed25519) or PEM SubjectPublicKeyInfo (ECDSA, RSA).
    pub public: String,
    /// Other fields of `keyval`.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The keys and threshold of a top-level role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleKeys {
    /// Key IDs allowed to sign for the role.
    pub keyids: Vec<String>,
    /// How many distinct keys must sign; at least 1.
    pub threshold: u64,
    /// Other fields of the role entry.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The root role: the keys of every top-level role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Root {
    /// Always `root`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version, `1.x.y`.
    pub spec_version: String,
    /// Whether metadata and targets are published under versioned and
    /// hash-prefixed names.
    pub consistent_snapshot: bool,
    /// Version of this root, from 1, each new root exactly one more.
    pub version: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires: String,
    /// Every key of a top-level role, by key ID.
    pub keys: BTreeMap<String, Key>,
    /// `root`, `targets`, `snapshot` and `timestamp`.
    pub roles: BTreeMap<String, RoleKeys>,
    /// Fields other tools add.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A targets role, top-level or delegated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Targets {
    /// Always `targets`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version, `1.x.y`.
    pub spec_version: String,
    /// Version of this role.
    pub version: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires: String,
    /// The target files this role vouches for, by name.
    pub targets: BTreeMap<String, TargetFile>,
    /// Roles this one hands part of its namespace to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Fields other tools add.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// One target file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetFile {
    /// Length in bytes.
    pub length: u64,
    /// Lowercase hex digests by algorithm (`sha256`, `sha512`).
    pub hashes: Hashes,
    // Kept as canonical JSON, not a tree: a targets role of 10^5 entries is
    // read, cloned and written often (see `crate::raw_json`).
    /// Application fields; fwsign's firmware fields sit under
    /// `custom.fwsign` (see [`FirmwareInfo`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<RawJson>,
    /// Fields other tools add.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// Delegations of a targets role: listed `roles`, or TAP 15
/// `succinct_roles` ([`Delegations::succinct_roles`]; kept in `unknown`, as
/// read, so that fwsign writes back the bytes it read).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Delegations {
    /// Keys of the delegated roles, by key ID.
    pub keys: BTreeMap<String, Key>,
    /// Delegated roles, in the order a client searches them. Absent (read
    /// as empty, and not written back) where `succinct_roles` stands instead.
    #[serde(default)]
    pub roles: Vec<DelegatedRole>,
    /// Fields other tools add (`succinct_roles`, for one).
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The key TAP 15 hashed bins sit under in `delegations`.
pub const SUCCINCT_ROLES: &str = "succinct_roles";

/// TAP 15 hashed bins: `2^bit_length` terminating roles named
/// `NAME_PREFIX-SUFFIX` (the bin number in zero-padded lowercase hex),
/// all with these keys and threshold; a target's bin is the top
/// `bit_length` bits of its name's SHA-256. Which bin answers for a name is
/// decided by the verification core (`fwsign_core::succinct`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SuccinctRoles {
    /// Key IDs allowed to sign every bin.
    pub keyids: Vec<String>,
    /// How many distinct keys must sign a bin; at least 1.
    pub threshold: u64,
    /// The number of bins is `2^bit_length`, 1 to 32.
    pub bit_length: u32,
    /// The bins' names before `-` and the bin number.
    pub name_prefix: String,
    /// Fields other tools add.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl Delegations {
    /// The TAP 15 `succinct_roles`, if this delegates through them (a
    /// `null` is absent, as python-tuf reads it).
    pub fn succinct_roles(&self) -> Result<Option<SuccinctRoles>, Error> {
        self.unknown
            .get(SUCCINCT_ROLES)
            .filter(|v| !v.is_null())
            .map(|v| {
                serde_json::from_value(v.clone())
                    .map_err(|e| Error::Format(format!("delegations.succinct_roles: {e}")))
            })
            .transpose()
    }
}

// By hand rather than derived: `roles` is left out where `succinct_roles`
// stands instead, since TAP 15 (and python-tuf) allow exactly one of them.
impl Serialize for Delegations {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let succinct = self
            .unknown
            .get(SUCCINCT_ROLES)
            .is_some_and(|v| !v.is_null());
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("keys", &self.keys)?;
        if !(succinct && self.roles.is_empty()) {
            map.serialize_entry("roles", &self.roles)?;
        }
        for (key, value) in &self.unknown {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// One delegated role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DelegatedRole {
    /// The role name, `[A-Za-z0-9._-]+` for roles fwsign creates.
    pub name: String,
    /// Key IDs allowed to sign for the role.
    pub keyids: Vec<String>,
    /// How many distinct keys must sign; at least 1.
    pub threshold: u64,
    /// Whether a search stops at this role when the path matches.
    pub terminating: bool,
    /// Shell-style patterns matched per `/`-separated part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Hex prefixes of the SHA-256 of target names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Fields other tools add.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The snapshot role: the versions of every targets role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    /// Always `snapshot`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version, `1.x.y`.
    pub spec_version: String,
    /// Version of this snapshot.
    pub version: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires: String,
    /// `ROLE.json` for every targets role.
    pub meta: BTreeMap<String, MetaFile>,
    /// Fields other tools add; fwsign records its audit-log head here as
    /// `x-fwsign-audit-head`.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The timestamp role: the current snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timestamp {
    /// Always `timestamp`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version, `1.x.y`.
    pub spec_version: String,
    /// Version of this timestamp.
    pub version: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires: String,
    /// `snapshot.json` only.
    pub meta: BTreeMap<String, MetaFile>,
    /// Fields other tools add.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A metadata file listed by snapshot or timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetaFile {
    /// The listed file's version.
    pub version: u64,
    /// Its length in bytes, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Its digests, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<BTreeMap<String, String>>,
    /// Fields other tools add.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// What the four role types have in common.
pub trait RoleType: Serialize + DeserializeOwned {
    /// The `_type` value.
    const TYPE: &'static str;
    /// The `_type` field as read.
    fn type_field(&self) -> &str;
    /// The role's version.
    fn version(&self) -> u64;
    /// The role's expiry, as written.
    fn expires(&self) -> &str;
    /// The role's `spec_version`.
    fn spec_version(&self) -> &str;
    /// Role-specific checks beyond the common ones.
    fn check(&self) -> Result<(), Error> {
        Ok(())
    }
}

macro_rules! role_type {
    ($ty:ty, $name:literal) => {
        impl RoleType for $ty {
            const TYPE: &'static str = $name;
            fn type_field(&self) -> &str {
                &self.type_
            }
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> &str {
                &self.expires
            }
            fn spec_version(&self) -> &str {
                &self.spec_version
            }
            fn check(&self) -> Result<(), Error> {
                self.check_role()
            }
        }
    };
}
role_type!(Root, "root");
role_type!(Targets, "targets");
role_type!(Snapshot, "snapshot");
role_type!(Timestamp, "timestamp");

impl Root {
    fn check_role(&self) -> Result<(), Error> {
        for (name, role) in &self.roles {
            if role.threshold == 0 {
                return Err(Error::ThresholdZero { role: name.clone() });
            }
        }
        Ok(())
    }
}

impl Targets {
    /// The names of the roles this role delegates to, in its order.
    pub fn delegated_role_names(&self) -> Vec<String> {
        self.delegations
            .iter()
            .flat_map(|d| &d.roles)
            .map(|r| r.name.clone())
            .collect()
    }

    fn check_role(&self) -> Result<(), Error> {
        if let Some(delegations) = &self.delegations
            && let Some(succinct) = delegations.succinct_roles()?
        {
            if !delegations.roles.is_empty() {
                return Err(Error::Format(
                    "delegations may have roles or succinct_roles, not both (TAP 15)".into(),
                ));
            }
            if succinct.threshold == 0 {
                return Err(Error::ThresholdZero {
                    role: format!("{}-*", succinct.name_prefix),
                });
            }
            if !(1..=32).contains(&succinct.bit_length) {
                return Err(Error::Format(format!(
                    "succinct_roles bit_length {} is not between 1 and 32",
                    succinct.bit_length
                )));
            }
        }
        if let Some(delegations) = &self.delegations {
            for role in &delegations.roles {
                if role.name.is_empty()
                    || ["root", "targets", "snapshot", "timestamp"].contains(&role.name.as_str())
                {
                    return Err(Error::Format(format!(
                        "delegated role name {:?}: delegated roles cannot be empty or use top-level role names",
                        role.name
                    )));
                }
                if role.threshold == 0 {
                    return Err(Error::ThresholdZero {
                        role: role.name.clone(),
                    });
                }
                if role.paths.is_some() == role.path_hash_prefixes.is_some() {
                    return Err(Error::Format(format!(
                        "delegated role {:?} must have exactly one of paths and path_hash_prefixes",
                        role.name
                    )));
                }
            }
        }
        for (name, target) in &self.targets {
            if !target.firmware_is_valid() {
                return Err(Error::Format(format!(
                    "target {name:?} has malformed firmware fields under custom.fwsign"
                )));
            }
        }
        Ok(())
    }
}

impl Snapshot {
    fn check_role(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl Timestamp {
    fn check_role(&self) -> Result<(), Error> {
        if !self.meta.contains_key("snapshot.json") || self.meta.len() != 1 {
            return Err(Error::Format(
                "timestamp meta must list snapshot.json and nothing else".into(),
            ));
        }
        Ok(())
    }
}

impl TargetFile {
    /// The firmware fields under `custom.fwsign`, if present.
    pub fn firmware(&self) -> Result<Option<FirmwareInfo>, Error> {
        let Some(custom) = &self.custom else {
            return Ok(None);
        };
        let info = match custom.member(FirmwareInfo::CUSTOM_KEY) {
            Ok(None) => return Ok(None),
            Ok(Some(text)) => match crate::parse::typed_from_slice::<FirmwareInfo>(text.as_bytes())
            {
                Some(info) => info,
                // The tree path decides and words the error.
                None => firmware_from_tree(&crate::parse::parse_json(text.as_bytes())?)?,
            },
            // Nested deeper than the canonical reader reads.
            Err(()) => match custom.to_value()?.get(FirmwareInfo::CUSTOM_KEY) {
                None => return Ok(None),
                Some(v) => firmware_from_tree(v)?,
            },
        };
        info.check()?;
        Ok(Some(info))
    }

    /// Whether [`TargetFile::firmware`] accepts this entry's firmware
    /// fields: decided in place where they plainly hold
    /// ([`FirmwareInfo::plainly_valid`]), else by reading them.
    pub(crate) fn firmware_is_valid(&self) -> bool {
        let plainly = self
            .custom
            .as_ref()
            .map(RawJson::json)
            .and_then(|custom| custom.get(FirmwareInfo::CUSTOM_KEY))
            .and_then(FirmwareInfo::plainly_valid);
        plainly.is_some() || self.firmware().is_ok()
    }

    /// Sets the firmware fields under `custom.fwsign`, keeping every other
    /// custom field.
    pub fn set_firmware(&mut self, info: &FirmwareInfo) -> Result<(), Error> {
        let value = serde_json::to_value(info).map_err(|e| Error::Format(e.to_string()))?;
        match &mut self.custom {
            Some(custom) => custom.insert(FirmwareInfo::CUSTOM_KEY, value),
            None => {
                self.custom = Some(RawJson::object_with(FirmwareInfo::CUSTOM_KEY, value)?);
                Ok(())
            }
        }
    }
}

fn firmware_from_tree(value: &Value) -> Result<FirmwareInfo, Error> {
    FirmwareInfo::deserialize(value).map_err(|e| Error::Format(format!("custom.fwsign: {e}")))
}

/// Checks `spec_version` is `1.<minor>[.<patch>]`, as python-tuf does.
pub fn check_spec_version(spec: &str) -> Result<(), Error> {
    let parts: Vec<&str> = spec.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !(numeric && (parts.len() == 2 || parts.len() == 3) && parts[0] == "1") {
        return Err(Error::SpecVersion(spec.to_owned()));
    }
    Ok(())
}

impl<T: RoleType> Signed<T> {
    /// Reads a metadata document as any TUF tool writes it (indented or not)
    /// and checks its shape: `_type`, `spec_version`, `expires`, thresholds.
    /// This does not check signatures.
    ///
    /// The text is read straight into the types; a text that path does not
    /// take is read through a [`Value`] tree, which decides and words the
    /// error (see [`crate::parse`]'s streaming reader).
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, Error> {
        match crate::parse::typed_from_slice::<Self>(bytes) {
            Some(doc) => doc.checked(),
            None => Self::from_value(crate::parse::parse_json(bytes)?),
        }
    }

    /// [`Signed::from_json_slice`] of a document the canonical reader has
    /// validated (the check of a role keeps one): read without checking
    /// again what validation already holds, to the same document and the
    /// same refusals.
    pub fn from_canonical(buf: &crate::canonical::CanonicalBuf) -> Result<Self, Error> {
        match crate::parse::typed_from_canonical::<Self>(buf) {
            Some(doc) => doc.checked(),
            None => Self::from_json_slice(buf.as_bytes()),
        }
    }

    /// Like [`Signed::from_json_slice`], from an already parsed value.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let doc: Self = serde_json::from_value(value).map_err(|e| Error::Format(e.to_string()))?;
        doc.checked()
    }

    /// The shape checks every way in makes.
    fn checked(self) -> Result<Self, Error> {
        let doc = self;
        let signed = &doc.signed;
        if signed.type_field() != T::TYPE {
            return Err(Error::WrongType {
                expected: T::TYPE,
                found: signed.type_field().to_owned(),
            });
        }
        check_spec_version(signed.spec_version())?;
        if crate::expiry::parse_expires(signed.expires().as_bytes()).is_none() {
            return Err(Error::BadExpires(signed.expires().to_owned()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for sig in &doc.signatures {
            if !seen.insert(sig.keyid.as_str()) {
                return Err(Error::DuplicateSignature {
                    keyid: sig.keyid.clone(),
                });
            }
        }
        signed.check()?;
        Ok(doc)
    }

    /// The canonical bytes of `signed`: what every signature covers.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, Error> {
        Ok(to_canonical_bytes(&self.signed)?)
    }

    /// The whole envelope as canonical JSON, the form fwsign stores and the
    /// device reads.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>, Error> {
        Ok(to_canonical_bytes(self)?)
    }
}
