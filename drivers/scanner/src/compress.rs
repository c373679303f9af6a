//! Compression of an accepted page: gray where colour adds nothing, JPEG at a chosen
//! quality, and a thumbnail for the screen.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};
use serde::{Deserialize, Serialize};

use crate::downsample::{downsample, factor_for, to_gray};
use crate::page::{PageImage, PixelLayout};

/// How pages are compressed; part of the kiosk's config, missing fields take defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompressSettings {
    /// JPEG quality, 1-100.
    pub jpeg_quality: u8,
    /// Store pages without meaningful colour as gray (a third of the bytes).
    pub detect_grayscale: bool,
    /// Chroma (max minus min of R, G, B) from which a pixel counts as coloured; scanner
    /// noise on gray paper stays well below.
    pub chroma_threshold: u8,
    /// Keep colour when at least this fraction of the page is coloured. Small on purpose:
    /// a red seal (公章) covers well under 1% of a certificate and must stay red.
    pub min_colour_ratio: f32,
    /// Paper lighter than this (after scanning) is set to pure white on gray pages, which
    /// removes paper texture and sensor noise that JPEG would otherwise spend bytes on.
    pub white_point: u8,
    /// Longest side of the thumbnail, pixels.
    pub thumbnail_px: u32,
}

impl Default for CompressSettings {
    fn default() -> Self {
        CompressSettings {
            jpeg_quality: 75,
            detect_grayscale: true,
            chroma_threshold: 48,
            min_colour_ratio: 0.0005,
            white_point: 220,
            thumbnail_px: 240,
        }
    }
}

/// A page ready to go into the PDF: compressed image plus what the PDF needs to size it.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedPage {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Scan resolution: the PDF page is `width / dpi` inches wide.
    pub dpi: f32,
    /// Whether the JPEG is colour (else gray).
    pub colour: bool,
    /// Baseline JPEG of the page.
    pub jpeg: Vec<u8>,
    /// Small JPEG for the screen, longest side [`CompressSettings::thumbnail_px`].
    pub thumbnail_jpeg: Vec<u8>,
}

/// Compression failed: the encoder refused the image.
#[derive(Debug, thiserror::Error)]
#[error("encoding the page as JPEG failed: {0}")]
pub struct CompressError(#[from] image::ImageError);

/// Share of coloured pixels in a page (0 for gray pages).
pub fn colour_ratio(page: &PageImage, chroma_threshold: u8) -> f32 {
    if page.layout == PixelLayout::Gray8 {
        return 0.0;
    }
    // Statistics need no full resolution: ~50 dpi still sees a seal or a photo.
    let small = downsample(page, factor_for(page.dpi, 50.0));
    let coloured = small
        .data
        .chunks_exact(3)
        .filter(|p| p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]) >= chroma_threshold)
        .count();
    coloured as f32 / (small.data.len() / 3).max(1) as f32
}

/// Compresses a page for the PDF and makes its thumbnail.
pub fn compress_page(
    page: &PageImage,
    settings: &CompressSettings,
) -> Result<AcceptedPage, CompressError> {
    let colour = page.layout == PixelLayout::Rgb8
        && (!settings.detect_grayscale
            || colour_ratio(page, settings.chroma_threshold) >= settings.min_colour_ratio);
    let stored = if colour {
        page.clone()
    } else {
        let mut gray = to_gray(page);
        if settings.detect_grayscale {
            whiten(&mut gray.data, settings.white_point);
        }
        gray
    };
    let quality = settings.jpeg_quality.clamp(1, 100);
    let jpeg = encode_jpeg(&stored, quality)?;
    let thumb_factor = (stored.width.max(stored.height) / settings.thumbnail_px.max(1)).max(1);
    let thumbnail = downsample(&stored, thumb_factor);
    let thumbnail_jpeg = encode_jpeg(&thumbnail, 80)?;
    Ok(AcceptedPage {
        width: stored.width,
        height: stored.height,
        dpi: stored.dpi,
        colour,
        jpeg,
        thumbnail_jpeg,
    })
}

/// Raw JPEG of a page, for callers that want the encoder alone (and the benchmark).
pub fn encode_jpeg(page: &PageImage, quality: u8) -> Result<Vec<u8>, CompressError> {
    let mut out = Vec::with_capacity(page.data.len() / 10);
    let color = match page.layout {
        PixelLayout::Gray8 => ExtendedColorType::L8,
        PixelLayout::Rgb8 => ExtendedColorType::Rgb8,
    };
    JpegEncoder::new_with_quality(Cursor::new(&mut out), quality).write_image(
        &page.data,
        page.width,
        page.height,
        color,
    )?;
    Ok(out)
}

/// Levels adjustment: `white_point` and above become 255, the rest is stretched linearly
/// so that ink keeps its contrast.
fn whiten(gray: &mut [u8], white_point: u8) {
    if white_point == 255 || white_point == 0 {
        return;
    }
    let wp = white_point as u32;
    let table: Vec<u8> = (0..=255u32)
        .map(|v| if v >= wp { 255 } else { (v * 255 / wp) as u8 })
        .collect();
    for v in gray {
        *v = table[*v as usize];
    }
}
