//! Synthetic pages: text-like documents with a chosen skew, paper noise and an optional
//! red seal. Used by the tests and the benchmark, and by the kiosk's demo mode where no
//! scanner is attached.

use crate::page::{PageImage, PixelLayout};

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPage {
    /// Page width, millimetres.
    pub width_mm: f32,
    /// Page height, millimetres.
    pub height_mm: f32,
    /// Resolution, dots per inch.
    pub dpi: f32,
    /// Rotation of the content, degrees counter-clockwise.
    pub skew_degrees: f32,
    /// Draw a red seal (a ring) in the lower right, as on a certificate.
    pub red_seal: bool,
    /// Amplitude of the paper noise, levels (0 for a perfectly clean page).
    pub noise: u8,
    /// Seed of the deterministic pseudo-random layout.
    pub seed: u64,
}

impl Default for TextPage {
    fn default() -> Self {
        TextPage {
            width_mm: 210.0,
            height_mm: 297.0,
            dpi: 300.0,
            skew_degrees: 0.0,
            red_seal: false,
            noise: 6,
            seed: 1,
        }
    }
}

const PAPER: u8 = 238;
const INK: u8 = 35;

impl TextPage {
    /// Renders the page in RGB.
    pub fn render(&self) -> PageImage {
        let px_per_mm = self.dpi / 25.4;
        let w = (self.width_mm * px_per_mm).round().max(1.0) as usize;
        let h = (self.height_mm * px_per_mm).round().max(1.0) as usize;
        let ink = self.ink_mask(w, h, px_per_mm);
        let (sin, cos) = self.skew_degrees.to_radians().sin_cos();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let mut rng = XorShift(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                // Screen y grows downwards: a counter-clockwise turn on screen maps back with
                // the inverse rotation in these flipped coordinates.
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let sx = cos * dx - sin * dy + cx;
                let sy = sin * dx + cos * dy + cy;
                let level = if sx >= 0.0
                    && sy >= 0.0
                    && (sx as usize) < w
                    && (sy as usize) < h
                    && ink[sy as usize * w + sx as usize]
                {
                    INK
                } else {
                    PAPER
                };
                let noise = if self.noise == 0 {
                    0
                } else {
                    (rng.next() % (2 * self.noise as u64 + 1)) as i16 - self.noise as i16
                };
                let v = (level as i16 + noise).clamp(0, 255) as u8;
                data.extend_from_slice(&[v, v, v]);
            }
        }
        if self.red_seal {
            draw_seal(&mut data, w, h, px_per_mm);
        }
        PageImage {
            width: w as u32,
            height: h as u32,
            dpi: self.dpi,
            layout: PixelLayout::Rgb8,
            data,
        }
    }

    /// Unrotated layout: a heading, paragraphs of "words" made of stroke-like glyphs,
    /// margins of 20 mm.
    fn ink_mask(&self, w: usize, h: usize, px_per_mm: f32) -> Vec<bool> {
        let mut mask = vec![false; w * h];
        let mut rng = XorShift(self.seed | 1);
        let mm = |v: f32| (v * px_per_mm).round() as usize;
        let (left, right, top, bottom) = (
            mm(20.0),
            w.saturating_sub(mm(20.0)),
            mm(25.0),
            h.saturating_sub(mm(25.0)),
        );
        let (glyph_w, glyph_h, line_pitch, stroke) = (mm(3.2), mm(3.5), mm(6.5), mm(0.35).max(1));
        let mut y = top;
        let mut line = 0;
        while y + glyph_h < bottom {
            // Paragraph breaks: every seventh line is left empty.
            line += 1;
            if line % 7 != 0 {
                let line_end = if line % 7 == 6 {
                    left + (right - left) * 3 / 5
                } else {
                    right
                };
                let mut x = left;
                while x + glyph_w < line_end {
                    let word = 2 + (rng.next() % 6) as usize;
                    for _ in 0..word {
                        if x + glyph_w >= line_end {
                            break;
                        }
                        draw_glyph(&mut mask, w, x, y, glyph_w, glyph_h, stroke, rng.next());
                        x += glyph_w + mm(0.6);
                    }
                    x += mm(2.5);
                }
            }
            y += line_pitch;
        }
        mask
    }
}

/// A glyph as a few strokes from its 3x3 grid of segments, like a square CJK character.
#[allow(clippy::too_many_arguments)]
fn draw_glyph(
    mask: &mut [bool],
    w: usize,
    x: usize,
    y: usize,
    gw: usize,
    gh: usize,
    stroke: usize,
    bits: u64,
) {
    let mut fill = |x0: usize, y0: usize, x1: usize, y1: usize| {
        for yy in y0..y1 {
            for xx in x0..x1 {
                if let Some(p) = mask.get_mut(yy * w + xx) {
                    *p = true;
                }
            }
        }
    };
    for i in 0..3 {
        if bits >> i & 1 == 1 {
            let yy = y + i * (gh - stroke) / 2;
            fill(x, yy, x + gw, yy + stroke);
        }
        if bits >> (i + 3) & 1 == 1 {
            let xx = x + i * (gw - stroke) / 2;
            fill(xx, y, xx + stroke, y + gh);
        }
    }
}

fn draw_seal(rgb: &mut [u8], w: usize, h: usize, px_per_mm: f32) {
    let (cx, cy) = (w as f32 * 0.72, h as f32 * 0.82);
    let (outer, inner) = (21.0 * px_per_mm, 19.5 * px_per_mm);
    let (x0, x1) = (
        (cx - outer).max(0.0) as usize,
        ((cx + outer) as usize).min(w),
    );
    let (y0, y1) = (
        (cy - outer).max(0.0) as usize,
        ((cy + outer) as usize).min(h),
    );
    for y in y0..y1 {
        for x in x0..x1 {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            // The ring and a star in the middle, in seal red.
            if (inner..=outer).contains(&d) || d < 4.0 * px_per_mm {
                rgb[(y * w + x) * 3..][..3].copy_from_slice(&[200, 30, 40]);
            }
        }
    }
}

/// Small deterministic generator: layouts must be the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
