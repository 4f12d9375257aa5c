//! Where staged target files live: per role (two roles may stage one name
//! with other bytes), and the older layout still publishes.

use super::Repo;

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
