//! The CI guide's release job (`docs/ci/release-job.sh`), run as the guide's
//! workflow runs it, against a local repository with a local upload step (a
//! directory copy; its `repo push` step to object storage is run against a
//! real S3 server in `repo_push.rs`).
//! What it pins: the job publishes and uploads what it published, keeps
//! the audit witness outside the repository and checks it on the next run
//! (which catches a log truncated after its last signed anchor), watches
//! root and targets expiry, and never runs twice at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_tests::{Run, fwsign_bin};

use crate::peers::workspace_root;
use crate::release_support::{Release, firmware};

/// Runs the job script on `r`'s repository with `extra` environment.
fn job(r: &Release, extra: &[(&str, &str)]) -> Run {
    let script = workspace_root().join("docs/ci/release-job.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .current_dir(r.scratch.path())
        .env("FWSIGN", fwsign_bin())
        .env("REPO", &r.dir)
        .env("ONLINE_KEY", r.key("online"))
        .env("AUDIT_HEAD_FILE", witness(r))
        .env("UPLOAD_DIR", r.scratch.join("upload"))
        .env("LOCK_TIMEOUT", "5")
        .env_remove("FWSIGN_PASSPHRASE");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    Run {
        args: vec![script.into()],
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Where the job keeps the audit head: outside the repository.
fn witness(r: &Release) -> PathBuf {
    r.scratch.join("witness/audit-head")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn release_job_publishes_uploads_keeps_the_audit_witness_and_catches_a_truncated_log() {
    let r = Release::new("release_job");
    r.first_release();

    // Run 1: nothing staged; the witness is taken and the release uploaded.
    let run = job(&r, &[]);
    run.ok()
        .stderr_has("first run")
        .stderr_has("nothing staged");
    let head = String::from_utf8(read(&witness(&r))).unwrap();
    assert!(head.trim().contains(':'), "witness {head:?}");
    let upload = r.scratch.join("upload");
    assert_eq!(
        read(&upload.join("metadata/timestamp.json")),
        read(&r.metadata("timestamp.json"))
    );
    assert!(upload.join("metadata/1.targets.json").is_file());

    // Run 2: a second release was approved meanwhile; the job checks the
    // kept head, publishes, uploads it and keeps the new head.
    let file = r.write_file("fw-1.1.0.bin", &firmware(50, 2000));
    r.add(&file, "board-a/fw-1.1.0.bin", "1.1.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    let run = job(&r, &[]);
    run.ok()
        .stderr_has(&format!("the head the last run kept ({})", head.trim()))
        .stderr_has("publish: published");
    assert!(upload.join("metadata/2.targets.json").is_file());
    assert_eq!(
        read(&upload.join("metadata/timestamp.json")),
        read(&r.metadata("timestamp.json"))
    );
    let head2 = String::from_utf8(read(&witness(&r))).unwrap();
    assert_ne!(head, head2, "the witness moved with the new release");

    // Waiting for approvals is not a failed job.
    let file = r.write_file("fw-1.2.0.bin", &firmware(51, 2000));
    r.add(&file, "board-a/fw-1.2.0.bin", "1.2.0", &[]).ok();
    r.sign("targets", "alice").ok();
    job(&r, &[]).ok().stderr_has("waiting for approvals");

    // The expiry watch: targets (90 days) within 100 days fails the job,
    // after the state and the witness were kept.
    job(&r, &[("EXPIRY_WATCH", "100d")])
        .code(1)
        .stderr_has("targets");

    // Another job holding the guard: this one gives up (exit 3) rather
    // than interleave with it.
    let guard = std::fs::File::create(r.scratch.join("repo.job.lock")).unwrap();
    guard.lock().unwrap();
    job(&r, &[("LOCK_TIMEOUT", "0")])
        .code(3)
        .stderr_has("another release job");
    guard.unlock().unwrap();

    // Someone with write access cuts the log's last lines (after the last
    // signed anchor: nothing inside the repository notices). The kept
    // witness does, and the job fails before signing anything.
    let log = r.dir.join("audit.log");
    let text = String::from_utf8(read(&log)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kept = lines[..lines.len() - 2].join("\n") + "\n";
    std::fs::write(&log, kept).unwrap();
    let before = read(&r.metadata("timestamp.json"));
    let run = job(&r, &[]);
    assert_eq!(run.code, Some(1), "{run}");
    run.stderr_has("audit FAILED").stderr_has("--expect-head");
    assert_eq!(read(&r.metadata("timestamp.json")), before);
}
