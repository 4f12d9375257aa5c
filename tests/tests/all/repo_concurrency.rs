//! Commands racing on one repository, and commands killed half-way: real
//! `fwsign` processes started at the same moment, round after round, on
//! small repositories with Ed25519 keys (unencrypted, so each run is quick).
//!
//! Each test is named after the failure it stops. After every round the
//! repository is read as a client reads it (the library's TUF client over
//! the directory), by a client that keeps its state from round to round (so
//! a reverted release is a rollback it refuses) and by a fresh one.
//!
//! The fixture (a `Repo` driven through the binary, and the client check
//! after each round) is here; the tests are in `races`, `lock`, `killed`
//! and `staged_files`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Instant;

use fwsign_client::{Client, ClientConfig, FetchError, Fetcher};
use fwsign_core::key_types::BUILTIN;
use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_tests::{Fwsign, Run, Scratch, tree};
use serde_json::Value;

use crate::release_support::{firmware, json};

mod killed;
mod lock;
mod races;
mod staged_files;

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
                "--unencrypted".into(),
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
            // A temporary file, or a file in a temporary directory (a
            // role's new staged directory, built whole and then renamed).
            .filter(|p| {
                p.components().any(|c| {
                    c.as_os_str()
                        .to_str()
                        .is_some_and(fwsign_keys::atomic_write::is_temp_name)
                })
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
