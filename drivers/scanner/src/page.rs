//! A scanned page as pixels, with the resolution it was scanned at.

use serde::Serialize;

/// How the bytes of a [`PageImage`] are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelLayout {
    /// One byte per pixel, 0 black, 255 white.
    Gray8,
    /// Three bytes per pixel, red green blue.
    Rgb8,
}

impl PixelLayout {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelLayout::Gray8 => 1,
            PixelLayout::Rgb8 => 3,
        }
    }
}

/// A page as the scanner delivered it, 8 bits per sample, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct PageImage {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Scan resolution in dots per inch, the same in both directions.
    pub dpi: f32,
    /// Gray or RGB.
    pub layout: PixelLayout,
    /// `width * height * layout.channels()` bytes.
    pub data: Vec<u8>,
}

impl PageImage {
    /// The page's physical size in millimetres, from its pixels and resolution.
    pub fn size_mm(&self) -> (f32, f32) {
        let mm = |px: u32| px as f32 / self.dpi * 25.4;
        (mm(self.width), mm(self.height))
    }

    /// Luminance of the pixel at (x, y), 0 black to 255 white (BT.601 weights).
    #[inline]
    pub fn luma(&self, x: u32, y: u32) -> u8 {
        let i = (y as usize * self.width as usize + x as usize) * self.layout.channels();
        match self.layout {
            PixelLayout::Gray8 => self.data[i],
            PixelLayout::Rgb8 => luma_of(self.data[i], self.data[i + 1], self.data[i + 2]),
        }
    }
}

/// BT.601 luma in integer arithmetic (weights 77, 150, 29 of 256).
#[inline]
pub(crate) fn luma_of(r: u8, g: u8, b: u8) -> u8 {
    ((77 * r as u32 + 150 * g as u32 + 29 * b as u32 + 128) >> 8) as u8
}
