//! `sign-payload`, the air-gapped approver's step: a payload that does not
//! match the description exported beside it is not signed, and the refusal
//! says so (not a publishing message: nothing is being published here).

use fwsign_tests::SECURITY;

use crate::release_support::{Release, firmware, json};

#[test]
fn a_payload_swapped_after_export_is_not_signed_and_the_refusal_names_the_mismatch() {
    let r = Release::new("payload_swapped");
    r.init();
    let file = r.write_file("fw-1.0.0.bin", &firmware(3, 2000));
    r.add(&file, "board-a/fw.bin", "1.0.0", &[]).ok();
    let payload = r.scratch.join("targets.payload");
    r.repo(
        "export-payload",
        &["--role", "targets", "--out", Release::arg(&payload)],
    )
    .ok();
    // The attack: whoever carries the payload to the offline machine swaps
    // its bytes, hoping the approver signs what the description does not say.
    let mut bytes = std::fs::read(&payload).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&payload, &bytes).unwrap();

    let sig = r.scratch.join("alice.sig");
    let run = r.fw.run([
        "sign-payload".as_ref(),
        payload.as_os_str(),
        "--key".as_ref(),
        r.key("alice").as_os_str(),
        "--out".as_ref(),
        sig.as_os_str(),
        "--json".as_ref(),
    ]);
    run.code(SECURITY)
        .stderr_has("does not match its description")
        .stderr_has("targets.payload.json");
    assert!(!run.stderr.contains("publish"), "{run}");
    assert_eq!(json(&run)["reason"], "payload-mismatch");
    assert!(!sig.exists(), "no signature file is written");
}
