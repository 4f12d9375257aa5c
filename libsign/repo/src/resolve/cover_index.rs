//! Which of many delegations cover a name, found by looking the name's hash
//! up rather than testing every delegation.
//!
//! Publishing warns about every published name that a second delegation
//! covers, so each name is matched against delegations. With 10^5 names in
//! 1,024 hashed bins (four prefixes each, in 32 groups) testing them one by
//! one was some 6 x 10^8 prefix comparisons per publish. Here each
//! delegation's prefixes go into a map by prefix, and a name costs one
//! lookup per distinct prefix length. Delegations by `paths` are few and
//! are still matched one by one. The answer is the one
//! [`delegation_covers_path`] gives (a test holds them to it).

use std::collections::{BTreeMap, HashMap};

use fwsign_core::path_match::{HashedPath, delegation_covers_path};
use fwsign_manifest_schema::metadata::DelegatedRole;

/// Delegations, indexed by the hash prefixes they cover.
pub(crate) struct CoverIndex<'r> {
    delegations: Vec<&'r DelegatedRole>,
    /// Prefixes by their length, each to the delegations listing it (as
    /// positions in `delegations`, ascending).
    by_prefix: BTreeMap<usize, HashMap<&'r str, Vec<usize>>>,
    /// Delegations matched by `paths` patterns (no `path_hash_prefixes`).
    by_paths: Vec<usize>,
}

impl<'r> CoverIndex<'r> {
    /// Indexes `delegations`, in their order.
    pub(crate) fn new(delegations: impl IntoIterator<Item = &'r DelegatedRole>) -> Self {
        let mut index = Self {
            delegations: Vec::new(),
            by_prefix: BTreeMap::new(),
            by_paths: Vec::new(),
        };
        for (at, d) in delegations.into_iter().enumerate() {
            index.delegations.push(d);
            // As the core matches: prefixes, when present, decide alone.
            match (&d.path_hash_prefixes, &d.paths) {
                (Some(prefixes), _) => {
                    for p in prefixes {
                        let listed = index
                            .by_prefix
                            .entry(p.len())
                            .or_default()
                            .entry(p.as_str())
                            .or_default();
                        if listed.last() != Some(&at) {
                            listed.push(at);
                        }
                    }
                }
                (None, Some(_)) => index.by_paths.push(at),
                (None, None) => {}
            }
        }
        index
    }

    /// The delegations covering `name`, in delegation order (what the
    /// tests hold the index to).
    #[cfg(test)]
    pub(crate) fn covering(&self, name: &HashedPath<'_>) -> Vec<&'r DelegatedRole> {
        let mut at: Vec<usize> = Vec::new();
        self.each_covering(name, |i| {
            at.push(i);
            true
        });
        at.sort_unstable();
        at.dedup();
        at.into_iter()
            .filter_map(|i| self.delegations.get(i).copied())
            .collect()
    }

    /// Whether no delegation, exactly one, or more cover `name`: what
    /// publish's check of every name asks, without a list per name.
    pub(crate) fn sole_cover(&self, name: &HashedPath<'_>) -> Cover<'r> {
        let mut found: Option<usize> = None;
        let mut many = false;
        self.each_covering(name, |i| match found {
            None => {
                found = Some(i);
                true
            }
            Some(first) if first == i => true,
            Some(_) => {
                many = true;
                false
            }
        });
        match (found.and_then(|i| self.delegations.get(i).copied()), many) {
            (_, true) => Cover::Many,
            (Some(d), false) => Cover::One(d),
            (None, false) => Cover::None,
        }
    }

    /// Calls `each` with the position of every delegation covering `name`
    /// (a position may come more than once), until it returns `false`.
    fn each_covering(&self, name: &HashedPath<'_>, mut each: impl FnMut(usize) -> bool) {
        if !self.by_prefix.is_empty() {
            let hex = name.hex_digest();
            for (&len, prefixes) in &self.by_prefix {
                // Hex digits are ASCII: a prefix of other characters, or
                // longer than the digest, is never found.
                let Some(digits) = hex.get(..len).and_then(|d| std::str::from_utf8(d).ok()) else {
                    continue;
                };
                for &i in prefixes.get(digits).into_iter().flatten() {
                    if !each(i) {
                        return;
                    }
                }
            }
        }
        for &i in &self.by_paths {
            let covers = self
                .delegations
                .get(i)
                .is_some_and(|d| delegation_covers_path(d.paths.as_deref(), None, name));
            if covers && !each(i) {
                return;
            }
        }
    }
}

/// How many delegations of an index cover a name.
pub(crate) enum Cover<'r> {
    None,
    One(&'r DelegatedRole),
    Many,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delegation(name: &str, paths: Option<&[&str]>, prefixes: Option<&[&str]>) -> DelegatedRole {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        DelegatedRole {
            name: name.to_owned(),
            keyids: Vec::new(),
            threshold: 1,
            terminating: false,
            paths: paths.map(strings),
            path_hash_prefixes: prefixes.map(strings),
            unknown: Default::default(),
        }
    }

    #[test]
    fn the_index_finds_the_delegations_the_core_says_cover_a_name() {
        // Every kind of entry the core matches: prefixes of every length
        // (empty covers all), uppercase and non-hex prefixes (never),
        // prefixes and paths together (prefixes decide), paths alone, and
        // neither.
        let hex_of = |name: &str| {
            String::from_utf8(HashedPath::new(name).hex_digest().to_vec()).expect("hex")
        };
        let names = ["fw.bin", "a/b.bin", "board-a/fw-1.0.0.bin", "x"];
        let fw = hex_of("fw.bin");
        let delegations = vec![
            delegation("all", None, Some(&[""])),
            delegation("fw-1", None, Some(&[&fw[..1]])),
            delegation("fw-3", None, Some(&[&fw[..3], "zz"])),
            delegation("fw-64", None, Some(&[&fw[..]])),
            delegation("upper", None, Some(&[&fw[..2].to_uppercase()])),
            delegation("long", None, Some(&[&format!("{fw}0")])),
            delegation("both", Some(&["*"]), Some(&["0", "1"])),
            delegation("board", Some(&["board-a/*", "x"]), None),
            delegation("empty", None, Some(&[])),
            delegation("neither", None, None),
        ];
        let index = CoverIndex::new(delegations.iter());
        for name in names {
            let hashed = HashedPath::new(name);
            let expected: Vec<&str> = delegations
                .iter()
                .filter(|d| {
                    delegation_covers_path(
                        d.paths.as_deref(),
                        d.path_hash_prefixes.as_deref(),
                        &hashed,
                    )
                })
                .map(|d| d.name.as_str())
                .collect();
            let found: Vec<&str> = index
                .covering(&hashed)
                .iter()
                .map(|d| d.name.as_str())
                .collect();
            assert_eq!(found, expected, "{name}");
        }
        let fw_found: Vec<&str> = index
            .covering(&HashedPath::new("fw.bin"))
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert!(
            fw_found.starts_with(&["all", "fw-1", "fw-3", "fw-64"]),
            "{fw_found:?}"
        );
        assert!(!fw_found.contains(&"upper") && !fw_found.contains(&"long"));
    }

    /// `sole_cover` says what `covering` lists: none, the one, or more,
    /// also when one delegation lists the name's prefix at two lengths.
    #[test]
    fn the_sole_cover_is_what_the_list_says() {
        let fw = String::from_utf8(HashedPath::new("fw.bin").hex_digest().to_vec()).expect("hex");
        let twice = delegation("twice", None, Some(&[&fw[..1], &fw[..2]]));
        let other = delegation("other", None, Some(&[&fw[..3]]));
        let paths = delegation("paths", Some(&["fw.*"]), None);
        let cases: Vec<Vec<&DelegatedRole>> = vec![
            vec![],
            vec![&twice],
            vec![&paths],
            vec![&twice, &other],
            vec![&other, &paths],
        ];
        for case in cases {
            let index = CoverIndex::new(case.iter().copied());
            let name = HashedPath::new("fw.bin");
            let listed: Vec<&str> = index
                .covering(&name)
                .iter()
                .map(|d| d.name.as_str())
                .collect();
            let sole = match index.sole_cover(&name) {
                Cover::None => Some(vec![]),
                Cover::One(d) => Some(vec![d.name.as_str()]),
                Cover::Many => None,
            };
            match sole {
                Some(sole) => assert_eq!(sole, listed),
                None => assert!(listed.len() > 1, "{listed:?}"),
            }
        }
    }
}
