#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fwsign_fuzz_harness::canonical_reader(data);
});
