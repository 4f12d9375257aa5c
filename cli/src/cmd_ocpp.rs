//! `fwsign ocpp`: the signature and UpdateFirmware request a CSMS sends, and
//! the check a charger makes.

use std::path::Path;

use fwsign_client::bundle::{VerifyOptions, verify_bundle};
use fwsign_keys::TufSigner;
use fwsign_keys::atomic_write::{Mode, write_atomic};
use fwsign_ocpp::cert::{Certificate, check_signer_certificate, time_text, verify_signing_chain};
use fwsign_ocpp::{
    FirmwareSignature, FirmwareStatus, OcppVersion, UpdateFirmwareRequest, is_fwsign_bundle,
    parse_request, sign_firmware_file, signing_certificate_pem, verify_firmware_file,
};
use serde_json::{Map, Value, json};

use crate::args::{OcppCommand, OcppSignOpts, OcppVersionArg};
use crate::cmd_cert::{chain_json, read_chain_files, say_chain, time_option};
use crate::failure::{Failure, with_causes};
use crate::key_ref::KeyResolver;
use crate::now;
use crate::output::Output;

/// The certificates, a signature over `file`, and what was checked first.
struct Signed {
    signer_cert: Certificate,
    intermediates: Vec<Certificate>,
    signature: FirmwareSignature,
}

/// Signs `file` with the key and certificate in `opts`. The signing
/// certificate's own checks (usage, validity now) only warn: a request may
/// be made ahead of a rollout, or to test chargers' refusals. With `--root`
/// the whole path must verify now, or nothing is signed.
fn sign(file: &Path, opts: &OcppSignOpts, out: &Output) -> Result<Signed, Failure> {
    let signer_cert = Certificate::read_pem_file(&opts.cert).map_err(Failure::from)?;
    let intermediates = read_chain_files(&opts.chain)?;
    let current = now();
    match &opts.root {
        Some(root) => {
            let root = Certificate::read_pem_file(root).map_err(Failure::from)?;
            verify_signing_chain(&signer_cert, &intermediates, &root, current)
                .map_err(Failure::from)?;
        }
        None => {
            if let Err(problem) = check_signer_certificate(&signer_cert, current) {
                out.warn(format!("{problem}; chargers will refuse this certificate"));
            }
        }
    }
    let keys = KeyResolver::new(opts.key_opts.passphrase_env.as_deref());
    let key: Box<dyn TufSigner> = keys.signer(&opts.key)?;
    let signature = sign_firmware_file(file, key.as_ref(), &signer_cert).map_err(Failure::from)?;
    Ok(Signed {
        signer_cert,
        intermediates,
        signature,
    })
}

pub(crate) fn run(cmd: OcppCommand, out: &Output) -> Result<(), Failure> {
    match cmd {
        OcppCommand::Sign {
            file,
            sign: opts,
            out: path,
        } => {
            let signed = sign(&file, &opts, out)?;
            let sig = &signed.signature;
            if let Some(p) = &path {
                // Exactly what `base64 -w0` writes: no line break.
                write_atomic(p, sig.base64.as_bytes(), Mode::Public)
                    .map_err(|e| Failure::io(format!("{}: {e}", p.display())))?;
                out.say(format!("wrote {}", p.display()));
            } else if !out.is_json() {
                out.data(&format!("{}\n", sig.base64));
            }
            out.say(format!(
                "signed {} ({} bytes, sha256 {}) with {}: {}-byte DER ECDSA P-256 signature",
                file.display(),
                sig.length,
                sig.sha256,
                signed.signer_cert,
                sig.der.len()
            ));
            out.result(&json!({
                "ok": true,
                "file": file,
                "length": sig.length,
                "sha256": sig.sha256,
                "signature": sig.base64,
                "signature_der_length": sig.der.len(),
                "signature_file": path,
                "certificate": signed.signer_cert.subject(),
            }));
            Ok(())
        }
        OcppCommand::UpdateFirmware {
            file,
            location,
            retrieve_at,
            install_at,
            request_id,
            retries,
            retry_interval,
            ocpp,
            custom_data,
            sign: opts,
            out: path,
        } => {
            let version = match ocpp {
                OcppVersionArg::V201 => OcppVersion::V201,
                OcppVersionArg::V16 => OcppVersion::V16,
            };
            let custom_data = custom_data
                .map(|text| match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(map)) => Ok(map),
                    _ => Err(Failure::usage(
                        "--custom-data: expected a JSON object like {\"vendorId\": \"com.example\"}",
                    )),
                })
                .transpose()?;
            // Everything but the two signed fields is checked before the key
            // is used, so a typo costs no HSM login.
            let mut request = UpdateFirmwareRequest {
                version,
                request_id,
                retries,
                retry_interval,
                location,
                retrieve_date_time: retrieve_at,
                install_date_time: install_at,
                signing_certificate: Some(String::new()),
                signature: Some(String::new()),
                custom_data,
            };
            request.check().map_err(Failure::from)?;
            let signed = sign(&file, &opts, out)?;
            request.signing_certificate = Some(signing_certificate_pem(
                &signed.signer_cert,
                &signed.intermediates,
            ));
            request.signature = Some(signed.signature.base64.clone());
            let text = request.to_json().map_err(Failure::from)?;
            match &path {
                Some(p) => {
                    write_atomic(p, text.as_bytes(), Mode::Public)
                        .map_err(|e| Failure::io(format!("{}: {e}", p.display())))?;
                    out.say(format!(
                        "wrote {}: OCPP {version} {} payload for {} (sha256 {})",
                        p.display(),
                        version.action(),
                        file.display(),
                        signed.signature.sha256
                    ));
                }
                None if !out.is_json() => out.data(&text),
                None => {}
            }
            let payload: Value = serde_json::from_str(&text).map_err(|e| {
                Failure::io(format!("the request fwsign wrote does not parse: {e}"))
            })?;
            out.result(&json!({
                "ok": true,
                "ocpp": version.as_str(),
                "action": version.action(),
                "request_file": path,
                "request": payload,
                "sha256": signed.signature.sha256,
            }));
            Ok(())
        }
        OcppCommand::Verify {
            file,
            request,
            root,
            at,
            tuf_root,
        } => verify(
            &file,
            &request,
            &root,
            at.as_deref(),
            tuf_root.as_deref(),
            out,
        ),
    }
}

fn verify(
    file: &Path,
    request_path: &Path,
    root_path: &Path,
    at: Option<&str>,
    tuf_root: Option<&Path>,
    out: &Output,
) -> Result<(), Failure> {
    let at = time_option(at, "--at", now())?;
    let root = Certificate::read_pem_file(root_path).map_err(Failure::from)?;
    let text = std::fs::read_to_string(request_path)
        .map_err(|e| Failure::usage(format!("{}: {e}", request_path.display())))?;
    let request =
        parse_request(&text, &request_path.display().to_string()).map_err(Failure::from)?;
    // With --tuf-root the bundle check always runs, so a bundle damaged
    // past recognition is refused by it rather than called "not a bundle".
    let trusted_tuf_root = match tuf_root {
        Some(p) => {
            Some(std::fs::read(p).map_err(|e| Failure::io(format!("{}: {e}", p.display())))?)
        }
        None => None,
    };
    out.say(format!(
        "{}: checked as a charger would at {} against {}",
        file.display(),
        time_text(at),
        root
    ));
    let mut document = Map::new();
    document.insert("file".into(), json!(file));
    document.insert("checked_at".into(), json!(time_text(at)));
    document.insert("request_id".into(), json!(request.request_id));
    document.insert("location".into(), json!(request.location));

    // Layer 1: OCPP, as the charger's OCPP stack does it.
    let ocpp = verify_firmware_file(
        file,
        request.signing_certificate.as_deref(),
        request.signature.as_deref(),
        &root,
        at,
    );
    let mut failure: Option<Failure> = None;
    match &ocpp {
        Ok(verified) => {
            say_chain(out, &verified.chain);
            out.say(format!(
                "  ok  signature: ECDSA P-256 over SHA-256 of the file ({} bytes, sha256 {})",
                verified.length, verified.sha256
            ));
            document.insert(
                "status".into(),
                json!(FirmwareStatus::SignatureVerified.as_str()),
            );
            document.insert("security_event".into(), Value::Null);
            document.insert("chain".into(), chain_json(&verified.chain));
            document.insert("sha256".into(), json!(verified.sha256));
            document.insert("length".into(), json!(verified.length));
        }
        Err(refusal) => {
            let status = refusal.status();
            let event = refusal.security_event();
            out.say(format!("  FAIL {refusal}"));
            document.insert("status".into(), json!(status.map(FirmwareStatus::as_str)));
            document.insert("security_event".into(), json!(event.map(|e| e.as_str())));
            document.insert("reason".into(), json!(with_causes(refusal)));
            let message = match (status, event) {
                (Some(status), Some(event)) => format!(
                    "{status} (security event {event}): {}",
                    with_causes(refusal)
                ),
                _ => with_causes(refusal),
            };
            failure = Some(Failure::of_class(refusal.class(), message));
        }
    }

    // Layer 2: the multi-party TUF approval inside an fwsign bundle.
    match trusted_tuf_root {
        Some(trusted) => {
            let tuf = verify_bundle(file, &trusted, &VerifyOptions::at(at));
            match tuf {
                Ok(v) => {
                    out.say(format!(
                        "  ok  TUF approval: {:?}{} listed by {}, root v{}, snapshot v{}, timestamp v{}",
                        v.target,
                        v.firmware_version
                            .as_deref()
                            .map(|version| format!(" version {version}"))
                            .unwrap_or_default(),
                        v.role,
                        v.root_version,
                        v.snapshot_version,
                        v.timestamp_version
                    ));
                    for w in &v.warnings {
                        out.warn(w.to_string());
                    }
                    document.insert(
                        "tuf".into(),
                        json!({
                            "checked": true,
                            "ok": true,
                            "target": v.target,
                            "version": v.firmware_version,
                            "sha256": v.sha256,
                            "role": v.role,
                            "root_version": v.root_version,
                            "warnings": v.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        }),
                    );
                }
                Err(e) => {
                    let message = format!("TUF approval: {}", with_causes(&e));
                    out.say(format!("  FAIL {message}"));
                    document.insert(
                        "tuf".into(),
                        json!({"checked": true, "ok": false, "error": with_causes(&e)}),
                    );
                    let tuf_failure = Failure::of_class(e.class(), &message);
                    failure = Some(match failure {
                        // Both layers failed: say both, keep the OCPP code.
                        Some(first) => Failure {
                            message: format!("{}; {message}", first.message),
                            ..first
                        },
                        None => tuf_failure,
                    });
                }
            }
        }
        None if is_fwsign_bundle(file) => {
            out.warn(format!(
                "{} is an fwsign bundle: its TUF approval was not checked (pass --tuf-root ROOT.json)",
                file.display()
            ));
            document.insert("tuf".into(), json!({"checked": false}));
        }
        None => {}
    }

    let ok = failure.is_none();
    document.insert("ok".into(), json!(ok));
    let document = Value::Object(document);
    if let Some(f) = failure {
        return Err(f.with_document(document));
    }
    out.say(format!(
        "status: {} (the charger may install)",
        FirmwareStatus::SignatureVerified
    ));
    out.result(&document);
    Ok(())
}
