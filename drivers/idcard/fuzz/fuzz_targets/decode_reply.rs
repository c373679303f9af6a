//! Whatever bytes a reader (or line noise) sends, the framing rule, the frame decoder and
//! the card text decoder answer with a value or an error, never a panic or a hang.
#![no_main]

use kiosk_idcard::card::{TEXT_LEN, decode_text};
use kiosk_idcard::frame::{self, Boundary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Walk the stream as the transports do: every step must make progress.
    let mut at = 0;
    while at < data.len() {
        match frame::boundary(&data[at..]) {
            Boundary::Garbage(n) => {
                assert!(n > 0, "garbage of zero bytes would stall the transport");
                at += n;
            }
            Boundary::Complete(n) => {
                let _ = frame::decode(&data[at..at + n]);
                let _ = frame::decode_request(&data[at..at + n]);
                at += n;
            }
            Boundary::Incomplete(needed) => {
                assert!(needed > data.len() - at);
                break;
            }
        }
    }
    let _ = frame::decode(data);
    if data.len() >= TEXT_LEN {
        let _ = decode_text(&data[..TEXT_LEN]);
    }
});
