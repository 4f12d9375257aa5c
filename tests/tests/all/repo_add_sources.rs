//! `repo add` from a directory (recursively, names relative to it, with
//! `--prefix`) and from a list (`--files-from FILE` or `-`), one audit line
//! per command, read-only staged files, and the hard link publish makes from
//! a staged file: an edit to the staged copy never reaches clients.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fwsign_tests::{SECURITY, USAGE, fwsign_bin, tree};
use serde_json::Value;

use crate::release_support::{FW_NAME, Release, firmware};

const FIELDS: [&str; 6] = [
    "--hardware-id",
    "evc-a1",
    "--version",
    "2.0.0",
    "--security-counter",
    "1",
];

/// `files/tree/`: a.bin, sub/b.bin, sub/deep/c.bin, with their bytes.
fn source_tree(r: &Release) -> (PathBuf, Vec<(&'static str, Vec<u8>)>) {
    let root = r.scratch.join("files/tree");
    let files = vec![
        ("a.bin", firmware(21, 1000)),
        ("sub/b.bin", firmware(22, 2000)),
        ("sub/deep/c.bin", firmware(23, 3000)),
    ];
    for (rel, bytes) in &files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    (root, files)
}

fn staged_names(r: &Release) -> Vec<String> {
    let staged: Value =
        serde_json::from_slice(&std::fs::read(r.dir.join("staged/targets.json")).unwrap()).unwrap();
    staged["signed"]["targets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn audit_lines(r: &Release) -> Vec<Value> {
    std::fs::read_to_string(r.dir.join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn add(r: &Release, sources: &[&str]) -> fwsign_tests::Run {
    let mut args: Vec<&str> = sources.to_vec();
    args.extend_from_slice(&FIELDS);
    r.repo("add", &args)
}

#[test]
fn a_directory_is_staged_recursively_named_relative_to_it_in_one_audit_line() {
    let r = Release::new("add_directory");
    r.init();
    let (dir, files) = source_tree(&r);
    let lines_before = audit_lines(&r).len();
    add(&r, &[Release::arg(&dir), "--prefix", "v2/"]).ok();
    assert_eq!(
        staged_names(&r),
        ["v2/a.bin", "v2/sub/b.bin", "v2/sub/deep/c.bin"]
    );
    // One line for the command, naming every target with its SHA-256.
    let lines = audit_lines(&r);
    assert_eq!(lines.len(), lines_before + 1, "{lines:?}");
    let stage = lines.last().unwrap();
    assert_eq!(stage["action"], "stage");
    assert_eq!(stage["targets"].as_object().unwrap().len(), 3, "{stage}");
    assert_eq!(
        stage["targets"]["v2/sub/deep/c.bin"],
        fwsign_tests::simulator::sha256_hex(&files[2].1)
    );
    r.repo("audit", &[]).ok();

    r.approve(["alice", "bob"]);
    r.publish().ok();
    let expected: Vec<(String, &[u8])> = files
        .iter()
        .map(|(rel, bytes)| (format!("v2/{rel}"), bytes.as_slice()))
        .collect();
    let expected: Vec<(&str, &[u8])> = expected.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    r.python_gets_published(&expected);
    r.repo("verify", &[]).ok();
    r.repo("audit", &[]).ok();
}

#[test]
fn a_list_names_files_by_relative_path_or_name_equals_path_from_a_file_or_stdin() {
    let r = Release::new("add_files_from");
    r.init();
    r.write_file("x.bin", &firmware(31, 700));
    let y = r.write_file("y.bin", &firmware(32, 800));
    let list = r.scratch.join("list.txt");
    std::fs::write(
        &list,
        format!("./files/x.bin\n\nboard-b/y.bin={}\n", y.display()),
    )
    .unwrap();
    // Paths are relative to the working directory: the scratch directory.
    add(&r, &["--files-from", "list.txt", "--prefix", "p"]).ok();
    assert_eq!(staged_names(&r), ["p/board-b/y.bin", "p/files/x.bin"]);

    // Standard input, together with a FILE argument.
    r.write_file("z.bin", &firmware(33, 900));
    let z = r.write_file("single.bin", &firmware(34, 100));
    let mut child = Command::new(fwsign_bin())
        .current_dir(r.scratch.path())
        .args(["repo", "add", Release::arg(&r.dir), Release::arg(&z)])
        .args(["--files-from", "-"])
        .args(FIELDS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("FWSIGN_TEST_CRASH_AT")
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"files/z.bin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        staged_names(&r),
        [
            "files/z.bin",
            "p/board-b/y.bin",
            "p/files/x.bin",
            "single.bin"
        ]
    );
}

#[test]
fn a_bad_list_line_or_missing_file_is_refused_by_line_and_nothing_is_staged() {
    let r = Release::new("add_files_from_bad");
    r.init();
    r.write_file("x.bin", &firmware(41, 700));
    let staged_before = tree(&r.dir.join("staged")).unwrap();
    std::fs::write(r.scratch.join("abs.txt"), "files/x.bin\n/etc/passwd\n").unwrap();
    add(&r, &["--files-from", "abs.txt"])
        .code(USAGE)
        .stderr_has("abs.txt:2:")
        .stderr_has("NAME=");
    std::fs::write(r.scratch.join("gone.txt"), "files/x.bin\nfiles/gone.bin\n").unwrap();
    add(&r, &["--files-from", "gone.txt"])
        .code(USAGE)
        .stderr_has("files/gone.bin");
    // Two sources naming one target.
    let dir = r.scratch.join("files");
    std::fs::write(r.scratch.join("twice.txt"), "x.bin=files/x.bin\n").unwrap();
    add(&r, &[Release::arg(&dir), "--files-from", "twice.txt"])
        .code(USAGE)
        .stderr_has("x.bin");
    // --name names one file, not a directory.
    add(&r, &[Release::arg(&dir), "--name", "fw.bin"])
        .code(USAGE)
        .stderr_has("--name");
    assert_eq!(tree(&r.dir.join("staged")).unwrap(), staged_before);
}

#[test]
fn a_directory_add_killed_while_copying_lists_nothing_and_the_next_add_cleans_up() {
    let r = Release::new("add_directory_killed");
    r.init();
    let (dir, _) = source_tree(&r);
    let mut args = vec![Release::arg(&dir)];
    args.extend_from_slice(&FIELDS);
    r.repo_env("add", &args, &[("FWSIGN_TEST_CRASH_AT", "add-copying")])
        .killed();
    let staged_files = tree(&r.dir.join("staged/targets")).unwrap();
    assert!(
        !staged_files.is_empty() && staged_files.iter().all(|(p, _)| is_temporary(p)),
        "{staged_files:?}"
    );
    assert!(
        !r.dir.join("staged/targets.json").exists() || staged_names(&r).is_empty(),
        "{:?}",
        staged_names(&r)
    );
    add(&r, &[Release::arg(&dir)]).ok();
    let staged_files = tree(&r.dir.join("staged/targets")).unwrap();
    assert_eq!(staged_files.len(), 3, "{staged_files:?}");
    assert!(!staged_files.iter().any(|(p, _)| is_temporary(p)));
    r.repo("audit", &[]).ok();
}

/// A temporary file, or a file inside a temporary directory (a role's new
/// staged directory, built whole and then renamed into place).
fn is_temporary(path: &Path) -> bool {
    path.components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|n| n.starts_with('.') && n.contains(".fwsign-tmp-"))
    })
}

#[cfg(unix)]
#[test]
fn staged_copy_edited_after_publish_linked_it_never_reaches_clients() {
    use std::os::unix::fs::PermissionsExt;
    let r = Release::new("staged_copy_edited_after_link");
    let v1 = r.first_release();
    let v2 = firmware(51, 6000);
    let file = r.write_file("fw-2.0.0.bin", &v2);
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    let staged = r.dir.join("staged/targets/targets/board-a/fw-2.0.0.bin");
    // Staged read-only: nothing is meant to write to it in place.
    let mode = std::fs::metadata(&staged).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444);
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    let timestamp = std::fs::read(r.metadata("timestamp.json")).unwrap();

    // Publish linked the staged file into targets/ and was killed before
    // the release went live; the attacker then makes the staged copy
    // writable and edits it in place, through the shared inode.
    r.publish_env(&[("FWSIGN_TEST_CRASH_AT", "targets-written")])
        .killed();
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut evil = v2.clone();
    evil[10] ^= 1;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&staged)
        .unwrap()
        .write_all(&evil)
        .unwrap();
    // The publish that would make it live hashes it first: refused.
    r.publish()
        .code(SECURITY)
        .stderr_has("board-a/fw-2.0.0.bin");
    assert!(std::fs::read(r.metadata("timestamp.json")).unwrap() == timestamp);
    r.python_gets_published(&[(FW_NAME, &v1)]);

    // A clean release: once published, writing to the staged path (gone,
    // or recreated) leaves the published file as approved.
    let r = Release::new("staged_copy_edited_after_publish");
    r.first_release();
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    r.publish().ok();
    let staged = r.dir.join("staged/targets/targets/board-a/fw-2.0.0.bin");
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::write(&staged, &evil).unwrap();
    let published = published_file(&r, "board-a", "fw-2.0.0.bin");
    assert!(std::fs::read(published).unwrap() == v2);
    r.python_gets_published(&[("board-a/fw-2.0.0.bin", &v2)]);
    r.repo("verify", &[]).ok();
}

/// The file served for `dir/base` under its SHA-256 consistent name.
fn published_file(r: &Release, dir: &str, base: &str) -> PathBuf {
    let dir = r.dir.join("targets").join(dir);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 64 + 1 + base.len() && n.ends_with(base))
        })
        .unwrap()
}
