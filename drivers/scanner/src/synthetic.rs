//! Synthetic pages: text-like documents with a chosen skew, paper noise, paper and ink
//! colours, an optional coloured border and red seal; full-bleed covers, colour photos,
//! and the failed scans the page checks must catch (an open lid, an under-exposed page).
//! Used by the tests and the benchmark, and by the kiosk's demo mode where no scanner is
//! attached. Everything is deterministic for a given seed.

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
    /// Colour of the paper, RGB.
    pub paper: [u8; 3],
    /// Colour of the text, RGB.
    pub ink: [u8; 3],
    /// A printed frame of this colour, 8 mm wide, 6 mm in from the edge, as on a
    /// certificate.
    pub border: Option<[u8; 3]>,
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
            paper: [PAPER; 3],
            ink: [INK; 3],
            border: None,
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
                let colour = if sx >= 0.0
                    && sy >= 0.0
                    && (sx as usize) < w
                    && (sy as usize) < h
                    && ink[sy as usize * w + sx as usize]
                {
                    self.ink
                } else {
                    self.paper
                };
                let noise = if self.noise == 0 {
                    0
                } else {
                    (rng.next() % (2 * self.noise as u64 + 1)) as i16 - self.noise as i16
                };
                data.extend(colour.map(|c| (c as i16 + noise).clamp(0, 255) as u8));
            }
        }
        if let Some(colour) = self.border {
            let (outer, width) = (6.0 * px_per_mm, 8.0 * px_per_mm);
            fill_where(&mut data, w, h, colour, |x, y| {
                let edge = x.min(y).min(w as f32 - x).min(h as f32 - y);
                (outer..outer + width).contains(&edge)
            });
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

/// Paints every pixel for which `inside(x, y)` holds.
fn fill_where(
    rgb: &mut [u8],
    w: usize,
    h: usize,
    colour: [u8; 3],
    inside: impl Fn(f32, f32) -> bool,
) {
    for y in 0..h {
        for x in 0..w {
            if inside(x as f32, y as f32) {
                rgb[(y * w + x) * 3..][..3].copy_from_slice(&colour);
            }
        }
    }
}

/// The kinds of document (and of failed scan) a kiosk sees, for tests and the demo mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// Black text on white paper.
    WhiteText,
    /// Black text on white paper with a red seal (公章).
    TextWithSeal,
    /// A full-bleed red cover with gold lettering and emblem, as on a 户口本.
    RedCover,
    /// A colour photograph filling the page: sky, ground, coloured shapes.
    ColourPhoto,
    /// A certificate: cream paper, a blue-green printed frame, text and a red seal.
    ColourCertificate,
    /// A scan with the lid open and nothing on the glass: black with sensor noise.
    OpenLid,
    /// An ID card on the glass with the lid open: a small bright card in a dark frame.
    CardWithLidOpen,
    /// A text page scanned with the lamp at a quarter of its power.
    UnderExposedText,
}

impl Document {
    /// Every kind.
    pub const ALL: [Document; 8] = [
        Document::WhiteText,
        Document::TextWithSeal,
        Document::RedCover,
        Document::ColourPhoto,
        Document::ColourCertificate,
        Document::OpenLid,
        Document::CardWithLidOpen,
        Document::UnderExposedText,
    ];

    /// Renders an A4 page of this kind at `dpi`, in RGB.
    pub fn render(self, dpi: f32, seed: u64) -> PageImage {
        let text = TextPage {
            dpi,
            seed,
            ..TextPage::default()
        };
        match self {
            Document::WhiteText => text.render(),
            Document::TextWithSeal => TextPage {
                red_seal: true,
                ..text
            }
            .render(),
            Document::RedCover => red_cover(210.0, 297.0, dpi, seed),
            Document::ColourPhoto => colour_photo(210.0, 297.0, dpi, seed),
            Document::ColourCertificate => TextPage {
                paper: [246, 238, 214],
                border: Some([40, 120, 140]),
                red_seal: true,
                ..text
            }
            .render(),
            Document::OpenLid => open_lid(210.0, 297.0, dpi, seed),
            Document::CardWithLidOpen => {
                let card = TextPage {
                    width_mm: 85.6,
                    height_mm: 54.0,
                    paper: [225, 232, 240],
                    ..text
                }
                .render();
                let mut bed = open_lid(210.0, 297.0, dpi, seed);
                paste(&mut bed, &card, 10, 10);
                bed
            }
            Document::UnderExposedText => exposed(&text.render(), 0.25),
        }
    }
}

/// Copies `part` into `page` with its top-left corner at (x, y), clipped to the page.
fn paste(page: &mut PageImage, part: &PageImage, x: usize, y: usize) {
    let (pw, w) = (page.width as usize, part.width as usize);
    for (row, src) in part.data.chunks_exact(w * 3).enumerate() {
        let Some(start) = (y + row).checked_mul(pw).map(|r| (r + x) * 3) else {
            return;
        };
        let end = (start + src.len()).min(((y + row + 1) * pw) * 3);
        if let Some(dst) = page.data.get_mut(start..end) {
            let n = dst.len();
            dst.copy_from_slice(&src[..n]);
        }
    }
}

/// The page as a scanner with the lamp at `exposure` of its power would see it.
pub fn exposed(page: &PageImage, exposure: f32) -> PageImage {
    PageImage {
        data: page
            .data
            .iter()
            .map(|&v| (v as f32 * exposure).round().clamp(0.0, 255.0) as u8)
            .collect(),
        ..page.clone()
    }
}

fn page_size(width_mm: f32, height_mm: f32, dpi: f32) -> (usize, usize, f32) {
    let px_per_mm = dpi / 25.4;
    (
        (width_mm * px_per_mm).round().max(1.0) as usize,
        (height_mm * px_per_mm).round().max(1.0) as usize,
        px_per_mm,
    )
}

fn rgb_page(w: usize, h: usize, dpi: f32, data: Vec<u8>) -> PageImage {
    PageImage {
        width: w as u32,
        height: h as u32,
        dpi,
        layout: PixelLayout::Rgb8,
        data,
    }
}

/// Adds the same noise of +-`amplitude` levels to the three channels of every pixel.
fn add_noise(rgb: &mut [u8], amplitude: u8, seed: u64) {
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for px in rgb.chunks_exact_mut(3) {
        let n = (rng.next() % (2 * amplitude as u64 + 1)) as i16 - amplitude as i16;
        px.iter_mut()
            .for_each(|v| *v = (*v as i16 + n).clamp(0, 255) as u8);
    }
}

/// A full-bleed red cover (a 户口本's): gold emblem ring and two lines of large gold
/// characters.
pub fn red_cover(width_mm: f32, height_mm: f32, dpi: f32, seed: u64) -> PageImage {
    const RED: [u8; 3] = [170, 30, 36];
    const GOLD: [u8; 3] = [222, 184, 70];
    let (w, h, px_per_mm) = page_size(width_mm, height_mm, dpi);
    let mut data = RED.repeat(w * h);
    let (cx, cy) = (w as f32 / 2.0, h as f32 * 0.3);
    let (outer, inner) = (28.0 * px_per_mm, 24.0 * px_per_mm);
    fill_where(&mut data, w, h, GOLD, |x, y| {
        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        (inner..=outer).contains(&d) || d < 8.0 * px_per_mm
    });
    let mut mask = vec![false; w * h];
    let mut rng = XorShift(seed | 1);
    let mm = |v: f32| (v * px_per_mm).round() as usize;
    for (line, count, size) in [(0.55, 7, 16.0), (0.68, 5, 22.0)] {
        let (gw, gap) = (mm(size), mm(size * 0.3));
        let line_w = count * gw + (count - 1) * gap;
        let mut x = w.saturating_sub(line_w) / 2;
        let y = (h as f32 * line) as usize;
        for _ in 0..count {
            draw_glyph(
                &mut mask,
                w,
                x,
                y,
                gw,
                gw,
                mm(size / 8.0).max(1),
                rng.next() | 0b101,
            );
            x += gw + gap;
        }
    }
    for (px, &ink) in data.chunks_exact_mut(3).zip(&mask) {
        if ink {
            px.copy_from_slice(&GOLD);
        }
    }
    add_noise(&mut data, 5, seed);
    rgb_page(w, h, dpi, data)
}

/// A colour photograph filling the page: a sky graded from blue to pale, green ground
/// below the horizon, and a few coloured discs (a sun, bushes, a red kite).
pub fn colour_photo(width_mm: f32, height_mm: f32, dpi: f32, seed: u64) -> PageImage {
    let (w, h, px_per_mm) = page_size(width_mm, height_mm, dpi);
    let horizon = h as f32 * 0.6;
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32);
            let px = if fy < horizon {
                let t = fy / horizon;
                [
                    (60.0 + 150.0 * t) as u8,
                    (110.0 + 110.0 * t) as u8,
                    (200.0 + 45.0 * t) as u8,
                ]
            } else {
                let t = (fy - horizon) / (h as f32 - horizon);
                [
                    (70.0 + 60.0 * fx) as u8,
                    (140.0 - 60.0 * t) as u8,
                    (50.0 + 20.0 * t) as u8,
                ]
            };
            data.extend_from_slice(&px);
        }
    }
    let mut rng = XorShift(seed | 1);
    let discs = [
        ([250, 225, 120], 0.75, 0.15, 18.0),
        ([40, 90, 40], 0.2, 0.62, 30.0),
        ([50, 100, 45], 0.45, 0.66, 22.0),
        ([200, 40, 50], 0.3, 0.25, 9.0),
    ];
    for (colour, fx, fy, r_mm) in discs {
        let jitter = (rng.next() % 40) as f32 / 1000.0;
        let (cx, cy, r) = (w as f32 * (fx + jitter), h as f32 * fy, r_mm * px_per_mm);
        fill_where(&mut data, w, h, colour, |x, y| {
            (x - cx).powi(2) + (y - cy).powi(2) < r * r
        });
    }
    add_noise(&mut data, 4, seed);
    rgb_page(w, h, dpi, data)
}

/// What a scanner sees with the lid open and nothing on the glass: a dark room, slightly
/// brighter towards one side, and sensor noise.
pub fn open_lid(width_mm: f32, height_mm: f32, dpi: f32, seed: u64) -> PageImage {
    let (w, h, _) = page_size(width_mm, height_mm, dpi);
    let mut data = Vec::with_capacity(w * h * 3);
    for _y in 0..h {
        for x in 0..w {
            let v = (14 + 10 * x / w.max(1)) as u8;
            data.extend_from_slice(&[v, v, v + 2]);
        }
    }
    add_noise(&mut data, 10, seed);
    rgb_page(w, h, dpi, data)
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
