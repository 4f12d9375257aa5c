//! `fwsign device`: slots for the device verifier, and root provisioning.

use fwsign_bootloader_verify::slot::Header;
use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_bootloader_verify::{MAX_CHAIN, MAX_KEYS_PER_ROLE};
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_repo::lock::LockKind;
use fwsign_repo::{DeviceCapacity, Repository};
use serde_json::json;

use crate::args::DeviceCommand;
use crate::cmd_repo::lock;
use crate::failure::Failure;
use crate::output::Output;

/// Most roles the device-state store keeps (`FWSIGN_MAX_ACCEPTED`, and the
/// store's role count in docs/device-format.md).
const MAX_FLOORS: usize = 32;
/// Longest role name the device-state store keeps.
const MAX_FLOOR_NAME: usize = 63;

/// The floors file: one `ROLE VERSION` line per role, `targets` first
/// (role names in fwsign repositories are `[A-Za-z0-9._-]+`, so a space
/// separates them unambiguously).
fn floors_text(floors: &[(String, u64)]) -> String {
    floors
        .iter()
        .map(|(role, version)| format!("{role} {version}\n"))
        .collect()
}

pub(crate) fn run(cmd: DeviceCommand, out: &Output) -> Result<(), Failure> {
    match cmd {
        DeviceCommand::Pack {
            repo,
            target,
            slot_size,
            header_size,
            from_root_version,
            metadata_buffer,
            out: path,
        } => {
            let repository = Repository::open(&repo)?;
            let _lock = lock(&repository, LockKind::Shared, "device pack", out)?;
            let material = repository.device_material(&target, from_root_version)?;
            let image = material.read_image()?;
            let slot = build_slot(
                header_size,
                slot_size,
                &image,
                &target,
                &material.roots,
                &material.chain,
            )
            .map_err(Failure::usage)?;
            let trailer_size = Header::parse(&slot, slot_size)
                .map(|h| h.trailer_size as usize)
                .map_err(|e| {
                    Failure::usage(format!("the slot just built does not parse: {e:?}"))
                })?;
            let capacity = DeviceCapacity {
                max_chain: MAX_CHAIN,
                max_keys_per_role: MAX_KEYS_PER_ROLE,
                metadata_buffer: metadata_buffer as usize,
            };
            material.check_capacity(&target, &capacity, trailer_size)?;
            write_atomic(&path, &slot, Mode::Public)
                .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
            out.say(format!(
                "wrote {} ({} of {slot_size} bytes): header {header_size:#x}, image {} bytes, {} root update(s), chain {}, trailer {trailer_size} bytes",
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
                "trailer_size": trailer_size,
                "root_updates": material.roots.len(),
                "chain": material.chain.iter().map(|(r, _)| r).collect::<Vec<_>>(),
            }));
            Ok(())
        }
        DeviceCommand::Root {
            repo,
            out: path,
            floors_out,
            floors_all_roles,
        } => {
            let repository = Repository::open(&repo)?;
            let _lock = lock(&repository, LockKind::Shared, "device root", out)?;
            // One verified load for the root and the floors alike.
            let nothing =
                || Failure::usage(format!("{}: nothing is published yet", repo.display()));
            let published = repository.published()?.ok_or_else(nothing)?;
            let (version, bytes) = published.canonical_roots(0)?.pop().ok_or_else(nothing)?;
            let floors = match &floors_out {
                None => Vec::new(),
                Some(_) if published.snapshot.is_none() => return Err(nothing()),
                Some(_) => {
                    let mut floors = published.role_versions();
                    if !floors_all_roles {
                        floors.retain(|(role, _)| role == "targets");
                    }
                    if floors.len() > MAX_FLOORS {
                        return Err(Failure::usage(format!(
                            "{} published targets roles, and the device-state store keeps at most {MAX_FLOORS} role versions; leave out --floors-all-roles",
                            floors.len()
                        )));
                    }
                    if let Some((role, _)) =
                        floors.iter().find(|(role, _)| role.len() > MAX_FLOOR_NAME)
                    {
                        return Err(Failure::usage(format!(
                            "role {role}: the device-state store keeps names of at most {MAX_FLOOR_NAME} bytes"
                        )));
                    }
                    floors
                }
            };
            write_atomic(&path, &bytes, Mode::Public)
                .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
            out.say(format!(
                "wrote root v{version} ({} bytes, canonical JSON) to {}",
                bytes.len(),
                path.display()
            ));
            if let Some(floors_path) = &floors_out {
                write_atomic(floors_path, floors_text(&floors).as_bytes(), Mode::Public)
                    .map_err(|e| Failure::io(format!("{}: {e}", floors_path.display())))?;
                out.say(format!(
                    "wrote role-version floors to {}: {}",
                    floors_path.display(),
                    floors
                        .iter()
                        .map(|(role, v)| format!("{role} v{v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            out.result(&json!({
                "ok": true,
                "root_version": version,
                "path": path,
                "size": bytes.len(),
                "floors_path": floors_out,
                "floors": floors
                    .iter()
                    .map(|(role, version)| json!({"role": role, "version": version}))
                    .collect::<Vec<_>>(),
            }));
            Ok(())
        }
    }
}
