//! Describing a slot without trusting it (`fwsign device inspect`).
//!
//! The layout is read with the device's own parser ([`Header::parse`] and
//! [`slot::entries`]), so what is shown is what a device would read; the
//! metadata in the trailer with the verification core's readers
//! ([`Envelope`], [`RootView`], [`TargetsView`]), without checking a
//! signature, a threshold, a version or an expiry. A layout the device
//! parser refuses is an [`InspectError`] naming the problem; metadata that
//! does not read is reported in its entry, so a tampered slot still shows.

use std::string::String;
use std::vec::Vec;

use fwsign_core::verify::{Envelope, RoleKeys, RootView, TargetEntry, TargetsView};
use fwsign_manifest_schema::reader::{Json, JsonStr};

use crate::hash_engine::{Sha256Engine, SoftwareSha256};
use crate::slot::{self, EntryKind, FORMAT_VERSION, HEADER_LEN, Header, LayoutError};

/// What a slot holds, as read; nothing in it is verified.
#[derive(Debug, Clone)]
pub struct SlotReport<'s> {
    /// The file's length.
    pub file_size: usize,
    /// The header's fields.
    pub header: Header,
    /// The image bytes.
    pub image: &'s [u8],
    /// The image's SHA-256, computed here.
    pub image_sha256: [u8; 32],
    /// Where the trailer starts.
    pub trailer_offset: u32,
    /// The trailer's entries, in order.
    pub entries: Vec<EntryReport>,
    /// Bytes after the trailer (the rest of the flash region).
    pub unused: usize,
    /// The value every unused byte has, when they are all the same (the
    /// erased value of a padded slot).
    pub unused_fill: Option<u8>,
}

/// One trailer entry.
#[derive(Debug, Clone)]
pub struct EntryReport {
    /// What it holds.
    pub kind: EntryKind,
    /// Its name (the target name, or a role name; empty for roots), lossily
    /// decoded as UTF-8.
    pub name: String,
    /// Bytes of its data.
    pub size: usize,
    /// For roots and targets roles: the metadata as read, or why it does
    /// not read.
    pub metadata: Option<Result<MetadataReport, String>>,
}

/// A root or targets role envelope, as read (unverified).
#[derive(Debug, Clone)]
pub struct MetadataReport {
    /// `signed.version`.
    pub version: u64,
    /// `signed.expires` (`YYYY-MM-DDTHH:MM:SSZ`).
    pub expires: Option<String>,
    /// The key IDs of the signatures the envelope carries (none checked).
    pub signature_keyids: Vec<String>,
    /// The keys and threshold the slot's metadata authorises for this role,
    /// when the slot carries its delegator: a root's own `root` role, the
    /// newest carried root's `targets` role, or the chain's previous role's
    /// delegation.
    pub authorised: Option<Authorised>,
    /// This role's entry for the slot's target name, when it lists it.
    pub target: Option<TargetReport>,
}

/// Who may sign a role, as the slot's metadata says (unverified).
#[derive(Debug, Clone)]
pub struct Authorised {
    /// Where it is listed (`root v2`, `targets v3`).
    pub by: String,
    /// The threshold.
    pub threshold: u64,
    /// The authorised key IDs.
    pub keyids: Vec<String>,
}

/// A target entry, as listed (unverified).
#[derive(Debug, Clone)]
pub struct TargetReport {
    /// The listed length.
    pub length: u64,
    /// The listed SHA-256 (hex), if any.
    pub sha256: Option<String>,
    /// `custom.fwsign.version`.
    pub version: Option<String>,
    /// `custom.fwsign.security_counter`.
    pub security_counter: Option<u64>,
    /// `custom.fwsign.hardware_ids`.
    pub hardware_ids: Vec<String>,
    /// `custom.fwsign.min_bootloader_version`.
    pub min_bootloader_version: Option<String>,
}

/// Why a slot's layout cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectError {
    /// The device parser's refusal (what a device would refuse it for).
    pub layout: LayoutError,
    /// What is wrong, in words, with the numbers.
    pub detail: String,
}

impl core::fmt::Display for InspectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for InspectError {}

fn le32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_le_bytes)
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    bytes
        .get(at..at.saturating_add(2))
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map_or(0, u16::from_le_bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| std::format!("{b:02x}")).collect()
}

fn text(s: JsonStr<'_>) -> String {
    String::from_utf8_lossy(&s.bytes().collect::<Vec<u8>>()).into_owned()
}

fn strings(array: Json<'_>) -> Vec<String> {
    array
        .items()
        .map(|item| item.as_str().map_or_else(|| "(not a string)".into(), text))
        .collect()
}

fn fail(layout: LayoutError, detail: String) -> InspectError {
    InspectError { layout, detail }
}

/// Why the device parser refuses the header, with the numbers.
fn header_problem(bytes: &[u8], e: LayoutError) -> InspectError {
    let (header_size, image_size, trailer_size) =
        (le32(bytes, 8), le32(bytes, 12), le32(bytes, 16));
    let detail = match e {
        LayoutError::HeaderMagic if bytes.first() == Some(&b':') => std::format!(
            "no slot header: the file starts with {:?}, not \"FWSG\" (Intel HEX? give the binary slot)",
            String::from_utf8_lossy(bytes.get(..9).unwrap_or(bytes))
        ),
        LayoutError::HeaderMagic => std::format!(
            "no slot header: the file starts with {}, not \"FWSG\" (an erased, empty or foreign file)",
            hex(bytes.get(..4).unwrap_or(bytes))
        ),
        LayoutError::Format => std::format!(
            "slot format {}; this fwsign reads format {FORMAT_VERSION}",
            le16(bytes, 4)
        ),
        LayoutError::HeaderSize => std::format!(
            "header size {header_size:#x} is not a power of two of at least {:#x}",
            slot::MIN_HEADER_SIZE
        ),
        _ if (trailer_size as usize) < slot::TRAILER_PREFIX_LEN => std::format!(
            "trailer size {trailer_size} is smaller than the trailer's {}-byte prefix",
            slot::TRAILER_PREFIX_LEN
        ),
        _ => std::format!(
            "header {header_size:#x} + image {image_size} + trailer {trailer_size} bytes = {} bytes, but the file is {} bytes (truncated, or not a slot)",
            u64::from(header_size) + u64::from(image_size) + u64::from(trailer_size),
            bytes.len()
        ),
    };
    fail(e, detail)
}

/// Reads `bytes` (a whole slot file) with the device's parser and describes
/// it. Nothing is verified: signatures, thresholds, versions, expiry and
/// the image hash are shown as the slot states them.
pub fn inspect(bytes: &[u8]) -> Result<SlotReport<'_>, InspectError> {
    if bytes.len() < HEADER_LEN {
        return Err(fail(
            LayoutError::Bounds,
            std::format!(
                "the file is {} bytes, shorter than the {HEADER_LEN}-byte slot header (truncated?)",
                bytes.len()
            ),
        ));
    }
    let slot_size = u32::try_from(bytes.len()).map_err(|_| {
        fail(
            LayoutError::Bounds,
            std::format!("the file is {} bytes; a slot is at most 4 GiB", bytes.len()),
        )
    })?;
    let header = Header::parse(bytes, slot_size).map_err(|e| header_problem(bytes, e))?;
    let start = header.header_size as usize;
    let trailer_offset = header.trailer_offset();
    let end = trailer_offset as usize + header.trailer_size as usize;
    // `Header::parse` checked that header, image and trailer fit the file.
    let image = bytes
        .get(start..trailer_offset as usize)
        .ok_or_else(|| header_problem(bytes, LayoutError::Bounds))?;
    let trailer = bytes
        .get(trailer_offset as usize..end)
        .ok_or_else(|| header_problem(bytes, LayoutError::Bounds))?;
    let list = slot::entries(trailer).map_err(|e| {
        let detail = if trailer.get(..4) != Some(&slot::TRAILER_MAGIC[..]) {
            std::format!(
                "no trailer at offset {trailer_offset:#x} (header {:#x} + image {}): it starts with {}, not \"FWST\"",
                header.header_size,
                header.image_size,
                hex(trailer.get(..4).unwrap_or(trailer))
            )
        } else {
            std::format!(
                "the trailer at offset {trailer_offset:#x} says it is {} bytes, the header {}",
                le32(trailer, 4),
                header.trailer_size
            )
        };
        fail(e, detail)
    })?;
    let count = le16(trailer, 8);
    let mut entries = Vec::new();
    let mut target_name: &[u8] = b"";
    let mut newest_root: Option<&[u8]> = None;
    let mut previous: Option<(&[u8], &[u8])> = None;
    for (i, entry) in (1u32..).zip(list) {
        let entry = entry.map_err(|e| {
            fail(
                e,
                std::format!(
                    "trailer entry {i} of {count} (trailer at offset {trailer_offset:#x}) is malformed: an unknown kind, or it runs past the trailer's {} bytes",
                    header.trailer_size
                ),
            )
        })?;
        let metadata = match entry.kind {
            EntryKind::TargetName => {
                target_name = entry.name;
                None
            }
            EntryKind::Root => {
                let report = root_report(entry.data);
                newest_root = Some(entry.data);
                Some(report)
            }
            EntryKind::Targets => {
                let report =
                    targets_report(entry.name, entry.data, target_name, newest_root, previous);
                previous = Some((entry.name, entry.data));
                Some(report)
            }
        };
        entries.push(EntryReport {
            kind: entry.kind,
            name: String::from_utf8_lossy(entry.name).into_owned(),
            size: entry.data.len(),
            metadata,
        });
    }
    let rest = bytes.get(end..).unwrap_or_default();
    let unused_fill = match rest.first() {
        Some(&first) if rest.iter().all(|b| *b == first) => Some(first),
        _ => None,
    };
    let mut sha = SoftwareSha256::default();
    sha.start();
    sha.update(image);
    Ok(SlotReport {
        file_size: bytes.len(),
        header,
        image,
        image_sha256: sha.finish(),
        trailer_offset,
        entries,
        unused: rest.len(),
        unused_fill,
    })
}

fn common(envelope: &Envelope<'_>, version: u64, expires: Option<String>) -> MetadataReport {
    MetadataReport {
        version,
        expires,
        signature_keyids: envelope
            .signatures()
            .items()
            .map(|s| {
                s.get("keyid")
                    .and_then(|k| k.as_str())
                    .map_or_else(|| "(no keyid)".into(), text)
            })
            .collect(),
        authorised: None,
        target: None,
    }
}

fn authorised(by: String, keys: RoleKeys<'_>) -> Authorised {
    Authorised {
        by,
        threshold: keys.threshold,
        keyids: strings(keys.keyids),
    }
}

fn root_report(data: &[u8]) -> Result<MetadataReport, String> {
    let envelope = Envelope::parse(data).map_err(|e| std::format!("{e}"))?;
    let root = RootView::new(envelope).map_err(|e| std::format!("{e}"))?;
    let c = root.common();
    let mut report = common(&envelope, c.version, c.expires.to_expires());
    report.authorised = root
        .role("root")
        .ok()
        .map(|keys| authorised(std::format!("root v{} itself", c.version), keys));
    Ok(report)
}

fn targets_report(
    name: &[u8],
    data: &[u8],
    target: &[u8],
    newest_root: Option<&[u8]>,
    previous: Option<(&[u8], &[u8])>,
) -> Result<MetadataReport, String> {
    let envelope = Envelope::parse(data).map_err(|e| std::format!("{e}"))?;
    let view = TargetsView::new(envelope).map_err(|e| std::format!("{e}"))?;
    let c = view.common();
    let mut report = common(&envelope, c.version, c.expires.to_expires());
    report.authorised = match previous {
        // Top-level `targets`: the newest root the slot carries lists its keys.
        None if name == b"targets" => newest_root
            .and_then(|r| Envelope::parse(r).ok())
            .and_then(|e| RootView::new(e).ok())
            .and_then(|root| {
                let by = std::format!("root v{}", root.common().version);
                root.role("targets").ok().map(|keys| authorised(by, keys))
            }),
        None => None,
        Some((delegator, bytes)) => Envelope::parse(bytes)
            .ok()
            .and_then(|e| TargetsView::new(e).ok())
            .and_then(|parent| {
                let by = std::format!(
                    "{} v{}",
                    String::from_utf8_lossy(delegator),
                    parent.common().version
                );
                let keys = parent.delegated_role(name)?.keys().ok()?;
                Some(authorised(by, keys))
            }),
    };
    report.target = match view.target(target) {
        Ok(Some(entry)) => Some(target_report(&entry)),
        _ => None,
    };
    Ok(report)
}

fn target_report(entry: &TargetEntry<'_>) -> TargetReport {
    let fw = entry.firmware;
    TargetReport {
        length: entry.length,
        sha256: entry.sha256.map(text),
        version: fw.map(|f| text(f.version)),
        security_counter: fw.map(|f| f.security_counter),
        hardware_ids: fw.map(|f| strings(f.hardware_ids)).unwrap_or_default(),
        min_bootloader_version: fw.and_then(|f| f.min_bootloader_version).map(text),
    }
}
