//! `fwsign client` against python-tuf 7's ngclient, the reference client:
//! on repositories python-tuf's own tooling builds
//! (`tests/tools/make_client_repos.py`, generated at test time) and on
//! simulator scenarios where the spec leaves room, both clients run against
//! the same HTTP server (`tests/tools/ngclient_download.py` drives
//! ngclient) and must agree: both succeed with identical downloaded bytes,
//! or both fail; and they must make the same requests in the same order and
//! keep the same metadata files with the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_tests::simulator::{
    Body, CliClient, PROXY_VARS, RepoServer, Simulator, fresh_dir, list, new_key, sha256_hex,
    sha512_hex, target_path,
};
use serde_json::{Value, json};

use crate::peers::{python, workspace_root};

/// What one client did in one step.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    ok: bool,
    /// The requests it made, in order.
    log: Vec<String>,
    /// Top-level `*.json` files of the metadata directory.
    metadata: BTreeMap<String, Vec<u8>>,
    /// Files of the target directory.
    targets: BTreeMap<String, Vec<u8>>,
}

fn read_dir_files(dir: &Path, only_json: bool) -> BTreeMap<String, Vec<u8>> {
    list(dir)
        .into_iter()
        .filter(|n| !only_json || n.ends_with(".json"))
        .filter_map(|n| std::fs::read(dir.join(&n)).ok().map(|b| (n, b)))
        .collect()
}

/// fwsign and ngclient side by side on one server, each with its own
/// state kept across steps.
pub(crate) struct Pair {
    python: PathBuf,
    pub(crate) fwsign: CliClient,
    py_dir: PathBuf,
    trusted_root: PathBuf,
}

impl Pair {
    pub(crate) fn new(python: &Path, name: &str, base_url: &str, root: &[u8]) -> Self {
        let metadata_url = format!("{base_url}/metadata/");
        let targets_url = format!("{base_url}/targets/");
        let fwsign = CliClient::new(
            &fresh_dir(&format!("{name}_fwsign")),
            &metadata_url,
            &targets_url,
        );
        fwsign.init(root).ok();
        let py_dir = fresh_dir(&format!("{name}_python"));
        let trusted_root = py_dir.join("trusted-root.json");
        std::fs::write(&trusted_root, root).unwrap();
        Self {
            python: python.to_path_buf(),
            fwsign,
            py_dir,
            trusted_root,
        }
    }

    fn for_sim(python: &Path, name: &str, sim: &Simulator) -> Self {
        let pair = Self::new(python, name, &sim.server.base_url(), &sim.root_bytes(1));
        sim.server.take_log();
        pair
    }

    fn run_fwsign(&self, server: &RepoServer, names: &[&str]) -> Outcome {
        let run = if names.is_empty() {
            self.fwsign.refresh()
        } else {
            self.fwsign.download(names, &[])
        };
        assert!(
            matches!(run.code, Some(0 | 1)),
            "fwsign client must exit 0 or 1: {run}"
        );
        Outcome {
            ok: run.code == Some(0),
            log: server.take_log(),
            metadata: read_dir_files(&self.fwsign.metadata_dir, true),
            targets: read_dir_files(&self.fwsign.target_dir, false),
        }
    }

    fn run_python(&self, server: &RepoServer, names: &[&str]) -> (Outcome, Value) {
        let script = workspace_root().join("tests/tools/ngclient_download.py");
        let (metadata_dir, target_dir) =
            (self.py_dir.join("metadata"), self.py_dir.join("targets"));
        let mut cmd = Command::new(&self.python);
        cmd.arg(script)
            .arg("--trusted-root")
            .arg(&self.trusted_root)
            .arg("--metadata-dir")
            .arg(&metadata_dir)
            .arg("--metadata-url")
            .arg(&self.fwsign.metadata_url)
            .arg("--target-dir")
            .arg(&target_dir)
            .arg("--target-base-url")
            .arg(&self.fwsign.targets_url)
            .args(names);
        for v in PROXY_VARS {
            cmd.env_remove(v);
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost");
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ngclient_download.py failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result: Value = serde_json::from_str(stdout.trim()).unwrap();
        let outcome = Outcome {
            ok: result["ok"] == json!(true),
            log: server.take_log(),
            metadata: read_dir_files(&metadata_dir, true),
            targets: read_dir_files(&target_dir, false),
        };
        (outcome, result)
    }

    /// Runs both (download `names`, or refresh when empty), asserts they
    /// agree, and returns whether they succeeded.
    #[track_caller]
    pub(crate) fn step(&self, server: &RepoServer, names: &[&str]) -> bool {
        let fwsign = self.run_fwsign(server, names);
        let (python, result) = self.run_python(server, names);
        assert_eq!(
            fwsign.ok, python.ok,
            "fwsign ok={} but python-tuf said {result}",
            fwsign.ok
        );
        assert_eq!(fwsign.log, python.log, "request logs differ (left fwsign)");
        assert_eq!(
            fwsign.metadata.keys().collect::<Vec<_>>(),
            python.metadata.keys().collect::<Vec<_>>(),
            "metadata files differ (left fwsign)"
        );
        assert!(fwsign.metadata == python.metadata, "metadata bytes differ");
        assert!(
            fwsign.targets == python.targets,
            "downloaded targets differ"
        );
        fwsign.ok
    }
}

// ---- repositories built by python-tuf's own tooling ------------------------

/// Builds repository `name` with make_client_repos.py; returns its
/// directory and scenario.
fn python_repo(python: &Path, name: &str) -> (PathBuf, Value) {
    let out = fresh_dir(&format!("python_repo_{name}"));
    let run = Command::new(python)
        .arg(workspace_root().join("tests/tools/make_client_repos.py"))
        .arg(&out)
        .arg(name)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "make_client_repos.py {name} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dir = out.join(name);
    let scenario =
        serde_json::from_slice(&std::fs::read(dir.join("scenario.json")).unwrap()).unwrap();
    (dir, scenario)
}

fn agree_on_python_repo(name: &str) {
    let Some(py) = python() else { return };
    let (dir, scenario) = python_repo(&py, name);
    let server = RepoServer::from_dir(&dir);
    let root = std::fs::read(dir.join("trusted-root.json")).unwrap();
    let pair = Pair::new(
        &py,
        &format!("python_repo_{name}"),
        &server.base_url(),
        &root,
    );
    let names: Vec<&str> = scenario["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let ok = pair.step(&server, &names);
    assert_eq!(Some(ok), scenario["expect_ok"].as_bool(), "{name}");
    if ok {
        assert_eq!(list(&pair.fwsign.target_dir).len(), names.len());
        // A second run is served from the local copies.
        assert!(pair.step(&server, &names));
    }
}

#[test]
fn python_tuf_repo_with_delegations_downloads_the_same_bytes() {
    agree_on_python_repo("delegations");
}

#[test]
fn python_tuf_repo_with_root_rotations_downloads_the_same_bytes() {
    agree_on_python_repo("rotation");
}

#[test]
fn python_tuf_repo_with_a_root_missing_the_old_threshold_fails_in_both() {
    agree_on_python_repo("rotation-bad");
}

#[test]
fn python_tuf_repo_with_an_expired_timestamp_fails_in_both() {
    agree_on_python_repo("expired-timestamp");
}

#[test]
fn python_tuf_repo_with_a_wrong_snapshot_hash_fails_in_both() {
    agree_on_python_repo("bad-snapshot-hash");
}

#[test]
fn python_tuf_repo_signed_with_rsa_pss_keys_downloads_the_same_bytes() {
    agree_on_python_repo("rsa-keys");
}

// ---- simulator scenarios ----------------------------------------------------

fn sim_with_target(build: impl FnOnce(&mut Simulator)) -> Simulator {
    let mut sim = Simulator::new();
    build(&mut sim);
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    sim
}

#[test]
fn python_tuf_and_fwsign_agree_across_updates_rollback_and_recovery() {
    let Some(py) = python() else { return };
    let mut sim = sim_with_target(|sim| {
        sim.meta_hashes = true;
        sim.add_target("targets", "fw/a.bin", b"first firmware");
    });
    let pair = Pair::for_sim(&py, "python_sim_updates", &sim);
    assert!(pair.step(&sim.server, &["fw/a.bin"]));
    // Unchanged: both reuse local metadata and the cached target.
    assert!(pair.step(&sim.server, &["fw/a.bin"]));
    // A new root, new targets.
    sim.root.version = 2;
    sim.publish_root();
    sim.add_target("targets", "fw/b.bin", b"second firmware");
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    assert!(pair.step(&sim.server, &["fw/a.bin", "fw/b.bin"]));
    // Timestamp rollback.
    let old = sim.server.get("/metadata/timestamp.json").unwrap();
    sim.update_timestamp();
    assert!(pair.step(&sim.server, &[]));
    sim.server.set("/metadata/timestamp.json", Body::Bytes(old));
    assert!(!pair.step(&sim.server, &[]));
    // Fast-forward recovery by rotating the timestamp key.
    sim.rotate_keys("timestamp");
    sim.root.version = 3;
    sim.publish_root();
    sim.timestamp.version = 1;
    sim.update_timestamp();
    assert!(pair.step(&sim.server, &["fw/b.bin"]));
    // An equal-version timestamp with other content is not taken.
    sim.timestamp.expires = "2098-01-01T00:00:00Z".into();
    sim.publish();
    assert!(pair.step(&sim.server, &[]));
}

#[test]
fn python_tuf_and_fwsign_agree_on_unusual_role_names() {
    let Some(py) = python() else { return };
    let sim = sim_with_target(|sim| {
        for n in ["../x", "a/b", "?", "#", "with space", "é"] {
            sim.delegate("targets", n, &["*"], false);
        }
        sim.add_target("é", "f.bin", b"from e-acute");
    });
    let pair = Pair::for_sim(&py, "python_sim_role_names", &sim);
    assert!(pair.step(&sim.server, &["f.bin"]));
}

#[test]
fn python_tuf_and_fwsign_agree_on_the_delegation_cap() {
    let Some(py) = python() else { return };
    let sim = sim_with_target(|sim| {
        let mut parent = "targets".to_owned();
        for i in 1..=33 {
            let role = format!("d{i}");
            sim.delegate(&parent, &role, &["*"], false);
            parent = role;
        }
        sim.add_target("d32", "deep.bin", b"at depth 32");
        sim.add_target("d33", "deeper.bin", b"at depth 33");
    });
    let pair = Pair::for_sim(&py, "python_sim_delegation_cap", &sim);
    assert!(pair.step(&sim.server, &["deep.bin"]));
    assert!(!pair.step(&sim.server, &["deeper.bin"]));
}

#[test]
fn python_tuf_and_fwsign_agree_on_a_delegation_cycle() {
    let Some(py) = python() else { return };
    let sim = sim_with_target(|sim| {
        sim.delegate("targets", "a", &["*"], false);
        sim.delegate("targets", "c", &["*"], false);
        sim.delegate("a", "b", &["*"], false);
        sim.delegate("b", "a", &["*"], false);
        sim.add_target("c", "f.bin", b"from c");
    });
    let pair = Pair::for_sim(&py, "python_sim_cycle", &sim);
    assert!(pair.step(&sim.server, &["f.bin"]));
    assert!(!pair.step(&sim.server, &["missing.bin"]));
}

#[test]
fn python_tuf_and_fwsign_agree_on_a_diamond_with_other_keys() {
    // python-tuf skips a role already visited in this search when a second
    // delegator reaches it, and finds the target in d.
    let Some(py) = python() else { return };
    let sim = sim_with_target(|sim| {
        for r in ["a", "b", "d"] {
            sim.delegate("targets", r, &["*"], false);
        }
        sim.delegate("a", "c", &["*"], false);
        sim.delegate_with("b", "c", &["*"], false, &[new_key()], 1);
        sim.add_target("d", "f.bin", b"from d");
    });
    let pair = Pair::for_sim(&py, "python_sim_diamond", &sim);
    pair.step(&sim.server, &["f.bin"]);
}

#[test]
fn python_tuf_and_fwsign_agree_on_the_first_hash_in_file_order() {
    let Some(py) = python() else { return };
    let data = b"firmware".as_slice();
    let (h256, h512) = (sha256_hex(data), sha512_hex(data));
    let sim = sim_with_target(|sim| {
        sim.add_target("targets", "fw.bin", data);
        let (a, b) = (
            format!("\"sha256\":\"{h256}\",\"sha512\":\"{h512}\""),
            format!("\"sha512\":\"{h512}\",\"sha256\":\"{h256}\""),
        );
        sim.edit_bytes.insert(
            "targets".into(),
            Box::new(move |bytes: Vec<u8>| {
                String::from_utf8(bytes)
                    .unwrap()
                    .replace(&a, &b)
                    .into_bytes()
            }),
        );
    });
    // Served under both hashes: the clients may differ only in the URL.
    assert!(sim.server.get(&target_path("fw.bin", &h256)).is_some());
    let pair = Pair::for_sim(&py, "python_sim_first_hash", &sim);
    pair.step(&sim.server, &["fw.bin"]);
}

#[test]
fn python_tuf_and_fwsign_agree_on_a_non_string_hash() {
    let Some(py) = python() else { return };
    let sim = sim_with_target(|sim| {
        sim.add_target("targets", "fw.bin", b"firmware");
        sim.edit_signed.insert(
            "targets".into(),
            Box::new(|signed: &mut Value| {
                signed["targets"]["fw.bin"]["hashes"]["sha512"] = json!(12345);
            }),
        );
    });
    let pair = Pair::for_sim(&py, "python_sim_non_string_hash", &sim);
    pair.step(&sim.server, &["fw.bin"]);
}

#[test]
fn python_tuf_and_fwsign_agree_on_a_delegation_to_a_top_level_role_name() {
    let Some(py) = python() else { return };
    let sim = sim_with_target(|sim| {
        sim.delegate("targets", "timestamp", &["*"], false);
        sim.add_target("timestamp", "f.bin", b"firmware");
    });
    let pair = Pair::for_sim(&py, "python_sim_top_level_name", &sim);
    pair.step(&sim.server, &["f.bin"]);
}
