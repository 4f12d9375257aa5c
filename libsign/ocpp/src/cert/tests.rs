//! Tests of building, parsing and chain checks together: most build a
//! root, an intermediate and a signing certificate and then check the path.

use fwsign_manifest_schema::expiry::UnixTime;

use super::build::{FwsignProfile, P256CertSigner, build_and_check, signing_extensions};
use super::*;
use fwsign_keys::{Algorithm, PrivateKey};

const NOW: UnixTime = UnixTime(1_780_000_000); // 2026-05-28

fn key() -> PrivateKey {
    PrivateKey::generate(Algorithm::EcdsaP256).unwrap()
}

fn root(key: &PrivateKey, cn: &str) -> Certificate {
    build_root_ca(
        key,
        &RootOptions {
            subject: parse_subject(&format!("CN={cn},O=ACME,C=DE")).unwrap(),
            not_before: NOW,
            days: ROOT_DEFAULT_DAYS,
        },
    )
    .unwrap()
}

fn issue(
    ca_key: &PrivateKey,
    ca: &Certificate,
    subject_key: &PrivateKey,
    profile: CertProfile,
    not_before: UnixTime,
    days: u32,
) -> Result<Certificate, CertError> {
    issue_certificate(
        ca_key,
        ca,
        subject_key.public_key(),
        &IssueOptions {
            profile,
            subject: parse_subject("CN=Firmware Signing,O=ACME,C=DE").unwrap(),
            not_before,
            days,
            now: NOW,
        },
    )
}

#[test]
fn rfc3339_parses_utc_offsets_and_fractions_and_refuses_the_rest() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UnixTime(0)));
    assert_eq!(
        parse_rfc3339("2026-12-01T02:00:00Z"),
        Some(UnixTime(1_796_090_400))
    );
    assert_eq!(
        parse_rfc3339("2026-12-01T03:30:00.250+01:30"),
        parse_rfc3339("2026-12-01T02:00:00Z")
    );
    assert_eq!(
        parse_rfc3339("2024-02-29T00:00:00-00:00").map(|t| t.0 % DAY),
        Some(0)
    );
    for bad in [
        "2026-12-01",
        "2026-12-01 02:00:00Z",
        "2026-12-01T02:00:00",
        "2026-12-01T02:00:00z",
        "2026-13-01T02:00:00Z",
        "2025-02-29T02:00:00Z",
        "2026-12-01T24:00:00Z",
        "2026-12-01T02:00:60Z",
        "2026-12-01T02:00:00.1234Z",
        "2026-12-01T02:00:00.Z",
        "2026-12-01T02:00:00+0100",
        "2026-12-01T02:00:00Z ",
        "1969-12-31T23:59:59Z",
        "+026-12-01T02:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn subjects_in_both_orders_give_the_same_name() {
    let a = parse_subject("CN=Root,O=ACME,C=DE").unwrap();
    let b = parse_subject("/C=DE/O=ACME/CN=Root").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "CN=Root,O=ACME,C=DE");
    assert!(matches!(parse_subject(""), Err(CertError::Subject { .. })));
    assert!(matches!(
        parse_subject("nonsense"),
        Err(CertError::Subject { .. })
    ));
}

#[test]
fn root_intermediate_signer_chain_verifies() {
    let (rk, ik, sk) = (key(), key(), key());
    let root = root(&rk, "Root");
    assert!(root.is_ca());
    let inter = issue(&rk, &root, &ik, CertProfile::Intermediate, NOW, 3653).unwrap();
    let signer = issue(&ik, &inter, &sk, CertProfile::FirmwareSigning, NOW, 730).unwrap();
    assert!(!signer.is_ca());
    let at = UnixTime(NOW.0 + DAY);
    let chain = verify_signing_chain(&signer, std::slice::from_ref(&inter), &root, at).unwrap();
    assert_eq!(chain.path.len(), 3);
    assert_eq!(&chain.signer_key, sk.public_key());
    // Directly under the root too.
    let direct = issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 365).unwrap();
    verify_signing_chain(&direct, &[], &root, at).unwrap();
    // PEM round trip.
    let pem = format!("{}{}", signer.to_pem(), inter.to_pem());
    let parsed = Certificate::chain_from_pem(&pem, "chain").unwrap();
    assert_eq!(parsed, vec![signer.clone(), inter.clone()]);
    assert_eq!(parsed[1].label(), "chain[2]");
    assert!(matches!(
        Certificate::from_pem(&pem, "two"),
        Err(CertError::NotOneCertificate { count: 2, .. })
    ));
}

#[test]
fn each_chain_failure_is_named() {
    let (rk, ik, sk, other_k) = (key(), key(), key(), key());
    let root = root(&rk, "Root");
    let at = UnixTime(NOW.0 + DAY);
    let signer = issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 730).unwrap();

    // Expired and not yet valid.
    let late = UnixTime(NOW.0 + 800 * DAY);
    assert!(matches!(
        verify_signing_chain(&signer, &[], &root, late),
        Err(ChainError::Expired { .. })
    ));
    let early = UnixTime(NOW.0 - DAY);
    assert!(matches!(
        verify_signing_chain(&signer, &[], &root, early),
        Err(ChainError::NotYetValid { .. })
    ));

    // Another root with another name: unknown issuer; with the same name
    // (other key): unknown issuer by key identifier.
    let other = self::root(&other_k, "Other Root");
    assert!(matches!(
        verify_signing_chain(&signer, &[], &other, at),
        Err(ChainError::UnknownIssuer { .. })
    ));
    let same_name = self::root(&other_k, "Root");
    assert!(matches!(
        verify_signing_chain(&signer, &[], &same_name, at),
        Err(ChainError::UnknownIssuer { .. })
    ));

    // A tampered signature.
    let mut der = signer.der().to_vec();
    let last = der.len() - 3;
    der[last] ^= 0x01;
    if let Ok(bad) = Certificate::from_der(&der, "tampered") {
        assert!(matches!(
            verify_signing_chain(&bad, &[], &root, at),
            Err(ChainError::BadSignature { .. })
        ));
    }

    // The root as signer, and a CA as signer: wrong usage.
    assert!(matches!(
        verify_signing_chain(&root, &[], &root, at),
        Err(ChainError::WrongUsage { .. })
    ));
    let inter = issue(&rk, &root, &ik, CertProfile::Intermediate, NOW, 3653).unwrap();
    assert!(matches!(
        verify_signing_chain(&inter, &[], &root, at),
        Err(ChainError::WrongUsage { .. })
    ));

    // A signing certificate that issued another: not a CA.
    let sneaky = issue_certificate(
        &sk,
        &signer,
        other_k.public_key(),
        &IssueOptions {
            profile: CertProfile::FirmwareSigning,
            subject: parse_subject("CN=Sneaky").unwrap(),
            not_before: NOW,
            days: 365,
            now: NOW,
        },
    );
    assert!(matches!(sneaky, Err(CertError::NotACa { .. })));

    // An intermediate under an intermediate breaks pathLen 0.
    let inter2 = issue(&ik, &inter, &other_k, CertProfile::Intermediate, NOW, 365);
    assert!(matches!(inter2, Err(CertError::PathLength { .. })));

    // A self-signed signer with every usage right.
    let self_signed = self_signed_signer(&sk);
    check_signer_certificate(&self_signed, at).unwrap();
    assert!(matches!(
        verify_signing_chain(&self_signed, &[], &root, at),
        Err(ChainError::SelfSigned { .. })
    ));
}

fn self_signed_signer(key: &PrivateKey) -> Certificate {
    let subject = parse_subject("CN=Self Signed,O=ACME").unwrap();
    let signer = P256CertSigner::new(key, "key").unwrap();
    let profile = FwsignProfile {
        subject: subject.clone(),
        issuer: subject.clone(),
        extensions: signing_extensions(&subject).unwrap(),
        issuer_key_id: None,
    };
    build_and_check(profile, &signer.verifying, NOW, 730, &signer, "self-signed").unwrap()
}

#[test]
fn issuing_refuses_bad_inputs() {
    let (rk, sk) = (key(), key());
    let root = root(&rk, "Root");
    assert!(matches!(
        issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 364),
        Err(CertError::Validity { .. })
    ));
    assert!(matches!(
        issue(&rk, &root, &sk, CertProfile::FirmwareSigning, NOW, 1097),
        Err(CertError::Validity { .. })
    ));
    // The wrong CA key.
    assert!(matches!(
        issue(&sk, &root, &sk, CertProfile::FirmwareSigning, NOW, 730),
        Err(CertError::CaKeyMismatch { .. })
    ));
    // Ed25519 keys.
    let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    assert!(matches!(
        issue(&rk, &root, &ed, CertProfile::FirmwareSigning, NOW, 730),
        Err(CertError::NotP256 { .. })
    ));
    assert!(matches!(
        build_root_ca(
            &ed,
            &RootOptions {
                subject: parse_subject("CN=x").unwrap(),
                not_before: NOW,
                days: 10
            }
        ),
        Err(CertError::NotP256 { .. })
    ));
    let csr = build_csr(&sk, &parse_subject("CN=Signer,O=ACME").unwrap()).unwrap();
    assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
}
