//! Lays out ESC/POS commands the way a 203-dpi line thermal printer does, dot for dot:
//! characters in fixed cells scaled by `GS !`, lines that print at `LF`, QR codes re-encoded
//! from the `GS ( k` data at the stream's module size and level, raster images, and a page
//! that ends at each cut.

use std::sync::Arc;

use image::{GrayImage, Luma};
use kiosk_escpos::stream::Command;

use super::font::{Cell, Glyphs};

/// Paper roll width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaperWidth {
    /// 80 mm roll: 576 printable dots of 640.
    #[value(name = "80")]
    Mm80,
    /// 58 mm roll: 384 printable dots of 464.
    #[value(name = "58")]
    Mm58,
}

impl PaperWidth {
    /// Printable width in dots.
    pub fn printable(self) -> usize {
        match self {
            Self::Mm80 => 576,
            Self::Mm58 => 384,
        }
    }

    /// Whole paper width in dots at 203 dpi.
    pub fn paper(self) -> usize {
        match self {
            Self::Mm80 => 640,
            Self::Mm58 => 464,
        }
    }
}

/// Dots at the top of each ticket before the first line (the cut is above the head).
const TOP_MARGIN: usize = 16;
const DEFAULT_SPACING: usize = 30;
const TAB_DOTS: usize = 8 * 12;

#[derive(Debug, Clone)]
struct Style {
    bold: bool,
    underline: u8,
    align: u8,
    width: u8,
    height: u8,
    font_b: bool,
    reverse: bool,
    chinese: bool,
    cn_double_w: bool,
    cn_double_h: bool,
    spacing: usize,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            bold: false,
            underline: 0,
            align: 0,
            width: 1,
            height: 1,
            font_b: false,
            reverse: false,
            chinese: false,
            cn_double_w: false,
            cn_double_h: false,
            spacing: DEFAULT_SPACING,
        }
    }
}

struct Placed {
    x: usize,
    cell: Arc<Cell>,
    bold: u8,
    underline: u8,
    reverse: bool,
}

struct Qr {
    module: u8,
    level: u8,
    data: Vec<u8>,
}

/// A growing strip of paper, one byte per dot (1 = black).
struct Canvas {
    width: usize,
    dots: Vec<u8>,
}

impl Canvas {
    fn new(width: usize) -> Self {
        Self {
            width,
            dots: Vec::new(),
        }
    }

    fn height(&self) -> usize {
        self.dots.len() / self.width
    }

    fn grow_to(&mut self, rows: usize) {
        // Bounded: a hostile stream could feed forever; a real roll is 50 m, we stop at 4 m.
        let rows = rows.min(32_000);
        if rows > self.height() {
            self.dots.resize(rows * self.width, 0);
        }
    }

    fn set(&mut self, x: usize, y: usize, black: bool) {
        if x < self.width && y < 32_000 {
            self.grow_to(y + 1);
            if let Some(dot) = self.dots.get_mut(y * self.width + x) {
                *dot = u8::from(black);
            }
        }
    }
}

/// The layout engine of one printer.
pub struct Renderer {
    glyphs: Arc<Glyphs>,
    paper: PaperWidth,
    style: Style,
    left_margin: usize,
    area_width: usize,
    line: Vec<Placed>,
    line_x: usize,
    page: Canvas,
    y: usize,
    qr: Qr,
    text_carry: Vec<u8>,
    barcodes_skipped: usize,
}

impl Renderer {
    /// A renderer on a roll of `paper`, drawing characters from `glyphs`.
    pub fn new(glyphs: Arc<Glyphs>, paper: PaperWidth) -> Self {
        Self {
            glyphs,
            paper,
            style: Style::default(),
            left_margin: 0,
            area_width: paper.printable(),
            line: Vec::new(),
            line_x: 0,
            page: Canvas::new(paper.printable()),
            y: TOP_MARGIN,
            qr: Qr {
                module: 3,
                level: 48,
                data: Vec::new(),
            },
            text_carry: Vec::new(),
            barcodes_skipped: 0,
        }
    }

    /// Barcodes seen but not drawn (the emulator draws text, QR and raster only).
    pub fn barcodes_skipped(&self) -> usize {
        self.barcodes_skipped
    }

    /// Applies one command; a cut returns the finished ticket.
    pub fn apply(&mut self, command: &Command) -> Option<GrayImage> {
        match command {
            Command::Text(bytes) => self.text(bytes),
            Command::LineFeed => self.print_line(true),
            Command::CarriageReturn | Command::Skipped(_) => {}
            Command::Tab => self.line_x = (self.line_x / TAB_DOTS + 1) * TAB_DOTS,
            Command::Init => {
                self.print_line(false);
                self.style = Style::default();
                self.left_margin = 0;
                self.area_width = self.paper.printable();
                self.qr = Qr {
                    module: 3,
                    level: 48,
                    data: Vec::new(),
                };
            }
            Command::Bold(on) => self.style.bold = *on,
            Command::Underline(n) => self.style.underline = *n,
            Command::Align(n) => self.style.align = *n,
            Command::PrintMode(n) => {
                self.style.font_b = n & 0x01 != 0;
                self.style.bold = n & 0x08 != 0;
                self.style.height = if n & 0x10 != 0 { 2 } else { 1 };
                self.style.width = if n & 0x20 != 0 { 2 } else { 1 };
                self.style.underline = if n & 0x80 != 0 { 1 } else { 0 };
            }
            Command::Font(n) => self.style.font_b = *n == 1,
            Command::FeedLines(n) => {
                self.print_line(false);
                self.y += usize::from(*n) * self.style.spacing;
            }
            Command::FeedDots(n) => {
                self.print_line(false);
                self.y += usize::from(*n);
            }
            Command::LineSpacing(n) => {
                self.style.spacing = n.map_or(DEFAULT_SPACING, usize::from);
            }
            Command::Position(x) => self.line_x = usize::from(*x).min(self.area_width),
            Command::Size(n) => {
                self.style.width = ((n >> 4) & 0x07) + 1;
                self.style.height = (n & 0x07) + 1;
            }
            Command::Reverse(on) => self.style.reverse = *on,
            Command::LeftMargin(n) => {
                self.left_margin = usize::from(*n).min(self.paper.printable());
            }
            Command::AreaWidth(n) => self.area_width = usize::from(*n).max(24),
            Command::Chinese(on) => self.style.chinese = *on,
            Command::ChineseMode(n) => {
                self.style.cn_double_w = n & 0x04 != 0;
                self.style.cn_double_h = n & 0x08 != 0;
            }
            Command::ChineseQuad(on) => {
                self.style.cn_double_w = *on;
                self.style.cn_double_h = *on;
            }
            Command::Cut { feed, .. } => {
                self.print_line(false);
                self.y += usize::from(*feed);
                return Some(self.take_page());
            }
            Command::Raster {
                mode,
                width_bytes,
                height,
                data,
            } => self.raster(*mode, usize::from(*width_bytes), usize::from(*height), data),
            Command::QrModel(_) => {}
            Command::QrModule(n) => self.qr.module = (*n).clamp(1, 16),
            Command::QrLevel(n) => self.qr.level = *n,
            Command::QrStore(data) => self.qr.data.clone_from(data),
            Command::QrPrint => self.print_qr(),
            Command::Barcode { .. } => self.barcodes_skipped += 1,
            Command::BarcodeHeight(_)
            | Command::BarcodeWidth(_)
            | Command::BarcodeText(_)
            | Command::Status { .. }
            | Command::AutoStatus(_)
            | Command::TransmitStatus(_) => {}
        }
        None
    }

    /// Whatever is on the page that was never cut (end of a captured stream).
    pub fn finish(&mut self) -> Option<GrayImage> {
        self.print_line(false);
        if self.page.dots.iter().any(|&d| d != 0) {
            Some(self.take_page())
        } else {
            None
        }
    }

    fn text(&mut self, bytes: &[u8]) {
        let mut all = std::mem::take(&mut self.text_carry);
        all.extend_from_slice(bytes);
        let mut i = 0;
        while i < all.len() {
            let b = all[i];
            if b < 0x80 || !self.style.chinese {
                let ch = if b < 0x80 { char::from(b) } else { '?' };
                self.place(ch, false);
                i += 1;
                continue;
            }
            let len = match all.get(i + 1) {
                None => {
                    self.text_carry = all[i..].to_vec();
                    return;
                }
                Some(0x30..=0x39) => 4,
                Some(_) => 2,
            };
            if i + len > all.len() {
                self.text_carry = all[i..].to_vec();
                return;
            }
            let (decoded, _) = encoding_rs::GB18030.decode_without_bom_handling(&all[i..i + len]);
            let ch = decoded.chars().next().unwrap_or('\u{FFFD}');
            self.place(ch, true);
            i += len;
        }
    }

    fn place(&mut self, ch: char, wide: bool) {
        let s = self.style.clone();
        let (base_w, base_h, em) = match (wide, s.font_b) {
            (true, _) => (24, 24, 22),
            (false, false) => (12, 24, 22),
            (false, true) => (9, 17, 16),
        };
        let mut mw = s.width;
        let mut mh = s.height;
        if wide {
            mw = mw.saturating_mul(if s.cn_double_w { 2 } else { 1 }).min(8);
            mh = mh.saturating_mul(if s.cn_double_h { 2 } else { 1 }).min(8);
        }
        let cw = base_w * usize::from(mw);
        let ch_h = base_h * usize::from(mh);
        if self.line_x + cw > self.area_width {
            self.print_line(true);
        }
        let cell = self.glyphs.cell(ch, cw, ch_h, em, (mw, mh));
        self.line.push(Placed {
            x: self.line_x,
            cell,
            bold: if s.bold { mw } else { 0 },
            underline: s.underline,
            reverse: s.reverse,
        });
        self.line_x += cw;
    }

    /// Prints the line buffer. `feed_empty`: an `LF` on an empty line still feeds a line.
    fn print_line(&mut self, feed_empty: bool) {
        if self.line.is_empty() {
            if feed_empty {
                self.y += self.style.spacing;
            }
            self.line_x = 0;
            return;
        }
        let line = std::mem::take(&mut self.line);
        let line_width = line.iter().map(|p| p.x + p.cell.width).max().unwrap_or(0);
        let line_height = line.iter().map(|p| p.cell.height).max().unwrap_or(24);
        let x0 = self.left_margin + self.align_offset(line_width);
        for placed in &line {
            let top = self.y + line_height - placed.cell.height;
            self.blit(x0 + placed.x, top, placed);
        }
        self.y += line_height + self.style.spacing.saturating_sub(24);
        self.line_x = 0;
    }

    fn align_offset(&self, width: usize) -> usize {
        let room = self
            .area_width
            .min(self.paper.printable() - self.left_margin);
        match self.style.align {
            1 => room.saturating_sub(width) / 2,
            2 => room.saturating_sub(width),
            _ => 0,
        }
    }

    fn blit(&mut self, x0: usize, y0: usize, placed: &Placed) {
        let cell = &placed.cell;
        for cy in 0..cell.height {
            for cx in 0..cell.width {
                let mut black = cell.dots[cy * cell.width + cx];
                // Emphasis on a thermal head prints each dot again shifted right.
                for shift in 1..=usize::from(placed.bold) {
                    black |= cx >= shift && cell.dots[cy * cell.width + cx - shift];
                }
                if placed.underline > 0 && cy + usize::from(placed.underline) >= cell.height {
                    black = true;
                }
                if placed.reverse {
                    black = !black;
                }
                if black {
                    self.page.set(x0 + cx, y0 + cy, true);
                }
            }
        }
    }

    fn print_qr(&mut self) {
        self.print_line(false);
        let level = match self.qr.level {
            48 | 0 => qrcode::EcLevel::L,
            49 | 1 => qrcode::EcLevel::M,
            50 | 2 => qrcode::EcLevel::Q,
            _ => qrcode::EcLevel::H,
        };
        // A printer given data it cannot encode prints nothing; so do we.
        let Ok(code) = qrcode::QrCode::with_error_correction_level(&self.qr.data, level) else {
            return;
        };
        let modules = code.width();
        let colors = code.to_colors();
        let size = usize::from(self.qr.module);
        let x0 = self.left_margin + self.align_offset(modules * size);
        for my in 0..modules {
            for mx in 0..modules {
                if colors[my * modules + mx] == qrcode::Color::Dark {
                    for dy in 0..size {
                        for dx in 0..size {
                            self.page
                                .set(x0 + mx * size + dx, self.y + my * size + dy, true);
                        }
                    }
                }
            }
        }
        self.y += modules * size;
    }

    fn raster(&mut self, mode: u8, width_bytes: usize, height: usize, data: &[u8]) {
        self.print_line(false);
        let sx = if mode & 1 != 0 { 2 } else { 1 };
        let sy = if mode & 2 != 0 { 2 } else { 1 };
        let width = width_bytes * 8 * sx;
        let x0 = self.left_margin + self.align_offset(width);
        for row in 0..height {
            for col in 0..width_bytes * 8 {
                let byte = data.get(row * width_bytes + col / 8).copied().unwrap_or(0);
                if byte & (0x80 >> (col % 8)) != 0 {
                    for dy in 0..sy {
                        for dx in 0..sx {
                            self.page
                                .set(x0 + col * sx + dx, self.y + row * sy + dy, true);
                        }
                    }
                }
            }
        }
        self.y += height * sy;
    }

    fn take_page(&mut self) -> GrayImage {
        let height = self.y.max(self.page.height()) + TOP_MARGIN;
        let margin = (self.paper.paper() - self.paper.printable()) / 2;
        let mut image = GrayImage::from_pixel(
            self.paper.paper() as u32,
            height.min(32_000) as u32,
            Luma([255]),
        );
        let printable = self.paper.printable();
        for (i, &dot) in self.page.dots.iter().enumerate() {
            if dot != 0 {
                let (x, y) = (i % printable, i / printable);
                image.put_pixel((margin + x) as u32, y as u32, Luma([0]));
            }
        }
        self.page = Canvas::new(printable);
        self.y = TOP_MARGIN;
        self.line.clear();
        self.line_x = 0;
        image
    }
}
