//! # fwsign-hsm: signing keys held in an HSM
//!
//! Release keys never sit in a file on a build machine: they live in an HSM
//! (or any PKCS#11 token) and the private key never leaves it. This crate
//! makes such a key usable wherever fwsign takes a key file.
//!
//! ## Design
//!
//! - **Naming.** A key is named by a PKCS#11 URI (RFC 7512), parsed fully by
//!   [`Pkcs11Uri`]: `pkcs11:token=release;object=targets-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:FWSIGN_PIN`.
//!   Tokens are found by label, never by slot number (SoftHSM2 renumbers
//!   slots). The module comes from `module-path`, `module-name` or the
//!   `FWSIGN_PKCS11_MODULE` environment variable. A PIN in the URI
//!   (`pin-value`) is refused unless the caller allows it; `pin-source`
//!   reads it from an environment variable or a file.
//! - **One login per token per command.** An [`HsmContext`] holds one
//!   [`HsmSession`] (one PKCS#11 session, logged in once) per token, and
//!   every [`HsmSigner`] made from it shares that session. A module is
//!   loaded and initialised once per process and finalised when its last
//!   session goes.
//! - **Same trait as a key file.** [`HsmSigner`] implements
//!   `signature::Signer<SignatureBytes>` and
//!   [`fwsign_keys::TufSigner`], so document signing cannot tell it
//!   from a file key. ECDSA P-256 is hashed on the host and signed with
//!   `CKM_ECDSA` (SoftHSM2 2.6 has no `CKM_ECDSA_SHA256`); the raw `r || s`
//!   is DER-encoded with low S, since tokens return high S about half the
//!   time. Ed25519 is single-part `CKM_EDDSA`. Every signature is verified
//!   on the host before it is returned.
//! - **Key generation** ([`HsmSession::generate`]) happens in the token: the
//!   private key is sensitive, never extractable and may only sign.
//! - **Errors** ([`HsmError`]) say what to do: the module is missing, the
//!   token is not there (listing those that are), the PIN is wrong or
//!   locked, the key is not there (listing the labels that are), the key is
//!   of the wrong type, a mechanism is missing from `C_GetMechanismList`.
//!   PINs live in [`zeroize::Zeroizing`] buffers and never appear in an
//!   error, a `Debug` or a `Display`.
//!
//! ## Layout
//!
//! One file per concern: `uri` (RFC 7512 URIs and PIN sources), `registry`
//! (the process-wide table of loaded modules), `token` (finding the token a
//! URI names), `session` (logging in), `objects` (finding and generating
//! key objects), `signer` (signing and verifying), `context` (one command's
//! sessions), `encoding` (the byte formats between PKCS#11 and TUF) and
//! `error`.
//!
//! ## Testing
//!
//! SoftHSM2 is the real token in the tests; nothing is mocked. A PKCS#11
//! module reads its configuration once per process, so the integration
//! tests (`tests/softhsm.rs`) run each test body in a child process of the
//! test binary, with its own token directory and `SOFTHSM2_CONF`.

#![forbid(unsafe_code)]

mod context;
mod encoding;
mod error;
mod objects;
mod registry;
mod session;
mod signer;
mod token;
mod uri;

pub use context::HsmContext;
pub use error::HsmError;
pub use session::{HsmSession, PinPrompt};
pub use signer::{HsmSigner, KeyProtection};
pub use uri::{MODULE_ENV, PinSource, Pkcs11Uri, is_pkcs11_uri};
