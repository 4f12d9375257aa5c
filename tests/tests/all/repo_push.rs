//! `fwsign repo push` against a real S3 server on 127.0.0.1
//! ([`S3Server`]: s3s over s3s-fs, SigV4 checked): what goes up and in which
//! order, the next release's push, a copy that is behind the bucket, an
//! object with other content, and python-tuf's ngclient and `fwsign client`
//! reading the bucket over plain HTTP as a CDN would serve it.

use std::path::Path;
use std::process::Command;

use fwsign_push::s3::{Destination, S3Config, S3Store};
use fwsign_push::store::{Condition, ObjectStore, WriteOptions};
use fwsign_tests::Run;
use serde_json::Value;

use crate::peers;
use crate::release_support::{FW_NAME, Release, firmware, json};
use crate::s3_server::{BUCKET, S3Server};

const SECURITY: i32 = 1;
const PREFIX: &str = "evc/";

/// `fwsign --json repo push DIR s3://BUCKET/evc --endpoint ... EXTRA`.
pub(crate) fn push(r: &Release, dir: &Path, server: &S3Server, extra: &[&str]) -> Run {
    let destination = format!("s3://{BUCKET}/{PREFIX}");
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec![
        "--json",
        "repo",
        "push",
        Release::arg(dir),
        &destination,
        "--endpoint",
        &server.endpoint,
    ];
    args.extend_from_slice(extra);
    r.fw.run_env(args, &env)
}

/// The store as the push library sees it, for reading object metadata.
pub(crate) fn store(server: &S3Server) -> S3Store {
    let config = S3Config {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".to_owned(),
        access_key_id: crate::s3_server::ACCESS_KEY.to_owned(),
        secret_access_key: crate::s3_server::SECRET_KEY.to_owned(),
        session_token: None,
    };
    let destination = Destination::parse(&format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    S3Store::new(&config, &destination).unwrap()
}

fn uploaded(doc: &Value) -> Vec<String> {
    doc["uploaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// Every key under `metadata/` and `targets/` of a published file that a
/// client may fetch: what `repo verify --print-files` lists.
fn publishable_files(r: &Release) -> Vec<String> {
    let run =
        r.fw.run(["repo", "verify", Release::arg(&r.dir), "--print-files"]);
    run.ok();
    run.stdout
        .lines()
        .filter(|l| l.starts_with("metadata/") || l.starts_with("targets/"))
        .map(str::to_owned)
        .collect()
}

/// python-tuf's ngclient fetches `names` from the bucket's public URL.
fn python_fetches(r: &Release, server: &S3Server, work: &str, expected: &[(&str, &[u8])]) {
    let Some(python) = peers::python() else {
        return;
    };
    let dir = r.workdir(work);
    let script = peers::workspace_root().join("tests/tools/verify_repo.py");
    let output = Command::new(python)
        .arg(script)
        .arg(server.public_url(&format!("{PREFIX}metadata/")))
        .arg(server.public_url(&format!("{PREFIX}targets/")))
        .arg(r.metadata("1.root.json"))
        .args(expected.iter().map(|(n, _)| *n))
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python-tuf refused the bucket:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Vec<Vec<u8>> = stdout
        .lines()
        .map(|l| std::fs::read(l.split_once(" -> ").unwrap().1).unwrap())
        .collect();
    assert_eq!(got.len(), expected.len(), "{stdout}");
    for ((name, bytes), got) in expected.iter().zip(&got) {
        assert!(got == bytes, "python-tuf downloaded other bytes for {name}");
    }
}

/// `fwsign client` downloads `name` from the bucket's public URL.
fn fwsign_client_fetches(r: &Release, server: &S3Server, work: &str, name: &str) -> Vec<u8> {
    let dir = r.workdir(work);
    let state = dir.join("state");
    let out = dir.join("out");
    let metadata_url = server.public_url(&format!("{PREFIX}metadata/"));
    r.fw.run([
        "client",
        "--metadata-url",
        &metadata_url,
        "--metadata-dir",
        Release::arg(&state),
        "init",
        Release::arg(&r.metadata("1.root.json")),
    ])
    .ok();
    r.fw.run([
        "client",
        "--metadata-url",
        &metadata_url,
        "--metadata-dir",
        Release::arg(&state),
        "--target-name",
        name,
        "--target-dir",
        Release::arg(&out),
        "--target-base-url",
        &server.public_url(&format!("{PREFIX}targets/")),
        "download",
        "--hardware-id",
        "evc-a1",
    ])
    .ok();
    std::fs::read(out.join(name.replace('/', "%2F"))).unwrap()
}

#[test]
fn push_uploads_only_published_files_targets_first_timestamp_last_and_peers_read_the_bucket() {
    let r = Release::new("push_first");
    let bytes = r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));

    let run = push(&r, &r.dir, &server, &[]);
    run.ok();
    let doc = json(&run);
    let keys = uploaded(&doc);
    // Exactly the files a client may fetch: never staged/, audit.log, the
    // lock file or temporaries.
    let mut expected: Vec<String> = publishable_files(&r)
        .iter()
        .map(|f| format!("{PREFIX}{f}"))
        .collect();
    expected.sort();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "{run}");
    // Targets, then versioned metadata, then timestamp.json last.
    let last_target = keys.iter().rposition(|k| k.contains("/targets/")).unwrap();
    let first_metadata = keys.iter().position(|k| k.contains("/metadata/")).unwrap();
    assert!(last_target < first_metadata, "{keys:?}");
    assert_eq!(
        keys.last().unwrap(),
        &format!("{PREFIX}metadata/timestamp.json")
    );
    assert_eq!(doc["conditional_writes_checked"], true);
    assert_eq!(doc["bucket_timestamp_version"], Value::Null);
    assert_eq!(doc["read_back"]["timestamp_version"], r.timestamp_version());
    assert_eq!(doc["read_back"]["targets_checked"], 1);

    // The bucket holds the local files byte for byte, and nothing else
    // (the conditional-write probe is gone).
    let objects = server.objects();
    assert_eq!(objects.len(), expected.len(), "{objects:?}");
    for (key, content) in &objects {
        let local = r.dir.join(key.strip_prefix(PREFIX).unwrap());
        assert!(std::fs::read(&local).unwrap() == *content, "{key}");
    }

    // Cache-Control: versioned and hash-named files immutable, the
    // timestamp short-lived; every target carries its SHA-256.
    let mut s3 = store(&server);
    let timestamp = s3
        .head(&format!("{PREFIX}metadata/timestamp.json"))
        .unwrap()
        .unwrap();
    assert_eq!(
        timestamp.cache_control.as_deref(),
        Some(fwsign_push::DEFAULT_TIMESTAMP_CACHE_CONTROL)
    );
    for key in keys.iter().filter(|k| !k.ends_with("timestamp.json")) {
        let head = s3.head(key).unwrap().unwrap();
        assert_eq!(
            head.cache_control.as_deref(),
            Some(fwsign_push::IMMUTABLE_CACHE_CONTROL),
            "{key}"
        );
        if key.contains("/targets/") {
            assert_eq!(head.sha256.as_deref().map(str::len), Some(64), "{key}");
        }
    }

    // The peers read the bucket as a CDN serves it: anonymous HTTP.
    python_fetches(&r, &server, "python", &[(FW_NAME, &bytes)]);
    assert!(fwsign_client_fetches(&r, &server, "fwsign", FW_NAME) == bytes);
}

/// Stages `name` from fresh bytes, has alice and bob approve, publishes.
fn next_release(r: &Release, file: &str, name: &str, seed: u8) -> Vec<u8> {
    let bytes = firmware(seed, 7000);
    let path = r.write_file(file, &bytes);
    r.add(&path, name, "1.1.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.publish().ok();
    bytes
}

#[test]
fn the_next_release_uploads_only_its_new_files_and_a_repeated_push_nothing() {
    let r = Release::new("push_next");
    let first = r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    push(&r, &r.dir, &server, &[]).ok();

    let name = "board-a/fw-1.1.0.bin";
    let second = next_release(&r, "fw-1.1.0.bin", name, 2);
    let run = push(&r, &r.dir, &server, &[]);
    run.ok();
    let doc = json(&run);
    let keys = uploaded(&doc);
    let new_targets: Vec<&String> = keys.iter().filter(|k| k.contains("/targets/")).collect();
    assert!(!new_targets.is_empty());
    assert!(
        new_targets.iter().all(|k| k.contains("fw-1.1.0.bin")),
        "only the new image goes up: {keys:?}"
    );
    let metadata: Vec<&str> = keys
        .iter()
        .filter(|k| k.contains("/metadata/"))
        .map(|k| k.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        metadata,
        ["2.targets.json", "2.snapshot.json", "timestamp.json"],
        "{run}"
    );
    assert_eq!(doc["conditional_writes_checked"], false);
    assert_eq!(doc["bucket_timestamp_version"], 1);
    // Already there: the first image (under both names clients fetch it
    // by) and 1.root.json.
    assert_eq!(doc["skipped"], 3, "{run}");

    python_fetches(&r, &server, "python", &[(FW_NAME, &first), (name, &second)]);
    assert!(fwsign_client_fetches(&r, &server, "fwsign", name) == second);

    // The same release again: already live, nothing written.
    let before = server.objects();
    let run = push(&r, &r.dir, &server, &[]);
    run.ok();
    assert!(uploaded(&json(&run)).is_empty(), "{run}");
    assert_eq!(server.objects(), before);
}

#[test]
fn a_copy_behind_the_bucket_is_refused_before_anything_is_uploaded() {
    // The attack: a stale checkout (or a replayed CI job) pushing an older
    // release over the bucket, rolling every charger's view back.
    let r = Release::new("push_behind");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    push(&r, &r.dir, &server, &[]).ok();
    let behind = r.scratch.join("repo-behind");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&r.dir)
        .arg(&behind)
        .status()
        .unwrap();
    assert!(status.success());
    next_release(&r, "fw-1.1.0.bin", "board-a/fw-1.1.0.bin", 2);
    push(&r, &r.dir, &server, &[]).ok();

    // The stale copy now has something the bucket lacks (its own second
    // release), so only the timestamp check can stop it.
    next_release_in(&r, &behind);
    let before = server.objects();
    for extra in [&[][..], &["--dry-run"][..]] {
        let run = push(&r, &behind, &server, extra);
        run.code(SECURITY).stderr_has("not older than");
        let doc = json(&run);
        assert_eq!(doc["reason"], "bucket-not-behind", "{run}");
        assert_eq!(doc["bucket_version"], 2);
        assert_eq!(server.objects(), before, "nothing was uploaded");
    }
}

/// A second release in the copy at `dir` (a different image).
fn next_release_in(r: &Release, dir: &Path) {
    let path = r.write_file("other.bin", &firmware(9, 3000));
    let repo = |sub: &str, args: &[&str]| {
        let mut all = vec!["repo", sub, Release::arg(dir)];
        all.extend_from_slice(args);
        r.fw.run(all)
    };
    repo(
        "add",
        &[
            Release::arg(&path),
            "--name",
            "board-a/other.bin",
            "--hardware-id",
            "evc-a1",
            "--version",
            "1.1.0",
            "--security-counter",
            "1",
        ],
    )
    .ok();
    for key in ["alice", "bob"] {
        repo(
            "sign",
            &["--role", "targets", "--key", Release::arg(&r.key(key))],
        )
        .ok();
    }
    let online = r.key("online");
    repo(
        "publish",
        &[
            "--snapshot-key",
            Release::arg(&online),
            "--timestamp-key",
            Release::arg(&online),
        ],
    )
    .ok();
}

#[test]
fn another_repositorys_bucket_is_refused() {
    // The attack: pushing over a bucket that serves another repository
    // (wrong prefix in a CI job), replacing its timestamp.
    let ours = Release::new("push_foreign_ours");
    ours.first_release();
    let theirs = Release::new("push_foreign_theirs");
    theirs.first_release();
    next_release(&theirs, "fw-1.1.0.bin", "board-a/fw-1.1.0.bin", 3);
    let server = S3Server::start(&ours.scratch.join("s3"));
    push(&ours, &ours.dir, &server, &[]).ok();
    let before = server.objects();
    let run = push(&theirs, &theirs.dir, &server, &[]);
    run.code(SECURITY).stderr_has("never published");
    assert_eq!(json(&run)["reason"], "foreign-snapshot");
    assert_eq!(server.objects(), before);
}

#[test]
fn an_object_with_other_content_is_refused_by_name_and_never_overwritten() {
    let r = Release::new("push_conflict");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    let key = format!("{PREFIX}metadata/1.targets.json");
    let planted = b"{\"not\": \"ours\"}".to_vec();
    let options = WriteOptions {
        cache_control: "no-store".to_owned(),
        sha256: "0".repeat(64),
        condition: Condition::Absent,
    };
    store(&server).put(&key, &planted, &options).unwrap();
    let before = server.objects();

    let run = push(&r, &r.dir, &server, &[]);
    run.code(SECURITY).stderr_has(&key);
    let doc = json(&run);
    assert_eq!(doc["reason"], "object-conflict");
    assert_eq!(doc["conflicts"][0]["key"], key.as_str());
    assert_eq!(
        server.objects(),
        before,
        "nothing uploaded, nothing overwritten"
    );
    assert!(std::fs::read(server.object_file(&key)).unwrap() == planted);
}

#[test]
fn dry_run_lists_the_upload_and_writes_nothing() {
    let r = Release::new("push_dry_run");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    let run = push(&r, &r.dir, &server, &["--dry-run"]);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(uploaded(&doc).len(), publishable_files(&r).len(), "{run}");
    assert!(server.objects().is_empty());
}

#[test]
fn verify_url_reads_the_push_back_over_plain_http() {
    let r = Release::new("push_verify_url");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    let url = server.public_url("evc");
    let run = push(&r, &r.dir, &server, &["--verify-url", &url]);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["read_back"]["from"], url.as_str());
    assert_eq!(doc["read_back"]["targets_checked"], 1);
}

#[test]
fn push_without_credentials_or_to_a_bad_destination_is_a_usage_error() {
    let r = Release::new("push_usage");
    r.first_release();
    let run = r.fw.run_env(
        ["repo", "push", Release::arg(&r.dir), "s3://fw-updates/evc"],
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    run.code(2).stderr_has("AWS_ACCESS_KEY_ID");
    let run = r.fw.run([
        "repo",
        "push",
        Release::arg(&r.dir),
        "https://fw-updates/evc",
    ]);
    run.code(2).stderr_has("s3://BUCKET/PREFIX");
}

#[test]
fn the_ci_release_job_uploads_with_repo_push() {
    let r = Release::new("push_ci_job");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    let script = peers::workspace_root().join("docs/ci/release-job.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .current_dir(r.scratch.path())
        .env("FWSIGN", fwsign_tests::fwsign_bin())
        .env("REPO", &r.dir)
        .env("ONLINE_KEY", r.key("online"))
        .env("AUDIT_HEAD_FILE", r.scratch.join("witness/audit-head"))
        .env("UPLOAD_S3", format!("s3://{BUCKET}/{PREFIX}"))
        .env("S3_ENDPOINT", &server.endpoint)
        .env("VERIFY_URL", server.public_url("evc"))
        .env("LOCK_TIMEOUT", "5")
        .env_remove("UPLOAD_DIR")
        .env_remove("FWSIGN_PASSPHRASE");
    for (k, v) in server.env() {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("upload: pushed to"), "{stderr}");
    let key = format!("{PREFIX}metadata/timestamp.json");
    assert!(
        std::fs::read(server.object_file(&key)).unwrap()
            == std::fs::read(r.metadata("timestamp.json")).unwrap()
    );
}
