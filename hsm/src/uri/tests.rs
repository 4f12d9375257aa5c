//! Tests of `super`: URI parsing and printing, PIN redaction, PIN sources
//! and module resolution.
//!
//! Kept in their own file so `uri.rs` stays a readable length; they are
//! the same unit tests, with access to the module's private items.

use super::*;

const EXAMPLE: &str = "pkcs11:token=release;object=targets-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:FWSIGN_PIN";

#[test]
fn parses_the_issue_example() {
    let uri: Pkcs11Uri = EXAMPLE.parse().unwrap();
    assert_eq!(uri.token.as_deref(), Some("release"));
    assert_eq!(uri.object.as_deref(), Some("targets-1"));
    assert_eq!(
        uri.module_path.as_deref(),
        Some(Path::new("/usr/lib/softhsm/libsofthsm2.so"))
    );
    assert_eq!(
        uri.pin_source,
        Some(PinSource::Env("FWSIGN_PIN".to_owned()))
    );
    assert_eq!(uri.id, None);
    assert_eq!(uri.to_string(), EXAMPLE);
}

#[test]
fn percent_decoding_covers_text_and_raw_ids() {
    let uri = Pkcs11Uri::parse(
        "pkcs11:token=My%20Token%3b%3F;object=r%C3%A9lease;id=%01%ab%FF%00z;serial=0a1B",
        false,
    )
    .unwrap();
    assert_eq!(uri.token.as_deref(), Some("My Token;?"));
    assert_eq!(uri.object.as_deref(), Some("r\u{e9}lease"));
    assert_eq!(uri.id.as_deref(), Some(&[0x01, 0xab, 0xff, 0x00, b'z'][..]));
    assert_eq!(uri.serial.as_deref(), Some("0a1B"));
    // Printed back canonically, and parsed back to the same thing.
    let printed = uri.to_string();
    assert_eq!(
        printed,
        "pkcs11:token=My%20Token%3B%3F;serial=0a1B;object=r%C3%A9lease;id=%01%AB%FF%00%7A"
    );
    assert_eq!(Pkcs11Uri::parse(&printed, false).unwrap(), uri);
}

#[test]
fn every_attribute_round_trips() {
    let s = "pkcs11:token=t;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;serial=1234;slot-id=7;\
             slot-description=d;slot-manufacturer=m;library-manufacturer=lm;library-description=ld;\
             library-version=2.6;object=o;type=private;id=%42?module-name=softhsm2&module-path=/x/y.so&pin-source=/run/pin";
    let uri = Pkcs11Uri::parse(s, false).unwrap();
    assert_eq!(uri.slot_id, Some(7));
    assert_eq!(uri.library_version, Some((2, Some(6))));
    assert_eq!(uri.object_type.as_deref(), Some("private"));
    assert_eq!(uri.module_name.as_deref(), Some("softhsm2"));
    assert_eq!(
        uri.pin_source,
        Some(PinSource::File(PathBuf::from("/run/pin")))
    );
    assert_eq!(uri.to_string(), s);
    assert_eq!(
        Pkcs11Uri::parse("pkcs11:library-version=3", false)
            .unwrap()
            .library_version,
        Some((3, None))
    );
}

#[test]
fn empty_and_vendor_attributes() {
    assert_eq!(
        Pkcs11Uri::parse("pkcs11:", false).unwrap(),
        Pkcs11Uri::default()
    );
    assert_eq!(
        Pkcs11Uri::parse("PKCS11:token=a", false)
            .unwrap()
            .token
            .as_deref(),
        Some("a")
    );
    let uri = Pkcs11Uri::parse("pkcs11:x-vendor=1;token=a?x-other=2", false).unwrap();
    assert_eq!(uri.token.as_deref(), Some("a"));
    assert_eq!(uri.to_string(), "pkcs11:token=a");
    // An empty value is a value (an empty label).
    assert_eq!(
        Pkcs11Uri::parse("pkcs11:object=", false)
            .unwrap()
            .object
            .as_deref(),
        Some("")
    );
}

#[test]
fn malformed_uris_are_refused_with_a_reason() {
    let cases = [
        ("token=a", "starts with"),
        ("pkcs11:token=a#frag", "fragment"),
        ("pkcs11:token", "no value"),
        ("pkcs11:objet=a", "unknown attribute"),
        ("pkcs11:token=a;token=b", "twice"),
        ("pkcs11:TOKEN=a;token=b", "twice"),
        ("pkcs11:token=%4", "percent"),
        ("pkcs11:token=%zz", "percent"),
        ("pkcs11:token=%ff", "UTF-8"),
        ("pkcs11:slot-id=one", "decimal"),
        ("pkcs11:slot-id=-1", "decimal"),
        ("pkcs11:library-version=2.x", "MAJOR"),
        ("pkcs11:type=secret", "type"),
        ("pkcs11:module-path=/a.so", "query"),
        ("pkcs11:?token=a", "path"),
        ("pkcs11:?pin-source=env:", "environment variable"),
        ("pkcs11:?pin-source=", "empty"),
        ("pkcs11:?pin-source=file://host/pin", "another host"),
        ("pkcs11:?module-name=a/b", "module name"),
    ];
    for (s, needle) in cases {
        let err = Pkcs11Uri::parse(s, false).unwrap_err();
        assert!(matches!(err, HsmError::InvalidUri { .. }), "{s}: {err:?}");
        assert!(err.to_string().contains(needle), "{s}: {err}");
    }
}

#[test]
fn pin_value_is_refused_unless_allowed_and_never_printed() {
    let s = "pkcs11:token=a;object=k?pin-value=12%2034&module-path=/m.so";
    assert!(matches!(
        Pkcs11Uri::parse(s, false),
        Err(HsmError::PinValueRefused)
    ));
    assert!(!HsmError::PinValueRefused.to_string().contains("1234"));
    let uri = Pkcs11Uri::parse(s, true).unwrap();
    assert_eq!(uri.pin_value(), Some("12 34"));
    assert_eq!(&**uri.read_pin().unwrap().unwrap(), b"12 34");
    let shown = format!("{uri} {uri:?}");
    assert!(!shown.contains("12"), "{shown}");
    assert!(!shown.contains("pin-value"), "{shown}");
    assert_eq!(uri.to_string(), "pkcs11:token=a;object=k?module-path=/m.so");
    // An error about a URI with a PIN in it does not quote the PIN.
    let err = Pkcs11Uri::parse(
        "pkcs11:token=a;bogus=1?pin-value=secret123&pin-source=/p",
        true,
    )
    .unwrap_err();
    assert!(!err.to_string().contains("secret123"), "{err}");
    let err = Pkcs11Uri::parse("pkcs11:token=a;pin-value=secret123", true).unwrap_err();
    assert!(!err.to_string().contains("secret123"), "{err}");
    let err = Pkcs11Uri::parse("pkcs11:?pin-value=secret%zz", true).unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn redact_replaces_only_pin_values() {
    assert_eq!(
        redact("pkcs11:token=a?pin-value=s3&module-path=/m"),
        "pkcs11:token=a?pin-value=***&module-path=/m"
    );
    assert_eq!(
        redact("pkcs11:pin-value=s3;b=c"),
        "pkcs11:pin-value=***;b=c"
    );
    assert_eq!(redact("pkcs11:?PIN-VALUE=s3"), "pkcs11:?PIN-VALUE=***");
    assert_eq!(redact("pkcs11:?pin-value"), "pkcs11:?pin-value=***");
    assert_eq!(redact("pkcs11:object=pin-value"), "pkcs11:object=pin-value");
}

#[test]
fn pin_sources_parse_env_and_file_forms() {
    let p = |s: &str| PinSource::parse(s).unwrap();
    assert_eq!(p("env:PIN"), PinSource::Env("PIN".to_owned()));
    assert_eq!(p("/etc/pin"), PinSource::File("/etc/pin".into()));
    assert_eq!(p("file:/etc/pin"), PinSource::File("/etc/pin".into()));
    assert_eq!(p("file:///etc/pin"), PinSource::File("/etc/pin".into()));
    assert_eq!(
        p("file://localhost/etc/pin"),
        PinSource::File("/etc/pin".into())
    );
    assert_eq!(p("pin.txt"), PinSource::File("pin.txt".into()));
    assert_eq!(p("file:pin.txt"), PinSource::File("pin.txt".into()));
}

#[test]
fn pin_sources_read_and_report_without_the_pin() {
    let scratch = tempfile::Builder::new()
        .prefix("fwsign-hsm-pin-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    for (content, want) in [
        (&b"1234\n"[..], &b"1234"[..]),
        (b"1234\r\n", b"1234"),
        (b"1234", b"1234"),
        (b" 12 34 \n\n", b" 12 34 \n"),
    ] {
        let file = dir.join("pin");
        write_owner_only(&file, content);
        assert_eq!(&**PinSource::File(file).read().unwrap(), want);
    }
    write_owner_only(&dir.join("empty"), b"\n");
    let err = PinSource::File(dir.join("empty")).read().unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let err = PinSource::File(dir.join("missing")).read().unwrap_err();
    assert!(
        matches!(&err, HsmError::PinSource { source_name, .. } if source_name.ends_with("missing"))
    );
    drop(scratch);

    // PATH is set wherever tests run; reading it proves the env path.
    assert!(!PinSource::Env("PATH".to_owned()).read().unwrap().is_empty());
    let err = PinSource::Env("FWSIGN_HSM_TEST_SURELY_UNSET".to_owned())
        .read()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the PIN from env:FWSIGN_HSM_TEST_SURELY_UNSET: the environment variable is not set"
    );
}

#[test]
fn descriptions_for_messages() {
    let uri = Pkcs11Uri::parse("pkcs11:token=t;object=k;id=%0a%FF;slot-id=3", false).unwrap();
    assert_eq!(uri.key_description(), "object=\"k\" id=0aff");
    assert_eq!(uri.token_description(), "token=\"t\" slot-id=3");
    assert_eq!(Pkcs11Uri::default().key_description(), "(any key)");
    assert_eq!(Pkcs11Uri::default().token_description(), "(any token)");
    assert!(is_pkcs11_uri("PKCS11:x"));
    assert!(!is_pkcs11_uri("keys/root.pem"));
    assert!(!is_pkcs11_uri("pkcs1"));
}

#[test]
fn module_resolution_prefers_the_uri() {
    let uri = Pkcs11Uri::parse("pkcs11:?module-path=/opt/hsm/lib.so", false).unwrap();
    assert_eq!(
        uri.resolve_module().unwrap(),
        PathBuf::from("/opt/hsm/lib.so")
    );
    let uri = Pkcs11Uri::parse("pkcs11:?module-name=fwsign-no-such-module", false).unwrap();
    assert!(matches!(
        uri.resolve_module(),
        Err(HsmError::ModuleNotFound { .. })
    ));
}

/// A PIN file as a careful operator writes it: 0600.
fn write_owner_only(path: &std::path::Path, content: &[u8]) {
    std::fs::write(path, content).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The attack: a PIN another account on the machine can read is a PIN it
/// can use. Refused before the file is read, naming the fix.
#[cfg(unix)]
#[test]
fn a_pin_file_group_or_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::Builder::new()
        .prefix("fwsign-hsm-pin-mode-")
        .tempdir()
        .unwrap();
    let file = dir.path().join("pin");
    std::fs::write(&file, b"1234\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = PinSource::File(file.clone()).read().unwrap_err();
    assert!(matches!(err, HsmError::PinFileExposed(_)), "{err:?}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(!err.to_string().contains("1234"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(&**PinSource::File(file).read().unwrap(), b"1234");
    dir.close().unwrap();
}
