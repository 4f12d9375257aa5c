//! Offline approval of hashed bins in one batch: `repo export-payload
//! --role 'bins-*'` writes every staged bin into one payload batch,
//! `sign-payload` signs it whole on the air-gapped machine (one key
//! unlock), and `repo import-signature` adds every signature of the batch,
//! or none. Read back by `fwsign client` and python-tuf.

use std::path::{Path, PathBuf};

use fwsign_tests::SECURITY;
use serde_json::Value;

use crate::release_support::{Release, firmware, json};

/// Names spread over the bins by their hashes.
const NAMES: [&str; 5] = [
    "evc-a1/fw-1.0.0.bin",
    "evc-a1/fw-1.1.0.bin",
    "evc-b2/fw-2.0.0.bin",
    "evc-c3/fw-0.9.0.bin",
    "x/y/z.bin",
];

/// `repo init`, root approved, 8 bins for the bins approvers dave, erin and
/// frank (2 of 3), the names added to their bins and `targets` approved:
/// every bin is staged, so a batch of 8.
fn staged_bins(test: &str) -> (Release, Vec<Vec<u8>>) {
    let mut release = Release::new(test);
    for name in ["dave", "erin", "frank"] {
        release.generate_key(name);
    }
    release.init();
    release.sign("root", "root1").ok();
    release.sign("root", "root2").ok();
    let keys: Vec<PathBuf> = ["dave", "erin", "frank"]
        .iter()
        .map(|k| release.public(k))
        .collect();
    let mut args = vec!["--role", "bins", "--hashed-bins", "8", "--threshold", "2"];
    for k in &keys {
        args.extend(["--key", Release::arg(k)]);
    }
    release.repo("delegate", &args).ok();
    let bytes = NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let bytes = firmware(60 + i as u8, 600 + i);
            let file = release.write_file(&format!("b{i}.bin"), &bytes);
            release.add(&file, name, "1.0.0", &["--role", "bins"]).ok();
            bytes
        })
        .collect();
    release.sign("targets", "alice").ok();
    release.sign("targets", "bob").ok();
    (release, bytes)
}

fn export_batch(release: &Release, out: &Path) -> Value {
    let (run, doc) = release.repo_json(
        "export-payload",
        &["--role", "bins-*", "--out", Release::arg(out)],
    );
    run.ok();
    doc
}

/// `fwsign --json sign-payload BATCH --key keys/KEY.pem --out OUT`.
fn sign_batch(release: &Release, batch: &Path, key: &str, out: &Path) -> fwsign_tests::Run {
    sign_batch_as(release, batch, key, out, "--json")
}

/// `sign-payload` with a global `output` flag (`--json`), or none for the
/// human output (`""`).
fn sign_batch_as(
    release: &Release,
    batch: &Path,
    key: &str,
    out: &Path,
    output: &str,
) -> fwsign_tests::Run {
    let key = release.key(key);
    let mut args: Vec<&std::ffi::OsStr> = Vec::new();
    if !output.is_empty() {
        args.push(output.as_ref());
    }
    args.extend([
        "sign-payload".as_ref(),
        batch.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    release.fw.run(args)
}

fn import_batch(release: &Release, key: &str, sigs: &Path, extra: &[&str]) -> fwsign_tests::Run {
    let public = release.public(key);
    let mut args = vec!["--pub", Release::arg(&public), "--sig", Release::arg(sigs)];
    args.extend(extra);
    release.repo("import-signature", &args)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// The indexes of two batch entries whose roles list targets (so their
/// payloads differ), the first with an added name.
fn two_entries_with_targets(batch: &Value) -> (usize, usize) {
    let entries = batch["entries"].as_array().unwrap();
    let with: Vec<usize> = (0..entries.len())
        .filter(|&i| {
            !entries[i]["changes"]["added"]
                .as_array()
                .unwrap()
                .is_empty()
        })
        .collect();
    assert!(with.len() >= 2, "{batch}");
    (with[0], with[1])
}

/// Every staged file, to show that a refused import wrote none.
fn staged_files(release: &Release) -> Vec<(PathBuf, Vec<u8>)> {
    fwsign_tests::tree(&release.dir.join("staged")).unwrap()
}

/// The release path end to end: 8 staged bins exported as one batch, signed
/// offline by dave and erin (2 of 3) with one unlock each, imported, published
/// and downloaded by `fwsign client` and python-tuf.
#[test]
fn a_batch_of_bins_signed_offline_by_two_of_three_is_published_and_read_by_fwsign_and_python_tuf() {
    let (release, bytes) = staged_bins("bins_batch_release");
    let batch = release.scratch.join("bins.batch");
    let exported = export_batch(&release, &batch);
    let entries = exported["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 8, "{exported}");
    assert!(
        entries
            .iter()
            .all(|e| e["role"].as_str().unwrap().starts_with("bins-"))
    );
    // The SHA-256 read over the phone is the file's.
    let file_sha = {
        use sha2::Digest;
        base16ct::lower::encode_string(&sha2::Sha256::digest(std::fs::read(&batch).unwrap()))
    };
    assert_eq!(exported["batch_sha256"], file_sha.as_str());
    // No sidecar: the batch describes itself.
    assert!(!release.scratch.join("bins.batch.json").exists());
    let on_disk = read_json(&batch);
    assert_eq!(on_disk["format"], "fwsign-payload-batch");
    assert_eq!(on_disk["format_version"], 1);

    for key in ["dave", "erin"] {
        let sigs = release.scratch.join(format!("{key}.sigs"));
        // What each role's change lists, shown to the approver.
        let run = sign_batch_as(&release, &batch, key, &sigs, "");
        run.ok();
        assert!(run.stderr.contains("adds evc-"), "{run}");
        assert!(run.stderr.contains(&file_sha), "{run}");
        let run = sign_batch(&release, &batch, key, &sigs);
        run.ok();
        let out = json(&run);
        assert_eq!(out["batch_sha256"], file_sha.as_str());
        assert_eq!(out["entries"].as_array().unwrap().len(), 8);
        assert_eq!(read_json(&sigs)["signatures"].as_array().unwrap().len(), 8);
    }
    // One approver's batch is not enough.
    import_batch(&release, "dave", &release.scratch.join("dave.sigs"), &[]).ok();
    assert_eq!(release.publish().code, Some(SECURITY));
    let run = import_batch(
        &release,
        "erin",
        &release.scratch.join("erin.sigs"),
        &["--role", "bins-*", "--json"],
    );
    run.ok();
    assert_eq!(json(&run)["approvals"].as_array().unwrap().len(), 8);
    release.publish().ok();

    let expected: Vec<(&str, &[u8])> = NAMES
        .iter()
        .zip(&bytes)
        .map(|(n, b)| (*n, b.as_slice()))
        .collect();
    release.python_gets_published(&expected);
    let server = release.serve();
    let root = std::fs::read(release.metadata("1.root.json")).unwrap();
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
        assert!(got.iter().any(|b| b == want), "fwsign client lacks {name}");
    }
}

/// Attack: whoever carries the batch to the air-gapped machine edits it
/// after export, hoping the approver signs what nobody reviewed: two
/// entries' payloads swapped, then swapped with their SHA-256s (each
/// payload matching its hash, not its role's recorded change), then one
/// payload with a listed target dropped and its hash fixed. `sign-payload`
/// checks every entry against its description first and signs nothing.
#[test]
fn a_batch_entry_swapped_or_edited_after_export_is_refused_by_sign_payload() {
    let (release, _) = staged_bins("bins_batch_swapped");
    let batch = release.scratch.join("bins.batch");
    export_batch(&release, &batch);
    let original = read_json(&batch);
    let (a, b) = two_entries_with_targets(&original);

    let sha256 = |text: &str| {
        use sha2::Digest;
        base16ct::lower::encode_string(&sha2::Sha256::digest(text.as_bytes()))
    };
    let mut payloads_swapped = original.clone();
    payloads_swapped["entries"][a]["payload"] = original["entries"][b]["payload"].clone();
    payloads_swapped["entries"][b]["payload"] = original["entries"][a]["payload"].clone();
    let mut hashes_swapped = payloads_swapped.clone();
    hashes_swapped["entries"][a]["sha256"] = original["entries"][b]["sha256"].clone();
    hashes_swapped["entries"][b]["sha256"] = original["entries"][a]["sha256"].clone();
    let mut dropped = original.clone();
    let name = original["entries"][a]["changes"]["added"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let payload = original["entries"][a]["payload"].as_str().unwrap();
    let mut signed: Value = serde_json::from_str(payload).unwrap();
    signed["targets"].as_object_mut().unwrap().remove(&name);
    // Canonical again, so only the recorded change gives it away.
    let edited =
        String::from_utf8(fwsign_manifest_schema::canonical::to_canonical_vec(&signed).unwrap())
            .unwrap();
    dropped["entries"][a]["sha256"] = Value::from(sha256(&edited));
    dropped["entries"][a]["payload"] = Value::from(edited);

    let role_a = original["entries"][a]["role"].as_str().unwrap();
    for (case, doc, why) in [
        ("payloads swapped", &payloads_swapped, "SHA-256".to_owned()),
        (
            "payloads and hashes swapped",
            &hashes_swapped,
            "does not list".to_owned(),
        ),
        (
            "a target dropped",
            &dropped,
            format!("adds or changes {name}"),
        ),
    ] {
        write_json(&batch, doc);
        let sigs = release.scratch.join("dave.sigs");
        let run = sign_batch(&release, &batch, "dave", &sigs);
        run.code(SECURITY)
            .stderr_has("does not match its description")
            .stderr_has(&why)
            .stderr_has(&format!("entry {role_a}"));
        assert_eq!(json(&run)["reason"], "payload-mismatch", "{case}");
        assert_eq!(json(&run)["role"], role_a, "{case}");
        assert!(!sigs.exists(), "{case}: no signature file is written");
    }
}

/// Attack: a signature for one bin replayed onto another bin's entry of the
/// signature batch (both bins carry the same keys, so the key is
/// authorised for either). `import-signature` verifies every entry over
/// its role's staged payload before adding any: the batch is refused
/// naming the bin, and no staged file changes, not even the honest
/// entries'. The untouched batch then imports.
#[test]
fn a_signature_replayed_onto_another_bins_entry_refuses_the_whole_import() {
    let (release, _) = staged_bins("bins_batch_replay");
    let batch = release.scratch.join("bins.batch");
    let exported = export_batch(&release, &batch);
    let (a, b) = two_entries_with_targets(&exported);
    let sigs = release.scratch.join("dave.sigs");
    sign_batch(&release, &batch, "dave", &sigs).ok();
    let honest = read_json(&sigs);

    let mut replayed = honest.clone();
    replayed["signatures"][b]["sig"] = honest["signatures"][a]["sig"].clone();
    let forged = release.scratch.join("forged.sigs");
    write_json(&forged, &replayed);
    let before = staged_files(&release);
    let run = import_batch(&release, "dave", &forged, &["--json"]);
    let role_b = exported["entries"][b]["role"].as_str().unwrap();
    run.code(SECURITY)
        .stderr_has(&format!("does not verify over staged {role_b}"));
    assert_eq!(json(&run)["reason"], "signature-mismatch");
    assert_eq!(json(&run)["role"], role_b);
    assert_eq!(staged_files(&release), before, "nothing is written");

    // The batch signed for another key's file is refused too.
    let run = import_batch(&release, "erin", &sigs, &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(staged_files(&release), before);

    import_batch(&release, "dave", &sigs, &[]).ok();
    assert_ne!(staged_files(&release), before);
}
