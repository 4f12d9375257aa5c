//! Which entry answers for a target name, decided once: one table of
//! (repository layout, target name, expected decision), each row run through
//! every tool that resolves a name, which must all agree.
//!
//! Columns: `fwsign client download` (and python-tuf's ngclient, the
//! reference, when the peer is installed), `fwsign bundle verify` on a
//! bundle carrying every published file and each candidate image (plus
//! `bundle create`), `fwsign device pack`, and the device verifier
//! (`fwsign-bootloader-verify`, the bootloader's own crate, on the host): it
//! boots the slot `device pack` wrote, and refuses every slot an attacker
//! can build by hand from the published metadata whose chain leads to
//! another role's entry.
//!
//! Each row is named after the attack or the layout it pins. The attack of
//! issue 12: the top-level `targets` (2 of 3 approvers) lists
//! `evc-a1/fw.bin` and delegates `evc-a1/*` to a 1-of-1 `nightly` role that
//! lists another image under the same name. Every tool must take the
//! `targets` entry; a bootloader that accepted any chain whose delegations
//! cover the name booted nightly's image.

use std::path::{Path, PathBuf};

use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_bootloader_verify::{
    BootloaderVersion, Device, Flash, FlashError, KEY_TYPES, Reason, SoftwareSha256, StoreError,
    Workspace, verify_slot,
};
use fwsign_client::bundle_archive::{EntrySource, write_bundle};
use fwsign_tests::{SECURITY, USAGE};
use serde_json::Value;

use crate::release_support::{Release, firmware, json, python_fetch};

/// The name every row resolves (a row may list others).
const TARGET: &str = "evc-a1/fw.bin";

/// What every tool must decide for a row's target.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The entry of `lister`, reached through `chain`; the device gets that
    /// chain.
    Chosen {
        lister: &'static str,
        chain: &'static [&'static str],
    },
    /// No role the search visits lists the name: every tool refuses.
    NotFound,
    /// The clients take `lister`'s entry, but the search visits a covering
    /// role that does not list the name before it; a device carrying only
    /// the chain cannot repeat that, so `device pack` refuses, naming the
    /// delegation (`shadow`).
    Shadowed {
        lister: &'static str,
        shadow: &'static str,
    },
}

/// One row: a repository layout, built with the `fwsign` binary, and the
/// decision for [`TARGET`].
struct Row {
    /// The attack or layout (also the scratch directory's name).
    attack: &'static str,
    /// Delegations from `targets`, in order: role (1-of-1, its own key),
    /// path patterns, terminating.
    delegations: &'static [(&'static str, &'static [&'static str], bool)],
    /// Which role lists which name, with the seed of its image.
    listings: &'static [(&'static str, &'static str, u8)],
    expect: Expect,
    /// Roles whose metadata the client must never request for [`TARGET`].
    never_fetched: &'static [&'static str],
    /// The `shadowed-delegation` warnings `repo publish` must print:
    /// (target, the other role covering it).
    warnings: &'static [(&'static str, &'static str)],
}

const TABLE: &[Row] = &[
    Row {
        attack: "nightly_role_shadows_the_targets_entry",
        delegations: &[("nightly", &["evc-a1/*"], false)],
        listings: &[("targets", TARGET, 1), ("nightly", TARGET, 2)],
        expect: Expect::Chosen {
            lister: "targets",
            chain: &["targets"],
        },
        never_fetched: &["nightly"],
        warnings: &[(TARGET, "nightly")],
    },
    Row {
        attack: "terminating_release_role_hides_nightly",
        delegations: &[
            ("release", &["evc-a1/*"], true),
            ("nightly", &["evc-a1/*"], false),
        ],
        listings: &[("release", "evc-a1/other.bin", 3), ("nightly", TARGET, 2)],
        expect: Expect::NotFound,
        never_fetched: &["nightly"],
        warnings: &[("evc-a1/other.bin", "nightly")],
    },
    Row {
        attack: "terminating_release_role_answers_before_nightly",
        delegations: &[
            ("release", &["evc-a1/*"], true),
            ("nightly", &["evc-a1/*"], false),
        ],
        listings: &[("release", TARGET, 1), ("nightly", TARGET, 2)],
        expect: Expect::Chosen {
            lister: "release",
            chain: &["targets", "release"],
        },
        never_fetched: &["nightly"],
        warnings: &[(TARGET, "nightly")],
    },
    Row {
        attack: "covering_role_searched_before_the_lister",
        delegations: &[
            ("beta", &["evc-a1/*"], false),
            ("release", &["evc-a1/*"], false),
        ],
        listings: &[("beta", "evc-a1/beta.bin", 4), ("release", TARGET, 1)],
        expect: Expect::Shadowed {
            lister: "release",
            shadow: "targets delegates beta (paths evc-a1/*)",
        },
        never_fetched: &[],
        warnings: &[(TARGET, "beta"), ("evc-a1/beta.bin", "release")],
    },
    Row {
        attack: "one_delegated_role_owns_the_path",
        delegations: &[
            ("other", &["board-b/*"], false),
            ("release", &["evc-a1/*"], false),
        ],
        listings: &[("release", TARGET, 1)],
        expect: Expect::Chosen {
            lister: "release",
            chain: &["targets", "release"],
        },
        never_fetched: &["other"],
        warnings: &[],
    },
];

fn row(attack: &str) -> &'static Row {
    TABLE
        .iter()
        .find(|r| r.attack == attack)
        .unwrap_or_else(|| panic!("no row {attack}"))
}

/// The image a role lists under a name in a row.
fn image(seed: u8) -> Vec<u8> {
    firmware(seed, 3000 + usize::from(seed) * 7)
}

/// A published repository with the row's layout.
fn build(row: &Row) -> Release {
    let mut r = Release::new(&format!("table_{}", row.attack));
    for (role, ..) in row.delegations {
        r.generate_key(role);
    }
    r.init();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    for (role, paths, terminating) in row.delegations {
        let key = r.public(role);
        let mut args = vec![
            "--role",
            role,
            "--key",
            Release::arg(&key),
            "--threshold",
            "1",
        ];
        args.push("--paths");
        args.extend(paths.iter().copied());
        if *terminating {
            args.push("--terminating");
        }
        r.repo("delegate", &args).ok();
    }
    // A repository stages one file per target name, so a name two roles
    // list is published in a second release (nightly publishing its build
    // of a name the release already lists, as in the attack).
    let mut seen = Vec::new();
    let (first, second): (Vec<_>, Vec<_>) = row.listings.iter().partition(|(_, name, _)| {
        let new = !seen.contains(name);
        seen.push(*name);
        new
    });
    for (role, name, seed) in &first {
        add(&r, role, name, *seed);
    }
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    for (role, ..) in row.delegations {
        r.sign(role, role).ok();
    }
    if !second.is_empty() {
        publish(&r).0.ok();
        for (role, name, seed) in &second {
            add(&r, role, name, *seed);
            r.sign(role, role).ok();
        }
    }
    let (run, published) = publish(&r);
    run.ok();
    check_publish_warnings(row, &run.stderr, &published);
    r
}

fn add(r: &Release, role: &str, name: &str, seed: u8) {
    let file = r.write_file(&format!("{role}-{seed}.bin"), &image(seed));
    r.add(&file, name, "1.0.0", &["--role", role]).ok();
}

fn publish(r: &Release) -> (fwsign_tests::Run, Value) {
    let online = r.key("online");
    r.repo_json(
        "publish",
        &[
            "--snapshot-key",
            Release::arg(&online),
            "--timestamp-key",
            Release::arg(&online),
        ],
    )
}

/// `repo publish` succeeds and warns, in both outputs, about exactly the
/// row's shadowed delegations.
fn check_publish_warnings(row: &Row, stderr: &str, published: &Value) {
    let mut got: Vec<(String, String)> = published["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            assert_eq!(w["reason"], "shadowed-delegation", "{w}");
            (
                w["target"].as_str().unwrap().to_owned(),
                w["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = row
        .warnings
        .iter()
        .map(|(t, r)| ((*t).to_owned(), (*r).to_owned()))
        .collect();
    want.sort();
    assert_eq!(got, want, "{}: publish warnings", row.attack);
    for (target, role) in row.warnings {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("warning: ") && l.contains(target) && l.contains(role)),
            "{}: no human warning for {target} / {role}:\n{stderr}",
            row.attack
        );
    }
}

/// The role whose entry the clients take, if any.
fn lister(expect: Expect) -> Option<&'static str> {
    match expect {
        Expect::Chosen { lister, .. } | Expect::Shadowed { lister, .. } => Some(lister),
        Expect::NotFound => None,
    }
}

/// The image `role` lists under [`TARGET`].
fn image_of(row: &Row, role: &str) -> Vec<u8> {
    let seed = row
        .listings
        .iter()
        .find(|(r, n, _)| *r == role && *n == TARGET)
        .map(|(.., s)| *s)
        .unwrap();
    image(seed)
}

/// Column 1: `fwsign client download`, and python-tuf when installed.
fn client(row: &Row, r: &Release) {
    let server = r.serve();
    let (run, downloads) = r.client_download(&server, "client", TARGET, &[], &[]);
    let root = r.metadata("1.root.json");
    let written = downloads.join("evc-a1%2Ffw.bin");
    match lister(row.expect) {
        Some(lister) => {
            run.ok();
            assert!(
                std::fs::read(&written).unwrap() == image_of(row, lister),
                "{}: the client downloaded another image than {lister}'s",
                row.attack
            );
        }
        None => {
            run.code(SECURITY).stderr_has("not listed");
            assert!(!written.exists());
        }
    }
    let requests = server.requests();
    for role in row.never_fetched {
        let file = format!(".{role}.json");
        assert!(
            !requests.iter().any(|(path, _)| path.ends_with(&file)),
            "{}: the client fetched {role}: {requests:?}",
            row.attack
        );
    }
    if let Some(py) = python_fetch(&server, &root, &[TARGET], &r.workdir("python")) {
        match lister(row.expect) {
            Some(lister) => {
                assert!(py.success, "{}: python-tuf: {}", row.attack, py.stderr);
                assert!(
                    py.targets[0] == image_of(row, lister),
                    "{}: python-tuf took another entry",
                    row.attack
                );
            }
            None => assert!(!py.success, "{}: python-tuf found it", row.attack),
        }
    }
}

/// Every published metadata file, as `metadata/NAME` bundle entries.
fn published_metadata(r: &Release) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(r.dir.join("metadata"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            (format!("metadata/{name}"), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A bundle for [`TARGET`] carrying every published metadata file and
/// `image`: what anyone with the published files can put together.
fn full_bundle(r: &Release, image: &[u8], out: &Path) {
    let manifest = format!("{{\"format_version\": 1, \"target\": \"{TARGET}\"}}\n");
    let metadata = published_metadata(r);
    let mut entries: Vec<(String, EntrySource<'_>)> = vec![(
        "fwsign-bundle.json".to_owned(),
        EntrySource::Bytes(manifest.as_bytes()),
    )];
    entries.extend(
        metadata
            .iter()
            .map(|(name, bytes)| (name.clone(), EntrySource::Bytes(bytes))),
    );
    entries.push((format!("targets/{TARGET}"), EntrySource::Bytes(image)));
    write_bundle(out, &entries).unwrap();
}

/// Column 2: `fwsign bundle verify`, with each image some role lists for the
/// name: only the chosen role's passes. And `bundle create`.
fn bundle(row: &Row, r: &Release) {
    let root = r.metadata("1.root.json");
    let verify = |bundle: &PathBuf| {
        r.fw.run([
            "--json",
            "bundle",
            "verify",
            Release::arg(bundle),
            "--root",
            Release::arg(&root),
            "--hardware-id",
            "evc-a1",
        ])
    };
    for (role, name, seed) in row.listings {
        if *name != TARGET {
            continue;
        }
        let path = r.scratch.join(format!("{role}-image.zip"));
        full_bundle(r, &image(*seed), &path);
        let run = verify(&path);
        match lister(row.expect) {
            Some(lister) if lister == *role => {
                run.ok();
                assert_eq!(json(&run)["role"], *role, "{}", row.attack);
            }
            // Another role's entry answers: this image does not match it.
            Some(_) => {
                run.code(SECURITY).stderr_has("refused");
            }
            None => {
                run.code(SECURITY).stderr_has("not listed");
            }
        }
    }
    let created = r.scratch.join("created.zip");
    let run = r.fw.run([
        "--json",
        "bundle",
        "create",
        Release::arg(&r.dir),
        "--target",
        TARGET,
        "--out",
        Release::arg(&created),
    ]);
    match lister(row.expect) {
        Some(lister) => {
            run.ok();
            assert_eq!(json(&run)["role"], lister, "{}", row.attack);
            verify(&created).ok();
        }
        None => {
            run.code(USAGE).stderr_has("does not list");
        }
    }
}

/// Column 3: `fwsign device pack`.
fn device_pack(row: &Row, r: &Release) -> Option<PathBuf> {
    let slot = r.scratch.join("slot.bin");
    let run = r.fw.run([
        "--json",
        "device",
        "pack",
        "--repo",
        Release::arg(&r.dir),
        "--target",
        TARGET,
        "--slot-size",
        "0x40000",
        "--out",
        Release::arg(&slot),
    ]);
    match row.expect {
        Expect::Chosen { chain, .. } => {
            run.ok();
            let report = json(&run);
            let packed: Vec<&str> = report["chain"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(packed, chain, "{}", row.attack);
            Some(slot)
        }
        Expect::NotFound => {
            run.code(USAGE)
                .stderr_has("no published targets role lists");
            assert!(!slot.exists());
            None
        }
        Expect::Shadowed { shadow, .. } => {
            run.code(SECURITY).stderr_has(shadow);
            assert!(!slot.exists());
            None
        }
    }
}

/// A row through every column.
fn run(row: &Row) {
    let r = build(row);
    client(row, &r);
    bundle(row, &r);
    let slot = device_pack(row, &r);
    device(row, &r, slot.as_deref());
}

/// The newest published version of `role`'s metadata, canonical (as a slot
/// carries it).
fn published_role(r: &Release, role: &str) -> Vec<u8> {
    let suffix = format!(".{role}.json");
    let newest = std::fs::read_dir(r.dir.join("metadata"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let version: u64 = name.strip_suffix(&suffix)?.parse().ok()?;
            Some((version, name))
        })
        .max()
        .unwrap_or_else(|| panic!("{role} is not published"))
        .1;
    let raw = std::fs::read(r.metadata(&newest)).unwrap();
    fwsign_keys::document::CanonicalDocument::from_json(&raw)
        .unwrap()
        .as_bytes()
        .to_vec()
}

struct RamFlash<'a>(&'a [u8]);

impl Flash for RamFlash<'_> {
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError> {
        let start = offset as usize;
        let src = self.0.get(start..start + out.len()).ok_or(FlashError)?;
        out.copy_from_slice(src);
        Ok(())
    }
}

/// The root a device is provisioned with: version 1, canonical.
fn provisioned_root(r: &Release) -> Vec<u8> {
    let raw = std::fs::read(r.metadata("1.root.json")).unwrap();
    fwsign_keys::document::CanonicalDocument::from_json(&raw)
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// What the device verifier decides for `slot`: the image's target role
/// chain, or the reason code.
fn device_decision(r: &Release, slot: &[u8]) -> Result<Vec<String>, Reason> {
    device_decision_with(&provisioned_root(r), slot)
}

fn device_decision_with(root: &[u8], slot: &[u8]) -> Result<Vec<String>, Reason> {
    let device = Device {
        hardware_id: b"evc-a1",
        installed_counter: 0,
        accepted: &[],
        trusted_time: None,
        bootloader_version: BootloaderVersion {
            major: 1,
            minor: 0,
            patch: 0,
        },
    };
    let mut metadata = vec![0u8; 64 * 1024];
    let verified = verify_slot(
        root,
        &mut RamFlash(slot),
        u32::try_from(slot.len()).unwrap(),
        &device,
        &mut metadata,
        &mut Workspace::new(),
        &mut SoftwareSha256::default(),
        &mut |_: &[u8]| -> Result<(), StoreError> { Ok(()) },
        KEY_TYPES,
    )?;
    Ok(verified.roles[..verified.role_count]
        .iter()
        .map(|rv| String::from_utf8(rv.role.to_vec()).unwrap())
        .collect())
}

/// Column 4: the device verifier. The slot `device pack` wrote boots, with
/// the chosen chain; a slot built by hand (as `docs/device-format.md`
/// describes the format) whose chain is `targets` and then any other role
/// listing the name is refused, with the reason the chain deserves: a
/// `targets` that lists the name itself ends the search there
/// (`TargetListedEarlier`); otherwise an earlier covering delegation
/// shadows the hop (`DelegationShadowed`).
fn device(row: &Row, r: &Release, packed: Option<&Path>) {
    if let (Expect::Chosen { chain, .. }, Some(slot)) = (row.expect, packed) {
        let slot = std::fs::read(slot).unwrap();
        assert_eq!(
            device_decision(r, &slot),
            Ok(chain.iter().map(|c| (*c).to_owned()).collect()),
            "{}: the packed slot",
            row.attack
        );
    }
    let targets_lists = row
        .listings
        .iter()
        .any(|(role, name, _)| *role == "targets" && *name == TARGET);
    for (role, name, _) in row.listings {
        let chosen = matches!(row.expect, Expect::Chosen { lister, .. } if lister == *role);
        if *name != TARGET || *role == "targets" || chosen {
            continue;
        }
        let slot = attacker_slot(row, r, role);
        let want = if targets_lists {
            Reason::TargetListedEarlier
        } else {
            Reason::DelegationShadowed
        };
        assert_eq!(
            device_decision(r, &slot),
            Err(want),
            "{}: a hand-built slot through {role}",
            row.attack
        );
    }
}

/// The attacker's slot: `role`'s image, behind `targets` and `role`, each
/// validly signed, built by hand as `docs/device-format.md` describes.
fn attacker_slot(row: &Row, r: &Release, role: &str) -> Vec<u8> {
    let chain = vec![
        ("targets".to_owned(), published_role(r, "targets")),
        (role.to_owned(), published_role(r, role)),
    ];
    build_slot(0x400, 0x40000, &image_of(row, role), TARGET, &[], &chain).unwrap()
}

/// Committed fixtures, `tests/data/<attack>/`: the provisioned root
/// (`root.json`) and the attacker's hand-built slot (`slot.bin`, hardware ID
/// `evc-a1`, installed counter 0), for trying any device verifier (the C
/// example: `verify_example root.json slot.bin evc-a1 0`). Each must be
/// refused with its reason code. `FWSIGN_BLESS=1` writes them anew from a
/// fresh release.
#[test]
fn committed_attack_slots_are_refused() {
    let cases = [
        (
            "nightly_role_shadows_the_targets_entry",
            "nightly-role-shadows-the-targets-entry",
            Reason::TargetListedEarlier,
        ),
        (
            "terminating_release_role_hides_nightly",
            "terminating-release-role-hides-nightly",
            Reason::DelegationShadowed,
        ),
    ];
    for (attack, dir, reason) in cases {
        let dir = crate::peers::workspace_root().join("tests/data").join(dir);
        if std::env::var_os("FWSIGN_BLESS").is_some() {
            let row = row(attack);
            let r = build(row);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("root.json"), provisioned_root(&r)).unwrap();
            std::fs::write(dir.join("slot.bin"), attacker_slot(row, &r, "nightly")).unwrap();
        }
        let root = std::fs::read(dir.join("root.json")).unwrap();
        let slot = std::fs::read(dir.join("slot.bin")).unwrap();
        assert_eq!(
            device_decision_with(&root, &slot),
            Err(reason),
            "{}",
            dir.display()
        );
    }
}

#[test]
fn weaker_nightly_role_cannot_replace_the_image_targets_lists() {
    run(row("nightly_role_shadows_the_targets_entry"));
}

#[test]
fn terminating_delegation_keeps_nightly_from_answering_for_its_paths() {
    run(row("terminating_release_role_hides_nightly"));
}

#[test]
fn terminating_role_that_lists_the_name_answers_before_nightly() {
    run(row("terminating_release_role_answers_before_nightly"));
}

#[test]
fn device_pack_refuses_a_chain_the_device_cannot_search() {
    run(row("covering_role_searched_before_the_lister"));
}

#[test]
fn delegated_role_answers_for_its_own_paths() {
    run(row("one_delegated_role_owns_the_path"));
}

#[test]
fn every_row_has_its_test() {
    // The tests above name the attacks; this keeps a row from being added
    // to the table without being run.
    let source = include_str!("search_table.rs");
    for row in TABLE {
        assert!(
            source.contains(&format!("run(row(\"{}\"))", row.attack)),
            "row {} is not run by a test",
            row.attack
        );
    }
}
