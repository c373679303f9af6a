//! Compression of an accepted page. Each page is stored in the cheapest form that keeps
//! what it shows:
//! - **colour** JPEG when colour is much of the page (a photo, a full-colour document);
//! - **mixed** raster content when a text page carries a little colour (a red seal, 公章,
//!   the common case): the text as a 1-bit layer at full resolution, the coloured regions
//!   as a small JPEG at reduced resolution underneath; ~25 KB instead of ~1 MB;
//! - **bilevel** (1 bit per pixel, Flate) when the page is black text on paper, which is
//!   what most materials are; a dense A4 text page drops from ~500 KB of gray JPEG to
//!   ~100 KB, at full resolution;
//! - **gray** JPEG otherwise (photocopies of ID cards, gray photos).
//!
//! Plus a JPEG thumbnail for the screen.

use std::io::{Cursor, Write};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};
use serde::{Deserialize, Serialize};

use crate::downsample::{downsample, factor_for, to_gray};
use crate::page::{PageImage, PixelLayout, luma_of};

/// How pages are compressed; part of the kiosk's config, missing fields take defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompressSettings {
    /// JPEG quality, 1-100, for colour and gray pages.
    pub jpeg_quality: u8,
    /// Store pages without meaningful colour as gray or bilevel. Off: every colour scan
    /// stays colour.
    pub detect_grayscale: bool,
    /// Chroma (max minus min of R, G, B) from which a pixel counts as coloured; scanner
    /// noise on gray paper stays well below.
    pub chroma_threshold: u8,
    /// Keep colour when at least this fraction of the page is coloured. Small on purpose:
    /// a red seal (公章) covers well under 1% of a certificate and must stay red.
    pub min_colour_ratio: f32,
    /// Store text pages as 1 bit per pixel when at most this fraction of the page is in
    /// mid-tones (neither paper nor ink); 0 turns bilevel storage off.
    pub max_midtone_ratio: f32,
    /// On gray pages, paper lighter than this is set to pure white, which removes paper
    /// texture and sensor noise that JPEG would otherwise spend bytes on.
    pub white_point: u8,
    /// Longest side of the thumbnail, pixels.
    pub thumbnail_px: u32,
    /// Store a text page with some colour as mixed raster content (a 1-bit text layer over
    /// a small colour layer) when at most this fraction of it is coloured; more colour
    /// than this (a photo, a full-colour document) stays colour JPEG. 0 turns mixed
    /// storage off.
    pub mixed_max_colour_ratio: f32,
    /// Resolution of the colour layer of a mixed page: seals and stamps need no 300 dpi.
    pub colour_layer_dpi: f32,
}

impl Default for CompressSettings {
    fn default() -> Self {
        CompressSettings {
            jpeg_quality: 75,
            detect_grayscale: true,
            chroma_threshold: 48,
            min_colour_ratio: 0.0005,
            max_midtone_ratio: 0.03,
            white_point: 220,
            thumbnail_px: 240,
            mixed_max_colour_ratio: 0.25,
            colour_layer_dpi: 150.0,
        }
    }
}

/// The form a page is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// Baseline JPEG, RGB.
    Colour,
    /// Baseline JPEG, 8-bit gray.
    Gray,
    /// 1 bit per pixel, rows padded to whole bytes, 1 = white, zlib (Flate) compressed.
    Bilevel,
    /// Mixed raster content: `data` is a bilevel text layer as for [`Storage::Bilevel`]
    /// (1 = no ink), painted in black over the page's [`ColourLayer`]; where neither
    /// marks the page, it is white.
    Mixed,
}

/// The colour layer of a [`Storage::Mixed`] page: the coloured regions (seals, stamps,
/// coloured print), cropped to the box around them, at reduced resolution, everything
/// else in the box white.
#[derive(Debug, Clone, PartialEq)]
pub struct ColourLayer {
    /// Left edge of the box on the page, in the page's pixels.
    pub x: u32,
    /// Top edge of the box on the page, in the page's pixels.
    pub y: u32,
    /// Width of the box on the page, in the page's pixels.
    pub width: u32,
    /// Height of the box on the page, in the page's pixels.
    pub height: u32,
    /// Width of the JPEG, pixels.
    pub jpeg_width: u32,
    /// Height of the JPEG, pixels.
    pub jpeg_height: u32,
    /// Baseline JPEG, RGB, stretched over the box.
    pub jpeg: Vec<u8>,
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
    /// How `data` is encoded.
    pub storage: Storage,
    /// The compressed image (JPEG, or Flate of 1-bit rows; see [`Storage`]).
    pub data: Vec<u8>,
    /// The colour layer of a [`Storage::Mixed`] page; `None` for the other kinds.
    pub colour_layer: Option<ColourLayer>,
    /// Small JPEG for the screen, longest side at most [`CompressSettings::thumbnail_px`].
    pub thumbnail_jpeg: Vec<u8>,
}

/// Compression failed: the encoder refused the image.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    /// The JPEG encoder failed.
    #[error("encoding the page as JPEG failed: {0}")]
    Jpeg(#[from] image::ImageError),
    /// The Flate encoder failed.
    #[error("compressing the bilevel page failed: {0}")]
    Flate(#[from] std::io::Error),
}

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

/// Paper and ink levels of a page and the share of pixels between them, from a sparse
/// sample at full resolution (a blurred copy would turn every stroke edge into mid-tone).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneStats {
    /// Luminance of the paper (90th percentile).
    pub paper: u8,
    /// Luminance of the ink (1st percentile).
    pub ink: u8,
    /// Share of pixels in the middle half between ink and paper.
    pub midtone_ratio: f32,
}

/// Measures [`ToneStats`] on every 4th pixel of every 4th row.
pub fn tone_stats(page: &PageImage) -> ToneStats {
    let mut histogram = [0usize; 256];
    let (w, ch) = (page.width as usize, page.layout.channels());
    for row in page.data.chunks_exact(w * ch).step_by(4) {
        for px in row.chunks_exact(ch).step_by(4) {
            let l = if ch == 3 {
                luma_of(px[0], px[1], px[2])
            } else {
                px[0]
            };
            histogram[l as usize] += 1;
        }
    }
    tones_of(&histogram)
}

fn tones_of(histogram: &[usize; 256]) -> ToneStats {
    let total: usize = histogram.iter().sum();
    let level_at = |q: f64| {
        let target = ((total as f64 * q).ceil() as usize).max(1);
        let mut seen = 0;
        histogram
            .iter()
            .position(|&n| {
                seen += n;
                seen >= target
            })
            .unwrap_or(255) as u8
    };
    let (paper, ink) = (level_at(0.90), level_at(0.01));
    let span = paper.saturating_sub(ink) as usize;
    let (lo, hi) = (ink as usize + span / 4, paper as usize - span / 4);
    let mid: usize = if hi > lo {
        histogram[lo..hi].iter().sum()
    } else {
        0
    };
    ToneStats {
        paper,
        ink,
        midtone_ratio: mid as f32 / total.max(1) as f32,
    }
}

/// Compresses a page for the PDF and makes its thumbnail.
pub fn compress_page(
    page: &PageImage,
    settings: &CompressSettings,
) -> Result<AcceptedPage, CompressError> {
    let quality = settings.jpeg_quality.clamp(1, 100);
    let ratio = if page.layout == PixelLayout::Rgb8 && settings.detect_grayscale {
        colour_ratio(page, settings.chroma_threshold)
    } else {
        0.0
    };
    let colour = page.layout == PixelLayout::Rgb8
        && (!settings.detect_grayscale || ratio >= settings.min_colour_ratio);
    let accepted = |storage, data, colour_layer, thumbnail_jpeg| AcceptedPage {
        width: page.width,
        height: page.height,
        dpi: page.dpi,
        storage,
        data,
        colour_layer,
        thumbnail_jpeg,
    };
    if colour {
        if settings.detect_grayscale
            && settings.mixed_max_colour_ratio > 0.0
            && ratio <= settings.mixed_max_colour_ratio
            && let Some((data, layer)) = mixed_layers(page, settings, quality)?
        {
            let thumbnail = thumbnail(page, settings)?;
            return Ok(accepted(Storage::Mixed, data, Some(layer), thumbnail));
        }
        let data = encode_jpeg(page, quality)?;
        return Ok(accepted(
            Storage::Colour,
            data,
            None,
            thumbnail(page, settings)?,
        ));
    }
    let mut gray = to_gray(page);
    let tones = tone_stats(&gray);
    if text_like(&tones, settings) {
        let threshold = ((tones.paper as u16 + tones.ink as u16) / 2) as u8;
        let data = encode_bilevel(&gray, threshold)?;
        gray.data
            .iter_mut()
            .for_each(|v| *v = if *v < threshold { 0 } else { 255 });
        Ok(accepted(
            Storage::Bilevel,
            data,
            None,
            thumbnail(&gray, settings)?,
        ))
    } else {
        if settings.detect_grayscale {
            whiten(&mut gray.data, settings.white_point);
        }
        let data = encode_jpeg(&gray, quality)?;
        Ok(accepted(
            Storage::Gray,
            data,
            None,
            thumbnail(&gray, settings)?,
        ))
    }
}

/// Black text on paper: ink and paper far apart and few pixels between them.
fn text_like(tones: &ToneStats, settings: &CompressSettings) -> bool {
    settings.detect_grayscale
        && settings.max_midtone_ratio > 0.0
        && tones.paper.saturating_sub(tones.ink) >= 64
        && tones.midtone_ratio <= settings.max_midtone_ratio
}

fn thumbnail(shown: &PageImage, settings: &CompressSettings) -> Result<Vec<u8>, CompressError> {
    let factor = shown
        .width
        .max(shown.height)
        .div_ceil(settings.thumbnail_px.max(1))
        .max(1);
    encode_jpeg(&downsample(shown, factor), 80)
}

/// Splits a colour page into a 1-bit text layer and a colour layer, or `None` when the
/// page without its colour is not black text on paper (a photo, a tinted form): those
/// stay colour JPEG.
fn mixed_layers(
    page: &PageImage,
    settings: &CompressSettings,
    quality: u8,
) -> Result<Option<(Vec<u8>, ColourLayer)>, CompressError> {
    let chroma = |p: &[u8]| p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]);
    // The text layer sees coloured pixels as paper: a red seal is darker than the
    // bilevel threshold and would otherwise print black.
    let w = page.width as usize;
    let mut histogram = [0usize; 256];
    let mut text = Vec::with_capacity(w * page.height as usize);
    for (y, row) in page.data.chunks_exact(w * 3).enumerate() {
        for (x, p) in row.chunks_exact(3).enumerate() {
            let coloured = chroma(p) >= settings.chroma_threshold;
            let l = if coloured {
                255
            } else {
                luma_of(p[0], p[1], p[2])
            };
            // The same sparse sample as tone_stats, without the coloured pixels.
            if !coloured && y % 4 == 0 && x % 4 == 0 {
                histogram[l as usize] += 1;
            }
            text.push(l);
        }
    }
    let tones = tones_of(&histogram);
    if !text_like(&tones, settings) {
        return Ok(None);
    }
    let threshold = ((tones.paper as u16 + tones.ink as u16) / 2) as u8;
    let text = PageImage {
        width: page.width,
        height: page.height,
        dpi: page.dpi,
        layout: PixelLayout::Gray8,
        data: text,
    };
    let Some(layer) = colour_layer(page, settings, quality)? else {
        return Ok(None);
    };
    Ok(Some((encode_bilevel(&text, threshold)?, layer)))
}

/// The coloured regions at `colour_layer_dpi`, cropped to their box, the rest white.
fn colour_layer(
    page: &PageImage,
    settings: &CompressSettings,
    quality: u8,
) -> Result<Option<ColourLayer>, CompressError> {
    let f = factor_for(page.dpi, settings.colour_layer_dpi);
    let small = downsample(page, f);
    let (w, h) = (small.width as usize, small.height as usize);
    // Averaging blends the edges of a seal's strokes with the paper: one pixel more all
    // round keeps them. Half the chroma threshold would catch them directly, but also
    // tinted paper (cream certificates), and the whole page would become colour layer.
    let keep: Vec<bool> = small
        .data
        .chunks_exact(3)
        .map(|p| p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]) >= settings.chroma_threshold)
        .collect();
    let mut mask = vec![false; w * h];
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if keep[y * w + x] {
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        mask[yy * w + xx] = true;
                    }
                }
                (x0, y0) = (x0.min(x.saturating_sub(1)), y0.min(y.saturating_sub(1)));
                (x1, y1) = (x1.max((x + 2).min(w)), y1.max((y + 2).min(h)));
            }
        }
    }
    if x0 >= x1 || y0 >= y1 {
        return Ok(None);
    }
    let (bw, bh) = (x1 - x0, y1 - y0);
    let mut data = Vec::with_capacity(bw * bh * 3);
    for y in y0..y1 {
        for x in x0..x1 {
            if mask[y * w + x] {
                data.extend_from_slice(&small.data[(y * w + x) * 3..][..3]);
            } else {
                data.extend_from_slice(&[255, 255, 255]);
            }
        }
    }
    let crop = PageImage {
        width: bw as u32,
        height: bh as u32,
        dpi: small.dpi,
        layout: PixelLayout::Rgb8,
        data,
    };
    let f = f as usize;
    let on_page = |v: usize, limit: u32| (v * f).min(limit as usize) as u32;
    let (x, y) = (on_page(x0, page.width), on_page(y0, page.height));
    Ok(Some(ColourLayer {
        x,
        y,
        width: on_page(x1, page.width) - x,
        height: on_page(y1, page.height) - y,
        jpeg_width: crop.width,
        jpeg_height: crop.height,
        jpeg: encode_jpeg(&crop, quality)?,
    }))
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

/// Packs a gray page into 1-bit rows (1 = white, as PDF's DeviceGray reads them) and
/// deflates them.
fn encode_bilevel(gray: &PageImage, threshold: u8) -> Result<Vec<u8>, CompressError> {
    let w = gray.width as usize;
    let row_bytes = w.div_ceil(8);
    let mut packed = vec![0u8; row_bytes * gray.height as usize];
    for (row, out) in gray
        .data
        .chunks_exact(w)
        .zip(packed.chunks_exact_mut(row_bytes))
    {
        for (byte, px) in out.iter_mut().zip(row.chunks(8)) {
            for (bit, &v) in px.iter().enumerate() {
                if v >= threshold {
                    *byte |= 0x80 >> bit;
                }
            }
        }
    }
    let mut z = ZlibEncoder::new(Vec::with_capacity(packed.len() / 8), Compression::new(6));
    z.write_all(&packed)?;
    Ok(z.finish()?)
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
