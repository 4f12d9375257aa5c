//! Whether a delegated role may sign for a target path, by python-tuf 7's
//! rule, so the device, the host client and `repo delegate` agree with the
//! reference implementation on every name.
//!
//! `paths`: the target path and the pattern are split on `/`; they must have
//! the same number of parts, and each part must match by `fnmatch.fnmatchcase`
//! (`*` any run of characters, `?` one character, `[seq]` and `[!seq]` a
//! character set, case-sensitive; nothing crosses a `/`).
//! `path_hash_prefixes`: the lowercase hex SHA-256 of the UTF-8 path starts
//! with one of the prefixes, compared case-sensitively (python-tuf's
//! `hexdigest().startswith(prefix)`: an uppercase prefix never matches).

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

use fwsign_manifest_schema::reader::{Json, JsonStr};

/// Whether `path` matches `pattern` (python-tuf 7's
/// `_is_target_in_pathpattern`).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    matches_bytes(pattern.as_bytes(), path.as_bytes())
}

/// [`path_matches`] on UTF-8 bytes (the device never makes `&str`s).
fn matches_bytes(pattern: &[u8], path: &[u8]) -> bool {
    // Part by part; a different number of parts is a mismatch, whichever
    // part the walk has reached when one side runs out.
    let (mut pattern, mut path) = (Some(pattern), Some(path));
    while let (Some(p), Some(t)) = (pattern, path) {
        let (p, p_rest) = split_part(p);
        let (t, t_rest) = split_part(t);
        if !fnmatch(p, t) {
            return false;
        }
        (pattern, path) = (p_rest, t_rest);
    }
    pattern.is_none() && path.is_none()
}

/// `s` up to its first `/`, and what follows that `/` if there is one.
fn split_part(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b'/') {
        Some(at) => (s.get(..at).unwrap_or(s), s.get(at.saturating_add(1)..)),
        None => (s, None),
    }
}

/// Whether the lowercase hex SHA-256 of `path` starts with `prefix`.
pub fn hash_prefix_matches(prefix: &str, path: &str) -> bool {
    digest_has_prefix(&super::sha256_of(&[path.as_bytes()]), prefix.as_bytes())
}

/// Whether `digest` (a path's SHA-256, hashed once for all of a delegation's
/// prefixes), in lowercase hex, starts with `prefix`.
fn digest_has_prefix(digest: &[u8; 32], prefix: &[u8]) -> bool {
    // Digit by digit against the digest's nibbles, high nibble first: no
    // hex string of the digest is built.
    prefix.len() <= 64
        && prefix.iter().enumerate().all(|(i, p)| {
            let byte = digest.get(i / 2).copied().unwrap_or(0);
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            char::from_digit(u32::from(nibble), 16) == Some(char::from(*p))
        })
}

/// Whether a delegation entry (its `paths` or `path_hash_prefixes` array)
/// covers the target `path` (its UTF-8 bytes: a device reads target names
/// from a firmware slot and never makes `&str`s of them). Non-string entries
/// never match.
pub fn delegation_covers(
    paths: Option<Json<'_>>,
    path_hash_prefixes: Option<Json<'_>>,
    path: &[u8],
) -> bool {
    // python-tuf gives path_hash_prefixes priority when both are present.
    if let Some(prefixes) = path_hash_prefixes {
        let digest = super::sha256_of(&[path]);
        return prefixes.items().any(|p| {
            p.as_str()
                .and_then(|p: JsonStr<'_>| p.plain_bytes())
                .is_some_and(|p| digest_has_prefix(&digest, p))
        });
    }
    if let Some(patterns) = paths {
        return patterns.items().any(|p| {
            p.as_str()
                .and_then(|p: JsonStr<'_>| p.plain_bytes())
                .is_some_and(|p| matches_bytes(p, path))
        });
    }
    false
}

/// [`delegation_covers`] for a delegation held as strings (the host's typed
/// metadata) rather than a JSON view.
pub fn delegation_covers_names<S: AsRef<str>>(
    paths: Option<&[S]>,
    path_hash_prefixes: Option<&[S]>,
    path: &str,
) -> bool {
    delegation_covers_path(paths, path_hash_prefixes, &HashedPath::new(path))
}

/// A target path with the SHA-256 that hash-prefixed delegations are
/// matched on, computed the first time one asks: a caller testing one path
/// against many delegations (a thousand hashed bins) hashes it once, not
/// once per delegation.
#[derive(Debug, Clone)]
pub struct HashedPath<'a> {
    path: &'a str,
    digest: core::cell::OnceCell<[u8; 32]>,
}

impl<'a> HashedPath<'a> {
    /// `path`, not hashed yet.
    pub fn new(path: &'a str) -> Self {
        Self {
            path,
            digest: core::cell::OnceCell::new(),
        }
    }

    /// The path.
    pub fn path(&self) -> &'a str {
        self.path
    }

    fn digest(&self) -> &[u8; 32] {
        self.digest
            .get_or_init(|| super::sha256_of(&[self.path.as_bytes()]))
    }

    /// The digest as 64 lowercase hex digits: a hash prefix covers the path
    /// exactly when these start with it (what [`delegation_covers_path`]
    /// tests digit by digit), so a host indexing many prefixes can look the
    /// path's up instead of testing each.
    pub fn hex_digest(&self) -> [u8; 64] {
        let mut hex = [b'0'; 64];
        for (pair, byte) in hex.as_chunks_mut::<2>().0.iter_mut().zip(self.digest()) {
            *pair = [hex_digit(byte >> 4), hex_digit(byte & 0x0f)];
        }
        hex
    }
}

/// The lowercase hex digit of a nibble, as [`digest_has_prefix`] spells it.
fn hex_digit(nibble: u8) -> u8 {
    char::from_digit(u32::from(nibble), 16)
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(b'0')
}

/// [`delegation_covers_names`] for a path whose hash is kept between calls.
pub fn delegation_covers_path<S: AsRef<str>>(
    paths: Option<&[S]>,
    path_hash_prefixes: Option<&[S]>,
    path: &HashedPath<'_>,
) -> bool {
    if let Some(prefixes) = path_hash_prefixes {
        let digest = path.digest();
        return prefixes
            .iter()
            .any(|p| digest_has_prefix(digest, p.as_ref().as_bytes()));
    }
    if let Some(patterns) = paths {
        return patterns.iter().any(|p| path_matches(p.as_ref(), path.path));
    }
    false
}

/// `fnmatch.fnmatchcase` on one path part, by characters (code points, as
/// Python compares them). Works on UTF-8 bytes (of `&str`s, or of JSON
/// strings the reader validated), so it is always given valid UTF-8.
#[inline(never)] // flash: see the module note
fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative wildcard matching with single-star backtracking: linear in
    // practice and bounded by len(pattern) * len(text), with no recursion.
    let mut p = pattern;
    let mut t = text;
    // After the last `*`: the pattern, and the text it has not swallowed.
    let mut star: Option<(&[u8], &[u8])> = None;
    loop {
        if let Some((b'*', rest)) = p.split_first() {
            star = Some((rest, t));
            p = rest;
            continue;
        }
        match split_char(t) {
            Some((c, t_rest)) => {
                if let Some(rest) = match_one(p, c) {
                    p = rest;
                    t = t_rest;
                    continue;
                }
            }
            None if p.is_empty() => return true,
            None => {}
        }
        // Mismatch: let the last star swallow one more character.
        let Some((after_star, swallowed)) = star else {
            return false;
        };
        let Some((_, rest)) = split_char(swallowed) else {
            return false;
        };
        star = Some((after_star, rest));
        p = after_star;
        t = rest;
    }
}

/// The first character of UTF-8 `s` as its code point, and the rest. The
/// callers only pass valid UTF-8 (see [`fnmatch`]), so the lead byte gives
/// the length.
fn split_char(s: &[u8]) -> Option<(u32, &[u8])> {
    let (&lead, mut rest) = s.split_first()?;
    let (mut c, continuation) = match lead {
        0x00..=0x7f => return Some((u32::from(lead), rest)),
        0xc0..=0xdf => (u32::from(lead & 0x1f), 1),
        0xe0..=0xef => (u32::from(lead & 0x0f), 2),
        _ => (u32::from(lead & 0x07), 3),
    };
    for _ in 0..continuation {
        let (&b, after) = rest.split_first()?;
        // At most 21 bits in all: the shift never loses a bit.
        c = (c << 6) | u32::from(b & 0x3f);
        rest = after;
    }
    Some((c, rest))
}

/// The pattern after its first token (not `*`), if that token matches `c`.
fn match_one(p: &[u8], c: u32) -> Option<&[u8]> {
    let (token, after) = split_char(p)?;
    if token == u32::from(b'?') {
        return Some(after);
    }
    if token == u32::from(b'[') {
        return match parse_set(after) {
            Some((body, negated, rest)) => (set_contains(body, c) != negated).then_some(rest),
            // fnmatch treats an unclosed '[' as a literal.
            None => (c == token).then_some(after),
        };
    }
    (token == c).then_some(after)
}

/// Parses a set after its `[`: returns its body, whether it is negated, and
/// the pattern after the closing `]`. As in fnmatch, a `]` right after `[`
/// or `[!` is part of the set.
fn parse_set(s: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    let (negated, body_start) = match s.split_first() {
        Some((b'!', rest)) => (true, rest),
        _ => (false, s),
    };
    let first_len = usize::from(body_start.first() == Some(&b']'));
    let close = body_start
        .get(first_len..)?
        .iter()
        .position(|&b| b == b']')?;
    let (body, rest) = body_start.split_at_checked(first_len.checked_add(close)?)?;
    Some((body, negated, rest.get(1..)?))
}

fn set_contains(body: &[u8], c: u32) -> bool {
    let mut rest = body;
    while let Some((first, after)) = split_char(rest) {
        // `first-last` is a range, unless the `-` ends the set.
        if let Some((b'-', range_end)) = after.split_first()
            && let Some((last, after_range)) = split_char(range_end)
        {
            if first <= c && c <= last {
                return true;
            }
            rest = after_range;
            continue;
        }
        if first == c {
            return true;
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn python_tuf_path_rules() {
        // Cases checked against python-tuf 7's DelegatedRole.is_delegated_path.
        assert!(path_matches("board-a/*", "board-a/fw-1.0.0.bin"));
        assert!(!path_matches("board-a/*", "board-a/x/fw.bin"));
        assert!(!path_matches("board-a/*", "board-b/fw.bin"));
        assert!(!path_matches("*", "board-a/fw.bin"));
        assert!(path_matches("*/*", "board-a/fw.bin"));
        assert!(path_matches("**", "fw.bin"));
        assert!(path_matches("fw-?.bin", "fw-1.bin"));
        assert!(!path_matches("fw-?.bin", "fw-10.bin"));
        assert!(path_matches("fw-[0-9].bin", "fw-7.bin"));
        assert!(!path_matches("fw-[!0-9].bin", "fw-7.bin"));
        assert!(path_matches("fw-[!0-9].bin", "fw-x.bin"));
        assert!(path_matches("[]]", "]"));
        assert!(path_matches("[!]]", "a"));
        assert!(path_matches("a[", "a["));
        assert!(!path_matches("Board-A/*", "board-a/fw.bin"));
        assert!(path_matches("/x", "/x"));
        assert!(!path_matches("x", "/x"));
        assert!(path_matches("*.bin", ".bin"));
        assert!(path_matches("a*b*c", "aXbYbZc"));
        assert!(!path_matches("a*b*c", "aXbYbZ"));
        assert!(path_matches("é*", "été"));
        assert!(path_matches("?", "é"));
    }

    #[test]
    fn a_hex_digest_starts_with_exactly_the_prefixes_that_cover_its_path() {
        // A host index looks prefixes up in `hex_digest`; it must agree
        // with the digit-by-digit test devices run, for every prefix.
        for path in ["fw.bin", "", "board-a/fw-1.0.0.bin", "été"] {
            let hashed = HashedPath::new(path);
            let hex = hashed.hex_digest();
            let expected = base16ct::lower::encode_string(&Sha256::digest(path.as_bytes()));
            assert_eq!(&hex[..], expected.as_bytes());
            for len in 0..=64 {
                for prefix in [&expected[..len], &expected[..len].to_uppercase()] {
                    assert_eq!(
                        hex.starts_with(prefix.as_bytes()),
                        delegation_covers_path::<&str>(None, Some(&[prefix]), &hashed),
                        "{path:?} {prefix:?}"
                    );
                }
            }
            let other = if expected.starts_with('0') { "1" } else { "0" };
            assert!(!hex.starts_with(other.as_bytes()));
        }
    }

    #[test]
    fn hash_prefixes() {
        // sha256("fw.bin") starts with...
        let digest = Sha256::digest(b"fw.bin");
        let hex = base16ct::lower::encode_string(&digest);
        assert!(hash_prefix_matches(&hex[..2], "fw.bin"));
        // python-tuf compares with `hexdigest().startswith(prefix)`: case
        // matters, so an uppercase prefix never matches.
        assert!(hex.bytes().any(|b| b.is_ascii_alphabetic()));
        assert!(!hash_prefix_matches(&hex.to_uppercase(), "fw.bin"));
        assert!(hash_prefix_matches(&hex, "fw.bin"));
        assert!(hash_prefix_matches("", "fw.bin"));
        let other = if hex.starts_with('0') { "1" } else { "0" };
        assert!(!hash_prefix_matches(other, "fw.bin"));
    }

    /// One path, hashed once, tested against every bin of a 256-bin
    /// layout: covered by exactly the bin its hash's first two hex digits
    /// name, as when it is hashed per delegation.
    #[test]
    fn a_path_hashed_once_is_covered_by_the_same_bins() {
        for name in ["fw.bin", "board-a/fw-1.0.0.bin", "é"] {
            let hashed = HashedPath::new(name);
            let hex = base16ct::lower::encode_string(&Sha256::digest(name.as_bytes()));
            let mut covering = Vec::new();
            for bin in 0..256u32 {
                let prefixes = [format!("{bin:02x}")];
                let once = delegation_covers_path(None, Some(&prefixes[..]), &hashed);
                assert_eq!(
                    once,
                    delegation_covers_names(None, Some(&prefixes[..]), name)
                );
                if once {
                    covering.push(prefixes[0].clone());
                }
            }
            assert_eq!(covering, [hex[..2].to_owned()], "{name}");
            let patterns = ["board-a/*"];
            assert_eq!(
                delegation_covers_path(Some(&patterns[..]), None, &hashed),
                path_matches("board-a/*", name)
            );
        }
    }
}
