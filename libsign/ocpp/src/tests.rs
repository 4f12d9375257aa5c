//! Tests of OCPP signing, request building and parsing, and the charger's
//! checks.

use base64ct::{Base64, Encoding};
use fwsign_manifest_schema::expiry::UnixTime;
use serde_json::Map;

use super::*;
use crate::cert::{
    CertProfile, Certificate, IssueOptions, RootOptions, build_root_ca, issue_certificate,
    parse_subject,
};
use fwsign_keys::{Algorithm, PrivateKey};

const NOW: UnixTime = UnixTime(1_780_000_000);

struct Pki {
    root: Certificate,
    signer: Certificate,
    key: PrivateKey,
}

fn pki() -> Pki {
    let rk = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let root = build_root_ca(
        &rk,
        &RootOptions {
            subject: parse_subject("CN=Root,O=ACME").unwrap(),
            not_before: NOW,
            days: 7305,
        },
    )
    .unwrap();
    let signer = issue_certificate(
        &rk,
        &root,
        key.public_key(),
        &IssueOptions {
            profile: CertProfile::FirmwareSigning,
            subject: parse_subject("CN=Signer,O=ACME").unwrap(),
            not_before: NOW,
            days: 730,
            now: NOW,
        },
    )
    .unwrap();
    Pki { root, signer, key }
}

fn request(version: OcppVersion) -> UpdateFirmwareRequest {
    UpdateFirmwareRequest {
        version,
        request_id: 7,
        retries: Some(3),
        retry_interval: Some(60),
        location: "https://fw.example.com/fw.bin".to_owned(),
        retrieve_date_time: "2026-12-01T02:00:00Z".to_owned(),
        install_date_time: None,
        signing_certificate: Some("PEM".to_owned()),
        signature: Some("SIG".to_owned()),
        custom_data: None,
    }
}

#[test]
fn signature_is_padded_base64_der_and_verifies() {
    let p = pki();
    let firmware = b"firmware image".repeat(1000);
    let sig = sign_firmware(&firmware, &p.key, &p.signer).unwrap();
    // 72 bytes at most; fewer when r or s starts with a zero byte (one
    // signature in about 500 is 69 bytes or shorter).
    assert!((8..=72).contains(&sig.der.len()), "{}", sig.der.len());
    assert_eq!(sig.der[0], 0x30, "a DER SEQUENCE, not raw r || s");
    assert_eq!(sig.base64.len(), sig.der.len().div_ceil(3) * 4);
    assert!(!sig.base64.contains('\n'));
    let pem = signing_certificate_pem(&p.signer, &[]);
    let ok = verify_firmware(
        &firmware[..],
        "fw",
        Some(&pem),
        Some(&sig.base64),
        &p.root,
        NOW,
    )
    .unwrap();
    assert_eq!(ok.length, firmware.len() as u64);
    assert_eq!(ok.sha256, sig.sha256);

    let mut tampered = firmware.clone();
    tampered[10] ^= 1;
    let err = verify_firmware(
        &tampered[..],
        "fw",
        Some(&pem),
        Some(&sig.base64),
        &p.root,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err.status(), Some(FirmwareStatus::InvalidSignature));
    assert_eq!(
        err.security_event(),
        Some(SecurityEvent::InvalidFirmwareSignature)
    );

    // Raw r||s is refused as such.
    let raw = p256::ecdsa::Signature::from_der(&sig.der)
        .unwrap()
        .to_bytes();
    let err = verify_firmware(
        &firmware[..],
        "fw",
        Some(&pem),
        Some(&Base64::encode_string(&raw)),
        &p.root,
        NOW,
    )
    .unwrap_err();
    assert!(matches!(err, FirmwareRefusal::NotDer { len: 64 }), "{err}");
    assert!(err.to_string().contains("r||s"));

    // Missing certificate, and a certificate from elsewhere.
    let err =
        verify_firmware(&firmware[..], "fw", None, Some(&sig.base64), &p.root, NOW).unwrap_err();
    assert_eq!(err.status(), Some(FirmwareStatus::InvalidCertificate));
    let other = pki();
    let err = verify_firmware(
        &firmware[..],
        "fw",
        Some(&pem),
        Some(&sig.base64),
        &other.root,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err.status(), Some(FirmwareStatus::InvalidCertificate));
    assert_eq!(
        err.security_event(),
        Some(SecurityEvent::InvalidFirmwareSigningCertificate)
    );
}

#[test]
fn signing_refuses_other_keys() {
    let p = pki();
    let other = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    assert!(matches!(
        sign_firmware(b"x", &other, &p.signer),
        Err(OcppError::KeyCertificateMismatch { .. })
    ));
    let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    assert!(matches!(
        sign_firmware(b"x", &ed, &p.signer),
        Err(OcppError::NotP256(Algorithm::Ed25519))
    ));
}

#[test]
fn request_limits_are_checked_one_past_each() {
    for version in [OcppVersion::V16, OcppVersion::V201] {
        let ok = request(version);
        ok.check().unwrap();
        let mut r = ok.clone();
        r.location = format!("https://x/{}", "a".repeat(MAX_LOCATION_CHARS - 10));
        r.check().unwrap();
        r.location.push('a');
        assert!(matches!(
            r.check(),
            Err(OcppError::FieldTooLong {
                field: "firmware.location",
                chars: 513,
                max: 512
            })
        ));
        let mut r = ok.clone();
        r.signing_certificate = Some("é".repeat(MAX_SIGNING_CERTIFICATE_CHARS));
        r.check().unwrap();
        r.signing_certificate = Some("é".repeat(MAX_SIGNING_CERTIFICATE_CHARS + 1));
        assert!(matches!(r.check(), Err(OcppError::FieldTooLong { .. })));
        let mut r = ok.clone();
        r.signature = Some("A".repeat(MAX_SIGNATURE_CHARS + 1));
        assert!(matches!(r.check(), Err(OcppError::FieldTooLong { .. })));
        let mut r = ok.clone();
        r.retrieve_date_time = "tomorrow".to_owned();
        assert!(matches!(r.check(), Err(OcppError::DateTime { .. })));
        let mut r = ok.clone();
        r.retries = Some(-1);
        assert!(matches!(r.check(), Err(OcppError::InvalidField { .. })));
    }
    let mut r = request(OcppVersion::V16);
    r.signature = None;
    assert!(matches!(r.check(), Err(OcppError::MissingField { .. })));
    let mut r = request(OcppVersion::V16);
    r.custom_data = Some(Map::new());
    assert!(matches!(r.check(), Err(OcppError::CustomDataNotAllowed(_))));
    let mut r = request(OcppVersion::V201);
    r.custom_data = Some(serde_json::from_str(r#"{"vendorId": "acme"}"#).unwrap());
    let json = r.to_json().unwrap();
    assert!(json.find("requestId").unwrap() < json.find("firmware").unwrap());
    let parsed = parse_request(&json, "r").unwrap();
    assert_eq!(parsed.signature.as_deref(), Some("SIG"));
    let call = format!("[2, \"abc\", \"UpdateFirmware\", {json}]");
    assert_eq!(parse_request(&call, "r").unwrap().request_id, Some(7));
    r.custom_data = Some(serde_json::from_str(r#"{"vendor": "acme"}"#).unwrap());
    assert!(matches!(r.check(), Err(OcppError::InvalidField { .. })));
}
