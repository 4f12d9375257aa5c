//! Key backup by K of N custodians (`key backup`, `key restore`, `key
//! reshare`), driven through the binary as a ceremony would: each test is
//! named after the attack or accident it stops.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use fwsign_tests::{Fwsign, IO, OK, Run, SECURITY, Scratch, USAGE};

use crate::release_support::{Release, json};

/// A scratch directory with a key and a runner.
struct Ceremony {
    scratch: Scratch,
    fw: Fwsign,
}

impl Ceremony {
    fn new(test: &str) -> Self {
        let scratch = Scratch::new(test);
        let fw = Fwsign::new(scratch.path());
        Self { scratch, fw }
    }

    /// `key generate --out NAME.pem`, returning the key ID.
    fn key(&self, name: &str) -> String {
        let run = self.fw.run([
            "--json",
            "key",
            "generate",
            "--unencrypted",
            "--out",
            &format!("{name}.pem"),
        ]);
        run.ok();
        json(&run)["keyid"].as_str().unwrap().to_owned()
    }

    /// Backs up `key` as a K-of-N set named `set`: share I goes to
    /// `SET/custodian-I/share.txt` (a directory per custodian, as one
    /// medium each), the blob to `SET/blob.json`.
    fn backup(&self, key: &Path, k: u8, n: u8, set: &str) -> Set {
        let set = Set::new(self.scratch.join(set), n);
        let mut args = set.outputs(k, n);
        args.splice(
            0..0,
            ["--json".into(), "key".into(), "backup".into(), key.into()],
        );
        let run = self.fw.run(args);
        run.ok();
        let doc = json(&run);
        assert_eq!(doc["threshold"], k, "{run}");
        assert_eq!(doc["shares"], n, "{run}");
        Set {
            set_id: doc["set_id"].as_str().unwrap().to_owned(),
            ..set
        }
    }

    /// `key restore` with the given shares of `set`, to `out`,
    /// unencrypted, plus `extra`.
    fn restore(&self, shares: &[&Path], blob: &Path, out: &str, extra: &[&str]) -> Run {
        let mut args: Vec<OsString> = vec!["--json".into(), "key".into(), "restore".into()];
        for share in shares {
            args.extend(["--share".into(), share.into()]);
        }
        args.extend(["--blob".into(), blob.into(), "--out".into(), out.into()]);
        if !extra.contains(&"--passphrase-env") {
            args.push("--unencrypted".into());
        }
        args.extend(extra.iter().map(OsString::from));
        self.fw.run(args)
    }
}

/// One backup set's files.
struct Set {
    dir: PathBuf,
    n: u8,
    set_id: String,
}

impl Set {
    fn new(dir: PathBuf, n: u8) -> Self {
        for i in 1..=n {
            std::fs::create_dir_all(dir.join(format!("custodian-{i}"))).unwrap();
        }
        Self {
            dir,
            n,
            set_id: String::new(),
        }
    }

    fn share(&self, i: u8) -> PathBuf {
        self.dir.join(format!("custodian-{i}/share.txt"))
    }

    fn blob(&self) -> PathBuf {
        self.dir.join("blob.json")
    }

    fn shares(&self, indices: &[u8]) -> Vec<PathBuf> {
        indices.iter().map(|&i| self.share(i)).collect()
    }

    /// `--shares N --threshold K --share-out I=PATH... --blob-out BLOB`.
    fn outputs(&self, k: u8, n: u8) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--shares".into(),
            n.to_string().into(),
            "--threshold".into(),
            k.to_string().into(),
        ];
        for i in 1..=self.n {
            let mut spec = OsString::from(format!("{i}="));
            spec.push(self.share(i));
            args.extend(["--share-out".into(), spec]);
        }
        args.extend(["--blob-out".into(), self.blob().into()]);
        args
    }
}

fn refs(paths: &[PathBuf]) -> Vec<&Path> {
    paths.iter().map(PathBuf::as_path).collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_lost_root_key_comes_back_from_any_three_of_five_custodians_and_signs_for_the_repository() {
    let r = Release::new("key_backup_root");
    let c = Ceremony {
        scratch: Scratch::new("key_backup_root_ceremony"),
        fw: r.fw.clone(),
    };
    let root1 = r.key("root1");
    let set = c.backup(&root1, 3, 5, "root1-set");
    #[cfg(unix)]
    for path in set.shares(&[1, 2, 3, 4, 5]).iter().chain([&set.blob()]) {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    // Each share names its set, index, K, N and key; none holds another's value.
    let share2 = std::fs::read_to_string(set.share(2)).unwrap();
    assert!(share2.contains("share  2 of 5 need 3"), "{share2}");
    assert!(share2.contains(&r.keyid("root1")), "{share2}");

    // The disk holding root1 dies.
    std::fs::remove_file(&root1).unwrap();
    let restored = c.restore(
        &refs(&set.shares(&[2, 4, 5])),
        &set.blob(),
        root1.to_str().unwrap(),
        &[],
    );
    restored.ok();
    assert_eq!(json(&restored)["keyid"], r.keyid("root1").as_str());
    #[cfg(unix)]
    assert_eq!(mode(&root1), 0o600);

    // The restored key signs the first root (root1 and root2 must both sign).
    r.first_release();

    // Another three, checked against the published root, written encrypted.
    let out = c.scratch.join("root1-again.pem");
    let run = c.fw.run_env(
        {
            let mut args: Vec<OsString> = vec!["--json".into(), "key".into(), "restore".into()];
            for share in set.shares(&[1, 2, 3]) {
                args.extend(["--share".into(), share.into()]);
            }
            args.extend([
                "--blob".into(),
                set.blob().into(),
                "--out".into(),
                out.clone().into(),
                "--repo".into(),
                r.dir.clone().into(),
                "--passphrase-env".into(),
                "ROOT1_PASS".into(),
            ]);
            args
        },
        &[("ROOT1_PASS", "correct horse")],
    );
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["encrypted"], true);
    assert!(
        doc["repo_roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "root"),
        "{run}"
    );
    let pem = std::fs::read_to_string(&out).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));

    // A key the repository does not list is refused with --repo.
    // (`c.fw` runs in the release's directory.)
    c.key("stranger");
    let stranger = c.backup(&r.scratch.join("stranger.pem"), 2, 2, "stranger-set");
    let repo = r.dir.to_str().unwrap();
    c.restore(
        &refs(&stranger.shares(&[1, 2])),
        &stranger.blob(),
        "stranger-restored.pem",
        &["--repo", repo],
    )
    .code(SECURITY)
    .stderr_has("not a key of");
    assert!(!r.scratch.join("stranger-restored.pem").exists());
}

#[test]
fn two_custodians_of_a_three_of_five_set_cannot_restore_the_key() {
    let c = Ceremony::new("key_backup_two_of_three");
    c.key("root");
    let set = c.backup(&c.scratch.join("root.pem"), 3, 5, "set");
    c.restore(&refs(&set.shares(&[1, 5])), &set.blob(), "out.pem", &[])
        .code(SECURITY)
        .stderr_has("needs 3");
    assert!(!c.scratch.join("out.pem").exists());
}

#[test]
fn a_share_from_another_set_is_refused() {
    let c = Ceremony::new("key_backup_other_set");
    c.key("root");
    let a = c.backup(&c.scratch.join("root.pem"), 2, 3, "a");
    let b = c.backup(&c.scratch.join("root.pem"), 2, 3, "b");
    let mixed = [a.share(1), b.share(2)];
    c.restore(&refs(&mixed), &a.blob(), "out.pem", &[])
        .code(SECURITY)
        .stderr_has("shares of different sets")
        .stderr_has(&b.set_id);
    c.restore(&refs(&b.shares(&[1, 2])), &a.blob(), "out.pem", &[])
        .code(SECURITY)
        .stderr_has(&format!("share of set {}", b.set_id));
    assert!(!c.scratch.join("out.pem").exists());
}

#[test]
fn one_custodian_s_share_given_twice_counts_once() {
    let c = Ceremony::new("key_backup_repeated");
    c.key("root");
    let set = c.backup(&c.scratch.join("root.pem"), 3, 5, "set");
    let copy = c.scratch.join("copy-of-2.txt");
    std::fs::copy(set.share(2), &copy).unwrap();
    let shares = [set.share(1), set.share(2), copy];
    c.restore(&refs(&shares), &set.blob(), "out.pem", &[])
        .code(SECURITY)
        .stderr_has("share index 2 given twice")
        .stderr_has("copy-of-2.txt");
}

/// The share's text with the line starting with `label` (the first such)
/// changed by `edit`; returns the file's 1-based line number of that line.
fn edit_line(path: &Path, label: &str, edit: impl FnOnce(&str) -> String) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.iter().position(|l| l.starts_with(label)).unwrap();
    lines[n] = edit(&lines[n]);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    n + 1
}

#[test]
fn a_digit_miscopied_by_hand_is_refused_naming_the_file_and_line() {
    let c = Ceremony::new("key_backup_miscopied");
    c.key("root");
    let set = c.backup(&c.scratch.join("root.pem"), 2, 3, "set");
    let line = edit_line(&set.share(3), "value", |l| {
        // One digit of the value, not the checksum, changed.
        let pos = l
            .find(|ch: char| ch.is_ascii_hexdigit() && ch != 'a')
            .unwrap()
            + 7;
        let mut s = l.to_owned();
        let old = s.as_bytes()[pos];
        s.replace_range(pos..=pos, if old == b'0' { "1" } else { "0" });
        s
    });
    c.restore(&refs(&set.shares(&[1, 3])), &set.blob(), "out.pem", &[])
        .code(USAGE)
        .stderr_has(&format!(
            "custodian-3/share.txt: line {line}: checksum mismatch"
        ));
}

#[test]
fn a_forged_share_with_consistent_checksums_is_refused_by_the_commitment_check() {
    // Checksums only catch copying errors: anyone can recompute them. Here
    // the value lines of share 2 come from share 2 of another backup of
    // the same key, so every line checksum is valid, and the header (set
    // ID, commitments hash) is the real set's.
    let c = Ceremony::new("key_backup_forged");
    c.key("root");
    let real = c.backup(&c.scratch.join("root.pem"), 2, 3, "real");
    let other = c.backup(&c.scratch.join("root.pem"), 2, 3, "other");
    let donor = std::fs::read_to_string(other.share(2)).unwrap();
    let donor_values: Vec<&str> = donor.lines().filter(|l| l.starts_with("value")).collect();
    let forged = c.scratch.join("forged-2.txt");
    let real_text = std::fs::read_to_string(real.share(2)).unwrap();
    let mut values = donor_values.iter();
    let text: Vec<String> = real_text
        .lines()
        .map(|l| {
            if l.starts_with("value") {
                (*values.next().unwrap()).to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&forged, text.join("\n")).unwrap();
    let check = |share: &Path| {
        c.fw.run([
            "key".as_ref(),
            "check-share".as_ref(),
            "--share".as_ref(),
            share.as_os_str(),
            "--blob".as_ref(),
            real.blob().as_os_str(),
        ])
    };
    // Custodian 2 checks their real share alone; the forgery fails the same check.
    check(&real.share(2)).ok();
    check(&forged)
        .code(SECURITY)
        .stderr_has("forged-2.txt: share 2 fails the commitment check");
    let shares = [real.share(1), forged];
    c.restore(&refs(&shares), &real.blob(), "out.pem", &[])
        .code(SECURITY)
        .stderr_has("forged-2.txt: share 2 fails the commitment check");
    assert!(!c.scratch.join("out.pem").exists());
}

#[test]
fn a_tampered_blob_is_refused() {
    let c = Ceremony::new("key_backup_tampered_blob");
    c.key("root");
    let set = c.backup(&c.scratch.join("root.pem"), 2, 3, "set");
    let mut blob: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.blob()).unwrap()).unwrap();
    let ct = blob["ciphertext"].as_str().unwrap().to_owned();
    // Flip one base64 character in the middle of the sealed key.
    let mid = ct.len() / 2;
    let swapped = if &ct[mid..=mid] == "A" { "B" } else { "A" };
    blob["ciphertext"] = format!("{}{swapped}{}", &ct[..mid], &ct[mid + 1..]).into();
    std::fs::write(set.blob(), blob.to_string()).unwrap();
    c.restore(&refs(&set.shares(&[2, 3])), &set.blob(), "out.pem", &[])
        .code(SECURITY)
        .stderr_has("blob.json: the sealed key does not decrypt");
    assert!(!c.scratch.join("out.pem").exists());
}

#[test]
fn after_a_reshare_the_departed_custodians_old_shares_do_not_open_the_new_blob() {
    let c = Ceremony::new("key_backup_reshare");
    let keyid = c.key("root");
    let old = c.backup(&c.scratch.join("root.pem"), 2, 3, "old");
    let new = Set::new(c.scratch.join("new"), 4);
    let mut args: Vec<OsString> = vec!["--json".into(), "key".into(), "reshare".into()];
    for share in old.shares(&[1, 3]) {
        args.extend(["--share".into(), share.into()]);
    }
    args.extend(["--blob".into(), old.blob().into()]);
    args.extend(new.outputs(3, 4));
    let run = c.fw.run(args);
    run.ok();
    let doc = json(&run);
    assert_eq!(doc["old_set_id"], old.set_id.as_str());
    assert_ne!(doc["set_id"], old.set_id.as_str());
    assert_eq!(doc["keyid"], keyid.as_str());
    c.restore(&refs(&new.shares(&[1, 2, 4])), &new.blob(), "new.pem", &[])
        .ok();
    // The departed custodian kept share 2 of the old set: with the other
    // old shares it no longer opens anything but the old blob.
    c.restore(&refs(&old.shares(&[1, 2, 3])), &new.blob(), "out.pem", &[])
        .code(SECURITY)
        .stderr_has("share of set");
    assert!(!c.scratch.join("out.pem").exists());
    // They do still open the old blob: that is why the ceremony destroys
    // every copy of it (docs/key-ceremony.md).
    c.restore(&refs(&old.shares(&[1, 2])), &old.blob(), "old.pem", &[])
        .ok();
}

#[test]
fn a_backup_never_overwrites_a_file_nor_leaves_a_partial_set() {
    let c = Ceremony::new("key_backup_partial");
    c.key("root");
    let set = Set::new(c.scratch.join("set"), 3);
    std::fs::write(set.share(3), "custodian 3's old share").unwrap();
    let backup = |outputs: Vec<OsString>| {
        let mut args: Vec<OsString> = vec!["key".into(), "backup".into(), "root.pem".into()];
        args.extend(outputs);
        c.fw.run(args)
    };
    backup(set.outputs(2, 3))
        .code(USAGE)
        .stderr_has("already exists");
    assert!(!set.share(1).exists() && !set.blob().exists());
    assert_eq!(
        std::fs::read_to_string(set.share(3)).unwrap(),
        "custodian 3's old share"
    );
    std::fs::remove_file(set.share(3)).unwrap();
    // A share without a path, K = 1, and --print off a terminal are refused
    // before anything is written.
    let mut missing = set.outputs(2, 3);
    let at = missing
        .iter()
        .position(|a| a.to_string_lossy().starts_with("2="))
        .unwrap();
    missing.drain(at - 1..=at);
    backup(missing)
        .code(USAGE)
        .stderr_has("no path for share 2");
    backup(set.outputs(1, 3))
        .code(USAGE)
        .stderr_has("at least 2");
    backup(vec![
        "--shares".into(),
        "3".into(),
        "--threshold".into(),
        "2".into(),
        "--print".into(),
        "--blob-out".into(),
        set.blob().into(),
    ])
    .code(USAGE)
    .stderr_has("--print needs a terminal");
    assert!(!set.share(1).exists() && !set.blob().exists());
    // A key in an HSM cannot be read out to be split.
    let mut hsm = set.outputs(2, 3);
    hsm.splice(
        0..0,
        [
            "key".into(),
            "backup".into(),
            "pkcs11:token=root;object=root-1".into(),
        ],
    );
    c.fw.run(hsm).code(USAGE).stderr_has("non-extractable");
    // Custodian 2's medium is missing when the shares are written: the
    // blob and share 1, already written, are removed again.
    std::fs::remove_dir(set.share(2).parent().unwrap()).unwrap();
    backup(set.outputs(2, 3)).code(IO).stderr_has("custodian-2");
    assert!(!set.share(1).exists() && !set.blob().exists());
    std::fs::create_dir(set.share(2).parent().unwrap()).unwrap();
    let run = backup(set.outputs(2, 3));
    assert_eq!(run.code, Some(OK), "{run}");
}

#[test]
fn a_restored_key_is_never_written_in_the_clear_or_over_a_file_unless_asked() {
    let c = Ceremony::new("key_backup_restore_output");
    c.key("root");
    let set = c.backup(&c.scratch.join("root.pem"), 2, 3, "set");
    let restore = |out: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args: Vec<OsString> = vec!["key".into(), "restore".into()];
        for share in set.shares(&[1, 2]) {
            args.extend(["--share".into(), share.into()]);
        }
        args.extend([
            "--blob".into(),
            set.blob().into(),
            "--out".into(),
            out.into(),
        ]);
        args.extend(extra.iter().map(OsString::from));
        c.fw.run_env(args, env)
    };
    // Off a terminal, with neither option: refused, naming both.
    restore("out.pem", &[], &[])
        .code(USAGE)
        .stderr_has("--passphrase-env")
        .stderr_has("--unencrypted");
    restore("out.pem", &["--passphrase-env", "EMPTY"], &[("EMPTY", "")])
        .code(USAGE)
        .stderr_has("empty passphrase");
    assert!(!c.scratch.join("out.pem").exists());
    // An existing file is never replaced.
    std::fs::write(c.scratch.join("taken.pem"), "someone's key").unwrap();
    restore("taken.pem", &["--unencrypted"], &[])
        .code(USAGE)
        .stderr_has("already exists");
    assert_eq!(
        std::fs::read_to_string(c.scratch.join("taken.pem")).unwrap(),
        "someone's key"
    );
}

#[test]
fn an_encrypted_key_is_backed_up_only_with_its_passphrase() {
    let c = Ceremony::new("key_backup_encrypted");
    let pass = [("ROOT_PASS", "correct horse battery staple")];
    let run = c.fw.run_env(
        [
            "--json",
            "key",
            "generate",
            "--out",
            "root.pem",
            "--passphrase-env",
            "ROOT_PASS",
        ],
        &pass,
    );
    run.ok();
    let keyid = json(&run)["keyid"].as_str().unwrap().to_owned();
    let set = Set::new(c.scratch.join("set"), 3);
    let backup = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args: Vec<OsString> = vec![
            "--json".into(),
            "key".into(),
            "backup".into(),
            "root.pem".into(),
        ];
        args.extend(set.outputs(2, 3));
        args.extend(extra.iter().map(OsString::from));
        c.fw.run_env(args, env)
    };
    backup(&[], &[]).code(USAGE).stderr_has("is encrypted");
    assert!(!set.blob().exists() && !set.share(1).exists());
    backup(&["--passphrase-env", "ROOT_PASS"], &pass).ok();
    let restored = c.restore(
        &refs(&set.shares(&[1, 3])),
        &set.blob(),
        "restored.pem",
        &[],
    );
    restored.ok();
    assert_eq!(json(&restored)["keyid"], keyid.as_str());
}
