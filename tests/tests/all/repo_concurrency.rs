//! Commands racing on one repository, and commands killed half-way: real
//! `fwsign` processes started at the same moment, round after round, on
//! small repositories with Ed25519 keys (unencrypted, so each run is quick).
//!
//! Each test is named after the failure it stops. After every round the
//! repository is read as a client reads it (the library's TUF client over
//! the directory), by a client that keeps its state from round to round (so
//! a reverted release is a rollback it refuses) and by a fresh one.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use fwsign_client::{Client, ClientConfig, FetchError, Fetcher};
use fwsign_core::key_types::BUILTIN;
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_repo::lock::{LockKind, RepoLock};
use fwsign_tests::{Fwsign, IO, OK, Run, SECURITY, Scratch, tree};
use serde_json::Value;

use crate::release_support::{firmware, json};

/// The online key's file name (snapshot and timestamp).
const ONLINE: &str = "online";

/// One test's keys and repository, driven through the `fwsign` binary.
struct Repo {
    scratch: Scratch,
    fw: Fwsign,
    dir: PathBuf,
    /// Every target published so far, with its bytes.
    released: BTreeMap<String, Vec<u8>>,
    /// A client that keeps its state across rounds.
    client_state: PathBuf,
    started: Instant,
}

impl Repo {
    /// Keys `root`, `online` and `approvers` (all Ed25519), and a repository
    /// whose root is 1 of `root`, targets `threshold` of the approvers.
    fn new(test: &str, approvers: &[&str], threshold: usize) -> Self {
        let started = Instant::now();
        let scratch = Scratch::new(test);
        for sub in ["keys", "files", "clients"] {
            std::fs::create_dir_all(scratch.join(sub)).unwrap();
        }
        let fw = Fwsign::new(scratch.path());
        let dir = scratch.join("repo");
        let repo = Self {
            client_state: scratch.join("clients/kept"),
            scratch,
            fw,
            dir,
            released: BTreeMap::new(),
            started,
        };
        let names: Vec<&str> = ["root", ONLINE].iter().chain(approvers).copied().collect();
        repo.parallel(names.len(), |i| {
            let out = repo.key(names[i]);
            repo.fw.run([
                "key".into(),
                "generate".into(),
                "--algorithm".into(),
                "ed25519".into(),
                "--out".into(),
                OsString::from(out),
            ])
        })
        .iter()
        .for_each(|r| {
            r.ok();
        });
        let mut args: Vec<String> = vec![
            "--root-key".into(),
            repo.public("root"),
            "--root-threshold".into(),
            "1".into(),
        ];
        for a in approvers {
            args.push("--targets-key".into());
            args.push(repo.public(a));
        }
        args.push("--targets-threshold".into());
        args.push(threshold.to_string());
        for role in ["--snapshot-key", "--timestamp-key"] {
            args.push(role.into());
            args.push(repo.public(ONLINE));
        }
        repo.run("init", &args).ok();
        repo.sign("root", "root").ok();
        repo
    }

    fn key(&self, name: &str) -> String {
        self.scratch
            .join(format!("keys/{name}.pem"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn public(&self, name: &str) -> String {
        self.scratch
            .join(format!("keys/{name}.pub.pem"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// `fwsign [GLOBAL...] repo SUB DIR ARGS...`, with extra environment.
    fn command(&self, global: &[&str], sub: &str, args: &[String]) -> Vec<OsString> {
        let mut all: Vec<OsString> = global.iter().map(OsString::from).collect();
        all.extend(["repo".into(), sub.into(), self.dir.clone().into()]);
        all.extend(args.iter().map(OsString::from));
        all
    }

    fn run(&self, sub: &str, args: &[String]) -> Run {
        self.fw.run(self.command(&[], sub, args))
    }

    fn sign_args(&self, role: &str, key: &str) -> Vec<String> {
        vec!["--role".into(), role.into(), "--key".into(), self.key(key)]
    }

    fn sign(&self, role: &str, key: &str) -> Run {
        self.run("sign", &self.sign_args(role, key))
    }

    /// Stages `files/NAME` (new bytes, returned) as target `NAME`.
    fn add_args(&self, name: &str, seed: u8) -> (Vec<String>, Vec<u8>) {
        let bytes = firmware(seed, 2000 + usize::from(seed) * 7);
        let file = self.scratch.join("files").join(name.replace('/', "_"));
        std::fs::write(&file, &bytes).unwrap();
        let args = vec![
            file.to_str().unwrap().to_owned(),
            "--name".into(),
            name.into(),
            "--hardware-id".into(),
            "evc-a1".into(),
            "--version".into(),
            "1.0.0".into(),
            "--security-counter".into(),
            "1".into(),
        ];
        (args, bytes)
    }

    fn add(&self, name: &str, seed: u8) -> Vec<u8> {
        let (args, bytes) = self.add_args(name, seed);
        self.run("add", &args).ok();
        bytes
    }

    fn online_args(&self) -> Vec<String> {
        vec![
            "--snapshot-key".into(),
            self.key(ONLINE),
            "--timestamp-key".into(),
            self.key(ONLINE),
        ]
    }

    fn publish(&self) -> Run {
        self.run("publish", &self.online_args())
    }

    fn publish_crashing_at(&self, step: &str) -> Run {
        self.fw.run_env(
            self.command(&[], "publish", &self.online_args()),
            &[("FWSIGN_TEST_CRASH_AT", step)],
        )
    }

    /// Runs `n` jobs at the same moment, one thread (and process) each.
    fn parallel(&self, n: usize, job: impl Fn(usize) -> Run + Sync) -> Vec<Run> {
        let barrier = Barrier::new(n);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let (barrier, job) = (&barrier, &job);
                    s.spawn(move || {
                        barrier.wait();
                        job(i)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn metadata(&self, name: &str) -> Value {
        let path = self.dir.join("metadata").join(name);
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn staged(&self, role: &str) -> Value {
        let path = self.dir.join("staged").join(format!("{role}.json"));
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    /// The targets version the newest snapshot (the timestamp's) lists.
    fn published_targets_version(&self) -> u64 {
        let ts = self.metadata("timestamp.json");
        let snapshot = ts["signed"]["meta"]["snapshot.json"]["version"]
            .as_u64()
            .unwrap();
        self.metadata(&format!("{snapshot}.snapshot.json"))["signed"]["meta"]["targets.json"]
            ["version"]
            .as_u64()
            .unwrap()
    }

    /// Files under the repository with fwsign's temporary names.
    fn temporaries(&self) -> Vec<PathBuf> {
        tree(&self.dir)
            .unwrap()
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(fwsign_keys::atomic_write::is_temp_name)
            })
            .collect()
    }

    /// Files left in `staged/targets/` (per role or legacy).
    fn staged_target_files(&self) -> Vec<PathBuf> {
        tree(&self.dir.join("staged/targets"))
            .unwrap()
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// Records `name` as released, then checks that both the kept client
    /// and a fresh one verify the repository and download every released
    /// target with its bytes.
    fn released(&mut self, name: &str, bytes: Vec<u8>) {
        self.released.insert(name.to_owned(), bytes);
        self.clients_verify();
    }

    /// Both clients verify the repository and every released target.
    fn clients_verify(&self) {
        let fresh = self.scratch.join(format!(
            "clients/fresh-{}",
            self.started.elapsed().as_nanos()
        ));
        for state in [&self.client_state, &fresh] {
            if let Err(e) = verify_as_client(&self.dir, state, &self.released) {
                panic!(
                    "a client refuses the repository ({}): {e}\nmetadata: {:?}",
                    state.display(),
                    tree(&self.dir.join("metadata"))
                        .unwrap()
                        .iter()
                        .map(|(p, _)| p)
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    /// Stages, approves (with `a1`) and publishes a first release.
    fn first_release(&mut self) {
        let bytes = self.add("board-a/fw-first.bin", 200);
        self.sign("targets", "a1").ok();
        self.publish().ok();
        self.released("board-a/fw-first.bin", bytes);
    }

    fn report(&self, test: &str) {
        eprintln!("{test}: {:.2?}", self.started.elapsed());
    }
}

/// Fetches `dir:PATH` URLs from the local file system (403/404 as `None`).
struct DirFetcher;

impl Fetcher for DirFetcher {
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let path = url
            .strip_prefix("dir:")
            .ok_or_else(|| FetchError::Transport(format!("not a dir: URL: {url}")))?;
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() as u64 > max_len => Err(FetchError::TooLong(max_len)),
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FetchError::Transport(e.to_string())),
        }
    }
}

/// The library's TUF client over repository `dir` (state in `state`,
/// trusting `1.root.json` when new): refresh, then download every target
/// in `expected` and compare its bytes.
fn verify_as_client(
    dir: &Path,
    state: &Path,
    expected: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    if !state.join("root.json").exists() {
        let root = std::fs::read(dir.join("metadata/1.root.json")).map_err(|e| e.to_string())?;
        fwsign_client::init(state, &root).map_err(|e| e.to_string())?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let config = ClientConfig {
        metadata_dir: state.to_path_buf(),
        metadata_url: format!("dir:{}/metadata/", dir.display()),
        now: UnixTime(i64::try_from(now).unwrap()),
    };
    let mut client = Client::new(config, DirFetcher, BUILTIN).map_err(|e| e.to_string())?;
    client.refresh().map_err(|e| e.to_string())?;
    let downloads = state.join("downloads");
    for (name, bytes) in expected {
        let info = client
            .find_target(name)
            .map_err(|e| format!("{name}: {e}"))?;
        let path = client
            .download(
                &info,
                &downloads,
                &format!("dir:{}/targets/", dir.display()),
            )
            .map_err(|e| format!("{name}: {e}"))?;
        if std::fs::read(&path).map_err(|e| e.to_string())? != *bytes {
            return Err(format!("{name}: other bytes downloaded"));
        }
    }
    Ok(())
}

/// How many approvals `repo status --json` reports for staged `role`.
fn valid_approvals(repo: &Repo, role: &str) -> u64 {
    let run = repo.fw.run(repo.command(&["--json"], "status", &[]));
    run.ok();
    let status = json(&run);
    let staged = status["staged"].as_array().unwrap();
    let entry = staged
        .iter()
        .find(|r| r["role"] == role)
        .unwrap_or_else(|| panic!("{role} is not staged:\n{run}"));
    entry["thresholds"][0]["valid"].as_u64().unwrap()
}

const APPROVERS: [&str; 5] = ["a1", "a2", "a3", "a4", "a5"];

#[test]
fn five_approvers_signing_at_once_lose_no_approval() {
    let mut repo = Repo::new("concurrent_signers", &APPROVERS, 5);
    for round in 0..3u8 {
        let name = format!("board-a/fw-{round}.bin");
        let bytes = repo.add(&name, round);
        let runs = repo.parallel(APPROVERS.len(), |i| repo.sign("targets", APPROVERS[i]));
        for run in &runs {
            run.ok();
        }
        assert_eq!(
            valid_approvals(&repo, "targets"),
            5,
            "round {round}: approvals were lost; staged targets: {}",
            repo.staged("targets")["signatures"]
        );
        repo.publish().ok();
        repo.released(&name, bytes);
    }
    repo.report("five_approvers_signing_at_once_lose_no_approval");
}

#[test]
fn parallel_adds_of_different_files_lose_no_target_and_leave_no_orphan() {
    let mut repo = Repo::new("concurrent_adds", &["a1"], 1);
    const AT_ONCE: usize = 3;
    for round in 0..3u8 {
        let staged: Vec<(String, Vec<String>, Vec<u8>)> = (0..AT_ONCE)
            .map(|i| {
                let name = format!("board-{i}/fw-{round}.bin");
                let seed = round * 10 + u8::try_from(i).unwrap();
                let (args, bytes) = repo.add_args(&name, seed);
                (name, args, bytes)
            })
            .collect();
        let runs = repo.parallel(AT_ONCE, |i| repo.run("add", &staged[i].1));
        for run in &runs {
            run.ok();
        }
        let listed = repo.staged("targets")["signed"]["targets"].clone();
        for (name, _, _) in &staged {
            assert!(
                listed.get(name).is_some(),
                "round {round}: {name} was lost; staged targets list {listed}"
            );
        }
        // Exactly the listed files are staged: nothing orphaned, nothing
        // temporary.
        let mut files = repo.staged_target_files();
        files.sort();
        let mut expected: Vec<PathBuf> = staged
            .iter()
            .map(|(n, _, _)| Path::new("targets").join(n))
            .collect();
        expected.sort();
        assert_eq!(files, expected, "round {round}");
        assert_eq!(repo.temporaries(), Vec::<PathBuf>::new());
        repo.sign("targets", "a1").ok();
        repo.publish().ok();
        assert!(repo.staged_target_files().is_empty());
        for (name, _, bytes) in staged {
            repo.released.insert(name, bytes);
        }
        repo.clients_verify();
    }
    repo.report("parallel_adds_of_different_files_lose_no_target_and_leave_no_orphan");
}

#[test]
fn refresh_racing_publish_never_reverts_a_release() {
    let mut repo = Repo::new("publish_vs_refresh", &["a1"], 1);
    repo.first_release();
    let refresh: Vec<String> = repo
        .online_args()
        .into_iter()
        .chain(["--within".into(), "3650d".into()])
        .collect();
    for round in 0..6u8 {
        let name = format!("board-a/fw-{round}.bin");
        let bytes = repo.add(&name, round);
        repo.sign("targets", "a1").ok();
        let version = repo.staged("targets")["signed"]["version"]
            .as_u64()
            .unwrap();
        let runs = repo.parallel(2, |i| match i {
            0 => repo.publish(),
            _ => repo.run("refresh", &refresh),
        });
        runs[0].ok();
        runs[1].ok();
        assert_eq!(
            repo.published_targets_version(),
            version,
            "round {round}: the newest snapshot does not list the release just published"
        );
        repo.released(&name, bytes);
    }
    repo.report("refresh_racing_publish_never_reverts_a_release");
}

#[test]
fn publish_racing_rotate_root_never_leaves_an_unsigned_root() {
    let mut repo = Repo::new("publish_vs_rotate_root", &["a1"], 1);
    repo.first_release();
    let rotate = |days: u32| vec!["--expires".to_owned(), format!("{days}d")];
    for round in 0..6u8 {
        // A release with a new root, fully approved...
        let name = format!("board-a/fw-{round}.bin");
        let bytes = repo.add(&name, round);
        repo.sign("targets", "a1").ok();
        repo.run("rotate-root", &rotate(400)).ok();
        repo.sign("root", "root").ok();
        // ...published while another rotate-root edits the staged root
        // (which drops its approval).
        let runs = repo.parallel(2, |i| match i {
            0 => repo.publish(),
            _ => repo.run("rotate-root", &rotate(500)),
        });
        // Publish went first (exit 0), or found the staged root changed and
        // unsigned (exit 1): never anything else.
        assert!(
            runs[0].code == Some(OK) || runs[0].code == Some(SECURITY),
            "{}",
            runs[0]
        );
        runs[1].ok();
        // Every root on disk verifies, as clients walk them.
        repo.clients_verify();
        repo.sign("root", "root").ok();
        repo.publish().ok();
        repo.released(&name, bytes);
    }
    repo.report("publish_racing_rotate_root_never_leaves_an_unsigned_root");
}

#[test]
fn two_inits_at_once_make_one_repository() {
    let repo = Repo::new("concurrent_inits", &["a1"], 1);
    let other = repo.scratch.join("other");
    let args: Vec<OsString> = [
        "repo",
        "init",
        other.to_str().unwrap(),
        "--root-key",
        &repo.public("root"),
        "--root-threshold",
        "1",
        "--targets-key",
        &repo.public("a1"),
        "--targets-threshold",
        "1",
        "--snapshot-key",
        &repo.public(ONLINE),
        "--timestamp-key",
        &repo.public(ONLINE),
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let runs = repo.parallel(2, |_| repo.fw.run(&args));
    let mut codes: Vec<Option<i32>> = runs.iter().map(|r| r.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        [Some(OK), Some(fwsign_tests::USAGE)],
        "{}\n{}",
        runs[0],
        runs[1]
    );
    assert!(
        runs.iter()
            .any(|r| r.stderr.contains("already holds a repository"))
    );
    let log = std::fs::read_to_string(other.join("audit.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    // A refused init leaves no directory it made only to lock.
    let refused = repo.scratch.join("refused");
    let mut bad = args.clone();
    bad[2] = refused.clone().into();
    bad[6] = "2".into();
    repo.fw.run(&bad).code(fwsign_tests::USAGE);
    assert!(!refused.exists());
    repo.report("two_inits_at_once_make_one_repository");
}

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

/// Kills `publish` at `step` with a new release staged, then checks what is
/// left and that the next publish cleans up and completes.
fn publish_killed_at(repo: &mut Repo, step: &str, round: u8) {
    let name = format!("board-a/fw-{round}.bin");
    let bytes = repo.add(&name, round);
    repo.sign("targets", "a1").ok();
    let before_ts = repo.metadata("timestamp.json");
    repo.publish_crashing_at(step).killed();
    let live = step == "timestamp-written";
    if !live {
        assert_eq!(
            repo.metadata("timestamp.json"),
            before_ts,
            "timestamp.json changed in a publish killed at {step}"
        );
    }
    if step == "target-copied" {
        assert!(
            !repo.temporaries().is_empty(),
            "a publish killed while copying left no temporary file: the step is not exercised"
        );
    }
    // Clients see the old release whole (or the new one, once live).
    repo.clients_verify();
    let orphans = tree(&repo.dir.join("metadata")).unwrap();
    if step == "metadata-written" {
        // Another approval after the kill: the staged role's bytes now
        // differ from the file the killed publish wrote at its version.
        repo.sign("targets", "a2").ok();
    }

    // The next command holding the lock cleans up; the publish completes
    // (or, when the release was already live, has nothing left to do).
    let run = repo
        .fw
        .run(repo.command(&["--json"], "publish", &repo.online_args()));
    run.ok();
    assert_eq!(
        repo.temporaries(),
        Vec::<PathBuf>::new(),
        "after a publish killed at {step}"
    );
    assert_eq!(json(&run)["published"].is_object(), !live, "{run}");
    if live {
        assert_eq!(json(&run)["published"], false, "{run}");
    }
    assert!(
        repo.staged_target_files().is_empty(),
        "staged files left after a publish killed at {step}: {:?}",
        repo.staged_target_files()
    );
    assert!(!repo.dir.join("staged/targets.json").exists());
    // What the killed publish wrote is kept as it was, never rewritten.
    let after = tree(&repo.dir.join("metadata")).unwrap();
    for (path, content) in &orphans {
        if path != Path::new("timestamp.json") {
            assert!(
                after.iter().any(|(p, c)| p == path && c == content),
                "{} was rewritten after a publish killed at {step}",
                path.display()
            );
        }
    }
    repo.released(&name, bytes);
}

#[test]
fn publish_killed_at_any_step_leaves_nothing_the_next_publish_trips_over() {
    let mut repo = Repo::new("publish_killed", &["a1", "a2"], 1);
    repo.first_release();
    for (round, step) in [
        "target-copied",
        "targets-written",
        "metadata-written",
        "snapshot-written",
        "timestamp-written",
    ]
    .iter()
    .enumerate()
    {
        publish_killed_at(&mut repo, step, u8::try_from(round).unwrap());
    }
    // Orphans a killed publish left are never counted: the snapshot
    // versions go on past them.
    let ts = repo.metadata("timestamp.json");
    let snapshot = ts["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    let highest = tree(&repo.dir.join("metadata"))
        .unwrap()
        .iter()
        .filter_map(|(p, _)| {
            p.to_str()?
                .strip_suffix(".snapshot.json")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap();
    assert_eq!(snapshot, highest);
    // Nothing staged: exit 0, and nothing written.
    let before = tree(&repo.dir.join("metadata")).unwrap();
    let run = repo
        .fw
        .run(repo.command(&["--json"], "publish", &repo.online_args()));
    run.ok();
    assert_eq!(json(&run)["published"], false);
    assert_eq!(tree(&repo.dir.join("metadata")).unwrap(), before);
    repo.run("audit", &[]).ok();
    repo.report("publish_killed_at_any_step_leaves_nothing_the_next_publish_trips_over");
}

#[test]
fn add_killed_while_copying_leaves_no_temporary_file_behind() {
    let mut repo = Repo::new("add_killed", &["a1"], 1);
    let (args, _) = repo.add_args("board-a/killed.bin", 1);
    repo.fw
        .run_env(
            repo.command(&[], "add", &args),
            &[("FWSIGN_TEST_CRASH_AT", "add-copying")],
        )
        .killed();
    assert!(
        !repo.temporaries().is_empty(),
        "an add killed while copying left no temporary file: the step is not exercised"
    );
    // Readers leave it; the next writer removes it.
    repo.run("status", &[]).ok();
    assert!(!repo.temporaries().is_empty());
    let bytes = repo.add("board-a/fw.bin", 2);
    assert_eq!(repo.temporaries(), Vec::<PathBuf>::new());
    let listed = repo.staged("targets")["signed"]["targets"].clone();
    assert!(listed.get("board-a/killed.bin").is_none(), "{listed}");
    assert_eq!(
        repo.staged_target_files(),
        vec![PathBuf::from("targets/board-a/fw.bin")]
    );
    repo.sign("targets", "a1").ok();
    repo.publish().ok();
    repo.released("board-a/fw.bin", bytes);
    repo.report("add_killed_while_copying_leaves_no_temporary_file_behind");
}

#[test]
fn two_roles_staging_one_name_keep_their_own_approved_bytes() {
    let mut repo = Repo::new("staged_per_role", &["a1", "a2"], 1);
    repo.run(
        "delegate",
        &[
            "--role".into(),
            "board-a".into(),
            "--key".into(),
            repo.public("a2"),
            "--threshold".into(),
            "1".into(),
            "--paths".into(),
            "board-a/*".into(),
        ],
    )
    .ok();
    let ours = repo.add("board-a/fw.bin", 1);
    let (mut args, theirs) = repo.add_args("board-a/fw.bin", 2);
    args.extend(["--role".into(), "board-a".into()]);
    repo.run("add", &args).ok();
    assert_ne!(ours, theirs);
    repo.sign("targets", "a1").ok();
    repo.sign("board-a", "a2").ok();
    repo.publish().ok();
    // The search answers with `targets`' entry (listed first): its bytes.
    repo.released("board-a/fw.bin", ours);
    assert!(repo.staged_target_files().is_empty());
    repo.report("two_roles_staging_one_name_keep_their_own_approved_bytes");
}

#[test]
fn a_release_staged_by_an_older_fwsign_still_publishes() {
    let mut repo = Repo::new("staged_legacy_layout", &["a1"], 1);
    let bytes = repo.add("board-a/fw.bin", 3);
    // Where fwsign staged target files before they were kept per role.
    let legacy = repo.dir.join("staged/targets/board-a/fw.bin");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::rename(
        repo.dir.join("staged/targets/targets/board-a/fw.bin"),
        &legacy,
    )
    .unwrap();
    repo.sign("targets", "a1").ok();
    repo.publish().ok();
    assert!(!legacy.exists(), "the legacy staged file was not cleared");
    repo.released("board-a/fw.bin", bytes);
    repo.report("a_release_staged_by_an_older_fwsign_still_publishes");
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
