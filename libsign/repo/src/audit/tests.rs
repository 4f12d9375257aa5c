//! Tests of the log format, the hash chain on disk and verification
//! against anchors, including torn and tampered files.

use std::collections::BTreeMap;
use std::fs;

use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::expiry::UnixTime;
use serde_json::Value;

use super::entry::Body;
use super::*;

const T0: UnixTime = UnixTime(1_735_689_600); // 2025-01-01T00:00:00Z

/// An audit log in a fresh directory of the test's own; the directory is
/// removed when this is dropped, also when the test fails.
struct ScratchLog {
    log: AuditLog,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for ScratchLog {
    type Target = AuditLog;

    fn deref(&self) -> &AuditLog {
        &self.log
    }
}

fn scratch(name: &str) -> ScratchLog {
    let dir = tempfile::Builder::new()
        .prefix(&format!("fwsign-audit-{name}-"))
        .tempdir()
        .unwrap();
    ScratchLog {
        log: AuditLog::new(dir.path().join("audit.log")),
        _dir: dir,
    }
}

fn event(action: &str, version: u64) -> AuditEvent {
    AuditEvent {
        action: action.into(),
        role: Some("targets".into()),
        version: Some(version),
        ..AuditEvent::default()
    }
}

/// A log of `n` lines; returns the head after each line.
fn filled(name: &str, n: u64) -> (ScratchLog, Vec<AuditHead>) {
    let log = scratch(name);
    let heads = (1..=n)
        .map(|i| {
            log.append(&event("stage", i), UnixTime(T0.0 + i as i64))
                .unwrap()
        })
        .collect();
    (log, heads)
}

fn anchor(source: &str, head: &AuditHead) -> Anchor {
    Anchor {
        source: source.into(),
        head: head.clone(),
    }
}

fn lines(log: &AuditLog) -> Vec<String> {
    fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(log: &AuditLog, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(log.path(), text).unwrap();
}

/// What an attacker with write access does after editing: renumber and
/// rehash every line so the chain is consistent again.
fn recompute(log: &AuditLog) {
    let mut prev = GENESIS.to_owned();
    let mut out = Vec::new();
    for (i, text) in lines(log).iter().enumerate() {
        let mut value: Value = serde_json::from_str(text).unwrap();
        let map = value.as_object_mut().unwrap();
        map.remove("hash");
        map.insert("seq".into(), Value::from(i as u64 + 1));
        map.insert("prev".into(), Value::from(prev.clone()));
        let body: Body = serde_json::from_value(value).unwrap();
        let (value, hash) = body.hashed().unwrap();
        out.push(String::from_utf8(to_canonical_vec(&value).unwrap()).unwrap());
        prev = hash;
    }
    write_lines(log, &out);
}

#[test]
fn append_and_head_round_trip() {
    let log = scratch("round-trip");
    assert_eq!(log.head().unwrap(), None);
    let first = log.append(&event("init", 1), T0).unwrap();
    assert_eq!(first.line, 1);
    assert_eq!(log.head().unwrap(), Some(first.clone()));
    let second = log.append(&event("stage", 2), T0).unwrap();
    assert_eq!(second.line, 2);
    assert_ne!(second.sha256, first.sha256);
    assert_eq!(log.head().unwrap(), Some(second.clone()));

    let text = lines(&log);
    assert_eq!(
        text[0],
        format!(
            "{{\"action\":\"init\",\"hash\":\"{}\",\"prev\":\"{GENESIS}\",\"role\":\"targets\",\
             \"seq\":1,\"time\":\"2025-01-01T00:00:00Z\",\"version\":1}}",
            first.sha256
        )
    );
    assert!(text[1].contains(&format!("\"prev\":\"{}\"", first.sha256)));
    assert!(fs::read(log.path()).unwrap().ends_with(b"\n"));

    let report = log
        .verify(&[anchor("metadata/1.snapshot.json", &second)])
        .unwrap();
    assert_eq!(
        report,
        AuditReport {
            lines: 2,
            anchors_checked: 1,
            head: Some(second),
        }
    );
}

#[test]
fn head_is_the_snapshot_field_value() {
    let head = AuditHead {
        line: 7,
        sha256: "ab".repeat(32),
    };
    let value = serde_json::to_value(&head).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"line": 7, "sha256": "ab".repeat(32)})
    );
    assert_eq!(serde_json::from_value::<AuditHead>(value).unwrap(), head);
}

#[test]
fn entries_give_back_the_events() {
    let log = scratch("entries");
    let mut targets = BTreeMap::new();
    targets.insert("fw \"main\".bin".to_owned(), "0f".repeat(32));
    let events = [
        AuditEvent {
            action: "sign".into(),
            role: Some("targets".into()),
            version: Some(3),
            keyid: Some("ab".repeat(32)),
            approver: Some("Alice Müller".into()),
            targets,
            detail: None,
        },
        AuditEvent {
            action: "refuse".into(),
            detail: Some("threshold not met: 1 of 2 \\ \"quoted\" é".into()),
            ..AuditEvent::default()
        },
    ];
    for (i, e) in events.iter().enumerate() {
        log.append(e, UnixTime(T0.0 + i as i64 * 3600)).unwrap();
    }
    let entries = log.entries().unwrap();
    assert_eq!(entries.len(), 2);
    for (i, (entry, e)) in entries.iter().zip(&events).enumerate() {
        assert_eq!(&entry.event, e);
        assert_eq!(entry.line, i + 1);
        assert_eq!(entry.seq, i as u64 + 1);
    }
    assert_eq!(entries[0].prev, GENESIS);
    assert_eq!(entries[1].prev, entries[0].hash);
    assert_eq!(entries[1].time, "2025-01-01T01:00:00Z");
    assert!(!lines(&log)[1].contains("targets"));
}

/// Several events appended at once are the lines appending them one by
/// one would give: chained in order, after what the log held, and the
/// heads returned are theirs. An empty batch writes nothing.
#[test]
fn a_batch_of_events_is_the_lines_one_append_each_would_write() {
    let (batched, _) = filled("batch", 2);
    let (single, _) = filled("single", 2);
    let events = [event("sign", 3), event("sign", 4), event("sign", 5)];
    let tail = TailMemo::default();
    let heads = batched.append_all_after(&events, T0, &tail).unwrap();
    for e in &events {
        single.append(e, T0).unwrap();
    }
    assert_eq!(lines(&batched), lines(&single));
    let entries = batched.entries().unwrap();
    let expected: Vec<AuditHead> = entries[2..].iter().map(AuditEntry::head).collect();
    assert_eq!(heads, expected);
    assert_eq!(batched.verify(&[]).unwrap().lines, 5);
    assert!(batched.append_all_after(&[], T0, &tail).unwrap().is_empty());
    assert_eq!(lines(&batched).len(), 5);
    // The tail the batch left is the log's head: the next append chains on.
    let next = batched
        .append_after(&event("publish", 6), T0, &tail)
        .unwrap();
    assert_eq!(next.line, 6);
    assert_eq!(batched.verify(&[]).unwrap().lines, 6);
}

#[test]
fn missing_log_is_empty() {
    let log = scratch("missing");
    assert!(log.entries().unwrap().is_empty());
    assert_eq!(log.verify(&[]).unwrap().lines, 0);
}

#[test]
fn events_that_would_break_the_format_are_refused() {
    let log = scratch("invalid-event");
    let multi = AuditEvent {
        action: "refuse".into(),
        detail: Some("line one\n{\"forged\":1}".into()),
        ..AuditEvent::default()
    };
    assert!(matches!(
        log.append(&multi, T0),
        Err(AuditError::InvalidEvent { ref field, .. }) if field == "detail"
    ));
    let mut bad_hash = event("stage", 1);
    bad_hash.targets.insert("fw.bin".into(), "ABC".into());
    assert!(matches!(
        log.append(&bad_hash, T0),
        Err(AuditError::InvalidEvent { .. })
    ));
    assert!(matches!(
        log.append(&AuditEvent::default(), T0),
        Err(AuditError::InvalidEvent { .. })
    ));
    assert!(matches!(
        log.append(&event("stage", 1), UnixTime(-1)),
        Err(AuditError::TimeOutOfRange(-1))
    ));
    assert_eq!(log.head().unwrap(), None);
}

#[cfg(unix)]
#[test]
fn new_log_is_0644() {
    use std::os::unix::fs::PermissionsExt;
    let (log, _) = filled("mode", 1);
    let mode = fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
    // The umask can only take bits away.
    assert_eq!(mode & !0o644, 0);
}

#[test]
fn edit_is_detected() {
    let (log, _) = filled("edit", 4);
    let mut text = lines(&log);
    text[2] = text[2].replace("\"version\":3", "\"version\":9");
    write_lines(&log, &text);
    let err = log.verify(&[]).unwrap_err();
    assert!(
        matches!(err, AuditError::HashMismatch { line: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("audit.log:3:"), "{err}");
}

#[test]
fn delete_is_detected() {
    let (log, _) = filled("delete", 4);
    let mut text = lines(&log);
    text.remove(1);
    write_lines(&log, &text);
    let err = log.verify(&[]).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::SeqMismatch {
                line: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn delete_with_renumbered_seq_is_detected() {
    let (log, _) = filled("delete-renumber", 4);
    let mut text = lines(&log);
    text.remove(1);
    write_lines(&log, &text);
    // Renumber and rehash only the line that moved; its `prev` still
    // names the deleted line.
    let mut value: Value = serde_json::from_str(&text[1]).unwrap();
    let map = value.as_object_mut().unwrap();
    map.remove("hash");
    map.insert("seq".into(), Value::from(2u64));
    let body: Body = serde_json::from_value(value).unwrap();
    let (value, _) = body.hashed().unwrap();
    text[1] = String::from_utf8(to_canonical_vec(&value).unwrap()).unwrap();
    write_lines(&log, &text);
    let err = log.verify(&[]).unwrap_err();
    assert!(
        matches!(err, AuditError::PrevMismatch { line: 2, .. }),
        "{err}"
    );
}

#[test]
fn reorder_is_detected() {
    let (log, _) = filled("reorder", 4);
    let mut text = lines(&log);
    text.swap(1, 2);
    write_lines(&log, &text);
    let err = log.verify(&[]).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::SeqMismatch {
                line: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn truncate_below_anchor_is_detected() {
    let (log, heads) = filled("truncate", 5);
    let anchors = [
        anchor("metadata/2.snapshot.json", &heads[1]),
        anchor("metadata/3.snapshot.json", &heads[3]),
    ];
    log.verify(&anchors).unwrap();
    let text = lines(&log);
    write_lines(&log, &text[..2]);
    // The chain that is left is fine; only the anchor shows the loss.
    assert_eq!(log.entries().unwrap().len(), 2);
    let err = log.verify(&anchors).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::AnchorMissing { ref anchor, line: 4, lines: 2, .. }
                if anchor == "metadata/3.snapshot.json"
        ),
        "{err}"
    );
}

#[test]
fn emptied_log_with_anchors_is_detected() {
    let (log, heads) = filled("emptied", 2);
    fs::write(log.path(), b"").unwrap();
    let err = log
        .verify(&[anchor("metadata/2.snapshot.json", &heads[0])])
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::AnchorMissing {
                line: 1,
                lines: 0,
                ..
            }
        ),
        "{err}"
    );
    fs::remove_file(log.path()).unwrap();
    let err = log
        .verify(&[anchor("metadata/2.snapshot.json", &heads[0])])
        .unwrap_err();
    assert!(
        matches!(err, AuditError::AnchorMissing { lines: 0, .. }),
        "{err}"
    );
}

#[test]
fn recompute_after_edit_is_detected() {
    let (log, heads) = filled("recompute", 6);
    let anchors = [
        anchor("metadata/2.snapshot.json", &heads[0]),
        anchor("metadata/3.snapshot.json", &heads[3]),
        anchor("metadata/4.snapshot.json", &heads[5]),
    ];
    let mut text = lines(&log);
    text[2] = text[2].replace("\"version\":3", "\"version\":9");
    write_lines(&log, &text);
    recompute(&log);
    // The chain is consistent again ...
    assert_eq!(log.entries().unwrap().len(), 6);
    // ... but the first anchor after the edit no longer matches.
    let err = log.verify(&anchors).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::AnchorMismatch { ref anchor, line: 4, first_suspect: 2, .. }
                if anchor == "metadata/3.snapshot.json"
        ),
        "{err}"
    );
}

#[test]
fn torn_last_line_is_detected() {
    let (log, _) = filled("torn", 3);
    let bytes = fs::read(log.path()).unwrap();
    fs::write(log.path(), &bytes[..bytes.len() - 10]).unwrap();
    let err = log.verify(&[]).unwrap_err();
    assert!(matches!(err, AuditError::TornLine { line: 3, .. }), "{err}");
    let err = log.head().unwrap_err();
    assert!(matches!(err, AuditError::TornLine { line: 3, .. }), "{err}");
    let err = log.append(&event("stage", 4), T0).unwrap_err();
    assert!(matches!(err, AuditError::TornLine { line: 3, .. }), "{err}");
    // Nothing was appended after the torn line.
    assert_eq!(fs::read(log.path()).unwrap(), &bytes[..bytes.len() - 10]);
    // A cut exactly at a line's newline leaves the whole line, minus the
    // newline: still torn, not silently accepted.
    fs::write(log.path(), &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(
        log.append(&event("stage", 4), T0),
        Err(AuditError::TornLine { line: 3, .. })
    ));
}

#[test]
fn garbage_line_is_detected() {
    let (log, _) = filled("garbage", 3);
    let mut text = lines(&log);
    text[1] = "not json at all".into();
    write_lines(&log, &text);
    let err = log.verify(&[]).unwrap_err();
    assert!(
        matches!(err, AuditError::Malformed { line: 2, .. }),
        "{err}"
    );

    // Valid JSON, but not canonical (reformatted): also refused.
    let (log, _) = filled("garbage-spaces", 2);
    let mut text = lines(&log);
    text[0] = text[0].replace(",\"", ", \"");
    write_lines(&log, &text);
    assert!(matches!(
        log.verify(&[]),
        Err(AuditError::Malformed { line: 1, .. })
    ));

    // A garbage last line stops appends.
    let (log, _) = filled("garbage-last", 2);
    let mut text = lines(&log);
    text[1] = "{}".into();
    write_lines(&log, &text);
    assert!(matches!(
        log.append(&event("stage", 3), T0),
        Err(AuditError::Malformed { line: 2, .. })
    ));
}

#[test]
fn invalid_anchor_is_refused() {
    let (log, heads) = filled("bad-anchor", 1);
    let mut bad = anchor("metadata/2.snapshot.json", &heads[0]);
    bad.head.line = 0;
    assert!(matches!(
        log.verify(&[bad]),
        Err(AuditError::InvalidAnchor { .. })
    ));
}

#[test]
fn expected_head_is_line_colon_sha256() {
    let head = AuditHead {
        line: 12,
        sha256: "0a".repeat(32),
    };
    let text = head.to_string();
    assert_eq!(text, format!("12:{}", "0a".repeat(32)));
    assert_eq!(text.parse::<AuditHead>().unwrap(), head);
    for bad in [
        String::new(),
        "12".to_owned(),
        format!("0:{}", "0a".repeat(32)),
        format!("-1:{}", "0a".repeat(32)),
        format!("+3:{}", "0a".repeat(32)),
        format!("x:{}", "0a".repeat(32)),
        format!("12:{}", "0A".repeat(32)),
        format!("12:{}", "0a".repeat(31)),
        format!("12:{}:", "0a".repeat(32)),
        format!("99999999999999999999999:{}", "0a".repeat(32)),
    ] {
        assert!(
            matches!(
                bad.parse::<AuditHead>(),
                Err(AuditError::InvalidAnchor { .. })
            ),
            "{bad:?} was accepted"
        );
    }
}

/// Lines after the newest anchor in signed metadata are protected by
/// nothing in the repository: cutting them off leaves a log that
/// verifies. A head kept outside (`--expect-head`) is what catches it,
/// and also a cut followed by new lines up to the same length.
#[test]
fn truncation_after_the_last_anchor_is_caught_only_by_an_external_head() {
    let (log, heads) = filled("truncate-tail", 6);
    let anchors = [anchor("metadata/2.snapshot.json", &heads[2])];
    let witness = anchor("--expect-head", &heads[5]);
    log.verify(&[anchors[0].clone(), witness.clone()]).unwrap();

    let text = lines(&log);
    write_lines(&log, &text[..4]);
    assert_eq!(log.verify(&anchors).unwrap().lines, 4);
    let err = log
        .verify(&[anchors[0].clone(), witness.clone()])
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::AnchorMissing { ref anchor, line: 6, lines: 4, .. }
                if anchor == "--expect-head"
        ),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");

    // Cut and refilled to the same length with other lines.
    log.append(&event("refuse", 5), T0).unwrap();
    log.append(&event("refuse", 6), T0).unwrap();
    assert_eq!(log.verify(&anchors).unwrap().lines, 6);
    let err = log.verify(&[anchors[0].clone(), witness]).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::AnchorMismatch { ref anchor, line: 6, first_suspect: 4, .. }
                if anchor == "--expect-head"
        ),
        "{err}"
    );
}

#[test]
fn long_last_line_is_read_whole() {
    let log = scratch("long-line");
    log.append(&event("init", 1), T0).unwrap();
    let mut big = event("stage", 2);
    for i in 0..200 {
        big.targets
            .insert(format!("firmware-{i:04}.bin"), "1f".repeat(32));
    }
    let head = log.append(&big, T0).unwrap();
    assert!(fs::metadata(log.path()).unwrap().len() > 2 * TAIL_CHUNK);
    assert_eq!(log.head().unwrap(), Some(head.clone()));
    let next = log.append(&event("publish", 2), T0).unwrap();
    assert_eq!(next.line, 3);
    assert_eq!(log.entries().unwrap()[2].prev, head.sha256);
}

/// The head a command remembers from its verification (or its last append)
/// spares reading the last line again, but only while the file has the
/// length it had then: a line another process appended meanwhile is chained
/// onto, not overwritten in the chain (which would fork the log).
#[test]
fn a_remembered_head_is_used_only_while_the_log_has_not_grown() {
    let (log, heads) = filled("tail-memo", 2);
    let memo = TailMemo::default();
    let report = log.verify_after(&[], &memo).unwrap();
    assert_eq!(report.head.as_ref(), heads.last());

    // Another process appends without this handle's memo.
    let other = log.append(&event("sign", 3), T0).unwrap();
    assert_eq!(other.line, 3);

    let mine = log.append_after(&event("sign", 4), T0, &memo).unwrap();
    assert_eq!(mine.line, 4, "chained onto the other process's line");
    let again = log.append_after(&event("sign", 5), T0, &memo).unwrap();
    assert_eq!(again.line, 5);
    assert_eq!(log.head_after(&memo).unwrap(), Some(again.clone()));
    let report = log.verify(&[]).unwrap();
    assert_eq!((report.lines, report.head), (5, Some(again)));
}
