//! `fwsign device pack` refuses slots the device verifier could never
//! accept (a role with more keys than its threshold memory, a trailer
//! larger than its metadata buffer), keeps carrying the roots after
//! `--from-root-version`, and `fwsign device root` writes the role-version
//! floors a device is manufactured with. Which chain a slot carries is
//! decided by the one target search: see `search_table.rs`.

use fwsign_tests::{Run, USAGE};
use serde_json::Value;

use crate::release_support::{FW_NAME, Release, json};

fn pack(r: &Release, target: &str, extra: &[&str]) -> (Run, std::path::PathBuf) {
    let slot = r.scratch.join("slot.bin");
    let _ = std::fs::remove_file(&slot);
    let mut args = vec![
        "--json",
        "device",
        "pack",
        "--repo",
        Release::arg(&r.dir),
        "--target",
        target,
        "--slot-size",
        "0x40000",
        "--out",
        Release::arg(&slot),
    ];
    args.extend_from_slice(extra);
    (r.fw.run(args), slot)
}

#[test]
fn a_role_with_more_keys_than_the_device_checks_is_not_packed() {
    // The device's threshold memory holds 16 key IDs a role (MAX_KEYS_PER_ROLE):
    // it would refuse every slot whose chain has a role with 17.
    let mut r = Release::new("device_pack_keys");
    let keys: Vec<String> = (0..17)
        .map(|i| {
            let name = format!("k{i}");
            r.generate_key(&name);
            name
        })
        .collect();
    r.init();
    r.sign("root", "root1").ok();
    r.sign("root", "root2").ok();
    let publics: Vec<String> = keys
        .iter()
        .map(|k| Release::arg(&r.public(k)).to_owned())
        .collect();
    let mut args = vec![
        "--role",
        "board-a",
        "--threshold",
        "1",
        "--paths",
        "board-a/*",
    ];
    for p in &publics {
        args.push("--key");
        args.push(p);
    }
    r.repo("delegate", &args).ok();
    let file = r.write_file("fw.bin", &[7; 100]);
    r.add(&file, "board-a/fw.bin", "1.0.0", &["--role", "board-a"])
        .ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "bob").ok();
    r.sign("board-a", "k0").ok();
    r.publish().ok();
    let (run, slot) = pack(&r, "board-a/fw.bin", &[]);
    run.code(USAGE)
        .stderr_has("board-a")
        .stderr_has("17 key IDs")
        .stderr_has("16");
    assert!(!slot.exists());
}

#[test]
fn a_trailer_larger_than_the_metadata_buffer_is_not_packed_and_root_updates_stay_optional() {
    let mut r = Release::new("device_pack_buffer");
    r.first_release();
    // Root v2, so slots may carry a root update.
    r.generate_key("root3");
    let add = format!("root={}", Release::arg(&r.public("root3")));
    r.repo("rotate-root", &["--add-key", &add]).ok();
    for k in ["root1", "root2", "root3"] {
        r.sign("root", k).ok();
    }
    r.publish().ok();

    let (run, _) = pack(&r, FW_NAME, &[]);
    run.ok();
    let all = json(&run);
    assert_eq!(all["root_updates"], 2);
    assert_eq!(all["chain"], serde_json::json!(["targets"]));
    let (run, _) = pack(&r, FW_NAME, &["--from-root-version", "1"]);
    run.ok();
    let one = json(&run);
    assert_eq!(one["root_updates"], 1);
    assert!(one["trailer_size"].as_u64() < all["trailer_size"].as_u64());

    // The device copies the trailer into its metadata buffer; a smaller
    // buffer than the trailer is refused with METADATA_TOO_LARGE, so the
    // packer refuses first.
    let trailer = one["trailer_size"].as_u64().unwrap();
    let small = format!("{}", trailer - 1);
    let (run, slot) = pack(
        &r,
        FW_NAME,
        &["--from-root-version", "1", "--metadata-buffer", &small],
    );
    run.code(USAGE)
        .stderr_has("metadata buffer")
        .stderr_has(&trailer.to_string());
    assert!(!slot.exists());
    let exact = trailer.to_string();
    pack(
        &r,
        FW_NAME,
        &["--from-root-version", "1", "--metadata-buffer", &exact],
    )
    .0
    .ok();
}

#[test]
fn device_root_writes_the_floors_a_new_device_starts_from() {
    // Without floors a new device accepts any validly signed targets, also
    // an old one a later release replaced (rollback at manufacturing).
    let mut r = Release::new("device_root_floors");
    r.generate_key("dave");
    r.first_release();
    r.repo(
        "delegate",
        &[
            "--role",
            "board-b",
            "--key",
            Release::arg(&r.public("dave")),
            "--threshold",
            "1",
            "--paths",
            "board-b/*",
        ],
    )
    .ok();
    r.sign("targets", "alice").ok();
    r.sign("targets", "carol").ok();
    r.sign("board-b", "dave").ok();
    r.publish().ok();

    let root_out = r.scratch.join("root.bin");
    let floors = r.scratch.join("floors.txt");
    let run = r.fw.run([
        "--json",
        "device",
        "root",
        "--repo",
        Release::arg(&r.dir),
        "--out",
        Release::arg(&root_out),
        "--floors-out",
        Release::arg(&floors),
    ]);
    run.ok();
    assert_eq!(std::fs::read_to_string(&floors).unwrap(), "targets 2\n");
    assert_eq!(
        json(&run)["floors"],
        serde_json::json!([{"role": "targets", "version": 2}])
    );

    let run = r.fw.run([
        "device",
        "root",
        "--repo",
        Release::arg(&r.dir),
        "--out",
        Release::arg(&root_out),
        "--floors-out",
        Release::arg(&floors),
        "--floors-all-roles",
    ]);
    run.ok();
    assert_eq!(
        std::fs::read_to_string(&floors).unwrap(),
        "targets 2\nboard-b 1\n"
    );
    // The floors are the published versions: those the snapshot lists.
    let snapshot: Value =
        serde_json::from_slice(&std::fs::read(r.metadata("2.snapshot.json")).unwrap()).unwrap();
    assert_eq!(snapshot["signed"]["meta"]["targets.json"]["version"], 2);

    // Without --floors-out nothing else is written, as before.
    std::fs::remove_file(&floors).unwrap();
    r.fw.run([
        "device",
        "root",
        "--repo",
        Release::arg(&r.dir),
        "--out",
        Release::arg(&root_out),
    ])
    .ok();
    assert!(!floors.exists());
    // --floors-all-roles alone is a usage error.
    r.fw.run([
        "device",
        "root",
        "--repo",
        Release::arg(&r.dir),
        "--out",
        Release::arg(&root_out),
        "--floors-all-roles",
    ])
    .code(USAGE);
}

/// An SBOM published beside an image is a target without firmware fields:
/// a slot of it is refused by every device (FIRMWARE_FIELDS_MISSING), so
/// `device pack` must refuse it too rather than let a factory flash a slot
/// that never boots (or a release engineer ship the SBOM as "firmware").
#[test]
fn a_target_without_firmware_fields_is_not_packed_as_a_slot_every_device_refuses() {
    let (r, _, _) = crate::sbom::published_with_sbom("device_pack_sbom");
    let (run, slot) = pack(&r, crate::sbom::SBOM_NAME, &[]);
    run.code(fwsign_tests::SECURITY);
    let doc = json(&run);
    assert_eq!(doc["reason"], "device-refused", "{run}");
    let message = doc["error"].as_str().unwrap_or_default().to_owned() + &run.stderr;
    assert!(message.contains("no firmware fields"), "{run}");
    assert!(message.contains("FIRMWARE_FIELDS_MISSING"), "{run}");
    assert!(!slot.exists(), "nothing written");
    // The image the SBOM describes packs.
    let (run, slot) = pack(&r, FW_NAME, &[]);
    run.ok();
    assert!(slot.exists());
}
