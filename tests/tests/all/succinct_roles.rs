//! TAP 15 `succinct_roles` (hashed bins named by computation) as python-tuf
//! 7.0.1 writes them (`tests/tools/make_succinct_repo.py`, built at test
//! time with `SuccinctRoles`): `fwsign client` and python-tuf's ngclient
//! agree on them request for request, and the core's one target search
//! finds every target in the bin python-tuf's `get_role_for_target` names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_core::key_types::BUILTIN;
use fwsign_core::search::{OfflineCheck, RoleBytes, RoleFloors, RoleLoader};
use fwsign_core::succinct::SuccinctRoles;
use fwsign_core::verify::{Envelope, RootView, ThresholdWork};
use fwsign_keys::document::CanonicalDocument;
use fwsign_keys::search_host::{self, Arena, Memory, role_name};
use fwsign_tests::simulator::{RepoServer, fresh_dir, list};
use serde_json::Value;

use crate::client_python_tuf::Pair;
use crate::peers::{python, workspace_root};

/// Builds repository `name` with make_succinct_repo.py: its directory and
/// scenario.
fn succinct_repo(python: &Path, name: &str) -> (PathBuf, Value) {
    // One directory per call: tests building the same repository run at
    // once (threads under `cargo test`, processes under nextest).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = fresh_dir(&format!(
        "succinct_repo_{name}_{}_{call}",
        std::process::id()
    ));
    let run = Command::new(python)
        .arg(workspace_root().join("tests/tools/make_succinct_repo.py"))
        .arg(&out)
        .arg(name)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "make_succinct_repo.py {name} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dir = out.join(name);
    let scenario =
        serde_json::from_slice(&std::fs::read(dir.join("scenario.json")).unwrap()).unwrap();
    (dir, scenario)
}

fn names(scenario: &Value) -> Vec<&str> {
    scenario["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

fn pair_on(py: &Path, name: &str, dir: &Path, server: &RepoServer) -> Pair {
    let root = std::fs::read(dir.join("trusted-root.json")).unwrap();
    Pair::new(py, &format!("succinct_{name}"), &server.base_url(), &root)
}

/// Both clients download every target through its bin (and through a role
/// one bin delegates to), with the same requests and the same bytes.
#[test]
fn python_tuf_succinct_bins_download_the_same_bytes_in_both_clients() {
    let Some(py) = python() else { return };
    let (dir, scenario) = succinct_repo(&py, "succinct");
    let server = RepoServer::from_dir(&dir);
    let pair = pair_on(&py, "succinct", &dir, &server);
    let names = names(&scenario);
    assert!(pair.step(&server, &names));
    assert_eq!(list(&pair.fwsign.target_dir).len(), names.len());
    // Again, from the local copies.
    assert!(pair.step(&server, &names));
}

/// Attack: whoever holds the bins' key lists an image under a name whose
/// hash selects another bin. Both clients ask only the selected bin, which
/// does not list it: not found, in both.
#[test]
fn a_target_listed_by_a_bin_its_hash_does_not_select_is_found_by_neither_client() {
    let Some(py) = python() else { return };
    let (dir, scenario) = succinct_repo(&py, "succinct-wrong");
    let server = RepoServer::from_dir(&dir);
    let pair = pair_on(&py, "succinct-wrong", &dir, &server);
    assert_eq!(scenario["expect_ok"], Value::Bool(false));
    assert!(!pair.step(&server, &names(&scenario)));
}

/// The python-tuf repository's files, as a search source.
struct Files<'a> {
    dir: PathBuf,
    arena: &'a Arena,
    memory: Memory,
}

impl<'a> RoleLoader<'a> for Files<'a> {
    type Error = String;

    fn load(&mut self, role: &'a [u8], _: &'a [u8]) -> Result<Option<RoleBytes<'a>>, String> {
        let path = self
            .dir
            .join("metadata")
            .join(format!("1.{}.json", role_name(role)));
        let Ok(raw) = std::fs::read(&path) else {
            return Ok(None);
        };
        self.arena.role(&raw).map(Some).map_err(|e| e.to_string())
    }

    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]> {
        Some(self.arena.bin_name(&bins.bin_name(bin)))
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.memory.work(keyids)
    }
}

struct NoFloors;

impl RoleFloors for NoFloors {
    fn floor(&self, _: &[u8]) -> Option<u64> {
        None
    }
}

/// The core's search (as a device runs it: threshold checks, no snapshot)
/// over python-tuf's files finds each target in the bin python-tuf names,
/// and the bin's view answers as a delegated role with the succinct keys.
#[test]
fn the_core_search_finds_each_target_in_the_bin_python_tuf_computes() {
    let Some(py) = python() else { return };
    let (dir, scenario) = succinct_repo(&py, "succinct");
    let bins: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.join("bins.json")).unwrap()).unwrap();
    let root_raw = std::fs::read(dir.join("trusted-root.json")).unwrap();
    let root_doc = CanonicalDocument::from_json(&root_raw).unwrap();
    let root = RootView::new(Envelope::parse(root_doc.as_bytes()).unwrap()).unwrap();
    let check = OfflineCheck {
        floors: &NoFloors,
        now: None,
    };
    for target in names(&scenario) {
        let arena = Arena::new();
        let mut files = Files {
            dir: dir.clone(),
            arena: &arena,
            memory: Memory::default(),
        };
        let outcome = search_host::run(&root, &check, target, &mut files, BUILTIN)
            .unwrap_or_else(|e| panic!("{target}: {e:?}"));
        let found = outcome
            .found
            .unwrap_or_else(|| panic!("{target} not found"));
        let path: Vec<String> = outcome.path.iter().map(|r| role_name(r)).collect();
        let bin = &bins[target];
        if target.starts_with("nested/") {
            assert_eq!(path, ["targets", bin.as_str(), "nested"], "{target}");
        } else {
            assert_eq!(path, ["targets", bin.as_str()], "{target}");
            assert_eq!(role_name(found.role), *bin);
        }
        // The delegator answers for the bin by name, as for any role.
        let top = outcome.view(b"targets").unwrap();
        let delegation = top.delegated_role(bin.as_bytes()).unwrap();
        assert!(delegation.terminating() && delegation.covers(target));
    }
}

/// fwsign's typed metadata reads python-tuf's `succinct_roles` delegator
/// and writes back the very canonical bytes it read (no `roles` added,
/// which python-tuf would refuse beside `succinct_roles`).
#[test]
fn typed_metadata_keeps_succinct_roles_byte_for_byte() {
    use fwsign_manifest_schema::metadata::{Signed, Targets};
    let Some(py) = python() else { return };
    let (dir, _) = succinct_repo(&py, "succinct");
    let raw = std::fs::read(dir.join("metadata/1.targets.json")).unwrap();
    let doc = Signed::<Targets>::from_json_slice(&raw).unwrap();
    let delegations = doc.signed.delegations.as_ref().unwrap();
    assert!(delegations.roles.is_empty());
    let succinct = delegations.succinct_roles().unwrap().unwrap();
    assert_eq!(
        (succinct.bit_length, succinct.name_prefix.as_str()),
        (5, "bins")
    );
    assert_eq!(
        doc.to_canonical_json().unwrap(),
        CanonicalDocument::from_json(&raw).unwrap().as_bytes()
    );
}
