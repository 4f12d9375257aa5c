//! Batches for offline approvers: `repo export-payload --role PATTERN`
//! writes the payload of every staged role the pattern matches (a release's
//! hashed bins, say) into one file; `sign-payload` signs every entry with
//! one key unlock; `repo import-signature` adds every signature of the
//! batch, or none.
//!
//! ## Why one file
//!
//! A release may change hundreds of bins. One payload file and sidecar per
//! bin, carried to an air-gapped machine, signed one by one (a passphrase
//! or PIN each) and imported one by one, is hundreds of chances to mix
//! files up and to give up. One file carries them all, its SHA-256 is the
//! one number read over the phone, and the importer either adds every
//! signature or refuses the batch naming the entry that failed.
//!
//! ## Format (version 1)
//!
//! A payload batch is a JSON object (pretty-printed; the payloads are
//! strings inside it, so the file's own layout does not matter):
//!
//! ```text
//! {"format": "fwsign-payload-batch", "format_version": 1,
//!  "entries": [{"role": "bins-3", "version": 2, "sha256": "<hex>",
//!               "changes": {"added": [..], "changed": [..], "removed": [..]},
//!               "payload": "<the canonical bytes to sign, as a JSON string>"}]}
//! ```
//!
//! `role`, `version` and `sha256` are what the single-role sidecar
//! (`FILE.json`, [`PayloadInfo`]) holds; `changes` is what the role's staged
//! change lists against its published version, as `repo sign` shows it.
//! Before signing anything, [`read_payload_batch`] checks every entry
//! against its description: the payload's SHA-256, that it is canonical
//! metadata of the role's type and version, and that it lists every name
//! the change adds or changes and none it removes. One entry that does not
//! match refuses the whole batch ([`RepoError::BatchEntryMismatch`]).
//!
//! A signature batch, written by `sign-payload`, is
//!
//! ```text
//! {"format": "fwsign-signature-batch", "format_version": 1,
//!  "keyid": "<the signer's key ID>", "batch_sha256": "<hex of the payload batch file>",
//!  "signatures": [{"role": "bins-3", "version": 2, "sha256": "<hex>", "sig": "<hex>"}]}
//! ```
//!
//! A reader refuses another `format_version` (a newer fwsign wrote it) and
//! any field version 1 does not define. The single-role files (`FILE`,
//! `FILE.json`, a bare hex signature) are unchanged; a batch is recognised
//! by its `format` member, which no TUF `signed` body and no bare signature
//! has.

use std::collections::BTreeSet;
use std::path::Path;

use fwsign_core::path_match::path_matches;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_keys::{PublicKey, TufSigner};
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::reader::{Json, Kind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::approval::{PayloadInfo, decode_signature};
use crate::audit::AuditEvent;
use crate::bins::{TargetChanges, matching_roles};
use crate::{RepoError, Repository, RoleApproval, io_err, read_file};

/// The `format` of a payload batch.
pub const PAYLOAD_BATCH_FORMAT: &str = "fwsign-payload-batch";
/// The `format` of a signature batch.
pub const SIGNATURE_BATCH_FORMAT: &str = "fwsign-signature-batch";
/// The `format_version` this fwsign writes and reads.
pub const BATCH_FORMAT_VERSION: u64 = 1;

/// A payload batch (`export-payload --role PATTERN`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadBatch {
    /// [`PAYLOAD_BATCH_FORMAT`].
    pub format: String,
    /// [`BATCH_FORMAT_VERSION`].
    pub format_version: u64,
    /// One entry per role, in role order.
    pub entries: Vec<BatchEntry>,
}

/// One role's payload in a batch, with its description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEntry {
    /// The role.
    pub role: String,
    /// Its staged version.
    pub version: u64,
    /// Lowercase hex SHA-256 of `payload`'s UTF-8 bytes.
    pub sha256: String,
    /// What the staged role changes in the targets it lists.
    pub changes: TargetChanges,
    /// The canonical bytes to sign (canonical JSON is UTF-8).
    pub payload: String,
}

impl BatchEntry {
    /// The entry's description, as a single payload's sidecar holds it.
    pub fn info(&self) -> PayloadInfo {
        PayloadInfo {
            role: self.role.clone(),
            version: self.version,
            sha256: self.sha256.clone(),
        }
    }
}

/// A signature batch (`sign-payload` over a payload batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureBatch {
    /// [`SIGNATURE_BATCH_FORMAT`].
    pub format: String,
    /// [`BATCH_FORMAT_VERSION`].
    pub format_version: u64,
    /// The signer's key ID.
    pub keyid: String,
    /// Lowercase hex SHA-256 of the payload batch file signed.
    pub batch_sha256: String,
    /// One signature per entry of the batch, in its order.
    pub signatures: Vec<BatchSignature>,
}

/// One entry's signature in a signature batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSignature {
    /// The role.
    pub role: String,
    /// The version signed.
    pub version: u64,
    /// SHA-256 of the payload signed.
    pub sha256: String,
    /// The signature, lowercase hex (DER for ECDSA).
    pub sig: String,
}

impl SignatureBatch {
    /// The file's bytes (pretty JSON and a newline).
    pub fn to_bytes(&self) -> Result<Vec<u8>, RepoError> {
        to_file_bytes(self)
    }
}

/// What [`Repository::export_payload_batch`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedBatch {
    /// SHA-256 of the file written, to read over the phone.
    pub batch_sha256: String,
    /// Each entry's description and change.
    pub entries: Vec<ExportedEntry>,
}

/// One role in an [`ExportedBatch`].
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEntry {
    /// Role, version, SHA-256.
    #[serde(flatten)]
    pub info: PayloadInfo,
    /// What its staged change lists.
    pub changes: TargetChanges,
}

fn hex_sha256(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

fn to_file_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, RepoError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| RepoError::Invalid(format!("cannot serialise a batch: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The members every version of a batch has.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    format_version: Option<u64>,
}

fn has_format(bytes: &[u8], format: &str) -> bool {
    // Cheap first: a batch is a pretty-printed object; a single payload
    // (canonical JSON) or a bare signature never carries this string.
    let needle = format.as_bytes();
    bytes.windows(needle.len()).any(|w| w == needle)
        && serde_json::from_slice::<Header>(bytes)
            .is_ok_and(|h| h.format.as_deref() == Some(format))
}

/// Whether `bytes` are a payload batch (rather than a single payload).
pub fn is_payload_batch(bytes: &[u8]) -> bool {
    has_format(bytes, PAYLOAD_BATCH_FORMAT)
}

/// Whether `bytes` are a signature batch (rather than one signature).
pub fn is_signature_batch(bytes: &[u8]) -> bool {
    has_format(bytes, SIGNATURE_BATCH_FORMAT)
}

fn bad_format(path: &Path, why: String) -> RepoError {
    RepoError::BatchFormat {
        path: path.to_path_buf(),
        why,
    }
}

/// Parses a batch of `format`, refusing another format version first, so
/// a file from a newer fwsign is named as such rather than as malformed.
fn parse_versioned<T: for<'de> Deserialize<'de>>(
    path: &Path,
    bytes: &[u8],
    format: &str,
) -> Result<T, RepoError> {
    let header = serde_json::from_slice::<Header>(bytes)
        .ok()
        .filter(|h| h.format.as_deref() == Some(format))
        .ok_or_else(|| bad_format(path, format!("not a {format} file")))?;
    match header.format_version {
        Some(BATCH_FORMAT_VERSION) => {}
        Some(v) => {
            return Err(bad_format(
                path,
                format!(
                    "{format} format version {v}; this fwsign reads version {BATCH_FORMAT_VERSION} (a newer fwsign wrote it)"
                ),
            ));
        }
        None => {
            return Err(bad_format(
                path,
                format!("{format} without a format_version"),
            ));
        }
    }
    serde_json::from_slice(bytes).map_err(|e| {
        bad_format(
            path,
            format!("not a valid {format} version {BATCH_FORMAT_VERSION} file: {e}"),
        )
    })
}

/// Refuses an empty batch and one naming a role twice.
fn check_roles<'a>(path: &Path, roles: impl Iterator<Item = &'a str>) -> Result<(), RepoError> {
    let mut seen = BTreeSet::new();
    for role in roles {
        crate::names::check_role_name(role)?;
        if !seen.insert(role) {
            return Err(bad_format(path, format!("names role {role} twice")));
        }
    }
    if seen.is_empty() {
        return Err(bad_format(path, "holds no entries".into()));
    }
    Ok(())
}

/// Checks that `entry`'s payload is what its description says.
fn check_entry(batch: &Path, entry: &BatchEntry) -> Result<(), RepoError> {
    let mismatch = |why: String| RepoError::BatchEntryMismatch {
        batch: batch.to_path_buf(),
        role: entry.role.clone(),
        why,
    };
    let bytes = entry.payload.as_bytes();
    let digest = hex_sha256(bytes);
    if digest != entry.sha256 {
        return Err(mismatch(format!(
            "its payload has SHA-256 {digest}, the description records {}",
            entry.sha256
        )));
    }
    // The exact bytes signed must be the canonical form clients check.
    let doc = Json::parse_canonical(bytes)
        .map_err(|_| mismatch("its payload is not canonical JSON".into()))?;
    let kind = if entry.role == "root" {
        "root"
    } else {
        "targets"
    };
    if !doc
        .get("_type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.eq_str(kind))
    {
        return Err(mismatch(format!("its payload is not {kind} metadata")));
    }
    match doc.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == entry.version => {}
        found => {
            return Err(mismatch(format!(
                "its payload is version {}, the description records {}",
                found.map_or_else(|| "none".to_owned(), |v| v.to_string()),
                entry.version
            )));
        }
    }
    let changes = &entry.changes;
    if kind == "root" {
        if changes != &TargetChanges::default() {
            return Err(mismatch("root lists no targets to change".into()));
        }
        return Ok(());
    }
    let targets = doc
        .get("targets")
        .filter(|t| t.kind() == Kind::Object)
        .ok_or_else(|| mismatch("its payload has no targets object".into()))?;
    for name in changes.added.iter().chain(&changes.changed) {
        if targets.get(name).is_none() {
            return Err(mismatch(format!(
                "its change adds or changes {name}, which its payload does not list"
            )));
        }
    }
    for name in &changes.removed {
        if targets.get(name).is_some() {
            return Err(mismatch(format!(
                "its change removes {name}, which its payload still lists"
            )));
        }
    }
    Ok(())
}

/// A payload batch whose every entry matched its description when read
/// ([`read_payload_batch`]): the only batch [`CheckedBatch::sign`] signs.
#[derive(Debug, Clone)]
pub struct CheckedBatch {
    path: std::path::PathBuf,
    batch: PayloadBatch,
    sha256: String,
}

impl CheckedBatch {
    /// The batch's entries, in order.
    pub fn entries(&self) -> &[BatchEntry] {
        &self.batch.entries
    }

    /// Lowercase hex SHA-256 of the batch file, to read over the phone.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Signs every entry with one signer (one passphrase or PIN).
    pub fn sign(&self, signer: &dyn TufSigner) -> Result<SignatureBatch, RepoError> {
        let mut signatures = Vec::with_capacity(self.batch.entries.len());
        for entry in &self.batch.entries {
            let sig = signer
                .try_sign(entry.payload.as_bytes())
                .map_err(|source| RepoError::Document {
                    context: format!("signing {} in {}", entry.role, self.path.display()),
                    source: fwsign_keys::document::DocumentError::Signing(source),
                })?;
            signatures.push(BatchSignature {
                role: entry.role.clone(),
                version: entry.version,
                sha256: entry.sha256.clone(),
                sig: base16ct::lower::encode_string(&sig.0),
            });
        }
        Ok(SignatureBatch {
            format: SIGNATURE_BATCH_FORMAT.to_owned(),
            format_version: BATCH_FORMAT_VERSION,
            keyid: signer.public_key().keyid(),
            batch_sha256: self.sha256.clone(),
            signatures,
        })
    }
}

/// Reads a payload batch and checks every entry against its description
/// (`fwsign sign-payload` over a batch): one entry that does not match
/// refuses the whole batch, so nothing in it is signed.
pub fn read_payload_batch(path: &Path) -> Result<CheckedBatch, RepoError> {
    let bytes = read_file(path)?;
    let batch: PayloadBatch = parse_versioned(path, &bytes, PAYLOAD_BATCH_FORMAT)?;
    check_roles(path, batch.entries.iter().map(|e| e.role.as_str()))?;
    for entry in &batch.entries {
        check_entry(path, entry)?;
    }
    Ok(CheckedBatch {
        path: path.to_path_buf(),
        batch,
        sha256: hex_sha256(&bytes),
    })
}

/// Reads a signature batch (its signatures are checked on import).
pub fn read_signature_batch(path: &Path) -> Result<SignatureBatch, RepoError> {
    let bytes = read_file(path)?;
    let batch: SignatureBatch = parse_versioned(path, &bytes, SIGNATURE_BATCH_FORMAT)?;
    check_roles(path, batch.signatures.iter().map(|s| s.role.as_str()))?;
    Ok(batch)
}

impl Repository {
    /// Writes one payload batch to `out` holding every staged role
    /// `pattern` matches (python-tuf's `fnmatch` rules, as `repo sign`
    /// takes them), each with its description and staged change.
    pub fn export_payload_batch(
        &self,
        pattern: &str,
        out: &Path,
    ) -> Result<ExportedBatch, RepoError> {
        let roles = matching_roles(&self.staged_roles()?, pattern);
        if roles.is_empty() {
            return Err(RepoError::NoRoleMatches(pattern.to_owned()));
        }
        // One operation: the published state is read once for every role.
        let op = self.operation();
        let mut entries = Vec::with_capacity(roles.len());
        for role in roles {
            let (payload, version) = self.payload(&role)?;
            let changes = self.staged_target_changes_in(&op, &role)?;
            let sha256 = hex_sha256(&payload);
            let payload = String::from_utf8(payload).map_err(|_| {
                RepoError::Invalid(format!("staged {role}: its canonical form is not UTF-8"))
            })?;
            entries.push(BatchEntry {
                role,
                version,
                sha256,
                changes,
                payload,
            });
        }
        let batch = PayloadBatch {
            format: PAYLOAD_BATCH_FORMAT.to_owned(),
            format_version: BATCH_FORMAT_VERSION,
            entries,
        };
        let bytes = to_file_bytes(&batch)?;
        write_atomic(out, &bytes, Mode::Public).map_err(io_err(out))?;
        Ok(ExportedBatch {
            batch_sha256: hex_sha256(&bytes),
            entries: batch
                .entries
                .into_iter()
                .map(|e| ExportedEntry {
                    info: e.info(),
                    changes: e.changes,
                })
                .collect(),
        })
    }

    /// Adds every signature of a signature batch made by `public`, all or
    /// nothing: each is verified over its role's staged payload (under the
    /// key table that authorises `public` for it) before any is added. One
    /// that does not verify (made over other content, or another role's
    /// payload replayed onto this entry) refuses the batch naming its role
    /// ([`RepoError::SignatureMismatch`]), records the refusal in the audit
    /// log as a single import does, and adds nothing. `pattern`, when
    /// given, must match every entry's role. `source` names the file in
    /// errors and the audit log.
    pub fn import_signature_batch(
        &self,
        public: &PublicKey,
        batch: &SignatureBatch,
        source: &Path,
        pattern: Option<&str>,
        now: UnixTime,
    ) -> Result<Vec<RoleApproval>, RepoError> {
        if batch.keyid != public.keyid() {
            return Err(bad_format(
                source,
                format!(
                    "holds signatures by key {}, not by the key given ({}); nothing imported",
                    batch.keyid,
                    public.keyid()
                ),
            ));
        }
        let op = self.operation();
        let mut checked: Vec<(&str, u64, Vec<String>, Vec<u8>)> = Vec::new();
        for entry in &batch.signatures {
            let role = entry.role.as_str();
            if let Some(p) = pattern
                && !path_matches(p, role)
            {
                return Err(bad_format(
                    source,
                    format!("entry {role} does not match --role {p:?}; nothing imported"),
                ));
            }
            let keyids = self.authorised_keyids(&op, role, public)?;
            let (payload, version) = self.payload(role)?;
            let signature = decode_signature(entry.sig.as_bytes(), public.algorithm())
                .map_err(|e| bad_format(source, format!("entry {role}: {e}")))?;
            if public.verify(&payload, &signature).is_err() {
                self.audit(
                    &AuditEvent {
                        action: "refuse".into(),
                        role: Some(role.to_owned()),
                        version: Some(version),
                        keyid: Some(public.keyid()),
                        approver: op.approver_name(role, &public.keyid())?,
                        detail: Some(format!(
                            "signature batch {}: its signature for {role} does not verify over the staged role; nothing in the batch imported",
                            source.display()
                        )),
                        ..AuditEvent::default()
                    },
                    now,
                )?;
                return Err(RepoError::SignatureMismatch {
                    role: role.to_owned(),
                    version,
                    keyid: public.keyid(),
                });
            }
            checked.push((role, version, keyids, signature));
        }
        let mut approvals = Vec::with_capacity(checked.len());
        for (role, version, keyids, signature) in &checked {
            self.put(role, keyids, signature)?;
            self.forget_dropped(role, keyids)?;
            self.audit(
                &AuditEvent {
                    action: "import-signature".into(),
                    role: Some((*role).to_owned()),
                    version: Some(*version),
                    keyid: Some(public.keyid()),
                    approver: op.approver_name(role, &public.keyid())?,
                    detail: Some(format!("from signature batch {}", source.display())),
                    ..AuditEvent::default()
                },
                now,
            )?;
            approvals.push(
                op.approval(role)?
                    .ok_or_else(|| RepoError::NotStaged((*role).to_owned()))?,
            );
        }
        Ok(approvals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(payload: &str, changes: TargetChanges) -> BatchEntry {
        BatchEntry {
            role: "bins-1".into(),
            version: 3,
            sha256: hex_sha256(payload.as_bytes()),
            changes,
            payload: payload.into(),
        }
    }

    const PAYLOAD: &str = r#"{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.34","targets":{"a.bin":{"hashes":{},"length":1}},"version":3}"#;

    #[test]
    fn a_single_payload_and_a_bare_signature_are_not_batches() {
        assert!(!is_payload_batch(PAYLOAD.as_bytes()));
        assert!(!is_signature_batch(b"3045022100ab\n"));
        let batch = PayloadBatch {
            format: PAYLOAD_BATCH_FORMAT.into(),
            format_version: 1,
            entries: vec![entry(PAYLOAD, TargetChanges::default())],
        };
        let bytes = to_file_bytes(&batch).unwrap();
        assert!(is_payload_batch(&bytes));
        assert!(!is_signature_batch(&bytes));
    }

    #[test]
    fn another_format_version_is_refused_by_name() {
        let text = br#"{"format": "fwsign-payload-batch", "format_version": 2, "entries": []}"#;
        let err = parse_versioned::<PayloadBatch>(Path::new("b"), text, PAYLOAD_BATCH_FORMAT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("format version 2"), "{err}");
        assert!(err.contains("newer fwsign"), "{err}");
        // A field version 1 does not define is refused, not ignored.
        let text =
            br#"{"format": "fwsign-payload-batch", "format_version": 1, "entries": [], "x": 1}"#;
        assert!(
            parse_versioned::<PayloadBatch>(Path::new("b"), text, PAYLOAD_BATCH_FORMAT).is_err()
        );
    }

    #[test]
    fn an_entry_must_match_its_description() {
        let batch = Path::new("b");
        let ok = TargetChanges {
            added: vec!["a.bin".into()],
            ..TargetChanges::default()
        };
        check_entry(batch, &entry(PAYLOAD, ok.clone())).unwrap();
        let mut wrong_hash = entry(PAYLOAD, ok.clone());
        wrong_hash.sha256 = hex_sha256(b"other");
        let mut wrong_version = entry(PAYLOAD, ok);
        wrong_version.version = 4;
        let not_listed = entry(
            PAYLOAD,
            TargetChanges {
                added: vec!["b.bin".into()],
                ..TargetChanges::default()
            },
        );
        let still_listed = entry(
            PAYLOAD,
            TargetChanges {
                removed: vec!["a.bin".into()],
                ..TargetChanges::default()
            },
        );
        let spaced = PAYLOAD.replace(',', ", ");
        let not_canonical = entry(&spaced, TargetChanges::default());
        for (bad, why) in [
            (wrong_hash, "SHA-256"),
            (wrong_version, "version 3, the description records 4"),
            (not_listed, "adds or changes b.bin"),
            (still_listed, "removes a.bin"),
            (not_canonical, "not canonical"),
        ] {
            let err = check_entry(batch, &bad).unwrap_err();
            assert_eq!(err.reason(), "payload-mismatch");
            assert!(err.to_string().contains(why), "{err}");
        }
    }
}
