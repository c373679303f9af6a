#![allow(clippy::unwrap_used)]
//! The SANE frame codec: raw bytes as backends send them, one 8-bit page out.

use kiosk_scanner::{FrameError, FrameFormat, FrameParameters, PixelLayout, decode_page};
use proptest::prelude::*;

fn params(format: FrameFormat, depth: u8, width: usize, bytes_per_line: usize) -> FrameParameters {
    FrameParameters {
        format,
        last_frame: true,
        bytes_per_line,
        pixels_per_line: width,
        lines: None,
        depth,
    }
}

#[test]
fn one_bit_gray_is_line_art_with_set_bits_black() {
    // 10 pixels in 2 bytes per line: 1010_0000 01|00_0000 (padding after bit 10).
    let line = vec![0xA0, 0x40];
    let page = decode_page(&[(params(FrameFormat::Gray, 1, 10, 2), line)], 300.0).unwrap();
    assert_eq!(page.data, [0, 255, 0, 255, 255, 255, 255, 255, 255, 0]);
}

#[test]
fn sixteen_bit_samples_keep_their_high_byte() {
    let samples: Vec<u8> = [0x1234u16, 0xFF00]
        .iter()
        .flat_map(|s| s.to_ne_bytes())
        .collect();
    let page = decode_page(&[(params(FrameFormat::Gray, 16, 2, 4), samples)], 300.0).unwrap();
    assert_eq!(page.data, [0x12, 0xFF]);
}

#[test]
fn a_three_pass_page_missing_its_blue_frame_is_refused() {
    let mut red = params(FrameFormat::Red, 8, 2, 2);
    red.last_frame = false;
    let green = params(FrameFormat::Green, 8, 2, 2);
    let err = decode_page(&[(red, vec![1, 2]), (green, vec![3, 4])], 300.0).unwrap_err();
    assert_eq!(
        err,
        FrameError::ThreePass {
            have: "red+green".into()
        }
    );
}

#[test]
fn a_page_without_its_last_frame_is_incomplete() {
    let mut p = params(FrameFormat::Rgb, 8, 1, 3);
    p.last_frame = false;
    assert_eq!(
        decode_page(&[(p, vec![1, 2, 3])], 300.0),
        Err(FrameError::Incomplete)
    );
}

#[test]
fn lines_too_short_for_their_pixels_are_refused() {
    let err = decode_page(&[(params(FrameFormat::Rgb, 8, 4, 11), vec![0; 22])], 300.0).unwrap_err();
    assert!(matches!(err, FrameError::LineTooShort { .. }));
}

proptest! {
    /// 8-bit gray and RGB pages survive a trip through padded scan lines, whole or with a
    /// trailing partial line (a hand scanner stopping mid-line).
    #[test]
    fn eight_bit_pages_decode_to_their_pixels(
        width in 1usize..40,
        height in 1usize..40,
        rgb in any::<bool>(),
        padding in 0usize..5,
        partial in 0usize..3,
        seed in any::<u8>(),
    ) {
        let ch = if rgb { 3 } else { 1 };
        let pixels: Vec<u8> = (0..width * height * ch).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let bpl = width * ch + padding;
        let mut bytes = Vec::new();
        for row in pixels.chunks(width * ch) {
            bytes.extend_from_slice(row);
            bytes.extend(std::iter::repeat_n(0xEE, padding));
        }
        bytes.extend(std::iter::repeat_n(0x55, partial.min(bpl - 1)));
        let format = if rgb { FrameFormat::Rgb } else { FrameFormat::Gray };
        let page = decode_page(&[(params(format, 8, width, bpl), bytes)], 200.0).unwrap();
        prop_assert_eq!((page.width as usize, page.height as usize), (width, height));
        prop_assert_eq!(page.layout, if rgb { PixelLayout::Rgb8 } else { PixelLayout::Gray8 });
        prop_assert_eq!(page.data, pixels);
    }

    /// Whatever a backend sends, decoding returns a page or an error, never panics, and a
    /// page always has exactly the bytes its size says.
    #[test]
    fn any_frame_decodes_or_fails_cleanly(
        format in 0i32..6,
        depth in prop_oneof![Just(1u8), Just(8), Just(16), any::<u8>()],
        width in 0usize..64,
        bpl in 0usize..200,
        lines in proptest::option::of(0usize..50),
        last in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let Some(format) = FrameFormat::from_raw(format) else { return Ok(()) };
        let p = FrameParameters { format, last_frame: last, bytes_per_line: bpl, pixels_per_line: width, lines, depth };
        if let Ok(page) = decode_page(&[(p, bytes)], 300.0) {
            prop_assert_eq!(page.data.len(), page.width as usize * page.height as usize * page.layout.channels());
        }
    }
}
