//! `fwsign identify FILE --repo DIR` and `fwsign identify FILE
//! --metadata-url URL --root ROOT`: whether a file is a released image, and
//! which. The search is `fwsign_repo::identify` over the verified published
//! history, or `fwsign_client::identify` over the current metadata through
//! the TUF client (no history: it says so); a firmware slot, or a flash dump
//! holding slots, is recognised by the device's own header parser and
//! identified by the images its slots hold, the same in both modes. With
//! `--sbom-out PATH` it also writes the SBOM approved with the image,
//! found and checked by the TUF client (`Client::image_sbom`, the same
//! `find_sbom` as `client download --with-sbom`): with `--repo`, the client
//! reads the repository's published files from its first root. This
//! module only prints.

use std::path::{Path, PathBuf};

use fwsign_bootloader_verify::slot::{HEADER_MAGIC, Header, TRAILER_MAGIC};
use fwsign_client::identify::{CurrentIdentification, CurrentMatch};
use fwsign_client::{Client, ClientConfig, DirFetcher, Fetcher, HttpFetcher};
use fwsign_keys::rsa_pss::HOST_KEY_TYPES;
use fwsign_repo::identify::{Identification, ImageMatch};
use fwsign_repo::key_owners::KeyOwners;
use fwsign_repo::lock::LockKind;
use serde_json::{Value, json};

use crate::cmd_repo::{lock, open};
use crate::failure::Failure;
use crate::now;
use crate::output::Output;

/// What `--metadata-url` does not search, said in its output and `--json`.
const HISTORY_NOTE: &str = "searched the current metadata only: whether an image was later removed or superseded, and earlier versions, need --repo DIR (the published history)";

/// A slot found in the file: where its header starts, and its image.
struct FoundSlot<'b> {
    offset: usize,
    image: &'b [u8],
}

/// The slot whose header starts at `offset`, when one does: the header
/// parses within the rest of the file and the trailer it points at starts
/// with the trailer magic (so image bytes that happen to spell the header
/// magic are not taken for a slot). Returns the slot and where it ends.
fn slot_at(bytes: &[u8], offset: usize) -> Option<(FoundSlot<'_>, usize)> {
    let rest = bytes.get(offset..)?;
    let size = u32::try_from(rest.len()).unwrap_or(u32::MAX);
    let header = Header::parse(rest, size).ok()?;
    let start = usize::try_from(header.header_size).ok()?;
    let end = start.checked_add(usize::try_from(header.image_size).ok()?)?;
    let trailer_end = end.checked_add(usize::try_from(header.trailer_size).ok()?)?;
    if rest.get(end..end.checked_add(4)?)? != TRAILER_MAGIC {
        return None;
    }
    let image = rest.get(start..end)?;
    Some((
        FoundSlot { offset, image },
        offset.checked_add(trailer_end)?,
    ))
}

/// Every slot in `bytes`: the file itself when it is a slot, or the slots
/// of a flash dump, wherever they start (a dump need not begin at a slot
/// or sector boundary, so every offset holding the header magic is tried).
fn find_slots(bytes: &[u8]) -> Vec<FoundSlot<'_>> {
    let mut slots = Vec::new();
    let mut at = 0;
    while let Some(pos) = bytes.get(at..).and_then(|rest| {
        rest.windows(HEADER_MAGIC.len())
            .position(|w| w == HEADER_MAGIC)
    }) {
        let offset = at + pos;
        match slot_at(bytes, offset) {
            Some((slot, end)) => {
                slots.push(slot);
                at = end;
            }
            None => at = offset + 1,
        }
    }
    slots
}

/// The lines both modes print for a listing: the firmware fields, the role
/// and who approved it.
struct Listing<'m> {
    name: &'m str,
    firmware: Option<&'m fwsign_manifest_schema::firmware::FirmwareInfo>,
    role: &'m str,
    versions: String,
    delegated_by: &'m str,
    approvers: &'m [String],
    threshold: u64,
    owners: &'m KeyOwners,
}

fn say_listing(out: &Output, l: &Listing<'_>) {
    out.say(format!("released image: {}", l.name));
    match l.firmware {
        Some(f) => out.say(format!(
            "  version {}, hardware {}, security counter {}",
            f.version,
            f.hardware_ids.join(", "),
            f.security_counter
        )),
        None => out.say("  no firmware fields"),
    }
    // The SBOM approved with the image (`repo add --sbom`); in --json it is
    // the firmware fields' sbom_target and sbom_sha256.
    if let Some(f) = l.firmware
        && let (Some(name), Some(sha)) = (&f.sbom_target, &f.sbom_sha256)
    {
        out.say(format!(
            "  SBOM: {name} (sha256 {sha}), approved with the image"
        ));
    }
    out.say(format!(
        "  listed by {} {} (delegated by {}); approved by {} of {}: {}",
        l.role,
        l.versions,
        l.delegated_by,
        l.approvers.len(),
        l.threshold,
        l.owners.labels(l.approvers)
    ));
}

fn say_match(out: &Output, m: &ImageMatch) {
    let versions = if m.first_role_version == m.last_role_version {
        format!("v{}", m.first_role_version)
    } else {
        format!("v{}-v{}", m.first_role_version, m.last_role_version)
    };
    say_listing(
        out,
        &Listing {
            name: &m.name,
            firmware: m.firmware.as_ref(),
            role: &m.role,
            versions,
            delegated_by: &m.delegated_by,
            approvers: &m.approvers,
            threshold: m.threshold,
            owners: &m.owners,
        },
    );
    out.say(format!(
        "  published {}",
        m.published_at
            .as_deref()
            .unwrap_or("(no publish event in the audit log)")
    ));
    if m.removed {
        out.say(format!(
            "  REMOVED: the newest {} no longer lists it under this name",
            m.role
        ));
    }
    for s in &m.superseded_by {
        out.say(format!(
            "  SUPERSEDED by {} (version {}, security counter {}, {} v{}) on {}",
            s.name,
            s.version,
            s.security_counter,
            s.role,
            s.role_version,
            s.hardware_ids.join(", ")
        ));
    }
    if !m.removed && m.superseded_by.is_empty() {
        out.say("  current: neither removed nor superseded");
    }
}

fn say_current(out: &Output, m: &CurrentMatch) {
    say_listing(
        out,
        &Listing {
            name: &m.name,
            firmware: m.firmware.as_ref(),
            role: &m.role,
            versions: format!("v{} (current)", m.role_version),
            delegated_by: &m.delegated_by,
            approvers: &m.approvers,
            threshold: m.threshold,
            owners: &m.owners,
        },
    );
}

/// One image's identification, from either search (the repository's
/// history, or the client's current metadata): its digest and length, what
/// it matched, and how a match is told to people.
struct Found<'r, M> {
    sha256: &'r str,
    length: u64,
    matches: &'r [M],
    say_match: fn(&Output, &M),
}

impl<'r> From<&'r Identification> for Found<'r, ImageMatch> {
    fn from(i: &'r Identification) -> Self {
        Self {
            sha256: &i.sha256,
            length: i.length,
            matches: &i.matches,
            say_match,
        }
    }
}

impl<'r> From<&'r CurrentIdentification> for Found<'r, CurrentMatch> {
    fn from(i: &'r CurrentIdentification) -> Self {
        Self {
            sha256: &i.sha256,
            length: i.length,
            matches: &i.matches,
            say_match: say_current,
        }
    }
}

impl<M: serde::Serialize> Found<'_, M> {
    fn released(&self) -> bool {
        !self.matches.is_empty()
    }

    fn matches_json(&self) -> Value {
        json!(self.matches)
    }

    fn say(&self, out: &Output) {
        for m in self.matches {
            (self.say_match)(out, m);
        }
    }

    /// The `--json` fields of the image itself.
    fn document(&self) -> Value {
        json!({
            "sha256": self.sha256,
            "length": self.length,
            "released": self.released(),
            "matches": self.matches_json(),
        })
    }
}

/// What was searched, as messages and `--json` say it.
struct Searched {
    /// "every published version in DIR", "the current metadata at URL".
    what: String,
    /// Whether the published history was searched (`--repo`).
    history: bool,
}

impl Searched {
    /// Adds `history` (and, without it, the note saying what needs
    /// `--repo`) to a `--json` document.
    fn mark(&self, mut document: Value) -> Value {
        document["history"] = json!(self.history);
        if !self.history {
            document["history_note"] = json!(HISTORY_NOTE);
        }
        document
    }

    /// The note a human reader gets after the identification.
    fn say_note(&self, out: &Output) {
        if !self.history {
            out.say(format!("note: {HISTORY_NOTE}"));
        }
    }
}

fn slot_document<M: serde::Serialize>(slot: &FoundSlot<'_>, found: &Found<'_, M>) -> Value {
    let mut document = found.document();
    document["offset"] = json!(slot.offset);
    document
}

/// `--sbom-out PATH`, with `--target-base-url` when given.
pub(crate) type SbomOut<'a> = (&'a Path, Option<&'a str>);

pub(crate) fn run(
    file: &Path,
    repo: Option<&Path>,
    remote: Option<(String, PathBuf)>,
    sbom_out: Option<SbomOut<'_>>,
    out: &Output,
) -> Result<(), Failure> {
    let bytes = std::fs::read(file).map_err(|e| Failure::io(format!("{}: {e}", file.display())))?;
    let slots = find_slots(&bytes);
    let images = images(&bytes, &slots);
    if let Some((path, _)) = sbom_out
        && images.len() != 1
    {
        return Err(Failure::usage(format!(
            "--sbom-out {}: the SBOM of one image is written, and {} holds {} slots; identify the slot's image instead",
            path.display(),
            file.display(),
            images.len()
        )));
    }
    match (repo, remote) {
        (Some(dir), _) => {
            let repo = open(dir)?;
            let _lock = lock(&repo, LockKind::Shared, "identify", out)?;
            let identified = repo.identify_all(&images)?;
            let results: Vec<Found<'_, _>> = identified.iter().map(Found::from).collect();
            let searched = Searched {
                what: format!("every published version in {}", dir.display()),
                history: true,
            };
            let sbom = match (sbom_out, images.as_slice()) {
                (Some((path, _)), [image]) if results.iter().all(|r| r.released()) => {
                    Some(sbom_from_repo(dir, image, path)?)
                }
                _ => None,
            };
            report(file, &slots, &results, &searched, sbom, out)
        }
        (None, Some((url, root))) => {
            let base = match sbom_out {
                Some((path, None)) => {
                    return Err(Failure::usage(format!(
                        "--sbom-out {} with --metadata-url needs --target-base-url URL, where the SBOM is fetched from",
                        path.display()
                    )));
                }
                Some((path, Some(base))) => Some((path, base)),
                None => None,
            };
            let trusted = std::fs::read(&root)
                .map_err(|e| Failure::io(format!("{}: {e}", root.display())))?;
            let (_dir, mut client) = client_over(&url, &trusted, HttpFetcher::new())?;
            // Every refusal is the client's (exit 1).
            let identified = client.identify_all(&images)?;
            let results: Vec<Found<'_, _>> = identified.iter().map(Found::from).collect();
            let searched = Searched {
                what: format!("the current metadata at {url} only; history needs --repo"),
                history: false,
            };
            let sbom = match (base, images.as_slice()) {
                (Some((path, base)), [image]) if results.iter().all(|r| r.released()) => {
                    Some(write_sbom(&mut client, image, base, path)?)
                }
                _ => None,
            };
            report(file, &slots, &results, &searched, sbom, out)
        }
        (None, None) => Err(Failure::usage(
            "identify needs --repo DIR, or --metadata-url URL with --root ROOT",
        )),
    }
}

/// The images to identify: the file's slots', or the file itself when it
/// holds none.
fn images<'b>(bytes: &'b [u8], slots: &[FoundSlot<'b>]) -> Vec<&'b [u8]> {
    if slots.is_empty() {
        vec![bytes]
    } else {
        slots.iter().map(|s| s.image).collect()
    }
}

/// A metadata directory for one run, removed afterwards: `--metadata-url`
/// starts from `--root` every time, so nothing is kept.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self, Failure> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("fwsign-identify-{}-{nanos}", std::process::id()));
        // Exclusive: a directory someone else made there is not used.
        std::fs::create_dir(&path).map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A client over `metadata_url` starting from the trusted root `trusted`,
/// with its metadata directory for this run (removed when the first half
/// is dropped): `identify` starts from the root every time, so nothing is
/// kept.
fn client_over<F: Fetcher>(
    metadata_url: &str,
    trusted: &[u8],
    fetcher: F,
) -> Result<(ScratchDir, Client<F>), Failure> {
    let dir = ScratchDir::new()?;
    fwsign_client::init(&dir.0, trusted)?;
    let config = ClientConfig {
        metadata_dir: dir.0.clone(),
        metadata_url: metadata_url.to_owned(),
        now: now(),
    };
    let client = Client::new(config, fetcher, HOST_KEY_TYPES)?;
    Ok((dir, client))
}

/// Finds the SBOM approved with `image` and writes it to `path`
/// (`Client::image_sbom`, then `Client::download_to`, which checks the
/// bytes against the SBOM's entry before writing); returns what `--json`
/// says of it. On any refusal nothing is written.
fn write_sbom<F: Fetcher>(
    client: &mut Client<F>,
    image: &[u8],
    target_base_url: &str,
    path: &Path,
) -> Result<Value, Failure> {
    let nothing_written = |e: fwsign_client::ClientError| {
        let mut failure = Failure::from(e);
        failure.message = format!(
            "--sbom-out {}: nothing written: {}",
            path.display(),
            failure.message
        );
        failure
    };
    let found = client.image_sbom(image).map_err(nothing_written)?;
    client
        .download_to(&found.sbom, target_base_url, path)
        .map_err(nothing_written)?;
    Ok(json!({
        "name": found.sbom.name,
        "path": path.display().to_string(),
        "role": found.sbom.role,
        "length": found.sbom.length,
        "describes": found.firmware.name,
    }))
}

/// [`write_sbom`] with `--repo DIR`: the TUF client reads the repository's
/// published files (`metadata/`, `targets/`) as a client reads them from
/// its server, trusting the repository's first root, with expiry checked
/// (the SBOM returned is one a client would accept today).
fn sbom_from_repo(dir: &Path, image: &[u8], path: &Path) -> Result<Value, Failure> {
    let text = |sub: &str| {
        let joined = dir.join(sub);
        joined.to_str().map(str::to_owned).ok_or_else(|| {
            Failure::usage(format!(
                "{}: --sbom-out needs a repository path in UTF-8",
                joined.display()
            ))
        })
    };
    let (metadata, targets) = (text("metadata")?, text("targets")?);
    let first_root = dir.join("metadata").join("1.root.json");
    let trusted = std::fs::read(&first_root)
        .map_err(|e| Failure::io(format!("{}: {e}", first_root.display())))?;
    let (_dir, mut client) = client_over(&metadata, &trusted, DirFetcher)?;
    write_sbom(&mut client, image, &targets, path)
}

/// Prints the identification of a file (an image, a slot, or a dump's
/// slots), or refuses one that holds no released image.
fn report<M: serde::Serialize>(
    file: &Path,
    slots: &[FoundSlot<'_>],
    results: &[Found<'_, M>],
    searched: &Searched,
    sbom: Option<Value>,
    out: &Output,
) -> Result<(), Failure> {
    // The SBOM written (`--sbom-out`): said after the identification, and
    // in `--json` beside it.
    let with_sbom = |mut document: Value| {
        if let Some(sbom) = &sbom {
            document["sbom"] = sbom.clone();
        }
        document
    };
    let say_sbom = || {
        if let Some(sbom) = &sbom {
            out.say(format!(
                "SBOM {} (approved with {}) written to {}",
                sbom["name"].as_str().unwrap_or_default(),
                sbom["describes"].as_str().unwrap_or_default(),
                sbom["path"].as_str().unwrap_or_default()
            ));
        }
    };
    match (slots, results) {
        ([], [found]) => {
            let document = image_document(file, found, None);
            return report_one(
                file,
                found,
                with_sbom(searched.mark(document)),
                searched,
                &say_sbom,
                out,
            );
        }
        // One slot at the start of the file: a slot `device pack` wrote.
        ([slot], [found]) if slot.offset == 0 => {
            out.say(format!(
                "{}: a firmware slot; identifying its image ({} bytes, sha256 {})",
                file.display(),
                found.length,
                found.sha256
            ));
            let document = image_document(file, found, Some(slot));
            return report_one(
                file,
                found,
                with_sbom(searched.mark(document)),
                searched,
                &say_sbom,
                out,
            );
        }
        _ => {}
    }
    // A flash dump: every slot in it must hold a released image.
    out.say(format!(
        "{}: a flash dump holding {} slot(s)",
        file.display(),
        slots.len()
    ));
    let foreign: Vec<String> = slots
        .iter()
        .zip(results)
        .filter(|(_, found)| !found.released())
        .map(|(slot, _)| format!("{:#x}", slot.offset))
        .collect();
    for (slot, found) in slots.iter().zip(results) {
        out.say(format!(
            "slot at {:#x}: image of {} bytes, sha256 {}",
            slot.offset, found.length, found.sha256
        ));
        if !found.released() {
            out.say("  NOT a released image");
        }
        found.say(out);
    }
    let document = with_sbom(searched.mark(json!({
        "ok": foreign.is_empty(),
        "file": file.display().to_string(),
        "slot": true,
        "dump": true,
        "released": foreign.is_empty(),
        "slots": slots.iter().zip(results).map(|(s, f)| slot_document(s, f)).collect::<Vec<_>>(),
    })));
    if !foreign.is_empty() {
        return Err(Failure::security(format!(
            "{}: the slot(s) at {} hold no released image (searched {})",
            file.display(),
            foreign.join(", "),
            searched.what
        ))
        .with_document(document));
    }
    searched.say_note(out);
    say_sbom();
    out.result(&document);
    Ok(())
}

/// The `--json` document of a file that is one image, or one slot at its
/// start (`slot`).
fn image_document<M: serde::Serialize>(
    file: &Path,
    found: &Found<'_, M>,
    slot: Option<&FoundSlot<'_>>,
) -> Value {
    let mut document = found.document();
    document["ok"] = json!(found.released());
    document["file"] = json!(file.display().to_string());
    document["slot"] = json!(slot.is_some());
    if let Some(slot) = slot {
        document["slots"] = json!([slot_document(slot, found)]);
    }
    document
}

/// Prints one identification, or refuses a file that is no released image.
fn report_one<M: serde::Serialize>(
    file: &Path,
    found: &Found<'_, M>,
    document: Value,
    searched: &Searched,
    say_sbom: &dyn Fn(),
    out: &Output,
) -> Result<(), Failure> {
    if !found.released() {
        return Err(Failure::security(format!(
            "{}: not a released image (sha256 {}, {} bytes, searched {})",
            file.display(),
            found.sha256,
            found.length,
            searched.what
        ))
        .with_document(document));
    }
    found.say(out);
    searched.say_note(out);
    say_sbom();
    out.result(&document);
    Ok(())
}
