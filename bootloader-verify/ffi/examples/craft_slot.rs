//! Crafts attack slots from a slot `fwsign device pack` wrote, for the
//! device tests (`scripts/test-device`). The release tooling refuses to make
//! these, so this does it by hand, with the release library's own signing:
//!
//! ```text
//! craft_slot drop-signature IN OUT --role ROLE
//!     ROLE's envelope loses its last signature (one approval of two).
//! craft_slot list-elsewhere IN OUT --role ROLE --name NAME --key KEY.pem...
//!     ROLE lists the slot's image again under NAME and is re-signed with
//!     its own keys; the slot names NAME (a delegated role signing a path
//!     outside its delegation, or, issue 12, a weak role signing a name the
//!     ordered search answers from another role).
//! craft_slot append-role IN OUT --from SLOT --role ROLE
//!     the slot's chain goes on with ROLE's envelope as SLOT carries it (a
//!     chain longer than the search's visit).
//! craft_slot add-root IN OUT --root ROOT.json
//!     the slot also carries ROOT (canonical JSON, as `fwsign device root`
//!     writes it) after its own roots: an old release presented with a newer
//!     root that rotated one of its approvers out.
//! ```

#![allow(
    clippy::print_stderr,
    reason = "a command-line tool reports its errors"
)]

use std::error::Error;
use std::path::PathBuf;

use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_bootloader_verify::slot::{self, EntryKind, HEADER_LEN, Header};
use fwsign_keys::PrivateKey;
use fwsign_keys::document::sign;
use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::metadata::{Signed, Targets};
use fwsign_manifest_schema::parse::parse_json;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// A slot taken apart.
struct Parts {
    header_size: u32,
    image: Vec<u8>,
    target: String,
    roots: Vec<Vec<u8>>,
    chain: Vec<(String, Vec<u8>)>,
}

fn parse(bytes: &[u8]) -> Result<Parts> {
    let head = bytes
        .get(..HEADER_LEN)
        .ok_or("slot shorter than its header")?;
    let header = Header::parse(head, u32::try_from(bytes.len())?)
        .map_err(|e| format!("slot header: {e:?}"))?;
    let image_start = header.header_size as usize;
    let trailer_start = header.trailer_offset() as usize;
    let image = bytes
        .get(image_start..trailer_start)
        .ok_or("image out of bounds")?
        .to_vec();
    let trailer = bytes
        .get(trailer_start..trailer_start + header.trailer_size as usize)
        .ok_or("trailer out of bounds")?;
    let mut parts = Parts {
        header_size: header.header_size,
        image,
        target: String::new(),
        roots: Vec::new(),
        chain: Vec::new(),
    };
    for entry in slot::entries(trailer).map_err(|e| format!("trailer: {e:?}"))? {
        let entry = entry.map_err(|e| format!("trailer entry: {e:?}"))?;
        let name = String::from_utf8(entry.name.to_vec())?;
        match entry.kind {
            EntryKind::TargetName => parts.target = name,
            EntryKind::Root => parts.roots.push(entry.data.to_vec()),
            EntryKind::Targets => parts.chain.push((name, entry.data.to_vec())),
        }
    }
    Ok(parts)
}

fn role_mut<'a>(parts: &'a mut Parts, role: &str) -> Result<&'a mut Vec<u8>> {
    parts
        .chain
        .iter_mut()
        .find(|(r, _)| r == role)
        .map(|(_, envelope)| envelope)
        .ok_or_else(|| format!("the slot's chain has no role {role}").into())
}

fn drop_signature(parts: &mut Parts, role: &str) -> Result<()> {
    let envelope = role_mut(parts, role)?;
    let mut value = parse_json(envelope)?;
    let signatures = value["signatures"]
        .as_array_mut()
        .ok_or("envelope without signatures")?;
    signatures.pop().ok_or("no signature to drop")?;
    *envelope = to_canonical_vec(&value)?;
    Ok(())
}

fn list_elsewhere(parts: &mut Parts, role: &str, name: &str, keys: &[PathBuf]) -> Result<()> {
    let target = parts.target.clone();
    let envelope = role_mut(parts, role)?;
    let mut doc = Signed::<Targets>::from_json_slice(envelope)?;
    let entry = doc
        .signed
        .targets
        .get(&target)
        .cloned()
        .ok_or_else(|| format!("{role} does not list {target}"))?;
    doc.signed.targets.insert(name.to_owned(), entry);
    doc.signatures.clear();
    for path in keys {
        let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let key = PrivateKey::from_pkcs8_pem(&pem, None)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        sign(&mut doc, &key)?;
    }
    *envelope = doc.to_canonical_json()?;
    parts.target = name.to_owned();
    Ok(())
}

fn append_role(parts: &mut Parts, from: &Parts, role: &str) -> Result<()> {
    let envelope = from
        .chain
        .iter()
        .find(|(r, _)| r == role)
        .map(|(_, envelope)| envelope.clone())
        .ok_or_else(|| format!("the --from slot's chain has no role {role}"))?;
    parts.chain.push((role.to_owned(), envelope));
    Ok(())
}

fn run(args: &[String]) -> Result<()> {
    let [command, input, output, rest @ ..] = args else {
        return Err("usage: craft_slot drop-signature|list-elsewhere|add-root|append-role IN OUT [--role ROLE] [--name NAME --key KEY.pem...] [--root ROOT.json] [--from SLOT]".into());
    };
    let mut role = None;
    let mut name = None;
    let mut new_root = None;
    let mut from = None;
    let mut keys = Vec::new();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--role" => role = Some(value.clone()),
            "--name" => name = Some(value.clone()),
            "--key" => keys.push(PathBuf::from(value)),
            "--root" => new_root = Some(PathBuf::from(value)),
            "--from" => from = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    let bytes = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let mut parts = parse(&bytes)?;
    let role = || role.clone().ok_or("--role is required");
    match command.as_str() {
        "drop-signature" => drop_signature(&mut parts, &role()?)?,
        "add-root" => {
            let path = new_root.ok_or("--root is required")?;
            let root = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            parts.roots.push(root);
        }
        "list-elsewhere" => {
            let name = name.ok_or("--name is required")?;
            if keys.is_empty() {
                return Err("--key is required".into());
            }
            list_elsewhere(&mut parts, &role()?, &name, &keys)?;
        }
        "append-role" => {
            let path = from.ok_or("--from is required")?;
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            append_role(&mut parts, &parse(&bytes)?, &role()?)?;
        }
        other => return Err(format!("unknown command {other}").into()),
    }
    let slot = build_slot(
        parts.header_size,
        u32::MAX,
        &parts.image,
        &parts.target,
        &parts.roots,
        &parts.chain,
    )?;
    std::fs::write(output, slot).map_err(|e| format!("{output}: {e}"))?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("craft_slot: {e}");
        std::process::exit(2);
    }
}
