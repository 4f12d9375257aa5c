//! The order a raw targets file lists a target's hashes in, which canonical
//! form loses: python-tuf fetches a target by the first one.

/// A JSON value that remembers the order of object members as written, to
/// find which hash a repository lists first (python-tuf fetches a target by
/// the first hash in file order, and canonical form sorts them).
enum Ordered {
    Map(Vec<(String, Ordered)>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
                    members.push((k, v));
                }
                Ok(Ordered::Map(members))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Ordered, A::Error> {
                while seq.next_element::<Ordered>()?.is_some() {}
                Ok(Ordered::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Ordered {
    fn get(&self, key: &str) -> Option<&Ordered> {
        match self {
            Ordered::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Ordered::Other => None,
        }
    }
}

/// The algorithms of `name`'s hashes in the order the raw targets file lists
/// them (the file was already accepted by the strict reader).
pub(super) fn hash_order(raw: &[u8], name: &str) -> Option<Vec<String>> {
    let doc: Ordered = serde_json::from_slice(raw).ok()?;
    match doc
        .get("signed")?
        .get("targets")?
        .get(name)?
        .get("hashes")?
    {
        Ordered::Map(m) => Some(m.iter().map(|(k, _)| k.clone()).collect()),
        Ordered::Other => None,
    }
}
