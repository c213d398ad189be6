#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spaces_fuzz::snapshot::run(data));
