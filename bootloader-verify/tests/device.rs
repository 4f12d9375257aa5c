//! The device verifier on the host, against slots built from real
//! repositories in an in-RAM flash. Each test is named after what it stops.

#![cfg(feature = "std")]
#![allow(
    clippy::unwrap_used,
    reason = "a broken fixture should fail the test loudly"
)]
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic,
    clippy::expect_used,
    reason = "test code"
)]

use fwsign_bootloader_verify::boot_select::{self, SlotFacts, SlotState};
use fwsign_bootloader_verify::slot::pack::build_slot;
use fwsign_bootloader_verify::{
    AcceptedVersion, BootloaderVersion, Device, Flash, FlashError, KEY_TYPES, Reason,
    SoftwareSha256, StoreError, Workspace, verify_slot,
};
use fwsign_keys::Algorithm;
use fwsign_keys::document::sign;
use fwsign_manifest_schema::metadata::{Signed, Targets};
use fwsign_repo::staging::RotateOptions;

#[path = "support/release_fixture.rs"]
mod release_fixture;

use release_fixture::{
    NOW, Release, add, add_needing, image, key, release, release_with, shadowing_release,
};

const SLOT: u32 = 0x20000;

struct RamFlash<'a>(&'a [u8]);

impl Flash for RamFlash<'_> {
    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError> {
        let start = offset as usize;
        let src = self.0.get(start..start + out.len()).ok_or(FlashError)?;
        out.copy_from_slice(src);
        Ok(())
    }
}

fn slot_for(r: &Release, target: &str) -> Vec<u8> {
    let m = r.repo.device_material(target, 1).unwrap();
    let image = std::fs::read(&m.image).unwrap();
    build_slot(0x400, SLOT, &image, target, &m.roots, &m.chain).unwrap()
}

fn root_v1(r: &Release) -> Vec<u8> {
    r.repo.published_roots().unwrap().remove(0).1
}

fn device<'a>(accepted: &'a [AcceptedVersion<'a>], counter: u64) -> Device<'a> {
    Device {
        hardware_id: b"evc-a1",
        installed_counter: counter,
        accepted,
        trusted_time: Some(NOW),
        bootloader_version: BOOTLOADER,
    }
}

/// The test devices' bootloader: 1.0.0.
const BOOTLOADER: BootloaderVersion = BootloaderVersion {
    major: 1,
    minor: 0,
    patch: 0,
};

fn check(root: &[u8], slot: &[u8], device: &Device<'_>) -> Result<(u64, String), Reason> {
    let mut metadata = vec![0u8; 64 * 1024];
    let mut stored: Option<Vec<u8>> = None;
    let result = verify_slot(
        root,
        &mut RamFlash(slot),
        SLOT,
        device,
        &mut metadata,
        &mut Workspace::new(),
        &mut SoftwareSha256::default(),
        &mut |r: &[u8]| -> Result<(), StoreError> {
            stored = Some(r.to_vec());
            Ok(())
        },
        KEY_TYPES,
    );
    result.map(|v| {
        let version = String::from_utf8(v.version.to_vec()).expect("the version is UTF-8");
        (v.security_counter, version)
    })
}

#[test]
fn valid_two_of_three_release_boots() {
    let r = release("valid");
    let slot = slot_for(&r, "evc-a1/fw.bin");
    let (counter, version) = check(&root_v1(&r), &slot, &device(&[], 5)).unwrap();
    assert_eq!((counter, version.as_str()), (5, "1.2.0"));
    // Through the delegation too.
    let slot = slot_for(&r, "board-a/fw.bin");
    check(&root_v1(&r), &slot, &device(&[], 0)).unwrap();
}

#[test]
fn tampered_image_is_refused() {
    let r = release("tampered");
    let mut slot = slot_for(&r, "evc-a1/fw.bin");
    slot[0x400 + 100] ^= 1;
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::ImageHashMismatch)
    );
}

fn without_one_signature(envelope: &[u8]) -> Vec<u8> {
    let mut v = fwsign_manifest_schema::parse::parse_json(envelope).unwrap();
    v["signatures"].as_array_mut().unwrap().pop();
    fwsign_manifest_schema::canonical::to_canonical_vec(&v).unwrap()
}

#[test]
fn one_approval_of_two_is_refused() {
    let r = release("one-approval");
    let m = r.repo.device_material("evc-a1/fw.bin", 1).unwrap();
    let mut chain = m.chain.clone();
    chain[0].1 = without_one_signature(&chain[0].1);
    let image = std::fs::read(&m.image).unwrap();
    let slot = build_slot(0x400, SLOT, &image, "evc-a1/fw.bin", &m.roots, &chain).unwrap();
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::TargetsNotSigned)
    );
}

#[test]
fn wrong_hardware_id_is_refused() {
    let r = release("hwid");
    let slot = slot_for(&r, "evc-a1/fw.bin");
    let d = Device {
        hardware_id: b"evc-b2",
        ..device(&[], 0)
    };
    assert_eq!(
        check(&root_v1(&r), &slot, &d),
        Err(Reason::HardwareIdMismatch)
    );
}

#[test]
fn security_counter_rollback_is_refused() {
    let r = release("counter");
    let slot = slot_for(&r, "evc-a1/fw.bin");
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 6)),
        Err(Reason::SecurityCounterRollback)
    );
}

#[test]
fn targets_role_older_than_last_accepted_is_refused() {
    // Replay: the device already accepted targets v3.
    let r = release("replay");
    let slot = slot_for(&r, "evc-a1/fw.bin");
    let accepted = [AcceptedVersion {
        role: b"targets",
        version: 3,
    }];
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&accepted, 0)),
        Err(Reason::TargetsRollback)
    );
}

#[test]
fn delegated_role_signing_outside_its_paths_is_refused() {
    // board-a's approvers sign an image for board-b; their signatures are
    // valid, but the delegation covers board-a/* only.
    let r = release("outside");
    let m = r.repo.device_material("board-a/fw.bin", 1).unwrap();
    let published = r.repo.published().unwrap().unwrap();
    let mut board: Signed<Targets> = published.targets["board-a"].clone();
    let entry = board.signed.targets["board-a/fw.bin"].clone();
    board.signed.targets.insert("board-b/fw.bin".into(), entry);
    board.signatures.clear();
    for k in &r.board {
        sign(&mut board, k).unwrap();
    }
    let mut chain = m.chain.clone();
    chain[1].1 = fwsign_manifest_schema::canonical::to_canonical_bytes(&board).unwrap();
    let image = std::fs::read(&m.image).unwrap();
    let slot = build_slot(0x400, SLOT, &image, "board-b/fw.bin", &m.roots, &chain).unwrap();
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::PathNotDelegated)
    );
}

#[test]
fn key_rotated_out_by_a_newer_root_is_refused() {
    // Root v2 removes approver 0 from targets and targets is re-approved
    // under it. Replaying the old targets (signed by approvers 0 and 1) with
    // root v2 must fail: approver 0's key no longer counts.
    let r = release("rotated");
    let old = r.repo.device_material("evc-a1/fw.bin", 1).unwrap();
    let extra = key(Algorithm::EcdsaP256);
    r.repo
        .rotate_root(
            &RotateOptions {
                add: vec![("targets".into(), extra.public_key().clone())],
                remove: vec![("targets".into(), r.approvers[0].public_key().keyid())],
                ..RotateOptions::default()
            },
            NOW,
        )
        .unwrap();
    for k in &r.root_keys {
        r.repo.sign("root", k, NOW).unwrap();
    }
    r.repo.extend("targets", 90 * 86_400, NOW).unwrap();
    r.repo.sign("targets", &r.approvers[1], NOW).unwrap();
    r.repo.sign("targets", &extra, NOW).unwrap();
    r.repo
        .publish(&r.online, &r.online, NOW, &mut |_| {})
        .unwrap();
    // The current release boots on a device that still has root v1...
    let current = slot_for(&r, "evc-a1/fw.bin");
    check(&root_v1(&r), &current, &device(&[], 0)).unwrap();
    // ...and the replayed one does not.
    let new = r.repo.device_material("evc-a1/fw.bin", 1).unwrap();
    let image = std::fs::read(&old.image).unwrap();
    let replay = build_slot(0x400, SLOT, &image, "evc-a1/fw.bin", &new.roots, &old.chain).unwrap();
    assert_eq!(
        check(&root_v1(&r), &replay, &device(&[], 0)),
        Err(Reason::TargetsNotSigned)
    );
}

#[test]
fn truncated_and_garbage_slots_are_refused() {
    let r = release("garbage");
    let slot = slot_for(&r, "evc-a1/fw.bin");
    let root = root_v1(&r);
    let mut truncated = slot.clone();
    let cut = truncated.len() - 40;
    truncated.truncate(cut);
    truncated.resize(SLOT as usize, 0xff);
    // The end of the last envelope is gone: its metadata no longer parses.
    assert_eq!(
        check(&root, &truncated, &device(&[], 0)),
        Err(Reason::TargetsMalformed)
    );
    // A trailer cut inside its own prefix has no entries left: no target.
    let mut short = slot[..0x400 + 5000 + 6].to_vec();
    short.resize(SLOT as usize, 0);
    assert_eq!(
        check(&root, &short, &device(&[], 0)),
        Err(Reason::NoTargetName)
    );
    // A trailer cut before its magic is malformed.
    let mut no_trailer = slot[..0x400 + 5000].to_vec();
    no_trailer.resize(SLOT as usize, 0);
    assert_eq!(
        check(&root, &no_trailer, &device(&[], 0)),
        Err(Reason::TrailerMalformed)
    );
    let garbage: Vec<u8> = (0..SLOT).map(|i| (i * 7 + 3) as u8).collect();
    assert_eq!(
        check(&root, &garbage, &device(&[], 0)),
        Err(Reason::SlotEmpty)
    );
    let erased = vec![0xffu8; SLOT as usize];
    assert_eq!(
        check(&root, &erased, &device(&[], 0)),
        Err(Reason::SlotEmpty)
    );
    // Every truncation point of the real slot is refused without a panic.
    for len in (0..slot.len()).step_by(97) {
        let mut s = slot[..len].to_vec();
        s.resize(SLOT as usize, 0);
        assert!(check(&root, &s, &device(&[], 0)).is_err(), "len {len}");
    }
}

/// Where the trailer entry of `kind` named `name` keeps its name.
fn entry_name_at(slot: &[u8], kind: u8, name: &[u8]) -> usize {
    let len = u16::try_from(name.len()).unwrap().to_le_bytes();
    let prefix = [kind, 0, len[0], len[1]];
    (0..slot.len() - 8 - name.len())
        .find(|&i| slot[i..i + 4] == prefix && &slot[i + 8..i + 8 + name.len()] == name)
        .map(|i| i + 8)
        .expect("the entry is in the slot")
}

/// The device never makes `&str`s of the names a slot carries (see
/// `Device`); names that are not UTF-8 are still refused, with the same
/// codes as when it did: a target name as no target, a role name as a
/// malformed targets role.
#[test]
fn slot_names_that_are_not_utf8_are_refused() {
    let r = release("utf8-names");
    let slot = slot_for(&r, "evc-a1/fw.bin");
    let root = root_v1(&r);

    let mut bad_target = slot.clone();
    bad_target[entry_name_at(&slot, 1, b"evc-a1/fw.bin")] = 0xff;
    assert_eq!(
        check(&root, &bad_target, &device(&[], 0)),
        Err(Reason::NoTargetName)
    );

    let mut bad_role = slot.clone();
    bad_role[entry_name_at(&slot, 3, b"targets")] = 0xff;
    assert_eq!(
        check(&root, &bad_role, &device(&[], 0)),
        Err(Reason::TargetsMalformed)
    );
}

#[test]
fn metadata_larger_than_the_buffer_is_a_named_refusal() {
    let r = release("small-buffer");
    let slot = slot_for(&r, "evc-a1/fw.bin");
    let mut metadata = vec![0u8; 128];
    let root = root_v1(&r);
    let result = verify_slot(
        &root,
        &mut RamFlash(&slot),
        SLOT,
        &device(&[], 0),
        &mut metadata,
        &mut Workspace::new(),
        &mut SoftwareSha256::default(),
        &mut |_: &[u8]| Ok(()),
        KEY_TYPES,
    );
    assert_eq!(result.err(), Some(Reason::MetadataTooLarge));
}

/// Two slots and their states in one in-RAM flash, updated step by step.
#[derive(Clone)]
struct Board {
    slots: [Vec<u8>; 2],
    states: [SlotState; 2],
}

fn boot(board: &Board, root: &[u8], counter: u64) -> (Option<usize>, bool, [SlotState; 2]) {
    let verified: Vec<Option<(u64, String)>> = board
        .slots
        .iter()
        .map(|s| check(root, s, &device(&[], counter)).ok())
        .collect();
    let facts = [0, 1].map(|i| SlotFacts {
        state: board.states[i],
        verified: verified[i].as_ref().map(|(c, v)| (*c, v.as_bytes())),
    });
    let decision = boot_select::choose(facts);
    let mut states = board.states;
    for (state, persist) in states.iter_mut().zip(decision.persist) {
        if let Some(s) = persist {
            *state = s;
        }
    }
    if let Some(i) = decision.boot {
        assert!(verified[i].is_some(), "booted an unverified slot {i}");
    }
    (decision.boot, decision.trial, states)
}

#[test]
fn power_cut_at_every_step_of_an_update_always_boots_a_verified_image() {
    let r = release("power");
    let root = root_v1(&r);
    let old = slot_for(&r, "evc-a1/fw.bin");
    // The update: a new image with a higher counter.
    let fw2 = image(&r.dir, "fw2.bin", 9, 6000);
    add(&r.repo, "targets", &fw2, "evc-a1/fw.bin", 6, "1.3.0");
    for k in &r.approvers[1..] {
        r.repo.sign("targets", k, NOW).unwrap();
    }
    r.repo
        .publish(&r.online, &r.online, NOW, &mut |_| {})
        .unwrap();
    let new = slot_for(&r, "evc-a1/fw.bin");
    let start = Board {
        slots: [old.clone(), vec![0xff; SLOT as usize]],
        states: [SlotState::Confirmed, SlotState::Empty],
    };
    // The updater's steps: erase slot B, write it in chunks, mark it trial.
    let mut steps: Vec<Board> = vec![start.clone()];
    let mut b = start.clone();
    b.states[1] = SlotState::Empty;
    for chunk in (0..new.len()).step_by(4096) {
        let end = (chunk + 4096).min(new.len());
        b.slots[1][chunk..end].copy_from_slice(&new[chunk..end]);
        steps.push(b.clone());
    }
    b.states[1] = SlotState::Trial;
    steps.push(b.clone());
    for (i, state) in steps.iter().enumerate() {
        // Power is cut after this step: the next boot must boot a verified
        // image, and it is the old one until the new is complete and marked.
        let (booted, trial, _) = boot(state, &root, 5);
        let complete = i == steps.len() - 1;
        if complete {
            assert_eq!((booted, trial), (Some(1), true), "step {i}");
        } else {
            assert_eq!((booted, trial), (Some(0), false), "step {i}");
        }
    }
    // The trial boots once; if it never confirms, the next boot falls back.
    let (booted, trial, states) = boot(&b, &root, 5);
    assert_eq!((booted, trial), (Some(1), true));
    let unconfirmed = Board {
        states,
        ..b.clone()
    };
    assert_eq!(boot(&unconfirmed, &root, 5).0, Some(0));
    // If it confirms, it boots from then on, and the counter rises only now.
    let mut confirmed = unconfirmed.clone();
    confirmed.states[1] = SlotState::Confirmed;
    let counter = boot_select::confirm(5, 6).security_counter;
    assert_eq!(counter, 6);
    assert_eq!(boot(&confirmed, &root, counter).0, Some(1));
    // With the counter raised, the old image can no longer boot.
    let mut only_old = confirmed.clone();
    only_old.states[1] = SlotState::Failed;
    assert_eq!(boot(&only_old, &root, counter).0, None);
}

// --- issue 12: the chain must be exactly what the ordered search visits ---

/// The published envelope of `role`, canonical, as `device pack` puts it in
/// a slot.
fn envelope(r: &Release, role: &str) -> Vec<u8> {
    let published = r.repo.published().unwrap().unwrap();
    fwsign_manifest_schema::canonical::to_canonical_bytes(&published.targets[role]).unwrap()
}

/// `role` as published, listing its entry for `listed` again under `name`,
/// re-signed with `keys` (what the holder of `role`'s keys can make).
fn relisted(
    r: &Release,
    role: &str,
    listed: &str,
    name: &str,
    keys: &[&fwsign_keys::PrivateKey],
) -> Vec<u8> {
    let published = r.repo.published().unwrap().unwrap();
    let mut doc: Signed<Targets> = published.targets[role].clone();
    let entry = doc.signed.targets[listed].clone();
    doc.signed.targets.insert(name.into(), entry);
    doc.signatures.clear();
    for k in keys {
        sign(&mut doc, *k).unwrap();
    }
    fwsign_manifest_schema::canonical::to_canonical_bytes(&doc).unwrap()
}

/// A slot for `target` with the image of published target `image_of` and
/// the given chain.
fn crafted_slot(r: &Release, image_of: &str, target: &str, chain: Vec<(&str, Vec<u8>)>) -> Vec<u8> {
    let m = r.repo.device_material(image_of, 1).unwrap();
    let image = std::fs::read(&m.image).unwrap();
    let chain: Vec<(String, Vec<u8>)> = chain
        .into_iter()
        .map(|(role, bytes)| (role.to_owned(), bytes))
        .collect();
    build_slot(0x400, SLOT, &image, target, &m.roots, &chain).unwrap()
}

#[test]
fn shadowing_layout_boots_what_the_ordered_search_chooses() {
    // The positive side of the tests below: each role answers for the names
    // the search gives it, through a chain that is exactly the search's visit.
    let (r, _) = shadowing_release("shadowing-valid");
    let root = root_v1(&r);
    let d = device(&[], 0);
    check(&root, &slot_for(&r, "evc-a1/fw.bin"), &d).unwrap();
    check(&root, &slot_for(&r, "board-a/fw.bin"), &d).unwrap();
    let slot = crafted_slot(
        &r,
        "evc-a1/release.bin",
        "evc-a1/release.bin",
        vec![
            ("targets", envelope(&r, "targets")),
            ("release", envelope(&r, "release")),
        ],
    );
    check(&root, &slot, &d).unwrap();
    let slot = crafted_slot(
        &r,
        "nightly/fw.bin",
        "nightly/fw.bin",
        vec![
            ("targets", envelope(&r, "targets")),
            ("nightly", envelope(&r, "nightly")),
        ],
    );
    assert_eq!(check(&root, &slot, &d).unwrap().1, "1.3.0-nightly.1");
}

/// Issue 12: an attacker holding only the 1-of-1 `nightly` key (delegated
/// `*/*` by `targets`) lists her image as `evc-a1/fw.bin`, which the
/// 2-of-3 `targets` itself lists, and ships the chain `targets`, `nightly`.
/// The old rule (the path lies within every delegation on the chain)
/// booted it; the ordered search answers `evc-a1/fw.bin` from `targets`.
#[test]
fn nightly_key_cannot_replace_an_image_targets_lists_issue_12() {
    let (r, keys) = shadowing_release("issue12");
    let root = root_v1(&r);
    let nightly = relisted(
        &r,
        "nightly",
        "nightly/fw.bin",
        "evc-a1/fw.bin",
        &[&keys.nightly],
    );
    let attack = crafted_slot(
        &r,
        "nightly/fw.bin",
        "evc-a1/fw.bin",
        vec![("targets", envelope(&r, "targets")), ("nightly", nightly)],
    );
    assert_eq!(
        check(&root, &attack, &device(&[], 0)),
        Err(Reason::TargetListedEarlier)
    );
    // The re-signed nightly role is itself valid: under a name only nightly
    // answers for, the same key and chain boot.
    let nightly = relisted(
        &r,
        "nightly",
        "nightly/fw.bin",
        "nightly/evil.bin",
        &[&keys.nightly],
    );
    let control = crafted_slot(
        &r,
        "nightly/fw.bin",
        "nightly/evil.bin",
        vec![("targets", envelope(&r, "targets")), ("nightly", nightly)],
    );
    check(&root, &control, &device(&[], 0)).unwrap();
}

/// Issue 12, terminating variant: `targets` delegates `evc-a1/*`
/// terminating to `release` before the catch-all `nightly`. The nightly
/// key lists an `evc-a1/` name `targets` does not list; the search goes to
/// `release` and ends there, so the chain `targets`, `nightly` is refused.
#[test]
fn nightly_key_cannot_sign_past_a_terminating_delegation() {
    let (r, keys) = shadowing_release("terminating");
    let nightly = relisted(
        &r,
        "nightly",
        "nightly/fw.bin",
        "evc-a1/fw-2.bin",
        &[&keys.nightly],
    );
    let attack = crafted_slot(
        &r,
        "nightly/fw.bin",
        "evc-a1/fw-2.bin",
        vec![("targets", envelope(&r, "targets")), ("nightly", nightly)],
    );
    assert_eq!(
        check(&root_v1(&r), &attack, &device(&[], 0)),
        Err(Reason::DelegationShadowed)
    );
}

/// A chain longer than the search's visit: the role that lists the target
/// is followed by another (genuine, unmodified) role. The search stops at
/// the first role that lists the name, so the device refuses the slot.
#[test]
fn chain_whose_earlier_role_lists_the_target_is_refused() {
    let (r, _) = shadowing_release("listed-earlier");
    let slot = crafted_slot(
        &r,
        "evc-a1/fw.bin",
        "evc-a1/fw.bin",
        vec![
            ("targets", envelope(&r, "targets")),
            ("nightly", envelope(&r, "nightly")),
        ],
    );
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::TargetListedEarlier)
    );
    // Likewise when the lister is in the middle: `board-a` lists the target,
    // and the chain goes on past it.
    let slot = crafted_slot(
        &r,
        "board-a/fw.bin",
        "board-a/fw.bin",
        vec![
            ("targets", envelope(&r, "targets")),
            ("board-a", envelope(&r, "board-a")),
            ("nightly", envelope(&r, "nightly")),
        ],
    );
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::TargetListedEarlier)
    );
}

/// A hop past an earlier covering sibling that is not terminating:
/// `board-a` (`board-a/*`) comes before the catch-all `nightly` in
/// `targets`' list, so the search asks `board-a` first. A slot that skips
/// it is refused: the device never relies on a role it is not shown.
#[test]
fn hop_past_an_earlier_covering_delegation_is_refused() {
    let (r, keys) = shadowing_release("hop-past");
    let nightly = relisted(
        &r,
        "nightly",
        "nightly/fw.bin",
        "board-a/fw.bin",
        &[&keys.nightly],
    );
    let slot = crafted_slot(
        &r,
        "nightly/fw.bin",
        "board-a/fw.bin",
        vec![("targets", envelope(&r, "targets")), ("nightly", nightly)],
    );
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::DelegationShadowed)
    );
}

/// The ways a chain departs from the search besides the two above, each
/// with the code it had before the search: a role the previous one does
/// not delegate, a chain not starting at `targets`, a chain that ends
/// before the target is listed, a leftover role that is not delegated.
#[test]
fn chains_that_leave_the_search_keep_their_codes() {
    let (r, _) = shadowing_release("chain-shapes");
    let root = root_v1(&r);
    let d = device(&[], 0);
    // board-a does not delegate nightly: the search enters board-a, which
    // does not list `board-a/other.bin`, goes back to targets and asks for
    // nightly there, not below board-a as the chain claims.
    let three = vec![
        ("targets", envelope(&r, "targets")),
        ("board-a", envelope(&r, "board-a")),
        ("nightly", envelope(&r, "nightly")),
    ];
    let slot = crafted_slot(&r, "board-a/fw.bin", "board-a/other.bin", three.clone());
    assert_eq!(check(&root, &slot, &d), Err(Reason::DelegationMissing));
    // For `nightly/fw.bin` the search never enters board-a, which targets
    // delegates for `board-a/*` only.
    let slot = crafted_slot(&r, "board-a/fw.bin", "nightly/fw.bin", three);
    assert_eq!(check(&root, &slot, &d), Err(Reason::PathNotDelegated));
    // Not starting at targets.
    let slot = crafted_slot(
        &r,
        "nightly/fw.bin",
        "nightly/fw.bin",
        vec![("nightly", envelope(&r, "nightly"))],
    );
    assert_eq!(check(&root, &slot, &d), Err(Reason::DelegationMissing));
    // The chain ends where the search would go on to nightly.
    let slot = crafted_slot(
        &r,
        "nightly/fw.bin",
        "nightly/fw.bin",
        vec![("targets", envelope(&r, "targets"))],
    );
    assert_eq!(check(&root, &slot, &d), Err(Reason::TargetNotListed));
    // No chain at all.
    let slot = crafted_slot(&r, "nightly/fw.bin", "nightly/fw.bin", vec![]);
    assert_eq!(check(&root, &slot, &d), Err(Reason::TargetNotListed));
    // Left over after the search found nothing: targets delegates nothing
    // that covers `other/x/fw.bin`, so release is never reached.
    let slot = crafted_slot(
        &r,
        "nightly/fw.bin",
        "other/x/fw.bin",
        vec![
            ("targets", envelope(&r, "targets")),
            ("release", envelope(&r, "release")),
        ],
    );
    assert_eq!(check(&root, &slot, &d), Err(Reason::PathNotDelegated));
}

#[test]
fn chain_longer_than_the_device_holds_is_refused() {
    let r = release("long-chain");
    let targets = envelope(&r, "targets");
    let chain = vec![("targets", targets); fwsign_bootloader_verify::MAX_CHAIN + 1];
    let slot = crafted_slot(&r, "evc-a1/fw.bin", "evc-a1/fw.bin", chain);
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::ChainTooLong)
    );
}

#[test]
fn min_bootloader_version_is_checked_against_the_device() {
    let r = release_with("min-bootloader", |repo, dir| {
        let fw = image(dir, "needs-2.1.bin", 6, 2000);
        add_needing(
            repo,
            "targets",
            &fw,
            "evc-a1/needs-2.1.bin",
            5,
            "1.4.0",
            Some("2.1.0"),
        );
    });
    let root = root_v1(&r);
    let slot = slot_for(&r, "evc-a1/needs-2.1.bin");
    let with = |major, minor, patch| Device {
        bootloader_version: BootloaderVersion {
            major,
            minor,
            patch,
        },
        ..device(&[], 0)
    };
    assert_eq!(
        check(&root, &slot, &with(2, 0, 9)),
        Err(Reason::BootloaderTooOld)
    );
    assert_eq!(
        check(&root, &slot, &with(1, 99, 99)),
        Err(Reason::BootloaderTooOld)
    );
    check(&root, &slot, &with(2, 1, 0)).unwrap();
    check(&root, &slot, &with(10, 0, 0)).unwrap();
    // An image without a minimum runs on any bootloader.
    check(&root, &slot_for(&r, "evc-a1/fw.bin"), &with(0, 0, 0)).unwrap();
}

/// The device facts are checked before the image is read: a slot for
/// another board is refused without hashing its image (a tampered image
/// for the wrong board is a hardware-ID refusal, not a hash refusal).
#[test]
fn device_facts_are_checked_before_the_image_is_hashed() {
    let r = release("facts-first");
    let mut slot = slot_for(&r, "evc-a1/fw.bin");
    slot[0x400 + 100] ^= 1;
    let d = Device {
        hardware_id: b"evc-b2",
        ..device(&[], 0)
    };
    assert_eq!(
        check(&root_v1(&r), &slot, &d),
        Err(Reason::HardwareIdMismatch)
    );
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 6)),
        Err(Reason::SecurityCounterRollback)
    );
}

/// The device checks SHA-256 only, and requires it: an entry without one
/// is refused even when every other field matches.
#[test]
fn target_without_sha256_is_refused() {
    let r = release("no-sha256");
    let published = r.repo.published().unwrap().unwrap();
    let mut targets: Signed<Targets> = published.targets["targets"].clone();
    let entry = targets.signed.targets.get_mut("evc-a1/fw.bin").unwrap();
    let sha256 = entry.hashes.remove("sha256").unwrap();
    entry
        .hashes
        .insert("sha512".into(), sha256.clone() + &sha256);
    targets.signatures.clear();
    for k in &r.approvers[..2] {
        sign(&mut targets, k).unwrap();
    }
    let bytes = fwsign_manifest_schema::canonical::to_canonical_bytes(&targets).unwrap();
    let slot = crafted_slot(
        &r,
        "evc-a1/fw.bin",
        "evc-a1/fw.bin",
        vec![("targets", bytes)],
    );
    assert_eq!(
        check(&root_v1(&r), &slot, &device(&[], 0)),
        Err(Reason::ImageHashMismatch)
    );
}
