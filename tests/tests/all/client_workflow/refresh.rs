//! The refresh as a whole (spec 5.1 to 5.6 in sequence) and the command
//! line's contract: which requests a refresh makes and which it does not
//! repeat, what it keeps in the metadata directory (the exact bytes, the
//! known names), signatures checked on every role, size caps on every
//! fetch, and usage errors that exit 1 before any request.

use fwsign_tests::simulator::{Body, ENDLESS_LIMIT, Simulator, new_key, run_fwsign};

use crate::client_support::{FIRST_REFRESH, endless_finished, init, paths, started};

#[test]
fn init_stores_the_root_and_first_refresh_fetches_root_timestamp_snapshot_targets() {
    let (sim, client) = started("init_and_first_refresh");
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
    client.refresh().ok();
    assert_eq!(sim.server.take_log(), paths(FIRST_REFRESH));
    assert_eq!(
        client.metadata_files(),
        [
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
        .map(String::from)
        .into()
    );
}

#[test]
fn unchanged_local_metadata_is_reused_not_fetched_again() {
    let (sim, client) = started("reuse_local_metadata");
    client.refresh().ok();
    sim.server.take_log();
    client.refresh().ok();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
}

#[test]
fn metadata_is_stored_as_the_exact_bytes_received() {
    let mut sim = Simulator::new();
    // Indented JSON: valid, not canonical, so a client that re-serialised
    // what it stored would be caught.
    sim.pretty = true;
    sim.update_snapshot();
    let client = init("exact_bytes", &sim);
    client.refresh().ok();
    for (file, served) in [
        ("timestamp.json", "/metadata/timestamp.json"),
        ("snapshot.json", "/metadata/2.snapshot.json"),
        ("targets.json", "/metadata/1.targets.json"),
    ] {
        let served = sim.server.get(served).unwrap();
        assert!(served.contains(&b'\n'), "{file} is served indented");
        assert_eq!(client.stored(file).unwrap(), served, "{file}");
    }
}

#[test]
fn only_the_known_json_names_are_in_the_metadata_dir() {
    let mut sim = Simulator::new();
    sim.delegate("targets", "board-a", &["board-a/*"], false);
    sim.add_target("board-a", "board-a/fw.bin", b"firmware");
    sim.targets.get_mut("targets").unwrap().version += 1;
    sim.update_snapshot();
    sim.root.version += 1;
    sim.publish_root();
    let client = init("known_json_names", &sim);
    client.download(&["board-a/fw.bin"], &[]).ok();
    let json: Vec<String> = client
        .metadata_files()
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(
        json,
        [
            "board-a.json",
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
    );
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(2));
}

#[test]
fn requests_are_get_only_and_a_failed_request_is_not_retried() {
    let (sim, client) = started("no_retries");
    sim.server
        .set("/metadata/timestamp.json", Body::Status(500));
    client.refresh().failed();
    assert_eq!(
        sim.server.take_log(),
        paths(&["2.root.json", "timestamp.json"])
    );
    assert!(!client.metadata_files().contains("timestamp.json"));
}

#[test]
fn metadata_signed_by_the_wrong_key_is_refused_and_not_stored() {
    for role in ["timestamp", "snapshot", "targets"] {
        let (mut sim, client) = started(&format!("wrong_key_{role}"));
        sim.signers.insert(role.into(), vec![new_key()]);
        sim.targets.get_mut("targets").unwrap().version += 1;
        sim.update_snapshot();
        client.refresh().failed();
        assert!(
            !client.metadata_files().contains(&format!("{role}.json")),
            "{role}"
        );
    }
}

#[test]
fn endless_metadata_is_capped() {
    for path in ["/metadata/2.root.json", "/metadata/timestamp.json"] {
        let (sim, client) = started(&format!(
            "endless_metadata_{}",
            path.trim_start_matches("/metadata/").replace('.', "_")
        ));
        sim.server.set(path, Body::Endless);
        client.refresh().failed();
        let sent = endless_finished(&sim, 1);
        assert_eq!(sent.len(), 1, "{path}");
        assert!(
            sent[0] < ENDLESS_LIMIT / 4,
            "{path}: read {} bytes",
            sent[0]
        );
    }
}

#[test]
fn usage_errors_exit_1_without_a_request() {
    let (sim, client) = started("usage_errors");
    let dir = client.metadata_dir.to_str().unwrap();
    let url = sim.metadata_url();
    let tdir = client.target_dir.to_str().unwrap();
    let turl = sim.targets_url();
    let cases: Vec<Vec<&str>> = vec![
        vec!["client"],
        vec!["client", "--metadata-dir", dir],
        vec!["client", "refresh"],
        vec!["client", "--metadata-dir", dir, "refresh"],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "frobnicate",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--bogus",
            "refresh",
        ],
        vec!["client", "--metadata-dir", dir, "init"],
        // download without --target-dir, --target-base-url or a name
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-name",
            "x",
            "--target-base-url",
            &turl,
            "download",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-name",
            "x",
            "--target-dir",
            tdir,
            "download",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-dir",
            tdir,
            "--target-base-url",
            &turl,
            "download",
        ],
        vec![
            "client",
            "--metadata-dir",
            dir,
            "--metadata-url",
            &url,
            "--target-name",
            "x",
            "--target-dir",
            tdir,
            "--target-base-url",
            &turl,
            "download",
            "--installed-counter",
            "minus-one",
        ],
    ];
    for args in cases {
        run_fwsign(&args).failed();
    }
    assert_eq!(sim.server.take_log(), Vec::<String>::new());
}
