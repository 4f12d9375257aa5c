//! The repository lock as a user meets it: a waiter that gives up names the
//! holder, readers share it, and a read-only copy is read without it.

use std::path::Path;
use std::time::{Duration, Instant};

use fwsign_repo::lock::{LockKind, RepoLock};
use fwsign_tests::{IO, Run};

use crate::release_support::json;

use super::Repo;

#[test]
fn a_waiter_that_cannot_get_the_lock_exits_3_naming_the_holder() {
    let repo = Repo::new("lock_timeout", &["a1"], 1);
    let (args, _) = repo.add_args("fw.bin", 1);
    {
        let _held = RepoLock::acquire(
            &repo.dir,
            LockKind::Exclusive,
            "repo publish",
            Duration::ZERO,
        )
        .unwrap();
        let pid = std::process::id().to_string();
        repo.fw
            .run(repo.command(&["--lock-timeout", "0"], "add", &args))
            .code(IO)
            .stderr_has("repo publish")
            .stderr_has(&pid);
        // Readers wait for a writer too; --json says why and who.
        let waited = Instant::now();
        let run = repo
            .fw
            .run(repo.command(&["--json", "--lock-timeout", "1"], "status", &[]));
        run.code(IO).stderr_has("repo publish");
        assert!(waited.elapsed() >= Duration::from_secs(1), "{run}");
        let doc = json(&run);
        assert_eq!(doc["reason"], "locked", "{run}");
        assert_eq!(doc["holder"]["command"], "repo publish", "{run}");
        assert_eq!(
            doc["holder"]["pid"].as_u64(),
            Some(u64::from(std::process::id()))
        );
        assert!(
            doc["holder"]["host"]
                .as_str()
                .is_some_and(|h| !h.is_empty())
        );
        assert!(doc["holder"]["since"].as_i64().is_some(), "{run}");
        // Nothing was staged by the waiter that gave up.
        assert!(repo.staged_target_files().is_empty());
    }
    // A reader holding the lock keeps writers out, not other readers.
    {
        let _reader =
            RepoLock::acquire(&repo.dir, LockKind::Shared, "repo status", Duration::ZERO).unwrap();
        repo.fw
            .run(repo.command(&["--lock-timeout", "0"], "status", &[]))
            .ok();
        repo.fw
            .run(repo.command(&["--lock-timeout", "0"], "add", &args))
            .code(IO);
    }
    repo.run("add", &args).ok();
    repo.report("a_waiter_that_cannot_get_the_lock_exits_3_naming_the_holder");
}

#[cfg(unix)]
#[test]
fn a_read_only_copy_is_read_without_the_lock_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let mut repo = Repo::new("read_only_copy", &["a1"], 1);
    let bytes = repo.add("fw.bin", 4);
    repo.sign("targets", "a1").ok();
    repo.publish().ok();
    repo.released("fw.bin", bytes);
    std::fs::remove_file(repo.dir.join(".fwsign.lock")).unwrap();
    let mode = |m: u32| {
        std::fs::set_permissions(&repo.dir, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(0o555);
    // Permissions do not stop root: then run as nobody (setpriv), or skip.
    let probe = repo.dir.join("probe");
    let as_root = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let setpriv = Path::new("/usr/bin/setpriv");
    if as_root && !setpriv.exists() {
        mode(0o755);
        eprintln!("skipped: running as root without setpriv to drop privileges");
        return;
    }
    let run = |sub: &str, args: &[String]| -> Run {
        let mut cmd = if as_root {
            let mut c = std::process::Command::new(setpriv);
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(fwsign_tests::fwsign_bin());
            c
        } else {
            std::process::Command::new(fwsign_tests::fwsign_bin())
        };
        let args = repo.command(&[], sub, args);
        let output = cmd
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        Run {
            args,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    };
    let status = run("status", &[]);
    let audit = run("audit", &[]);
    let add = run("add", &repo.add_args("x.bin", 5).0);
    mode(0o755);
    status.ok().stderr_has("without the lock");
    audit.ok().stderr_has("without the lock");
    add.code(IO);
    assert!(!repo.dir.join(".fwsign.lock").exists());
}
