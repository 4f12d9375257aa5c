//! `key backup --print`: the ceremony without removable media. Each share
//! is shown on the terminal to one custodian at a time, behind a cleared
//! screen and a confirmation; nothing is written to a pipe. Driven on a
//! pseudo-terminal (Python's `pty`), as custodians at a keyboard would.

use std::process::Command;

use fwsign_tests::{Fwsign, Scratch, USAGE, fwsign_bin};

use crate::peers::python;
use crate::release_support::json;

/// Runs `key backup KEY --shares 3 --threshold 2 --print --blob-out BLOB`
/// on a pty, pressing Enter at each prompt (up to `presses` times, then
/// closing the terminal), and prints the transcript; exits with fwsign's
/// code. Enter is sent only once the prompt is on screen.
const DRIVER: &str = r#"
import os, pty, sys, time
binary, key, blob, presses = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "key", "backup", key, "--shares", "3", "--threshold", "2",
                      "--print", "--blob-out", blob])
seen = b""
def read_until(marker, start):
    global seen
    deadline = time.time() + 20
    while marker not in seen[start:]:
        if time.time() > deadline:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return False
        if not chunk:
            return False
        seen += chunk
    return True
pos = 0
for _ in range(presses):
    if not read_until(b"Press Enter", pos):
        break
    pos = seen.index(b"Press Enter", pos) + 1
    os.write(fd, b"\n")
if presses < 6:
    os.close(fd)
else:
    read_until(b"\x00never", pos)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

const CLEAR: &str = "\x1b[H\x1b[2J\x1b[3J";

#[test]
fn printed_shares_are_shown_one_custodian_at_a_time_and_restore_the_key() {
    let Some(python) = python() else { return };
    let s = Scratch::new("backup-print");
    let fw = Fwsign::new(s.path());
    let key = s.join("root.pem");
    let run = fw.run([
        "--json",
        "key",
        "generate",
        "--unencrypted",
        "--out",
        key.to_str().unwrap(),
    ]);
    run.ok();
    let keyid = json(&run)["keyid"].as_str().unwrap().to_owned();
    let blob = s.join("root.backup.json");
    let out = Command::new(&python)
        .args(["-c", DRIVER])
        .arg(fwsign_bin())
        .arg(&key)
        .arg(&blob)
        .arg("6")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(blob.is_file());

    // Three screens, each opened by a clear and a prompt naming only its
    // custodian; a share's text appears only after that custodian's Enter,
    // and the screen is cleared before the next custodian's prompt.
    let mut shares = Vec::new();
    for i in 1..=3 {
        let prompt = format!("Share {i} of 3 of set");
        let at = screen
            .find(&prompt)
            .unwrap_or_else(|| panic!("{prompt}: {screen}"));
        assert!(
            screen[..at].ends_with(CLEAR),
            "screen {i} not cleared first"
        );
        let shown = &screen[at..];
        let body_start = shown
            .find(&format!("Press Enter to show share {i}."))
            .unwrap();
        let body = &shown[body_start..];
        let body = &body[body.find('\n').unwrap() + 1..];
        let body_end = body.find("\nCopy every line").unwrap();
        let text = body[..body_end]
            .trim_matches(|c| c == '\r' || c == '\n')
            .replace("\r\n", "\n");
        assert!(text.contains(&format!("share  {i} of 3 need 2")), "{text}");
        assert!(
            !screen[..at].contains(&text),
            "share {i} shown before its prompt"
        );
        let after = &body[body_end..];
        let next_clear = after.find(CLEAR).expect("cleared after the share");
        assert!(after[..next_clear].contains("Press Enter to clear the screen"));
        shares.push(text + "\n");
    }

    // Any two custodians' copies restore the key.
    let paths: Vec<_> = [0, 2]
        .iter()
        .map(|&i| {
            let p = s.join(format!("custodian-{}.share", i + 1));
            std::fs::write(&p, &shares[i]).unwrap();
            p
        })
        .collect();
    let run = fw.run([
        "--json",
        "key",
        "restore",
        "--share",
        paths[0].to_str().unwrap(),
        "--share",
        paths[1].to_str().unwrap(),
        "--blob",
        blob.to_str().unwrap(),
        "--out",
        s.join("restored.pem").to_str().unwrap(),
        "--unencrypted",
    ]);
    run.ok();
    assert_eq!(json(&run)["keyid"], keyid.as_str());
}

#[test]
fn print_refuses_a_pipe_and_a_terminal_closed_half_way_leaves_no_blob() {
    let s = Scratch::new("backup-print-refusals");
    let fw = Fwsign::new(s.path());
    let key = s.join("root.pem");
    fw.run([
        "key",
        "generate",
        "--unencrypted",
        "--out",
        key.to_str().unwrap(),
    ])
    .ok();
    let blob = s.join("root.backup.json");
    // Off a terminal (the test's pipes): shares never go to a pipe or a log.
    fw.run([
        "key",
        "backup",
        key.to_str().unwrap(),
        "--shares",
        "3",
        "--threshold",
        "2",
        "--print",
        "--blob-out",
        blob.to_str().unwrap(),
    ])
    .code(USAGE)
    .stderr_has("needs a terminal");
    assert!(!blob.exists());

    // The terminal closes after the first custodian: the set is incomplete,
    // so nothing of it is kept.
    let Some(python) = python() else { return };
    let out = Command::new(&python)
        .args(["-c", DRIVER])
        .arg(fwsign_bin())
        .arg(&key)
        .arg(&blob)
        .arg("2")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        !blob.exists(),
        "a blob without all its shares shown was kept"
    );
}
