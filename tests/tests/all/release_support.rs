//! The release fixture the `release_*` modules share: keys made with
//! `fwsign key generate`, a repository driven through the `fwsign` binary,
//! and the two peers (python-tuf's `ngclient.Updater`, tough's client)
//! fetching what it published over HTTP from a [`StaticServer`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_tests::{Fwsign, Run, Scratch, StaticServer};
use serde_json::Value;

use crate::peers;

/// The nested target name the workflow tests release.
pub(crate) const FW_NAME: &str = "board-a/fw-1.0.0.bin";

/// Parses a `--json` run's stdout.
#[track_caller]
pub(crate) fn json(run: &Run) -> Value {
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{run}"))
}

/// Firmware-like bytes, different per `seed`.
pub(crate) fn firmware(seed: u8, len: usize) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// One test's keys and repository.
pub(crate) struct Release {
    /// The test's scratch directory (keys/, files/, repo/, peer work dirs).
    pub scratch: Scratch,
    /// Runs `fwsign` in the scratch directory.
    pub fw: Fwsign,
    /// The repository directory.
    pub dir: PathBuf,
    keyids: BTreeMap<String, String>,
}

impl Release {
    /// A scratch directory with keys root1, root2 (root), alice, bob, carol
    /// (targets approvers) and online (snapshot and timestamp); no repository yet.
    pub(crate) fn new(test: &str) -> Self {
        let scratch = Scratch::new(test);
        std::fs::create_dir_all(scratch.join("keys")).unwrap();
        std::fs::create_dir_all(scratch.join("files")).unwrap();
        let fw = Fwsign::new(scratch.path());
        let dir = scratch.join("repo");
        let mut release = Self {
            scratch,
            fw,
            dir,
            keyids: BTreeMap::new(),
        };
        for name in ["root1", "root2", "alice", "bob", "carol", "online"] {
            release.generate_key(name);
        }
        release
    }

    /// Generates `keys/NAME.pem` and `keys/NAME.pub.pem` and records the key ID
    /// `fwsign --json key generate` reports.
    pub(crate) fn generate_key(&mut self, name: &str) -> String {
        self.generate_key_with(name, &[], &[])
    }

    /// [`Self::generate_key`] with extra arguments and environment.
    pub(crate) fn generate_key_with(
        &mut self,
        name: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> String {
        let out = self.key(name);
        let mut args: Vec<OsString> = vec![
            "--json".into(),
            "key".into(),
            "generate".into(),
            "--out".into(),
            out.into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        // Keys are written encrypted unless asked otherwise (issue 16); the
        // fixtures' keys are in the clear unless a test gives a passphrase.
        if !extra.contains(&"--passphrase-env") {
            args.push("--unencrypted".into());
        }
        let run = self.fw.run_env(args, env);
        run.ok();
        let keyid = json(&run)["keyid"].as_str().unwrap().to_owned();
        assert_eq!(keyid.len(), 64, "{run}");
        self.keyids.insert(name.to_owned(), keyid.clone());
        keyid
    }

    /// `keys/NAME.pem`.
    pub(crate) fn key(&self, name: &str) -> PathBuf {
        self.scratch.join(format!("keys/{name}.pem"))
    }

    /// `keys/NAME.pub.pem`.
    pub(crate) fn public(&self, name: &str) -> PathBuf {
        self.scratch.join(format!("keys/{name}.pub.pem"))
    }

    /// The key ID of key `name`.
    pub(crate) fn keyid(&self, name: &str) -> String {
        self.keyids[name].clone()
    }

    /// `fwsign repo SUB DIR ARGS...`.
    pub(crate) fn repo(&self, sub: &str, args: &[&str]) -> Run {
        self.repo_env(sub, args, &[])
    }

    /// `fwsign repo SUB DIR ARGS...` with extra environment.
    pub(crate) fn repo_env(&self, sub: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all: Vec<OsString> = vec!["repo".into(), sub.into(), self.dir.clone().into()];
        all.extend(args.iter().map(OsString::from));
        self.fw.run_env(all, env)
    }

    /// `fwsign --json repo SUB DIR ARGS...`, parsed.
    pub(crate) fn repo_json(&self, sub: &str, args: &[&str]) -> (Run, Value) {
        let mut all: Vec<OsString> = vec![
            "--json".into(),
            "repo".into(),
            sub.into(),
            self.dir.clone().into(),
        ];
        all.extend(args.iter().map(OsString::from));
        let run = self.fw.run(all);
        let value = json(&run);
        (run, value)
    }

    /// A path as a `&str` argument.
    pub(crate) fn arg(path: &Path) -> &str {
        path.to_str().unwrap()
    }

    /// `repo init` with the standard keys: root 2 of 2, targets 2 of 3,
    /// one online key; `extra` appended.
    pub(crate) fn init_with(&self, extra: &[&str]) -> Run {
        self.init_online(["online", "online"], extra)
    }

    /// `repo init` with the standard root and targets keys, the named
    /// snapshot and timestamp keys, and `extra` appended.
    pub(crate) fn init_online(&self, [snapshot, timestamp]: [&str; 2], extra: &[&str]) -> Run {
        let (r1, r2) = (self.public("root1"), self.public("root2"));
        let (a, b, c) = (
            self.public("alice"),
            self.public("bob"),
            self.public("carol"),
        );
        let (s, t) = (self.public(snapshot), self.public(timestamp));
        let mut args = vec![
            "--root-key",
            Self::arg(&r1),
            "--root-key",
            Self::arg(&r2),
            "--root-threshold",
            "2",
            "--targets-key",
            Self::arg(&a),
            "--targets-key",
            Self::arg(&b),
            "--targets-key",
            Self::arg(&c),
            "--targets-threshold",
            "2",
            "--snapshot-key",
            Self::arg(&s),
            "--timestamp-key",
            Self::arg(&t),
        ];
        args.extend_from_slice(extra);
        self.repo("init", &args)
    }

    /// `repo init` (standard keys) that must succeed.
    pub(crate) fn init(&self) {
        self.init_with(&[]).ok();
    }

    /// Writes `files/<file>` with `bytes` and returns its path.
    pub(crate) fn write_file(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let path = self.scratch.join("files").join(file);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `repo add DIR FILE --name NAME --hardware-id evc-a1 --version V
    /// --security-counter N` plus `extra`.
    pub(crate) fn add(&self, file: &Path, name: &str, version: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            Self::arg(file),
            "--name",
            name,
            "--hardware-id",
            "evc-a1",
            "--version",
            version,
            "--security-counter",
            "1",
        ];
        args.extend_from_slice(extra);
        self.repo("add", &args)
    }

    /// `repo sign --role ROLE --key keys/NAME.pem`.
    pub(crate) fn sign(&self, role: &str, key: &str) -> Run {
        self.repo(
            "sign",
            &["--role", role, "--key", Self::arg(&self.key(key))],
        )
    }

    /// `repo publish` with the online key, extra environment.
    pub(crate) fn publish_env(&self, env: &[(&str, &str)]) -> Run {
        let online = self.key("online");
        self.repo_env(
            "publish",
            &[
                "--snapshot-key",
                Self::arg(&online),
                "--timestamp-key",
                Self::arg(&online),
            ],
            env,
        )
    }

    /// `repo publish` with the online key.
    pub(crate) fn publish(&self) -> Run {
        self.publish_env(&[])
    }

    /// Has root1+root2 sign root and the two `approvers` sign targets.
    pub(crate) fn approve(&self, approvers: [&str; 2]) {
        for key in ["root1", "root2"] {
            self.sign("root", key).ok();
        }
        for key in approvers {
            self.sign("targets", key).ok();
        }
    }

    /// `repo init` with `extra`, then `FW_NAME` 1.0.0 staged from
    /// `files/<file>` holding `bytes`, approved ([`Self::approve`]) and
    /// published.
    pub(crate) fn first_release_with(
        &self,
        extra: &[&str],
        file: &str,
        bytes: &[u8],
        approvers: [&str; 2],
    ) {
        self.init_with(extra).ok();
        let path = self.write_file(file, bytes);
        // The line per target that add and publish print (through one
        // buffer) reaches stderr whole.
        self.add(&path, FW_NAME, "1.0.0", &[])
            .ok()
            .stderr_has(&format!("staged {FW_NAME} ({} bytes", bytes.len()));
        self.approve(approvers);
        self.publish()
            .ok()
            .stderr_has(&format!("\n  target {FW_NAME}\n"));
    }

    /// Initialises, stages `FW_NAME` (returned bytes), has root1+root2 sign
    /// root and alice+bob sign targets, and publishes.
    pub(crate) fn first_release(&self) -> Vec<u8> {
        let bytes = firmware(1, 5000);
        self.first_release_with(&[], "fw-1.0.0.bin", &bytes, ["alice", "bob"]);
        bytes
    }

    /// `repo init`, root approved by root1+root2, and `FW_NAME` 1.0.0
    /// staged from `files/fw-1.0.0.bin` holding `bytes` (not yet approved);
    /// returns that file's path.
    pub(crate) fn stage_first(&self, bytes: &[u8]) -> PathBuf {
        self.init();
        self.sign("root", "root1").ok();
        self.sign("root", "root2").ok();
        let file = self.write_file("fw-1.0.0.bin", bytes);
        self.add(&file, FW_NAME, "1.0.0", &[]).ok();
        file
    }

    /// `repo export-payload --role targets --out OUT`.
    pub(crate) fn export_payload(&self, out: &Path) -> Run {
        self.repo(
            "export-payload",
            &["--role", "targets", "--out", Self::arg(out)],
        )
    }

    /// `fwsign sign-payload PAYLOAD --key keys/KEY.pem --out OUT`.
    pub(crate) fn sign_payload(&self, payload: &Path, key: &str, out: &Path) -> Run {
        self.fw.run([
            "sign-payload".as_ref(),
            payload.as_os_str(),
            "--key".as_ref(),
            self.key(key).as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
    }

    /// `repo add` arguments staging `file` as `../evil.bin`, a name every
    /// command refuses (`invalid-name`).
    pub(crate) fn evil_name_args(file: &Path) -> [&str; 9] {
        [
            Self::arg(file),
            "--name",
            "../evil.bin",
            "--hardware-id",
            "x",
            "--version",
            "1.0.0",
            "--security-counter",
            "1",
        ]
    }

    /// `DIR/metadata/NAME`.
    pub(crate) fn metadata(&self, name: &str) -> PathBuf {
        self.dir.join("metadata").join(name)
    }

    /// The published timestamp's version.
    pub(crate) fn timestamp_version(&self) -> u64 {
        let text = std::fs::read(self.metadata("timestamp.json")).unwrap();
        let v: Value = serde_json::from_slice(&text).unwrap();
        v["signed"]["version"].as_u64().unwrap()
    }

    /// A new, empty work directory for a peer client.
    pub(crate) fn workdir(&self, name: &str) -> PathBuf {
        let dir = self.scratch.join(format!("clients/{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// An update agent on hardware `evc-a1`: `fwsign client` trusting the
    /// published `1.root.json` in a fresh `clients/WORK-state`, then
    /// `download` of `target` from `server` into a fresh `clients/WORK-out`
    /// (`global` before `client`, `extra` after `download`). Returns the run
    /// and the download directory.
    pub(crate) fn client_download(
        &self,
        server: &StaticServer,
        work: &str,
        target: &str,
        global: &[&str],
        extra: &[&str],
    ) -> (Run, PathBuf) {
        let state = self.workdir(&format!("{work}-state"));
        let out = self.workdir(&format!("{work}-out"));
        let root = self.metadata("1.root.json");
        self.fw
            .run([
                "client",
                "--metadata-dir",
                Self::arg(&state),
                "init",
                Self::arg(&root),
            ])
            .ok();
        let (metadata_url, target_url) = (server.url("metadata/"), server.url("targets/"));
        let mut args: Vec<&str> = global.to_vec();
        args.extend([
            "client",
            "--metadata-url",
            &metadata_url,
            "--metadata-dir",
            Self::arg(&state),
            "--target-name",
            target,
            "--target-dir",
            Self::arg(&out),
            "--target-base-url",
            &target_url,
            "download",
            "--hardware-id",
            "evc-a1",
        ]);
        args.extend_from_slice(extra);
        (self.fw.run(args), out)
    }

    /// Serves the repository directory over HTTP.
    pub(crate) fn serve(&self) -> StaticServer {
        StaticServer::start(&self.dir).unwrap()
    }

    /// Serves the repository and has a fresh python-tuf client (work
    /// directory `clients/python`, trusting `1.root.json`) download
    /// `expected` with those bytes ([`python_gets`]).
    pub(crate) fn python_gets_published(&self, expected: &[(&str, &[u8])]) {
        let server = self.serve();
        python_gets(
            &server,
            &self.metadata("1.root.json"),
            &self.workdir("python"),
            expected,
        );
    }
}

/// The entry of staged `role` in a `repo status --json` document.
#[track_caller]
pub(crate) fn staged_entry<'a>(status: &'a Value, role: &str) -> &'a Value {
    status["staged"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == role)
        .unwrap_or_else(|| panic!("no staged {role} in {status}"))
}

/// What python-tuf's Updater did.
pub(crate) struct PythonFetch {
    /// The script's exit status.
    pub success: bool,
    /// Its stderr (the error when it failed).
    pub stderr: String,
    /// The bytes downloaded per target, in the order asked.
    pub targets: Vec<Vec<u8>>,
}

/// Runs python-tuf's `ngclient.Updater` (`tests/tools/verify_repo.py`)
/// against `server`'s `metadata/` and `targets/`, trusting `trusted_root`,
/// in a fresh work directory `work`. `None` when no peer is configured.
pub(crate) fn python_fetch(
    server: &StaticServer,
    trusted_root: &Path,
    names: &[&str],
    work: &Path,
) -> Option<PythonFetch> {
    let python = peers::python()?;
    let script = peers::workspace_root().join("tests/tools/verify_repo.py");
    let output = Command::new(python)
        .arg(script)
        .arg(server.url("metadata/"))
        .arg(server.url("targets/"))
        .arg(trusted_root)
        .args(names)
        .arg("--dir")
        .arg(work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut targets = Vec::new();
    if output.status.success() {
        for line in stdout.lines() {
            let (_, path) = line.split_once(" -> ").unwrap();
            targets.push(std::fs::read(path).unwrap());
        }
        assert_eq!(targets.len(), names.len(), "{stdout}");
        // python-tuf really went over HTTP to our server.
        assert!(
            server
                .requests()
                .iter()
                .any(|(p, s)| p.ends_with("timestamp.json") && *s == 200),
            "python-tuf fetched no timestamp from the server: {:?}",
            server.requests()
        );
    }
    Some(PythonFetch {
        success: output.status.success(),
        stderr,
        targets,
    })
}

/// python-tuf must fetch and verify `names` and get exactly `expected`.
#[track_caller]
pub(crate) fn python_gets(
    server: &StaticServer,
    trusted_root: &Path,
    work: &Path,
    expected: &[(&str, &[u8])],
) {
    let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    if let Some(fetch) = python_fetch(server, trusted_root, &names, work) {
        assert!(
            fetch.success,
            "python-tuf refused the repository:\n{}",
            fetch.stderr
        );
        for ((name, bytes), got) in expected.iter().zip(&fetch.targets) {
            assert!(got == bytes, "python-tuf downloaded other bytes for {name}");
        }
    }
}
