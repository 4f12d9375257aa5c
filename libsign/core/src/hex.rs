//! Hex decoding of the public values metadata carries: key IDs' keys,
//! signatures and digests.
//!
//! Nothing decoded here is secret, so a plain decoder does (not
//! `base16ct`'s constant-time one). Host tests check that it accepts and
//! produces exactly what `base16ct::mixed::decode` does.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

/// The value of one hex digit, either case.
fn digit(c: u8) -> Option<u8> {
    // Each arm's subtraction stays in range: `c` lies in the arm's range.
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Decodes hex (either case, even length) into the front of `out` and
/// returns the decoded bytes; `None` for an odd length, a non-hex
/// character, or an `out` too small.
pub(crate) fn decode<'o>(text: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let (pairs, rest) = text.as_chunks::<2>();
    if !rest.is_empty() {
        return None;
    }
    let out = out.get_mut(..pairs.len())?;
    for (o, &[high, low]) in out.iter_mut().zip(pairs) {
        *o = digit(high)?.wrapping_shl(4) | digit(low)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(text: &str, capacity: usize) -> Option<Vec<u8>> {
        let mut out = vec![0u8; capacity];
        base16ct::mixed::decode(text, &mut out)
            .ok()
            .map(<[u8]>::to_vec)
    }

    fn ours(text: &str, capacity: usize) -> Option<Vec<u8>> {
        let mut out = vec![0u8; capacity];
        decode(text.as_bytes(), &mut out).map(<[u8]>::to_vec)
    }

    #[test]
    fn decodes_either_case() {
        let mut out = [0u8; 4];
        assert_eq!(decode(b"00fFa5", &mut out), Some(&[0x00, 0xff, 0xa5][..]));
        assert_eq!(decode(b"", &mut out), Some(&[][..]));
        assert_eq!(decode(b"abc", &mut out), None);
        assert_eq!(decode(b"0g", &mut out), None);
        assert_eq!(decode(b"0011223344", &mut out), None);
    }

    proptest! {
        /// Any text, near-hex text and any capacity: the same answer as
        /// `base16ct`.
        #[test]
        fn agrees_with_base16ct(
            text in "[0-9a-fA-FxX ]{0,20}|\\PC{0,12}",
            capacity in 0usize..12,
        ) {
            prop_assert_eq!(ours(&text, capacity), reference(&text, capacity));
        }

        #[test]
        fn agrees_with_base16ct_on_valid_hex(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let lower = base16ct::lower::encode_string(&bytes);
            let upper = base16ct::upper::encode_string(&bytes);
            for text in [lower, upper] {
                prop_assert_eq!(ours(&text, bytes.len()), Some(bytes.clone()));
                prop_assert_eq!(ours(&text, 64), reference(&text, 64));
            }
        }
    }
}
