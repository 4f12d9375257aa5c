//! Delegation path rules agree with live python-tuf 7 on thousands of
//! generated patterns and paths: a disagreement is a cross-family signing
//! hole (fwsign's device or client accepting an image python-tuf's
//! delegation would not cover) or a release that clients refuse.

use std::io::Write;
use std::process::{Command, Stdio};

use fwsign_core::path_match::{delegation_covers_names, path_matches};

use crate::peers;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn string(&mut self, alphabet: &[&str], max: u64) -> String {
        let n = self.next() % (max + 1);
        (0..n).map(|_| self.pick(alphabet)).collect()
    }
}

/// Pattern pieces, including every fnmatch construct and the edge cases:
/// sets with ranges, negation, `]` first, unclosed `[`, multi-byte text.
const PATTERN: &[&str] = &[
    "a", "b", "/", "*", "?", "[ab]", "[!a]", "[a-c]", "[]a]", "[!]]", "[", "]", "-", ".", "é",
    "**", "fw", "[é]", "[b-a]",
];
const TEXT: &[&str] = &["a", "b", "c", "/", ".", "-", "[", "]", "é", "fw", "!", "*"];

#[test]
fn delegation_paths_agree_with_python_tuf() {
    let Some(python) = peers::python() else {
        return;
    };
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut cases = Vec::new();
    for _ in 0..4000 {
        let pattern = g.string(PATTERN, 5);
        // Half the targets are built to look like the pattern, so matches
        // are common enough to test.
        let target = if g.next().is_multiple_of(2) {
            pattern
                .replace(['*', '?', '!'], "a")
                .replace(['[', ']'], "")
        } else {
            g.string(TEXT, 6)
        };
        cases.push((Some(pattern), None, target));
    }
    for _ in 0..300 {
        let prefix = g.string(&["0", "7", "a", "F", "e3", "b0"], 3);
        let target = g.string(TEXT, 6);
        cases.push((None, Some(prefix), target));
    }

    let mut input = String::new();
    for (pattern, prefix, target) in &cases {
        let line = match (pattern, prefix) {
            (Some(p), _) => serde_json::json!({"paths": [p], "target": target}),
            (_, Some(h)) => serde_json::json!({"path_hash_prefixes": [h], "target": target}),
            _ => unreachable!(),
        };
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let script = peers::workspace_root().join("tests/tools/path_rules.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "path_rules.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), cases.len());

    let mut matched = 0;
    for ((pattern, prefix, target), theirs) in cases.iter().zip(theirs) {
        let ours = match (pattern, prefix) {
            (Some(p), _) => path_matches(p, target),
            (_, Some(h)) => delegation_covers_names(None, Some(&[h.as_str()]), target),
            _ => unreachable!(),
        };
        assert_eq!(
            ours, theirs,
            "pattern {pattern:?} / prefix {prefix:?} on {target:?}: fwsign {ours}, python-tuf {theirs}"
        );
        matched += usize::from(ours);
    }
    // The generator must exercise both answers, or the test proves little.
    assert!(
        matched > 300 && matched < cases.len() - 300,
        "{matched} matches"
    );
}
