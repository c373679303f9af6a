#![no_main]
//! The emulator's stream parser must never panic and must always make progress.

use kiosk_escpos::stream::{Parsed, next_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while !rest.is_empty() {
        match next_command(rest) {
            Parsed::Command(_, used) => {
                assert!(used >= 1 && used <= rest.len(), "parser must consume 1..=len bytes");
                rest = &rest[used..];
            }
            Parsed::Incomplete => break,
        }
    }
});
