//! Semantic version precedence (semver 2.0.0, section 11) without
//! allocation, to tell which of two slots holds the newer image when their
//! security counters are equal.

use core::cmp::Ordering;

/// Compares two semantic versions (as UTF-8 bytes, the form the verifier
/// reports them in) by precedence. Build metadata (`+...`) is ignored. A
/// string that is not a semantic version sorts below every one that is, so
/// a malformed version never wins.
pub fn compare(a: &[u8], b: &[u8]) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a.core.cmp(&b.core).then_with(|| compare_pre(a.pre, b.pre)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

struct Parsed<'a> {
    core: (u64, u64, u64),
    pre: Option<&'a [u8]>,
}

/// A numeric identifier: digits without a leading zero, within `u64`.
fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.first() == Some(&b'0')) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?
            .checked_add(u64::from(b.wrapping_sub(b'0')))
    })
}

/// `s` split at the first `sep`, if it has one.
fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = s.iter().position(|&b| b == sep)?;
    Some((s.get(..at)?, s.get(at.checked_add(1)?..)?))
}

fn parse(v: &[u8]) -> Option<Parsed<'_>> {
    let v = split_once(v, b'+').map_or(v, |(v, _build)| v);
    let (core, pre) = match split_once(v, b'-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let mut parts = core.split(|&b| b == b'.');
    let major = number(parts.next()?)?;
    let minor = number(parts.next()?)?;
    let patch = number(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    if let Some(p) = pre
        && (p.is_empty() || p.split(|&b| b == b'.').any(<[u8]>::is_empty))
    {
        return None;
    }
    Some(Parsed {
        core: (major, minor, patch),
        pre,
    })
}

fn compare_pre(a: Option<&[u8]>, b: Option<&[u8]>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        // A pre-release has lower precedence than the release.
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => {
            let mut ai = a.split(|&b| b == b'.');
            let mut bi = b.split(|&b| b == b'.');
            loop {
                match (ai.next(), bi.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(x), Some(y)) => {
                        // Numeric identifiers numerically and below
                        // alphanumeric ones, which compare in ASCII order.
                        let order = match (number(x), number(y)) {
                            (Some(x), Some(y)) => x.cmp(&y),
                            (Some(_), None) => Ordering::Less,
                            (None, Some(_)) => Ordering::Greater,
                            (None, None) => x.cmp(y),
                        };
                        if order != Ordering::Equal {
                            return order;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_precedence() {
        // The ordering example from semver.org, section 11.
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "2.0.0",
            "10.0.0",
        ];
        let compare = |a: &str, b: &str| compare(a.as_bytes(), b.as_bytes());
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(compare("1.0.0+build.1", "1.0.0+build.2"), Ordering::Equal);
        assert_eq!(compare("1.0.0-rc.1+build-7", "1.0.0-rc.1"), Ordering::Equal);
        assert_eq!(compare("garbage", "0.0.1"), Ordering::Less);
        assert_eq!(compare("01.0.0", "1.0.0"), Ordering::Less);
        assert_eq!(compare("1.0.0-", "0.0.1"), Ordering::Less);
        assert_eq!(
            compare("18446744073709551616.0.0", "0.0.1"),
            Ordering::Less,
            "a number beyond u64 is not a version"
        );
    }
}
