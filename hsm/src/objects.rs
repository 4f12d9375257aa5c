//! Key objects in a token: finding the private key a URI names (with its
//! public half) to make a signer, and generating key pairs.
//!
//! Apart from login and from signing because this is where PKCS#11 object
//! attributes are read and written: key types and curves, labels and IDs,
//! the protection a generated key gets.

use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use fwsign_keys::{Algorithm, PublicKey};

use crate::encoding::{self, ED25519_PARAMS, P256_PARAMS};
use crate::error::require_mechanism;
use crate::uri::{Pkcs11Uri, hex};
use crate::{HsmError, HsmSession, HsmSigner};

impl HsmSession {
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
pub(crate) fn mechanisms(alg: Algorithm) -> (MechanismType, MechanismType, &'static str) {
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

pub(crate) fn key_labels(session: &Session) -> Result<Vec<String>, HsmError> {
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
