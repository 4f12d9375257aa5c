//! `fwsign device verify`: the device verifier's decision on a slot, made
//! by the device's own code (`fwsign_bootloader_verify::host::check`, which
//! runs `verify_slot`) on the host, before the slot is flashed.

use fwsign_bootloader_verify::host::check::{DeviceFacts, check_slot};
use fwsign_bootloader_verify::{BootloaderVersion, Reason};
use serde_json::{Value, json};

use crate::args_device::VerifyArgs;
use crate::cmd_device::MAX_FLOORS;
use crate::cmd_device_inspect::read_slot;
use crate::failure::Failure;
use crate::output::Output;

/// `FWSIGN_ERR_IMAGE_HASH_MISMATCH` -> `IMAGE_HASH_MISMATCH`, the name of
/// docs/bootloader-integration.md's reason table.
fn short_name(reason: Reason) -> &'static str {
    let c = reason.c_name();
    c.strip_prefix("FWSIGN_ERR_").unwrap_or(c)
}

fn reason_json(reason: Reason) -> Value {
    json!({
        "code": reason.code(),
        "name": short_name(reason),
        "status": reason.c_name(),
    })
}

pub(crate) fn run(args: &VerifyArgs, out: &Output) -> Result<(), Failure> {
    let mut seen = std::collections::BTreeSet::new();
    if let Some((role, _)) = args
        .role_version
        .iter()
        .find(|(role, _)| !seen.insert(role.as_str()))
    {
        return Err(Failure::usage(format!(
            "--role-version {role} is given twice"
        )));
    }
    if args.role_version.len() > MAX_FLOORS {
        return Err(Failure::usage(format!(
            "{} role versions given; the device-state store keeps at most {MAX_FLOORS}",
            args.role_version.len()
        )));
    }
    let slot = read_slot(&args.slot)?;
    if u32::try_from(slot.len()).is_err() {
        return Err(Failure::usage(format!(
            "{}: {} bytes; a slot is at most 4 GiB",
            args.slot.display(),
            slot.len()
        )));
    }
    let root = std::fs::read(&args.root)
        .map_err(|e| Failure::io(format!("{}: {e}", args.root.display())))?;
    // Without a version the device runs the newest bootloader: every
    // min_bootloader_version is met.
    let newest = BootloaderVersion {
        major: u32::MAX,
        minor: u32::MAX,
        patch: u32::MAX,
    };
    let facts = DeviceFacts {
        hardware_id: args.hardware_id.clone(),
        installed_counter: args.installed_counter,
        accepted: args.role_version.clone(),
        bootloader_version: args.bootloader_version.unwrap_or(newest),
        trusted_time: None,
    };
    let decision = check_slot(&slot, &root, &facts, args.metadata_buffer as usize);
    let stored = decision.stored_root_version;
    if let Some(version) = stored {
        out.say(format!(
            "root update: the slot carries root v{version}, verified against {}; a device stores it (store_root) before the image is checked",
            args.root.display()
        ));
    }
    let mut document = json!({
        "slot": args.slot,
        "stored_root_version": stored,
        "device": {
            "hardware_id": args.hardware_id,
            "installed_counter": args.installed_counter,
            "role_versions": args.role_version.iter()
                .map(|(role, version)| json!({"role": role, "version": version}))
                .collect::<Vec<_>>(),
            "bootloader_version": args.bootloader_version.map(|v| format!("{}.{}.{}", v.major, v.minor, v.patch)),
            "metadata_buffer": args.metadata_buffer,
        },
    });
    match decision.outcome {
        Ok(booted) => {
            out.say(format!(
                "boot: FWSIGN_OK (0): {} version {} (security counter {}), image {} bytes at {:#x}, root v{}, chain {}",
                booted.target,
                booted.version,
                booted.security_counter,
                booted.image_size,
                booted.image_offset,
                booted.root_version,
                booted
                    .roles
                    .iter()
                    .map(|(role, v)| format!("{role} v{v}"))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ));
            document["ok"] = Value::Bool(true);
            document["decision"] = Value::from("boot");
            document["code"] = Value::from(0);
            document["name"] = Value::from("OK");
            document["status"] = Value::from("FWSIGN_OK");
            document["verified"] = json!({
                "target": booted.target,
                "version": booted.version,
                "security_counter": booted.security_counter,
                "image_offset": booted.image_offset,
                "image_size": booted.image_size,
                "root_version": booted.root_version,
                "roles": booted.roles.iter()
                    .map(|(role, version)| json!({"role": role, "version": version}))
                    .collect::<Vec<_>>(),
            });
            out.result(&document);
            Ok(())
        }
        Err(reason) => {
            let mut refusal = reason_json(reason);
            if let (Value::Object(extra), Value::Object(doc)) = (&mut refusal, &mut document) {
                doc.append(extra);
            }
            document["decision"] = Value::from("refused");
            document["reason"] = Value::from("device-refused");
            Err(Failure::security(format!(
                "{}: refused: {} ({}, {}): the device would not boot this slot",
                args.slot.display(),
                short_name(reason),
                reason.code(),
                reason.c_name()
            ))
            .with_document(document))
        }
    }
}
