//! What a collector relies on: messages it can parse (RFC 5424 header,
//! structured data with every value escaped), frames it can split
//! (RFC 6587), SD-IDs it accepts, and the cursor that sends each line once.

use std::collections::BTreeMap;

use fwsign_manifest_schema::expiry::UnixTime;

use super::syslog::{MessageOptions, SyslogServer, escape_param_value, format_message, frame};
use super::*;
use crate::audit::AuditEvent;

const T0: UnixTime = UnixTime(1_735_689_600); // 2025-01-01T00:00:00Z

fn options() -> MessageOptions {
    MessageOptions {
        sd_id: "fwsign@32473".parse().unwrap(),
        hostname: "build-host".to_owned(),
    }
}

fn entry(action: &str, detail: Option<&str>) -> AuditEntry {
    let mut targets = BTreeMap::new();
    targets.insert("board-a/fw]1.bin".to_owned(), "a".repeat(64));
    targets.insert("board-b/fw2.bin".to_owned(), "b".repeat(64));
    AuditEntry {
        line: 4,
        seq: 4,
        time: "2025-01-02T03:04:05Z".to_owned(),
        event: AuditEvent {
            action: action.to_owned(),
            role: Some("targets".to_owned()),
            version: Some(3),
            keyid: Some("c".repeat(64)),
            approver: None,
            targets,
            detail: detail.map(str::to_owned),
        },
        prev: "d".repeat(64),
        hash: "e".repeat(64),
    }
}

#[test]
fn a_routine_event_is_a_notice_from_facility_log_audit_with_every_field_in_structured_data() {
    let message = format_message(&ForwardEvent::from_entry(&entry("sign", None)), &options());
    let expected_sd = format!(
        "[fwsign@32473 event=\"sign\" role=\"targets\" keyid=\"{}\" target=\"board-a/fw\\]1.bin\" \
         target=\"board-b/fw2.bin\" version=\"3\" line=\"4\" sha256=\"{}\"]",
        "c".repeat(64),
        "e".repeat(64)
    );
    assert!(
        message.starts_with(&format!(
            "<109>1 2025-01-02T03:04:05Z build-host fwsign - sign {expected_sd} fwsign sign targets v3"
        )),
        "{message}"
    );
    assert_eq!(13 * 8 + 5, 109);
}

#[test]
fn a_named_approver_travels_in_structured_data_and_in_the_message() {
    let mut e = entry("sign", None);
    e.event.approver = Some("Alice \"A\" Müller".to_owned());
    let event = ForwardEvent::from_entry(&e);
    let message = format_message(&event, &options());
    assert!(
        message.contains(&format!(
            "keyid=\"{}\" approver=\"Alice \\\"A\\\" Müller\" target=",
            "c".repeat(64)
        )),
        "{message}"
    );
    assert!(
        message.ends_with("by Alice \"A\" Müller (key cccccccccccccccc)"),
        "{message}"
    );
    let ocsf = super::ocsf::to_ocsf(&event, "build-host");
    assert_eq!(ocsf["actor"]["user"]["name"], "Alice \"A\" Müller");
}

#[test]
fn a_refusal_is_an_error_and_a_rewritten_log_is_critical() {
    let refuse = format_message(
        &ForwardEvent::from_entry(&entry("refuse", Some("threshold not met"))),
        &options(),
    );
    assert!(refuse.starts_with("<107>1 "), "{refuse}");
    assert!(
        refuse.contains(" detail=\"threshold not met\"]"),
        "{refuse}"
    );
    let head = AuditHead {
        line: 2,
        sha256: "f".repeat(64),
    };
    let rewritten = format_message(
        &ForwardEvent::rewritten(T0, Some(&head), "line 2 changed"),
        &options(),
    );
    assert!(
        rewritten.starts_with(
            "<106>1 2025-01-01T00:00:00Z build-host fwsign - audit-log-rewritten [fwsign@32473 event=\"audit-log-rewritten\" line=\"2\""
        ),
        "{rewritten}"
    );
    assert_eq!(
        Severity::of_action("approvals-dropped").code(),
        4,
        "dropped approvals are a warning"
    );
}

#[test]
fn quotes_backslashes_and_brackets_in_values_cannot_end_the_structured_data() {
    assert_eq!(escape_param_value(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
    assert_eq!(escape_param_value("line\nbreak"), "line break");
    let message = format_message(
        &ForwardEvent::from_entry(&entry("refuse", Some(r#"say "x" \ ] é"#))),
        &options(),
    );
    assert!(
        message.contains(r#" detail="say \"x\" \\ \] é"]"#),
        "{message}"
    );
    // A non-ASCII MSG is MSG-UTF8, with its byte order mark.
    assert!(message.contains("] \u{feff}fwsign refuse"), "{message}");
}

#[test]
fn header_fields_a_collector_cannot_parse_become_the_nil_value() {
    let options = MessageOptions {
        sd_id: "fwsign@32473".parse().unwrap(),
        hostname: String::new(),
    };
    let mut event = ForwardEvent::from_entry(&entry("sign", None));
    event.action = "x".repeat(40);
    let message = format_message(&event, &options);
    let fields: Vec<&str> = message.splitn(7, ' ').collect();
    assert_eq!(fields[2], "-", "an empty HOSTNAME");
    assert_eq!(fields[5].len(), 32, "MSGID is at most 32 characters");
}

#[test]
fn octet_counting_frames_carry_the_length_in_bytes() {
    assert_eq!(frame("<109>1 é"), b"9 <109>1 \xc3\xa9".to_vec());
    let message = format_message(&ForwardEvent::from_entry(&entry("sign", None)), &options());
    let framed = frame(&message);
    let (len, rest) = framed.split_at(framed.iter().position(|&b| b == b' ').unwrap());
    let len: usize = std::str::from_utf8(len).unwrap().parse().unwrap();
    assert_eq!(len, rest.len() - 1);
}

#[test]
fn an_sd_id_without_an_enterprise_number_or_with_forbidden_characters_is_refused() {
    let longest = format!("{}@1", "n".repeat(30));
    let too_long = format!("{}@1", "n".repeat(31));
    for good in [
        "fwsign@32473",
        "a@1",
        "release-audit@32473.1.2",
        longest.as_str(),
    ] {
        assert!(good.parse::<SdId>().is_ok(), "{good}");
    }
    for bad in [
        "",
        "fwsign",
        "@32473",
        "fwsign@",
        "fwsign@pen",
        "fw sign@32473",
        "fw=sign@32473",
        "fw]sign@32473",
        "fw\"sign@32473",
        "fw@sign@32473",
        "fwsign@32473.",
        "fwsigné@32473",
        too_long.as_str(),
    ] {
        assert!(
            matches!(bad.parse::<SdId>(), Err(ForwardError::InvalidSdId { .. })),
            "{bad:?} was accepted"
        );
    }
}

#[test]
fn syslog_server_urls_name_host_port_and_transport() {
    let plain: SyslogServer = "syslog://127.0.0.1:5514".parse().unwrap();
    assert_eq!(
        (plain.host.as_str(), plain.port, plain.tls),
        ("127.0.0.1", 5514, false)
    );
    let tls: SyslogServer = "syslog+tls://[::1]".parse().unwrap();
    assert_eq!((tls.host.as_str(), tls.port, tls.tls), ("::1", 6514, true));
    assert_eq!(tls.to_string(), "syslog+tls://[::1]:6514");
    assert_eq!("syslog://siem".parse::<SyslogServer>().unwrap().port, 514);
    for bad in [
        "http://x:1",
        "syslog://",
        "syslog://x:0",
        "syslog://x:port",
        "syslog://x/path",
    ] {
        assert!(bad.parse::<SyslogServer>().is_err(), "{bad}");
    }
}

#[test]
fn ocsf_objects_are_entity_management_with_time_in_milliseconds() {
    let event = ForwardEvent::from_entry(&entry("refuse", Some("expired")));
    let object = ocsf::to_ocsf(&event, "build-host");
    assert_eq!(object["class_uid"], 3004);
    assert_eq!(object["type_uid"], 300_499);
    assert_eq!(object["metadata"]["version"], ocsf::OCSF_VERSION);
    assert_eq!(object["time"], 1_735_787_045_000_i64);
    assert_eq!(object["severity_id"], 4);
    assert_eq!(object["status"], "Failure");
    assert_eq!(object["activity_name"], "refuse");
    assert_eq!(object["metadata"]["uid"], "e".repeat(64));
    assert_eq!(object["unmapped"]["line"], 4);
    assert_eq!(object["unmapped"]["target"][1], "board-b/fw2.bin");
}

/// Collects events; fails sends when asked.
#[derive(Default)]
struct Collect {
    events: Vec<ForwardEvent>,
    fail: bool,
}

impl Sink for Collect {
    fn send(&mut self, event: &ForwardEvent) -> Result<(), ForwardError> {
        if self.fail {
            return Err(ForwardError::Output(io::Error::other("down")));
        }
        self.events.push(event.clone());
        Ok(())
    }
    fn finish(&mut self) -> Result<(), ForwardError> {
        Ok(())
    }
}

#[test]
fn the_immediate_path_sends_only_the_lines_after_the_given_one() {
    let scratch = tempfile::Builder::new()
        .prefix("fwsign-forward-after-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    let log = AuditLog::new(dir.join("audit.log"));
    for action in ["init", "stage", "sign"] {
        let event = AuditEvent {
            action: action.to_owned(),
            ..AuditEvent::default()
        };
        log.append(&event, T0).unwrap();
    }
    let mut sink = Collect::default();
    let report = forward_after(&log, 1, &mut sink).unwrap();
    assert_eq!(report.sent, 2);
    assert_eq!(report.first, Some(2));
    let actions: Vec<&str> = sink.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["stage", "sign"]);

    let mut down = Collect {
        fail: true,
        ..Collect::default()
    };
    assert!(
        forward_after(&log, 3, &mut down).unwrap().sent == 0,
        "nothing new, nothing sent"
    );
    assert!(forward_after(&log, 2, &mut down).is_err());
    drop(scratch);
}

#[test]
fn a_cursor_file_holds_line_and_hash_and_refuses_anything_else() {
    let scratch = tempfile::Builder::new()
        .prefix("fwsign-forward-cursor-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    let cursor = Cursor::new(dir.join("cursor.json"));
    assert_eq!(cursor.load().unwrap(), None, "no file yet: a first run");
    let head = AuditHead {
        line: 7,
        sha256: "a".repeat(64),
    };
    cursor.store(&head).unwrap();
    assert_eq!(cursor.load().unwrap(), Some(head));
    let text = std::fs::read_to_string(cursor.path()).unwrap();
    assert_eq!(
        text,
        format!("{{\"line\":7,\"sha256\":\"{}\"}}\n", "a".repeat(64))
    );
    for bad in [
        "{}",
        "{\"line\":0,\"sha256\":\"\"}",
        "7:abc",
        "{\"line\":1,\"sha256\":\"A\"}",
    ] {
        std::fs::write(cursor.path(), bad).unwrap();
        assert!(
            matches!(cursor.load(), Err(ForwardError::CursorMalformed { .. })),
            "{bad}"
        );
    }
    drop(scratch);
}
