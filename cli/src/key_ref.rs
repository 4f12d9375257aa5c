//! Key references: a path to a PEM file, or a `pkcs11:` URI (RFC 7512) for a
//! key held in an HSM. Whatever the reference, the result is a
//! `TufSigner`, so signing code never knows where a key lives. Passphrases
//! and PINs come from environment variables, the URI's `pin-source`, or a
//! terminal prompt, never from arguments.

use std::io::IsTerminal;
use std::path::Path;

use fwsign_hsm::{HsmContext, HsmError, Pkcs11Uri, is_pkcs11_uri};
use fwsign_keys::{KeyError, PrivateKey, PublicKey, TufSigner};
use zeroize::Zeroizing;

use crate::failure::Failure;

/// The passphrase variable used when `--passphrase-env` is not given.
pub(crate) const DEFAULT_PASSPHRASE_ENV: &str = "FWSIGN_PASSPHRASE";
/// The PIN variable used when a `pkcs11:` URI names no `pin-source`.
pub(crate) const DEFAULT_PIN_ENV: &str = "FWSIGN_PIN";

fn read_text(path: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::usage(format!("{}: no such key file", path.display()))
        } else {
            Failure::io(format!("{}: {e}", path.display()))
        }
    })?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::usage(format!("{}: not a PEM file", path.display())))
}

/// Reads a public key from a public key file.
pub(crate) fn load_public(path: &Path) -> Result<PublicKey, Failure> {
    let text = read_text(path)?;
    if text.contains("PRIVATE KEY-----") {
        return Err(Failure::usage(format!(
            "{}: is a private key; give the public key (NAME.pub.pem)",
            path.display()
        )));
    }
    PublicKey::from_spki_pem(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

fn passphrase(env: Option<&str>, path: &Path) -> Result<Option<Zeroizing<String>>, Failure> {
    let var = env.unwrap_or(DEFAULT_PASSPHRASE_ENV);
    if let Some(value) = std::env::var_os(var) {
        let value = value
            .into_string()
            .map_err(|_| Failure::usage(format!("passphrase variable {var} is not valid UTF-8")))?;
        return Ok(Some(Zeroizing::new(value)));
    }
    if env.is_some() {
        return Err(Failure::usage(format!(
            "passphrase variable {var} is not set"
        )));
    }
    if std::io::stdin().is_terminal() {
        let prompt = format!("Passphrase for {}: ", path.display());
        let value = rpassword::prompt_password(prompt)
            .map_err(|e| Failure::io(format!("reading the passphrase: {e}")))?;
        return Ok(Some(Zeroizing::new(value)));
    }
    Ok(None)
}

/// The passphrase for a new private key file (`key generate`, `key
/// restore`): `--passphrase-env VAR`, or typed twice without echo on a
/// terminal; never empty. `None` only with `--unencrypted`: off a terminal
/// with neither flag this is a usage error naming both, so no key is ever
/// written in the clear without being asked to.
pub(crate) fn new_key_passphrase(
    passphrase_env: Option<&str>,
    unencrypted: bool,
    out: &Path,
) -> Result<Option<Zeroizing<String>>, Failure> {
    if unencrypted {
        return Ok(None);
    }
    let value = if let Some(var) = passphrase_env {
        let value = std::env::var_os(var)
            .ok_or_else(|| Failure::usage(format!("passphrase variable {var} is not set")))?
            .into_string()
            .map_err(|_| Failure::usage(format!("passphrase variable {var} is not valid UTF-8")))?;
        Zeroizing::new(value)
    } else if std::io::stdin().is_terminal() {
        let prompt = format!("Passphrase for {}: ", out.display());
        let first = Zeroizing::new(
            rpassword::prompt_password(prompt)
                .map_err(|e| Failure::io(format!("reading the passphrase: {e}")))?,
        );
        let second = Zeroizing::new(
            rpassword::prompt_password("Again: ")
                .map_err(|e| Failure::io(format!("reading the passphrase: {e}")))?,
        );
        if first != second {
            return Err(Failure::usage("the two passphrases differ"));
        }
        first
    } else {
        return Err(Failure::usage(format!(
            "{}: a private key is written encrypted: give --passphrase-env VAR, \
             or --unencrypted to write it in the clear",
            out.display()
        )));
    };
    if value.is_empty() {
        return Err(Failure::usage("an empty passphrase is refused"));
    }
    Ok(Some(value))
}

/// Loads a private key file, decrypting it with a passphrase when it is
/// encrypted. A file group or others can read is refused first.
pub(crate) fn load_private(
    path: &Path,
    passphrase_env: Option<&str>,
) -> Result<PrivateKey, Failure> {
    fwsign_keys::secret_file::check_owner_only(path).map_err(Failure::usage)?;
    let text = Zeroizing::new(read_text(path)?);
    let encrypted = text.contains("BEGIN ENCRYPTED PRIVATE KEY");
    let pass = if encrypted {
        match passphrase(passphrase_env, path)? {
            Some(p) => Some(p),
            None => {
                return Err(Failure::usage(format!(
                    "{}: is encrypted; set {} or pass --passphrase-env VAR",
                    path.display(),
                    passphrase_env.unwrap_or(DEFAULT_PASSPHRASE_ENV)
                )));
            }
        }
    } else {
        None
    };
    PrivateKey::from_pkcs8_pem(&text, pass.as_ref().map(|p| p.as_bytes())).map_err(|e| match e {
        KeyError::WrongPassphrase => {
            Failure::usage(format!("{}: wrong passphrase", path.display()))
        }
        other => Failure::usage(format!("{}: {other}", path.display())),
    })
}

/// Resolves key references for one command: one HSM login per token, shared
/// by every key of that token the command uses.
pub(crate) struct KeyResolver {
    passphrase_env: Option<String>,
    hsm: HsmContext,
}

impl KeyResolver {
    pub(crate) fn new(passphrase_env: Option<&str>) -> Self {
        let hsm = HsmContext::with_pin_prompt(|token| {
            if let Some(pin) = std::env::var_os(DEFAULT_PIN_ENV) {
                return Ok(Zeroizing::new(pin.into_encoded_bytes()));
            }
            if std::io::stdin().is_terminal() {
                let pin = rpassword::prompt_password(format!("PIN for token {token}: ")).map_err(
                    |_| HsmError::PinRequired {
                        token: token.to_owned(),
                    },
                )?;
                return Ok(Zeroizing::new(pin.into_bytes()));
            }
            Err(HsmError::PinRequired {
                token: token.to_owned(),
            })
        });
        Self {
            passphrase_env: passphrase_env.map(str::to_owned),
            hsm,
        }
    }

    /// The HSM context, for generating keys in a token.
    pub(crate) fn hsm(&self) -> &HsmContext {
        &self.hsm
    }

    /// Resolves a key reference to a signer.
    pub(crate) fn signer(&self, reference: &str) -> Result<Box<dyn TufSigner>, Failure> {
        if is_pkcs11_uri(reference) {
            let uri = Pkcs11Uri::parse(reference, false).map_err(Failure::from)?;
            let signer = self.hsm.signer(&uri).map_err(Failure::from)?;
            return Ok(Box::new(signer));
        }
        Ok(Box::new(load_private(
            Path::new(reference),
            self.passphrase_env.as_deref(),
        )?))
    }
}
