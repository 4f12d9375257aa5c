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
    AcceptedVersion, Device, Flash, FlashError, KEY_TYPES, Reason, SoftwareSha256, StoreError,
    Workspace, verify_slot,
};
use fwsign_manifest_schema::metadata::{Signed, Targets};
use fwsign_sign::document::sign;
use fwsign_sign::keys::Algorithm;
use fwsign_sign::repo::staging::RotateOptions;

#[path = "support/release_fixture.rs"]
mod release_fixture;

use release_fixture::{NOW, Release, add, image, key, release};

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
    }
}

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
    let result = verify_slot(
        &root_v1(&r),
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
