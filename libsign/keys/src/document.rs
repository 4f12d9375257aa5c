//! The host's way into the verification core, and signing.
//!
//! Metadata from other tools is valid JSON but rarely canonical, so the host
//! reads it with the strict parser, writes it canonically once, and hands the
//! canonical bytes to [`fwsign_core::verify`], the same code the device runs, with
//! working memory sized to the document. Signing goes through
//! [`TufSigner`], which file keys and HSM keys both implement.

use fwsign_manifest_schema::canonical::{CanonicalForm, canonicalize_checked, to_canonical_bytes};
use fwsign_manifest_schema::metadata::{Signature, Signed};
use fwsign_manifest_schema::reader::Kind;
use serde::Serialize;

use crate::TufSigner;
use fwsign_core::key_types::{KeyIdentity, KeyType};
use fwsign_core::verify::{
    Envelope, RoleKeys, ThresholdReport, ThresholdWork, VerifyError, verify_threshold,
};

/// Why a document could not be read, verified or signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The document is not valid TUF metadata JSON.
    #[error(transparent)]
    Format(#[from] fwsign_manifest_schema::Error),
    /// The verification core refused the document.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The signer failed (a key file or an HSM).
    #[error("signing failed: {0}")]
    Signing(#[source] signature::Error),
    /// A signature made elsewhere does not verify over this document with
    /// the key it claims.
    #[error("the signature by key {keyid} does not verify over this document")]
    SignatureInvalid {
        /// The key it claims to be from.
        keyid: String,
    },
}

/// A metadata document as canonical bytes.
#[derive(Debug, Clone)]
pub struct CanonicalDocument {
    form: CanonicalForm,
}

/// Documents are equal when their canonical bytes are, however each was
/// made.
impl PartialEq for CanonicalDocument {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CanonicalDocument {}

impl CanonicalDocument {
    /// Reads JSON as any TUF tool writes it and makes it canonical.
    /// fwsign's own files (canonical but for escaped control characters)
    /// take [`canonicalize`]'s fast path, without a JSON tree.
    pub fn from_json(text: &[u8]) -> Result<Self, DocumentError> {
        Ok(Self {
            form: canonicalize_checked(text)?,
        })
    }

    /// The canonical form of a typed document.
    pub fn from_signed<T: Serialize>(doc: &Signed<T>) -> Result<Self, DocumentError> {
        let bytes = to_canonical_bytes(doc).map_err(fwsign_manifest_schema::Error::from)?;
        Ok(Self {
            form: CanonicalForm::Written(bytes),
        })
    }

    /// The canonical bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.form.as_bytes()
    }

    /// The bytes as the reader validated them, when they were read from
    /// text that was canonical already (the typed parse of a checked role
    /// then need not check again what validation holds).
    pub fn validated(&self) -> Option<&fwsign_manifest_schema::canonical::CanonicalBuf> {
        match &self.form {
            CanonicalForm::Checked(buf) => Some(buf),
            CanonicalForm::Written(_) => None,
        }
    }

    /// The envelope, for the verification core. A document read from text
    /// that was canonical already was validated by the core's reader then,
    /// and is not walked again (the host asks for the envelope of one
    /// document several times).
    pub fn envelope(&self) -> Result<Envelope<'_>, VerifyError> {
        match &self.form {
            CanonicalForm::Checked(buf) => Envelope::from_root(buf.json()),
            CanonicalForm::Written(bytes) => Envelope::parse(bytes),
        }
    }
}

/// Who signed a role and who still may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// The role checked.
    pub role: String,
    /// Its threshold.
    pub threshold: u64,
    /// Valid signatures from distinct authorised keys.
    pub valid: usize,
    /// Key IDs whose signature counted.
    pub signed_by: Vec<String>,
    /// Authorised key IDs that have not (validly) signed.
    pub may_still_sign: Vec<String>,
}

impl SignatureReport {
    /// The count and threshold, as the core reports them.
    fn counts(&self) -> ThresholdReport {
        ThresholdReport {
            valid: self.valid,
            threshold: self.threshold,
        }
    }

    /// Whether the threshold is met.
    pub fn is_met(&self) -> bool {
        self.counts().is_met()
    }

    /// `Ok` when the threshold is met.
    pub fn require(self) -> Result<Self, DocumentError> {
        self.counts().require()?;
        Ok(self)
    }
}

/// Checks `doc` against the keys and threshold `delegator` gives `role`.
///
/// `delegator` is a root (for `root`, `targets`, `snapshot`, `timestamp`) or
/// a targets role (for a role it delegates to). This reports; it decides
/// "met" or "not met" but leaves acting on it to the caller
/// ([`SignatureReport::require`]).
pub fn verify_role(
    delegator: &CanonicalDocument,
    role: &str,
    doc: &CanonicalDocument,
    key_types: &[&dyn KeyType],
) -> Result<SignatureReport, DocumentError> {
    let delegator = delegator.envelope()?;
    let envelope = doc.envelope()?;
    let signed = delegator.signed();
    let (keys, role_keys) = match signed.get("_type").and_then(|t| t.as_str()) {
        Some(t) if t.eq_str("root") => {
            let view = fwsign_core::verify::RootView::new(delegator)?;
            (view.keys(), view.role(role)?)
        }
        Some(t) if t.eq_str("targets") => {
            let view = fwsign_core::verify::TargetsView::new(delegator)?;
            let delegated = view.delegated_role(role).ok_or(VerifyError::UnknownRole)?;
            let keys = view
                .delegation_keys()
                .filter(|k| k.kind() == Kind::Object)
                .ok_or(VerifyError::Malformed("delegations keys must be an object"))?;
            (keys, delegated.keys()?)
        }
        _ => {
            return Err(VerifyError::Malformed("a delegator is a root or a targets role").into());
        }
    };
    report(&envelope, keys, &role_keys, role, key_types)
}

fn report(
    envelope: &Envelope<'_>,
    keys: fwsign_manifest_schema::reader::Json<'_>,
    role_keys: &RoleKeys<'_>,
    role: &str,
    key_types: &[&dyn KeyType],
) -> Result<SignatureReport, DocumentError> {
    let n = role_keys.keyid_count();
    let mut counted = vec![KeyIdentity::default(); n];
    let mut signed = vec![false; n];
    let outcome = verify_threshold(
        envelope,
        keys,
        role_keys,
        key_types,
        &mut ThresholdWork {
            counted: &mut counted,
            signed: &mut signed,
        },
    )?;
    let mut signed_by = Vec::new();
    let mut may_still_sign = Vec::new();
    for (keyid, did_sign) in role_keys.keyids.items().zip(signed) {
        let Some(keyid) = keyid.as_str() else {
            continue;
        };
        let keyid = String::from_utf8_lossy(&keyid.bytes().collect::<Vec<u8>>()).into_owned();
        if did_sign {
            signed_by.push(keyid);
        } else if !may_still_sign.contains(&keyid) {
            may_still_sign.push(keyid);
        }
    }
    Ok(SignatureReport {
        role: role.to_owned(),
        threshold: outcome.threshold,
        valid: outcome.valid,
        signed_by,
        may_still_sign,
    })
}

/// The exact bytes a signer signs for `signed`: its canonical JSON. For
/// detached signing, these are what goes to the air-gapped machine.
pub fn signing_payload<T: Serialize>(signed: &T) -> Result<Vec<u8>, DocumentError> {
    Ok(to_canonical_bytes(signed).map_err(fwsign_manifest_schema::Error::from)?)
}

/// Signs `doc` with `signer`, replacing an earlier signature by the same key.
pub fn sign<T: Serialize>(
    doc: &mut Signed<T>,
    signer: &dyn TufSigner,
) -> Result<(), DocumentError> {
    let payload = signing_payload(&doc.signed)?;
    let sig = signer.try_sign(&payload).map_err(DocumentError::Signing)?;
    let keyid = signer.keyid();
    put_signature(doc, keyid, &sig.0);
    Ok(())
}

/// Puts `sig` (raw bytes) in `doc` under `keyid`, replacing what that key
/// ID had, signatures kept in key ID order.
pub fn put_signature<T>(doc: &mut Signed<T>, keyid: String, sig: &[u8]) {
    let hex = base16ct::lower::encode_string(sig);
    doc.signatures.retain(|s| s.keyid != keyid);
    doc.signatures.push(Signature {
        keyid,
        sig: hex,
        unknown: Default::default(),
    });
    // A stable order keeps re-signed files diffable and byte-reproducible.
    doc.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document read from canonical text keeps the reader's check and is
    /// not validated again; read from other text it is written canonically.
    /// Either way it is the same document with the same envelope, and text
    /// that is not JSON is refused.
    #[test]
    fn canonical_and_rewritten_text_give_the_same_document() {
        let canonical = br#"{"signatures":[],"signed":{"_type":"targets","version":1}}"#;
        let indented =
            b"{\n  \"signed\": {\"version\": 1, \"_type\": \"targets\"},\n  \"signatures\": []\n}";
        let checked = CanonicalDocument::from_json(canonical).unwrap();
        let written = CanonicalDocument::from_json(indented).unwrap();
        assert!(matches!(checked.form, CanonicalForm::Checked(_)));
        assert!(matches!(written.form, CanonicalForm::Written(_)));
        assert_eq!(checked, written);
        assert_eq!(checked.as_bytes(), canonical);
        assert_eq!(
            checked.envelope().unwrap().signed_bytes(),
            written.envelope().unwrap().signed_bytes()
        );
        assert!(CanonicalDocument::from_json(b"{\"signed\":").is_err());
    }
}
