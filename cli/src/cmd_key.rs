//! `fwsign key`.

use std::path::{Path, PathBuf};

use fwsign_keys::atomic_write::{Mode, write_atomic, write_new};
use fwsign_keys::{Algorithm, PrivateKey, PublicKey};
use serde_json::json;
use zeroize::Zeroizing;

use crate::args::{AlgorithmArg, KeyCommand};
use crate::failure::Failure;
use crate::key_ref::{self, KeyResolver};
use crate::output::Output;
use fwsign_hsm::Pkcs11Uri;

/// `NAME.pem` -> `NAME.pub.pem`.
pub(crate) fn public_path(private: &Path) -> PathBuf {
    let name = private
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".pem").unwrap_or(&name);
    private.with_file_name(format!("{stem}.pub.pem"))
}

fn generate_in_token(
    uri: &str,
    algorithm: Algorithm,
    pub_out: Option<PathBuf>,
    out: &Output,
) -> Result<(), Failure> {
    let pub_out = pub_out.ok_or_else(|| Failure::usage("--pkcs11 needs --pub-out PUB.pem"))?;
    if pub_out.exists() {
        return Err(Failure::usage(format!(
            "{}: already exists; refusing to overwrite a key",
            pub_out.display()
        )));
    }
    let parsed = Pkcs11Uri::parse(uri, false).map_err(Failure::from)?;
    let keys = KeyResolver::new(None);
    let public = keys
        .hsm()
        .generate(&parsed, algorithm)
        .map_err(Failure::from)?;
    write_atomic(&pub_out, public.to_spki_pem().as_bytes(), Mode::Public)
        .map_err(|e| Failure::io(format!("{}: {e}", pub_out.display())))?;
    out.say(format!(
        "generated {algorithm} key in {} (non-extractable); public key in {}",
        parsed.key_description(),
        pub_out.display()
    ));
    out.say(format!("key ID {}", public.keyid()));
    out.result(&json!({
        "ok": true,
        "keyid": public.keyid(),
        "algorithm": algorithm.to_string(),
        "public_key": pub_out,
    }));
    Ok(())
}

pub(crate) fn run(cmd: KeyCommand, out: &Output) -> Result<(), Failure> {
    match cmd {
        KeyCommand::Backup(args) => crate::cmd_key_backup::backup(args, out),
        KeyCommand::Restore(args) => crate::cmd_key_backup::restore(args, out),
        KeyCommand::Reshare(args) => crate::cmd_key_backup::reshare(args, out),
        KeyCommand::CheckShare(args) => crate::cmd_key_backup::check_share(args, out),
        KeyCommand::Generate {
            algorithm,
            out: path,
            pkcs11,
            pub_out,
            passphrase_env,
            unencrypted,
        } => {
            let algorithm = match algorithm {
                AlgorithmArg::EcdsaP256 => Algorithm::EcdsaP256,
                AlgorithmArg::Ed25519 => Algorithm::Ed25519,
            };
            if let Some(uri) = pkcs11 {
                return generate_in_token(&uri, algorithm, pub_out, out);
            }
            let path = path.ok_or_else(|| Failure::usage("give --out NAME.pem or --pkcs11 URI"))?;
            let pub_path = public_path(&path);
            for p in [&path, &pub_path] {
                if p.exists() {
                    return Err(Failure::usage(format!(
                        "{}: already exists; refusing to overwrite a key",
                        p.display()
                    )));
                }
            }
            let passphrase =
                key_ref::new_key_passphrase(passphrase_env.as_deref(), unencrypted, &path)?;
            let key = PrivateKey::generate(algorithm).map_err(|e| Failure::io(e.to_string()))?;
            let pem = Zeroizing::new(
                key.to_pkcs8_pem(passphrase.as_ref().map(|p| p.as_bytes()))
                    .map_err(|e| Failure::io(e.to_string()))?,
            );
            // Exclusive creation: the check above gives a clear message, and
            // creating with O_EXCL-like linking closes the race in which a
            // file appears between the check and the write.
            write_new(&path, pem.as_bytes(), Mode::Private).map_err(|e| exists_or_io(&path, e))?;
            let public = key.public_key();
            write_new(&pub_path, public.to_spki_pem().as_bytes(), Mode::Public)
                .map_err(|e| exists_or_io(&pub_path, e))?;
            out.say(format!(
                "wrote {} (private, mode 0600{}) and {}",
                path.display(),
                if passphrase.is_some() {
                    ", encrypted"
                } else {
                    ""
                },
                pub_path.display()
            ));
            out.say(format!("key ID {}", public.keyid()));
            out.result(&json!({
                "ok": true,
                "keyid": public.keyid(),
                "algorithm": algorithm.to_string(),
                "private_key": path,
                "public_key": pub_path,
            }));
            Ok(())
        }
        KeyCommand::Show {
            key,
            passphrase_env,
        } => {
            let text = std::fs::read_to_string(&key)
                .map_err(|e| Failure::usage(format!("{}: {e}", key.display())))?;
            let public: PublicKey = if text.contains("PRIVATE KEY-----") {
                key_ref::load_private(&key, passphrase_env.as_deref())?
                    .public_key()
                    .clone()
            } else {
                key_ref::load_public(&key)?
            };
            let tuf = public.to_tuf_key();
            if out.is_json() {
                out.result(&json!({
                    "keyid": public.keyid(),
                    "algorithm": public.algorithm().to_string(),
                    "key": tuf,
                }));
            } else {
                out.data(&format!(
                    "key ID:    {}\nalgorithm: {}\nkeytype:   {}\nscheme:    {}\npublic:\n{}{}",
                    public.keyid(),
                    public.algorithm(),
                    tuf.keytype,
                    tuf.scheme,
                    tuf.keyval.public,
                    if tuf.keyval.public.ends_with('\n') {
                        ""
                    } else {
                        "\n"
                    }
                ));
            }
            Ok(())
        }
    }
}

/// A failed exclusive create: an existing file is a usage error (never
/// overwritten), anything else an I/O failure.
fn exists_or_io(path: &std::path::Path, e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        Failure::usage(format!(
            "{}: already exists; refusing to overwrite a key",
            path.display()
        ))
    } else {
        Failure::io(format!("{}: {e}", path.display()))
    }
}
