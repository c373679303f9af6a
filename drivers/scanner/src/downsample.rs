//! Box-filter reduction of a page, so that checks, colour statistics and thumbnails look
//! at a few hundred thousand pixels instead of nine million.

use crate::page::{PageImage, PixelLayout};

/// Integer reduction factor that brings `dpi` down to about `target_dpi` (at least 1).
pub fn factor_for(dpi: f32, target_dpi: f32) -> u32 {
    if !(dpi.is_finite() && target_dpi.is_finite()) || target_dpi <= 0.0 {
        return 1;
    }
    (dpi / target_dpi).round().max(1.0) as u32
}

/// Averages each `factor` x `factor` block into one pixel, keeping the layout. Edge pixels
/// that do not fill a whole block are dropped.
pub fn downsample(page: &PageImage, factor: u32) -> PageImage {
    let f = factor.max(1) as usize;
    let ch = page.layout.channels();
    let (w, h) = (page.width as usize / f, page.height as usize / f);
    if f == 1 || w == 0 || h == 0 {
        return page.clone();
    }
    let stride = page.width as usize * ch;
    let area = (f * f) as u32;
    let mut out = vec![0u8; w * h * ch];
    let mut acc = vec![0u32; w * ch];
    for (oy, out_row) in out.chunks_exact_mut(w * ch).enumerate() {
        acc.fill(0);
        for row in page.data[oy * f * stride..].chunks_exact(stride).take(f) {
            for (ox, block) in row[..w * f * ch].chunks_exact(f * ch).enumerate() {
                for px in block.chunks_exact(ch) {
                    for (c, &v) in px.iter().enumerate() {
                        acc[ox * ch + c] += v as u32;
                    }
                }
            }
        }
        for (o, a) in out_row.iter_mut().zip(&acc) {
            *o = ((a + area / 2) / area) as u8;
        }
    }
    PageImage {
        width: w as u32,
        height: h as u32,
        dpi: page.dpi / f as f32,
        layout: page.layout,
        data: out,
    }
}

/// The page as gray, converting colour by luminance.
pub fn to_gray(page: &PageImage) -> PageImage {
    match page.layout {
        PixelLayout::Gray8 => page.clone(),
        PixelLayout::Rgb8 => PageImage {
            width: page.width,
            height: page.height,
            dpi: page.dpi,
            layout: PixelLayout::Gray8,
            data: page
                .data
                .chunks_exact(3)
                .map(|p| crate::page::luma_of(p[0], p[1], p[2]))
                .collect(),
        },
    }
}
