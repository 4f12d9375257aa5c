//! `fwsign repo delegate --hashed-bins N`: a role's targets split over
//! hash-prefixed bins (classic `path_hash_prefixes` delegations, two levels
//! above 16 bins), routed by `repo add --role SET`, approved with `repo sign
//! --role 'SET-*'` (one key unlock for every staged bin), never signed by
//! the online key, and read by python-tuf, tough and `fwsign client`.

use serde_json::Value;

use crate::release_support::{Release, firmware};
use crate::release_tough::tough_fetch;

/// The names the tests add, each to the bin its hash selects.
const NAMES: [&str; 5] = [
    "evc-a1/fw-1.0.0.bin",
    "evc-a1/fw-1.1.0.bin",
    "evc-b2/fw-2.0.0.bin",
    "evc-c3/fw-0.9.0.bin",
    "x/y/z.bin",
];

/// `repo init`, root approved, and 64 bins (8 groups of 8) for the bins
/// approvers dave and erin, 2 of 2.
fn with_bins(test: &str, bins: &str) -> Release {
    let mut release = Release::new(test);
    release.generate_key("dave");
    release.generate_key("erin");
    release.init();
    release.sign("root", "root1").ok();
    release.sign("root", "root2").ok();
    let (dave, erin) = (release.public("dave"), release.public("erin"));
    let (run, out) = release.repo_json(
        "delegate",
        &[
            "--role",
            "bins",
            "--hashed-bins",
            bins,
            "--key",
            Release::arg(&dave),
            "--key",
            Release::arg(&erin),
            "--threshold",
            "2",
        ],
    );
    run.ok();
    assert_eq!(out["ok"], Value::Bool(true), "{out}");
    release
}

fn add_to_bins(release: &Release, names: &[&str], seed: u8) -> Vec<Vec<u8>> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let bytes = firmware(seed.wrapping_add(i as u8), 700 + i);
            let file = release.write_file(&format!("f{seed}-{i}.bin"), &bytes);
            release.add(&file, name, "1.0.0", &["--role", "bins"]).ok();
            bytes
        })
        .collect()
}

fn sign_bins(release: &Release) -> Value {
    let mut last = Value::Null;
    for key in ["dave", "erin"] {
        let key = release.key(key);
        let (run, out) =
            release.repo_json("sign", &["--role", "bins-*", "--key", Release::arg(&key)]);
        run.ok();
        last = out;
    }
    last
}

fn staged_roles(release: &Release) -> Vec<String> {
    let (_, status) = release.repo_json("status", &[]);
    status["staged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["role"].as_str().unwrap().to_owned())
        .collect()
}

fn targets_of(release: &Release, role: &str) -> Value {
    let text = std::fs::read(release.dir.join(format!("staged/{role}.json"))).unwrap();
    serde_json::from_slice::<Value>(&text).unwrap()["signed"].clone()
}

/// 64 bins in two levels: `targets` delegates to 8 groups, each to 8 bins,
/// all terminating, all with the bins' keys; every delegating role stays a
/// few KiB. Targets go to the bin their hash selects; python-tuf, tough and
/// `fwsign client` all download every one.
#[test]
fn a_hashed_bin_repository_is_read_by_python_tuf_tough_and_fwsign() {
    let release = with_bins("hashed_bins_peers", "64");
    let top = targets_of(&release, "targets");
    let groups = top["delegations"]["roles"].as_array().unwrap();
    assert_eq!(groups.len(), 8);
    for group in groups {
        assert_eq!(group["terminating"], Value::Bool(true));
        assert_eq!(group["threshold"], 2);
        assert!(group["path_hash_prefixes"].is_array() && group["paths"].is_null());
    }
    let g0 = targets_of(&release, "bins-g0");
    let bins = g0["delegations"]["roles"].as_array().unwrap();
    assert_eq!(bins.len(), 8);
    assert_eq!(bins[0]["name"], "bins-00");
    // Each delegating role is small next to a device's 16 KiB buffer.
    for role in ["targets", "bins-g0"] {
        let len = std::fs::metadata(release.dir.join(format!("staged/{role}.json")))
            .unwrap()
            .len();
        assert!(len < 6 * 1024, "{role} is {len} bytes");
    }

    let bytes = add_to_bins(&release, &NAMES, 10);
    // Each name sits in exactly the bin TAP 15 computes for 64 bins.
    for name in NAMES {
        let bin = fwsign_core::succinct::bin_for(6, name.as_bytes());
        let role = format!("bins-{bin:02x}");
        assert!(
            targets_of(&release, &role)["targets"].get(name).is_some(),
            "{name} not in {role}"
        );
    }
    release.sign("targets", "alice").ok();
    release.sign("targets", "bob").ok();
    sign_bins(&release);
    release.publish().ok();

    let expected: Vec<(&str, &[u8])> = NAMES
        .iter()
        .zip(&bytes)
        .map(|(n, b)| (*n, b.as_slice()))
        .collect();
    release.python_gets_published(&expected);
    let server = release.serve();
    let root = std::fs::read(release.metadata("1.root.json")).unwrap();
    for (name, want) in &expected {
        assert_eq!(tough_fetch(&server, &root, name).unwrap(), *want, "{name}");
    }
    let client = fwsign_tests::simulator::CliClient::new(
        &release.workdir("fwsign"),
        &server.url("metadata/"),
        &server.url("targets/"),
    );
    client.init(&root).ok();
    let run = client.download(&NAMES, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    let got: Vec<Vec<u8>> = fwsign_tests::tree(&client.target_dir)
        .unwrap()
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    for (name, want) in &expected {
        assert!(
            got.iter().any(|b| b == want),
            "fwsign client did not download {name}"
        );
    }
}

/// Attack: the CI job holding the online key publishes a bin no approver
/// signed (an online-signed bin would let it list any image under any
/// name). `publish` signs only snapshot and timestamp: it refuses, and
/// nothing is published.
#[test]
fn publish_never_signs_a_bin() {
    let release = with_bins("hashed_bins_publish_unsigned", "4");
    add_to_bins(&release, &NAMES[..2], 20);
    release.sign("targets", "alice").ok();
    release.sign("targets", "bob").ok();
    let run = release.publish();
    assert_eq!(run.code, Some(1), "{run}");
    assert!(!release.dir.join("metadata/timestamp.json").exists());
    // One approver of two is not enough either.
    let key = release.key("dave");
    release
        .repo("sign", &["--role", "bins-*", "--key", Release::arg(&key)])
        .ok();
    assert_eq!(release.publish().code, Some(1));
    assert!(!release.dir.join("metadata/timestamp.json").exists());
}

/// `repo sign --role 'bins-*'` signs every staged bin in one command and
/// says what each bin's change lists; a key that is not a bin approver
/// signs none.
#[test]
fn sign_with_a_pattern_signs_every_staged_bin_once() {
    let release = with_bins("hashed_bins_sign_pattern", "4");
    add_to_bins(&release, &NAMES, 30);
    let key = release.key("dave");
    let run = release.repo("sign", &["--role", "bins-*", "--key", Release::arg(&key)]);
    run.ok();
    let text = run.stderr.clone();
    for bin in ["bins-0", "bins-1", "bins-2", "bins-3"] {
        assert!(text.contains(&format!("signed {bin}")), "{text}");
    }
    assert!(text.contains("adds"), "{text}");
    let (_, out) = release.repo_json(
        "sign",
        &[
            "--role",
            "bins-*",
            "--key",
            Release::arg(&release.key("erin")),
        ],
    );
    assert_eq!(out["approvals"].as_array().unwrap().len(), 4);
    // alice approves targets, not bins: refused before anything is signed.
    let alice = release.key("alice");
    let run = release.repo("sign", &["--role", "bins-*", "--key", Release::arg(&alice)]);
    assert_ne!(run.code, Some(0), "{run}");
    assert!(
        release
            .repo(
                "sign",
                &["--role", "nothing-*", "--key", Release::arg(&key)]
            )
            .code
            != Some(0)
    );
}

/// An incremental release re-stages only the bin it changes: not
/// `targets`, not the groups, not the other bins. A bin re-staged so
/// expires in a year.
#[test]
fn a_release_restages_only_the_bins_it_changes() {
    let release = with_bins("hashed_bins_incremental", "64");
    add_to_bins(&release, &NAMES, 40);
    release.sign("targets", "alice").ok();
    release.sign("targets", "bob").ok();
    sign_bins(&release);
    release.publish().ok();
    assert!(staged_roles(&release).is_empty());

    let name = "evc-d4/fw-3.0.0.bin";
    add_to_bins(&release, &[name], 50);
    let bin = format!(
        "bins-{:02x}",
        fwsign_core::succinct::bin_for(6, name.as_bytes())
    );
    assert_eq!(staged_roles(&release), std::slice::from_ref(&bin));
    // A year, not the 90 days of other delegated roles (or of `targets`).
    let published_targets: Value = serde_json::from_slice(
        &std::fs::read(release.dir.join("metadata/1.targets.json")).unwrap(),
    )
    .unwrap();
    let bin_expires = targets_of(&release, &bin)["expires"]
        .as_str()
        .unwrap()
        .to_owned();
    let targets_expires = published_targets["signed"]["expires"].as_str().unwrap();
    assert!(
        bin_expires.as_str() > targets_expires,
        "{bin_expires} vs {targets_expires}"
    );
    sign_bins(&release);
    release.publish().ok();

    // `repo extend --role 'bins-*'` re-stages every bin and group.
    let (run, out) = release.repo_json("extend", &["--role", "bins-*", "--expires", "400d"]);
    run.ok();
    assert_eq!(out["staged"].as_array().unwrap().len(), 64 + 8);
}

// ---- the device -------------------------------------------------------------

/// `repo add NAME --role bins` with the given security counter.
fn add_with_counter(release: &Release, name: &str, seed: u8, counter: &str) -> Vec<u8> {
    let bytes = firmware(seed, 900);
    let file = release.write_file(&format!("c{seed}.bin"), &bytes);
    release
        .repo(
            "add",
            &[
                Release::arg(&file),
                "--name",
                name,
                "--hardware-id",
                "evc-a1",
                "--version",
                "1.0.0",
                "--security-counter",
                counter,
                "--role",
                "bins",
            ],
        )
        .ok();
    bytes
}

fn approve_and_publish(release: &Release) {
    if staged_roles(release).iter().any(|r| r == "targets") {
        release.sign("targets", "alice").ok();
        release.sign("targets", "bob").ok();
    }
    sign_bins(release);
    release.publish().ok();
}

fn pack(release: &Release, target: &str, out: &str) -> Vec<u8> {
    let slot = release.scratch.join(out);
    release
        .fw
        .run([
            "device",
            "pack",
            "--repo",
            Release::arg(&release.dir),
            "--target",
            target,
            "--slot-size",
            "0x40000",
            "--out",
            Release::arg(&slot),
        ])
        .ok();
    std::fs::read(slot).unwrap()
}

struct RamFlash<'a>(&'a [u8]);

impl fwsign_bootloader_verify::Flash for RamFlash<'_> {
    fn read(
        &mut self,
        offset: u32,
        out: &mut [u8],
    ) -> Result<(), fwsign_bootloader_verify::FlashError> {
        let start = offset as usize;
        let src = self
            .0
            .get(start..start + out.len())
            .ok_or(fwsign_bootloader_verify::FlashError)?;
        out.copy_from_slice(src);
        Ok(())
    }
}

/// The device verifier on `slot`: the verified chain (role, version), or
/// the reason code.
fn boot(
    release: &Release,
    slot: &[u8],
    accepted: &[(String, u64)],
    counter: u64,
) -> Result<Vec<(String, u64)>, fwsign_bootloader_verify::Reason> {
    use fwsign_bootloader_verify::{
        AcceptedVersion, BootloaderVersion, Device, KEY_TYPES, SoftwareSha256, StoreError,
        Workspace, verify_slot,
    };
    let raw = std::fs::read(release.metadata("1.root.json")).unwrap();
    let root = fwsign_keys::document::CanonicalDocument::from_json(&raw)
        .unwrap()
        .as_bytes()
        .to_vec();
    let accepted: Vec<AcceptedVersion<'_>> = accepted
        .iter()
        .map(|(role, version)| AcceptedVersion {
            role: role.as_bytes(),
            version: *version,
        })
        .collect();
    let device = Device {
        hardware_id: b"evc-a1",
        installed_counter: counter,
        accepted: &accepted,
        trusted_time: None,
        bootloader_version: BootloaderVersion {
            major: 1,
            minor: 0,
            patch: 0,
        },
    };
    // The device's 16 KiB metadata buffer.
    let mut metadata = vec![0u8; 16 * 1024];
    let verified = verify_slot(
        &root,
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
        .map(|rv| (String::from_utf8(rv.role.to_vec()).unwrap(), rv.version))
        .collect())
}

/// Attack (docs/architecture.md, "Role-version floors with hashed bins"):
/// each release passes through another bin, so a device's 32-role store
/// cannot floor every bin it has seen. The attacker replays an old, validly
/// signed slot whose image the approvers have since withdrawn, through a
/// bin the device keeps no floor for. The floored `targets` and group
/// still name the bins' current keys, so only a genuine old bin verifies,
/// and the image it lists is older than the installed security counter:
/// refused. A `targets` role below its floor is refused outright.
#[test]
fn a_replayed_bin_without_a_floor_is_bounded_by_the_security_counter() {
    let release = with_bins("hashed_bins_device_replay", "64");
    let old = "evc-a1/fw-1.0.0.bin";
    add_with_counter(&release, old, 70, "1");
    approve_and_publish(&release);
    let old_slot = pack(&release, old, "old.bin");

    // The next release: a new image in another bin, and the old one
    // withdrawn from its bin.
    let bin_of = |name: &str| {
        format!(
            "bins-{:02x}",
            fwsign_core::succinct::bin_for(6, name.as_bytes())
        )
    };
    let new = (0..)
        .map(|i| format!("evc-a1/fw-2.0.{i}.bin"))
        .find(|n| bin_of(n) != bin_of(old))
        .unwrap();
    add_with_counter(&release, &new, 71, "2");
    release.repo("remove", &[old, "--role", &bin_of(old)]).ok();
    approve_and_publish(&release);
    let new_slot = pack(&release, &new, "new.bin");

    // The device boots the new image and floors its chain, as the
    // reference store does: targets, the group, the bin.
    let chain = boot(&release, &new_slot, &[], 1).unwrap();
    assert_eq!(chain.len(), 3, "{chain:?}");
    assert_eq!(chain[0].0, "targets");
    assert_eq!(chain[2].0, bin_of(&new));
    assert!(!chain.iter().any(|(role, _)| *role == bin_of(old)));

    // The replay: the old bin has no floor on this device. Its signatures
    // are still good (same keys), so only the counter refuses it.
    assert_eq!(
        boot(&release, &old_slot, &chain, 2).unwrap_err(),
        fwsign_bootloader_verify::Reason::SecurityCounterRollback
    );
    // What the counter bounds: without it the old slot would boot.
    assert!(boot(&release, &old_slot, &chain, 1).is_ok());
    // A delegating role below its floor is refused whatever the counter.
    let mut raised = chain.clone();
    raised[0].1 += 1;
    assert_eq!(
        boot(&release, &new_slot, &raised, 1).unwrap_err(),
        fwsign_bootloader_verify::Reason::TargetsRollback
    );
}
