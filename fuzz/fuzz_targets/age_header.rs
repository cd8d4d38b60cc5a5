#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| setup::fuzz::age_header(data));
