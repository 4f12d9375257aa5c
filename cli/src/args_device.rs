//! `fwsign device ...`: the command line of the device tools.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use fwsign_core::target_check::BootloaderVersion;

use crate::args::parse_size;
use crate::args_client::parse_bootloader_version;

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// Build a firmware slot: header, image, and the metadata the device checks.
    #[command(
        after_help = "Examples:\n  fwsign device pack --repo repo --target evc-a1/fw-1.0.0.bin --slot-size 0x40000 --out slot.bin\n  \
        fwsign device pack --repo repo --target evc-a1/fw-1.0.0.bin --slot-size 0x40000 --pad \\\n    \
        --format ihex --base 0x08040000 --out slot.hex\n\n\
        Layout (docs/device-format.md): a little-endian header padded to --header-size, the image, \
        then a trailer with the root versions after --from-root-version and the targets chain as canonical JSON. \
        With --pad the rest of the slot is filled with the erased value, so the file programs the whole region; \
        --format ihex writes Intel HEX (extended linear address records) at --base for flashing tools."
    )]
    Pack {
        /// The repository (published).
        #[arg(long)]
        repo: PathBuf,
        /// The target name.
        #[arg(long)]
        target: String,
        /// The slot's size in bytes; the result must fit.
        #[arg(long, value_parser = parse_size)]
        slot_size: u32,
        /// Header size: a power of two, at least 0x200 (the image starts aligned).
        #[arg(long, value_parser = parse_size, default_value = "0x400")]
        header_size: u32,
        /// Carry only root versions after this one (the devices' current
        /// root; at most the newest published root). 0 carries every root.
        #[arg(long, default_value_t = 0)]
        from_root_version: u64,
        /// The bootloader's metadata buffer in bytes: the slot's trailer
        /// must fit (docs/device-format.md recommends 16 KiB).
        #[arg(long, value_parser = parse_size, default_value = "0x4000")]
        metadata_buffer: u32,
        /// Fill the slot to --slot-size with the erased value (--erased).
        #[arg(long)]
        pad: bool,
        /// With --pad: the value erased flash reads as (0xff on most NOR flash).
        #[arg(long, value_parser = parse_byte, default_value = "0xff", requires = "pad")]
        erased: u8,
        /// The output format: the raw slot, or Intel HEX at --base.
        #[arg(long, value_enum, default_value = "bin")]
        format: SlotFormat,
        /// With --format ihex: the slot's address in the device's memory
        /// map (decimal or 0x hex); the slot must end below 4 GiB.
        #[arg(long, value_name = "ADDR", value_parser = parse_size, required_if_eq("format", "ihex"))]
        base: Option<u32>,
        /// Where to write the slot image.
        #[arg(long)]
        out: PathBuf,
    },
    /// Export the newest published root (canonical JSON) for provisioning,
    /// and optionally the role-version floors a new device starts from.
    #[command(
        after_help = "Examples:\n  fwsign device root --repo repo --out root.bin --floors-out floors.txt\n  \
        fwsign device root --repo repo --out trusted_root.c --c-array fwsign_trusted_root\n\n\
        Floors (docs/device-format.md): one line per role, `ROLE VERSION`, `targets` first: \
        the published versions a device is manufactured with, so it never accepts an older, \
        validly signed targets role. With --c-array NAME, --out is C source defining \
        `const uint8_t NAME[]` (the root's canonical JSON bytes) and `const size_t NAME_len`."
    )]
    Root {
        /// The repository (published).
        #[arg(long)]
        repo: PathBuf,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// Write the root as C source: an array named NAME (a C identifier)
        /// and NAME_len, for builds that embed the root.
        #[arg(long, value_name = "NAME")]
        c_array: Option<String>,
        /// Also write the role-version floors (`targets`, and with
        /// --floors-all-roles every delegated role) to this file.
        #[arg(long, value_name = "FILE")]
        floors_out: Option<PathBuf>,
        /// Write a floor for every published targets role, not only `targets`.
        #[arg(long, requires = "floors_out")]
        floors_all_roles: bool,
    },
    /// Show a slot's header, trailer entries and image hash, trusting nothing.
    Inspect(InspectArgs),
    /// Run the device verifier on a slot, as a device with these facts would.
    Verify(VerifyArgs),
}

/// The output format of `device pack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SlotFormat {
    /// The slot's bytes.
    Bin,
    /// Intel HEX at --base.
    Ihex,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  fwsign device inspect slot.bin\n  fwsign --json device inspect slot.bin\n\n\
    Reads the slot with the device's own parser and shows what it states: the header, each trailer \
    entry (target name, carried roots, the targets chain with versions, expiry, the key IDs of the \
    signatures and the keys the slot's metadata authorises), the listed target entry and the image's \
    SHA-256 computed here. Nothing is verified: use `fwsign device verify` for the device's decision. \
    A file whose layout the device parser refuses is an error (exit 2) naming the problem."
)]
pub(crate) struct InspectArgs {
    /// The slot file (as `device pack` writes it, padded or not; not Intel HEX).
    pub slot: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  fwsign device verify slot.bin --root root.bin --hardware-id evc-a1 \\\n    \
    --installed-counter 3 --role-version targets=7 --bootloader-version 1.4.0\n\n\
    Runs fwsign-bootloader-verify, the code the device runs, on the slot (its length is the slot size) \
    and prints its decision: `boot`, or `refused` with the reason code of \
    docs/bootloader-integration.md (name and number). Exit 0 when the device would boot the slot, \
    1 when it would refuse it, 2 for a usage error, 3 when a file cannot be read."
)]
pub(crate) struct VerifyArgs {
    /// The slot file (as `device pack` writes it, padded or not; not Intel HEX).
    pub slot: PathBuf,
    /// The device's trusted root: canonical JSON, as `device root` writes it.
    #[arg(long, value_name = "ROOT.bin")]
    pub root: PathBuf,
    /// The device's hardware ID.
    #[arg(long, value_name = "ID")]
    pub hardware_id: String,
    /// The device's installed security counter.
    #[arg(long, value_name = "N")]
    pub installed_counter: u64,
    /// The last accepted version of a targets role (repeatable), as the
    /// device-state store holds it.
    #[arg(long, value_name = "ROLE=V", value_parser = parse_role_version)]
    pub role_version: Vec<(String, u64)>,
    /// The bootloader's own version, X.Y.Z. Without it the device is taken
    /// to run the newest bootloader (min_bootloader_version always met).
    #[arg(long, value_name = "V", value_parser = parse_bootloader_version)]
    pub bootloader_version: Option<BootloaderVersion>,
    /// The bootloader's metadata buffer in bytes (a larger trailer is
    /// refused, METADATA_TOO_LARGE).
    #[arg(long, value_parser = parse_size, default_value = "0x4000")]
    pub metadata_buffer: u32,
}

/// A byte in decimal or `0x` hexadecimal.
fn parse_byte(text: &str) -> Result<u8, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a byte (0..=255, decimal or 0x hex)"))
}

/// Longest role name the device-state store keeps.
pub(crate) const MAX_ROLE_NAME: usize = 63;

/// `--role-version ROLE=V`.
fn parse_role_version(text: &str) -> Result<(String, u64), String> {
    let (role, version) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ROLE=VERSION"))?;
    if role.is_empty() || role.len() > MAX_ROLE_NAME {
        return Err(format!(
            "{text:?}: the role name must be 1 to {MAX_ROLE_NAME} bytes"
        ));
    }
    let version = version
        .parse()
        .map_err(|_| format!("{text:?}: {version:?} is not a version number"))?;
    Ok((role.to_owned(), version))
}
