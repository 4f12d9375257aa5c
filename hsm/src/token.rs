//! Token lookup: which slot holds the token a URI names.
//!
//! Apart from login because finding a token only reads token and library
//! information; it needs no session and no PIN, and its matching rules
//! (RFC 7512's token and library attributes) are a concern of their own.

use cryptoki::context::Pkcs11;
use cryptoki::slot::Slot;

use crate::HsmError;
use crate::registry::Module;
use crate::uri::Pkcs11Uri;

/// What fwsign needs to know about a token before logging in.
pub(crate) struct TokenState {
    pub(crate) label: String,
    pub(crate) login_required: bool,
    pub(crate) protected_authentication_path: bool,
    pub(crate) user_pin_locked: bool,
    pub(crate) write_protected: bool,
}

/// Finds the one token the URI names, by label and the other token
/// attributes (never by slot position alone: SoftHSM2 numbers slots anew
/// whenever a token is added).
pub(crate) fn find_token(module: &Module, uri: &Pkcs11Uri) -> Result<(Slot, TokenState), HsmError> {
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
