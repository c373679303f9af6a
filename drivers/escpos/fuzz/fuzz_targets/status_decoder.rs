#![no_main]
//! Any bytes a printer (or line noise) sends back must decode to a status or an error.

use kiosk_escpos::status::{PrinterStatus, StatusQuery, ticket_waiting};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for chunk in data.chunks(4) {
        if let Ok(block) = <[u8; 4]>::try_from(chunk) {
            if let Ok(status) = PrinterStatus::from_replies(block) {
                // What decodes must re-encode to answers that decode the same way.
                assert_eq!(PrinterStatus::from_replies(status.replies()), Ok(status));
            }
            let _ = PrinterStatus::from_automatic(block);
        }
        let mut status = PrinterStatus::default();
        for (&byte, query) in chunk.iter().zip(StatusQuery::STANDARD) {
            let _ = status.apply(query, byte);
            let _ = ticket_waiting(byte);
        }
        let _ = status.problem();
    }
});
