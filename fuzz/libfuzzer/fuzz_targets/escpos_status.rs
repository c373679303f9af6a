#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiosk_fuzz::escpos_status(data));
