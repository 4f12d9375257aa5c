//! The backup blob: the private key sealed with AES-256-GCM under the
//! set's wrap key, with the set's description and Feldman commitments.
//!
//! JSON, so an operator can read what a blob is for (`set_id`, `keyid`,
//! `threshold`, `shares`) without any secret. The associated data binds
//! the ciphertext to the set ID, K, N, the key ID and the commitments: a
//! blob edited to claim another set, threshold or key does not decrypt.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64ct::{Base64, Encoding as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::vss::{POINT_LEN, WrapKey};
use super::{BackupError, SET_ID_LEN, SetInfo};

const BLOB_TYPE: &str = "fwsign-key-backup";
const BLOB_VERSION: u32 = 1;
const SHARING: &str = "feldman-vss-p256";
const CIPHER: &str = "aes-256-gcm";
const NONCE_LEN: usize = 12;
const COMMITMENTS_LABEL: &[u8] = b"fwsign key backup: commitments v1\0";
const AAD_LABEL: &[u8] = b"fwsign key backup: sealed key v1\0";

/// The blob's JSON form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlobJson {
    #[serde(rename = "type")]
    type_: String,
    version: u32,
    set_id: String,
    threshold: u8,
    shares: u8,
    keyid: String,
    sharing: String,
    commitments: Vec<String>,
    commitments_sha256: String,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

/// A backup blob: a key sealed under a set's wrap key.
#[derive(Clone)]
pub struct Blob {
    pub(super) set: SetInfo,
    pub(super) commitments: Vec<[u8; POINT_LEN]>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
    /// The file it was read from, for messages.
    pub(super) source: Option<PathBuf>,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("set_id", &self.set.set_id_hex())
            .field("threshold", &self.set.threshold)
            .field("shares", &self.set.shares)
            .field("keyid", &self.set.keyid)
            .finish_non_exhaustive()
    }
}

/// SHA-256 over the set's description and its commitments: what each
/// share carries, so a share checks the blob's commitments are its set's.
pub(super) fn commitments_digest(
    set_id: &[u8; SET_ID_LEN],
    threshold: u8,
    shares: u8,
    keyid: &str,
    commitments: &[[u8; POINT_LEN]],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(COMMITMENTS_LABEL);
    hasher.update(set_id);
    hasher.update([threshold, shares]);
    hasher.update(keyid.as_bytes());
    for c in commitments {
        hasher.update(c);
    }
    hasher.finalize().into()
}

/// The AEAD associated data: the set ID, K, N, the key ID and the
/// commitments' digest, each fixed-length or length-prefixed.
fn associated_data(set: &SetInfo) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 128);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(&set.set_id);
    aad.extend_from_slice(&[set.threshold, set.shares]);
    aad.extend_from_slice(
        &u16::try_from(set.keyid.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    aad.extend_from_slice(set.keyid.as_bytes());
    aad.extend_from_slice(&set.commitments_sha256);
    aad
}

impl Blob {
    /// Seals `plaintext` (a PKCS#8 key) under `wrap`.
    pub(super) fn seal(
        set: SetInfo,
        commitments: Vec<[u8; POINT_LEN]>,
        wrap: &WrapKey,
        plaintext: &[u8],
    ) -> Result<Self, BackupError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| BackupError::Rng(e.to_string()))?;
        let key = wrap.aes_key();
        let cipher = Aes256Gcm::new(&(*key).into());
        let aad = associated_data(&set);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| BackupError::Sharing("AES-256-GCM refused to encrypt".to_owned()))?;
        Ok(Self {
            set,
            commitments,
            nonce,
            ciphertext,
            source: None,
        })
    }

    /// Opens the sealed key with `wrap`: the plaintext, wiped when dropped.
    pub(super) fn open(&self, wrap: &WrapKey) -> Result<Zeroizing<Vec<u8>>, BackupError> {
        let key = wrap.aes_key();
        let cipher = Aes256Gcm::new(&(*key).into());
        let aad = associated_data(&self.set);
        cipher
            .decrypt(
                &Nonce::from(self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| BackupError::BlobDecrypt {
                path: self.source_path(),
            })
    }

    pub(super) fn source_path(&self) -> PathBuf {
        self.source
            .clone()
            .unwrap_or_else(|| PathBuf::from("(backup blob)"))
    }

    /// The set ID, as 32 hex digits.
    pub fn set_id(&self) -> String {
        self.set.set_id_hex()
    }

    /// How many shares restore the key (K).
    pub fn threshold(&self) -> u8 {
        self.set.threshold
    }

    /// How many shares were dealt (N).
    pub fn shares(&self) -> u8 {
        self.set.shares
    }

    /// The TUF key ID of the key the blob holds.
    pub fn keyid(&self) -> &str {
        &self.set.keyid
    }

    /// The SHA-256 of the commitments that every share of the set carries.
    pub fn commitments_sha256(&self) -> String {
        base16ct::lower::encode_string(&self.set.commitments_sha256)
    }

    /// The blob as JSON text (ends with a newline).
    pub fn to_json(&self) -> String {
        let json = BlobJson {
            type_: BLOB_TYPE.to_owned(),
            version: BLOB_VERSION,
            set_id: self.set.set_id_hex(),
            threshold: self.set.threshold,
            shares: self.set.shares,
            keyid: self.set.keyid.clone(),
            sharing: SHARING.to_owned(),
            commitments: self
                .commitments
                .iter()
                .map(|c| base16ct::lower::encode_string(c))
                .collect(),
            commitments_sha256: self.commitments_sha256(),
            cipher: CIPHER.to_owned(),
            nonce: base16ct::lower::encode_string(&self.nonce),
            ciphertext: Base64::encode_string(&self.ciphertext),
        };
        let mut text =
            serde_json::to_string_pretty(&json).expect("a blob of strings and numbers serialises");
        text.push('\n');
        text
    }

    /// Reads a blob; errors name `path`.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, BackupError> {
        let bad = |problem: String| BackupError::BlobSyntax {
            path: path.to_path_buf(),
            problem,
        };
        let json: BlobJson = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if json.type_ != BLOB_TYPE || json.version != BLOB_VERSION {
            return Err(bad(format!(
                "type {:?} version {} (expected {BLOB_TYPE:?} version {BLOB_VERSION})",
                json.type_, json.version
            )));
        }
        if json.sharing != SHARING || json.cipher != CIPHER {
            return Err(bad(format!(
                "sharing {:?} with cipher {:?} (expected {SHARING:?} with {CIPHER:?})",
                json.sharing, json.cipher
            )));
        }
        let set_id: [u8; SET_ID_LEN] =
            hex_exact(&json.set_id).ok_or_else(|| bad("set_id is not 32 hex digits".into()))?;
        let threshold = json.threshold;
        let shares = json.shares;
        if threshold < 2 || threshold > shares {
            return Err(bad(format!(
                "threshold {threshold} of {shares} shares (need 2 <= K <= N)"
            )));
        }
        let keyid_bytes: [u8; 32] =
            hex_exact(&json.keyid).ok_or_else(|| bad("keyid is not 64 hex digits".into()))?;
        let keyid = base16ct::lower::encode_string(&keyid_bytes);
        if json.commitments.len() != usize::from(threshold) {
            return Err(bad(format!(
                "{} commitments for threshold {threshold}",
                json.commitments.len()
            )));
        }
        let commitments = json
            .commitments
            .iter()
            .map(|c| hex_exact::<POINT_LEN>(c))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("a commitment is not 66 hex digits".into()))?;
        let recorded: [u8; 32] = hex_exact(&json.commitments_sha256)
            .ok_or_else(|| bad("commitments_sha256 is not 64 hex digits".into()))?;
        let commitments_sha256 =
            commitments_digest(&set_id, threshold, shares, &keyid, &commitments);
        if recorded != commitments_sha256 {
            return Err(BackupError::BlobCommitments {
                path: path.to_path_buf(),
            });
        }
        let nonce: [u8; NONCE_LEN] =
            hex_exact(&json.nonce).ok_or_else(|| bad("nonce is not 24 hex digits".into()))?;
        let ciphertext = Base64::decode_vec(&json.ciphertext)
            .map_err(|_| bad("ciphertext is not base64".into()))?;
        Ok(Self {
            set: SetInfo {
                set_id,
                threshold,
                shares,
                keyid,
                commitments_sha256,
            },
            commitments,
            nonce,
            ciphertext,
            source: Some(path.to_path_buf()),
        })
    }
}

/// Hex (either case) of exactly `N` bytes.
fn hex_exact<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    base16ct::mixed::decode(hex, &mut out).ok()?;
    Some(out)
}
