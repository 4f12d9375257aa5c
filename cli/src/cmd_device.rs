//! `fwsign device`: slots for the device verifier, and root provisioning.

use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_sign::atomic_write::{Mode, write_atomic};
use fwsign_sign::repo::Repository;
use serde_json::json;

use crate::args::DeviceCommand;
use crate::failure::Failure;
use crate::output::Output;

pub(crate) fn run(cmd: DeviceCommand, out: &Output) -> Result<(), Failure> {
    match cmd {
        DeviceCommand::Pack {
            repo,
            target,
            slot_size,
            header_size,
            from_root_version,
            out: path,
        } => {
            let repository = Repository::open(&repo)?;
            let material = repository.device_material(&target, from_root_version)?;
            let image = std::fs::read(&material.image)
                .map_err(|e| Failure::io(format!("{}: {e}", material.image.display())))?;
            if image.len() as u64 != material.length {
                return Err(Failure::security(format!(
                    "{}: {} bytes, but the metadata lists {}",
                    material.image.display(),
                    image.len(),
                    material.length
                )));
            }
            let slot = build_slot(
                header_size,
                slot_size,
                &image,
                &target,
                &material.roots,
                &material.chain,
            )
            .map_err(Failure::usage)?;
            write_atomic(&path, &slot, Mode::Public)
                .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
            out.say(format!(
                "wrote {} ({} of {slot_size} bytes): header {header_size:#x}, image {} bytes, {} root update(s), chain {}",
                path.display(),
                slot.len(),
                image.len(),
                material.roots.len(),
                material
                    .chain
                    .iter()
                    .map(|(r, _)| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ));
            out.result(&json!({
                "ok": true,
                "slot": path,
                "size": slot.len(),
                "image_size": image.len(),
                "root_updates": material.roots.len(),
                "chain": material.chain.iter().map(|(r, _)| r).collect::<Vec<_>>(),
            }));
            Ok(())
        }
        DeviceCommand::Root { repo, out: path } => {
            let repository = Repository::open(&repo)?;
            let (version, bytes) = repository.published_roots()?.pop().ok_or_else(|| {
                Failure::usage(format!("{}: nothing is published yet", repo.display()))
            })?;
            write_atomic(&path, &bytes, Mode::Public)
                .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
            out.say(format!(
                "wrote root v{version} ({} bytes, canonical JSON) to {}",
                bytes.len(),
                path.display()
            ));
            out.result(
                &json!({"ok": true, "root_version": version, "path": path, "size": bytes.len()}),
            );
            Ok(())
        }
    }
}
