//! The ordered target search against hand-built delegation graphs, each
//! named after the attack or the python-tuf rule it pins down.

#![allow(
    clippy::arithmetic_side_effects,
    reason = "test setup counts roles and keys; overflow is impossible at these sizes"
)]

use std::collections::BTreeMap;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use super::*;
use crate::key_types::{BUILTIN, KeyIdentity};

const EXPIRES: &str = "2099-01-01T00:00:00Z";

fn canonical(v: &Value) -> Vec<u8> {
    fwsign_manifest_schema::canonical::to_canonical_vec(v).unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn keyid(seed: u8) -> String {
    format!("{seed:02x}").repeat(32)
}

fn key_json(seed: u8) -> Value {
    let public = base16ct::lower::encode_string(key(seed).verifying_key().as_bytes());
    json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public}})
}

fn envelope(signed: &Value, signers: &[u8]) -> Vec<u8> {
    let payload = canonical(signed);
    let signatures: Vec<Value> = signers
        .iter()
        .map(|s| {
            let sig = key(*s).sign(&payload);
            json!({"keyid": keyid(*s), "sig": base16ct::lower::encode_string(&sig.to_bytes())})
        })
        .collect();
    canonical(&json!({"signatures": signatures, "signed": signed}))
}

/// One delegation: (role, paths, terminating, signing key seed).
type Delegation = (&'static str, &'static [&'static str], bool, u8);

/// A repository in the making: the roles, each with the target names it
/// lists and its delegations in order.
#[derive(Default)]
struct Graph {
    roles: BTreeMap<&'static str, (Vec<&'static str>, Vec<Delegation>)>,
    /// Role -> the key seed that signs it (default: 1 for `targets`).
    signer: BTreeMap<&'static str, u8>,
    /// Role -> TAP 15 hashed bins it delegates to instead of its listed
    /// delegations: (bit_length, name_prefix, key seed of every bin).
    succinct: BTreeMap<&'static str, (u32, &'static str, u8)>,
}

const TARGETS_KEY: u8 = 1;

impl Graph {
    fn role(
        mut self,
        name: &'static str,
        lists: &[&'static str],
        delegations: &[Delegation],
    ) -> Self {
        self.roles
            .insert(name, (lists.to_vec(), delegations.to_vec()));
        self
    }

    fn signed_by(mut self, role: &'static str, seed: u8) -> Self {
        self.signer.insert(role, seed);
        self
    }

    fn succinct(
        mut self,
        role: &'static str,
        bit_length: u32,
        prefix: &'static str,
        seed: u8,
    ) -> Self {
        self.succinct.insert(role, (bit_length, prefix, seed));
        self
    }

    /// Each role's envelope, signed by the key its (first) delegator names
    /// unless `signed_by` says otherwise.
    fn build(&self) -> (Vec<u8>, BTreeMap<String, Vec<u8>>) {
        let mut seeds: BTreeMap<&str, u8> = BTreeMap::new();
        seeds.insert("targets", TARGETS_KEY);
        for (_, delegations) in self.roles.values() {
            for (name, _, _, seed) in delegations {
                seeds.entry(name).or_insert(*seed);
            }
        }
        for (_, prefix, seed) in self.succinct.values() {
            for name in self.roles.keys() {
                if name.starts_with(&format!("{prefix}-")) {
                    seeds.entry(name).or_insert(*seed);
                }
            }
        }
        let mut out = BTreeMap::new();
        for (name, (lists, delegations)) in &self.roles {
            let targets: serde_json::Map<String, Value> = lists
                .iter()
                .map(|t| {
                    (
                        (*t).to_owned(),
                        json!({"length": 4, "hashes": {"sha256": "00".repeat(32)}, "custom": {"by": name}}),
                    )
                })
                .collect();
            let mut signed = json!({
                "_type": "targets", "spec_version": "1.0.31", "version": 1,
                "expires": EXPIRES, "targets": targets,
            });
            if !delegations.is_empty() {
                let keys: serde_json::Map<String, Value> = delegations
                    .iter()
                    .map(|(_, _, _, seed)| (keyid(*seed), key_json(*seed)))
                    .collect();
                let roles: Vec<Value> = delegations
                    .iter()
                    .map(|(role, paths, terminating, seed)| {
                        json!({"name": role, "keyids": [keyid(*seed)], "threshold": 1,
                               "terminating": terminating, "paths": paths})
                    })
                    .collect();
                signed["delegations"] = json!({"keys": keys, "roles": roles});
            }
            if let Some((bit_length, prefix, seed)) = self.succinct.get(name) {
                signed["delegations"] = json!({
                    "keys": {keyid(*seed): key_json(*seed)},
                    "succinct_roles": {"keyids": [keyid(*seed)], "threshold": 1,
                                       "bit_length": bit_length, "name_prefix": prefix},
                });
            }
            let seed = self
                .signer
                .get(name)
                .or_else(|| seeds.get(name))
                .copied()
                .unwrap_or(TARGETS_KEY);
            out.insert((*name).to_owned(), envelope(&signed, &[seed]));
        }
        let root = json!({
            "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
            "consistent_snapshot": true,
            "keys": {keyid(9): key_json(9), keyid(TARGETS_KEY): key_json(TARGETS_KEY)},
            "roles": {
                "root": {"keyids": [keyid(9)], "threshold": 1},
                "targets": {"keyids": [keyid(TARGETS_KEY)], "threshold": 1},
                "snapshot": {"keyids": [keyid(9)], "threshold": 1},
                "timestamp": {"keyids": [keyid(9)], "threshold": 1},
            },
        });
        (envelope(&root, &[9]), out)
    }
}

/// Serves roles from a map and records every request.
struct MapLoader<'a> {
    roles: &'a BTreeMap<String, Vec<u8>>,
    requests: Vec<(String, String)>,
    counted: Vec<KeyIdentity>,
    signed: Vec<bool>,
}

impl<'a> RoleLoader<'a> for MapLoader<'a> {
    type Error = ();

    fn load(&mut self, role: &'a [u8], delegator: &'a [u8]) -> Result<Option<RoleBytes<'a>>, ()> {
        let role = std::str::from_utf8(role).unwrap();
        self.requests.push((
            role.to_owned(),
            std::str::from_utf8(delegator).unwrap().to_owned(),
        ));
        Ok(self.roles.get(role).map(|b| RoleBytes {
            raw: b,
            canonical: b,
        }))
    }

    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]> {
        let bin = bins.bin_name(bin);
        self.roles
            .keys()
            .find(|name| bin.matches(name.as_bytes()))
            .map(|name| name.as_bytes())
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.counted = vec![KeyIdentity::default(); keyids];
        self.signed = vec![false; keyids];
        ThresholdWork {
            counted: &mut self.counted,
            signed: &mut self.signed,
        }
    }
}

struct NoFloors;

impl RoleFloors for NoFloors {
    fn floor(&self, _: &[u8]) -> Option<u64> {
        None
    }
}

/// What one search decided: the listing role and the path to it, or why not.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Found { role: String, path: Vec<String> },
    NotFound,
    Missing(String),
    Refused(String),
    Limit,
}

fn run(graph: &Graph, target: &str) -> (Outcome, Vec<String>) {
    let (root_bytes, roles) = graph.build();
    let root = RootView::new(Envelope::parse(&root_bytes).unwrap()).unwrap();
    let mut loader = MapLoader {
        roles: &roles,
        requests: Vec::new(),
        counted: Vec::new(),
        signed: Vec::new(),
    };
    let mut frames: Vec<Option<Frame<'_>>> = vec![None; MAX_SEARCH_ROLES];
    let mut visited: Vec<&[u8]> = vec![&[]; MAX_SEARCH_ROLES];
    let mut work = SearchWork {
        frames: &mut frames,
        visited: &mut visited,
    };
    let check = OfflineCheck {
        floors: &NoFloors,
        now: None,
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    let outcome = match search_target(
        &root,
        &check,
        target.as_bytes(),
        &mut loader,
        BUILTIN,
        &mut work,
    ) {
        Ok(Some(found)) => Outcome::Found {
            role: text(found.role),
            path: work.path(&found).map(text).collect(),
        },
        Ok(None) => Outcome::NotFound,
        Err(SearchError::Missing { role, .. }) => Outcome::Missing(text(role)),
        Err(SearchError::Refused { role, .. }) => Outcome::Refused(text(role)),
        Err(SearchError::DelegationLimit) => Outcome::Limit,
        Err(e) => panic!("unexpected {e:?}"),
    };
    let requested = loader.requests.into_iter().map(|(r, _)| r).collect();
    (outcome, requested)
}

fn found(role: &str, path: &[&str]) -> Outcome {
    Outcome::Found {
        role: role.to_owned(),
        path: path.iter().map(|s| (*s).to_owned()).collect(),
    }
}

const FW: &str = "evc-a1/fw.bin";

/// Attack (issue 12): the holder of a 1-of-1 `nightly` key lists her own
/// image under a name the 2-of-3 `targets` role already lists. The search
/// ends at `targets`; `nightly` is never even loaded.
#[test]
fn a_weaker_delegated_role_cannot_answer_for_a_name_targets_lists() {
    let graph = Graph::default()
        .role("targets", &[FW], &[("nightly", &["evc-a1/*"], false, 2)])
        .role("nightly", &[FW], &[]);
    assert_eq!(
        run(&graph, FW),
        (found("targets", &["targets"]), vec!["targets".into()])
    );
}

/// Attack, terminating variant: a terminating `release` delegation covering
/// the name stands before the catch-all `nightly`. `release` does not list
/// it, so the search ends with nothing: `nightly` is never asked.
#[test]
fn a_terminating_delegation_ends_the_search_before_later_siblings() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[
                ("release", &["evc-a1/*"], true, 2),
                ("nightly", &["*/*"], false, 3),
            ],
        )
        .role("release", &[], &[])
        .role("nightly", &[FW], &[]);
    let (outcome, requested) = run(&graph, FW);
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets", "release"]);
}

/// A terminating delegation deep in the tree also drops the roles still
/// pending higher up (python-tuf empties its whole stack).
#[test]
fn a_nested_terminating_delegation_drops_pending_roles_higher_up() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[
                ("a", &["evc-a1/*"], false, 2),
                ("b", &["evc-a1/*"], false, 3),
            ],
        )
        .role("a", &[], &[("a1", &["evc-a1/*"], true, 4)])
        .role("a1", &[], &[])
        .role("b", &[FW], &[]);
    let (outcome, requested) = run(&graph, FW);
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets", "a", "a1"]);
}

/// Pre-order, in the delegator's order: a non-terminating role that does
/// not list the name is searched (with its subtree) before the next one.
#[test]
fn delegations_are_searched_depth_first_in_listed_order() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[
                ("other", &["evc-b2/*"], false, 5),
                ("a", &["evc-a1/*"], false, 2),
                ("b", &["evc-a1/*"], false, 3),
            ],
        )
        .role("other", &[FW], &[])
        .role("a", &[], &[("a1", &["evc-a1/*"], false, 4)])
        .role("a1", &[], &[])
        .role("b", &[FW], &[]);
    let (outcome, requested) = run(&graph, FW);
    assert_eq!(outcome, found("b", &["targets", "b"]));
    // `other` does not cover the name and is never loaded.
    assert_eq!(requested, ["targets", "a", "a1", "b"]);
}

/// A diamond: `c` is reached through `a` first and skipped when `b` reaches
/// it again (python-tuf's visited set is keyed by role name).
#[test]
fn a_role_reached_twice_is_searched_once() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[
                ("a", &["evc-a1/*"], false, 2),
                ("b", &["evc-a1/*"], false, 3),
            ],
        )
        .role("a", &[], &[("c", &["evc-a1/*"], false, 4)])
        .role("b", &[], &[("c", &["evc-a1/*"], false, 4)])
        .role("c", &[], &[]);
    let (outcome, requested) = run(&graph, FW);
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets", "a", "c", "b"]);
}

/// Attack: in a diamond, `c` is signed only by the key `b` gives it; the
/// search reaches it through `a` first, whose key did not sign it. That is
/// an error, never a skip that lets `b`'s path vouch for `c` instead.
#[test]
fn a_role_failing_its_delegators_threshold_is_an_error_not_a_skip() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[
                ("a", &["evc-a1/*"], false, 2),
                ("b", &["evc-a1/*"], false, 3),
            ],
        )
        .role("a", &[], &[("c", &["evc-a1/*"], false, 4)])
        .role("b", &[], &[("c", &["evc-a1/*"], false, 6)])
        .role("c", &[FW], &[])
        .signed_by("c", 6);
    assert_eq!(run(&graph, FW).0, Outcome::Refused("c".into()));
}

/// A role reached again through a terminating delegation still ends the
/// search there.
#[test]
fn a_visited_role_behind_a_terminating_delegation_still_ends_the_search() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[
                ("a", &["evc-a1/*"], false, 2),
                ("c", &["evc-a1/*"], true, 4),
                ("b", &["evc-a1/*"], false, 3),
            ],
        )
        .role("a", &[], &[("c", &["evc-a1/*"], false, 4)])
        .role("c", &[], &[])
        .role("b", &[FW], &[]);
    let (outcome, requested) = run(&graph, FW);
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets", "a", "c"]);
}

/// A cycle (`a` -> `b` -> `a`) terminates.
#[test]
fn a_delegation_cycle_terminates() {
    let graph = Graph::default()
        .role("targets", &[], &[("a", &["*/*"], false, 2)])
        .role("a", &[], &[("b", &["*/*"], false, 3)])
        .role("b", &[], &[("a", &["*/*"], false, 2)]);
    let (outcome, requested) = run(&graph, FW);
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets", "a", "b"]);
}

/// Attack: a delegation chain longer than the cap (a mirror making the
/// client fetch without end) fails at MAX_SEARCH_ROLES loads.
#[test]
fn the_search_loads_at_most_max_search_roles() {
    const NAMES: [&str; 40] = [
        "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25", "r26",
        "r27", "r28", "r29", "r30", "r31", "r32", "r33", "r34", "r35", "r36", "r37", "r38", "r39",
    ];
    let mut graph = Graph::default().role("targets", &[], &[(NAMES[0], &["*/*"], false, 2)]);
    for pair in NAMES.windows(2) {
        graph = graph.role(pair[0], &[], &[(pair[1], &["*/*"], false, 2)]);
    }
    graph = graph.role(NAMES[39], &[FW], &[]);
    let (outcome, requested) = run(&graph, FW);
    assert_eq!(outcome, Outcome::Limit);
    assert_eq!(requested.len(), MAX_SEARCH_ROLES);

    // Exactly at the cap the target is still found.
    let mut graph = Graph::default().role("targets", &[], &[(NAMES[0], &["*/*"], false, 2)]);
    for pair in NAMES[..MAX_DELEGATIONS].windows(2) {
        graph = graph.role(pair[0], &[], &[(pair[1], &["*/*"], false, 2)]);
    }
    graph = graph.role(NAMES[MAX_DELEGATIONS - 1], &[FW], &[]);
    let (outcome, requested) = run(&graph, FW);
    assert!(matches!(outcome, Outcome::Found { .. }), "{outcome:?}");
    assert_eq!(requested.len(), MAX_SEARCH_ROLES);
}

/// A delegated role the source does not have is an error, not a miss.
#[test]
fn a_missing_role_is_an_error() {
    let graph = Graph::default().role("targets", &[], &[("gone", &["evc-a1/*"], false, 2)]);
    assert_eq!(run(&graph, FW).0, Outcome::Missing("gone".into()));
}

/// python-tuf's path rules the search relies on: `*` never crosses `/`;
/// `?` is exactly one character; matching is case-sensitive.
#[test]
fn only_covering_delegations_are_entered() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[
                ("star", &["evc-a1/*"], false, 2),
                ("one", &["evc-a1/f?.bin"], false, 3),
                ("upper", &["EVC-A1/*"], false, 4),
            ],
        )
        .role("star", &["evc-a1/sub/fw.bin"], &[])
        .role("one", &["evc-a1/fw.bin"], &[])
        .role("upper", &["evc-a1/x.bin"], &[]);
    // `evc-a1/*` does not cover a name one level deeper, and nothing else
    // does: only `targets` is loaded.
    let (outcome, requested) = run(&graph, "evc-a1/sub/fw.bin");
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets"]);
    // `f?.bin` covers `fw.bin`, after `star` was searched.
    let (outcome, requested) = run(&graph, "evc-a1/fw.bin");
    assert_eq!(outcome, found("one", &["targets", "one"]));
    assert_eq!(requested, ["targets", "star", "one"]);
    // `?` does not match two characters; `EVC-A1/*` does not match a
    // lowercase name.
    for name in ["evc-a1/fww.bin", "evc-a1/x.bin"] {
        let (outcome, requested) = run(&graph, name);
        assert_eq!(outcome, Outcome::NotFound);
        assert_eq!(requested, ["targets", "star"], "{name}");
    }
}

fn targets_with_delegations(roles: Value) -> Vec<u8> {
    let signed = json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
        "targets": {}, "delegations": {"keys": {}, "roles": roles},
    });
    envelope(&signed, &[1])
}

fn targets_view_error(doc: &[u8]) -> Option<VerifyError> {
    TargetsView::new(Envelope::parse(doc).unwrap()).err()
}

/// Attack: one role delegated twice in one list, with two key sets; a
/// search that looks delegations up by name would check one and trust the
/// other. Refused as python-tuf refuses it.
#[test]
fn a_role_delegated_twice_in_one_list_is_malformed() {
    let doc = targets_with_delegations(json!([
        {"name": "a", "keyids": [], "threshold": 1, "terminating": false, "paths": ["*"]},
        {"name": "a", "keyids": [], "threshold": 1, "terminating": false, "paths": ["x"]},
    ]));
    assert!(matches!(
        targets_view_error(&doc),
        Some(VerifyError::Malformed(_))
    ));
}

#[test]
fn a_delegation_needs_exactly_one_of_paths_and_hash_prefixes() {
    for role in [
        json!({"name": "a", "keyids": [], "threshold": 1, "terminating": false}),
        json!({"name": "a", "keyids": [], "threshold": 1, "terminating": false,
               "paths": ["*"], "path_hash_prefixes": ["ab"]}),
    ] {
        let doc = targets_with_delegations(json!([role]));
        assert!(matches!(
            targets_view_error(&doc),
            Some(VerifyError::Malformed(_))
        ));
    }
    for role in [
        json!({"name": "a", "keyids": [], "threshold": 1, "terminating": false, "paths": ["*"]}),
        json!({"name": "a", "keyids": [], "threshold": 1, "terminating": false,
               "path_hash_prefixes": ["ab"]}),
    ] {
        assert!(targets_view_error(&targets_with_delegations(json!([role]))).is_none());
    }
}

fn common_of(spec_version: Value, version: Value) -> Result<crate::verify::Common, VerifyError> {
    let signed = json!({
        "_type": "targets", "spec_version": spec_version, "version": version,
        "expires": EXPIRES, "targets": {},
    });
    let doc = envelope(&signed, &[1]);
    Envelope::parse(&doc).unwrap().common("targets")
}

#[test]
fn spec_version_is_one_dot_y_or_one_dot_y_dot_z() {
    for ok in ["1.0", "1.0.34", "1.12.0"] {
        assert!(common_of(json!(ok), json!(1)).is_ok(), "{ok}");
    }
    for bad in [
        "", "1", "2.0.0", "1.", "1..0", "1.0.", "1.0.0.0", "1.a", "v1.0", "1.0-rc1", "10.0",
    ] {
        assert!(common_of(json!(bad), json!(1)).is_err(), "{bad:?}");
    }
    assert!(common_of(json!(1), json!(1)).is_err());
}

#[test]
fn version_zero_is_malformed() {
    assert!(matches!(
        common_of(json!("1.0.31"), json!(0)),
        Err(VerifyError::Malformed(_))
    ));
}

/// Attack: a mirror pads a role with fake signatures so the duplicate-key
/// check costs minutes; over MAX_SIGNATURES the role is malformed before
/// any pair is compared.
#[test]
fn more_signatures_than_the_cap_is_malformed() {
    let signed = json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
        "targets": {},
    });
    let fake: Vec<Value> = (0..=crate::verify::MAX_SIGNATURES)
        .map(|i| json!({"keyid": format!("{i:064x}"), "sig": "00"}))
        .collect();
    let doc = canonical(&json!({"signatures": fake, "signed": signed}));
    let env = Envelope::parse(&doc).unwrap();
    let root_bytes = Graph::default().build().0;
    let root = RootView::new(Envelope::parse(&root_bytes).unwrap()).unwrap();
    let mut counted = vec![KeyIdentity::default(); 1];
    let mut flags = vec![false; 1];
    let mut work = ThresholdWork {
        counted: &mut counted,
        signed: &mut flags,
    };
    assert!(matches!(
        root.verify_role("targets", &env, BUILTIN, &mut work),
        Err(VerifyError::Malformed(_))
    ));
}

// TAP 15 succinct hashed bins. With bit_length 5 and prefix `bins`,
// python-tuf 7.0.1 puts `a` in `bins-19` and `b/c.bin` in `bins-04`.

/// The search enters exactly the bin the name's hash selects, checked
/// against the keys `succinct_roles` gives every bin.
#[test]
fn a_succinct_delegation_enters_the_one_bin_the_hash_selects() {
    let graph = Graph::default()
        .role("targets", &[], &[])
        .succinct("targets", 5, "bins", 2)
        .role("bins-19", &["a"], &[])
        .role("bins-04", &["b/c.bin"], &[]);
    assert_eq!(
        run(&graph, "a"),
        (
            found("bins-19", &["targets", "bins-19"]),
            vec!["targets".into(), "bins-19".into()]
        )
    );
    assert_eq!(
        run(&graph, "b/c.bin").0,
        found("bins-04", &["targets", "bins-04"])
    );
}

/// Attack: the holder of one bin's key lists an image whose name hashes to
/// another bin. The search never asks the wrong bin.
#[test]
fn a_bin_cannot_answer_for_a_name_of_another_bin() {
    let graph = Graph::default()
        .role("targets", &[], &[])
        .succinct("targets", 5, "bins", 2)
        .role("bins-19", &[], &[])
        .role("bins-04", &["a"], &[]);
    let (outcome, requested) = run(&graph, "a");
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets", "bins-19"]);
}

/// Every bin is terminating (TAP 15; python-tuf yields bins as
/// terminating): a later sibling of the bins' delegator is never asked.
#[test]
fn hashed_bins_are_terminating() {
    let graph = Graph::default()
        .role(
            "targets",
            &[],
            &[("mid", &["*"], false, 3), ("later", &["*"], false, 4)],
        )
        .role("mid", &[], &[])
        .succinct("mid", 5, "bins", 2)
        .role("bins-19", &[], &[])
        .role("later", &["a"], &[]);
    let (outcome, requested) = run(&graph, "a");
    assert_eq!(outcome, Outcome::NotFound);
    assert_eq!(requested, ["targets", "mid", "bins-19"]);
}

/// Attack: a bin signed by a key `succinct_roles` does not list (the CI key,
/// say) is refused, not skipped.
#[test]
fn a_bin_signed_by_another_key_is_refused() {
    let graph = Graph::default()
        .role("targets", &[], &[])
        .succinct("targets", 5, "bins", 2)
        .role("bins-19", &["a"], &[])
        .signed_by("bins-19", 7);
    assert_eq!(run(&graph, "a").0, Outcome::Refused("bins-19".into()));
}

/// A bin the source does not have is missing, as any delegated role.
#[test]
fn a_missing_bin_is_an_error() {
    let graph = Graph::default()
        .role("targets", &[], &[])
        .succinct("targets", 5, "bins", 2);
    assert!(matches!(run(&graph, "a").0, Outcome::Missing(_)));
}

fn targets_with(delegations: Value) -> Vec<u8> {
    let signed = json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
        "targets": {}, "delegations": delegations,
    });
    envelope(&signed, &[1])
}

/// TAP 15: exactly one of `roles` and `succinct_roles`; `bit_length` 1 to
/// 32; keys and threshold as any role.
#[test]
fn succinct_roles_are_checked_as_python_tuf_checks_them() {
    let succinct = |bit_length: Value, threshold: Value| {
        json!({"keyids": [], "threshold": threshold, "bit_length": bit_length,
               "name_prefix": "bins"})
    };
    for bad in [
        json!({"keys": {}}),
        json!({"keys": {}, "roles": [], "succinct_roles": succinct(json!(4), json!(1))}),
        json!({"keys": {}, "succinct_roles": succinct(json!(0), json!(1))}),
        json!({"keys": {}, "succinct_roles": succinct(json!(33), json!(1))}),
        json!({"keys": {}, "succinct_roles": succinct(json!("4"), json!(1))}),
        json!({"keys": {}, "succinct_roles": {"keyids": [], "threshold": 1, "bit_length": 4}}),
    ] {
        assert!(
            matches!(
                targets_view_error(&targets_with(bad.clone())),
                Some(VerifyError::Malformed(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        targets_view_error(&targets_with(
            json!({"keys": {}, "succinct_roles": succinct(json!(4), json!(0))})
        )),
        Some(VerifyError::ThresholdZero)
    ));
    let doc = targets_with(json!({"keys": {}, "succinct_roles": succinct(json!(5), json!(1))}));
    let view = TargetsView::new(Envelope::parse(&doc).unwrap()).unwrap();
    // Names the bins answer to, as the search computes them.
    let bin = view.delegated_role("bins-19").unwrap();
    assert!(bin.terminating());
    assert!(bin.covers("a") && !bin.covers("b/c.bin"));
    assert_eq!(bin.keys().unwrap().threshold, 1);
    for not_a_bin in [
        "bins-1", "bins-019", "bins-20", "bins-1F", "bin-19", "bins19", "bins-1g",
    ] {
        assert!(view.delegated_role(not_a_bin).is_none(), "{not_a_bin}");
    }
}
