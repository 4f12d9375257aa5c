//! The one list of reason codes (`reason_table!`): in code order, and each
//! reason's Rust name and C status name spell the same words.

use fwsign_bootloader_verify::Reason;

/// `TargetListedEarlier` → `TARGET_LISTED_EARLIER`.
fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[test]
fn the_list_is_in_code_order_and_its_names_agree() {
    let mut last = 0;
    for &reason in Reason::ALL {
        assert!(reason.code() > last, "{reason:?} out of code order");
        assert!(reason.code() < 99, "{reason:?}: 99 and up are not reasons");
        last = reason.code();
        assert_eq!(format!("{reason:?}"), reason.name());
        assert_eq!(
            reason.c_name(),
            format!("FWSIGN_ERR_{}", screaming_snake(reason.name())),
            "{reason:?}"
        );
    }
    assert_eq!(Reason::ALL.len(), 29);
    assert_eq!(Reason::ALL.first(), Some(&Reason::FlashRead));
    assert_eq!(Reason::ALL.last(), Some(&Reason::BootloaderTooOld));
    assert_eq!(Reason::TargetListedEarlier.code(), 27);
    assert_eq!(
        Reason::ImageHashMismatch.c_name(),
        "FWSIGN_ERR_IMAGE_HASH_MISMATCH"
    );
}
