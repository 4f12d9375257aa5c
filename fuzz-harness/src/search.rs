//! `target_search`: the one ordered TUF target search
//! (`fwsign_core::search::search_target`) over delegation graphs generated
//! from the input, each role really signed, against a reference search
//! written here the way python-tuf 7.0.1 writes it (a stack of (role,
//! delegator) pairs over the graph itself, not over JSON).
//!
//! The generated graph: `targets` and up to 39 roles `r1`..`r39`; each role
//! may list the searched name (and a decoy name), be missing from the
//! loader, or be signed by the wrong key; each has up to three delegations
//! (any role but `targets`, itself included, so cycles and diamonds occur),
//! each with a pattern or hash-prefix set from a small table, a
//! `terminating` flag, and sometimes a key the child did not sign with. A
//! flag in the header adds a `*` delegation from each role to the next, so
//! chains longer than the search's cap are common.
//!
//! Checked: the search ends; it loads exactly the (role, delegator) pairs
//! the reference loads, in the same order, and verifies the same ones; and
//! both end the same way: found (by the same role, through the same path),
//! not found, a missing role, a refused role, or the delegation limit.

use std::cell::OnceCell;
use std::convert::Infallible;
use std::sync::OnceLock;

use fwsign_core::key_types::{BUILTIN, KeyIdentity};
use fwsign_core::search::{
    Frame, MAX_SEARCH_ROLES, OfflineCheck, RoleBytes, RoleFloors, RoleLoader, SearchError,
    SearchWork, search_target,
};
use fwsign_core::succinct::SuccinctRoles;
use fwsign_core::verify::{Envelope, RootView, TargetsView, ThresholdWork, VerifyError};
use fwsign_core::workflow::WorkflowError;
use fwsign_keys::PrivateKey;
use fwsign_manifest_schema::canonical::to_canonical_vec;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use signature::Signer;

use crate::Bytes;
use crate::fixture::to_hex;

/// Roles in a graph: `targets` and `r1`..`r39` (more than the search may
/// load, so the delegation limit is reached).
const MAX_ROLES: usize = 40;

/// The names searched for.
const TARGETS: [&str; 5] = ["a/b", "a/c", "b/x", "a/b/c", "c"];
/// A name roles may list besides the searched one; never searched for.
const DECOY: &str = "z/decoy";

/// What a delegation covers: `paths` patterns, or hash prefixes (computed
/// from the target names, see [`prefixes`]).
#[derive(Debug, Clone, Copy)]
enum Cover {
    Paths(&'static [&'static str]),
    Prefixes(u8),
}

/// The covers a delegation may have.
const COVERS: [Cover; 24] = [
    Cover::Paths(&["*"]),
    Cover::Paths(&["a/*"]),
    Cover::Paths(&["a/b"]),
    Cover::Paths(&["b/*"]),
    Cover::Paths(&["a/b/*"]),
    Cover::Paths(&["*/*"]),
    Cover::Paths(&["a/?"]),
    Cover::Paths(&[]),
    Cover::Paths(&["a/c", "b/*"]),
    Cover::Paths(&["*/b"]),
    Cover::Paths(&["a/[bc]"]),
    Cover::Paths(&["a/[!b]"]),
    Cover::Paths(&["nomatch"]),
    Cover::Paths(&["*/*/*"]),
    Cover::Paths(&["A/*"]),
    Cover::Paths(&["a*"]),
    Cover::Prefixes(0),
    Cover::Prefixes(1),
    Cover::Prefixes(2),
    Cover::Prefixes(3),
    Cover::Prefixes(4),
    Cover::Prefixes(5),
    Cover::Prefixes(6),
    Cover::Prefixes(7),
];

/// One delegation of a generated role.
#[derive(Debug, Clone)]
struct Delegation {
    child: usize,
    cover: Cover,
    terminating: bool,
    /// The delegator lists a key the child did not sign with.
    wrong_key: bool,
}

/// One generated role.
#[derive(Debug, Clone, Default)]
struct Role {
    lists_target: bool,
    lists_decoy: bool,
    missing: bool,
    bad_signature: bool,
    delegations: Vec<Delegation>,
}

/// A generated delegation graph and the name searched for.
#[derive(Debug, Clone)]
struct Graph {
    roles: Vec<Role>,
    target: &'static str,
}

fn role_name(index: usize) -> String {
    match index {
        0 => "targets".to_owned(),
        i => format!("r{i}"),
    }
}

fn generate(data: &[u8]) -> Graph {
    let mut b = Bytes::new(data);
    let count = 1 + b.pick(MAX_ROLES);
    let header = b.byte();
    let target = TARGETS[usize::from(header & 0x7f) % TARGETS.len()];
    let chain = header & 0x80 != 0;
    let mut roles = Vec::with_capacity(count);
    for index in 0..count {
        let flags = b.byte();
        let mut role = Role {
            lists_target: flags & 0x01 != 0,
            lists_decoy: flags & 0x02 != 0,
            // Rarer than listing: each takes two bits set.
            missing: flags & 0x0c == 0x0c,
            bad_signature: flags & 0x30 == 0x30,
            delegations: Vec::new(),
        };
        for _ in 0..(flags >> 6) {
            let child_byte = b.byte();
            let cover_byte = b.byte();
            if count < 2 {
                continue;
            }
            let child = 1 + usize::from(child_byte) % (count - 1);
            // A role delegated twice by one delegator is malformed; the
            // generator keeps graphs well-formed.
            if role.delegations.iter().any(|d| d.child == child) {
                continue;
            }
            role.delegations.push(Delegation {
                child,
                cover: COVERS[usize::from(cover_byte & 0x1f) % COVERS.len()],
                terminating: cover_byte & 0x80 != 0,
                wrong_key: cover_byte & 0x60 == 0x60,
            });
        }
        if chain && index + 1 < count && !role.delegations.iter().any(|d| d.child == index + 1) {
            role.delegations.push(Delegation {
                child: index + 1,
                cover: Cover::Paths(&["*"]),
                terminating: false,
                wrong_key: false,
            });
        }
        roles.push(role);
    }
    Graph { roles, target }
}

/// The hash-prefix sets: drawn from the searched names' SHA-256 digests so
/// that some cover and some do not, plus the empty prefix (covers every
/// name), an uppercase one (covers none: python-tuf compares lowercase hex
/// case-sensitively) and one that is not hex.
fn prefixes(set: u8) -> Vec<String> {
    let digest = |name: &str| to_hex(&Sha256::digest(name.as_bytes()));
    match set {
        0 => vec![digest("a/b")[..1].to_owned()],
        1 => vec![digest("a/c")[..2].to_owned(), digest("c")[..3].to_owned()],
        2 => vec![
            digest("b/x")[..1].to_owned(),
            digest("a/b/c")[..1].to_owned(),
        ],
        3 => vec![String::new()],
        4 => vec![digest("a/b")[..2].to_uppercase()],
        5 => vec!["g".to_owned()],
        6 => vec![],
        _ => vec![digest("a/b"), digest("c")[..4].to_owned()],
    }
}

/// The reference's own path matcher: python-tuf's
/// `_is_target_in_pathpattern` (same number of `/`-separated parts, each
/// matched by `fnmatch.fnmatchcase`), written plainly and recursively for the
/// `*`, `?`, `[...]` and `[!...]` the pattern table uses.
fn reference_covers(cover: Cover, target: &str) -> bool {
    match cover {
        Cover::Prefixes(set) => {
            let digest = to_hex(&Sha256::digest(target.as_bytes()));
            prefixes(set).iter().any(|p| digest.starts_with(p.as_str()))
        }
        Cover::Paths(patterns) => patterns.iter().any(|pattern| {
            let pattern_parts: Vec<&str> = pattern.split('/').collect();
            let target_parts: Vec<&str> = target.split('/').collect();
            pattern_parts.len() == target_parts.len()
                && pattern_parts
                    .iter()
                    .zip(&target_parts)
                    .all(|(p, t)| fnmatch(p.as_bytes(), t.as_bytes()))
        }),
    }
}

fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| fnmatch(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && fnmatch(rest, &text[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().position(|&c| c == b']') else {
                return text.first() == Some(&b'[') && fnmatch(rest, &text[1..]);
            };
            let (set, after) = (&rest[..close], &rest[close + 1..]);
            let (negated, set) = match set.split_first() {
                Some((b'!', set)) => (true, set),
                _ => (false, set),
            };
            match text.split_first() {
                Some((c, text_rest)) => set.contains(c) != negated && fnmatch(after, text_rest),
                None => false,
            }
        }
        Some((c, rest)) => text.first() == Some(c) && fnmatch(rest, &text[1..]),
    }
}

/// How a search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Found in `role`, reached through `path` (`targets` first).
    Found {
        path: Vec<String>,
    },
    NotFound,
    Missing {
        role: String,
        delegator: String,
    },
    Refused {
        role: String,
    },
    DelegationLimit,
}

/// The reference: python-tuf 7.0.1's `_preorder_depth_first_walk`, with
/// fwsign's documented rules where they differ: a role that cannot be
/// loaded or verified ends the search with an error, and needing a role
/// beyond [`MAX_SEARCH_ROLES`] is an error (python-tuf stops and reports
/// the target as not found). Returns the outcome and the (role, delegator)
/// pairs loaded, in order.
fn reference(graph: &Graph) -> (Outcome, Vec<(String, String)>) {
    struct Pending {
        role: usize,
        delegator: Option<usize>,
        /// The delegation it was reached through, for its keys.
        wrong_key: bool,
        path: Vec<usize>,
    }
    let names = |path: &[usize]| path.iter().map(|&i| role_name(i)).collect::<Vec<_>>();
    let mut loads = Vec::new();
    let mut stack = vec![Pending {
        role: 0,
        delegator: None,
        wrong_key: false,
        path: vec![0],
    }];
    let mut visited: Vec<usize> = Vec::new();
    while let Some(next) = stack.pop() {
        if visited.contains(&next.role) {
            continue;
        }
        if visited.len() >= MAX_SEARCH_ROLES {
            return (Outcome::DelegationLimit, loads);
        }
        let name = role_name(next.role);
        let delegator = next.delegator.map_or("root".to_owned(), role_name);
        loads.push((name.clone(), delegator.clone()));
        let role = &graph.roles[next.role];
        if role.missing {
            return (
                Outcome::Missing {
                    role: name,
                    delegator,
                },
                loads,
            );
        }
        if role.bad_signature || next.wrong_key {
            return (Outcome::Refused { role: name }, loads);
        }
        if role.lists_target {
            return (
                Outcome::Found {
                    path: names(&next.path),
                },
                loads,
            );
        }
        visited.push(next.role);
        let mut children = Vec::new();
        for delegation in &role.delegations {
            if !reference_covers(delegation.cover, graph.target) {
                continue;
            }
            let mut path = next.path.clone();
            path.push(delegation.child);
            children.push(Pending {
                role: delegation.child,
                delegator: Some(next.role),
                wrong_key: delegation.wrong_key,
                path,
            });
            if delegation.terminating {
                stack.clear();
                break;
            }
        }
        children.reverse();
        stack.extend(children);
    }
    (Outcome::NotFound, loads)
}

/// The keys: one per role (index = role), then the key a badly signed role
/// is signed with, then the key a wrong delegation lists.
struct Keys {
    keys: Vec<(PrivateKey, String, Value)>,
}

const BAD_SIGNER: usize = MAX_ROLES;
const WRONG_LISTED: usize = MAX_ROLES + 1;

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        keys: (0..MAX_ROLES + 2)
            .map(|i| {
                let key = crate::keys::ed25519(u8::try_from(i + 1).expect("few keys"));
                let keyid = key.public_key().keyid();
                let tuf = serde_json::to_value(key.public_key().to_tuf_key())
                    .expect("a key object serializes");
                (key, keyid, tuf)
            })
            .collect(),
    })
}

const EXPIRES: &str = "2100-01-01T00:00:00Z";

fn entry() -> Value {
    json!({"hashes": {"sha256": "00".repeat(32)}, "length": 1})
}

/// The canonical, signed envelope of role `index`.
fn role_document(graph: &Graph, index: usize) -> Vec<u8> {
    let keys = &keys().keys;
    let role = &graph.roles[index];
    let mut targets = Map::new();
    if role.lists_target {
        targets.insert(graph.target.to_owned(), entry());
    }
    if role.lists_decoy {
        targets.insert(DECOY.to_owned(), entry());
    }
    let mut signed = json!({
        "_type": "targets",
        "expires": EXPIRES,
        "spec_version": "1.0.31",
        "targets": targets,
        "version": 1,
    });
    if !role.delegations.is_empty() {
        let mut key_table = Map::new();
        let mut delegated = Vec::new();
        for d in &role.delegations {
            let listed = if d.wrong_key { WRONG_LISTED } else { d.child };
            let (_, keyid, tuf) = &keys[listed];
            key_table.insert(keyid.clone(), tuf.clone());
            let mut entry = json!({
                "keyids": [keyid],
                "name": role_name(d.child),
                "terminating": d.terminating,
                "threshold": 1,
            });
            match d.cover {
                Cover::Paths(paths) => entry["paths"] = json!(paths),
                Cover::Prefixes(set) => entry["path_hash_prefixes"] = json!(prefixes(set)),
            }
            delegated.push(entry);
        }
        signed["delegations"] = json!({"keys": key_table, "roles": delegated});
    }
    let payload = to_canonical_vec(&signed).expect("generated metadata is canonical JSON");
    let signer = if role.bad_signature {
        BAD_SIGNER
    } else {
        index
    };
    let signature = keys[signer].0.try_sign(&payload).expect("Ed25519 signs");
    let envelope = json!({
        "signatures": [{"keyid": keys[index].1, "sig": to_hex(&signature.0)}],
        "signed": signed,
    });
    to_canonical_vec(&envelope).expect("an envelope is canonical JSON")
}

/// Root version 1, giving `targets` role 0's key (unsigned: the search
/// trusts the root it is handed).
fn root_document() -> &'static [u8] {
    static ROOT: OnceLock<Vec<u8>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let (_, keyid, tuf) = &keys().keys[0];
        let role = json!({"keyids": [keyid], "threshold": 1});
        let signed = json!({
            "_type": "root",
            "consistent_snapshot": false,
            "expires": EXPIRES,
            "keys": {keyid.clone(): tuf},
            "roles": {"root": role, "snapshot": role, "targets": role, "timestamp": role},
            "spec_version": "1.0.31",
            "version": 1,
        });
        to_canonical_vec(&json!({"signatures": [], "signed": signed})).expect("canonical root")
    })
}

/// Hands out the generated roles, signing each the first time it is asked
/// for, and records what the search loads and verifies.
struct Loader<'a> {
    graph: &'a Graph,
    names: &'a [String],
    documents: &'a [OnceCell<Vec<u8>>],
    loads: Vec<(String, String)>,
    verified: Vec<(String, String)>,
    counted: Vec<KeyIdentity>,
    signed: Vec<bool>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl<'a> RoleLoader<'a> for Loader<'a> {
    type Error = Infallible;

    // The generated graphs list every role by name (no succinct bins).
    fn bin_name(&mut self, bins: &SuccinctRoles<'a>, bin: u32) -> Option<&'a [u8]> {
        let bin = bins.bin_name(bin);
        self.names
            .iter()
            .find(|n| bin.matches(n.as_bytes()))
            .map(|n| n.as_bytes())
    }

    fn load(
        &mut self,
        role: &'a [u8],
        delegator: &'a [u8],
    ) -> Result<Option<RoleBytes<'a>>, Infallible> {
        self.loads.push((text(role), text(delegator)));
        let Some(index) = self.names.iter().position(|n| n.as_bytes() == role) else {
            return Ok(None);
        };
        if self.graph.roles[index].missing {
            return Ok(None);
        }
        let bytes: &'a [u8] =
            self.documents[index].get_or_init(|| role_document(self.graph, index));
        Ok(Some(RoleBytes {
            raw: bytes,
            canonical: bytes,
        }))
    }

    fn work(&mut self, keyids: usize) -> ThresholdWork<'_> {
        self.counted.resize(keyids, KeyIdentity::default());
        self.signed.resize(keyids, false);
        ThresholdWork {
            counted: &mut self.counted,
            signed: &mut self.signed,
        }
    }

    fn verified(&mut self, role: &'a [u8], delegator: &'a [u8], _view: &TargetsView<'a>) {
        self.verified.push((text(role), text(delegator)));
    }
}

struct NoFloors;

impl RoleFloors for NoFloors {
    fn floor(&self, _role: &[u8]) -> Option<u64> {
        None
    }
}

/// Generates a delegation graph from `data`, signs its roles, runs
/// [`search_target`] over it (offline check, no version floors, no time)
/// and the reference over the graph, and panics if they disagree.
pub fn target_search(data: &[u8]) {
    let _ = target_search_outcome(data);
}

/// [`target_search`], returning how the search ended and how many roles it
/// loaded (for choosing seeds).
pub fn target_search_outcome(data: &[u8]) -> String {
    let graph = generate(data);
    let names: Vec<String> = (0..graph.roles.len()).map(role_name).collect();
    let documents: Vec<OnceCell<Vec<u8>>> =
        (0..graph.roles.len()).map(|_| OnceCell::new()).collect();
    let root =
        RootView::new(Envelope::parse(root_document()).expect("root envelope")).expect("root view");
    let mut loader = Loader {
        graph: &graph,
        names: &names,
        documents: &documents,
        loads: Vec::new(),
        verified: Vec::new(),
        counted: Vec::new(),
        signed: Vec::new(),
    };
    let mut frames: Vec<Option<Frame<'_>>> = vec![None; MAX_SEARCH_ROLES];
    let mut visited: Vec<&[u8]> = vec![&[][..]; MAX_SEARCH_ROLES];
    let mut work = SearchWork {
        frames: &mut frames,
        visited: &mut visited,
    };
    let result = search_target(
        &root,
        &OfflineCheck {
            floors: &NoFloors,
            now: None,
        },
        graph.target.as_bytes(),
        &mut loader,
        BUILTIN,
        &mut work,
    );
    let outcome = match &result {
        Ok(Some(found)) => {
            assert_eq!(found.entry.length, 1);
            let path: Vec<String> = work.path(found).map(text).collect();
            assert_eq!(path.last().map(String::as_bytes), Some(found.role));
            Outcome::Found { path }
        }
        Ok(None) => Outcome::NotFound,
        Err(SearchError::Missing { role, delegator }) => Outcome::Missing {
            role: text(role),
            delegator: text(delegator),
        },
        Err(SearchError::Refused { role, error }) => {
            assert!(
                matches!(
                    error,
                    WorkflowError::Verify(VerifyError::ThresholdNotMet { .. })
                ),
                "a generated role was refused for another reason than its signature: {error:?}"
            );
            Outcome::Refused { role: text(role) }
        }
        Err(SearchError::DelegationLimit) => Outcome::DelegationLimit,
        Err(other) => panic!("the search failed with {other:?}"),
    };
    let (expected, expected_loads) = reference(&graph);
    assert!(loader.loads.len() <= MAX_SEARCH_ROLES);
    assert_eq!(
        (&outcome, &loader.loads),
        (&expected, &expected_loads),
        "search_target and the reference disagree on {graph:?}"
    );
    // Every load but a failing last one was verified.
    let failed = matches!(outcome, Outcome::Missing { .. } | Outcome::Refused { .. });
    let verified = loader.loads.len() - usize::from(failed);
    assert_eq!(loader.verified, loader.loads[..verified]);
    let kind = format!("{outcome:?}");
    let kind = kind.split([' ', '{']).next().unwrap_or_default();
    format!("{kind} after {} loads", loader.loads.len())
}
