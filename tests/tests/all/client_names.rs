//! Names that would make `fwsign client` write where it must not: target
//! names that are not files of their own in the target directory, and
//! delegated roles whose local file would be another trusted role's on a
//! case-insensitive file system (macOS, Windows: `Root.json` is
//! `root.json`). Both are refused before the file system is touched.

use fwsign_tests::simulator::{CliClient, Simulator};

use crate::client_support::{init, paths};

/// A repository built by `build`, with `targets` v2 and a new snapshot, and
/// a client initialised with root v1.
fn repo(name: &str, build: impl FnOnce(&mut Simulator)) -> (Simulator, CliClient) {
    let mut sim = Simulator::new();
    build(&mut sim);
    sim.targets.get_mut("targets").unwrap().version = 2;
    sim.update_snapshot();
    let client = init(name, &sim);
    (sim, client)
}

/// The requests before any delegated role.
fn top_level() -> Vec<String> {
    paths(&[
        "2.root.json",
        "timestamp.json",
        "2.snapshot.json",
        "2.targets.json",
    ])
}

#[test]
fn dot_dot_and_empty_target_names_are_refused_before_any_request_or_write() {
    // Written as `quote(name)` in the target directory, `..` would be its
    // parent, `.` and the empty name the directory itself.
    let (sim, client) = repo("target_names_dot", |sim| {
        sim.add_target("targets", "fw.bin", b"firmware");
    });
    std::fs::create_dir_all(&client.target_dir).unwrap();
    for name in ["..", ".", ""] {
        let run = client.download(&[name], &[]);
        run.failed();
        assert!(run.stderr.contains("target name"), "{run}");
        assert_eq!(sim.server.take_log(), Vec::<String>::new(), "{name:?}");
        // Not even a refresh ran: nothing stored beyond the trusted root.
        assert_eq!(client.metadata_files(), ["root.json".to_owned()].into());
    }
    // One bad name among good ones refuses the run before it starts.
    client.download(&["fw.bin", ".."], &[]).failed();
    assert_eq!(sim.server.take_log(), Vec::<String>::new());
    assert!(client.target_files().is_empty());
    client.download(&["fw.bin"], &[]).ok();
}

#[test]
fn delegated_role_named_like_root_but_for_case_cannot_overwrite_the_trusted_root() {
    // `Root.json` is `root.json` on a case-insensitive file system: storing
    // the delegated role would replace the trusted root.
    let (sim, client) = repo("role_case_root", |sim| {
        sim.delegate("targets", "Root", &["*"], false);
        sim.add_target("Root", "f.bin", b"firmware");
    });
    client.download(&["f.bin"], &[]).failed();
    // Refused before its metadata is fetched or any file written.
    assert_eq!(sim.server.take_log(), top_level());
    assert!(!client.metadata_files().contains("Root.json"));
    assert_eq!(client.stored("root.json").unwrap(), sim.root_bytes(1));
    assert!(client.target_files().is_empty());
}

#[test]
fn delegated_roles_differing_only_in_case_cannot_share_one_local_file() {
    // `board` is trusted and stored as board.json; `BOARD` would be stored in
    // the same file on a case-insensitive file system.
    let (sim, client) = repo("role_case_pair", |sim| {
        sim.delegate("targets", "board", &["*"], false);
        sim.delegate("targets", "BOARD", &["*"], false);
        sim.add_target("BOARD", "f.bin", b"firmware");
    });
    let run = client.download(&["f.bin"], &[]);
    run.failed();
    assert!(run.stderr.contains("\"BOARD\""), "{run}");
    let mut expected = top_level();
    expected.extend(paths(&["1.board.json"]));
    assert_eq!(sim.server.take_log(), expected);
    assert!(client.metadata_files().contains("board.json"));
    assert!(!client.metadata_files().contains("BOARD.json"));
    assert!(client.target_files().is_empty());
}

#[test]
fn delegated_role_named_like_targets_but_for_case_is_refused() {
    let (sim, client) = repo("role_case_targets", |sim| {
        sim.delegate("targets", "TARGETS", &["*"], false);
        sim.add_target("TARGETS", "f.bin", b"firmware");
    });
    client.download(&["f.bin"], &[]).failed();
    assert_eq!(sim.server.take_log(), top_level());
    assert!(!client.metadata_files().contains("TARGETS.json"));
    assert_eq!(
        client.stored("targets.json").unwrap(),
        sim.server.get("/metadata/2.targets.json").unwrap()
    );
}
