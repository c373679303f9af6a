//! SANE frame bytes and parameters from a backend we do not control: decoding must return
//! a page or an error, never panic or allocate without bound.
#![no_main]

use kiosk_scanner::{FrameFormat, FrameParameters, decode_page};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Header: format, last_frame, depth, then u16 pixels per line, bytes per line, lines.
    let Some((header, body)) = data.split_at_checked(9) else {
        return;
    };
    let Some(format) = FrameFormat::from_raw(i32::from(header[0] % 6)) else {
        return;
    };
    let word = |i: usize| usize::from(u16::from_le_bytes([header[i], header[i + 1]]));
    let lines = word(7);
    let params = FrameParameters {
        format,
        last_frame: header[1] & 1 == 1,
        depth: header[2],
        pixels_per_line: word(3),
        bytes_per_line: word(5),
        lines: (lines != 0xFFFF).then_some(lines),
    };
    if let Ok(page) = decode_page(&[(params, body.to_vec())], 300.0) {
        assert_eq!(
            page.data.len(),
            page.width as usize * page.height as usize * page.layout.channels()
        );
    }
});
