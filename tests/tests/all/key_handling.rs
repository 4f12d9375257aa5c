//! Key handling a security reviewer expects (issue 16): no private key is
//! written in the clear unless asked, no empty passphrase, a terminal
//! prompts twice without echo, a secret file others can read is refused
//! before it is read, a key is never overwritten, and a clock set earlier
//! than the build is not trusted for expiry.

use std::path::Path;
use std::process::Command;

use fwsign_tests::{Fwsign, SECURITY, Scratch, USAGE, fwsign_bin};

use crate::peers::python;
use crate::release_support::Release;

fn generate(fw: &Fwsign, out: &Path, extra: &[&str]) -> fwsign_tests::Run {
    let mut args = vec!["key", "generate", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    fw.run(args)
}

#[test]
fn off_a_terminal_a_key_is_not_written_in_the_clear_unless_asked() {
    let s = Scratch::new("key-default-encrypted");
    let fw = Fwsign::new(s.path());
    let out = s.join("alice.pem");
    // The old default (silently unencrypted) is gone: both ways out are named.
    generate(&fw, &out, &[])
        .code(USAGE)
        .stderr_has("--passphrase-env")
        .stderr_has("--unencrypted");
    assert!(!out.exists() && !s.join("alice.pub.pem").exists());

    generate(&fw, &out, &["--unencrypted"]).ok();
    let pem = std::fs::read_to_string(&out).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));

    let enc = s.join("bob.pem");
    fw.run_env(
        [
            "key",
            "generate",
            "--out",
            enc.to_str().unwrap(),
            "--passphrase-env",
            "BOB_PASS",
        ],
        &[("BOB_PASS", "correct horse")],
    )
    .ok();
    let pem = std::fs::read_to_string(&enc).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
}

#[test]
fn an_empty_passphrase_is_refused_and_nothing_is_written() {
    let s = Scratch::new("key-empty-passphrase");
    let fw = Fwsign::new(s.path());
    let out = s.join("alice.pem");
    fw.run_env(
        [
            "key",
            "generate",
            "--out",
            out.to_str().unwrap(),
            "--passphrase-env",
            "EMPTY",
        ],
        &[("EMPTY", "")],
    )
    .code(USAGE)
    .stderr_has("empty passphrase");
    assert!(!out.exists());
}

#[cfg(unix)]
#[test]
fn a_private_key_file_others_can_read_is_refused_with_the_chmod_that_fixes_it() {
    use std::os::unix::fs::PermissionsExt as _;

    let s = Scratch::new("key-exposed");
    let fw = Fwsign::new(s.path());
    let out = s.join("alice.pem");
    generate(&fw, &out, &["--unencrypted"]).ok();
    // The attack this stops: a key another account on the machine can copy.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    fw.run(["key", "show", out.to_str().unwrap()])
        .code(USAGE)
        .stderr_has("chmod 600");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    fw.run(["key", "show", out.to_str().unwrap()]).ok();
    // A public key file is not a secret: any mode is fine.
    let public = s.join("alice.pub.pem");
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
    fw.run(["key", "show", public.to_str().unwrap()]).ok();
}

#[test]
fn key_generate_never_replaces_an_existing_file() {
    let s = Scratch::new("key-no-overwrite");
    let fw = Fwsign::new(s.path());
    let out = s.join("alice.pem");
    std::fs::write(&out, b"someone's key").unwrap();
    generate(&fw, &out, &["--unencrypted"])
        .code(USAGE)
        .stderr_has("already exists");
    assert_eq!(std::fs::read(&out).unwrap(), b"someone's key");
    assert!(!s.join("alice.pub.pem").exists());
}

/// Drives `fwsign key generate` on a pseudo-terminal (Python's `pty`), as a
/// person at a keyboard would: two prompts, nothing echoed.
#[test]
fn on_a_terminal_the_passphrase_is_asked_twice_without_echo() {
    let Some(python) = python() else { return };
    let s = Scratch::new("key-prompt");
    let script = r#"
import os, pty, sys, termios, time
binary, out, first, second = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "key", "generate", "--out", out])
seen = b""
def read_until(marker):
    global seen
    while marker not in seen:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
def echo_off():
    # Type only once the terminal no longer echoes (as a person would see
    # the prompt, then type): a prompt that never turns echo off fails here.
    deadline = time.time() + 10
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        if time.time() > deadline:
            sys.stdout.write("echo was never turned off")
            sys.exit(99)
        time.sleep(0.01)
read_until(b"Passphrase for")
echo_off()
os.write(fd, first.encode() + b"\n")
read_until(b"Again")
echo_off()
os.write(fd, second.encode() + b"\n")
read_until(b"\x00never")
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let bin = fwsign_bin();
    let run = |out: &Path, first: &str, second: &str| {
        Command::new(&python)
            .args(["-c", script])
            .arg(&bin)
            .arg(out)
            .args([first, second])
            .output()
            .unwrap()
    };
    let out = s.join("alice.pem");
    let done = run(&out, "hunter2-but-longer", "hunter2-but-longer");
    let transcript = String::from_utf8_lossy(&done.stdout).into_owned();
    assert_eq!(done.status.code(), Some(0), "{transcript}");
    assert!(
        !transcript.contains("hunter2"),
        "the passphrase was echoed: {transcript}"
    );
    let pem = std::fs::read_to_string(&out).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));

    let other = s.join("bob.pem");
    let differ = run(&other, "one passphrase", "another one");
    assert_eq!(differ.status.code(), Some(USAGE));
    assert!(String::from_utf8_lossy(&differ.stdout).contains("differ"));
    assert!(!other.exists());
}

/// A machine whose clock fell back (a dead RTC battery reads 1970) would
/// check every expiry against the past and accept long-expired metadata.
/// `faketime` (libfaketime) moves the clock for the child process only.
#[test]
fn a_clock_earlier_than_the_build_is_refused_before_any_expiry_check() {
    let Some(faketime) = which("faketime") else {
        assert!(
            std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() != Ok("1"),
            "faketime is missing but FWSIGN_REQUIRE_PEERS=1: run scripts/test"
        );
        eprintln!("skipped: faketime not installed");
        return;
    };
    let s = Scratch::new("clock-back");
    let run = |args: &[&str]| {
        Command::new(&faketime)
            .arg("1970-01-02 00:00:00")
            .arg(fwsign_bin())
            .args(args)
            .current_dir(s.path())
            .output()
            .unwrap()
    };
    let repo = run(&["repo", "status", "repo"]);
    assert_eq!(repo.status.code(), Some(USAGE));
    assert!(String::from_utf8_lossy(&repo.stderr).contains("earlier than this fwsign build"));
    // The client, set up so that only the clock can stop it: a published
    // repository served over HTTP and a client trusting its root. Under the
    // fallen-back clock it refuses (the TUF client's contract: exit 1)
    // saying why; with the real clock the same command succeeds.
    let r = Release::new("clock-back-client");
    r.first_release();
    let server = r.serve();
    let state = r.workdir("state");
    let state = Release::arg(&state);
    r.fw.run([
        "client",
        "--metadata-dir",
        state,
        "init",
        Release::arg(&r.metadata("1.root.json")),
    ])
    .ok();
    let metadata_url = server.url("metadata/");
    let refresh = [
        "client",
        "--metadata-url",
        metadata_url.as_str(),
        "--metadata-dir",
        state,
        "refresh",
    ];
    let client = Command::new(&faketime)
        .arg("1970-01-02 00:00:00")
        .arg(fwsign_bin())
        .args(refresh)
        .current_dir(r.scratch.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&client.stderr);
    assert_eq!(client.status.code(), Some(SECURITY), "{stderr}");
    assert!(
        stderr.contains("earlier than this fwsign build"),
        "{stderr}"
    );
    r.fw.run(refresh).ok();
    // Printing documentation needs no clock.
    assert_eq!(run(&["completions", "bash"]).status.code(), Some(0));
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}
