//! One command's sessions: each token logged in to once however many of
//! its keys the command uses.
//!
//! Apart from sessions because it is a policy over them (share one session
//! per token, ask for a PIN through the prompt), not part of what a
//! session is.

use std::fmt;
use std::sync::Mutex;

use fwsign_keys::{Algorithm, PublicKey};
use zeroize::Zeroizing;

use crate::registry::{Module, lock};
use crate::session::PinPrompt;
use crate::token::find_token;
use crate::uri::Pkcs11Uri;
use crate::{HsmError, HsmSession, HsmSigner};

/// The HSM sessions of one command: every URI the command is given resolves
/// through here, so each token is logged in to once and its one session is
/// reused for every key and every signature (a publish that signs with
/// several roles' keys on one token logs in once).
///
/// A token's first URI provides the PIN; later URIs for the same token use
/// the open session and their `pin-source` is not read.
#[derive(Default)]
pub struct HsmContext {
    sessions: Mutex<Vec<HsmSession>>,
    prompt: Option<Box<PinPrompt>>,
}

impl fmt::Debug for HsmContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsmContext")
            .field("sessions", &*lock(&self.sessions))
            .field("prompt", &self.prompt.is_some())
            .finish()
    }
}

impl HsmContext {
    /// A context without a PIN prompt: a token that needs a PIN must get it
    /// from its URI.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context that calls `prompt` with the token's label when a token
    /// needs a PIN and its URI gives none.
    pub fn with_pin_prompt(
        prompt: impl Fn(&str) -> Result<Zeroizing<Vec<u8>>, HsmError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            sessions: Mutex::new(Vec::new()),
            prompt: Some(Box::new(prompt)),
        }
    }

    /// The session on the URI's token, opened and logged in on first use.
    pub fn session(&self, uri: &Pkcs11Uri) -> Result<HsmSession, HsmError> {
        let module = Module::acquire(&uri.resolve_module()?)?;
        let (slot, state) = find_token(&module, uri)?;
        // Held across the login so two threads resolving keys on one token
        // cannot both log in.
        let mut sessions = lock(&self.sessions);
        if let Some(open) = sessions
            .iter()
            .find(|s| s.inner.module.path == module.path && s.inner.slot == slot)
        {
            return Ok(open.clone());
        }
        let session = HsmSession::login(module, slot, state, uri, self.prompt.as_deref())?;
        sessions.push(session.clone());
        Ok(session)
    }

    /// The signer for the URI's key; see [`HsmSession::signer`].
    pub fn signer(&self, uri: &Pkcs11Uri) -> Result<HsmSigner, HsmError> {
        self.session(uri)?.signer(uri)
    }

    /// The signer for the URI's key, which must be of `expected`; see
    /// [`HsmSession::signer_for`].
    pub fn signer_for(&self, uri: &Pkcs11Uri, expected: Algorithm) -> Result<HsmSigner, HsmError> {
        self.session(uri)?.signer_for(uri, expected)
    }

    /// Generates a key pair in the URI's token; see
    /// [`HsmSession::generate`].
    pub fn generate(&self, uri: &Pkcs11Uri, alg: Algorithm) -> Result<PublicKey, HsmError> {
        self.session(uri)?.generate(uri, alg)
    }

    /// How many sessions (and so logins) the context holds: one per token
    /// used.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }
}
