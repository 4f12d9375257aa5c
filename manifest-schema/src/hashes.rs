//! A target's `hashes`: digests by algorithm name, kept as a short sorted
//! list rather than a `BTreeMap`.
//!
//! A target lists one or two digests. A `BTreeMap` allocates a node with
//! room for eleven entries for the first one (some 550 bytes), which at
//! 10^5 targets was most of a typed targets role's memory, held once for
//! the published role and once for the staged one, and zeroed by the kernel
//! page by page as it was first touched. Here the entries sit in one
//! exactly sized allocation. It reads, writes and compares as the map did:
//! keys in order, one entry per key (a repeated key keeps its last value).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Digests by algorithm name (`sha256`, `sha512`), lowercase hex.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Hashes(Vec<(String, String)>);

impl Hashes {
    /// No digests.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    fn position<Q: Ord + ?Sized>(&self, algorithm: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
    {
        self.0
            .binary_search_by(|(k, _)| Borrow::<Q>::borrow(k).cmp(algorithm))
    }

    /// The digest under `algorithm`.
    pub fn get<Q: Ord + ?Sized>(&self, algorithm: &Q) -> Option<&String>
    where
        String: Borrow<Q>,
    {
        let at = self.position(algorithm).ok()?;
        self.0.get(at).map(|(_, v)| v)
    }

    /// Whether there is a digest under `algorithm`.
    pub fn contains_key<Q: Ord + ?Sized>(&self, algorithm: &Q) -> bool
    where
        String: Borrow<Q>,
    {
        self.position(algorithm).is_ok()
    }

    /// Sets the digest under `algorithm`, returning the one it replaces.
    pub fn insert(&mut self, algorithm: String, digest: String) -> Option<String> {
        match self.position(algorithm.as_str()) {
            Ok(at) => self
                .0
                .get_mut(at)
                .map(|(_, v)| std::mem::replace(v, digest)),
            Err(at) => {
                self.0.insert(at, (algorithm, digest));
                self.0.shrink_to_fit();
                None
            }
        }
    }

    /// Removes the digest under `algorithm`.
    pub fn remove<Q: Ord + ?Sized>(&mut self, algorithm: &Q) -> Option<String>
    where
        String: Borrow<Q>,
    {
        let at = self.position(algorithm).ok()?;
        Some(self.0.remove(at).1)
    }

    /// `(algorithm, digest)` in algorithm order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &String)> + Clone {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The algorithm names, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> + Clone {
        self.0.iter().map(|(k, _)| k)
    }

    /// The digests, in algorithm order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &String> + Clone {
        self.0.iter().map(|(_, v)| v)
    }

    /// How many digests.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Hashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Hashes {
    type Output = String;

    /// Panics when there is no digest under `algorithm`, as a map does.
    fn index(&self, algorithm: &str) -> &String {
        #[allow(
            clippy::expect_used,
            reason = "indexing a missing key panics, as BTreeMap's Index does"
        )]
        self.get(algorithm).expect("no digest under that algorithm")
    }
}

impl FromIterator<(String, String)> for Hashes {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut hashes = Self::new();
        for (k, v) in iter {
            hashes.insert(k, v);
        }
        hashes
    }
}

impl<const N: usize> From<[(String, String); N]> for Hashes {
    fn from(entries: [(String, String); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl From<BTreeMap<String, String>> for Hashes {
    fn from(map: BTreeMap<String, String>) -> Self {
        // Already in key order, one entry per key.
        Self(map.into_iter().collect())
    }
}

impl From<Hashes> for BTreeMap<String, String> {
    fn from(hashes: Hashes) -> Self {
        hashes.0.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Hashes {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl Serialize for Hashes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct HashesVisitor;

impl<'de> Visitor<'de> for HashesVisitor {
    type Value = Hashes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of digests by algorithm")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hashes, A::Error> {
        let mut entries: Vec<(String, String)> = Vec::with_capacity(map.size_hint().unwrap_or(1));
        while let Some((k, v)) = map.next_entry::<String, String>()? {
            entries.push((k, v));
        }
        // Read in any order; kept in key order, the last of a repeated key
        // winning, as a map read the same text.
        if entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.shrink_to_fit();
            Ok(Hashes(entries))
        } else {
            Ok(entries.into_iter().collect())
        }
    }
}

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HashesVisitor)
    }
}

impl JsonSchema for Hashes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <BTreeMap<String, String>>::schema_name()
    }

    fn inline_schema() -> bool {
        <BTreeMap<String, String>>::inline_schema()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <BTreeMap<String, String>>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the text, the digests read, compare and write as the map
    /// they replace did: key order, last of a repeated key, same JSON.
    #[test]
    fn hashes_behave_as_the_map_they_replace() {
        let texts = [
            r#"{}"#,
            r#"{"sha256":"aa"}"#,
            r#"{"sha512":"bb","sha256":"aa"}"#,
            r#"{"sha256":"aa","sha256":"cc","md5":"dd"}"#,
            r#"{"b":"1","a":"2","c":"3","a":"4"}"#,
        ];
        for text in texts {
            let map: BTreeMap<String, String> = serde_json::from_str(text).unwrap();
            let hashes: Hashes = serde_json::from_str(text).unwrap();
            assert_eq!(
                serde_json::to_string(&hashes).unwrap(),
                serde_json::to_string(&map).unwrap()
            );
            assert_eq!(hashes.len(), map.len());
            assert_eq!(
                hashes.iter().collect::<Vec<_>>(),
                map.iter().collect::<Vec<_>>()
            );
            for k in ["a", "sha256", "sha512", "zz"] {
                assert_eq!(hashes.get(k), map.get(k), "{text} {k}");
                assert_eq!(hashes.contains_key(k), map.contains_key(k));
            }
            assert_eq!(Hashes::from(map.clone()), hashes);
            assert_eq!(BTreeMap::from(hashes.clone()), map);
            let mut both = (hashes, map);
            assert_eq!(
                both.0.insert("m".into(), "x".into()),
                both.1.insert("m".into(), "x".into())
            );
            assert_eq!(
                both.0.insert("m".into(), "y".into()),
                both.1.insert("m".into(), "y".into())
            );
            assert_eq!(both.0.remove("a"), both.1.remove("a"));
            assert_eq!(Hashes::from(both.1), both.0);
        }
    }
}
