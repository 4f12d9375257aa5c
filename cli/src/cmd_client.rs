//! `fwsign client`: the TUF client contract. Every failure is exit 1.

use fwsign_client::{Client, ClientConfig, HttpFetcher};
use fwsign_core::target_check::DeviceFacts;
use fwsign_keys::rsa_pss::HOST_KEY_TYPES;
use serde_json::json;

use crate::args::{ClientArgs, ClientCommand, DeviceArgs};
use crate::failure::Failure;
use crate::now;
use crate::output::Output;

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::security(e)
}

pub(crate) fn run(args: ClientArgs, out: &Output) -> Result<(), Failure> {
    match &args.command {
        ClientCommand::Init { trusted_root } => {
            let bytes = std::fs::read(trusted_root)
                .map_err(|e| fail(format!("{}: {e}", trusted_root.display())))?;
            fwsign_client::init(&args.metadata_dir, &bytes).map_err(fail)?;
            out.say(format!(
                "trusted root stored in {}",
                args.metadata_dir.join("root.json").display()
            ));
            out.result(&json!({"ok": true}));
            Ok(())
        }
        ClientCommand::Refresh => {
            let mut client = open(&args)?;
            client.refresh().map_err(fail)?;
            report_versions(&client, out);
            Ok(())
        }
        ClientCommand::Download {
            device:
                DeviceArgs {
                    hardware_id,
                    installed_counter,
                    bootloader_version,
                },
            with_sbom,
        } => {
            let target_dir = args
                .target_dir
                .clone()
                .ok_or_else(|| fail("download needs --target-dir"))?;
            let base = args
                .target_base_url
                .clone()
                .ok_or_else(|| fail("download needs --target-base-url"))?;
            if args.target_names.is_empty() {
                return Err(fail("download needs at least one --target-name"));
            }
            // Names that would not be files of their own in the target
            // directory are refused before anything is read or written.
            for name in &args.target_names {
                fwsign_client::check_target_name(name).map_err(fail)?;
            }
            let facts = DeviceFacts {
                hardware_id: hardware_id.as_deref().map(str::as_bytes),
                installed_counter: *installed_counter,
                bootloader_version: *bootloader_version,
            };
            let mut client = open(&args)?;
            client.refresh().map_err(fail)?;
            let mut downloaded = Vec::new();
            for name in &args.target_names {
                let info = client.find_target(name).map_err(fail)?;
                info.check_device(&facts).map_err(Failure::from)?;
                let path = client.download(&info, &target_dir, &base).map_err(fail)?;
                out.say(format!(
                    "{name} -> {} (listed by {})",
                    path.display(),
                    info.role
                ));
                let mut item =
                    json!({"name": name, "path": path, "role": info.role, "length": info.length});
                if *with_sbom {
                    // The SBOM is no image: the device facts apply to the
                    // firmware above, not to it.
                    let sbom = client.find_sbom(&info).map_err(fail)?;
                    let sbom_path = client.download(&sbom, &target_dir, &base).map_err(fail)?;
                    out.say(format!(
                        "{} -> {} (SBOM of {name}, listed by {})",
                        sbom.name,
                        sbom_path.display(),
                        sbom.role
                    ));
                    item["sbom"] = json!({"name": sbom.name, "path": sbom_path, "role": sbom.role, "length": sbom.length});
                }
                downloaded.push(item);
            }
            out.result(&json!({"ok": true, "downloaded": downloaded}));
            Ok(())
        }
    }
}

fn open(args: &ClientArgs) -> Result<Client<HttpFetcher>, Failure> {
    let metadata_url = args
        .metadata_url
        .clone()
        .ok_or_else(|| fail("--metadata-url is required"))?;
    let config = ClientConfig {
        metadata_dir: args.metadata_dir.clone(),
        metadata_url,
        now: now(),
    };
    Client::new(config, HttpFetcher::new(), HOST_KEY_TYPES).map_err(fail)
}

fn report_versions(client: &Client<HttpFetcher>, out: &Output) {
    let trusted = client.trusted();
    let root = trusted.root().common().version;
    let timestamp = trusted.timestamp().map(|t| t.version);
    let snapshot = trusted.snapshot().map(|s| s.version);
    let targets = trusted.targets("targets").map(|t| t.common().version);
    out.say(format!(
        "trusted: root v{root}, timestamp v{}, snapshot v{}, targets v{}",
        timestamp.unwrap_or(0),
        snapshot.unwrap_or(0),
        targets.unwrap_or(0)
    ));
    out.result(&json!({"ok": true, "root": root, "timestamp": timestamp, "snapshot": snapshot, "targets": targets}));
}
