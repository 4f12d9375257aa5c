//! Logged-in sessions: opening a session on a found token and logging in
//! with the URI's PIN, a prompt or the token's own keypad.
//!
//! The key objects a session finds and generates are in `objects`, the
//! signer in `signer`, and one command's sessions in `context`; this file
//! holds only what a session is and how it comes to be logged in.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::error::RvError;
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;
use fwsign_keys::Algorithm;
use zeroize::Zeroizing;

use crate::HsmError;
use crate::error::{check_pin_not_locked, login_error, rv_of};
use crate::objects::{key_labels, mechanisms};
use crate::registry::{Module, lock};
use crate::token::{TokenState, find_token};
use crate::uri::Pkcs11Uri;

/// Asks the user for a token's PIN when the URI gives no `pin-source`; given
/// the token's label. The CLI reads it from the terminal without echo.
pub type PinPrompt = dyn Fn(&str) -> Result<Zeroizing<Vec<u8>>, HsmError> + Send + Sync;

/// One logged-in session on one token, shared by every signer made from it.
///
/// Cloning is cheap and shares the session. The session is closed (which
/// logs out) when the last clone and the last signer made from it are
/// dropped; the module is finalised when nothing in the process uses it.
#[derive(Clone)]
pub struct HsmSession {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    // Declared first so it is dropped first: the session must be closed
    // before `module` may finalise the library.
    pub(crate) session: Mutex<Session>,
    pub(crate) token: String,
    pub(crate) slot: Slot,
    pub(crate) mechanisms: Vec<MechanismType>,
    pub(crate) module: Module,
}

impl fmt::Debug for HsmSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsmSession")
            .field("module", &self.inner.module.path)
            .field("token", &self.inner.token)
            .field("slot", &self.inner.slot.id())
            .finish_non_exhaustive()
    }
}

impl HsmSession {
    /// Loads the URI's module, finds its token, opens a session and logs in
    /// with the URI's PIN.
    ///
    /// PKCS#11 keeps one login state per token per process: when another
    /// session of this process is already logged in to the token, this one
    /// shares that login and the PIN is not checked again. Use one
    /// [`HsmContext`](crate::HsmContext) per command to get one session per
    /// token.
    pub fn open(uri: &Pkcs11Uri) -> Result<Self, HsmError> {
        let module = Module::acquire(&uri.resolve_module()?)?;
        let (slot, state) = find_token(&module, uri)?;
        Self::login(module, slot, state, uri, None)
    }

    pub(crate) fn login(
        module: Module,
        slot: Slot,
        state: TokenState,
        uri: &Pkcs11Uri,
        prompt: Option<&PinPrompt>,
    ) -> Result<Self, HsmError> {
        let pkcs11 = &module.pkcs11;
        check_pin_not_locked(state.user_pin_locked, &state.label)?;
        let mechanisms = pkcs11.get_mechanism_list(slot)?;
        // Read/write so `key generate` can store keys; signing does not need
        // it, and a write-protected token still signs.
        let session = if state.write_protected {
            pkcs11.open_ro_session(slot)?
        } else {
            pkcs11.open_rw_session(slot)?
        };
        if state.login_required {
            let pin = match uri.read_pin()? {
                Some(pin) => Some(pin),
                None if state.protected_authentication_path => None,
                None => match prompt {
                    Some(prompt) => Some(prompt(&state.label)?),
                    None => {
                        return Err(HsmError::PinRequired { token: state.label });
                    }
                },
            };
            let result = match &pin {
                // The copy lives in a `SecretBox`, wiped when dropped.
                Some(pin) => {
                    session.login_with_raw(UserType::User, &RawAuthPin::new(Box::new(pin.to_vec())))
                }
                // The PIN is entered on the device's own keypad.
                None => session.login(UserType::User, None),
            };
            drop(pin);
            match result {
                Ok(()) => {}
                Err(e) if rv_of(&e) == Some(RvError::UserAlreadyLoggedIn) => {}
                Err(e) => {
                    let locked_now = pkcs11
                        .get_token_info(slot)
                        .map(|info| info.user_pin_locked())
                        .unwrap_or(false);
                    return Err(login_error(e, &state.label, locked_now));
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                session: Mutex::new(session),
                token: state.label,
                slot,
                mechanisms,
                module,
            }),
        })
    }

    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        lock(&self.inner.session)
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.inner.token
    }

    /// The token's slot number in this process (for diagnostics only; it
    /// changes between runs).
    pub fn slot_id(&self) -> u64 {
        self.inner.slot.id()
    }

    /// The module's canonical path.
    pub fn module_path(&self) -> &Path {
        &self.inner.module.path
    }

    /// Whether the token offers the mechanisms to generate and sign with
    /// keys of `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        let (generate, sign, _) = mechanisms(alg);
        self.inner.mechanisms.contains(&generate) && self.inner.mechanisms.contains(&sign)
    }

    /// The labels of the private keys on the token, sorted; an unlabelled
    /// key shows as `id=<hex>`.
    pub fn key_labels(&self) -> Result<Vec<String>, HsmError> {
        key_labels(&self.session())
    }
}
