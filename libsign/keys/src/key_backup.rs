//! Key backup by K of N custodians: no single custodian, and no single
//! disk, can recover the key alone.
//!
//! [`backup`] seals a file key (PKCS#8) with AES-256-GCM under a fresh
//! random wrap key and splits only the wrap key, with Feldman verifiable
//! secret sharing (`vsss-rs`) over P-256's scalar field, into N shares of
//! which any K recover it. The [`Blob`] holds the sealed key and the
//! Feldman commitments; each [`Share`] is hand-copyable text carrying the
//! set ID, its index, K, N, the key ID and the SHA-256 of the commitments.
//! [`restore`] takes K or more shares and the blob, checks each share
//! against the commitments, interpolates the wrap key and opens the blob;
//! [`reshare`] does the same and deals a new set under a new wrap key.
//!
//! The scheme and the choice of crates are explained in
//! `docs/key-ceremony.md`. Nothing here prints, prompts or touches files:
//! the CLI reads and writes them, each share to its own medium.

mod blob;
mod share_text;
#[cfg(test)]
mod tests;
mod vss;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use blob::Blob;

use crate::{KeyError, PrivateKey};
use vss::{Commitments, RawShare, SCALAR_LEN, VssFailure, WrapKey};

/// Bytes of a set ID.
const SET_ID_LEN: usize = 16;

/// The most shares a set can have: share indices are one byte, which keeps
/// the `share I of N need K` line short and is far beyond any ceremony.
pub const MAX_SHARES: u8 = 255;

/// Why a backup, restore or reshare was refused or failed.
///
/// No variant carries share values or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// K and N do not make a sharing: K below 2 (one custodian would hold
    /// the key alone), K above N, or N above [`MAX_SHARES`].
    #[error("cannot split into {shares} shares with threshold {threshold}: {reason}")]
    InvalidThreshold {
        /// The requested K.
        threshold: usize,
        /// The requested N.
        shares: usize,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A share file is not laid out as a share: a missing checksum, a line
    /// out of place, a wrong number of digits.
    #[error("{}: line {line}: {problem}", path.display())]
    ShareSyntax {
        /// The share file.
        path: PathBuf,
        /// The 1-based line number in the file.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A share line's checksum does not match the line: a digit was copied
    /// wrong, or the line was altered.
    #[error(
        "{}: line {line}: checksum mismatch: the line was copied wrong or altered; \
         compare it with the custodian's original",
        path.display()
    )]
    ShareChecksum {
        /// The share file.
        path: PathBuf,
        /// The 1-based line number in the file.
        line: usize,
    },
    /// The blob is not a backup blob this fwsign reads.
    #[error("{}: not a usable key backup blob: {problem}", path.display())]
    BlobSyntax {
        /// The blob file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The blob's commitments do not hash to the value recorded beside
    /// them: the blob was damaged or edited.
    #[error(
        "{}: the commitments do not match their recorded SHA-256: the blob was damaged or altered",
        path.display()
    )]
    BlobCommitments {
        /// The blob file.
        path: PathBuf,
    },
    /// The shares given are not all of one set.
    #[error(
        "shares of different sets: {} is of set {first_set}, {} of set {other_set}",
        first.display(),
        other.display()
    )]
    MixedSets {
        /// The first share file.
        first: PathBuf,
        /// Its set ID.
        first_set: String,
        /// A share file of another set.
        other: PathBuf,
        /// That share's set ID.
        other_set: String,
    },
    /// The shares are of one set, the blob of another.
    #[error(
        "{}: share of set {share_set}, but the blob {} is of set {blob_set} \
         (a reshare makes a new blob: use the shares dealt with it)",
        share.display(),
        blob.display()
    )]
    ShareNotForBlob {
        /// The share file.
        share: PathBuf,
        /// Its set ID.
        share_set: String,
        /// The blob file.
        blob: PathBuf,
        /// The blob's set ID.
        blob_set: String,
    },
    /// A share and the blob of the same set disagree on K, N, the key ID or
    /// the commitments: one of them was altered.
    #[error(
        "{}: the share says {field} {share_value}, the blob of the same set says {blob_value}: \
         the blob was replaced or altered (or the share was)",
        share.display()
    )]
    SetMismatch {
        /// The share file.
        share: PathBuf,
        /// Which field differs (`threshold`, `shares`, `keyid`, `commitments SHA-256`).
        field: &'static str,
        /// The share's value of it.
        share_value: String,
        /// The blob's value of it.
        blob_value: String,
    },
    /// Two shares carry the same index: the same custodian's share twice
    /// (or a copy passed off as another custodian's).
    #[error(
        "share index {index} given twice: {} and {}; each custodian's share counts once",
        first.display(),
        second.display()
    )]
    RepeatedIndex {
        /// The index.
        index: u8,
        /// The first file with it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// A share's value is not on the polynomial the commitments describe:
    /// a forged share, or one from another backup of the same set ID.
    #[error(
        "{}: share {index} fails the commitment check: it is not the share dealt to \
         custodian {index} of this set (forged or altered)",
        path.display()
    )]
    ShareForged {
        /// The share file.
        path: PathBuf,
        /// The share's index.
        index: u8,
    },
    /// The blob's commitments are not points of P-256.
    #[error("{}: commitment {index} is not a valid P-256 point: the blob was altered", path.display())]
    BadCommitment {
        /// The blob file.
        path: PathBuf,
        /// The commitment's position, from 0.
        index: usize,
    },
    /// Fewer distinct shares than the set's threshold.
    #[error("only {have} share(s) given; set {set_id} needs {need} to restore the key")]
    TooFewShares {
        /// Shares given.
        have: usize,
        /// K.
        need: u8,
        /// The set.
        set_id: String,
    },
    /// The sealed key did not authenticate under the recovered wrap key:
    /// the blob's ciphertext or associated data were altered.
    #[error(
        "{}: the sealed key does not decrypt (AES-256-GCM authentication failed): \
         the blob was altered",
        path.display()
    )]
    BlobDecrypt {
        /// The blob file.
        path: PathBuf,
    },
    /// The key the blob held is not the key the set names.
    #[error("the restored key has key ID {found}, but the set was made for {expected}")]
    KeyIdMismatch {
        /// The set's key ID.
        expected: String,
        /// The restored key's.
        found: String,
    },
    /// With a repository to check against: the restored key is listed by
    /// neither the published root nor any published delegation.
    #[error(
        "the restored key {keyid} is not a key of {}: neither the published root nor any \
         delegation lists it",
        repo.display()
    )]
    NotInRepository {
        /// The restored key's ID.
        keyid: String,
        /// The repository.
        repo: PathBuf,
    },
    /// Reading, encoding or generating a key failed.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    /// The sharing or the cipher failed for a reason that is a bug, not
    /// an input (reported rather than panicking).
    #[error("internal error in the key backup: {0}")]
    Sharing(String),
}

impl BackupError {
    /// Which kind of failure this is.
    pub fn class(&self) -> crate::ErrorClass {
        match self {
            Self::InvalidThreshold { .. }
            | Self::ShareSyntax { .. }
            | Self::ShareChecksum { .. }
            | Self::BlobSyntax { .. } => crate::ErrorClass::Usage,
            Self::Rng(_) | Self::Sharing(_) | Self::Key(_) => crate::ErrorClass::Io,
            _ => crate::ErrorClass::Security,
        }
    }
}

/// What identifies a set and travels on every share and in the blob.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SetInfo {
    set_id: [u8; SET_ID_LEN],
    threshold: u8,
    shares: u8,
    keyid: String,
    commitments_sha256: [u8; 32],
}

impl SetInfo {
    fn set_id_hex(&self) -> String {
        base16ct::lower::encode_string(&self.set_id)
    }
}

/// One custodian's share. The value is wiped when dropped; `Debug` shows
/// only the set, the index and the file.
pub struct Share {
    set: SetInfo,
    index: u8,
    value: Zeroizing<[u8; SCALAR_LEN]>,
    source: PathBuf,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("set_id", &self.set.set_id_hex())
            .field("index", &self.index)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Share {
    /// Reads a share from its text; errors name `path` and the line.
    pub fn parse(path: &Path, text: &str) -> Result<Self, BackupError> {
        let parsed = share_text::parse(path, text)?;
        Ok(Self {
            set: parsed.set,
            index: parsed.index,
            value: parsed.value,
            source: path.to_path_buf(),
        })
    }

    /// The share as hand-copyable text; wiped when dropped.
    pub fn to_text(&self) -> Zeroizing<String> {
        share_text::render(&self.set, self.index, &self.value)
    }

    /// The custodian's index, from 1.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The set ID, as 32 hex digits.
    pub fn set_id(&self) -> String {
        self.set.set_id_hex()
    }

    /// The SHA-256 of the set's commitments, as printed on the share.
    pub fn commitments_sha256(&self) -> String {
        base16ct::lower::encode_string(&self.set.commitments_sha256)
    }

    /// The file the share was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    fn raw(&self) -> RawShare {
        RawShare {
            index: self.index,
            value: self.value.clone(),
        }
    }
}

/// A new backup set: the blob and the N shares, in index order.
#[derive(Debug)]
pub struct Backup {
    /// The sealed key and the commitments.
    pub blob: Blob,
    /// The shares, share `i` at position `i - 1`.
    pub shares: Vec<Share>,
}

/// Seals `key` under a fresh wrap key and splits the wrap key into
/// `shares` shares, any `threshold` of which restore it.
pub fn backup(key: &PrivateKey, threshold: u8, shares: u8) -> Result<Backup, BackupError> {
    check_threshold(usize::from(threshold), usize::from(shares))?;
    // The set ID is drawn first, through the fallible call: a broken
    // generator is an error here, before any secret is drawn.
    let mut set_id = [0u8; SET_ID_LEN];
    getrandom::fill(&mut set_id).map_err(|e| BackupError::Rng(e.to_string()))?;
    let wrap = WrapKey::generate().map_err(|e| BackupError::Rng(e.to_string()))?;
    let (raw, commitments) =
        vss::split(&wrap, threshold, shares).map_err(|e| BackupError::Sharing(e.to_string()))?;
    let keyid = key.public_key().keyid();
    let commitments_sha256 =
        blob::commitments_digest(&set_id, threshold, shares, &keyid, &commitments);
    let set = SetInfo {
        set_id,
        threshold,
        shares,
        keyid,
        commitments_sha256,
    };
    let pem = key.to_pkcs8_pem(None)?;
    let blob = Blob::seal(set.clone(), commitments, &wrap, pem.as_bytes())?;
    let shares = raw
        .into_iter()
        .map(|r| Share {
            set: set.clone(),
            index: r.index,
            value: r.value,
            source: PathBuf::new(),
        })
        .collect();
    Ok(Backup { blob, shares })
}

/// Checks K and N: 2 <= K <= N <= [`MAX_SHARES`].
pub fn check_threshold(threshold: usize, shares: usize) -> Result<(), BackupError> {
    let reason = if threshold < 2 {
        "the threshold must be at least 2, or one custodian holds the key alone"
    } else if threshold > shares {
        "the threshold cannot exceed the number of shares"
    } else if shares > usize::from(MAX_SHARES) {
        "at most 255 shares"
    } else {
        return Ok(());
    };
    Err(BackupError::InvalidThreshold {
        threshold,
        shares,
        reason,
    })
}

/// Restores the key from `blob` and at least K of its set's shares.
///
/// Refused: shares of different sets or of another set than the blob's,
/// a share and blob that disagree about the set, a repeated index, a
/// share that fails the commitment check, fewer than K shares, a blob that
/// does not decrypt, and a key that is not the one the set names.
pub fn restore(blob: &Blob, shares: &[Share]) -> Result<PrivateKey, BackupError> {
    let blob_path = blob.source_path();
    check_one_set(blob, &blob_path, shares)?;
    let commitments = commitments_of(blob, &blob_path)?;
    let mut seen: BTreeMap<u8, &Share> = BTreeMap::new();
    // Every index is within 1..=N: the share's own line says so (checked
    // when it was read), and `check_one_set` made its N the blob's.
    for share in shares {
        if let Some(first) = seen.insert(share.index, share) {
            return Err(BackupError::RepeatedIndex {
                index: share.index,
                first: first.source.clone(),
                second: share.source.clone(),
            });
        }
        commitments
            .verify(&share.raw())
            .map_err(|_| BackupError::ShareForged {
                path: share.source.clone(),
                index: share.index,
            })?;
    }
    if shares.len() < usize::from(blob.set.threshold) {
        return Err(BackupError::TooFewShares {
            have: shares.len(),
            need: blob.set.threshold,
            set_id: blob.set.set_id_hex(),
        });
    }
    let raw: Vec<RawShare> = shares.iter().map(Share::raw).collect();
    let refs: Vec<&RawShare> = raw.iter().collect();
    // Every share passed its own check, so interpolation cannot miss the
    // committed secret; `combine` checks it against C_0 all the same.
    let wrap = commitments
        .combine(&refs)
        .map_err(|_| BackupError::ShareForged {
            path: shares[0].source.clone(),
            index: shares[0].index,
        })?;
    let plaintext = blob.open(&wrap)?;
    // Read in place: a copy (or `FromUtf8Error`, which keeps the bytes)
    // would outlive the wiped buffer.
    let pem = std::str::from_utf8(&plaintext).map_err(|_| BackupError::BlobDecrypt {
        path: blob_path.clone(),
    })?;
    let key = PrivateKey::from_pkcs8_pem(pem, None)?;
    let found = key.public_key().keyid();
    if found != blob.set.keyid {
        return Err(BackupError::KeyIdMismatch {
            expected: blob.set.keyid.clone(),
            found,
        });
    }
    Ok(key)
}

/// Checks one custodian's share against the blob without restoring
/// anything: same set, same K, N, key and commitments, and Feldman's check
/// passes. A custodian can run it alone, at the ceremony or at any time, to
/// know their share is intact and belongs to the set; no secret is
/// assembled.
pub fn check_share(blob: &Blob, share: &Share) -> Result<(), BackupError> {
    let blob_path = blob.source_path();
    check_one_set(blob, &blob_path, std::slice::from_ref(share))?;
    let commitments = commitments_of(blob, &blob_path)?;
    commitments
        .verify(&share.raw())
        .map_err(|_| BackupError::ShareForged {
            path: share.source.clone(),
            index: share.index,
        })
}

/// The blob's commitments as a verifier set.
fn commitments_of(blob: &Blob, blob_path: &Path) -> Result<Commitments, BackupError> {
    Commitments::parse(&blob.commitments).map_err(|e| match e {
        VssFailure::BadCommitment(index) => BackupError::BadCommitment {
            path: blob_path.to_path_buf(),
            index,
        },
        _ => BackupError::Sharing("unexpected commitment failure".to_owned()),
    })
}

/// All shares of one set, and that set the blob's.
fn check_one_set(blob: &Blob, blob_path: &Path, shares: &[Share]) -> Result<(), BackupError> {
    if let Some(first) = shares.first()
        && let Some(other) = shares.iter().find(|s| s.set.set_id != first.set.set_id)
    {
        return Err(BackupError::MixedSets {
            first: first.source.clone(),
            first_set: first.set.set_id_hex(),
            other: other.source.clone(),
            other_set: other.set.set_id_hex(),
        });
    }
    for share in shares {
        if share.set.set_id != blob.set.set_id {
            return Err(BackupError::ShareNotForBlob {
                share: share.source.clone(),
                share_set: share.set.set_id_hex(),
                blob: blob_path.to_path_buf(),
                blob_set: blob.set.set_id_hex(),
            });
        }
        let mismatch = |field, share_value: String, blob_value: String| BackupError::SetMismatch {
            share: share.source.clone(),
            field,
            share_value,
            blob_value,
        };
        if share.set.threshold != blob.set.threshold {
            return Err(mismatch(
                "threshold",
                share.set.threshold.to_string(),
                blob.set.threshold.to_string(),
            ));
        }
        if share.set.shares != blob.set.shares {
            return Err(mismatch(
                "shares",
                share.set.shares.to_string(),
                blob.set.shares.to_string(),
            ));
        }
        if share.set.keyid != blob.set.keyid {
            return Err(mismatch(
                "keyid",
                share.set.keyid.clone(),
                blob.set.keyid.clone(),
            ));
        }
        if share.set.commitments_sha256 != blob.set.commitments_sha256 {
            return Err(mismatch(
                "commitments SHA-256",
                share.commitments_sha256(),
                blob.commitments_sha256(),
            ));
        }
    }
    Ok(())
}

/// Restores the key from `blob` and K of its shares, then deals a new set
/// (new set ID, new wrap key, new blob) of `shares` shares with threshold
/// `threshold`. The old shares do not open the new blob.
pub fn reshare(
    blob: &Blob,
    old_shares: &[Share],
    threshold: u8,
    shares: u8,
) -> Result<Backup, BackupError> {
    check_threshold(usize::from(threshold), usize::from(shares))?;
    let key = restore(blob, old_shares)?;
    backup(&key, threshold, shares)
}
