//! Modules, tokens, logged-in sessions and the signers that use them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;
use fwsign_sign::keys::{Algorithm, PublicKey, SignatureBytes, TufSigner};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::HsmError;
use crate::encoding::{self, ED25519_PARAMS, P256_PARAMS};
use crate::error::{check_pin_not_locked, login_error, require_mechanism, rv_of, sign_error};
use crate::uri::{Pkcs11Uri, hex};

// ---------------------------------------------------------------------------
// Modules

/// Every module this process has loaded and initialised, by canonical path,
/// with how many [`Module`] handles use it.
///
/// `C_Initialize` may be called once per process per module (a second call
/// fails with `CKR_CRYPTOKI_ALREADY_INITIALIZED`), and a module reads its
/// configuration (`SOFTHSM2_CONF`) then. So two sessions on one module must
/// share one initialisation, and the last one to go finalises it; the count
/// is kept under the same lock as the map so a module is never finalised
/// while another thread is starting to use it.
static MODULES: Mutex<BTreeMap<PathBuf, Loaded>> = Mutex::new(BTreeMap::new());

struct Loaded {
    pkcs11: Pkcs11,
    users: usize,
    /// False when something else in the process had initialised the module
    /// before us; then finalising it is that code's business.
    initialized_here: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent before anything
    // that can panic, so a poisoned lock's data is still good.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A handle on a loaded, initialised PKCS#11 module.
pub(crate) struct Module {
    path: PathBuf,
    pkcs11: Pkcs11,
}

impl Module {
    fn acquire(path: &Path) -> Result<Self, HsmError> {
        let canonical = match std::fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HsmError::ModuleNotFound {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => {
                return Err(HsmError::ModuleLoad {
                    path: path.to_path_buf(),
                    why: e.to_string(),
                });
            }
        };
        let mut modules = lock(&MODULES);
        if let Some(loaded) = modules.get_mut(&canonical) {
            loaded.users += 1;
            return Ok(Self {
                path: canonical,
                pkcs11: loaded.pkcs11.clone(),
            });
        }
        let load_error = |why: String| HsmError::ModuleLoad {
            path: path.to_path_buf(),
            why,
        };
        let pkcs11 = Pkcs11::new(&canonical).map_err(|e| match e {
            CkError::LibraryLoading(e) => load_error(e.to_string()),
            CkError::MissingSymbol(_) => {
                load_error("not a PKCS#11 module (no C_GetFunctionList)".to_owned())
            }
            other => load_error(other.to_string()),
        })?;
        let initialized_here =
            match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                Ok(()) => true,
                Err(e) if rv_of(&e) == Some(RvError::CryptokiAlreadyInitialized) => false,
                Err(e) => return Err(load_error(HsmError::from(e).to_string())),
            };
        modules.insert(
            canonical.clone(),
            Loaded {
                pkcs11: pkcs11.clone(),
                users: 1,
                initialized_here,
            },
        );
        Ok(Self {
            path: canonical,
            pkcs11,
        })
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let mut modules = lock(&MODULES);
        let Some(loaded) = modules.get_mut(&self.path) else {
            return;
        };
        loaded.users -= 1;
        if loaded.users == 0
            && let Some(loaded) = modules.remove(&self.path)
            && loaded.initialized_here
        {
            // Nothing useful can be done about a failing C_Finalize on the
            // way out; the process is done with the module either way.
            let _ = loaded.pkcs11.finalize();
        }
    }
}

// ---------------------------------------------------------------------------
// Tokens

/// What fwsign needs to know about a token before logging in.
struct TokenState {
    label: String,
    login_required: bool,
    protected_authentication_path: bool,
    user_pin_locked: bool,
    write_protected: bool,
}

/// Finds the one token the URI names, by label and the other token
/// attributes (never by slot position alone: SoftHSM2 numbers slots anew
/// whenever a token is added).
fn find_token(module: &Module, uri: &Pkcs11Uri) -> Result<(Slot, TokenState), HsmError> {
    let pkcs11 = &module.pkcs11;
    let mut present = Vec::new();
    let mut matching = Vec::new();
    let library_ok = library_matches(pkcs11, uri)?;
    for slot in pkcs11.get_slots_with_token()? {
        let info = pkcs11.get_token_info(slot)?;
        // SoftHSM2 always offers one more, uninitialised token to
        // initialise; it has no label and no keys.
        if !info.token_initialized() {
            continue;
        }
        let label = info.label().to_owned();
        present.push(label.clone());
        if !library_ok {
            continue;
        }
        let wanted = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let mut ok = wanted(&uri.token, info.label())
            && wanted(&uri.manufacturer, info.manufacturer_id())
            && wanted(&uri.model, info.model())
            && wanted(&uri.serial, info.serial_number())
            && uri.slot_id.is_none_or(|id| id == slot.id());
        if ok && (uri.slot_description.is_some() || uri.slot_manufacturer.is_some()) {
            let slot_info = pkcs11.get_slot_info(slot)?;
            ok = wanted(&uri.slot_description, slot_info.slot_description())
                && wanted(&uri.slot_manufacturer, slot_info.manufacturer_id());
        }
        if ok {
            matching.push((
                slot,
                TokenState {
                    label,
                    login_required: info.login_required(),
                    protected_authentication_path: info.protected_authentication_path(),
                    user_pin_locked: info.user_pin_locked(),
                    write_protected: info.write_protected(),
                },
            ));
        }
    }
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => Err(HsmError::TokenNotFound {
            wanted: uri.token_description(),
            present,
        }),
        _ => Err(HsmError::AmbiguousToken {
            matching: matching.into_iter().map(|(_, t)| t.label).collect(),
        }),
    }
}

fn library_matches(pkcs11: &Pkcs11, uri: &Pkcs11Uri) -> Result<bool, HsmError> {
    if uri.library_manufacturer.is_none()
        && uri.library_description.is_none()
        && uri.library_version.is_none()
    {
        return Ok(true);
    }
    let info = pkcs11.get_library_info()?;
    let version = info.library_version();
    Ok(uri
        .library_manufacturer
        .as_deref()
        .is_none_or(|m| m == info.manufacturer_id())
        && uri
            .library_description
            .as_deref()
            .is_none_or(|d| d == info.library_description())
        && uri.library_version.is_none_or(|(major, minor)| {
            major == version.major() && minor.is_none_or(|minor| minor == version.minor())
        }))
}

// ---------------------------------------------------------------------------
// Sessions

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
    inner: Arc<Inner>,
}

struct Inner {
    // Declared first so it is dropped first: the session must be closed
    // before `module` may finalise the library.
    session: Mutex<Session>,
    token: String,
    slot: Slot,
    mechanisms: Vec<MechanismType>,
    module: Module,
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
    /// [`HsmContext`] per command to get one session per token.
    pub fn open(uri: &Pkcs11Uri) -> Result<Self, HsmError> {
        let module = Module::acquire(&uri.resolve_module()?)?;
        let (slot, state) = find_token(&module, uri)?;
        Self::login(module, slot, state, uri, None)
    }

    fn login(
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

    fn session(&self) -> MutexGuard<'_, Session> {
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

    /// The signer for the private key the URI names (by `object` and/or
    /// `id`), of whichever supported algorithm it is.
    pub fn signer(&self, uri: &Pkcs11Uri) -> Result<HsmSigner, HsmError> {
        self.find_signer(uri, None)
    }

    /// Like [`HsmSession::signer`], but the key must be of `expected`: a
    /// role whose key is P-256 cannot be handed an Ed25519 key.
    pub fn signer_for(&self, uri: &Pkcs11Uri, expected: Algorithm) -> Result<HsmSigner, HsmError> {
        self.find_signer(uri, Some(expected))
    }

    fn find_signer(
        &self,
        uri: &Pkcs11Uri,
        expected: Option<Algorithm>,
    ) -> Result<HsmSigner, HsmError> {
        let name = uri.key_description();
        if uri.object.is_none() && uri.id.is_none() {
            return Err(invalid(uri, "name the key with object=LABEL or id=ID"));
        }
        if uri.object_type.as_deref().is_some_and(|t| t != "private") {
            return Err(invalid(uri, "a signing key is type=private"));
        }
        let session = self.session();
        let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        if let Some(label) = &uri.object {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        let found = session.find_objects(&template)?;
        let key = match found.as_slice() {
            [key] => *key,
            [] => {
                return Err(HsmError::KeyNotFound {
                    wanted: name,
                    token: self.inner.token.clone(),
                    present: key_labels(&session)?,
                });
            }
            many => {
                return Err(HsmError::AmbiguousKey {
                    wanted: name,
                    token: self.inner.token.clone(),
                    count: many.len(),
                });
            }
        };
        let attrs = session.get_attributes(
            key,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::Sign,
                AttributeType::Label,
                AttributeType::Id,
            ],
        )?;
        let mut key_type = None;
        let mut params = None;
        let mut can_sign = false;
        let mut label = Vec::new();
        let mut id = Vec::new();
        for attr in attrs {
            match attr {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::EcParams(p) => params = Some(p),
                Attribute::Sign(s) => can_sign = s,
                Attribute::Label(l) => label = l,
                Attribute::Id(i) => id = i,
                _ => {}
            }
        }
        let alg =
            classify(key_type, params.as_deref()).map_err(|found| HsmError::WrongKeyType {
                key: name.clone(),
                found,
                expected: expected.map_or("an ECDSA P-256 or Ed25519 key".to_owned(), describe),
            })?;
        if let Some(expected) = expected
            && alg != expected
        {
            return Err(HsmError::WrongKeyType {
                key: name,
                found: describe(alg),
                expected: describe(expected),
            });
        }
        if !can_sign {
            return Err(HsmError::KeyCannotSign { key: name });
        }
        let (_, sign_mechanism, purpose) = mechanisms(alg);
        require_mechanism(
            &self.inner.mechanisms,
            sign_mechanism,
            &self.inner.token,
            purpose,
        )?;
        let public = read_public_key(&session, key, alg, &label, &id).map_err(|why| {
            HsmError::PublicKey {
                key: name.clone(),
                why,
            }
        })?;
        drop(session);
        Ok(HsmSigner {
            session: self.clone(),
            key,
            public,
            name,
        })
    }

    /// Generates a key pair of `alg` inside the token, labelled with the
    /// URI's `object` (required) and, if given, with its `id`.
    ///
    /// The private key is a token object that is private, sensitive and
    /// never extractable, and may only sign (`CKA_SIGN`; no decrypt, derive
    /// or unwrap). Without an `id` in the URI, `CKA_ID` is set to the key's
    /// TUF key ID (32 bytes), so `id=` with the key ID finds it. A test
    /// signature is made and verified before the public key is returned.
    pub fn generate(&self, uri: &Pkcs11Uri, alg: Algorithm) -> Result<PublicKey, HsmError> {
        let Some(label) = uri.object.clone() else {
            return Err(invalid(
                uri,
                "key generate needs object=LABEL for the new key",
            ));
        };
        if uri.object_type.as_deref().is_some_and(|t| t != "private") {
            return Err(invalid(uri, "key generate makes a type=private key"));
        }
        let token = &self.inner.token;
        let (gen_mechanism, sign_mechanism, purpose) = mechanisms(alg);
        require_mechanism(
            &self.inner.mechanisms,
            gen_mechanism,
            token,
            "key generation",
        )?;
        require_mechanism(&self.inner.mechanisms, sign_mechanism, token, purpose)?;
        let session = self.session();
        // A second key under the same name would make every later lookup
        // ambiguous, so refuse rather than add one.
        let mut clashes = session.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])?;
        if let Some(id) = &uri.id {
            clashes.extend(session.find_objects(&[Attribute::Id(id.clone())])?);
        }
        if !clashes.is_empty() {
            return Err(HsmError::KeyExists {
                wanted: uri.key_description(),
                token: token.clone(),
            });
        }
        let (mechanism, params) = match alg {
            Algorithm::EcdsaP256 => (Mechanism::EccKeyPairGen, P256_PARAMS),
            Algorithm::Ed25519 => (Mechanism::EccEdwardsKeyPairGen, ED25519_PARAMS),
        };
        let name_attrs = || {
            let mut attrs = vec![Attribute::Label(label.as_bytes().to_vec())];
            if let Some(id) = &uri.id {
                attrs.push(Attribute::Id(id.clone()));
            }
            attrs
        };
        let mut public_template = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(params.to_vec()),
        ];
        public_template.extend(name_attrs());
        let mut private_template = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Derive(false),
            Attribute::Unwrap(false),
        ];
        private_template.extend(name_attrs());
        let (public_handle, private_handle) =
            session.generate_key_pair(&mechanism, &public_template, &private_template)?;
        let name = uri.key_description();
        let public =
            read_ec_point(&session, public_handle, alg).map_err(|why| HsmError::PublicKey {
                key: name.clone(),
                why,
            })?;
        if uri.id.is_none() {
            let keyid = decode_hex(&public.keyid());
            // Best effort: a token that will not change CKA_ID after
            // generation still has a working key, found by its label.
            for handle in [public_handle, private_handle] {
                let _ = session.update_attributes(handle, &[Attribute::Id(keyid.clone())]);
            }
        }
        drop(session);
        let signer = HsmSigner {
            session: self.clone(),
            key: private_handle,
            public: public.clone(),
            name,
        };
        signer.sign_bytes(b"fwsign key generate: self-test")?;
        Ok(public)
    }
}

fn invalid(uri: &Pkcs11Uri, why: &str) -> HsmError {
    HsmError::InvalidUri {
        uri: uri.to_string(),
        why: why.to_owned(),
    }
}

fn describe(alg: Algorithm) -> String {
    match alg {
        Algorithm::EcdsaP256 => "an ECDSA P-256 key".to_owned(),
        Algorithm::Ed25519 => "an Ed25519 key".to_owned(),
    }
}

/// Key-pair generation mechanism, signing mechanism, and what signing is
/// called in messages, for `alg`.
fn mechanisms(alg: Algorithm) -> (MechanismType, MechanismType, &'static str) {
    match alg {
        Algorithm::EcdsaP256 => (
            MechanismType::ECC_KEY_PAIR_GEN,
            MechanismType::ECDSA,
            "ECDSA P-256 signing",
        ),
        Algorithm::Ed25519 => (
            MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            MechanismType::EDDSA,
            "Ed25519 signing",
        ),
    }
}

/// The algorithm of a private key from its `CKA_KEY_TYPE` and
/// `CKA_EC_PARAMS`, or what it is instead.
fn classify(key_type: Option<KeyType>, params: Option<&[u8]>) -> Result<Algorithm, String> {
    match key_type {
        // Some older tokens file Ed25519 keys under CKK_EC; the curve
        // decides.
        Some(t) if t == KeyType::EC || t == KeyType::EC_EDWARDS => match params {
            Some(params) => encoding::curve_of(params),
            None if t == KeyType::EC_EDWARDS => Ok(Algorithm::Ed25519),
            None => Err("an EC key without CKA_EC_PARAMS".to_owned()),
        },
        Some(t) if t == KeyType::RSA => Err("an RSA key".to_owned()),
        Some(t) => Err(format!("a key of type {t}")),
        None => Err("a key without CKA_KEY_TYPE".to_owned()),
    }
}

fn key_labels(session: &Session) -> Result<Vec<String>, HsmError> {
    let mut labels = Vec::new();
    for key in session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])? {
        let attrs = session.get_attributes(key, &[AttributeType::Label, AttributeType::Id])?;
        let mut label = None;
        let mut id = Vec::new();
        for attr in attrs {
            match attr {
                Attribute::Label(l) if !l.is_empty() => {
                    label = Some(String::from_utf8_lossy(&l).into_owned())
                }
                Attribute::Id(i) => id = i,
                _ => {}
            }
        }
        labels.push(label.unwrap_or_else(|| format!("id={}", hex(&id))));
    }
    labels.sort();
    labels.dedup();
    Ok(labels)
}

/// The public half of `private`: from the public key object with the same
/// `CKA_ID` (or, without an ID, the same label), else from the private
/// key's own `CKA_PUBLIC_KEY_INFO` (PKCS#11 3.0).
fn read_public_key(
    session: &Session,
    private: ObjectHandle,
    alg: Algorithm,
    label: &[u8],
    id: &[u8],
) -> Result<PublicKey, String> {
    let name = if id.is_empty() {
        Attribute::Label(label.to_vec())
    } else {
        Attribute::Id(id.to_vec())
    };
    let mut found: Vec<PublicKey> = Vec::new();
    let mut last_error = None;
    for handle in session
        .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), name])
        .map_err(|e| HsmError::from(e).to_string())?
    {
        match read_ec_point(session, handle, alg) {
            Ok(pk) if !found.contains(&pk) => found.push(pk),
            Ok(_) => {}
            Err(e) => last_error = Some(e),
        }
    }
    match found.len() {
        1 => return Ok(found.remove(0)),
        0 => {}
        n => {
            return Err(format!(
                "{n} different public keys share the private key's name"
            ));
        }
    }
    if let Ok(attrs) = session.get_attributes(private, &[AttributeType::PublicKeyInfo]) {
        for attr in attrs {
            if let Attribute::PublicKeyInfo(spki) = attr
                && !spki.is_empty()
            {
                let pk = PublicKey::from_spki_der(&spki).map_err(|e| e.to_string())?;
                if pk.algorithm() != alg {
                    return Err(format!(
                        "CKA_PUBLIC_KEY_INFO holds {}",
                        describe(pk.algorithm())
                    ));
                }
                return Ok(pk);
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| "no public key object with the same CKA_ID or label".to_owned()))
}

fn read_ec_point(
    session: &Session,
    handle: ObjectHandle,
    alg: Algorithm,
) -> Result<PublicKey, String> {
    let attrs = session
        .get_attributes(handle, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(|e| HsmError::from(e).to_string())?;
    let mut params = None;
    let mut point = None;
    for attr in attrs {
        match attr {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if let Some(params) = params {
        let curve = encoding::curve_of(&params)?;
        if curve != alg {
            return Err(format!("the public key object is {}", describe(curve)));
        }
    }
    let point = point.ok_or("the public key object has no CKA_EC_POINT")?;
    encoding::public_key(alg, &point)
}

fn decode_hex(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks(2)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Signers

/// A private key in a token, usable wherever a key file is: it implements
/// [`signature::Signer<SignatureBytes>`] and [`TufSigner`].
///
/// It shares its [`HsmSession`]; signatures are made one at a time through
/// that session, and each is verified against the public key before it is
/// returned, so a token fault or a public object that belongs to another
/// key can never put a bad signature into metadata.
#[derive(Clone)]
pub struct HsmSigner {
    session: HsmSession,
    key: ObjectHandle,
    public: PublicKey,
    name: String,
}

impl fmt::Debug for HsmSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsmSigner")
            .field("token", &self.session.inner.token)
            .field("key", &self.name)
            .field("algorithm", &self.public.algorithm())
            .field("keyid", &self.public.keyid())
            .finish()
    }
}

/// The protection attributes of a key in a token, as the token reports
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyProtection {
    /// `CKA_SENSITIVE`: the key's value cannot be read.
    pub sensitive: bool,
    /// `CKA_EXTRACTABLE`: the key can be wrapped out of the token.
    pub extractable: bool,
    /// `CKA_ALWAYS_SENSITIVE`: it has been sensitive since it was made.
    pub always_sensitive: bool,
    /// `CKA_NEVER_EXTRACTABLE`: it has never been extractable.
    pub never_extractable: bool,
    /// `CKA_LOCAL`: it was generated in the token, not imported.
    pub local: bool,
    /// `CKA_SIGN`.
    pub sign: bool,
    /// `CKA_DECRYPT`.
    pub decrypt: bool,
    /// `CKA_DERIVE`.
    pub derive: bool,
    /// `CKA_UNWRAP`.
    pub unwrap: bool,
}

impl HsmSigner {
    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// The key as the URI named it (`object="..."`, `id=...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The session the signer uses.
    pub fn session(&self) -> &HsmSession {
        &self.session
    }

    /// Signs `msg` as TUF needs it: ECDSA P-256 over SHA-256 (hashed here,
    /// `CKM_ECDSA` in the token, DER with low S) or pure Ed25519
    /// (`CKM_EDDSA`, 64 bytes). The same as [`signature::Signer::try_sign`]
    /// with the error kept typed.
    pub fn sign_bytes(&self, msg: &[u8]) -> Result<SignatureBytes, HsmError> {
        let inner = &self.session.inner;
        let alg = self.public.algorithm();
        let (_, mechanism_type, purpose) = mechanisms(alg);
        require_mechanism(&inner.mechanisms, mechanism_type, &inner.token, purpose)?;
        let raw = {
            let session = self.session.session();
            let result = match alg {
                // SoftHSM2 2.6 has no CKM_ECDSA_SHA256, and hashing here
                // keeps the message off the token's (slow) link anyway.
                Algorithm::EcdsaP256 => {
                    session.sign(&Mechanism::Ecdsa, self.key, &Sha256::digest(msg))
                }
                Algorithm::Ed25519 => session.sign(
                    &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                    self.key,
                    msg,
                ),
            };
            result.map_err(|e| sign_error(e, &inner.token, &self.name, mechanism_type))?
        };
        let malformed = |why: String| HsmError::MalformedSignature {
            key: self.name.clone(),
            why,
        };
        let sig = match alg {
            Algorithm::EcdsaP256 => encoding::ecdsa_der_low_s(&raw).map_err(malformed)?,
            Algorithm::Ed25519 if raw.len() == 64 => raw,
            Algorithm::Ed25519 => {
                return Err(malformed(format!(
                    "CKM_EDDSA returned {} bytes, not 64",
                    raw.len()
                )));
            }
        };
        if self.public.verify(msg, &sig).is_err() {
            return Err(HsmError::SignatureMismatch {
                key: self.name.clone(),
            });
        }
        Ok(SignatureBytes(sig))
    }

    /// The key's protection attributes, as the token reports them.
    pub fn key_protection(&self) -> Result<KeyProtection, HsmError> {
        let attrs = self.session.session().get_attributes(
            self.key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
                AttributeType::Local,
                AttributeType::Sign,
                AttributeType::Decrypt,
                AttributeType::Derive,
                AttributeType::Unwrap,
            ],
        )?;
        let mut p = KeyProtection {
            sensitive: false,
            extractable: true,
            always_sensitive: false,
            never_extractable: false,
            local: false,
            sign: false,
            decrypt: false,
            derive: false,
            unwrap: false,
        };
        for attr in attrs {
            match attr {
                Attribute::Sensitive(v) => p.sensitive = v,
                Attribute::Extractable(v) => p.extractable = v,
                Attribute::AlwaysSensitive(v) => p.always_sensitive = v,
                Attribute::NeverExtractable(v) => p.never_extractable = v,
                Attribute::Local(v) => p.local = v,
                Attribute::Sign(v) => p.sign = v,
                Attribute::Decrypt(v) => p.decrypt = v,
                Attribute::Derive(v) => p.derive = v,
                Attribute::Unwrap(v) => p.unwrap = v,
                _ => {}
            }
        }
        Ok(p)
    }
}

impl signature::Signer<SignatureBytes> for HsmSigner {
    /// See [`HsmSigner::sign_bytes`]; the [`HsmError`] is the returned
    /// error's `source()`.
    fn try_sign(&self, msg: &[u8]) -> Result<SignatureBytes, signature::Error> {
        self.sign_bytes(msg).map_err(signature::Error::from_source)
    }
}

impl TufSigner for HsmSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

// ---------------------------------------------------------------------------
// One command's sessions

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
