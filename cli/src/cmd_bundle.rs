//! `fwsign bundle`: offline update packages for local installs.

use std::path::Path;

use fwsign_client::bundle::{
    BundleWarning, VerifiedBundle, VerifyOptions, create_bundle, verify_bundle,
};
use fwsign_manifest_schema::expiry::{UnixTime, parse_expires};
use fwsign_repo::Repository;
use fwsign_repo::lock::LockKind;
use serde_json::{Value, json};

use crate::args::{BundleCommand, DeviceArgs};
use crate::cmd_repo::lock;
use crate::failure::Failure;
use crate::now;
use crate::output::Output;

/// `--at`: only the one form TUF metadata uses, so a time that reads one way
/// to the operator cannot be taken another way here.
pub(crate) fn parse_at(text: &str) -> Result<UnixTime, Failure> {
    parse_expires(text.as_bytes()).ok_or_else(|| {
        Failure::usage(format!(
            "--at {text:?}: expected a UTC time as YYYY-MM-DDTHH:MM:SSZ"
        ))
    })
}

pub(crate) fn time_text(time: UnixTime) -> String {
    time.to_expires()
        .unwrap_or_else(|| format!("{} (Unix time)", time.0))
}

fn warning_json(w: &BundleWarning) -> Value {
    match w {
        BundleWarning::Expired { role, expires } => json!({
            "kind": "expired",
            "role": role,
            "expires": time_text(*expires),
            "message": w.to_string(),
        }),
        // BundleWarning is non-exhaustive: a kind added later still reaches
        // the JSON reader.
        other => json!({"kind": "other", "message": other.to_string()}),
    }
}

pub(crate) fn run(cmd: BundleCommand, out: &Output) -> Result<(), Failure> {
    match cmd {
        BundleCommand::Create {
            dir,
            target,
            out: bundle,
        } => {
            let repo = Repository::open(&dir)?;
            let _lock = lock(&repo, LockKind::Shared, "bundle create", out)?;
            let summary = create_bundle(&repo, &target, &bundle).map_err(Failure::from)?;
            out.say(format!(
                "wrote {} ({} bytes, {} entries)",
                summary.path.display(),
                summary.size,
                summary.entries.len()
            ));
            out.say(format!(
                "  target {:?}: {} bytes, sha256 {}, listed by {}",
                summary.target, summary.length, summary.sha256, summary.role
            ));
            if let Some(sbom) = &summary.sbom {
                out.say(format!(
                    "  its SBOM {sbom:?}, checked against the sha256 its approvers signed"
                ));
            }
            out.say(format!(
                "  root versions up to {}; check with `fwsign bundle verify {} --root ROOT.json`",
                summary.root_version,
                summary.path.display()
            ));
            out.result(&json!({
                "ok": true,
                "bundle": summary.path,
                "size": summary.size,
                "target": summary.target,
                "length": summary.length,
                "sha256": summary.sha256,
                "role": summary.role,
                "root_version": summary.root_version,
                "entries": summary.entries,
                "sbom": summary.sbom,
            }));
            Ok(())
        }
        BundleCommand::Verify {
            bundle,
            root,
            device:
                DeviceArgs {
                    hardware_id,
                    installed_counter,
                    bootloader_version,
                },
            at,
            require_fresh,
            extract_to,
        } => {
            let checked_at = match &at {
                Some(text) => parse_at(text)?,
                None => now(),
            };
            let trusted_root = std::fs::read(&root)
                .map_err(|e| Failure::io(format!("{}: {e}", root.display())))?;
            let options = VerifyOptions {
                now: checked_at,
                hardware_id,
                installed_counter,
                bootloader_version,
                require_fresh,
                extract_to,
            };
            let verified =
                verify_bundle(&bundle, &trusted_root, &options).map_err(Failure::from)?;
            report(out, &bundle, &options, &verified);
            Ok(())
        }
    }
}

fn report(out: &Output, bundle: &Path, options: &VerifyOptions, v: &VerifiedBundle) {
    for w in &v.warnings {
        out.warn(w.to_string());
    }
    out.say(format!(
        "{}: {:?} checked at {}",
        bundle.display(),
        v.target,
        time_text(options.now)
    ));
    out.say(format!(
        "  ok  root chain from the trusted root reaches version {}, not expired",
        v.root_version
    ));
    let freshness = |role: &str| {
        if v.warnings
            .iter()
            .any(|w| matches!(w, BundleWarning::Expired { role: r, .. } if r == role))
        {
            "signature valid, EXPIRED"
        } else {
            "signature valid, not expired"
        }
    };
    out.say(format!(
        "  ok  timestamp v{}: {}",
        v.timestamp_version,
        freshness("timestamp")
    ));
    out.say(format!(
        "  ok  snapshot v{}: {}",
        v.snapshot_version,
        freshness("snapshot")
    ));
    out.say(format!(
        "  ok  listed by {} (roles searched: {}), signatures valid, not expired",
        v.role,
        v.roles_searched.join(", ")
    ));
    out.say(format!(
        "  ok  image: {} bytes, every listed hash matches (sha256 {})",
        v.length, v.sha256
    ));
    if let Some(id) = &options.hardware_id {
        out.say(format!("  ok  hardware ID {id:?} is listed"));
    }
    if let (Some(installed), Some(counter)) = (options.installed_counter, v.security_counter) {
        out.say(format!(
            "  ok  security counter {counter} >= installed {installed}"
        ));
    }
    if let (Some(b), Some(minimum)) = (options.bootloader_version, &v.min_bootloader_version) {
        out.say(format!(
            "  ok  bootloader {}.{}.{} >= the image's minimum {minimum}",
            b.major, b.minor, b.patch
        ));
    }
    if let Some(path) = &v.extracted_to {
        out.say(format!("  wrote {}", path.display()));
    }
    if let Some(sbom) = &v.sbom {
        out.say(format!(
            "  ok  its SBOM {sbom:?} matches the sha256 its approvers signed"
        ));
    }
    if let Some(path) = &v.sbom_extracted_to {
        out.say(format!("  wrote {}", path.display()));
    }
    out.say(format!(
        "verified: {:?}{} may be installed",
        v.target,
        v.firmware_version
            .as_deref()
            .map(|version| format!(" version {version}"))
            .unwrap_or_default()
    ));
    out.result(&json!({
        "ok": true,
        "bundle": bundle,
        "checked_at": time_text(options.now),
        "target": v.target,
        "length": v.length,
        "sha256": v.sha256,
        "version": v.firmware_version,
        "security_counter": v.security_counter,
        "min_bootloader_version": v.min_bootloader_version,
        "hardware_ids": v.hardware_ids,
        "role": v.role,
        "roles_searched": v.roles_searched,
        "root_version": v.root_version,
        "timestamp_version": v.timestamp_version,
        "snapshot_version": v.snapshot_version,
        "warnings": v.warnings.iter().map(warning_json).collect::<Vec<_>>(),
        "extracted_to": v.extracted_to,
        "sbom": v.sbom,
        "sbom_extracted_to": v.sbom_extracted_to,
    }));
}
