//! Replays every fuzz target's committed corpus (`fuzz/corpus/TARGET/`) and
//! regressions (`fuzz/regressions/TARGET/`) through the harness, so `cargo
//! test` checks each seed and each input that once failed without libFuzzer.
//!
//! `make_fixtures` (ignored) remakes the fixed release
//! (`fuzz-harness/data/release.json`) and the seeds:
//!
//! ```text
//! cargo test -p fwsign-fuzz-harness --test corpus -- --ignored make_fixtures
//! ```
//!
//! It replaces the seed files it writes (all named `seed-*`) and leaves
//! inputs libFuzzer added beside them alone.

#![allow(clippy::unwrap_used, reason = "a broken fixture should fail loudly")]
#![allow(clippy::print_stdout, reason = "the tests report what they replayed")]

use fwsign_fuzz_harness::replay::replay;

/// Fewest seeds a target's corpus must have.
const MIN_SEEDS: usize = 24;

fn replays(target: &str, run: fn(&[u8])) {
    let n = replay(target, run);
    println!("{target}: replayed {n} inputs");
    assert!(n >= MIN_SEEDS, "{target}: only {n} committed inputs");
}

#[test]
fn canonical_reader_corpus() {
    replays("canonical_reader", fwsign_fuzz_harness::canonical_reader);
}

#[test]
fn parse_json_vs_serde_corpus() {
    replays(
        "parse_json_vs_serde",
        fwsign_fuzz_harness::parse_json_vs_serde,
    );
}

#[test]
fn verify_slot_corpus() {
    replays("verify_slot", fwsign_fuzz_harness::verify_slot);
}

#[test]
fn verify_slot_structured_corpus() {
    replays(
        "verify_slot_structured",
        fwsign_fuzz_harness::verify_slot_structured,
    );
}

#[test]
fn target_search_corpus() {
    replays("target_search", fwsign_fuzz_harness::target_search);
}

#[test]
fn bundle_archive_corpus() {
    replays("bundle_archive", fwsign_fuzz_harness::bundle_archive);
}

/// Found by the `verify_slot` long run: a slot whose root update (root v3)
/// carries a signature with one hex digit in upper case (`E` for `e`). The
/// signature decodes to the same bytes and verifies, so the root update is
/// accepted and handed to `store_root` as carried, not byte-identical to the
/// published envelope: signatures are not signed, only the `signed` part
/// is, and that is the published root's. (The slot is then refused for its
/// targets chain, which was damaged too; roots are stored before the chain
/// is checked, by design.) The harness once required identical envelopes;
/// it now compares the signed bytes, and this input is replayed through it.
#[test]
fn root_update_with_an_uppercase_signature_hex_digit_is_stored_as_carried() {
    let path = fwsign_fuzz_harness::replay::fuzz_dir()
        .join("regressions/verify_slot/store-root-uppercase-signature-hex");
    let slot = std::fs::read(path).unwrap();
    assert_eq!(
        fwsign_fuzz_harness::verify_slot_outcome(&slot),
        Err(fwsign_bootloader_verify::Reason::TargetsNotSigned)
    );
}

/// The committed fixture still verifies: the real slots in the corpus are
/// accepted, so the fuzzers start from slots that reach every check.
#[test]
fn real_slots_in_the_corpus_are_accepted() {
    let accepted = fwsign_fuzz_harness::replay::inputs("verify_slot")
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-ok-")
        })
        .map(|p| fwsign_fuzz_harness::verify_slot_outcome(&std::fs::read(p).unwrap()))
        .inspect(|r| assert_eq!(*r, Ok(())))
        .count();
    assert!(
        accepted >= 3,
        "only {accepted} accepted slots in the corpus"
    );
}

mod make {
    //! The fixture and seed generator.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use fwsign_bootloader_verify::slot::pack::build_slot;
    use fwsign_client::bundle::create_bundle;
    use fwsign_client::bundle_archive::{EntrySource, write_bundle};
    use fwsign_fuzz_harness::fixture::to_hex;
    use fwsign_fuzz_harness::keys::{ed25519, p256};
    use fwsign_fuzz_harness::replay::fuzz_dir;
    use fwsign_keys::PrivateKey;
    use fwsign_manifest_schema::canonical::canonicalize;
    use fwsign_manifest_schema::expiry::UnixTime;
    use fwsign_repo::staging::{AddOptions, DelegateOptions, NewTarget, RotateOptions};
    use fwsign_repo::{ExpiryPolicy, InitOptions, Repository};
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const HARDWARE_ID: &str = "evc-a1";

    /// A small deterministic generator (xorshift64*), for seed search.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn image(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    fn add(
        repo: &Repository,
        dir: &Path,
        role: &str,
        name: &str,
        bytes: &[u8],
        counter: u64,
        version: &str,
    ) {
        let file = dir.join(name.replace('/', "_"));
        std::fs::write(&file, bytes).unwrap();
        repo.add(
            &AddOptions {
                role: role.into(),
                targets: vec![NewTarget {
                    file,
                    name: name.into(),
                }],
                hardware_ids: vec![HARDWARE_ID.into()],
                version: version.into(),
                security_counter: counter,
                min_bootloader_version: None,
                sbom_sha256: None,
                sbom: None,
                sha512: false,
                custom: vec![],
            },
            NOW,
            &mut |_| {},
        )
        .unwrap();
    }

    /// The parts of a real slot: target, image, roots, chain (role name and
    /// envelope).
    type Recipe = (String, Vec<u8>, Vec<Vec<u8>>, Vec<(String, Vec<u8>)>);

    fn recipe(repo: &Repository, target: &str, from_root: u64) -> Recipe {
        let m = repo.device_material(target, from_root).unwrap();
        let image = std::fs::read(&m.image).unwrap();
        (target.to_owned(), image, m.roots, m.chain)
    }

    /// A slot for published `target`, carrying the roots after version
    /// `from_root`.
    fn slot(repo: &Repository, target: &str, from_root: u64, header: u32) -> Vec<u8> {
        let m = repo.device_material(target, from_root).unwrap();
        let image = std::fs::read(&m.image).unwrap();
        build_slot(header, u32::MAX, &image, target, &m.roots, &m.chain).unwrap()
    }

    struct Seeds {
        dir: PathBuf,
        count: usize,
    }

    impl Seeds {
        fn new(target: &str) -> Self {
            let dir = fuzz_dir().join("corpus").join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("seed-")
                {
                    std::fs::remove_file(path).unwrap();
                }
            }
            Self { dir, count: 0 }
        }

        fn put(&mut self, name: &str, bytes: &[u8]) {
            self.count += 1;
            std::fs::write(self.dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }

    /// Every published targets-role envelope, canonical, with its role name
    /// and version, from `metadata/N.ROLE.json`.
    fn published_roles(repo: &Repository) -> Vec<(String, u64, Vec<u8>)> {
        let mut roles = Vec::new();
        for entry in std::fs::read_dir(repo.metadata_dir()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some((version, role)) = name
                .strip_suffix(".json")
                .and_then(|n| n.split_once('.'))
                .and_then(|(v, r)| Some((v.parse::<u64>().ok()?, r.to_owned())))
            else {
                continue;
            };
            if ["root", "snapshot", "timestamp"].contains(&role.as_str()) {
                continue;
            }
            let canonical = canonicalize(&std::fs::read(&path).unwrap()).unwrap();
            roles.push((role, version, canonical));
        }
        roles.sort();
        roles
    }

    fn metadata_files(repo: &Repository) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(repo.metadata_dir())
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    #[ignore = "remakes the committed fixture and seeds"]
    fn make_fixtures() {
        // Removed when the test ends, also when it fails.
        let scratch_dir = tempfile::Builder::new()
            .prefix("fwsign-fuzz-fixture-")
            .tempdir()
            .unwrap();
        let scratch = scratch_dir.path().to_path_buf();
        let root_keys = [ed25519(101), p256(102)];
        let approvers = [p256(103), ed25519(104), p256(105)];
        let board = [p256(106), ed25519(107)];
        let online = p256(108);
        let extra = ed25519(109);
        let public = |keys: &[PrivateKey]| keys.iter().map(|k| k.public_key().clone()).collect();
        let repo = Repository::init(
            scratch.join("repo"),
            &InitOptions {
                root_keys: public(&root_keys),
                root_threshold: 2,
                targets_keys: public(&approvers),
                targets_threshold: 2,
                snapshot_key: online.public_key().clone(),
                timestamp_key: online.public_key().clone(),
                expiry: ExpiryPolicy::default(),
                allow_shared_key: false,
            },
            NOW,
        )
        .unwrap();
        repo.delegate(
            &DelegateOptions {
                role: "board-a".into(),
                keys: public(&board),
                threshold: 2,
                paths: vec!["board-a/*".into()],
                terminating: false,
                allow_shared_key: false,
            },
            NOW,
        )
        .unwrap();
        repo.delegate(
            &DelegateOptions {
                role: "board-c".into(),
                keys: vec![extra.public_key().clone()],
                threshold: 1,
                paths: vec!["board-c/*".into()],
                terminating: true,
                allow_shared_key: false,
            },
            NOW,
        )
        .unwrap();
        let images = vec![image(1, 300), image(2, 200), image(3, 120), image(4, 310)];
        add(
            &repo,
            &scratch,
            "targets",
            "evc-a1/fw.bin",
            &images[0],
            5,
            "1.2.0",
        );
        add(
            &repo,
            &scratch,
            "board-a",
            "board-a/fw.bin",
            &images[1],
            5,
            "1.2.0",
        );
        add(
            &repo,
            &scratch,
            "board-c",
            "board-c/fw.bin",
            &images[2],
            2,
            "0.9.0",
        );
        for k in &root_keys {
            repo.sign("root", k, NOW).unwrap();
        }
        for k in &approvers[..2] {
            repo.sign("targets", k, NOW).unwrap();
        }
        for k in &board {
            repo.sign("board-a", k, NOW).unwrap();
        }
        repo.sign("board-c", &extra, NOW).unwrap();
        repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();

        let mut slot_seeds = Seeds::new("verify_slot");
        let mut bundle_seeds = Seeds::new("bundle_archive");
        let mut recipes: Vec<Recipe> = Vec::new();
        for (i, target) in ["evc-a1/fw.bin", "board-a/fw.bin", "board-c/fw.bin"]
            .iter()
            .enumerate()
        {
            recipes.push(recipe(&repo, target, 1));
            slot_seeds.put(&format!("ok-r1-{i}"), &slot(&repo, target, 1, 0x200));
            slot_seeds.put(&format!("ok-r1-{i}-h400"), &slot(&repo, target, 1, 0x400));
            let out = scratch.join(format!("r1-{i}.zip"));
            create_bundle(&repo, target, &out).unwrap();
            bundle_seeds.put(&format!("r1-{i}.zip"), &std::fs::read(&out).unwrap());
        }
        let release1_metadata = metadata_files(&repo);

        // Release 2: root v2 takes approver 0 out of targets and adds
        // `extra`; targets v2 lists a new image with a higher counter.
        repo.rotate_root(
            &RotateOptions {
                add: vec![("targets".into(), extra.public_key().clone())],
                remove: vec![("targets".into(), approvers[0].public_key().keyid())],
                ..RotateOptions::default()
            },
            NOW,
        )
        .unwrap();
        for k in &root_keys {
            repo.sign("root", k, NOW).unwrap();
        }
        add(
            &repo,
            &scratch,
            "targets",
            "evc-a1/fw.bin",
            &images[3],
            6,
            "1.3.0",
        );
        repo.sign("targets", &approvers[1], NOW).unwrap();
        repo.sign("targets", &extra, NOW).unwrap();
        repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();
        // Root v3: root threshold 1 of the two root keys.
        repo.rotate_root(
            &RotateOptions {
                thresholds: vec![("root".into(), 1)],
                ..RotateOptions::default()
            },
            NOW,
        )
        .unwrap();
        for k in &root_keys {
            repo.sign("root", k, NOW).unwrap();
        }
        repo.publish(&online, &online, NOW, &mut |_| {}).unwrap();

        for (i, target) in ["evc-a1/fw.bin", "board-a/fw.bin"].iter().enumerate() {
            recipes.push(recipe(&repo, target, 1));
            recipes.push(recipe(&repo, target, 2));
            slot_seeds.put(&format!("ok-r3-{i}"), &slot(&repo, target, 1, 0x200));
            slot_seeds.put(
                &format!("r3-{i}-roots-after-2"),
                &slot(&repo, target, 2, 0x200),
            );
            let out = scratch.join(format!("r3-{i}.zip"));
            create_bundle(&repo, target, &out).unwrap();
            bundle_seeds.put(&format!("r3-{i}.zip"), &std::fs::read(&out).unwrap());
        }

        // The fixture.
        let roots: Vec<Vec<u8>> = repo
            .published_roots()
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let roles = published_roles(&repo);
        let mut signed = BTreeMap::new();
        for (_, _, envelope) in &roles {
            let v: Value = fwsign_manifest_schema::parse::parse_json(envelope).unwrap();
            for (name, entry) in v["signed"]["targets"].as_object().unwrap() {
                let sha256 = entry["hashes"]["sha256"].as_str().unwrap().to_owned();
                let length = entry["length"].as_u64().unwrap();
                signed.insert(
                    (name.clone(), sha256.clone()),
                    json!({"name": name, "sha256": sha256, "length": length}),
                );
            }
        }
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        let index = |list: &[Vec<u8>], item: &[u8]| list.iter().position(|x| x == item).unwrap();
        let role_envelopes: Vec<Vec<u8>> = roles.iter().map(|(_, _, e)| e.clone()).collect();
        let slots: Vec<Value> = recipes
            .iter()
            .map(|(target, image, slot_roots, chain)| {
                json!({
                    "target": target,
                    "image": index(&images, image),
                    "roots": slot_roots.iter().map(|r| index(&roots, r)).collect::<Vec<_>>(),
                    "chain": chain.iter().map(|(_, e)| index(&role_envelopes, e)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let fixture = json!({
            "slots": slots,
            "now": NOW.0,
            "hardware_id": HARDWARE_ID,
            "trusted_root": text(&roots[0]),
            "roots": roots.iter().map(|r| text(r)).collect::<Vec<_>>(),
            "roles": roles.iter().map(|(n, _, e)| json!([n, text(e)])).collect::<Vec<_>>(),
            "images": images.iter().map(|i| to_hex(i)).collect::<Vec<_>>(),
            "targets": signed.values().collect::<Vec<_>>(),
        });
        let data = fuzz_dir().join("../fuzz-harness/data/release.json");
        let fixture = serde_json::to_string_pretty(&fixture).unwrap() + "\n";
        std::fs::write(&data, &fixture).unwrap();
        assert!(
            fixture == fwsign_fuzz_harness::fixture::RELEASE_JSON,
            "the fixture changed: run make_fixtures once more to choose the seeds that depend on it"
        );

        // Refused slots: each damaged in one way.
        let good = slot(&repo, "evc-a1/fw.bin", 1, 0x200);
        let mut bad = |name: &str, f: &dyn Fn(&mut Vec<u8>)| {
            let mut s = good.clone();
            f(&mut s);
            slot_seeds.put(name, &s);
        };
        bad("empty", &|s| s.clear());
        bad("header-only", &|s| s.truncate(32));
        bad("no-trailer", &|s| s.truncate(0x200 + 310));
        bad("trailer-cut", &|s| s.truncate(s.len() - 100));
        bad("image-flip", &|s| s[0x200 + 7] ^= 1);
        bad("magic", &|s| s[0] = b'X');
        bad("format", &|s| s[4] = 2);
        bad("header-size", &|s| s[9] = 0x03);
        bad("image-size", &|s| s[12] ^= 1);
        bad("trailer-size", &|s| s[16] ^= 4);
        bad("metadata-flip", &|s| {
            let at = s.len() - 200;
            s[at] ^= 0x20;
        });
        bad("erased", &|s| s.iter_mut().for_each(|b| *b = 0xff));
        bad("appended", &|s| s.extend_from_slice(&[0; 64]));
        let old_image = slot(&repo, "board-c/fw.bin", 1, 0x200);
        slot_seeds.put("board-c-r3", &old_image);

        // Structured slot seeds: inputs the structured target decodes into
        // assorted answers, found by search from a fixed seed.
        let mut structured = Seeds::new("verify_slot_structured");
        let mut rng = Rng(0x5eed_0001);
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..20_000 {
            if structured.count >= 48 {
                break;
            }
            let len = 16 + (rng.next() % 12) as usize;
            let input = rng.bytes(len);
            let Some(outcome) = fwsign_fuzz_harness::verify_slot_structured_outcome(&input) else {
                continue;
            };
            let key = format!("{outcome:?}");
            let seen = outcomes.entry(key.clone()).or_default();
            let want = if outcome.is_ok() { 12 } else { 3 };
            if *seen < want {
                *seen += 1;
                let name = key.replace(['(', ')'], "").to_lowercase();
                structured.put(&format!("{name}-{seen}"), &input);
            }
        }
        println!("structured slot outcomes: {outcomes:?}");

        // Search graphs, likewise.
        let mut search = Seeds::new("target_search");
        let mut rng = Rng(0x5eed_0002);
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for round in 0..20_000 {
            if search.count >= 48 {
                break;
            }
            let len = 4 + (rng.next() % 60) as usize;
            let mut input = rng.bytes(len);
            if round % 7 == 0 {
                // Long chains: 34 to 40 roles with the chain flag.
                input[0] = 33 + (rng.next() % 7) as u8;
                input[1] |= 0x80;
            }
            let outcome = fwsign_fuzz_harness::target_search_outcome(&input);
            let kind = outcome.split(' ').next().unwrap().to_owned();
            let seen = outcomes.entry(kind.clone()).or_default();
            if *seen < 10 {
                *seen += 1;
                search.put(&format!("{}-{seen}", kind.to_lowercase()), &input);
            }
        }
        println!("search outcomes: {outcomes:?}");
        // Hand-made graphs for the rules random ones rarely pin down. Bytes:
        // roles - 1, header (target index, chain flag), then per role its
        // flags (bit 0 lists the target, top two bits the delegation count)
        // and per delegation (child - 1 modulo roles - 1, cover index |
        // 0x80 terminating).
        let graphs: &[(&str, &[u8])] = &[
            // targets -> [r1 terminating, r2]; only r2 lists: not found.
            (
                "terminating-ends-siblings",
                &[2, 4, 0x80, 0, 0x80, 1, 0x00, 0x00, 0x01],
            ),
            // targets -> [r1, r3]; r1 -> [r2 terminating]; only r3 lists:
            // not found (the search ends, not only r1's subtree).
            (
                "terminating-ends-pending-above",
                &[3, 4, 0x80, 0, 0x00, 2, 0x00, 0x40, 1, 0x80, 0x00, 0x01],
            ),
            // targets -> [r1, r2 terminating, r3]; r1 -> [r2]; only r3
            // lists: r2 is reached again through a terminating delegation,
            // which still ends the search: not found.
            (
                "terminating-visited-still-ends",
                &[
                    3, 4, 0xc0, 0, 0x00, 1, 0x80, 2, 0x00, 0x40, 1, 0x00, 0x00, 0x01,
                ],
            ),
            // targets -> [r1 terminating covering nothing, r2]; r2 lists:
            // found (a terminating delegation that does not cover is passed by).
            (
                "terminating-not-covering-is-passed",
                &[2, 4, 0x80, 0, 0x8c, 1, 0x00, 0x00, 0x01],
            ),
            // targets -> [r1, r2]; r1 -> [r2 wrong key]: r2 refused through r1.
            (
                "refused-through-first-delegator",
                &[2, 4, 0x80, 0, 0x00, 1, 0x00, 0x40, 1, 0x60, 0x01],
            ),
        ];
        for (name, input) in graphs {
            let outcome = fwsign_fuzz_harness::target_search_outcome(input);
            println!("{name}: {outcome}");
            search.put(name, input);
        }

        // Canonical JSON: the release's metadata canonicalised, and edge cases.
        let mut canonical = Seeds::new("canonical_reader");
        let mut portable = Seeds::new("parse_json_vs_serde");
        for (name, bytes) in metadata_files(&repo).iter().chain(&release1_metadata) {
            canonical.put(&format!("repo-{name}"), &canonicalize(bytes).unwrap());
            portable.put(&format!("repo-{name}"), bytes);
        }
        let canonical_cases: &[(&str, &[u8])] = &[
            ("object", b"{}"),
            ("array", b"[]"),
            (
                "nested",
                br#"{"a":[1,-2,true,false,null,"x"],"b":{"c":{}}}"#,
            ),
            ("escapes", br#""a\"b\\c""#),
            ("raw-control", b"\"line\nnext\ttab\x01\""),
            ("utf8", "\"caf\u{e9} \u{1f600}\"".as_bytes()),
            ("u64-max", b"18446744073709551615"),
            ("i64-min", b"-9223372036854775808"),
            ("too-big", b"18446744073709551616"),
            ("minus-zero", b"-0"),
            ("leading-zero", b"01"),
            ("float", b"1.5"),
            ("whitespace", b"{ \"a\": 1 }"),
            ("unsorted", br#"{"b":1,"a":2}"#),
            ("duplicate", br#"{"a":1,"a":2}"#),
            ("escape-n", br#""a\nb""#),
            ("escape-u", br#""\u0041""#),
            ("bad-utf8", b"\"\xff\""),
            ("trailing", b"{}x"),
            ("escaped-key-order", br#"{"a\"":1,"a\\":2}"#),
        ];
        for (name, bytes) in canonical_cases {
            canonical.put(name, bytes);
        }
        canonical.put("depth-32", &nest(32));
        canonical.put("depth-33", &nest(33));

        let json_cases: &[(&str, &[u8])] = &[
            (
                "pretty",
                b"{\n  \"b\": [1, -2],\n  \"a\": \"caf\\u00e9 \\ud83d\\ude00\\n\"\n}\n",
            ),
            ("duplicate", br#"{"a": 1, "a": 2}"#),
            ("float", b"[1.0, 2e5, -0.5]"),
            ("big", b"[18446744073709551616, -9223372036854775809]"),
            ("limits", b"[18446744073709551615, -9223372036854775808]"),
            ("minus-zero", b"-0"),
            ("lone-high", br#""\ud800""#),
            ("lone-low", br#""\udc00""#),
            ("pair", br#""\ud83d\ude00""#),
            ("raw-control", b"\"a\x01b\""),
            ("escapes", br#""\"\\\/\b\f\n\r\t""#),
            ("bom", b"\xef\xbb\xbf{}"),
            ("trailing", b"{} []"),
            ("whitespace", b" \t\r\n{ } \n"),
            ("literals", b"[true,false,null]"),
            ("bad-utf8", b"\"\xc3\x28\""),
        ];
        for (name, bytes) in json_cases {
            portable.put(name, bytes);
        }
        portable.put("depth-127", &nest(127));
        portable.put("depth-128", &nest(128));
        portable.put("depth-129", &nest(129));
        let python_tuf = fuzz_dir().join("../tests/data/python-tuf-repo");
        if let Ok(entries) = std::fs::read_dir(&python_tuf) {
            let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            for path in files
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .take(6)
            {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                portable.put(&format!("python-tuf-{name}"), &std::fs::read(path).unwrap());
            }
        }

        // Bundles: the real ones above, written ones, and damaged copies.
        let zip = |entries: &[(String, EntrySource<'_>)]| {
            let out = scratch.join("written.zip");
            write_bundle(&out, entries).unwrap();
            std::fs::read(&out).unwrap()
        };
        let meta = release1_metadata
            .iter()
            .find(|(n, _)| n == "1.root.json")
            .unwrap();
        bundle_seeds.put("written-empty.zip", &zip(&[]));
        bundle_seeds.put(
            "written-one.zip",
            &zip(&[("metadata/1.root.json".into(), EntrySource::Bytes(&meta.1))]),
        );
        bundle_seeds.put(
            "written-target.zip",
            &zip(&[
                ("metadata/1.root.json".into(), EntrySource::Bytes(&meta.1)),
                ("targets/a/fw.bin".into(), EntrySource::Bytes(&images[0])),
            ]),
        );
        bundle_seeds.put(
            "written-empty-entry.zip",
            &zip(&[("metadata/empty.json".into(), EntrySource::Bytes(b""))]),
        );
        for (name, bytes) in release1_metadata.iter().take(8) {
            bundle_seeds.put(
                &format!("written-{name}.zip"),
                &zip(&[(format!("metadata/{name}"), EntrySource::Bytes(bytes))]),
            );
        }
        let real = std::fs::read(scratch.join("r1-0.zip")).unwrap();
        let mut damaged = |name: &str, f: &dyn Fn(&mut Vec<u8>)| {
            let mut z = real.clone();
            f(&mut z);
            bundle_seeds.put(name, &z);
        };
        damaged("prepended.zip", &|z| z.insert(0, 0));
        damaged("appended.zip", &|z| z.push(0));
        damaged("truncated.zip", &|z| z.truncate(z.len() / 2));
        damaged("no-end.zip", &|z| z.truncate(z.len() - 22));
        damaged("crc.zip", &|z| z[14] ^= 1);
        damaged("data-flip.zip", &|z| z[60] ^= 0x55);
        damaged("entries.zip", &|z| {
            let n = z.len();
            z[n - 12] ^= 1;
        });
        bundle_seeds.put("empty", b"");
        bundle_seeds.put(
            "end-record-only",
            &[
                0x50, 0x4b, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );

        for (target, n) in [
            ("verify_slot", slot_seeds.count),
            ("verify_slot_structured", structured.count),
            ("target_search", search.count),
            ("canonical_reader", canonical.count),
            ("parse_json_vs_serde", portable.count),
            ("bundle_archive", bundle_seeds.count),
        ] {
            println!("{target}: {n} seeds");
        }
        drop(scratch_dir);
        // The images' hashes, for the record.
        for image in &images {
            println!("image {}", to_hex(&Sha256::digest(image)));
        }
    }

    /// `[[...[]...]]` nested `depth` deep.
    fn nest(depth: usize) -> Vec<u8> {
        let mut v = vec![b'['; depth];
        v.extend(std::iter::repeat_n(b']', depth));
        v
    }
}
