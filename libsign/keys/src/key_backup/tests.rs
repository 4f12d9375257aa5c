//! Each test is named after what it stops.

use std::path::{Path, PathBuf};

use super::*;
use crate::Algorithm;

fn key(alg: Algorithm) -> PrivateKey {
    PrivateKey::generate(alg).unwrap()
}

/// The share as a custodian would hand it in: rendered to text and read
/// back from "share-I.txt".
fn handed_in(share: &Share) -> Share {
    let path = PathBuf::from(format!("share-{}.txt", share.index()));
    Share::parse(&path, &share.to_text()).unwrap()
}

fn handed_in_blob(blob: &Blob) -> Blob {
    Blob::parse(Path::new("blob.json"), blob.to_json().as_bytes()).unwrap()
}

fn pick(backup: &Backup, indices: &[u8]) -> Vec<Share> {
    indices
        .iter()
        .map(|&i| handed_in(&backup.shares[usize::from(i) - 1]))
        .collect()
}

#[test]
fn any_k_of_n_shares_restore_the_same_key() {
    for (k, n) in [(2u8, 2u8), (2, 3), (3, 5), (4, 7), (5, 5)] {
        for alg in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let original = key(alg);
            let set = backup(&original, k, n).unwrap();
            assert_eq!(set.shares.len(), usize::from(n));
            let blob = handed_in_blob(&set.blob);
            assert_eq!((blob.threshold(), blob.shares()), (k, n));
            assert_eq!(blob.keyid(), original.public_key().keyid());
            // The last K, the first K, and all N.
            let last: Vec<u8> = (n - k + 1..=n).collect();
            let first: Vec<u8> = (1..=k).collect();
            let all: Vec<u8> = (1..=n).collect();
            for indices in [last, first, all] {
                let restored = restore(&blob, &pick(&set, &indices)).unwrap();
                assert_eq!(
                    restored.public_key(),
                    original.public_key(),
                    "{k}/{n} {indices:?}"
                );
            }
        }
    }
}

#[test]
fn a_threshold_of_one_or_above_n_is_refused() {
    let k = key(Algorithm::Ed25519);
    for (t, n) in [(1u8, 3u8), (0, 3), (4, 3)] {
        assert!(matches!(
            backup(&k, t, n),
            Err(BackupError::InvalidThreshold { .. })
        ));
    }
    assert!(check_threshold(2, 256).is_err());
    assert!(check_threshold(255, 255).is_ok());
}

#[test]
fn fewer_than_k_shares_are_refused() {
    let set = backup(&key(Algorithm::EcdsaP256), 3, 5).unwrap();
    let blob = handed_in_blob(&set.blob);
    let err = restore(&blob, &pick(&set, &[1, 4])).unwrap_err();
    assert!(
        matches!(
            err,
            BackupError::TooFewShares {
                have: 2,
                need: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.class(), crate::ErrorClass::Security);
    assert!(matches!(
        restore(&blob, &[]),
        Err(BackupError::TooFewShares { have: 0, .. })
    ));
}

#[test]
fn a_repeated_index_does_not_count_twice() {
    let set = backup(&key(Algorithm::EcdsaP256), 3, 5).unwrap();
    let blob = handed_in_blob(&set.blob);
    let mut shares = pick(&set, &[1, 2]);
    let copy = Share::parse(Path::new("copy-of-2.txt"), &set.shares[1].to_text()).unwrap();
    shares.push(copy);
    let err = restore(&blob, &shares).unwrap_err();
    match &err {
        BackupError::RepeatedIndex {
            index,
            first,
            second,
        } => {
            assert_eq!(*index, 2);
            assert_eq!(first, Path::new("share-2.txt"));
            assert_eq!(second, Path::new("copy-of-2.txt"));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn shares_of_another_set_are_refused() {
    let k = key(Algorithm::EcdsaP256);
    let a = backup(&k, 2, 3).unwrap();
    let b = backup(&k, 2, 3).unwrap();
    let blob_a = handed_in_blob(&a.blob);
    // Mixed among themselves.
    let mixed = vec![handed_in(&a.shares[0]), handed_in(&b.shares[1])];
    let err = restore(&blob_a, &mixed).unwrap_err();
    assert!(matches!(err, BackupError::MixedSets { .. }), "{err}");
    assert!(err.to_string().contains("share-2.txt"), "{err}");
    // All of set B against blob A.
    let err = restore(&blob_a, &pick(&b, &[1, 2])).unwrap_err();
    assert!(matches!(err, BackupError::ShareNotForBlob { .. }), "{err}");
}

/// Renders a share with the same header but another value, with valid
/// line checksums: what someone who can write a share file, but does not
/// know the polynomial, can produce.
fn forged(share: &Share, value: [u8; SCALAR_LEN]) -> Share {
    let text = share_text::render(&share.set, share.index, &value);
    Share::parse(Path::new("forged.txt"), &text).unwrap()
}

#[test]
fn a_forged_share_with_valid_checksums_fails_the_commitment_check() {
    let set = backup(&key(Algorithm::EcdsaP256), 2, 3).unwrap();
    let blob = handed_in_blob(&set.blob);
    let mut value = *set.shares[1].value;
    value[31] ^= 1;
    let shares = vec![handed_in(&set.shares[0]), forged(&set.shares[1], value)];
    let err = restore(&blob, &shares).unwrap_err();
    assert!(
        matches!(&err, BackupError::ShareForged { path, index: 2 } if path == Path::new("forged.txt")),
        "{err}"
    );
    // A value above the group order is no scalar at all: refused the same way.
    let shares = vec![
        handed_in(&set.shares[0]),
        forged(&set.shares[1], [0xff; 32]),
    ];
    assert!(matches!(
        restore(&blob, &shares),
        Err(BackupError::ShareForged { .. })
    ));
}

#[test]
fn a_share_from_another_backup_under_the_same_set_id_fails_the_commitment_check() {
    // Someone who knows the set ID and hash fabricates a whole set: the
    // shares carry the real header, but their values are another dealing.
    let k = key(Algorithm::Ed25519);
    let real = backup(&k, 2, 3).unwrap();
    let other = backup(&k, 2, 3).unwrap();
    let blob = handed_in_blob(&real.blob);
    let spliced = forged(&real.shares[2], *other.shares[2].value);
    let err = restore(&blob, &[handed_in(&real.shares[0]), spliced]).unwrap_err();
    assert!(
        matches!(err, BackupError::ShareForged { index: 3, .. }),
        "{err}"
    );
}

#[test]
fn a_mistyped_digit_is_caught_by_the_line_checksum_naming_the_line() {
    let set = backup(&key(Algorithm::EcdsaP256), 2, 3).unwrap();
    let text = set.shares[0].to_text();
    // Change one digit of the first value line.
    let lines: Vec<&str> = text.lines().collect();
    let (n, line) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.starts_with("value"))
        .unwrap();
    let pos = line.find(char::is_numeric).unwrap();
    let mut altered = line.to_string();
    let digit = altered.as_bytes()[pos];
    altered.replace_range(pos..=pos, if digit == b'7' { "8" } else { "7" });
    let mut new_lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    new_lines[n] = altered;
    let err = Share::parse(Path::new("s1.txt"), &new_lines.join("\n")).unwrap_err();
    match &err {
        BackupError::ShareChecksum { path, line } => {
            assert_eq!(path, Path::new("s1.txt"));
            assert_eq!(*line, n + 1);
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.class(), crate::ErrorClass::Usage);
    assert!(
        err.to_string().contains(&format!("line {}", n + 1)),
        "{err}"
    );
}

#[test]
fn spacing_and_case_do_not_matter_but_swapped_lines_do() {
    let set = backup(&key(Algorithm::EcdsaP256), 2, 3).unwrap();
    let text = set.shares[2].to_text();
    let loose = text
        .lines()
        .map(|l| {
            format!(
                "  {}  ",
                l.to_uppercase()
                    .replace("FWSIGN-SHARE", "fwsign-share")
                    .replace(' ', "   ")
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    let share = Share::parse(Path::new("loose.txt"), &loose).unwrap();
    assert_eq!(*share.value, *set.shares[2].value);
    // The two value lines swapped: each checksum covers its position.
    let mut lines: Vec<&str> = text.lines().collect();
    let len = lines.len();
    lines.swap(len - 1, len - 2);
    assert!(matches!(
        Share::parse(Path::new("swapped.txt"), &lines.join("\n")),
        Err(BackupError::ShareChecksum { .. })
    ));
    // A truncated share names where it ends.
    let cut: String = text.lines().take(10).collect::<Vec<_>>().join("\n");
    let err = Share::parse(Path::new("cut.txt"), &cut).unwrap_err();
    assert!(matches!(err, BackupError::ShareSyntax { .. }), "{err}");
}

#[test]
fn a_tampered_blob_is_refused() {
    let set = backup(&key(Algorithm::EcdsaP256), 2, 3).unwrap();
    let shares = pick(&set, &[1, 3]);
    let json: serde_json::Value = serde_json::from_str(&set.blob.to_json()).unwrap();
    let parse =
        |v: &serde_json::Value| Blob::parse(Path::new("blob.json"), v.to_string().as_bytes());

    // A flipped ciphertext byte: AES-GCM authentication fails.
    let mut ct = json.clone();
    let mut bytes =
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(ct["ciphertext"].as_str().unwrap())
            .unwrap();
    bytes[10] ^= 0x40;
    ct["ciphertext"] = <base64ct::Base64 as base64ct::Encoding>::encode_string(&bytes).into();
    let err = restore(&parse(&ct).unwrap(), &shares).unwrap_err();
    assert!(matches!(err, BackupError::BlobDecrypt { .. }), "{err}");
    assert!(err.to_string().contains("blob.json"), "{err}");

    // A changed nonce: the same.
    let mut nonce = json.clone();
    nonce["nonce"] = "000000000000000000000000".into();
    assert!(matches!(
        restore(&parse(&nonce).unwrap(), &shares),
        Err(BackupError::BlobDecrypt { .. })
    ));

    // Commitments edited without their hash: refused on reading.
    let mut commitments = json.clone();
    commitments["commitments"][0] = commitments["commitments"][1].clone();
    assert!(matches!(
        parse(&commitments),
        Err(BackupError::BlobCommitments { .. })
    ));

    // A blob claiming another threshold with a recomputed hash: the shares'
    // commitments hash no longer matches.
    let mut thr = json.clone();
    thr["threshold"] = 3.into();
    thr["shares"] = 3.into();
    let mut c = thr["commitments"].as_array().unwrap().clone();
    c.push(c[0].clone());
    thr["commitments"] = c.into();
    let blob = &set.blob;
    let points: Vec<[u8; 33]> = thr["commitments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let mut out = [0u8; 33];
            base16ct::mixed::decode(v.as_str().unwrap(), &mut out).unwrap();
            out
        })
        .collect();
    let digest = blob::commitments_digest(&blob.set.set_id, 3, 3, &blob.set.keyid, &points);
    thr["commitments_sha256"] = base16ct::lower::encode_string(&digest).into();
    let err = restore(&parse(&thr).unwrap(), &shares).unwrap_err();
    assert!(matches!(err, BackupError::SetMismatch { .. }), "{err}");

    // Not a blob at all.
    assert!(matches!(
        Blob::parse(Path::new("x.json"), b"{}"),
        Err(BackupError::BlobSyntax { .. })
    ));
}

#[test]
fn old_shares_do_not_open_the_reshared_blob() {
    let original = key(Algorithm::EcdsaP256);
    let old = backup(&original, 2, 3).unwrap();
    let old_blob = handed_in_blob(&old.blob);
    let new = reshare(&old_blob, &pick(&old, &[2, 3]), 3, 4).unwrap();
    let new_blob = handed_in_blob(&new.blob);
    assert_ne!(new_blob.set_id(), old_blob.set_id());
    assert_eq!((new_blob.threshold(), new_blob.shares()), (3, 4));
    let restored = restore(&new_blob, &pick(&new, &[1, 2, 4])).unwrap();
    assert_eq!(restored.public_key(), original.public_key());
    let err = restore(&new_blob, &pick(&old, &[1, 2, 3])).unwrap_err();
    assert!(matches!(err, BackupError::ShareNotForBlob { .. }), "{err}");
    // And a reshare needs K old shares like a restore.
    assert!(matches!(
        reshare(&old_blob, &pick(&old, &[1]), 2, 3),
        Err(BackupError::TooFewShares { .. })
    ));
}

#[test]
fn share_text_carries_the_set_and_never_debug_prints_the_value() {
    let original = key(Algorithm::EcdsaP256);
    let set = backup(&original, 3, 5).unwrap();
    let share = &set.shares[3];
    let text = share.to_text();
    assert!(text.contains("share  4 of 5 need 3"), "{}", text.as_str());
    assert!(text.contains(&original.public_key().keyid()));
    assert!(text.contains(&set.blob.set_id()));
    assert_eq!(share.commitments_sha256(), set.blob.commitments_sha256());
    let value_hex = base16ct::lower::encode_string(share.value.as_slice());
    assert!(!format!("{share:?}").contains(&value_hex[..8]));
    assert!(!format!("{:?}", set.blob).contains("ciphertext"));
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.len() <= 60, "{line:?} is too long to copy by hand");
    }
}

#[test]
fn a_custodian_checks_their_share_alone_and_a_forgery_fails() {
    let set = backup(&key(Algorithm::EcdsaP256), 3, 5).unwrap();
    let blob = handed_in_blob(&set.blob);
    for share in &set.shares {
        check_share(&blob, &handed_in(share)).unwrap();
    }
    let mut value = *set.shares[4].value;
    value[0] ^= 0x10;
    assert!(matches!(
        check_share(&blob, &forged(&set.shares[4], value)),
        Err(BackupError::ShareForged { index: 5, .. })
    ));
    let other = backup(&key(Algorithm::EcdsaP256), 3, 5).unwrap();
    assert!(matches!(
        check_share(&blob, &handed_in(&other.shares[0])),
        Err(BackupError::ShareNotForBlob { .. })
    ));
}
