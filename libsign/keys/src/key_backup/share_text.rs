//! A share as text a person can copy by hand: nine short lines of 4-digit
//! hex groups, each ending in a checksum of that line, so a copying
//! mistake is caught and located at once, line by line.
//!
//! ```text
//! fwsign-share 1                                        | 1c0ffe
//! set    4c1a 77e2 0b9d 5f31 a2c8 6e04 d9b7 1f58        | ......
//! share  2 of 5 need 3                                  | ......
//! key    (key ID, first half)                           | ......
//! key    (key ID, second half)                          | ......
//! commit (SHA-256 of the set's commitments, first half) | ......
//! commit (second half)                                  | ......
//! value  (the share, first half)                        | ......
//! value  (second half)                                  | ......
//! ```
//!
//! The checksum is the first 6 hex digits of SHA-256 over a label, the
//! line's position among these nine and its words joined by single spaces
//! in lower case (so spacing and case do not matter). It catches copying
//! errors only: anyone can compute it, and the commitment check, not the
//! checksum, is what stops a forged share. Lines starting with `#` and
//! blank lines are comments.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{BackupError, SET_ID_LEN, SetInfo};
use crate::key_backup::vss::SCALAR_LEN;

const VERSION_LINE: &str = "fwsign-share 1";
const CHECKSUM_LABEL: &[u8] = b"fwsign share line\0";
/// Hex digits of a line checksum.
const CHECKSUM_DIGITS: usize = 6;
/// The nine data lines, by label.
const LABELS: [&str; 9] = [
    "fwsign-share",
    "set",
    "share",
    "key",
    "key",
    "commit",
    "commit",
    "value",
    "value",
];

/// The checksum of data line `ordinal` (1-based) with normalised `content`.
fn checksum(ordinal: usize, content: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(CHECKSUM_LABEL);
    hasher.update(ordinal.to_string().as_bytes());
    hasher.update(b" ");
    hasher.update(content.as_bytes());
    let digest = hasher.finalize();
    let mut out = base16ct::lower::encode_string(&digest);
    out.truncate(CHECKSUM_DIGITS);
    out
}

/// `bytes` as lower-case hex in space-separated groups of four digits.
fn groups(bytes: &[u8]) -> String {
    hex_groups_of_text(&base16ct::lower::encode_string(bytes))
}

/// Renders a share. The returned text holds the share's value and is
/// wiped when dropped.
pub(super) fn render(set: &SetInfo, index: u8, value: &[u8; SCALAR_LEN]) -> Zeroizing<String> {
    let keyid = set.keyid.as_bytes();
    let (key_a, key_b) = keyid.split_at(keyid.len() / 2);
    let key_a = std::str::from_utf8(key_a).unwrap_or_default();
    let key_b = std::str::from_utf8(key_b).unwrap_or_default();
    let (commit_a, commit_b) = set.commitments_sha256.split_at(16);
    let (value_a, value_b) = value.split_at(SCALAR_LEN / 2);
    let value_a = Zeroizing::new(groups(value_a));
    let value_b = Zeroizing::new(groups(value_b));
    let lines: [(&str, String); 9] = [
        ("", VERSION_LINE.to_owned()),
        ("set", groups(&set.set_id)),
        (
            "share",
            format!("{index} of {} need {}", set.shares, set.threshold),
        ),
        ("key", hex_groups_of_text(key_a)),
        ("key", hex_groups_of_text(key_b)),
        ("commit", groups(commit_a)),
        ("commit", groups(commit_b)),
        ("value", String::new()),
        ("value", String::new()),
    ];
    let mut out = Zeroizing::new(String::with_capacity(1024));
    let _ = writeln!(
        out,
        "# fwsign key backup share {index} of {n}: any {k} shares and the backup blob\n\
         # restore key {keyid}.\n\
         # Keep it offline, on its own medium, apart from the other shares.\n\
         # Every line ends with its checksum (| xxxxxx): copy lines exactly.\n\
         # Set {set_id}: its commit lines must read as\n\
         # `fwsign key backup` showed them; restore checks the share against them.",
        n = set.shares,
        k = set.threshold,
        keyid = set.keyid,
        set_id = set.set_id_hex(),
    );
    for (ordinal, (label, body)) in lines.iter().enumerate() {
        let ordinal = ordinal + 1;
        // The value lines are built in wiped buffers, never in `lines`.
        let body: &str = match ordinal {
            8 => value_a.as_str(),
            9 => value_b.as_str(),
            _ => body,
        };
        let content = Zeroizing::new(if label.is_empty() {
            body.to_owned()
        } else {
            format!("{label} {body}")
        });
        let display = Zeroizing::new(if label.is_empty() {
            body.to_owned()
        } else {
            format!("{label:<6} {body}")
        });
        let _ = writeln!(
            out,
            "{:<47} | {}",
            display.as_str(),
            checksum(ordinal, &content)
        );
    }
    out
}

/// Hex text (a key ID half) in groups of four.
fn hex_groups_of_text(hex: &str) -> String {
    let mut out = String::with_capacity(hex.len() + hex.len() / 4);
    for (i, c) in hex.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A share read from text: its set, index and value.
pub(super) struct ParsedShare {
    pub(super) set: SetInfo,
    pub(super) index: u8,
    pub(super) value: Zeroizing<[u8; SCALAR_LEN]>,
}

/// One checked data line: its physical line number and words.
struct DataLine {
    number: usize,
    words: Vec<String>,
}

/// Parses a share, checking every line's checksum first; errors name
/// `path` and the line.
pub(super) fn parse(path: &Path, text: &str) -> Result<ParsedShare, BackupError> {
    let syntax = |line: usize, problem: String| BackupError::ShareSyntax {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let mut data: Vec<DataLine> = Vec::with_capacity(LABELS.len());
    let mut last_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        last_line = number;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if data.len() == LABELS.len() {
            return Err(syntax(
                number,
                "unexpected text after the share's last line".to_owned(),
            ));
        }
        let Some((body, check)) = trimmed.rsplit_once('|') else {
            return Err(syntax(
                number,
                "no checksum: each line ends with `| ` and 6 hex digits".to_owned(),
            ));
        };
        let check = check.trim().to_ascii_lowercase();
        if check.len() != CHECKSUM_DIGITS || !check.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(syntax(
                number,
                format!("the checksum {check:?} is not {CHECKSUM_DIGITS} hex digits"),
            ));
        }
        let words: Vec<String> = body
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let content = Zeroizing::new(words.join(" "));
        let ordinal = data.len() + 1;
        if checksum(ordinal, &content) != check {
            return Err(BackupError::ShareChecksum {
                path: path.to_path_buf(),
                line: number,
            });
        }
        data.push(DataLine { number, words });
    }
    if data.len() < LABELS.len() {
        return Err(syntax(
            last_line.max(1),
            format!(
                "the share ends after {} of its {} lines",
                data.len(),
                LABELS.len()
            ),
        ));
    }
    for (line, label) in data.iter().zip(LABELS) {
        if line.words.first().map(String::as_str) != Some(label) {
            return Err(syntax(
                line.number,
                format!("expected the `{label}` line here"),
            ));
        }
    }
    if data[0].words != ["fwsign-share", "1"] {
        return Err(syntax(
            data[0].number,
            format!("not a share this fwsign reads (expected `{VERSION_LINE}`)"),
        ));
    }
    let set_id: [u8; SET_ID_LEN] = hex_line(&data[1], path)?;
    let (index, shares, threshold) = share_line(&data[2]).ok_or_else(|| {
        syntax(
            data[2].number,
            "expected `share I of N need K` with 1 <= I <= N <= 255 and 2 <= K <= N".to_owned(),
        )
    })?;
    let key_a: [u8; 16] = hex_line(&data[3], path)?;
    let key_b: [u8; 16] = hex_line(&data[4], path)?;
    let commit_a: [u8; 16] = hex_line(&data[5], path)?;
    let commit_b: [u8; 16] = hex_line(&data[6], path)?;
    let value_a: Zeroizing<[u8; 16]> = Zeroizing::new(hex_line(&data[7], path)?);
    let value_b: Zeroizing<[u8; 16]> = Zeroizing::new(hex_line(&data[8], path)?);
    for line in &mut data {
        zeroize::Zeroize::zeroize(&mut line.words);
    }
    let mut keyid = base16ct::lower::encode_string(&key_a);
    keyid.push_str(&base16ct::lower::encode_string(&key_b));
    let mut commitments_sha256 = [0u8; 32];
    commitments_sha256[..16].copy_from_slice(&commit_a);
    commitments_sha256[16..].copy_from_slice(&commit_b);
    let mut value = Zeroizing::new([0u8; SCALAR_LEN]);
    value[..16].copy_from_slice(value_a.as_slice());
    value[16..].copy_from_slice(value_b.as_slice());
    Ok(ParsedShare {
        set: SetInfo {
            set_id,
            threshold,
            shares,
            keyid,
            commitments_sha256,
        },
        index,
        value,
    })
}

/// `share I of N need K`.
fn share_line(line: &DataLine) -> Option<(u8, u8, u8)> {
    match line.words.as_slice() {
        [_, i, of, n, need, k] if of == "of" && need == "need" => {
            let (i, n, k) = (
                i.parse::<u8>().ok()?,
                n.parse::<u8>().ok()?,
                k.parse::<u8>().ok()?,
            );
            (i >= 1 && i <= n && k >= 2 && k <= n).then_some((i, n, k))
        }
        _ => None,
    }
}

/// The hex groups after a line's label, as exactly `N` bytes.
fn hex_line<const N: usize>(line: &DataLine, path: &Path) -> Result<[u8; N], BackupError> {
    let hex = Zeroizing::new(line.words[1..].concat());
    let mut out = [0u8; N];
    match base16ct::mixed::decode(hex.as_bytes(), &mut out) {
        Ok(decoded) if decoded.len() == N => Ok(out),
        _ => Err(BackupError::ShareSyntax {
            path: path.to_path_buf(),
            line: line.number,
            problem: format!("expected {} hex digits after `{}`", N * 2, line.words[0]),
        }),
    }
}
