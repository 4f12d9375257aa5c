//! The one-pass check of a line against the tree reading it replaces:
//! on lines fwsign writes and on every kind of damage or tampering a line
//! can carry, the fast path must accept exactly the lines the tree reading
//! accepts, with the same result, and otherwise leave the verdict (and the
//! error users see) to it.

use std::collections::BTreeMap;

use fwsign_manifest_schema::canonical::to_canonical_vec;
use fwsign_manifest_schema::parse::parse_json;
use serde_json::Value;

use super::tree::parse_entry_tree;
use super::*;
use crate::audit::GENESIS;

const PREV: &str = "5c1f0e3a9b7d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6";

/// Lines as fwsign writes them: the fewest fields, every field, and text
/// that canonical JSON escapes (`"`, `\`) or carries raw (non-ASCII).
fn written_lines() -> Vec<String> {
    let minimal = AuditEvent {
        action: "init".into(),
        ..AuditEvent::default()
    };
    let mut full = AuditEvent {
        action: "stage".into(),
        role: Some("targets".into()),
        version: Some(3),
        keyid: Some("ab".repeat(32)),
        approver: Some("Zoë \"release\" manager".into()),
        detail: Some("path C:\\fw / café 😀".into()),
        ..AuditEvent::default()
    };
    for (i, name) in ["a.bin", "fw/é.bin", "quote\"name", "back\\slash", "z"]
        .into_iter()
        .enumerate()
    {
        full.targets
            .insert(name.into(), format!("{i:x}").repeat(64)[..64].to_owned());
    }
    [
        Body::new(&minimal, 1, GENESIS.into(), "2025-01-01T00:00:00Z".into()),
        Body::new(&full, 2, PREV.into(), "2025-06-30T23:59:59Z".into()),
        Body::new(&full, u64::MAX, PREV.into(), "9999-12-31T23:59:59Z".into()),
    ]
    .iter()
    .map(|body| {
        let (value, _) = body.hashed().unwrap();
        String::from_utf8(to_canonical_vec(&value).unwrap()).unwrap()
    })
    .collect()
}

/// `text` with its `hash` replaced by the hash of the canonical form of
/// the rest of what it reads as, as someone editing the line would
/// recompute it; the text is otherwise left as it is. Unchanged when it
/// does not read as an object with a 64-character `hash`.
fn rehash(text: &str) -> String {
    let Ok(Value::Object(mut map)) = parse_json(text.as_bytes()) else {
        return text.to_owned();
    };
    let Some(Value::String(old)) = map
        .remove("hash")
        .filter(|h| h.as_str().is_some_and(|h| h.len() == 64))
    else {
        return text.to_owned();
    };
    let Ok(rest) = to_canonical_vec(&Value::Object(map)) else {
        return text.to_owned();
    };
    text.replace(&old, &sha256_hex(&rest))
}

/// `text` with its `hash` replaced by the hash of its own bytes less the
/// `"hash":"…"` member (and the comma before it): the hash a check that
/// hashed the bytes without first making sure they are canonical would
/// compute, so the edit gets past such a check's hash comparison.
fn rehash_raw(text: &str) -> String {
    let Some(at) = text.find(",\"hash\":\"") else {
        return text.to_owned();
    };
    let Some(old) = text.get(at + 9..at + 73) else {
        return text.to_owned();
    };
    let Some(rest) = text.get(at + 74..) else {
        return text.to_owned();
    };
    let own = sha256_hex(format!("{}{rest}", &text[..at]).as_bytes());
    text.replacen(old, &own, 1)
}

/// The member `"key":value` inserted before the first member whose key
/// sorts after `key` (so the line stays in canonical key order); `None`
/// when the line has that key already.
fn insert_member(text: &str, key: &str, value: &str) -> Option<String> {
    let map = parse_json(text.as_bytes()).unwrap();
    let keys = map.as_object().unwrap();
    if keys.contains_key(key) {
        return None;
    }
    let after = keys.keys().filter(|k| k.as_str() > key).min().cloned();
    Some(match after {
        Some(next) => text.replacen(
            &format!("\"{next}\":"),
            &format!("\"{key}\":{value},\"{next}\":"),
            1,
        ),
        None => format!("{},\"{key}\":{value}}}", &text[..text.len() - 1]),
    })
}

/// What [`parse_entry`] must keep: the tree reading's verdict, and the
/// fast path accepting exactly what the tree reading accepts.
#[track_caller]
fn assert_same_verdict(text: &[u8]) -> Result<Parsed, Fault> {
    let tree = parse_entry_tree(text);
    let fast = parse_entry_fast(text);
    let shown = String::from_utf8_lossy(text);
    match (&tree, &fast) {
        (Ok(tree), Some(fast)) => assert_eq!(tree, fast, "{shown}"),
        (Err(_), None) => {}
        (Ok(_), None) => panic!("the fast path did not accept a good line: {shown}"),
        (Err(e), Some(_)) => panic!("the fast path accepted a line refused as {e:?}: {shown}"),
    }
    assert_eq!(parse_entry(text), tree, "{shown}");
    tree
}

#[track_caller]
fn assert_malformed(text: &str, reason: &str) {
    match assert_same_verdict(text.as_bytes()) {
        Err(Fault::Malformed(found)) => {
            assert!(found.contains(reason), "{found:?} for {text}");
        }
        other => panic!("{other:?} for {text}"),
    }
}

#[test]
fn lines_fwsign_writes_are_accepted_by_the_fast_path() {
    for line in written_lines() {
        let parsed = assert_same_verdict(line.as_bytes()).unwrap();
        assert!(parse_entry_fast(line.as_bytes()).is_some(), "{line}");
        // And it reads back what was written.
        let (value, hash) = parsed.body.hashed().unwrap();
        assert_eq!(hash, parsed.hash);
        assert_eq!(to_canonical_vec(&value).unwrap(), line.as_bytes());
        // The writer's typed path gives the same bytes and hash as the tree.
        let (written, written_hash) = parsed.body.line().unwrap();
        assert_eq!(written_hash, hash);
        assert_eq!(written, line.as_bytes());
    }
}

/// Each edit that keeps the line's hash right but changes its spelling
/// would let two different byte strings carry one hash: refused, with the
/// tree reading's reason.
#[test]
fn respelled_lines_are_refused_as_before() {
    for line in written_lines() {
        let respelled = [
            (Some(line.replacen(",\"", ", \"", 1)), "not canonical"),
            (Some(line.replacen(':', ": ", 1)), "not canonical"),
            (Some(format!(" {line}")), "not canonical"),
            (Some(format!("{line} ")), "not canonical"),
            (Some(format!("{line}\t")), "not canonical"),
            (
                Some(line.replacen("\"seq\":", "\"seq\":\t", 1)),
                "not canonical",
            ),
            // Members out of order: `action` moved after `hash`.
            (Some(move_action_last(&line)), "not canonical"),
            (insert_member(&line, "approver", "null"), "null or empty"),
            (insert_member(&line, "version", "null"), "null or empty"),
            (insert_member(&line, "detail", "null"), "null or empty"),
            (insert_member(&line, "targets", "{}"), "null or empty"),
            (insert_member(&line, "extra", "\"x\""), "bad fields"),
            (insert_member(&line, "zzz", "1"), "bad fields"),
            (
                Some(line.replacen("\"action\"", "\"act\\u0069on\"", 1)),
                "not canonical",
            ),
            (Some(line.replacen('/', "\\/", 1)), "not canonical"),
            (Some(line.replacen('é', "\\u00e9", 1)), "not canonical"),
            (
                Some(line.replacen('😀', "\\ud83d\\ude00", 1)),
                "not canonical",
            ),
            (Some(line.replacen(":\"", ":\"\\u0061", 1)), "not canonical"),
            // Two targets swapped: the same bytes, out of order.
            (swap_first_targets(&line), "not canonical"),
        ];
        let mut refused = 0;
        for (text, reason) in respelled {
            // `None`, or the same line: that line has nothing to respell.
            let Some(text) = text.filter(|t| *t != line) else {
                continue;
            };
            assert_malformed(&rehash(&text), reason);
            // And with the hash of its own bytes, or the stale hash.
            assert_same_verdict(rehash_raw(&text).as_bytes()).unwrap_err();
            assert_same_verdict(text.as_bytes()).unwrap_err();
            refused += 1;
        }
        assert!(refused >= 12, "{refused} for {line}");
    }
}

fn swap_first_targets(line: &str) -> Option<String> {
    let value = parse_json(line.as_bytes()).unwrap();
    let mut targets = value.get("targets")?.as_object()?.iter();
    let mut member = || {
        let (name, hash) = targets.next()?;
        let text = to_canonical_vec(&Value::Object(
            [(name.clone(), hash.clone())].into_iter().collect(),
        ))
        .ok()?;
        String::from_utf8(text[1..text.len() - 1].to_vec()).ok()
    };
    let (first, second) = (member()?, member()?);
    Some(line.replacen(
        &format!("{first},{second}"),
        &format!("{second},{first}"),
        1,
    ))
}

fn move_action_last(line: &str) -> String {
    let value = parse_json(line.as_bytes()).unwrap();
    let action = value["action"].as_str().unwrap();
    let member = format!("\"action\":\"{action}\",");
    let rest = line.replacen(&member, "", 1);
    format!("{},\"action\":\"{action}\"}}", &rest[..rest.len() - 1])
}

/// Numbers: only the plain integer spelling, in range.
#[test]
fn non_canonical_numbers_are_refused_as_before() {
    let line = &written_lines()[1];
    for (seq, reason) in [
        ("02", "not JSON"),
        ("2.0", "not JSON"),
        ("2e0", "not JSON"),
        ("+2", "not JSON"),
        ("-2", "bad fields"),
        ("\"2\"", "bad fields"),
        ("18446744073709551616", "not JSON"),
        ("null", "bad fields"),
    ] {
        let text = line.replacen("\"seq\":2", &format!("\"seq\":{seq}"), 1);
        assert_ne!(&text, line);
        assert_malformed(&rehash(&text), reason);
    }
    let text = line.replacen("\"version\":3", "\"version\":-0", 1);
    assert_malformed(&rehash(&text), "");
}

/// A repeated key: a reader that keeps the first and one that keeps the
/// last would see different events. serde_json alone keeps the last (in
/// a map) so the fast path must not rely on it: the line it writes back
/// is shorter than the line read, and the tree reading refuses it.
#[test]
fn duplicate_keys_are_refused_as_before() {
    let line = &written_lines()[1];
    let value = parse_json(line.as_bytes()).unwrap();
    let (name, hash) = value["targets"].as_object().unwrap().iter().next().unwrap();
    let member = format!("\"{name}\":\"{}\"", hash.as_str().unwrap());
    let twice_in_targets = line.replacen(&member, &format!("{member},{member}"), 1);
    let other = format!("\"{name}\":\"{}\"", "f".repeat(64));
    let changed_in_targets = line.replacen(&member, &format!("{member},{other}"), 1);
    let twice_at_top = line.replacen(
        "\"action\":\"stage\"",
        "\"action\":\"stage\",\"action\":\"stage\"",
        1,
    );
    let old = value["hash"].as_str().unwrap();
    for text in [&twice_in_targets, &changed_in_targets, &twice_at_top] {
        assert_ne!(text, line);
        assert_malformed(text, "duplicate object key");
        // With the hash a last-wins reader would compute (what the fast
        // path's typed reading sees); not possible for the top-level
        // repeat, which the typed reading refuses itself.
        if let Ok(read) = serde_json::from_slice::<Line>(text.as_bytes()) {
            let (_, last_wins) = read.into_parsed().body.hashed().unwrap();
            assert_malformed(&text.replace(old, &last_wins), "duplicate object key");
        }
    }
    // serde_json on its own takes the repeated target without complaint:
    // this is what the byte comparison is there for.
    assert!(serde_json::from_slice::<Line>(changed_in_targets.as_bytes()).is_ok());
}

/// Control characters: a raw one would let a line look like two on a
/// terminal; an escaped one is not canonical.
#[test]
fn control_characters_are_refused_as_before() {
    let lines = written_lines();
    let line = &lines[1];
    for (from, to, reason) in [
        ("café", "caf\u{1}", "detail contains a control character"),
        ("café", "caf\u{7f}", "detail contains a control character"),
        ("café", "caf\\u0001", "not canonical"),
        ("café", "caf\\n", "not canonical"),
        ("Zoë", "Zo\u{9}", "approver contains a control character"),
        ("a.bin", "a\u{1b}.bin", "contains a control character"),
        (
            "\"init\"",
            "\"in\u{0}it\"",
            "action contains a control character",
        ),
    ] {
        let source = if from == "\"init\"" { &lines[0] } else { line };
        let text = source.replacen(from, to, 1);
        assert_ne!(&text, source, "{from}");
        assert_malformed(&rehash(&text), reason);
    }
}

/// The hash itself and the other fields with a fixed form.
#[test]
fn wrong_or_ill_formed_fields_are_refused_as_before() {
    let lines = written_lines();
    let line = &lines[1];
    let value = parse_json(line.as_bytes()).unwrap();
    let hash = value["hash"].as_str().unwrap();

    // One digit of the hash changed: the line was edited.
    let flipped = format!(
        "{}{}",
        if hash.starts_with('0') { '1' } else { '0' },
        &hash[1..]
    );
    match assert_same_verdict(line.replacen(hash, &flipped, 1).as_bytes()) {
        Err(Fault::Hash { stored, computed }) => {
            assert_eq!(stored, flipped);
            assert_eq!(computed, hash);
        }
        other => panic!("{other:?}"),
    }
    // The content changed under the hash.
    let edited = line.replacen("\"version\":3", "\"version\":4", 1);
    assert!(matches!(
        assert_same_verdict(edited.as_bytes()),
        Err(Fault::Hash { .. })
    ));

    let member = format!("\"hash\":\"{hash}\",");
    assert_malformed(&line.replacen(&member, "", 1), "no `hash` field");
    assert_malformed(
        &line.replacen(&member, "\"hash\":1,", 1),
        "`hash` is not a string",
    );
    assert_malformed(
        &line.replacen(hash, &hash.to_uppercase(), 1),
        "`hash` is not 64 lowercase hex digits",
    );
    assert_malformed(
        &line.replacen(hash, &hash[..62], 1),
        "`hash` is not 64 lowercase hex digits",
    );
    for (from, to, reason) in [
        (PREV, &PREV.to_uppercase()[..], "`prev` is not 64"),
        (PREV, &PREV[..63], "`prev` is not 64"),
        (
            "2025-06-30T23:59:59Z",
            "2025-06-31T23:59:59Z",
            "`time` is not",
        ),
        (
            "2025-06-30T23:59:59Z",
            "2025-06-30 23:59:59Z",
            "`time` is not",
        ),
        ("\"action\":\"stage\"", "\"action\":\"\"", "action is empty"),
        ("\"action\":\"stage\"", "\"action\":7", "bad fields"),
        ("\"targets\":{", "\"targets\":[],\"x\":{", "not canonical"),
        ("\"z\":\"", "\"z\":\"A", "is not a SHA-256"),
    ] {
        let text = line.replacen(from, to, 1);
        assert_ne!(&text, line, "{from}");
        assert_malformed(&rehash(&text), reason);
    }
    for (text, reason) in [
        ("", "empty line"),
        ("{}", "no `hash` field"),
        ("[]", "not a JSON object"),
        ("null", "not a JSON object"),
        ("\"line\"", "not a JSON object"),
        ("not json", "not JSON"),
    ] {
        assert_malformed(text, reason);
    }
    // Bytes that are not UTF-8.
    let mut bytes = line.as_bytes().to_vec();
    let at = line.find("caf").unwrap();
    bytes[at] = 0xff;
    assert!(matches!(
        assert_same_verdict(&bytes),
        Err(Fault::Malformed(_))
    ));
}

/// Every line cut short, every byte deleted and every byte replaced by one
/// of the bytes that matter to JSON: the fast path never accepts what the
/// tree reading refuses, nor the reverse.
#[test]
fn damaged_lines_get_the_tree_verdict() {
    let replacements = [
        b' ', b'"', b'\\', b',', b':', b'{', b'}', b'0', b'a', b'A', 0x01, 0xc3,
    ];
    let mut checked = 0;
    for line in written_lines() {
        let bytes = line.as_bytes();
        for cut in 0..bytes.len() {
            assert_same_verdict(&bytes[..cut]).unwrap_err();
            let mut deleted = bytes.to_vec();
            deleted.remove(cut);
            assert_same_verdict(&deleted).unwrap_err();
            for b in replacements {
                let mut changed = bytes.to_vec();
                changed[cut] = b;
                // Rehashed too, so that more of them get past the hash and
                // reach the format checks.
                let lossy = String::from_utf8_lossy(&changed);
                let (rehashed, own) = (rehash(&lossy), rehash_raw(&lossy));
                for text in [&changed[..], rehashed.as_bytes(), own.as_bytes()] {
                    let verdict = assert_same_verdict(text);
                    if text != bytes {
                        // A changed line may still be a good line (another
                        // hex digit in a target hash, say) but never this
                        // line's hash under other content.
                        if let Ok(parsed) = verdict {
                            let original = parse_entry_tree(bytes).unwrap();
                            assert_ne!(parsed, original);
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 30_000, "{checked}");
}

#[test]
fn an_accepted_line_gives_back_its_event_and_chain_fields() {
    let line = &written_lines()[1];
    let entry = parse_entry(line.as_bytes()).unwrap().into_entry(2);
    let expected: BTreeMap<String, String> = parse_json(line.as_bytes()).unwrap()["targets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(entry.event.targets, expected);
    assert_eq!(entry.line, 2);
    assert_eq!(entry.seq, 2);
    assert_eq!(entry.prev, PREV);
}
