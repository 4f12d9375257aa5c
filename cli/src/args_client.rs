//! The arguments of the consumer-side commands: `fwsign client` and
//! `fwsign bundle`, with the device's facts both check a target against.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use fwsign_core::target_check::BootloaderVersion;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  fwsign client --metadata-dir state init root.json\n  \
    fwsign client --metadata-url https://updates.example.com/metadata/ --metadata-dir state refresh\n  \
    fwsign client --metadata-url URL --metadata-dir state --target-name evc-a1/fw.bin \\\n    \
    --target-dir downloads --target-base-url https://updates.example.com/targets/ download --hardware-id evc-a1 --installed-counter 3 \\\n    \
    --bootloader-version 2.1.0\n\n\
    Exit codes: 0 success, 1 any failure."
)]
pub(crate) struct ClientArgs {
    /// Local metadata directory (trusted state).
    #[arg(long)]
    pub metadata_dir: PathBuf,
    /// Base URL of the repository's metadata.
    #[arg(long)]
    pub metadata_url: Option<String>,
    /// A target to download; repeat for several.
    #[arg(long = "target-name", value_name = "NAME")]
    pub target_names: Vec<String>,
    /// Where downloaded targets are written.
    #[arg(long)]
    pub target_dir: Option<PathBuf>,
    /// Base URL of the repository's targets.
    #[arg(long)]
    pub target_base_url: Option<String>,
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Store the trusted root; makes no network request.
    Init {
        /// The trusted root metadata file.
        trusted_root: PathBuf,
    },
    /// Run the TUF client workflow: root, timestamp, snapshot, targets.
    Refresh,
    /// Refresh, then download and verify each --target-name.
    Download {
        #[command(flatten)]
        device: DeviceArgs,
        /// Also download each target's SBOM (the target its signed entry
        /// names, `repo add --sbom`), checked against the SHA-256 the
        /// target's approvers signed, beside the image.
        #[arg(long)]
        with_sbom: bool,
    },
}

/// The device's facts a target is checked against (`client download`,
/// `bundle verify`).
#[derive(Debug, Args)]
pub(crate) struct DeviceArgs {
    /// This device's hardware ID: refuse targets whose firmware fields do
    /// not list it.
    #[arg(long)]
    pub(crate) hardware_id: Option<String>,
    /// This device's installed security counter: refuse targets whose
    /// security counter is below it (anti-rollback).
    #[arg(long)]
    pub(crate) installed_counter: Option<u64>,
    /// This device's bootloader version (X.Y.Z): refuse targets whose
    /// min_bootloader_version is newer. Without it, a target that sets
    /// min_bootloader_version is refused.
    #[arg(long, value_name = "X.Y.Z", value_parser = parse_bootloader_version)]
    pub(crate) bootloader_version: Option<BootloaderVersion>,
}

/// `--bootloader-version`: three numbers and nothing else. A prerelease
/// would compare as its release, so it is refused rather than misread.
pub(crate) fn parse_bootloader_version(text: &str) -> Result<BootloaderVersion, String> {
    let plain = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    BootloaderVersion::parse_core(text.as_bytes())
        .filter(|_| plain)
        .ok_or_else(|| format!("{text:?} is not a version X.Y.Z (three numbers, no prerelease)"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Package a published target with the metadata that proves it.
    #[command(
        after_help = "Example:\n  fwsign bundle create repo --target board-a/fw-1.0.0.bin --out update.zip"
    )]
    Create {
        /// The repository.
        dir: PathBuf,
        /// The target name.
        #[arg(long)]
        target: String,
        /// The bundle to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a bundle as a device would, from a trusted root.
    #[command(
        after_help = "Example:\n  fwsign bundle verify update.zip --root 1.root.json --hardware-id evc-a1 --installed-counter 2 \\\n    \
        --bootloader-version 2.1.0"
    )]
    Verify {
        /// The bundle.
        bundle: PathBuf,
        /// The trusted root metadata.
        #[arg(long)]
        root: PathBuf,
        #[command(flatten)]
        device: DeviceArgs,
        /// Check expiry at this time (YYYY-MM-DDTHH:MM:SSZ; default now).
        #[arg(long)]
        at: Option<String>,
        /// Refuse an expired timestamp or snapshot too.
        #[arg(long)]
        require_fresh: bool,
        /// Write the verified image into this directory.
        #[arg(long)]
        extract_to: Option<PathBuf>,
    },
}
