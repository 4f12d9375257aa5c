//! Key owners on the command line: `--key-owner KEY=NAME` (at `repo init`,
//! `repo rotate-root` and `repo delegate`) and the names `repo add` reports
//! when it drops approvals. The names themselves, their rules and where they
//! are stored belong to `fwsign_repo::key_owners`.

use std::path::Path;

use fwsign_repo::key_owners::{KeyOwner, OwnerAssignment};
use fwsign_repo::{RepoError, Repository};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::key_ref::load_public;
use crate::output::Output;

/// Whether `text` is written as a key ID (64 lowercase hex digits).
fn is_keyid(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses each `KEY=NAME` or `KEY=NAME <EMAIL>`: KEY is a key ID, or else a
/// public key file (split at the first `=`, so a key file's path cannot
/// contain one). A bad name is a usage error naming the argument.
pub(crate) fn parse_key_owners(args: &[String]) -> Result<Vec<OwnerAssignment>, Failure> {
    let mut out: Vec<OwnerAssignment> = Vec::new();
    for arg in args {
        let (key, owner) = arg
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "--key-owner {arg:?}: expected KEY=NAME or KEY=NAME <EMAIL> (KEY a public key file or a key ID)"
                ))
            })?;
        let keyid = if is_keyid(key) && !Path::new(key).is_file() {
            key.to_owned()
        } else {
            load_public(Path::new(key))?.keyid()
        };
        let owner = KeyOwner::parse(owner).map_err(|e| {
            let mut failure = Failure::from(e);
            failure.message = format!("--key-owner {key}=...: {}", failure.message);
            failure
        })?;
        if out.iter().any(|a| a.keyid == keyid) {
            return Err(Failure::usage(format!(
                "--key-owner: key {keyid} is named twice"
            )));
        }
        out.push(OwnerAssignment { keyid, owner });
    }
    Ok(out)
}

/// Says at once whose approvals of `role` an edit dropped (`before`: the
/// key IDs that had signed the staged role before the edit), by name where
/// the metadata names them, and returns them for `--json`.
pub(crate) fn report_dropped(
    repo: &Repository,
    role: &str,
    before: &[String],
    out: &Output,
) -> Result<Value, RepoError> {
    let after = repo.staged_signers(role)?;
    let dropped: Vec<&String> = before.iter().filter(|k| !after.contains(k)).collect();
    if dropped.is_empty() {
        return Ok(json!([]));
    }
    let owners = repo.key_owners_for(role)?;
    out.warn(format!(
        "dropped the approvals of {} on {role}: the staged content changed after they signed; they must sign again",
        owners.labels(dropped.iter().copied())
    ));
    Ok(Value::Array(
        dropped
            .iter()
            .map(|k| json!({"keyid": k, "owner": owners.json(k)}))
            .collect(),
    ))
}
