//! `fwsign device`: slots for the device verifier, and root provisioning.

use fwsign_bootloader_verify::host::encode;
use fwsign_bootloader_verify::slot::Header;
use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_bootloader_verify::{MAX_CHAIN, MAX_KEYS_PER_ROLE};
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_repo::lock::LockKind;
use fwsign_repo::{DeviceCapacity, Repository};
use serde_json::json;

use crate::args::DeviceCommand;
use crate::args_device::SlotFormat;
use crate::cmd_repo::lock;
use crate::failure::Failure;
use crate::output::Output;

/// Most roles the device-state store keeps (`FWSIGN_MAX_ACCEPTED`, and the
/// store's role count in docs/device-format.md).
pub(crate) const MAX_FLOORS: usize = 32;
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
            pad,
            erased,
            format,
            base,
            out: path,
        } => {
            if format == SlotFormat::Bin && base.is_some() {
                return Err(Failure::usage(
                    "--base is the load address of Intel HEX: give it with --format ihex",
                ));
            }
            let repository = Repository::open(&repo)?;
            let _lock = lock(&repository, LockKind::Shared, "device pack", out)?;
            let material = repository.device_material(&target, from_root_version)?;
            let image = material.read_image()?;
            let mut slot = build_slot(
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
            let used = slot.len();
            if pad {
                encode::pad(&mut slot, slot_size, erased).map_err(Failure::usage)?;
            }
            let file = match (format, base) {
                (SlotFormat::Ihex, Some(base)) => encode::intel_hex(&slot, base)
                    .map_err(Failure::usage)?
                    .into_bytes(),
                _ => slot,
            };
            write_atomic(&path, &file, Mode::Public)
                .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
            let padded = if pad {
                format!(", padded with {erased:#04x} to {slot_size} bytes")
            } else {
                String::new()
            };
            let as_hex = match base {
                Some(base) if format == SlotFormat::Ihex => {
                    format!(", as Intel HEX at {base:#010x}")
                }
                _ => String::new(),
            };
            out.say(format!(
                "wrote {} ({used} of {slot_size} bytes{padded}{as_hex}): header {header_size:#x}, image {} bytes, {} root update(s), chain {}, trailer {trailer_size} bytes",
                path.display(),
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
                "size": used,
                "file_size": file.len(),
                "padded": pad,
                "erased": pad.then_some(erased),
                "format": if format == SlotFormat::Ihex { "ihex" } else { "bin" },
                "base": base,
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
            c_array,
            floors_out,
            floors_all_roles,
        } => {
            if let Some(name) = &c_array
                && !encode::is_c_identifier(name)
            {
                return Err(Failure::usage(encode::EncodeError::CName(name.clone())));
            }
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
            let file = match &c_array {
                Some(name) => encode::c_array(
                    name,
                    &bytes,
                    &format!(
                        "The trusted root: root v{version}, {} bytes of canonical JSON.",
                        bytes.len()
                    ),
                )
                .map_err(Failure::usage)?
                .into_bytes(),
                None => bytes.clone(),
            };
            write_atomic(&path, &file, Mode::Public)
                .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
            out.say(format!(
                "wrote root v{version} ({} bytes, canonical JSON{}) to {}",
                bytes.len(),
                c_array
                    .as_ref()
                    .map(|name| format!(", as the C array {name}"))
                    .unwrap_or_default(),
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
                "c_array": c_array,
                "size": bytes.len(),
                "floors_path": floors_out,
                "floors": floors
                    .iter()
                    .map(|(role, version)| json!({"role": role, "version": version}))
                    .collect::<Vec<_>>(),
            }));
            Ok(())
        }
        DeviceCommand::Inspect(args) => crate::cmd_device_inspect::run(&args, out),
        DeviceCommand::Verify(args) => crate::cmd_device_verify::run(&args, out),
    }
}
