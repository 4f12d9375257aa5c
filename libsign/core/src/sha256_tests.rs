//! The device's SHA-256 stream (its own buffering and padding over
//! `sha2`'s compression) against the `sha2` crate's whole hasher.

#![allow(
    clippy::arithmetic_side_effects,
    reason = "test messages are built from small counters; overflow is impossible"
)]

use sha2::{Digest, Sha256};

use super::*;

/// Every message length across the padding's edges (55, 56, 63, 64 and
/// their multiples), against the `sha2` crate's own stream.
#[test]
fn digest_matches_sha2_at_every_length_around_the_padding_edges() {
    let message: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
    for len in 0..message.len() {
        let part = &message[..len];
        let expected: [u8; 32] = Sha256::digest(part).into();
        assert_eq!(sha256_of(&[part]), expected, "length {len}");
    }
}

/// Split points inside and across blocks, and reuse after `finish`.
#[test]
fn digest_matches_sha2_whatever_the_update_split() {
    let message: Vec<u8> = (0..200u32).map(|i| (i * 13 + 1) as u8).collect();
    let mut stream = Sha256Stream::default();
    for len in [0usize, 1, 55, 56, 63, 64, 65, 127, 128, 129, 200] {
        let expected: [u8; 32] = Sha256::digest(&message[..len]).into();
        for split in 0..=len {
            for step in [1usize, 3, 64, 200] {
                stream.update(&message[..split]);
                for chunk in message[split..len].chunks(step) {
                    stream.update(chunk);
                }
                assert_eq!(
                    stream.finish(),
                    expected,
                    "len {len} split {split} step {step}"
                );
            }
        }
    }
}

/// FIPS 180-2 appendix B.1 ("abc").
#[test]
fn digest_of_abc_is_the_fips_example() {
    let hex: String = sha256_of(&[b"a", b"bc"])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
