//! `fwsign cert`: the manufacturer root, firmware-signing certificates,
//! PKCS#10 requests, and the path check a charger makes.

use std::path::Path;

use fwsign_keys::atomic_write::{Mode, write_atomic, write_new};
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_ocpp::cert::{
    CertProfile, Certificate, IssueOptions, RootOptions, VerifiedChain, build_csr, build_root_ca,
    issue_certificate, parse_rfc3339, parse_subject, time_text, verify_signing_chain,
};
use serde_json::{Value, json};

use crate::args::CertCommand;
use crate::failure::Failure;
use crate::key_ref::{KeyResolver, load_public};
use crate::now;
use crate::output::Output;

/// How far before now a certificate's validity starts unless `--not-before`
/// says otherwise: chargers' clocks drift, and one a few minutes behind
/// would otherwise refuse a certificate issued and used the same hour.
const BACKDATE_SECS: i64 = 3_600;

fn default_not_before() -> UnixTime {
    UnixTime(now().0 - BACKDATE_SECS)
}

/// An RFC 3339 time option, or `default` without one.
pub(crate) fn time_option(
    text: Option<&str>,
    flag: &str,
    default: UnixTime,
) -> Result<UnixTime, Failure> {
    match text {
        None => Ok(default),
        Some(text) => parse_rfc3339(text).ok_or_else(|| {
            Failure::usage(format!(
                "{flag} {text:?}: expected an RFC 3339 time like 2026-12-01T02:00:00Z"
            ))
        }),
    }
}

/// Reads one or more certificate files in order, each possibly holding
/// several certificates.
pub(crate) fn read_chain_files(paths: &[impl AsRef<Path>]) -> Result<Vec<Certificate>, Failure> {
    let mut all = Vec::new();
    for path in paths {
        all.extend(Certificate::read_chain_file(path.as_ref()).map_err(Failure::from)?);
    }
    Ok(all)
}

/// Writes a new certificate file; an existing one is never replaced, like a
/// key file, so a root cannot be lost to a repeated command.
fn write_cert(path: &Path, pem: &str) -> Result<(), Failure> {
    write_new(path, pem.as_bytes(), Mode::Public).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            cert_exists(path)
        } else {
            Failure::io(format!("{}: {e}", path.display()))
        }
    })
}

/// Refuses a certificate path that is taken, before the key is opened (an
/// HSM login for nothing is a cost); `write_cert` refuses it again.
fn refuse_existing_cert(path: &Path) -> Result<(), Failure> {
    if path.exists() {
        return Err(cert_exists(path));
    }
    Ok(())
}

fn cert_exists(path: &Path) -> Failure {
    Failure::usage(format!(
        "{}: already exists; refusing to overwrite a certificate",
        path.display()
    ))
}

fn cert_json(cert: &Certificate, path: &Path) -> Value {
    json!({
        "path": path,
        "subject": cert.subject(),
        "issuer": cert.issuer(),
        "serial": cert.serial_hex(),
        "not_before": time_text(cert.not_before()),
        "not_after": time_text(cert.not_after()),
        "sha256": cert.sha256_fingerprint(),
        "ca": cert.is_ca(),
    })
}

fn say_cert(out: &Output, cert: &Certificate, path: &Path) {
    out.say(format!("wrote {}: {}", path.display(), cert.subject()));
    out.say(format!("  issuer   {}", cert.issuer()));
    out.say(format!(
        "  valid    {} to {}",
        time_text(cert.not_before()),
        time_text(cert.not_after())
    ));
    out.say(format!("  sha256   {}", cert.sha256_fingerprint()));
}

pub(crate) fn run(cmd: CertCommand, out: &Output) -> Result<(), Failure> {
    match cmd {
        CertCommand::Ca {
            key,
            subject,
            out: path,
            days,
            not_before,
            key_opts,
        } => {
            let subject = parse_subject(&subject).map_err(Failure::from)?;
            let not_before =
                time_option(not_before.as_deref(), "--not-before", default_not_before())?;
            // A root must never be replaced.
            refuse_existing_cert(&path)?;
            let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
            let signer = keys.signer(&key)?;
            let cert = build_root_ca(
                signer.as_ref(),
                &RootOptions {
                    subject,
                    not_before,
                    days,
                },
            )
            .map_err(Failure::from)?;
            write_cert(&path, &cert.to_pem())?;
            say_cert(out, &cert, &path);
            out.say("next: provision it into the chargers, then `fwsign cert issue` a signing certificate");
            out.result(&json!({"ok": true, "certificate": cert_json(&cert, &path)}));
            Ok(())
        }
        CertCommand::Issue {
            ca_key,
            ca_cert,
            key,
            public,
            subject,
            out: path,
            intermediate,
            days,
            not_before,
            key_opts,
        } => {
            let profile = if intermediate {
                CertProfile::Intermediate
            } else {
                CertProfile::FirmwareSigning
            };
            let subject = parse_subject(&subject).map_err(Failure::from)?;
            let current = now();
            let not_before =
                time_option(not_before.as_deref(), "--not-before", default_not_before())?;
            refuse_existing_cert(&path)?;
            let ca = Certificate::read_pem_file(&ca_cert).map_err(Failure::from)?;
            let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
            let subject_key = match (&key, &public) {
                (_, Some(p)) => load_public(p)?,
                (Some(k), None) => keys.signer(k)?.public_key().clone(),
                (None, None) => return Err(Failure::usage("give --key KEY or --pub PUB")),
            };
            let signer = keys.signer(&ca_key)?;
            let cert = issue_certificate(
                signer.as_ref(),
                &ca,
                &subject_key,
                &IssueOptions {
                    profile,
                    subject,
                    not_before,
                    days: days.unwrap_or(profile.default_days()),
                    now: current,
                },
            )
            .map_err(Failure::from)?;
            write_cert(&path, &cert.to_pem())?;
            say_cert(out, &cert, &path);
            if intermediate {
                out.say(format!(
                    "next: issue signing certificates with --ca-cert {} and ship it with --chain",
                    path.display()
                ));
            } else {
                out.say(format!(
                    "next: `fwsign ocpp sign FILE --key KEY --cert {}`",
                    path.display()
                ));
            }
            out.result(&json!({
                "ok": true,
                "profile": if intermediate { "intermediate" } else { "firmware-signing" },
                "certificate": cert_json(&cert, &path),
            }));
            Ok(())
        }
        CertCommand::Csr {
            key,
            subject,
            out: path,
            key_opts,
        } => {
            let subject = parse_subject(&subject).map_err(Failure::from)?;
            let keys = KeyResolver::new(key_opts.passphrase_env.as_deref());
            let signer = keys.signer(&key)?;
            let pem = build_csr(signer.as_ref(), &subject).map_err(Failure::from)?;
            match &path {
                Some(p) => {
                    write_atomic(p, pem.as_bytes(), Mode::Public)
                        .map_err(|e| Failure::io(format!("{}: {e}", p.display())))?;
                    out.say(format!(
                        "wrote {}: a PKCS#10 request for {subject} (CA:FALSE, digitalSignature, codeSigning)",
                        p.display()
                    ));
                    out.result(&json!({"ok": true, "request": p, "subject": subject.to_string()}));
                }
                None if out.is_json() => {
                    out.result(
                        &json!({"ok": true, "request_pem": pem, "subject": subject.to_string()}),
                    );
                }
                None => out.data(&pem),
            }
            Ok(())
        }
        CertCommand::Verify {
            root,
            signer,
            intermediates,
            at,
        } => {
            let at = time_option(at.as_deref(), "--at", now())?;
            let root = Certificate::read_pem_file(&root).map_err(Failure::from)?;
            let leaf = Certificate::read_pem_file(&signer).map_err(Failure::from)?;
            let intermediates = read_chain_files(&intermediates)?;
            let chain =
                verify_signing_chain(&leaf, &intermediates, &root, at).map_err(Failure::from)?;
            say_chain(out, &chain);
            out.result(&json!({"ok": true, "chain": chain_json(&chain)}));
            Ok(())
        }
    }
}

/// The accepted path, for `--json`.
pub(crate) fn chain_json(chain: &VerifiedChain) -> Value {
    json!({
        "checked_at": time_text(chain.checked_at),
        "path": chain.path.iter().map(|c| json!({
            "label": c.label(),
            "subject": c.subject(),
            "not_after": time_text(c.not_after()),
            "sha256": c.sha256_fingerprint(),
        })).collect::<Vec<_>>(),
        "signer_keyid": chain.signer_key.keyid(),
    })
}

/// The accepted path, for people.
pub(crate) fn say_chain(out: &Output, chain: &VerifiedChain) {
    out.say(format!(
        "  ok  certificate path checked at {}:",
        time_text(chain.checked_at)
    ));
    for (i, cert) in chain.path.iter().enumerate() {
        let role = if i == 0 {
            "signing certificate (codeSigning, digitalSignature)"
        } else if i + 1 == chain.path.len() {
            "trusted root"
        } else {
            "intermediate CA"
        };
        out.say(format!(
            "        {cert}: {role}, valid until {}",
            time_text(cert.not_after())
        ));
    }
}
