//! Target and role names come from users and become file paths: none may
//! point outside the repository, and a symlink planted in the staging area
//! is not followed.

use fwsign_tests::{USAGE, tree};

use crate::release_support::{FW_NAME, Release, firmware};

#[test]
fn target_names_escaping_the_repository_are_refused() {
    let r = Release::new("target_name_escapes");
    r.init();
    let file = r.write_file("evil.bin", &firmware(13, 100));
    for name in [
        "../evil.bin",
        "/abs.bin",
        "board-a/../../evil.bin",
        "a//b.bin",
        "a\\b.bin",
    ] {
        r.add(&file, name, "1.0.0", &[])
            .code(USAGE)
            .stderr_has("name");
    }
    r.repo(
        "add",
        &[
            Release::arg(&file),
            "--prefix",
            "../",
            "--hardware-id",
            "evc-a1",
            "--version",
            "1.0.0",
            "--security-counter",
            "1",
        ],
    )
    .code(USAGE);
    assert!(!r.dir.join("staged/evil.bin").exists());
    assert!(!r.dir.join("evil.bin").exists());
    assert!(!r.scratch.join("evil.bin").exists());
    assert!(!std::path::Path::new("/abs.bin").exists());
    assert!(tree(&r.dir.join("staged/targets")).unwrap().is_empty());
}

#[test]
fn role_names_escaping_the_repository_are_refused() {
    let r = Release::new("role_name_escapes");
    r.init();
    let file = r.write_file("fw.bin", &firmware(14, 100));
    let alice = r.public("alice");
    for role in ["../x", "..", "a/b", "root"] {
        r.repo(
            "delegate",
            &[
                "--role",
                role,
                "--key",
                Release::arg(&alice),
                "--threshold",
                "1",
                "--paths",
                "x/*",
            ],
        )
        .code(USAGE);
    }
    r.add(&file, "x/fw.bin", "1.0.0", &["--role", "../x"])
        .code(USAGE);
    r.sign("../x", "alice").code(USAGE);
    r.repo(
        "export-payload",
        &[
            "--role",
            "../x",
            "--out",
            Release::arg(&r.scratch.join("p")),
        ],
    )
    .code(USAGE);
    assert!(!r.dir.join("x.json").exists());
    assert!(!r.scratch.join("x.json").exists());
}

#[cfg(unix)]
#[test]
fn symlinked_staging_directory_pointing_outside_is_refused() {
    let r = Release::new("symlinked_staging_dir");
    r.init();
    let outside = r.scratch.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let file = r.write_file("fw.bin", &firmware(15, 100));
    // The role's staging directory (staged/targets/<role>/), or a directory
    // inside it, symlinked outside: nothing is written through either.
    let role_dir = r.dir.join("staged/targets/targets");
    std::os::unix::fs::symlink(&outside, &role_dir).unwrap();
    r.add(&file, "board-a/fw.bin", "1.0.0", &[]).code(USAGE);
    std::fs::remove_file(&role_dir).unwrap();
    std::fs::create_dir_all(&role_dir).unwrap();
    std::os::unix::fs::symlink(&outside, role_dir.join("board-a")).unwrap();
    r.add(&file, "board-a/fw.bin", "1.0.0", &[]).code(USAGE);
    assert!(
        tree(&outside).unwrap().is_empty(),
        "fwsign wrote through the symlink: {:?}",
        tree(&outside).unwrap()
    );
    // A symlinked file where the target would go is not written through either.
    std::fs::create_dir_all(role_dir.join("board-b")).unwrap();
    let victim = r.scratch.join("victim.txt");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, role_dir.join("board-b/fw.bin")).unwrap();
    r.add(&file, "board-b/fw.bin", "1.0.0", &[]).code(USAGE);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
}

/// Attack: someone with write access to `targets/` plants a link at the
/// name a new target is about to be published under, so that publish
/// writes (or checks) through it, or a client is served the link's target.
#[cfg(unix)]
#[test]
fn a_link_planted_at_a_targets_published_name_is_refused_not_written_through() {
    use sha2::{Digest, Sha256};
    let r = Release::new("planted_target_link");
    let bytes = firmware(16, 3000);
    r.stage_first(&bytes);
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    let victim = r.scratch.join("victim.txt");
    std::fs::write(&victim, b"keep").unwrap();
    let sha256 = base16ct::lower::encode_string(&Sha256::digest(&bytes));
    let (dir, file) = FW_NAME.rsplit_once('/').unwrap();
    let published = r
        .dir
        .join("targets")
        .join(dir)
        .join(format!("{sha256}.{file}"));
    std::fs::create_dir_all(published.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &published).unwrap();
    r.publish().code(USAGE).stderr_has("symbolic link");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    assert!(
        !r.metadata("timestamp.json").exists(),
        "the release went live"
    );
    // The link removed, the same release publishes.
    std::fs::remove_file(&published).unwrap();
    r.publish().ok();
    assert_eq!(std::fs::read(&published).unwrap(), bytes);
}
