//! What `fwsign client` keeps between searches and runs, and what it never
//! lets a cache decide: a delegated role's local copy from an earlier run is
//! used only if the search accepts it (otherwise it is fetched, as
//! python-tuf does), and a role kept from an earlier search in the same run
//! is verified again against the delegator each search reaches it through.

use fwsign_tests::simulator::{CliClient, Simulator, new_key, sha256_hex, target_path};

use crate::client_support::{init, paths};

fn repo(name: &str, build: impl FnOnce(&mut Simulator)) -> (Simulator, CliClient) {
    let mut sim = Simulator::new();
    build(&mut sim);
    sim.targets.get_mut("targets").unwrap().version = 2;
    sim.update_snapshot();
    let client = init(name, &sim);
    (sim, client)
}

#[test]
fn stale_local_copy_of_a_delegated_role_is_refused_by_the_search_and_fetched_again() {
    // The snapshot lists neither length nor hashes (python-tuf's default),
    // so only the search can tell the local copy of `a` is no longer the
    // version the snapshot names.
    let (mut sim, client) = repo("stale_delegated_copy", |sim| {
        sim.delegate("targets", "a", &["*"], false);
        sim.add_target("a", "f.bin", b"version one");
    });
    client.download(&["f.bin"], &[]).ok();
    sim.server.take_log();
    sim.add_target("a", "f.bin", b"version two");
    sim.targets.get_mut("a").unwrap().version = 2;
    sim.update_snapshot();
    client.download(&["f.bin"], &[]).ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "3.snapshot.json",
            "2.a.json",
            &target_path("f.bin", &sha256_hex(b"version two")),
        ])
    );
    assert_eq!(
        client.stored("a.json").unwrap(),
        sim.server.get("/metadata/2.a.json").unwrap()
    );
    assert_eq!(
        std::fs::read(client.target_dir.join("f.bin")).unwrap(),
        b"version two"
    );
}

#[test]
fn role_kept_from_an_earlier_search_is_checked_again_against_the_next_delegator() {
    // targets -> a (f*) -> c; targets -> b (g*) -> c, where b names a key
    // that never signed c. The first search trusts c through a; the second
    // reaches c through b, whose keys do not vouch for it. Reusing c's bytes
    // is fine, reusing the verdict is not: the second target is refused.
    let (sim, client) = repo("cache_keyed_by_delegator", |sim| {
        sim.delegate("targets", "a", &["f*"], false);
        sim.delegate("targets", "b", &["g*"], false);
        sim.delegate("a", "c", &["*"], false);
        sim.delegate_with("b", "c", &["*"], false, &[new_key()], 1);
        sim.add_target("c", "f.bin", b"from c via a");
        sim.add_target("c", "g.bin", b"from c via b");
    });
    let run = client.download(&["f.bin", "g.bin"], &[]);
    run.failed();
    assert!(run.stderr.contains("c:"), "{run}");
    assert_eq!(
        sim.server.take_log(),
        paths(&[
            "2.root.json",
            "timestamp.json",
            "2.snapshot.json",
            "2.targets.json",
            "1.a.json",
            "1.c.json",
            &target_path("f.bin", &sha256_hex(b"from c via a")),
            // c is not fetched again: its bytes are kept, its trust is not.
            "1.b.json",
        ])
    );
    assert_eq!(
        client.target_files(),
        ["f.bin".to_owned()].into_iter().collect()
    );
}
