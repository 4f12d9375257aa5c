//! `fwsign client download` through delegation graphs: the pre-order
//! depth-first search of spec 5.6.7 (order, terminating delegations,
//! cycles, the cap on roles visited), every delegated role checked like a
//! top-level one, and role names that are not safe file names.
//!
//! Where the spec leaves room, python-tuf 7 decides: a role already visited
//! in this search is skipped when another delegator reaches it again
//! (`visited_role_names` holds names, not `(role, delegator)` pairs), and
//! at most 32 delegated roles are visited.

use fwsign_tests::simulator::{
    Body, CliClient, PAST, Simulator, keyid, new_key, py_quote, sha256_hex, target_path,
};

use crate::client_support::{init, paths};

/// A repository built by `build`, with `targets` bumped to v2 and a new
/// snapshot (v2) and timestamp listing every role, and a client
/// initialised with root v1.
fn repo(name: &str, build: impl FnOnce(&mut Simulator)) -> (Simulator, CliClient) {
    let mut sim = Simulator::new();
    build(&mut sim);
    sim.targets.get_mut("targets").unwrap().version = 2;
    sim.update_snapshot();
    let client = init(name, &sim);
    (sim, client)
}

/// The requests a first download makes before any delegated role.
fn top_level() -> Vec<String> {
    paths(&[
        "2.root.json",
        "timestamp.json",
        "2.snapshot.json",
        "2.targets.json",
    ])
}

/// `top_level()` then the listed delegated roles (v1) and `extra` paths.
fn expected(roles: &[&str], extra: &[String]) -> Vec<String> {
    let mut log = top_level();
    log.extend(
        roles
            .iter()
            .map(|r| format!("/metadata/1.{}.json", py_quote(r))),
    );
    log.extend(extra.iter().cloned());
    log
}

fn target_url(name: &str, data: &[u8]) -> String {
    target_path(name, &sha256_hex(data))
}

#[test]
fn delegation_search_is_preorder_depth_first() {
    let (sim, client) = repo("search_preorder", |sim| {
        sim.delegate("targets", "a", &["*"], false);
        sim.delegate("targets", "b", &["*"], false);
        sim.delegate("a", "a1", &["*"], false);
        sim.add_target("a1", "f.bin", b"from a1");
        sim.add_target("b", "f.bin", b"from b");
    });
    client.download(&["f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        expected(&["a", "a1"], &[target_url("f.bin", b"from a1")])
    );
    assert_eq!(
        std::fs::read(client.target_dir.join("f.bin")).unwrap(),
        b"from a1"
    );
}

#[test]
fn delegations_whose_paths_do_not_cover_the_target_are_not_searched() {
    let (sim, client) = repo("search_by_paths", |sim| {
        sim.delegate("targets", "a", &["other/*"], false);
        sim.delegate("targets", "b", &["fw/*"], false);
        sim.add_target("b", "fw/f.bin", b"from b");
    });
    client.download(&["fw/f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        expected(&["b"], &[target_url("fw/f.bin", b"from b")])
    );
}

#[test]
fn a_delegated_role_cannot_vouch_for_paths_outside_its_delegation() {
    let (sim, client) = repo("outside_delegated_paths", |sim| {
        sim.delegate("targets", "a", &["a/*"], false);
        sim.add_target("a", "b/f.bin", b"not a's to sign");
    });
    client.download(&["b/f.bin"], &[]).failed();
    assert_eq!(sim.server.take_log(), top_level());
    assert!(client.target_files().is_empty());
}

#[test]
fn terminating_delegation_stops_the_search() {
    let (sim, client) = repo("terminating_stops", |sim| {
        sim.delegate("targets", "a", &["f*"], true);
        sim.delegate("targets", "b", &["*"], false);
        sim.add_target("b", "f.bin", b"from b");
    });
    client.download(&["f.bin"], &[]).failed();
    assert_eq!(sim.server.take_log(), expected(&["a"], &[]));
    assert!(client.target_files().is_empty());
}

#[test]
fn terminating_delegation_below_stops_backtracking_to_siblings_above() {
    let (sim, client) = repo("terminating_no_backtrack", |sim| {
        sim.delegate("targets", "a", &["*"], false);
        sim.delegate("targets", "b", &["*"], false);
        sim.delegate("a", "a1", &["*"], true);
        sim.add_target("b", "f.bin", b"from b");
    });
    client.download(&["f.bin"], &[]).failed();
    assert_eq!(sim.server.take_log(), expected(&["a", "a1"], &[]));
}

#[test]
fn terminating_delegation_that_does_not_match_does_not_stop_the_search() {
    let (sim, client) = repo("terminating_no_match", |sim| {
        sim.delegate("targets", "a", &["x*"], true);
        sim.delegate("targets", "b", &["*"], false);
        sim.add_target("b", "f.bin", b"from b");
    });
    client.download(&["f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        expected(&["b"], &[target_url("f.bin", b"from b")])
    );
}

#[test]
fn delegation_cycle_terminates_without_the_target() {
    let (sim, client) = repo("cycle_not_found", |sim| {
        sim.delegate("targets", "a", &["*"], false);
        sim.delegate("a", "b", &["*"], false);
        sim.delegate("b", "a", &["*"], false);
    });
    client.download(&["f.bin"], &[]).failed();
    assert_eq!(sim.server.take_log(), expected(&["a", "b"], &[]));
}

#[test]
fn delegation_cycle_is_left_for_the_next_sibling() {
    let (sim, client) = repo("cycle_then_sibling", |sim| {
        sim.delegate("targets", "a", &["*"], false);
        sim.delegate("targets", "c", &["*"], false);
        sim.delegate("a", "b", &["*"], false);
        sim.delegate("b", "a", &["*"], false);
        sim.add_target("c", "f.bin", b"from c");
    });
    client.download(&["f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        expected(&["a", "b", "c"], &[target_url("f.bin", b"from c")])
    );
}

fn chain(sim: &mut Simulator, depth: usize) {
    let mut parent = "targets".to_owned();
    for i in 1..=depth {
        let role = format!("d{i}");
        sim.delegate(&parent, &role, &["*"], false);
        parent = role;
    }
}

#[test]
fn delegation_search_visits_at_most_32_delegated_roles() {
    // As python-tuf (max_delegations = 32): depth 32 is found, depth 33 is
    // not, and d33 is never fetched.
    let (sim, client) = repo("delegation_cap_32", |sim| {
        chain(sim, 33);
        sim.add_target("d32", "deep.bin", b"at depth 32");
        sim.add_target("d33", "deeper.bin", b"at depth 33");
    });
    client.download(&["deep.bin"], &[]).ok();
    sim.server.take_log();
    client.download(&["deeper.bin"], &[]).failed();
    let log = sim.server.take_log();
    assert!(!log.iter().any(|p| p.contains("d33")), "{log:?}");
    assert!(!log.iter().any(|p| p.starts_with("/targets/")), "{log:?}");
}

#[test]
fn delegation_cap_requests_exactly_d1_to_d32() {
    let (sim, client) = repo("delegation_cap_log", |sim| {
        chain(sim, 40);
        sim.add_target("d40", "f.bin", b"too deep");
    });
    client.download(&["f.bin"], &[]).failed();
    let roles: Vec<String> = (1..=32).map(|i| format!("d{i}")).collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    assert_eq!(sim.server.take_log(), expected(&roles, &[]));
}

#[test]
fn delegated_role_missing_from_snapshot_is_refused_without_a_request() {
    let mut sim = Simulator::new();
    sim.delegate("targets", "a", &["*"], false);
    sim.add_target("a", "f.bin", b"from a");
    sim.targets.get_mut("targets").unwrap().version = 2;
    sim.update_snapshot();
    sim.snapshot.meta.remove("a.json");
    sim.snapshot.version += 1;
    sim.update_timestamp();
    let client = init("role_missing_from_snapshot", &sim);
    client.download(&["f.bin"], &[]).failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "3.snapshot.json",
            "2.targets.json"
        ])
    );
    assert!(!client.metadata_files().contains("a.json"));
}

// ---- a delegated role is checked like a top-level one -------------------------

fn one_delegation(name: &str, spoil: impl FnOnce(&mut Simulator)) -> (Simulator, CliClient) {
    repo(name, |sim| {
        sim.delegate("targets", "a", &["*"], false);
        sim.add_target("a", "f.bin", b"from a");
        spoil(sim);
    })
}

fn refused(sim: &Simulator, client: &CliClient) {
    client.download(&["f.bin"], &[]).failed();
    assert_eq!(sim.server.take_log(), expected(&["a"], &[]));
    assert!(!client.metadata_files().contains("a.json"));
    assert!(client.target_files().is_empty());
}

#[test]
fn delegated_role_signed_by_a_key_the_delegator_did_not_name_is_refused() {
    let (sim, client) = one_delegation("delegated_wrong_key", |sim| {
        sim.delegated_signers.insert("a".into(), vec![new_key()]);
    });
    refused(&sim, &client);
}

#[test]
fn delegated_role_below_its_threshold_is_refused() {
    let (sim, client) = one_delegation("delegated_threshold", |sim| {
        let first = sim.delegated_signers["a"][0].clone();
        let second = new_key();
        let d = sim
            .targets
            .get_mut("targets")
            .unwrap()
            .delegations
            .as_mut()
            .unwrap();
        d.keys
            .insert(keyid(&second), second.public_key().to_tuf_key());
        d.roles[0].keyids.push(keyid(&second));
        d.roles[0].threshold = 2;
        sim.delegated_signers.insert("a".into(), vec![first]);
    });
    refused(&sim, &client);
}

#[test]
fn expired_delegated_role_is_refused() {
    let (sim, client) = one_delegation("delegated_expired", |sim| {
        sim.targets.get_mut("a").unwrap().expires = PAST.into();
    });
    refused(&sim, &client);
}

#[test]
fn delegated_role_version_differing_from_snapshot_is_refused() {
    let (sim, client) = one_delegation("delegated_version_mismatch", |sim| {
        // Served as 1.a.json, but says version 2.
        sim.edit_signed.insert(
            "a".into(),
            Box::new(|signed: &mut serde_json::Value| signed["version"] = 2.into()),
        );
    });
    refused(&sim, &client);
}

#[test]
fn delegated_role_hash_mismatch_with_snapshot_is_refused() {
    let (mut sim, client) = one_delegation("delegated_hash_mismatch", |sim| {
        sim.meta_hashes = true;
    });
    sim.targets.get_mut("a").unwrap().expires = "2098-01-01T00:00:00Z".into();
    let other = sim.render("a");
    sim.server.set("/metadata/1.a.json", Body::Bytes(other));
    refused(&sim, &client);
}

// ---- diamonds: one role, two delegators ----------------------------------------

#[test]
fn diamond_role_reached_again_through_a_second_delegator_is_skipped_as_in_python_tuf() {
    // targets -> [a, b, d]; a -> c (c's key); b -> c (another key, which
    // did not sign c); d lists the target. python-tuf visits targets, a, c,
    // b, skips c (already visited) and finds the target in d; the spec says
    // the same (5.6.7.2: a role visited before is skipped).
    let (sim, client) = repo("diamond_skip", |sim| {
        for r in ["a", "b", "d"] {
            sim.delegate("targets", r, &["*"], false);
        }
        sim.delegate("a", "c", &["*"], false);
        sim.delegate_with("b", "c", &["*"], false, &[new_key()], 1);
        sim.add_target("d", "f.bin", b"from d");
    });
    client.download(&["f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        expected(&["a", "c", "b", "d"], &[target_url("f.bin", b"from d")])
    );
}

#[test]
fn diamond_with_the_same_keys_fetches_the_shared_role_once() {
    let (sim, client) = repo("diamond_same_keys", |sim| {
        for r in ["a", "b", "d"] {
            sim.delegate("targets", r, &["*"], false);
        }
        sim.delegate("a", "c", &["*"], false);
        sim.delegate("b", "c", &["*"], false);
        sim.add_target("d", "f.bin", b"from d");
    });
    client.download(&["f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        expected(&["a", "c", "b", "d"], &[target_url("f.bin", b"from d")])
    );
}

#[test]
fn diamond_role_first_reached_through_a_delegator_whose_keys_did_not_sign_it_is_refused() {
    // b comes first and names a key that did not sign c: c is checked with
    // b's keys (as python-tuf does), fails, and the search fails.
    let (sim, client) = repo("diamond_first_wrong_keys", |sim| {
        for r in ["b", "a"] {
            sim.delegate("targets", r, &["*"], false);
        }
        sim.delegate("a", "c", &["*"], false);
        sim.delegate_with("b", "c", &["*"], false, &[new_key()], 1);
        sim.add_target("c", "f.bin", b"from c");
    });
    let c_key = sim.delegated_signers["c"][0].clone();
    assert!(
        sim.targets["a"].delegations.as_ref().unwrap().roles[0]
            .keyids
            .contains(&keyid(&c_key))
    );
    client.download(&["f.bin"], &[]).failed();
    assert_eq!(sim.server.take_log(), expected(&["b", "c"], &[]));
    assert!(client.target_files().is_empty());
}

// ---- role names ------------------------------------------------------------------

#[test]
fn unusual_role_names_are_fetched_url_quoted_and_stored_flat() {
    let names = ["../x", "a/b", "?", "#", "with space", "é"];
    let (sim, client) = repo("unusual_role_names", |sim| {
        for n in names {
            sim.delegate("targets", n, &["*"], false);
        }
        sim.add_target("é", "f.bin", b"from a role named e-acute");
    });
    client.download(&["f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        expected(&names, &[target_url("f.bin", b"from a role named e-acute")])
    );
    let expected_files: std::collections::BTreeSet<String> = [
        "root.json",
        "timestamp.json",
        "snapshot.json",
        "targets.json",
        "..%2Fx.json",
        "a%2Fb.json",
        "%3F.json",
        "%23.json",
        "with%20space.json",
        "%C3%A9.json",
    ]
    .map(String::from)
    .into();
    assert_eq!(client.metadata_files(), expected_files);
    // Nothing escaped the metadata directory.
    assert!(!client.dir.join("x.json").exists());
    assert!(!client.metadata_dir.join("a").exists());
    for n in names {
        assert_eq!(
            client.stored(&format!("{}.json", py_quote(n))).unwrap(),
            sim.server
                .get(&format!("/metadata/1.{}.json", py_quote(n)))
                .unwrap(),
            "{n}"
        );
    }
}

// ---- delegated roles named like top-level roles ----------------------------------
//
// Their local file names would be `root.json`, `timestamp.json`, ... python-tuf
// refuses any targets metadata that delegates to a top-level role name or to
// an empty name (`Delegations`: "Delegated roles cannot be empty or use
// top-level role names"), so the search fails and nothing is stored.

fn delegation_named(name: &str, role: &str, version: u64) -> (Simulator, CliClient) {
    repo(name, |sim| {
        sim.delegate("targets", role, &["*"], false);
        sim.add_target(role, "f.bin", b"firmware");
        sim.targets.get_mut(role).unwrap().version = version;
    })
}

#[test]
fn delegated_role_named_root_never_replaces_the_trusted_root() {
    // Published as the repository publishes delegated roles: 5.root.json.
    let (sim, client) = delegation_named("delegated_named_root", "root", 5);
    let run = client.download(&["f.bin"], &[]);
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
    run.failed();
    // The client is not bricked: its trusted root is intact, and refresh
    // keeps failing only on the malformed targets, as python-tuf does.
    client.refresh().failed();
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
}

#[test]
fn delegated_role_named_timestamp_never_replaces_the_trusted_timestamp() {
    let (sim, client) = delegation_named("delegated_named_timestamp", "timestamp", 1);
    let run = client.download(&["f.bin"], &[]);
    assert_eq!(
        client.stored("timestamp.json").unwrap(),
        sim.server.get("/metadata/timestamp.json").unwrap()
    );
    run.failed();
}

#[test]
fn delegated_role_named_snapshot_never_replaces_the_trusted_snapshot() {
    let (sim, client) = delegation_named("delegated_named_snapshot", "snapshot", 7);
    let run = client.download(&["f.bin"], &[]);
    assert_eq!(
        client.stored("snapshot.json").unwrap(),
        sim.server.get("/metadata/2.snapshot.json").unwrap()
    );
    run.failed();
}

#[test]
fn delegated_role_with_an_empty_name_is_refused() {
    let (_sim, client) = delegation_named("delegated_empty_name", "", 1);
    let run = client.download(&["f.bin"], &[]);
    assert!(!client.metadata_files().contains(".json"));
    run.failed();
}
