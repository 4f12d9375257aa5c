//! `fwsign key backup`, `key restore` and `key reshare`: a file key split
//! among K of N custodians (the scheme is `fwsign_keys::key_backup`'s; the
//! ceremony is `docs/key-ceremony.md`).
//!
//! This file reads and writes the files and talks to the custodians. Each
//! share goes to its own path, created exclusively with mode 0600, or with
//! `--print` to the terminal one custodian at a time; nothing is left half
//! written: outputs are checked before anything is written, and if one
//! write fails, the files this run created are removed.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use clap::Args;
use fwsign_keys::atomic_write::{Mode, write_new};
use fwsign_keys::key_backup::{self, Backup, BackupError, Blob, Share};
use fwsign_repo::Repository;
use serde_json::json;
use zeroize::Zeroizing;

use crate::failure::Failure;
use crate::key_ref;
use crate::output::Output;

/// Where the shares of a new set go.
#[derive(Debug, Args)]
pub(crate) struct ShareOutputs {
    /// How many shares to deal (N): one per custodian, at most 255.
    #[arg(long, value_name = "N")]
    pub shares: u8,
    /// How many shares restore the key (K): at least 2.
    #[arg(long, value_name = "K")]
    pub threshold: u8,
    /// Where share I goes, as I=PATH (one removable medium per custodian);
    /// give it once for each share from 1 to N.
    #[arg(
        long = "share-out",
        value_name = "I=PATH",
        required_unless_present = "print"
    )]
    pub share_out: Vec<String>,
    /// Show the shares on this terminal instead, one custodian at a time,
    /// with a confirmation between custodians and the screen cleared.
    #[arg(long, conflicts_with = "share_out")]
    pub print: bool,
    /// Where the blob (the sealed key and the set's commitments) goes.
    #[arg(long, value_name = "FILE")]
    pub blob_out: PathBuf,
}

/// `fwsign key backup`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  fwsign key backup root1.pem --shares 5 --threshold 3 \\\n    \
    --share-out 1=/media/alice/root1.share --share-out 2=/media/bob/root1.share \\\n    \
    --share-out 3=/media/carol/root1.share --share-out 4=/media/dave/root1.share \\\n    \
    --share-out 5=/media/erin/root1.share --blob-out root1.backup.json\n\n\
    The key is sealed with AES-256-GCM under a fresh wrap key; only the wrap key is split \
    (Feldman VSS). Any K shares and the blob restore the key; fewer reveal nothing. \
    See docs/key-ceremony.md."
)]
pub(crate) struct BackupArgs {
    /// The private key file (PKCS#8, plain or encrypted).
    pub key: PathBuf,
    #[command(flatten)]
    pub outputs: ShareOutputs,
    /// Passphrase variable, for an encrypted key (default FWSIGN_PASSPHRASE;
    /// prompted for on a terminal otherwise).
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}

/// `fwsign key restore`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ROOT1_PASS=... fwsign key restore --share alice.share --share bob.share \
    --share carol.share \\\n    --blob root1.backup.json --out root1.pem --repo repo --passphrase-env ROOT1_PASS\n\n\
    Writes the key 0600, encrypted with the passphrase (--unencrypted to opt out)."
)]
pub(crate) struct RestoreArgs {
    /// A share file; at least K of them, each custodian's once.
    #[arg(long = "share", id = "share", value_name = "FILE", required = true, num_args = 1..)]
    pub shares: Vec<PathBuf>,
    /// The set's blob.
    #[arg(long, value_name = "FILE")]
    pub blob: PathBuf,
    /// Where to write the restored private key (never overwritten).
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
    /// Also check the key is one the repository's published root or
    /// delegations list.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Encrypt the restored key with the passphrase in this variable.
    #[arg(long, value_name = "VAR", conflicts_with = "unencrypted")]
    pub passphrase_env: Option<String>,
    /// Write the restored key unencrypted.
    #[arg(long)]
    pub unencrypted: bool,
}

/// `fwsign key reshare`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  fwsign key reshare --share alice.share --share bob.share --share carol.share \
    --blob root1.backup.json \\\n    --shares 5 --threshold 3 --share-out 1=/media/alice/root1.share ... \
    --blob-out root1.backup-2.json\n\n\
    A new set (new set ID, new wrap key, new blob): the old shares do not open the new blob. \
    Destroy every copy of the old blob afterwards."
)]
pub(crate) struct ReshareArgs {
    /// A share of the current set; at least K of them.
    #[arg(long = "share", id = "share", value_name = "FILE", required = true, num_args = 1..)]
    pub shares: Vec<PathBuf>,
    /// The current set's blob.
    #[arg(long, value_name = "FILE")]
    pub blob: PathBuf,
    #[command(flatten)]
    pub outputs: ShareOutputs,
}

/// `fwsign key check-share`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  fwsign key check-share --share /media/bob/root1.share --blob root1.backup.json\n\n\
    Checks one share against the set's commitments (Feldman), without any other share: \
    a custodian can check their share is intact and belongs to the set at any time."
)]
pub(crate) struct CheckShareArgs {
    /// The share file.
    #[arg(long = "share", id = "share", value_name = "FILE")]
    pub share: PathBuf,
    /// The set's blob.
    #[arg(long, value_name = "FILE")]
    pub blob: PathBuf,
}

/// Where each share goes: `--share-out I=PATH` for every I from 1 to N,
/// each once, no path twice, none the blob's, none existing yet.
fn share_paths(outputs: &ShareOutputs, out: &Output) -> Result<Vec<PathBuf>, Failure> {
    key_backup::check_threshold(usize::from(outputs.threshold), usize::from(outputs.shares))
        .map_err(Failure::from)?;
    let mut by_index: BTreeMap<u8, PathBuf> = BTreeMap::new();
    for spec in &outputs.share_out {
        let (index, path) = spec
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--share-out {spec:?}: expected I=PATH")))?;
        let index: u8 = index
            .trim()
            .parse()
            .ok()
            .filter(|i| (1..=outputs.shares).contains(i))
            .ok_or_else(|| {
                Failure::usage(format!(
                    "--share-out {spec:?}: the index must be a number from 1 to {}",
                    outputs.shares
                ))
            })?;
        if path.is_empty() {
            return Err(Failure::usage(format!("--share-out {spec:?}: no path")));
        }
        if by_index.insert(index, PathBuf::from(path)).is_some() {
            return Err(Failure::usage(format!(
                "--share-out: share {index} given twice"
            )));
        }
    }
    if let Some(missing) = (1..=outputs.shares).find(|i| !by_index.contains_key(i)) {
        return Err(Failure::usage(format!(
            "--share-out: no path for share {missing}: give I=PATH for every share from 1 to {}",
            outputs.shares
        )));
    }
    let paths: Vec<PathBuf> = by_index.into_values().collect();
    let mut seen_dirs: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (i, path) in paths.iter().enumerate() {
        if paths[..i].contains(path) || path == &outputs.blob_out {
            return Err(Failure::usage(format!(
                "{}: named twice; every share needs its own file",
                path.display()
            )));
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(other) = seen_dirs.insert(dir.clone(), i + 1) {
            out.warn(format!(
                "shares {other} and {} both go to {}: hand each custodian's share over on its own medium",
                i + 1,
                if dir.as_os_str().is_empty() { Path::new(".") } else { &dir }.display()
            ));
        }
    }
    Ok(paths)
}

/// Refuses outputs that exist already: a share or blob is never replaced.
fn refuse_existing<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), Failure> {
    for path in paths {
        if path.exists() {
            return Err(Failure::usage(format!(
                "{}: already exists; refusing to overwrite a share, blob or key",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Files this run created, removed again unless the run completes, so a
/// failed write leaves no partial set behind.
struct Created(Vec<PathBuf>);

impl Created {
    fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<(), Failure> {
        write_new(path, bytes, Mode::Private)
            .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
        self.0.push(path.to_path_buf());
        Ok(())
    }

    fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Clears the screen and its scrollback, so the next custodian does not
/// see the last one's share.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J\x1b[3J";

/// Shows each share on the terminal, one custodian at a time. The
/// screen, not stdout as a data stream: it refuses to run unless both ends
/// are a terminal, so shares never land in a pipe or a log.
fn print_shares(backup: &Backup) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let io = |e: std::io::Error| Failure::io(format!("the terminal: {e}"));
    let wait = |prompt: &str, stdout: &mut std::io::Stdout| -> Result<(), Failure> {
        stdout
            .write_all(prompt.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(io)?;
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) => Err(Failure::usage(
                "the terminal closed before every share was shown",
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(io(e)),
        }
    };
    let n = backup.shares.len();
    for share in &backup.shares {
        let i = share.index();
        stdout.write_all(CLEAR_SCREEN.as_bytes()).map_err(io)?;
        wait(
            &format!(
                "Share {i} of {n} of set {}.\nOnly custodian {i} may see the screen now.\n\
                 Press Enter to show share {i}.",
                backup.blob.set_id()
            ),
            &mut stdout,
        )?;
        let text = share.to_text();
        stdout.write_all(text.as_bytes()).map_err(io)?;
        wait(
            &format!(
                "\nCopy every line with its checksum. The commit lines must read\n{}\n\
                 Press Enter to clear the screen.",
                commit_lines(&backup.blob.commitments_sha256())
            ),
            &mut stdout,
        )?;
        stdout.write_all(CLEAR_SCREEN.as_bytes()).map_err(io)?;
    }
    stdout.flush().map_err(io)
}

/// The commitments' SHA-256 laid out as the two `commit` lines of a share,
/// so a custodian compares like with like.
fn commit_lines(hex: &str) -> String {
    let groups: Vec<&str> = (0..hex.len())
        .step_by(4)
        .map(|i| &hex[i..(i + 4).min(hex.len())])
        .collect();
    groups
        .chunks(8)
        .map(|line| format!("commit {}", line.join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes a new set: the shares (to their files or the terminal) and the
/// blob, then reports it.
fn deal(
    backup: &Backup,
    outputs: &ShareOutputs,
    paths: &[PathBuf],
    out: &Output,
) -> Result<serde_json::Value, Failure> {
    // No partial set is ever left to be mistaken for a whole one. Shares
    // shown on the terminal come first and the blob after the last one: a
    // terminal that closes half way (a dropped SSH session's hangup kills
    // the process before any clean-up could run) leaves nothing. Shares
    // written to files come after the blob, and if one cannot be written
    // the guard removes the blob and the shares written so far.
    let mut created = Created(Vec::new());
    if outputs.print {
        print_shares(backup)?;
    }
    created.write(&outputs.blob_out, backup.blob.to_json().as_bytes())?;
    let mut written = Vec::new();
    if !outputs.print {
        for (share, path) in backup.shares.iter().zip(paths) {
            let text = share.to_text();
            created.write(path, text.as_bytes())?;
            written.push(json!({"index": share.index(), "path": path}));
        }
    }
    created.keep();
    let blob = &backup.blob;
    out.say(format!(
        "set {}: {} of {} shares restore key {}",
        blob.set_id(),
        blob.threshold(),
        blob.shares(),
        blob.keyid()
    ));
    for entry in &written {
        out.say(format!(
            "share {} -> {} (mode 0600)",
            entry["index"],
            entry["path"].as_str().unwrap_or_default()
        ));
    }
    out.say(format!(
        "blob -> {} (mode 0600)",
        outputs.blob_out.display()
    ));
    out.say(format!(
        "every custodian checks the commit lines of their share read:\n{}",
        commit_lines(&blob.commitments_sha256())
    ));
    Ok(json!({
        "ok": true,
        "set_id": blob.set_id(),
        "keyid": blob.keyid(),
        "threshold": blob.threshold(),
        "shares": blob.shares(),
        "commitments_sha256": blob.commitments_sha256(),
        "share_files": written,
        "printed": outputs.print,
        "blob": outputs.blob_out,
    }))
}

/// Checks the outputs before anything secret is computed or written.
fn prepare(outputs: &ShareOutputs, out: &Output) -> Result<Vec<PathBuf>, Failure> {
    if outputs.print {
        key_backup::check_threshold(usize::from(outputs.threshold), usize::from(outputs.shares))
            .map_err(Failure::from)?;
        if out.is_json() {
            return Err(Failure::usage(
                "--print shows shares on the terminal: it does not go with --json",
            ));
        }
        if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            return Err(Failure::usage(
                "--print needs a terminal (stdin and stdout): shares are never written to a pipe; \
                 use --share-out I=PATH instead",
            ));
        }
        refuse_existing([outputs.blob_out.as_path()])?;
        return Ok(Vec::new());
    }
    let paths = share_paths(outputs, out)?;
    refuse_existing(
        paths
            .iter()
            .map(PathBuf::as_path)
            .chain([outputs.blob_out.as_path()]),
    )?;
    Ok(paths)
}

fn read_blob(path: &Path) -> Result<Blob, Failure> {
    let bytes = std::fs::read(path).map_err(|e| read_failure(path, e))?;
    Blob::parse(path, &bytes).map_err(Failure::from)
}

fn read_shares(paths: &[PathBuf]) -> Result<Vec<Share>, Failure> {
    paths
        .iter()
        .map(|path| {
            let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| read_failure(path, e))?);
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| Failure::usage(format!("{}: not a text share", path.display())))?;
            Share::parse(path, text).map_err(Failure::from)
        })
        .collect()
}

fn read_failure(path: &Path, e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::NotFound {
        Failure::usage(format!("{}: no such file", path.display()))
    } else {
        Failure::io(format!("{}: {e}", path.display()))
    }
}

pub(crate) fn backup(args: BackupArgs, out: &Output) -> Result<(), Failure> {
    if args.key.to_string_lossy().starts_with("pkcs11:") {
        return Err(Failure::usage(
            "an HSM key is non-extractable and cannot be backed up: keep more root keys than the \
             threshold, each in its own token (docs/key-ceremony.md)",
        ));
    }
    let paths = prepare(&args.outputs, out)?;
    let key = key_ref::load_private(&args.key, args.passphrase_env.as_deref())?;
    let set = key_backup::backup(&key, args.outputs.threshold, args.outputs.shares)
        .map_err(Failure::from)?;
    drop(key);
    let mut doc = deal(&set, &args.outputs, &paths, out)?;
    doc["key"] = json!(args.key);
    out.result(&doc);
    Ok(())
}

pub(crate) fn reshare(args: ReshareArgs, out: &Output) -> Result<(), Failure> {
    let paths = prepare(&args.outputs, out)?;
    let blob = read_blob(&args.blob)?;
    let shares = read_shares(&args.shares)?;
    let set = key_backup::reshare(&blob, &shares, args.outputs.threshold, args.outputs.shares)
        .map_err(Failure::from)?;
    drop(shares);
    let mut doc = deal(&set, &args.outputs, &paths, out)?;
    out.say(format!(
        "the old set {} is retired: destroy every copy of {} (its shares no longer matter without it)",
        blob.set_id(),
        args.blob.display()
    ));
    doc["old_set_id"] = json!(blob.set_id());
    out.result(&doc);
    Ok(())
}

pub(crate) fn restore(args: RestoreArgs, out: &Output) -> Result<(), Failure> {
    refuse_existing([args.out.as_path()])?;
    let passphrase =
        key_ref::new_key_passphrase(args.passphrase_env.as_deref(), args.unencrypted, &args.out)?;
    let blob = read_blob(&args.blob)?;
    let shares = read_shares(&args.shares)?;
    let key = key_backup::restore(&blob, &shares).map_err(Failure::from)?;
    drop(shares);
    let keyid = key.public_key().keyid();
    let roles = match &args.repo {
        None => None,
        Some(dir) => {
            let published = Repository::open(dir)?.published()?.ok_or_else(|| {
                Failure::usage(format!(
                    "{}: nothing is published yet to check the key against",
                    dir.display()
                ))
            })?;
            let roles = published.roles_listing(key.public_key());
            if roles.is_empty() {
                return Err(Failure::from(BackupError::NotInRepository {
                    keyid: keyid.clone(),
                    repo: dir.clone(),
                }));
            }
            Some(roles)
        }
    };
    let pem = key
        .to_pkcs8_pem(passphrase.as_ref().map(|p| p.as_bytes()))
        .map_err(|e| Failure::io(e.to_string()))?;
    write_new(&args.out, pem.as_bytes(), Mode::Private)
        .map_err(|e| Failure::io(format!("{}: {e}", args.out.display())))?;
    out.say(format!(
        "restored key {keyid} from {} shares of set {} into {} (mode 0600{})",
        args.shares.len(),
        blob.set_id(),
        args.out.display(),
        if passphrase.is_some() {
            ", encrypted"
        } else {
            ""
        }
    ));
    if let Some(roles) = &roles {
        out.say(format!(
            "{} lists it for: {}",
            args.repo.as_deref().unwrap_or(Path::new(".")).display(),
            roles.join(", ")
        ));
    }
    out.result(&json!({
        "ok": true,
        "keyid": keyid,
        "set_id": blob.set_id(),
        "private_key": args.out,
        "encrypted": passphrase.is_some(),
        "repo_roles": roles,
    }));
    Ok(())
}

pub(crate) fn check_share(args: CheckShareArgs, out: &Output) -> Result<(), Failure> {
    let blob = read_blob(&args.blob)?;
    let share = read_shares(std::slice::from_ref(&args.share))?
        .pop()
        .ok_or_else(|| Failure::usage("no share given"))?;
    key_backup::check_share(&blob, &share).map_err(Failure::from)?;
    out.say(format!(
        "{}: share {} of {} (threshold {}) of set {} for key {}: intact, and on the set's \
         committed polynomial",
        args.share.display(),
        share.index(),
        blob.shares(),
        blob.threshold(),
        blob.set_id(),
        blob.keyid()
    ));
    out.result(&json!({
        "ok": true,
        "index": share.index(),
        "set_id": blob.set_id(),
        "keyid": blob.keyid(),
        "threshold": blob.threshold(),
        "shares": blob.shares(),
    }));
    Ok(())
}
