//! fwsign's device checks on top of spec 5.7: a target's hardware IDs and
//! security counter, checked before it is downloaded.

use super::firmware_repo;

#[test]
fn hardware_id_not_listed_is_refused_before_download() {
    let (sim, client) = firmware_repo("hardware_id_refused");
    client
        .download(&["fw.bin"], &["--hardware-id", "evc-b1"])
        .failed();
    assert!(
        sim.server
            .take_log()
            .iter()
            .all(|p| p.starts_with("/metadata/"))
    );
    assert!(client.target_files().is_empty());
}

#[test]
fn security_counter_below_installed_is_refused() {
    let (sim, client) = firmware_repo("installed_counter_refused");
    client
        .download(&["fw.bin"], &["--installed-counter", "4"])
        .failed();
    assert!(
        sim.server
            .take_log()
            .iter()
            .all(|p| p.starts_with("/metadata/"))
    );
    assert!(client.target_files().is_empty());
}

#[test]
fn matching_hardware_id_and_equal_counter_are_accepted() {
    let (_sim, client) = firmware_repo("firmware_accepted");
    client
        .download(
            &["fw.bin"],
            &["--hardware-id", "evc-a2", "--installed-counter", "3"],
        )
        .ok();
    assert_eq!(client.target_files(), ["fw.bin".to_owned()].into());
}

#[test]
fn target_without_firmware_fields_is_refused_when_device_checks_are_asked() {
    let (_sim, client) = firmware_repo("no_firmware_fields");
    client
        .download(&["plain.bin"], &["--hardware-id", "evc-a1"])
        .failed();
    client
        .download(&["plain.bin"], &["--installed-counter", "0"])
        .failed();
    client.download(&["plain.bin"], &[]).ok();
}
