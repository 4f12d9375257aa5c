//! [`HsmError`], and the mapping from PKCS#11 return values to it.
//!
//! The mapping functions take plain values (a return code, a flag, a
//! mechanism list) rather than a live token, because SoftHSM2 can never
//! produce some of the conditions they handle: it never locks a PIN and it
//! implements every mechanism fwsign uses. Unit tests cover those paths here;
//! the integration tests cover the rest against a real SoftHSM2 token.

use std::path::PathBuf;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;

/// Why an HSM key could not be named, reached, logged into, generated or
/// used.
///
/// No variant ever holds a PIN: not the value, not a part of it, not a URI
/// that carried one (URIs are shown through [`crate::Pkcs11Uri`]'s
/// `Display`, which leaves `pin-value` out).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// The text is not a usable PKCS#11 URI (RFC 7512).
    #[error("invalid PKCS#11 URI {uri:?}: {why}")]
    InvalidUri {
        /// The URI with any `pin-value` replaced by `***`.
        uri: String,
        /// What is wrong with it.
        why: String,
    },
    /// The URI carries `pin-value` and the caller did not allow PINs in URIs
    /// (they end up in shell history, process lists and CI logs).
    #[error(
        "the PKCS#11 URI carries a pin-value, which is refused: use pin-source=env:VAR or pin-source=/path/to/file"
    )]
    PinValueRefused,
    /// Neither the URI (`module-path`, `module-name`) nor the
    /// `FWSIGN_PKCS11_MODULE` environment variable names a PKCS#11 module.
    #[error(
        "no PKCS#11 module given: add module-path=/path/to/module.so to the URI or set FWSIGN_PKCS11_MODULE"
    )]
    NoModule,
    /// The PKCS#11 module file does not exist.
    #[error("PKCS#11 module not found: {}", path.display())]
    ModuleNotFound {
        /// The path (or, for `module-name`, the name) that was looked for.
        path: PathBuf,
    },
    /// The module file exists but could not be loaded as a PKCS#11 module.
    #[error("cannot load the PKCS#11 module {}: {why}", path.display())]
    ModuleLoad {
        /// The module's path.
        path: PathBuf,
        /// The loader's or the module's explanation.
        why: String,
    },
    /// No token matches the URI.
    #[error("PKCS#11 token {wanted} not found; tokens present: {}", list(present))]
    TokenNotFound {
        /// The token the URI asks for, as the URI's token attributes.
        wanted: String,
        /// The labels of the tokens the module offers.
        present: Vec<String>,
    },
    /// More than one token matches the URI.
    #[error(
        "the PKCS#11 URI matches several tokens ({}): name one with token=LABEL",
        list(matching)
    )]
    AmbiguousToken {
        /// The labels of the matching tokens.
        matching: Vec<String>,
    },
    /// The token needs a PIN and none was given.
    #[error(
        "token {token:?} needs a PIN: add pin-source=env:VAR or pin-source=/path/to/file to the URI"
    )]
    PinRequired {
        /// The token's label.
        token: String,
    },
    /// The PIN could not be read from its `pin-source`.
    #[error("cannot read the PIN from {source_name}: {why}")]
    PinSource {
        /// The `pin-source` value (an environment variable's name or a
        /// file's path; never the PIN).
        source_name: String,
        /// Why it could not be read.
        why: String,
    },
    /// The PIN file can be read by group or others: refused before it is
    /// read, as a private key file would be.
    #[error("pin-source: {0}")]
    PinFileExposed(#[source] fwsign_keys::KeyError),
    /// The token refused the PIN.
    #[error("wrong PIN for token {token:?}")]
    WrongPin {
        /// The token's label.
        token: String,
    },
    /// The token's user PIN is locked after too many wrong attempts.
    #[error(
        "the user PIN of token {token:?} is locked (too many wrong attempts); the security officer must unlock it"
    )]
    PinLocked {
        /// The token's label.
        token: String,
    },
    /// No private key matches the URI's `object` and `id`.
    #[error(
        "no private key {wanted} on token {token:?}; keys present: {}",
        list(present)
    )]
    KeyNotFound {
        /// The key the URI asks for (`object="..."`, `id=...`).
        wanted: String,
        /// The token's label.
        token: String,
        /// The labels of the private keys on the token (an unlabelled key
        /// shows as `id=<hex>`).
        present: Vec<String>,
    },
    /// Several private keys match the URI.
    #[error("{count} private keys match {wanted} on token {token:?}: add id= to the URI")]
    AmbiguousKey {
        /// The key the URI asks for.
        wanted: String,
        /// The token's label.
        token: String,
        /// How many keys match.
        count: usize,
    },
    /// `key generate` was asked for a label or ID that a key on the token
    /// already has; generating would make the name ambiguous.
    #[error("token {token:?} already holds a key {wanted}")]
    KeyExists {
        /// The label or ID asked for.
        wanted: String,
        /// The token's label.
        token: String,
    },
    /// The key is not of a type fwsign signs with (RSA, P-384, ...), or not
    /// of the type the role needs.
    #[error("key {key} is {found}, but {expected} is needed")]
    WrongKeyType {
        /// The key (`object="..."`, `id=...`).
        key: String,
        /// What the key is.
        found: String,
        /// What was needed.
        expected: String,
    },
    /// The private key's attributes do not allow signing (`CKA_SIGN` false).
    #[error("key {key} is not allowed to sign (CKA_SIGN is false)")]
    KeyCannotSign {
        /// The key.
        key: String,
    },
    /// The key's public half could not be found or read.
    #[error("cannot read the public key of {key}: {why}")]
    PublicKey {
        /// The key.
        key: String,
        /// What is missing or malformed.
        why: String,
    },
    /// The token does not offer a mechanism fwsign needs (checked against
    /// `C_GetMechanismList` before any key is used).
    #[error("token {token:?} does not support {mechanism}, which {purpose} needs")]
    MechanismUnsupported {
        /// The token's label.
        token: String,
        /// The mechanism, as its `CKM_` name.
        mechanism: String,
        /// What needed it.
        purpose: String,
    },
    /// The token returned a signature that does not verify under the key's
    /// public half: the public object belongs to another key, or the token
    /// is faulty. Never handed out.
    #[error("the token's signature with key {key} does not verify under its public key")]
    SignatureMismatch {
        /// The key.
        key: String,
    },
    /// The token returned something that is not a signature of the
    /// expected shape.
    #[error("the token returned a malformed signature for key {key}: {why}")]
    MalformedSignature {
        /// The key.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// Another PKCS#11 call failed.
    #[error("{function} failed: {rv}")]
    Pkcs11 {
        /// The PKCS#11 function, e.g. `C_Sign`.
        function: String,
        /// The return value, e.g. `DeviceError`.
        rv: String,
    },
    /// The PKCS#11 wrapper failed outside a PKCS#11 call.
    #[error("PKCS#11: {0}")]
    Library(String),
}

/// A list for a message: the items quoted, or "none".
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<CkError> for HsmError {
    fn from(err: CkError) -> Self {
        match err {
            CkError::Pkcs11(rv, function) => Self::Pkcs11 {
                // `Function::Sign` -> `C_Sign`, the name people search for.
                function: format!("C_{function:?}"),
                rv: format!("{rv:?}"),
            },
            other => Self::Library(other.to_string()),
        }
    }
}

/// The return value of a failed PKCS#11 call, if that is what `err` is.
pub(crate) fn rv_of(err: &CkError) -> Option<RvError> {
    match err {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// Maps a failed `C_Login`.
///
/// `locked_now` is the token's `CKF_USER_PIN_LOCKED` read after the failure:
/// the attempt that used up the last try is reported as `PinIncorrect` by
/// some tokens, and the user should hear that the PIN is now locked.
pub(crate) fn login_error(err: CkError, token: &str, locked_now: bool) -> HsmError {
    if locked_now {
        return HsmError::PinLocked {
            token: token.to_owned(),
        };
    }
    match rv_of(&err) {
        Some(RvError::PinLocked) => HsmError::PinLocked {
            token: token.to_owned(),
        },
        // A PIN of the wrong length or with characters the token refuses is
        // a wrong PIN as far as the user is concerned.
        Some(RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid) => {
            HsmError::WrongPin {
                token: token.to_owned(),
            }
        }
        _ => err.into(),
    }
}

/// Refuses to try a PIN on a token whose user PIN is already locked: the
/// attempt cannot succeed, and on some tokens it counts against the SO.
pub(crate) fn check_pin_not_locked(user_pin_locked: bool, token: &str) -> Result<(), HsmError> {
    if user_pin_locked {
        return Err(HsmError::PinLocked {
            token: token.to_owned(),
        });
    }
    Ok(())
}

/// Checks that `mechanism` is in the token's `C_GetMechanismList`.
pub(crate) fn require_mechanism(
    available: &[MechanismType],
    mechanism: MechanismType,
    token: &str,
    purpose: &str,
) -> Result<(), HsmError> {
    if available.contains(&mechanism) {
        return Ok(());
    }
    Err(HsmError::MechanismUnsupported {
        token: token.to_owned(),
        mechanism: mechanism.to_string(),
        purpose: purpose.to_owned(),
    })
}

/// Maps a failed `C_SignInit` / `C_Sign`.
pub(crate) fn sign_error(
    err: CkError,
    token: &str,
    key: &str,
    mechanism: MechanismType,
) -> HsmError {
    match rv_of(&err) {
        // The list said yes but the token says no (some tokens list
        // mechanisms they only support for other key sizes).
        Some(RvError::MechanismInvalid | RvError::MechanismParamInvalid) => {
            HsmError::MechanismUnsupported {
                token: token.to_owned(),
                mechanism: mechanism.to_string(),
                purpose: "signing".to_owned(),
            }
        }
        Some(RvError::KeyTypeInconsistent) => HsmError::WrongKeyType {
            key: key.to_owned(),
            found: "a key the token will not use".to_owned(),
            expected: format!("a key for {mechanism}"),
        },
        Some(RvError::KeyFunctionNotPermitted) => HsmError::KeyCannotSign {
            key: key.to_owned(),
        },
        Some(RvError::PinLocked) => HsmError::PinLocked {
            token: token.to_owned(),
        },
        _ => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    fn rv(rv: RvError, f: Function) -> CkError {
        CkError::Pkcs11(rv, f)
    }

    #[test]
    fn login_errors_map_to_their_own_variants() {
        assert!(matches!(
            login_error(rv(RvError::PinIncorrect, Function::Login), "t", false),
            HsmError::WrongPin { token } if token == "t"
        ));
        for code in [RvError::PinLenRange, RvError::PinInvalid] {
            assert!(matches!(
                login_error(rv(code, Function::Login), "t", false),
                HsmError::WrongPin { .. }
            ));
        }
        assert!(matches!(
            login_error(rv(RvError::PinLocked, Function::Login), "t", false),
            HsmError::PinLocked { token } if token == "t"
        ));
        // The attempt that used up the last try.
        assert!(matches!(
            login_error(rv(RvError::PinIncorrect, Function::Login), "t", true),
            HsmError::PinLocked { .. }
        ));
        let other = login_error(rv(RvError::DeviceError, Function::Login), "t", false);
        assert!(
            matches!(&other, HsmError::Pkcs11 { function, rv }
            if function == "C_Login" && rv == "DeviceError"),
            "{other:?}"
        );
    }

    #[test]
    fn locked_pin_flag_is_refused_before_login() {
        assert!(check_pin_not_locked(false, "t").is_ok());
        let err = check_pin_not_locked(true, "release").unwrap_err();
        assert!(matches!(err, HsmError::PinLocked { .. }));
        assert!(err.to_string().contains("\"release\""), "{err}");
        assert!(err.to_string().contains("locked"), "{err}");
    }

    #[test]
    fn a_mechanism_missing_from_the_list_is_its_own_error() {
        let list = [MechanismType::ECDSA, MechanismType::ECC_KEY_PAIR_GEN];
        assert!(require_mechanism(&list, MechanismType::ECDSA, "t", "signing").is_ok());
        let err =
            require_mechanism(&list, MechanismType::EDDSA, "t", "Ed25519 signing").unwrap_err();
        assert!(
            matches!(&err, HsmError::MechanismUnsupported { mechanism, .. } if mechanism == "CKM_EDDSA"),
            "{err:?}"
        );
        assert!(err.to_string().contains("Ed25519 signing"), "{err}");
        assert!(require_mechanism(&[], MechanismType::ECDSA, "t", "signing").is_err());
    }

    #[test]
    fn sign_errors_map_to_their_own_variants() {
        let m = MechanismType::ECDSA;
        assert!(matches!(
            sign_error(
                rv(RvError::MechanismInvalid, Function::SignInit),
                "t",
                "k",
                m
            ),
            HsmError::MechanismUnsupported { .. }
        ));
        assert!(matches!(
            sign_error(
                rv(RvError::KeyTypeInconsistent, Function::SignInit),
                "t",
                "k",
                m
            ),
            HsmError::WrongKeyType { .. }
        ));
        assert!(matches!(
            sign_error(
                rv(RvError::KeyFunctionNotPermitted, Function::SignInit),
                "t",
                "k",
                m
            ),
            HsmError::KeyCannotSign { .. }
        ));
        assert!(matches!(
            sign_error(rv(RvError::PinLocked, Function::Sign), "t", "k", m),
            HsmError::PinLocked { .. }
        ));
        assert!(matches!(
            sign_error(rv(RvError::DeviceError, Function::Sign), "t", "k", m),
            HsmError::Pkcs11 { .. }
        ));
    }

    #[test]
    fn listing_messages_name_what_is_present() {
        let err = HsmError::TokenNotFound {
            wanted: "token=\"release\"".to_owned(),
            present: vec!["dev".to_owned(), "ci".to_owned()],
        };
        assert_eq!(
            err.to_string(),
            "PKCS#11 token token=\"release\" not found; tokens present: \"dev\", \"ci\""
        );
        let err = HsmError::KeyNotFound {
            wanted: "object=\"x\"".to_owned(),
            token: "t".to_owned(),
            present: vec![],
        };
        assert!(err.to_string().ends_with("keys present: none"), "{err}");
    }
}
