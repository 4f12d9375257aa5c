//! Root rotation: a new root must be signed by a threshold of the old root's
//! keys and of its own, and clients holding only the first root follow the
//! chain to it.

use fwsign_tests::SECURITY;

use crate::release_support::{FW_NAME, Release, firmware, python_gets};
use crate::release_tough::tough_fetch;

#[test]
fn rotated_root_with_a_revoked_key_is_followed_by_python_tuf_and_tough_from_root_one() {
    let mut r = Release::new("root_rotation_followed");
    let v1 = r.first_release();
    r.generate_key("root3");
    let add = format!("root={}", Release::arg(&r.public("root3")));
    let remove = format!("root={}", r.keyid("root2"));
    let (run, out) = r.repo_json("rotate-root", &["--add-key", &add, "--remove-key", &remove]);
    run.ok();
    assert_eq!(out["root_version"], 2, "{run}");

    // Old threshold only (root1 + root2): root3, in the new root, has not signed.
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    r.publish().code(SECURITY).stderr_has(&r.keyid("root3"));
    assert!(!r.metadata("2.root.json").exists());
    r.sign("root", "root3").ok();
    r.publish().ok();
    assert!(r.metadata("2.root.json").is_file());

    // A release under the new root.
    let v2 = firmware(9, 6000);
    let file = r.write_file("fw-2.0.0.bin", &v2);
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.sign("targets", "bob").ok();
    r.sign("targets", "carol").ok();
    r.publish().ok();

    let server = r.serve();
    let root1 = r.metadata("1.root.json");
    let work = r.workdir("python");
    python_gets(
        &server,
        &root1,
        &work,
        &[(FW_NAME, &v1), ("board-a/fw-2.0.0.bin", &v2)],
    );
    // python-tuf (when it ran) now trusts root v2.
    if crate::peers::python().is_some() {
        let trusted = std::fs::read(work.join("metadata/root.json")).unwrap();
        let trusted: serde_json::Value = serde_json::from_slice(&trusted).unwrap();
        assert_eq!(trusted["signed"]["version"], 2);
    }
    let root1_bytes = std::fs::read(&root1).unwrap();
    assert!(tough_fetch(&server, &root1_bytes, "board-a/fw-2.0.0.bin").unwrap() == v2);
    assert!(
        server
            .requests()
            .iter()
            .any(|(p, s)| p == "/metadata/2.root.json" && *s == 200),
        "no client fetched root v2: {:?}",
        server.requests()
    );

    // root2 is revoked: it no longer counts toward root v3.
    r.repo("rotate-root", &["--threshold", "root=2"]).ok();
    r.sign("root", "root2").code(SECURITY);
}

#[test]
fn root_signed_only_by_its_new_keys_is_refused_at_publish() {
    let mut r = Release::new("root_signed_by_new_keys_only");
    let v1 = r.first_release();
    r.generate_key("root3");
    r.generate_key("root4");
    let args = [
        format!("root={}", Release::arg(&r.public("root3"))),
        format!("root={}", Release::arg(&r.public("root4"))),
        format!("root={}", r.keyid("root1")),
        format!("root={}", r.keyid("root2")),
    ];
    r.repo(
        "rotate-root",
        &[
            "--add-key",
            &args[0],
            "--add-key",
            &args[1],
            "--remove-key",
            &args[2],
            "--remove-key",
            &args[3],
        ],
    )
    .ok();
    r.sign("root", "root3").ok();
    r.sign("root", "root4").ok();
    // An attacker holding only the new keys cannot take over the repository.
    let refused = r.publish();
    refused
        .code(SECURITY)
        .stderr_has(&r.keyid("root1"))
        .stderr_has(&r.keyid("root2"));
    assert!(!r.metadata("2.root.json").exists());
    r.sign("root", "root1").ok();
    r.publish().code(SECURITY).stderr_has(&r.keyid("root2"));
    r.sign("root", "root2").ok();
    r.publish().ok();
    assert!(r.metadata("2.root.json").is_file());
    let server = r.serve();
    python_gets(
        &server,
        &r.metadata("1.root.json"),
        &r.workdir("python"),
        &[(FW_NAME, &v1)],
    );
}
