//! Approving a staged release: signatures from approvers' keys, merged from
//! separate copies, or made on an air-gapped machine and imported.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_manifest_schema::metadata::{Key, Root, Signature, Signed, Targets};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::operation::Operation;
use super::staged_role::{StagedRead, StagedRole, ToSave};
use super::staging::parallel::beside;
use super::{RepoError, Repository, RoleApproval, StagedChanges, canonical_of, io_err, read_file};
use crate::audit::AuditEvent;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_keys::document::signing_payload;
use fwsign_keys::{Algorithm, KeyError, PublicKey, SignatureBytes, TufSigner};

/// The sidecar written next to an exported payload (`FILE.json`), so the
/// offline signer and the importer know what the bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadInfo {
    /// The role.
    pub role: String,
    /// The staged version.
    pub version: u64,
    /// Lowercase hex SHA-256 of the payload.
    pub sha256: String,
}

/// A signature over a staged role's payload, made without the repository
/// lock and not yet added ([`Repository::add_prepared`]).
#[derive(Debug, Clone)]
pub struct PreparedSignature {
    /// The role signed.
    pub role: String,
    /// Its staged version when signed.
    pub version: u64,
    /// SHA-256 of the payload signed.
    pub payload_sha256: [u8; 32],
    /// The signer's public key.
    pub public: PublicKey,
    /// The signature.
    pub signature: Vec<u8>,
}

/// What a merge did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeReport {
    /// Signatures added, as `(role, keyid)`.
    pub added: Vec<(String, String)>,
    /// Roles whose staged content differs between the copies (nothing
    /// merged for them).
    pub conflicts: Vec<String>,
}

/// The sidecar path for a payload file: `FILE.json`.
pub fn sidecar_path(payload: &Path) -> PathBuf {
    let mut name = payload.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Reads an exported payload and its sidecar, checking that they agree.
pub fn read_payload(payload: &Path) -> Result<(Vec<u8>, PayloadInfo), RepoError> {
    let bytes = read_file(payload)?;
    let sidecar = sidecar_path(payload);
    let info: PayloadInfo =
        serde_json::from_slice(&read_file(&sidecar)?).map_err(|e| RepoError::Metadata {
            path: sidecar.clone(),
            source: fwsign_manifest_schema::Error::Format(e.to_string()),
        })?;
    let digest = base16ct::lower::encode_string(&Sha256::digest(&bytes));
    if digest != info.sha256 {
        return Err(RepoError::PayloadMismatch {
            payload: payload.to_path_buf(),
            sidecar,
            found: digest,
            recorded: info.sha256,
        });
    }
    Ok((bytes, info))
}

/// Signs an exported payload offline (`fwsign sign-payload`).
pub fn sign_payload(
    payload: &Path,
    signer: &dyn TufSigner,
) -> Result<(PayloadInfo, SignatureBytes), RepoError> {
    let (bytes, info) = read_payload(payload)?;
    let sig = signer
        .try_sign(&bytes)
        .map_err(|source| RepoError::Document {
            context: format!("signing {}", payload.display()),
            source: fwsign_keys::document::DocumentError::Signing(source),
        })?;
    Ok((info, sig))
}

/// Reads a signature given as hex, base64 or raw bytes; for ECDSA a DER
/// signature or a 64-byte `r||s` (stored as DER, as TUF requires).
pub fn decode_signature(input: &[u8], algorithm: Algorithm) -> Result<Vec<u8>, RepoError> {
    let text = std::str::from_utf8(input).ok().map(str::trim);
    let bytes = match text {
        Some(t)
            if !t.is_empty() && t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            base16ct::mixed::decode_vec(t).map_err(|_| bad_sig("invalid hex"))?
        }
        Some(t)
            if !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) =>
        {
            use base64ct::{Base64, Encoding};
            Base64::decode_vec(t).map_err(|_| bad_sig("invalid base64"))?
        }
        _ => input.to_vec(),
    };
    match algorithm {
        Algorithm::Ed25519 if bytes.len() == 64 => Ok(bytes),
        Algorithm::Ed25519 => Err(bad_sig("an Ed25519 signature is 64 bytes")),
        Algorithm::EcdsaP256 if bytes.len() == 64 => {
            let sig = p256::ecdsa::Signature::from_slice(&bytes)
                .map_err(|_| bad_sig("not a valid r||s P-256 signature"))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        Algorithm::EcdsaP256 => {
            p256::ecdsa::Signature::from_der(&bytes)
                .map_err(|_| bad_sig("neither DER nor 64-byte r||s"))?;
            Ok(bytes)
        }
    }
}

fn bad_sig(why: &str) -> RepoError {
    RepoError::Invalid(format!("signature: {why}"))
}

/// The key IDs of `role` in a key table whose key is `public`.
fn keyids_for(
    keys: &BTreeMap<String, Key>,
    authorised: &[String],
    public: &PublicKey,
) -> Vec<String> {
    authorised
        .iter()
        .filter(|id| {
            keys.get(*id)
                .and_then(|k| PublicKey::from_tuf_key(k).ok())
                .is_some_and(|k| &k == public)
        })
        .cloned()
        .collect()
}

impl Repository {
    /// The key IDs under which `public` may sign staged `role` (the key
    /// table of its delegator; for a new root, the old and the new root).
    pub(crate) fn authorised_keyids(
        &self,
        op: &Operation<'_>,
        role: &str,
        public: &PublicKey,
    ) -> Result<Vec<String>, RepoError> {
        let mut ids = Vec::new();
        if role == "root" {
            let mut roots = Vec::new();
            if let Some(staged) = self.load_staged::<Root>("root")? {
                roots.push(Cow::Owned(staged));
            }
            if let Some(published) = op.published()? {
                roots.push(Cow::Borrowed(&published.root));
            }
            for root in roots {
                if let Some(r) = root.signed.roles.get("root") {
                    ids.extend(keyids_for(&root.signed.keys, &r.keyids, public));
                }
            }
        } else {
            match op.delegator_of(role)? {
                None => {
                    let root = op.current_root()?;
                    if let Some(r) = root.signed.roles.get(role) {
                        ids.extend(keyids_for(&root.signed.keys, &r.keyids, public));
                    }
                }
                Some(parent) => {
                    if let Some(doc) = op.current_targets(&parent)?
                        && let Some(d) = &doc.signed.delegations
                        && let Some(r) = d.roles.iter().find(|r| r.name == role)
                    {
                        ids.extend(keyids_for(&d.keys, &r.keyids, public));
                    }
                }
            }
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Err(RepoError::NotAuthorised {
                role: role.to_owned(),
                keyid: public.keyid(),
            });
        }
        Ok(ids)
    }

    /// The canonical bytes approvers sign for staged `role`, and its version.
    pub fn payload(&self, role: &str) -> Result<(Vec<u8>, u64), RepoError> {
        let staged = StagedRole::load(self, role)?;
        Ok((staged.payload(role)?, staged.version()))
    }

    /// Adds `signature` (already verified) to staged `role` under each of
    /// `keyids`.
    pub(crate) fn put(
        &self,
        role: &str,
        keyids: &[String],
        signature: &[u8],
    ) -> Result<(), RepoError> {
        let mut staged = StagedRole::load(self, role)?;
        staged.put(keyids, signature);
        staged.save(self, role)
    }

    pub(crate) fn forget_dropped(&self, role: &str, keyids: &[String]) -> Result<(), RepoError> {
        if let Some(mut record) = self.dropped_approvals(role)? {
            record.keyids.retain(|k| !keyids.contains(k));
            if record.keyids.is_empty() {
                self.clear_dropped(role)?;
            } else {
                let path = self.dropped_path(role);
                let bytes = serde_json::to_vec_pretty(&record).map_err(|e| {
                    RepoError::Invalid(format!("cannot serialise dropped approvals: {e}"))
                })?;
                write_atomic(&path, &bytes, Mode::Public).map_err(io_err(&path))?;
            }
        }
        Ok(())
    }

    /// One approver signs staged `role`: [`Repository::prepare_signature`]
    /// then [`Repository::add_prepared`], for a caller that holds the
    /// repository lock throughout.
    pub fn sign(
        &self,
        role: &str,
        signer: &dyn TufSigner,
        now: UnixTime,
    ) -> Result<RoleApproval, RepoError> {
        // Both halves with nothing to wait for in between: the published
        // state and the staged role are read once.
        self.sign_under_lock::<(), RepoError>(role, signer, now, || Ok(()))
            .map(|(approval, ())| approval)
    }

    /// The slow half of signing, which needs no lock: reads staged `role`'s
    /// payload and signs it (a passphrase, a PIN, a touch on a token).
    pub fn prepare_signature(
        &self,
        role: &str,
        signer: &dyn TufSigner,
    ) -> Result<PreparedSignature, RepoError> {
        self.prepare_in(&self.operation(), role, signer)
    }

    /// Signs staged `role` in the two halves of
    /// [`Repository::prepare_signature`] and [`Repository::add_prepared`]:
    /// the slow one (passphrase, PIN, touch) without the lock, then `lock`
    /// is called and the signature added under the lock it returns, which
    /// is handed back. The published state and the staged role read for the
    /// first half are used again for the second when neither changed in
    /// between (each is checked), as they are at 10^5 targets a third of a
    /// signature each.
    pub fn sign_under_lock<L, E: From<RepoError>>(
        &self,
        role: &str,
        signer: &dyn TufSigner,
        now: UnixTime,
        lock: impl FnOnce() -> Result<L, E>,
    ) -> Result<(RoleApproval, L), E> {
        let op = self.operation();
        // The staged role is read (parsed, its payload made) on another
        // thread while this one reads the published state for the key
        // check: independent, and at 10^5 targets each a third of a
        // signature. The key is still checked before anything is signed.
        let (authorised, read) = beside(
            || StagedRead::load(self, role),
            || self.authorised_keyids(&op, role, signer.public_key()),
        );
        authorised?;
        let read = read?;
        let prepared = self.sign_payload(role, &read.payload, read.staged.version(), signer)?;
        let guard = lock()?;
        let op = op.refreshed()?;
        let read = read.refreshed(self, role)?;
        let approval = self.add_prepared_to(&op, &prepared, read, now)?;
        Ok((approval, guard))
    }

    /// [`Repository::sign_under_lock`] for several staged roles (`repo sign
    /// --role 'bins-*'`): `changes` is shown what each role's staged change
    /// lists before anything is signed, every role is signed without the
    /// lock, then every signature is added under it and handed to `added`.
    /// One read of the published state and of each staged role serves the
    /// report and both halves, when nothing changed meanwhile.
    pub fn sign_all_under_lock<L, E: From<RepoError>>(
        &self,
        roles: &[String],
        signer: &dyn TufSigner,
        now: UnixTime,
        changes: &mut dyn FnMut(&str, &crate::bins::TargetChanges),
        lock: impl FnOnce() -> Result<L, E>,
        added: &mut dyn FnMut(RoleApproval),
    ) -> Result<L, E> {
        let op = self.operation();
        // Each staged role is read once, for its report and its signature:
        // read and parsed on every core (1,024 bins), reported in order.
        let reads = crate::staging::parallel::map_parallel(
            roles,
            || (),
            |(), role, _| StagedRead::load(self, role),
            &mut |_| {},
        )?;
        for (role, read) in roles.iter().zip(&reads) {
            let report = match &read.staged {
                StagedRole::Targets(doc) => crate::bins::target_changes(&op, role, doc)?,
                StagedRole::Root(_) => crate::bins::TargetChanges::default(),
            };
            changes(role, &report);
        }
        let mut prepared = Vec::with_capacity(roles.len());
        for (role, read) in roles.iter().zip(reads) {
            self.authorised_keyids(&op, role, signer.public_key())?;
            let signature =
                self.sign_payload(role, &read.payload, read.staged.version(), signer)?;
            prepared.push((signature, read));
        }
        let guard = lock()?;
        let op = op.refreshed()?;
        let mut current = Vec::with_capacity(prepared.len());
        for (signature, read) in prepared {
            let read = read.refreshed(self, &signature.role)?;
            current.push((signature, read));
        }
        for approval in self.add_all_prepared_to(&op, current, now)? {
            added(approval);
        }
        Ok(guard)
    }

    fn prepare_in(
        &self,
        op: &Operation<'_>,
        role: &str,
        signer: &dyn TufSigner,
    ) -> Result<PreparedSignature, RepoError> {
        // Checked first, so an unauthorised key costs no PIN or touch.
        self.authorised_keyids(op, role, signer.public_key())?;
        let (payload, version) = self.payload(role)?;
        self.sign_payload(role, &payload, version, signer)
    }

    /// The slow half: `signer` signs the payload of staged `role` v`version`.
    fn sign_payload(
        &self,
        role: &str,
        payload: &[u8],
        version: u64,
        signer: &dyn TufSigner,
    ) -> Result<PreparedSignature, RepoError> {
        let sig = signer
            .try_sign(payload)
            .map_err(|source| RepoError::Document {
                context: format!("signing staged {role}"),
                source: fwsign_keys::document::DocumentError::Signing(source),
            })?;
        Ok(PreparedSignature {
            role: role.to_owned(),
            version,
            payload_sha256: Sha256::digest(payload).into(),
            public: signer.public_key().clone(),
            signature: sig.0,
        })
    }

    /// The quick half of signing, under the repository's exclusive lock:
    /// checks that staged `role` still has the bytes that were signed
    /// (another command may have changed it meanwhile; then
    /// [`RepoError::RoleChanged`]: sign again), merges the signature into
    /// the staged role as it is now, and records it in the audit log.
    pub fn add_prepared(
        &self,
        prepared: &PreparedSignature,
        now: UnixTime,
    ) -> Result<RoleApproval, RepoError> {
        self.add_prepared_in(&self.operation(), prepared, now)
    }

    fn add_prepared_in(
        &self,
        op: &Operation<'_>,
        prepared: &PreparedSignature,
        now: UnixTime,
    ) -> Result<RoleApproval, RepoError> {
        // One read of the staged role for the check, the write and the report.
        let read = StagedRead::load(self, &prepared.role)?;
        self.add_prepared_to(op, prepared, read, now)
    }

    /// [`Repository::add_prepared`] to the staged role `read` as it is now.
    fn add_prepared_to(
        &self,
        op: &Operation<'_>,
        prepared: &PreparedSignature,
        read: StagedRead,
        now: UnixTime,
    ) -> Result<RoleApproval, RepoError> {
        let mut approvals = self.add_all_prepared_to(op, vec![(prepared.clone(), read)], now)?;
        approvals
            .pop()
            .ok_or_else(|| RepoError::Invalid(format!("{}: nothing was signed", prepared.role)))
    }

    /// [`Repository::add_prepared_to`] for several roles (each signature
    /// over its staged role as read): every signature is checked before anything is
    /// written, the roles are saved durable together and their audit lines
    /// appended together (`repo sign --role 'bins-*'` over 1,024 bins made
    /// three `fsync` calls a bin), roles first, so a crash never leaves a
    /// line for a signature that is not there.
    fn add_all_prepared_to(
        &self,
        op: &Operation<'_>,
        items: Vec<(PreparedSignature, StagedRead)>,
        now: UnixTime,
    ) -> Result<Vec<RoleApproval>, RepoError> {
        let mut signed = Vec::with_capacity(items.len());
        let mut events = Vec::with_capacity(items.len());
        for (prepared, read) in items {
            let role = prepared.role.as_str();
            let keyids = self.authorised_keyids(op, role, &prepared.public)?;
            let StagedRead {
                mut staged,
                payload,
                ..
            } = read;
            let version = staged.version();
            let same: [u8; 32] = Sha256::digest(&payload).into();
            if same != prepared.payload_sha256 {
                return Err(RepoError::RoleChanged {
                    role: role.to_owned(),
                    signed_version: prepared.version,
                    staged_version: version,
                });
            }
            staged.put(&keyids, &prepared.signature);
            events.push(AuditEvent {
                action: "sign".into(),
                role: Some(role.to_owned()),
                version: Some(version),
                keyid: Some(prepared.public.keyid()),
                approver: op.approver_name(role, &prepared.public.keyid())?,
                ..AuditEvent::default()
            });
            signed.push((prepared.role, staged, keyids, payload));
        }
        // The signature changes nothing that was signed: each role is
        // written around its payload, and its approvals are checked on the
        // bytes written, without serialising the role again for either.
        let docs: Vec<ToSave<'_>> = signed
            .iter()
            .map(|(role, doc, _, payload)| ToSave {
                role,
                doc,
                payload: Some(payload),
            })
            .collect();
        let written = StagedRole::save_all_written(self, &docs)?;
        for (role, _, keyids, _) in &signed {
            self.forget_dropped(role, keyids)?;
        }
        self.audit_all(&events, now)?;
        let staged: Vec<(&str, &StagedRole, Option<&[u8]>)> = signed
            .iter()
            .zip(&written)
            .map(|((r, s, _, _), bytes)| (r.as_str(), s, Some(bytes.as_slice())))
            .collect();
        op.approvals_of_written(&staged)
    }

    /// Writes the bytes to sign for `role` to `out`, and the sidecar
    /// `out.json` naming role, version and SHA-256.
    pub fn export_payload(&self, role: &str, out: &Path) -> Result<PayloadInfo, RepoError> {
        let (payload, version) = self.payload(role)?;
        let info = PayloadInfo {
            role: role.to_owned(),
            version,
            sha256: base16ct::lower::encode_string(&Sha256::digest(&payload)),
        };
        write_atomic(out, &payload, Mode::Public).map_err(io_err(out))?;
        let sidecar = sidecar_path(out);
        let json = serde_json::to_vec_pretty(&info)
            .map_err(|e| RepoError::Invalid(format!("cannot serialise the sidecar: {e}")))?;
        write_atomic(&sidecar, &json, Mode::Public).map_err(io_err(&sidecar))?;
        Ok(info)
    }

    /// Adds a signature made elsewhere by `public`, after verifying it over
    /// the staged role (a signature over another version is refused).
    pub fn import_signature(
        &self,
        role: &str,
        public: &PublicKey,
        signature: &[u8],
        now: UnixTime,
    ) -> Result<RoleApproval, RepoError> {
        let op = self.operation();
        let keyids = self.authorised_keyids(&op, role, public)?;
        let mut staged = StagedRole::load(self, role)?;
        let version = staged.version();
        if public.verify(&staged.payload(role)?, signature).is_err() {
            self.audit(
                &AuditEvent {
                    action: "refuse".into(),
                    role: Some(role.to_owned()),
                    version: Some(version),
                    keyid: Some(public.keyid()),
                    approver: op.approver_name(role, &public.keyid())?,
                    detail: Some("imported signature does not verify over the staged role".into()),
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
        staged.put(&keyids, signature);
        staged.save(self, role)?;
        self.forget_dropped(role, &keyids)?;
        self.audit(
            &AuditEvent {
                action: "import-signature".into(),
                role: Some(role.to_owned()),
                version: Some(version),
                keyid: Some(public.keyid()),
                approver: op.approver_name(role, &public.keyid())?,
                ..AuditEvent::default()
            },
            now,
        )?;
        op.approval_of(role, &staged)
    }

    /// Merges the signatures of another copy of this repository's staged
    /// files (an approver's copy passed around or through git). Only
    /// signatures over identical staged content are taken, and each is
    /// verified before it is added.
    pub fn merge_signatures(&self, other: &Path, now: UnixTime) -> Result<MergeReport, RepoError> {
        let other_repo = Repository {
            dir: other.to_path_buf(),
            config: self.config.clone(),
            staged_changes: StagedChanges::default(),
            audit_tail: crate::audit::TailMemo::default(),
        };
        let op = self.operation();
        let mut report = MergeReport::default();
        for role in self.staged_roles()? {
            let (ours, _) = self.payload(&role)?;
            let theirs_sigs: Vec<Signature> = if role == "root" {
                match other_repo.load_staged::<Root>("root")? {
                    None => continue,
                    Some(doc) => {
                        if canonical_of(
                            "root",
                            &Signed {
                                signatures: vec![],
                                ..doc.clone()
                            },
                        )?
                        .as_bytes()
                            != canonical_of(
                                "root",
                                &Signed {
                                    signatures: vec![],
                                    ..self
                                        .load_staged::<Root>("root")?
                                        .ok_or_else(|| RepoError::Invalid("root vanished".into()))?
                                },
                            )?
                            .as_bytes()
                        {
                            report.conflicts.push(role.clone());
                            continue;
                        }
                        doc.signatures
                    }
                }
            } else {
                match other_repo.load_staged::<Targets>(&role)? {
                    None => continue,
                    Some(doc) => {
                        let theirs =
                            signing_payload(&doc.signed).map_err(|source| RepoError::Document {
                                context: format!("{}: staged {role}", other.display()),
                                source,
                            })?;
                        if theirs != ours {
                            report.conflicts.push(role.clone());
                            continue;
                        }
                        doc.signatures
                    }
                }
            };
            for sig in theirs_sigs {
                let Ok(bytes) = base16ct::mixed::decode_vec(&sig.sig) else {
                    continue;
                };
                // Look the key up in this copy's key tables: the other copy's
                // claims about keys are not trusted.
                let Some(public) = self.key_for(&op, &role, &sig.keyid)? else {
                    continue;
                };
                if public.verify(&ours, &bytes).is_err() {
                    continue;
                }
                let already = if role == "root" {
                    self.load_staged::<Root>("root")?
                        .is_some_and(|d| d.signatures.iter().any(|s| s.keyid == sig.keyid))
                } else {
                    self.load_staged::<Targets>(&role)?
                        .is_some_and(|d| d.signatures.iter().any(|s| s.keyid == sig.keyid))
                };
                if already {
                    continue;
                }
                self.put(&role, std::slice::from_ref(&sig.keyid), &bytes)?;
                self.forget_dropped(&role, std::slice::from_ref(&sig.keyid))?;
                report.added.push((role.clone(), sig.keyid.clone()));
            }
        }
        let other_head = other_repo
            .audit_log()
            .head()
            .ok()
            .flatten()
            .map(|h| h.sha256)
            .unwrap_or_else(|| "none".into());
        self.audit(
            &AuditEvent {
                action: "merge-signatures".into(),
                detail: Some(format!(
                    "from {} (audit head {other_head}): {} signature(s) added{}",
                    other.display(),
                    report.added.len(),
                    if report.conflicts.is_empty() {
                        String::new()
                    } else {
                        format!("; content differs for {}", report.conflicts.join(", "))
                    }
                )),
                ..AuditEvent::default()
            },
            now,
        )?;
        Ok(report)
    }

    /// The public key listed under `keyid` by the delegator(s) of `role`.
    fn key_for(
        &self,
        op: &Operation<'_>,
        role: &str,
        keyid: &str,
    ) -> Result<Option<PublicKey>, RepoError> {
        let tables: Vec<BTreeMap<String, Key>> = if role == "root" {
            let mut t = Vec::new();
            if let Some(s) = self.load_staged::<Root>("root")? {
                t.push(s.signed.keys);
            }
            if let Some(p) = op.published()? {
                t.push(p.root.signed.keys.clone());
            }
            t
        } else {
            match op.delegator_of(role)? {
                None => vec![op.current_root()?.into_owned().signed.keys],
                Some(parent) => op
                    .current_targets(&parent)?
                    .and_then(|d| d.into_owned().signed.delegations)
                    .map(|d| vec![d.keys])
                    .unwrap_or_default(),
            }
        };
        for table in tables {
            if let Some(key) = table.get(keyid) {
                return PublicKey::from_tuf_key(key)
                    .map(Some)
                    .map_err(|source: KeyError| RepoError::Key {
                        context: format!("key {keyid}"),
                        source,
                    });
            }
        }
        Ok(None)
    }
}
