//! UTF-8 validation for the canonical JSON reader.
//!
//! Used instead of `core::str::from_utf8` on the device path, which never
//! turns bytes into `&str`: it checks strings here, once, and then works on
//! the validated bytes; `fwsign-bootloader-verify` checks the names a
//! firmware slot carries with [`is_utf8`] too. Host tests check this against
//! `core` exhaustively for every sequence of up to three bytes and by
//! property for longer ones.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

/// Whether `bytes` are well-formed UTF-8 (Unicode 15, table 3-7: no
/// overlong forms, no surrogates, nothing above U+10FFFF).
pub fn is_utf8(bytes: &[u8]) -> bool {
    let mut rest = bytes.iter();
    while let Some(&lead) = rest.next() {
        // Continuation bytes after `lead`.
        let count = match lead {
            0x00..=0x7f => continue,
            0xc2..=0xdf => 1,
            0xe0..=0xef => 2,
            0xf0..=0xf4 => 3,
            _ => return false,
        };
        // The range of the first continuation byte: narrower after the
        // leads whose full range would reach overlong forms, surrogates or
        // beyond U+10FFFF. Every other continuation byte is 0x80..=0xBF.
        let (low, high) = match lead {
            0xe0 => (0xa0, 0xbf),
            0xed => (0x80, 0x9f),
            0xf0 => (0x90, 0xbf),
            0xf4 => (0x80, 0x8f),
            _ => (0x80, 0xbf),
        };
        match rest.next() {
            Some(b) if (low..=high).contains(b) => {}
            _ => return false,
        }
        for _ in 1..count {
            match rest.next() {
                Some(b) if b & 0xc0 == 0x80 => {}
                _ => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agrees(bytes: &[u8]) -> bool {
        is_utf8(bytes) == core::str::from_utf8(bytes).is_ok()
    }

    #[test]
    fn agrees_with_core_on_every_sequence_of_up_to_three_bytes() {
        assert!(agrees(&[]));
        for a in 0..=255u8 {
            assert!(agrees(&[a]), "{a:02x}");
            for b in 0..=255u8 {
                assert!(agrees(&[a, b]), "{a:02x} {b:02x}");
                // Three bytes: every lead that can start a longer sequence,
                // and a sample of the rest (ASCII and continuation leads
                // are covered by the shorter cases).
                if a >= 0xc0 || a % 37 == 0 {
                    for c in 0..=255u8 {
                        assert!(agrees(&[a, b, c]), "{a:02x} {b:02x} {c:02x}");
                    }
                }
            }
        }
    }

    #[test]
    fn four_byte_boundaries() {
        for (bytes, ok) in [
            (&[0xf0, 0x90, 0x80, 0x80][..], true),  // U+10000
            (&[0xf4, 0x8f, 0xbf, 0xbf][..], true),  // U+10FFFF
            (&[0xf4, 0x90, 0x80, 0x80][..], false), // above U+10FFFF
            (&[0xf0, 0x8f, 0xbf, 0xbf][..], false), // overlong
            (&[0xed, 0xa0, 0x80][..], false),       // a surrogate
            (&[0xf0, 0x90, 0x80][..], false),       // truncated
        ] {
            assert_eq!(is_utf8(bytes), ok, "{bytes:02x?}");
            assert!(agrees(bytes));
        }
    }

    proptest! {
        #[test]
        fn agrees_with_core_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            prop_assert!(agrees(&bytes));
        }

        #[test]
        fn accepts_any_text(text in "\\PC{0,16}") {
            prop_assert!(is_utf8(text.as_bytes()));
        }

        #[test]
        fn agrees_with_core_on_mutated_text(
            text in "\\PC{1,8}",
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            prop_assert!(agrees(&bytes));
        }
    }
}
