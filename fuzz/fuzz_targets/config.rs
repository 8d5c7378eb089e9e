#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zoho_proxy_fuzz::props::config::check(data));
